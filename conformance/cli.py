"""``conformance`` command line: click options → :mod:`conformance.api` → a renderer → exit.

Exit codes are decided in :func:`main` only, from the result's ``exit_code``: 0 clean, 1
findings at error severity (or, for ``diff``, differences), 2 tool or usage error. Errors are
one line on stderr, never a traceback (``--debug`` adds it, passwords masked; the code stays 2).
"""

from __future__ import annotations

import gc
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click

from conformance import __version__, terminal
from conformance.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, ConformanceError
from conformance.sources import redact_text

if TYPE_CHECKING:  # the API loads on first use, not at start-up
    from conformance import api
    from conformance.api import Options
    from conformance.config import Config

_DEBUG = {"on": False}
# Under the pre-commit framework (which sets PRE_COMMIT=1 for its hooks) the developer may have
# no `conformance` command: the fix a finding offers is the manifest's second hook.
PRE_COMMIT_FIX = "pre-commit run conformance-fix --hook-stage manual --all-files"
_F = TypeVar("_F", bound=Callable[..., int])


def _options(*decorators: Callable[[_F], _F]) -> Callable[[_F], _F]:
    def apply(func: _F) -> _F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


# No PROJECT: the nearest directory from the working directory up whose pyproject.toml has
# [tool.conformance] (api.find_project), as ruff and mypy find their settings.
_project = click.argument("project", required=False, type=click.Path(file_okay=False))
_analysis = _options(
    _project,
    click.option("--source-root", help="Directory Modal puts on sys.path (relative to PROJECT)."),
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
)
_timeouts = _options(
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
)
_registry_file = click.option(
    "--registry",
    "registry_file",
    type=click.Path(dir_okay=False),
    help="Registry file (default: [tool.conformance] registry, else workflow_registry.yaml).",
)
_mass_deactivation = click.option(
    "--allow-mass-deactivation",
    is_flag=True,
    help="Deactivate more than a tenth of the active rows (an empty or truncated registry "
    "file would otherwise retire every workflow).",
)


_color = click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour the text report: auto = on a terminal unless $NO_COLOR is set.",
)


def _dsn(required: bool) -> Callable[[_F], _F]:
    return click.option(
        "--dsn",
        envvar="CONFORMANCE_DSN",
        required=required,
        metavar="DSN",
        help="postgresql:// DSN of the registry database (or $CONFORMANCE_DSN, "
        "which keeps the password off the command line).",
    )


def _output(what: str) -> Callable[[_F], _F]:
    return click.option("-o", "--output", type=click.Path(dir_okay=False), help=f"Write {what}.")


def _run_options(
    source_root: str | None = None,
    ingest: tuple[str, ...] = (),
    entrypoint: str | None = None,
    no_cache: bool = False,
    jobs: int | None = None,
    severity: tuple[str, ...] = (),
    connect_timeout: float | None = None,
    statement_timeout: float | None = None,
    register_hint: str | None = None,
) -> Options:
    from conformance.api import Options

    return Options(
        source_root=source_root,
        ingest=ingest,
        entrypoint=entrypoint,
        severity=_parse_severity(severity),
        connect_timeout=connect_timeout,
        statement_timeout=statement_timeout,
        use_cache=not no_cache,
        jobs=jobs,
        register_hint=register_hint,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="conformance")
@click.option("--debug", is_flag=True, help="Show the traceback of an error (exit code stays 2).")
def cli(debug: bool) -> None:
    """Makes workflow registration mandatory for Modal ingest functions.

    Finds every ingest function and the tables it writes (statically: nothing is imported or
    run), checks them against the workflow registry, and plans and applies what brings the
    database registry in line. Without PROJECT, commands use the nearest directory from here
    up whose pyproject.toml has [tool.conformance]. Exit codes: 0 clean, 1 findings (diff:
    differences; apply --dry-run: changes to make), 2 tool or usage error.
    """
    _DEBUG["on"] = debug


@cli.command()
@_analysis
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "mermaid", "dot"]),
    default="text",
    show_default=True,
    help="mermaid, dot: the lineage graph function -> raw -> extracted -> core.",
)
@click.option(
    "--by-table",
    is_flag=True,
    help="Who writes each table: the functions, operation and line (text or json).",
)
@click.option(
    "--function",
    "functions",
    multiple=True,
    metavar="NAME",
    help="Only this function (name, Modal name or FILE::NAME; repeatable): one workflow's "
    "lineage. Default: the whole warehouse.",
)
@_output("the report here")
def scan(
    project: str | None,
    source_root: str | None,
    ingest: tuple[str, ...],
    entrypoint: str | None,
    no_cache: bool,
    jobs: int | None,
    timings: bool,
    fmt: str,
    by_table: bool,
    functions: tuple[str, ...],
    output: str | None,
) -> int:
    """List every ingest function in PROJECT and the tables it writes.

    PROJECT defaults to the nearest directory, from here up, whose pyproject.toml has
    [tool.conformance]. Paths are relative to the working directory. --by-table turns the
    list around (table -> writers); --format mermaid or dot draws the lineage.
    """
    from conformance import api, report
    from conformance.report import lineage

    if by_table and fmt not in ("text", "json"):
        raise click.UsageError("--by-table is a text or json report")
    if functions and fmt in ("text", "json") and not by_table:
        raise click.UsageError("--function narrows --by-table and the mermaid and dot graphs")
    options = _run_options(source_root, ingest, entrypoint, no_cache, jobs)
    with terminal.progress():
        result = api.scan(project, options)
    _notices(result.notices)
    start = time.perf_counter()
    prefix = _prefix(result.config, Path.cwd())
    try:
        chosen = lineage.select_functions(result.analysis, functions)
    except ValueError as exc:
        raise ConformanceError(str(exc)) from None
    if by_table and fmt == "json":
        text = lineage.render_by_table_json(chosen, path_prefix=prefix)
    elif by_table:
        text = lineage.render_by_table_text(chosen, path_prefix=prefix)
    elif fmt == "mermaid":
        text = lineage.render_mermaid(chosen)
    elif fmt == "dot":
        text = lineage.render_dot(chosen)
    else:
        text = report.render_scan(fmt, result.analysis, path_prefix=prefix)
    _emit(text, output)
    if timings:
        _print_timings({**result.timings, "report": time.perf_counter() - start})
    return result.exit_code


@cli.command()
@_analysis
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
@click.option(
    "--staged",
    is_flag=True,
    help="Check the files staged in git (what the next commit holds), not the working tree: "
    "untracked and unstaged changes are not seen (the commit hooks' mode). With --fix, the "
    "staged code is what the working tree's registry file is brought in line with.",
)
@_timeouts
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
@click.option(
    "--fix",
    is_flag=True,
    help="Rewrite the registry file so that every finding the code alone settles is settled "
    "(links, new entries, layer tables, writes, coalesces_to_core; marked suggestions for "
    "empty human columns), then check what remains.",
)
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Print the unified diff --fix would make and write nothing (exit 1 if it would "
    "change something).",
)
@click.option(
    "--statistics",
    is_flag=True,
    help="Show one line per code with its count instead of each finding (text format).",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Only the findings' headlines: no evidence, no summary line, no notices, no progress.",
)
@click.option(
    "--exit-zero",
    is_flag=True,
    help="Exit 0 even when a finding has error severity (a tool error still exits 2).",
)
@_color
@_output("the report here")
def check(
    project: str | None,
    source_root: str | None,
    ingest: tuple[str, ...],
    entrypoint: str | None,
    no_cache: bool,
    jobs: int | None,
    timings: bool,
    registry_source: str | None,
    offline: bool,
    staged: bool,
    connect_timeout: float | None,
    statement_timeout: float | None,
    fmt: str,
    severity: tuple[str, ...],
    fix: bool,
    show_diff: bool,
    statistics: bool,
    quiet: bool,
    exit_zero: bool,
    color: str,
    output: str | None,
) -> int:
    """Check every ingest function in PROJECT against the workflow registry.

    PROJECT defaults to the nearest directory, from here up, whose pyproject.toml has
    [tool.conformance]. Findings read `path:line:col: severity CODE [name] message`, paths
    relative to the working directory (github and sarif: to the repository root).

    Exit code 0: no finding at error severity; 1: at least one; 2: tool or usage error (one
    line on stderr). `conformance explain CODE` documents each finding code. With --fix, the
    registry file is brought in line with the code first (what changed goes to stderr) and
    the exit code is that of what remains.
    """
    from conformance import api, report

    if statistics and fmt != "text":
        raise click.UsageError("--statistics is a text report: leave out --format or use text")
    options = _run_options(
        source_root,
        ingest,
        entrypoint,
        no_cache,
        jobs,
        severity,
        connect_timeout,
        statement_timeout,
        register_hint=PRE_COMMIT_FIX if os.environ.get("PRE_COMMIT") == "1" else None,
    )
    if staged:
        _staged_cache(project)
    if fix or show_diff:
        from conformance.report.registry import display_path, render_fix

        fixed = api.fix(
            project, options, registry_file=registry_source, write=not show_diff, staged=staged
        )
        fix_prefix = _prefix(fixed.config, Path.cwd())
        if show_diff:
            click.echo(fixed.diff(display_path(fixed.path)), nl=False)
            return fixed.exit_code
        if not quiet:
            click.echo(
                render_fix(fixed.plan, display_path(fixed.path), path_prefix=fix_prefix), err=True
            )
        assert fixed.checked is not None
        result = fixed.checked
    else:
        with terminal.progress(enabled=not quiet):
            result = api.check(
                project, options, registry=registry_source, offline=offline, staged=staged
            )
    if not quiet:
        _notices(result.notices)
    start = time.perf_counter()
    config = result.config
    repository = api.repository_root(config.project_dir) if fmt in ("github", "sarif") else None
    base = repository or Path.cwd()
    prefix = _prefix(config, base)
    registry_file = _registry_place(result, base)
    painted = terminal.use_color(color, output)
    if statistics:
        text = report.render_statistics(
            result.analysis, result.findings, color=painted, quiet=quiet
        )
    else:
        columns = api.columns(config, result.findings)
        text = report.render_check(
            fmt,
            result.analysis,
            result.findings,
            path_prefix=prefix,
            registry_file=registry_file,
            columns=columns,
            color=painted,
            quiet=quiet,
            automation_id=_automation_id(result, repository),
            base_uri=base.as_uri().rstrip("/") + "/",
        )
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(
                report.render_github_summary(
                    result.analysis,
                    result.findings,
                    path_prefix=prefix,
                    registry_file=registry_file,
                )
            )
    _emit(text, output, color=painted)
    if timings:
        _print_timings({**result.timings, "report": time.perf_counter() - start})
    return EXIT_CLEAN if exit_zero else result.exit_code


@cli.command()
@click.argument("args", nargs=-1, metavar="[PROJECT] [FUNCTION]...")
@click.option("--all", "register_all", is_flag=True, help="Register every unregistered function.")
@_registry_file
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
    from conformance.report.registry import display_path, render_registered

    project = None
    names = list(args)
    if names and Path(names[0]).is_dir():
        project = names.pop(0)
    if not names and not register_all:
        raise click.UsageError("name the functions to register, or pass --all")
    result = api.register(
        project,
        names,
        every=register_all,
        registry_file=registry_file,
        options=_run_options(no_cache=no_cache),
    )
    for fn in result.already:
        click.echo(f"{fn.name}: already registered", err=True)
    prefix = _prefix(result.config, Path.cwd())
    click.echo(render_registered(result.plan, display_path(result.path), path_prefix=prefix))
    return result.exit_code


@cli.command("emit-sql")
@_project
@_registry_file
@_dsn(required=False)
@click.option(
    "--from-code",
    is_flag=True,
    help="Write only what the code settles (function, layer tables, writes, coalesces_to_core) "
    "of entries drafted from the analysis: a row's other columns are never touched.",
)
@_mass_deactivation
@_timeouts
@_output("the SQL here")
def emit_sql(
    project: str | None,
    registry_file: str | None,
    dsn: str | None,
    from_code: bool,
    allow_mass_deactivation: bool,
    connect_timeout: float | None,
    statement_timeout: float | None,
    output: str | None,
) -> int:
    """Print the SQL that brings the database registry in line with the registry file.

    DDL (create or upgrade the table), then one idempotent upsert per entry, with the extra
    columns each carries, in one transaction. With --dsn, only the rows that differ, and rows
    the database has but the file does not are deactivated (never deleted); a row the live
    table's NOT NULL or CHECK constraints would refuse stops it before any SQL is printed
    (exit 2, naming every entry and column). Run it with `psql -v ON_ERROR_STOP=1 -f FILE`.
    """
    from conformance import api

    result = api.emit_sql(
        project,
        registry_file=registry_file,
        dsn=dsn,
        from_code=from_code,
        allow_mass_deactivation=allow_mass_deactivation,
        options=_run_options(connect_timeout=connect_timeout, statement_timeout=statement_timeout),
    )
    _emit(result.text, output)
    return result.exit_code


_force = click.option(
    "--force",
    is_flag=True,
    help="Apply a registry file with invalid, duplicate or incomplete entries: invalid ones "
    "are left out (their rows kept as they are), incomplete ones applied as they are.",
)


@cli.command("plan")
@_project
@_registry_file
@_dsn(required=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Also write the plan to this file (JSON, data only) for `conformance apply FILE`.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="markdown: for a job summary or a pull-request comment; json: the plan file.",
)
@_force
@_mass_deactivation
@_timeouts
@_output("the plan here")
def plan_command(
    project: str | None,
    registry_file: str | None,
    dsn: str,
    out: str | None,
    fmt: str,
    force: bool,
    allow_mass_deactivation: bool,
    connect_timeout: float | None,
    statement_timeout: float | None,
    output: str | None,
) -> int:
    """Show what applying the registry file would change in the database (DDL and rows).

    Reads the database, never writes it. With --out FILE the plan is saved with a fingerprint
    of the database it was made against: `conformance apply FILE` applies exactly it, and
    refuses if the database changed since. Refuses a registry file with invalid, duplicate or
    incomplete entries unless --force (exit 2).
    """
    from conformance import api
    from conformance.report.registry import display_path, render_plan, render_plan_markdown

    result = api.plan(
        project,
        dsn=dsn,
        registry_file=registry_file,
        force=force,
        allow_mass_deactivation=allow_mass_deactivation,
        options=_run_options(connect_timeout=connect_timeout, statement_timeout=statement_timeout),
    )
    shown = display_path(result.registry_file) if result.registry_file else None
    if out:
        from conformance.fileio import write_atomic

        write_atomic(Path(out), _plan_file(result, shown))
    if fmt == "markdown":
        text = render_plan_markdown(result.plan, result.config.table, shown)
    elif fmt == "json":
        text = _plan_file(result, shown)
    else:
        text = render_plan(result.plan) + "\n"
        if out:
            text += f"plan written to {display_path(Path(out))}: `conformance apply {out}`\n"
    _emit(text, output)
    return EXIT_CLEAN


def _plan_file(result: api.PlanResult, registry_file: str | None) -> str:
    from conformance.registry.planfile import plan_json

    return plan_json(result.plan, result.config.table, registry_file)


@cli.command()
@click.argument("target", required=False, type=click.Path(), metavar="[PROJECT|PLAN_FILE]")
@_registry_file
@_dsn(required=True)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan and stop: exit 1 when it would change something, 0 when not.",
)
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    help="Apply without asking (CI). Without it, a terminal asks; anything else refuses.",
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    help="A plan file from `conformance plan --out` to apply (as PLAN_FILE, with a PROJECT).",
)
@_force
@_mass_deactivation
@_timeouts
def apply(
    target: str | None,
    plan_file: str | None,
    registry_file: str | None,
    dsn: str,
    dry_run: bool,
    yes: bool,
    force: bool,
    allow_mass_deactivation: bool,
    connect_timeout: float | None,
    statement_timeout: float | None,
) -> int:
    """Bring the database registry in line with the registry file, in one transaction.

    Prints the plan (DDL, rows to insert, update, deactivate), asks for confirmation on a
    terminal (--yes in CI), then runs exactly that plan under an advisory lock, refusing if
    the database changed meanwhile. Rows are never deleted: rows missing from the file are
    deactivated. Given a PLAN_FILE (from `conformance plan --out`), applies that reviewed plan
    without asking, or nothing if the database moved since. Refuses a registry file with
    invalid, duplicate or incomplete entries unless --force.
    """
    from conformance import api
    from conformance.report.registry import render_applied, render_plan

    options = _run_options(connect_timeout=connect_timeout, statement_timeout=statement_timeout)
    if plan_file is None and target is not None and Path(target).is_file():
        target, plan_file = None, target
    if plan_file is not None:
        if registry_file or force:
            raise click.UsageError("a PLAN_FILE is applied as reviewed: no --registry or --force")
        reviewed = api.read_plan(target, plan_file)
        click.echo(render_plan(reviewed))
        if dry_run:
            return EXIT_FINDINGS if reviewed.has_changes else EXIT_CLEAN
        done = api.apply(
            target,
            dsn=dsn,
            reviewed=reviewed,
            allow_mass_deactivation=allow_mass_deactivation,
            options=options,
        )
        click.echo(render_applied(done.plan))
        return done.exit_code
    planned = api.plan(
        target,
        dsn=dsn,
        registry_file=registry_file,
        force=force,
        allow_mass_deactivation=allow_mass_deactivation,
        options=options,
    )
    click.echo(render_plan(planned.plan))
    if dry_run or not planned.plan.has_changes:
        return planned.exit_code if dry_run else EXIT_CLEAN
    if not yes:
        if not terminal.is_terminal(sys.stdin):
            raise ConformanceError(
                "apply changes the database and asks first, but there is no terminal to ask "
                "on: pass --yes (CI), or review with `conformance plan --out FILE` and apply "
                "that file; nothing was changed"
            )
        if not click.confirm("Apply these changes to the database?", default=False, err=True):
            click.echo("not applied: nothing was changed", err=True)
            return 1
    done = api.apply(
        target,
        dsn=dsn,
        reviewed=planned.plan,
        allow_mass_deactivation=allow_mass_deactivation,
        options=options,
    )
    click.echo(render_applied(done.plan))
    return done.exit_code


@cli.command()
@_project
@_registry_file
@_dsn(required=True)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing file even if that drops entries the database lacks or comments.",
)
@_timeouts
def snapshot(
    project: str | None,
    registry_file: str | None,
    dsn: str,
    force: bool,
    connect_timeout: float | None,
    statement_timeout: float | None,
) -> int:
    """Write the database registry, with every column the table holds, to the registry file
    (atomically).

    Columns the tool does not know (workflow_type, usage_category, ...) are carried as they
    are; the timestamps and columns the database fills itself (an identity id) are not. Into
    an existing file, refuses to drop entries only the file has, or its comments, and names
    them; --force replaces the file.
    """
    from conformance import api
    from conformance.report.registry import display_path

    result = api.snapshot(
        project,
        dsn=dsn,
        registry_file=registry_file,
        force=force,
        options=_run_options(connect_timeout=connect_timeout, statement_timeout=statement_timeout),
    )
    click.echo(f"wrote {len(result.registry.entries)} entries to {display_path(result.path)}")
    return result.exit_code


@cli.command()
@_project
@_registry_file
@_dsn(required=True)
@_timeouts
def diff(
    project: str | None,
    registry_file: str | None,
    dsn: str,
    connect_timeout: float | None,
    statement_timeout: float | None,
) -> int:
    """Show registry differences between the file and the database, row by row.

    Exit code 1 when they differ.
    """
    from conformance import api
    from conformance.report.registry import render_plan

    result = api.diff(
        project,
        dsn=dsn,
        registry_file=registry_file,
        options=_run_options(connect_timeout=connect_timeout, statement_timeout=statement_timeout),
    )
    click.echo(render_plan(result.plan, for_diff=True))
    return result.exit_code


@cli.command()
@click.argument("code", required=False)
@click.option("--all", "every", is_flag=True, help="Explain every code, in order.")
def explain(code: str | None, every: bool) -> int:
    """Explain a finding code (what it checks, why, an example, the fix).

    CODE is a code (CONF001) or a rule name (unregistered-function).
    """
    from conformance.rules import RULES
    from conformance.rules.docs import explain as explain_code

    if every == bool(code):
        raise click.UsageError("name one CODE, or pass --all")
    codes = [r.code for r in RULES] if every else [code or ""]
    click.echo("\n".join(explain_code(c) for c in codes), nl=False)
    return EXIT_CLEAN


# -- output ---------------------------------------------------------------------------------------


def _emit(text: str, output: str | None, color: bool = False) -> None:
    if output:
        from conformance.fileio import write_atomic

        write_atomic(Path(output), text)
    elif text:
        # color=True: click would strip the escapes we chose to write (--color always)
        click.echo(text, nl=not text.endswith("\n"), color=color or None)


def _staged_cache(project: str | None) -> None:
    """A staged check analyses a fresh copy each time: unless $CONFORMANCE_CACHE_DIR names a
    cache, this process keeps it in the git directory (as hooks/pre-commit does), where the
    next commit's check finds it."""
    if os.environ.get("CONFORMANCE_CACHE_DIR"):
        return
    from conformance import api

    where = api.staged_cache_dir(project)
    if where is not None:
        os.environ["CONFORMANCE_CACHE_DIR"] = str(where)


def _notices(notices: tuple[str, ...]) -> None:
    for notice in dict.fromkeys(notices):
        click.echo(f"conformance: {notice}", err=True)


def _print_timings(phases: dict[str, float]) -> None:
    order = ["discover", "hash", "parse", "resolve", "registry", "compare", "report"]
    shown = [(k, phases[k]) for k in order if k in phases]
    shown += [(k, t) for k, t in phases.items() if k not in order]
    click.echo("timings: " + ", ".join(f"{k} {t * 1000:.0f} ms" for k, t in shown), err=True)


def _relative(path: Path, base: Path) -> str:
    """Returns ``path`` relative to ``base`` (with ``..`` when outside it), POSIX."""
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


def _prefix(config: Config, base: Path) -> str:
    """Returns the source root relative to ``base``, as the prefix of source-root paths."""
    from conformance.report.common import path_prefix

    return path_prefix(_relative(config.source_root, base), base.resolve().parts)


def _registry_place(result: api.CheckResult, base: Path) -> str:
    """Returns where registry findings without a line point, relative to ``base``: the
    registry file read, else (a database) the project's registry file, else its settings."""
    from conformance import api

    config = result.config
    if not result.source.is_dsn:
        return _relative(Path(result.source.value), base)
    try:
        path = api.registry_file_path(config, None)
    except ConformanceError:
        path = None
    if path is None or not path.is_file():
        path = config.project_dir / "pyproject.toml"
    return _relative(path, base)


def _automation_id(result: api.CheckResult, repository: Path | None) -> str:
    """SARIF ``automationDetails.id``: ``conformance/[PROJECT/]file|database/``, so that runs
    against the file and against the database (and of several projects) stay apart."""
    kind = "database" if result.source.is_dsn else "file"
    project = _relative(result.config.project_dir, repository) if repository else "."
    inside = project not in (".", "") and not project.startswith("..")
    return "/".join(["conformance", *([project] if inside else []), kind]) + "/"


def _parse_severity(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        code, sep, level = value.partition("=")
        if not sep or level not in ("error", "warning", "off"):
            raise click.UsageError(f"--severity takes CODE=error|warning|off, not {value!r}")
        out[code.strip().upper()] = level
    return out


# -- exit -----------------------------------------------------------------------------------------


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
    interpreter down (as mypy does): freeing every parsed record one by one at exit is work
    nobody waits for. The output is flushed and every file written (atomically) by then. Only
    for a process of its own: tests call :func:`main`."""
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
