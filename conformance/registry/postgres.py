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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance import sqlgen
from conformance.config import DEFAULT_ENTITY_TYPES, DEFAULT_TABLE
from conformance.errors import ConformanceError
from conformance.model import REGISTRY_COLUMNS, Registry, RegistryEntry, RegistryProblem
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
class TableColumn:
    """A column of the live registry table, as the catalogue describes it."""

    name: str
    type: str  # format_type(): e.g. ``text``, ``integer``, ``timestamp with time zone``
    not_null: bool = False
    default: str | None = None  # the default's expression, None without one
    identity: bool = False  # GENERATED ... AS IDENTITY
    generated: bool = False  # GENERATED ALWAYS AS (...) STORED

    @property
    def filled_by_database(self) -> bool:
        """Whether the database fills the column itself (identity, serial, generated): the
        tool carries its value for reference and never writes it."""
        serial = self.default is not None and self.default.startswith("nextval(")
        return self.identity or self.generated or serial

    @property
    def needs_value(self) -> bool:
        """Whether an insert must give the column a value (NOT NULL and nothing fills it)."""
        return self.not_null and self.default is None and not self.filled_by_database


@dataclass(frozen=True)
class TableState:
    """What the registry table looks like in the database: whether its schema and table exist,
    the columns it lacks, whether the unique index on ``workflow_slug`` exists, its columns and
    CHECK constraints (name, expression), and a ``fingerprint`` of all that and every row (what
    a plan is made against)."""

    schema_exists: bool = False
    table_exists: bool = False
    missing_columns: tuple[str, ...] = ()
    has_unique: bool = False
    fingerprint: str = ""
    columns: tuple[TableColumn, ...] = ()
    checks: tuple[tuple[str, str], ...] = ()

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

    @property
    def read_only(self) -> frozenset[str]:
        """The columns the tool never writes: those the database fills itself."""
        return frozenset(c.name for c in self.columns if c.filled_by_database)


def _fingerprint(shape: list[Any], rows: list[dict[str, Any]]) -> str:
    """A digest of the table's shape and of every row's columns, in slug order."""
    canonical = sorted(
        (sorted((k, _plain(v)) for k, v in row.items()) for row in rows),
        key=lambda items: str(dict(items).get("workflow_slug")),
    )
    text = json.dumps([shape, canonical], ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# The bookkeeping columns the tool's own table has: the database and the tool maintain them, so
# a registry file never carries them (every apply would otherwise change the file). Nor does it
# carry a column the database fills itself (an identity or serial ``id``): never written, such
# a column keeps its values whatever the file says.
BOOKKEEPING_COLUMNS = sqlgen.BOOKKEEPING_COLUMNS
# Types whose values a registry file holds as they are; any other extra column is read as its
# text form, which PostgreSQL reads back into the column's type when the row is written.
_NATIVE_TYPES = ("text", "character varying", "boolean", "smallint", "integer", "bigint")


def _table_columns(session: _Session, oid: int) -> tuple[TableColumn, ...]:
    rows = session.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '', a.attgenerated <> '' "
        "FROM pg_attribute a LEFT JOIN pg_attrdef d "
        "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [oid],
    )
    return tuple(
        TableColumn(name, type_, bool(not_null), default, bool(identity), bool(generated))
        for name, type_, not_null, default, identity, generated in rows
    )


def _table_checks(session: _Session, oid: int) -> tuple[tuple[str, str], ...]:
    """Returns the table's CHECK constraints as (name, boolean expression)."""
    rows = session.execute(
        "SELECT conname, pg_get_expr(conbin, conrelid) FROM pg_constraint "
        "WHERE conrelid = %s AND contype = 'c' ORDER BY conname",
        [oid],
    )
    return tuple((name, expr) for name, expr in rows if expr)


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
    columns = _table_columns(session, oid)
    present = {c.name for c in columns}
    lacking = [c for c in REQUIRED_COLUMNS if c not in present]
    if lacking:
        raise ConformanceError(
            f"registry table {table} in {source} lacks column(s) {', '.join(lacking)}"
        )
    selected: list[Any] = []
    for column in columns:
        if column.name in BOOKKEEPING_COLUMNS or (
            column.filled_by_database and column.name not in REGISTRY_COLUMNS
        ):
            continue  # the database keeps them; a file carrying them could only go stale
        ident = sql.Identifier(column.name)
        if column.name in REGISTRY_COLUMNS or column.type in _NATIVE_TYPES:
            selected.append(ident)
        else:
            selected.append(sql.SQL("{}::text AS {}").format(ident, ident))
    query = sql.SQL("SELECT {} FROM {} ORDER BY workflow_slug").format(
        sql.SQL(", ").join(selected), sql.Identifier(schema, name)
    )
    rows = session.rows(query)
    missing = tuple(c for c in sqlgen.TABLE_COLUMNS if c not in present)
    checks = _table_checks(session, oid)
    shape = [True, True, [(c.name, c.type) for c in columns], bool(has_unique), checks]
    state = TableState(
        True, True, missing, bool(has_unique), _fingerprint(shape, rows), columns, checks
    )
    problems: list[RegistryProblem] = []
    raw = []
    for row in rows:
        if row["workflow_slug"] is None:
            problems.append(RegistryProblem("a row has no workflow_slug", None, "workflow_slug"))
            continue
        # NULL in a boolean or array column of an older table means "the default"
        raw.append(
            RawEntry(
                {
                    k: _plain(v)
                    for k, v in row.items()
                    if v is not None or k in sqlgen.TEXT_COLUMNS or k not in REGISTRY_COLUMNS
                }
            )
        )
    entries, found_problems = validate_entries(
        raw, entity_types, keep_invalid=True, known_columns=present
    )
    absent = [c for c in REGISTRY_COLUMNS if c not in present]
    notices: tuple[str, ...] = ()
    if absent:
        notices = (
            f"registry table {table} lacks {', '.join(absent)}: read as empty, so what needs "
            "them is not checked (`conformance apply` adds them)",
        )
    return Registry(entries, source, (*problems, *found_problems), notices), state


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    return str(value)


Row = dict[str, Any]


def proposed_row(entry: RegistryEntry, skip: Iterable[str] = ()) -> Row:
    """Returns the row an upsert of ``entry`` proposes: the columns it writes, their values."""
    return dict(sqlgen.written_columns(entry, skip))


def code_row(entry: RegistryEntry, existing: RegistryEntry | None, skip: Iterable[str]) -> Row:
    """Returns the row :func:`sqlgen.code_update` leaves: ``existing`` with the code's columns
    of ``entry``, or (no row yet) the registry columns of ``entry`` alone."""
    if existing is None:
        return {c: getattr(entry, c) for c in REGISTRY_COLUMNS}
    row = proposed_row(existing, skip)
    row.update({c: getattr(entry, c) for c in sqlgen.CODE_COLUMNS})
    return row


def _preflight(session: _Session, state: TableState, table: str, rows: Sequence[Row]) -> None:
    """Raises ConformanceError, naming every entry and column, when writing ``rows`` would
    break the live table: a column it lacks, a NOT NULL column (without a default) left
    empty, a value its type cannot read, a CHECK constraint that is false. Sends nothing but
    reads (inside the caller's transaction, under a savepoint)."""
    if not state.table_exists or not rows:
        return  # the tool's own DDL makes the table: its constraints are the tool's
    columns = {c.name: c for c in state.columns}
    added = set(state.missing_columns)  # the DDL adds them before any row is written
    problems: dict[str, list[str]] = {}
    for row in rows:
        slug = str(row["workflow_slug"])
        found = problems.setdefault(slug, [])
        for name in row:
            if name not in columns and name not in added:
                found.append(f"{name}: the table has no such column")
        for column in state.columns:
            if not column.needs_value or row.get(column.name) is not None:
                continue
            if column.name in row or column.name in REGISTRY_COLUMNS:
                found.append(f"{column.name} is empty (NOT NULL, no default)")
            else:
                found.append(f"{column.name} is not in the entry (NOT NULL, no default)")
    for slug, failed in _evaluate_checks(session, state, table, rows).items():
        problems.setdefault(slug, []).extend(failed)
    named = [(slug, found) for slug, found in sorted(problems.items()) if found]
    if named:
        listed = "; ".join(f"{slug} ({', '.join(found)})" for slug, found in named)
        raise ConformanceError(
            f"refusing to write {len(named)} entr{'y' if len(named) == 1 else 'ies'} the "
            f"table {table} would reject; nothing was sent: {listed}"
        )


def _evaluate_checks(
    session: _Session, state: TableState, table: str, rows: Sequence[Row]
) -> dict[str, list[str]]:
    """Returns, per slug, the CHECK constraints (and type errors) its row fails, evaluated by
    the server on the row typed as the table's (``jsonb_populate_record``) without writing."""
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Jsonb

    checks = list(state.checks)
    schema, name = sqlgen.split_table(table)
    known = {c.name for c in state.columns}
    tests = sql.SQL(", ").join(
        # the constraint's own expression, as the catalogue gives it; a CHECK passes unless false
        sql.SQL("({}) IS NOT FALSE").format(sql.SQL(expr))
        for _, expr in checks
    )
    target = sql.Identifier(schema, name)
    tested = tests if checks else sql.SQL("")
    every = sql.SQL(
        "SELECT ARRAY[{}]::boolean[] FROM jsonb_populate_recordset(NULL::{}, %s)"
        " WITH ORDINALITY AS r ORDER BY r.ordinality"
    ).format(tested, target)
    one = sql.SQL(
        "SELECT ARRAY[{}]::boolean[] FROM jsonb_populate_record(NULL::{}, %s) AS r"
    ).format(tested, target)
    data = [
        {k: (list(v) if isinstance(v, tuple) else v) for k, v in row.items() if k in known}
        for row in rows
    ]
    out: dict[str, list[str]] = {}
    # every row in one statement; only when a value does not read as its column's type is
    # each row tried alone, so that the message names the rows that fail
    try:
        with session.conn.transaction():
            results: list[list[bool] | None] = [
                passed for (passed,) in session.execute(every, [Jsonb(data)])
            ]
    except psycopg.DataError:
        results = []
        for row, values in zip(rows, data, strict=True):
            try:
                with session.conn.transaction():
                    (passed,) = session.execute(one, [Jsonb(values)])[0]
            except psycopg.DataError as exc:
                reason = (str(exc).splitlines() or [type(exc).__name__])[0]
                out.setdefault(str(row["workflow_slug"]), []).append(
                    f"a value the table cannot read: {reason}"
                )
                passed = None
            results.append(passed)
    for row, passed in zip(rows, results, strict=True):
        for (constraint, _), ok in zip(checks, passed or (), strict=False):
            if not ok:
                out.setdefault(str(row["workflow_slug"]), []).append(f"CHECK {constraint} fails")
    return out


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
    with _reading(dsn, timeouts, table) as session:
        registry, _state = _read(session, table, entity_types, missing_ok=False)
    return registry


@contextmanager
def _reading(dsn: str, timeouts: Timeouts, table: str) -> Iterator[_Session]:
    """Yields a session in one read-only transaction, rolled back at the end: nothing done in
    it can write."""
    sqlgen.split_table(table)
    with _session(dsn, timeouts, "reading the registry from") as session:
        session.conn.read_only = True
        session.set_statement_timeout()
        yield session
        session.rollback()


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
    with _reading(dsn, timeouts, table) as session:
        return _plan_in(
            session, file_registry, table, entity_types, protect, allow_mass_deactivation
        )


def _plan_in(
    session: _Session,
    file_registry: Registry,
    table: str,
    entity_types: Iterable[str] | None,
    protect: Iterable[str],
    allow_mass_deactivation: bool,
    expect: Plan | None = None,
) -> Plan:
    """Reads the table in ``session`` and returns the plan, stamped with the DDL the table
    needs and the state's fingerprint: ``expect`` when given (refused when the database
    moved since it was made), else the plan from the file. Refuses a mass deactivation
    unless allowed, and rows the table would reject (:func:`_preflight`)."""
    current, state = _read(session, table, entity_types, missing_ok=True)
    read_only = tuple(sorted(state.read_only))
    if expect is not None:
        if expect.fingerprint != state.fingerprint:
            raise ConformanceError(
                "the database registry changed since the plan was made (its rows or its table "
                "are not what the plan was reviewed against); nothing was changed: make a new "
                "plan"
            )
        planned = expect
    else:
        planned = plan(current, file_registry, protect=protect, read_only=read_only)
    refuse_mass_deactivation(current, planned, allow_mass_deactivation)
    _preflight(session, state, table, [proposed_row(e, read_only) for e in planned.upserted])
    return replace(
        planned, ddl=state.ddl(table), fingerprint=state.fingerprint, read_only=read_only
    )


def plan_code_update(
    dsn: str,
    draft: Callable[[Registry], Sequence[RegistryEntry]],
    table: str = DEFAULT_TABLE,
    *,
    entity_types: Iterable[str] | None = DEFAULT_ENTITY_TYPES,
    timeouts: Timeouts = Timeouts(),
) -> tuple[RegistryEntry, ...]:
    """Returns the entries ``draft`` makes from the database registry (what the code settles),
    after checking that writing only their code columns (:func:`sqlgen.code_update`) breaks
    nothing in the live table: ConformanceError, naming every entry and column, otherwise.
    Read in one read-only transaction. Never writes."""
    with _reading(dsn, timeouts, table) as session:
        current, state = _read(session, table, entity_types, missing_ok=True)
        entries = tuple(draft(current))
        by_slug = {e.workflow_slug: e for e in current.entries}
        skip = state.read_only
        rows = [code_row(e, by_slug.get(e.workflow_slug), skip) for e in entries]
        _preflight(session, state, table, rows)
    return entries


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
    result = _plan_in(
        session, file_registry, table, entity_types, protect, allow_mass_deactivation, expect
    )
    read_only = result.read_only
    if dry_run:
        session.rollback()
        return result
    session.execute(sqlgen.ddl(table))
    for text in (
        sqlgen.upserts(result.upserted, table, read_only),
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
