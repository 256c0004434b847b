"""``conformance scan``: what the analyzer found, as text or as JSON."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from conformance.model import LAYER_GROUPS, Analysis, IngestFunction, Location
from conformance.report.common import VERSION, dump_json, out_path, plural, printable


def render_scan_text(analysis: Analysis, *, path_prefix: str = "") -> str:
    """Returns one block per function (writes grouped by layer, then unresolved writes, RPC
    calls and invocations), then the files that could not be analysed, then a count line."""
    blocks = [
        "\n".join(printable(line) for line in _function_block(fn, path_prefix))
        for fn in analysis.functions
    ]
    if analysis.errors:
        lines = ["errors"]
        lines += [
            printable(f"  {out_path(e.file, path_prefix)}:{e.line}  {e.message}")
            for e in analysis.errors
        ]
        blocks.append("\n".join(lines))
    blocks.append(_count_line(analysis))
    return "\n\n".join(blocks) + "\n"


def render_scan_json(analysis: Analysis, *, path_prefix: str = "") -> str:
    """Returns ``Analysis.to_dict()`` plus ``version`` as JSON (schemas/report.schema.json)."""
    data = {"version": VERSION, **analysis.to_dict()}
    return dump_json(data, path_prefix=path_prefix)


def _function_block(fn: IngestFunction, prefix: str) -> Iterator[str]:
    yield f"{fn.name}  {out_path(fn.file, prefix)}:{fn.line}"
    facts = [fn.kind, "deployed" if fn.deployed else "not deployed", f"modal name {fn.modal_name}"]
    if fn.app_name:
        facts.append(f"app {fn.app_name}")
    yield "  " + " · ".join(facts)
    if not fn.writes:
        yield "  writes: none visible in code"
    for group in LAYER_GROUPS:
        writes = sorted(
            (w for w in fn.writes if w.layer == group),
            key=lambda w: (w.qualified_name, w.location),
        )
        if not writes:
            continue
        yield f"  {group}"
        rows = [
            (w.operation, w.qualified_name, _at(w.location, prefix), f"via {w.via}") for w in writes
        ]
        yield from _table(rows, indent=4)
    if fn.unresolved:
        yield "  unresolved"
        for u in fn.unresolved:
            yield f"    {_at(u.location, prefix)}  {u.reason}"
    if fn.rpc:
        yield "  rpc"
        for r in fn.rpc:
            name = r.name or "(name not static)"
            yield f"    {name}  {_at(r.location, prefix)}"
    if fn.invokes:
        yield "  invokes"
        for i in fn.invokes:
            yield f"    {i.target}.{i.method}  {_at(i.location, prefix)}"


def _at(loc: Location, prefix: str) -> str:
    return f"{out_path(loc.file, prefix)}:{loc.line}"


def _table(rows: Sequence[Sequence[str]], indent: int) -> Iterator[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=True)]
        yield (" " * indent + "  ".join(cells)).rstrip()


def _count_line(analysis: Analysis) -> str:
    fns = analysis.functions
    deployed = sum(fn.deployed for fn in fns)
    writes = sum(len(fn.writes) for fn in fns)
    unresolved = sum(len(fn.unresolved) for fn in fns)
    errors = len(analysis.errors)
    return (
        f"{plural(len(fns), 'function')} ({deployed} deployed), {plural(writes, 'write')}, "
        f"{unresolved} unresolved, {plural(errors, 'file')} not analysed"
    )
