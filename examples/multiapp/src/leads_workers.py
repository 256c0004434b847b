"""Workers of the leads App (registered on it, deployed with leads_app.py, which imports them)."""

from __future__ import annotations

from leads_app import app, image
from shared.db import postgres


@app.function(image=image, timeout=120)
def score_lead(lead_id: int) -> None:
    with postgres() as conn:
        conn.execute(
            "INSERT INTO extracted.lead_scores (lead_id, score) VALUES (%s, 0)"
            " ON CONFLICT (lead_id) DO UPDATE SET score = excluded.score",
            (lead_id,),
        )
