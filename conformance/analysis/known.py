"""How much of a resolved value is known: the options of a choice, how a string was known
(``via``), why a value is not known, and strings joined from known and runtime parts. Pure
functions of values, shared by the resolver (``resolve.py``) and what it records (``writes.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from conformance.analysis import values as v
from conformance.model import VIA

DEFAULT_SCHEMA = v.Str("public", "default-schema")
MAX_CHOICES = 64


def options(value: v.Value) -> Iterator[v.Value]:
    """The values a :class:`values.Choice` may be; the value itself otherwise."""
    if isinstance(value, v.Choice):
        yield from value.options
    else:
        yield value


def elements(value: v.Value) -> list[v.Value]:
    """The elements of a sequence (each of a comprehension's is like its item)."""
    if isinstance(value, v.Seq):
        return [o for item in value.items for o in options(item)]
    if isinstance(value, v.Each):
        return list(options(value.item))
    return [value]


def mapping(value: v.Value) -> tuple[tuple[tuple[str, v.Value], ...], bool] | None:
    """The known entries of a mapping, and whether mappings known only at runtime are merged
    into it (so a key it lacks may still be there); None when ``value`` is no mapping."""
    if isinstance(value, v.Dict):
        return value.items, False
    if isinstance(value, v.Merged):
        return value.base.items, True
    return None


def via_of(*values: v.Str) -> str:
    """The least direct way any of ``values`` was known (see ``model.VIA``)."""
    return max((val.via for val in values), key=lambda x: VIA.index(x) if x in VIA else 0)


def with_via(value: v.Value, via: str) -> v.Value:
    if isinstance(value, v.Str):
        return v.Str(value.value, via)
    if isinstance(value, v.Choice):
        return v.Choice(tuple(with_via(o, via) for o in value.options))
    if isinstance(value, v.Seq):
        return v.Seq(tuple(with_via(o, via) for o in value.items))
    if isinstance(value, v.Concat):
        return v.Concat(tuple(with_via(o, via) for o in value.parts))
    return value


def as_constant(value: v.Value) -> v.Value:
    """A literal reached through a module-level name (or a class's) is known 'via constant'."""
    if isinstance(value, v.Str) and value.via == "literal":
        return v.Str(value.value, "constant")
    if isinstance(value, (v.Choice, v.Seq)):
        items = value.options if isinstance(value, v.Choice) else value.items
        mapped = tuple(as_constant(i) for i in items)
        if mapped == items:
            return value
        return v.Choice(mapped, value.via) if isinstance(value, v.Choice) else v.Seq(mapped)
    if isinstance(value, v.Concat):
        return v.Concat(tuple(as_constant(p) for p in value.parts))
    if isinstance(value, v.OrmTable):
        return v.OrmTable(as_constant(value.schema), as_constant(value.name))
    return value


def as_argument(value: v.Value) -> v.Value:
    """A literal crossing a call boundary is known 'via argument'."""
    if isinstance(value, v.Str) and value.via in ("literal", "constant"):
        return v.Str(value.value, "argument")
    if isinstance(value, (v.Choice, v.Seq)):
        items = value.options if isinstance(value, v.Choice) else value.items
        mapped = tuple(as_argument(i) for i in items)
        return v.Choice(mapped) if isinstance(value, v.Choice) else v.Seq(mapped)
    if isinstance(value, v.Concat):
        return v.Concat(tuple(as_argument(p) for p in value.parts))
    return value


def reason(value: v.Value) -> str:
    """Why ``value`` is not a known string, in words for the user."""
    if isinstance(value, v.Unknown):
        return value.reason
    if isinstance(value, v.Each):
        return "a comprehension"
    if isinstance(value, v.Concat):  # a string with runtime parts: why the first is unknown
        hole = next((p for p in value.parts if not isinstance(p, v.Str)), None)
        return reason(hole) if isinstance(hole, v.Unknown) else "a string built at runtime"
    return f"a {type(value).__name__} value"


def concat(parts: list[v.Value]) -> v.Value:
    """Joins resolved parts: a :class:`values.Str` when all are known; otherwise a resolved
    :class:`values.Concat`, a string with holes (``f"INSERT INTO raw.events ({cols}) ..."``),
    whose known parts still say what the text is (see ``writes.WriteRecorder``)."""
    flat: list[v.Value] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, v.Concat) else (part,))
    if all(isinstance(p, v.Str) for p in flat):
        strs = [p for p in flat if isinstance(p, v.Str)]
        return v.Str("".join(s.value for s in strs), via_of(*strs) if strs else "literal")
    if any(isinstance(p, v.Choice) for p in flat):
        combos = list(
            itertools.islice(itertools.product(*(list(options(p)) for p in flat)), MAX_CHOICES)
        )
        results = list(dict.fromkeys(concat(list(c)) for c in combos))
        return results[0] if len(results) == 1 else v.Choice(tuple(results))
    if not any(isinstance(p, v.Str) for p in flat):  # nothing known: why the first is not
        return next((p for p in flat if isinstance(p, v.Unknown)), None) or v.Unknown(
            "a string built at runtime"
        )
    merged: list[v.Value] = []
    for part in flat:  # parts known the same way are joined; the others keep how they were known
        last = merged[-1] if merged else None
        if isinstance(part, v.Str) and isinstance(last, v.Str) and part.via == last.via:
            merged[-1] = v.Str(last.value + part.value, last.via)
        else:
            merged.append(part)
    return v.Concat(tuple(merged))
