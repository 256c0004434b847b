"""Migration SQL → the database functions it defines, and the tables their bodies write.

``CREATE [OR REPLACE] FUNCTION``/``PROCEDURE`` and ``DROP FUNCTION`` statements are found with
a small lexer (:mod:`sqllex`); a function's body (SQL or PL/pgSQL, inside ``$$ … $$``,
``$tag$ … $tag$``, quotes, or ``BEGIN ATOMIC … END``) is cut into statements the same way, and
each statement that can write is read by the SQL parser (:mod:`sqltext`). What cannot be read
(dynamic ``EXECUTE``, another language, a statement the parser refuses) is recorded as
unresolved, with its line; nothing here raises for odd input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from conformance.analysis.sqllex import LexError, Lines, Token, lex, split_statements


@dataclass(frozen=True, slots=True)
class BodyWrite:
    """A table a function body writes; ``line`` is in the migration file."""

    schema: str
    table: str
    operation: str
    line: int
    via: str


@dataclass(frozen=True, slots=True)
class DatabaseFunction:
    """One ``CREATE FUNCTION``/``PROCEDURE`` (or, ``dropped``, one ``DROP``) of a migration.

    ``calls`` are the database functions its statements call as the SQL parser reads them
    (followed when defined, else listed like an ``.rpc()``); ``mentions`` are names called in
    PL/pgSQL statements the parser does not read (assignments, conditions), followed only when
    they are defined. ``unresolved`` holds ``(line, reason)`` for what cannot be read.
    """

    schema: str
    name: str
    signature: str
    file: str
    line: int
    writes: tuple[BodyWrite, ...] = ()
    calls: tuple[tuple[str, int], ...] = ()
    mentions: tuple[tuple[str, int], ...] = ()
    unresolved: tuple[tuple[int, str], ...] = ()
    dropped: bool = False


@dataclass(frozen=True, slots=True)
class MigrationFile:
    """The functions one migration defines and drops, in order; ``file`` is relative to the
    source root (where findings point), ``error`` says why the file could not be read."""

    file: str
    functions: tuple[DatabaseFunction, ...]
    error: tuple[int, str] | None = None


def read_migration(text: str, file: str) -> MigrationFile:
    """Reads one migration's text; never raises (a bug or odd input becomes ``error``)."""
    try:
        return MigrationFile(file, tuple(_functions(text, file)))
    except LexError as error:
        return MigrationFile(file, (), (error.line, str(error)))
    except RecursionError:
        return MigrationFile(file, (), (1, "nesting too deep to read"))
    except Exception as error:  # the analyzer's bug must not stop the run
        first = (str(error).splitlines() or [""])[0][:200]
        return MigrationFile(
            file, (), (1, f"internal analyzer error ({type(error).__name__}: {first})")
        )


# -- statements -----------------------------------------------------------------------------------


def _functions(text: str, file: str) -> Iterator[DatabaseFunction]:
    lines = Lines(text)
    for statement in split_statements(list(lex(text))):
        words = [t.upper for t in statement[:4]]
        if words[:1] == ["CREATE"]:
            at = 3 if words[1:3] == ["OR", "REPLACE"] else 1
            if len(statement) > at and statement[at].upper in ("FUNCTION", "PROCEDURE"):
                created = _create(statement, at + 1, lines, file)
                if created is not None:
                    yield created
        elif words[:1] == ["DROP"] and words[1:2] in (["FUNCTION"], ["PROCEDURE"]):
            yield from _drops(statement, lines, file)


def _name(tokens: Sequence[Token], at: int) -> tuple[str, str, int] | None:
    """``[schema.]name`` at ``at``: (schema, name, index after it), folded as PostgreSQL does."""
    parts: list[str] = []
    while at < len(tokens) and tokens[at].kind in ("word", "ident"):
        token = tokens[at]
        parts.append(token.value if token.kind == "ident" else token.text.lower())
        at += 1
        if at < len(tokens) and tokens[at].text == ".":
            at += 1
            continue
        break
    if not parts or len(parts) > 2:
        return None
    return (parts[0] if len(parts) == 2 else "public"), parts[-1], at


def _parenthesised(tokens: Sequence[Token], at: int) -> tuple[str, int]:
    """The text of the balanced ``( … )`` at ``at`` (normalised) and the index after it."""
    if at >= len(tokens) or tokens[at].text != "(":
        return "", at
    depth, parts = 0, []
    for i in range(at, len(tokens)):
        token = tokens[i]
        depth += (token.text == "(") - (token.text == ")")
        parts.append(token.text.lower() if token.kind == "word" else token.text)
        if depth == 0:
            return " ".join(parts), i + 1
    return " ".join(parts), len(tokens)


def _drops(statement: Sequence[Token], lines: Lines, file: str) -> Iterator[DatabaseFunction]:
    at = 2
    if [t.upper for t in statement[2:4]] == ["IF", "EXISTS"]:
        at = 4
    while at < len(statement):
        named = _name(statement, at)
        if named is None:
            return
        schema, name, at = named
        signature, at = _parenthesised(statement, at)
        line = lines(statement[0].start)
        yield DatabaseFunction(schema, name, signature, file, line, dropped=True)
        if at < len(statement) and statement[at].text == ",":
            at += 1
        else:
            return


_OPTION_WORDS = frozenset(
    {
        "LANGUAGE",
        "AS",
        "RETURNS",
        "SET",
        "SECURITY",
        "IMMUTABLE",
        "STABLE",
        "VOLATILE",
        "STRICT",
        "CALLED",
        "COST",
        "ROWS",
        "PARALLEL",
        "LEAKPROOF",
        "WINDOW",
        "EXTERNAL",
        "NOT",
        "TRANSFORM",
        "SUPPORT",
        "BEGIN",
        "RETURN",
    }
)


def _create(
    statement: Sequence[Token], at: int, lines: Lines, file: str
) -> DatabaseFunction | None:
    named = _name(statement, at)
    if named is None:
        return None
    schema, name, at = named
    signature, at = _parenthesised(statement, at)
    line = lines(statement[0].start)
    language, body, search_path, atomic = "sql", None, None, None
    rest = statement[at:]
    i = 0
    while i < len(rest):
        word = rest[i].upper
        if word == "LANGUAGE" and i + 1 < len(rest):
            nxt = rest[i + 1]
            language = (nxt.value if nxt.kind in ("string", "ident") else nxt.text).lower()
            i += 2
        elif word == "AS" and i + 1 < len(rest) and rest[i + 1].kind in ("string", "dollar"):
            body = rest[i + 1]
            i += 2
        elif word == "SET" and i + 2 < len(rest) and rest[i + 1].upper == "SEARCH_PATH":
            search_path, i = _search_path(rest, i + 2)
        elif word == "BEGIN" and i + 1 < len(rest) and rest[i + 1].upper == "ATOMIC":
            atomic = list(rest[i + 2 :])
            break
        else:
            i += 1
    function = DatabaseFunction(schema, name, signature, file, line)
    qualified = f"{schema}.{name}"
    if atomic is not None:
        return _read_body(function, atomic, lines, "sql", search_path)
    if body is None:
        return replace(function, unresolved=((line, f"{qualified} has no body this tool reads"),))
    if language not in ("sql", "plpgsql"):
        reason = f"{qualified} is written in LANGUAGE {language}: its writes are not read"
        return replace(function, unresolved=((line, reason),))
    try:
        if body.kind == "dollar":  # positions in the file
            tokens = list(lex(body.value, body.value_start))
        else:  # a quoted body: undoubling its quotes shifts positions, so it is text of its own
            lines = Lines(body.value, lines(body.value_start))
            tokens = list(lex(body.value))
    except LexError as error:
        reason = f"the body of {qualified} cannot be read: {error}"
        return replace(function, unresolved=((line, reason),))
    return _read_body(function, tokens, lines, language, search_path)


def _search_path(tokens: Sequence[Token], at: int) -> tuple[str | None, int]:
    """``SET search_path = a, b`` (or ``TO``) from ``at`` (after ``search_path``): the schema
    an unqualified table name is looked up in first, and the index after the setting."""
    if at < len(tokens) and (tokens[at].text == "=" or tokens[at].upper == "TO"):
        at += 1
    schemas: list[str] = []
    while at < len(tokens) and tokens[at].upper not in _OPTION_WORDS:
        token = tokens[at]
        if token.kind in ("word", "ident", "string"):
            value = token.text.lower() if token.kind == "word" else token.value
            schemas.extend(part.strip().strip('"') for part in value.split(","))
        at += 1
    skip = ("", "$user", "pg_catalog", "pg_temp")
    return next((s for s in schemas if s not in skip), None), at


# -- bodies ---------------------------------------------------------------------------------------

_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "COPY", "WITH"})
_STARTS = _WRITES | {"SELECT", "PERFORM", "EXECUTE", "CALL"}
# after these a PL/pgSQL statement starts (``IF … THEN INSERT …``, ``LOOP UPDATE …``)
_BEFORE_STATEMENT = frozenset({"THEN", "ELSE", "LOOP", "BEGIN", "QUERY", "DECLARE"})


def _read_body(
    function: DatabaseFunction,
    tokens: list[Token],
    lines: Lines,
    language: str,
    search_path: str | None,
) -> DatabaseFunction:
    """Reads a body's statements; ``lines`` numbers the positions its tokens hold."""
    from conformance.analysis.sqltext import analyze_sql

    qualified = f"{function.schema}.{function.name}"
    writes: list[BodyWrite] = []
    calls: list[tuple[str, int]] = []
    mentions: list[tuple[str, int]] = []
    unresolved: list[tuple[int, str]] = []
    default = search_path or "public"
    default_via = "sql" if search_path else "default-schema"
    for fragment in split_statements(tokens):
        start = _statement_start(fragment)
        if start is None:
            mentions.extend(_mentions(fragment, lines))
            continue
        head = fragment[start]
        line = lines(head.start)
        word = head.upper
        if word == "EXECUTE":
            if not _reads_only(fragment[start + 1 :]):
                reason = f"{qualified} runs SQL built at runtime (EXECUTE): not known statically"
                unresolved.append((line, reason))
            continue
        sql = _statement_text(fragment[start:], lines.source, plpgsql=language == "plpgsql")
        if word == "PERFORM":
            sql = "SELECT " + sql[len("PERFORM") :]
        result = analyze_sql(sql)
        if result.error is not None:
            if word in _WRITES:
                reason = f"a statement of {qualified} cannot be parsed: {result.error}"
                unresolved.append((line, reason))
            else:
                mentions.extend(_mentions(fragment, lines))
            continue
        if word in _WRITES or language == "sql":
            for w in result.writes:
                schema, via = (w.schema, "sql") if w.schema else (default, default_via)
                writes.append(BodyWrite(schema, w.table, w.operation, line + w.line_offset, via))
        calls.extend((name, line) for name in result.functions)
    return replace(
        function,
        writes=tuple(writes),
        calls=tuple(dict.fromkeys(calls)),
        mentions=tuple(dict.fromkeys(mentions)),
        unresolved=tuple(unresolved),
    )


def _statement_start(fragment: Sequence[Token]) -> int | None:
    """Where the statement that can write or call begins in a fragment between two ``;``."""
    for i, token in enumerate(fragment):
        if token.upper not in _STARTS:
            continue
        before = fragment[i - 1] if i else None
        if before is None or before.upper in _BEFORE_STATEMENT or before.text == ">>":
            return i
    return None


def _statement_text(tokens: Sequence[Token], text: str, plpgsql: bool) -> str:
    """The statement's text from the file, line breaks kept (so offsets give lines); in
    PL/pgSQL, ``INTO var`` (a variable, not a table) is blanked out."""
    first, last = tokens[0], tokens[-1]
    end = last.start + len(last.text)
    out = text[first.start : end]
    if not plpgsql:
        return out
    cuts: list[tuple[int, int]] = []
    for i, token in enumerate(tokens):
        if token.upper != "INTO" or (i and tokens[i - 1].upper in ("INSERT", "MERGE")):
            continue
        j = i + 1
        if j < len(tokens) and tokens[j].upper == "STRICT":
            j += 1
        while j < len(tokens) and tokens[j].kind in ("word", "ident"):
            j += 1
            if j < len(tokens) and tokens[j].text in (".", ","):
                j += 1
                continue
            break
        stop = tokens[j].start if j < len(tokens) else end
        cuts.append((token.start - first.start, stop - first.start))
    for begin, finish in reversed(cuts):
        blank = "".join(c if c == "\n" else " " for c in out[begin:finish])
        out = out[:begin] + blank + out[finish:]
    return out


def _reads_only(tokens: Sequence[Token]) -> bool:
    """Whether dynamic SQL's first literal piece shows a read (``EXECUTE 'SELECT …' || …``)."""
    for token in tokens:
        if token.kind in ("string", "dollar"):
            return token.value.lstrip().upper().startswith("SELECT")
    return False


def _mentions(fragment: Sequence[Token], lines: Lines) -> Iterator[tuple[str, int]]:
    """Names called as functions (``name(``, ``schema.name(``) in a PL/pgSQL statement."""
    for i, token in enumerate(fragment[:-1]):
        if token.kind in ("word", "ident") and fragment[i + 1].text == "(":
            name = token.value if token.kind == "ident" else token.text.lower()
            if i >= 2 and fragment[i - 1].text == "." and fragment[i - 2].kind in ("word", "ident"):
                before = fragment[i - 2]
                name = f"{before.value if before.kind == 'ident' else before.text.lower()}.{name}"
            yield name, lines(token.start)
