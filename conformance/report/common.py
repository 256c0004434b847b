"""What every renderer shares: output paths, finding locations, counts."""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from conformance import __version__
from conformance.model import Analysis, Finding, Location
from conformance.rules import RULES_BY_CODE

VERSION = __version__
SEVERITY_ORDER = ("error", "warning")


# C0 and C1 control characters (escape sequences move a terminal's cursor, rewrite earlier
# output or set its title), DEL, and the bidirectional overrides that reorder what is shown
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def printable(text: str) -> str:
    """Returns ``text`` as one line a terminal shows as written: every control character
    (line breaks and escape sequences included) as a visible ``\\xNN``/``\\uNNNN`` escape.

    Values from the analysed code and the registry reach the text outputs; without this, a
    string literal holding ``\\x1b]0;...`` could rewrite what a reviewer sees.
    """
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class PathPrefix(str):
    """A ``path_prefix`` that climbs out of the working directory (``../../``) and knows the
    directories it climbs out of (``here``), so that a file under the working directory is
    shown as ``a.py`` rather than ``../ingest/a.py``. Made by :func:`path_prefix`."""

    here: tuple[str, ...] = ()


def path_prefix(rel: str, base_parts: Sequence[str]) -> str:
    """Returns the prefix for a source root at ``rel`` (POSIX, relative to the output base,
    e.g. ``../..`` or ``modal-functions/src``) from a base whose path components are
    ``base_parts``."""
    rel = rel.rstrip("/")
    if rel in ("", "."):
        return ""
    ups = 0
    for part in rel.split("/"):
        if part != "..":
            break
        ups += 1
    prefix = PathPrefix(rel + "/")
    prefix.here = tuple(base_parts[len(base_parts) - ups :]) if ups else ()
    return prefix


def out_path(file: str, path_prefix: str = "") -> str:
    """Returns a source-root-relative ``file`` as output shows it: under ``path_prefix``,
    normalised (so ``src/`` + ``../registry.yaml`` is ``registry.yaml``, and with a
    :class:`PathPrefix` ``../`` + ``ingest/a.py`` from ``ingest/`` is ``a.py``)."""
    if not path_prefix:
        return file
    joined = posixpath.normpath(posixpath.join(path_prefix, file))
    here = getattr(path_prefix, "here", ())
    ups = len(here)
    parts = joined.split("/")
    if ups and parts[:ups] == [".."] * ups:
        rest = parts[ups:]
        same = 0
        while same < min(ups, len(rest) - 1) and rest[same] == here[same]:
            same += 1
        joined = "/".join([".."] * (ups - same) + rest[same:])
    return joined


def finding_place(
    f: Finding, path_prefix: str = "", registry_file: str | None = None
) -> tuple[str | None, int | None]:
    """Returns the output file and line of a finding.

    A finding without a location (a registry read from a database) falls back to
    ``registry_file`` (already relative to the output base) with no line.
    """
    if f.location is not None:
        return out_path(f.location.file, path_prefix), f.location.line
    return registry_file, None


def place_text(
    f: Finding,
    path_prefix: str = "",
    registry_file: str | None = None,
    columns: Mapping[Location, int] | None = None,
) -> str:
    """Returns ``file:line`` (``file:line:col`` with ``columns``, the linters' convention; 1
    when a line's column is not known), ``file`` or ``(registry)``."""
    file, line = finding_place(f, path_prefix, registry_file)
    if file is None:
        return "(registry)"
    if not line:
        return file
    if columns is None:
        return f"{file}:{line}"
    return f"{file}:{line}:{column_of(f, columns)}"


def column_of(f: Finding, columns: Mapping[Location, int] | None) -> int:
    """Returns the finding's column from ``columns``, else 1."""
    if columns is None or f.location is None:
        return 1
    return columns.get(f.location, 1)


# SGR codes of the few styles the text output uses
_STYLES = {"bold": "1", "dim": "2", "red": "31", "yellow": "33", "cyan": "36"}


def paint(text: str, *styles: str, color: bool) -> str:
    """Returns ``text`` in the given styles (ANSI escapes) when ``color``, else as it is. Apply
    it to text that is already :func:`printable`: the escapes are the only ones in the output."""
    if not color or not styles or not text:
        return text
    codes = ";".join(_STYLES[s] for s in styles)
    return f"\x1b[{codes}m{text}\x1b[0m"


def rule_name(code: str, default: str | None = None) -> str | None:
    """Returns the name of the rule ``code`` names, ``default`` for a code no rule has."""
    rule = RULES_BY_CODE.get(code)
    return rule.name if rule is not None else default


def finding_dict(
    f: Finding, path_prefix: str = "", registry_file: str | None = None
) -> dict[str, Any]:
    """Returns ``Finding.to_dict()`` with the file as output shows it, plus the rule name."""
    out = f.to_dict()
    out["file"], out["line"] = finding_place(f, path_prefix, registry_file)
    out["name"] = rule_name(f.code)
    return out


def dump_json(
    value: Any, levels: int = 4, path_prefix: str = "", as_is: Collection[str] = ()
) -> str:
    """Returns ``value`` as JSON text, one member per line, indented by two, for the outer
    ``levels`` of containers; anything deeper (a write, a call path) stays on one line.

    ``json.dumps(indent=...)`` runs Python's pure-Python encoder over every value (a large part
    of a warm ``scan --format json``); each one-line part here goes through the C encoder.

    With ``path_prefix``, the string value of every ``"file"`` member is put under it
    (:func:`out_path`), except within the top-level members named in ``as_is`` (``levels``
    at least 1).
    """
    if not path_prefix:
        return _dump(value, levels, "") + "\n"
    placed: dict[str, str] = {}
    if not (as_is and levels and isinstance(value, dict) and value):
        return _rebase(_dump(value, levels, ""), path_prefix, placed) + "\n"
    items = []
    for k, v in value.items():
        item = f"  {_encode(str(k))}: {_dump(v, levels - 1, '  ')}"
        items.append(item if k in as_is else _rebase(item, path_prefix, placed))
    return "{\n" + ",\n".join(items) + "\n}\n"


_encode = json.JSONEncoder(ensure_ascii=False).encode


def _dump(value: Any, levels: int, pad: str) -> str:
    if levels == 0 or not value or not isinstance(value, (dict, list)):
        return _encode(value)
    inner = pad + "  "
    if isinstance(value, dict):
        items = [
            f"{inner}{_encode(str(k))}: {_dump(v, levels - 1, inner)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    items = [inner + _dump(v, levels - 1, inner) for v in value]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"


# A "file" member with a string value, as the encoder writes it: the text cannot occur inside
# a string, where every quote is escaped.
_FILE_MEMBER = re.compile(r'"file": ("[^"\\]*(?:\\.[^"\\]*)*")')


def _rebase(text: str, prefix: str, placed: dict[str, str]) -> str:
    """Puts the path of every ``"file"`` member of encoded JSON ``text`` under ``prefix``;
    ``placed`` remembers each encoded path's result."""

    def one(match: re.Match[str]) -> str:
        encoded = match.group(1)
        out = placed.get(encoded)
        if out is None:
            out = placed[encoded] = _encode(out_path(json.loads(encoded), prefix))
        return f'"file": {out}'

    return _FILE_MEMBER.sub(one, text)


def count_findings(analysis: Analysis, findings: Sequence[Finding]) -> dict[str, Any]:
    """Returns the counts every check report ends with.

    ``errors``/``warnings`` count findings by severity; ``analysis_errors`` counts files that
    could not be analysed; ``by_code`` maps each code present to its count.
    """
    by_severity = Counter(f.severity for f in findings)
    return {
        "functions": len(analysis.functions),
        "findings": len(findings),
        "errors": by_severity.get("error", 0),
        "warnings": by_severity.get("warning", 0),
        "analysis_errors": len(analysis.errors),
        "by_code": dict(sorted(Counter(f.code for f in findings).items())),
    }


def summary_line(summary: dict[str, Any]) -> str:
    """Returns e.g. ``14 functions checked: 2 errors, 1 warning (CONF001 1, CONF009 2)``."""
    n = summary["functions"]
    head = f"{n} function{'s' if n != 1 else ''} checked"
    if not summary["findings"]:
        return f"{head}: no findings"
    parts = [plural(summary["errors"], "error"), plural(summary["warnings"], "warning")]
    codes = ", ".join(f"{code} {count}" for code, count in summary["by_code"].items())
    return f"{head}: {', '.join(parts)} ({codes})"


def plural(n: int, word: str) -> str:
    """Returns ``1 error``, ``2 errors``."""
    return f"{n} {word}{'' if n == 1 else 's'}"
