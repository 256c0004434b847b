"""asyncpg: ``copy_records_to_table``/``copy_to_table`` (SQL text goes through ``execute``,
read by the psycopg recognisers, which answer to the same method names)."""

from __future__ import annotations

from conformance.analysis import values as v
from conformance.analysis.parse.calls import QUERY_RESULT, Call, connection_table, on_method


@on_method("copy_records_to_table", "copy_to_table")
def copy_to_table(call: Call) -> v.Value | None:
    if not call.args:
        return None
    table = connection_table(call.kwarg("schema_name"), call.args[0])
    call.effect(v.WriteSite(table, "insert", call.line()))
    return QUERY_RESULT
