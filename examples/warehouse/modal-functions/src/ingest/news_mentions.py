"""News articles mentioning a company. The client's default schema is ``raw``."""

from __future__ import annotations

import logging
import os

from supabase import create_client
from supabase.lib.client_options import ClientOptions

from config import api_secret, app, db_secret, image
from ingest.utils import utcnow_iso

logger = logging.getLogger(__name__)


def _extract_mention(domain: str, article: dict) -> dict | None:
    text = (article.get("title", "") + " " + article.get("body", "")).lower()
    name = domain.split(".")[0]
    if name not in text:
        return None
    return {
        "domain": domain,
        "url": article["url"],
        "published_at": article.get("published_at"),
        "sentiment": article.get("sentiment", 0.0),
    }


@app.function(image=image, secrets=[db_secret, api_secret], timeout=600)
def ingest_news_mentions(domain: str, articles: list[dict]) -> int:
    """Stores every article raw and the ones that mention ``domain`` as extracted mentions."""
    client = create_client(
        os.environ["SUPABASE_URL"],
        os.environ["SUPABASE_SERVICE_KEY"],
        options=ClientOptions(schema="raw"),
    )
    mentions = 0
    for article in articles:
        res = client.table("news_articles").insert(
            {"domain": domain, "url": article["url"], "article": article, "fetched_at": utcnow_iso()}
        ).execute()
        article_id = res.data[0]["id"]
        mention = _extract_mention(domain, article)
        if mention is None:
            continue
        client.schema("extracted").table("news_mentions").upsert(mention, on_conflict="url").execute()
        client.table("news_articles").update({"has_mention": True}).eq("id", article_id).execute()
        mentions += 1
    logger.info("%s: %d of %d articles mention the company", domain, mentions, len(articles))
    return mentions
