"""The registry as one value from either source: the committed file or the live table.

``file`` reads and writes the registry file (no database needed); ``postgres`` is the only
module that talks to PostgreSQL; ``plan`` compares the two.
"""

from __future__ import annotations

from collections.abc import Iterable

from conformance.config import DEFAULT_ENTITY_TYPES, DEFAULT_TABLE
from conformance.model import Registry
from conformance.registry.file import append_entries, load_registry_file, write_registry_file
from conformance.registry.plan import Plan, RowChange, plan
from conformance.registry.postgres import apply, load_registry_db, snapshot
from conformance.sources import dsn_for_libpq, looks_like_dsn, redact_dsn

__all__ = [
    "Plan",
    "RowChange",
    "append_entries",
    "apply",
    "looks_like_dsn",
    "load_registry",
    "load_registry_db",
    "load_registry_file",
    "plan",
    "redact_dsn",
    "snapshot",
    "write_registry_file",
]


def load_registry(
    source: str,
    table: str = DEFAULT_TABLE,
    entity_types: Iterable[str] | None = DEFAULT_ENTITY_TYPES,
) -> Registry:
    """Returns the registry from a ``postgresql://`` DSN or a file path.

    Raises ConformanceError when the source cannot be read (see the two loaders).
    """
    if looks_like_dsn(source):
        return load_registry_db(dsn_for_libpq(source), table, entity_types=entity_types)
    return load_registry_file(source, entity_types)
