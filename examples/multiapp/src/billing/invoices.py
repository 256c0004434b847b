"""Invoices, on the billing App."""

from __future__ import annotations

from billing.common import app
from billing.payments import record_payment
from shared.db import postgres


@app.function()
def issue_invoice(customer_id: str, amount: int) -> None:
    with postgres() as conn:
        conn.execute(
            "INSERT INTO core.invoices (customer_id, amount) VALUES (%s, %s)", (customer_id, amount)
        )
    record_payment.spawn(customer_id, 0)


@app.function()
def void_invoice(invoice_id: str) -> None:
    from billing.refunds import refund  # runs when called, in the container: no deploy

    refund.remote(invoice_id)
