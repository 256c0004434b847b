"""Module summaries → ingest functions with everything they can reach.

A cheap pass over cached summaries: names are resolved across modules (imports, re-exports,
aliases, cycles), helpers are followed with each call site's arguments bound to their parameters
(so ``_upsert(client, "core", "company_tags", row)`` resolves inside ``_upsert``), and every write
keeps the call path that reaches it. Nothing here touches a syntax tree. What a resolved effect
writes is ``writes.py``'s; how much of a value is known, ``known.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from conformance.analysis import orm, postgrest, sqltemplate
from conformance.analysis import values as v
from conformance.analysis.known import (
    DEFAULT_SCHEMA,
    MAX_CHOICES,
    as_argument,
    as_constant,
    concat,
    options,
    with_via,
)
from conformance.analysis.migrations import Database
from conformance.analysis.values import (
    AppMethod,
    AppRef,
    BoundMethod,
    ClassRef,
    External,
    FuncRef,
    Instance,
    ModuleRef,
    RemoteFunction,
)
from conformance.analysis.writes import Reach, WriteRecorder, is_sql_copy
from conformance.model import CallStep, Invocation, Location

if TYPE_CHECKING:
    from conformance.analysis.sqltext import SqlAnalysis

WEB_DECORATORS = frozenset(
    {
        "fastapi_endpoint",
        "web_endpoint",
        "asgi_app",
        "wsgi_app",
        "web_server",
        "webhook",
        "asgi",
        "wsgi",
    }
)
APP_FACTORIES = frozenset({"modal.App", "modal.Stub", "modal.app.App", "modal.stub.Stub"})
METHOD_DECORATORS = frozenset({"method"})
CALLBACK_KEYWORDS = ("target", "func", "fn", "function", "callback")
# calls that only wrap SQL text (SQLAlchemy's ``text("INSERT ...")``)
SQL_TEXT_WRAPPERS = frozenset(
    {"sqlalchemy.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text"}
)
_MAX_DEPTH = 48
# values that resolve to a string, a container or a client, never to a function
_NEVER_A_FUNCTION = frozenset(
    {
        v.Str,
        v.Unknown,
        v.Concat,
        v.Dict,
        v.Merged,
        v.Seq,
        v.SqlTemplate,
        v.SqlIdentifier,
        v.Client,
        v.ClientOptions,
        v.SchemaScope,
        v.TableRef,
        v.Bucket,
        v.Each,
        v.OrmTable,
        v.OrmStatement,
        v.LocalClass,
    }
)

Resolved = v.Value


@dataclass(frozen=True)
class Frame:
    """Where a value is evaluated: a module, the bound parameters, and an enclosing frame."""

    module: str
    bindings: tuple[tuple[str, Resolved], ...] = ()
    parent: Frame | None = None

    def lookup(self, name: str) -> Resolved | None:
        for key, value in self.bindings:
            if key == name:
                return value
        return self.parent.lookup(name) if self.parent is not None else None


class Resolver:
    """Resolves names and follows calls over a set of module summaries."""

    def __init__(
        self,
        modules: Mapping[str, v.ModuleSummary],
        modal_functions: frozenset[FuncRef] = frozenset(),
        database: Database | None = None,
    ) -> None:
        # ``modules`` may load each summary only when it is first asked for (summaries.Summaries
        # after a partial change): the indexes below are built module by module, on first use
        self.modules = modules
        # ``.spawn()``/``.remote()`` of these is an invocation; fixed for the resolver's life,
        # which is what lets ``reach`` remember results by function and bindings alone
        self.modal_functions = modal_functions
        self._bindings = _PerModule(modules, lambda m: dict(m.bindings))
        self._functions = _PerModule(modules, lambda m: {f.qualname: f for f in m.functions})
        self._classes = _PerModule(modules, lambda m: {c.name: c for c in m.classes})
        self.packages = {
            name.rsplit(".", i)[0] for name in modules for i in range(name.count(".") + 1)
        }
        self._globals: dict[tuple[str, str], tuple[Resolved, frozenset[str]]] = {}
        self._deps: list[set[str]] = []
        self._resolving: set[tuple[str, str]] = set()
        self._reach: dict[
            tuple[FuncRef, tuple[tuple[str, Resolved], ...]], tuple[Reach, frozenset[str]]
        ] = {}
        self._stack: set[object] = set()
        self._returns_stack: set[object] = set()
        self._sql: dict[str, SqlAnalysis] = {}
        # what reached effects write (and the database functions the migrations define)
        self.writes = WriteRecorder(self, database)
        self._memo: dict[tuple[int, int], tuple[object, Frame, Resolved]] = {}
        self.known = _FuncIndex(self)

    def analyze_sql(self, text: str) -> SqlAnalysis:
        """SQL text that was not parsed with its file (a constant's, a helper's): parsed once
        per text, however many callers reach it. The SQL parser loads only here."""
        found = self._sql.get(text)
        if found is None:
            from conformance.analysis.sqltext import analyze_sql

            found = self._sql[text] = analyze_sql(text)
        return found

    def function(self, module: str, qualname: str) -> v.FunctionSummary | None:
        """Returns the summary of a project function (None when there is none)."""
        return (self._functions.of(module) or {}).get(qualname)

    def _function(self, ref: FuncRef) -> v.FunctionSummary:
        summary = self.function(ref.module, ref.qualname)
        if summary is None:  # callers check ``ref in self.known`` first
            raise KeyError(f"{ref.module}.{ref.qualname}")
        return summary

    def class_summary(self, module: str, name: str) -> v.ClassSummary | None:
        """Returns the summary of a project class (None when there is none)."""
        return (self._classes.of(module) or {}).get(name)

    # -- names ------------------------------------------------------------------------------------

    def global_value(self, module: str, name: str) -> Resolved:
        """Returns what ``name`` means at the top level of ``module``; a string written there
        is known "via constant"."""
        key = (module, name)
        known = self._globals.get(key)
        if known is not None:
            self._absorb(known[1])
            return known[0]
        if key in self._resolving:
            return v.Unknown(f"'{name}' is defined through an import cycle")
        self._resolving.add(key)
        try:
            with self.collect() as deps:
                deps.add(module)
                result = as_constant(self._global_value(module, name))
        finally:
            self._resolving.discard(key)
        self._globals[key] = (result, frozenset(deps))
        return result

    # -- dependencies -----------------------------------------------------------------------------

    @contextmanager
    def collect(self) -> Iterator[set[str]]:
        """Collects the modules whose summaries are read inside the block (and hands them on to
        an enclosing block): what a result depends on, so an unchanged one can be reused."""
        deps: set[str] = set()
        self._deps.append(deps)
        try:
            yield deps
        finally:
            self._deps.pop()
            self._absorb(deps)

    def _absorb(self, deps: Iterable[str]) -> None:
        if self._deps:
            self._deps[-1].update(deps)

    def touch(self, module: str) -> None:
        """Records that what is being resolved read ``module`` (see :meth:`collect`)."""
        if self._deps:
            self._deps[-1].add(module)

    def _global_value(self, module: str, name: str) -> Resolved:
        bindings = self._bindings.of(module)
        if bindings is None:
            return External(f"{module}.{name}")
        value = bindings.get(name)
        if value is not None:
            return self.resolve(value, Frame(module))
        if f"{module}.{name}" in self.packages:
            return ModuleRef(f"{module}.{name}")
        for key, star in bindings.items():
            if key.startswith("<star ") and isinstance(star, v.ImportRef):
                found = self.global_value(star.module, name)
                if not isinstance(found, External):
                    return found
        return External(name)

    def _import(self, ref: v.ImportRef) -> Resolved:
        if ref.name is None:
            return ModuleRef(ref.module) if ref.module in self.packages else External(ref.module)
        dotted = f"{ref.module}.{ref.name}"
        if dotted in self.packages and dotted not in (self._bindings.of(ref.module) or {}):
            return ModuleRef(dotted)
        if ref.module in self.modules:
            return self.global_value(ref.module, ref.name)
        if ref.module in self.packages:
            return ModuleRef(dotted) if dotted in self.packages else External(dotted)
        return External(dotted)

    # -- values -----------------------------------------------------------------------------------

    def resolve(self, value: Resolved, frame: Frame, depth: int = 0) -> Resolved:
        """Returns ``value`` with every name it mentions resolved in ``frame``.

        Values share structure (a name built up across branches holds its earlier self twice),
        so results are remembered per (value, frame) object: each is resolved once.
        """
        if isinstance(value, (v.Str, v.Unknown)):
            return value
        key = (id(value), id(frame))
        known = self._memo.get(key)
        if known is not None:
            return known[2]
        result = self._resolve(value, frame, depth)
        self._memo[key] = (value, frame, result)  # holding both keeps their ids unique
        return result

    def forget(self) -> None:
        """Drops remembered resolutions (call between ingest functions to bound memory)."""
        self._memo.clear()

    def _resolve(self, value: Resolved, frame: Frame, depth: int) -> Resolved:
        if depth > _MAX_DEPTH:
            return v.Unknown("too many levels of indirection")
        # dispatch on the exact type (values have no subclasses); a type not listed is already
        # resolved (a FuncRef, a ModuleRef, ...)
        handler = _RESOLVERS.get(type(value))
        return handler(self, value, frame, depth + 1) if handler is not None else value

    def _r_param(self, value: v.Param, frame: Frame, d: int) -> Resolved:
        bound = frame.lookup(value.name)
        if bound is not None:
            return bound
        return v.Unknown(f"depends on the runtime value of parameter '{value.name}'")

    def _r_global(self, value: v.Global, frame: Frame, d: int) -> Resolved:
        bound = frame.lookup(value.name) if frame.parent is not None else None
        return bound if bound is not None else self.global_value(frame.module, value.name)

    def _r_import(self, value: v.ImportRef, frame: Frame, d: int) -> Resolved:
        return self._import(value)

    def _r_local_function(self, value: v.LocalFunction, frame: Frame, d: int) -> Resolved:
        if "<locals>" in value.qualname:
            return FuncRef(frame.module, value.qualname, frame.bindings)
        return FuncRef(frame.module, value.qualname)

    def _r_local_class(self, value: v.LocalClass, frame: Frame, d: int) -> Resolved:
        return ClassRef(frame.module, value.name)

    def _r_attr(self, value: v.Attr, frame: Frame, d: int) -> Resolved:
        return self._attr(self.resolve(value.base, frame, d), value.attr, value)

    def _r_concat(self, value: v.Concat, frame: Frame, d: int) -> Resolved:
        return concat([self.resolve(p, frame, d) for p in value.parts])

    def _r_choice(self, value: v.Choice, frame: Frame, d: int) -> Resolved:
        found: list[Resolved] = []
        for option in value.options:
            resolved = self.resolve(option, frame, d)
            flat = resolved.options if isinstance(resolved, v.Choice) else (resolved,)
            found.extend(o for o in flat if o not in found)
        if value.via is not None:
            found = [with_via(o, value.via) for o in found]
        return found[0] if len(found) == 1 else v.Choice(tuple(found[:MAX_CHOICES]))

    def _r_seq(self, value: v.Seq, frame: Frame, d: int) -> Resolved:
        return v.Seq(tuple(self.resolve(i, frame, d) for i in value.items))

    def _r_dict(self, value: v.Dict, frame: Frame, d: int) -> Resolved:
        return v.Dict(tuple((k, self.resolve(i, frame, d)) for k, i in value.items))

    def _r_merged(self, value: v.Merged, frame: Frame, d: int) -> Resolved:
        merged: dict[str, Resolved] = {}
        unread: list[Resolved] = []
        for spread in value.spreads:
            resolved = self.resolve(spread, frame, d)
            if isinstance(resolved, v.Dict):
                merged.update(resolved.items)
            elif isinstance(resolved, v.Merged):
                merged.update(resolved.base.items)
                unread.extend(resolved.spreads)
            else:
                unread.append(resolved)
        base = self.resolve(value.base, frame, d)
        merged.update(base.items if isinstance(base, v.Dict) else ())
        folded = v.Dict(tuple(merged.items()))
        return v.Merged(folded, tuple(unread)) if unread else folded

    def _r_each(self, value: v.Each, frame: Frame, d: int) -> Resolved:
        return v.Each(self.resolve(value.item, frame, d))

    def _r_elem(self, value: v.Elem, frame: Frame, d: int) -> Resolved:
        return self._element(self.resolve(value.seq, frame, d), value.index)

    def _r_sub(self, value: v.Sub, frame: Frame, d: int) -> Resolved:
        r = self.resolve
        return _subscript(r(value.base, frame, d), r(value.index, frame, d), value)

    def _r_call(self, value: v.CallResult, frame: Frame, d: int) -> Resolved:
        return self._call_result(value, frame, d)

    def _r_client(self, value: v.Client, frame: Frame, d: int) -> Resolved:
        schema = value.schema
        return v.Client(self.resolve(schema, frame, d) if schema is not None else None)

    def _r_client_options(self, value: v.ClientOptions, frame: Frame, d: int) -> Resolved:
        schema = value.schema
        return v.ClientOptions(self.resolve(schema, frame, d) if schema is not None else None)

    def _r_scope(self, value: v.SchemaScope, frame: Frame, d: int) -> Resolved:
        return v.SchemaScope(
            self.resolve(value.base, frame, d), self.resolve(value.schema, frame, d)
        )

    def _r_table(self, value: v.TableRef, frame: Frame, d: int) -> Resolved:
        return v.TableRef(self.resolve(value.base, frame, d), self.resolve(value.table, frame, d))

    def _r_bucket(self, value: v.Bucket, frame: Frame, d: int) -> Resolved:
        return v.Bucket(self.resolve(value.name, frame, d))

    def _r_sql(self, value: v.SqlTemplate, frame: Frame, d: int) -> Resolved:
        r = self.resolve
        return sqltemplate.render(
            r(value.text, frame, d),
            [r(a, frame, d) for a in value.args],
            {k: r(a, frame, d) for k, a in value.kwargs},
        )

    def _r_identifier(self, value: v.SqlIdentifier, frame: Frame, d: int) -> Resolved:
        return v.SqlIdentifier(tuple(self.resolve(p, frame, d) for p in value.parts))

    def _attr(self, base: Resolved, attr: str, original: v.Attr) -> Resolved:
        if isinstance(base, ModuleRef):
            if base.module in self.modules:
                return self.global_value(base.module, attr)
            dotted = f"{base.module}.{attr}"
            return ModuleRef(dotted) if dotted in self.packages else External(dotted)
        if isinstance(base, External):
            return External(f"{base.dotted}.{attr}")
        if isinstance(base, ClassRef):
            return self._class_attr(base, attr, None)
        if isinstance(base, Instance):
            return self._class_attr(base.cls, attr, base)
        if isinstance(base, v.Client) and attr == "schema":
            return base.schema or v.Unknown("client options without a schema")
        if isinstance(base, v.Str) and attr == "value":  # an Enum member's value
            return base
        if isinstance(base, v.ClientOptions) and attr == "schema":
            return base.schema or v.Unknown("client options without a schema")
        if isinstance(base, AppRef):
            return AppMethod(base, attr)
        if isinstance(base, v.Unknown):
            return v.Unknown(
                f"{base.reason} (.{attr})"
                if "runtime value" in base.reason
                else f"runtime value {_describe(original)}"
            )
        library = _LIBRARY_ATTRS.get(type(base))  # an HTTP client's or SQLAlchemy's
        found = library(base, attr) if library is not None else None
        return found if found is not None else v.Unknown(f"runtime value {_describe(original)}")

    def _class_attr(
        self, cls: ClassRef, attr: str, instance: Instance | None, depth: int = 0
    ) -> Resolved:
        self.touch(cls.module)
        summary = self.class_summary(cls.module, cls.name)
        if summary is None:
            return v.Unknown(f"attribute {attr} of an unknown class")
        if depth > _MAX_DEPTH:  # bases that form a cycle, or a very deep hierarchy
            return v.Unknown(f"attribute {attr} of {cls.name}: its bases nest too deeply")
        if attr in summary.methods:
            func = FuncRef(cls.module, f"{cls.name}.{attr}")
            return BoundMethod(instance, func) if instance is not None else func
        if instance is not None:
            sets = [(q, val) for a, q, val in summary.self_attrs if a == attr]
            if sets:
                init = dict(instance.init)
                values = []
                for qualname, val in sets:
                    bindings = tuple(init.items()) if qualname.endswith(".__init__") else ()
                    bindings += (("self", instance),)
                    values.append(self.resolve(val, Frame(cls.module, bindings, None)))
                return values[0] if len(values) == 1 else v.Choice(tuple(values))
        for name, val in summary.fields:
            if name == attr:
                return self.resolve(val, Frame(cls.module))
        for base in summary.bases:
            base_ref = self.resolve(base, Frame(cls.module))
            if isinstance(base_ref, ClassRef) and base_ref != cls:
                found = self._class_attr(base_ref, attr, instance, depth + 1)
                if not isinstance(found, v.Unknown):
                    return found
        return v.Unknown(f"attribute {attr} of {cls.name} set at runtime")

    def class_field(self, cls: ClassRef, attr: str, depth: int = 0) -> Resolved | None:
        """A class attribute (or method) of ``cls`` or its bases in the project, resolved;
        None when none of them defines it."""
        self.touch(cls.module)
        summary = self.class_summary(cls.module, cls.name)
        if summary is None or depth > _MAX_DEPTH:
            return None
        if attr in summary.methods:
            return FuncRef(cls.module, f"{cls.name}.{attr}")
        for name, value in summary.fields:
            if name == attr:
                return self.resolve(value, Frame(cls.module))
        for base in summary.bases:
            base_ref = self.resolve(base, Frame(cls.module))
            if isinstance(base_ref, ClassRef) and base_ref != cls:
                found = self.class_field(base_ref, attr, depth + 1)
                if found is not None:
                    return found
        return None

    def _element(self, seq: Resolved, index: int | None) -> Resolved:
        if isinstance(seq, v.Seq) and seq.items:
            items = [
                (
                    item.items[index]
                    if isinstance(item, v.Seq) and index < len(item.items)
                    else v.Unknown("a nested unpacking")
                )
                if index is not None
                else item
                for item in seq.items
            ]
            return self.resolve(v.Choice(tuple(items), via="loop"), Frame(""))
        if isinstance(seq, v.Dict) and seq.items and index is None:
            return v.Choice(tuple(v.Str(k, "loop") for k, _ in seq.items))
        if isinstance(seq, v.Choice):
            return (
                self._element(v.Seq(seq.options), index)
                if index is None
                else v.Unknown("a loop over a value chosen at runtime")
            )
        return v.Unknown("a loop over a runtime value")

    def _call_result(self, call: v.CallResult, frame: Frame, depth: int) -> Resolved:
        func = self.resolve(call.func, frame, depth)
        if isinstance(func, External):
            if func.dotted in APP_FACTORIES:
                name = self.resolve(call.args[0], frame, depth) if call.args else None
                if name is None:
                    name = self.resolve(dict(call.kwargs).get("name", v.Unknown("")), frame)
                return AppRef(frame.module, name.value if isinstance(name, v.Str) else None)
            if func.dotted in SQL_TEXT_WRAPPERS and call.args:
                return self.resolve(call.args[0], frame, depth)
            if func.dotted.startswith(orm.LIBRARIES):
                made = self._orm_call(func.dotted, call, frame, depth)
                if made is not None:
                    return made
            if func.dotted in postgrest.CLIENT_CLASSES:
                kwargs = {k: self.resolve(a, frame, depth) for k, a in call.kwargs}
                return v.HttpClient(kwargs.get("base_url"), kwargs.get("headers"))
            if func.dotted.endswith(("Function.from_name", "Function.lookup")):
                args = [self.resolve(a, frame, depth) for a in call.args]
                if len(args) >= 2 and isinstance(args[1], v.Str):
                    return RemoteFunction(args[1].value)
            return v.Unknown(f"the result of {func.dotted.rsplit('.', 1)[-1]}()")
        if isinstance(func, ClassRef):
            init = FuncRef(func.module, f"{func.name}.__init__")
            bindings: tuple[tuple[str, Resolved], ...] = ()
            if init in self.known:
                bindings = self.bind(init, call, frame, depth)
            return Instance(func, tuple((k, b) for k, b in bindings if k != "self"))
        target: FuncRef | None = None
        instance: Instance | None = None
        if isinstance(func, FuncRef):
            target = func
        elif isinstance(func, BoundMethod):
            target, instance = func.func, func.instance
        if target is None or target not in self.known:
            if isinstance(func, v.OrmStatement) and func.operation == "query":
                return orm.query(
                    func, self.resolve(call.args[0], frame, depth) if call.args else None
                )
            if isinstance(func, (v.OrmStatement, v.OrmSession)):  # a statement's refining
                return func  # method (see orm.refined), or a session factory, called
            if isinstance(call.func, v.Attr) and call.func.attr == "format":
                return _str_format(
                    self.resolve(call.func.base, frame, depth),
                    [self.resolve(a, frame, depth) for a in call.args],
                )
            return v.Unknown(f"the result of {_describe(call.func)}()")
        self.touch(target.module)
        key = (target, call)
        if key in self._returns_stack:
            return v.Unknown("a recursive call")
        self._returns_stack.add(key)
        try:
            summary = self._function(target)
            if not summary.returns:
                return v.Unknown(f"the result of {_describe(call.func)}()")
            bindings = self.bind(target, call, frame, depth, instance)
            inner = Frame(target.module, bindings, _closure(target))
            results = [self.resolve(ret, inner, depth + 1) for ret in summary.returns]
        finally:
            self._returns_stack.discard(key)
        return results[0] if len(results) == 1 else self.resolve(v.Choice(tuple(results)), inner)

    def _orm_call(
        self, dotted: str, call: v.CallResult, frame: Frame, depth: int
    ) -> Resolved | None:
        """What a call of SQLAlchemy's ``dotted`` makes: a statement, a session (or factory),
        a ``Table``; None for anything else."""
        operation = orm.statement(dotted)
        if operation is not None:
            on = self.resolve(call.args[0], frame, depth) if call.args else None
            return v.OrmStatement(on or v.Unknown("no table given"), operation)
        if orm.is_session(dotted):
            return v.OrmSession()
        if orm.is_table(dotted) and call.args:
            kwargs = {k: self.resolve(a, frame, depth) for k, a in call.kwargs}
            name = self.resolve(call.args[0], frame, depth)
            return v.OrmTable(kwargs.get("schema", DEFAULT_SCHEMA), name)
        return None

    def bind(
        self,
        target: FuncRef,
        call: v.CallResult | v.CallSite,
        frame: Frame,
        depth: int,
        instance: Instance | None = None,
    ) -> tuple[tuple[str, Resolved], ...]:
        """Returns the callee's parameters bound to the call site's resolved arguments."""
        self.touch(target.module)
        summary = self._function(target)
        params = list(summary.params)
        bound: dict[str, Resolved] = {}
        if summary.class_name is not None and params and params[0] in ("self", "cls"):
            if instance is not None:
                bound[params[0]] = instance
            params = params[1:]
        for name, arg in zip(params, call.args, strict=False):
            bound[name] = as_argument(self.resolve(arg, frame, depth + 1))
        for name, arg in call.kwargs:
            if name in summary.params:
                bound[name] = as_argument(self.resolve(arg, frame, depth + 1))
        for name, default in summary.defaults:
            if name not in bound:
                bound[name] = self.resolve(default, Frame(target.module), depth + 1)
        return tuple(sorted(bound.items(), key=lambda kv: kv[0]))

    # -- reach ------------------------------------------------------------------------------------

    def reach(
        self,
        func: FuncRef,
        bindings: tuple[tuple[str, Resolved], ...] = (),
    ) -> Reach:
        """Returns everything ``func`` reaches with ``bindings``; cycle-safe and memoised."""
        key = (func, bindings)
        cached = self._reach.get(key)
        if cached is not None:
            self._absorb(cached[1])
            return cached[0]
        if key in self._stack or len(self._stack) > _MAX_DEPTH:
            return Reach()
        self._stack.add(key)
        try:
            with self.collect() as deps:
                deps.add(func.module)
                result = self._reach_uncached(func, bindings)
        finally:
            self._stack.discard(key)
        self._reach[key] = (result, frozenset(deps))
        return result

    def _reach_uncached(
        self,
        func: FuncRef,
        bindings: tuple[tuple[str, Resolved], ...],
    ) -> Reach:
        summary = self._function(func)
        module = self.modules[func.module]
        frame = Frame(func.module, bindings, _closure(func))
        out = Reach()
        here = f"{func.module}.{func.qualname}"
        for slug, line in summary.slugs:
            out.slugs.append((slug, Location(module.file, line)))
        for effect in summary.effects:
            loc = Location(module.file, effect.line)
            if isinstance(effect, v.WriteSite):
                receiver = self.resolve(effect.target, frame)
                self.writes.table(receiver, effect.operation, loc, out)
                if effect.method:
                    self._verb_helper(effect, frame, CallStep(here, loc), out)
                if effect.method in orm.SESSION_METHODS and effect.args:
                    first = self.resolve(effect.args[0], frame)
                    self.writes.session(effect, receiver, first, loc, out)
                elif isinstance(receiver, v.OrmStatement) and effect.method in orm.QUERY_WRITES:
                    query = v.OrmStatement(receiver.target, effect.method)  # query(M)...delete()
                    self.writes.statement(query, loc, out)
            elif isinstance(effect, v.SqlSite):
                sql = self.resolve(effect.sql, frame)
                if effect.receiver is not None and not is_sql_copy(
                    self.resolve(effect.receiver, frame), sql
                ):
                    continue
                self.writes.sql(sql, CallStep(here, loc), out, effect.parsed, effect.text_line)
            elif isinstance(effect, v.RpcSite):
                self.writes.rpc(self.resolve(effect.name, frame), CallStep(here, loc), out)
            elif isinstance(effect, v.InvokeSite):
                target = self.resolve(effect.func, frame)
                if isinstance(target, RemoteFunction):
                    out.invokes.append(Invocation(target.name, effect.method, loc))
                else:
                    if isinstance(target, BoundMethod):
                        target = target.func
                    if isinstance(target, FuncRef) and target in self.modal_functions:
                        out.invokes.append(Invocation(target.qualname, effect.method, loc))
            elif isinstance(effect, v.CallSite):
                self._follow(effect, frame, CallStep(here, loc), out)
        return out

    def _follow(
        self,
        call: v.CallSite,
        frame: Frame,
        step: CallStep,
        out: Reach,
    ) -> None:
        resolved = self.resolve(call.func, frame)
        # a dispatch table (``HANDLERS[kind](...)``): every handler it holds can run
        followed = False
        for target in options(resolved):
            followed |= self._follow_one(target, call, frame, step, out)
        if not followed:
            self._follow_callbacks(call, frame, step, out)

    def _verb_helper(self, site: v.WriteSite, frame: Frame, step: CallStep, out: Reach) -> None:
        """A call named like a write verb on a receiver the file could not tell: when the
        receiver is the project's own (``self.sessions.update(state)``, ``audit.insert(row)``),
        the call runs the project's method or function, which is followed like any helper."""
        call = v.CallSite(v.Attr(site.target, site.method), site.args, site.kwargs, site.line)
        followed = False
        for target in options(self.resolve(call.func, frame)):
            followed |= self._follow_one(target, call, frame, step, out)
        if not followed:  # as for any call outside the project: a function handed to it runs
            self._follow_callbacks(call, frame, step, out)

    def _follow_callbacks(
        self,
        call: v.CallSite,
        frame: Frame,
        step: CallStep,
        out: Reach,
    ) -> None:
        """A project function handed to code outside the project (``add_task(fn, a)``,
        ``pool.submit(fn, a)``, ``Thread(target=fn, args=(a,))``) runs: it is followed with the
        arguments that come after it."""
        for i, arg in enumerate(call.args):
            if type(arg) in _NEVER_A_FUNCTION:  # a payload dict, a literal: nothing to resolve
                continue
            target = self.resolve(arg, frame)
            if isinstance(target, (FuncRef, BoundMethod)):
                site = v.CallSite(arg, call.args[i + 1 :], (), call.line)
                self._follow_one(target, site, frame, step, out)
        kwargs = dict(call.kwargs)
        for name in CALLBACK_KEYWORDS:
            if name in kwargs:
                target = self.resolve(kwargs[name], frame)
                if isinstance(target, (FuncRef, BoundMethod)):
                    extra = kwargs.get("args")
                    args = extra.items if isinstance(extra, v.Seq) else ()
                    site = v.CallSite(kwargs[name], args, (), call.line)
                    self._follow_one(target, site, frame, step, out)

    def _follow_one(
        self,
        target: Resolved,
        call: v.CallSite,
        frame: Frame,
        step: CallStep,
        out: Reach,
    ) -> bool:
        """Follows one call target; returns whether it was a project function (or a request
        sent with requests/httpx, which is read for what it writes)."""
        if isinstance(target, External) and target.dotted.startswith(postgrest.HTTP_LIBRARIES):
            target = postgrest.sender(target.dotted) or target
        if isinstance(target, v.HttpCall):
            args = [self.resolve(a, frame) for a in call.args]
            kwargs = {k: self.resolve(a, frame) for k, a in call.kwargs}
            self.writes.http(target, args, kwargs, step, out)
            return True
        instance: Instance | None = None
        if isinstance(target, ClassRef):
            instance = Instance(target)
            target = FuncRef(target.module, f"{target.name}.__init__")
        elif isinstance(target, BoundMethod):
            instance = target.instance
            target = target.func
        if not isinstance(target, FuncRef) or target not in self.known:
            return False
        callee = target
        bindings = self.bind(callee, call, frame, 0, instance)
        inner = self.reach(callee, bindings)
        out.add(inner, step)
        return True


_RESOLVERS: dict[type, Callable[[Resolver, Any, Frame, int], Resolved]] = {
    v.Param: Resolver._r_param,
    v.Global: Resolver._r_global,
    v.ImportRef: Resolver._r_import,
    v.LocalFunction: Resolver._r_local_function,
    v.LocalClass: Resolver._r_local_class,
    v.Attr: Resolver._r_attr,
    v.Concat: Resolver._r_concat,
    v.Choice: Resolver._r_choice,
    v.Seq: Resolver._r_seq,
    v.Dict: Resolver._r_dict,
    v.Merged: Resolver._r_merged,
    v.Elem: Resolver._r_elem,
    v.Each: Resolver._r_each,
    v.Sub: Resolver._r_sub,
    v.CallResult: Resolver._r_call,
    v.Client: Resolver._r_client,
    v.ClientOptions: Resolver._r_client_options,
    v.SchemaScope: Resolver._r_scope,
    v.TableRef: Resolver._r_table,
    v.Bucket: Resolver._r_bucket,
    v.SqlTemplate: Resolver._r_sql,
    v.SqlIdentifier: Resolver._r_identifier,
}

# what an attribute of a library's value is (``client.post``, ``stmt.values``, ...)
_LIBRARY_ATTRS: dict[type, Callable[[Any, str], Resolved | None]] = {
    v.HttpClient: postgrest.client_method,
    v.OrmStatement: orm.refined,
    v.OrmTable: orm.table_statement,
    v.OrmSession: lambda _session, attr: orm.session_scope(attr),
}

_T = TypeVar("_T")


class _PerModule(Generic[_T]):
    """One index per module (name → fact), built the first time that module is asked for."""

    def __init__(
        self, modules: Mapping[str, v.ModuleSummary], build: Callable[[v.ModuleSummary], _T]
    ) -> None:
        self._modules = modules
        self._build = build
        self._built: dict[str, _T] = {}

    def of(self, module: str) -> _T | None:
        built = self._built.get(module)
        if built is None:
            summary = self._modules.get(module)
            if summary is None:
                return None
            built = self._built[module] = self._build(summary)
        return built


class _FuncIndex:
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    def __contains__(self, ref: object) -> bool:
        return (
            isinstance(ref, FuncRef)
            and self.resolver.function(ref.module, ref.qualname) is not None
        )


def _closure(func: FuncRef) -> Frame | None:
    if func.closure:
        return Frame(func.module, func.closure)
    return None


def _subscript(base: Resolved, index: Resolved, original: v.Sub) -> Resolved:
    if isinstance(base, v.Merged) and isinstance(index, v.Str):
        for key, item in base.base.items:  # a key written out; else it may be a runtime one
            if key == index.value:
                return with_via(item, "constant")
    if isinstance(base, v.Dict):
        if isinstance(index, v.Str):
            for key, item in base.items:
                if key == index.value:
                    return with_via(item, "constant")
        callables = [item for _, item in base.items]
        if callables and all(isinstance(c, (FuncRef, ClassRef, BoundMethod)) for c in callables):
            return v.Choice(tuple(dict.fromkeys(callables)))
        keys = ", ".join(k for k, _ in base.items[:8])
        return v.Unknown(f"chosen at runtime from a mapping ({keys})")
    key = f"[{index.value!r}]" if isinstance(index, v.Str) else "[...]"
    return v.Unknown(f"runtime value {_describe(original.base)}{key}")


def _str_format(base: Resolved, args: list[Resolved]) -> Resolved:
    if isinstance(base, v.Str) and all(isinstance(a, v.Str) for a in args):
        try:
            return v.Str(
                base.value.format(*(a.value for a in args if isinstance(a, v.Str))), base.via
            )
        except (IndexError, KeyError, ValueError):
            return v.Unknown("a str.format() that does not fit its arguments")
    return v.Unknown("a string formatted at runtime")


def _describe(value: object) -> str:
    if isinstance(value, v.Attr):
        return f"{_describe(value.base)}.{value.attr}"
    if isinstance(value, (v.Global, v.Param)):
        return value.name
    if isinstance(value, v.CallResult):
        return f"{_describe(value.func)}()"
    if isinstance(value, v.Sub):
        return f"{_describe(value.base)}[...]"
    if isinstance(value, v.Elem) and value.label:
        return f"loop variable {value.label}"
    return "an expression"
