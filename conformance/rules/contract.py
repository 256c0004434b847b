"""Rules about a row's ``writes`` contract: every table the function writes is listed, every
listed table is written, writes outside the layers are declared, and what code cannot show
(a trigger's or an RPC's writes) is said as such.
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.model import IngestFunction, RegistryEntry
from conformance.rules.base import (
    Context,
    Hit,
    Rule,
    function_check,
    function_evidence,
    pair_check,
)
from conformance.rules.facts import Pair, also, normalise, schema_of, write_evidence
from conformance.rules.functions import first_per_site

CONF006 = Rule(
    code="CONF006",
    name="undeclared-write",
    severity="error",
    scope="function",
    summary="The function writes a table the row's `writes` does not list.",
    what=(
        "For each active row naming the function whose `writes` list is not empty, reports "
        "every table the function writes that the list does not contain (one finding per "
        "row and table, on the table's first write). A row with an empty `writes` has not "
        "adopted the contract yet: this rule and CONF007 skip it, the layer rules still "
        "apply, and writes outside the layers are reported by CONF014."
    ),
    why=(
        "`writes` is the full contract of what a workflow touches; an unlisted write is "
        "exactly the change a reviewer needs to see."
    ),
    example=(
        'client.schema("core").from_("company_tags").upsert(tags)   # code\n'
        "writes: [raw.signal_payloads, core.companies]               # registry"
    ),
    fix="add the table to the row's `writes` (schema-qualified), or remove the write.",
    failing="the function writes core.company_tags; writes lists only raw and core.companies.",
    passing="writes lists every table the function writes.",
)


@pair_check(CONF006)
def undeclared_write(pair: Pair, ctx: Context) -> Iterator[Hit]:
    fn, row = pair.fn, pair.row
    if not row.writes:
        return  # the row has not adopted the contract yet
    listed = {normalise(t) for t in row.writes}
    evidence = ctx.row_evidence(row, "writes = [" + ", ".join(row.writes) + "]")
    for table, ws in pair.written.items():
        if table not in listed:
            yield CONF006.hit(
                f"{fn.name} writes {ws[0].qualified_name}, which row {row.workflow_slug}'s "
                "writes does not list",
                ws[0].location,
                fn,
                row.workflow_slug,
                (function_evidence(fn), *write_evidence(ws[0]), *also(ws), evidence),
            )


CONF007 = Rule(
    code="CONF007",
    name="stale-declared-write",
    severity="error",
    scope="function",
    summary="A table in the row's `writes` that the function no longer writes.",
    what=(
        "Reports a table in an active row's `writes` that the function does not write, when "
        "the function writes other tables of the same schema and all its writes are known "
        "(no unresolved write, no `.rpc()` call). Otherwise it may be written by a trigger "
        "or an RPC, and is reported as CONF018."
    ),
    why=(
        "A stale entry claims ownership of a table the workflow left; it misleads lineage "
        "and blocks whoever now owns the table."
    ),
    example=(
        'client.schema("core").from_("companies").upsert(row)   # the only core write\n'
        "writes: [core.companies, core.company_tags]             # registry"
    ),
    fix="remove the table from `writes`, or restore the write.",
    failing="writes lists core.company_tags; the function writes only core.companies in core.",
    passing="writes lists only core.companies.",
)


@pair_check(CONF007)
def stale_declared_write(pair: Pair, ctx: Context) -> Iterator[Hit]:
    fn, row = pair.fn, pair.row
    evidence = ctx.row_evidence(row, "writes = [" + ", ".join(row.writes) + "]")
    for declared in pair.missing:
        if not declared.in_writes or not pair.provably_missing(declared):
            continue  # a layer column (CONF003), or not provable (CONF018)
        schema = schema_of(declared.table)
        same_schema = sorted(t for t in pair.written if schema_of(t) == schema)
        yield CONF007.hit(
            f"row {row.workflow_slug}'s writes lists {declared.given}, which {fn.name} "
            "does not write",
            fn.location,
            fn,
            row.workflow_slug,
            (function_evidence(fn), f"writes in {schema}: {', '.join(same_schema)}", evidence),
        )


CONF014 = Rule(
    code="CONF014",
    name="write-outside-layers",
    severity="warning",
    scope="function",
    summary="A write to a schema other than raw, extracted or core that no row declares.",
    what=(
        "Reports a write to a schema outside the layers (`public`, `staging`, `reference`, "
        "...) that no active row naming the function lists in `writes`. Not reported when "
        "CONF006 already reports the same table."
    ),
    why=(
        "Such writes are real but outside the layer model; the common case is `public`, "
        "because `.schema()` was forgotten and the client's default schema was used."
    ),
    example='client.table("scrape_log").insert(entry)   # no .schema(): public.scrape_log',
    fix="add the missing `.schema(...)`, or list the table in the row's `writes`.",
    failing="the function writes public.scrape_log through the client's default schema.",
    passing='the write goes through .schema("raw").',
)


@function_check(CONF014)
def write_outside_layers(
    fn: IngestFunction, rows: list[RegistryEntry], ctx: Context
) -> Iterator[Hit]:
    active = [r for r in rows if r.is_active]
    if any(r.writes for r in active):
        return  # CONF006 reports every undeclared table for those rows
    others = [w for w in fn.writes if w.layer == "other"]
    for w in first_per_site(others, lambda w: (w.location, w.qualified_name)):
        how = (
            "the schema is the client's default (no .schema() call)"
            if w.via == "default-schema"
            else f"{w.schema} is not raw, extracted or core"
        )
        yield CONF014.hit(
            f"{fn.name} writes {w.qualified_name} outside the layer schemas: {how}",
            w.location,
            fn,
            evidence=(
                function_evidence(fn),
                *write_evidence(w),
                *(ctx.row_evidence(r, "writes is empty") for r in active),
            ),
        )


CONF018 = Rule(
    code="CONF018",
    name="declared-write-not-visible",
    severity="warning",
    scope="function",
    summary="A table the registry declares that the code cannot be shown to write.",
    what=(
        "Reports a table an active row declares (a layer column or `writes`) that the "
        "function does not visibly write, when the absence cannot be proven: the function "
        "writes nothing else in that schema (a database trigger may write it, e.g. an "
        "extracted insert copied into core), or it has unresolved writes or `.rpc()` calls "
        "that may write it."
    ),
    why=(
        "Code cannot show trigger or RPC writes, so this is not an error; but the same "
        "shape is what a dropped write looks like, so it deserves a look and a reason."
    ),
    example=(
        'client.schema("extracted").from_("company_signals").insert(rows)   # code\n'
        "core_table: core.companies   # written by the trigger trg_company_signals_to_core"
    ),
    fix=(
        "if a trigger or RPC writes it, record that with "
        "`# conformance: ignore[CONF018] written by <trigger>` on the function's def line; "
        "otherwise remove the table from the row."
    ),
    failing="the row declares core.companies; the function writes only extracted tables.",
    passing="the function writes core.companies itself.",
)


@pair_check(CONF018)
def declared_write_not_visible(pair: Pair, ctx: Context) -> Iterator[Hit]:
    fn, row = pair.fn, pair.row
    for declared in pair.missing:
        if pair.provably_missing(declared):
            continue  # CONF003 or CONF007
        table, column = declared.table, declared.column
        relation = "contains" if declared.in_writes else "="
        if pair.opaque:
            why = f"{fn.name} has {pair.opaque_reason()} that may write it"
        else:
            why = f"{fn.name} writes nothing in {schema_of(table)}; a database trigger may write it"
        yield CONF018.hit(
            f"row {row.workflow_slug} declares {table} ({column}), but no write to it is visible "
            f"in code: {why}",
            fn.location,
            fn,
            row.workflow_slug,
            (
                function_evidence(fn),
                f"no write to {table} in code",
                ctx.row_evidence(row, f"{column} {relation} {table}"),
            ),
        )
