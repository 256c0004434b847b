"""The live registry: reading, planning, applying and snapshotting against a real PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from analysis_helpers import execute
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import sqlgen
from conformance.api import load_registry
from conformance.config import Config
from conformance.errors import ConformanceError
from conformance.model import Registry, RegistryEntry
from conformance.registry.file import load_registry_file
from conformance.registry.plan import RowChange, plan
from conformance.registry.postgres import Timeouts, apply, load_registry_db, snapshot
from conformance.sources import dsn_secrets, parse_source, redact_dsn, scrub

TABLE = "reference.enrichment_workflow_registry"
PASSWORD = "Kn0wn'Pa ss@w0rd/%"

ENTRIES = (
    RegistryEntry(
        "company-signals",
        "ingest_company_signals",
        provider="acme",
        entity_type="company",
        raw_table="raw.signal_payloads",
        core_table="core.companies",
        coalesces_to_core=True,
        writes=("core.companies", "raw.signal_payloads"),
    ),
    RegistryEntry(
        "person-enrich",
        "ingest_person",
        entity_type="person",
        description="Personen — Anreicherung",
        writes=("raw.person_payloads",),
    ),
)
FILE = Registry(ENTRIES, "workflow_registry.yaml")


def _snapshot_rows(dsn: str) -> tuple[list[str], list[tuple[object, ...]]]:
    """Returns the table's columns and every row, exactly (to prove nothing changed)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        cur = conn.execute(f"SELECT * FROM {TABLE} ORDER BY workflow_slug")
        assert cur.description is not None
        return [c.name for c in cur.description], cur.fetchall()


def _assert_clean_error(err: ConformanceError, *secrets: str) -> None:
    text = str(err)
    assert "\n" not in text
    for secret in (PASSWORD, quote(PASSWORD, safe=""), *secrets):
        assert secret not in text


# -- redaction (no database) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (
            "postgresql://alice:s3cret@db.example:5432/app",
            "postgresql://alice:***@db.example:5432/app",
        ),
        (
            "postgresql://alice:p%40ss%3Aw@db/app?sslmode=require",
            "postgresql://alice:***@db/app?sslmode=require",
        ),
        ("postgres://alice:un@encoded@db/app", "postgres://alice:***@db/app"),
        (
            "postgresql://alice@db/app?password=s3cret&sslmode=require",
            "postgresql://alice@db/app?password=***&sslmode=require",
        ),
        ("postgresql:///app?host=/tmp", "postgresql:///app?host=/tmp"),
        (
            "host=db user=alice password=s3cret dbname=app",
            "host=db user=alice password=*** dbname=app",
        ),
        ("host=db password = 'it\\'s secret' dbname=app", "host=db password = *** dbname=app"),
    ],
)
def test_redact_dsn(dsn: str, expected: str) -> None:
    assert redact_dsn(dsn) == expected


def test_scrub_masks_every_form_of_the_password() -> None:
    dsn = f"postgresql://alice:{quote(PASSWORD, safe='')}@db/app"
    text = f"failed for {dsn}\n\tpassword was {PASSWORD} or {quote(PASSWORD, safe='')}"
    out = scrub(text, dsn)
    assert "\n" not in out and PASSWORD not in out and quote(PASSWORD, safe="") not in out
    assert set(dsn_secrets(dsn)) >= {PASSWORD, quote(PASSWORD, safe="")}


@settings(max_examples=300)
@given(secret=st.text(min_size=1, max_size=30).map(lambda s: "PW" + s))
def test_no_form_of_a_password_survives_redaction(secret: str) -> None:
    escaped = secret.replace("\\", "\\\\").replace("'", "\\'")
    dsns = (
        f"postgresql://alice:{quote(secret, safe='')}@db.example:5432/app?sslmode=require",
        f"postgresql://alice@db.example/app?password={quote(secret, safe='')}",
        f"host=db.example user=alice password='{escaped}' dbname=app",
    )
    for dsn in dsns:
        for text in (redact_dsn(dsn), scrub(f"failed: {secret} in {dsn}", dsn)):
            assert secret not in text and quote(secret, safe="") not in text


# -- plan (pure) ----------------------------------------------------------------------------------


def test_plan_inserts_updates_deactivates_and_leaves_the_rest() -> None:
    same = RegistryEntry("same", "f_same")
    old = RegistryEntry("changed", "f_old", writes=("raw.a",))
    new = RegistryEntry("changed", "f_new", writes=("raw.a", "raw.b"))
    gone = RegistryEntry("gone", "f_gone")
    already_off = RegistryEntry("off", "f_off", is_active=False)
    database = Registry((same, old, gone, already_off))
    file = Registry((new, RegistryEntry("added", "f_added"), same))
    result = plan(database, file)
    assert [e.workflow_slug for e in result.inserts] == ["added"]
    assert result.updates == (RowChange(old, new, ("modal_function_name", "writes")),)
    assert [e.workflow_slug for e in result.deactivations] == ["gone"]
    assert result.unchanged == ("off", "same")
    assert result.has_changes
    assert [e.workflow_slug for e in result.upserted] == ["added", "changed"]
    assert result.to_dict()["update"][0]["changes"]["modal_function_name"] == {
        "before": "f_old",
        "after": "f_new",
    }
    assert not plan(file, file).has_changes


# -- reading --------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_missing_table_and_schema_are_clear_errors(pg_db: str) -> None:
    with pytest.raises(ConformanceError, match="schema reference .* does not exist"):
        load_registry_db(pg_db)
    execute(pg_db, "CREATE SCHEMA reference")
    with pytest.raises(ConformanceError, match="registry table .* does not exist"):
        load_registry_db(pg_db)


@pytest.mark.postgres
def test_missing_required_column_is_an_error(pg_db: str) -> None:
    execute(pg_db, f"CREATE SCHEMA reference; CREATE TABLE {TABLE} (workflow_slug text)")
    with pytest.raises(ConformanceError, match="lacks column.* modal_function_name"):
        load_registry_db(pg_db)


@pytest.mark.postgres
def test_narrow_table_loads_with_defaults_and_names_missing_columns(pg_db: str) -> None:
    execute(
        pg_db,
        f"""
        CREATE SCHEMA reference;
        CREATE TABLE {TABLE} (workflow_slug text UNIQUE, modal_function_name text,
                              raw_table text, is_active boolean);
        INSERT INTO {TABLE} VALUES ('legacy', 'ingest_legacy', 'signal_payloads', NULL);
    """,
    )
    registry = load_registry_db(pg_db)
    assert registry.entries == (
        RegistryEntry("legacy", "ingest_legacy", raw_table="raw.signal_payloads"),
    )
    # one notice names every missing column; none is a problem (a CONF010 per column)
    assert not registry.problems
    (notice,) = registry.notices
    named = set(notice.split(": ")[0].split(" lacks ")[1].split(", "))
    assert {"writes", "modal_endpoint_url", "coalesces_to_core"} <= named
    assert "is_active" not in named and "raw_table" not in named
    assert "`conformance apply` adds them" in notice
    assert registry.source == redact_dsn(pg_db)


@pytest.mark.postgres
def test_invalid_rows_are_kept_and_reported(pg_db: str) -> None:
    execute(pg_db, sqlgen.script([RegistryEntry("Bad Slug", "f", entity_type="robot")]))
    registry = load_registry_db(pg_db)
    assert [e.workflow_slug for e in registry.entries] == ["Bad Slug"]
    assert {p.field for p in registry.problems} == {"workflow_slug", "entity_type"}


@pytest.mark.postgres
def test_load_registry_picks_the_source(pg_db: str, tmp_path: Path) -> None:
    apply(pg_db, FILE)
    config = Config(project_dir=tmp_path, source_root=tmp_path)
    assert load_registry(config, parse_source(pg_db, "command line")).entries == ENTRIES
    path = tmp_path / "r.yaml"
    snapshot(pg_db, path)
    source = parse_source(str(path), "command line")
    assert load_registry(config, source, use_cache=False).entries == ENTRIES


# -- failures: one clear line, never the password -------------------------------------------------


@pytest.fixture
def password_role(pg_server: object, pg_db: str) -> Iterator[str]:
    """Returns the role name of a LOGIN role whose password is PASSWORD, required on connect."""
    import psycopg

    role = f"conformance_pw_{uuid.uuid4().hex[:8]}"
    execute(pg_db, f"CREATE ROLE {role} LOGIN PASSWORD {sqlgen.quote_literal(PASSWORD)}")
    data_dir = getattr(pg_server, "data_dir", None)
    if data_dir is not None:
        _require_passwords(Path(data_dir), pg_db)
    try:
        with psycopg.connect(_as_role(pg_db, role, "wrong")):
            pytest.skip("the server does not check passwords (trust authentication)")
    except psycopg.OperationalError:
        pass
    try:
        yield role
    finally:
        execute(pg_db, f"DROP ROLE IF EXISTS {role}")


def _require_passwords(data_dir: Path, dsn: str) -> None:
    hba = data_dir / "pg_hba.conf"
    rule = (
        "local all /^conformance_pw_ scram-sha-256\nhost all /^conformance_pw_ all scram-sha-256\n"
    )
    text = hba.read_text()
    if rule not in text:
        hba.write_text(rule + text)
        execute(dsn, "SELECT pg_reload_conf()")
        time.sleep(0.2)


def _as_role(dsn: str, role: str, password: str, dbname: str | None = None) -> str:
    """Returns a URL DSN for ``role`` on the same server (and database unless ``dbname``)."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(dsn)
    host = str(info.get("host", ""))
    port = info.get("port")
    query = f"?host={quote(host, safe='/')}" + (f"&port={port}" if port else "")
    if not host.startswith("/"):
        query = ""
        host = f"{host}:{port}" if port else host
    else:
        host = ""
    db = dbname or str(info.get("dbname", "postgres"))
    return f"postgresql://{role}:{quote(password, safe='')}@{host}/{db}{query}"


@pytest.mark.postgres
def test_wrong_password_missing_database_and_unreachable_host(
    pg_db: str, password_role: str
) -> None:
    cases = {
        "wrong password": _as_role(pg_db, password_role, PASSWORD + "x"),
        "missing database": _as_role(pg_db, password_role, PASSWORD, "no_such_db_here"),
        "unreachable": f"postgresql://{password_role}:{quote(PASSWORD, safe='')}@127.0.0.1:1/x",
        "malformed": f"postgresql://{password_role}:{PASSWORD}@[bad/db",
    }
    for name, dsn in cases.items():
        with pytest.raises(ConformanceError) as info:
            load_registry_db(dsn, timeouts=Timeouts(connect=2))
        _assert_clean_error(info.value, PASSWORD + "x")
        assert "cannot connect to" in str(info.value), name
        with pytest.raises(ConformanceError) as info:
            apply(dsn, FILE, timeouts=Timeouts(connect=2))
        _assert_clean_error(info.value, PASSWORD + "x")


@pytest.mark.postgres
def test_missing_privilege_is_a_clear_error(pg_db: str, password_role: str) -> None:
    apply(pg_db, FILE)
    dsn = _as_role(pg_db, password_role, PASSWORD)
    assert load_registry_db(pg_db).entries == ENTRIES  # the table is there for its owner
    execute(pg_db, "REVOKE ALL ON SCHEMA reference FROM PUBLIC")
    for action in (
        lambda: load_registry_db(dsn),
        lambda: apply(dsn, FILE),
        lambda: apply(dsn, FILE, dry_run=True),
    ):
        with pytest.raises(ConformanceError, match="permission denied") as info:
            action()
        _assert_clean_error(info.value)
    execute(
        pg_db,
        f"GRANT USAGE ON SCHEMA reference TO {password_role}; "
        f"GRANT SELECT ON {TABLE} TO {password_role}",
    )
    assert load_registry_db(dsn).entries == ENTRIES
    with pytest.raises(ConformanceError, match="permission denied"):
        apply(dsn, Registry(ENTRIES[:1]))
    assert load_registry_db(pg_db).entries == ENTRIES
    execute(
        pg_db,
        f"REVOKE ALL ON ALL TABLES IN SCHEMA reference FROM {password_role}; "
        f"REVOKE ALL ON SCHEMA reference FROM {password_role}",
    )


@pytest.mark.postgres
def test_statement_timeout_when_another_session_holds_a_lock(pg_db: str) -> None:
    import psycopg

    apply(pg_db, FILE)
    with psycopg.connect(pg_db) as blocker:
        blocker.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(ConformanceError, match="statement timeout after 0.5s"):
            load_registry_db(pg_db, timeouts=Timeouts(statement=0.5))
        with pytest.raises(ConformanceError, match="statement timeout.*nothing was changed"):
            apply(pg_db, Registry(ENTRIES[:1]), timeouts=Timeouts(statement=0.5))
        assert time.monotonic() - started < 5
        blocker.rollback()
    assert load_registry_db(pg_db).entries == ENTRIES


# -- applying -------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_apply_creates_then_is_idempotent(pg_db: str) -> None:
    dry = apply(pg_db, FILE, dry_run=True)
    assert [e.workflow_slug for e in dry.inserts] == ["company-signals", "person-enrich"]
    with pytest.raises(ConformanceError, match="does not exist"):
        load_registry_db(pg_db)  # the dry run wrote nothing, not even the table
    first = apply(pg_db, FILE)
    assert first == dry
    assert load_registry_db(pg_db).entries == ENTRIES
    before = _snapshot_rows(pg_db)
    second = apply(pg_db, FILE)
    assert not second.has_changes and second.unchanged == ("company-signals", "person-enrich")
    assert _snapshot_rows(pg_db) == before


@pytest.mark.postgres
def test_apply_upgrades_a_narrow_table_updates_and_deactivates(pg_db: str) -> None:
    execute(
        pg_db,
        f"""
        CREATE SCHEMA reference;
        CREATE TABLE {TABLE} (id serial PRIMARY KEY, workflow_slug text NOT NULL UNIQUE,
            provider text, entity_type text, modal_function_name text,
            is_active boolean DEFAULT true, created_at timestamptz DEFAULT now());
        INSERT INTO {TABLE} (workflow_slug, provider, entity_type, modal_function_name)
        VALUES ('company-signals', 'old', 'company', 'ingest_company_signals'),
               ('retired-flow', NULL, 'company', 'ingest_retired');
    """,
    )
    result = apply(pg_db, FILE)
    assert [e.workflow_slug for e in result.inserts] == ["person-enrich"]
    assert [u.slug for u in result.updates] == ["company-signals"]
    assert "provider" in result.updates[0].columns
    assert [e.workflow_slug for e in result.deactivations] == ["retired-flow"]
    loaded = load_registry_db(pg_db)
    assert loaded.problems == ()
    retired = RegistryEntry(
        "retired-flow", "ingest_retired", entity_type="company", is_active=False
    )
    assert loaded.entries == (ENTRIES[0], ENTRIES[1], retired)  # deactivated, never deleted
    assert not apply(pg_db, FILE).has_changes


@pytest.mark.postgres
def test_failed_apply_rolls_back_everything(pg_db: str) -> None:
    execute(
        pg_db,
        f"""
        CREATE SCHEMA reference;
        CREATE TABLE {TABLE} (workflow_slug text NOT NULL UNIQUE, modal_function_name text,
            description text, is_active boolean DEFAULT true);
        INSERT INTO {TABLE} VALUES ('zz-old', 'f_old', 'kept', true);
        -- fails inside the database, where no preflight can see it coming
        CREATE FUNCTION reference.boom() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN
            IF NEW.description = 'boom' THEN RAISE EXCEPTION 'boom'; END IF;
            RETURN NEW;
        END $f$;
        CREATE TRIGGER boom BEFORE INSERT ON {TABLE} FOR EACH ROW EXECUTE FUNCTION reference.boom();
    """,
    )
    before = _snapshot_rows(pg_db)
    registry = Registry(
        (RegistryEntry("a-first", "f_a"), RegistryEntry("b-second", "f_b", description="boom"))
    )
    with pytest.raises(ConformanceError, match="nothing was changed") as info:
        apply(pg_db, registry)
    _assert_clean_error(info.value)
    assert _snapshot_rows(pg_db) == before  # no new columns, no first row, zz-old still active


@pytest.mark.postgres
def test_apply_refuses_a_registry_with_problems(pg_db: str) -> None:
    from conformance.model import RegistryProblem

    bad = Registry(ENTRIES, "r.yaml", (RegistryProblem("duplicate", "x", "workflow_slug", 3),))
    with pytest.raises(ConformanceError, match="refusing to apply"):
        apply(pg_db, bad)
    with pytest.raises(ConformanceError, match="does not exist"):
        load_registry_db(pg_db)


@pytest.mark.postgres
def test_apply_names_each_row_the_table_would_reject_and_writes_nothing(pg_db: str) -> None:
    """The preflight evaluates every row in one statement; when a value does not read as its
    column's type it tries each row alone, so that the message names exactly those rows."""
    from dataclasses import replace

    apply(pg_db, FILE)
    execute(
        pg_db,
        f"ALTER TABLE {TABLE} ADD COLUMN priority integer, "
        "ADD COLUMN tier text CHECK (tier IN ('gold', 'silver'))",
    )
    before = _snapshot_rows(pg_db)
    company, person = ENTRIES

    def refusal(company_priority: str) -> str:
        """The message of applying company-signals with this priority and a tier its CHECK
        refuses, and person-enrich with values the table takes."""
        entries = (
            replace(company, extra=(("priority", company_priority), ("tier", "bronze"))),
            replace(person, extra=(("priority", "1"), ("tier", "gold"))),
        )
        with pytest.raises(ConformanceError) as refused:
            apply(pg_db, Registry(entries))
        return str(refused.value)

    message = refusal("3")
    assert "refusing to write 1 entry" in message
    assert "company-signals (CHECK " in message and "tier_check fails" in message
    message = refusal("high")
    assert "refusing to write 1 entry" in message
    assert "company-signals (a value the table cannot read: " in message
    assert "tier_check fails" not in message  # a row that cannot be read is not evaluated
    assert _snapshot_rows(pg_db) == before


@pytest.mark.postgres
def test_connection_terminated_mid_apply_changes_nothing(pg_db: str) -> None:
    import psycopg

    apply(pg_db, Registry(ENTRIES[:1]))
    execute(
        pg_db,
        f"""
        CREATE FUNCTION reference.slow() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN
            IF NEW.workflow_slug = 'slow-row' THEN PERFORM pg_sleep(30); END IF;
            RETURN NEW;
        END $f$;
        CREATE TRIGGER slow BEFORE INSERT ON {TABLE}
            FOR EACH ROW EXECUTE FUNCTION reference.slow();
    """,
    )
    before = _snapshot_rows(pg_db)
    errors: list[BaseException] = []
    registry = Registry((*ENTRIES, RegistryEntry("slow-row", "f_slow")))

    def run() -> None:
        try:
            apply(pg_db, registry, timeouts=Timeouts(statement=60))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    with psycopg.connect(pg_db, autocommit=True) as admin:
        for _ in range(200):
            pid = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'conformance' "
                "AND wait_event = 'PgSleep'"
            ).fetchone()
            if pid:
                admin.execute("SELECT pg_terminate_backend(%s)", pid)
                break
            time.sleep(0.05)
        else:
            pytest.fail("the apply never reached the slow row")
    worker.join(10)
    assert len(errors) == 1 and isinstance(errors[0], ConformanceError)
    assert "connection lost" in str(errors[0]) and "nothing was changed" in str(errors[0])
    assert _snapshot_rows(pg_db) == before


@pytest.mark.postgres
def test_concurrent_applies_end_as_one(pg_db: str) -> None:
    import psycopg

    results: list[object] = []

    def run() -> None:
        try:
            results.append(apply(pg_db, FILE))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            results.append(exc)

    with psycopg.connect(pg_db) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [sqlgen.lock_key(TABLE)])
        workers = [threading.Thread(target=run) for _ in range(2)]
        for w in workers:
            w.start()
        with psycopg.connect(pg_db, autocommit=True) as watch:
            for _ in range(200):
                row = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    "'conformance' AND wait_event_type = 'Lock'"
                ).fetchone()
                if row and row[0] == 2:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the two applies never waited on the lock together")
        holder.rollback()  # both start now, one after the other
    for w in workers:
        w.join(30)
    plans = [r for r in results if not isinstance(r, BaseException)]
    assert len(plans) == 2, results
    assert sorted(len(p.inserts) for p in plans) == [0, 2]  # type: ignore[attr-defined]
    assert load_registry_db(pg_db).entries == ENTRIES


# -- snapshot -------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_snapshot_round_trips_through_the_file(pg_db: str, tmp_path: Path) -> None:
    apply(pg_db, FILE)
    path = tmp_path / "workflow_registry.yaml"
    written = snapshot(pg_db, path)
    loaded = load_registry_file(path)
    assert loaded.entries == written.entries == ENTRIES
    assert loaded.problems == ()
    assert not apply(pg_db, loaded).has_changes


@pytest.mark.postgres
def test_snapshot_of_rows_a_file_cannot_hold_writes_nothing(pg_db: str, tmp_path: Path) -> None:
    execute(pg_db, sqlgen.script([*ENTRIES, RegistryEntry("Not Kebab", "f")]))
    path = tmp_path / "workflow_registry.yaml"
    path.write_text("# mine\n")
    with pytest.raises(ConformanceError, match="kebab-case"):
        snapshot(pg_db, path)
    assert path.read_text() == "# mine\n"
