"""Monthly web traffic estimates, polled every six hours, and the competitor benchmark reports
the provider pushes to us."""

from __future__ import annotations

import logging
import os

import httpx
import modal

from common.db import get_client
from config import api_secret, app, db_secret, image
from ingest.utils import utcnow_iso

logger = logging.getLogger(__name__)

PROVIDER = "similarweb"


def _traffic(domain: str) -> dict:
    resp = httpx.get(
        f"https://api.{PROVIDER}.example/v1/website/{domain}/total-traffic-and-engagement/visits",
        params={"api_key": os.environ["SIMILARWEB_KEY"], "granularity": "monthly"},
        timeout=30,
    )
    resp.raise_for_status()
    return resp.json()


@app.function(image=image, secrets=[db_secret, api_secret], schedule=modal.Period(hours=6))
def poll_web_traffic() -> int:
    """Stores the provider response and the monthly visit series; returns companies polled."""
    db = get_client()
    tracked = db.schema("core").from_("companies").select("domain").eq("track_traffic", True).execute()
    for company in tracked.data:
        data = _traffic(company["domain"])
        db.schema("raw").from_(f"{PROVIDER}_traffic").insert(
            {"domain": company["domain"], "response": data, "fetched_at": utcnow_iso()}
        ).execute()
        monthly = [
            {"domain": company["domain"], "month": v["date"][:7], "visits": int(v["visits"])}
            for v in data.get("visits", [])
        ]
        if monthly:
            db.schema("extracted").from_("web_traffic_monthly").upsert(
                monthly, on_conflict="domain,month"
            ).execute()
    return len(tracked.data)


# The provider's webhook settings show this URL, so someone gave the function a descriptive name.
@app.function(image=image, secrets=[db_secret], name="similarweb-competitor-traffic-benchmarks-push")
@modal.fastapi_endpoint(method="POST")
def ingest_traffic_benchmarks(payload: dict) -> dict:
    """Stores a pushed competitor benchmark report as received."""
    db = get_client()
    db.schema("raw").from_(f"{PROVIDER}_benchmarks").insert(
        {"domain": payload.get("domain"), "report": payload, "received_at": utcnow_iso()}
    ).execute()
    return {"status": "ok"}
