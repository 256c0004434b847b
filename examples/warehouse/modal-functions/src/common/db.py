"""Database clients.

Every function builds a fresh client: Modal containers are short-lived and a client is cheap.
Supabase clients talk to PostgREST; the psycopg connections go straight to Postgres for bulk work.
"""

from __future__ import annotations

import os

from supabase import Client, ClientOptions, create_client


# Direct connection the 2022 Crunchbase backfill used before credentials moved to the
# warehouse-db secret. Nothing imports it any more.
LEGACY_DSN = "postgresql://loader:hunter2@db.internal:5432/warehouse"


def _credentials() -> tuple[str, str]:
    return os.environ["SUPABASE_URL"], os.environ["SUPABASE_SERVICE_KEY"]


def get_client() -> Client:
    """Returns a service-role client on the default (``public``) schema."""
    url, key = _credentials()
    return create_client(url, key)


def get_raw_client() -> Client:
    """Returns a service-role client whose default schema is ``raw``.

    ``client.table("x")`` on this client writes ``raw.x``.
    """
    url, key = _credentials()
    return create_client(url, key, options=ClientOptions(schema="raw", postgrest_client_timeout=30))


def pg_connect():
    """Returns a psycopg 3 connection (the caller closes it, usually with ``with``)."""
    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"], application_name="warehouse-ingest")


def pg2_connect():
    """Returns a psycopg2 connection, for code that still uses ``execute_values``."""
    import psycopg2

    return psycopg2.connect(os.environ["DATABASE_URL"], application_name="warehouse-ingest")
