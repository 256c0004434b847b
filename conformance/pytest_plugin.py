"""pytest plugin: ``pytest --conformance`` checks every ingest function against the registry.

Shaped like pytest-mypy. Inactive unless ``--conformance`` is given. When active, collection
analyses the project once (the functions are the test items, so they must be known then) and
adds, after the ordinary tests:

- ``conformance::status``: passes when the check ran; a tool error (:class:`ConformanceError`)
  fails this one item with its one-line message instead of crashing the session, and the other
  items skip (or fail with the same line when ``-k`` deselected the status item, so that a
  filtered run cannot pass without a check);
- one item per ingest function, with the function's ``test_id`` as node id
  (``ingest/company.py::ingest_company``, so ``-k`` selects functions): it fails with the
  function's findings at error severity and their evidence; warnings are shown, never failing;
- ``conformance::registry``: findings tied to no function (orphan rows, invalid rows, files that
  cannot be parsed, unused suppressions).

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
    """A finding at warning severity: reported in pytest's warnings summary, never failing."""


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
        "item per function, plus conformance::registry and ::status.",
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


@pytest.hookimpl(tryfirst=True)  # before -k / -m / --deselect filter the items
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not _active(config):
        return
    state = _State(_project_dir(config), config.getoption("conformance_registry", default=None))
    config.stash[_STATE] = state
    try:
        from conformance import api

        state.scanned = api.scan(state.project)
    except Exception as exc:  # reported by conformance::status, never a crashed session
        state.scan_error = exc
    items.extend(_items(session, state))


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is not None:
        state.status_selected = any(isinstance(i, StatusItem) for i in session.items)


def _items(session: pytest.Session, state: _State) -> list[pytest.Item]:
    """Returns status, one item per function (by file and line), registry; reports each
    collector as pytest's own collection does, so counts and ``--collect-only`` are right."""
    group = GroupCollector.from_parent(session, name=GROUP, nodeid=GROUP)
    status = StatusItem.from_parent(group, name=STATUS)
    group.made = (status,)
    functions: list[pytest.Item] = []
    if state.analysis is not None and state.config is not None:
        by_file: dict[str, list[IngestFunction]] = {}
        for fn in sorted(state.analysis.functions, key=lambda f: (f.file, f.line, f.name)):
            by_file.setdefault(fn.file, []).append(fn)
        for file, fns in by_file.items():
            node = SourceFileCollector.from_parent(
                session, path=state.config.source_root / file, name=file, nodeid=file
            )
            node.made = tuple(FunctionItem.from_parent(node, name=f.name, function=f) for f in fns)
            _report_collected(session, node)
            functions += node.made
        group.made = (status, RegistryItem.from_parent(group, name=REGISTRY))
    _report_collected(session, group)
    return [status, *functions, *group.made[1:]]


def _report_collected(session: pytest.Session, node: pytest.Collector) -> None:
    report = pytest.CollectReport(node.nodeid, "passed", None, list(node.collect()))
    session.ihook.pytest_collectreport(report=report)


class GroupCollector(pytest.Collector):
    """The ``conformance`` node: parent of the status and registry items."""

    made: tuple[pytest.Item, ...] = ()

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        return self.made  # made by pytest_collection_modifyitems, which needs the analysis


class SourceFileCollector(pytest.File):
    """A source file holding ingest functions; its node id is relative to the source root."""

    made: tuple[pytest.Item, ...] = ()

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        return self.made  # made by pytest_collection_modifyitems, which needs the analysis


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
                pytest.skip(f"{message} (see {GROUP}::{STATUS})")
            pytest.fail(message, pytrace=False)
        return outcome.groups.get(key, [])

    def _judge(self, findings: Sequence[Finding]) -> None:
        errors = [f for f in findings if f.severity == "error"]
        others = [f for f in findings if f.severity != "error"]
        if errors:
            raise FindingsFailed(_render(self.state, [*errors, *others]))
        for finding in others:
            self._warn(finding)

    def _warn(self, finding: Finding) -> None:
        path, line = self.state.project / "pyproject.toml", 1
        if finding.location is not None and self.state.config is not None:
            path = self.state.config.source_root / finding.location.file
            line = finding.location.line
        warnings.warn_explicit(
            ConformanceWarning(_render_one(self.state, finding)),
            ConformanceWarning,
            str(path),
            line,
        )

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
    """``conformance::status``: fails only when the check itself could not run."""

    def runtest(self) -> None:
        error = self.state.result().error
        if error is not None:
            raise error

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.state.project, None, f"{GROUP}::{STATUS}"


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
    """``conformance::registry``: findings tied to no function (rows, files, suppressions)."""

    def runtest(self) -> None:
        self._judge(self._findings(f"{GROUP}::{REGISTRY}"))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.state.registry_path(), None, f"{GROUP}::{REGISTRY}"


# -- rendering ------------------------------------------------------------------------------------


def _render(state: _State, findings: Sequence[Finding]) -> str:
    """Returns the failure text; its first line (pytest's short summary) counts the errors."""
    errors = [f for f in findings if f.severity == "error"]
    codes = ", ".join(sorted({f.code for f in errors}))
    head = f"{len(errors)} error{'s' if len(errors) > 1 else ''} ({codes})"
    if len(findings) > len(errors):
        head += f", {len(findings) - len(errors)} warning(s)"
    return "\n\n".join([head, *(_render_one(state, f) for f in findings)])


def _render_one(state: _State, finding: Finding) -> str:
    from conformance.report.common import printable

    where = _where(state, finding)
    lines = [printable(f"{where}{finding.code} {finding.severity}: {finding.message}")]
    lines += [
        f"    {'->' if i else '  '} {printable(step)}" for i, step in enumerate(finding.evidence)
    ]
    if "`conformance " not in finding.message:  # CONF001 names its own fix
        lines.append(f"    see `conformance explain {finding.code}`")
    return "\n".join(lines)


def _where(state: _State, finding: Finding) -> str:
    """Returns ``file:line: `` relative to the project directory, as an editor opens it."""
    if finding.location is None:
        return ""
    file = finding.location.file
    if state.config is not None:
        file = Path(os.path.relpath(state.config.source_root / file, state.project)).as_posix()
    return f"{file}:{finding.location.line}: "


def _one_line(exc: BaseException) -> str:
    from conformance.errors import ConformanceError
    from conformance.sources import redact_text

    text = redact_text((str(exc).splitlines() or [""])[0])
    return text if isinstance(exc, ConformanceError) else f"{type(exc).__name__}: {text}"
