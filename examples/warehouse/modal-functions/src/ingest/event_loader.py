"""Loads product events whose columns vary by source: the SQL names its table, the columns and
placeholders are built at run time."""

from __future__ import annotations

from common.db import pg_connect
from config import app, db_secret, image


@app.function(image=image, secrets=[db_secret], timeout=600)
def load_product_events(source: str, batch: list[dict]) -> int:
    """Inserts a batch into raw.product_events and bumps the per-source counters."""
    if not batch:
        return 0
    columns = sorted(batch[0])
    placeholders = ", ".join(["%s"] * len(columns))
    counters = [f"{c}_count = {c}_count + 1" for c in ("event", source)]
    with pg_connect() as conn, conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO raw.product_events ({', '.join(columns)}) VALUES ({placeholders})",
            [tuple(row[c] for c in columns) for row in batch],
        )
        cur.execute(
            "UPDATE core.event_counters SET " + ", ".join(counters) + " WHERE source = %s",
            (source,),
        )
    return len(batch)
