"""The lineage view of ``conformance scan``: who writes which table (``--by-table``), and the
flow function → raw → extracted → core as a Mermaid or Graphviz (DOT) graph.

A function's edges follow the layers it writes, in order: the function points at the tables of
the first layer it writes, and each layer's tables at the next written layer's (what a
warehouse team reads as "this workflow lands raw, extracts, then coalesces into core"). Writes
to other schemas hang off the function with a dashed edge. The whole warehouse is the union of
every function's edges; ``select`` narrows it to some functions (one workflow).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from conformance.model import LAYER_GROUPS, LAYERS, Analysis, IngestFunction, TableWrite, layer_of
from conformance.report.common import VERSION, out_path, plural, printable


def select_functions(analysis: Analysis, names: Sequence[str]) -> list[IngestFunction]:
    """Returns the functions named (Python name, deployed name or ``file::name``), every one
    when ``names`` is empty; raises ValueError naming one that is no ingest function."""
    if not names:
        return list(analysis.functions)
    chosen: list[IngestFunction] = []
    for name in names:
        found = [f for f in analysis.functions if name in (f.name, f.modal_name, f.test_id)]
        if not found:
            raise ValueError(f"no ingest function named {name!r} (see `conformance scan`)")
        chosen += [f for f in found if f not in chosen]
    return chosen


def _table_order(table: str) -> tuple[int, str]:
    return LAYER_GROUPS.index(layer_of(table.split(".", 1)[0])), table


def by_table(
    functions: Iterable[IngestFunction],
) -> dict[str, list[tuple[IngestFunction, TableWrite]]]:
    """Returns each written table (raw, extracted, core, then others, by name) with the
    writes to it: (function, write), by function name and line."""
    out: dict[str, list[tuple[IngestFunction, TableWrite]]] = {}
    for fn in functions:
        for write in fn.writes:
            out.setdefault(write.qualified_name, []).append((fn, write))
    return {
        table: sorted(set(out[table]), key=lambda p: (p[0].name, p[1].location, p[1].operation))
        for table in sorted(out, key=_table_order)
    }


def render_by_table_text(functions: Sequence[IngestFunction], *, path_prefix: str = "") -> str:
    """Returns one block per table: the table, then one line per write (operation, function,
    where), answering "who writes core.companies?"."""
    blocks = []
    for table, writes in by_table(functions).items():
        rows = [
            (w.operation, fn.name, f"{out_path(w.location.file, path_prefix)}:{w.location.line}")
            for fn, w in writes
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        lines = [table] + [
            f"  {op.ljust(widths[0])}  {name.ljust(widths[1])}  {where}" for op, name, where in rows
        ]
        blocks.append("\n".join(printable(line) for line in lines))
    blocks.append(f"{plural(len(blocks), 'table')} written by {plural(len(functions), 'function')}")
    return "\n\n".join(blocks) + "\n"


def render_by_table_json(functions: Sequence[IngestFunction], *, path_prefix: str = "") -> str:
    """Returns ``{"version", "tables": [{"table", "layer", "writes": [...]}]}`` as JSON."""
    tables: list[dict[str, Any]] = []
    for table, writes in by_table(functions).items():
        tables.append(
            {
                "table": table,
                "layer": layer_of(table.split(".", 1)[0]),
                "writes": [
                    {
                        "function": fn.name,
                        "module": fn.module,
                        "modal_name": fn.modal_name,
                        "operation": w.operation,
                        "file": out_path(w.location.file, path_prefix),
                        "line": w.location.line,
                        "via": w.via,
                    }
                    for fn, w in writes
                ],
            }
        )
    return json.dumps({"version": VERSION, "tables": tables}, indent=2, ensure_ascii=False) + "\n"


def edges(
    functions: Iterable[IngestFunction],
) -> tuple[list[str], dict[str, list[str]], list[tuple[str, str, bool]]]:
    """Returns the functions' names, the tables by group (raw, extracted, core, other), and
    the edges ``(source, target, dashed)``: functions and tables by name, deduplicated, in a
    stable order."""
    names: list[str] = []
    groups: dict[str, set[str]] = {g: set() for g in LAYER_GROUPS}
    found: dict[tuple[str, str, bool], None] = {}
    for fn in sorted(functions, key=lambda f: (f.name, f.file)):
        if fn.name not in names:
            names.append(fn.name)
        layered = [sorted(fn.written_tables(layer)) for layer in LAYERS]
        layered = [tables for tables in layered if tables]
        for group in LAYER_GROUPS:
            groups[group] |= fn.written_tables(group)
        previous = [fn.name]
        for tables in layered:
            for source in previous:
                for target in tables:
                    found[(source, target, False)] = None
            previous = tables
        for target in sorted(fn.written_tables("other")):
            found[(fn.name, target, True)] = None
    ordered = {g: sorted(groups[g]) for g in LAYER_GROUPS if groups[g]}
    return names, ordered, list(found)


def render_mermaid(functions: Sequence[IngestFunction]) -> str:
    """Returns a Mermaid ``flowchart LR``: a subgraph of functions and one per layer."""
    names, groups, links = edges(functions)
    ids: dict[tuple[str, str], str] = {}
    lines = ["flowchart LR"]
    lines.append("  subgraph functions")
    for i, name in enumerate(names):
        ids[("f", name)] = f"f{i}"
        lines.append(f'    f{i}["{_mermaid(name)}"]')
    lines.append("  end")
    n = 0
    for group, tables in groups.items():
        lines.append(f"  subgraph {group}")
        for table in tables:
            ids[("t", table)] = f"t{n}"
            lines.append(f'    t{n}[("{_mermaid(table)}")]')
            n += 1
        lines.append("  end")
    for source, target, dashed in links:
        a = ids.get(("f", source)) or ids[("t", source)]
        b = ids[("t", target)]
        lines.append(f"  {a} {'-.->' if dashed else '-->'} {b}")
    return "\n".join(lines) + "\n"


def render_dot(functions: Sequence[IngestFunction]) -> str:
    """Returns a Graphviz ``digraph``: a cluster of functions and one per layer."""
    names, groups, links = edges(functions)
    lines = ["digraph conformance {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    lines.append('  subgraph cluster_functions { label="functions";')
    lines += [f"    {_dot('f:' + name)} [label={_dot(name)}, shape=box];" for name in names]
    lines.append("  }")
    for group, tables in groups.items():
        lines.append(f'  subgraph cluster_{group} {{ label="{group}";')
        lines += [
            f"    {_dot('t:' + table)} [label={_dot(table)}, shape=cylinder];" for table in tables
        ]
        lines.append("  }")
    function_names = set(names)
    for source, target, dashed in links:
        a = _dot(("f:" if source in function_names else "t:") + source)
        style = " [style=dashed]" if dashed else ""
        lines.append(f"  {a} -> {_dot('t:' + target)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid(text: str) -> str:
    """A label inside ``["..."]``: quotes and angle brackets as Mermaid entities."""
    return (
        printable(text)
        .replace("#", "#35;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
    )


def _dot(text: str) -> str:
    """A quoted DOT identifier."""
    return '"' + printable(text).replace("\\", "\\\\").replace('"', '\\"') + '"'
