"""Registry rows as plain mappings → validated :class:`RegistryEntry` values and problems.

Both sources (the registry file and the live table) go through here, so an entry means the same
thing wherever it came from: the JSON Schema decides what a valid value is, unqualified table
names get their layer's schema, and a slug claimed twice is reported once per extra claim.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from conformance.config import load_schema
from conformance.model import LAYER_COLUMNS, REGISTRY_COLUMNS, RegistryEntry, RegistryProblem

SCHEMA_FILE = "registry.schema.json"
_LAYER_OF_COLUMN = {column: layer for layer, column in LAYER_COLUMNS.items()}
_BOOLEAN_DEFAULTS = {"coalesces_to_core": False, "is_active": True}


@dataclass(frozen=True)
class RawEntry:
    """One entry as a source gave it: the mapping, its first line and each field's line."""

    data: Any
    line: int | None = None
    field_lines: Mapping[str, int] = field(default_factory=dict)
    duplicate_keys: tuple[tuple[str, int], ...] = ()  # a column given again, and where

    def line_of(self, name: str | None) -> int | None:
        return self.field_lines.get(name, self.line) if name else self.line


def normalise_table(column: str, value: str | None) -> str | None:
    """Returns ``value`` schema-qualified: a bare layer-table name gets its layer's schema."""
    if not value or "." in value or column not in _LAYER_OF_COLUMN:
        return value
    return f"{_LAYER_OF_COLUMN[column]}.{value}"


def entry_from_row(data: Mapping[str, Any], line: int | None = None) -> RegistryEntry:
    """Returns the entry for a mapping of registry columns whose types are already right.

    Missing or NULL booleans and ``writes`` take their defaults; table names are normalised and
    ``writes`` is sorted and de-duplicated (it is a set of tables). Any other column is kept as
    an extra column, by name.
    """
    values: dict[str, Any] = {}
    for column in REGISTRY_COLUMNS:
        value = data.get(column)
        if column in _BOOLEAN_DEFAULTS:
            values[column] = _BOOLEAN_DEFAULTS[column] if value is None else bool(value)
        elif column == "writes":
            values[column] = tuple(sorted({str(w) for w in value or ()}))
        else:
            values[column] = normalise_table(column, value)
    extra = tuple(sorted((str(k), v) for k, v in data.items() if k not in REGISTRY_COLUMNS))
    return RegistryEntry(**values, extra=extra, line=line)


def validate_entries(
    raw: Sequence[RawEntry],
    entity_types: Iterable[str] | None,
    *,
    keep_invalid: bool = False,
    known_columns: Iterable[str] = (),
) -> tuple[tuple[RegistryEntry, ...], tuple[RegistryProblem, ...]]:
    """Returns the valid entries (in source order) and one problem per thing wrong.

    Invalid entries are skipped unless ``keep_invalid`` (the live table: its rows exist whatever
    they hold). A slug claimed again after its first entry is a problem and the later entry is
    skipped. ``entity_types=None`` skips the entity type check. ``known_columns`` are columns
    that exist (the live table's): never taken for a misspelt registry column. Never raises.
    """
    known = frozenset(known_columns)
    allowed = None if entity_types is None else tuple(entity_types)
    entries: list[RegistryEntry] = []
    problems: list[RegistryProblem] = []
    first_claim: dict[str, RawEntry] = {}
    for item in raw:
        found = _entry_problems(item, allowed, known)
        problems.extend(found)
        slug = _slug_of(item)
        if slug is not None and slug in first_claim:
            problems.append(_duplicate_problem(first_claim[slug], item, slug))
            continue
        if slug is not None:
            first_claim[slug] = item
        if (not found or keep_invalid) and slug is not None:
            entries.append(entry_from_row(item.data, item.line))
    return tuple(entries), tuple(problems)


def _slug_of(item: RawEntry) -> str | None:
    if isinstance(item.data, Mapping):
        slug = item.data.get("workflow_slug")
        return slug if isinstance(slug, str) else None
    return None


def _duplicate_problem(first: RawEntry, again: RawEntry, slug: str) -> RegistryProblem:
    where = f" (line {first.line})" if first.line else ""
    before, after = (_function_of(first), _function_of(again))
    if before != after:
        message = (
            f"workflow_slug {slug!r} is claimed by {before or 'no function'}{where} "
            f"and again by {after or 'no function'}"
        )
    else:
        message = f"duplicate workflow_slug {slug!r}: already defined{where}"
    return RegistryProblem(
        message, slug, "workflow_slug", again.line_of("workflow_slug"), kind="duplicate"
    )


def _function_of(item: RawEntry) -> str | None:
    name = item.data.get("modal_function_name") if isinstance(item.data, Mapping) else None
    return name if isinstance(name, str) else None


@lru_cache(maxsize=1)
def _entry_validator() -> Any:
    from jsonschema import Draft202012Validator as Validator

    schema = load_schema(SCHEMA_FILE)
    return Validator(dict(schema["$defs"]["entry"], **{"$defs": schema["$defs"]}))


def _entry_problems(
    item: RawEntry, entity_types: tuple[str, ...] | None, known: frozenset[str] = frozenset()
) -> list[RegistryProblem]:
    slug = _slug_of(item)
    if not isinstance(item.data, Mapping):
        kind = _type_name(item.data)
        return [
            RegistryProblem(
                f"an entry must be a mapping of columns, not {kind}", None, None, item.line
            )
        ]
    problems = [
        RegistryProblem(f"column {key!r} is given more than once", slug, key, line)
        for key, line in item.duplicate_keys
    ]
    data = {str(k): v for k, v in item.data.items()}
    errors = sorted(_entry_validator().iter_errors(data), key=lambda e: [str(p) for p in e.path])
    for err in errors:
        problems.extend(_schema_problem(err, data, item, slug))
    for key in data:
        if key not in REGISTRY_COLUMNS and key not in known:
            close = _misspelt(key)
            if close:
                problems.append(
                    RegistryProblem(
                        f"unknown column {key!r} (did you mean {close}?); a column the tool "
                        "does not know is kept as it is, so a misspelt one would be lost",
                        slug,
                        key,
                        item.line_of(key),
                    )
                )
    entity = data.get("entity_type")
    if entity_types is not None and isinstance(entity, str) and entity not in entity_types:
        problems.append(
            RegistryProblem(
                f"entity_type {_short(entity)} is not one of {', '.join(entity_types)}",
                slug,
                "entity_type",
                item.line_of("entity_type"),
            )
        )
    return problems


def _misspelt(key: str) -> str | None:
    """Returns the registry column ``key`` looks like a misspelling of, if any: close to it, and
    not a name built on it (``new_workflow_slug`` is a column of its own)."""
    close = difflib.get_close_matches(key, REGISTRY_COLUMNS, n=1, cutoff=0.8)
    if not close or close[0] in key.split("_") or f"_{close[0]}" in key or f"{close[0]}_" in key:
        return None
    return close[0]


def _schema_problem(
    err: Any, data: Mapping[str, Any], item: RawEntry, slug: str | None
) -> list[RegistryProblem]:
    if err.validator == "propertyNames":
        column = str(err.instance)
        return [
            RegistryProblem(
                f"column name {short_repr(column)} is not a lowercase SQL identifier",
                slug,
                column,
                item.line_of(column),
            )
        ]
    if err.validator == "required":
        missing = [k for k in err.validator_value if k not in data]
        return [RegistryProblem(f"missing {k}", slug, k, item.line) for k in missing]
    path = list(err.path)
    name = str(path[0]) if path else None
    value = err.instance
    if err.validator == "type":
        expected = " or ".join(
            err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        )
        shown = "null" if value is None else f"{_type_name(value)} {_short(value)}"
        message = f"{name} must be {expected}, not {shown}"
    elif err.validator == "pattern":
        message = _pattern_message(name, path, value)
    else:
        message = f"{name}: {_short(err.message, 120)}"
    return [RegistryProblem(message, slug, name, item.line_of(name))]


def _pattern_message(name: str | None, path: list[Any], value: Any) -> str:
    if name == "workflow_slug":
        return (
            f"workflow_slug {_short(value)} is not kebab-case "
            "(lowercase letters and digits joined by single hyphens)"
        )
    if name == "writes":
        where = f"writes[{path[1]}]" if len(path) > 1 else "writes"
        return f"{where} {_short(value)} is not a schema-qualified table name (schema.table)"
    if name in _LAYER_OF_COLUMN:
        return f"{name} {_short(value)} is not a table name (schema.table or table)"
    return (
        f"{name} {_short(value)} holds a NUL character or a lone surrogate, "
        "which PostgreSQL cannot store"
    )


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, date):
        return "a date"
    return type(value).__name__


def short_repr(value: Any, limit: int = 60) -> str:
    """Returns ``repr(value)`` cut to ``limit`` characters, built without ever writing out all
    of a huge (or alias-expanded) value; an integer too long to print is described instead."""
    import reprlib

    shower = reprlib.Repr()
    shower.maxstring = shower.maxother = limit
    shower.maxlist = shower.maxtuple = shower.maxdict = shower.maxset = 8
    shower.maxlevel = 3
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4096:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    try:
        shown = shower.repr(value)
    except ValueError:  # e.g. an integer nested in a list, past the digit limit
        return f"a {type(value).__name__} too large to show"
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


_short = short_repr
