"""Rules about the analysed files themselves: files that could not be analysed, secrets written
in code, and suppression comments that suppress nothing.
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
