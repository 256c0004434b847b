"""Rules about a (function, row) pair's layer tables: ``raw_table``, ``extracted_table``,
``core_table`` and ``coalesces_to_core`` against what the function writes in each layer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from conformance.model import LAYER_COLUMNS, LAYERS, TableWrite
from conformance.rules.base import Context, Hit, Rule, function_evidence, pair_check
from conformance.rules.facts import Pair, also, write_evidence

CONF003 = Rule(
    code="CONF003",
    name="layer-table-mismatch",
    severity="error",
    scope="function",
    summary="The row's raw/extracted/core table is not what the function writes there.",
    what=(
        "For each active row naming the function and each layer (raw, extracted, core) whose "
        "table column the row fills, reports the row's table when the function writes other "
        "tables in that layer but not this one. It is only claimed when the function's "
        "writes are fully known (no unresolved write, no `.rpc()` call); otherwise, and when "
        "the function writes nothing in that layer (a database trigger may write it), the "
        "row's table is reported as CONF018 instead."
    ),
    why=(
        "Downstream jobs read a workflow's layer tables from the registry; a wrong table "
        "sends them to data this workflow never produces."
    ),
    example=(
        'client.schema("raw").from_("signal_payloads").insert(row)   # code\n'
        "raw_table: raw.company_payloads                             # registry"
    ),
    fix="set the row's layer column to the table the code writes, or fix the code.",
    failing="the row says raw.company_payloads, the function writes raw.signal_payloads.",
    passing="the row's raw_table is raw.signal_payloads.",
)


@pair_check(CONF003)
def layer_table_not_written(pair: Pair, ctx: Context) -> Iterator[Hit]:
    fn, row = pair.fn, pair.row
    for declared in pair.missing:
        if declared.in_writes or not pair.provably_missing(declared):
            continue  # a `writes` table (CONF007), or not provable (CONF018)
        layer = declared.proof_schema
        in_layer = pair.first_writes(layer)
        yield _layer_hit(
            CONF003,
            f"row {row.workflow_slug} declares {declared.column} {declared.table}, but {fn.name} "
            f"writes {', '.join(w.qualified_name for w in in_layer)} in {layer}",
            pair,
            in_layer,
            ctx.row_evidence(row, f"{declared.column} = {declared.given}"),
        )


CONF004 = Rule(
    code="CONF004",
    name="undeclared-layer-write",
    severity="error",
    scope="function",
    summary="The function writes a layer whose table column the row leaves empty.",
    what=(
        "Reports, for each active row naming the function, each layer (raw, extracted, core) "
        "the function writes while the row's `raw_table`/`extracted_table`/`core_table` is "
        "empty. The finding sits on the first write to that layer."
    ),
    why=(
        "An empty layer column tells readers the workflow produces nothing in that layer, "
        "so its data there is invisible to lineage and clean-up."
    ),
    example=(
        'client.schema("extracted").from_("company_signals").upsert(rows)  # code\n'
        "extracted_table:                                                 # registry: empty"
    ),
    fix="fill the row's layer column with the table the code writes.",
    failing="the function writes extracted.company_signals; extracted_table is empty.",
    passing="extracted_table is extracted.company_signals.",
)


@pair_check(CONF004)
def undeclared_layer_write(pair: Pair, ctx: Context) -> Iterator[Hit]:
    fn, row = pair.fn, pair.row
    for layer in LAYERS:
        column = LAYER_COLUMNS[layer]
        in_layer = pair.first_writes(layer)
        if row.layer_table(layer) or not in_layer:
            continue
        yield _layer_hit(
            CONF004,
            f"{fn.name} writes {in_layer[0].qualified_name} in {layer}, but row "
            f"{row.workflow_slug} leaves {column} empty",
            pair,
            in_layer,
            ctx.row_evidence(row, f"{column} is empty"),
        )


def _layer_hit(
    rule: Rule, message: str, pair: Pair, in_layer: Sequence[TableWrite], row_fact: str
) -> Hit:
    """A finding about the tables ``pair``'s function writes in a layer (the first of
    ``in_layer`` is where it points), with the row's ``row_fact`` as the last evidence."""
    return rule.hit(
        message,
        in_layer[0].location,
        pair.fn,
        pair.row.workflow_slug,
        (function_evidence(pair.fn), *write_evidence(in_layer[0]), *also(in_layer), row_fact),
    )


CONF005 = Rule(
    code="CONF005",
    name="coalesces-to-core-mismatch",
    severity="error",
    scope="function",
    summary="`coalesces_to_core` disagrees with whether the function writes core.",
    what=(
        "Reports an active row with `coalesces_to_core: false` naming a function that writes "
        "a `core` table, and a row with `coalesces_to_core: true` that names no `core_table` "
        "while the function writes no core table and has no unresolved write or `.rpc()` "
        "call. (True with a `core_table` the code does not write is left to CONF003/CONF018, "
        "because a database trigger may do the coalescing.)"
    ),
    why=(
        "The flag tells the core merge whether this workflow feeds it; a wrong flag either "
        "hides core writes or waits for rows that never come."
    ),
    example=(
        'client.schema("core").from_("companies").upsert(row)   # code\n'
        "coalesces_to_core: false                                 # registry"
    ),
    fix="set `coalesces_to_core` to whether the workflow writes core.",
    failing="the function upserts core.companies; the row says coalesces_to_core: false.",
    passing="the row says coalesces_to_core: true and core_table: core.companies.",
)


@pair_check(CONF005)
def coalesces_to_core_mismatch(pair: Pair, ctx: Context) -> Iterator[Hit]:
    fn, row = pair.fn, pair.row
    core = pair.first_writes("core")
    if core and not row.coalesces_to_core:
        yield CONF005.hit(
            f"{fn.name} writes {core[0].qualified_name}, but row {row.workflow_slug} says "
            "coalesces_to_core: false",
            core[0].location,
            fn,
            row.workflow_slug,
            (
                function_evidence(fn),
                *write_evidence(core[0]),
                ctx.row_evidence(row, "coalesces_to_core = false"),
            ),
        )
    elif not core and row.coalesces_to_core and not row.core_table and not pair.opaque:
        yield CONF005.hit(
            f"row {row.workflow_slug} says coalesces_to_core: true, but {fn.name} writes no "
            "core table and the row names no core_table",
            fn.location,
            fn,
            row.workflow_slug,
            (
                function_evidence(fn),
                "no write to a core table in code",
                ctx.row_evidence(row, "coalesces_to_core = true, core_table is empty"),
            ),
        )
