"""Customer case studies scraped from vendor websites.

The endpoint is an old ``web_endpoint``; the hourly job links case studies to known customers.
"""

from __future__ import annotations

import hashlib
import logging

import modal

from common.db import get_client, pg_connect
from config import app, db_secret, image
from ingest.utils import utcnow_iso

logger = logging.getLogger(__name__)


@app.function(image=image, secrets=[db_secret])
@modal.web_endpoint(method="POST")
def ingest_case_studies(item: dict) -> dict:
    """Stores one scraped page and its extracted case study."""
    client = get_client()
    url = item["url"]
    page = (
        client.schema("raw")
        .from_("case_study_pages")
        .insert(
            {
                "url": url,
                "html_sha256": hashlib.sha256(item.get("html", "").encode()).hexdigest(),
                "html": item.get("html"),
                "scraped_at": utcnow_iso(),
            }
        )
        .execute()
    )
    client.schema("extracted").table("case_studies").upsert(
        {
            "url": url,
            "vendor_domain": item.get("vendor_domain"),
            "customer_name": item.get("customer_name"),
            "quote": item.get("quote"),
            "page_id": page.data[0]["id"],
        },
        on_conflict="url",
    ).execute()
    client.table("scrape_log").insert({"url": url, "status": "ok", "at": utcnow_iso()}).execute()
    return {"status": "ok", "page_id": page.data[0]["id"]}


@app.function(image=image, secrets=[db_secret], schedule=modal.Cron("15 * * * *"))
def reconcile_case_studies() -> int:
    """Fills customer domains from case studies and adds new customers; returns rows touched."""
    with pg_connect() as conn, conn.cursor() as cur:
        cur.execute(
            """
            UPDATE core.company_customers c
               SET domain = e.customer_domain
              FROM extracted.case_studies e
             WHERE c.source_url = e.url
               AND c.domain IS NULL
            """
        )
        updated = cur.rowcount
        cur.execute(
            """
            INSERT INTO core.company_customers (company_domain, customer_name, source_url)
            SELECT e.vendor_domain, e.customer_name, e.url
              FROM extracted.case_studies e
             WHERE e.customer_name IS NOT NULL
            ON CONFLICT (company_domain, customer_name)
            DO UPDATE SET source_url = EXCLUDED.source_url
            """
        )
        inserted = cur.rowcount
    logger.info("case studies: %d customers updated, %d upserted", updated, inserted)
    return updated + inserted
