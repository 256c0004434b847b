"""What is read from a file's text rather than its syntax tree: suppression comments, literal
secrets, and line numbers of text positions."""

from __future__ import annotations

import re

_SUPPRESSION = re.compile(r"#\s*conformance:\s*ignore\b(?:\[([^\]]*)\])?[ \t]*([^\r\n]*)")
_SECRET_DSN = re.compile(
    r"""(?P<scheme>postgres(?:ql)?(?:\+\w+)?://)(?P<user>[^:/@\s'"]+):(?P<pw>[^@/\s'"{}]+)@"""
)
_SECRET_JWT = re.compile(
    r"""["'](eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{10,})["']"""
)
_SECRET_KEY = re.compile(r"""["']((?:sb_secret|sbp)_[A-Za-z0-9_-]{16,})["']""")


def line_at(text: str, position: int) -> int:
    """Returns the 1-based line of ``position`` counting LF, CRLF and lone CR line ends."""
    return (
        text.count("\n", 0, position)
        + text.count("\r", 0, position)
        - text.count("\r\n", 0, position)
        + 1
    )


def find_suppressions(text: str) -> tuple[tuple[int, tuple[str, ...], str], ...]:
    """Returns ``(line, codes, reason)`` for every ``# conformance: ignore[...]`` comment.

    Only real comments count: the same text inside a string literal suppresses nothing.
    Comments are found with Python's tokenizer, and only in files that hold the marker.
    """
    if "conformance:" not in text:
        return ()
    out = []
    for line, comment in _comments(text):
        match = _SUPPRESSION.search(comment)
        if match is None:
            continue
        listed = match.group(1) or ""
        codes = tuple(c.strip().upper() for c in listed.split(",") if c.strip())
        out.append((line, codes, match.group(2).strip()))
    return tuple(out)


def _comments(text: str) -> list[tuple[int, str]]:
    """Returns ``(line, text)`` of each comment holding the marker; a file the tokenizer
    cannot finish keeps the comments found before the point where it stopped."""
    import io
    import tokenize

    found: list[tuple[int, str]] = []
    try:
        lines = io.StringIO(text, newline=None)  # CR and CRLF line ends count as line_at does
        for token in tokenize.generate_tokens(lines.readline):
            if token.type == tokenize.COMMENT and "conformance:" in token.string:
                found.append((token.start[0], token.string))
    except (tokenize.TokenError, SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    return found


def find_secrets(text: str) -> tuple[tuple[int, str, str], ...]:
    """Returns ``(line, masked, kind)`` for literal DSN passwords and service keys in ``text``."""
    out = []
    if "://" in text:
        for match in _SECRET_DSN.finditer(text):
            if match.group("pw").startswith("$"):
                continue
            line = line_at(text, match.start())
            masked = f"{match.group('scheme')}{match.group('user')}:****@"
            out.append((line, masked, "connection string with a password"))
    if "eyJ" in text or "sb_secret_" in text or "sbp_" in text:
        for pattern, kind in ((_SECRET_JWT, "service key (JWT)"), (_SECRET_KEY, "service key")):
            for match in pattern.finditer(text):
                line = line_at(text, match.start())
                out.append((line, match.group(1)[:6] + "****", kind))
    return tuple(sorted(out))
