"""conformance.schema against jsonschema itself: the same errors, in the same order, with the
same messages, for the schemas the tool validates at run time."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.config import load_schema
from conformance.schema import Validator

RUNTIME_SCHEMAS = ("config.schema.json", "registry.schema.json", "plan.schema.json")


def _entry_schema() -> dict[str, Any]:
    schema = load_schema("registry.schema.json")
    return dict(schema["$defs"]["entry"], **{"$defs": schema["$defs"]})


def errors(validator: Any, document: Any) -> list[tuple[str, list[str], str]]:
    # sorted: jsonschema checks the properties a schema-valued additionalProperties covers in
    # set order; the callers sort by path anyway
    found = [
        (e.validator, [str(p) for p in e.path], e.message) for e in validator.iter_errors(document)
    ]
    return sorted(found, key=lambda e: (e[1], e[0], e[2]))


def agree(schema: dict[str, Any], document: Any) -> None:
    ours = errors(Validator(schema), document)
    theirs = errors(jsonschema.Draft202012Validator(schema), document)
    assert ours == theirs, document


# values that sit on either side of every keyword the runtime schemas use
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(
        [
            "",
            "src",
            "raw.t",
            "core.companies",
            "bad name",
            "CONF001",
            "CONF1",
            "error",
            "warning",
            "off",
            "loud",
            "kebab-slug",
            "Not_Kebab",
            "warehouse.registry",
            "x\x00y",
            "line\n",
            "postgresql://u@h/db",
        ]
    ),
    st.text(max_size=6),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "CONF002", "x"]), inner)
    ),
    max_leaves=6,
)


def documents(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects whose keys are mostly the schema's own properties (and sometimes others)."""
    names = list(schema.get("properties", {})) + ["unknown", "Extra"]
    return st.dictionaries(st.sampled_from(names), VALUES, max_size=len(names))


@pytest.mark.parametrize("name", RUNTIME_SCHEMAS)
def test_runtime_schemas_use_only_supported_keywords(name: str) -> None:
    Validator(load_schema(name))


def test_a_keyword_outside_the_subset_is_refused() -> None:
    with pytest.raises(ValueError, match="dependentRequired"):
        Validator(load_schema("report.schema.json"))
    with pytest.raises(ValueError, match="format"):
        Validator({"properties": {"a": {"format": "email"}}})
    with pytest.raises(ValueError, match="items: false"):
        Validator({"items": False})


@settings(max_examples=400, deadline=None)
@given(documents(load_schema("config.schema.json")))
def test_config_documents_agree_with_jsonschema(document: dict[str, Any]) -> None:
    agree(load_schema("config.schema.json"), document)


@settings(max_examples=400, deadline=None)
@given(documents(_entry_schema()))
def test_registry_entries_agree_with_jsonschema(document: dict[str, Any]) -> None:
    agree(_entry_schema(), document)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["version", "workflows", "other"]),
        st.one_of(VALUES, st.lists(documents(_entry_schema()), max_size=2)),
    )
)
def test_registry_files_agree_with_jsonschema(document: dict[str, Any]) -> None:
    agree(load_schema("registry.schema.json"), document)


@pytest.mark.parametrize(
    "document",
    [
        {"ingest": []},
        {"ingest": "ingest"},
        {"severity": {"CONF1": "loud"}},
        {"severity": {"CONF001": "off", "bad": True}},
        {"table": "no_schema", "workspace": "Bad_Workspace", "extra": 1, "more": 2},
        {"entrypoint": None, "exclude": ["a", 3]},
        {"entity_types": [], "source_root": 1.5},
    ],
)
def test_known_config_mistakes_give_jsonschemas_messages(document: dict[str, Any]) -> None:
    agree(load_schema("config.schema.json"), document)
    assert not Validator(load_schema("config.schema.json")).is_valid(document)


@pytest.mark.parametrize(
    "schema, good, bad",
    [
        ({"const": 1}, 1.0, True),
        ({"enum": [[1], {"a": False}]}, {"a": False}, {"a": 0}),
        ({"type": "integer"}, 2.0, 2.5),
        ({"type": "number", "minimum": 1}, 1, 0.5),
        ({"minLength": 2}, "ab", "a"),
        ({"items": {"type": "string"}}, ["a"], ["a", 1]),
        ({"propertyNames": {"pattern": "^a"}}, {"ab": 1}, {"ab": 1, "b": 2}),
        ({"additionalProperties": {"type": "null"}, "properties": {"a": {}}}, {"a": 1}, {"b": 1}),
        ({"required": ["a", "b"]}, {"a": 1, "b": 2}, {"c": 1}),
        ({"$ref": "#/$defs/a", "$defs": {"a": {"type": "null"}}}, None, 0),
    ],
)
def test_each_keyword_on_both_sides(schema: dict[str, Any], good: Any, bad: Any) -> None:
    assert Validator(schema).is_valid(good)
    assert not Validator(schema).is_valid(bad)
    agree(schema, good)
    agree(schema, bad)
