"""Symbolic values and effects: what one file says, before names are resolved across modules.

The reader (``parse/reader.py``) turns each file into a :class:`ModuleSummary` built from these
frozen records; the resolver (``resolve.py``) evaluates them across modules. A value
names what an expression *is* as far as the file alone can tell: a string literal, a parameter,
a module-level name still to be resolved, a supabase table builder, a call's result, ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from conformance.analysis.sqltext import SqlAnalysis

# -- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Str:
    """A known string; ``via`` says how it was known (see ``model.VIA``)."""

    value: str
    via: str = "literal"


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value code cannot show; ``reason`` says why, in words for the user."""

    reason: str


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter of the enclosing function, bound by each call site."""

    name: str


@dataclass(frozen=True, slots=True)
class Global:
    """A module-level name (definition, constant or import) of the enclosing module."""

    name: str


@dataclass(frozen=True, slots=True)
class ImportRef:
    """``import module`` (``name`` None) or ``from module import name``, module made absolute."""

    module: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Attr:
    base: Value
    attr: str


@dataclass(frozen=True, slots=True)
class Sub:
    """``base[index]``."""

    base: Value
    index: Value


@dataclass(frozen=True, slots=True)
class Concat:
    """String concatenation, f-strings included."""

    parts: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Choice:
    """One of several values (branches, a literal loop); ``via`` overrides the options' own."""

    options: tuple[Value, ...]
    via: str | None = None


@dataclass(frozen=True, slots=True)
class Seq:
    """A tuple, list or set display."""

    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Dict:
    """A dict display with string keys."""

    items: tuple[tuple[str, Value], ...]


@dataclass(frozen=True, slots=True)
class Merged:
    """A dict display with ``**mapping`` in it: the mappings merged into ``base`` (its keys
    win). The resolver folds those it can read into a :class:`Dict`; the rest stay here."""

    base: Dict
    spreads: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Elem:
    """An element of ``seq`` (a loop variable over a sequence not known in this file)."""

    seq: Value
    index: int | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class Each:
    """A list, set or generator comprehension: its elements, each like ``item``
    (``[Event(**row) for row in rows]``)."""

    item: Value


@dataclass(frozen=True, slots=True)
class CallResult:
    """What ``func(*args, **kwargs)`` returns; the resolver follows ``func`` when it can."""

    func: Value
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True, slots=True)
class Client:
    """A supabase client from ``create_client``; ``schema`` is ``ClientOptions(schema=...)``."""

    schema: Value | None = None


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """``ClientOptions(schema=...)``."""

    schema: Value | None = None


@dataclass(frozen=True, slots=True)
class SchemaScope:
    """``base.schema(name)``: a client bound to one schema."""

    base: Value
    schema: Value


@dataclass(frozen=True, slots=True)
class TableRef:
    """``base.table(name)`` / ``base.from_(name)``: a table builder (not yet a write)."""

    base: Value
    table: Value


@dataclass(frozen=True, slots=True)
class Bucket:
    """``client.storage.from_(name)``: a storage bucket. Its methods (``upload``, ``copy``,
    ``move``, ``remove``, ``update``) move files, never table rows."""

    name: Value


@dataclass(frozen=True, slots=True)
class SqlTemplate:
    """``sql.SQL(text)``, possibly ``.format(...)``-ed with identifiers."""

    text: Value
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True, slots=True)
class SqlIdentifier:
    """``sql.Identifier(*parts)``."""

    parts: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class LocalFunction:
    """A function defined inside another one, called by name there."""

    qualname: str


@dataclass(frozen=True, slots=True)
class LocalClass:
    """A class defined at module level of the enclosing module."""

    name: str


# -- resolved values: what names turn out to be across modules (made by the resolver, never cached)


@dataclass(frozen=True, slots=True)
class FuncRef:
    module: str
    qualname: str
    closure: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True, slots=True)
class ClassRef:
    module: str
    name: str


@dataclass(frozen=True, slots=True)
class ModuleRef:
    module: str


@dataclass(frozen=True, slots=True)
class External:
    dotted: str


@dataclass(frozen=True, slots=True)
class AppRef:
    module: str
    name: str | None


@dataclass(frozen=True, slots=True)
class AppMethod:
    """``app.function`` / ``app.cls`` / ... of a Modal App."""

    app: AppRef
    attr: str


@dataclass(frozen=True, slots=True)
class Instance:
    cls: ClassRef
    init: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True, slots=True)
class BoundMethod:
    instance: Instance | None
    func: FuncRef


@dataclass(frozen=True, slots=True)
class RemoteFunction:
    name: str


@dataclass(frozen=True, slots=True)
class OrmTable:
    """SQLAlchemy's ``Table(name, metadata, ..., schema=...)``."""

    schema: Value
    name: Value


@dataclass(frozen=True, slots=True)
class OrmStatement:
    """A SQLAlchemy statement on ``target`` (a model class or an :class:`OrmTable`):
    ``insert(Model)``, ``update(table)``, ``delete(...)``, their ``.values()``/``.where()``/...
    (``on_conflict_do_update`` makes an upsert), or ``select(...)`` (``operation`` ``select``)."""

    target: Value
    operation: str


@dataclass(frozen=True, slots=True)
class OrmSession:
    """A SQLAlchemy (or SQLModel) session, or a factory of sessions (``sessionmaker(...)``)."""


@dataclass(frozen=True, slots=True)
class HttpClient:
    """``requests.Session()``, ``httpx.Client(...)`` or ``httpx.AsyncClient(...)``: the
    ``base_url`` and ``headers`` it adds to each request (httpx's keyword arguments)."""

    base_url: Value | None = None
    headers: Value | None = None


@dataclass(frozen=True, slots=True)
class HttpCall:
    """A function or client method that sends an HTTP request (``requests.post``,
    ``client.patch``); ``verb`` is ``request`` when the call names the method itself."""

    verb: str
    client: HttpClient | None = None


Value = Union[  # noqa: UP007  (a runtime alias: X | Y of forward references would not evaluate)
    Str,
    Unknown,
    Param,
    Global,
    ImportRef,
    Attr,
    Sub,
    Concat,
    Choice,
    Seq,
    Dict,
    Merged,
    Elem,
    Each,
    CallResult,
    Client,
    ClientOptions,
    SchemaScope,
    TableRef,
    Bucket,
    SqlTemplate,
    SqlIdentifier,
    LocalFunction,
    LocalClass,
    FuncRef,
    ClassRef,
    ModuleRef,
    External,
    AppRef,
    AppMethod,
    Instance,
    BoundMethod,
    RemoteFunction,
    OrmTable,
    OrmStatement,
    OrmSession,
    HttpClient,
    HttpCall,
]

# -- effects --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteSite:
    """``target.insert/upsert/update/delete(...)``: a write when ``target`` resolves to a table
    builder. When the file alone cannot tell what ``target`` is, ``method`` and the arguments
    are kept: if it resolves to the project's own class, instance or module, the call is a
    helper call (``self.sessions.update(state)``) and the resolver follows it instead."""

    target: Value
    operation: str
    line: int
    method: str = ""
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True, slots=True)
class SqlSite:
    """SQL text handed to ``execute``/``executemany``/``execute_values``/``copy``.

    ``parsed`` holds the SQL analysis when the text was known in the file itself, so a cached
    summary never needs the SQL parser again. ``text_line`` is the line where the text starts
    when it is a string literal written in the call: a write's line is then that of its target
    inside the text; for text from elsewhere (a constant, a helper) it is the call's line.
    """

    sql: Value
    line: int
    parsed: SqlAnalysis | None = None
    text_line: int | None = None
    # for ``x.copy(...)`` only, a name many non-SQL objects share: the receiver, so that the
    # resolver can tell a cursor from a storage bucket or a module (``shutil.copy``)
    receiver: Value | None = None


@dataclass(frozen=True, slots=True)
class CallSite:
    func: Value
    args: tuple[Value, ...]
    kwargs: tuple[tuple[str, Value], ...]
    line: int


@dataclass(frozen=True, slots=True)
class RpcSite:
    name: Value
    line: int


@dataclass(frozen=True, slots=True)
class InvokeSite:
    """``func.spawn/remote/map(...)``: an invocation if ``func`` is a Modal function."""

    func: Value
    method: str
    line: int


Effect = Union[WriteSite, SqlSite, CallSite, RpcSite, InvokeSite]  # noqa: UP007

# -- summaries ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunctionSummary:
    """One function (or method) as its file alone shows it."""

    qualname: str
    name: str
    line: int
    params: tuple[str, ...]
    defaults: tuple[tuple[str, Value], ...]
    decorators: tuple[Value, ...]
    effects: tuple[Effect, ...]
    returns: tuple[Value, ...]
    annotations: tuple[tuple[str, Value], ...] = ()
    closure: tuple[tuple[str, Value], ...] = ()
    class_name: str | None = None
    slugs: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ClassSummary:
    name: str
    line: int
    decorators: tuple[Value, ...]
    bases: tuple[Value, ...]
    methods: tuple[str, ...]
    # ``self.attr = value`` assignments: (attr, method qualname, value in that method's terms)
    self_attrs: tuple[tuple[str, str, Value], ...]
    fields: tuple[tuple[str, Value], ...]
    # names declared with an annotation (a request model's fields), with or without a default
    annotated: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModuleSummary:
    """Everything the resolver needs from one file; cached by the file's content hash."""

    module: str
    file: str
    is_package: bool
    bindings: tuple[tuple[str, Value], ...]
    functions: tuple[FunctionSummary, ...]
    classes: tuple[ClassSummary, ...]
    imports: tuple[str, ...] = ()
    suppressions: tuple[tuple[int, tuple[str, ...], str], ...] = ()
    secrets: tuple[tuple[int, str, str], ...] = ()
    error: tuple[int, str] | None = None
    # the imports made only inside function bodies: they run when the function is called, not
    # when the module is imported (which is what Modal deploys); usually few
    local_imports: tuple[str, ...] = ()
