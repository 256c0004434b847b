"""Rules about the analysed files themselves: files that could not be analysed, secrets written
in code, suppression comments that suppress nothing, and settings that find nothing to check.
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.model import Location
from conformance.rules.base import (
    Context,
    Hit,
    Rule,
    Unused,
    run_check,
    suppression_check,
)

CONF015 = Rule(
    code="CONF015",
    name="unused-suppression",
    severity="warning",
    scope="file",
    summary="A `# conformance: ignore[CODE]` comment that suppresses nothing.",
    what=(
        "Reports each code of a suppression comment that matched no finding, codes that "
        "do not exist, and a bare `# conformance: ignore` that names no code. A suppression "
        "matches a finding of its code on the same line, or any finding of its code for the "
        "function whose `def` line carries it. Only comments suppress: the same text inside "
        "a string literal is ignored."
    ),
    why=("A stale suppression would silently hide the next real finding on that line."),
    example="def ingest_company(request):   # conformance: ignore[CONF013] nothing to ignore",
    fix="delete the comment (or the code from its list).",
    failing="a suppression of CONF013 on a line with no finding.",
    passing="the suppression sits on an unresolved write's line.",
)


@suppression_check(CONF015)
def unused_suppression(unused: list[Unused], ctx: Context) -> Iterator[Hit]:
    for item in unused:
        s = item.suppression
        if item.code is None:
            yield CONF015.hit(
                "suppression names no code, so it suppresses nothing: write "
                "`# conformance: ignore[CODE] reason`",
                s.location,
                evidence=(" ".join(f"# conformance: ignore {s.reason} at {s.location}".split()),),
            )
            continue
        why = "matches no finding" if item.known else "is not a conformance code"
        yield CONF015.hit(
            f"suppression of {item.code} {why}" + (f" (reason: {s.reason})" if s.reason else ""),
            s.location,
            evidence=(f"# conformance: ignore[{', '.join(s.codes)}] {s.reason} at {s.location}",),
        )


CONF016 = Rule(
    code="CONF016",
    name="analysis-error",
    severity="error",
    scope="file",
    summary="A file the analyzer could not read or parse.",
    what=(
        "Reports each file under the source root that could not be read or parsed; every "
        "other file is still analysed."
    ),
    why=(
        "Functions and writes in that file are unknown, so the check cannot vouch for it "
        "(and rows naming its functions may show up as CONF002)."
    ),
    example="def ingest_company(request)   # missing colon: SyntaxError",
    fix="fix the syntax error (the message gives the line).",
    failing="one file has a syntax error.",
    passing="every file parses.",
)


@run_check(CONF016)
def analysis_error(ctx: Context) -> Iterator[Hit]:
    for e in ctx.analysis.errors:
        loc = Location(e.file, e.line)
        yield CONF016.hit(
            f"could not analyse {e.file}: {e.message}",
            loc,
            evidence=(f"file {loc}: {e.message}",),
        )


CONF017 = Rule(
    code="CONF017",
    name="literal-secret",
    severity="error",
    scope="file",
    summary="A connection string with a password, or a service key, written in the code.",
    what=(
        "Reports a literal database URL with a password or a service key in analysed code. "
        "The finding shows the masked value only."
    ),
    why="Secrets in source end up in git history, CI logs and every clone.",
    example='create_client(URL, "eyJhbGciOi...")   # a literal service key',
    fix=("read it from the environment through a `modal.Secret`, and rotate the leaked value."),
    failing="a module holds a literal postgresql:// URL with a password.",
    passing="the URL comes from os.environ.",
)


@run_check(CONF017)
def literal_secret(ctx: Context) -> Iterator[Hit]:
    for s in ctx.analysis.secrets:
        yield CONF017.hit(
            f"literal {s.kind} in code: {s.masked}; read it from a modal.Secret instead",
            s.location,
            evidence=(f"{s.kind} at {s.location}: {s.masked}",),
        )


CONF022 = Rule(
    code="CONF022",
    name="nothing-found",
    severity="warning",
    scope="file",
    summary="Settings that find nothing: no ingest function, or an entry that matches no file.",
    what=(
        "Reports, with what was searched, when the analysis finds no ingest function at all "
        "(the source root, the `ingest` entries and how many Python files they matched), and "
        "each `ingest` entry or configured entry point that matches no Python file under the "
        "source root. When no ingest function is found, `check` also exits 2: an empty "
        "project cannot be clean."
    ),
    why=(
        "A check that finds nothing passes: a typo in `ingest`, a moved directory or a wrong "
        "`source_root` would make every rule silently vouch for code it never read."
    ),
    example='ingest = ["ingest"]   # the functions moved to pipelines/ last quarter',
    fix=(
        "point `source_root`, `ingest` and `entrypoints` at where the code is (`ingest = "
        '["."]` searches the whole source root), or remove the stale entry.'
    ),
    failing="the ingest entries match no file, so no ingest function is found.",
    passing="every entry matches files, and ingest functions are found.",
)


@run_check(CONF022)
def nothing_found(ctx: Context) -> Iterator[Hit]:
    searched = ctx.analysis.searched
    if searched is None:  # an analysis built by hand: nothing was searched
        return
    config = ctx.config
    try:
        root = config.source_root.relative_to(config.project_dir).as_posix()
    except ValueError:
        root = config.source_root.as_posix()
    where = f"under the source root {root}" if root != "." else "in the project"
    ingest = ", ".join(config.ingest)
    if not ctx.analysis.functions:
        yield CONF022.hit(
            f"no ingest function found: the ingest entries ({ingest}) match "
            f"{searched.ingest_files} of the {searched.python_files} Python files {where}, "
            "and none of them defines a function decorated with a modal.App's .function() "
            "or .cls()",
            ctx.settings_location("ingest"),
            evidence=(
                f"source root: {root} ({searched.python_files} Python files)",
                f"ingest: {ingest} ({searched.ingest_files} files)",
                "entry points: " + (", ".join(searched.entry_points) or "none found"),
            ),
        )
    for entry in searched.unmatched_ingest:
        yield CONF022.hit(
            f"the ingest entry {entry!r} matches no Python file {where}",
            ctx.settings_location("ingest"),
            evidence=(f"ingest: {ingest}", f"source root: {root}"),
        )
    for entry in searched.unmatched_entry_points:
        yield CONF022.hit(
            f"the entry point {entry!r} matches no Python file {where}: nothing is deployed "
            "from it",
            ctx.settings_location("entrypoints", "entrypoint"),
            evidence=("entry points: " + ", ".join(config.entry_points()), f"source root: {root}"),
        )
