"""Broken and strange source never stops the analyzer, and analysed code never runs.

Two levels: one file through ``summarize`` (it returns a summary, with ``error = (line, reason)``
for a file it cannot read as Python) and a whole project through ``analyze_project`` (a bad file
next to a good ingest file: the good file's function and write are still reported, the bad file
is one error record with file, line and a short reason, and the JSON report stays valid).

Inputs that can kill the interpreter (deep nesting overflows libcst's native parser) or hang it
(a FIFO) run in a child process with a timeout, so this suite itself cannot crash or hang.

Each bug these tests found (a FIFO that hung the run, a summary too deep to pickle back from
the pool, resolution exponential in the number of branches building a name, string literals
Python rejects, CR-only line counting, ``python -m`` importing from the working directory)
is fixed; its test stays as a regression test.
"""

from __future__ import annotations

import ast
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fuzz_support import EXAMPLE_ROOT, REPO, check_summary, line_count

from conformance.analysis.parse import summarize_file as summarize
from conformance.analysis.project import analyze_project
from conformance.config import load_config
from conformance.model import Analysis, AnalysisError

REPORT_SCHEMA = REPO / "schemas" / "report.schema.json"
MAX_REASON = 300

# The good ingest file every project test carries: `load` on line 6 writes public.events on line 8.
GOOD = textwrap.dedent("""\
    from config import app
    from supabase import create_client


    @app.function()
    def load(rows):
        client = create_client("u", "k")
        client.table("events").insert(rows).execute()
""")
GOOD_DEF_LINE, GOOD_WRITE_LINE = 6, 8
CONFIG = 'import modal\n\napp = modal.App("robustness")\n'
PYPROJECT = textwrap.dedent("""\
    [tool.conformance]
    source_root = "src"
    ingest = ["ingest"]
    entrypoint = "app.py"
""")


# -- helpers --------------------------------------------------------------------------------------


def make_project(root: Path, files: dict[str, bytes | str] | None = None) -> Path:
    """Writes a project under ``root``: config, entry point, ``ingest/good.py`` and ``files``
    (paths relative to the source root)."""
    src = root / "src"
    (src / "ingest").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    base: dict[str, bytes | str] = {
        "config.py": CONFIG,
        "app.py": "from ingest import good\n",
        "ingest/__init__.py": "",
        "ingest/good.py": GOOD,
    }
    for rel, content in {**base, **(files or {})}.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
    return root


def analyse(project: Path, **kwargs: object) -> Analysis:
    kwargs.setdefault("use_cache", False)
    kwargs.setdefault("jobs", 1)
    return analyze_project(load_config(project), **kwargs)  # type: ignore[arg-type]


def validate_report(data: object) -> None:
    """Checks ``data`` is plain JSON and valid against ``schemas/report.schema.json``."""
    import jsonschema

    assert json.loads(json.dumps(data)) == data
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)


def assert_good_reported(analysis: Analysis, write_line: int = GOOD_WRITE_LINE) -> None:
    [load] = [f for f in analysis.functions if f.file == "ingest/good.py"]
    assert (load.name, load.line) == ("load", GOOD_DEF_LINE)
    assert [(w.schema, w.table, w.operation, w.location.line) for w in load.writes] == [
        ("public", "events", "insert", write_line)
    ]
    assert not [e for e in analysis.errors if e.file == "ingest/good.py"]
    validate_report(analysis.to_dict())


def error_for(analysis: Analysis, rel: str) -> AnalysisError:
    [error] = [e for e in analysis.errors if e.file == rel]
    assert error.line >= 1
    assert error.message.strip() and "\n" not in error.message
    assert len(error.message) <= MAX_REASON, error.message
    return error


def python_error_line(source: bytes) -> int | None:
    """Returns the line of the SyntaxError Python's own parser reports (None: it parses). Only
    parses: nothing is compiled to bytecode or run."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        return exc.lineno
    return None


def write_line_of(source: bytes) -> int:
    """Returns the line of the first write ``summarize`` finds in ``source``."""
    summary = check_summary(source)
    assert summary.error is None, summary.error
    return next(
        e.line for f in summary.functions for e in f.effects if type(e).__name__ == "WriteSite"
    )


ISOLATED = textwrap.dedent("""\
    import json, sys
    from conformance.analysis.parse import summarize_file as summarize
    s = summarize(open(sys.argv[1], "rb").read(), "ingest.deep", "ingest/deep.py", False)
    print(json.dumps({"error": s.error, "functions": len(s.functions)}))
""")


def summarize_isolated(tmp_path: Path, source: bytes, timeout: float = 60) -> dict[str, object]:
    """Runs ``summarize`` in a child interpreter; fails the test on a crash or a timeout."""
    path = tmp_path / "deep.py"
    path.write_bytes(source)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", ISOLATED, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"summarize did not return within {timeout} s")
    assert proc.returncode == 0, (
        f"summarize killed the interpreter (exit {proc.returncode}): {proc.stderr[-500:]}"
    )
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


ANALYSE_ISOLATED = textwrap.dedent("""\
    import json, sys
    from conformance.analysis.project import analyze_project
    from conformance.config import load_config
    a = analyze_project(load_config(sys.argv[1]), use_cache=False, jobs=int(sys.argv[2]))
    print(json.dumps(a.to_dict()))
""")


def analyse_isolated(project: Path, timeout: float, jobs: int = 1) -> dict[str, object]:
    """Runs ``analyze_project`` in a child interpreter; fails the test on a crash or timeout."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", ANALYSE_ISOLATED, str(project), str(jobs)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"analyze_project did not return within {timeout} s")
    assert proc.returncode == 0, proc.stderr[-1500:]
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


# -- one file through summarize -------------------------------------------------------------------


def test_empty_and_blank_files_are_clean_modules() -> None:
    for source in (
        b"",
        b"\n",
        b"   \n\t\n",
        b"# only a comment",
        b"\xef\xbb\xbf",
        b"\r\n\r\n",
        b"\x0c\n",
    ):
        summary = check_summary(source)
        assert summary.error is None, (source, summary.error)
        assert summary.functions == ()


def test_bom_is_read_as_utf8() -> None:
    bom = b"\xef\xbb\xbf" + GOOD.encode()
    assert write_line_of(bom) == GOOD_WRITE_LINE
    assert write_line_of(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode()) == GOOD_WRITE_LINE


@pytest.mark.parametrize(
    "source, line, reason",
    [
        (b"def broken(:\n    pass\n", 1, "syntax error"),
        (b"x = 1\nif x\n    y = 2\n", 2, "syntax error"),
        (b"x = 1 + \\\n", 1, "syntax error"),
        (b"print 'hello'\n", 1, "syntax error"),
        (b"x = 1\n    y = 2\n", 2, "syntax error"),
        (b"class = 1\n", 1, "syntax error"),
        (b"x = 1\ny = 2\nz = '\xff\xfe'\n", 3, "UTF-8"),
        (b"x = 1\ny = '\x00'\n", 2, "NUL"),
        (b"\x00" * 64, 1, "NUL"),
        (b"# coding: nope\nx = 1\n", 1, "encoding"),
        (b"\xef\xbb\xbf# coding: latin-1\nx = 1\n", 1, ""),
        (b"x = '\xe9'\n", 1, "UTF-8"),
    ],
    ids=[
        "bad-params",
        "missing-colon",
        "eof-in-continuation",
        "python2-print",
        "bad-indent",
        "keyword-as-name",
        "invalid-utf8",
        "nul-byte",
        "all-nul",
        "unknown-coding",
        "bom-contradicts-coding",
        "latin1-without-cookie",
    ],
)
def test_bad_file_is_an_error_with_line_and_reason(source: bytes, line: int, reason: str) -> None:
    summary = check_summary(source)
    assert summary.error is not None
    got_line, got_reason = summary.error
    assert got_line == line, summary.error
    assert reason.lower() in got_reason.lower()
    assert len(got_reason) <= MAX_REASON


def test_coding_cookie_latin1_is_honoured() -> None:
    source = b"# -*- coding: latin-1 -*-\n" + GOOD.encode() + b"NAME = '\xe9'\n"
    assert write_line_of(source) == GOOD_WRITE_LINE + 1


@pytest.mark.parametrize(
    "literal", [b'"\\N{no such name}"', b'"\\x4"', b'"\\u12"', b'b"\xc3\xa9"', b'{"\\N{nope}": 1}']
)
def test_string_literal_python_rejects_never_raises(literal: bytes) -> None:
    source = b"x = 1\n\ndef f(c):\n    c.table(" + literal + b").insert(1)\n"
    summary = summarize(source, "m", "m.py", False)
    assert summary.error is not None


@pytest.mark.parametrize("literal", [b'"\\N{no such name}"', b'"\\x4"', b'b"\xc3\xa9"'])
def test_string_literal_python_rejects_is_a_syntax_error_on_its_line(literal: bytes) -> None:
    source = b"x = 1\n\ndef f(c):\n    c.table(" + literal + b").insert(1)\n"
    summary = summarize(source, "m", "m.py", False)
    assert summary.error is not None
    assert summary.error[0] == 4 and "syntax error" in summary.error[1], summary.error


def test_every_prefix_of_an_example_file() -> None:
    """Truncation anywhere: at every line end, inside lines and inside multi-byte characters."""
    rng = random.Random(5)
    for rel in ("ingest/people.py", "ingest/webhooks.py", "extraction/writers.py"):
        data = (EXAMPLE_ROOT / rel).read_bytes()
        cuts = {i + 1 for i, byte in enumerate(data) if byte == 0x0A}
        cuts |= set(rng.sample(range(len(data)), min(60, len(data))))
        cuts |= {0, 1, len(data) - 1}
        for cut in sorted(cuts):
            check_summary(data[:cut])
        check_summary(("é" * 3).encode()[:5] + b"\n")


# Line endings. Python reads "\r\n", "\r" and "\n" alike; so must every line the summary reports.

CRLF_SOURCE = GOOD.replace("\n", "\r\n").encode()


def test_crlf_write_line() -> None:
    assert write_line_of(CRLF_SOURCE) == GOOD_WRITE_LINE


def test_cr_only_write_line() -> None:
    assert write_line_of(GOOD.replace("\n", "\r").encode()) == GOOD_WRITE_LINE


def test_mixed_line_endings_write_line() -> None:
    lines = GOOD.split("\n")
    mixed = "".join(line + ("\r\n", "\n")[i % 2] for i, line in enumerate(lines[:-1]))
    assert write_line_of(mixed.encode()) == GOOD_WRITE_LINE
    blank_crs = GOOD.replace("\n\n\n", "\r\n\r\r\n")  # the two blank lines, ended "\r" and "\r\n"
    assert write_line_of(blank_crs.encode()) == GOOD_WRITE_LINE


def test_multiline_strings_and_continuations_keep_write_lines() -> None:
    head = 'S = """one\ntwo\nthree"""\nT = (1,\n     2)\nU = 1 + \\\n    2\n'
    source = (head + GOOD).encode()
    assert write_line_of(source) == GOOD_WRITE_LINE + 7
    assert write_line_of(source.replace(b"\n", b"\r\n")) == GOOD_WRITE_LINE + 7


def test_mixed_endings_inside_a_docstring_keep_write_lines() -> None:
    source = b'"""doc\r\nstring\rend"""\n' + GOOD.encode()
    assert write_line_of(source) == GOOD_WRITE_LINE + 3


def test_mixed_endings_inside_a_docstring_on_newer_syntax() -> None:
    source = b'type Alias = int\n"""doc\r\nstring\rend"""\n' + GOOD.encode()
    assert write_line_of(source) == GOOD_WRITE_LINE + 4


def test_cr_only_file_text_level_lines() -> None:
    source = "\r".join(
        [
            "x = 1",
            "y = 2  # conformance: ignore[CONF001] legacy",
            'DSN = "postgresql://u:hunter2@db/x"',
            "z = '\x00'",
            "",
        ]
    ).encode()
    summary = summarize(source, "m", "m.py", False)
    assert summary.suppressions[0][0] == 2
    assert summary.secrets[0][0] == 3
    assert summary.error is not None and summary.error[0] == 4


@pytest.mark.parametrize(
    "source, line",
    [
        (b"x = 1\nx = 'abc\ny = 2\n", 2),
        (b"x = 1\n)\n", 2),
        (b"if x:\n\ty = 1\n        z = 2\n", 3),
        (b"def f():\n        x = 1\n    y = 2\n", 3),
        (b'x = 1\nx = """abc\n\ny = 2\n', 2),
        (b"x = 1\ny = = 3\n\n\n", 2),
        (b"x = 1\ry = = 3\r", 2),
    ],
    ids=[
        "unterminated-string",
        "unmatched-paren",
        "tabs-and-spaces",
        "bad-dedent",
        "unterminated-docstring",
        "trailing-blank-lines",
        "cr-only",
    ],
)
def test_syntax_error_line_is_where_python_puts_it(source: bytes, line: int) -> None:
    summary = check_summary(source)
    assert summary.error is not None and summary.error[0] == line, summary.error


def test_tab_indented_file_is_analysed() -> None:
    assert write_line_of(GOOD.replace("    ", "\t").encode()) == GOOD_WRITE_LINE
    assert (
        write_line_of(GOOD.replace("    ", "\t").replace("\n", "\r\n").encode()) == GOOD_WRITE_LINE
    )


def test_form_feeds_and_odd_whitespace() -> None:
    source = GOOD.replace("\n\n\n@", "\n\x0c\n\x0c\n@").replace("rows)", "rows )  \t")
    assert write_line_of(source.encode()) == GOOD_WRITE_LINE


def test_five_megabyte_file() -> None:
    """5 MB, mostly data, with ingest functions spread through it; all of them are found."""
    unit = GOOD.split("\n\n\n", 1)[1].replace("def load", "def load_{i}")
    filler = "# " + "x" * 1000 + "\n"
    parts = [GOOD.split("\n\n\n", 1)[0] + "\n\n\n"]
    size, i = 0, 0
    while size < 5_000_000:
        chunk = unit.format(i=i) + "\n\n" + filler * 50 + 'BLOB = "' + "y" * 50_000 + '"\n\n\n'
        parts.append(chunk)
        size += len(chunk)
        i += 1
    source = "".join(parts).encode()
    assert len(source) >= 5_000_000
    summary = check_summary(source)
    assert summary.error is None
    assert len(summary.functions) == i
    assert all(len(f.effects) >= 1 for f in summary.functions)


@pytest.mark.slow
def test_five_megabyte_file_of_code() -> None:
    """5 MB of nothing but ingest functions (about a minute on two cores)."""
    unit = GOOD.split("\n\n\n", 1)[1].replace("def load", "def load_{i}")
    head = GOOD.split("\n\n\n", 1)[0] + "\n\n\n"
    n = 5_000_000 // len(unit) + 1
    source = (head + "\n\n".join(unit.format(i=i) for i in range(n))).encode()
    summary = check_summary(source)
    assert summary.error is None and len(summary.functions) == n


# Nesting. Python's own parser stops at 200 brackets and ~3000 levels; libcst's native parser has
# no such limit and overflows the C stack instead, so every case runs in a child interpreter.


def _nested(opener: str, closer: str, depth: int, inner: str = "1") -> bytes:
    return (
        f"def f(c):\n    x = {opener * depth}{inner}{closer * depth}\n"
        f"    c.table('t').insert(x)\n".encode()
    )


NESTING_OK = {  # libcst's parse is quadratic in bracket depth: 600 is past the recursion limit
    "parens-600": _nested("(", ")", 600),
    "brackets-600": _nested("[", "]", 600),
    "calls-600": _nested("f(", ")", 600),
    "unary-1000": _nested("-", "", 1000),
    "not-1000": _nested("not ", "", 1000),
    "binop-1000": ("def f(c):\n    x = 1" + " + 1" * 1000 + "\n").encode(),
    "attribute-chain-1000": ("X = a" + ".b" * 1000 + "\n").encode(),
    "method-chain-600": (
        "def f(c):\n    c.table('t')" + ".eq('a', 1)" * 600 + ".insert(1)\n"
    ).encode(),
    "subscripts-1000": ("X = a" + "[0]" * 1000 + "\n").encode(),
    "conditional-1000": ("X = " + "a if b else " * 1000 + "c\n").encode(),
    "lambda-1000": _nested("lambda: ", "", 1000),
    "strings-5000": ("X = " + "'a' " * 5000 + "\n").encode(),
    "indent-100": "".join(" " * i + "if x:\n" for i in range(100)).encode()
    + b" " * 100
    + b"pass\n",
    "defs-90": "".join(" " * i + f"def f{i}():\n" for i in range(90)).encode()
    + b" " * 90
    + b"return c.table('t').insert(1)\n",
    "elif-2000": (
        "def f(c, k):\n    if k == 0:\n        pass\n"
        + "".join(
            f"    elif k == {i}:\n        c.table('t{i}').insert(1)\n" for i in range(1, 2000)
        )
    ).encode(),
    "decorators-1000": ("@app.function()\n" * 1000 + "def f():\n    pass\n").encode(),
    "comprehensions-200": ("X = " + "[" * 200 + "1" + " for a in b]" * 200 + "\n").encode(),
}

NESTING_CRASH = {  # overflowed libcst's native stack (SIGSEGV) before Python's parser ran first
    "brackets-2000": _nested("[", "]", 2000),
    "calls-5000": _nested("f(", ")", 5000),
    "lambda-3500": _nested("lambda: ", "", 3500),
    "unary-10000": _nested("-", "", 10000),
    "attribute-chain-6000": ("X = a" + ".b" * 6000 + "\n").encode(),
    "binop-8000": ("X = 1" + " + 1" * 8000 + "\n").encode(),
}


@pytest.mark.parametrize("source", NESTING_OK.values(), ids=NESTING_OK.keys())
def test_deep_nesting_is_a_summary(tmp_path: Path, source: bytes) -> None:
    result = summarize_isolated(tmp_path, source)
    if result["error"] is not None:
        line, reason = result["error"]  # type: ignore[misc]
        assert line >= 1 and reason


@pytest.mark.parametrize("source", NESTING_CRASH.values(), ids=NESTING_CRASH.keys())
def test_deeper_nesting_does_not_kill_the_interpreter(tmp_path: Path, source: bytes) -> None:
    result = summarize_isolated(tmp_path, source, timeout=30)
    assert result["error"] is not None


# Decorators and chains in unusual (valid) forms: each still yields the one write it states.
UNUSUAL = {
    "decorator-expression": (
        "@(lambda f: f)\n@app.function()\ndef f(c):\n    c.table('t').insert(1)\n"
    ),
    "decorator-subscript-call": (
        "@a.b[0](c)(d)\n@app.function()\ndef f(c):\n    c.table('t').insert(1)\n"
    ),
    "decorator-conditional": (
        "@app.function() if X else app.function()\ndef f(c):\n    c.table('t').insert(1)\n"
    ),
    "decorator-walrus": "@(d := app.function())\ndef f(c):\n    c.table('t').insert(1)\n",
    "decorator-spaced": (
        "@ app . function (\n"
        "  # comment\n"
        "  image = image ,\n"
        ")\n"
        "def f(c):\n"
        "    c.table('t').insert(1)\n"
    ),
    "decorator-no-call": "@app.function\ndef f(c):\n    c.table('t').insert(1)\n",
    "decorator-stacked": (
        "@app.function()\n"
        "@app.function()\n"
        "@modal.fastapi_endpoint()\n"
        "@modal.fastapi_endpoint()\n"
        "def f(c):\n"
        "    c.table('t').insert(1)\n"
    ),
    "chain-split-parens": (
        "def f(c):\n"
        "    (\n"
        "        c\n"
        "        .table('t')  # the table\n"
        "        .insert(1)\n"
        "        .execute()\n"
        "    )\n"
    ),
    "chain-backslashes": "def f(c):\n    c \\\n        .table('t') \\\n        .insert(1)\n",
    "chain-in-fstring": "def f(c):\n    return f\"{c.table('t').insert(1)}\"\n",
    "chain-in-lambda": "def f(c):\n    g = lambda: c.table('t').insert(1)\n    g()\n",
    "chain-in-default": "def f(c, r=C.table('t').insert(1)):\n    pass\n",
    "chain-in-comprehension": "def f(c, rows):\n    [c.table('t').insert(r) for r in rows]\n",
    "chain-in-match-guard": (
        "def f(c, k):\n    match k:\n        case 1 if c.table('t').insert(1):\n            pass\n"
    ),
    "chain-awaited": "async def f(c):\n    await (await c.table('t')).insert(1)\n",
    "chain-on-subscript": "def f(c):\n    c[0].table('t').insert(1)\n",
    "chain-via-getattr": "def f(c):\n    getattr(c, 'table')('t').insert(1)\n",
    "chain-walrus": "def f(c):\n    if (t := c.table('t')):\n        t.insert(1)\n",
    "chain-starred": "def f(c, *a, **k):\n    c.table(*a).insert(**k)\n",
    "chain-keyword-table": "def f(c):\n    c.table(name='t').insert(1)\n",
    "chain-semicolons": "def f(c): t = c.table('t'); t.insert(1); return t\n",
    "class-body-chain": (
        "class K:\n"
        "    r = C.table('t').insert(1)\n"
        "    def m(self):\n"
        "        self.c.table('t').insert(1)\n"
    ),
    "nested-class-method": (
        "def f():\n"
        "    class K:\n"
        "        def m(self, c):\n"
        "            c.table('t').insert(1)\n"
        "    return K\n"
    ),
    "try-star": (
        "def f(c):\n"
        "    try:\n"
        "        pass\n"
        "    except* ValueError:\n"
        "        c.table('t').insert(1)\n"
    ),
    "global-nonlocal": (
        "def f(c):\n"
        "    global T\n"
        "    def g():\n"
        "        nonlocal c\n"
        "        c.table(T).insert(1)\n"
        "    g()\n"
    ),
    "type-comment-and-annotations": (
        "def f(c: 'Client') -> 'X':  # type: (Client) -> X\n"
        "    t: Table = c.table('t')\n"
        "    t.insert(1)\n"
    ),
    "unicode-names": "def fünf(ç):\n    ç.table('tä').insert(1)\n",
}


# The line of each case's write once the two-line header is added; None: no write expected
# (a default argument runs at import; a match guard and a class inside a function are not read).
UNUSUAL_WRITE_LINES: dict[str, list[int] | None] = {
    "decorator-expression": [6],
    "decorator-subscript-call": [6],
    "decorator-conditional": [5],
    "decorator-walrus": [5],
    "decorator-spaced": [8],
    "decorator-no-call": [5],
    "decorator-stacked": [8],
    "chain-split-parens": [7],
    "chain-backslashes": [6],
    "chain-in-fstring": [4],
    "chain-in-lambda": [4],
    "chain-in-default": None,
    "chain-in-comprehension": [4],
    "chain-in-match-guard": None,
    "chain-awaited": [4],
    "chain-on-subscript": [4],
    "chain-via-getattr": [4],
    "chain-walrus": [5],
    "chain-starred": [4],
    "chain-keyword-table": [4],
    "chain-semicolons": [3],
    "class-body-chain": [6],
    "nested-class-method": None,
    "try-star": [7],
    "global-nonlocal": [7],
    "type-comment-and-annotations": [5],
    "unicode-names": [4],
}


@pytest.mark.parametrize("name", UNUSUAL.keys())
def test_unusual_decorators_and_chains(name: str) -> None:
    head = "from config import app, image\nimport modal\n"
    source = head + UNUSUAL[name]
    for variant in (source, source.replace("\n", "\r\n"), source.replace("\n", "\r")):
        summary = check_summary(variant.encode())
        assert summary.error is None, summary.error
        expected = UNUSUAL_WRITE_LINES[name]
        if expected is not None:
            lines = [
                e.line
                for f in summary.functions
                for e in f.effects
                if type(e).__name__ == "WriteSite"
            ]
            assert lines == expected, repr(variant)


# -- a whole project ------------------------------------------------------------------------------


def test_clean_project_baseline(tmp_path: Path) -> None:
    analysis = analyse(make_project(tmp_path))
    assert analysis.errors == ()
    assert_good_reported(analysis)


BAD_FILES: dict[str, tuple[bytes, int | None, str]] = {
    "syntax-error": (b"def broken(:\n    pass\n", None, "syntax error"),
    "invalid-utf8": (b"x = 1\ny = 2\nz = '\xff\xfe'\n", 3, "UTF-8"),
    "nul-byte": (b"x = 1\ny = '\x00'\n", 2, "NUL"),
    "unknown-coding": (b"# coding: nope\nx = 1\n", 1, "encoding"),
    "truncated-example": ((EXAMPLE_ROOT / "ingest/people.py").read_bytes()[:1400], None, "syntax"),
    "example-broken-file": (
        (EXAMPLE_ROOT / "ingest/broken_syntax.py").read_bytes(),
        None,
        "syntax",
    ),
    "inconsistent-tabs": (b"if x:\n\ty = 1\n        z = 2\n", None, "tabs"),
    "deep-but-safe": (_nested("(", ")", 150), None, ""),
}


@pytest.mark.parametrize("rel", ["ingest/bad.py", "ingest/sub/bad.py", "helpers.py"])
@pytest.mark.parametrize("name", BAD_FILES.keys())
def test_bad_file_next_to_a_good_one(tmp_path: Path, name: str, rel: str) -> None:
    content, line, reason = BAD_FILES[name]
    files: dict[str, bytes | str] = {rel: content}
    if rel == "helpers.py":  # not an ingest file: only read because good.py imports it
        files["ingest/good.py"] = "import helpers\n" + GOOD
    analysis = analyse(make_project(tmp_path, files))
    write_line = GOOD_WRITE_LINE + (rel == "helpers.py")
    [load] = [f for f in analysis.functions if f.file == "ingest/good.py"]
    assert [(w.table, w.location.line) for w in load.writes] == [("events", write_line)]
    validate_report(analysis.to_dict())
    if name == "deep-but-safe":
        return
    error = error_for(analysis, rel)
    assert error.line == (line or python_error_line(content)), error
    assert error.line <= line_count(content) + 1
    assert reason.lower() in error.message.lower()
    assert [e.file for e in analysis.errors] == [rel]


@pytest.mark.parametrize(
    "content",
    [b"", b"\xef\xbb\xbf", b"\n\n", b"# nothing\n"],
    ids=["empty", "bom-only", "blank", "comment"],
)
def test_empty_ingest_file_is_not_an_error(tmp_path: Path, content: bytes) -> None:
    analysis = analyse(make_project(tmp_path, {"ingest/empty.py": content}))
    assert analysis.errors == ()
    assert_good_reported(analysis)


@pytest.mark.parametrize("ending", ["\r\n", "\r", "mixed"])
def test_line_endings_in_a_project(tmp_path: Path, ending: str) -> None:
    lines = GOOD.split("\n")[:-1]
    if ending == "mixed":
        text = "".join(line + ("\r\n", "\n", "\r")[i % 3] for i, line in enumerate(lines))
    else:
        text = "".join(line + ending for line in lines)
    analysis = analyse(make_project(tmp_path, {"ingest/good.py": text.encode()}))
    assert_good_reported(analysis)


def test_bom_tabs_crlf_ingest_file(tmp_path: Path) -> None:
    text = "\ufeff" + GOOD.replace("    ", "\t").replace("\n", "\r\n")
    assert_good_reported(analyse(make_project(tmp_path, {"ingest/good.py": text.encode("utf-8")})))


def test_five_megabyte_file_in_a_project(tmp_path: Path) -> None:
    big = GOOD.replace("def load", "def load_big") + "\n" + ("# " + "z" * 998 + "\n") * 5000
    analysis = analyse(make_project(tmp_path, {"ingest/big.py": big}))
    assert_good_reported(analysis)
    assert [f.name for f in analysis.functions if f.file == "ingest/big.py"] == ["load_big"]


def test_invalid_string_literal_next_to_a_good_file(tmp_path: Path) -> None:
    """(Passes but for the line: the file is reported as an internal error on line 1.)"""
    bad = (
        b"from config import app\n\n@app.function()\ndef f(c):\n    c.table('\\N{nope}')"
        b".insert(1)\n"
    )
    analysis = analyse(make_project(tmp_path, {"ingest/bad.py": bad}))
    assert_good_reported(analysis)
    assert error_for(analysis, "ingest/bad.py").line == 5


# Things that are not regular files where a file is expected.


def test_directory_named_like_a_python_file(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "src/ingest/x.py").mkdir()
    (project / "src/ingest/empty_dir.py").mkdir()
    analysis = analyse(project)
    assert analysis.errors == ()
    assert_good_reported(analysis)


def test_symlink_loops(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    ingest = project / "src/ingest"
    (ingest / "loop_dir").symlink_to(ingest, target_is_directory=True)  # a directory loop
    (ingest / "up").symlink_to("..", target_is_directory=True)
    (ingest / "a.py").symlink_to("b.py")  # a file loop
    (ingest / "b.py").symlink_to("a.py")
    (ingest / "self.py").symlink_to("self.py")
    analysis = analyse(project)
    assert_good_reported(analysis)
    assert {e.file for e in analysis.errors} == {"ingest/a.py", "ingest/b.py", "ingest/self.py"}
    for rel in ("ingest/a.py", "ingest/b.py", "ingest/self.py"):
        assert "cannot read" in error_for(analysis, rel).message


def test_broken_symlink(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "src/ingest/gone.py").symlink_to(tmp_path / "does-not-exist.py")
    analysis = analyse(project)
    assert_good_reported(analysis)
    assert "cannot read" in error_for(analysis, "ingest/gone.py").message


def test_symlink_pointing_outside_the_source_root(tmp_path: Path) -> None:
    """A file link is read like a file, reported under its own path inside the root; a
    directory link is not followed. Nothing outside the root shows up as an absolute path."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "elsewhere.py").write_text(GOOD.replace("def load", "def load_outside"))
    (outside / "pkg").mkdir()
    (outside / "pkg/hidden.py").write_text(GOOD.replace("def load", "def load_hidden"))
    project = make_project(tmp_path / "project")
    (project / "src/ingest/linked.py").symlink_to(outside / "elsewhere.py")
    (project / "src/ingest/linked_dir").symlink_to(outside / "pkg", target_is_directory=True)
    (project / "src/ingest/etc.py").symlink_to("/etc/hostname")
    analysis = analyse(project)
    assert_good_reported(analysis)
    report = json.dumps(analysis.to_dict())
    assert str(outside) not in report and "/etc/" not in report
    assert "load_hidden" not in report
    assert {f.file for f in analysis.functions} <= {"ingest/good.py", "ingest/linked.py"}


@contextmanager
def _unreadable_as(path: Path) -> Iterator[None]:
    """Makes ``path`` unreadable for the block. Root reads any file whatever its mode, so as
    root the block runs with the effective uid of ``nobody`` (the real uid stays root)."""
    path.chmod(0)
    if os.geteuid() != 0:
        if os.access(path, os.R_OK):
            pytest.skip("chmod 000 does not stop this user reading")
        yield
        return
    try:
        os.setegid(65534)
        os.seteuid(65534)
    except OSError as exc:
        pytest.skip(f"cannot drop privileges to make a file unreadable: {exc}")
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_unreadable_file() -> None:
    # The project must be reachable by `nobody`: pytest's tmp_path is private to root.
    root = Path(tempfile.mkdtemp(prefix="conformance-unreadable-"))
    try:
        project = make_project(root, {"ingest/secret.py": GOOD})
        for directory in [root, *root.rglob("*")]:
            if directory.is_dir():
                directory.chmod(0o755)
            else:
                directory.chmod(0o644)
        analyse(project)  # loads every lazily imported module while still privileged
        with _unreadable_as(project / "src/ingest/secret.py"):
            analysis = analyse(project)
        assert_good_reported(analysis)
        error = error_for(analysis, "ingest/secret.py")
        assert (error.line, error.message) == (1, "cannot read file: Permission denied")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_unreadable_special_file(tmp_path: Path) -> None:
    """A file that exists but fails to read even for root (EIO from /proc/self/mem)."""
    if not Path("/proc/self/mem").exists():
        pytest.skip("no /proc")
    project = make_project(tmp_path)
    (project / "src/ingest/mem.py").symlink_to("/proc/self/mem")
    analysis = analyse(project)
    assert_good_reported(analysis)
    assert "cannot read" in error_for(analysis, "ingest/mem.py").message


def test_fifo_does_not_hang(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    os.mkfifo(project / "src/ingest/pipe.py")
    report = analyse_isolated(project, timeout=10)
    assert "ingest/good.py" in json.dumps(report)


# Combinations on the example project: break one ingest file, everything else is unchanged.


def _leaf_ingest_files() -> list[str]:
    """Ingest files of the example project no other analysed module imports."""
    sources = {p.relative_to(EXAMPLE_ROOT).as_posix(): p for p in EXAMPLE_ROOT.rglob("*.py")}
    modules = {rel[:-3].replace("/", ".").removesuffix(".__init__"): rel for rel in sources}
    imported: set[str] = set()
    for rel, path in sources.items():
        if rel == "app.py":
            continue
        summary = summarize(path.read_bytes(), rel[:-3].replace("/", "."), rel, False)
        imported.update(summary.imports)
    return sorted(
        rel
        for mod, rel in modules.items()
        if rel.startswith("ingest/")
        and not rel.endswith("__init__.py")
        and not any(i == mod or i.startswith(mod + ".") for i in imported)
    )


def _shape(analysis: Analysis, skip: str) -> list[tuple[object, ...]]:
    return [
        (
            f.file,
            f.name,
            f.line,
            tuple((w.schema, w.table, w.operation, w.location) for w in f.writes),
        )
        for f in analysis.functions
        if f.file != skip
    ]


@pytest.fixture(scope="module")
def example_baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Analysis]:
    root = tmp_path_factory.mktemp("warehouse") / "warehouse"
    shutil.copytree(REPO / "examples/warehouse", root)
    return root, analyse(root)


@pytest.mark.parametrize("damage", ["truncate", "nul", "utf8", "crlf"])
def test_damaging_one_example_file_leaves_the_rest(
    tmp_path: Path, damage: str, example_baseline: tuple[Path, Analysis]
) -> None:
    base_root, baseline = example_baseline
    leaves = _leaf_ingest_files()
    assert len(leaves) >= 5
    rel = random.Random(damage).choice(leaves)
    root = tmp_path / "warehouse"
    shutil.copytree(base_root, root)
    path = root / "modal-functions/src" / rel
    data = path.read_bytes()
    damaged = {
        "truncate": data[: len(data) * 2 // 3],
        "nul": data + b"\x00",
        "utf8": data.replace(b"\n", b"\n\xff", 1),
        "crlf": data.replace(b"\n", b"\r\n"),
    }[damage]
    path.write_bytes(damaged)
    analysis = analyse(root)
    validate_report(analysis.to_dict())
    assert _shape(analysis, rel) == _shape(baseline, rel)
    if damage == "crlf":
        assert analysis == baseline
    elif damage != "truncate" or summarize(damaged, "m", rel, False).error:
        assert rel in {e.file for e in analysis.errors}


# Known failures of the project level that per-file tests cannot show.


def test_deep_value_through_the_process_pool(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {f"ingest/m{i}.py": f"x = {i}\n" for i in range(50)}
    files["ingest/deep.py"] = "X = a" + ".b" * 420 + "\n"
    report = analyse_isolated(make_project(tmp_path, files), timeout=60, jobs=2)
    assert "ingest/good.py" in json.dumps(report)


def test_conditional_string_building_is_not_exponential(tmp_path: Path) -> None:
    body = "".join(f"    if k == {i}:\n        sql += ' AND c{i} = 1'\n" for i in range(22))
    src = (
        "from config import app\n\n\n@app.function()\ndef build(conn, k):\n"
        "    sql = 'UPDATE t SET a = 1'\n" + body + "    conn.execute(sql)\n"
    )
    report = analyse_isolated(make_project(tmp_path, {"ingest/filters.py": src}), timeout=10)
    assert "ingest/filters.py" in json.dumps(report)


# -- the command line -----------------------------------------------------------------------------


def _cli(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or REPO,
    )


def test_cli_scan_json_with_every_kind_of_bad_file(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {
        f"ingest/{name.replace('-', '_')}.py": content
        for name, (content, _, _) in BAD_FILES.items()
    }
    project = make_project(tmp_path, files)
    (project / "src/ingest/dir.py").mkdir()
    (project / "src/ingest/loop.py").symlink_to("loop.py")
    (project / "src/ingest/gone.py").symlink_to(tmp_path / "missing.py")
    for jobs in ("1", "2"):
        proc = _cli("scan", str(project), "--format", "json", "--no-cache", "--jobs", jobs)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        report = json.loads(proc.stdout)
        validate_report(report)
        assert [f["name"] for f in report["functions"] if f["file"].endswith("good.py")] == ["load"]
        errors = {e["file"].rsplit("src/", 1)[-1]: e for e in report["errors"]}
        expected = {
            f"ingest/{name.replace('-', '_')}.py": (content, line)
            for name, (content, line, _) in BAD_FILES.items()
            if name != "deep-but-safe"
        }
        expected |= {"ingest/loop.py": (b"", 1), "ingest/gone.py": (b"", 1)}
        assert sorted(errors) == sorted(expected)
        for rel, (content, line) in expected.items():
            assert errors[rel]["line"] == (line or python_error_line(content)), errors[rel]
            assert errors[rel]["message"] and len(errors[rel]["message"]) <= MAX_REASON


def test_cli_scan_json_of_the_example_project() -> None:
    proc = _cli("scan", "examples/warehouse", "--format", "json", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    validate_report(report)
    assert "ingest/broken_syntax.py" in json.dumps(report)


# -- analysed code never runs ---------------------------------------------------------------------

# Every way a file could run if the analyzer imported it: module top level, decorators, default
# arguments, class bodies, package __init__, the entry point, `if __name__ == "__main__"`, and
# modules named like what the tool itself imports (shadowing on sys.path).
_TRAP = 'open({marker!r} + "-{where}", "w").write("ran")\n'
SHADOWS = (
    "libcst",
    "click",
    "json",
    "yaml",
    "sqlglot",
    "jsonschema",
    "psycopg",
    "typing_extensions",
    "pickle",
    "hashlib",
    "typing",
    "queue",
    "signal",
    "platform",
    "tempfile",
    "secrets",
)


def _trap_project(root: Path, marker: str) -> Path:
    def trap(where: str) -> str:
        return _TRAP.format(marker=marker, where=where)

    decorated = GOOD.replace("@app.function()", "@app.function()\n@trap_decorator")
    ingest = decorated + textwrap.dedent(f"""
        import helpers

        {trap("ingest-top")}
        def trap_decorator(f):
            {trap("decorator")}
            return f


        def defaulted(x=open({marker!r} + "-default", "w")):
            pass


        class Body:
            {trap("class-body")}

        if __name__ == "__main__":
            {trap("main")}
    """)
    files: dict[str, bytes | str] = {
        "ingest/good.py": ingest,
        "ingest/__init__.py": trap("package-init"),
        "helpers.py": trap("helper-import"),
        "app.py": "from ingest import good\n" + trap("entry-point"),
        "config.py": CONFIG + trap("config"),
        "conftest.py": trap("conftest"),
        "sitecustomize.py": trap("sitecustomize"),
    }
    for shadow in SHADOWS:
        files[f"{shadow}.py"] = trap(f"shadow-{shadow}")
    return make_project(root, files)


def _ran(marker: str) -> list[str]:
    return sorted(p.name for p in Path(marker).parent.glob(Path(marker).name + "-*"))


def test_trap_project_is_analysed_without_running_anything(tmp_path: Path) -> None:
    marker = str(tmp_path / "marker")
    project = _trap_project(tmp_path / "project", marker)
    before = set(sys.modules)
    analysis = analyse(project)
    analyse(project, use_cache=True)
    analyse(project, use_cache=True)  # from the cache
    assert _ran(marker) == []
    assert not {"ingest", "ingest.good", "helpers", "app", "config"} & (set(sys.modules) - before)
    [load] = [f for f in analysis.functions if f.name == "load"]
    assert [(w.table, w.operation) for w in load.writes] == [("events", "insert")]
    # The trap itself works: running the module does leave the marker.
    subprocess.run([sys.executable, str(project / "src/helpers.py")], check=True, timeout=60)
    assert _ran(marker) == ["marker-helper-import"]


def test_cli_never_runs_analysed_code(tmp_path: Path) -> None:
    """The CLI, serially and through the process pool, and the console script from inside the
    source root (where modules named like the tool's imports sit in the working directory)."""
    marker = str(tmp_path / "marker")
    project = _trap_project(tmp_path / "project", marker)
    for i in range(50):  # enough files for the process pool
        (project / f"src/ingest/m{i}.py").write_text(_TRAP.format(marker=marker, where=f"m{i}"))
    for cwd in (REPO, project):
        for jobs in ("1", "2"):
            proc = _cli(
                "scan", str(project), "--format", "json", "--no-cache", "--jobs", jobs, cwd=cwd
            )
            assert _ran(marker) == [], (cwd, jobs)
            assert proc.returncode == 0, proc.stderr
    conformance = Path(sys.executable).with_name("conformance")
    if conformance.exists():
        proc = subprocess.run(
            [str(conformance), "scan", "..", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=project / "src",
        )
        assert _ran(marker) == []
        assert proc.returncode == 0, proc.stderr


def test_python_dash_m_from_the_source_root_runs_nothing(tmp_path: Path) -> None:
    marker = str(tmp_path / "marker")
    project = _trap_project(tmp_path / "project", marker)
    _cli("scan", "..", "--format", "json", "--no-cache", cwd=project / "src")
    assert _ran(marker) == []


def test_ingest_modules_are_not_importable_side_effects(tmp_path: Path) -> None:
    """Mode bits do not matter: an executable file with a shebang is only read."""
    marker = str(tmp_path / "marker")
    project = make_project(
        tmp_path / "project",
        {
            "ingest/script.py": "#!/bin/sh\n" + _TRAP.format(marker=marker, where="script"),
        },
    )
    script = project / "src/ingest/script.py"
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    analysis = analyse(project)
    assert_good_reported(analysis)
    assert _ran(marker) == []
