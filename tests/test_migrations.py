"""Migration files → database functions and what their bodies write (read as data, never run)."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import pytest
from analysis_helpers import make_project

from conformance.analysis.migrations import Database
from conformance.analysis.project import analyze_project
from conformance.analysis.sqlfunctions import MigrationFile, read_migration
from conformance.config import load_config
from conformance.errors import ConformanceError


def read(text: str) -> MigrationFile:
    return read_migration(textwrap.dedent(text).lstrip("\n"), "m.sql")


def writes(migration: MigrationFile, name: str) -> list[tuple[str, str, str, int, str]]:
    (function,) = [f for f in migration.functions if f.name == name and not f.dropped]
    return [(w.schema, w.table, w.operation, w.line, w.via) for w in function.writes]


def test_plpgsql_body_statements_after_then_else_loop_and_into_variables() -> None:
    m = read(
        """
        create table core.leads (id int); -- a statement that is not a function
        CREATE OR REPLACE FUNCTION public.merge(p uuid)
        RETURNS int LANGUAGE plpgsql AS $$
        DECLARE
          v int := 0;  -- a ; in a comment
        BEGIN
          INSERT INTO core.leads (email) SELECT email FROM raw.events WHERE b = p
          ON CONFLICT (email) DO UPDATE SET seen = now()
          RETURNING id INTO v;
          SELECT count(*) INTO v FROM core.leads;
          IF v > 0 THEN
            UPDATE staging.batches SET done = true, note = 'a;b' WHERE id = p;
          ELSE
            DELETE FROM staging.batches WHERE id = p;
          END IF;
          FOR r IN SELECT * FROM raw.events LOOP
            INSERT INTO audit (x) VALUES (r.x);
          END LOOP;
          RETURN v;
        END;
        $$;
        """
    )
    assert m.error is None
    assert writes(m, "merge") == [
        ("core", "leads", "upsert", 7, "sql"),
        ("staging", "batches", "update", 12, "sql"),
        ("staging", "batches", "delete", 14, "sql"),
        ("public", "audit", "insert", 17, "default-schema"),
    ]


def test_sql_bodies_in_tagged_dollars_quotes_and_begin_atomic_with_their_lines() -> None:
    m = read(
        """
        create function a() returns void language sql as $body$
          insert into raw.a values (1);
          delete from raw.b
        $body$;
        create function b() returns void as '
          update raw.c set note = ''it''''s'';
          update raw.d set x = 1' language sql;
        create function c() returns int language sql
        begin atomic
          update raw.e set x = case when x > 1 then 0 else x end;
          select 1;
        end;
        create function d() returns void language sql set search_path = staging, public as $$
          truncate scratch
        $$;
        """
    )
    assert m.error is None
    assert writes(m, "a") == [("raw", "a", "insert", 2, "sql"), ("raw", "b", "delete", 3, "sql")]
    assert writes(m, "b") == [("raw", "c", "update", 6, "sql"), ("raw", "d", "update", 7, "sql")]
    assert writes(m, "c") == [("raw", "e", "update", 10, "sql")]
    assert writes(m, "d") == [("staging", "scratch", "truncate", 14, "sql")]


def test_what_a_body_does_not_show_is_unresolved_with_its_line() -> None:
    m = read(
        """
        create function dyn(t text) returns void language plpgsql as $$
        begin
          execute format('delete from %I', t);
          execute 'select count(*) from ' || quote_ident(t);
          insert into raw.x values (1) on conflict on constraint with garbage here;
        end $$;
        create function js() returns void language plv8 as $$ plv8.execute('x') $$;
        create function c_fn() returns void as 'lib', 'symbol' language c;
        """
    )
    unresolved = {f.name: f.unresolved for f in m.functions}
    assert [line for line, _ in unresolved["dyn"]] == [3, 5]
    assert "EXECUTE" in unresolved["dyn"][0][1]
    assert "cannot be parsed" in unresolved["dyn"][1][1]
    assert unresolved["js"] == (
        (7, "public.js is written in LANGUAGE plv8: its writes are not read"),
    )
    assert "LANGUAGE c" in unresolved["c_fn"][0][1]


def test_calls_are_listed_and_later_migrations_replace_and_drop() -> None:
    first = read(
        """
        create function public.f() returns void language sql
        as $$ insert into raw.old values (1)$$;
        create function public.gone() returns void language sql as $$ delete from raw.x $$;
        create function other.f() returns void language sql as $$ delete from other.t $$;
        """
    )
    second = read(
        """
        drop function if exists gone();
        create or replace function f() returns void language plpgsql as $$
        begin
          perform helper(1);
          v := counter(2);
          insert into raw.new values (unknown_fn(3));
        end $$;
        """
    )
    database = Database([first, second])
    assert not database.lookup("gone")
    (f,) = database.lookup("f")
    assert [w.table for w in f.writes] == ["new"]
    assert f.calls == (("helper", 4), ("unknown_fn", 6))
    assert ("counter", 5) in f.mentions
    assert [d.schema for d in database.lookup("other.f")] == ["other"]


@pytest.mark.parametrize(
    "text, line",
    [
        ("select 1;\ncreate function f() returns void as $$ insert into x values (1);", 2),
        ("create function f() returns void as 'unterminated;", 1),
        ("/* never closed\n\n", 1),
    ],
)
def test_a_file_that_cannot_be_lexed_is_an_error_with_its_line(text: str, line: int) -> None:
    m = read_migration(text, "m.sql")
    assert m.error is not None and m.error[0] == line


def test_random_bytes_never_raise() -> None:
    rng = random.Random(7)
    alphabet = "create or replace function f ( ) returns as $$ $a$ ' \" ; -- /* */ \n begin end"
    pieces = alphabet.split(" ")
    for _ in range(500):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        read_migration(text, "m.sql")


MIGRATION = """\
create or replace function public.merge_leads(p uuid) returns void language plpgsql as $$
begin
  insert into core.leads (id) values (p) on conflict (id) do update set seen = now();
  perform record_score(p);
end $$;

create function record_score(p uuid) returns void language sql as $$
  insert into extracted.lead_scores (id) values (p)
$$;
"""

FILES = {
    "config.py": "import modal\napp = modal.App('wh')\n",
    "ingest/a.py": """
        import os
        import requests
        from config import app

        @app.function()
        def by_rpc(client, batch):
            client.rpc("merge_leads", {"p": batch}).execute()
            client.rpc("merge_company", {}).execute()

        @app.function()
        def by_sql(conn, batch):
            conn.execute("SELECT record_score(%s)", (batch,))

        @app.function()
        def by_http(batch):
            requests.post(os.environ["URL"] + "/rest/v1/rpc/record_score", json={})
    """,
}


def _project(root: Path, settings: str = "", migration_dir: str = "supabase/migrations") -> Path:
    make_project(root, FILES, settings)
    (root / migration_dir).mkdir(parents=True)
    (root / migration_dir / "0001_leads.sql").write_text(MIGRATION, encoding="utf-8")
    return root


def evidence(root: Path) -> dict[str, tuple[list[str], list[str]]]:
    out = {}
    for fn in analyze_project(load_config(root), use_cache=False).functions:
        chains = sorted(
            f"{w.qualified_name} {w.operation} at {w.location}"
            + "".join(f" < {s.function} at {s.location}" for s in w.call_path)
            for w in fn.writes
        )
        out[fn.name] = chains, sorted(r.name or "?" for r in fn.rpc)
    return out


def test_rpc_sql_and_http_calls_credit_the_body_with_the_migration_as_evidence(
    tmp_path: Path,
) -> None:
    found = evidence(_project(tmp_path))
    where = "../supabase/migrations/0001_leads.sql"
    assert found["by_rpc"] == (
        [
            f"core.leads upsert at {where}:3 < ingest.a.by_rpc at ingest/a.py:7",
            f"extracted.lead_scores insert at {where}:8 < ingest.a.by_rpc at ingest/a.py:7"
            f" < public.merge_leads at {where}:4",
        ],
        ["merge_company"],  # no body in the repository: its effect stays unknown
    )
    assert found["by_sql"] == (
        [f"extracted.lead_scores insert at {where}:8 < ingest.a.by_sql at ingest/a.py:12"],
        [],
    )
    assert found["by_http"] == (
        [f"extracted.lead_scores insert at {where}:8 < ingest.a.by_http at ingest/a.py:16"],
        [],
    )


def test_the_migrations_setting_names_other_files(tmp_path: Path) -> None:
    root = _project(tmp_path, 'migrations = ["db/*.sql"]\n', "db")
    found = evidence(root)
    assert found["by_sql"][0] == [
        "extracted.lead_scores insert at ../db/0001_leads.sql:8 < ingest.a.by_sql at ingest/a.py:12"
    ]
    (tmp_path / "pyproject.toml").write_text(
        '[tool.conformance]\nsource_root = "src"\nmigrations = ["../elsewhere/*.sql"]\n'
    )
    with pytest.raises(ConformanceError, match="inside the project"):
        load_config(tmp_path)


def test_without_migrations_rpc_calls_stay_rpc_calls(tmp_path: Path) -> None:
    make_project(tmp_path, FILES)
    found = evidence(tmp_path)
    assert found == {
        "by_rpc": ([], ["merge_company", "merge_leads"]),
        "by_sql": ([], ["record_score"]),
        "by_http": ([], ["record_score"]),
    }


def test_a_changed_migration_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "p").mkdir()
    root = _project(tmp_path / "p")
    config = load_config(root)
    first = analyze_project(config)
    again = analyze_project(config)  # warm: nothing changed
    assert first == again
    path = root / "supabase" / "migrations" / "0001_leads.sql"
    path.write_text(MIGRATION.replace("extracted.lead_scores", "extracted.lead_ranks"))
    changed = {f.name: f for f in analyze_project(config).functions}
    tables = {w.qualified_name for w in changed["by_rpc"].writes}
    assert tables == {"core.leads", "extracted.lead_ranks"}
    (root / "supabase" / "migrations" / "0002_more.sql").write_text(
        "create function merge_company() returns void language sql as $$"
        " delete from core.company_merges $$;\n"
    )
    added = {f.name: f for f in analyze_project(config).functions}
    assert "core.company_merges" in {w.qualified_name for w in added["by_rpc"].writes}
    assert not added["by_rpc"].rpc


def test_an_unreadable_migration_is_an_analysis_error(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "supabase" / "migrations" / "0002_bad.sql").write_bytes(b"create function f( $$\xff")
    analysis = analyze_project(load_config(root), use_cache=False)
    assert [(e.file, e.message) for e in analysis.errors] == [
        ("../supabase/migrations/0002_bad.sql", "file is not valid UTF-8")
    ]
    outside = tmp_path.parent / f"{tmp_path.name}-outside.sql"
    outside.write_text(MIGRATION)
    (root / "supabase" / "migrations" / "0003_link.sql").symlink_to(outside)
    analysis = analyze_project(load_config(root), use_cache=False)
    assert ("../supabase/migrations/0003_link.sql", 1) in {
        (e.file, e.line) for e in analysis.errors
    }
