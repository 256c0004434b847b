"""CRM webhooks (HubSpot, Salesforce) served by one FastAPI app."""

from __future__ import annotations

import logging

import modal

from common.db import get_client
from config import app, db_secret, image
from ingest.utils import utcnow_iso

logger = logging.getLogger(__name__)


def _store_webhook(client, provider: str, payload: dict) -> None:
    client.schema("raw").table("crm_webhook_events").insert(
        {"provider": provider, "payload": payload, "received_at": utcnow_iso()}
    ).execute()


@app.function(image=image, secrets=[db_secret])
@modal.asgi_app(label="crm-webhooks")
def crm_webhooks():
    """Returns the ASGI app; each route stores the event raw."""
    from fastapi import FastAPI, Request

    web_app = FastAPI(title="CRM webhooks")

    @web_app.post("/hubspot")
    async def hubspot(request: Request) -> dict:
        events = await request.json()
        client = get_client()
        for event in events:
            _store_webhook(client, "hubspot", event)
            if event.get("subscriptionType") == "contact.deletion":
                client.schema("staging").table("crm_pending").delete().eq(
                    "external_id", str(event["objectId"])
                ).execute()
        return {"ok": True, "events": len(events)}

    @web_app.post("/salesforce")
    async def salesforce(request: Request) -> dict:
        _store_webhook(get_client(), "salesforce", await request.json())
        return {"ok": True}

    return web_app
