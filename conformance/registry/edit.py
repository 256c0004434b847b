"""Edits a registry file in place: the entries a fix changes are rendered anew, every other
line stays byte for byte what it was.

The file is loaded round-trip by ruamel.yaml (comments, key order and quoting kept); the changed
entries are updated as mappings and the document is rendered with the file's own indentation.
The result is spliced: the lines of each entry the fix did not touch are taken from the original
text, only the changed entries' lines (with the comments ruamel keeps attached to them) come from
the rendering, so a person's layout elsewhere is never rewritten. New entries are appended as
text (:func:`conformance.registry.file.insert_entries`). Suggested values carry an end-of-line
comment saying they are suggestions and where the evidence is.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from conformance.errors import ConformanceError
from conformance.model import Registry
from conformance.registry.fix import EntryFix

SUGGESTED = "suggested from"


def _yaml(indent: int, offset: int) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=indent, offset=offset)
    yaml.representer.add_representer(type(None), _represent_none)
    return yaml


def _represent_none(representer: Any, data: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def updated_text(
    path: Path, fixes: Sequence[EntryFix], entity_types: Iterable[str] | None
) -> tuple[str, str]:
    """Returns the registry file's text before and after ``fixes``; writes nothing.

    Changed entries are rendered by ruamel.yaml and spliced in (every other line kept as it
    was); new entries are appended as text at the end of ``workflows`` with their suggestion
    comments. Raises ConformanceError when the file cannot be read, when a new slug is taken,
    or when the result would not load back as the fixes say (nothing else may change).
    """
    from conformance.registry.file import (
        HEADER,
        insert_entries,
        parse_text,
        read_text,
    )

    before = read_text(path) if path.exists() else ""
    text = before if before.strip() else HEADER + "version: 1\nworkflows: []\n"
    _, current = parse_text(path, text, entity_types)
    by_slug = {e.workflow_slug: e for e in current.entries}
    changed = [f for f in fixes if not f.is_new]
    new = [f for f in fixes if f.is_new]
    clash = sorted(f.slug for f in new if f.slug in by_slug)
    if clash:
        raise ConformanceError(f"already in the registry file: {', '.join(clash)}", f"{path}:1")
    lines = {slug: entry.line for slug, entry in by_slug.items() if entry.line is not None}
    text = edit_entries(text, changed, lines)
    if new:
        doc, _ = parse_text(path, text, entity_types)
        comments = {
            f.slug: {s.column: f"{SUGGESTED} {s.evidence}" for s in f.suggested} for f in new
        }
        text = insert_entries(doc, [f.entry() for f in new], comments)
    _verify(path, text, current, fixes, entity_types)
    return before, text


def _verify(
    path: Path,
    text: str,
    current: Registry,
    fixes: Sequence[EntryFix],
    entity_types: Iterable[str] | None,
) -> None:
    """Raises ConformanceError unless ``text`` loads as ``current`` with exactly ``fixes``
    applied (and no problem it did not have)."""
    from conformance.registry.file import load_back

    loaded = load_back(path, text, entity_types)
    expected = {e.workflow_slug: e for e in current.entries}
    for fix in fixes:
        expected[fix.slug] = fix.entry(expected.get(fix.slug))
    got = {e.workflow_slug: e for e in loaded.entries}
    if got != expected or len(loaded.problems) > len(current.problems):
        wrong = sorted(s for s in {*got, *expected} if got.get(s) != expected.get(s))
        raise ConformanceError(
            "refusing to write: the result would not read back as the fix says"
            + (f" ({', '.join(wrong[:3])})" if wrong else ""),
            f"{path}:1",
        )


def edit_entries(text: str, fixes: Sequence[EntryFix], lines_by_slug: dict[str, int]) -> str:
    """Returns ``text`` with the existing entries the ``fixes`` change rendered anew (by
    ruamel.yaml, in the file's indentation) and every other line as it was.
    ``lines_by_slug`` gives each entry's first line as the registry loader read it."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.util import load_yaml_guess_indent

    if not fixes:
        return text
    try:
        _, indent, offset = load_yaml_guess_indent(text)
    except Exception:  # a file the loader read already; ruamel's guess is only a preference
        indent, offset = 4, 2
    yaml = _yaml(indent or 4, offset or 2)
    document = yaml.load(text)
    workflows = document.get("workflows") if isinstance(document, CommentedMap) else None
    if not isinstance(workflows, CommentedSeq):
        raise ConformanceError("cannot edit the registry file: `workflows` is not a list")
    item_lines = [workflows.lc.item(i)[0] + 1 for i in range(len(workflows))]
    changed: set[int] = set()
    for fix in fixes:
        line = lines_by_slug.get(fix.slug)
        if line not in item_lines:
            raise ConformanceError(f"cannot find the entry {fix.slug} to edit it")
        index = item_lines.index(line)
        _update(workflows[index], fix)
        changed.add(index)
    rendered = io.StringIO()
    yaml.dump(document, rendered)
    spliced = _splice(text, rendered.getvalue(), yaml, len(workflows), changed)
    if "\r\n" in text:
        spliced = spliced.replace("\r\n", "\n").replace("\n", "\r\n")
    return spliced


def _update(mapping: Any, fix: EntryFix) -> None:
    for column, value in fix.values:
        current = mapping.get(column)
        if isinstance(value, (list, tuple)) and _is_seq(current) and len(current):
            # the file's own order for what stays, then what is new
            wanted = set(value)
            kept = [item for item in current if item in wanted]
            _replace_items(current, kept + sorted(wanted - set(kept)))
        else:
            mapping[column] = _plain(value)
    for suggestion in fix.suggested:
        mapping[suggestion.column] = suggestion.value
        mapping.yaml_add_eol_comment(f"{SUGGESTED} {suggestion.evidence}", suggestion.column)


def _is_seq(value: Any) -> bool:
    from ruamel.yaml.comments import CommentedSeq

    return isinstance(value, CommentedSeq)


def _replace_items(seq: Any, items: list[Any]) -> None:
    """Replaces a list's items in place, keeping the comments ruamel attached to its last item
    (the blank lines and comments that follow it in the file)."""
    tail = seq.ca.items.pop(len(seq) - 1, None)
    seq.ca.items.clear()
    seq[:] = items
    if tail is not None and items:
        seq.ca.items[len(items) - 1] = tail
    if not items:
        seq.fa.set_flow_style()


def _plain(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    if isinstance(value, (list, tuple)):
        return CommentedSeq(value)
    return value


def _splice(original: str, rendered: str, yaml: Any, count: int, changed: set[int]) -> str:
    """The original text with the changed items' lines (and the new items) taken from the
    rendering."""
    old_lines = original.splitlines(keepends=True)
    new_lines = rendered.splitlines(keepends=True)
    old_spans = _item_spans(yaml, original, count)
    new_spans = _item_spans(yaml, rendered, count)
    out: list[str] = []
    position = 0
    for index in range(count):
        start, end = old_spans[index]
        if index in changed:
            out += old_lines[position:start]
            new_start, new_end = new_spans[index]
            out += new_lines[new_start:new_end]
            position = end
    out += old_lines[position:]
    return "".join(out)


def _item_spans(yaml: Any, text: str, count: int) -> list[tuple[int, int]]:
    """Each item of ``workflows``: from its first line (0-based) to the next item's first
    line; for the last of the file's own ``count`` items and for every later one, to the end of
    its own lines (comments after the file's last item stay the file's)."""
    document = yaml.load(text)
    workflows = document["workflows"]
    starts = [workflows.lc.item(i)[0] for i in range(len(workflows))]
    total = len(text.splitlines())
    spans = []
    for i, start in enumerate(starts):
        own = i + 1 < len(starts) and i + 1 < count
        spans.append((start, starts[i + 1] if own else _last_line(text, start, total)))
    return spans


def _last_line(text: str, start: int, total: int) -> int:
    """The line after the last item's own lines: the first following line that is neither
    indented past the item's dash nor blank-then-indented."""
    lines = text.splitlines()
    dash = len(lines[start]) - len(lines[start].lstrip(" "))
    end = start + 1
    while end < total:
        line = lines[end]
        if line.strip() and (len(line) - len(line.lstrip(" ")) <= dash):
            break
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # trailing blank lines stay with what follows
    return end
