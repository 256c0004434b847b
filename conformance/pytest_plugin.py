"""pytest plugin: ``pytest --conformance`` checks every ingest function against the registry.

Shaped like pytest-mypy. Inactive unless ``--conformance`` is given. When active, the session
analyses the project once at its start (the functions are the test items, so they must be known
at collection) and adds, after the ordinary tests:

- ``pyproject.toml::conformance-status`` (the project's settings file, relative to the rootdir):
  passes when the check ran; a tool error (:class:`ConformanceError`) fails this one item with
  its one-line message instead of crashing the session, and the other items skip (or fail with
  the same line when it was not selected, so that a filtered run cannot pass without a check);
- one item per ingest function, its node id the source file (relative to the rootdir) and the
  function's name (``modal-functions/src/ingest/company.py::ingest_company``): it fails with the
  function's findings at error severity and their evidence;
- ``pyproject.toml::conformance-registry``: findings tied to no function (orphan rows, invalid
  rows, files that cannot be parsed, unused suppressions).

Every node id it prints runs that one item again: ``pytest --conformance <node id>`` collects
the file it names through this plugin (a project without a pyproject.toml gets the ids
``conformance::status`` and ``conformance::registry``, which cannot be passed back).

Findings at warning severity are filed as :class:`ConformanceWarning` in pytest's warnings
summary and never fail: a blanket ``filterwarnings = error`` does not turn them into errors,
while a filter naming ``conformance.pytest_plugin.ConformanceWarning`` itself is obeyed
(``ignore::...`` hides them, ``error::...`` fails on them).

The registry is loaded and compared lazily, once per session, by the first conformance item that
runs, so ``--collect-only`` never touches a database.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from conformance.api import ScanResult
    from conformance.config import Config
    from conformance.model import Analysis, Finding, IngestFunction

GROUP = "conformance"
STATUS = "status"
REGISTRY = "registry"


class ConformanceWarning(UserWarning):
    """A finding at warning severity, in pytest's warnings summary: never failing, unless a
    warnings filter names this class itself (``error::conformance.pytest_plugin.
    ConformanceWarning``)."""


class FindingsFailed(Exception):
    """Raised by an item whose findings include at least one at error severity."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


# -- options --------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "registry conformance of Modal ingest functions")
    group.addoption(
        "--conformance",
        action="store_true",
        default=False,
        help="Check every ingest function against the workflow registry: one test "
        "item per function, plus the project's conformance-registry and conformance-status.",
    )
    group.addoption(
        "--conformance-project",
        metavar="DIR",
        default=None,
        help="Project directory holding [tool.conformance] (default: rootdir).",
    )
    group.addoption(
        "--conformance-registry",
        metavar="PATH|DSN",
        default=None,
        help="Registry file (relative to the project) or postgresql:// DSN; `env` reads the "
        "DSN from $CONFORMANCE_DSN (default: the project's configured registry).",
    )


def _active(config: pytest.Config) -> bool:
    return bool(config.getoption("conformance", default=False))


def pytest_report_header(config: pytest.Config) -> str | None:
    if not _active(config):
        return None
    return f"conformance: project {_project_dir(config)}"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Shows what the analysis had to tell (e.g. that it did not use the cache, and why)."""
    state = config.stash.get(_STATE, None)
    if state is None or state.analysis is None or not state.analysis.notices:
        return
    terminalreporter.section("conformance")
    for notice in state.analysis.notices:
        terminalreporter.write_line(f"conformance: {notice}")


# -- session state --------------------------------------------------------------------------------


@dataclass
class _Outcome:
    """The check's result: findings grouped by function ``test_id`` (and ``registry``)."""

    groups: dict[str, list[Finding]] = field(default_factory=dict)
    error: BaseException | None = None


@dataclass
class _State:
    """Everything the plugin keeps for one pytest session (in ``config.stash``)."""

    project: Path
    registry_source: str | None
    scanned: ScanResult | None = None
    scan_error: BaseException | None = None
    status_selected: bool = True
    outcome: _Outcome | None = None

    @property
    def config(self) -> Config | None:
        return self.scanned.config if self.scanned is not None else None

    @property
    def analysis(self) -> Analysis | None:
        return self.scanned.analysis if self.scanned is not None else None

    @property
    def anchor(self) -> Path | None:
        """The project's pyproject.toml, which holds the status and registry items."""
        path = self.project / "pyproject.toml"
        return path if path.is_file() else None

    def functions_in(self, path: Path) -> list[IngestFunction]:
        """The ingest functions defined in the source file at ``path``, by line."""
        if self.analysis is None or self.config is None:
            return []
        try:
            rel = Path(path).resolve().relative_to(self.config.source_root).as_posix()
        except ValueError:
            return []
        found = [fn for fn in self.analysis.functions if fn.file == rel]
        return sorted(found, key=lambda f: (f.line, f.name))

    def files(self) -> list[str]:
        """The source files (relative to the source root) that hold ingest functions."""
        if self.analysis is None:
            return []
        return sorted({fn.file for fn in self.analysis.functions})

    def registry_path(self) -> Path:
        """Returns the registry file, or the project directory when the registry is a DSN (or
        cannot be named)."""
        from conformance.sources import looks_like_dsn

        source = self.registry_source or (self.config.registry if self.config else None)
        if not source or source.strip() in ("env", "$CONFORMANCE_DSN") or looks_like_dsn(source):
            return self.project
        path = Path(source)
        return path if path.is_absolute() else self.project / path

    def result(self) -> _Outcome:
        """Returns the check's outcome, running it on first use; never raises."""
        if self.outcome is None:
            self.outcome = self._run()
        return self.outcome

    def _run(self) -> _Outcome:
        if self.scan_error is not None:
            return _Outcome(error=self.scan_error)
        assert self.scanned is not None
        try:
            from conformance import api
            from conformance.rules import PROJECT_GROUP, REGISTRY_GROUP, group_findings

            checked = api.check_scanned(
                self.scanned, registry=_registry_option(self.registry_source), base=self.project
            )
            groups = group_findings(checked.analysis, checked.findings)
        except Exception as exc:  # a failure is data: the status item reports it
            return _Outcome(error=exc)
        loose = [f for key in (REGISTRY_GROUP, PROJECT_GROUP) for f in groups.pop(key, [])]
        groups[f"{GROUP}::{REGISTRY}"] = sorted(loose)
        return _Outcome(groups=groups)


_STATE = pytest.StashKey[_State]()


def _registry_option(option: str | None) -> str | None:
    """Returns the registry option as the API takes it (``$CONFORMANCE_DSN`` means ``env``)."""
    return "env" if option is not None and option.strip() == "$CONFORMANCE_DSN" else option


def _project_dir(config: pytest.Config) -> Path:
    given = config.getoption("conformance_project", default=None)
    return Path(given).resolve() if given else config.rootpath


# -- collection -----------------------------------------------------------------------------------


def pytest_sessionstart(session: pytest.Session) -> None:
    """Analyses the project once, before collection: the plugin's collectors need it."""
    config = session.config
    if not _active(config):
        return
    state = _State(_project_dir(config), config.getoption("conformance_registry", default=None))
    config.stash[_STATE] = state
    try:
        from conformance import api

        state.scanned = api.scan(state.project)
    except Exception as exc:  # reported by the status item, never a crashed session
        state.scan_error = exc


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.File | None:
    """An ingest source file named on the command line (a node id the plugin printed) is
    collected by the plugin, never imported as a test module."""
    state = parent.config.stash.get(_STATE, None)
    if state is None or not state.functions_in(module_path):
        return None
    return SourceFileCollector.from_parent(parent, path=module_path)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """The project's pyproject.toml holds the status and registry items."""
    state = parent.config.stash.get(_STATE, None)
    if state is None or state.anchor is None or file_path != state.anchor:
        return None
    return ProjectFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)  # before -k / -m / --deselect filter the items
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Adds the conformance items, unless the command line named some of them (a node id to
    run again): then only those run. Ours collected on the way (a rootdir walk meets the
    pyproject.toml) are put in the usual order."""
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    ours = [i for i in items if isinstance(i, _ConformanceItem)]
    if any(session.isinitpath(i.path) for i in ours):
        return
    items[:] = [i for i in items if not isinstance(i, _ConformanceItem)]
    items.extend(_items(session, state, ours))


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is not None:
        state.status_selected = any(isinstance(i, StatusItem) for i in session.items)


def _items(
    session: pytest.Session, state: _State, collected: list[_ConformanceItem]
) -> list[pytest.Item]:
    """Returns status, one item per function (by file and line), registry: those ``collected``
    already (a rootdir walk meets the pyproject.toml), and the others made and reported as
    pytest's own collection does, so counts and ``--collect-only`` are right."""
    by_parent: dict[str, list[pytest.Item]] = {}
    for item in collected:
        by_parent.setdefault(item.parent.nodeid if item.parent else "", []).append(item)

    def items_of(node: pytest.Collector) -> list[pytest.Item]:
        if node.nodeid in by_parent:
            return by_parent[node.nodeid]
        _report_collected(session, node)
        return [i for i in node.collect() if isinstance(i, pytest.Item)]

    holder: pytest.Collector
    if state.anchor is not None:
        holder = ProjectFile.from_parent(
            session, path=state.anchor, nodeid=_nodeid(session, state.anchor)
        )
    else:
        holder = GroupCollector.from_parent(session, name=GROUP, nodeid=GROUP)
    functions: list[pytest.Item] = []
    if state.config is not None:
        for file in state.files():
            path = state.config.source_root / file
            functions += items_of(
                SourceFileCollector.from_parent(session, path=path, nodeid=_nodeid(session, path))
            )
    made = items_of(holder)
    status = [i for i in made if isinstance(i, StatusItem)]
    rest = [i for i in made if not isinstance(i, StatusItem)]
    return [*status, *functions, *rest]


def _nodeid(session: pytest.Session, path: Path) -> str:
    return Path(os.path.relpath(path, session.config.rootpath)).as_posix()


def _report_collected(session: pytest.Session, node: pytest.Collector) -> None:
    report = pytest.CollectReport(node.nodeid, "passed", None, list(node.collect()))
    session.ihook.pytest_collectreport(report=report)


def _group_items(
    parent: pytest.Collector, state: _State, status: str, registry: str
) -> list[pytest.Item]:
    made: list[pytest.Item] = [StatusItem.from_parent(parent, name=status)]
    if state.analysis is not None:
        made.append(RegistryItem.from_parent(parent, name=registry))
    return made


class GroupCollector(pytest.Collector):
    """The ``conformance`` node of a project without a pyproject.toml: status and registry."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        return _group_items(self, self.config.stash[_STATE], STATUS, REGISTRY)


class ProjectFile(pytest.File):
    """The project's pyproject.toml: ``conformance-status`` and ``conformance-registry``."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        return _group_items(
            self, self.config.stash[_STATE], f"{GROUP}-{STATUS}", f"{GROUP}-{REGISTRY}"
        )


class SourceFileCollector(pytest.File):
    """A source file holding ingest functions: one item per function, by line."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        state: _State = self.config.stash[_STATE]
        return [
            FunctionItem.from_parent(self, name=fn.name, function=fn)
            for fn in state.functions_in(self.path)
        ]


# -- items ----------------------------------------------------------------------------------------


class _ConformanceItem(pytest.Item):
    """Shared behaviour: lazy check, failure text, warnings."""

    @property
    def state(self) -> _State:
        return self.config.stash[_STATE]

    def _findings(self, key: str) -> list[Finding]:
        outcome = self.state.result()
        if outcome.error is not None:
            message = f"conformance check did not run: {_one_line(outcome.error)}"
            if self.state.status_selected:
                pytest.skip(f"{message} (see the conformance status item)")
            pytest.fail(message, pytrace=False)
        return outcome.groups.get(key, [])

    def _judge(self, findings: Sequence[Finding]) -> None:
        errors = [f for f in findings if f.severity == "error"]
        others = [f for f in findings if f.severity != "error"]
        if errors:
            here = self.config.invocation_params.dir
            raise FindingsFailed(_render(self.state, [*errors, *others], here))
        for finding in others:
            self._warn(finding)

    def _warn(self, finding: Finding) -> None:
        path, line = self.state.project / "pyproject.toml", 1
        if finding.location is not None and self.state.config is not None:
            path = self.state.config.source_root / finding.location.file
            line = finding.location.line
        text = _render_one(self.state, finding, self.config.invocation_params.dir)
        with warnings.catch_warnings():
            if _blanket_error(text, str(path), line):
                # a finding at warning severity is a warning: `filterwarnings = error` (meant
                # for the code under test) must not fail it; the summary still shows it
                warnings.simplefilter("always", ConformanceWarning)
            warnings.warn_explicit(ConformanceWarning(text), ConformanceWarning, str(path), line)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: object = None
    ) -> str | TerminalRepr:
        from conformance.errors import ConformanceError

        if isinstance(excinfo.value, FindingsFailed):
            return excinfo.value.text
        if isinstance(excinfo.value, ConformanceError):
            return f"conformance: error: {_one_line(excinfo.value)}"
        # a bug in conformance: show the traceback, but its argument values may hold a DSN
        from conformance.sources import redact_text

        return redact_text(str(super().repr_failure(excinfo)))


class StatusItem(_ConformanceItem):
    """``pyproject.toml::conformance-status``: fails only when the check itself could not
    run."""

    def runtest(self) -> None:
        error = self.state.result().error
        if error is not None:
            raise error

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.state.project, None, self.name


class FunctionItem(_ConformanceItem):
    """One ingest function: fails with its findings at error severity."""

    def __init__(self, *, function: IngestFunction, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ingest_function = function

    def runtest(self) -> None:
        self._judge(self._findings(self.ingest_function.test_id))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.ingest_function.line - 1, self.ingest_function.name


class RegistryItem(_ConformanceItem):
    """``pyproject.toml::conformance-registry``: findings tied to no function (rows, files,
    suppressions)."""

    def runtest(self) -> None:
        self._judge(self._findings(f"{GROUP}::{REGISTRY}"))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.state.registry_path(), None, self.name


def _blanket_error(text: str, filename: str, line: int) -> bool:
    """Returns whether the warnings filter that decides a ConformanceWarning here is an
    ``error`` filter aimed at a wider category (Warning, UserWarning), not at this class."""
    module = filename[:-3] if filename.endswith(".py") else filename
    for action, message, category, mod, lineno in warnings.filters:
        if not issubclass(ConformanceWarning, category):
            continue
        if message is not None and not message.match(text):
            continue
        if mod is not None and not mod.match(module):
            continue
        if lineno and lineno != line:
            continue
        return action == "error" and category is not ConformanceWarning
    return False


# -- rendering ------------------------------------------------------------------------------------


def _render(state: _State, findings: Sequence[Finding], here: Path | None = None) -> str:
    """Returns the failure text; its first line (pytest's short summary) counts the errors."""
    errors = [f for f in findings if f.severity == "error"]
    codes = ", ".join(sorted({f.code for f in errors}))
    head = f"{len(errors)} error{'s' if len(errors) > 1 else ''} ({codes})"
    if len(findings) > len(errors):
        head += f", {len(findings) - len(errors)} warning(s)"
    return "\n\n".join([head, *(_render_one(state, f, here) for f in findings)])


def _render_one(state: _State, finding: Finding, here: Path | None = None) -> str:
    from conformance.report.common import printable

    where = _where(state, finding, here)
    lines = [printable(f"{where}{finding.code} {finding.severity}: {finding.message}")]
    lines += [
        f"    {'->' if i else '  '} {printable(step)}" for i, step in enumerate(finding.evidence)
    ]
    if "`conformance " not in finding.message:  # CONF001 names its own fix
        lines.append(f"    see `conformance explain {finding.code}`")
    return "\n".join(lines)


def _where(state: _State, finding: Finding, here: Path | None = None) -> str:
    """Returns ``file:line: `` relative to ``here`` (where pytest was started; default: the
    project directory), as an editor opens it."""
    if finding.location is None:
        return ""
    file = finding.location.file
    if state.config is not None:
        base = here or state.project
        file = Path(os.path.relpath(state.config.source_root / file, base)).as_posix()
    return f"{file}:{finding.location.line}: "


def _one_line(exc: BaseException) -> str:
    from conformance.errors import ConformanceError
    from conformance.sources import redact_text

    text = redact_text((str(exc).splitlines() or [""])[0])
    return text if isinstance(exc, ConformanceError) else f"{type(exc).__name__}: {text}"
