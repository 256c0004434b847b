"""Nightly CSV export of core.companies to the ``exports`` storage bucket.

Files go to storage (upload, copy, move, remove): none of that writes a table. The export run
itself is recorded in staging.export_runs.
"""

from __future__ import annotations

import csv
import io

import modal

from common.db import get_client
from config import app, db_secret, image
from ingest.utils import utcnow_iso


def _bucket(client):
    return client.storage.from_("exports")


@app.function(image=image, secrets=[db_secret], schedule=modal.Cron("30 3 * * *"))
def export_companies() -> str:
    """Writes companies.csv, keeps yesterday's copy under archive/, and logs the run."""
    client = get_client()
    rows = client.schema("core").table("companies").select("domain, name").execute().data
    buffer = io.StringIO()
    csv.DictWriter(buffer, fieldnames=["domain", "name"]).writerows(rows)
    bucket = _bucket(client)
    bucket.move("companies.csv", "archive/companies.csv")
    bucket.upload("companies.csv", buffer.getvalue().encode(), {"upsert": "true"})
    bucket.copy("companies.csv", "latest/companies.csv")
    bucket.remove(["archive/companies.old.csv"])
    client.schema("staging").table("export_runs").insert(
        {"file": "companies.csv", "rows": len(rows), "at": utcnow_iso()}
    ).execute()
    return "companies.csv"
