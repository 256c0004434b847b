"""Promotes extracted champions (people who vouched for a product) into core.champions."""

from __future__ import annotations

import logging
import os

import modal

from config import app, db_secret, image

logger = logging.getLogger(__name__)


@app.function(image=image, secrets=[db_secret], schedule=modal.Period(hours=12))
def promote_champions(limit: int = 500) -> int:
    """Copies the most confident unpromoted champions to core; returns how many."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO core.champions (name, company_domain, title, source_id) "
                "SELECT name, company_domain, title, id FROM extracted.champions "
                "WHERE promoted_at IS NULL ORDER BY confidence DESC LIMIT %(n)s",
                {"n": limit},
            )
            promoted = cur.rowcount
            cur.execute(
                """
                UPDATE extracted.champions
                   SET promoted_at = now()
                 WHERE promoted_at IS NULL
                   AND id IN (SELECT source_id FROM core.champions)
                """
            )
    logger.info("promoted %d champions", promoted)
    return promoted
