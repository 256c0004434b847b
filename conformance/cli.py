"""``conformance`` command line: thin click commands over :mod:`conformance.api`.

Exit codes are decided in :func:`main` only: 0 clean, 1 findings at error severity (or, for
``diff``, differences), 2 tool or usage error. Errors are one line on stderr, never a traceback
(``--debug`` re-raises).
"""

from __future__ import annotations

import gc
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from conformance import __version__
from conformance.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, ConformanceError
from conformance.sources import redact_text

_DEBUG = {"on": False}


def _analysis_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("project", default=".", type=click.Path(file_okay=False)),
        click.option(
            "--source-root", help="Directory Modal puts on sys.path (relative to PROJECT)."
        ),
        click.option(
            "--ingest", multiple=True, help="Ingest directory under the source root (repeatable)."
        ),
        click.option("--entrypoint", help="Deploy entry point, relative to the source root."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache."),
        click.option(
            "--jobs",
            type=click.IntRange(min=1),
            default=None,
            help="Parser processes (default: one per core; 1 = serial).",
        ),
        click.option("--timings", is_flag=True, help="Print time per phase on stderr."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _timeout_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--connect-timeout",
            type=click.FloatRange(min=0.1),
            default=None,
            metavar="SECONDS",
            help="Seconds to connect to the database (default: [tool.conformance] "
            "connect_timeout, else 5).",
        ),
        click.option(
            "--statement-timeout",
            type=click.FloatRange(min=0.1),
            default=None,
            metavar="SECONDS",
            help="Seconds each statement may run (default: [tool.conformance] "
            "statement_timeout, else 10); the client gives up 5 s after it.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _scan_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_root": kw.pop("source_root"),
        "ingest": tuple(kw.pop("ingest")) or None,
        "entrypoint": kw.pop("entrypoint"),
        "use_cache": not kw.pop("no_cache"),
        "jobs": kw.pop("jobs"),
    }


def _print_timings(phases: dict[str, float]) -> None:
    order = ["discover", "hash", "parse", "extract", "resolve", "registry", "compare", "report"]
    shown = [(k, phases[k]) for k in order if k in phases]
    shown += [(k, t) for k, t in phases.items() if k not in order]
    click.echo("timings: " + ", ".join(f"{k} {t * 1000:.0f} ms" for k, t in shown), err=True)


def _emit(text: str, output: str | None) -> None:
    if output:
        from conformance.fileio import write_atomic

        write_atomic(Path(output), text)
    else:
        click.echo(text, nl=not text.endswith("\n"))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="conformance")
@click.option("--debug", is_flag=True, help="Re-raise internal errors with a traceback.")
def cli(debug: bool) -> None:
    """Makes workflow registration mandatory for Modal ingest functions.

    Finds every ingest function and the tables it writes (statically: nothing is imported or
    run), checks them against the workflow registry, and generates the SQL that brings the
    database registry in line. Exit codes: 0 clean, 1 findings, 2 tool or usage error.
    """
    _DEBUG["on"] = debug


@cli.command()
@_analysis_options
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here.")
def scan(fmt: str, output: str | None, timings: bool, **kw: Any) -> int:
    """List every ingest function in PROJECT and the tables it writes."""
    from conformance import api, report

    config, analysis = api.scan(kw.pop("project"), **_scan_kwargs(kw))
    start = time.perf_counter()
    _emit(report.render_scan(fmt, analysis), output)
    if timings:
        _print_timings({**analysis.timings, "report": time.perf_counter() - start})
    return EXIT_CLEAN


@cli.command()
@_analysis_options
@click.option(
    "--registry",
    "registry_source",
    metavar="PATH|DSN|env",
    help="Registry file or postgresql:// DSN (default: [tool.conformance] registry, "
    "else workflow_registry.yaml); `env` reads the DSN from $CONFORMANCE_DSN.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Never connect to a database: the registry must be a file (the commit hook's mode).",
)
@_timeout_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github", "junit"]),
    default="text",
    show_default=True,
)
@click.option(
    "--severity",
    multiple=True,
    metavar="CODE=LEVEL",
    help="Override a rule's severity (error, warning, off); repeatable, wins over settings.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here.")
def check(
    registry_source: str | None,
    offline: bool,
    fmt: str,
    output: str | None,
    timings: bool,
    **kw: Any,
) -> int:
    """Check every ingest function in PROJECT against the workflow registry.

    Exit code 0: no finding at error severity; 1: at least one; 2: tool or usage error (one
    line on stderr). `conformance explain CODE` documents each finding code.
    """
    from conformance import api, report
    from conformance.rules import evaluate

    severity = _parse_severity(kw.pop("severity"))
    timeouts = _timeouts(kw)
    scan_kwargs = _scan_kwargs(kw)
    config, analysis = api.scan(kw.pop("project"), severity=severity, **timeouts, **scan_kwargs)
    phases = dict(analysis.timings)
    start = time.perf_counter()
    source = api.registry_source(config, registry_source, offline=offline)
    registry = api.load_registry(config, source, scan_kwargs["use_cache"])
    phases["registry"] = time.perf_counter() - start
    start = time.perf_counter()
    findings = evaluate(analysis, registry, config)
    phases["compare"] = time.perf_counter() - start
    start = time.perf_counter()
    prefix = _prefix(config)
    registry_file = None if source.is_dsn else _rel_registry(config, source.value)
    text = report.render_check(
        fmt, analysis, findings, path_prefix=prefix, registry_file=registry_file
    )
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(report.render_github_summary(analysis, findings, path_prefix=prefix))
    _emit(text, output)
    phases["report"] = time.perf_counter() - start
    if timings:
        _print_timings(phases)
    return EXIT_FINDINGS if any(f.severity == "error" for f in findings) else EXIT_CLEAN


def _timeouts(kw: dict[str, Any]) -> dict[str, Any]:
    """Pops the timeout options that were given, as settings overrides."""
    return {
        key: value
        for key in ("connect_timeout", "statement_timeout")
        if (value := kw.pop(key, None)) is not None
    }


def _dsn_option(required: bool) -> Callable[..., Any]:
    return click.option(
        "--dsn",
        envvar="CONFORMANCE_DSN",
        required=required,
        metavar="DSN",
        help="postgresql:// DSN of the registry database (or $CONFORMANCE_DSN, "
        "which keeps the password off the command line).",
    )


def _database(dsn: str) -> str:
    """Returns the DSN given with --dsn (or $CONFORMANCE_DSN) as libpq takes it; raises
    ConformanceError, never repeating it, when it is not a PostgreSQL connection string."""
    from conformance.sources import parse_source

    source = parse_source(dsn, "command line")
    if not source.is_dsn:
        raise ConformanceError(
            "--dsn takes a postgresql:// URL or libpq key=value connection string "
            "(not shown: it may hold a password)"
        )
    return source.value


def _db(config: Any) -> Any:
    from conformance.registry.postgres import Timeouts

    return Timeouts(config.connect_timeout, config.statement_timeout)


def _deactivation_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--allow-mass-deactivation",
        is_flag=True,
        help="Deactivate more than a tenth of the active rows (an empty or truncated registry "
        "file would otherwise retire every workflow).",
    )(func)


def _registry_file_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--registry",
        "registry_file",
        type=click.Path(dir_okay=False),
        help="Registry file (default: [tool.conformance] registry, else workflow_registry.yaml).",
    )(func)


def _registry_path(config: Any, registry_file: str | None, *, writing: bool = False) -> Path:
    """Returns the registry file: ``--registry`` (relative to the current directory), else the
    configured one (relative to the project), which must stay inside the project."""
    from conformance.config import DEFAULT_REGISTRY_FILE
    from conformance.sources import check_project_path, parse_source

    if registry_file is not None:
        source = parse_source(registry_file, "command line")
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


@cli.command(context_settings={"ignore_unknown_options": False})
@click.argument("args", nargs=-1, metavar="[PROJECT] [FUNCTION]...")
@click.option("--all", "register_all", is_flag=True, help="Register every unregistered function.")
@_registry_file_option
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
def register(
    args: tuple[str, ...], register_all: bool, registry_file: str | None, no_cache: bool
) -> int:
    """Add registry entries for unregistered ingest functions.

    Fills in what the code tells (function, slug, writes, layer tables, coalesces_to_core) and
    names the columns left for you. Existing entries, order and comments are kept; the file is
    written atomically. FUNCTION is a function name, its Modal name, or FILE::NAME.
    """
    from conformance import api
    from conformance.registry.draft import draft_entry
    from conformance.registry.file import append_entries, load_registry_file

    project = "."
    names = list(args)
    if names and Path(names[0]).is_dir():
        project = names.pop(0)
    if not names and not register_all:
        raise click.UsageError("name the functions to register, or pass --all")
    config, analysis = api.scan(project, use_cache=not no_cache)
    path = _registry_path(config, registry_file, writing=True)
    existing = load_registry_file(path, config.entity_types) if path.exists() else None
    named = {e.modal_function_name for e in existing.entries} if existing else set()
    taken = {e.workflow_slug for e in existing.entries} if existing else set()
    by_key: dict[str, Any] = {}
    for fn in analysis.functions:
        for key in (fn.name, fn.modal_name, fn.test_id):
            by_key.setdefault(key, fn)
    targets = list(analysis.functions) if register_all else []
    for name in names:
        if name not in by_key:
            raise ConformanceError(f"no ingest function named {name!r} (see `conformance scan`)")
        targets.append(by_key[name])
    drafts = []
    for fn in dict.fromkeys(targets):
        if fn.modal_name in named or fn.name in named:
            if not register_all:
                click.echo(f"{fn.name}: already registered", err=True)
            continue
        draft = draft_entry(fn)
        slug, n = draft.entry.workflow_slug, 2
        while slug in taken:
            slug, n = f"{draft.entry.workflow_slug}-{n}", n + 1
        draft = draft_entry(fn, slug)
        taken.add(slug)
        drafts.append((fn, draft))
    if not drafts:
        click.echo("nothing to register")
        return EXIT_CLEAN
    append_entries(path, [d.entry for _, d in drafts], config.entity_types)
    rel = _display_path(config, path)
    for fn, draft in drafts:
        click.echo(
            f"registered {fn.name} ({fn.file}:{fn.line}) as {draft.entry.workflow_slug} in {rel}"
        )
        for todo in draft.todo:
            click.echo(f"  fill {todo}")
    return EXIT_CLEAN


@cli.command("emit-sql")
@click.argument("project", default=".", type=click.Path(file_okay=False))
@_registry_file_option
@_dsn_option(required=False)
@click.option(
    "--from-code",
    is_flag=True,
    help="Rows straight from the analysis (first bootstrap of an empty table).",
)
@_deactivation_option
@_timeout_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the SQL here.")
def emit_sql(
    project: str,
    registry_file: str | None,
    dsn: str | None,
    from_code: bool,
    allow_mass_deactivation: bool,
    output: str | None,
    **kw: Any,
) -> int:
    """Print the SQL that brings the database registry in line with the registry file.

    DDL (create or upgrade the table), then one idempotent upsert per entry, in one
    transaction. With --dsn, rows the database has but the file does not are deactivated
    (never deleted).
    """
    from conformance import api, sqlgen
    from conformance.config import load_config

    config = load_config(project, **_timeouts(kw))
    if from_code:
        from conformance.registry.draft import draft_entry

        _, analysis = api.scan(project)
        entries = _unique_slugs([draft_entry(fn).entry for fn in analysis.functions])
    else:
        from conformance.registry.file import load_registry_file

        registry = load_registry_file(_registry_path(config, registry_file), config.entity_types)
        _refuse_problems(registry)
        entries = list(registry.entries)
    deactivate: list[str] = []
    if dsn:
        from conformance.model import Registry
        from conformance.registry.plan import plan, refuse_mass_deactivation
        from conformance.registry.postgres import load_registry_db

        current = load_registry_db(
            _database(dsn), config.table, entity_types=config.entity_types, timeouts=_db(config)
        )
        planned = plan(current, Registry(tuple(entries)))
        refuse_mass_deactivation(current, planned, allow_mass_deactivation)
        deactivate = [e.workflow_slug for e in planned.deactivations]
    _emit(sqlgen.script(entries, deactivate, config.table), output)
    return EXIT_CLEAN


@cli.command()
@click.argument("project", default=".", type=click.Path(file_okay=False))
@_registry_file_option
@_dsn_option(required=True)
@click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
@_deactivation_option
@_timeout_options
def apply(
    project: str,
    registry_file: str | None,
    dsn: str,
    dry_run: bool,
    allow_mass_deactivation: bool,
    **kw: Any,
) -> int:
    """Bring the database registry in line with the registry file, in one transaction.

    Prints the plan (rows to insert, update, deactivate), then runs it under an advisory lock.
    Rows are never deleted: rows missing from the file are deactivated.
    """
    from conformance.config import load_config
    from conformance.registry.file import load_registry_file
    from conformance.registry.postgres import apply as apply_registry

    config = load_config(project, **_timeouts(kw))
    registry = load_registry_file(_registry_path(config, registry_file), config.entity_types)
    _refuse_problems(registry)
    database = _database(dsn)
    planned = apply_registry(
        database,
        registry,
        config.table,
        dry_run=True,
        entity_types=config.entity_types,
        timeouts=_db(config),
        allow_mass_deactivation=allow_mass_deactivation,
    )
    click.echo(_plan_text(planned))
    if dry_run or not planned.has_changes:
        return EXIT_CLEAN
    done = apply_registry(
        database,
        registry,
        config.table,
        entity_types=config.entity_types,
        timeouts=_db(config),
        allow_mass_deactivation=allow_mass_deactivation,
    )
    click.echo(
        f"applied: {len(done.inserts)} inserted, {len(done.updates)} updated, "
        f"{len(done.deactivations)} deactivated"
    )
    return EXIT_CLEAN


@cli.command()
@click.argument("project", default=".", type=click.Path(file_okay=False))
@_registry_file_option
@_dsn_option(required=True)
@_timeout_options
def snapshot(project: str, registry_file: str | None, dsn: str, **kw: Any) -> int:
    """Write the database registry to the registry file (atomically)."""
    from conformance.config import load_config
    from conformance.registry.postgres import snapshot as take_snapshot

    config = load_config(project, **_timeouts(kw))
    path = _registry_path(config, registry_file, writing=True)
    registry = take_snapshot(
        _database(dsn),
        path,
        config.table,
        entity_types=config.entity_types,
        timeouts=_db(config),
    )
    click.echo(f"wrote {len(registry.entries)} entries to {_display_path(config, path)}")
    return EXIT_CLEAN


@cli.command()
@click.argument("project", default=".", type=click.Path(file_okay=False))
@_registry_file_option
@_dsn_option(required=True)
@_timeout_options
def diff(project: str, registry_file: str | None, dsn: str, **kw: Any) -> int:
    """Show registry differences between the file and the database, row by row.

    Exit code 1 when they differ.
    """
    from conformance.config import load_config
    from conformance.registry.file import load_registry_file
    from conformance.registry.plan import plan
    from conformance.registry.postgres import load_registry_db

    config = load_config(project, **_timeouts(kw))
    file_registry = load_registry_file(_registry_path(config, registry_file), config.entity_types)
    db = load_registry_db(
        _database(dsn), config.table, entity_types=config.entity_types, timeouts=_db(config)
    )
    planned = plan(db, file_registry)
    click.echo(_plan_text(planned, for_diff=True))
    return EXIT_FINDINGS if planned.has_changes else EXIT_CLEAN


def _plan_text(planned: Any, for_diff: bool = False) -> str:
    lines = []
    for entry in planned.inserts:
        lines.append(
            f"+ {entry.workflow_slug}: in the file, not in the database"
            + ("" if for_diff else " (insert)")
        )
    for change in planned.updates:
        lines.append(f"~ {change.slug}: {', '.join(change.columns)} differ")
        for column in change.columns:
            before, after = getattr(change.before, column), getattr(change.after, column)
            lines.append(f"    {column}: database {before!r} -> file {after!r}")
    for entry in planned.deactivations:
        lines.append(
            f"- {entry.workflow_slug}: active in the database, not in the file"
            + ("" if for_diff else " (deactivate; never deleted)")
        )
    if not lines:
        return "no differences" if for_diff else "nothing to do: the database matches the file"
    counts = (
        f"{len(planned.inserts)} to insert, {len(planned.updates)} to update, "
        f"{len(planned.deactivations)} to deactivate, {len(planned.unchanged)} unchanged"
    )
    return "\n".join([*lines, counts])


def _refuse_problems(registry: Any) -> None:
    if registry.problems:
        first = registry.problems[0]
        where = f"{registry.source}:{first.line}" if first.line else registry.source
        raise ConformanceError(
            f"the registry file has {len(registry.problems)} problem(s); nothing was emitted. "
            f"First: {first.message} (see `conformance check`)",
            where,
        )


def _unique_slugs(entries: list[Any]) -> list[Any]:
    from dataclasses import replace

    seen: set[str] = set()
    out = []
    for entry in entries:
        slug, n = entry.workflow_slug, 2
        while slug in seen:
            slug, n = f"{entry.workflow_slug}-{n}", n + 1
        seen.add(slug)
        out.append(replace(entry, workflow_slug=slug))
    return out


def _display_path(config: Any, path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


@cli.command()
@click.argument("code")
def explain(code: str) -> int:
    """Explain a finding code (what it checks, why, an example, the fix)."""
    from conformance.rules.docs import explain as explain_code

    click.echo(explain_code(code))
    return EXIT_CLEAN


def _prefix(config: Any) -> str:
    try:
        rel = config.source_root.relative_to(config.project_dir)
    except ValueError:
        return ""
    return "" if str(rel) == "." else rel.as_posix() + "/"


def _rel_registry(config: Any, source: str | None) -> str | None:
    path = Path(source or config.registry_source)
    if not path.is_absolute():
        path = config.project_dir / path
    try:
        return path.resolve().relative_to(config.project_dir).as_posix()
    except ValueError:
        return str(path)


def _parse_severity(values: tuple[str, ...]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for value in values:
        code, sep, level = value.partition("=")
        if not sep or level not in ("error", "warning", "off"):
            raise click.UsageError(f"--severity takes CODE=error|warning|off, not {value!r}")
        out[code.strip().upper()] = level
    return out or None


def main(argv: list[str] | None = None) -> None:
    """Runs the CLI and exits with the code decided here: 0 clean, 1 findings, 2 a tool or
    usage error, which is one line on stderr (with --debug, also its traceback; the exit code
    stays 2). Nothing printed on the way out holds a password."""
    # A run is short and its records are acyclic; at the default thresholds the cyclic
    # collector walks every parsed summary again and again after the parse. The parse itself
    # does the same for the same reason (analysis.summaries._rare_collections).
    gc.set_threshold(50_000, 20, 20)
    try:
        code = cli.main(args=argv, prog_name="conformance", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.Abort:
        click.echo("conformance: aborted", err=True)
        code = EXIT_ERROR
    except click.ClickException as exc:
        # click repeats the offending value, which may be a connection string
        shown = io.StringIO()
        exc.show(file=shown)
        sys.stderr.write(redact_text(shown.getvalue()))
        code = EXIT_ERROR
    except ConformanceError as exc:
        _traceback()
        click.echo(f"conformance: error: {redact_text(str(exc))}", err=True)
        code = EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("conformance: interrupted", err=True)
        code = EXIT_ERROR
    except Exception as exc:  # a bug: still one line, and --debug shows the traceback
        _traceback()
        first = (str(exc).splitlines() or [""])[0]
        hint = "" if _DEBUG["on"] else " (rerun with --debug for a traceback)"
        click.echo(
            f"conformance: internal error: {type(exc).__name__}: {redact_text(first)}{hint}",
            err=True,
        )
        code = EXIT_ERROR
    sys.exit(code if isinstance(code, int) else EXIT_CLEAN)


def _traceback() -> None:
    """With --debug, prints the exception being handled, passwords masked."""
    if _DEBUG["on"]:
        import traceback

        sys.stderr.write(redact_text(traceback.format_exc()))


def run() -> NoReturn:
    """The ``conformance`` executable: :func:`main`, then an exit that skips tearing the
    interpreter down (as mypy does). Freeing every parsed record one by one at exit was a fifth
    of a run that re-analyses one changed file; the output is flushed and every file written
    (atomically) by then. Only for a process of its own: tests call :func:`main`. Notices of
    the analysis (e.g. a cache it did not use, and why) go to stderr, each once."""
    from conformance import api

    shown: set[str] = set()

    def notice(text: str) -> None:
        if text not in shown:
            shown.add(text)
            click.echo(f"conformance: {text}", err=True)

    api.on_notice(notice)
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_CLEAN if exc.code is None else 1
    else:  # pragma: no cover - main() always exits
        code = EXIT_CLEAN
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``| head``): nothing more to say
            code = code or EXIT_ERROR
    os._exit(code)
