"""The live registry table: read it, apply a registry file to it, snapshot it to a file.

The only module that talks to PostgreSQL (psycopg 3, imported lazily so the offline hook never
loads it). Every failure becomes a one-line ConformanceError (exit 2) whose text never holds the
DSN's password: messages name the DSN through :func:`redact_dsn`, and psycopg's own error text is
scrubbed of the password before it is shown.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance import sqlgen
from conformance.config import DEFAULT_ENTITY_TYPES, DEFAULT_TABLE
from conformance.errors import ConformanceError
from conformance.model import REGISTRY_COLUMNS, Registry, RegistryProblem
from conformance.registry.entries import RawEntry, validate_entries
from conformance.registry.file import write_registry_file
from conformance.registry.plan import Plan, plan, refuse_mass_deactivation
from conformance.sources import redact_dsn, scrub

if TYPE_CHECKING:
    import psycopg

DEFAULT_STATEMENT_TIMEOUT = 10.0
DEFAULT_CONNECT_TIMEOUT = 5
# How long past the server's statement timeout the client waits for an answer before it gives
# the connection up: a server (or a network path) that stopped answering would otherwise block
# the run forever, since the server-side timeout needs a server that still runs.
CLIENT_GRACE = 5.0
# Without these a table is not a registry the rules can use; every other column may be missing
# from an older table and reads as its default.
REQUIRED_COLUMNS: tuple[str, ...] = ("workflow_slug", "modal_function_name")


@dataclass(frozen=True)
class Timeouts:
    """``connect``: seconds to establish a session (libpq ``connect_timeout``); ``statement``:
    the server-side statement timeout, which the client also enforces (plus CLIENT_GRACE)."""

    connect: float = DEFAULT_CONNECT_TIMEOUT
    statement: float = DEFAULT_STATEMENT_TIMEOUT
    grace: float = CLIENT_GRACE

    @property
    def client(self) -> float:
        return self.statement + self.grace


class _Watchdog:
    """Gives a connection up when a statement gets no answer within the client deadline: the
    socket is shut down from a timer thread, so the blocked call returns with an error."""

    def __init__(self, conn: psycopg.Connection[Any], seconds: float) -> None:
        self.conn = conn
        self.seconds = seconds
        self.fired = False

    @contextmanager
    def armed(self) -> Iterator[None]:
        timer = threading.Timer(self.seconds, self._fire)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _fire(self) -> None:
        self.fired = True
        with suppress(Exception):
            sock = socket.socket(fileno=os.dup(self.conn.fileno()))
            try:
                sock.shutdown(socket.SHUT_RDWR)
            finally:
                sock.close()


def _failure(
    exc: Exception, dsn: str, doing: str, timeouts: Timeouts, watchdog: _Watchdog | None = None
) -> ConformanceError:
    import psycopg

    reason = scrub(str(exc), dsn) or type(exc).__name__
    statement_timeout = timeouts.statement
    if watchdog is not None and watchdog.fired:
        reason = (
            f"no answer within {timeouts.client:g}s (statement timeout {statement_timeout:g}s "
            f"+ {timeouts.grace:g}s): the server or the network stopped answering"
        )
    elif isinstance(exc, psycopg.errors.QueryCanceled):
        reason = (
            f"statement timeout after {statement_timeout:g}s (is another session holding a lock?)"
        )
    elif isinstance(exc, psycopg.errors.InsufficientPrivilege):
        reason = f"permission denied: {reason}"
    elif _connection_lost(exc):
        reason = f"connection lost: {reason}"
    return ConformanceError(f"{doing} {redact_dsn(dsn)} failed: {reason}")


def _connection_lost(exc: Exception) -> bool:
    """Returns whether ``exc`` means the session is gone (not a server-side error in it)."""
    import psycopg

    state = getattr(exc, "sqlstate", None)
    return isinstance(exc, psycopg.OperationalError) and (
        state is None or state.startswith(("08", "57P"))
    )


@contextmanager
def _session(dsn: str, timeouts: Timeouts, doing: str) -> Iterator[_Session]:
    """Connects and yields a session whose every statement the client deadline guards; a
    psycopg error inside becomes a one-line ConformanceError naming what was being done."""
    sqlgen.require_psycopg()  # a one-line error when psycopg finds no libpq
    import psycopg

    idle = max(1, int(timeouts.statement))
    # a peer that vanished (no RST) is noticed by TCP instead of never; what the DSN itself
    # says wins
    wanted: dict[str, Any] = {
        "connect_timeout": max(1, round(timeouts.connect)),
        "application_name": "conformance",
        "keepalives": 1,
        "keepalives_idle": idle,
        "keepalives_interval": max(1, idle // 3),
        "keepalives_count": 3,
    }
    try:
        given = psycopg.conninfo.conninfo_to_dict(dsn)
        extra = {k: v for k, v in wanted.items() if k not in given}
        conn = psycopg.connect(dsn, autocommit=False, **extra)
    except (psycopg.Error, ValueError, TypeError) as exc:
        reason = scrub(str(exc), dsn) or type(exc).__name__
        raise ConformanceError(f"cannot connect to {redact_dsn(dsn)}: {reason}") from None
    session = _Session(conn, dsn, timeouts, doing)
    try:
        yield session
    except psycopg.Error as exc:
        with suppress(Exception):
            conn.rollback()
        raise session.failure(exc) from None
    finally:
        with suppress(Exception):
            conn.close()


class _Session:
    """A connection whose statements each get an answer within the client deadline."""

    def __init__(
        self, conn: psycopg.Connection[Any], dsn: str, timeouts: Timeouts, doing: str
    ) -> None:
        self.conn = conn
        self.dsn = dsn
        self.timeouts = timeouts
        self.doing = doing
        self.watchdog = _Watchdog(conn, timeouts.client)

    def execute(self, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
        with self.watchdog.armed():
            cur = self.conn.execute(query, params)
            return cur.fetchall() if cur.description is not None else []

    def rows(self, query: Any) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        with self.watchdog.armed(), self.conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query).fetchall()

    def commit(self) -> None:
        with self.watchdog.armed():
            self.conn.commit()

    def rollback(self) -> None:
        with self.watchdog.armed():
            self.conn.rollback()

    def set_statement_timeout(self) -> None:
        milliseconds = f"{int(self.timeouts.statement * 1000)}ms"
        self.execute("SELECT set_config('statement_timeout', %s, true)", [milliseconds])

    def failure(self, exc: Exception) -> ConformanceError:
        return _failure(exc, self.dsn, self.doing, self.timeouts, self.watchdog)


@dataclass(frozen=True)
class TableState:
    """What the registry table looks like in the database: whether its schema and table exist,
    the columns it lacks, whether the unique index on ``workflow_slug`` exists, and a
    ``fingerprint`` of all that and every row (what a plan is made against)."""

    schema_exists: bool = False
    table_exists: bool = False
    missing_columns: tuple[str, ...] = ()
    has_unique: bool = False
    fingerprint: str = ""

    def ddl(self, table: str) -> tuple[str, ...]:
        """Returns what :func:`sqlgen.ddl` would change, one line per change, in its order."""
        schema, name = sqlgen.split_table(table)
        out = [] if self.schema_exists else [f"create schema {schema}"]
        if not self.table_exists:
            columns = len(sqlgen.TABLE_COLUMNS)
            return (
                *out,
                f"create table {table} ({columns} columns, workflow_slug unique)",
            )
        out += [f"add column {c} {sqlgen.COLUMN_TYPES[c]}" for c in self.missing_columns]
        if not self.has_unique:
            out.append(f"create unique index {name}_workflow_slug_key on {table} (workflow_slug)")
        return tuple(out)


def _fingerprint(shape: list[Any], rows: list[dict[str, Any]]) -> str:
    """A digest of the table's shape and of every row's registry columns, in slug order."""
    canonical = sorted(
        ([_plain(row.get(c)) for c in REGISTRY_COLUMNS] for row in rows),
        key=lambda values: str(values[0]),
    )
    text = json.dumps([shape, canonical], ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read(
    session: _Session, table: str, entity_types: Iterable[str] | None, missing_ok: bool
) -> tuple[Registry, TableState]:
    from psycopg import sql

    schema, name = sqlgen.split_table(table)
    source = redact_dsn(session.dsn)
    found = session.execute(
        "SELECT to_regnamespace(%s) IS NOT NULL, to_regclass(%s)::oid, to_regclass(%s) IS NOT NULL",
        [
            sqlgen.quote_ident(schema),
            sqlgen.qualified(table),
            f"{sqlgen.quote_ident(schema)}.{sqlgen.quote_ident(f'{name}_workflow_slug_key')}",
        ],
    )
    has_schema, oid, has_unique = found[0] if found else (False, None, False)
    if oid is None:
        what = f"registry table {table}" if has_schema else f"schema {schema} (of {table})"
        if missing_ok:
            problem = RegistryProblem(f"{what} does not exist yet")
            shape = [bool(has_schema), False, [], False]
            state = TableState(bool(has_schema), fingerprint=_fingerprint(shape, []))
            return Registry((), source, (problem,)), state
        raise ConformanceError(f"{what} does not exist in {source}")
    present = {
        row[0]
        for row in session.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0 "
            "AND NOT attisdropped",
            [oid],
        )
    }
    lacking = [c for c in REQUIRED_COLUMNS if c not in present]
    if lacking:
        raise ConformanceError(
            f"registry table {table} in {source} lacks column(s) {', '.join(lacking)}"
        )
    columns = [c for c in REGISTRY_COLUMNS if c in present]
    query = sql.SQL("SELECT {} FROM {} ORDER BY workflow_slug").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Identifier(schema, name)
    )
    rows = session.rows(query)
    missing = tuple(c for c in sqlgen.TABLE_COLUMNS if c not in present)
    shape = [True, True, sorted(present & set(sqlgen.TABLE_COLUMNS)), bool(has_unique)]
    state = TableState(True, True, missing, bool(has_unique), _fingerprint(shape, rows))
    problems = [
        RegistryProblem(
            f"registry table {table} lacks column {c}; read as its default "
            "(emit-sql or apply adds it)",
            None,
            c,
        )
        for c in REGISTRY_COLUMNS
        if c not in present
    ]
    raw = []
    for row in rows:
        if row["workflow_slug"] is None:
            problems.append(RegistryProblem("a row has no workflow_slug", None, "workflow_slug"))
            continue
        # NULL in a boolean or array column of an older table means "the default"
        raw.append(
            RawEntry(
                {k: _plain(v) for k, v in row.items() if v is not None or k in sqlgen.TEXT_COLUMNS}
            )
        )
    entries, found_problems = validate_entries(raw, entity_types, keep_invalid=True)
    return Registry(entries, source, (*problems, *found_problems)), state


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    if value is None or isinstance(value, (str, bool)):
        return value
    return str(value)


def load_registry_db(
    dsn: str,
    table: str = DEFAULT_TABLE,
    *,
    entity_types: Iterable[str] | None = DEFAULT_ENTITY_TYPES,
    timeouts: Timeouts = Timeouts(),
) -> Registry:
    """Returns the registry held in ``table``, read in one read-only transaction.

    Missing optional columns read as defaults and are named in ``problems``, as are rows whose
    values a registry file would reject (those rows are kept). Raises ConformanceError for an
    unreachable server, failed login, missing database, schema, table or required column, a
    missing privilege, a statement timeout or a server that stops answering. Never writes.
    """
    sqlgen.split_table(table)
    with _session(dsn, timeouts, "reading the registry from") as session:
        session.conn.read_only = True
        session.set_statement_timeout()
        registry, _state = _read(session, table, entity_types, missing_ok=False)
        session.rollback()
        return registry


def plan_against(
    dsn: str,
    file_registry: Registry,
    table: str = DEFAULT_TABLE,
    *,
    entity_types: Iterable[str] | None = DEFAULT_ENTITY_TYPES,
    timeouts: Timeouts = Timeouts(),
    allow_mass_deactivation: bool = False,
    protect: Iterable[str] = (),
) -> Plan:
    """Returns the plan that brings the database in line with ``file_registry``: the DDL the
    table needs, the rows to insert, update and deactivate (``protect``ed slugs are never
    deactivated), and the fingerprint of the state it was made against. Read in one read-only
    transaction; a missing schema or table is DDL to run, not an error. Never writes.
    """
    sqlgen.split_table(table)
    with _session(dsn, timeouts, "reading the registry from") as session:
        session.conn.read_only = True
        session.set_statement_timeout()
        current, state = _read(session, table, entity_types, missing_ok=True)
        session.rollback()
    planned = plan(current, file_registry, protect=protect)
    refuse_mass_deactivation(current, planned, allow_mass_deactivation)
    return replace(planned, ddl=state.ddl(table), fingerprint=state.fingerprint)


def apply(
    dsn: str,
    file_registry: Registry,
    table: str = DEFAULT_TABLE,
    *,
    dry_run: bool = False,
    entity_types: Iterable[str] | None = DEFAULT_ENTITY_TYPES,
    timeouts: Timeouts = Timeouts(),
    allow_mass_deactivation: bool = False,
    protect: Iterable[str] = (),
    expect: Plan | None = None,
) -> Plan:
    """Returns the plan, after running it: DDL, upserts and deactivations in one transaction.

    With ``expect`` (a plan made and reviewed before, e.g. read from ``plan --out``), that plan
    is run exactly, and only if the database is still in the state it was made against (its
    ``fingerprint``); ``file_registry`` is then not used. ``protect``ed slugs are never
    deactivated.

    The transaction holds ``pg_advisory_xact_lock`` on the table's key and reads the database
    under it, so concurrent applies run one after the other and end as one would. With
    ``dry_run`` nothing is written. Deactivating more than a tenth of the active rows needs
    ``allow_mass_deactivation`` (see :func:`refuse_mass_deactivation`). A session the server
    makes read-only (``default_transaction_read_only``) is respected: nothing is written and
    the error says so.
    Raises ConformanceError, having written nothing, when the file registry has problems or
    anything fails (everything is rolled back).
    """
    import psycopg

    if expect is None and file_registry.problems:
        first = file_registry.problems[0]
        where = f" (line {first.line})" if first.line else ""
        raise ConformanceError(
            f"refusing to apply a registry with {len(file_registry.problems)} problem(s); "
            f"first: {first.message}{where}"
        )
    sqlgen.split_table(table)
    with _session(dsn, timeouts, "applying the registry to") as session:
        try:
            result = _apply_in(
                session,
                file_registry,
                table,
                dry_run,
                entity_types,
                allow_mass_deactivation,
                protect,
                expect,
            )
        except psycopg.Error as exc:
            with suppress(Exception):
                session.conn.rollback()
            raise ConformanceError(session.failure(exc).message + "; nothing was changed") from None
        if dry_run:
            return result
        try:
            session.commit()
        except psycopg.Error as exc:
            error = _failure(exc, dsn, "committing the registry to", timeouts, session.watchdog)
            if _connection_lost(exc):
                raise ConformanceError(
                    error.message + "; the commit may or may not have happened: "
                    "run `conformance diff` to see"
                ) from None
            raise ConformanceError(error.message + "; nothing was changed") from None
        return result


def _apply_in(
    session: _Session,
    file_registry: Registry,
    table: str,
    dry_run: bool,
    entity_types: Iterable[str] | None,
    allow_mass_deactivation: bool,
    protect: Iterable[str] = (),
    expect: Plan | None = None,
) -> Plan:
    """Runs everything of :func:`apply` but the commit (the whole of a dry run)."""
    if dry_run:
        session.conn.read_only = True
    session.set_statement_timeout()
    if not dry_run:
        (read_only,) = session.execute("SELECT current_setting('transaction_read_only')")[0]
        if read_only == "on":
            raise ConformanceError(
                f"{redact_dsn(session.dsn)} gives this session read-only transactions "
                "(default_transaction_read_only is on); nothing was changed"
            )
        session.execute(sqlgen.lock(table))
    current, state = _read(session, table, entity_types, missing_ok=True)
    if expect is not None:
        if expect.fingerprint != state.fingerprint:
            raise ConformanceError(
                "the database registry changed since the plan was made (its rows or its table "
                "are not what the plan was reviewed against); nothing was changed: make a new "
                "plan"
            )
        result = expect
    else:
        result = plan(current, file_registry, protect=protect)
    refuse_mass_deactivation(current, result, allow_mass_deactivation)
    result = replace(result, ddl=state.ddl(table), fingerprint=state.fingerprint)
    if dry_run:
        session.rollback()
        return result
    session.execute(sqlgen.ddl(table))
    for text in (
        sqlgen.upserts(result.upserted, table),
        sqlgen.deactivations((e.workflow_slug for e in result.deactivations), table),
    ):
        if text:
            session.execute(text)
    return result


def snapshot(
    dsn: str,
    path: str | os.PathLike[str],
    table: str = DEFAULT_TABLE,
    *,
    entity_types: Iterable[str] | None = DEFAULT_ENTITY_TYPES,
    timeouts: Timeouts = Timeouts(),
) -> Registry:
    """Returns the database registry after writing it to the file at ``path`` (atomically).

    Raises ConformanceError (nothing written) when reading fails or a row could not be loaded
    back from a file (e.g. a slug that is not kebab-case).
    """
    registry = load_registry_db(dsn, table, entity_types=entity_types, timeouts=timeouts)
    write_registry_file(Path(path), registry)
    return registry
