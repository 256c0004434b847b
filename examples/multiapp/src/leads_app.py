"""The leads App, deployed on its own: ``modal deploy src/leads_app.py``.

It creates its App here; the worker it spawns lives in leads_workers.py, which registers on
this App and is deployed because this file imports it.
"""

from __future__ import annotations

import modal

from billing.payments import PAYMENTS_TABLE  # a constant: billing's functions stay billing's
from shared.db import supabase

app = modal.App("leads")
image = modal.Image.debian_slim().pip_install("supabase", "psycopg[binary]")

from leads_workers import score_lead  # noqa: E402  (after `app`: leads_workers imports it)


@app.function(image=image, secrets=[modal.Secret.from_name("db")])
@modal.fastapi_endpoint(method="POST")
def ingest_lead(lead: dict) -> dict:
    """Stores the lead as received and scores it in the background."""
    client = supabase()
    row = client.schema("raw").table("lead_payloads").insert({"payload": lead}).execute()
    client.schema("staging").table("lead_checks").insert(
        {"lead_id": row.data[0]["id"], "paid": PAYMENTS_TABLE}
    ).execute()
    score_lead.spawn(row.data[0]["id"])
    return {"id": row.data[0]["id"]}
