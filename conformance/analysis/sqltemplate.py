"""``psycopg.sql`` composition rendered to plain SQL text: ``sql.SQL(text).format(...)`` with
``sql.Identifier(...)`` pieces, so the SQL parser can read it. One copy, used when a file is
read (a template whose every piece the file states) and when names are resolved across
modules (the rest)."""

from __future__ import annotations

from conformance.analysis import values as v


def quote_identifier(name: str) -> str:
    """``sql.Identifier``'s rendering of one name: double-quoted, quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def render(text: v.Value, args: list[v.Value], kwargs: dict[str, v.Value]) -> v.Value:
    """Renders ``sql.SQL(text).format(*args, **kwargs)`` to a :class:`values.Str` when every
    piece is known (a string, or an identifier of strings); an :class:`values.Unknown` saying
    why not otherwise."""
    if not isinstance(text, v.Str):
        if isinstance(text, v.Concat):  # partly known: why its first runtime part is unknown
            hole = next((p for p in text.parts if isinstance(p, v.Unknown)), None)
            reason = hole.reason if hole is not None else "a string built at runtime"
        else:
            reason = (
                text.reason if isinstance(text, v.Unknown) else f"a {type(text).__name__} value"
            )
        return v.Unknown(f"sql.SQL() of {reason}")

    def piece(value: v.Value) -> str | None:
        if isinstance(value, v.SqlIdentifier):
            parts = [p.value for p in value.parts if isinstance(p, v.Str)]
            if len(parts) != len(value.parts):
                return None
            return ".".join(quote_identifier(p) for p in parts)
        if isinstance(value, v.Str):
            return value.value
        return None

    rendered_args = [piece(a) for a in args]
    rendered_kwargs = {k: piece(a) for k, a in kwargs.items()}
    if None in rendered_args or None in rendered_kwargs.values():
        return v.Unknown("sql.SQL().format() with a value known only at runtime")
    try:
        return v.Str(text.value.format(*rendered_args, **rendered_kwargs), text.via)
    except (IndexError, KeyError, ValueError):
        return v.Unknown("sql.SQL().format() that does not fit its arguments")
