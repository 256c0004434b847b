"""Chat sessions of the sales assistant.

The store's methods and this module's function are named like supabase-py verbs (``insert``,
``update``, ``delete``) but they are the project's own: a call of them runs the body below.
"""

from __future__ import annotations

import json


class SessionStore:
    """Chat session state in ``chat_sessions`` (the default schema), over one connection."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def insert(self, session_id: str, state: dict) -> None:
        with self.conn.cursor() as cur:
            cur.execute(
                "INSERT INTO chat_sessions (id, state) VALUES (%s, %s)",
                (session_id, json.dumps(state)),
            )

    def update(self, session_id: str, state: dict) -> None:
        with self.conn.cursor() as cur:
            cur.execute(
                "UPDATE chat_sessions SET state = %s, updated_at = now() WHERE id = %s",
                (json.dumps(state), session_id),
            )


def delete(client, session_id: str) -> None:
    """Forgets a closed session's transcript."""
    client.schema("staging").table("chat_transcripts").delete().eq("session_id", session_id).execute()
