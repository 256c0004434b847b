"""Nightly housekeeping of the staging schema, in plain SQL."""

from __future__ import annotations

import logging

import modal
from psycopg import sql

from common.db import pg_connect
from config import app, db_secret, image

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5

# Several statements in one string: psycopg 3 sends them as one simple query.
CLEANUP_SQL = """
DELETE FROM staging.load_requests WHERE created_at < now() - interval '30 days';
DELETE FROM staging.lineage_events WHERE recorded_at < now() - interval '90 days';
TRUNCATE staging.company_queue_scratch;
"""

# Moves rows that failed too often to the dead-letter table, in one statement.
MOVE_DEAD_SQL = """
WITH moved AS (
    DELETE FROM staging.company_queue
     WHERE attempts >= %(max_attempts)s
    RETURNING *
)
INSERT INTO staging.company_queue_dead
SELECT * FROM moved
"""


@app.function(image=image, secrets=[db_secret], schedule=modal.Cron("0 2 * * *"))
def cleanup_staging(processed_before: str | None = None) -> dict:
    """Prunes old staging rows and dead-letters exhausted queue items; returns row counts."""
    counts = {}
    with pg_connect() as conn, conn.cursor() as cur:
        cur.execute(CLEANUP_SQL)
        cur.execute(MOVE_DEAD_SQL, {"max_attempts": MAX_ATTEMPTS})
        counts["dead_lettered"] = cur.rowcount
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE processed_at < %s").format(sql.Identifier("staging", "rows")),
            (processed_before or "now()",),
        )
        counts["rows_deleted"] = cur.rowcount
        cur.execute("SELECT count(*) FROM staging.company_queue")
        counts["queue_left"] = cur.fetchone()[0]
    logger.info("staging cleanup: %s", counts)
    return counts
