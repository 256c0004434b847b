"""pandas: ``DataFrame.to_sql(name, con, schema=...)``."""

from __future__ import annotations

from conformance.analysis import values as v
from conformance.analysis.parse.calls import QUERY_RESULT, Call, on_method


@on_method("to_sql")
def to_sql(call: Call) -> v.Value | None:
    if not call.args:
        return None
    schema = call.kwarg("schema") or v.Str("public", "default-schema")
    table = v.TableRef(v.SchemaScope(v.Unknown("a SQL connection"), schema), call.args[0])
    call.effect(v.WriteSite(table, "insert", call.line()))
    return QUERY_RESULT
