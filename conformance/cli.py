"""``conformance`` command line: thin click commands over :mod:`conformance.api`.

Exit codes are decided in :func:`main` only: 0 clean, 1 findings at error severity (or, for
``diff``, differences), 2 tool or usage error. Errors are one line on stderr, never a traceback
(``--debug`` re-raises).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from conformance import __version__
from conformance.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, ConformanceError

_DEBUG = {"on": False}


def _analysis_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("project", default=".", type=click.Path(file_okay=False)),
        click.option("--source-root", help="Directory Modal puts on sys.path (relative to PROJECT)."),
        click.option("--ingest", multiple=True, help="Ingest directory under the source root "
                     "(repeatable)."),
        click.option("--entrypoint", help="Deploy entry point, relative to the source root."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache."),
        click.option("--jobs", type=click.IntRange(min=1), default=None,
                     help="Parser processes (default: one per core; 1 = serial)."),
        click.option("--timings", is_flag=True, help="Print time per phase on stderr."),
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
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here.")
def scan(fmt: str, output: str | None, timings: bool, **kw: Any) -> int:
    """List every ingest function in PROJECT and the tables it writes."""
    from conformance import api, report

    config, analysis = api.scan(kw.pop("project"), **_scan_kwargs(kw))
    start = time.perf_counter()
    base = str(config.source_root.relative_to(config.project_dir)) \
        if config.source_root != config.project_dir else ""
    text = report.render_scan_json(analysis) if fmt == "json" else report.render_scan_text(
        analysis)
    _emit(text, output)
    if timings:
        _print_timings({**analysis.timings, "report": time.perf_counter() - start})
    del base
    return EXIT_CLEAN


@cli.command()
@_analysis_options
@click.option("--registry", "registry_source", metavar="PATH|DSN",
              help="Registry file or postgresql:// DSN (default: [tool.conformance] registry, "
                   "else workflow_registry.yaml). A DSN may come from $CONFORMANCE_DSN.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github", "junit"]),
              default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here.")
def check(registry_source: str | None, fmt: str, output: str | None, timings: bool,
          **kw: Any) -> int:
    """Check every ingest function in PROJECT against the workflow registry."""
    from conformance import api, report
    from conformance.compare import compare

    if registry_source in ("env", "$CONFORMANCE_DSN") or (
            registry_source is None and os.environ.get("CONFORMANCE_DSN")
            and os.environ.get("CONFORMANCE_CHECK_DB") == "1"):
        registry_source = _env_dsn()
    config, analysis = api.scan(kw.pop("project"), **_scan_kwargs(kw))
    phases = dict(analysis.timings)
    start = time.perf_counter()
    registry = api.load_registry(config, registry_source)
    phases["registry"] = time.perf_counter() - start
    start = time.perf_counter()
    findings = compare(analysis, registry, config)
    phases["compare"] = time.perf_counter() - start
    start = time.perf_counter()
    prefix = _prefix(config)
    registry_file = None if api.is_dsn(config.registry_source if registry_source is None
                                       else registry_source) else _rel_registry(config,
                                                                               registry_source)
    if fmt == "json":
        text = report.render_check_json(analysis, findings)
    elif fmt == "sarif":
        text = report.render_sarif(findings, path_prefix=prefix, registry_file=registry_file)
    elif fmt == "github":
        text = report.render_github(findings, path_prefix=prefix, registry_file=registry_file)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(report.render_github_summary(analysis, findings))
    elif fmt == "junit":
        text = report.render_junit(analysis, findings)
    else:
        text = report.render_check_text(analysis, findings, path_prefix=prefix)
    _emit(text, output)
    phases["report"] = time.perf_counter() - start
    if timings:
        _print_timings(phases)
    return EXIT_FINDINGS if any(f.severity == "error" for f in findings) else EXIT_CLEAN


@cli.command()
@click.argument("code")
def explain(code: str) -> int:
    """Explain a finding code (what it checks, why, an example, the fix)."""
    from conformance.codes import explain as explain_code

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


def _env_dsn() -> str:
    dsn = os.environ.get("CONFORMANCE_DSN")
    if not dsn:
        raise ConformanceError("no DSN given: pass --dsn or set CONFORMANCE_DSN")
    return dsn


def main(argv: list[str] | None = None) -> None:
    """Runs the CLI and exits with the code decided here (never a traceback without --debug)."""
    try:
        code = cli.main(args=argv, prog_name="conformance", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.Abort:
        click.echo("conformance: aborted", err=True)
        code = EXIT_ERROR
    except click.ClickException as exc:
        exc.show()
        code = EXIT_ERROR
    except ConformanceError as exc:
        if _DEBUG["on"]:
            raise
        click.echo(f"conformance: error: {_scrub(str(exc))}", err=True)
        code = EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("conformance: interrupted", err=True)
        code = EXIT_ERROR
    except Exception as exc:  # a bug: still one line, and --debug shows the traceback
        if _DEBUG["on"]:
            raise
        first = (str(exc).splitlines() or [""])[0]
        click.echo(f"conformance: internal error: {type(exc).__name__}: {_scrub(first)} "
                   "(rerun with --debug for a traceback)", err=True)
        code = EXIT_ERROR
    sys.exit(code if isinstance(code, int) else EXIT_CLEAN)


def _scrub(text: str) -> str:
    """Removes any DSN password from a message."""
    import re

    return re.sub(r"(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@", r"\1****@", text)
