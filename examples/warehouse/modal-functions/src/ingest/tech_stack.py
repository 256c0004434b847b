"""Every six hours: detect the technologies tracked companies use (BuiltWith)."""

from __future__ import annotations

import logging
import os

import httpx
import modal

from common.db import get_client
from config import api_secret, app, db_secret, image
from extraction.writers import upsert_rows
from ingest.utils import utcnow_iso

logger = logging.getLogger(__name__)

TECH_TABLE = "company_technologies"
BUILTWITH_URL = "https://api.builtwith.example/v21/api.json"


def _detect(domain: str) -> dict:
    resp = httpx.get(
        BUILTWITH_URL, params={"KEY": os.environ["BUILTWITH_KEY"], "LOOKUP": domain}, timeout=60
    )
    resp.raise_for_status()
    return resp.json()


@app.function(
    image=image,
    secrets=[db_secret, api_secret],
    schedule=modal.Cron("0 */6 * * *"),
    timeout=1800,
)
def refresh_tech_stack() -> dict:
    """Stores raw responses, current technologies and mention rows for every tracked company."""
    client = get_client()
    tracked = client.schema("core").table("companies").select("domain").eq("track_tech", True).execute()
    counts = {"companies": 0, "technologies": 0}
    for company in tracked.data:
        domain = company["domain"]
        response = _detect(domain)
        client.schema("raw").table("builtwith_responses").insert(
            {"domain": domain, "response": response, "fetched_at": utcnow_iso()}
        ).execute()
        techs = [
            {"domain": domain, "technology": t["Name"], "category": t.get("Tag"), "seen_at": utcnow_iso()}
            for result in response.get("Results", [])
            for path in result.get("Result", {}).get("Paths", [])
            for t in path.get("Technologies", [])
        ]
        if techs:
            client.schema("core").table(TECH_TABLE).insert(techs, upsert=True).execute()
        mentions = [{"domain": domain, "technology": t["technology"]} for t in techs]
        upsert_rows(client, "extracted", "technology_mentions", mentions, on_conflict="domain,technology")
        counts["companies"] += 1
        counts["technologies"] += len(techs)
    return counts
