"""The analyzer against the bundled example's hand-written truth, and one shape per test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from analysis_helpers import evidence, make_project, normalise

from conformance.analysis.project import analyze_project
from conformance.config import load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "warehouse"

CONFIG = """
import modal
app = modal.App("wh")
"""


def scan(root: Path, files: dict[str, str], settings: str = "") -> dict:
    """The normal form of the project's analysis, each function with its writes' evidence
    (``via``, line, call path; see analysis_helpers.evidence)."""
    make_project(root, {"config.py": CONFIG, **files}, settings)
    analysis = analyze_project(load_config(root), use_cache=False)
    result = normalise(analysis)
    chains = evidence(analysis)
    for fn in result["functions"]:
        fn["evidence"] = chains[f"{fn['file']}::{fn['name']}"]
    return result


def only(result: dict) -> dict:
    assert len(result["functions"]) == 1, result["functions"]
    return result["functions"][0]


# the bundled examples, and how many writes each one's evidence must at least hold
EXAMPLES = [
    pytest.param(EXAMPLE, 60, id="warehouse"),
    pytest.param(ROOT / "examples" / "multiapp", 8, id="multiapp"),
]


@pytest.mark.parametrize("example, _writes", EXAMPLES)
def test_example_project_matches_its_expected_output(example: Path, _writes: int) -> None:
    """Every function (its App and the entry points that deploy it), table and operation, and
    every write's evidence: how its name was known (``via``), its line, and the call path
    that reaches it."""
    expected = json.loads((example / "expected.json").read_text())
    analysis = analyze_project(load_config(example), use_cache=False)
    got = normalise(analysis)
    assert got == {k: v for k, v in expected.items() if k != "evidence"}
    assert evidence(analysis) == expected["evidence"]


@pytest.mark.parametrize("example, writes", EXAMPLES)
def test_the_expected_evidence_points_at_the_writes_in_the_source(
    example: Path, writes: int
) -> None:
    """An independent check of expected.json's evidence: each write's line holds the write
    (the client method, the SQL target, or the call handing a constant's SQL to the driver),
    and each step of a call path holds a call of the next function."""
    import re

    source = load_config(example).source_root

    def line(place: str) -> str:
        file, number = place.rsplit(":", 1)
        return (source / file).read_text().splitlines()[int(number) - 1]

    words = {  # the client or session method, the SQL keyword, or the HTTP method
        "insert": ("insert", "INSERT", "COPY", "to_sql", "post", "add", "bulk_"),
        "upsert": ("upsert", "insert", "INSERT", "post", "put", "merge"),
        "update": ("update", "UPDATE", "patch", "bulk_update"),
        "delete": ("delete", "DELETE"),
        "merge": ("MERGE",),
        "truncate": ("TRUNCATE",),
    }
    pattern = re.compile(r"(\S+) (\S+) via (\S+) at (\S+)((?: < \S+ at \S+)*)$")
    expected = json.loads((example / "expected.json").read_text())["evidence"]
    checked = 0
    for items in expected.values():
        for item in items:
            match = pattern.match(item)
            assert match is not None, item
            table, operation, via, place, chain = match.groups()
            text = line(place)
            by_sql = via in ("sql", "constant", "default-schema") and re.search(
                r"\b(execute|executemany|execute_values|copy)\w*\(", text
            )
            assert by_sql or any(w in text for w in words[operation]), (item, text)
            steps = re.findall(r" < (\S+) at (\S+)", chain)
            for caller, at in steps:
                assert "(" in line(at), (item, caller, at)
            checked += 1
    assert checked >= writes


def test_app_alias_and_module_attribute(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "ingest/a.py": """
            import config
            from config import app as wh

            @wh.function()
            def one(): ...

            @config.app.function(name="two-renamed")
            def two(): ...

            def not_modal(): ...
        """,
        },
    )
    assert [(f["name"], f["modal_name"], f["kind"]) for f in result["functions"]] == [
        ("one", "one", "worker"),
        ("two", "two-renamed", "worker"),
    ]


def test_helper_in_other_module_with_call_site_literals(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "extraction/write.py": """
            def _upsert(client, schema, table, row):
                client.schema(schema).from_(table).upsert(row).execute()

            def store(client, row):
                _upsert(client, "core", "company_tags", row)

            def never_called(client):
                client.schema("core").table("ghost").insert({}).execute()
        """,
            "ingest/a.py": """
            from config import app
            from extraction.write import store

            @app.function()
            def f(client):
                store(client, {})
        """,
        },
    )
    fn = only(result)
    assert fn["writes"] == [["core", "company_tags", "upsert"]]
    assert fn["evidence"] == [
        "core.company_tags upsert via argument at extraction/write.py:2"
        " < ingest.a.f at ingest/a.py:6 < extraction.write.store at extraction/write.py:5"
    ]


def test_split_chain_default_schema_and_client_options(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "ingest/a.py": """
            import os
            from supabase import create_client, ClientOptions
            from config import app

            @app.function(schedule=modal.Cron("0 * * * *"))
            def f():
                plain = create_client(os.environ["U"], os.environ["K"])
                raw = create_client("u", "k", options=ClientOptions(schema="raw"))
                tbl = plain.schema("core").from_("companies")
                tbl.upsert({})
                plain.table("scrape_log").insert({}).execute()
                raw.table("payloads").insert({}, upsert=True).execute()
                plain.schema("reference").from_("registry").select("*").execute()
        """,
        },
    )
    fn = only(result)
    assert fn["kind"] == "scheduled"
    assert fn["writes"] == [
        ["core", "companies", "upsert"],
        ["public", "scrape_log", "insert"],
        ["raw", "payloads", "upsert"],
    ]


def test_literal_loop_constants_and_fstrings(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "tables.py": """
            PREFIX = "company"
            TAGS = ("company_keywords", "company_categories")
        """,
            "ingest/a.py": """
            from config import app
            import tables
            from tables import TAGS
            RAW_TABLE = "signal_payloads"

            @app.function()
            def f(client):
                client.schema("raw").from_(RAW_TABLE).insert({}).execute()
                for t in TAGS:
                    client.schema("core").from_(t).upsert({}).execute()
                for t in ("a", "b"):
                    client.schema("core").from_(t).upsert({}).execute()
                client.schema("extracted").table(f"{tables.PREFIX}_signals").update({}).eq("x", 1).execute()
        """,
        },
    )
    fn = only(result)
    assert fn["writes"] == [
        ["core", "a", "upsert"],
        ["core", "b", "upsert"],
        ["core", "company_categories", "upsert"],
        ["core", "company_keywords", "upsert"],
        ["extracted", "company_signals", "update"],
        ["raw", "signal_payloads", "insert"],
    ]
    assert fn["evidence"] == [
        "core.a upsert via loop at ingest/a.py:12",
        "core.b upsert via loop at ingest/a.py:12",
        "core.company_categories upsert via loop at ingest/a.py:10",
        "core.company_keywords upsert via loop at ingest/a.py:10",
        "extracted.company_signals update via constant at ingest/a.py:13",
        "raw.signal_payloads insert via constant at ingest/a.py:8",
    ]


def test_dynamic_names_are_unresolved_with_a_reason(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        {
            "config.py": CONFIG,
            "ingest/a.py": """
        from config import app

        @app.function()
        def f(client, request):
            client.schema("raw").from_(request.table_name).insert({}).execute()
            cur.execute(request.sql)
    """,
        },
    )
    analysis = analyze_project(load_config(tmp_path), use_cache=False)
    (fn,) = analysis.functions
    assert fn.writes == ()
    reasons = sorted((u.location.line, u.reason) for u in fn.unresolved)
    assert reasons[0][0] == 5 and "request" in reasons[0][1]
    assert reasons[1][0] == 6 and "SQL text not known" in reasons[1][1]


def test_classes_whose_bases_form_a_cycle_leave_their_attributes_unresolved(
    tmp_path: Path,
) -> None:
    result = scan(
        tmp_path,
        {
            "ingest/a.py": """
        from config import app

        class A(B):
            pass

        class B(A):
            pass

        @app.function()
        def f(client):
            client.schema("raw").table(A().table).insert({}).execute()
            client.schema("raw").table("a_payloads").insert({}).execute()
    """,
        },
    )
    fn = only(result)
    assert fn["writes"] == [["raw", "a_payloads", "insert"]]
    assert fn["unresolved"] == 1  # A().table, at line 11


def test_sql_text_writes_and_reads(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "ingest/a.py": '''
            from psycopg import sql
            from psycopg2.extras import execute_values
            from config import app

            @app.function()
            def f(cur):
                cur.execute("""UPDATE core.company_customers c SET domain = e.domain
                               FROM extracted.case_studies e WHERE c.url = e.url""")
                execute_values(cur, "INSERT INTO raw.jobs (id) VALUES %s ON CONFLICT (id) DO NOTHING", [])
                cur.execute("INSERT INTO core.x (a) VALUES (%s) ON CONFLICT (a) DO UPDATE SET a = 1", (1,))
                cur.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(sql.Identifier("staging", "rows")), (1,))
                cur.execute("SELECT * FROM core.nothing")
        ''',
        },
    )
    assert only(result)["writes"] == [
        ["core", "company_customers", "update"],
        ["core", "x", "upsert"],
        ["raw", "jobs", "insert"],
        ["staging", "rows", "delete"],
    ]


def test_spawn_is_an_invocation_not_a_write(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "ingest/a.py": """
            from config import app

            @app.function()
            def callee(client):
                client.schema("core").table("t").insert({}).execute()

            @app.function()
            def caller(client):
                callee.spawn(client)
                client.rpc("merge_company", {}).execute()
        """,
        },
    )
    caller = next(f for f in result["functions"] if f["name"] == "caller")
    assert caller["writes"] == [] and caller["invokes"] == ["callee"]
    assert caller["rpc"] == ["merge_company"]


def test_import_cycle_and_function_local_import(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "extraction/a.py": """
            from extraction import b

            def one(client, depth):
                client.schema("core").table("a").insert({}).execute()
                b.two(client, depth)
        """,
            "extraction/b.py": """
            from extraction import a

            def two(client, depth):
                client.schema("core").table("b").insert({}).execute()
                a.one(client, depth)
        """,
            "ingest/x.py": """
            from config import app

            @app.function()
            def f(client):
                from extraction.a import one
                one(client, 0)
        """,
        },
    )
    assert only(result)["writes"] == [["core", "a", "insert"], ["core", "b", "insert"]]


def test_app_cls_methods_and_deployment(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "app.py": """
            from ingest.a import Worker
        """,
            "ingest/a.py": """
            import modal
            from config import app

            @app.cls()
            class Worker:
                @modal.enter()
                def setup(self):
                    self.client = make()

                @modal.method()
                def run(self):
                    self._save()

                def _save(self):
                    self.client.schema("core").table("w").upsert({}).execute()

            @app.function()
            @modal.fastapi_endpoint(method="POST")
            def same_module(): ...
        """,
            "ingest/b.py": """
            from config import app

            @app.function()
            def hidden(): ...
        """,
        },
        settings='entrypoint = "app.py"\n',
    )
    by_name = {f["name"]: f for f in result["functions"]}
    assert set(by_name) == {"Worker.run", "same_module", "hidden"}
    # Modal registers every function of a module the entry point imports
    assert by_name["Worker.run"]["deployed"] and by_name["same_module"]["deployed"]
    assert not by_name["hidden"]["deployed"]
    assert by_name["same_module"]["kind"] == "web"
    assert by_name["Worker.run"]["writes"] == [["core", "w", "upsert"]]


def test_syntax_error_is_reported_and_others_still_analysed(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "ingest/bad.py": "def broken(:\n",
            "ingest/good.py": """
            from config import app

            @app.function()
            def good(client):
                client.schema("raw").table("t").insert({}).execute()
        """,
        },
    )
    assert result["errors"] == ["ingest/bad.py"]
    assert only(result)["writes"] == [["raw", "t", "insert"]]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_write_lines_are_exact(tmp_path: Path, newline: str) -> None:
    source = newline.join(
        [
            "from config import app",
            "",
            "@app.function()",
            "def f(client):",
            "    (",
            "        client.schema('core')",
            "        .table('t')",
            "        .upsert({})",
            "        .execute()",
            "    )",
            "",
        ]
    )
    make_project(tmp_path, {"config.py": CONFIG})
    (tmp_path / "src" / "ingest").mkdir()
    (tmp_path / "src" / "ingest" / "a.py").write_bytes(source.encode())
    (fn,) = analyze_project(load_config(tmp_path), use_cache=False).functions
    assert fn.line == 4
    assert [w.location.line for w in fn.writes] == [8]


def test_dispatch_tables_storage_buckets_sqlalchemy_text_and_to_sql(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "ingest/a.py": """
            from sqlalchemy import text
            from config import app

            def _company(client, payload):
                client.schema("core").table("companies").upsert(payload).execute()

            def _person(client, payload):
                client.schema("core").table("people").upsert(payload).execute()

            HANDLERS = {"company": _company, "person": _person}

            @app.function()
            def f(client, session, df, request):
                HANDLERS[request.kind](client, request.payload)
                client.storage.from_("exports").update("a.csv", b"x")
                session.execute(text("DELETE FROM staging.exports WHERE done"))
                df.to_sql("frames", session, schema="raw", if_exists="append")
        """,
        },
    )
    assert only(result)["writes"] == [
        ["core", "companies", "upsert"],
        ["core", "people", "upsert"],
        ["raw", "frames", "insert"],
        ["staging", "exports", "delete"],
    ]


def test_callbacks_lambdas_enums_and_asyncpg_copies(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "ingest/a.py": """
            import enum
            from concurrent.futures import ThreadPoolExecutor
            from threading import Thread
            from config import app

            class Table(str, enum.Enum):
                EVENTS = "events"

            def _store(client, table):
                client.schema("raw").table(table).insert({}).execute()

            def _audit(client):
                client.table("audit").insert({}).execute()

            @app.function()
            @modal.fastapi_endpoint(method="POST")
            async def f(client, background_tasks, conn):
                background_tasks.add_task(_store, client, "queued")
                with ThreadPoolExecutor() as pool:
                    pool.submit(_store, client, "submitted")
                    pool.map(_audit, [client])
                Thread(target=_store, args=(client, "threaded")).start()
                retry(lambda: client.schema("core").table(Table.EVENTS.value).upsert({}).execute())
                await conn.copy_records_to_table("bulk", records=[], schema_name="staging")
        """,
        },
    )
    assert only(result)["writes"] == [
        ["core", "events", "upsert"],
        ["public", "audit", "insert"],
        ["raw", "queued", "insert"],
        ["raw", "submitted", "insert"],
        ["raw", "threaded", "insert"],
        ["staging", "bulk", "insert"],
    ]


def test_parse_without_node_checks_builds_the_same_trees_and_restores_the_checks() -> None:
    """speedups.parse_module skips libcst's per-node checks while it parses: the trees are the
    ones libcst builds with them, and hand-built nodes are checked again afterwards."""
    import libcst as cst

    from conformance.analysis.parse import speedups

    assert speedups._SKIP_VALIDATION  # the installed libcst's hook only validates
    sources = [p.read_bytes() for p in sorted(EXAMPLE.rglob("*.py"))]
    assert len(sources) > 20
    for source in sources:
        try:
            expected = cst.parse_module(source)
        except cst.ParserSyntaxError:
            with pytest.raises(cst.ParserSyntaxError):
                speedups.parse_module(source)
            continue
        assert speedups.parse_module(source).deep_equals(expected)
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")


def test_a_libcst_whose_hook_does_more_than_validate_keeps_it() -> None:
    from conformance.analysis.parse import speedups

    def hook(self: object) -> None:
        self._validate()  # type: ignore[attr-defined]
        self._remember = 1  # type: ignore[attr-defined]

    assert speedups._validates_only(speedups._VALIDATE_HOOK)
    assert not speedups._validates_only(hook)
    assert not speedups._validates_only(None)


def test_the_analysis_is_the_same_with_the_speedups_switched_off(tmp_path: Path) -> None:
    """CONFORMANCE_SPEEDUPS=0 parses with libcst's checks and finds lines through its public
    PositionProvider: every function, write, line and call path of the example is the same."""
    import os
    import subprocess
    import sys

    def scan(switch: str) -> str:
        env = {**os.environ, "CONFORMANCE_SPEEDUPS": switch}
        done = subprocess.run(
            [sys.executable, "-m", "conformance", "scan", str(EXAMPLE), "--format", "json"]
            + ["--no-cache", "--jobs", "1"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert scan("0") == scan("1")


TRICKY_LINES = """
import httpx

def f(client, rows, record):
    (
        client.schema("core")
        .from_("jobs")
        .delete()
        .eq("domain", record.get("domain"))
        .execute()
    )
    row = {
        "a": record.get("a"),
        "b": record.get("b") or record.get("c"),
        "d": f"{record.get('d')}",
    }
    if isinstance(row, dict) and save(
        client, row
    ):
        pass
    for item in sorted(
        rows, key=len
    ):
        client.table("t").insert(item).execute()
    with httpx.Client() as http, http.stream(
        "GET", "u"
    ) as s:
        save(client, s)
    return client.table("x").upsert(
        row
    ).execute()
"""


def test_statement_lines_agree_with_libcsts_public_positions() -> None:
    """lines.mark_lines takes most lines from ``ast`` (one occurrence line per name) and
    generates single statements only for the rest; libcst's public PositionProvider over the
    whole module is the reference."""
    import ast

    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    from conformance.analysis.parse import speedups
    from conformance.analysis.parse.lines import mark_lines
    from conformance.analysis.parse.reader import Reader

    sources = [TRICKY_LINES.encode()] + [p.read_bytes() for p in sorted(EXAMPLE.rglob("*.py"))]
    checked = 0
    for source in sources:
        try:
            tree = ast.parse(source)
            module = speedups.parse_module(source)
        except (SyntaxError, cst.ParserSyntaxError):
            continue
        reader = Reader("m", False)
        reader.run(module)
        marks = reader.lines_needed()
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        got = mark_lines(module, tree, marks)
        for (stmt, node), line in zip(marks, got, strict=True):
            # by design a call in a decorator or default counts as the def line
            if not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                assert line == positions[node].start.line
                checked += 1
    assert checked > 300


def test_methods_named_like_write_verbs_on_the_projects_own_receivers_are_followed(
    tmp_path: Path,
) -> None:
    """``self.sessions.update(state)``, ``store.insert(...)``, ``audit.insert(...)``: the
    receiver is the project's own (an instance, an attribute holding one, a module), so the call
    runs the project's method or function, whose writes are the function's; a supabase builder's
    ``.update`` stays a write."""
    result = scan(
        tmp_path,
        {
            "ingest/a.py": """
            from config import app
            from helpers import audit

            class Sessions:
                def __init__(self, conn):
                    self.conn = conn

                def update(self, state):
                    self.conn.cursor().execute("UPDATE chat_sessions SET state = %s", (state,))

                def delete(self, key):
                    self.conn.cursor().execute("DELETE FROM staging.chat_keys WHERE k = %s", (key,))

            class Agent:
                def __init__(self, conn):
                    self.sessions = Sessions(conn)

                def run(self, state):
                    self.sessions.update(state)

            def _cleanup(client):
                client.schema("staging").table("chat_keys").delete().execute()

            @app.function()
            def f(conn, client, state, jobs):
                Agent(conn).run(state)
                Sessions(conn).delete(state)
                audit.insert(client, {"state": state})
                client.table("events").update({}).execute()
                jobs.add(_cleanup, client)  # a project function handed to outside code runs
        """,
            "helpers/__init__.py": "",
            "helpers/audit.py": """
            def insert(client, row):
                client.schema("staging").table("audit_log").insert(row).execute()
        """,
        },
    )
    fn = only(result)
    assert fn["writes"] == [
        ["public", "chat_sessions", "update"],
        ["public", "events", "update"],
        ["staging", "audit_log", "insert"],
        ["staging", "chat_keys", "delete"],
    ]
    assert fn["evidence"] == [
        "public.chat_sessions update via default-schema at ingest/a.py:9"
        " < ingest.a.f at ingest/a.py:26 < ingest.a.Agent.run at ingest/a.py:19",
        "public.events update via default-schema at ingest/a.py:29",
        "staging.audit_log insert via literal at helpers/audit.py:2 < ingest.a.f at ingest/a.py:28",
        "staging.chat_keys delete via literal at ingest/a.py:22 < ingest.a.f at ingest/a.py:30",
        "staging.chat_keys delete via sql at ingest/a.py:12 < ingest.a.f at ingest/a.py:27",
    ]
    assert fn["unresolved"] == 0


def test_sql_whose_table_is_literal_and_columns_runtime_is_a_write(tmp_path: Path) -> None:
    """An f-string or a concatenation that names its table in literal text writes that table;
    a runtime part where the table or schema goes stays unresolved, with that part's reason."""
    result = scan(
        tmp_path,
        {
            "ingest/a.py": """
            from config import app

            EVENTS = "events"

            @app.function()
            def f(conn, cols, rows, table, where):
                cur = conn.cursor()
                ph = ", ".join(["%s"] * len(cols))
                cur.executemany(f"INSERT INTO raw.events ({', '.join(cols)}) VALUES ({ph})", rows)
                cur.execute("UPDATE core.counters SET " + ", ".join(cols) + " WHERE id = %s", (1,))
                cur.execute(f"DELETE FROM raw.{EVENTS} {where}")
                cur.execute(f"SELECT {', '.join(cols)} FROM raw.events")
                cur.execute(f"DELETE FROM raw.{table} WHERE id = %s", (1,))
                cur.execute(f"INSERT INTO {table}.audit (x) VALUES (1)")
                cur.execute(f"{where}")
        """,
        },
    )
    fn = only(result)
    assert fn["evidence"] == [
        "core.counters update via sql at ingest/a.py:10",
        "raw.events delete via sql at ingest/a.py:11",
        "raw.events insert via sql at ingest/a.py:9",
    ]
    analysis = analyze_project(load_config(tmp_path), use_cache=False)
    reasons = sorted((u.location.line, u.reason) for u in analysis.functions[0].unresolved)
    runtime = "depends on the runtime value of parameter"
    assert reasons == [
        (13, f"delete into a table not known statically: {runtime} 'table'"),
        (14, f"insert into a schema not known statically (table audit): {runtime} 'table'"),
        (15, f"SQL text not known statically: {runtime} 'where'"),
    ]


def test_storage_bucket_calls_are_not_writes(tmp_path: Path) -> None:
    """``client.storage.from_("b")`` is a bucket of files: its ``upload``/``copy``/``move``/
    ``remove``/``update`` write no table and are no unresolved write, also when the bucket comes
    from a helper; ``shutil.copy`` and ``copy.copy`` are not SQL either, psycopg's ``copy`` is."""
    result = scan(
        tmp_path,
        {
            "ingest/a.py": """
            import copy
            import shutil
            from config import app

            def _bucket(client):
                return client.storage.from_("exports")

            @app.function()
            def f(client, conn, path, obj):
                bucket = _bucket(client)
                bucket.upload(path, b"x")
                bucket.copy(path, "latest.csv")
                bucket.move("a.csv", "b.csv")
                bucket.remove([path])
                bucket.update(path, b"y")
                client.storage.from_("exports").copy(path, "b.csv")
                shutil.copy(path, "/tmp/x")
                copy.copy(obj)
                with conn.cursor() as cur:
                    with cur.copy("COPY raw.events (a) FROM STDIN") as feed:
                        feed.write_row((1,))
        """,
        },
    )
    fn = only(result)
    assert fn["evidence"] == ["raw.events insert via sql at ingest/a.py:20"]
    assert fn["unresolved"] == 0


def test_postgrest_over_http_is_a_table_write(tmp_path: Path) -> None:
    """requests/httpx ``post``/``patch``/``put``/``delete`` to ``…/rest/v1/<table>``: the schema
    is the Content-Profile header's (else public), ``Prefer: resolution=merge-duplicates`` makes
    an upsert; an httpx client's base_url and headers count; ``/rest/v1/rpc/fn`` calls a
    database function; a URL without the segment is another service; a table part known only
    at runtime is unresolved with its reason."""
    result = scan(
        tmp_path,
        {
            "ingest/a.py": """
            import os
            import httpx
            import requests
            from requests import post
            from config import app

            URL = os.environ["SUPABASE_URL"]
            REST = f"{URL}/rest/v1"
            HEADERS = {"apikey": os.environ["KEY"]}

            def _push(table, rows):
                headers = {**HEADERS, "Content-Profile": "raw", "Prefer": "resolution=merge-duplicates"}
                requests.post(f"{REST}/{table}", json=rows, headers=headers)

            @app.function()
            async def f(rows, table, lead_id, hook):
                _push("lead_events", rows)
                requests.patch(f"{URL}/rest/v1/leads?id=eq.{lead_id}", json={}, headers=HEADERS)
                with requests.Session() as session:
                    session.delete(f"{REST}/scratch?id=eq.1", headers={"Content-Profile": "staging"})
                async with httpx.AsyncClient(base_url=REST, headers={"Content-Profile": "core"}) as c:
                    await c.put("/leads", json={})
                    await c.post("/rpc/merge_leads", json={})
                    await c.post(f"/{table}", json={})
                post(f"{URL}/rest/v1/audit", json=rows)
                requests.request("POST", URL + "/rest/v1/lead_" + table, json=rows)
                requests.post(hook, json={})
                httpx.get(f"{REST}/leads")
        """,
        },
    )
    fn = only(result)
    assert fn["evidence"] == [
        "core.leads upsert via literal at ingest/a.py:22",
        "public.audit insert via default-schema at ingest/a.py:25",
        "public.leads update via default-schema at ingest/a.py:18",
        "raw.lead_events upsert via argument at ingest/a.py:13 < ingest.a.f at ingest/a.py:17",
        "staging.scratch delete via literal at ingest/a.py:20",
    ]
    assert fn["rpc"] == ["merge_leads"]
    analysis = analyze_project(load_config(tmp_path), use_cache=False)
    reasons = sorted((u.location.line, u.reason) for u in analysis.functions[0].unresolved)
    assert reasons == [
        (
            24,
            "insert into a table not known statically: depends on the runtime value of"
            " parameter 'table'",
        ),
        (
            26,
            "insert into a table not known statically: a name built at runtime (depends on the"
            " runtime value of parameter 'table')",
        ),
    ]


def test_sqlalchemy_sessions_models_and_core_statements(tmp_path: Path) -> None:
    """A session's add/add_all/merge/delete/bulk_* of a project model write its
    ``__tablename__`` in its ``__table_args__`` schema (a base class's too; else public); an
    executed Core insert/update/delete on a model or a ``Table(..., schema=)`` writes it
    (``on_conflict_do_update``: an upsert), a select does not, a legacy ``query(M)`` does
    when it is told to ``update``/``delete``; ``set.add`` is no write; an object
    whose model is not in the project is unresolved when the receiver is a session."""
    result = scan(
        tmp_path,
        {
            "models.py": """
            from sqlalchemy import Column, Integer, MetaData, Table, UniqueConstraint
            from sqlalchemy.orm import DeclarativeBase, declared_attr

            class Base(DeclarativeBase):
                pass

            class RawModel(Base):
                __abstract__ = True
                __table_args__ = {"schema": "raw"}

            class Event(RawModel):
                __tablename__ = "events"

            class Company(Base):
                __tablename__ = "companies"
                __table_args__ = (UniqueConstraint("domain"), {"schema": "core"})

            class Note(Base):
                __tablename__ = "notes"

            class Dynamic(Base):
                @declared_attr
                def __tablename__(cls):
                    return cls.__name__.lower()

            class Plain:
                pass

            audit = Table("audit", MetaData(), Column("id", Integer), schema="staging")
        """,
            "ingest/a.py": """
            from sqlalchemy import delete, select, update
            from sqlalchemy.dialects.postgresql import insert as pg_insert
            from sqlalchemy.orm import Session, sessionmaker
            from config import app
            from models import Company, Dynamic, Event, Note, Plain, audit
            from vendor.models import Remote

            SessionLocal = sessionmaker()

            @app.function()
            def f(engine, rows, seen, key):
                with SessionLocal() as session:
                    session.add(Event(id=1))
                    session.add_all([Company(**row) for row in rows])
                    session.merge(Note(id=2))
                    session.delete(Note(id=3))
                    session.bulk_insert_mappings(Company, rows)
                    session.execute(pg_insert(Event).values(rows).on_conflict_do_update())
                    session.execute(update(audit).where(audit.c.id == 1).values(x=1))
                    session.execute(delete(Company).where(Company.id == 1))
                    session.execute(audit.insert().values(rows))
                    session.execute(select(Event))
                    session.add(Dynamic())
                    session.add(Remote())
                    session.query(Note).filter(Note.id == 4).update({"body": ""})
                seen.add(key)
                seen.add(Plain())
                with Session(engine) as other:
                    other.bulk_save_objects([Note(id=i) for i in rows])
        """,
        },
    )
    fn = only(result)
    assert fn["evidence"] == [
        "core.companies delete via constant at ingest/a.py:20",
        "core.companies insert via constant at ingest/a.py:14",
        "core.companies insert via constant at ingest/a.py:17",
        "public.notes delete via default-schema at ingest/a.py:16",
        "public.notes insert via default-schema at ingest/a.py:29",
        "public.notes update via default-schema at ingest/a.py:25",
        "public.notes upsert via default-schema at ingest/a.py:15",
        "raw.events insert via constant at ingest/a.py:13",
        "raw.events upsert via constant at ingest/a.py:18",
        "staging.audit insert via constant at ingest/a.py:21",
        "staging.audit update via constant at ingest/a.py:19",
    ]
    analysis = analyze_project(load_config(tmp_path), use_cache=False)
    reasons = sorted((u.location.line, u.reason) for u in analysis.functions[0].unresolved)
    assert reasons == [
        (
            23,
            "insert into a table not known statically: Dynamic.__tablename__ is computed"
            " (declared_attr)",
        ),
        (24, "add() of an object whose model is not known: the result of Remote()"),
    ]


LAYOUT = {
    "pipelines/a.py": "from config import app\n\n@app.function()\ndef a(): ...\n",
    "jobs/x_job.py": "from config import app\n\n@app.function()\ndef x(): ...\n",
    "jobs/y.py": "from config import app\n\n@app.function()\ndef y(): ...\n",
    "single.py": "from config import app\n\n@app.function()\ndef s(): ...\n",
}


@pytest.mark.parametrize(
    "ingest, found, unmatched",
    [
        ('["."]', ["a", "s", "x", "y"], ()),
        ('["./"]', ["a", "s", "x", "y"], ()),
        ('["jobs/*_job.py", "single.py", "pipelines"]', ["a", "s", "x"], ()),
        ('["jobs", "ingest"]', ["x", "y"], ("ingest",)),
        ('["nowhere"]', [], ("nowhere",)),
    ],
)
def test_ingest_entries_are_directories_files_globs_or_the_whole_root(
    tmp_path: Path, ingest: str, found: list[str], unmatched: tuple[str, ...]
) -> None:
    make_project(tmp_path, {"config.py": CONFIG, **LAYOUT}, f"ingest = {ingest}\n")
    analysis = analyze_project(load_config(tmp_path), use_cache=False)
    assert sorted(f.name for f in analysis.functions) == found
    assert analysis.searched is not None
    assert analysis.searched.unmatched_ingest == unmatched
    assert analysis.searched.python_files == 5


DEPLOYED = {
    "app.py": """
        from config import app
        from ingest.a import one
    """,
    "ingest/a.py": """
        from config import app
        import ingest.b

        @app.function()
        def one(): ...

        @app.function()
        def two(): ...

        @app.function()
        def uses_c():
            from ingest.c import four
            four.remote()
    """,
    "ingest/b.py": """
        from config import app
        from ingest import shared

        @app.function()
        def three(): ...
    """,
    "ingest/shared.py": """
        from config import app

        @app.function()
        def through_two_modules(): ...
    """,
    "ingest/c.py": """
        from config import app

        @app.function()
        def four(): ...
    """,
    "ingest/d.py": """
        from config import app

        @app.function()
        def five(): ...
    """,
    "ingest/own.py": """
        import modal
        from ingest import main_app_worker

        other = modal.App("other")

        @other.function()
        def six(): ...
    """,
    "ingest/main_app_worker.py": """
        from config import app

        @app.function()
        def seven(): ...
    """,
}


def test_modal_deploys_every_function_of_every_module_the_entry_point_loads(
    tmp_path: Path,
) -> None:
    """Importing one name deploys its whole module; a module imported by an imported module
    too (at module level: an import in a function body runs in the container, after the
    deploy); a file that creates its own App is deployed on its own, and deploys only that
    App's functions (``seven`` is on the main App, which its import does not deploy)."""
    make_project(tmp_path, {"config.py": CONFIG, **DEPLOYED})
    analysis = analyze_project(load_config(tmp_path), use_cache=False)
    by_name = {f.name: (f.app_name, f.deployed_by) for f in analysis.functions}
    assert by_name == {
        "one": ("wh", ("app.py",)),
        "two": ("wh", ("app.py",)),
        "uses_c": ("wh", ("app.py",)),
        "three": ("wh", ("app.py",)),
        "through_two_modules": ("wh", ("app.py",)),
        "four": ("wh", ()),
        "five": ("wh", ()),
        "six": ("other", ("ingest/own.py",)),
        "seven": ("wh", ()),
    }
    assert {f.name for f in analysis.functions if not f.deployed} == {"four", "five", "seven"}
    assert analysis.searched is not None
    assert analysis.searched.entry_points == ("app.py", "ingest/own.py")


def test_several_entry_points_and_the_single_setting(tmp_path: Path) -> None:
    files = {
        "config.py": CONFIG,
        "deploy/__init__.py": "",
        "deploy/jobs.py": "from config import app\nimport ingest.a\n",
        "deploy/hooks.py": "from config import app\nimport ingest.b\n",
        "ingest/a.py": "from config import app\n\n@app.function()\ndef a(): ...\n",
        "ingest/b.py": "from config import app\n\n@app.function()\ndef b(): ...\n",
    }

    def deployed(settings: str, **overrides: str) -> dict[str, tuple[str, ...]]:
        make_project(tmp_path, files, settings)
        analysis = analyze_project(load_config(tmp_path, **overrides), use_cache=False)
        return {f.name: f.deployed_by for f in analysis.functions}

    both = 'entrypoints = ["deploy/jobs.py", "deploy/hooks.py"]\n'
    assert deployed(both) == {"a": ("deploy/jobs.py",), "b": ("deploy/hooks.py",)}
    assert deployed('entrypoints = ["deploy/*.py"]\n') == {
        "a": ("deploy/jobs.py",),
        "b": ("deploy/hooks.py",),
    }
    assert deployed('entrypoint = "deploy/jobs.py"\n') == {"a": ("deploy/jobs.py",), "b": ()}
    # --entrypoint replaces both settings
    assert deployed(both, entrypoint="deploy/hooks.py") == {"a": (), "b": ("deploy/hooks.py",)}
    # no entry point at all: deployment is not known, so nothing is reported as not deployed
    make_project(tmp_path, files, "entrypoint = false\n".replace("false", '"missing.py"'))
    analysis = analyze_project(load_config(tmp_path), use_cache=False)
    assert all(f.deployed for f in analysis.functions)
    assert analysis.searched is not None
    assert analysis.searched.unmatched_entry_points == ("missing.py",)
