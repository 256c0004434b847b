"""Verifies company domains: follows redirects, records aliases, flags dead domains."""

from __future__ import annotations

import logging

import httpx

from common.db import get_client
from config import api_secret, app, db_secret, image
from ingest.utils import utcnow_iso

logger = logging.getLogger(__name__)


def _resolve(domain: str) -> str | None:
    """Returns the domain ``domain`` redirects to (itself if none), or None when it is dead."""
    try:
        resp = httpx.head(f"https://{domain}", follow_redirects=True, timeout=10)
    except httpx.HTTPError:
        return None
    return resp.url.host.removeprefix("www.")


@app.function(image=image, secrets=[db_secret, api_secret], timeout=600)
def verify_domains(domains: list[str]) -> dict:
    """Records redirects as aliases and marks unreachable domains; returns counts."""
    client = get_client()
    schema = "reference"
    counts = {"aliases": 0, "dead": 0}
    for domain in domains:
        resolved = _resolve(domain)
        if resolved is None:
            client.schema("core").table("companies").update(
                {"domain_status": "dead", "checked_at": utcnow_iso()}
            ).eq("domain", domain).execute()
            counts["dead"] += 1
        elif resolved != domain:
            client.schema(schema).table("domain_aliases").upsert(
                {"alias": domain, "canonical": resolved}, on_conflict="alias"
            ).execute()
            counts["aliases"] += 1
    if counts["aliases"]:
        client.rpc("resolve_domain_aliases", {}).execute()
    return counts
