"""SARIF 2.1.0, in the shape GitHub code scanning accepts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from conformance.model import Finding
from conformance.report.common import VERSION, finding_place
from conformance.rules import RULES, Rule
from conformance.rules.docs import RULES_URL, explain, help_uri

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_VERSION = "2.1.0"


def render_sarif(
    findings: Sequence[Finding],
    *,
    path_prefix: str = "",
    registry_file: str | None = None,
) -> str:
    """Returns one SARIF log with one run: every catalogue rule, and one result per finding.

    Artifact URIs are relative (``path_prefix`` makes them relative to the repository root, as
    GitHub requires). Findings without a location use ``registry_file`` at line 1; without it
    they have no location, which GitHub code scanning rejects, so pass it for database
    registries.
    """
    index = {r.code: i for i, r in enumerate(RULES)}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "conformance",
                        "version": VERSION,
                        "semanticVersion": VERSION,
                        "informationUri": RULES_URL,
                        "rules": [_rule(r) for r in RULES],
                    }
                },
                "results": [_result(f, index, path_prefix, registry_file) for f in findings],
                "invocations": [{"executionSuccessful": True}],
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _rule(r: Rule) -> dict[str, Any]:
    return {
        "id": r.code,
        "name": r.name,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.doc},
        "helpUri": help_uri(r),
        "help": {"text": explain(r.code), "markdown": _help_markdown(r)},
        "defaultConfiguration": {"level": r.severity},
        "properties": {"tags": ["conformance", r.scope]},
    }


def _help_markdown(r: Rule) -> str:
    return (
        f"**{r.code} {r.name}**: {r.summary}\n\n{r.what}\n\n{r.why}\n\n"
        f"```\n{r.example}\n```\n\n**Fix:** {r.fix}\n\n[Documentation]({help_uri(r)})"
    )


def _result(
    f: Finding, index: dict[str, int], prefix: str, registry_file: str | None
) -> dict[str, Any]:
    text = f.message
    if f.evidence:
        text += "\n\nEvidence:\n" + "\n".join(f"- {e}" for e in f.evidence)
    result: dict[str, Any] = {
        "ruleId": f.code,
        "level": "error" if f.severity == "error" else "warning",
        "message": {"text": text},
        "locations": [],
        "partialFingerprints": {"conformance/v1": _fingerprint(f)},
        "properties": {"function": f.function, "slug": f.slug, "evidence": list(f.evidence)},
    }
    if f.code in index:
        result["ruleIndex"] = index[f.code]
    file, line = finding_place(f, prefix, registry_file)
    if file is not None:
        result["locations"].append(
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(file)},
                    "region": {"startLine": max(1, line or 1)},
                }
            }
        )
    return result


def _fingerprint(f: Finding) -> str:
    """Returns a hash that survives lines moving: code, function, row and message."""
    key = "\0".join((f.code, f.function or "", f.slug or "", f.message))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _uri(file: str) -> str:
    from urllib.parse import quote  # loaded for this format only

    return quote(file, safe="/")
