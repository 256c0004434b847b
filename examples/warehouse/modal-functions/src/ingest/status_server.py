"""A static status page served by a plain HTTP server inside the container."""

from __future__ import annotations

import subprocess

import modal

from common.db import get_client
from config import app, db_secret, image
from ingest.utils import utcnow_iso

PORT = 8000


@app.function(image=image, secrets=[db_secret])
@modal.web_server(PORT, startup_timeout=60)
def status_server() -> None:
    """Records a heartbeat, then starts the server (Modal proxies requests to PORT)."""
    client = get_client()
    client.table("service_heartbeats").insert(
        {"service": "warehouse-status", "started_at": utcnow_iso()}
    ).execute()
    subprocess.Popen(f"python -m http.server {PORT} --directory /srv/status", shell=True)
