"""Half-finished ingest function: this file does not parse (an unclosed call)."""

from common.db import get_client
from config import app, db_secret, image


@app.function(image=image, secrets=[db_secret])
def ingest_partial_payloads(payload: dict) -> dict:
    client = get_client()
    client.schema("raw").table("partial_payloads").insert(payload).execute(
    return {"status": "ok"}
