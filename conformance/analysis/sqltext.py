"""Which tables a piece of SQL text writes, read with a real parser (sqlglot, PostgreSQL dialect).

Only the targets of INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY … FROM, SELECT … INTO and
CREATE TABLE … AS are writes; tables that are only read are not. Database functions called from
the text are listed apart, because what they write cannot be seen here. sqlglot is imported on the
first call, so importing this module stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

    from sqlglot import exp
    from sqlglot.tokenizer_core import Token


@dataclass(frozen=True)
class SqlWrite:
    """A table the SQL writes; ``schema`` is None when the SQL leaves the table unqualified."""

    schema: str | None
    table: str
    operation: str  # insert | upsert | update | delete | merge | truncate
    line_offset: int  # 0-based line of the target within the text; 0 when unknown


@dataclass(frozen=True)
class SqlAnalysis:
    """What one SQL text writes and calls; ``error`` is a one-line reason when it did not parse."""

    writes: tuple[SqlWrite, ...]
    functions: tuple[str, ...]
    error: str | None


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STATEMENT_KEYWORDS = _word_set(
    "abort alter analyze begin call checkpoint close cluster comment commit copy create"
    " deallocate declare delete discard do drop end execute explain fetch grant import insert"
    " listen load lock merge move notify prepare reassign refresh reindex release reset revoke"
    " rollback savepoint security select set show start table truncate unlisten update vacuum"
    " values with"
)
_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.DOTALL)
_FIRST_WORD = re.compile(r"([A-Za-z]+)(?![A-Za-z0-9_$])")
# Where the tokenizer sees a `%` operator, psycopg sees a placeholder or an escaped percent sign.
_PERCENT = re.compile(r"%%|%(?:\([^)]*\))?[sbt](?![A-Za-z0-9_$])")
# Statements sqlglot could only keep as an opaque command although they may write.
_OPAQUE_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "COPY", "WITH"})
# PostgreSQL built-ins sqlglot does not model; calls to them are not "database functions".
_BUILTIN_PREFIXES = ("pg_", "json_", "jsonb_", "array_", "regexp_", "ts_", "to_", "txid_", "st_")
_BUILTINS = _word_set(
    "age cardinality clock_timestamp convert_from convert_to crypt current_setting currval"
    " daterange digest every format_type gen_salt has_table_privilege hashtext hmac"
    " inet_client_addr int4range int8range isfinite lastval lower_inc lower_inf make_date"
    " nextval num_nonnulls num_nulls numrange obj_description octet_length plainto_tsquery"
    " quote_ident quote_literal quote_nullable row row_to_json set_config setval setweight"
    " similarity statement_timestamp string_to_table timezone transaction_timestamp tsrange"
    " tstzrange unaccent upper_inc upper_inf uuid_generate_v4 websearch_to_tsquery"
    " word_similarity"
)
_TOKEN_REPR = re.compile(r"<Token token_type: [^,]*, text: (.*?), line: .*?>")
_FALLBACK_NOTICE = "Falling back to parsing as a 'Command'"


def looks_like_sql(text: str) -> bool:
    """Returns True when ``text`` starts, after comments, blanks and parentheses, with a keyword
    that begins a PostgreSQL statement. Cheap and never raises; ``analyze_sql`` has the last word.
    """
    start = _LEADING_NOISE.match(text)
    word = _FIRST_WORD.match(text, start.end() if start else 0)
    return word is not None and word.group(1).lower() in _STATEMENT_KEYWORDS


def analyze_sql(text: str) -> SqlAnalysis:
    """Returns the writes and function calls in ``text``. Never raises: SQL that does not parse,
    or that sqlglot keeps only as an opaque command while it may write, comes back with ``error``
    set and no writes.
    """
    try:
        return _analyze(text)
    except Exception as error:  # a crash in the parser is a result, not a stop
        return _failed(f"internal error: {type(error).__name__}: {error}")


def _failed(reason: str) -> SqlAnalysis:
    return SqlAnalysis((), (), " ".join(reason.split()) or "unparseable SQL")


def _analyze(text: str) -> SqlAnalysis:
    if not text.strip():
        return SqlAnalysis((), (), None)
    from sqlglot.dialects.postgres import Postgres
    from sqlglot.errors import ParseError, TokenError

    _quiet_command_fallback()
    dialect = Postgres()
    try:
        tokens = dialect.tokenize(text)
    except TokenError as error:
        return _failed(f"cannot tokenize: {str(error).splitlines()[0]}")
    first_error: str | None = None
    for candidate in _candidates(text, tokens):
        try:
            candidate_tokens = tokens if candidate is text else dialect.tokenize(candidate)
            statements = dialect.parser().parse(candidate_tokens, candidate)
        except (ParseError, TokenError) as error:
            first_error = first_error or _describe(error)
            continue
        return _collect(statements)
    return _failed(first_error or "unparseable SQL")


def _candidates(text: str, tokens: list[Token]) -> Iterator[str]:
    """Yields ``text`` made parseable for sqlglot: psycopg placeholders first as ``%s``, then, if
    that fails, as ``(NULL)`` and as ``NULL``; ``%%`` as ``%``; clauses sqlglot lacks rewritten.
    Line breaks are kept, so line numbers still hold."""
    edits: list[tuple[int, int, str | None]] = []  # (start, end, replacement); None: placeholder
    consumed = -1
    for index, token in enumerate(tokens):
        if token.start <= consumed:
            continue
        if token.text == "%" and (match := _PERCENT.match(text, token.start)):
            edits.append((match.start(), match.end(), "%" if match.group() == "%%" else None))
            consumed = match.end() - 1
        elif (clause := _clause_rewrite(tokens, index)) is not None:
            end = tokens[index + clause[0] - 1].end + 1
            edits.append((token.start, end, clause[1]))
            consumed = end - 1
    if not edits:
        yield text
        return
    placeholders = any(replacement is None for _, _, replacement in edits)
    for filler in ("%s", "(NULL)", "NULL") if placeholders else ("%s",):
        pieces, position = [], 0
        for start, end, replacement in edits:
            newlines = "\n" * text.count("\n", start, end)
            pieces += [text[position:start], (filler if replacement is None else replacement)]
            pieces.append(newlines)
            position = end
        pieces.append(text[position:])
        candidate = "".join(pieces)
        yield text if candidate == text else candidate  # the same text reuses its tokens


def _clause_rewrite(tokens: list[Token], index: int) -> tuple[int, str] | None:
    """Returns (tokens to replace, replacement) for PostgreSQL clauses sqlglot cannot parse and
    that never change which table is written; None elsewhere."""
    words = _words(tokens, index, 3)
    if words[:1] == ("OVERRIDING",) and words[1:] in (("SYSTEM", "VALUE"), ("USER", "VALUE")):
        return 3, " "  # INSERT INTO t OVERRIDING SYSTEM VALUE …
    if words[:2] == ("CURRENT", "OF") and len(words) == 3:
        return 3, "TRUE"  # UPDATE/DELETE … WHERE CURRENT OF cursor
    return None


def _words(tokens: list[Token], start: int, count: int) -> tuple[str, ...]:
    return tuple(token.text.upper() for token in tokens[start : start + count])


def _describe(error: Exception) -> str:
    """One line from a sqlglot error: where, and what, without the token dump."""
    details = getattr(error, "errors", None)
    if not details:
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    first = details[0]
    description = _TOKEN_REPR.sub(r"'\1'", str(first.get("description")))
    return f"line {first.get('line')}, col {first.get('col')}: {description}"


def _collect(statements: list[exp.Expr | None]) -> SqlAnalysis:
    from sqlglot import exp

    writes: list[SqlWrite] = []
    functions: list[str] = []
    temporary: set[str] = set()  # temp tables created earlier in this text
    for statement in statements:
        if statement is None:
            continue
        if isinstance(statement, (exp.Condition, exp.Alias, exp.Tuple, exp.Star)) and not (
            isinstance(statement, exp.Query)
        ):
            return _failed(f"not a SQL statement: {statement.sql(dialect='postgres')[:60]}")
        if isinstance(statement, exp.Command):
            keyword = statement.name.upper()
            if keyword in _OPAQUE_WRITES:
                return _failed(f"unsupported syntax in {keyword} statement")
            rest = statement.expression  # the text after the keyword, as a str or a Literal
            rest = rest.name if isinstance(rest, exp.Expr) else str(rest or "")
            if keyword == "CALL":
                functions += _called_procedure(rest)
            elif keyword == "CREATE" and (reason := _opaque_create(rest, temporary)):
                return _failed(reason)
            continue
        try:
            writes += _statement_writes(statement, temporary)
        except _UnnamedTarget as error:
            return _failed(str(error))
        functions += _function_names(statement)
    return SqlAnalysis(tuple(writes), tuple(dict.fromkeys(functions)), None)


class _UnnamedTarget(Exception):
    """A write whose target is a placeholder or an expression rather than a name."""


def _statement_writes(statement: exp.Expr, temporary: set[str]) -> list[SqlWrite]:
    from sqlglot import exp

    ctes = {_fold(cte.args["alias"].this) for cte in statement.find_all(exp.CTE)}
    found: list[tuple[int, SqlWrite]] = []
    for node in statement.walk():
        for table, operation in _targets(node, temporary):
            schema = _fold(table.args.get("db"))
            name = _fold(table.this)
            if name is None:  # e.g. INSERT INTO %s: PostgreSQL would reject it, we cannot name it
                raise _UnnamedTarget(
                    f"{operation} target is not a table name: {table.sql(dialect='postgres')}"
                )
            if schema == "pg_temp":
                continue
            if schema is None and (name in ctes or name in temporary):
                continue
            line, position = _position(table)
            found.append((position, SqlWrite(schema, name, operation, line)))
    found.sort(key=lambda item: item[0])
    unique: dict[tuple[str | None, str, str], SqlWrite] = {}
    for _, write in found:
        unique.setdefault((write.schema, write.table, write.operation), write)
    return list(unique.values())


def _targets(node: exp.Expr, temporary: set[str]) -> list[tuple[exp.Table, str]]:
    """Returns the tables ``node`` itself writes, with the operation; registers temp tables."""
    from sqlglot import exp

    if isinstance(node, exp.Insert):
        conflict = node.args.get("conflict")
        upsert = isinstance(conflict, exp.OnConflict) and _updates_on_conflict(conflict)
        return _tables(node.this, "upsert" if upsert else "insert")
    if isinstance(node, exp.Update):
        return _tables(node.this, "update")
    if isinstance(node, exp.Delete):
        return _tables(node.this, "delete")
    if isinstance(node, exp.Merge):
        return _tables(node.this, "merge")
    if isinstance(node, exp.TruncateTable):
        return [t for e in node.expressions for t in _tables(e, "truncate")]
    if isinstance(node, exp.Copy):
        return _tables(node.this, "insert") if node.args.get("kind") else []
    if isinstance(node, exp.Into):
        return _new_table(node.this, bool(node.args.get("temporary")), temporary, True)
    if isinstance(node, exp.Create) and str(node.args.get("kind")).upper() == "TABLE":
        properties = node.args.get("properties")
        flags = properties.expressions if properties else []
        is_temporary = any(isinstance(p, exp.TemporaryProperty) for p in flags)
        no_data = any(isinstance(p, exp.WithDataProperty) and p.args.get("no") for p in flags)
        as_query = node.expression is not None or any(
            isinstance(p, exp.ExecuteAsProperty) for p in flags
        )  # CREATE TABLE … AS query | VALUES | EXECUTE prepared
        fills = as_query and not no_data
        return _new_table(node.this, is_temporary, temporary, fills)
    return []


def _updates_on_conflict(conflict: exp.OnConflict) -> bool:
    """ON CONFLICT … DO UPDATE makes an insert an upsert; DO NOTHING leaves it an insert."""
    action = conflict.args.get("action")
    return bool(conflict.args.get("duplicate")) or (
        action is not None and action.name.upper() == "DO UPDATE"
    )


def _tables(target: exp.Expr | None, operation: str) -> list[tuple[exp.Table, str]]:
    from sqlglot import exp

    if isinstance(target, exp.Schema):  # INSERT INTO t (columns…), COPY t (columns…)
        target = target.this
    return [(target, operation)] if isinstance(target, exp.Table) else []


def _new_table(
    target: exp.Expr | None, is_temporary: bool, temporary: set[str], fills: bool
) -> list[tuple[exp.Table, str]]:
    tables = _tables(target, "insert")
    if is_temporary:
        temporary.update(name for t, _ in tables if (name := _fold(t.this)))
        return []
    return tables if fills else []


def _fold(identifier: object) -> str | None:
    """PostgreSQL folds unquoted names to lower case and keeps quoted ones as written."""
    from sqlglot import exp

    if isinstance(identifier, exp.Identifier):
        return identifier.name if identifier.quoted else identifier.name.lower()
    return None


def _position(table: exp.Table) -> tuple[int, int]:
    parts = [p for p in (table.args.get("db"), table.this) if p is not None]
    metas = [p.meta for p in parts if "line" in p.meta]
    if not metas:
        return 0, 0
    return max(int(metas[0]["line"]) - 1, 0), int(metas[0].get("start", 0))


def _function_names(statement: exp.Expr) -> list[str]:
    from sqlglot import exp

    names = []
    for node in statement.find_all(exp.Anonymous):
        name = _fold(node.this) if isinstance(node.this, exp.Identifier) else node.name.lower()
        parent = node.parent
        schema = None
        if isinstance(parent, exp.Dot) and parent.expression is node:
            schema = _fold(parent.this)
        elif isinstance(parent, exp.Table) and parent.this is node:
            schema = _fold(parent.args.get("db"))
        if not name or schema == "pg_catalog" or isinstance(parent, exp.ExecuteAsProperty):
            continue
        if schema is None and (name in _BUILTINS or name.startswith(_BUILTIN_PREFIXES)):
            continue
        names.append(f"{schema}.{name}" if schema else name)
    return names


def _opaque_create(rest: str, temporary: set[str]) -> str | None:
    """Reads a CREATE that sqlglot kept as text (``CREATE <rest>``): registers a temp table, and
    returns a reason when it is a CREATE TABLE … AS, whose rows would otherwise go unseen."""
    from sqlglot.dialects.postgres import Postgres
    from sqlglot.tokenizer_core import TokenType

    tokens = Postgres().tokenize(rest)
    words = [token.text.upper() for token in tokens]
    table_at = words.index("TABLE") if "TABLE" in words[:3] else -1
    if table_at < 0:
        return None  # CREATE INDEX, FUNCTION, VIEW…: not a table that receives rows
    name_at = table_at + (4 if words[table_at + 1 : table_at + 4] == ["IF", "NOT", "EXISTS"] else 1)
    if {"TEMP", "TEMPORARY"} & set(words[:table_at]):
        if name_at < len(tokens):
            name = tokens[name_at]
            temporary.add(
                name.text if name.token_type == TokenType.IDENTIFIER else name.text.lower()
            )
        return None
    depth = 0
    for word in words[name_at:]:
        depth += (word == "(") - (word == ")")
        if depth == 0 and word == "AS":
            return "unsupported syntax in CREATE TABLE … AS statement"
    return None


def _called_procedure(call: str) -> list[str]:
    """Names the procedure of ``CALL call``, which sqlglot keeps only as text."""
    from sqlglot.dialects.postgres import Postgres

    try:
        statements = Postgres().parse(f"SELECT {call}")
    except Exception:  # an odd argument list must not hide the call itself
        return [call.split("(")[0].strip().lower()] if "(" in call else []
    names = [n for s in statements if s is not None for n in _function_names(s)]
    return names[:1] or [call.split("(")[0].strip().lower()]


def _quiet_command_fallback() -> None:
    """sqlglot logs a warning for each statement it keeps as an opaque command (DO, CALL,
    VACUUM…); those are expected here, so they are dropped, by message, from the first call on.
    """
    import logging  # imported here: sqlglot imports it anyway, the module import stays lean

    logger = logging.getLogger("sqlglot")
    if _drop_command_fallback not in logger.filters:
        logger.addFilter(_drop_command_fallback)


def _drop_command_fallback(record: logging.LogRecord) -> bool:
    return _FALLBACK_NOTICE not in record.getMessage()
