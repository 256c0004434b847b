"""People: profiles → core.people. Imports ``employment``, which imports this module back."""

from __future__ import annotations

from datetime import datetime, timezone

from extraction import employment
from extraction.tables import CORE_SCHEMA, PEOPLE_TABLE


def normalize_name(name: str | None) -> str | None:
    """Returns ``name`` with collapsed whitespace and title case, or None."""
    if not name:
        return None
    return " ".join(part.capitalize() for part in name.split())


def upsert_person(client, profile: dict) -> str:
    """Upserts the person and their positions; returns the core.people id."""
    row = {
        "linkedin_url": profile["linkedin_url"],
        "full_name": normalize_name(profile.get("full_name")),
        "headline": profile.get("headline"),
        "location": profile.get("location"),
    }
    res = (
        client.schema(CORE_SCHEMA)
        .table(PEOPLE_TABLE)
        .upsert(row, on_conflict="linkedin_url")
        .execute()
    )
    person_id = res.data[0]["id"]
    employment.upsert_employment(client, person_id, profile.get("positions", []))
    return person_id


def touch_person(client, person_id: str) -> None:
    """Marks the person's employment history as synced."""
    client.schema("core").table("people").update(
        {"employment_synced_at": datetime.now(timezone.utc).isoformat()}
    ).eq("id", person_id).execute()
