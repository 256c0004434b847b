"""SARIF 2.1.0, in the shape GitHub code scanning accepts.

Beyond the schema, GitHub wants: every result with a location (registry findings point at the
registry file's line, or at the registry file when the registry was read from a database),
artifact URIs relative to the repository root (``uriBaseId`` ``%SRCROOT%``), a line of at least
1, and an ``automationDetails.id`` that keeps runs of different kinds apart (an upload replaces
the previous one of the same category only).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from conformance.model import Finding, Location
from conformance.report.common import VERSION, column_of, finding_place
from conformance.rules import RULES, Rule
from conformance.rules.docs import RULES_DOC, explain, help_uri, rules_url

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
# where a finding is placed when it has no place at all (the settings name the registry)
FALLBACK_FILE = "pyproject.toml"


def render_sarif(
    findings: Sequence[Finding],
    *,
    path_prefix: str = "",
    registry_file: str | None = None,
    columns: Mapping[Location, int] | None = None,
    automation_id: str = "conformance/",
    base_uri: str | None = None,
) -> str:
    """Returns one SARIF log with one run: every catalogue rule, and one result per finding.

    Artifact URIs are relative to ``%SRCROOT%`` (``path_prefix`` makes them relative to the
    repository root, as GitHub requires; ``base_uri``, a ``file://`` URI ending in ``/``, says
    where that is). Findings without a location point at ``registry_file`` (relative to the
    same root) at line 1, else at ``pyproject.toml``: every result has a location.
    """
    index = {r.code: i for i, r in enumerate(RULES)}
    driver: dict[str, Any] = {
        "name": "conformance",
        "version": VERSION,
        "semanticVersion": VERSION,
        "rules": [_rule(r) for r in RULES],
    }
    if rules_url():
        driver["informationUri"] = rules_url()
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "automationDetails": {"id": automation_id},
        "columnKind": "unicodeCodePoints",
        "results": [
            _result(f, index, path_prefix, registry_file or FALLBACK_FILE, columns)
            for f in findings
        ],
        "invocations": [{"executionSuccessful": True}],
    }
    if base_uri:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": base_uri}}
    log = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _rule(r: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.code,
        "name": r.name,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.doc},
        "help": {"text": explain(r.code), "markdown": _help_markdown(r)},
        "defaultConfiguration": {"level": r.severity},
        "properties": {"tags": ["conformance", r.scope]},
    }
    if rules_url():  # helpUri must be absolute; without a repository URL the help says where
        out["helpUri"] = help_uri(r)
    return out


def _help_markdown(r: Rule) -> str:
    more = (
        f"[Documentation]({help_uri(r)})"
        if rules_url()
        else f"Documentation: `{RULES_DOC}#{r.anchor}` in the conformance repository, or "
        f"`conformance explain {r.code}`."
    )
    return (
        f"**{r.code} {r.name}**: {r.summary}\n\n{r.what}\n\n{r.why}\n\n"
        f"```\n{r.example}\n```\n\n**Fix:** {r.fix}\n\n{more}"
    )


def _result(
    f: Finding,
    index: dict[str, int],
    prefix: str,
    fallback: str,
    columns: Mapping[Location, int] | None,
) -> dict[str, Any]:
    text = f.message
    if f.evidence:
        text += "\n\nEvidence:\n" + "\n".join(f"- {e}" for e in f.evidence)
    file, line = finding_place(f, prefix, fallback)
    region: dict[str, int] = {"startLine": max(1, line or 1)}
    if line and columns is not None:
        region["startColumn"] = column_of(f, columns)
    result: dict[str, Any] = {
        "ruleId": f.code,
        "level": "error" if f.severity == "error" else "warning",
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(file or fallback), "uriBaseId": SRCROOT},
                    "region": region,
                }
            }
        ],
        "partialFingerprints": {"conformance/v1": _fingerprint(f)},
        "properties": {"function": f.function, "slug": f.slug, "evidence": list(f.evidence)},
    }
    if f.code in index:
        result["ruleIndex"] = index[f.code]
    return result


def _fingerprint(f: Finding) -> str:
    """Returns a hash that survives lines moving: code, function, row and message."""
    key = "\0".join((f.code, f.function or "", f.slug or "", f.message))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _uri(file: str) -> str:
    from urllib.parse import quote  # loaded for this format only

    return quote(file, safe="/")
