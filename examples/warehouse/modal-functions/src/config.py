"""Shared Modal objects: the App every ingest function registers on, its image and secrets.

Ingest modules import these (``from config import app, image``); nothing here runs any work.
"""

import modal

app = modal.App("warehouse-ingest")

image = (
    modal.Image.debian_slim(python_version="3.11")
    .pip_install(
        "supabase==2.4.0",
        "psycopg[binary]==3.1.18",
        "psycopg2-binary==2.9.9",
        "pydantic==2.6.4",
        "fastapi[standard]==0.110.0",
        "flask==3.0.2",
        "httpx==0.27.0",
        "tenacity==8.2.3",
    )
    .add_local_python_source("common", "extraction", "ingest")
)

# SUPABASE_URL, SUPABASE_SERVICE_KEY and DATABASE_URL.
db_secret = modal.Secret.from_name("warehouse-db")
# Third-party API keys (BuiltWith, Similarweb, Proxycurl, ...).
api_secret = modal.Secret.from_name("warehouse-api-keys")
