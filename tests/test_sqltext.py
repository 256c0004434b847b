"""Tests for conformance.analysis.sqltext: which tables a SQL text writes.

Most cases are data in tests/fixtures/sql/writes.yaml; the tests here cover the contract around
them (never raises, records the cache can hold, lazy import, quiet logging, size).
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import records
from conformance.analysis import sqltext
from conformance.analysis.sqltext import SqlAnalysis, SqlWrite, analyze_sql, looks_like_sql

CASES_FILE = Path(__file__).parent / "fixtures" / "sql" / "writes.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))


def expected(case: dict[str, Any]) -> tuple[tuple[SqlWrite, ...], tuple[str, ...]]:
    writes = tuple(SqlWrite(*row) for row in case.get("writes") or [])
    return writes, tuple(case.get("functions") or [])


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case(case: dict[str, Any]) -> None:
    result = analyze_sql(case["sql"])
    if "error" in case:
        assert result.error is not None and case["error"] in result.error
        assert "\n" not in result.error
        assert (result.writes, result.functions) == ((), ())
    else:
        assert result.error is None
        assert (result.writes, result.functions) == expected(case)


def test_cases_are_many_and_named_once() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) >= 30
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT 1",
        "insert into raw.t values (%s)",
        "  \n UPDATE t SET a = 1",
        "-- leading comment\nDELETE FROM t",
        "/* block */ (SELECT 1) UNION (SELECT 2)",
        "((select 1))",
        "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
        "TRUNCATE raw.t",
        "COPY raw.t FROM STDIN",
        "CALL proc()",
        "CREATE TABLE t (a int)",
        "DO $$ BEGIN END $$",
        "select\n*",
        "SELECT;",
    ],
)
def test_looks_like_sql(text: str) -> None:
    assert looks_like_sql(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "-- only a comment",
        "hello world",
        "selected items",
        "insertion sort",
        "https://example.com/select",
        "{}",
        "raw.job_listings",
        "SELECT_ALL",
        "%s",
        "/* unterminated",
    ],
)
def test_does_not_look_like_sql(text: str) -> None:
    assert not looks_like_sql(text)


def test_records_are_frozen_and_survive_the_cache_encoding() -> None:
    result = analyze_sql("WITH m AS (DELETE FROM raw.q RETURNING *) INSERT INTO core.q SELECT 1")
    assert records.decode(records.encode(result) or b"", SqlAnalysis) == result
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.writes[0].table = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.error = "x"  # type: ignore[misc]


def test_no_syntax_tree_escapes() -> None:
    result = analyze_sql("INSERT INTO raw.t SELECT f(x) FROM raw.u")
    assert isinstance(result, SqlAnalysis)
    for write in result.writes:
        assert {type(v) for v in dataclasses.astuple(write)} <= {str, int, type(None)}
    assert all(type(name) is str for name in result.functions)


@pytest.mark.parametrize(
    "text",
    ["\x00", ";;;", "((((", "%", "%(", "%(x", "$$", "$a$ x", "'", '"', "/*", "*/", "\\", "{}{}"]
    + ["INSERT", "INSERT INTO", "UPDATE SET", "DELETE", "WITH", "MERGE INTO t", "TRUNCATE"]
    + ["SELECT " + "(" * 3000 + "1" + ")" * 3000, "\u00e9\u4e2d\U0001f600", "SELECT '\u00e9'"],
)
def test_never_raises(text: str) -> None:
    result = analyze_sql(text)
    assert isinstance(result, SqlAnalysis)
    assert result.error is None or (result.writes == () and "\n" not in result.error)


def test_crash_inside_becomes_an_error_value(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_: object) -> SqlAnalysis:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(sqltext, "_collect", explode)
    result = analyze_sql("INSERT INTO raw.t VALUES (1)")
    assert result == SqlAnalysis((), (), "internal error: RuntimeError: boom second line")


def test_very_long_insert() -> None:
    rows = ",\n".join(f"({i}, 'name {i}', %s)" for i in range(5000))
    text = f"INSERT INTO raw.big (id, name, payload) VALUES\n{rows}\nON CONFLICT (id) DO NOTHING"
    assert analyze_sql(text) == SqlAnalysis((SqlWrite("raw", "big", "insert", 0),), (), None)


def test_many_statements_keep_order_and_lines() -> None:
    text = "\n".join(f"UPDATE raw.t{i} SET a = %s WHERE id = %(id)s;" for i in range(500))
    result = analyze_sql(text)
    assert result.error is None
    assert result.writes == tuple(SqlWrite("raw", f"t{i}", "update", i) for i in range(500))


def test_line_offsets_survive_placeholder_rewrites() -> None:
    text = (
        "SELECT %(a)b,\n  %%s,\n  %s;\n\n"
        "  INSERT INTO raw.t\n  OVERRIDING USER VALUE\n  VALUES (%t)\n"
        "  ON CONFLICT DO NOTHING;\n"
        "UPDATE raw.u SET a = %(a)s\n  WHERE CURRENT OF c; DELETE FROM raw.v"
    )
    assert analyze_sql(text).writes == (
        SqlWrite("raw", "t", "insert", 4),
        SqlWrite("raw", "u", "update", 8),
        SqlWrite("raw", "v", "delete", 9),
    )


def test_command_fallback_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        analyze_sql("DO $$ BEGIN NULL; END $$; CALL p(); VACUUM raw.t")
    assert not [r for r in caplog.records if "Command" in r.getMessage()]


def run_python(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


def test_import_does_not_load_sqlglot() -> None:
    code = "import sys, conformance.analysis.sqltext; print('sqlglot' in sys.modules)"
    assert run_python(code) == "False"


def test_without_sqlglot_the_module_imports_and_does_not_raise() -> None:
    code = (
        "import sys; sys.modules['sqlglot'] = None\n"
        "from conformance.analysis.sqltext import analyze_sql, looks_like_sql\n"
        "assert looks_like_sql('SELECT 1')\n"
        "print(analyze_sql('SELECT 1').error)"
    )
    assert run_python(code).startswith("internal error: ModuleNotFoundError")
