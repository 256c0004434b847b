"""Renderers: records in, a string out. Nothing here prints, writes files or exits.

Paths in records are relative to the source root; ``path_prefix`` (the source root relative to
the output base, e.g. ``modal-functions/src``) rebases them, and ``registry_file`` (relative to
the output base) locates registry findings that carry no file (a registry read from a database).
:func:`render_check` picks a check format by name with one signature for all.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from conformance.model import Analysis, Finding, Location
from conformance.report.check import (
    finding_text,
    render_check_json,
    render_check_text,
    render_statistics,
)
from conformance.report.common import count_findings, summary_line
from conformance.report.scan import render_scan_json, render_scan_text

if TYPE_CHECKING:
    from conformance.report.github import (
        escape_data,
        escape_property,
        render_github,
        render_github_summary,
    )
    from conformance.report.junit import render_junit
    from conformance.report.sarif import render_sarif

# the formats a run seldom asks for load on first use (SARIF and JUnit pull in a few
# standard modules the text report does not need)
_LAZY = {
    "escape_data": "github",
    "escape_property": "github",
    "render_github": "github",
    "render_github_summary": "github",
    "render_junit": "junit",
    "render_sarif": "sarif",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


CHECK_FORMATS: tuple[str, ...] = ("text", "json", "sarif", "github", "junit")
SCAN_FORMATS: tuple[str, ...] = ("text", "json")


def render_check(
    fmt: str,
    analysis: Analysis,
    findings: Sequence[Finding],
    *,
    path_prefix: str = "",
    registry_file: str | None = None,
    columns: Mapping[Location, int] | None = None,
    color: bool = False,
    quiet: bool = False,
    automation_id: str = "conformance/",
    base_uri: str | None = None,
) -> str:
    """Returns the check report in ``fmt`` (one of CHECK_FORMATS); ValueError for others.

    ``github`` returns the annotations only; the step summary is :func:`render_github_summary`.
    ``columns`` (see :func:`conformance.api.columns`) adds columns to text, GitHub and SARIF
    locations; ``color`` and ``quiet`` shape the text format; ``automation_id`` is SARIF's
    ``automationDetails.id`` (what keeps runs apart on GitHub) and ``base_uri`` the ``file://``
    URI of the repository root its paths are relative to.
    """
    if fmt == "text":
        return render_check_text(
            analysis,
            findings,
            path_prefix=path_prefix,
            registry_file=registry_file,
            columns=columns,
            color=color,
            quiet=quiet,
        )
    if fmt == "json":
        return render_check_json(
            analysis, findings, path_prefix=path_prefix, registry_file=registry_file
        )
    if fmt == "sarif":
        from conformance.report.sarif import render_sarif

        return render_sarif(
            findings,
            path_prefix=path_prefix,
            registry_file=registry_file,
            columns=columns,
            automation_id=automation_id,
            base_uri=base_uri,
        )
    if fmt == "github":
        from conformance.report.github import render_github

        return render_github(
            findings, path_prefix=path_prefix, registry_file=registry_file, columns=columns
        )
    if fmt == "junit":
        from conformance.report.junit import render_junit

        return render_junit(
            analysis, findings, path_prefix=path_prefix, registry_file=registry_file
        )
    raise ValueError(f"unknown check format {fmt!r}; expected one of {', '.join(CHECK_FORMATS)}")


def render_scan(fmt: str, analysis: Analysis, *, path_prefix: str = "") -> str:
    """Returns the scan report in ``fmt`` (``text`` or ``json``); ValueError for others."""
    if fmt == "text":
        return render_scan_text(analysis, path_prefix=path_prefix)
    if fmt == "json":
        return render_scan_json(analysis, path_prefix=path_prefix)
    raise ValueError(f"unknown scan format {fmt!r}; expected one of {', '.join(SCAN_FORMATS)}")


__all__ = [
    "CHECK_FORMATS",
    "SCAN_FORMATS",
    "escape_data",
    "escape_property",
    "finding_text",
    "render_check",
    "render_check_json",
    "render_check_text",
    "render_github",
    "render_github_summary",
    "render_junit",
    "render_sarif",
    "render_scan",
    "render_statistics",
    "render_scan_json",
    "render_scan_text",
    "count_findings",
    "summary_line",
]
