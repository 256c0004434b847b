"""The JSON Schema subset our own schemas use, validated without importing jsonschema.

``import jsonschema`` costs about 0.09 s, a tenth of the bare parse of a 200-file project, and
every cold run validates ``[tool.conformance]`` (and ``check`` a registry file). The schemas in
``schemas/`` use a dozen Draft 2020-12 keywords; :class:`Validator` implements exactly those, with
jsonschema's semantics and messages, and refuses a schema that uses any other keyword. The test
suite holds it to jsonschema's verdicts on generated documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# keywords that only annotate: they never make a document invalid
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"}
)
ASSERTIONS = frozenset(
    {
        "type",
        "enum",
        "const",
        "pattern",
        "minItems",
        "minLength",
        "minimum",
        "required",
        "properties",
        "additionalProperties",
        "propertyNames",
        "items",
        "$ref",
    }
)
_OBJECT_KEYWORDS = frozenset({"required", "properties", "propertyNames", "additionalProperties"})
# schema-valued keywords, where the walk for unsupported keywords descends
_SUBSCHEMA = ("additionalProperties", "propertyNames", "items")


@dataclass(frozen=True)
class SchemaError:
    """One way a document breaks a schema, shaped like ``jsonschema.ValidationError``."""

    message: str
    validator: str  # the keyword that failed
    validator_value: Any
    instance: Any
    path: tuple[str | int, ...] = ()


class Validator:
    """Validates documents against one schema; raises ValueError for a keyword it lacks."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        unsupported = sorted(_keywords(schema) - ANNOTATIONS - ASSERTIONS)
        if unsupported:
            raise ValueError(f"schema keywords not supported: {', '.join(unsupported)}")
        self.schema = schema
        self._patterns: dict[str, re.Pattern[str]] = {}

    def iter_errors(self, instance: Any) -> Iterator[SchemaError]:
        """Yields every error: in the schema's keyword order, as jsonschema does, and the
        properties a schema-valued ``additionalProperties`` checks in sorted order (jsonschema
        visits them in set order)."""
        return self._errors(instance, self.schema, ())

    def is_valid(self, instance: Any) -> bool:
        return next(self.iter_errors(instance), None) is None

    def _errors(
        self, instance: Any, schema: Any, path: tuple[str | int, ...]
    ) -> Iterator[SchemaError]:
        for keyword, value in schema.items():
            if keyword == "$ref":
                yield from self._errors(instance, self._resolve(value), path)
            elif keyword == "items" and isinstance(instance, list):
                for index, item in enumerate(instance):
                    yield from self._errors(item, value, (*path, index))
            elif keyword in _OBJECT_KEYWORDS:
                if isinstance(instance, dict):
                    yield from self._object(keyword, value, instance, schema, path)
            else:
                message = self._check(keyword, value, instance)
                if message is not None:
                    yield SchemaError(message, keyword, value, instance, path)

    def _check(self, keyword: str, value: Any, instance: Any) -> str | None:
        """Returns jsonschema's message when ``instance`` fails one scalar keyword."""
        if keyword == "type":
            types = value if isinstance(value, list) else [value]
            if not any(_is_type(instance, t) for t in types):
                return f"{instance!r} is not of type {', '.join(repr(t) for t in types)}"
        elif keyword == "enum":
            if not any(_equal(instance, option) for option in value):
                return f"{instance!r} is not one of {value!r}"
        elif keyword == "const":
            if not _equal(instance, value):
                return f"{value!r} was expected"
        elif keyword == "pattern":
            if isinstance(instance, str) and not self._pattern(value).search(instance):
                return f"{instance!r} does not match {value!r}"
        elif keyword in ("minItems", "minLength"):
            kind = list if keyword == "minItems" else str
            if isinstance(instance, kind) and len(instance) < value:
                short = "should be non-empty" if value == 1 else "is too short"
                return f"{instance!r} {short}"
        elif keyword == "minimum" and _is_type(instance, "number") and instance < value:
            return f"{instance!r} is less than the minimum of {value!r}"
        return None

    def _object(
        self,
        keyword: str,
        value: Any,
        instance: dict[str, Any],
        schema: Mapping[str, Any],
        path: tuple[str | int, ...],
    ) -> Iterator[SchemaError]:
        if keyword == "required":
            for name in value:
                if name not in instance:
                    message = f"{name!r} is a required property"
                    yield SchemaError(message, keyword, value, instance, path)
        elif keyword == "properties":
            for name, subschema in value.items():
                if name in instance:
                    yield from self._errors(instance[name], subschema, (*path, name))
        elif keyword == "propertyNames":
            for name in instance:
                yield from self._errors(name, value, path)
        elif keyword == "additionalProperties":
            known = schema.get("properties", {})
            extras = sorted((name for name in instance if name not in known), key=str)
            if value is False and extras:
                shown = ", ".join(repr(name) for name in extras)
                verb = "was" if len(extras) == 1 else "were"
                message = f"Additional properties are not allowed ({shown} {verb} unexpected)"
                yield SchemaError(message, keyword, value, instance, path)
            elif isinstance(value, dict):
                for name in extras:
                    yield from self._errors(instance[name], value, (*path, name))

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported, not {ref!r}")
        target: Any = self.schema
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target

    def _pattern(self, pattern: str) -> re.Pattern[str]:
        compiled = self._patterns.get(pattern)
        if compiled is None:
            compiled = self._patterns[pattern] = re.compile(pattern)
        return compiled


def _is_type(instance: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(instance, str)
    if kind == "object":
        return isinstance(instance, dict)
    if kind == "array":
        return isinstance(instance, list)
    if kind == "null":
        return instance is None
    if kind == "boolean":
        return isinstance(instance, bool)
    if isinstance(instance, bool):
        return False
    if kind == "integer":
        return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())
    if kind == "number":
        return isinstance(instance, (int, float))
    raise ValueError(f"unknown type {kind!r}")


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, as in jsonschema."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return False
    return bool(a == b)


def _keywords(schema: Any) -> set[str]:
    """Every keyword used anywhere in ``schema``."""
    if not isinstance(schema, Mapping):
        return set()
    found = set(schema)
    for name in _SUBSCHEMA:
        sub = schema.get(name)
        if isinstance(sub, bool) and name != "additionalProperties":
            found.add(f"{name}: {str(sub).lower()}")  # a boolean schema: not in the subset
        found |= _keywords(sub)
    for group in ("properties", "$defs"):
        for subschema in (schema.get(group) or {}).values():
            found |= _keywords(subschema)
    return found
