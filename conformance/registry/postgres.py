"""The live registry table: read it, apply a registry file to it, snapshot it to a file.

The only module that talks to PostgreSQL (psycopg 3, imported lazily so the offline hook never
loads it). Every failure becomes a one-line ConformanceError (exit 2) whose text never holds the
DSN's password: messages name the DSN through :func:`redact_dsn`, and psycopg's own error text is
scrubbed of the password before it is shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from conformance import sqlgen
from conformance.config import DEFAULT_ENTITY_TYPES, DEFAULT_TABLE
from conformance.errors import ConformanceError
from conformance.model import REGISTRY_COLUMNS, Registry, RegistryProblem
from conformance.registry.entries import RawEntry, validate_entries
from conformance.registry.file import write_registry_file
from conformance.registry.plan import Plan, plan

if TYPE_CHECKING:
    import psycopg

DEFAULT_STATEMENT_TIMEOUT = 10.0
DEFAULT_CONNECT_TIMEOUT = 5
# Without these a table is not a registry the rules can use; every other column may be missing
# from an older table and reads as its default.
REQUIRED_COLUMNS: tuple[str, ...] = ("workflow_slug", "modal_function_name")
MASK = "***"

_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<rest>.*)$", re.S)
_KV_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)", re.I | re.S)
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.I)


def redact_dsn(dsn: str) -> str:
    """Returns ``dsn`` with any password replaced by ``***`` (URL or ``key=value`` form)."""
    match = _URL.match(dsn)
    if not match:
        return _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, dsn)
    rest = _QUERY_PASSWORD.sub(lambda m: m.group(1) + MASK, match.group("rest"))
    if "@" in rest:
        userinfo, host = rest.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        rest = f"{userinfo}@{host}"
    return match.group("scheme") + rest


def dsn_secrets(dsn: str) -> list[str]:
    """Returns every form the DSN's password can take in an error text (raw and decoded)."""
    found: list[str] = []
    match = _URL.match(dsn)
    if match:
        rest = match.group("rest")
        if "@" in rest and ":" in rest.rsplit("@", 1)[0]:
            found.append(rest.rsplit("@", 1)[0].split(":", 1)[1])
        found.extend(m.group(2) for m in _QUERY_PASSWORD.finditer(rest))
    else:
        for m in _KV_PASSWORD.finditer(dsn):
            value = m.group(2)
            found.append(value)
            if value.startswith("'"):
                inner = value[1:-1] if len(value) > 1 and value.endswith("'") else value[1:]
                found.append(re.sub(r"\\(.)", r"\1", inner, flags=re.S))
    found.extend([unquote(s) for s in found])
    if os.environ.get("PGPASSWORD"):
        found.append(os.environ["PGPASSWORD"])
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub(text: str, dsn: str) -> str:
    """Returns ``text`` on one line with the DSN and every form of its password masked."""
    text = text.replace(dsn, redact_dsn(dsn))
    for secret in dsn_secrets(dsn):
        text = text.replace(secret, MASK)
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _failure(exc: Exception, dsn: str, doing: str, statement_timeout: float) -> ConformanceError:
    import psycopg

    reason = scrub(str(exc), dsn) or type(exc).__name__
    if isinstance(exc, psycopg.errors.QueryCanceled):
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
def _connect(dsn: str, connect_timeout: int) -> Iterator[psycopg.Connection[Any]]:
    import psycopg

    try:
        conn = psycopg.connect(
            dsn,
            connect_timeout=connect_timeout,
            application_name="conformance",
            autocommit=False,
        )
    except (psycopg.Error, ValueError, TypeError) as exc:
        reason = scrub(str(exc), dsn) or type(exc).__name__
        raise ConformanceError(f"cannot connect to {redact_dsn(dsn)}: {reason}") from None
    try:
        yield conn
    finally:
        with suppress(Exception):
            conn.close()


def _set_timeout(conn: psycopg.Connection[Any], seconds: float) -> None:
    conn.execute("SELECT set_config('statement_timeout', %s, true)", [f"{int(seconds * 1000)}ms"])


def _read(
    conn: psycopg.Connection[Any],
    dsn: str,
    table: str,
    entity_types: Iterable[str] | None,
    missing_ok: bool,
) -> Registry:
    from psycopg import sql
    from psycopg.rows import dict_row

    schema, name = sqlgen.split_table(table)
    source = redact_dsn(dsn)
    found = conn.execute(
        "SELECT to_regnamespace(%s) IS NOT NULL, to_regclass(%s)::oid",
        [sqlgen.quote_ident(schema), sqlgen.qualified(table)],
    ).fetchone()
    has_schema, oid = found if found else (False, None)
    if oid is None:
        what = f"registry table {table}" if has_schema else f"schema {schema} (of {table})"
        if missing_ok:
            problem = RegistryProblem(f"{what} does not exist yet")
            return Registry((), source, (problem,))
        raise ConformanceError(f"{what} does not exist in {source}")
    present = {
        row[0]
        for row in conn.execute(
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
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query).fetchall()
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
    return Registry(entries, source, (*problems, *found_problems))


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
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
) -> Registry:
    """Returns the registry held in ``table``, read in one read-only transaction.

    Missing optional columns read as defaults and are named in ``problems``, as are rows whose
    values a registry file would reject (those rows are kept). Raises ConformanceError for an
    unreachable server, failed login, missing database, schema, table or required column, a
    missing privilege or a statement timeout. Never writes.
    """
    import psycopg

    sqlgen.split_table(table)
    with _connect(dsn, connect_timeout) as conn:
        conn.read_only = True
        try:
            _set_timeout(conn, statement_timeout)
            registry = _read(conn, dsn, table, entity_types, missing_ok=False)
            conn.rollback()
            return registry
        except psycopg.Error as exc:
            raise _failure(exc, dsn, "reading the registry from", statement_timeout) from None


def apply(
    dsn: str,
    file_registry: Registry,
    table: str = DEFAULT_TABLE,
    *,
    dry_run: bool = False,
    entity_types: Iterable[str] | None = DEFAULT_ENTITY_TYPES,
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
) -> Plan:
    """Returns the plan, after running it: DDL, upserts and deactivations in one transaction.

    The transaction holds ``pg_advisory_xact_lock`` on the table's key and reads the database
    under it, so concurrent applies run one after the other and end as one would. With
    ``dry_run`` nothing is written. Raises ConformanceError, having written nothing, when the
    file registry has problems or anything fails (everything is rolled back).
    """
    import psycopg

    if file_registry.problems:
        first = file_registry.problems[0]
        where = f" (line {first.line})" if first.line else ""
        raise ConformanceError(
            f"refusing to apply a registry with {len(file_registry.problems)} problem(s); "
            f"first: {first.message}{where}"
        )
    sqlgen.split_table(table)
    with _connect(dsn, connect_timeout) as conn:
        conn.read_only = dry_run
        stage = "applying the registry to"
        try:
            _set_timeout(conn, statement_timeout)
            if not dry_run:
                conn.execute(f"SELECT pg_advisory_xact_lock({sqlgen.lock_key(table)})")
            current = _read(conn, dsn, table, entity_types, missing_ok=True)
            result = plan(current, file_registry)
            if dry_run:
                conn.rollback()
                return result
            conn.execute(sqlgen.ddl(table))
            for text in (
                sqlgen.upserts(result.upserted, table),
                sqlgen.deactivations((e.workflow_slug for e in result.deactivations), table),
            ):
                if text:
                    conn.execute(text)
            stage = "committing the registry to"
            conn.commit()
            return result
        except (psycopg.Error, ConformanceError) as exc:
            with suppress(Exception):
                conn.rollback()
            if isinstance(exc, ConformanceError):
                raise
            error = _failure(exc, dsn, stage, statement_timeout)
            if stage.startswith("committing") and _connection_lost(exc):
                error = ConformanceError(
                    error.message + "; the commit may or may not have "
                    "happened: run `conformance diff` to see"
                )
            else:
                error = ConformanceError(error.message + "; nothing was changed")
            raise error from None


def snapshot(
    dsn: str,
    path: str | os.PathLike[str],
    table: str = DEFAULT_TABLE,
    *,
    entity_types: Iterable[str] | None = DEFAULT_ENTITY_TYPES,
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
) -> Registry:
    """Returns the database registry after writing it to the file at ``path`` (atomically).

    Raises ConformanceError (nothing written) when reading fails or a row could not be loaded
    back from a file (e.g. a slug that is not kebab-case).
    """
    registry = load_registry_db(
        dsn,
        table,
        entity_types=entity_types,
        statement_timeout=statement_timeout,
        connect_timeout=connect_timeout,
    )
    write_registry_file(Path(path), registry)
    return registry
