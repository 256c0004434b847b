"""What a reached effect writes, once the resolver has resolved its values.

The resolver (``resolve.py``) walks each function's effects and resolves their values; this
module turns the resolved ones into records: a table builder's write, SQL text (whole, or with
runtime parts), a PostgREST request, a database function called by name (its body read from the
migrations), a SQLAlchemy session's call or executed statement. What cannot be named is an
unresolved write with the reason.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from conformance.analysis import orm, postgrest
from conformance.analysis import values as v
from conformance.analysis.known import (
    DEFAULT_SCHEMA,
    as_constant,
    elements,
    options,
    reason,
    via_of,
    with_via,
)
from conformance.analysis.migrations import MIGRATIONS_MODULE, Database
from conformance.model import (
    CallStep,
    Invocation,
    Location,
    RpcCall,
    TableWrite,
    UnresolvedWrite,
)

if TYPE_CHECKING:
    from conformance.analysis.resolve import Resolver
    from conformance.analysis.sqlfunctions import DatabaseFunction
    from conformance.analysis.sqltext import SqlAnalysis, SqlWrite


@dataclass
class Reach:
    """What one function reaches; call paths relative to that function."""

    writes: list[TableWrite] = field(default_factory=list)
    unresolved: list[UnresolvedWrite] = field(default_factory=list)
    rpc: list[RpcCall] = field(default_factory=list)
    invokes: list[Invocation] = field(default_factory=list)
    slugs: list[tuple[str, Location]] = field(default_factory=list)

    def add(self, inner: Reach, step: CallStep) -> None:
        """Adds what a callee reaches, through the call at ``step``."""
        self.writes.extend(prefixed(w, step) for w in inner.writes)
        self.unresolved.extend(prefixed(u, step) for u in inner.unresolved)
        self.rpc.extend(prefixed(r, step) for r in inner.rpc)
        self.invokes.extend(prefixed(i, step) for i in inner.invokes)
        self.slugs.extend(inner.slugs)


_R = TypeVar("_R", TableWrite, UnresolvedWrite, RpcCall, Invocation)


def prefixed(record: _R, step: CallStep) -> _R:
    return replace(record, call_path=(step, *record.call_path))


_COPY_STATEMENT = re.compile(r"(?:\s+|--[^\n]*\n|/\*.*?\*/)*\(?\s*COPY\b", re.I | re.S)
# a runtime part of SQL text, read as a name: it cannot clash with a real one
_HOLE_MARK = "conformance_hole_"
_HOLE = _HOLE_MARK + "{}_"


def _line(call: Location, text_line: int | None, w: SqlWrite) -> Location:
    """Where a write in SQL text sits: on its target's line when the text is a literal written
    at ``text_line``, else on the call."""
    return call if text_line is None else Location(call.file, text_line + w.line_offset)


def _sql_write(w: SqlWrite, text_via: str, line: Location) -> TableWrite:
    """A write named in SQL text: ``sql`` when the text was written here or in a constant (an
    argument's or a loop's text says so), ``default-schema`` when it names no schema."""
    via = "sql" if text_via in ("literal", "constant") else text_via
    schema = w.schema
    if schema is None:
        schema, via = DEFAULT_SCHEMA.value, DEFAULT_SCHEMA.via
    return TableWrite(schema, w.table, w.operation, line, via)


def is_sql_copy(receiver: v.Value, text: v.Value) -> bool:
    """Whether ``receiver.copy(text, ...)`` (resolved) can be psycopg's COPY: not when the
    receiver is a storage bucket or a module (``shutil.copy``), nor when the text is known and
    is not a COPY statement (a bucket's ``copy("a.csv", "b.csv")``)."""
    if isinstance(receiver, (v.Bucket, v.External, v.ModuleRef)):
        return False
    return not isinstance(text, v.Str) or _COPY_STATEMENT.match(text.value) is not None


class WriteRecorder:
    """Records into a :class:`Reach` what resolved effects write; holds what the migrations
    define (``database``) and what each database function's body reaches."""

    def __init__(self, resolver: Resolver, database: Database | None) -> None:
        self.resolver = resolver
        self.database = database
        self._db_reach: dict[tuple[str, str, str], Reach] = {}
        self._db_stack: set[tuple[str, str, str]] = set()

    # -- tables -----------------------------------------------------------------------------------

    def table(self, target: v.Value, operation: str, loc: Location, out: Reach) -> None:
        """A write to a table builder (a supabase ``TableRef``, or one made for PostgREST or a
        model); anything else writes nothing here."""
        if not isinstance(target, v.TableRef):
            if isinstance(target, v.Choice):
                for option in target.options:
                    self.table(option, operation, loc, out)
            return
        base = target.base
        if isinstance(base, v.SchemaScope):
            schema: v.Value = base.schema
        elif isinstance(base, v.Client) and base.schema is not None:
            schema = with_via(base.schema, "default-schema")
        else:
            schema = DEFAULT_SCHEMA
        for s, t in itertools.product(options(schema), options(target.table)):
            if isinstance(s, v.Str) and isinstance(t, v.Str):
                out.writes.append(TableWrite(s.value, t.value, operation, loc, via_of(s, t)))
            else:
                what = "table" if not isinstance(t, v.Str) else "schema"
                why = reason(t if what == "table" else s)
                known = f" (table {t.value})" if isinstance(t, v.Str) else ""
                out.unresolved.append(
                    UnresolvedWrite(
                        loc, f"{operation} into a {what} not known statically{known}: {why}"
                    )
                )

    # -- SQL text ---------------------------------------------------------------------------------

    def sql(
        self,
        sql: v.Value,
        step: CallStep,
        out: Reach,
        parsed: SqlAnalysis | None = None,
        text_line: int | None = None,
    ) -> None:
        """The writes (and database functions) of SQL text handed to a driver at ``step``; a
        write sits on its target's line when the text is a literal written there
        (``text_line``), else on the call. A SQLAlchemy statement is read as one."""
        loc = step.location
        for text in options(sql):
            if isinstance(text, v.OrmStatement):
                self.statement(text, loc, out)
                continue
            if isinstance(text, v.Concat) and self._sql_with_holes(text, step, out, text_line):
                continue
            if not isinstance(text, v.Str):
                out.unresolved.append(
                    UnresolvedWrite(loc, f"SQL text not known statically: {reason(text)}")
                )
                continue
            result = parsed if parsed is not None else self.resolver.analyze_sql(text.value)
            if result.error is not None:
                out.unresolved.append(UnresolvedWrite(loc, f"SQL not parseable: {result.error}"))
                continue
            for w in result.writes:
                out.writes.append(_sql_write(w, text.via, _line(loc, text_line, w)))
            for name in result.functions:
                self.rpc(v.Str(name), step, out)

    def _sql_with_holes(
        self, text: v.Concat, step: CallStep, out: Reach, text_line: int | None
    ) -> bool:
        """SQL text with runtime parts (``f"INSERT INTO raw.events ({cols}) VALUES ({ph})"``):
        each part is read as a placeholder name; when the text then parses and every target
        it writes is named by the literal parts, those are its writes (returns True). A target
        named by a runtime part is an unresolved write with that part's reason. Returns False
        (the caller reports the text as unknown) when the text does not parse that way."""
        pieces: list[str] = []
        holes: list[v.Value] = []
        for part in text.parts:
            if isinstance(part, v.Str):
                pieces.append(part.value)
            else:
                pieces.append(_HOLE.format(len(holes)))
                holes.append(part)
        result = self.resolver.analyze_sql("".join(pieces))
        if result.error is not None:
            return False
        loc = step.location
        strs = [p for p in text.parts if isinstance(p, v.Str)]
        known_via = via_of(*strs) if strs else "literal"
        for w in result.writes:
            line = _line(loc, text_line, w)
            named = f"{w.schema}.{w.table}" if w.schema else w.table
            if _HOLE_MARK in named:
                index = int(named.split(_HOLE_MARK, 1)[1].split("_", 1)[0])
                what = "table" if _HOLE_MARK in w.table else "schema"
                known = f" (table {w.table})" if what == "schema" else ""
                why = f"{w.operation} into a {what} not known statically{known}"
                out.unresolved.append(UnresolvedWrite(line, f"{why}: {reason(holes[index])}"))
                continue
            out.writes.append(_sql_write(w, known_via, line))
        for name in result.functions:
            if _HOLE_MARK not in name:
                self.rpc(v.Str(name), step, out)
        return True

    # -- PostgREST and database functions -------------------------------------------------------

    def http(
        self,
        sender: v.HttpCall,
        args: list[v.Value],
        kwargs: dict[str, v.Value],
        step: CallStep,
        out: Reach,
    ) -> None:
        """An HTTP request: a write when its URL is PostgREST's (see :mod:`postgrest`)."""
        request = postgrest.request(sender, args, kwargs)
        if request is None:
            return
        if request.rpc is not None:
            self.rpc(request.rpc, step, out)
            return
        table = v.TableRef(v.SchemaScope(v.Unknown("PostgREST"), request.schema), request.table)
        self.table(table, request.operation, step.location, out)

    def rpc(self, name: v.Value, step: CallStep, out: Reach) -> None:
        """A database function called by name (``.rpc("fn")``, ``/rest/v1/rpc/fn``, ``SELECT
        fn()`` in SQL text) at ``step``: what its body in the migrations writes, reached through
        that call; without a body in the repository, an rpc call whose effect is unknown."""
        for option in options(name):
            found: list[DatabaseFunction] = []
            if isinstance(option, v.Str) and self.database is not None:
                self.resolver.touch(MIGRATIONS_MODULE)
                found = self.database.lookup(option.value)
            if not found:
                named = option.value if isinstance(option, v.Str) else None
                out.rpc.append(RpcCall(named, step.location))
            for function in found:
                out.add(self._database_reach(function), step)

    def _database_reach(self, function: DatabaseFunction) -> Reach:
        """What a database function's body writes, and the functions it calls (followed when
        the migrations define them); paths are relative to the function, lines in its file."""
        key = (function.schema, function.name, function.signature)
        known = self._db_reach.get(key)
        if known is not None:
            return known
        out = Reach()
        if key in self._db_stack or self.database is None:
            return out
        self._db_stack.add(key)
        try:
            where = f"{function.schema}.{function.name}"
            for w in function.writes:
                at = Location(function.file, w.line)
                out.writes.append(TableWrite(w.schema, w.table, w.operation, at, w.via))
            for line, why in function.unresolved:
                out.unresolved.append(UnresolvedWrite(Location(function.file, line), why))
            for calls, listed in ((function.calls, True), (function.mentions, False)):
                for name, line in calls:
                    at = Location(function.file, line)
                    found = self.database.lookup(name)
                    if not found and listed:
                        out.rpc.append(RpcCall(name, at))
                    for callee in found:
                        out.add(self._database_reach(callee), CallStep(where, at))
        finally:
            self._db_stack.discard(key)
        self._db_reach[key] = out
        return out

    # -- SQLAlchemy -------------------------------------------------------------------------------

    def session(
        self, site: v.WriteSite, receiver: v.Value, first: v.Value, loc: Location, out: Reach
    ) -> None:
        """``session.add(obj)`` and friends (see :mod:`orm`), ``first`` the resolved first
        argument: a write to the table of each object's model class; an object the project's
        classes cannot name is an unresolved write when the receiver is known to be a session
        (or the method is SQLAlchemy's alone)."""
        if site.method in orm.MANY:
            objects = [item for option in options(first) for item in elements(option)]
        else:
            objects = list(options(first))
        by_model = site.method in orm.BY_MODEL
        sure = isinstance(receiver, v.OrmSession) or by_model
        for obj in objects:
            cls = obj if by_model else obj.cls if isinstance(obj, v.Instance) else None
            model = self.model(cls) if isinstance(cls, v.ClassRef) else None
            if model is not None:
                self.table(model, site.operation, loc, out)
            elif sure and not isinstance(cls, v.ClassRef):
                why = f"{site.method}() of an object whose model is not known: {reason(obj)}"
                out.unresolved.append(UnresolvedWrite(loc, why))

    def model(self, cls: v.ClassRef) -> v.TableRef | None:
        """The table a SQLAlchemy model class maps to (schema and name, each known or not);
        None when the class is no model (it has neither ``__tablename__`` nor ``__table__``)."""
        field_of = self.resolver.class_field
        table = field_of(cls, "__table__")
        if isinstance(table, v.OrmTable):
            return v.TableRef(v.SchemaScope(v.OrmSession(), table.schema), table.name)
        name = field_of(cls, "__tablename__")
        if name is None:
            return None
        if isinstance(name, (v.FuncRef, v.BoundMethod)):
            name = v.Unknown(f"{cls.name}.__tablename__ is computed (declared_attr)")
        args = field_of(cls, "__table_args__")
        schema = orm.schema_in(args) if args is not None else None
        # named in the model's definition, elsewhere: known 'via constant', as a module's are
        scope = v.SchemaScope(v.OrmSession(), as_constant(schema) if schema else DEFAULT_SCHEMA)
        return v.TableRef(scope, as_constant(name))

    def statement(self, stmt: v.OrmStatement, loc: Location, out: Reach) -> None:
        """An executed SQLAlchemy Core statement."""
        if stmt.operation == "select":
            return
        for target in options(stmt.target):
            table: v.Value | None = None
            if isinstance(target, v.OrmTable):
                table = v.TableRef(v.SchemaScope(v.OrmSession(), target.schema), target.name)
            elif isinstance(target, v.ClassRef):
                table = self.model(target)
            if table is None:
                what = f"a {stmt.operation} statement on something that is not a table or model"
                out.unresolved.append(UnresolvedWrite(loc, f"{what}: {reason(target)}"))
                continue
            self.table(table, stmt.operation, loc, out)
