"""Enrichment workers: call the firmographics / people APIs and store what they return."""

from __future__ import annotations

import logging
import os

import httpx
from tenacity import retry, stop_after_attempt, wait_exponential

from common.db import get_client
from config import api_secret, app, db_secret, image
from extraction.writers import SnapshotWriter, write
from ingest.utils import utcnow_iso

logger = logging.getLogger(__name__)

FIRMOGRAPHICS_URL = "https://api.firmographics.example/v2/companies"
PEOPLE_URL = "https://api.people.example/v1/profiles"


@retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=2))
def _fetch_profile(domain: str) -> dict:
    """Returns the provider's company profile (not a Modal function; retried by tenacity)."""
    resp = httpx.get(
        FIRMOGRAPHICS_URL,
        params={"domain": domain},
        headers={"Authorization": f"Bearer {os.environ['FIRMOGRAPHICS_KEY']}"},
        timeout=30,
    )
    resp.raise_for_status()
    return resp.json()


@app.function(
    image=image,
    secrets=[db_secret, api_secret],
    name="company-enricher-v2",
    retries=2,
    max_containers=10,
)
def enrich_company(domain: str) -> dict:
    """Enriches one company: extracted.company_enrichment, a run record and a snapshot."""
    client = get_client()
    started = utcnow_iso()
    profile = _fetch_profile(domain)
    write(
        client,
        "company_enrichment",
        {
            "domain": domain,
            "employee_count": profile.get("employees"),
            "industry": profile.get("industry"),
            "hq_country": profile.get("country"),
            "provider": "firmographics",
        },
    )
    write(
        client,
        "enrichment_runs",
        {"domain": domain, "started_at": started, "finished_at": utcnow_iso(), "ok": True},
        schema="staging",
    )
    SnapshotWriter(client).save(domain, profile)
    return {"domain": domain, "employees": profile.get("employees")}


@app.function(image=image, secrets=[db_secret, api_secret], max_containers=20)
def enrich_person(person_id: str) -> dict:
    """Enriches one person from core.people; writes extracted.person_enrichment."""
    client = get_client()
    person = (
        client.schema("core")
        .table("people")
        .select("id, linkedin_url")
        .eq("id", person_id)
        .single()
        .execute()
    )
    resp = httpx.get(PEOPLE_URL, params={"url": person.data["linkedin_url"]}, timeout=30)
    if resp.status_code == 404:
        logger.info("no profile for %s", person_id)
        return {"person_id": person_id, "found": False}
    resp.raise_for_status()
    data = resp.json()
    write(
        client,
        "person_enrichment",
        {
            "person_id": person_id,
            "seniority": data.get("seniority"),
            "department": data.get("department"),
            "skills": data.get("skills", []),
        },
    )
    return {"person_id": person_id, "found": True}
