"""SQLAlchemy sessions: ``add``, ``add_all``, ``merge``, ``bulk_save_objects``,
``bulk_insert_mappings``, ``bulk_update_mappings`` (``delete`` is read by the supabase
recogniser, which answers to that name). The names are common (``set.add``), so the call is
recorded with its receiver and arguments and the resolver decides what it writes (see
``analysis/orm.py``); Core statements need no recogniser: ``execute`` hands them over."""

from __future__ import annotations

from conformance.analysis import values as v
from conformance.analysis.orm import SESSION_METHODS
from conformance.analysis.parse.calls import DATA_VALUES, Call, on_method


@on_method(*(m for m in SESSION_METHODS if m != "delete"))
def session_write(call: Call) -> v.Value | None:
    if call.base is None or isinstance(call.base, DATA_VALUES) or not call.args:
        return None
    assert call.method is not None
    operation = SESSION_METHODS[call.method]
    site = v.WriteSite(call.base, operation, call.line(), call.method, call.args, call.kwargs)
    call.effect(site)
    return v.CallResult(v.Attr(call.base, call.method), call.args, call.kwargs)
