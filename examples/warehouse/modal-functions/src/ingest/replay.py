"""Replays payloads that failed earlier, into whatever table the replay target names."""

from __future__ import annotations

import logging

from psycopg import sql

from common.db import get_client, pg_connect
from config import app, db_secret, image

logger = logging.getLogger(__name__)


@app.function(image=image, secrets=[db_secret], timeout=900)
def replay_failed_payloads(limit: int = 100) -> int:
    """Replays pending targets and rebuilds queued tables; returns the number replayed."""
    client = get_client()
    targets = (
        client.schema("reference")
        .table("replay_targets")
        .select("id, target_schema, target_table, payload")
        .eq("status", "pending")
        .limit(limit)
        .execute()
    )
    replayed = 0
    for target in targets.data:
        try:
            (
                client.schema(target["target_schema"])
                .from_(target["target_table"])
                .upsert(target["payload"])
                .execute()
            )
        except Exception as exc:
            logger.warning("replay %s failed: %s", target["id"], exc)
            continue
        client.schema("reference").table("replay_targets").update({"status": "replayed"}).eq(
            "id", target["id"]
        ).execute()
        replayed += 1

    with pg_connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT schema_name, table_name FROM reference.rebuild_queue WHERE done = false")
        for schema_name, table_name in cur.fetchall():
            cur.execute(
                sql.SQL("TRUNCATE TABLE {}").format(sql.Identifier(schema_name, table_name))
            )
    return replayed
