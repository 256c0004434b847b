"""POST endpoint for the sales assistant's chat turns: keeps each session's state.

Every write here goes through the project's own ``insert``/``update``/``delete`` (see
extraction/chat.py), called on an instance, on an attribute of another object, and on a module.
"""

from __future__ import annotations

import modal
from pydantic import BaseModel, Field

from common.db import get_client, pg_connect
from config import app, db_secret, image
from extraction import chat
from extraction.chat import SessionStore
from ingest.chat_summaries import summarize_chat_session


class ChatTurn(BaseModel):
    session_id: str
    message: str
    state: dict = Field(default_factory=dict)
    transcript: list[str] = Field(default_factory=list)
    first: bool = False
    closed: bool = False


class ChatAgent:
    """Answers one turn; remembers the session through its store."""

    def __init__(self, conn) -> None:
        self.sessions = SessionStore(conn)

    def remember(self, turn: ChatTurn) -> None:
        self.sessions.update(turn.session_id, turn.state)


@app.function(image=image, secrets=[db_secret])
@modal.fastapi_endpoint(method="POST")
def ingest_chat_turn(turn: ChatTurn) -> dict:
    """Stores a new session or updates it; forgets the transcript of a closed one."""
    with pg_connect() as conn:
        if turn.first:
            store = SessionStore(conn)
            store.insert(turn.session_id, turn.state)
        ChatAgent(conn).remember(turn)
    if turn.closed:
        summarize_chat_session.spawn(turn.session_id, turn.transcript)
        chat.delete(get_client(), turn.session_id)
    return {"session_id": turn.session_id, "stored": True}
