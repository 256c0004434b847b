"""POST endpoint for company signal payloads (news, hiring, funding hints from partners).

Flow: raw.signal_payloads → extracted.company_signals → core.companies, then an enrichment job is
spawned for the company.
"""

from __future__ import annotations

import logging
import os

import modal
from pydantic import BaseModel, Field
from supabase import create_client

from config import app, db_secret, image
from extraction.company import extract_company, upsert_core_company
from ingest.enrichment import enrich_company
from ingest.utils import record_ingest_failure, utcnow_iso

logger = logging.getLogger(__name__)

RAW_TABLE = "signal_payloads"


class SignalRequest(BaseModel):
    workflow_slug: str = "company-signals"
    domain: str
    source: str
    payload: dict = Field(default_factory=dict)


def _store_raw(client, request: SignalRequest) -> int:
    """Stores the request as received; returns the raw row id."""
    res = (
        client.schema("raw")
        .from_(RAW_TABLE)
        .insert(
            {
                "workflow_slug": request.workflow_slug,
                "domain": request.domain,
                "source": request.source,
                "payload": request.payload,
                "received_at": utcnow_iso(),
            }
        )
        .execute()
    )
    return res.data[0]["id"]


def _registry_row(client, slug: str) -> dict | None:
    res = (
        client.schema("reference")
        .from_("enrichment_workflow_registry")
        .select("*")
        .eq("workflow_slug", slug)
        .limit(1)
        .execute()
    )
    return res.data[0] if res.data else None


@app.function(image=image, timeout=120, secrets=[db_secret])
@modal.fastapi_endpoint(method="POST")
def ingest_company_signals(request: SignalRequest) -> dict:
    """Stores, extracts and merges one signal payload; returns the raw id and signal count."""
    client = create_client(os.environ["SUPABASE_URL"], os.environ["SUPABASE_SERVICE_KEY"])
    if _registry_row(client, request.workflow_slug) is None:
        logger.warning("unregistered workflow %s", request.workflow_slug)
        return {"status": "rejected", "reason": f"unknown workflow {request.workflow_slug}"}
    try:
        raw_id = _store_raw(client, request)
        summary = extract_company(client, raw_id, {"domain": request.domain, **request.payload})
        company_id = upsert_core_company(client, request.domain, summary.get("name"))
        client.rpc("merge_company", {"p_company_id": company_id}).execute()
    except Exception as exc:
        record_ingest_failure(client, "ingest_company_signals", str(exc), request.model_dump())
        raise
    enrich_company.spawn(summary["domain"])
    logger.info("stored %s signals for %s", summary["signal_count"], summary["domain"])
    return {"status": "ok", "raw_id": raw_id, "signals": summary["signal_count"]}
