"""SQLAlchemy models of the CRM sync, the one part of the warehouse that uses the ORM."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, MetaData, String, Table, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class RawModel(Base):
    """Every model below it lives in the raw schema."""

    __abstract__ = True
    __table_args__ = {"schema": "raw"}


class CrmContactPayload(RawModel):
    __tablename__ = "crm_contact_payloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    payload: Mapped[dict] = mapped_column(JSONB)


class CrmContact(Base):
    __tablename__ = "crm_contacts"
    __table_args__ = (UniqueConstraint("crm_id"), {"schema": "extracted"})

    crm_id: Mapped[str] = mapped_column(primary_key=True)
    email: Mapped[str | None]
    company_domain: Mapped[str | None]


class SyncCursor(Base):
    """Where each CRM sync stopped (the default schema: no schema is named)."""

    __tablename__ = "sync_cursors"

    name: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[datetime]


metadata = MetaData()

crm_deletions = Table(
    "crm_deletions",
    metadata,
    Column("crm_id", String, primary_key=True),
    schema="staging",
)
