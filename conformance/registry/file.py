"""The committed registry file (YAML; JSON accepted): load with line numbers, write atomically.

``load_registry_file`` reports each invalid entry as a problem and keeps the valid ones;
``write_registry_file`` rewrites the whole file deterministically; ``append_entries`` adds entries
as text at the end of the ``workflows:`` list so a human's comments and layout survive.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from conformance.config import DEFAULT_ENTITY_TYPES, load_schema
from conformance.errors import ConformanceError
from conformance.fileio import MAX_REGISTRY_BYTES, read_regular, write_atomic
from conformance.model import Registry, RegistryEntry
from conformance.registry.entries import (
    SCHEMA_FILE,
    RawEntry,
    entry_from_row,
    short_repr,
    validate_entries,
)

HEADER = (
    "# Workflow registry: one entry per workflow slug, mirrored into\n"
    "# reference.enrichment_workflow_registry. Table names are schema-qualified; `writes` lists\n"
    "# every table the function writes. Checked by `conformance check`.\n"
)


_C_LOADER = getattr(yaml, "CSafeLoader", None)


def _fast_load(doc: Document, text: str) -> bool:
    """Loads with libyaml when PyYAML has it (the same nodes and marks, about ten times faster);
    returns False, leaving the work to the Python loader and its exact errors, when libyaml is
    missing, fails, or the text nests deeply enough to overflow libyaml's C stack."""
    if _C_LOADER is None or _max_bracket_depth(text) > 64:
        return False
    loader = _C_LOADER(text)
    try:
        doc.root = loader.get_single_node()
        if doc.root is not None:
            _check_nodes(doc.path, doc.root)
        doc.data = loader.construct_document(doc.root) if doc.root is not None else None
    except (yaml.YAMLError, RecursionError, ValueError):
        doc.root = doc.data = None
        return False
    finally:
        loader.dispose()
    return True


# A registry of thousands of entries is a few hundred thousand YAML nodes; aliases can make a
# few hundred bytes expand to billions (every later step walks the expanded values).
MAX_EXPANDED_NODES = 2_000_000
# Python refuses to convert longer digit strings (sys.get_int_max_str_digits)
_MAX_DIGITS = 4000


def _check_nodes(path: Path, root: yaml.Node) -> None:
    """Raises ConformanceError when the document would expand past MAX_EXPANDED_NODES through
    aliases, holds a number too long to read, or repeats a top-level key (YAML would keep the
    last one silently). Counts each node once (``size`` is memoised), so it is linear."""
    if isinstance(root, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, _ in root.value:
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1
                if key.value in seen:
                    raise ConformanceError(
                        f"key {short_repr(key.value)} is given twice (first on line "
                        f"{seen[key.value]})",
                        f"{path}:{line}",
                    )
                seen[key.value] = line
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in size:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif (
            node.tag == "tag:yaml.org,2002:int"
            or node.tag == "tag:yaml.org,2002:float"
            and isinstance(node.value, str)
        ) and len(node.value) > _MAX_DIGITS:
            raise ConformanceError(
                f"a number of {len(node.value)} digits (at most {_MAX_DIGITS})",
                f"{path}:{node.start_mark.line + 1}",
            )
        if done or not children:
            total = 1 + sum(size.get(id(c), 0) for c in children)
            if total > MAX_EXPANDED_NODES:
                raise ConformanceError(
                    f"the registry file expands to more than {MAX_EXPANDED_NODES:,} values "
                    "(YAML aliases repeat a large value); write the values out",
                    f"{path}:{node.start_mark.line + 1}",
                )
            size[id(node)] = total
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {short_repr(key)} is given twice")
        out[key] = value
    return out


def _max_bracket_depth(text: str) -> int:
    if text.count("[") + text.count("{") <= 64:
        return 0
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class Document:
    """A parsed registry file: the data, and the node tree that knows where things are."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.root: yaml.Node | None = None
        self.data: Any = None
        if _fast_load(self, text):
            return
        loader: yaml.SafeLoader | None = None
        try:
            loader = yaml.SafeLoader(text)  # its reader refuses NUL and other control bytes
            self.root = loader.get_single_node()
            if self.root is not None:
                _check_nodes(path, self.root)
            self.data = loader.construct_document(self.root) if self.root is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            self._fallback_json(f"invalid YAML: {exc.problem or exc.context}", line)
        except yaml.YAMLError as exc:
            position = getattr(exc, "position", 0) or 0
            line = text.count("\n", 0, position) + 1
            self._fallback_json(f"invalid YAML: {_first_line(str(exc))}", line)
        except RecursionError:  # PyYAML composes and constructs recursively
            raise ConformanceError("registry file is nested too deeply", f"{path}:1") from None
        finally:
            if loader is not None:
                loader.dispose()

    def _fallback_json(self, message: str, line: int) -> None:
        if self.path.suffix.lower() != ".json":
            raise ConformanceError(message, f"{self.path}:{line}") from None
        try:
            self.data = json.loads(self.text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            where = f"{self.path}:{exc.lineno}"
            raise ConformanceError(f"invalid JSON: {exc.msg}", where) from None
        except ValueError as exc:  # a number beyond Python's digit limit, a repeated key
            raise ConformanceError(f"invalid JSON: {exc}", f"{self.path}:1") from None

    def workflows_node(self) -> yaml.Node | None:
        if isinstance(self.root, yaml.MappingNode):
            for key, value in self.root.value:
                if isinstance(key, yaml.ScalarNode) and key.value == "workflows":
                    return value  # type: ignore[no-any-return]
        return None

    def key_line(self, name: str) -> int:
        if isinstance(self.root, yaml.MappingNode):
            for key, _ in self.root.value:
                if isinstance(key, yaml.ScalarNode) and key.value == name:
                    return int(key.start_mark.line) + 1
        return 1

    def raw_entries(self) -> list[RawEntry]:
        items = self.data.get("workflows") or []
        node = self.workflows_node()
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [None] * len(items)
        return [_raw_entry(item, item_node) for item, item_node in zip(items, nodes, strict=True)]

    def check_shape(self) -> None:
        """Raises ConformanceError when the document is not a registry file at all."""
        from jsonschema import Draft202012Validator as Validator

        if not isinstance(self.data, dict):
            raise ConformanceError(
                "a registry file is a mapping with `version: 1` and a `workflows:` list",
                f"{self.path}:1",
            )
        shallow = dict(self.data)
        if isinstance(shallow.get("workflows"), list) or shallow.get("workflows", ()) is None:
            shallow["workflows"] = []
        validator = Validator(load_schema(SCHEMA_FILE))
        for err in sorted(validator.iter_errors(shallow), key=lambda e: list(map(str, e.path))):
            key = str(err.path[0]) if err.path else None
            if err.validator == "additionalProperties":
                key = next(str(k) for k in shallow if k not in ("version", "workflows"))
            where = f"{self.path}:{self.key_line(key) if key else 1}"
            raise ConformanceError(f"not a registry file: {_first_line(err.message)}", where)


def _raw_entry(item: Any, node: yaml.Node | None) -> RawEntry:
    if not isinstance(node, yaml.MappingNode):
        line = node.start_mark.line + 1 if node is not None else None
        return RawEntry(item, line)
    lines: dict[str, int] = {}
    duplicates: list[tuple[str, int]] = []
    for key, _ in node.value:
        name, line = str(key.value), key.start_mark.line + 1
        if name in lines:
            duplicates.append((name, line))
        lines.setdefault(name, line)
    return RawEntry(item, node.start_mark.line + 1, lines, tuple(duplicates))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def read_text(path: Path) -> str:
    try:
        data = read_regular(path, MAX_REGISTRY_BYTES)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConformanceError(f"cannot read registry file: {reason}", f"{path}:1") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConformanceError("registry file is not UTF-8 text", f"{path}:{line}") from None


def parse_text(
    path: Path, text: str, entity_types: Iterable[str] | None
) -> tuple[Document, Registry]:
    doc = Document(path, text)
    if doc.data is None:
        return doc, Registry((), str(path))
    doc.check_shape()
    entries, problems = validate_entries(doc.raw_entries(), entity_types)
    return doc, Registry(entries, str(path), problems)


def load_registry_file(
    path: str | os.PathLike[str], entity_types: Iterable[str] | None = DEFAULT_ENTITY_TYPES
) -> Registry:
    """Returns the registry in the file at ``path``: valid entries kept, invalid ones as problems.

    Every problem names the entry's slug, the field and its line. An empty file is an empty
    registry. Raises ConformanceError (with ``file:line``) for an unreadable file, invalid YAML or
    JSON, or a document that is not a registry file.
    """
    file = Path(path)
    return parse_text(file, read_text(file), entity_types)[1]


# -- writing --------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Writes a string holding control or line-break characters double-quoted with escapes.

    PyYAML would otherwise write NEL, U+2028 and friends raw, and read them back changed.
    """


_NEEDS_ESCAPES = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if _NEEDS_ESCAPES.search(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def entries_yaml(
    entries: Iterable[RegistryEntry],
    indent: int = 2,
    comments: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Returns the entries as YAML list items, every column in a stable order, at ``indent``;
    ``comments`` (by slug, then column) are written at the end of a column's line."""
    out: list[str] = []
    for entry in entries:
        text = yaml.dump(
            [entry.to_dict()],
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            width=2**31,
            default_flow_style=False,
        )
        # split on "\n" only: YAML keeps other line breaks (U+2028, ...) inside scalars
        lines = text.split("\n")[:-1]
        for column, comment in (comments or {}).get(entry.workflow_slug, {}).items():
            for i, line in enumerate(lines):
                if line.lstrip("- ").startswith(f"{column}: "):
                    lines[i] = f"{line}  # {' '.join(comment.split())}"
                    break
        out.extend(" " * indent + line if line else line for line in lines)
    return "".join(line + "\n" for line in out)


def registry_yaml(entries: Iterable[RegistryEntry]) -> str:
    """Returns the full text of a registry file holding ``entries``, sorted by slug."""
    ordered = sorted(entries, key=lambda e: e.workflow_slug)
    body = entries_yaml(ordered) if ordered else ""
    return HEADER + "version: 1\n" + ("workflows:\n" + body if body else "workflows: []\n")


def write_registry_file(
    path: str | os.PathLike[str], registry: Registry | Sequence[RegistryEntry]
) -> None:
    """Replaces the file at ``path`` with the registry's entries (sorted by slug), atomically.

    Raises ConformanceError, leaving the old file intact, when an entry would not load back
    (its values break the schema) or the file cannot be written.
    """
    entries = registry.entries if isinstance(registry, Registry) else tuple(registry)
    text = registry_yaml(entries)
    _verify(Path(path), text, entries)
    atomic_write_text(path, text)


def append_entries(
    path: str | os.PathLike[str],
    entries: Sequence[RegistryEntry],
    entity_types: Iterable[str] | None = DEFAULT_ENTITY_TYPES,
) -> None:
    """Adds ``entries`` at the end of the file's ``workflows:`` list as text, atomically.

    Existing text (comments, order, layout) is kept byte for byte; a missing file is created.
    Raises ConformanceError, writing nothing, when the existing file is unreadable or has
    problems, when a new slug is already there, or when the result would not load back cleanly.
    """
    file = Path(path)
    if not entries:
        return
    if not file.exists():
        write_registry_file(file, entries)
        return
    text = read_text(file)
    doc, current = parse_text(file, text, entity_types)
    if current.problems:
        first = current.problems[0]
        raise ConformanceError(
            f"the registry file has {len(current.problems)} problem(s); fix them before adding "
            f"entries (first: {first.message})",
            f"{file}:{first.line or 1}",
        )
    taken = {e.workflow_slug for e in current.entries}
    clash = sorted(e.workflow_slug for e in entries if e.workflow_slug in taken)
    if clash:
        raise ConformanceError(f"already in the registry file: {', '.join(clash)}", f"{file}:1")
    new_text = insert_entries(doc, entries)
    _verify(file, new_text, (*current.entries, *entries), entity_types)
    atomic_write_text(file, new_text)


def load_back(path: Path, text: str, entity_types: Iterable[str] | None) -> Registry:
    """The registry ``text`` holds, about to be written to ``path``; raises ConformanceError
    (refusing the write) when it would not load."""
    try:
        return parse_text(path, text, entity_types)[1]
    except ConformanceError as exc:
        raise ConformanceError(
            f"refusing to write: the result would not load ({exc.message})", f"{path}:1"
        ) from None


def _verify(
    path: Path,
    text: str,
    expected: Iterable[RegistryEntry],
    entity_types: Iterable[str] | None = None,
) -> None:
    """Raises ConformanceError unless ``text`` loads back, without problems, as ``expected``."""
    loaded = load_back(path, text, entity_types)
    if loaded.problems:
        first = loaded.problems[0]
        where = f" for {first.slug}" if first.slug else ""
        raise ConformanceError(f"refusing to write{where}: {first.message}", f"{path}:1")
    wanted = {e.workflow_slug: entry_from_row(e.to_dict()) for e in expected}
    if {e.workflow_slug: e for e in loaded.entries} != wanted:
        raise ConformanceError(
            "refusing to write: the result would not read back as written", f"{path}:1"
        )


def insert_entries(
    doc: Document,
    entries: Sequence[RegistryEntry],
    comments: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Returns the document's text with ``entries`` added at the end of its ``workflows``
    list (``comments``: end-of-line comments by slug and column)."""
    text, newline = doc.text, "\r\n" if "\r\n" in doc.text else "\n"
    node = doc.workflows_node()
    if node is None:  # comments only, or no `workflows` key
        prefix = "" if not text or text.endswith("\n") else newline
        head = "" if doc.root is not None else "version: 1" + newline
        block = head + "workflows:" + newline + entries_yaml(entries, comments=comments)
        return text + prefix + block.replace("\n", newline)
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        column = node.start_mark.column  # where the existing items' `-` stands
        at = _after_item(text, node.value[-1], column)
        block = entries_yaml(entries, column, comments)
        prefix = "" if at == 0 or text[at - 1] == "\n" else newline
        return text[:at] + prefix + block.replace("\n", newline) + text[at:]
    if isinstance(node, yaml.SequenceNode) and node.value:
        raise ConformanceError(
            "cannot append to a flow-style `workflows: [...]` list; write it as a block list",
            f"{doc.path}:{node.start_mark.line + 1}",
        )
    # `workflows: []` or an empty `workflows:`: drop the empty value, put the items below the key
    start, end = node.start_mark.index, node.end_mark.index
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end + 1
    key_line = text[:start].rstrip(" \t") + text[end:line_end]
    if not key_line.endswith("\n"):
        key_line += newline
    block = entries_yaml(entries, comments=comments).replace("\n", newline)
    return key_line + block + text[line_end:]


def _after_item(text: str, item: yaml.Node, column: int) -> int:
    """Returns the index just after the last line of ``item`` and its own trailing comments."""
    end = _last_mark(item)
    at = end.index if end.column == 0 else _line_end(text, end.index)
    while at < len(text):
        line = text[at : _line_end(text, at)]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" \t"))
        if stripped and not (stripped.startswith("#") and indent > column):
            break
        if not stripped and _next_content_is_outside(text, at, column):
            break
        at = _line_end(text, at)
    return at


def _next_content_is_outside(text: str, at: int, column: int) -> bool:
    while at < len(text):
        line = text[at : _line_end(text, at)]
        if line.strip():
            return len(line) - len(line.lstrip(" \t")) <= column or not line.strip().startswith("#")
        at = _line_end(text, at)
    return True


def _line_end(text: str, index: int) -> int:
    found = text.find("\n", index)
    return len(text) if found < 0 else found + 1


def _last_mark(node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _last_mark(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _last_mark(node.value[-1])
    return node.end_mark


def comments(text: str) -> list[tuple[int, str]]:
    """Returns the comments of YAML ``text`` as (line, text without ``#``), in order: each
    ``#`` that no token (a scalar, a quoted string) holds and that starts a line or follows
    blank space. Text that does not scan gives what was found before the error."""
    spans: list[tuple[int, int]] = []
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index < token.end_mark.index:
                spans.append((token.start_mark.index, token.end_mark.index))
    except yaml.YAMLError:
        pass
    found = []
    starts = [start for start, _ in spans]
    for match in re.finditer("#", text):
        at = match.start()
        if at and text[at - 1] not in " \t\n":
            continue
        i = bisect.bisect_right(starts, at) - 1
        if i >= 0 and spans[i][0] <= at < spans[i][1]:
            continue
        end = text.find("\n", at)
        line = text.count("\n", 0, at) + 1
        found.append((line, text[at + 1 : end if end >= 0 else len(text)].strip()))
    return found


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replaces ``path`` with ``text`` atomically (see :func:`conformance.fileio.write_atomic`).

    A symlink is followed, so its target is replaced. Raises ConformanceError on failure, and
    the old file is left exactly as it was.
    """
    target = Path(os.path.realpath(path))
    try:
        write_atomic(target, text)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConformanceError(f"cannot write registry file: {reason}", f"{target}:1") from None
