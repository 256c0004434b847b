"""``conformance check`` as text for people and as JSON for tools."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.model import Analysis, Finding
from conformance.report.common import (
    VERSION,
    dump_json,
    finding_dict,
    place_text,
    printable,
    summarize,
    summary_line,
)
from conformance.rules import RULES_BY_CODE


def render_check_text(
    analysis: Analysis,
    findings: Sequence[Finding],
    *,
    path_prefix: str = "",
    registry_file: str | None = None,
) -> str:
    """Returns each finding (``file:line: severity CODE [name] message``, its evidence indented
    below), then one summary line with the counts."""
    blocks = [finding_text(f, path_prefix, registry_file) for f in findings]
    blocks.append(summary_line(summarize(analysis, findings)))
    return "\n".join(blocks) + "\n"


def finding_text(f: Finding, path_prefix: str = "", registry_file: str | None = None) -> str:
    """Returns one finding as text: a headline and its evidence, one item per indented line."""
    name = RULES_BY_CODE[f.code].name if f.code in RULES_BY_CODE else "unknown"
    head = (
        f"{place_text(f, path_prefix, registry_file)}: {f.severity} {f.code} [{name}] {f.message}"
    )
    return "\n".join([printable(head), *(f"    {printable(line)}" for line in f.evidence)])


def render_check_json(
    analysis: Analysis,
    findings: Sequence[Finding],
    *,
    path_prefix: str = "",
    registry_file: str | None = None,
) -> str:
    """Returns ``{"version", "functions", "errors", "findings", "summary"}`` as JSON, valid
    against schemas/report.schema.json."""
    data = {
        "version": VERSION,
        **analysis.to_dict(),
        "findings": [finding_dict(f, path_prefix, registry_file) for f in findings],
        "summary": summarize(analysis, findings),
    }
    # the findings' files are placed already (registry findings are not under the prefix)
    return dump_json(data, path_prefix=path_prefix, as_is=("findings", "summary"))
