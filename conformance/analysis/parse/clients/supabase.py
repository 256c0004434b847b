"""supabase-py: clients (``create_client``, ``ClientOptions(schema=...)``), builders
(``.schema()``, ``.table()``/``.from_()``), writes (``.insert``, ``.upsert``,
``.insert(..., upsert=True)``, ``.update``, ``.delete``), ``.rpc()``, and storage buckets
(``.storage.from_()``: files, not tables)."""

from __future__ import annotations

import libcst as cst

from conformance.analysis import values as v
from conformance.analysis.parse.calls import (
    DATA_VALUES,
    QUERY_RESULT,
    Call,
    on_any_name,
    on_function,
    on_method,
)

WRITE_METHODS = {"insert": "insert", "upsert": "upsert", "update": "update", "delete": "delete"}
CLIENT_FACTORIES = ("create_client", "acreate_client", "create_async_client")
# a builder or a client may take a write; a string, a container or a SQL template cannot
_NOT_WRITABLE = tuple(t for t in DATA_VALUES if t not in (v.SchemaScope, v.TableRef))
# receivers that are supabase builders whatever the rest of the project says
_BUILDERS = (v.SchemaScope, v.TableRef)


@on_method("table", "from_")
def table(call: Call) -> v.Value | None:
    if len(call.args) != 1:
        return None
    if type(call.base) is v.Attr and call.base.attr == "storage":
        return v.Bucket(call.args[0])
    assert call.base is not None
    return v.TableRef(call.base, call.args[0])


@on_method("schema")
def schema(call: Call) -> v.Value | None:
    if len(call.args) != 1 or call.base is None:
        return None
    return v.SchemaScope(call.base, call.args[0])


@on_method(*WRITE_METHODS)
def write(call: Call) -> v.Value | None:
    if call.base is None or isinstance(call.base, _NOT_WRITABLE):
        return None
    assert call.method is not None
    operation = WRITE_METHODS[call.method]
    upsert = call.keyword_node("upsert")
    if operation == "insert" and type(upsert) is cst.Name and upsert.value == "True":
        operation = "upsert"
    if isinstance(call.base, _BUILDERS):
        call.effect(v.WriteSite(call.base, operation, call.line()))
        return QUERY_RESULT
    # a parameter, a helper's result, ``self.x``: perhaps the project's own ``update`` (or a
    # SQLAlchemy session's ``delete``): the resolver decides, and follows the result if it can
    site = v.WriteSite(call.base, operation, call.line(), call.method, call.args, call.kwargs)
    call.effect(site)
    return v.CallResult(v.Attr(call.base, call.method), call.args, call.kwargs)


@on_method("rpc")
def rpc(call: Call) -> v.Value | None:
    if not call.args:
        return None
    call.effect(v.RpcSite(call.args[0], call.line()))
    return QUERY_RESULT


@on_method(*CLIENT_FACTORIES)
@on_function(*CLIENT_FACTORIES)
def client(call: Call) -> v.Value | None:
    options = call.kwarg("options")
    if options is None and len(call.args) >= 3:
        options = call.args[2]
    if isinstance(options, v.ClientOptions):
        return v.Client(options.schema)
    if options is None:
        return v.Client(None)
    return v.Client(v.Attr(options, "schema"))


@on_any_name
def client_options(call: Call) -> v.Value | None:
    name = call.method if call.method is not None else call.name
    if name is None or not name.endswith("ClientOptions"):
        return None
    return v.ClientOptions(call.kwarg("schema"))
