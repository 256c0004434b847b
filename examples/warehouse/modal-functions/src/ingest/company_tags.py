"""Tags, keywords and categories for a company (called by the discovery endpoint)."""

from __future__ import annotations

import logging

from common.db import get_client
from config import app, db_secret, image

logger = logging.getLogger(__name__)


def _upsert(client, schema: str, table: str, row: dict) -> None:
    client.schema(schema).from_(table).upsert(row).execute()


@app.function(image=image, secrets=[db_secret])
def tag_companies(domain: str, tags: list[str], keywords: list[str], categories: list[str]) -> int:
    """Upserts tags, keywords and categories of one company; returns the number of rows."""
    sb = get_client()
    for tag in tags:
        _upsert(sb, "core", "company_tags", {"domain": domain, "tag": tag.lower()})
    written = len(tags)
    for table in ("company_keywords", "company_categories"):
        values = keywords if table == "company_keywords" else categories
        if not values:
            continue
        sb.schema("core").from_(table).upsert(
            [{"domain": domain, "value": v} for v in values], on_conflict="domain,value"
        ).execute()
        written += len(values)
    logger.info("%s: %d tag rows", domain, written)
    return written
