"""Inputs and oracles for fuzzing :func:`conformance.analysis.parse.summarize_file`.

Shared by ``tests/test_fuzz.py`` (bounded, seeded) and ``bench/fuzz.py`` (the long run). Three
sources of files: hypothesmith (valid Python from the grammar), :func:`ingest_modules` (Python
shaped like ingest code, so the extractor's symbolic evaluation is exercised, not only the
parser) and :func:`mutate` (seeded damage to the example project's files).

The oracle is :func:`check_summary`: ``summarize`` returns a ModuleSummary, never raises, gives
an error as ``(line, short one-line reason)`` with the line inside the file, and the summary
survives the round trip through :mod:`conformance.records` that the cache and the process pool
rely on.
"""

from __future__ import annotations

import random
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from conformance import records
from conformance.analysis import values as v
from conformance.analysis.parse import summarize_file as summarize

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_ROOT = REPO / "examples" / "warehouse" / "modal-functions" / "src"
MAX_REASON = 500

# -- the oracle -----------------------------------------------------------------------------------


class SummaryContractError(AssertionError):
    """``summarize`` returned, but broke its contract (bad error line, unpicklable, ...)."""


class AnalyzerBug(SummaryContractError):
    """``summarize`` caught an exception of its own and reported it as the file's error: the
    run goes on, but for a fuzzer it is a crash like any other."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


INTERNAL_ERROR = "internal analyzer error"


def line_count(source: bytes) -> int:
    """Returns the number of lines Python sees in ``source`` (``\\r\\n``, ``\\r``, ``\\n``)."""
    text = source.decode("utf-8", errors="replace")
    return len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def check_summary(
    source: bytes, module: str = "ingest.fuzzed", file: str = "ingest/fuzzed.py"
) -> v.ModuleSummary:
    """Returns ``summarize(source)`` after checking its contract; an exception escaping
    ``summarize`` propagates unchanged, a broken contract raises SummaryContractError."""
    summary = summarize(source, module, file, False)
    if not isinstance(summary, v.ModuleSummary):
        raise SummaryContractError(f"summarize returned {type(summary).__name__}")
    if summary.module != module or summary.file != file:
        raise SummaryContractError(f"wrong identity {summary.module!r} {summary.file!r}")
    last = line_count(source) + 1
    if summary.error is not None:
        line, reason = summary.error
        if not isinstance(line, int) or not 1 <= line <= last:
            raise SummaryContractError(f"error line {line!r} outside 1..{last}")
        if (
            not isinstance(reason, str)
            or not reason.strip()
            or "\n" in reason
            or len(reason) > MAX_REASON
        ):
            raise SummaryContractError(f"error reason not one short line: {reason!r}")
        if reason.startswith(INTERNAL_ERROR):
            raise AnalyzerBug(reason)
    for func in summary.functions:
        lines = [func.line] + [e.line for e in func.effects]
        if any(not 1 <= n <= last for n in lines):
            raise SummaryContractError(f"line outside 1..{last} in {func.qualname}: {lines}")
    payload = records.encode(summary)
    if payload is None:
        raise SummaryContractError("summary cannot be encoded for the cache")
    if records.decode(payload, v.ModuleSummary) != summary:
        raise SummaryContractError("summary changes through the cache's encoding")
    return summary


# Bugs reported and not fixed yet. The fuzz tests tolerate a failure matching one of these, so
# they keep looking for new ones; each has a strict-xfail regression test in
# tests/test_robustness.py that starts failing (XPASS) when the fix lands: then delete the entry.
KNOWN_BUGS: dict[str, Callable[[BaseException], bool]] = {
    # A string literal Python rejects ("\N{nope}", "\x4", b"é") parses in libcst; reading its
    # value raises SyntaxError inside the extractor, reported as an internal error on line 1.
    "invalid-string-literal": lambda exc: (
        isinstance(exc, AnalyzerBug) and exc.reason.startswith(f"{INTERNAL_ERROR} (SyntaxError:")
    ),
}


def known_bug(exc: BaseException) -> str | None:
    """Returns the KNOWN_BUGS key ``exc`` matches, else None."""
    return next((name for name, match in KNOWN_BUGS.items() if match(exc)), None)


def crash_signature(exc: BaseException) -> str:
    """Returns ``Type at file:line`` of the innermost conformance frame (to group crashes)."""
    if isinstance(exc, AnalyzerBug):
        return exc.reason.split(":")[0] + ")"
    if isinstance(exc, SummaryContractError):
        return "contract: " + " ".join(re.sub(r"\d+", "N", str(exc)).split()[:4])
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "conformance" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} at {where}"


def summarize_fails(source: bytes) -> BaseException | None:
    """Returns what ``check_summary(source)`` raises, or None."""
    try:
        check_summary(source)
    except Exception as exc:  # noqa: BLE001 - every failure is a finding
        return exc
    return None


def shrink(source: bytes, still_fails: Callable[[bytes], bool], budget: int = 2000) -> bytes:
    """Returns a smaller ``source`` that ``still_fails``: drops chunks of lines, then of bytes
    (a plain delta-debugging pass, at most ``budget`` calls)."""
    calls = 0

    def attempt(candidate: bytes) -> bool:
        nonlocal calls
        calls += 1
        return calls <= budget and still_fails(candidate)

    for split, join in (
        (lambda b: b.splitlines(keepends=True), b"".join),
        (lambda b: [bytes([c]) for c in b], b"".join),
    ):
        parts = split(source)
        size = max(1, len(parts) // 2)
        while size >= 1 and calls < budget:
            i, changed = 0, False
            while i < len(parts) and calls < budget:
                candidate = parts[:i] + parts[i + size :]
                if candidate and attempt(join(candidate)):
                    parts, changed = candidate, True
                else:
                    i += size
            if not changed:
                size //= 2
        source = join(parts)
    return source


# -- the example project, and damage to it -------------------------------------------------------


def example_sources() -> list[tuple[str, bytes]]:
    """Returns ``(rel, bytes)`` of every Python file of the example project, sorted."""
    return [
        (p.relative_to(EXAMPLE_ROOT).as_posix(), p.read_bytes())
        for p in sorted(EXAMPLE_ROOT.rglob("*.py"))
    ]


# Fragments that tend to break a tokenizer, a parser or an extractor in interesting ways.
# fmt: off
TOKENS: tuple[bytes, ...] = (
    b"(", b")", b"[", b"]", b"{", b"}", b":", b",", b".", b"\\", b"\\\n", b"'", b'"', b'"""',
    b"'''", b"#", b"@", b"=", b":=", b"->", b"*", b"**", b"lambda", b"def ", b"class ", b"async ",
    b"await ", b"yield ", b"return ", b"if ", b"else", b"elif ", b"for ", b" in ", b"while ",
    b"with ", b"try:", b"except", b"finally:", b"match ", b"case ", b"import ", b"from ",
    b"global ", b"nonlocal ", b"del ", b"pass", b"\t", b"    ", b"\n", b"\r", b"\r\n", b"\x0c",
    b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\xe2\x80\xa8", b"\\N{", b"\\x", b"\\u",
    b'f"{', b"}\"", b"!r", b"b'", b"rb'", b"u'", b".table(", b".insert(", b".schema(",
    b".execute(", b".remote(", b".spawn(", b".local(", b".rpc(", b"@app.function()",
    b"client", b"self", b"None", b"...", b"0x", b"1e", b"1_", b"# conformance: ignore[",
    b"postgresql://u:p@h/db", b"# -*- coding: latin-1 -*-\n", b"# coding: nope\n",
)
# fmt: on


def mutate(data: bytes, rng: random.Random, corpus: list[bytes], steps: int | None = None) -> bytes:
    """Returns ``data`` after 1-4 (or ``steps``) random mutations drawn from ``rng``."""
    for _ in range(steps if steps is not None else rng.randint(1, 4)):
        data = _MUTATIONS[rng.randrange(len(_MUTATIONS))](data, rng, corpus)
    return data


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def _delete_lines(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    return b"".join(lines[:i] + lines[i + rng.randint(1, 3) :])


def _duplicate_lines(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    chunk = lines[i : i + rng.randint(1, 5)]
    j = rng.randrange(len(lines) + 1)
    return b"".join(lines[:j] + chunk + lines[j:])


def _swap_lines(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"".join(lines)


def _truncate(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    return data[: rng.randint(0, len(data))]


def _insert_bytes(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    i = rng.randint(0, len(data))
    return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[i:]


def _insert_token(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    i = rng.randint(0, len(data))
    return data[:i] + rng.choice(TOKENS) + data[i:]


def _delete_bytes(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    i = rng.randint(0, len(data))
    return data[:i] + data[i + rng.randint(1, 16) :]


def _reindent(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    indent = rng.choice([b"", b" ", b"\t", b"        ", b" \t"])
    lines[i] = indent + lines[i].lstrip(b" \t")
    return b"".join(lines)


def _line_endings(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    ending = rng.choice([b"\r\n", b"\r", b"\n"])
    lines = data.splitlines()
    if rng.random() < 0.5:  # mixed: only some lines change
        return b"".join(line + (ending if rng.random() < 0.5 else b"\n") for line in lines)
    return ending.join(lines) + ending


def _splice(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    other = _lines(rng.choice(corpus)) if corpus else _lines(data)
    i = rng.randrange(len(other))
    chunk = other[i : i + rng.randint(1, 12)]
    lines = _lines(data)
    j = rng.randint(0, len(lines))
    return b"".join(lines[:j] + chunk + lines[j:])


def _nest(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    depth = rng.choice(NEST_DEPTHS)
    opener, closer = rng.choice([(b"(", b")"), (b"[", b"]"), (b"f(", b")"), (b"{1:", b"}")])
    body = lines[i].strip() or b"x"
    lines[i] = b"x = " + opener * depth + body + closer * depth + b"\n"
    return b"".join(lines)


# In-process runs stay under the depths where libcst's parser overflows the C stack (~1300
# brackets); bench/fuzz.py --deep adds deeper ones, its workers survive a segfault.
NEST_DEPTHS: tuple[int, ...] = (2, 10, 50, 200)

_MUTATIONS = (
    _delete_lines,
    _duplicate_lines,
    _swap_lines,
    _truncate,
    _insert_bytes,
    _insert_token,
    _insert_token,
    _delete_bytes,
    _reindent,
    _line_endings,
    _splice,
    _nest,
)


# -- Python shaped like ingest code ---------------------------------------------------------------

NAMES = (
    "client",
    "c",
    "sb",
    "conn",
    "cur",
    "db",
    "self",
    "table",
    "TABLE",
    "SCHEMA",
    "rows",
    "row",
    "x",
    "app",
    "modal",
    "sql",
    "payload",
    "k",
    "f",
    "get_client",
    "create_client",
    "ClientOptions",
    "execute_values",
    "SQL",
    "Identifier",
    "psycopg",
    "helper",
)
STRINGS = (
    "raw",
    "events",
    "public",
    "core",
    "",
    "people",
    "x.y",
    "INSERT INTO raw.t VALUES (%s)",
    "UPDATE {} SET a = 1",
    "DELETE FROM core.people WHERE id = %s",
    "COPY t FROM STDIN",
    "select upsert_company(%s)",
    "{}",
    "{{",
    "%s",
    "company-signals",
    "é",
    "\\",
    "'",
    "INSERT INTO",
    ";",
    "--",
)
METHODS = (
    "table",
    "from_",
    "schema",
    "insert",
    "upsert",
    "update",
    "delete",
    "execute",
    "executemany",
    "copy",
    "copy_from",
    "copy_expert",
    "rpc",
    "remote",
    "spawn",
    "map",
    "local",
    "aio",
    "format",
    "as_string",
    "SQL",
    "Identifier",
    "create_client",
    "ClientOptions",
    "select",
    "eq",
    "get",
    "append",
    "cursor",
    "function",
    "cls",
    "method",
    "fastapi_endpoint",
    "asgi_app",
    "Cron",
)


def _string_literal(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(STRINGS) | st.text(max_size=6))
    prefix = draw(st.sampled_from(["", "", "r", "b", "f", "rb", "u"]))
    if "b" in prefix:
        text = text.encode("ascii", "ignore").decode()
    body = repr(text)
    if prefix.startswith(("r", "rb")) and "\\" in text:
        return repr(text)
    if "f" in prefix:
        body = body.replace("{", "{{").replace("}", "}}")
        if draw(st.booleans()):
            name = draw(st.sampled_from(NAMES))
            spec = draw(st.sampled_from(["", "", "!r", ":>10", "!s:{k}"]))
            body = body[:-1] + "{" + name + spec + "}" + body[-1]
    return prefix + body


@st.composite
def expressions(draw: st.DrawFn, depth: int = 3) -> str:
    """Returns the text of one expression (valid Python; calls and names ingest code uses)."""
    leaf = draw(st.integers(0, 9)) if depth > 0 else draw(st.integers(0, 2))
    if leaf == 0:
        return draw(st.sampled_from(NAMES))
    if leaf == 1:
        return _string_literal(draw)
    if leaf == 2:
        return draw(st.sampled_from(["1", "0", "None", "True", "...", "1.5", "-1", "2j"]))
    sub = expressions(depth - 1)
    if leaf in (3, 4, 5):  # method calls, the extractor's main business
        base = draw(sub)
        method = draw(st.sampled_from(METHODS))
        args = draw(st.lists(sub, max_size=3))
        kwargs = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(
                        ["schema", "options", "on_conflict", "upsert", "name", "image", "returning"]
                    ),
                    sub,
                ),
                max_size=2,
                unique_by=lambda kv: kv[0],
            )
        )
        extras = draw(st.sampled_from(["", "", "*rows", "**kw"]))
        parts = args + [f"{k}={val}" for k, val in kwargs] + ([extras] if extras else [])
        return f"({base}).{method}({', '.join(parts)})"
    if leaf == 6:
        func = draw(st.sampled_from(NAMES))
        return f"{func}({', '.join(draw(st.lists(sub, max_size=3)))})"
    if leaf == 7:
        a, b = draw(sub), draw(sub)
        op = draw(st.sampled_from(["+", "%", "+", "or", "and", "==", "if k else", "*", "|"]))
        return f"({a} {op} {b})"
    if leaf == 8:
        kind = draw(st.integers(0, 5))
        items = draw(st.lists(sub, max_size=4))
        if kind == 0:
            return "[" + ", ".join(items) + "]"
        if kind == 1:
            return "(" + "".join(f"{i}, " for i in items) + ")"
        if kind == 2:
            keys = draw(
                st.lists(
                    st.sampled_from(["'workflow_slug'", "'schema'", "'table'", "k", "**x"]),
                    min_size=len(items),
                    max_size=len(items),
                )
            )
            return (
                "{"
                + ", ".join(
                    key if key.startswith("**") else f"{key}: {val}"
                    for key, val in zip(keys, items, strict=True)
                )
                + "}"
            )
        if kind == 3:
            return (
                f"[{draw(sub)} for {draw(st.sampled_from(['x', 'k', '(a, b)']))} in "
                f"{draw(sub)} if {draw(sub)}]"
            )
        if kind == 4:
            return f"(lambda k: {draw(sub)})"
        return f"{{*{draw(sub)}}}"
    base = draw(sub)
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return f"({base}).{draw(st.sampled_from(METHODS + NAMES))}"
    if kind == 1:
        return f"({base})[{draw(sub)}]"
    if kind == 2:
        return f"({base})[1:{draw(sub)}]"
    return f"(k := {base})"


_TARGETS = (
    "x",
    "table",
    "sql",
    "client",
    "self.client",
    "self.table",
    "a, b",
    "[a, *b]",
    "row['k']",
    "TABLE",
)


@st.composite
def statements(draw: st.DrawFn, indent: str, depth: int, in_function: bool) -> str:
    """Returns one statement, indented by ``indent``, with newline."""
    expr = expressions(depth=draw(st.integers(1, 3)))
    kind = draw(st.integers(0, 13)) if depth > 0 else draw(st.integers(0, 3))
    nl = "\n"

    def block(function: bool = in_function) -> str:
        body = draw(
            st.lists(statements(indent + "    ", depth - 1, function), min_size=1, max_size=3)
        )
        return "".join(body)

    if kind == 0:
        return f"{indent}{draw(expr)}{nl}"
    if kind == 1:
        target = draw(st.sampled_from(_TARGETS))
        return f"{indent}{target} = {draw(expr)}{nl}"
    if kind == 2:
        op = draw(st.sampled_from(["+=", "|=", "*="]))
        return f"{indent}{draw(st.sampled_from(['x', 'sql', 'table']))} {op} {draw(expr)}{nl}"
    if kind == 3:
        return (
            indent
            + draw(
                st.sampled_from(
                    [
                        "import modal",
                        "import psycopg.sql as sql",
                        "from supabase import create_client",
                        "from config import app, image",
                        "from .helpers import write_rows",
                        "from ..common.db import *",
                        "from . import tables",
                        "from psycopg import sql",
                        "from psycopg2.extras import execute_values",
                        "pass",
                        "x: str = 'raw'",
                        "global TABLE",
                        "del x",
                        "return",
                        "return client",
                        "raise ValueError(x)",
                        "yield x",
                    ]
                )
            )
            + nl
        )
    if kind == 4:
        head = draw(st.sampled_from(["if", "while"]))
        out = f"{indent}{head} {draw(expr)}:{nl}{block()}"
        if draw(st.booleans()):
            out += f"{indent}elif {draw(expr)}:{nl}{block()}" if head == "if" else ""
        if draw(st.booleans()):
            out += f"{indent}else:{nl}{block()}"
        return out
    if kind == 5:
        target = draw(st.sampled_from(["x", "table", "(schema, table)", "row", "a, *b"]))
        it = draw(
            st.sampled_from(
                ["['a', 'b', 'c']", "('raw', 'events'), ('core', 'x')", "rows", "range(3)"]
            )
            | expr
        )
        prefix = "async " if in_function and draw(st.booleans()) else ""
        return f"{indent}{prefix}for {target} in {it}:{nl}{block()}"
    if kind == 6:
        out = f"{indent}try:{nl}{block()}{indent}except Exception as e:{nl}{block()}"
        return out + (f"{indent}finally:{nl}{block()}" if draw(st.booleans()) else "")
    if kind == 7:
        return (
            f"{indent}with {draw(expr)} as {draw(st.sampled_from(['cur', 'conn', 'c']))}:"
            f"{nl}{block()}"
        )
    if kind == 8:
        cases = "".join(
            f"{indent}    case {pat}:{nl}{''.join(draw(st.lists(statements(indent + '        ', depth - 1, in_function), min_size=1, max_size=2)))}"  # noqa: E501
            for pat in draw(
                st.lists(
                    st.sampled_from(["'raw'", "[a, b]", "{'k': v}", "_", "str()", "1 | 2"]),
                    min_size=1,
                    max_size=3,
                )
            )
        )
        return f"{indent}match {draw(expr)}:{nl}{cases}"
    if kind in (9, 10, 11):
        decorators = draw(
            st.lists(
                st.sampled_from(
                    [
                        "@app.function()",
                        "@app.function(image=image, secrets=[db_secret])",
                        "@app.function(name='renamed', schedule=modal.Cron('0 * * * *'))",
                        "@modal.fastapi_endpoint(method='POST')",
                        "@modal.method()",
                        "@modal.asgi_app()",
                        "@app.cls()",
                        "@(lambda f: f)",
                        "@app.function(**options)",
                        "@a.b[c](d)",
                        "@x if k else y",
                        "@staticmethod",
                        "@functools.wraps(f)",
                        "@app.function()\n@app.function()",
                    ]
                ),
                max_size=3,
            )
        )
        name = draw(st.sampled_from(["ingest", "write_rows", "helper", "run", "__init__", "load"]))
        params = draw(
            st.sampled_from(
                [
                    "",
                    "self",
                    "client, rows",
                    "self, payload: Payload",
                    "table='raw.t', *args, **kwargs",
                    "x, /, y, *, z=None",
                    "request: Request",
                ]
            )
        )
        async_ = "async " if draw(st.booleans()) else ""
        decor = "".join(f"{indent}{d.replace(chr(10), chr(10) + indent)}{nl}" for d in decorators)
        if kind == 11 and draw(st.booleans()):
            body = "".join(
                draw(
                    st.lists(statements(indent + "    ", depth - 1, False), min_size=1, max_size=3)
                )
            )
            bases = draw(st.sampled_from(["", "(BaseModel)", "(Base, metaclass=M)"]))
            return f"{decor}{indent}class {name.title()}{bases}:{nl}{body}"
        return f"{decor}{indent}{async_}def {name}({params}):{nl}{block(True)}"
    if kind == 12:
        return (
            f"{indent}{draw(st.sampled_from(['x', 'table']))} = {draw(expr)} if k else "
            f"{draw(expr)}{nl}"
        )
    return (
        f"{indent}client.schema({draw(expr)}).table({draw(expr)}).insert({draw(expr)})"
        f".execute(){nl}"
    )


@st.composite
def ingest_modules(draw: st.DrawFn) -> str:
    """Returns the source of a module shaped like ingest code (mostly valid Python)."""
    head = "from config import app, image\nfrom supabase import create_client\nimport modal\n"
    body = draw(st.lists(statements("", 3, False), min_size=1, max_size=6))
    return head + "".join(body)


@dataclass
class FuzzCounts:
    """What a fuzz loop saw: files run, files summarize marked as errors, crashes."""

    files: int = 0
    errors: int = 0
    crashes: int = 0
    known: int = 0


def run_one(source: bytes, counts: FuzzCounts) -> BaseException | None:
    """Runs one file through the oracle, counts it, and returns a new (not known) failure."""
    counts.files += 1
    try:
        summary = check_summary(source)
    except Exception as exc:  # noqa: BLE001 - every failure is a finding
        if known_bug(exc):
            counts.known += 1
            return None
        counts.crashes += 1
        return exc
    if summary.error is not None:
        counts.errors += 1
    return None


def describe(exc: BaseException) -> str:
    """Returns a crash as its signature and its traceback."""
    return crash_signature(exc) + "\n" + "".join(traceback.format_exception(exc))
