"""Half-hourly sync of CRM contacts through SQLAlchemy: ORM objects and Core statements."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import httpx
import modal
from sqlalchemy import create_engine, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import sessionmaker

from common.models import CrmContact, CrmContactPayload, SyncCursor, crm_deletions
from config import api_secret, app, db_secret, image

Session = sessionmaker(bind=create_engine(os.environ.get("DATABASE_URL", "postgresql://")))


def _changed_contacts(since: datetime | None) -> tuple[list[dict], list[str]]:
    resp = httpx.get(
        "https://api.crm.example/v3/contacts/changes",
        params={"since": since.isoformat() if since else None},
        timeout=60,
    )
    resp.raise_for_status()
    body = resp.json()
    return body["contacts"], body["deleted_ids"]


@app.function(image=image, secrets=[db_secret, api_secret], schedule=modal.Period(minutes=30))
def sync_crm_contacts() -> int:
    """Stores the raw contacts, upserts the extracted ones, moves the cursor, queues deletions."""
    with Session.begin() as session:
        cursor = session.get(SyncCursor, "crm")
        contacts, deleted = _changed_contacts(cursor.position if cursor else None)
        session.add_all([CrmContactPayload(payload=contact) for contact in contacts])
        rows = [{"crm_id": c["id"], "email": c.get("email")} for c in contacts]
        if rows:
            session.execute(
                pg_insert(CrmContact)
                .values(rows)
                .on_conflict_do_update(index_elements=["crm_id"], set_={"email": "excluded.email"})
            )
        session.merge(SyncCursor(name="crm", position=datetime.now(timezone.utc)))
        session.execute(delete(crm_deletions).where(crm_deletions.c.crm_id.not_in(deleted)))
    return len(contacts)
