"""Small write helpers shared by several ingest functions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone


def _chunks(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def write(client, table: str, row: dict, schema: str = "extracted"):
    """Upserts one row into ``schema.table`` (``extracted`` unless told otherwise)."""
    return client.schema(schema).from_(table).upsert(row).execute()


def upsert_rows(client, schema: str, table: str, rows: list[dict], on_conflict: str = "id") -> int:
    """Upserts ``rows`` into ``schema.table`` in chunks of 500; returns the row count."""
    written = 0
    for chunk in _chunks(rows, 500):
        client.schema(schema).table(table).upsert(chunk, on_conflict=on_conflict).execute()
        written += len(chunk)
    return written


class SnapshotWriter:
    """Writes point-in-time company snapshots to core.company_snapshots."""

    def __init__(self, client) -> None:
        self.client = client

    def save(self, domain: str, snapshot: dict) -> None:
        row = {
            "domain": domain,
            "taken_at": datetime.now(timezone.utc).isoformat(),
            "employee_count": snapshot.get("employee_count"),
            "industry": snapshot.get("industry"),
            "snapshot": snapshot,
        }
        self.client.schema("core").from_("company_snapshots").upsert(
            row, on_conflict="domain,taken_at"
        ).execute()

    def discard(self, domain: str) -> None:
        """Removes every snapshot of ``domain`` (GDPR requests; run by hand, never by a job)."""
        self.client.schema("core").from_("company_snapshots").delete().eq("domain", domain).execute()
