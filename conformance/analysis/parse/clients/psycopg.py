"""psycopg 3 and psycopg2: SQL text handed to ``execute``/``executemany``/``copy``/
``copy_expert``/``copy_from`` and psycopg2.extras' ``execute_values``/``execute_batch``, and
``psycopg.sql`` composition (``sql.SQL(...).format(sql.Identifier(...))``)."""

from __future__ import annotations

import dataclasses

from conformance.analysis import sqltemplate
from conformance.analysis import values as v
from conformance.analysis.parse.calls import QUERY_RESULT, Call, on_function, on_method

SQL_METHODS = ("execute", "executemany", "copy", "copy_expert", "mogrify_execute")
SQL_FUNCTIONS = ("execute_values", "execute_batch")  # (cursor, sql, rows)


def sql_site(call: Call, position: int | None, sql: v.Value | None = None) -> v.SqlSite:
    """The SQL text of positional argument ``position`` (or ``sql``) handed to a driver; parsed
    now when the file alone states it (the parse is then cached with the file's summary)."""
    text_line = None
    if sql is None:
        assert position is not None
        sql = call.args[position]
        if isinstance(sql, (v.Str, v.Concat)):  # a literal written here: lines count from it
            text_line = call.reader.mark(call.positional_node(position))
    line = call.line()
    text = sql
    if isinstance(sql, v.SqlTemplate) and all(
        isinstance(a, v.SqlIdentifier) and all(isinstance(p, v.Str) for p in a.parts)
        for a in (*sql.args, *(val for _, val in sql.kwargs))
    ):
        text = sqltemplate.render(sql.text, list(sql.args), dict(sql.kwargs))
    if isinstance(text, v.Str):
        from conformance.analysis.sqltext import analyze_sql

        return v.SqlSite(sql, line, analyze_sql(text.value), text_line)
    return v.SqlSite(sql, line, None, text_line)


# receivers that are not a cursor or a connection whatever the rest of the project says
_NOT_A_CURSOR = (v.Bucket, v.Str, v.Concat, v.Seq, v.Dict)


@on_method(*SQL_METHODS)
def execute(call: Call) -> v.Value | None:
    if not call.args or isinstance(call.base, _NOT_A_CURSOR):
        return None
    site = sql_site(call, 0)
    if call.method == "copy":
        site = dataclasses.replace(site, receiver=call.base)
    call.effect(site)
    return QUERY_RESULT


@on_method("copy_from")
def copy_from(call: Call) -> v.Value | None:
    if len(call.args) < 2:
        return None
    sql = v.Concat((v.Str("COPY "), call.args[1], v.Str(" FROM STDIN")))
    call.effect(sql_site(call, None, sql))
    return QUERY_RESULT


@on_method(*SQL_FUNCTIONS)
@on_function(*SQL_FUNCTIONS)
def execute_values(call: Call) -> v.Value | None:
    if len(call.args) < 2:
        return None
    call.effect(sql_site(call, 1))
    return QUERY_RESULT


@on_method("SQL")
@on_function("SQL")
def sql_text(call: Call) -> v.Value | None:
    return v.SqlTemplate(call.args[0]) if call.args else None


@on_method("Identifier")
@on_function("Identifier")
def identifier(call: Call) -> v.Value | None:
    return v.SqlIdentifier(call.args)


@on_method("format")
def sql_format(call: Call) -> v.Value | None:
    if not isinstance(call.base, v.SqlTemplate):
        return None  # str.format: the resolver renders it when it can
    return v.SqlTemplate(call.base.text, call.args, call.kwargs)


@on_method("as_string")
def as_string(call: Call) -> v.Value | None:
    return call.base if isinstance(call.base, (v.SqlTemplate, v.Str, v.Concat)) else None
