"""Person profiles: a POST endpoint for new profiles and a weekly re-enrichment of stale ones."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import modal
from pydantic import BaseModel

from config import app, db_secret, image
from extraction.tables import CORE_SCHEMA
from ingest.enrichment import enrich_person

logger = logging.getLogger(__name__)


class PersonProfileRequest(BaseModel):
    workflow_slug: str = "person-profiles"
    profiles: list[dict]


@app.function(image=image, secrets=[db_secret])
@modal.fastapi_endpoint(method="POST")
def ingest_person_profiles(request: PersonProfileRequest) -> dict:
    """Stores each profile raw, then upserts the person and their employment history."""
    from common.db import get_client
    from extraction.people import upsert_person

    client = get_client()
    person_ids = []
    for profile in request.profiles:
        if not profile.get("linkedin_url"):
            logger.info("skipping profile without linkedin_url")
            continue
        client.schema("raw").table("person_profiles").insert(
            {"workflow_slug": request.workflow_slug, "payload": profile}
        ).execute()
        person_ids.append(upsert_person(client, profile))
    return {"status": "ok", "people": person_ids}


@app.function(image=image, secrets=[db_secret], schedule=modal.Cron("30 4 * * 1"), timeout=3600)
def refresh_person_profiles(max_age_days: int = 90) -> int:
    """Re-enriches people not enriched for ``max_age_days``; returns how many were found."""
    from common.db import get_client

    client = get_client()
    cutoff = (datetime.now(timezone.utc) - timedelta(days=max_age_days)).isoformat()
    stale = (
        client.schema(CORE_SCHEMA)
        .table("people")
        .select("id")
        .lt("enriched_at", cutoff)
        .limit(5000)
        .execute()
    )
    ids = [row["id"] for row in stale.data]
    results = list(enrich_person.map(ids, return_exceptions=True))
    found = sum(1 for r in results if isinstance(r, dict) and r.get("found"))
    client.schema("staging").table("refresh_runs").insert(
        {"kind": "person_profiles", "requested": len(ids), "found": found}
    ).execute()
    return found
