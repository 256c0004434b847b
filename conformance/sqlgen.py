"""Registry SQL as plain, deterministic text: create or upgrade the table, upsert, deactivate.

The text runs as it is with ``psql -v ON_ERROR_STOP=1 -f`` or one ``execute``. Every value goes
through :func:`quote_literal` and every name through :func:`quote_ident`; nothing is interpolated
raw. Rows are never deleted: a row the file no longer has is deactivated.

Literals are quoted without a connection, so they must not depend on the server's
``standard_conforming_strings``: a string holding a backslash or a control or line-separator
character is written as ``E'...'`` with the backslashes doubled and those characters as escapes
(``\\n``, ``\\r``, ``\\x0b``, ``\\u2028``; read the same under either setting, and unchanged
by anything that rewrites line endings), any other string as ``'...'``; single quotes are
doubled in both.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from conformance.config import DEFAULT_TABLE
from conformance.errors import ConformanceError
from conformance.model import REGISTRY_COLUMNS, RegistryEntry

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
_UPDATED_COLUMNS = tuple(c for c in REGISTRY_COLUMNS if c != "workflow_slug")

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
    _reject_unstorable(name)
    return '"' + name.replace('"', '""') + '"'


def qualified(table: str) -> str:
    """Returns the quoted ``"schema"."table"`` for a validated registry table name."""
    schema, name = split_table(table)
    return f"{quote_ident(schema)}.{quote_ident(name)}"


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


def ddl(table: str = DEFAULT_TABLE) -> str:
    """Returns SQL that creates the registry table, or upgrades an older, narrower one.

    Idempotent: ``CREATE ... IF NOT EXISTS``, one ``ADD COLUMN IF NOT EXISTS`` per column, and a
    unique index on ``workflow_slug`` named like the constraint PostgreSQL would name.
    """
    schema, name = split_table(table)
    target = qualified(table)
    unique = quote_ident(f"{name}_workflow_slug_key")
    columns = ",\n".join(f"    {c} {COLUMN_TYPES[c]}" for c in TABLE_COLUMNS)
    lines = [
        f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)};",
        f"CREATE TABLE IF NOT EXISTS {target} (\n{columns},\n"
        f"    CONSTRAINT {unique} UNIQUE (workflow_slug)\n);",
        *(
            f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {c} {COLUMN_TYPES[c]};"
            for c in TABLE_COLUMNS
            if c != "workflow_slug"
        ),
        f"CREATE UNIQUE INDEX IF NOT EXISTS {unique} ON {target} (workflow_slug);",
    ]
    return "\n".join(lines) + "\n"


def upsert(entry: RegistryEntry, table: str = DEFAULT_TABLE) -> str:
    """Returns one ``INSERT ... ON CONFLICT (workflow_slug) DO UPDATE`` for ``entry``.

    The update only touches a row whose values differ, so ``updated_at`` keeps its meaning.
    """
    values = ", ".join(quote_literal(_value(entry, c)) for c in REGISTRY_COLUMNS)
    assignments = ",\n    ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATED_COLUMNS)
    mine = ", ".join(f"r.{c}" for c in _UPDATED_COLUMNS)
    theirs = ", ".join(f"EXCLUDED.{c}" for c in _UPDATED_COLUMNS)
    return (
        f"INSERT INTO {qualified(table)} AS r ({', '.join(REGISTRY_COLUMNS)})\n"
        f"VALUES ({values})\n"
        f"ON CONFLICT (workflow_slug) DO UPDATE SET\n    {assignments},\n    updated_at = now()\n"
        f"WHERE ({mine})\n    IS DISTINCT FROM ({theirs});\n"
    )


def _value(entry: RegistryEntry, column: str) -> Value:
    value: Value = getattr(entry, column)
    return value


def upserts(entries: Iterable[RegistryEntry], table: str = DEFAULT_TABLE) -> str:
    """Returns one upsert per entry, sorted by slug ("" for no entries)."""
    return "".join(upsert(e, table) for e in sorted(entries, key=lambda e: e.workflow_slug))


def deactivations(slugs: Iterable[str], table: str = DEFAULT_TABLE) -> str:
    """Returns an UPDATE that sets ``is_active = false`` on the given slugs ("" for none).

    Never a DELETE: a deactivated row keeps its history and can be switched back on.
    """
    ordered = sorted(set(slugs))
    if not ordered:
        return ""
    listed = ",\n    ".join(quote_literal(s) for s in ordered)
    return (
        f"UPDATE {qualified(table)}\nSET is_active = false, updated_at = now()\n"
        f"WHERE workflow_slug IN (\n    {listed}\n) AND is_active IS DISTINCT FROM false;\n"
    )


def script(
    entries: Iterable[RegistryEntry],
    deactivate: Iterable[str] = (),
    table: str = DEFAULT_TABLE,
) -> str:
    """Returns the whole transaction: lock, DDL, upserts and deactivations between BEGIN/COMMIT."""
    parts = [
        f"-- conformance: registry SQL for {table}\n"
        "-- Runs as is: psql -v ON_ERROR_STOP=1 -f FILE, or one execute. Never deletes rows.\n"
        "BEGIN;\n"
        "SET LOCAL client_encoding = 'UTF8';\n"
        f"SELECT pg_advisory_xact_lock({lock_key(table)});\n",
        ddl(table),
        upserts(entries, table),
        deactivations(deactivate, table),
        "COMMIT;\n",
    ]
    return "".join(parts)
