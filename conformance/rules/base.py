"""What every rule family is made of: the :class:`Rule` (a stable code and its documentation),
the :class:`Hit` a check returns, the :class:`Context` of one run, and the registration of
checks by what they look at.

A rule is one ``Rule`` value and one check function, side by side in a family module::

    CONF009 = Rule(code="CONF009", name="not-deployed", ...)

    @function_check(CONF009)
    def not_deployed(fn, rows, ctx): ...

A finding is made from the ``Rule`` object (``CONF009.hit(...)``), never from a code string.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, TypeVar

from conformance.config import Config
from conformance.model import (
    Analysis,
    IngestFunction,
    Location,
    Registry,
    RegistryEntry,
    Suppression,
)

if TYPE_CHECKING:
    from conformance.rules.facts import Pair

SCOPES = ("function", "row", "file")


@dataclass(frozen=True)
class Rule:
    """One stable finding code and its documentation.

    ``scope`` says what a finding of this code is about: an ingest ``function``, a registry
    ``row``, or a source ``file``. ``failing`` and ``passing`` describe the rule's two test cases
    (their data is in ``tests/rule_cases/<code>/``).
    """

    code: str
    name: str
    severity: str
    scope: str
    summary: str
    what: str
    why: str
    example: str
    fix: str
    failing: str
    passing: str

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"{self.code}: scope {self.scope!r} is not one of {SCOPES}")

    @property
    def anchor(self) -> str:
        """Returns the Markdown heading anchor of this rule in docs/rules.md."""
        return f"{self.code.lower()}-{self.name}"

    @property
    def doc(self) -> str:
        """Returns the one-paragraph documentation: what, why and fix."""
        return f"{self.what} {self.why} Fix: {self.fix}"

    def hit(
        self,
        message: str,
        location: Location | None,
        function: IngestFunction | None = None,
        slug: str | None = None,
        evidence: Iterable[str] = (),
    ) -> Hit:
        """Returns a finding of this rule before suppressions and severities apply."""
        return Hit(self, message, location, function, slug, tuple(evidence))


@dataclass(frozen=True)
class Hit:
    """A finding before suppressions, severities and exclusions are applied."""

    rule: Rule
    message: str
    location: Location | None
    function: IngestFunction | None = None
    slug: str | None = None
    evidence: tuple[str, ...] = ()


DEFAULT_REGISTER_HINT = "conformance register {function}"


@dataclass(frozen=True)
class Context:
    """One run: the analysis, the registry, the settings, and how to name registry places.

    ``file_registry`` is the committed registry file when ``registry`` was read from the
    database (so "in the file, not applied yet" can be told from "nowhere"); ``file_place``
    and ``file_label`` name it as ``registry_file`` and ``registry_label`` name the registry.
    ``register_hint`` is the command a finding offers to register a function (``{function}``
    is its name): what the person reading it can run.
    """

    analysis: Analysis
    registry: Registry
    config: Config
    registry_file: str | None  # relative to the source root, for locations
    registry_label: str  # as a reader knows it, for evidence
    rows_by_function: dict[str, list[RegistryEntry]] = field(default_factory=dict)
    file_registry: Registry | None = None
    file_place: str | None = None
    file_label: str = ""
    register_hint: str = DEFAULT_REGISTER_HINT
    # functions the registry names that are defined outside the ingest directories
    elsewhere: Mapping[str, Location] = field(default_factory=dict)

    @cached_property
    def active_slugs(self) -> frozenset[str]:
        """The slugs of the registry's active rows."""
        return frozenset(r.workflow_slug for r in self.registry.entries if r.is_active)

    @cached_property
    def functions_per_module(self) -> Counter[str]:
        """How many ingest functions each module defines."""
        return Counter(fn.module for fn in self.analysis.functions)

    @classmethod
    def of(
        cls,
        analysis: Analysis,
        registry: Registry,
        config: Config,
        *,
        file_registry: Registry | None = None,
        register_hint: str | None = None,
        elsewhere: Mapping[str, Location] | None = None,
    ) -> Context:
        rel, label = _places(registry.source, config)
        file_rel, file_label = (
            _places(file_registry.source, config) if file_registry else (None, "")
        )
        return cls(
            analysis,
            registry,
            config,
            rel,
            label,
            registry.by_function(),
            file_registry,
            file_rel,
            file_label,
            register_hint or DEFAULT_REGISTER_HINT,
            dict(elsewhere or {}),
        )

    def register_command(self, fn: IngestFunction) -> str:
        return self.register_hint.replace("{function}", fn.name)

    def file_location(self, line: int | None) -> Location | None:
        """A place in the committed registry file (see ``file_registry``)."""
        return Location(self.file_place, line or 1) if self.file_place else None

    def file_ref(self, row: RegistryEntry) -> str:
        where = self.file_label
        if where and row.line:
            where = f"{where}:{row.line}"
        return f"row {row.workflow_slug}" + (f" ({where})" if where else "")

    @property
    def error_count(self) -> int:
        return len(self.analysis.errors)

    def settings_location(self, *keys: str) -> Location:
        """Where the first of ``keys`` is set in the project's pyproject.toml (line 1 when none
        is), as a source-root-relative place like every finding's."""
        config = self.config
        lines = dict(config.setting_lines)
        line = next((lines[k] for k in keys if k in lines), 1)
        pyproject = os.path.relpath(config.project_dir / "pyproject.toml", config.source_root)
        return Location(pyproject.replace(os.sep, "/"), line)

    def row_location(self, line: int | None) -> Location | None:
        return Location(self.registry_file, line or 1) if self.registry_file else None

    def row_place(self, row: RegistryEntry) -> Location | None:
        """Where a row is: its line in the registry file; for a database row, the line of the
        same slug in the committed file when it has one (else None: the reports fall back to
        the registry file)."""
        if self.registry_file:
            return self.row_location(row.line)
        if self.file_registry is not None:
            for entry in self.file_registry.entries:
                if entry.workflow_slug == row.workflow_slug:
                    return self.file_location(entry.line)
        return None

    def row_ref(self, row: RegistryEntry) -> str:
        where = self.registry_label
        if where and row.line:
            where = f"{where}:{row.line}"
        return f"row {row.workflow_slug}" + (f" ({where})" if where else "")

    def row_evidence(self, row: RegistryEntry, detail: str) -> str:
        return f"{self.row_ref(row)}: {detail}"

    def rows_naming(self, fn: IngestFunction) -> list[RegistryEntry]:
        """Returns the rows whose ``modal_function_name`` is the function's deployed or Python
        name, active or not, sorted by slug."""
        found = list(self.rows_by_function.get(fn.modal_name, []))
        if fn.name != fn.modal_name:
            found += [r for r in self.rows_by_function.get(fn.name, []) if r not in found]
        return sorted(found, key=lambda r: r.workflow_slug)


def _places(source: str, config: Config) -> tuple[str | None, str]:
    """Returns a registry source's path relative to the source root (for locations; None for
    a database) and its label (relative to the project when inside it)."""
    if not source or "://" in source:
        return None, source
    path = Path(source)
    if not path.is_absolute():
        path = config.project_dir / path
    try:
        rel = PurePath(os.path.relpath(path, config.source_root)).as_posix()
        label = PurePath(os.path.relpath(path, config.project_dir)).as_posix()
    except ValueError:  # another drive on Windows
        rel = label = path.as_posix()
    if label.startswith("../"):
        label = path.as_posix()
    return rel, label


# -- registration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unused:
    """A suppression, or one code of it, that matched no finding: ``code`` is None for a
    suppression that names no code, ``known`` whether the code exists."""

    suppression: Suppression
    code: str | None
    known: bool


FunctionCheck = Callable[[IngestFunction, list[RegistryEntry], Context], Iterator[Hit]]
PairCheck = Callable[["Pair", Context], Iterator[Hit]]
RunCheck = Callable[[Context], Iterator[Hit]]
SuppressionCheck = Callable[[list[Unused], Context], Iterator[Hit]]

FUNCTION_CHECKS: list[tuple[Rule, FunctionCheck]] = []
PAIR_CHECKS: list[tuple[Rule, PairCheck]] = []
RUN_CHECKS: list[tuple[Rule, RunCheck]] = []
SUPPRESSION_CHECKS: list[tuple[Rule, SuppressionCheck]] = []

_C = TypeVar("_C")


def _registrar(into: list[tuple[Rule, _C]]) -> Callable[[Rule], Callable[[_C], _C]]:
    def register(rule: Rule) -> Callable[[_C], _C]:
        def decorate(check: _C) -> _C:
            into.append((rule, check))
            return check

        return decorate

    return register


#: ``check(fn, rows, ctx)``: once per ingest function, with every row naming it
function_check = _registrar(FUNCTION_CHECKS)
#: ``check(pair, ctx)``: once per active row naming a function, with the pair's facts
pair_check = _registrar(PAIR_CHECKS)
#: ``check(ctx)``: once per run (registry rows, files)
run_check = _registrar(RUN_CHECKS)
#: ``check(unused, ctx)``: once per run, after suppressions, with those that matched nothing
suppression_check = _registrar(SUPPRESSION_CHECKS)


def catalogue() -> tuple[Rule, ...]:
    """Returns every rule with a registered check, by code."""
    checks: list[tuple[Rule, object]] = [
        *FUNCTION_CHECKS,
        *PAIR_CHECKS,
        *RUN_CHECKS,
        *SUPPRESSION_CHECKS,
    ]
    return tuple(sorted({rule.code: rule for rule, _ in checks}.values(), key=lambda r: r.code))


# -- evidence shared by several families ----------------------------------------------------------


def qualified(fn: IngestFunction) -> str:
    return f"{fn.module}.{fn.name}" if fn.module else fn.name


def function_evidence(fn: IngestFunction) -> str:
    state = "deployed" if fn.deployed else "not deployed"
    return (
        f"function {qualified(fn)} ({fn.file}:{fn.line}; {fn.kind}, {state}, "
        f"modal name {fn.modal_name})"
    )
