"""The JSON Schemas under ``schemas/`` are schemas: each is valid Draft 2020-12 (its ``$schema``
says so) and names itself by ``$id``, so editors and our validators read the same thing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

SCHEMAS = sorted((Path(__file__).resolve().parents[1] / "schemas").glob("*.schema.json"))


def test_there_are_schemas() -> None:
    assert {p.name for p in SCHEMAS} >= {
        "config.schema.json",
        "registry.schema.json",
        "report.schema.json",
        "plan.schema.json",
    }


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_each_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_a_broken_schema_is_refused() -> None:
    with pytest.raises(SchemaError):
        Draft202012Validator.check_schema({"type": "no-such-type"})
