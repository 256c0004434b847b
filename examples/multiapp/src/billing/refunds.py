"""Refunds, on the billing App. Only a function body imports this module, so no deploy
registers it: Modal cannot run refund (CONF009)."""

from __future__ import annotations

from billing.common import app
from shared.db import supabase


@app.function()
def refund(invoice_id: str) -> None:
    supabase().schema("core").table("invoices").update({"refunded": True}).eq(
        "id", invoice_id
    ).execute()
