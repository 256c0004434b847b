"""sqlgen: every text it emits is executed against a real PostgreSQL and read back."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from analysis_helpers import execute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import sqlgen
from conformance.errors import ConformanceError
from conformance.model import REGISTRY_COLUMNS, RegistryEntry
from conformance.registry.postgres import load_registry_db

TABLE = "reference.enrichment_workflow_registry"
# The registry as the seeds created it, before Phase 1 and the endpoint columns.
NARROW_TABLE = """
CREATE SCHEMA reference;
CREATE TABLE reference.enrichment_workflow_registry (
    id serial PRIMARY KEY,
    workflow_slug text NOT NULL {unique},
    provider text,
    platform text,
    payload_type text,
    entity_type text,
    description text,
    modal_function_name text,
    is_active boolean DEFAULT true,
    created_at timestamptz DEFAULT now()
);
INSERT INTO reference.enrichment_workflow_registry
    (workflow_slug, provider, entity_type, modal_function_name)
VALUES ('legacy-signals', 'acme', 'company', 'ingest_legacy');
"""

ENTRIES = (
    RegistryEntry(
        "company-signals",
        "ingest_company_signals",
        provider="acme",
        platform="modal",
        payload_type="signal",
        entity_type="company",
        description="Signale — Straße, 日本",
        raw_table="raw.signal_payloads",
        extracted_table="extracted.signals",
        core_table="core.companies",
        key_column="domain",
        key_type="text",
        modal_endpoint_url="https://ws--app-ingest-company-signals.modal.run",
        coalesces_to_core=True,
        writes=("core.companies", "extracted.signals", "raw.signal_payloads"),
    ),
    RegistryEntry(
        "person-enrich",
        "ingest_person",
        entity_type="person",
        raw_table="raw.person_payloads",
        writes=("raw.person_payloads",),
    ),
    RegistryEntry(
        "legacy-signals", "ingest_legacy", provider="acme", entity_type="company", is_active=False
    ),
)


def _statements(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("--"))


def _rows(dsn: str, table: str = TABLE) -> list[tuple[object, ...]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY workflow_slug").fetchall()


def _columns(dsn: str) -> list[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'reference' AND table_name = 'enrichment_workflow_registry'"
            )
        ]


# -- pure ------------------------------------------------------------------------------------------


def test_script_is_deterministic_and_sorted() -> None:
    one = sqlgen.script(ENTRIES, ["b-gone", "a-gone"])
    two = sqlgen.script(reversed(ENTRIES), ["a-gone", "b-gone", "a-gone"])
    assert one == two
    slugs = [s for s in ("company-signals", "legacy-signals", "person-enrich")]
    positions = [one.index(f"VALUES ('{s}'") for s in slugs]
    assert positions == sorted(positions)
    assert one.startswith("-- conformance") and one.rstrip().endswith("COMMIT;")
    assert "DELETE" not in _statements(one).upper()


def test_ddl_has_one_add_column_per_column() -> None:
    text = sqlgen.ddl()
    for column in (*REGISTRY_COLUMNS, "created_at", "updated_at"):
        if column != "workflow_slug":
            assert text.count(f'ADD COLUMN IF NOT EXISTS "{column}" ') == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "NULL"),
        (True, "true"),
        (False, "false"),
        ("it's", "'it''s'"),
        ("back\\slash", "E'back\\\\slash'"),
        ((), "'{}'::text[]"),
        (("a", "b'c"), "ARRAY['a', 'b''c']::text[]"),
    ],
)
def test_quote_literal(value: sqlgen.Value, expected: str) -> None:
    assert sqlgen.quote_literal(value) == expected


def test_names_are_quoted_by_psycopg_sql() -> None:
    text = sqlgen.ddl("my_schema.my_table")
    assert 'CREATE SCHEMA IF NOT EXISTS "my_schema";' in text
    assert 'CREATE TABLE IF NOT EXISTS "my_schema"."my_table" (' in text
    assert sqlgen.quote_ident('we"ird') == '"we""ird"'


def test_without_a_loadable_psycopg_the_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    sqlgen.require_psycopg.cache_clear()
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg: ImportError
    try:
        with pytest.raises(ConformanceError, match=r"workflow-conformance\[binary\]"):
            sqlgen.script(ENTRIES)
    finally:
        sqlgen.require_psycopg.cache_clear()


@pytest.mark.parametrize("bad", ["x\x00y", "lone \ud800 surrogate"])
def test_unstorable_text_is_rejected_not_emitted(bad: str) -> None:
    with pytest.raises(ConformanceError, match="NUL character or lone surrogate"):
        sqlgen.upserts([RegistryEntry("a", description=bad)])


@pytest.mark.parametrize("table", ["registry", "a.b.c", 'x."y"', "x.y; drop", "Ref.X", ""])
def test_table_name_must_be_schema_qualified_identifiers(table: str) -> None:
    with pytest.raises(ConformanceError, match="schema.table"):
        sqlgen.script(ENTRIES, table=table)


# -- against PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("start", ["empty", "narrow", "narrow-without-unique"])
def test_script_creates_or_upgrades_then_reads_back_equal(pg_db: str, start: str) -> None:
    if start != "empty":
        execute(pg_db, NARROW_TABLE.format(unique="" if "without" in start else "UNIQUE"))
    text = sqlgen.script(ENTRIES)
    execute(pg_db, text)
    first = _rows(pg_db)
    execute(pg_db, text)  # idempotent: a second run changes nothing, not even updated_at
    assert _rows(pg_db) == first
    loaded = load_registry_db(pg_db)
    assert loaded.entries == tuple(sorted(ENTRIES, key=lambda e: e.workflow_slug))
    assert loaded.problems == ()
    assert set(_columns(pg_db)) >= {*REGISTRY_COLUMNS, "created_at", "updated_at"}


@pytest.mark.postgres
def test_ddl_alone_is_idempotent_and_enforces_unique_slugs(pg_db: str) -> None:
    import psycopg

    execute(pg_db, sqlgen.ddl())
    execute(pg_db, sqlgen.ddl())
    execute(
        pg_db, "INSERT INTO reference.enrichment_workflow_registry (workflow_slug) VALUES ('a')"
    )
    with pytest.raises(psycopg.errors.UniqueViolation):
        execute(
            pg_db, "INSERT INTO reference.enrichment_workflow_registry (workflow_slug) VALUES ('a')"
        )
    row = load_registry_db(pg_db).entries[0]
    assert (row.writes, row.is_active, row.coalesces_to_core) == ((), True, False)


@pytest.mark.postgres
def test_upsert_touches_only_changed_rows(pg_db: str) -> None:
    execute(pg_db, sqlgen.ddl() + sqlgen.upserts(ENTRIES))
    before = {r[0]: r for r in _rows_with_updated(pg_db)}
    changed = RegistryEntry(
        "person-enrich",
        "ingest_person",
        entity_type="person",
        raw_table="raw.person_payloads",
        description="now described",
        writes=("raw.person_payloads",),
    )
    execute(pg_db, sqlgen.upserts([*ENTRIES[:1], changed, *ENTRIES[2:]]))
    after = {r[0]: r for r in _rows_with_updated(pg_db)}
    assert after["company-signals"] == before["company-signals"]
    assert after["legacy-signals"] == before["legacy-signals"]
    assert after["person-enrich"][2] > before["person-enrich"][2]
    assert after["person-enrich"][1] == "now described"


def _rows_with_updated(dsn: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT workflow_slug, description, updated_at "
            "FROM reference.enrichment_workflow_registry"
        ).fetchall()


@pytest.mark.postgres
def test_deactivations_never_delete(pg_db: str) -> None:
    execute(pg_db, sqlgen.script(ENTRIES))
    text = sqlgen.deactivations(["company-signals", "person-enrich", "not-there"])
    assert "DELETE" not in _statements(text).upper()
    execute(pg_db, text)
    entries = {e.workflow_slug: e for e in load_registry_db(pg_db).entries}
    assert set(entries) == {e.workflow_slug for e in ENTRIES}
    assert not any(e.is_active for e in entries.values())
    assert entries["company-signals"].writes == ENTRIES[0].writes
    assert sqlgen.deactivations([]) == ""


@pytest.mark.postgres
def test_script_runs_as_is_with_psql(pg_db: str, tmp_path: Path) -> None:
    psql = _psql()
    script = tmp_path / "registry.sql"
    script.write_text(sqlgen.script(ENTRIES, ["legacy-signals"]), encoding="utf-8")
    for _ in range(2):
        subprocess.run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg_db, "-f", str(script)],
            check=True,
            capture_output=True,
            env=_latin1_env(),
        )
    loaded = {e.workflow_slug: e for e in load_registry_db(pg_db).entries}
    assert loaded["company-signals"] == ENTRIES[0]
    assert not loaded["legacy-signals"].is_active


def _latin1_env() -> dict[str, str]:
    import os

    # the script sets client_encoding itself, so a client defaulting to another one still works
    return {**os.environ, "PGCLIENTENCODING": "LATIN1"}


def _psql() -> str:
    try:
        from pgserver._commands import POSTGRES_BIN_PATH

        bundled = POSTGRES_BIN_PATH / "psql"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("psql")
    if not found:
        pytest.skip("no psql executable")
    return found


# -- hostile values -------------------------------------------------------------------------------

HOSTILE = st.sampled_from(
    [
        "'",
        "''",
        "\\",
        "\\'",
        "$$",
        "$tag$",
        ";",
        "--",
        "/*",
        "*/",
        "\n",
        "\r\n",
        "\t",
        '"',
        "é",
        "日本",
        "\U0001f600",
        "\u2028",
        "E'",
        "{",
        "}",
        ",",
        "NULL",
        " ",
        "%s",
        "%(x)s",
    ]
)
CHARACTERS = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])
TEXT = st.one_of(
    st.lists(st.one_of(HOSTILE, st.text(CHARACTERS, max_size=8)), max_size=6).map("".join),
    st.just("x" * 10_000 + "'\\$$"),
)
OPTIONAL_TEXT = st.one_of(st.none(), TEXT)


@st.composite
def hostile_entries(draw: st.DrawFn) -> list[RegistryEntry]:
    slugs = draw(st.lists(TEXT, min_size=1, max_size=3, unique=True))
    out = []
    for slug in slugs:
        text: dict[str, Any] = {
            c: draw(OPTIONAL_TEXT) for c in sqlgen.TEXT_COLUMNS if c != "workflow_slug"
        }
        for column in ("raw_table", "extracted_table", "core_table"):
            if text[column] is not None:  # the loader qualifies names without a dot
                text[column] = "raw." + text[column]
        writes = tuple(sorted(set(draw(st.lists(TEXT, max_size=4)))))
        out.append(
            RegistryEntry(
                workflow_slug=slug,
                writes=writes,
                coalesces_to_core=draw(st.booleans()),
                is_active=draw(st.booleans()),
                **text,
            )
        )
    return out


@pytest.mark.postgres
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(entries=hostile_entries())
def test_hostile_values_round_trip(pg_db: str, entries: list[RegistryEntry]) -> None:
    execute(pg_db, "DROP SCHEMA IF EXISTS reference CASCADE")
    gone = entries[0].workflow_slug
    execute(pg_db, sqlgen.script(entries, deactivate=[gone]))
    loaded = load_registry_db(pg_db, entity_types=None)
    expected = {e.workflow_slug: e for e in entries}
    expected[gone] = replace(expected[gone], is_active=False)
    assert {e.workflow_slug: e for e in loaded.entries} == expected


@pytest.mark.postgres
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=TEXT)
@pytest.mark.parametrize("conforming", ["on", "off"])
def test_literal_reads_back_under_either_string_setting(
    pg_dsn: str, conforming: str, value: str
) -> None:
    import psycopg

    literal, array = sqlgen.quote_literal(value), sqlgen.quote_literal([value, value])
    name = sqlgen.quote_ident(value[:60] or "x")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"SET standard_conforming_strings = {conforming}")
        conn.execute("SET escape_string_warning = off")
        got = conn.execute(f"SELECT {literal}, {array}").fetchone()
        cur = conn.execute(f"SELECT 1 AS {name}")
        assert cur.description is not None
        assert cur.description[0].name == value[:60] or "x"
    assert got == (value, [value, value])


def test_connecting_without_a_loadable_psycopg_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from conformance.registry.postgres import load_registry_db

    sqlgen.require_psycopg.cache_clear()
    monkeypatch.setitem(sys.modules, "psycopg", None)
    try:
        with pytest.raises(ConformanceError, match=r"psycopg cannot load .*\[binary\]"):
            load_registry_db("postgresql://u@127.0.0.1:1/d")
    finally:
        sqlgen.require_psycopg.cache_clear()
