"""Rules about the registry's own rows: each active row names a function, each entry is valid,
each slug is used once, and the database holds what the committed file says.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from conformance.model import IngestFunction, Registry, RegistryEntry, RegistryProblem
from conformance.rules.base import Context, Hit, Rule, run_check

CONF002 = Rule(
    code="CONF002",
    name="orphan-row",
    severity="error",
    scope="row",
    summary="An active registry row that names no ingest function.",
    what=(
        "Reports an active row whose `modal_function_name` matches neither the name nor the "
        "deployed name of any ingest function, and an active row with no "
        "`modal_function_name` at all. Inactive rows are retired and never orphans. Checked "
        "against the database, a row the committed registry file retires (or no longer has) "
        "is not an orphan but a change not applied yet: CONF021."
    ),
    why=(
        "An orphan row advertises a workflow that no code runs: callers routed to it fail, "
        "and the tables it claims look owned when they are not."
    ),
    example=(
        "- workflow_slug: company-legacy\n"
        "  modal_function_name: ingest_company_v1   # the function was renamed or deleted"
    ),
    fix=(
        "point `modal_function_name` at the function that now does the work, or set "
        "`is_active: false` to retire the row. If a file could not be analysed (CONF016) "
        "the function may be in it: fix that first."
    ),
    failing="an active row names ingest_company_v1, which does not exist.",
    passing="the same row is inactive (retired).",
)


@run_check(CONF002)
def orphan_row(ctx: Context) -> Iterator[Hit]:
    functions = ctx.analysis.functions
    names = {fn.name for fn in functions} | {fn.modal_name for fn in functions}
    in_file = _by_slug(ctx.file_registry) if ctx.file_registry is not None else None
    for row in ctx.registry.entries:
        name = row.modal_function_name
        if not row.is_active or (name and name in names):
            continue
        if in_file is not None and _retired_or_gone(in_file.get(row.workflow_slug)):
            continue  # the file retires it; applying the file does: CONF021
        evidence = [ctx.row_evidence(row, f"modal_function_name = {name or '(empty)'}")]
        outside = ctx.elsewhere.get(name) if name else None
        if name and outside is not None:
            top = outside.file.split("/", 1)[0]
            message = (
                f"row {row.workflow_slug} names {name}, which is defined at {outside}, outside "
                f"the ingest directories ({', '.join(ctx.config.ingest)}): add {top!r} to "
                "[tool.conformance] ingest to check it"
            )
            evidence.append(f"def {name.rpartition('.')[2]} at {outside}")
        elif name:
            close = difflib.get_close_matches(name, sorted(names), n=1)
            message = f"row {row.workflow_slug} names {name}, which is no ingest function"
            if close:
                message += f" (did you mean {close[0]}?)"
            evidence.append(f"no ingest function has the name or deployed name {name}")
        else:
            message = f"row {row.workflow_slug} is active but has no modal_function_name"
        if ctx.error_count:
            evidence.append(f"{ctx.error_count} file(s) could not be analysed (CONF016)")
        yield CONF002.hit(message, ctx.row_place(row), slug=row.workflow_slug, evidence=evidence)


CONF010 = Rule(
    code="CONF010",
    name="invalid-row",
    severity="error",
    scope="row",
    summary="A registry entry that breaks the registry schema.",
    what=(
        "Reports each problem the registry loader found in an entry (a missing or mistyped "
        "field, a bad slug), naming the entry and field, and an `entity_type` outside the "
        "configured `entity_types`. The entry's valid siblings are still checked."
    ),
    why=(
        "An invalid entry cannot be applied to the database and is skipped by every other "
        "rule, so its workflow is effectively unregistered."
    ),
    example=(
        "- workflow_slug: Company Signals     # not kebab-case\n"
        "  entity_type: organisation          # not one of company, person, target_client"
    ),
    fix="correct the field the finding names.",
    failing="a row has entity_type: organisation.",
    passing="its entity_type is company.",
)


@run_check(CONF010)
def invalid_row(ctx: Context) -> Iterator[Hit]:
    reported = {(p.slug, p.field) for p in ctx.registry.problems if p.kind == "invalid"}
    for p in ctx.registry.problems:
        if p.kind == "invalid":
            subject = " ".join(x for x in (p.slug, f"field {p.field}" if p.field else None) if x)
            message = f"invalid registry entry {subject}: {p.message}" if subject else p.message
            yield _problem_hit(CONF010, p, message, ctx)
    allowed = ctx.config.entity_types
    for row in ctx.registry.entries:
        if (
            row.entity_type
            and row.entity_type not in allowed
            and (row.workflow_slug, "entity_type") not in reported
        ):
            yield CONF010.hit(
                f"invalid registry entry {row.workflow_slug}: entity_type "
                f"{row.entity_type!r} is not one of {', '.join(allowed)}",
                ctx.row_location(row.line),
                slug=row.workflow_slug,
                evidence=(ctx.row_evidence(row, f"entity_type = {row.entity_type}"),),
            )


CONF011 = Rule(
    code="CONF011",
    name="duplicate-row",
    severity="error",
    scope="row",
    summary="Two registry entries with the same `workflow_slug`.",
    what=(
        "Reports an entry whose `workflow_slug` another entry already uses (the slug is the "
        "table's unique key)."
    ),
    why=("Applying the file would make the later entry silently overwrite the earlier one."),
    example="- workflow_slug: company-signals\n...\n- workflow_slug: company-signals",
    fix="give each workflow its own slug, or merge the two entries.",
    failing="two entries use company-signals.",
    passing="the slugs differ.",
)


@run_check(CONF011)
def duplicate_row(ctx: Context) -> Iterator[Hit]:
    reported: set[str | None] = set()
    for p in ctx.registry.problems:
        if p.kind == "duplicate":
            reported.add(p.slug)
            message = p.message
            if "duplicate" not in message.lower():
                message = f"duplicate workflow_slug {p.slug}: {message}"
            yield _problem_hit(CONF011, p, message, ctx)
    first_by_slug: dict[str, RegistryEntry] = {}
    for row in sorted(ctx.registry.entries, key=lambda r: (r.line or 0, r.workflow_slug)):
        first = first_by_slug.setdefault(row.workflow_slug, row)
        if first is not row and row.workflow_slug not in reported:
            yield CONF011.hit(
                f"duplicate workflow_slug {row.workflow_slug}: {ctx.row_ref(first)} uses it too",
                ctx.row_location(row.line),
                slug=row.workflow_slug,
                evidence=(ctx.row_ref(first), ctx.row_ref(row)),
            )


CONF021 = Rule(
    code="CONF021",
    name="apply-pending",
    severity="error",
    scope="row",
    summary="The database registry differs from the committed registry file.",
    what=(
        "Checked against the database (`--registry env` or a DSN), compares its rows with "
        "the project's committed registry file: a row in the file that the database lacks "
        "(registered, not applied), a row whose columns differ, and an active row the file "
        "no longer has (applying would deactivate it). Without a registry file, or checked "
        "against the file, it reports nothing. A function or row this rule reports is not "
        "also reported as unregistered (CONF001) or orphaned (CONF002)."
    ),
    why=(
        "The file is reviewed in pull requests and applied on merge; a difference means the "
        "merge's `apply` has not run (or failed), or someone edited the database by hand. "
        "Either way the database no longer says what was reviewed."
    ),
    example=(
        "# workflow_registry.yaml, merged:\n"
        "- workflow_slug: person\n"
        "  modal_function_name: ingest_person\n"
        "# reference.enrichment_workflow_registry: no row person"
    ),
    fix=(
        "apply the file: `conformance apply` (what the merge job runs; `conformance plan` "
        "shows what it will do). If the database is right (a deliberate hand edit), bring the "
        "file in line through a pull request: `conformance snapshot` writes the database to "
        "the file."
    ),
    failing="the file registers ingest_person, the database has no row for it.",
    passing="the database holds exactly the file's rows.",
)


@run_check(CONF021)
def apply_pending(ctx: Context) -> Iterator[Hit]:
    if ctx.file_registry is None:
        return
    from conformance.registry.plan import plan
    from conformance.rules.base import function_evidence

    functions: dict[str, IngestFunction] = {}
    for fn in ctx.analysis.functions:
        functions.setdefault(fn.modal_name, fn)
        functions.setdefault(fn.name, fn)
    database = ctx.registry_label or "the database"
    planned = plan(ctx.registry, ctx.file_registry)
    for row in planned.inserts:
        named = functions.get(row.modal_function_name or "")
        evidence = [ctx.file_ref(row) + ": in the registry file", f"{database}: no row"]
        if named is not None:
            evidence.insert(0, function_evidence(named))
        yield CONF021.hit(
            f"row {row.workflow_slug} is in the registry file but not in the database: "
            "not applied yet (`conformance apply`)",
            ctx.file_location(row.line),
            named,
            slug=row.workflow_slug,
            evidence=evidence,
        )
    for change in planned.updates:
        evidence = [ctx.file_ref(change.after) + ": in the registry file"]
        evidence += [
            f"{column}: database {_shown(change.before.column(column))}, file "
            f"{_shown(change.after.column(column))}"
            for column in change.columns
        ]
        yield CONF021.hit(
            f"row {change.slug} differs between the database and the registry file "
            f"({', '.join(change.columns)}): a change not applied yet, or a hand edit in the "
            "database",
            ctx.file_location(change.after.line),
            functions.get(change.after.modal_function_name or ""),
            slug=change.slug,
            evidence=evidence,
        )
    for row in planned.deactivations:
        yield CONF021.hit(
            f"row {row.workflow_slug} is active in the database but not in the registry file: "
            "applying the file deactivates it",
            ctx.file_location(None),
            slug=row.workflow_slug,
            evidence=(
                f"{database}: row {row.workflow_slug} (modal_function_name = "
                f"{row.modal_function_name or '(empty)'}, active)",
                f"{ctx.file_label or 'the registry file'}: no entry {row.workflow_slug}",
            ),
        )


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    return repr(value)


def _by_slug(registry: Registry) -> dict[str, RegistryEntry]:
    out: dict[str, RegistryEntry] = {}
    for entry in registry.entries:
        out.setdefault(entry.workflow_slug, entry)
    return out


def _retired_or_gone(entry: RegistryEntry | None) -> bool:
    return entry is None or not entry.is_active


def _problem_hit(rule: Rule, p: RegistryProblem, message: str, ctx: Context) -> Hit:
    where = ctx.registry_label or "registry"
    if p.line:
        where += f":{p.line}"
    return rule.hit(
        message, ctx.row_location(p.line), slug=p.slug, evidence=(f"{where}: {p.message}",)
    )


CONF020 = Rule(
    code="CONF020",
    name="incomplete-row",
    severity="error",
    scope="row",
    summary="An active registry entry that leaves a required column empty.",
    what=(
        "Reports an active entry that leaves empty any of the columns `required_columns` names "
        "(default: `provider`, `platform`, `payload_type`, `entity_type`), one finding per "
        "entry listing every empty column. Inactive entries are retired and not checked."
    ),
    why=(
        "A placeholder entry registers a function without saying what it enriches or for whom; "
        "the database refuses it too when those columns are NOT NULL, but only when it is "
        "applied, after the commit."
    ),
    example=(
        "- workflow_slug: company-signals\n"
        "  modal_function_name: ingest_company_signals\n"
        "  provider:          # left for later"
    ),
    fix=(
        "fill the columns the finding names (`conformance check --fix` fills what the code "
        "tells and marks its suggestions for the rest), or change `required_columns`."
    ),
    failing="an active entry has no provider and no entity_type.",
    passing="every required column is filled, or the entry is inactive.",
)


@run_check(CONF020)
def incomplete_row(ctx: Context) -> Iterator[Hit]:
    required = ctx.config.required_columns
    for row in ctx.registry.entries:
        if not row.is_active:
            continue
        empty = row.empty_columns(required)
        if empty:
            yield CONF020.hit(
                f"row {row.workflow_slug} leaves {', '.join(empty)} empty "
                f"(required: {', '.join(required)})",
                ctx.row_location(row.line),
                slug=row.workflow_slug,
                evidence=(ctx.row_evidence(row, f"{c} is empty") for c in empty),
            )
