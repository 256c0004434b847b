"""Modal: ``f.spawn()``/``.remote()``/``.map()``/... start another Modal function (an
invocation: its writes stay with it); ``f.local()`` runs it here (a plain call)."""

from __future__ import annotations

from conformance.analysis import values as v
from conformance.analysis.parse.calls import DATA_VALUES, Call, on_method

INVOKE_METHODS = (
    "spawn",
    "remote",
    "map",
    "starmap",
    "spawn_map",
    "for_each",
    "remote_gen",
    "remote.aio",
    "spawn.aio",
)


@on_method(*INVOKE_METHODS)
def invoke(call: Call) -> v.Value | None:
    if call.base is None or isinstance(call.base, DATA_VALUES):
        return None
    assert call.method is not None
    line = call.line()
    call.effect(v.InvokeSite(call.base, call.method, line))
    if not call.module_level:  # ``executor.map(fn, items)``: fn may be the project's own
        call.effect(v.CallSite(v.Attr(call.base, call.method), call.args, call.kwargs, line))
    return v.Unknown(f"the result of .{call.method}()")


@on_method("local")
def local(call: Call) -> v.Value | None:
    if call.base is None:
        return None
    call.effect(v.CallSite(call.base, call.args, call.kwargs, call.line()))
    return v.CallResult(call.base, call.args, call.kwargs)
