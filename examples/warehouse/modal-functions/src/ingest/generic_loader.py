"""A generic loader: partners post rows for a table named in the request.

The target table is runtime data, so no static tool can say which tables this writes.
"""

from __future__ import annotations

import logging

import modal
from pydantic import BaseModel

from common.db import get_client
from config import app, db_secret, image
from extraction.writers import write

logger = logging.getLogger(__name__)


class LoadRequest(BaseModel):
    workflow_slug: str
    table_name: str
    rows: list[dict]
    upsert: bool = False


@app.function(image=image, secrets=[db_secret], name="generic-loader")
@modal.fastapi_endpoint(method="POST")
def load_rows(request: LoadRequest) -> dict:  # conformance: ignore[CONF013] partners name the table; the gateway checks it against their grant
    """Logs the request in staging.load_requests, then writes the rows where the partner says."""
    client = get_client()
    client.schema("staging").table("load_requests").insert(
        {
            "workflow_slug": request.workflow_slug,
            "table_name": request.table_name,
            "row_count": len(request.rows),
        }
    ).execute()
    if request.upsert:
        for row in request.rows:
            write(client, request.table_name, row)
    else:
        client.schema("staging").from_(request.table_name).insert(request.rows).execute()
    return {"status": "ok", "rows": len(request.rows)}
