"""JUnit XML: one test case per ingest function, plus the registry and the project."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from conformance.model import Analysis, Finding
from conformance.report.check import finding_text
from conformance.report.common import count_findings, out_path, summary_line
from conformance.rules import group_findings

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_junit(
    analysis: Analysis,
    findings: Sequence[Finding],
    *,
    path_prefix: str = "",
    registry_file: str | None = None,
) -> str:
    """Returns a JUnit XML document.

    Valid against the common ``junit-10.xsd`` (Jenkins' xUnit plugin). A test case per
    function, its ``classname`` the function's module (``ingest.company``), then ``registry``
    (orphan, invalid and duplicate rows) and ``project`` (files that could not be analysed,
    secrets, unused suppressions), classname ``conformance``. A case fails when it has an
    error-severity finding; its warnings go to ``system-out``. Where each finding is, is in
    the failure text (the schema has no file or line attributes).
    """
    import xml.etree.ElementTree as ET  # loaded for this format only

    groups = group_findings(analysis, findings)
    functions = {fn.test_id: fn for fn in analysis.functions}
    suite = ET.Element("testsuite", name="conformance")
    failures = 0
    for key, items in groups.items():
        if key in functions:
            fn = functions[key]
            case = ET.SubElement(
                suite, "testcase", name=fn.name, classname=fn.module or out_path(fn.file)
            )
        else:
            case = ET.SubElement(suite, "testcase", name=key, classname="conformance")
        failures += _fill(case, items, path_prefix, registry_file)
    counts = {"tests": str(len(groups)), "failures": str(failures), "errors": "0"}
    for name, value in counts.items():
        suite.set(name, value)
    suite.set("skipped", "0")
    if registry_file:
        suite.set("file", registry_file)
    ET.SubElement(suite, "system-out").text = _safe(
        summary_line(count_findings(analysis, findings))
    )
    root = ET.Element("testsuites", {"name": "conformance", **counts})
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _fill(case: ET.Element, items: list[Finding], prefix: str, registry_file: str | None) -> int:
    """Adds the failure and output of one case; returns 1 when it fails."""
    import xml.etree.ElementTree as ET  # loaded for this format only

    errors = [f for f in items if f.severity == "error"]
    warnings = [f for f in items if f.severity != "error"]
    if errors:
        first = errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        failure = ET.SubElement(
            case,
            "failure",
            message=_safe(f"{first.code}: {first.message}{more}"),
            type=first.code,
        )
        failure.text = _safe("\n\n".join(finding_text(f, prefix, registry_file) for f in errors))
    if warnings:
        out = ET.SubElement(case, "system-out")
        out.text = _safe("\n\n".join(finding_text(f, prefix, registry_file) for f in warnings))
    return 1 if errors else 0


def _safe(text: str) -> str:
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", text)
