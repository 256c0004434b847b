"""pandas: ``DataFrame.to_sql(name, con, schema=...)``."""

from __future__ import annotations

from conformance.analysis import values as v
from conformance.analysis.parse.calls import QUERY_RESULT, Call, connection_table, on_method


@on_method("to_sql")
def to_sql(call: Call) -> v.Value | None:
    if not call.args:
        return None
    table = connection_table(call.kwarg("schema"), call.args[0])
    call.effect(v.WriteSite(table, "insert", call.line()))
    return QUERY_RESULT
