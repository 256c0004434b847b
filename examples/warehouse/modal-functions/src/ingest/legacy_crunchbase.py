"""One-off backfill from the 2019 Crunchbase export.

Not deployed: app.py does not import this module. Run it by hand with
``modal run ingest/legacy_crunchbase.py``.
"""

from __future__ import annotations

import json
import logging

from common.db import get_client
from config import app, db_secret, image
from extraction.company import upsert_core_company
from ingest.utils import chunked

logger = logging.getLogger(__name__)


@app.function(image=image, secrets=[db_secret], timeout=7200)
def backfill_crunchbase_legacy(path: str = "/data/crunchbase_2019.jsonl") -> int:
    """Loads the export into raw.crunchbase_organizations and core.companies; returns rows."""
    client = get_client()
    with open(path, encoding="utf-8") as fh:
        orgs = [json.loads(line) for line in fh if line.strip()]
    for batch in chunked(orgs, 1000):
        client.schema("raw").table("crunchbase_organizations").insert(batch).execute()
        for org in batch:
            if org.get("domain"):
                upsert_core_company(client, org["domain"], org.get("name"))
    return len(orgs)


@app.local_entrypoint()
def main(path: str = "/data/crunchbase_2019.jsonl") -> None:
    """Runs the backfill remotely from a laptop (``modal run``); not a Modal function itself."""
    print(backfill_crunchbase_legacy.remote(path))
