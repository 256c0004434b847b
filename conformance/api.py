"""The library API: the one orchestrator every surface calls (CLI, pytest plugin, hooks).

Each command is a function from a project directory and :class:`Options` to a frozen result
record that carries what the run found, its timings and the exit code it implies. Nothing here
prints or exits; failures are :class:`ConformanceError` (exit code 2).

    result = api.check("path/to/project", registry="workflow_registry.yaml")
    for finding in result.findings: ...
    sys.exit(result.exit_code)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.config import DEFAULT_REGISTRY_FILE, Config, load_config, validate_settings
from conformance.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, ConformanceError
from conformance.model import (
    Analysis,
    Finding,
    IngestFunction,
    Location,
    Registry,
    RegistryEntry,
)
from conformance.sources import (
    ALLOW_SETTINGS_DSN_ENV,
    ENV_SOURCE,
    RegistrySource,
    check_project_path,
    looks_like_dsn,
    parse_source,
)

if TYPE_CHECKING:
    from conformance.registry.fix import FixPlan
    from conformance.registry.plan import Plan
    from conformance.registry.postgres import Timeouts


@dataclass(frozen=True)
class Options:
    """How to run: settings the operator overrides, and switches of the run itself.

    ``None`` (or empty) leaves the project's ``[tool.conformance]`` value; ``severity`` is
    merged over the settings' table.
    """

    source_root: str | None = None
    ingest: tuple[str, ...] = ()
    entrypoint: str | None = None
    severity: Mapping[str, str] = field(default_factory=dict)
    connect_timeout: float | None = None
    statement_timeout: float | None = None
    use_cache: bool = True
    jobs: int | None = None
    # the command a finding offers to register a function ("{function}" is its name), for
    # the surface the reader is on (pre-commit: the conformance-fix hook); None: the CLI's
    register_hint: str | None = None

    def settings(self) -> dict[str, Any]:
        """The overrides of ``[tool.conformance]`` these options make."""
        out: dict[str, Any] = {
            "source_root": self.source_root,
            "ingest": self.ingest or None,
            "entrypoint": self.entrypoint,
            "severity": dict(self.severity) or None,
            "connect_timeout": self.connect_timeout,
            "statement_timeout": self.statement_timeout,
        }
        return {key: value for key, value in out.items() if value is not None}


@dataclass(frozen=True)
class ScanResult:
    """What ``scan`` found: the functions and their writes (``analysis``)."""

    config: Config
    analysis: Analysis
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def notices(self) -> tuple[str, ...]:
        """What the run has to tell its user (e.g. a cache it did not use, and why; that it
        found no ingest function at all, which is usually the wrong project)."""
        return self.analysis.notices + _empty_notice(self.config, self.analysis)

    @property
    def exit_code(self) -> int:
        return EXIT_CLEAN


@dataclass(frozen=True)
class CheckResult:
    """The findings of the analysis against the registry read from ``source``."""

    config: Config
    analysis: Analysis
    source: RegistrySource
    registry: Registry
    findings: tuple[Finding, ...]
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def notices(self) -> tuple[str, ...]:
        """The analysis's notices, then the registry source's (e.g. a table that lacks the
        tool's columns)."""
        return (
            self.analysis.notices
            + _empty_notice(self.config, self.analysis)
            + self.registry.notices
        )

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    @property
    def exit_code(self) -> int:
        """1 when a finding has error severity, else 0; 2 when no ingest function was found
        at all (an empty project cannot be clean; CONF022 says what was searched)."""
        if not self.analysis.functions:
            return EXIT_ERROR
        return EXIT_FINDINGS if self.has_errors else EXIT_CLEAN


@dataclass(frozen=True)
class RegisterResult:
    """What ``register`` did to the registry file at ``path`` (``plan``: the entries it added
    or linked)."""

    config: Config
    path: Path
    plan: FixPlan
    already: tuple[IngestFunction, ...]  # named, and registered already
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def exit_code(self) -> int:
        return EXIT_CLEAN


@dataclass(frozen=True)
class FixResult:
    """What ``check --fix`` changed (or, ``--diff``, would change) in the registry file, and
    the check against the file as it now reads (None when nothing was written)."""

    config: Config
    path: Path
    plan: FixPlan
    before: str
    after: str
    checked: CheckResult | None = None

    @property
    def changed(self) -> bool:
        return self.after != self.before

    def diff(self, name: str) -> str:
        """The unified diff of the change, the file called ``name`` on both sides."""
        import difflib

        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                f"a/{name.lstrip('/')}",
                f"b/{name.lstrip('/')}",
            )
        )

    @property
    def exit_code(self) -> int:
        """After a fix, that of the check of what remains; for a diff, 1 when the file would
        change."""
        if self.checked is not None:
            return self.checked.exit_code
        return EXIT_FINDINGS if self.changed else EXIT_CLEAN


@dataclass(frozen=True)
class SqlResult:
    """The SQL script ``emit-sql`` made."""

    config: Config
    text: str

    @property
    def exit_code(self) -> int:
        return EXIT_CLEAN


@dataclass(frozen=True)
class PlanResult:
    """What bringing the database in line with the file takes (rows and DDL); ``applied``
    when it was done. ``registry_file`` is the file it was planned from (None: a plan file)."""

    config: Config
    plan: Plan
    applied: bool = False
    dry_run: bool = False
    registry_file: Path | None = None

    @property
    def exit_code(self) -> int:
        """A dry run exits 1 when there is something to change (Terraform's detailed exit
        code, with our 1 for "differences"); else 0."""
        return EXIT_FINDINGS if self.dry_run and self.plan.has_changes else EXIT_CLEAN


@dataclass(frozen=True)
class DiffResult:
    """The differences between the registry file and the database, row by row."""

    config: Config
    plan: Plan

    @property
    def exit_code(self) -> int:
        """1 when the file and the database differ (rows), else 0."""
        return EXIT_FINDINGS if self.plan.has_row_changes else EXIT_CLEAN


@dataclass(frozen=True)
class SnapshotResult:
    """The database registry, written to the file at ``path``."""

    config: Config
    path: Path
    registry: Registry

    @property
    def exit_code(self) -> int:
        return EXIT_CLEAN


def _empty_notice(config: Config, analysis: Analysis) -> tuple[str, ...]:
    if analysis.functions or analysis.errors:
        return ()
    where = ", ".join(f"{d}/" for d in config.ingest)
    return (
        f"no ingest function found in {where} under {config.source_root} (project "
        f"{config.project_dir}): pass PROJECT, or run inside the project whose pyproject.toml "
        "has [tool.conformance]",
    )


# -- commands -------------------------------------------------------------------------------------


def scan(project: Path | str | None = None, options: Options = Options()) -> ScanResult:
    """Returns every ingest function of ``project`` (None: :func:`find_project` from the
    working directory) and the tables it writes. Raises ConformanceError for bad settings; a
    bad source file is part of the analysis instead."""
    config = configure(project, options)
    from conformance.analysis.project import analyze_project

    analysis = analyze_project(config, use_cache=options.use_cache, jobs=options.jobs)
    return ScanResult(config, analysis, dict(analysis.timings))


def check(
    project: Path | str | None = None,
    options: Options = Options(),
    *,
    registry: str | None = None,
    offline: bool = False,
    staged: bool = False,
) -> CheckResult:
    """Returns the findings of ``project`` against its registry: ``registry`` as the operator
    names it (a file, a DSN or ``env``; see :func:`registry_source`), else the configured one.
    With ``offline`` a database is never contacted. With ``staged`` the files checked are
    those in the git index (what the next commit holds; see :mod:`conformance.staged`), and
    the result names them by their work-tree paths."""
    if not staged:
        return _check_scanned_with(scan(project, options), registry, offline, options)
    from conformance.staged import staged as staged_copy

    with staged_copy(Path(find_project(project))) as snapshot:
        given = registry
        if given is not None and given.strip() != ENV_SOURCE and not looks_like_dsn(given):
            given = str(snapshot.copied(Path(given).absolute()))  # its staged version
        result = _check_scanned_with(scan(snapshot.copy, options), given, offline, options)
    config = snapshot.real_config(result.config)
    if result.source.is_dsn:
        return replace(result, config=config)
    real = str(snapshot.real(Path(result.source.value)))
    return replace(
        result,
        config=config,
        source=replace(result.source, value=real, label=real),
        registry=replace(result.registry, source=real),
    )


def _check_scanned_with(
    scanned: ScanResult, registry: str | None, offline: bool, options: Options
) -> CheckResult:
    return check_scanned(
        scanned,
        registry=registry,
        offline=offline,
        use_cache=options.use_cache,
        register_hint=options.register_hint,
    )


def check_scanned(
    scanned: ScanResult,
    *,
    registry: str | None = None,
    offline: bool = False,
    base: Path | None = None,
    use_cache: bool = True,
    register_hint: str | None = None,
) -> CheckResult:
    """:func:`check` of an analysis already made (the pytest plugin scans at collection and
    checks later); a relative ``registry`` file is relative to ``base`` (default: the working
    directory).

    Checked against a database, the project's registry file (when the settings name one and
    it exists) is read too, so that a row in the file and not in the database is reported as
    not applied (CONF021) rather than missing (CONF001)."""
    config, analysis = scanned.config, scanned.analysis
    timings = dict(scanned.timings)
    start = time.perf_counter()
    source = registry_source(config, registry, offline=offline, base=base)
    loaded = load_registry(config, source, use_cache)
    committed = _committed_file(config, use_cache) if source.is_dsn else None
    timings["registry"] = time.perf_counter() - start
    start = time.perf_counter()
    from conformance.rules import evaluate

    findings = evaluate(
        analysis,
        loaded,
        config,
        file_registry=committed,
        register_hint=register_hint,
        elsewhere=_defined_elsewhere(config, analysis, loaded),
    )
    timings["compare"] = time.perf_counter() - start
    return CheckResult(config, analysis, source, loaded, findings, timings)


def register(
    project: Path | str | None = None,
    functions: Sequence[str] = (),
    *,
    every: bool = False,
    registry_file: str | None = None,
    options: Options = Options(),
) -> RegisterResult:
    """Registers each named function (a name, deployed name or ``FILE::NAME``), or every
    unregistered one with ``every``, in the registry file: an entry whose slug the function's
    code uses is linked to it, else a drafted entry is appended (never a second entry for a slug
    that exists). The rest of the file is kept as it was; it is written atomically.

    Raises ConformanceError, writing nothing, for an unknown function name, or when the result
    would not load back as intended.
    """
    from conformance.registry.fix import plan_fix

    if not functions and not every:
        raise ConformanceError("name the functions to register, or pass --all")
    scanned = scan(project, options)
    config, analysis = scanned.config, scanned.analysis
    path = registry_file_path(config, registry_file, writing=True)
    existing = _file_registry(config, path)
    named = {e.modal_function_name for e in existing.entries}
    by_key: dict[str, IngestFunction] = {}
    for fn in analysis.functions:
        for key in (fn.name, fn.modal_name, fn.test_id):
            by_key.setdefault(key, fn)
    targets = list(analysis.functions) if every else []
    for name in functions:
        if name not in by_key:
            raise ConformanceError(f"no ingest function named {name!r} (see `conformance scan`)")
        targets.append(by_key[name])
    already = tuple(
        fn
        for fn in dict.fromkeys(targets)
        if not every and (fn.modal_name in named or fn.name in named)
    )
    plan = plan_fix(
        analysis.functions,
        existing,
        config.entity_types,
        only=dict.fromkeys(targets),
        existing_entries=False,
    )
    _write_fixes(config, path, plan)
    return RegisterResult(config, path, plan, already, dict(scanned.timings))


def fix(
    project: Path | str | None = None,
    options: Options = Options(),
    *,
    registry_file: str | None = None,
    write: bool = True,
    staged: bool = False,
) -> FixResult:
    """Brings the registry file in line with what the code settles (``check --fix``): links,
    new entries, layer tables, ``writes``, ``coalesces_to_core``, and marked suggestions for
    empty human columns (see :mod:`conformance.registry.fix`). With ``write`` False nothing is
    written (``--diff``). Then checks the project against the file as it now reads.

    With ``staged`` the code is the git index's (what the next commit holds: an untracked
    work-in-progress function is not registered); the file edited is the work tree's."""
    from conformance.registry.fix import plan_fix

    scanned = _scan_staged(project, options) if staged else scan(project, options)
    config = scanned.config
    path = registry_file_path(config, registry_file, writing=write)
    plan = plan_fix(scanned.analysis.functions, _file_registry(config, path), config.entity_types)
    before, after = _write_fixes(config, path, plan, write=write)
    checked = None
    if write:
        checked = check_scanned(
            scanned,
            registry=str(path),
            use_cache=options.use_cache,
            register_hint=options.register_hint,
        )
    return FixResult(config, path, plan, before, after, checked)


def _scan_staged(project: Path | str | None, options: Options) -> ScanResult:
    """Returns the scan of the code in the git index, its settings' paths the work tree's."""
    from conformance.staged import staged as staged_copy

    with staged_copy(Path(find_project(project))) as snapshot:
        scanned = scan(snapshot.copy, options)
    return replace(scanned, config=snapshot.real_config(scanned.config))


def _defined_elsewhere(
    config: Config, analysis: Analysis, registry: Registry
) -> dict[str, Location]:
    """Where the functions that active rows name, and the analysis does not know, are defined
    outside the ingest directories (a text search, only for those names)."""
    known = {n for fn in analysis.functions for n in (fn.name, fn.modal_name)}
    missing = {
        e.modal_function_name
        for e in registry.entries
        if e.is_active and e.modal_function_name and e.modal_function_name not in known
    }
    if not missing:
        return {}
    from conformance.discovery import discover, find_definitions

    found = find_definitions(config, discover(config), missing)
    return {name: Location(file, line) for name, (file, line) in found.items()}


def _file_registry(config: Config, path: Path) -> Registry:
    from conformance.registry.file import load_registry_file

    if not path.exists():
        return Registry((), str(path))
    return load_registry_file(path, config.entity_types)


def _write_fixes(
    config: Config, path: Path, plan: FixPlan, *, write: bool = True
) -> tuple[str, str]:
    """The registry file's text before and after ``plan``; written (atomically) when it
    changes and ``write``."""
    from conformance.registry.edit import updated_text
    from conformance.registry.file import atomic_write_text

    before, after = updated_text(path, plan.fixes, config.entity_types)
    if write and after != before:
        atomic_write_text(path, after)
    return before, after


def emit_sql(
    project: Path | str | None = None,
    *,
    registry_file: str | None = None,
    dsn: str | None = None,
    from_code: bool = False,
    allow_mass_deactivation: bool = False,
    options: Options = Options(),
) -> SqlResult:
    """Returns the SQL that brings the database registry in line with the registry file: DDL
    and idempotent upserts in one transaction. With ``dsn``, only the rows that differ, rows
    the database has and the file does not deactivated, and nothing at all (ConformanceError)
    when a row would break the live table's NOT NULL or CHECK constraints.

    ``from_code``: entries drafted from the analysis instead of the file, of which only what
    the code settles is written (a row's provider, description, extra columns... are never
    touched, and nothing is deactivated); with ``dsn`` the drafts link to the rows the way
    ``check --fix`` links entries."""
    from conformance import sqlgen

    if from_code:
        scanned = scan(project, options)
        config = scanned.config
        functions = scanned.analysis.functions
        if not dsn:
            from conformance.registry.draft import draft_entry

            drafts = _unique_slugs([draft_entry(fn).entry for fn in functions])
            text = sqlgen.script(drafts, (), config.table, code_only=True, by_function=True)
            return SqlResult(config, text)
        from conformance.registry.postgres import plan_code_update

        def draft(current: Registry) -> list[RegistryEntry]:
            return _code_entries(functions, current, config)

        entries = plan_code_update(
            database(dsn),
            draft,
            config.table,
            entity_types=config.entity_types,
            timeouts=timeouts(config),
        )
        return SqlResult(config, sqlgen.script(entries, (), config.table, code_only=True))
    config = configure(project, options)
    file_registry = _registry_file(config, registry_file)
    if not dsn:
        return SqlResult(config, sqlgen.script(file_registry.entries, (), config.table))
    from conformance.registry.postgres import plan_against

    planned = plan_against(
        database(dsn),
        file_registry,
        config.table,
        entity_types=config.entity_types,
        timeouts=timeouts(config),
        allow_mass_deactivation=allow_mass_deactivation,
    )
    deactivate = [e.workflow_slug for e in planned.deactivations]
    text = sqlgen.script(planned.upserted, deactivate, config.table, skip=planned.read_only)
    return SqlResult(config, text)


def _code_entries(
    functions: Sequence[IngestFunction], current: Registry, config: Config
) -> list[RegistryEntry]:
    """Returns the entries the code settles against the database registry ``current``: its
    rows that ``check --fix`` would change (linked, layer tables, writes, coalesces_to_core)
    and new entries for unregistered functions; suggestions for a person's columns are not
    taken (nothing marks them in a database)."""
    from conformance.registry.fix import plan_fix

    fixed = plan_fix(functions, current, config.entity_types)
    by_slug = {e.workflow_slug: e for e in current.entries}
    return [
        replace(fix, suggested=()).entry(by_slug.get(fix.slug))
        for fix in fixed.fixes
        if fix.values or fix.is_new
    ]


def plan(
    project: Path | str | None = None,
    *,
    dsn: str,
    registry_file: str | None = None,
    force: bool = False,
    allow_mass_deactivation: bool = False,
    options: Options = Options(),
) -> PlanResult:
    """Returns what applying the registry file would change in the database: the DDL the
    table needs and the rows to insert, update and deactivate, with the fingerprint of the
    database state it was made against (see :func:`apply`). Reads, never writes.

    Refuses (ConformanceError) a registry file with invalid, duplicate or incomplete entries
    (see :func:`entry_issues`) unless ``force``: those entries are then left out, and their
    rows in the database are never deactivated for it.
    """
    from conformance.registry.postgres import plan_against

    config = configure(project, options)
    path = registry_file_path(config, registry_file)
    file_registry, protect = _applicable(config, path, force)
    planned = plan_against(
        database(dsn),
        file_registry,
        config.table,
        entity_types=config.entity_types,
        timeouts=timeouts(config),
        allow_mass_deactivation=allow_mass_deactivation,
        protect=protect,
    )
    return PlanResult(config, planned, dry_run=True, registry_file=path)


def apply(
    project: Path | str | None = None,
    *,
    dsn: str,
    registry_file: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    allow_mass_deactivation: bool = False,
    reviewed: Plan | None = None,
    options: Options = Options(),
) -> PlanResult:
    """Brings the database registry in line with the registry file in one transaction under an
    advisory lock (DDL, upserts; rows are deactivated, never deleted); with ``dry_run`` only
    plans it.

    With ``reviewed`` (a :class:`Plan` from :func:`plan` or a plan file) exactly that plan is
    applied, and only if the database is still in the state it was made against; the
    registry file is then not read. Otherwise the file is refused as by :func:`plan` unless
    ``force``.
    """
    from conformance.registry.postgres import apply as apply_registry

    config = configure(project, options)
    path = None
    file_registry, protect = Registry(()), tuple[str, ...]()
    if reviewed is None:
        path = registry_file_path(config, registry_file)
        file_registry, protect = _applicable(config, path, force)
    done = apply_registry(
        database(dsn),
        file_registry,
        config.table,
        dry_run=dry_run,
        entity_types=config.entity_types,
        timeouts=timeouts(config),
        allow_mass_deactivation=allow_mass_deactivation,
        protect=protect,
        expect=reviewed,
    )
    return PlanResult(
        config, done, applied=not dry_run and done.has_changes, dry_run=dry_run, registry_file=path
    )


def read_plan(project: Path | str | None, path: Path | str) -> Plan:
    """Returns the plan in the plan file at ``path`` (written by ``plan --out``) for the
    project's registry table; raises ConformanceError for anything else (see
    :func:`conformance.registry.planfile.read_plan`)."""
    from conformance.registry.planfile import read_plan as read

    return read(Path(path), configure(project).table)


def entry_issues(
    registry: Registry, required: Sequence[str]
) -> list[tuple[str | None, int | None, str]]:
    """Returns why the registry file may not be applied as it is, as (slug, line, message):
    its problems (invalid and duplicate entries) and its incomplete entries, i.e. active entries
    with a ``required`` column (the settings' ``required_columns``, what CONF020 checks)
    empty."""
    issues: list[tuple[str | None, int | None, str]] = [
        (p.slug, p.line, p.message) for p in registry.problems
    ]
    for entry in registry.entries:
        empty = entry.empty_columns(required)
        if entry.is_active and empty:
            issues.append(
                (
                    entry.workflow_slug,
                    entry.line,
                    f"entry {entry.workflow_slug} is incomplete: {', '.join(empty)} "
                    f"{'is' if len(empty) == 1 else 'are'} empty",
                )
            )
    return sorted(issues, key=lambda i: (i[1] or 0, i[0] or ""))


def _applicable(config: Config, path: Path, force: bool) -> tuple[Registry, tuple[str, ...]]:
    """The registry file at ``path`` as it may be applied, and the slugs whose rows must be
    kept as they are (entries left out); refuses an unfit file unless ``force``."""
    from conformance.registry.file import load_registry_file

    registry = load_registry_file(path, config.entity_types)
    issues = entry_issues(registry, config.required_columns)
    if issues and not force:
        slug, line, message = issues[0]
        where = f"{path}:{line}" if line else str(path)
        raise ConformanceError(
            f"refusing to apply a registry file with {len(issues)} invalid, duplicate or "
            f"incomplete entr{'y' if len(issues) == 1 else 'ies'} (first: {where}: {message}); "
            "nothing was changed. Fix them (`conformance check --offline` lists invalid and "
            "duplicate ones), or pass --force to leave invalid entries out and apply "
            "incomplete ones as they are"
        )
    protect = tuple(sorted({p.slug for p in registry.problems if p.slug}))
    return Registry(registry.entries, registry.source, ()), protect


def snapshot(
    project: Path | str | None = None,
    *,
    dsn: str,
    registry_file: str | None = None,
    force: bool = False,
    options: Options = Options(),
) -> SnapshotResult:
    """Writes the database registry, every column it holds, to the registry file, atomically.

    Into an existing file, refuses (ConformanceError, nothing written) to drop what only the
    file holds, and names it: entries the database lacks, comments; ``force`` drops them."""
    from conformance.registry.file import registry_yaml, write_registry_file
    from conformance.registry.postgres import load_registry_db

    config = configure(project, options)
    path = registry_file_path(config, registry_file, writing=True)
    registry = load_registry_db(
        database(dsn), config.table, entity_types=config.entity_types, timeouts=timeouts(config)
    )
    if not force and path.exists():
        lost = _snapshot_losses(config, path, registry, registry_yaml(registry.entries))
        if lost:
            raise ConformanceError(
                f"the snapshot would drop what only the file holds: {'; '.join(lost)}; nothing "
                "was written (--force replaces the file)",
                str(path),
            )
    write_registry_file(path, registry)
    return SnapshotResult(config, path, registry)


def _snapshot_losses(config: Config, path: Path, registry: Registry, new_text: str) -> list[str]:
    """Returns what writing ``new_text`` over the registry file at ``path`` would lose: the
    entries only the file has, and its comments (not those the new text has too)."""
    from conformance.registry.file import comments, load_registry_file, read_text

    try:
        text = read_text(path)
        held = load_registry_file(path, config.entity_types)
    except ConformanceError as exc:
        return [f"the file cannot be read ({exc.message})"]
    lost = []
    in_database = {e.workflow_slug for e in registry.entries}
    only_file = [e for e in held.entries if e.workflow_slug not in in_database]
    if only_file:
        listed = ", ".join(f"{e.workflow_slug} (line {e.line})" for e in only_file[:10])
        more = f" and {len(only_file) - 10} more" if len(only_file) > 10 else ""
        count = f"{len(only_file)} entr{'y' if len(only_file) == 1 else 'ies'}"
        lost.append(f"{count} the database lacks: {listed}{more}")
    kept = {body for _, body in comments(new_text)}
    dropped = [(line, body) for line, body in comments(text) if body not in kept]
    if dropped:
        listed = ", ".join(f"line {line}" for line, _ in dropped[:10])
        more = f" and {len(dropped) - 10} more" if len(dropped) > 10 else ""
        lost.append(f"{len(dropped)} comment{'' if len(dropped) == 1 else 's'}: {listed}{more}")
    return lost


def diff(
    project: Path | str | None = None,
    *,
    dsn: str,
    registry_file: str | None = None,
    options: Options = Options(),
) -> DiffResult:
    """Compares the registry file with the database, row by row (exit code 1 when they
    differ)."""
    from conformance.registry.file import load_registry_file
    from conformance.registry.plan import plan
    from conformance.registry.postgres import load_registry_db

    config = configure(project, options)
    file_registry = load_registry_file(
        registry_file_path(config, registry_file), config.entity_types
    )
    current = load_registry_db(
        database(dsn), config.table, entity_types=config.entity_types, timeouts=timeouts(config)
    )
    return DiffResult(config, plan(current, file_registry))


def staged_cache_dir(project: Path | str | None) -> Path | None:
    """Returns where a staged check of ``project`` keeps its cache: in the git directory (as
    hooks/pre-commit does), where the next commit's check finds it; None when there is no git
    directory (the check itself says why)."""
    from conformance.staged import git_dir

    try:
        return git_dir(Path(find_project(project))) / "conformance-cache"
    except ConformanceError:
        return None


def configure(project: Path | str | None, options: Options = Options()) -> Config:
    """Returns the validated settings of ``project`` (None: :func:`find_project`) with the
    options' overrides. Settings validated once are remembered in the cache by their content,
    so a run whose settings did not change never loads the JSON Schema validator."""
    project = find_project(project)
    project_dir = Path(project)

    def validate(settings: dict[str, Any], where: str) -> None:
        from conformance import cache

        root = cache.locate(project_dir.resolve()).root if options.use_cache else None
        text = json.dumps(settings, sort_keys=True, default=str).encode()
        key = cache.digest(b"settings", text)
        if root is not None and cache.marked(root, key):
            return
        validate_settings(settings, where)
        if root is not None:
            cache.mark(root, key)

    return load_config(project, validate=validate, **options.settings())


# -- where things are -----------------------------------------------------------------------------


def find_project(project: Path | str | None = None, start: Path | None = None) -> Path | str:
    """Returns ``project`` when given; else the nearest directory, from ``start`` (the working
    directory) up, whose ``pyproject.toml`` has a ``[tool.conformance]`` table (as ruff and
    mypy find their settings), else ``start`` itself. Never raises."""
    if project is not None:
        return project  # as given: a mistyped DSN must reach the error message unaltered
    here = (start or Path.cwd()).absolute()
    for directory in (here, *here.parents):
        if _has_settings(directory / "pyproject.toml"):
            return directory
    return here


def _has_settings(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "conformance" not in text:
        return False
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

    try:
        tool = tomllib.loads(text).get("tool")
    except tomllib.TOMLDecodeError:
        return True  # ours, broken: loading it names the error
    return isinstance(tool, dict) and "conformance" in tool


def repository_root(path: Path) -> Path | None:
    """Returns the root of the git work tree holding ``path``, else $GITHUB_WORKSPACE when it
    holds ``path``, else None: where GitHub and SARIF paths are relative to."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        done = None
    if done is not None and done.returncode == 0 and done.stdout.strip():
        return Path(done.stdout.strip()).resolve()
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace:
        root = Path(workspace).resolve()
        if root == path.resolve() or root in path.resolve().parents:
            return root
    return None


def columns(config: Config, findings: Sequence[Finding]) -> dict[Location, int]:
    """Returns the column (1-based) of each finding's line where its text starts: the analysis
    records lines, and the line's first character is where an editor should land. Reads only
    the files findings point at; a file that cannot be read gives no column."""
    wanted: dict[str, set[int]] = {}
    for f in findings:
        if f.location is not None:
            wanted.setdefault(f.location.file, set()).add(f.location.line)
    out: dict[Location, int] = {}
    for file, lines in wanted.items():
        last = max(lines)
        try:
            with open(config.source_root / file, encoding="utf-8", errors="replace") as fh:
                for number, text in enumerate(fh, 1):
                    if number in lines:
                        stripped = text.lstrip(" \t")
                        out[Location(file, number)] = len(text) - len(stripped) + 1
                    if number >= last:
                        break
        except OSError:
            continue
    return out


# -- registry sources -----------------------------------------------------------------------------


def registry_source(
    config: Config, given: str | None = None, *, offline: bool = False, base: Path | None = None
) -> RegistrySource:
    """Returns where to read the registry: ``given`` (chosen by the operator: a file relative to
    ``base``, by default the working directory; a DSN; or ``env``), else the project's
    ``registry`` setting (a file relative to the project, or ``env``).

    A DSN written in the project's settings is refused unless the operator sets
    $CONFORMANCE_ALLOW_SETTINGS_DSN=1: a pull request can change those settings, and the check
    would hand the runner's credentials (PGPASSWORD, a wildcard .pgpass) to its host. With
    ``offline`` every database source is refused. Raises ConformanceError; never connects.
    """
    if given is not None:
        source = parse_source(given, "command line", base=base)
    else:
        source = parse_source(
            config.registry or DEFAULT_REGISTRY_FILE, "settings", base=config.project_dir
        )
        if source.is_dsn and source.origin == "settings" and not _settings_dsn_allowed():
            raise ConformanceError(
                "[tool.conformance] registry names a database (not shown); a DSN written in the "
                "project's settings is used only when the operator allows it: pass --registry "
                f"DSN or --registry env, or set {ALLOW_SETTINGS_DSN_ENV}=1"
            )
        if not source.is_dsn:
            check_project_path(
                Path(source.value), config.project_dir, "read the registry file", writing=False
            )
    if offline and source.is_dsn:
        raise ConformanceError(
            f"--offline reads the registry file and never connects, but the registry is a "
            f"database ({source.label}, from the {source.origin}): pass --registry PATH"
        )
    return source


def _settings_dsn_allowed() -> bool:
    return os.environ.get(ALLOW_SETTINGS_DSN_ENV, "").strip().lower() in ("1", "true", "yes")


def registry_file_path(config: Config, given: str | None, *, writing: bool = False) -> Path:
    """Returns the registry file a file command works on: ``given`` (relative to the working
    directory), else the configured one (relative to the project), which must then stay inside
    the project (see :func:`conformance.sources.check_project_path`)."""
    if given is not None:
        source = parse_source(given, "command line")
        if source.is_dsn:
            raise ConformanceError("this command works on a registry file: pass --registry PATH")
        return Path(source.value)
    source = parse_source(
        config.registry or DEFAULT_REGISTRY_FILE, "settings", base=config.project_dir
    )
    if source.is_dsn:
        raise ConformanceError(
            "this command works on the registry file; [tool.conformance] "
            "registry names a database: pass --registry PATH"
        )
    doing = "write the registry file" if writing else "read the registry file"
    check_project_path(Path(source.value), config.project_dir, doing, writing=writing)
    return Path(source.value)


def database(dsn: str) -> str:
    """Returns an operator's DSN (``--dsn``, $CONFORMANCE_DSN) as libpq takes it; raises
    ConformanceError, never repeating it, when it is not a PostgreSQL connection string."""
    source = parse_source(dsn, "command line")
    if not source.is_dsn:
        raise ConformanceError(
            "--dsn takes a postgresql:// URL or libpq key=value connection string "
            "(not shown: it may hold a password)"
        )
    return source.value


def timeouts(config: Config) -> Timeouts:
    """The database timeouts the settings (and their overrides) ask for."""
    from conformance.registry.postgres import Timeouts

    return Timeouts(config.connect_timeout, config.statement_timeout)


def load_registry(
    config: Config, source: RegistrySource | None = None, use_cache: bool = True
) -> Registry:
    """Returns the registry from ``source`` (see :func:`registry_source`), else the configured
    one. Raises ConformanceError when it cannot be read."""
    source = source or registry_source(config)
    if source.is_dsn:
        from conformance.registry.postgres import load_registry_db

        return load_registry_db(
            source.value, config.table, entity_types=config.entity_types, timeouts=timeouts(config)
        )
    path = Path(source.value)
    if not path.exists():
        raise ConformanceError(
            f"registry file not found: {path} (run `conformance register "
            f"--all` to create it, or pass --registry)"
        )
    return _load_registry_file(config, path, use_cache)


def _committed_file(config: Config, use_cache: bool) -> Registry | None:
    """The project's registry file, when its settings name a file that exists (else None)."""
    try:
        path = registry_file_path(config, None)
    except ConformanceError:  # the settings name a database, or a file outside the project
        return None
    return _load_registry_file(config, path, use_cache) if path.is_file() else None


def _load_registry_file(config: Config, path: Path, use_cache: bool) -> Registry:
    """Loads a registry file, through the cache: an unchanged file is one decoding, with no
    YAML parser or JSON Schema validator loaded. The entry is keyed by the file's place in
    the project, as the analysis's are, so a staged check's temporary copy finds it too."""
    from conformance import cache
    from conformance.fileio import MAX_REGISTRY_BYTES, read_regular

    # the analysis has reported a cache it may not use; here it is only not used
    root = cache.locate(config.project_dir).root if use_cache else None
    key = ""
    if root is not None:
        try:
            data = read_regular(path, MAX_REGISTRY_BYTES)
        except OSError:
            data = b""  # the loader says why
        if data:
            try:
                place = path.absolute().relative_to(config.project_dir.absolute()).as_posix()
            except ValueError:  # a file outside the project, named on the command line
                place = str(path.absolute())
            key = cache.digest(
                b"registry", place.encode(), "\0".join(config.entity_types).encode(), data
            )
            cached = cache.load(root, key, Registry)
            if cached is not None:
                return replace(cached, source=str(path))
    from conformance.registry.file import load_registry_file

    registry = load_registry_file(path, entity_types=config.entity_types)
    if root is not None and key:
        cache.store(root, key, registry)
    return registry


def _registry_file(config: Config, given: str | None) -> Registry:
    """The registry file a command applies or emits: refused when it has problems."""
    from conformance.registry.file import load_registry_file

    registry = load_registry_file(registry_file_path(config, given), config.entity_types)
    if registry.problems:
        first = registry.problems[0]
        where = f"{registry.source}:{first.line}" if first.line else registry.source
        raise ConformanceError(
            f"the registry file has {len(registry.problems)} problem(s); nothing was emitted. "
            f"First: {first.message} (see `conformance check`)",
            where,
        )
    return registry


def _unique_slugs(entries: list[RegistryEntry]) -> list[RegistryEntry]:
    from conformance.registry.draft import free_slug

    seen: set[str] = set()
    out = []
    for entry in entries:
        slug = free_slug(entry.workflow_slug, seen)
        seen.add(slug)
        out.append(replace(entry, workflow_slug=slug))
    return out
