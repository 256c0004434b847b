"""PostgreSQL text → tokens and statements, for reading migration files as data.

A small lexer, not a parser: it knows strings (``'…'``, ``E'…'``), quoted names, comments
(``--``, nested ``/* */``) and dollar quotes (``$$ … $$``, ``$tag$ … $tag$``), so that a ``;``
inside any of them never ends a statement, and a function body in a dollar quote can be read as
text of its own. What the statements mean is :mod:`sqlfunctions`' business (and sqlglot's).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # word | ident | string | dollar | punct | number | param
    text: str
    start: int
    value: str = ""  # a string's content
    value_start: int = 0  # where the content starts in the text

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


class LexError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


_SIMPLE = re.compile(
    r"""(?P<space>\s+)
    |(?P<comment>--[^\n]*)
    |(?P<dollar>\$(?:[^\W\d]\w*)?\$)
    |(?P<param>\$\d+)
    |(?P<estring>[eE]')
    |(?P<word>[^\W\d][\w$]*)
    |(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
    |(?P<punct>::|:=|=>|<>|!=|<=|>=|<<|>>|\|\||.)""",
    re.VERBOSE | re.DOTALL,
)


def lex(text: str, base: int = 0) -> Iterator[Token]:
    """The significant tokens of ``text`` (offsets plus ``base``); raises LexError for an
    unterminated string, quoted name, comment or dollar quote."""
    at, end = 0, len(text)
    while at < end:
        char = text[at]
        if char == "'":
            close = _close_quote(text, at + 1, "'", backslash=False)
            yield Token(
                "string",
                text[at:close],
                base + at,
                unquote(text[at + 1 : close - 1]),
                base + at + 1,
            )
            at = close
            continue
        if char == '"':
            close = _close_quote(text, at + 1, '"', backslash=False)
            yield Token(
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
            yield Token(
                "string", text[at:close], base + at, text[at + 2 : close - 1], base + at + 2
            )
            at = close
            continue
        if kind == "dollar":
            tag = match.group()
            close = text.find(tag, match.end())
            if close < 0:
                raise LexError(f"unterminated {tag} quote", _line(text, at))
            yield Token(
                "dollar",
                text[at : close + len(tag)],
                base + at,
                text[match.end() : close],
                base + match.end(),
            )
            at = close + len(tag)
            continue
        if kind not in ("space", "comment"):
            yield Token(kind, match.group(), base + at)
        at = match.end()


def _close_quote(text: str, at: int, quote: str, backslash: bool) -> int:
    start = at
    while True:
        found = text.find(quote, at)
        if found < 0:
            raise LexError(f"unterminated {quote} quote", _line(text, start))
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
    raise LexError("unterminated /* comment", _line(text, at))


def unquote(body: str) -> str:
    return body.replace("''", "'")


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


class Lines:
    """Line numbers of positions in ``source``, whose first line is line ``first``."""

    def __init__(self, source: str, first: int = 1) -> None:
        self.source = source
        self.first = first
        self._breaks = [i for i, c in enumerate(source) if c == "\n"]

    def __call__(self, position: int) -> int:
        return self.first + bisect.bisect_left(self._breaks, position)


def split_statements(tokens: Sequence[Token]) -> Iterator[list[Token]]:
    """Splits tokens at top-level ``;`` (a ``BEGIN ATOMIC … END`` body holds its own)."""
    current: list[Token] = []
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
