"""SQLAlchemy (and SQLModel): what sessions, model classes and Core statements write.

``session.add(Event(...))``, ``add_all``, ``merge``, ``delete``, ``bulk_save_objects`` and
``bulk_insert_mappings(Event, rows)`` write the table of the model class: its
``__tablename__``, in the schema its ``__table_args__`` names (``{"schema": "raw"}``, or a
tuple ending with such a dict), else the default (``public``); a model may also be mapped to a
``Table("events", metadata, ..., schema="raw")`` through ``__table__``. A Core statement
(``insert(Event)``, ``update(events_table)``, ``delete(...)``, with ``.values()``, ``.where()``,
``.on_conflict_do_update()`` …) writes when it is executed. ``add`` and ``merge`` are common
method names (``set.add``): a call counts only when its object is an instance of a model class
of the project, or when its receiver is known to be a session (then an object of a class the
project does not hold is an unresolved write). Functions of names and resolved values only; the
resolver (``resolve.py``) looks the classes up.
"""

from __future__ import annotations

from conformance.analysis import values as v
from conformance.analysis.known import mapping

# session method → operation
SESSION_METHODS = {
    "add": "insert",
    "add_all": "insert",
    "merge": "upsert",
    "delete": "delete",
    "bulk_save_objects": "insert",
    "bulk_insert_mappings": "insert",
    "bulk_update_mappings": "update",
}
MANY = frozenset({"add_all", "bulk_save_objects"})  # a sequence of objects
BY_MODEL = frozenset({"bulk_insert_mappings", "bulk_update_mappings"})  # the class, then rows
LIBRARIES = ("sqlalchemy", "sqlmodel", "flask_sqlalchemy")
_STATEMENTS = frozenset({"insert", "update", "delete", "select"})
_SESSIONS = frozenset({"Session", "AsyncSession", "sessionmaker", "async_sessionmaker"})
_SESSIONS |= {"scoped_session", "async_scoped_session"}
# methods of a statement that return the statement refined (anything else: not a statement)
_REFINERS = frozenset(
    {
        "values",
        "where",
        "filter",
        "filter_by",
        "returning",
        "on_conflict_do_update",
        "on_conflict_do_nothing",
        "prefix_with",
        "execution_options",
        "from_select",
        "ordered_values",
        "with_dialect_options",
        "inline",
    }
)
# session methods that hand the session on (``with SessionLocal.begin() as session``)
_SESSION_SCOPES = frozenset({"begin", "begin_nested", "__enter__"})


def _library(dotted: str) -> str | None:
    head, _, last = dotted.rpartition(".")
    return last if head.split(".")[0] in LIBRARIES else None


def statement(dotted: str) -> str | None:
    """``insert``/``update``/``delete``/``select`` when ``dotted`` is SQLAlchemy's constructor
    of that statement (``sqlalchemy.insert``, ``sqlalchemy.dialects.postgresql.insert``, ...)."""
    name = _library(dotted)
    return name if name in _STATEMENTS else None


def is_session(dotted: str) -> bool:
    """Whether ``dotted`` makes sessions (``Session``, ``sessionmaker``, ``scoped_session``)."""
    return _library(dotted) in _SESSIONS


def is_table(dotted: str) -> bool:
    return _library(dotted) == "Table"


def refined(stmt: v.OrmStatement, attr: str) -> v.Value:
    """``stmt.attr``: the statement a refining method returns, as the method (calling it gives
    the same statement); ``on_conflict_do_update`` makes an insert an upsert."""
    if attr not in _REFINERS:
        return v.Unknown(f"attribute {attr} of a SQLAlchemy statement")
    if attr == "on_conflict_do_update" and stmt.operation == "insert":
        return v.OrmStatement(stmt.target, "upsert")
    return stmt


def table_statement(table: v.OrmTable, attr: str) -> v.Value | None:
    """``events.insert()`` and friends of a ``Table``."""
    return v.OrmStatement(table, attr) if attr in ("insert", "update", "delete", "select") else None


def session_scope(attr: str) -> v.Value | None:
    """``session.begin`` and friends (a session again); ``session.query``, the legacy query
    API (called with a model, a query on it: ``query(Event).filter(...).delete()`` writes)."""
    if attr == "query":
        return v.OrmStatement(v.Unknown("a query of no model"), "query")
    return v.OrmSession() if attr in _SESSION_SCOPES else None


def query(stmt: v.OrmStatement, model: v.Value | None) -> v.OrmStatement:
    """``session.query(model)``: a read until it is told to ``update`` or ``delete``."""
    return v.OrmStatement(model or stmt.target, "select")


# a legacy query's methods that write what it selects
QUERY_WRITES = frozenset({"update", "delete"})


def schema_in(table_args: v.Value) -> v.Value | None:
    """The schema ``__table_args__`` names: ``{"schema": ...}`` or a tuple ending with one;
    None when it names none."""
    if isinstance(table_args, v.Seq) and table_args.items:
        table_args = table_args.items[-1]
    entries = mapping(table_args)
    if entries is not None:
        for key, value in entries[0]:
            if key == "schema":
                return value
        if entries[1]:
            return v.Unknown("__table_args__ merges a mapping known only at runtime")
        return None
    if isinstance(table_args, v.Unknown):
        return v.Unknown(f"__table_args__ is {table_args.reason}")
    return None
