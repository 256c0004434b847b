"""Lead events from the marketing site, written to PostgREST over plain HTTP.

This image has no supabase client: rows go to ``<SUPABASE_URL>/rest/v1/<table>`` with requests
and httpx. The schema is the ``Content-Profile`` header's; ``Prefer:
resolution=merge-duplicates`` makes a POST an upsert. ``merge_leads`` and
``record_lead_score`` are database functions whose bodies are in supabase/migrations/.
"""

from __future__ import annotations

import os

import httpx
import modal
import requests
from pydantic import BaseModel, Field

from common.db import pg_connect
from config import app, db_secret, image

SUPABASE_URL = os.environ.get("SUPABASE_URL", "")
REST_URL = f"{SUPABASE_URL}/rest/v1"
HEADERS = {
    "apikey": os.environ.get("SUPABASE_SERVICE_KEY", ""),
    "Authorization": f"Bearer {os.environ.get('SUPABASE_SERVICE_KEY', '')}",
}


class LeadEvents(BaseModel):
    workflow_slug: str = "lead-events"
    email: str
    batch_id: str
    events: list[dict] = Field(default_factory=list)
    mirror_table: str | None = None
    callback_url: str | None = None


def _post_rows(table: str, rows: list[dict], schema: str = "raw") -> None:
    headers = {**HEADERS, "Content-Profile": schema, "Prefer": "resolution=merge-duplicates"}
    resp = requests.post(f"{REST_URL}/{table}", json=rows, headers=headers, timeout=30)
    resp.raise_for_status()


@app.function(image=image, secrets=[db_secret])
@modal.fastapi_endpoint(method="POST")
def ingest_lead_events(request: LeadEvents) -> dict:
    """Stores the events, touches the lead, clears its scratch rows and merges the batch."""
    _post_rows("lead_events", request.events)
    with httpx.Client(base_url=REST_URL, headers=HEADERS, timeout=30) as client:
        client.patch(
            f"/leads?email=eq.{request.email}",
            json={"last_seen_at": "now()"},
            headers={"Content-Profile": "core"},
        )
        client.delete(
            f"/lead_scratch?batch_id=eq.{request.batch_id}", headers={"Content-Profile": "staging"}
        )
        client.post("/rpc/merge_leads", json={"p_batch_id": request.batch_id})
    if request.mirror_table:  # a partner names the table: not known statically
        requests.post(f"{REST_URL}/{request.mirror_table}", json=request.events, headers=HEADERS)
    if request.callback_url:  # another service, not PostgREST: not a write
        requests.post(request.callback_url, json={"batch_id": request.batch_id}, timeout=10)
    return {"batch_id": request.batch_id, "events": len(request.events)}


@app.function(image=image, secrets=[db_secret], schedule=modal.Cron("15 * * * *"))
def score_lead_batches() -> int:
    """Scores the batches merged in the last hour (the scoring is a database function)."""
    with pg_connect() as conn:
        batches = conn.execute(
            "SELECT id FROM staging.lead_batches WHERE merged_at > now() - interval '1 hour'"
        ).fetchall()
        for (batch_id,) in batches:
            conn.execute("SELECT public.record_lead_score(%s, %s)", (batch_id, "hourly"))
    return len(batches)
