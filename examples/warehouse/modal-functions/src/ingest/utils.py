"""Plain helpers for ingest functions. Nothing here is a Modal function."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from functools import lru_cache

logger = logging.getLogger(__name__)


def utcnow_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def chunked(items: Iterable, size: int) -> Iterator[list]:
    """Yields lists of at most ``size`` items."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@lru_cache(maxsize=1)
def allowed_sources() -> frozenset[str]:
    return frozenset({"greenhouse", "lever", "ashby", "workable", "crunchbase", "g2"})


def record_ingest_failure(client, function_name: str, error: str, payload: dict | None = None) -> None:
    """Stores a failure for the replay job; never raises (we are already failing)."""
    try:
        client.schema("staging").table("ingest_failures").insert(
            {
                "function_name": function_name,
                "error": error[:2000],
                "traceback": traceback.format_exc()[-4000:],
                "payload": payload,
                "failed_at": utcnow_iso(),
            }
        ).execute()
    except Exception:
        logger.exception("could not record failure of %s", function_name)
