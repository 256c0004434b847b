"""Nightly sync of funding rounds from the partner feed into core.funding_rounds."""

from __future__ import annotations

import json
import logging
import os

import httpx
import modal

import config
from common.db import get_client, pg_connect
from ingest.enrichment_worker import CompanyEnricher

logger = logging.getLogger(__name__)

FEED_URL = "https://feeds.funding.example/rounds"

UPSERT_SQL = """
INSERT INTO core.funding_rounds (id, company_domain, round_type, amount_usd, announced_on)
VALUES (%(id)s, %(domain)s, %(round)s, %(amount)s, %(announced)s)
ON CONFLICT (id) DO UPDATE
   SET amount_usd = EXCLUDED.amount_usd,
       announced_on = EXCLUDED.announced_on
"""


def _fetch_rounds(since: str | None = None) -> list[dict]:
    resp = httpx.get(
        FEED_URL,
        params={"since": since} if since else None,
        headers={"X-Api-Key": os.environ["FUNDING_FEED_KEY"]},
        timeout=120,
    )
    resp.raise_for_status()
    return resp.json()["rounds"]


@config.app.function(
    image=config.image,
    secrets=[config.db_secret, config.api_secret],
    schedule=modal.Cron("0 3 * * *"),
)
def sync_funding_rounds() -> int:
    """Stores raw payloads, upserts rounds, refreshes rollups and snapshots; returns the count."""
    rounds = _fetch_rounds()
    with pg_connect() as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO raw.funding_round_payloads (source_id, payload) VALUES (%s, %s)",
            [(r["id"], json.dumps(r)) for r in rounds],
        )
        cur.executemany(
            UPSERT_SQL,
            [
                {
                    "id": r["id"],
                    "domain": r["company"]["domain"],
                    "round": r.get("type"),
                    "amount": r.get("amount_usd"),
                    "announced": r.get("date"),
                }
                for r in rounds
            ],
        )
    client = get_client()
    client.rpc("refresh_funding_rollups", {}).execute()
    for domain in sorted({r["company"]["domain"] for r in rounds}):
        CompanyEnricher().refresh_snapshot.spawn(domain)
    logger.info("synced %d funding rounds", len(rounds))
    return len(rounds)
