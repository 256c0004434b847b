"""SQL migration files → the database functions they define, and the tables their bodies write.

A ``.rpc("merge_leads", ...)`` call (or ``SELECT merge_leads(...)`` in SQL text) runs a Postgres
function; when its ``CREATE [OR REPLACE] FUNCTION`` is in the repository's migrations, its body
says what it writes. Migration files are read as data, never run. Each file is cut into
statements by a small lexer (strings, quoted names, comments and ``$tag$`` quotes, so a ``;``
inside a body never ends a statement); a function's body (SQL or PL/pgSQL, inside ``$$ … $$``,
``$tag$ … $tag$`` or quotes) is cut the same way, and each statement that can write is read by
the SQL parser (:mod:`sqltext`). What cannot be read (dynamic ``EXECUTE``, another language, a
statement the parser refuses) is an unresolved write naming the migration file and line, never a
crash. One :class:`MigrationFile` per file, cached by the file's content.
"""

from __future__ import annotations

import bisect
import errno
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from conformance import cache, fileio
from conformance.config import Config

# a pseudo-module: what a resolution read from the migrations (see incremental.Reuse)
MIGRATIONS_MODULE = "<migrations>"
MAX_MIGRATION_BYTES = 16 << 20


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


class Database:
    """The functions the migrations leave defined, applied in file order (a later
    ``CREATE OR REPLACE`` replaces, a ``DROP`` removes), looked up by name."""

    def __init__(self, files: Iterable[MigrationFile]) -> None:
        defined: dict[tuple[str, str, str], DatabaseFunction] = {}
        for migration in files:
            for function in migration.functions:
                if not function.dropped:
                    defined[(function.schema, function.name, function.signature)] = function
                    continue
                for key in list(defined):
                    same = key[:2] == (function.schema, function.name)
                    if same and (not function.signature or key[2] == function.signature):
                        del defined[key]
        self._by_name: dict[str, list[DatabaseFunction]] = {}
        for function in defined.values():
            self._by_name.setdefault(function.name, []).append(function)

    def __bool__(self) -> bool:
        return bool(self._by_name)

    def lookup(self, name: str) -> list[DatabaseFunction]:
        """The definitions ``name`` (``fn`` or ``schema.fn``) can call: all overloads of the
        schema it names; unqualified, those in ``public`` when there are, else any schema's."""
        schema, _, bare = name.rpartition(".")
        found = self._by_name.get(_fold(bare), [])
        if schema:
            return [f for f in found if f.schema == _fold(schema)]
        public = [f for f in found if f.schema == "public"]
        return public or found


def read_migration(text: str, file: str) -> MigrationFile:
    """Reads one migration's text; never raises (a bug or odd input becomes ``error``)."""
    try:
        return MigrationFile(file, tuple(_functions(text, file)))
    except _LexError as error:
        return MigrationFile(file, (), (error.line, str(error)))
    except RecursionError:
        return MigrationFile(file, (), (1, "nesting too deep to read"))
    except Exception as error:  # the analyzer's bug must not stop the run
        first = (str(error).splitlines() or [""])[0][:200]
        return MigrationFile(
            file, (), (1, f"internal analyzer error ({type(error).__name__}: {first})")
        )


# -- lexer ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # word | ident | string | dollar | punct | number | param
    text: str
    start: int
    value: str = ""  # a string's content
    value_start: int = 0  # where the content starts in the text

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


class _LexError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


_SIMPLE = re.compile(
    r"""(?P<space>\s+)
    |(?P<comment>--[^\n]*)
    |(?P<dollar>\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$)
    |(?P<param>\$\d+)
    |(?P<estring>[eE]')
    |(?P<word>[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)
    |(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
    |(?P<punct>::|:=|=>|<>|!=|<=|>=|<<|>>|\|\||.)""",
    re.VERBOSE | re.DOTALL,
)


def _tokens(text: str, base: int = 0) -> Iterator[_Token]:
    """The significant tokens of ``text`` (offsets plus ``base``); raises _LexError for an
    unterminated string, quoted name, comment or dollar quote."""
    at, end = 0, len(text)
    while at < end:
        char = text[at]
        if char == "'":
            close = _close_quote(text, at + 1, "'", backslash=False)
            yield _Token(
                "string",
                text[at:close],
                base + at,
                _unquote(text[at + 1 : close - 1]),
                base + at + 1,
            )
            at = close
            continue
        if char == '"':
            close = _close_quote(text, at + 1, '"', backslash=False)
            yield _Token(
                "ident", text[at:close], base + at, text[at + 1 : close - 1].replace('""', '"')
            )
            at = close
            continue
        if text.startswith("/*", at):
            at = _close_comment(text, at)
            continue
        match = _SIMPLE.match(text, at)
        assert match is not None  # the last alternative matches any character
        kind = match.lastgroup or "punct"
        if kind == "estring":
            close = _close_quote(text, at + 2, "'", backslash=True)
            yield _Token(
                "string", text[at:close], base + at, text[at + 2 : close - 1], base + at + 2
            )
            at = close
            continue
        if kind == "dollar":
            tag = match.group()
            close = text.find(tag, match.end())
            if close < 0:
                raise _LexError(f"unterminated {tag} quote", _line(text, at))
            yield _Token(
                "dollar",
                text[at : close + len(tag)],
                base + at,
                text[match.end() : close],
                base + match.end(),
            )
            at = close + len(tag)
            continue
        if kind not in ("space", "comment"):
            yield _Token(kind, match.group(), base + at)
        at = match.end()


def _close_quote(text: str, at: int, quote: str, backslash: bool) -> int:
    start = at
    while True:
        found = text.find(quote, at)
        if found < 0:
            raise _LexError(f"unterminated {quote} quote", _line(text, start))
        if backslash and text[found - 1] == "\\" and (found - start < 2 or text[found - 2] != "\\"):
            at = found + 1
            continue
        if text.startswith(quote * 2, found):
            at = found + 2
            continue
        return found + 1


def _close_comment(text: str, at: int) -> int:
    """The end of the (nestable) block comment at ``at``."""
    depth, i = 0, at
    while i < len(text):
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    raise _LexError("unterminated /* comment", _line(text, at))


def _unquote(body: str) -> str:
    return body.replace("''", "'")


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


class _Lines:
    """Line numbers of positions in ``source``, whose first line is line ``first``."""

    def __init__(self, source: str, first: int = 1) -> None:
        self.source = source
        self.first = first
        self._breaks = [i for i, c in enumerate(source) if c == "\n"]

    def __call__(self, position: int) -> int:
        return self.first + bisect.bisect_left(self._breaks, position)


def _statements(tokens: Sequence[_Token]) -> Iterator[list[_Token]]:
    """Splits tokens at top-level ``;`` (a ``BEGIN ATOMIC … END`` body holds its own)."""
    current: list[_Token] = []
    atomic = -1  # CASE … END depth inside a BEGIN ATOMIC body; -1: not in one
    for i, token in enumerate(tokens):
        word = token.upper
        if atomic < 0 and word == "ATOMIC" and i and tokens[i - 1].upper == "BEGIN":
            atomic = 0
        elif atomic >= 0 and word == "CASE":
            atomic += 1
        elif atomic >= 0 and word == "END":
            atomic -= 1
        if token.text == ";" and token.kind == "punct" and atomic < 0:
            if current:
                yield current
            current = []
            continue
        current.append(token)
    if current:
        yield current


# -- statements -----------------------------------------------------------------------------------


def _functions(text: str, file: str) -> Iterator[DatabaseFunction]:
    lines = _Lines(text)
    for statement in _statements(list(_tokens(text))):
        words = [t.upper for t in statement[:4]]
        if words[:1] == ["CREATE"]:
            at = 3 if words[1:3] == ["OR", "REPLACE"] else 1
            if len(statement) > at and statement[at].upper in ("FUNCTION", "PROCEDURE"):
                created = _create(statement, at + 1, lines, file)
                if created is not None:
                    yield created
        elif words[:1] == ["DROP"] and words[1:2] in (["FUNCTION"], ["PROCEDURE"]):
            yield from _drops(statement, lines, file)


def _name(tokens: Sequence[_Token], at: int) -> tuple[str, str, int] | None:
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


def _parenthesised(tokens: Sequence[_Token], at: int) -> tuple[str, int]:
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


def _drops(statement: Sequence[_Token], lines: _Lines, file: str) -> Iterator[DatabaseFunction]:
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
    statement: Sequence[_Token], at: int, lines: _Lines, file: str
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
            tokens = list(_tokens(body.value, body.value_start))
        else:  # a quoted body: undoubling its quotes shifts positions, so it is text of its own
            lines = _Lines(body.value, lines(body.value_start))
            tokens = list(_tokens(body.value))
    except _LexError as error:
        reason = f"the body of {qualified} cannot be read: {error}"
        return replace(function, unresolved=((line, reason),))
    return _read_body(function, tokens, lines, language, search_path)


def _search_path(tokens: Sequence[_Token], at: int) -> tuple[str | None, int]:
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
    tokens: list[_Token],
    lines: _Lines,
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
    for fragment in _statements(tokens):
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


def _statement_start(fragment: Sequence[_Token]) -> int | None:
    """Where the statement that can write or call begins in a fragment between two ``;``."""
    for i, token in enumerate(fragment):
        if token.upper not in _STARTS:
            continue
        before = fragment[i - 1] if i else None
        if before is None or before.upper in _BEFORE_STATEMENT or before.text == ">>":
            return i
    return None


def _statement_text(tokens: Sequence[_Token], text: str, plpgsql: bool) -> str:
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


def _reads_only(tokens: Sequence[_Token]) -> bool:
    """Whether dynamic SQL's first literal piece shows a read (``EXECUTE 'SELECT …' || …``)."""
    for token in tokens:
        if token.kind in ("string", "dollar"):
            return token.value.lstrip().upper().startswith("SELECT")
    return False


def _mentions(fragment: Sequence[_Token], lines: _Lines) -> Iterator[tuple[str, int]]:
    """Names called as functions (``name(``, ``schema.name(``) in a PL/pgSQL statement."""
    for i, token in enumerate(fragment[:-1]):
        if token.kind in ("word", "ident") and fragment[i + 1].text == "(":
            name = token.value if token.kind == "ident" else token.text.lower()
            if i >= 2 and fragment[i - 1].text == "." and fragment[i - 2].kind in ("word", "ident"):
                before = fragment[i - 2]
                name = f"{before.value if before.kind == 'ident' else before.text.lower()}.{name}"
            yield name, lines(token.start)


def _fold(name: str) -> str:
    return name.lower()


# -- files ----------------------------------------------------------------------------------------

MIGRATION_KEY = "migration:"


@dataclass(frozen=True, order=True)
class MigrationSource:
    """A migration file: ``key`` names it among the files a run read (``migration:`` and its
    path in the project), ``file`` is where findings point (relative to the source root), and
    ``refused`` says why it must not be read (a symbolic link out of the project)."""

    key: str
    path: Path
    file: str
    refused: str | None = None


def sources(config: Config) -> list[MigrationSource]:
    """The files the ``migrations`` globs match under the project, in the order migrations
    apply (by path: Supabase names them by timestamp)."""
    project = config.project_dir
    found: dict[str, MigrationSource] = {}
    for pattern in config.migrations:
        for path in sorted(project.glob(pattern)):
            if not path.is_file() and not path.is_symlink():
                continue
            rel = path.relative_to(project).as_posix()
            try:
                shown = Path(os.path.relpath(path, config.source_root)).as_posix()
            except ValueError:  # another drive
                shown = path.as_posix()
            real = os.path.realpath(path)
            inside = real.startswith(os.path.realpath(project).rstrip(os.sep) + os.sep)
            refused = None if inside else "a symbolic link to a file outside the project"
            found.setdefault(rel, MigrationSource(MIGRATION_KEY + rel, path, shown, refused))
    return sorted(found.values(), key=lambda s: s.key)


def read(source: MigrationSource) -> bytes:
    """A migration's bytes; raises OSError for a refused file, a non-regular file or one over
    the size cap."""
    if source.refused is not None:
        raise OSError(errno.EPERM, source.refused)
    return fileio.read_regular(source.path, MAX_MIGRATION_BYTES)


def collect(
    found: Sequence[MigrationSource],
    config: Config,
    root: Path | None,
    digests: dict[str, str],
) -> tuple[MigrationFile, ...]:
    """Reads each migration (from the cache when its content was read before: ``root``),
    recording its digest in ``digests`` by key; never raises for a bad file."""
    salt = config.analysis_key().encode()
    out = []
    for source in found:
        try:
            data = read(source)
        except OSError as exc:
            out.append(MigrationFile(source.file, (), (1, f"cannot read file: {exc.strerror}")))
            continue
        key = digests[source.key] = cache.digest(salt, source.key.encode(), data)
        cached = cache.load(root, key, MigrationFile) if root is not None else None
        if cached is not None and cached.file == source.file:
            out.append(cached)
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            migration = MigrationFile(source.file, (), (1, "file is not valid UTF-8"))
        else:
            migration = read_migration(text, source.file)
        if root is not None:
            cache.store(root, key, migration)
        out.append(migration)
    return tuple(out)
