"""The enrichment App: one file, deployed on its own (``modal deploy src/enrichment.py``)."""

from __future__ import annotations

import modal

from shared.db import supabase

app = modal.App("enrichment")


def _save(table: str, row: dict) -> None:
    supabase().schema("core").table(table).upsert(row).execute()


@app.function(schedule=modal.Cron("0 4 * * *"))
def refresh_companies() -> None:
    _save("companies", {"refreshed": True})


@app.function()
def enrich_person(person_id: str) -> None:
    _save("people", {"id": person_id})
