"""A long-lived enrichment worker: one client per container, reused across calls."""

from __future__ import annotations

import logging
import os

import modal

from config import api_secret, app, db_secret, image
from extraction.writers import upsert_rows
from ingest.utils import utcnow_iso

logger = logging.getLogger(__name__)


@app.cls(image=image, secrets=[db_secret, api_secret], scaledown_window=300, max_containers=4)
class CompanyEnricher:
    """Batch firmographics for many domains at once."""

    @modal.enter()
    def connect(self) -> None:
        from supabase import create_client

        self.client = create_client(os.environ["SUPABASE_URL"], os.environ["SUPABASE_SERVICE_KEY"])

    def _save_firmographics(self, rows: list[dict]) -> None:
        self.client.schema("extracted").from_("company_firmographics").upsert(
            rows, on_conflict="domain"
        ).execute()

    def _lookup(self, domains: list[str]) -> list[dict]:
        import httpx

        resp = httpx.post(
            "https://api.firmographics.example/v2/companies/batch",
            json={"domains": domains},
            timeout=60,
        )
        resp.raise_for_status()
        return resp.json()["companies"]

    @modal.method()
    def enrich(self, domains: list[str]) -> int:
        """Looks up ``domains`` and stores extracted and core firmographics; returns the count."""
        found = self._lookup(domains)
        rows = [
            {
                "domain": c["domain"],
                "employee_count": c.get("employees"),
                "revenue_band": c.get("revenue_band"),
                "updated_at": utcnow_iso(),
            }
            for c in found
        ]
        self._save_firmographics(rows)
        upsert_rows(self.client, "core", "company_firmographics", rows, on_conflict="domain")
        logger.info("enriched %d of %d domains", len(rows), len(domains))
        return len(rows)

    @modal.method()
    def refresh_snapshot(self, domain: str) -> bool:
        """Marks the latest snapshot of ``domain`` as refreshed; returns False when there is none."""
        latest = (
            self.client.schema("core")
            .table("company_snapshots")
            .select("id")
            .eq("domain", domain)
            .order("taken_at", desc=True)
            .limit(1)
            .execute()
        )
        if not latest.data:
            return False
        self.client.schema("core").table("company_snapshots").update(
            {"refreshed_at": utcnow_iso()}
        ).eq("id", latest.data[0]["id"]).execute()
        return True
