"""Merges staged company candidates into core.companies with one MERGE statement."""

from __future__ import annotations

import logging

from common.db import pg_connect
from config import app, db_secret, image

logger = logging.getLogger(__name__)

MERGE_SQL = """
MERGE INTO core.companies AS c
USING (SELECT * FROM staging.company_candidates WHERE batch_id = %(batch_id)s) AS s
   ON c.domain = s.domain
WHEN MATCHED THEN
    UPDATE SET name = COALESCE(s.name, c.name), updated_at = now()
WHEN NOT MATCHED THEN
    INSERT (domain, name, created_at) VALUES (s.domain, s.name, now())
"""


@app.function(image=image, secrets=[db_secret], timeout=900)
def merge_companies(batch_id: str) -> int:
    """Merges one batch of candidates, audits it and clears it; returns rows merged."""
    with pg_connect() as conn, conn.cursor() as cur:
        cur.execute(MERGE_SQL, {"batch_id": batch_id})
        merged = cur.rowcount
        # Unqualified: resolves through the search_path to public.ingest_audit.
        cur.execute(
            "INSERT INTO ingest_audit (function_name, batch_id, row_count) VALUES (%s, %s, %s)",
            ("merge_companies", batch_id, merged),
        )
        cur.execute("DELETE FROM staging.company_candidates WHERE batch_id = %s", (batch_id,))
    logger.info("batch %s: merged %d companies", batch_id, merged)
    return merged
