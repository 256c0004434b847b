"""The old Flask form intake, still linked from partner sites."""

from __future__ import annotations

import logging

import modal

from common.db import get_raw_client
from config import app, db_secret, image
from ingest.utils import utcnow_iso

logger = logging.getLogger(__name__)


def _save_submission(form: dict) -> None:
    db = get_raw_client()
    db.table("form_submissions").insert(
        {"form": form.get("form_id"), "fields": form, "submitted_at": utcnow_iso()}
    ).execute()


@app.function(image=image, secrets=[db_secret])
@modal.wsgi_app()
def legacy_form_intake():
    """Returns the WSGI app serving ``POST /submit``."""
    from flask import Flask, request

    web_app = Flask(__name__)

    @web_app.route("/submit", methods=["POST"])
    def submit():
        _save_submission(request.form.to_dict())
        return {"ok": True}

    return web_app
