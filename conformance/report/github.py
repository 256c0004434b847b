"""GitHub Actions: workflow-command annotations and a Markdown job summary."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from conformance.model import Analysis, Finding, Location
from conformance.report.common import (
    column_of,
    count_findings,
    finding_place,
    place_text,
    printable,
    summary_line,
)
from conformance.rules import RULES_BY_CODE
from conformance.rules.docs import help_uri, rules_url

MAX_SUMMARY_ROWS = 500


def escape_data(text: str) -> str:
    """Returns a workflow-command message with ``%``, CR and LF escaped (as actions/toolkit),
    and every other control character shown as an escape (the log is a terminal too)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return printable(text)


def escape_property(text: str) -> str:
    """Returns a workflow-command property value: data escapes plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(
    findings: Sequence[Finding],
    *,
    path_prefix: str = "",
    registry_file: str | None = None,
    columns: Mapping[Location, int] | None = None,
) -> str:
    """Returns one ``::error``/``::warning`` workflow command per finding, its evidence in the
    message (the counts go to :func:`render_github_summary`). Paths must be relative to the
    repository root for GitHub to place the annotations."""
    lines = []
    for f in findings:
        file, line = finding_place(f, path_prefix, registry_file)
        props = []
        if file is not None:
            props.append(f"file={escape_property(file)}")
            props.append(f"line={max(1, line or 1)}")
            if line and columns is not None:
                props.append(f"col={column_of(f, columns)}")
        rule = RULES_BY_CODE.get(f.code)
        props.append("title=" + escape_property(f"{f.code} {rule.name}" if rule else f.code))
        message = "\n".join([f.message, *f.evidence])
        command = "error" if f.severity == "error" else "warning"
        lines.append(f"::{command} {','.join(props)}::{escape_data(message)}")
    return "".join(f"{line}\n" for line in lines)


def render_github_summary(
    analysis: Analysis,
    findings: Sequence[Finding],
    *,
    path_prefix: str = "",
    registry_file: str | None = None,
) -> str:
    """Returns Markdown for ``$GITHUB_STEP_SUMMARY``: the counts per code, then one table row
    per finding (at most MAX_SUMMARY_ROWS)."""
    summary = count_findings(analysis, findings)
    out = [f"### conformance: {markdown_text(summary_line(summary))}", ""]
    if not findings:
        return "\n".join(out) + "\n"
    out += ["| Code | Rule | Severity | Count |", "|---|---|---|---|"]
    for code, count in summary["by_code"].items():
        rule = RULES_BY_CODE.get(code)
        # a relative link would resolve against the job's page: linked only when absolute
        name = "" if not rule else f"[{rule.name}]({help_uri(rule)})" if rules_url() else rule.name
        severity = next(f.severity for f in findings if f.code == code)
        out.append(f"| {code} | {name} | {severity} | {count} |")
    out += ["", "| Severity | Code | Location | Message |", "|---|---|---|---|"]
    for f in findings[:MAX_SUMMARY_ROWS]:
        where = markdown_text(place_text(f, path_prefix, registry_file))
        out.append(f"| {f.severity} | {f.code} | {where} | {markdown_text(f.message)} |")
    if len(findings) > MAX_SUMMARY_ROWS:
        out.append(f"\n…and {len(findings) - MAX_SUMMARY_ROWS} more findings.")
    return "\n".join(out) + "\n"


# Markdown punctuation: escaped, a registry value or a string from the code cannot become a
# link, an image (which the browser would fetch), HTML, emphasis or a heading in the summary
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&])")


def markdown_text(text: str) -> str:
    """Returns text that stays plain text inside one Markdown table cell."""
    flat = " ".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return _MARKDOWN.sub(r"\\\1", printable(flat))
