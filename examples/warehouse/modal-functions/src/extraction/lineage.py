"""Lineage events: which raw row produced which downstream row."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

logger = logging.getLogger(__name__)


def record_lineage(client, source_table: str, target_table: str, source_id) -> None:
    """Appends one lineage event; failures are logged, never raised."""
    event = {
        "source_table": source_table,
        "target_table": target_table,
        "source_id": str(source_id),
        "recorded_at": datetime.now(timezone.utc).isoformat(),
    }
    try:
        client.schema("staging").table("lineage_events").insert(event).execute()
    except Exception:  # lineage is best effort
        logger.warning("lineage event lost: %s -> %s", source_table, target_table, exc_info=True)
