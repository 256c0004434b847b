"""Registry SQL as plain, deterministic text: create or upgrade the table, upsert, deactivate.

The text runs as it is with ``psql -v ON_ERROR_STOP=1 -f`` or one ``execute``. Names and the
statements' structure are composed with ``psycopg.sql`` (``Identifier``, ``SQL.format``), which
renders without a connection (``as_string(None)``, psycopg >= 3.2); every value goes through
:func:`quote_literal`. Nothing is interpolated raw. Rows are never deleted: a row the file no
longer has is deactivated.

Literals are quoted without a connection, so they must not depend on the server's
``standard_conforming_strings``: a string holding a backslash or a control or line-separator
character is written as ``E'...'`` with the backslashes doubled and those characters as escapes
(``\\n``, ``\\r``, ``\\x0b``, ``\\u2028``; read the same under either setting, and unchanged
by anything that rewrites line endings), any other string as ``'...'``; single quotes are
doubled in both.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from conformance.config import DEFAULT_TABLE
from conformance.errors import ConformanceError
from conformance.model import REGISTRY_COLUMNS, RegistryEntry, scalar_text

if TYPE_CHECKING:
    from psycopg import sql

TABLE_PATTERN = re.compile(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")
TEXT_COLUMNS: tuple[str, ...] = tuple(
    c for c in REGISTRY_COLUMNS if c not in ("coalesces_to_core", "is_active", "writes")
)
# Column definitions, shared by CREATE TABLE and the ADD COLUMN upgrades of an older table.
COLUMN_TYPES: dict[str, str] = {
    **{c: "text" for c in TEXT_COLUMNS},
    "workflow_slug": "text NOT NULL",
    "coalesces_to_core": "boolean NOT NULL DEFAULT false",
    "is_active": "boolean NOT NULL DEFAULT true",
    "writes": "text[] NOT NULL DEFAULT '{}'",
    "created_at": "timestamptz NOT NULL DEFAULT now()",
    "updated_at": "timestamptz NOT NULL DEFAULT now()",
}
TABLE_COLUMNS: tuple[str, ...] = (*REGISTRY_COLUMNS, "created_at", "updated_at")

Value = str | bool | None | Sequence[str]


def split_table(table: str) -> tuple[str, str]:
    """Returns ``(schema, name)`` of a ``schema.table`` name.

    Raises ConformanceError unless it is two lowercase SQL identifiers joined by a dot.
    """
    if not TABLE_PATTERN.fullmatch(table):
        raise ConformanceError(
            f"registry table must be schema.table in lowercase identifiers, not {table!r}"
        )
    schema, name = table.split(".")
    return schema, name


def quote_ident(name: str) -> str:
    """Returns ``name`` as a double-quoted SQL identifier."""
    return _ident(name).as_string(None)


def qualified(table: str) -> str:
    """Returns the quoted ``"schema"."table"`` for a validated registry table name."""
    return _table(table).as_string(None)


def _ident(name: str) -> sql.Identifier:
    _reject_unstorable(name)
    require_psycopg()
    from psycopg import sql

    return sql.Identifier(name)


def _table(table: str) -> sql.Identifier:
    schema, name = split_table(table)
    require_psycopg()
    from psycopg import sql

    return sql.Identifier(schema, name)


def _value(value: Value) -> sql.SQL:
    """A value as a piece of composed SQL: our own literal (see :func:`quote_literal`).

    Not ``sql.Literal``: without a connection psycopg writes a line break or another control
    character into the literal as it is, so a tool that rewrites line endings on the way (git,
    an editor, a terminal) would change the stored value; ours escapes them in ``E''``.
    """
    require_psycopg()
    from psycopg import sql

    return sql.SQL(quote_literal(value))


@functools.cache
def require_psycopg() -> None:
    """Raises ConformanceError when psycopg cannot load (no libpq: neither psycopg's own, from
    the ``binary`` extra, nor the system's)."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ConformanceError(
            f"psycopg cannot load ({reason}): install `workflow-conformance[binary]` (psycopg's "
            "own libpq) or the system libpq"
        ) from None


def quote_literal(value: Value) -> str:
    """Returns ``value`` as a SQL literal: NULL, true/false, a string, or a ``text[]`` array.

    Raises ConformanceError for a string PostgreSQL text cannot store (NUL, lone surrogates).
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        _reject_unstorable(value)
        if "\\" in value or _LINE_BREAKING.search(value):
            escaped = value.replace("\\", "\\\\").replace("'", "''")
            return "E'" + _LINE_BREAKING.sub(_escape_char, escaped) + "'"
        return "'" + value.replace("'", "''") + "'"
    items = [quote_literal(str(v)) for v in value]
    return f"ARRAY[{', '.join(items)}]::text[]" if items else "'{}'::text[]"


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Characters a tool on the way (an editor, git's line-ending conversion, a copy through a
# terminal) may rewrite: written as escapes, the script keeps every stored value exact.
_LINE_BREAKING = re.compile("[\x01-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def _reject_unstorable(text: str) -> None:
    if _UNSTORABLE.search(text):
        raise ConformanceError(
            f"a NUL character or lone surrogate cannot be stored in PostgreSQL: {text[:40]!r}"
        )


def lock_key(table: str = DEFAULT_TABLE) -> int:
    """Returns the advisory lock key that serialises every write to ``table`` (a signed int64)."""
    digest = hashlib.sha256(f"conformance:{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock(table: str = DEFAULT_TABLE) -> str:
    """Returns the statement that takes the transaction's advisory lock on ``table``."""
    require_psycopg()
    from psycopg import sql

    key = sql.SQL(str(lock_key(table)))  # an int: nothing to quote
    return sql.SQL("SELECT pg_advisory_xact_lock({});\n").format(key).as_string(None)


def ddl(table: str = DEFAULT_TABLE) -> str:
    """Returns SQL that creates the registry table, or upgrades an older, narrower one.

    Idempotent: ``CREATE ... IF NOT EXISTS``, one ``ADD COLUMN IF NOT EXISTS`` per column, and a
    unique index on ``workflow_slug`` named like the constraint PostgreSQL would name.
    """
    require_psycopg()
    from psycopg import sql

    schema, name = split_table(table)
    target = _table(table)
    unique = _ident(f"{name}_workflow_slug_key")
    columns = sql.SQL(",\n").join(
        sql.SQL("    {} {}").format(_ident(c), sql.SQL(COLUMN_TYPES[c])) for c in TABLE_COLUMNS
    )
    statements = [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {};").format(_ident(schema)),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (\n{},\n    CONSTRAINT {} UNIQUE (workflow_slug)\n);"
        ).format(target, columns, unique),
        *(
            sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {};").format(
                target, _ident(c), sql.SQL(COLUMN_TYPES[c])
            )
            for c in TABLE_COLUMNS
            if c != "workflow_slug"
        ),
        sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (workflow_slug);").format(
            unique, target
        ),
    ]
    return sql.SQL("\n").join(statements).as_string(None) + "\n"


# The columns the code settles (what ``emit-sql --from-code`` sets on a row that exists).
CODE_COLUMNS: tuple[str, ...] = (
    "modal_function_name",
    "raw_table",
    "extracted_table",
    "core_table",
    "coalesces_to_core",
    "writes",
)
# Maintained by the database and by every write of the tool: never written from an entry.
BOOKKEEPING_COLUMNS: tuple[str, ...] = ("created_at", "updated_at")


def written_columns(entry: RegistryEntry, skip: Iterable[str] = ()) -> list[tuple[str, Value]]:
    """Returns the columns a write of ``entry`` sets, with their values: every registry column,
    then the extra columns the entry carries (as text, which PostgreSQL reads into the column's
    type), except the bookkeeping columns and the ``skip``ped ones (filled by the database)."""
    left_out = {*BOOKKEEPING_COLUMNS, *skip}
    out: list[tuple[str, Value]] = [(c, getattr(entry, c)) for c in REGISTRY_COLUMNS]
    out += [(name, scalar_text(value)) for name, value in entry.extra if name not in left_out]
    return out


def upsert(entry: RegistryEntry, table: str = DEFAULT_TABLE, skip: Iterable[str] = ()) -> str:
    """Returns one ``INSERT ... ON CONFLICT (workflow_slug) DO UPDATE`` for ``entry``: its
    registry columns and the extra columns it carries (see :func:`written_columns`); a column
    of the table the entry does not carry is left as it is.

    The update only touches a row whose values differ, so ``updated_at`` keeps its meaning.
    """
    require_psycopg()
    from psycopg import sql

    written = written_columns(entry, skip)
    updated = [c for c, _ in written if c != "workflow_slug"]
    comma = sql.SQL(", ")
    excluded = [sql.SQL("EXCLUDED.{}").format(_ident(c)) for c in updated]
    text = sql.SQL(
        "INSERT INTO {table} AS r ({columns})\n"
        "VALUES ({values})\n"
        "ON CONFLICT (workflow_slug) DO UPDATE SET\n    {assignments},\n    updated_at = now()\n"
        "WHERE ({mine})\n    IS DISTINCT FROM ({theirs});\n"
    ).format(
        table=_table(table),
        columns=comma.join(_ident(c) for c, _ in written),
        values=comma.join(_value(v) for _, v in written),
        assignments=sql.SQL(",\n    ").join(
            sql.SQL("{} = {}").format(_ident(c), e) for c, e in zip(updated, excluded, strict=True)
        ),
        mine=comma.join(sql.SQL("r.{}").format(_ident(c)) for c in updated),
        theirs=comma.join(excluded),
    )
    return text.as_string(None)


def upserts(
    entries: Iterable[RegistryEntry], table: str = DEFAULT_TABLE, skip: Iterable[str] = ()
) -> str:
    """Returns one upsert per entry, sorted by slug ("" for no entries)."""
    left_out = tuple(skip)
    ordered = sorted(entries, key=lambda e: e.workflow_slug)
    return "".join(upsert(e, table, left_out) for e in ordered)


def code_update(
    entry: RegistryEntry, table: str = DEFAULT_TABLE, *, by_function: bool = False
) -> str:
    """Returns the SQL that writes only what the code settles for ``entry``: an ``UPDATE`` of
    the :data:`CODE_COLUMNS` of its row (only when they differ), then an ``INSERT`` of the
    whole entry when there is no such row. A row's other columns (provider, description, the
    extra columns, is_active) are never touched.

    Its row is the one with its slug; ``by_function`` (the entry is a draft, made without
    the database): every active row naming its function, and the row with its slug when that
    names no function (a row a migration inserted).

    (Not one upsert: an upsert's proposed row must satisfy every NOT NULL constraint even when
    it ends as an update, and the code cannot fill a person's columns.)
    """
    require_psycopg()
    from psycopg import sql

    comma = sql.SQL(", ")
    target = _table(table)
    slug = _value(entry.workflow_slug)
    code = [(c, getattr(entry, c)) for c in CODE_COLUMNS]
    written = [(c, getattr(entry, c)) for c in REGISTRY_COLUMNS]
    if by_function:
        function = _value(entry.modal_function_name)
        rows = sql.SQL(
            "r.is_active AND (r.modal_function_name = {function}\n"
            "    OR (r.workflow_slug = {slug} AND r.modal_function_name IS NULL))"
        ).format(function=function, slug=slug)
        exists = sql.SQL("workflow_slug = {} OR modal_function_name = {}").format(slug, function)
    else:
        rows = sql.SQL("r.workflow_slug = {}").format(slug)
        exists = sql.SQL("workflow_slug = {}").format(slug)
    text = sql.SQL(
        "UPDATE {table} AS r SET ({names}, updated_at) = ({values}, now())\n"
        "WHERE {rows}\n    AND ({mine}) IS DISTINCT FROM ({values});\n"
        "INSERT INTO {table} ({all_names})\nSELECT {all_values}\n"
        "WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {exists});\n"
    ).format(
        table=target,
        names=comma.join(_ident(c) for c, _ in code),
        values=comma.join(_value(v) for _, v in code),
        mine=comma.join(sql.SQL("r.{}").format(_ident(c)) for c, _ in code),
        rows=rows,
        exists=exists,
        all_names=comma.join(_ident(c) for c, _ in written),
        all_values=comma.join(_typed(c, v) for c, v in written),
    )
    return text.as_string(None)


def _typed(column: str, value: Value) -> sql.Composable:
    """A value for an ``INSERT ... SELECT``, where a bare string literal would be text: the
    text columns' NULLs are typed so the row reads as the table's."""
    require_psycopg()
    from psycopg import sql

    if value is None and column in TEXT_COLUMNS:
        return sql.SQL("NULL::text")
    return _value(value)


def _slug(entry: RegistryEntry) -> str:
    return entry.workflow_slug


def deactivations(slugs: Iterable[str], table: str = DEFAULT_TABLE) -> str:
    """Returns an UPDATE that sets ``is_active = false`` on the given slugs ("" for none).

    Never a DELETE: a deactivated row keeps its history and can be switched back on.
    """
    ordered = sorted(set(slugs))
    if not ordered:
        return ""
    require_psycopg()
    from psycopg import sql

    text = sql.SQL(
        "UPDATE {}\nSET is_active = false, updated_at = now()\n"
        "WHERE workflow_slug IN (\n    {}\n) AND is_active IS DISTINCT FROM false;\n"
    ).format(_table(table), sql.SQL(",\n    ").join(_value(s) for s in ordered))
    return text.as_string(None)


def script(
    entries: Iterable[RegistryEntry],
    deactivate: Iterable[str] = (),
    table: str = DEFAULT_TABLE,
    *,
    skip: Iterable[str] = (),
    code_only: bool = False,
    by_function: bool = False,
) -> str:
    """Returns the whole transaction: lock, DDL, upserts and deactivations between BEGIN/COMMIT.

    ``skip``: columns never written (the database fills them). ``code_only``: write only what
    the code settles (:func:`code_update`, ``by_function`` for drafts) instead of whole
    entries."""
    split_table(table)
    if code_only:
        rows = "".join(
            code_update(e, table, by_function=by_function) for e in sorted(entries, key=_slug)
        )
    else:
        rows = upserts(entries, table, skip)
    parts = [
        f"-- conformance: registry SQL for {table}\n"
        "-- Runs as is: psql -v ON_ERROR_STOP=1 -f FILE, or one execute. Never deletes rows.\n"
        "BEGIN;\n"
        "SET LOCAL client_encoding = 'UTF8';\n",
        lock(table),
        ddl(table),
        rows,
        deactivations(deactivate, table),
        "COMMIT;\n",
    ]
    return "".join(parts)
