"""Employment history → core.person_employment.

``from extraction import people`` (not ``from extraction.people import ...``) because the two
modules import each other; the attribute is looked up at call time.
"""

from __future__ import annotations

from extraction import people, tables


def _position_row(person_id: str, position: dict) -> dict:
    return {
        "person_id": person_id,
        "company_domain": (position.get("company_domain") or "").lower() or None,
        "company_name": position.get("company_name"),
        "title": people.normalize_name(position.get("title")),
        "started_on": position.get("starts_at"),
        "ended_on": position.get("ends_at"),
    }


def upsert_employment(client, person_id: str, positions: list[dict]) -> int:
    """Upserts every position of the person, then marks the person as synced."""
    rows = [_position_row(person_id, p) for p in positions if p.get("company_name")]
    if rows:
        client.schema(tables.CORE_SCHEMA).from_(tables.EMPLOYMENT_TABLE).upsert(
            rows, on_conflict="person_id,company_name,started_on"
        ).execute()
    people.touch_person(client, person_id)
    return len(rows)
