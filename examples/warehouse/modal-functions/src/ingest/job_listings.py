"""Job listings from ATS feeds (Greenhouse, Lever, Ashby), stored over psycopg2."""

from __future__ import annotations

import logging
import os
import uuid

import modal
import psycopg2
from pydantic import BaseModel

from config import app as warehouse_app
from config import db_secret, image
from extraction.jobs import store_job_batch, store_listings
from ingest.utils import allowed_sources, chunked

logger = logging.getLogger(__name__)

WORKFLOW_SLUG = "job-listings"


class JobBatchRequest(BaseModel):
    source: str
    listings: list[dict]


def _old_backfill(cur) -> None:
    """The v1 import path; superseded by backfill_job_listings and no longer called."""
    cur.execute("INSERT INTO raw.job_listings_v1 SELECT * FROM raw.job_listings_import")


@warehouse_app.function(image=image, secrets=[db_secret], timeout=300)
@modal.fastapi_endpoint(method="POST", docs=True)
def ingest_job_listings(request: JobBatchRequest) -> dict:
    """Stores one batch of listings; returns the batch id and listing count."""
    if request.source not in allowed_sources():
        return {"status": "rejected", "reason": f"unknown source {request.source}"}
    batch_id = str(uuid.uuid4())
    conn = psycopg2.connect(os.environ["DATABASE_URL"])
    try:
        with conn, conn.cursor() as cur:
            store_job_batch(cur, batch_id, request.source)
            stored = store_listings(cur, batch_id, request.listings)
            cur.execute(
                "UPDATE raw.job_batches SET listing_count = %(n)s, workflow_slug = %(slug)s "
                "WHERE id = %(id)s",
                {"n": stored, "slug": WORKFLOW_SLUG, "id": batch_id},
            )
    finally:
        conn.close()
    logger.info("batch %s: %d listings from %s", batch_id, stored, request.source)
    return {"status": "ok", "batch_id": batch_id, "listings": stored}


@warehouse_app.function(image=image, secrets=[db_secret], timeout=3600, name="backfill-jobs")
def backfill_job_listings(source: str, since: str) -> int:
    """Replays queued listings through ingest_job_listings in-process, then clears the queue."""
    from common.db import pg2_connect

    conn = pg2_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT payload FROM staging.job_backfill_queue "
                "WHERE source = %s AND received_at >= %s ORDER BY received_at",
                (source, since),
            )
            payloads = [row[0] for row in cur.fetchall()]
        total = 0
        for chunk in chunked(payloads, 200):
            result = ingest_job_listings.local(JobBatchRequest(source=source, listings=chunk))
            total += result.get("listings", 0)
        with conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM staging.job_backfill_queue WHERE source = %s AND received_at >= %s",
                (source, since),
            )
    finally:
        conn.close()
    return total
