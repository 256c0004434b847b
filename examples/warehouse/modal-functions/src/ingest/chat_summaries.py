"""Background worker the chat endpoint spawns when a session closes.

app.py does not import this module: ingest/chat_sessions.py does, and Modal registers every
function of a module the deploy imports (directly or through another module), so this worker
is deployed with the endpoint.
"""

from __future__ import annotations

from common.db import get_client
from config import app, db_secret, image


@app.function(image=image, secrets=[db_secret], timeout=300)
def summarize_chat_session(session_id: str, transcript: list[str]) -> dict:
    """Stores a one-paragraph summary of a closed session."""
    summary = " ".join(transcript)[:2000]
    get_client().schema("extracted").table("chat_summaries").upsert(
        {"session_id": session_id, "summary": summary}, on_conflict="session_id"
    ).execute()
    return {"session_id": session_id, "length": len(summary)}
