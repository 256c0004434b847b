"""``conformance check`` as text for people and as JSON for tools."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from conformance.model import Analysis, Finding, Location
from conformance.report.common import (
    VERSION,
    count_findings,
    dump_json,
    finding_dict,
    paint,
    place_text,
    printable,
    rule_name,
    summary_line,
)

SEVERITY_STYLE = {"error": ("bold", "red"), "warning": ("bold", "yellow")}


def render_check_text(
    analysis: Analysis,
    findings: Sequence[Finding],
    *,
    path_prefix: str = "",
    registry_file: str | None = None,
    columns: Mapping[Location, int] | None = None,
    color: bool = False,
    quiet: bool = False,
) -> str:
    """Returns each finding (``file:line[:col]: severity CODE [name] message``, its evidence
    indented below), then one summary line with the counts. ``quiet``: the headlines only;
    ``color``: ANSI colours (the caller decides: a terminal, NO_COLOR, --color)."""
    blocks = [
        finding_text(f, path_prefix, registry_file, columns=columns, color=color, brief=quiet)
        for f in findings
    ]
    if not quiet:
        blocks.append(summary_line(count_findings(analysis, findings)))
    return "\n".join(blocks) + "\n" if blocks else ""


def finding_text(
    f: Finding,
    path_prefix: str = "",
    registry_file: str | None = None,
    *,
    columns: Mapping[Location, int] | None = None,
    color: bool = False,
    brief: bool = False,
) -> str:
    """Returns one finding as text: a headline and (unless ``brief``) its evidence, one item
    per indented line."""
    name = rule_name(f.code, "unknown")
    place = printable(place_text(f, path_prefix, registry_file, columns))
    head = (
        f"{paint(place, 'bold', color=color)}: "
        f"{paint(f.severity, *SEVERITY_STYLE.get(f.severity, ()), color=color)} "
        f"{paint(f.code, 'bold', color=color)} {paint(f'[{name}]', 'dim', color=color)} "
        f"{printable(f.message)}"
    )
    if brief:
        return head
    return "\n".join([head, *(f"    {printable(line)}" for line in f.evidence)])


def render_statistics(
    analysis: Analysis, findings: Sequence[Finding], *, color: bool = False, quiet: bool = False
) -> str:
    """Returns one line per code, most frequent first (count, code, severity, name), then the
    summary line unless ``quiet`` (as ruff's and flake8's ``--statistics``)."""
    counts = Counter((f.code, f.severity) for f in findings)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    width = max((len(str(n)) for n in counts.values()), default=1)
    lines = []
    for (code, severity), count in rows:
        name = rule_name(code, "unknown")
        level = paint(f"{severity:<7}", *SEVERITY_STYLE.get(severity, ()), color=color)
        lines.append(f"{count:>{width}}  {paint(code, 'bold', color=color)}  {level}  {name}")
    if not quiet:
        lines.append(summary_line(count_findings(analysis, findings)))
    return "\n".join(lines) + "\n" if lines else ""


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
        "summary": count_findings(analysis, findings),
    }
    # the findings' files are placed already (registry findings are not under the prefix)
    return dump_json(data, path_prefix=path_prefix, as_is=("findings", "summary"))
