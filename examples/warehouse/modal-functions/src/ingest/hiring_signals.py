"""Daily hiring signals derived from raw job listings (psycopg2)."""

from __future__ import annotations

import logging
import os

import psycopg2
import psycopg2.extras
from modal import Cron

from config import app, db_secret, image

logger = logging.getLogger(__name__)


@app.function(image=image, secrets=[db_secret], schedule=Cron("0 5 * * *"))
def derive_hiring_signals() -> int:
    """Counts open roles per company into extracted.hiring_signals and scores core.companies."""
    conn = psycopg2.connect(os.environ["DATABASE_URL"])
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                """
                SELECT company_domain, current_date, count(*)
                  FROM raw.job_listings
                 WHERE company_domain <> ''
                 GROUP BY company_domain
                """
            )
            rows = cur.fetchall()
            psycopg2.extras.execute_values(
                cur,
                """
                INSERT INTO extracted.hiring_signals (company_domain, signal_date, open_roles)
                VALUES %s
                ON CONFLICT (company_domain, signal_date)
                DO UPDATE SET open_roles = EXCLUDED.open_roles
                """,
                rows,
            )
            scores = [(min(1.0, count / 50), domain) for domain, _, count in rows]
            cur.executemany("UPDATE core.companies SET hiring_score = %s WHERE domain = %s", scores)
    finally:
        conn.close()
    logger.info("hiring signals for %d companies", len(rows))
    return len(rows)
