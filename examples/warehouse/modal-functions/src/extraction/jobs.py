"""Job listings over psycopg2: bulk inserts with ``execute_values``."""

from __future__ import annotations

from psycopg2.extras import execute_values

RAW_SCHEMA = "raw"
JOBS_TABLE = "job_listings"


def store_job_batch(cur, batch_id: str, source: str) -> None:
    """Records the batch before its listings, so listings can reference it."""
    cur.execute(
        """
        INSERT INTO raw.job_batches (id, source, received_at)
        VALUES (%s, %s, now())
        """,
        (batch_id, source),
    )


def store_listings(cur, batch_id: str, listings: list[dict]) -> int:
    """Inserts listings not seen before (the id is the ATS posting id); returns the row count."""
    rows = [
        (
            item["id"],
            batch_id,
            item.get("title"),
            (item.get("company_domain") or "").lower(),
            item.get("url"),
        )
        for item in listings
        if item.get("id")
    ]
    execute_values(
        cur,
        f"INSERT INTO {RAW_SCHEMA}.{JOBS_TABLE} (id, batch_id, title, company_domain, url) "
        "VALUES %s ON CONFLICT (id) DO NOTHING",
        rows,
        page_size=1000,
    )
    return len(rows)
