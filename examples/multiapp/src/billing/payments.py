"""Payments, on the billing App; deployed because invoices.py imports this module."""

from __future__ import annotations

from billing.common import app
from shared.db import supabase

PAYMENTS_TABLE = "payments"


@app.function()
def record_payment(customer_id: str, amount: int) -> None:
    supabase().schema("core").table(PAYMENTS_TABLE).insert(
        {"customer_id": customer_id, "amount": amount}
    ).execute()
