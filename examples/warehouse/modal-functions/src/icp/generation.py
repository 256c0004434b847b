"""Ideal-customer-profile generation: a Modal function that lives outside ingest/.

The registry names it (row icp-generation), but [tool.conformance] ingest covers only ingest/,
so the check cannot see it: CONF002 says where it is defined and how to include the directory.
"""

from __future__ import annotations

from common.db import get_client
from config import app, db_secret, image


@app.function(image=image, secrets=[db_secret], timeout=600)
def generate_icp(client_id: str) -> int:
    """Scores every company against one client's ideal customer profile."""
    client = get_client()
    rows = client.schema("core").table("companies").select("domain").execute().data
    scores = [{"client_id": client_id, "domain": r["domain"], "score": 0.0} for r in rows]
    client.schema("core").table("icp_scores").upsert(scores).execute()
    return len(scores)
