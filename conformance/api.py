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
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.config import DEFAULT_REGISTRY_FILE, Config, load_config, validate_settings
from conformance.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, ConformanceError
from conformance.model import Analysis, Finding, IngestFunction, Registry, RegistryEntry
from conformance.sources import (
    ALLOW_SETTINGS_DSN_ENV,
    RegistrySource,
    check_project_path,
    parse_source,
)

if TYPE_CHECKING:
    from conformance.registry.draft import Draft
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
        """What the run has to tell its user (e.g. a cache it did not use, and why)."""
        return self.analysis.notices

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
        return self.analysis.notices

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    @property
    def exit_code(self) -> int:
        """1 when a finding has error severity, else 0; 2 when no ingest function was found
        at all (an empty project cannot be clean; CONF030 says what was searched)."""
        if not self.analysis.functions:
            return EXIT_ERROR
        return EXIT_FINDINGS if self.has_errors else EXIT_CLEAN


@dataclass(frozen=True)
class Registered:
    """A function ``register`` added, and the columns left for a human."""

    function: IngestFunction
    draft: Draft


@dataclass(frozen=True)
class RegisterResult:
    """The entries ``register`` appended to the registry file at ``path``."""

    config: Config
    path: Path
    added: tuple[Registered, ...]
    already: tuple[IngestFunction, ...]  # named, and registered already
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def exit_code(self) -> int:
        return EXIT_CLEAN


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
    """What bringing the database in line with the file takes; ``applied`` when it was done."""

    config: Config
    plan: Plan
    applied: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_CLEAN


@dataclass(frozen=True)
class DiffResult:
    """The differences between the registry file and the database, row by row."""

    config: Config
    plan: Plan

    @property
    def exit_code(self) -> int:
        """1 when the file and the database differ, else 0."""
        return EXIT_FINDINGS if self.plan.has_changes else EXIT_CLEAN


@dataclass(frozen=True)
class SnapshotResult:
    """The database registry, written to the file at ``path``."""

    config: Config
    path: Path
    registry: Registry

    @property
    def exit_code(self) -> int:
        return EXIT_CLEAN


# -- commands -------------------------------------------------------------------------------------


def scan(project: Path | str = ".", options: Options = Options()) -> ScanResult:
    """Returns every ingest function of ``project`` and the tables it writes. Raises
    ConformanceError for bad settings; a bad source file is part of the analysis instead."""
    config = configure(project, options)
    from conformance.analysis.project import analyze_project

    analysis = analyze_project(config, use_cache=options.use_cache, jobs=options.jobs)
    return ScanResult(config, analysis, dict(analysis.timings))


def check(
    project: Path | str = ".",
    options: Options = Options(),
    *,
    registry: str | None = None,
    offline: bool = False,
) -> CheckResult:
    """Returns the findings of ``project`` against its registry: ``registry`` as the operator
    names it (a file, a DSN or ``env``; see :func:`registry_source`), else the configured one.
    With ``offline`` a database is never contacted."""
    scanned = scan(project, options)
    return check_scanned(scanned, registry=registry, offline=offline, use_cache=options.use_cache)


def check_scanned(
    scanned: ScanResult,
    *,
    registry: str | None = None,
    offline: bool = False,
    base: Path | None = None,
    use_cache: bool = True,
) -> CheckResult:
    """:func:`check` of an analysis already made (the pytest plugin scans at collection and
    checks later); a relative ``registry`` file is relative to ``base`` (default: the working
    directory)."""
    config, analysis = scanned.config, scanned.analysis
    timings = dict(scanned.timings)
    start = time.perf_counter()
    source = registry_source(config, registry, offline=offline, base=base)
    loaded = load_registry(config, source, use_cache)
    timings["registry"] = time.perf_counter() - start
    start = time.perf_counter()
    from conformance.rules import evaluate

    findings = evaluate(analysis, loaded, config)
    timings["compare"] = time.perf_counter() - start
    return CheckResult(config, analysis, source, loaded, findings, timings)


def register(
    project: Path | str = ".",
    functions: Sequence[str] = (),
    *,
    every: bool = False,
    registry_file: str | None = None,
    options: Options = Options(),
) -> RegisterResult:
    """Appends a drafted entry for each named function (a name, deployed name or
    ``FILE::NAME``), or for every unregistered one with ``every``, to the registry file.

    Raises ConformanceError, writing nothing, for an unknown function name or a registry file
    with problems. Existing entries, order and comments are kept; the file is written
    atomically.
    """
    from conformance.registry.draft import draft_entry
    from conformance.registry.file import append_entries, load_registry_file

    if not functions and not every:
        raise ConformanceError("name the functions to register, or pass --all")
    scanned = scan(project, options)
    config, analysis = scanned.config, scanned.analysis
    path = registry_file_path(config, registry_file, writing=True)
    existing = load_registry_file(path, config.entity_types) if path.exists() else None
    named = {e.modal_function_name for e in existing.entries} if existing else set()
    taken = {e.workflow_slug for e in existing.entries} if existing else set()
    by_key: dict[str, IngestFunction] = {}
    for fn in analysis.functions:
        for key in (fn.name, fn.modal_name, fn.test_id):
            by_key.setdefault(key, fn)
    targets = list(analysis.functions) if every else []
    for name in functions:
        if name not in by_key:
            raise ConformanceError(f"no ingest function named {name!r} (see `conformance scan`)")
        targets.append(by_key[name])
    added: list[Registered] = []
    already: list[IngestFunction] = []
    for fn in dict.fromkeys(targets):
        if fn.modal_name in named or fn.name in named:
            if not every:
                already.append(fn)
            continue
        slug = _free_slug(draft_entry(fn).entry.workflow_slug, taken)
        taken.add(slug)
        added.append(Registered(fn, draft_entry(fn, slug)))
    if added:
        append_entries(path, [r.draft.entry for r in added], config.entity_types)
    return RegisterResult(config, path, tuple(added), tuple(already), dict(scanned.timings))


def emit_sql(
    project: Path | str = ".",
    *,
    registry_file: str | None = None,
    dsn: str | None = None,
    from_code: bool = False,
    allow_mass_deactivation: bool = False,
    options: Options = Options(),
) -> SqlResult:
    """Returns the SQL that brings the database registry in line with the registry file (or,
    ``from_code``, with entries drafted from the analysis): DDL and idempotent upserts in one
    transaction; with ``dsn``, rows the database has and the file does not are deactivated."""
    from conformance import sqlgen

    if from_code:
        from conformance.registry.draft import draft_entry

        scanned = scan(project, options)
        config = scanned.config
        entries = _unique_slugs([draft_entry(fn).entry for fn in scanned.analysis.functions])
    else:
        config = configure(project, options)
        entries = list(_registry_file(config, registry_file).entries)
    deactivate: list[str] = []
    if dsn:
        from conformance.registry.plan import plan, refuse_mass_deactivation
        from conformance.registry.postgres import load_registry_db

        current = load_registry_db(
            database(dsn), config.table, entity_types=config.entity_types, timeouts=timeouts(config)
        )
        planned = plan(current, Registry(tuple(entries)))
        refuse_mass_deactivation(current, planned, allow_mass_deactivation)
        deactivate = [e.workflow_slug for e in planned.deactivations]
    return SqlResult(config, sqlgen.script(entries, deactivate, config.table))


def apply(
    project: Path | str = ".",
    *,
    dsn: str,
    registry_file: str | None = None,
    dry_run: bool = False,
    allow_mass_deactivation: bool = False,
    options: Options = Options(),
) -> PlanResult:
    """Brings the database registry in line with the registry file in one transaction under an
    advisory lock (rows are deactivated, never deleted); with ``dry_run`` only plans it."""
    from conformance.registry.postgres import apply as apply_registry

    config = configure(project, options)
    file_registry = _registry_file(config, registry_file)
    done = apply_registry(
        database(dsn),
        file_registry,
        config.table,
        dry_run=dry_run,
        entity_types=config.entity_types,
        timeouts=timeouts(config),
        allow_mass_deactivation=allow_mass_deactivation,
    )
    return PlanResult(config, done, applied=not dry_run and done.has_changes)


def snapshot(
    project: Path | str = ".",
    *,
    dsn: str,
    registry_file: str | None = None,
    options: Options = Options(),
) -> SnapshotResult:
    """Writes the database registry to the registry file, atomically."""
    from conformance.registry.postgres import snapshot as take_snapshot

    config = configure(project, options)
    path = registry_file_path(config, registry_file, writing=True)
    registry = take_snapshot(
        database(dsn),
        path,
        config.table,
        entity_types=config.entity_types,
        timeouts=timeouts(config),
    )
    return SnapshotResult(config, path, registry)


def diff(
    project: Path | str = ".",
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


def configure(project: Path | str, options: Options = Options()) -> Config:
    """Returns the validated settings of ``project`` with the options' overrides. Settings
    validated once are remembered in the cache by their content, so a run whose settings did
    not change never loads the JSON Schema validator."""
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


def _load_registry_file(config: Config, path: Path, use_cache: bool) -> Registry:
    """Loads a registry file, through the cache: an unchanged file is one decoding, with no
    YAML parser or JSON Schema validator loaded."""
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
            key = cache.digest(
                b"registry", str(path).encode(), "\0".join(config.entity_types).encode(), data
            )
            cached = cache.load(root, key, Registry)
            if cached is not None:
                return cached
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


def _free_slug(slug: str, taken: set[str]) -> str:
    """Returns ``slug``, or ``slug-2``, ``slug-3``, ... whichever is not taken."""
    candidate, n = slug, 2
    while candidate in taken:
        candidate, n = f"{slug}-{n}", n + 1
    return candidate


def _unique_slugs(entries: list[RegistryEntry]) -> list[RegistryEntry]:
    seen: set[str] = set()
    out = []
    for entry in entries:
        slug = _free_slug(entry.workflow_slug, seen)
        seen.add(slug)
        out.append(replace(entry, workflow_slug=slug))
    return out
