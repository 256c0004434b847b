"""The table of call recognisers: what a call to a known client library means.

A recogniser looks at one call as :class:`Call` shows it (the method or function name, the
receiver's value, the arguments' values) and returns the call's value, recording what the call
does (a write, SQL handed to a driver, an invocation) through :meth:`Call.effect`; or None when
the call is not its library's. Recognisers are registered by the name they answer to, one
module per library under ``parse/clients/``; supporting a new client library is adding one
such module. A call nobody recognises is a plain call the resolver may follow.

What a file alone cannot tell stays for the resolver, which knows what names resolve to: a
write verb on a receiver that may be the project's own (``self.sessions.update(state)``) is
recorded with its arguments, and the resolver follows the project's method or reads the
library call (a supabase builder's write, a SQLAlchemy session's ``add``: ``analysis/orm.py``).
Calls whose meaning is only in the name they resolve to need no recogniser at all: requests/
httpx requests (``analysis/postgrest.py``), SQLAlchemy statements (``analysis/orm.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from conformance.analysis import values as v
from conformance.analysis.known import DEFAULT_SCHEMA

if TYPE_CHECKING:
    from conformance.analysis.parse.reader import Reader, Scope

# values that are data, clients or builders: calling a method on them never runs project code
DATA_VALUES: tuple[type, ...] = (
    v.Str,
    v.Seq,
    v.Dict,
    v.Merged,
    v.Concat,
    v.Client,
    v.ClientOptions,
    v.SqlTemplate,
    v.SqlIdentifier,
    v.Unknown,
    v.SchemaScope,
    v.TableRef,
    v.Bucket,
    v.Each,
)
# what a query builder's or a cursor's call returns: nothing the analysis follows
QUERY_RESULT = v.Unknown("a supabase query result")


def connection_table(schema: v.Value | None, table: v.Value) -> v.TableRef:
    """A table a database connection writes by name (not through SQL text): ``schema`` as
    given, else the default ``public``."""
    scope = v.SchemaScope(v.Unknown("a SQL connection"), schema or DEFAULT_SCHEMA)
    return v.TableRef(scope, table)


@dataclass
class Call:
    """A call being read: ``base.method(...)`` (``method`` and ``base`` set) or ``name(...)``
    (``name`` set; None for a call of anything but a bare name)."""

    reader: Reader
    scope: Scope
    node: cst.Call
    method: str | None
    name: str | None
    base: v.Value | None
    args: tuple[v.Value, ...]
    kwargs: tuple[tuple[str, v.Value], ...]

    def line(self) -> int:
        """The (placeholder) line of the called name: where a finding about the call sits."""
        func = self.node.func
        return self.reader.mark(func.attr if type(func) is cst.Attribute else func)

    def positional_node(self, index: int) -> cst.BaseExpression:
        """The expression of positional argument ``index`` (after ``*args``-free ones)."""
        positional = [a for a in self.node.args if a.keyword is None and not a.star]
        return positional[index].value

    def kwarg(self, name: str) -> v.Value | None:
        return dict(self.kwargs).get(name)

    def keyword_node(self, name: str) -> cst.BaseExpression | None:
        """The expression given for keyword ``name``, as written."""
        for arg in self.node.args:
            if arg.keyword is not None and arg.keyword.value == name:
                return arg.value
        return None

    def effect(self, effect: v.Effect) -> None:
        self.scope.effects.append(effect)

    @property
    def module_level(self) -> bool:
        return self.scope.module_level


Recogniser = Callable[[Call], "v.Value | None"]

METHODS: dict[str, list[Recogniser]] = {}
FUNCTIONS: dict[str, list[Recogniser]] = {}
# recognisers that decide by a name's shape rather than the name (``...ClientOptions``)
ANY_NAME: list[Recogniser] = []


def on_method(*names: str) -> Callable[[Recogniser], Recogniser]:
    """Registers a recogniser of ``x.<name>(...)`` calls."""

    def register(recogniser: Recogniser) -> Recogniser:
        for name in names:
            METHODS.setdefault(name, []).append(recogniser)
        return recogniser

    return register


def on_function(*names: str) -> Callable[[Recogniser], Recogniser]:
    """Registers a recogniser of ``<name>(...)`` calls (a name imported from the library)."""

    def register(recogniser: Recogniser) -> Recogniser:
        for name in names:
            FUNCTIONS.setdefault(name, []).append(recogniser)
        return recogniser

    return register


def on_any_name(recogniser: Recogniser) -> Recogniser:
    """Registers a recogniser asked about every method and function call."""
    ANY_NAME.append(recogniser)
    return recogniser


def recognise(call: Call) -> v.Value | None:
    """Returns the value of ``call`` according to the first recogniser that knows it."""
    if call.method is not None:
        candidates = METHODS.get(call.method, ())
    elif call.name is not None:
        candidates = FUNCTIONS.get(call.name, ())
    else:
        candidates = ()
    for recogniser in candidates:
        value = recogniser(call)
        if value is not None:
            return value
    for recogniser in ANY_NAME:
        value = recogniser(call)
        if value is not None:
            return value
    return None
