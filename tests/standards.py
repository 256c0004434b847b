"""The standards' own schemas (SARIF 2.1.0, JUnit's junit-10.xsd), and GitHub's upload rules.

The schemas are in ``../shared/third_party/`` from the project root (see its README). Outside CI
a test that cannot find them skips; under ``CI`` a missing schema is a failure.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

THIRD_PARTY = Path(__file__).resolve().parents[1].parent / "shared" / "third_party"


def official(name: str) -> Path:
    """Returns the path of an official schema, or skips (fails under CI) without it."""
    path = THIRD_PARTY / name
    if not path.is_file():
        message = f"official schema {name} not found in {THIRD_PARTY}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@cache
def _sarif_validator() -> Any:
    import jsonschema

    schema = json.loads(official("sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    return jsonschema.Draft4Validator(schema)


def validate_sarif(log: dict[str, Any]) -> None:
    """Fails unless ``log`` is valid SARIF 2.1.0 and meets GitHub code scanning's upload rules
    (which the schema does not state)."""
    errors = sorted(_sarif_validator().iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    assert len(log["runs"]) <= 20
    for run in log["runs"]:
        assert run["tool"]["driver"]["name"]
        assert run["automationDetails"]["id"], "GitHub keeps runs apart by automationDetails.id"
        rules = run["tool"]["driver"].get("rules", [])
        ids = {r["id"] for r in rules}
        for rule in rules:
            assert 0 < len(rule["shortDescription"]["text"]) <= 1024
            assert 0 < len(rule["fullDescription"]["text"]) <= 1024
            assert len(rule.get("properties", {}).get("tags", [])) <= 20
            if "helpUri" in rule:
                assert rule["helpUri"].startswith(("https://", "http://")), rule["helpUri"]
        bases = run.get("originalUriBaseIds", {})
        assert len(run["results"]) <= 25_000
        for result in run["results"]:
            assert result["ruleId"] in ids and result["message"]["text"]
            assert result["locations"], f"{result['ruleId']}: GitHub rejects a result without one"
            for location in result["locations"]:
                physical = location["physicalLocation"]
                artifact = physical["artifactLocation"]
                uri = artifact["uri"]
                assert uri and not uri.startswith(("/", "../")) and "://" not in uri, uri
                assert "/../" not in f"/{uri}", uri
                if "uriBaseId" in artifact and bases:
                    assert artifact["uriBaseId"] in bases
                    assert bases[artifact["uriBaseId"]]["uri"].endswith("/")
                assert physical["region"]["startLine"] >= 1


def validate_junit(xml: str) -> None:
    """Fails unless ``xml`` is valid against the JUnit schema Jenkins' xUnit plugin uses."""
    import xmlschema

    schema = xmlschema.XMLSchema10(str(official("junit-10.xsd")))
    errors = list(schema.iter_errors(xml))
    assert not errors, "; ".join(str(e.reason) for e in errors[:5])
