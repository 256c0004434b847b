"""Company extraction: raw signal payloads → extracted.company_signals → core.companies."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from extraction.legacy import legacy_domain_alias
from extraction.lineage import record_lineage
from extraction.tables import EXTRACTED_SCHEMA, SIGNALS_TABLE

logger = logging.getLogger(__name__)

SIGNAL_TYPES = ("hiring", "funding", "product_launch", "leadership_change", "expansion")


def _normalize_domain(domain: str) -> str:
    domain = domain.strip().lower()
    for prefix in ("https://", "http://", "www."):
        if domain.startswith(prefix):
            domain = domain[len(prefix):]
    return legacy_domain_alias(domain.rstrip("/"))


def _signal_records(domain: str, raw_id: int, payload: dict) -> list[dict]:
    now = datetime.now(timezone.utc).isoformat()
    records = []
    for item in payload.get("signals", []):
        signal_type = item.get("type")
        if signal_type not in SIGNAL_TYPES:
            logger.debug("skipping unknown signal type %r", signal_type)
            continue
        records.append(
            {
                "domain": domain,
                "signal_type": signal_type,
                "headline": item.get("headline"),
                "observed_at": item.get("date") or now,
                "confidence": float(item.get("confidence", 0.5)),
                "raw_payload_id": raw_id,
            }
        )
    return records


def extract_company(client, raw_id: int, payload: dict) -> dict:
    """Writes the payload's signals to extracted.company_signals and returns a company summary."""
    domain = _normalize_domain(payload.get("domain", ""))
    records = _signal_records(domain, raw_id, payload)
    if records:
        (
            client.schema(EXTRACTED_SCHEMA)
            .table(SIGNALS_TABLE)
            .upsert(records, on_conflict="domain,signal_type,observed_at")
            .execute()
        )
        record_lineage(client, "raw.signal_payloads", "extracted.company_signals", raw_id)
    return {
        "domain": domain,
        "name": payload.get("company_name"),
        "signal_count": len(records),
    }


def upsert_core_company(client, domain: str, name: str | None = None) -> str:
    """Creates or refreshes the core.companies row for ``domain``; returns its id."""
    domain = _normalize_domain(domain)
    tbl = client.schema("core").from_("companies")
    existing = tbl.select("id, name").eq("domain", domain).limit(1).execute()
    row = {
        "domain": domain,
        "name": name or (existing.data[0]["name"] if existing.data else domain),
        "last_seen_at": datetime.now(timezone.utc).isoformat(),
    }
    res = tbl.upsert(row, on_conflict="domain").execute()
    return res.data[0]["id"]


def _deprecated_write_company_flags(client, domain: str, flags: dict) -> None:
    """Superseded by the is_* columns on core.companies; kept until the table is dropped."""
    client.schema("core").table("company_flags").upsert(
        {"domain": domain, **flags}, on_conflict="domain"
    ).execute()
