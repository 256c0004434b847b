"""POST endpoint for company discovery: stage candidates, then merge and tag them."""

from __future__ import annotations

import logging
import uuid

from modal import fastapi_endpoint
from postgrest.exceptions import APIError
from pydantic import BaseModel

from common.db import get_client
from config import app, db_secret, image
from ingest.company_merge import merge_companies
from ingest.company_tags import tag_companies
from ingest.utils import record_ingest_failure

logger = logging.getLogger(__name__)


class EnqueueRequest(BaseModel):
    workflow_slug: str = "company-discovery"
    domains: list[str]
    tags: list[str] = []


@app.function(image=image, secrets=[db_secret])
@fastapi_endpoint(method="POST")
def enqueue_companies(request: EnqueueRequest) -> dict:
    """Stages the domains as one batch; the merge runs in the background."""
    client = get_client()
    batch_id = str(uuid.uuid4())
    try:
        client.schema("staging").table("company_candidates").insert(
            [
                {"batch_id": batch_id, "domain": d.lower(), "workflow_slug": request.workflow_slug}
                for d in request.domains
            ]
        ).execute()
    except APIError as exc:
        record_ingest_failure(client, "enqueue_companies", str(exc), request.model_dump())
        raise
    merge_companies.spawn(batch_id)
    if request.tags:
        for domain in request.domains:
            tag_companies.remote(domain, request.tags, [], [])
    return {"status": "queued", "batch_id": batch_id, "domains": len(request.domains)}
