"""Rules about an ingest function itself: is it registered, deployed, reachable by URL, and are
its writes all known.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

from conformance.config import Config
from conformance.model import (
    IngestFunction,
    Registry,
    RegistryEntry,
    TableWrite,
    UnresolvedWrite,
)
from conformance.rules.base import Context, Hit, Rule, function_check, function_evidence

MAX_LABEL = 63

CONF001 = Rule(
    code="CONF001",
    name="unregistered-function",
    severity="error",
    scope="function",
    summary="An ingest function that no registry row names.",
    what=(
        "Reports an ingest function (a Modal function under an ingest directory) whose name "
        "or deployed name appears in no row's `modal_function_name`, active or inactive. "
        "Checked against the database, a function the committed registry file registers is "
        "not unregistered but not applied yet: CONF021."
    ),
    why=(
        "The registry is how the warehouse knows which workflow writes which tables; a "
        "function that is not in it writes data nobody can trace, route or retire."
    ),
    example=(
        "# ingest/company.py\n"
        "@app.function()\n"
        "def ingest_company(request): ...   # no row has modal_function_name: ingest_company"
    ),
    fix=(
        "run `conformance register ingest_company` (the finding names the function; under "
        "pre-commit it names the `conformance-fix` hook instead), fill the fields it leaves "
        "empty, and commit the registry file."
    ),
    failing="ingest_company writes raw.company_payloads and no registry row names it.",
    passing="an active row names ingest_company and declares exactly what it writes.",
)


@function_check(CONF001)
def unregistered(fn: IngestFunction, rows: list[RegistryEntry], ctx: Context) -> Iterator[Hit]:
    if rows:
        return
    if ctx.file_registry is not None and _named_in(fn, ctx.file_registry):
        return  # registered in the file, not applied: CONF021 says so
    evidence = [function_evidence(fn)]
    evidence += [
        f"code suggests slug {h.slug!r} ({h.source} at {h.location})" for h in sorted(fn.slug_hints)
    ]
    tables = sorted(fn.written_tables())
    evidence.append("code writes " + (", ".join(tables) if tables else "no table it can name"))
    yield CONF001.hit(
        f"{fn.name} is not registered: no registry row names it; run `{ctx.register_command(fn)}`",
        fn.location,
        fn,
        evidence=evidence,
    )


def _named_in(fn: IngestFunction, registry: Registry) -> bool:
    return any(e.names_function(fn) for e in registry.entries)


CONF008 = Rule(
    code="CONF008",
    name="deployed-but-inactive",
    severity="error",
    scope="function",
    summary="A deployed function whose registry rows are all inactive.",
    what=(
        "Reports a deployed function (see CONF009 for what Modal deploys) when every row "
        "naming it has `is_active: false`."
    ),
    why=(
        "A retired workflow that is still deployed keeps accepting requests and writing "
        "data the registry says nobody produces."
    ),
    example=(
        "from ingest.company import ingest_company   # app.py: deployed\n"
        "is_active: false                            # its only row"
    ),
    fix=(
        "reactivate the row, or stop deploying the function: no entry point of its App may "
        "import its module, directly or through another module."
    ),
    failing="the function is deployed and its only row is inactive.",
    passing="the function is no longer deployed (it still gets CONF009 if left in ingest/).",
)


@function_check(CONF008)
def deployed_but_inactive(
    fn: IngestFunction, rows: list[RegistryEntry], ctx: Context
) -> Iterator[Hit]:
    if rows and fn.deployed and not any(r.is_active for r in rows):
        yield CONF008.hit(
            f"{fn.name} is deployed but every registry row naming it is inactive",
            fn.location,
            fn,
            evidence=(
                function_evidence(fn),
                *(f"deployed by {entry}" for entry in fn.deployed_by),
                *(ctx.row_evidence(r, "is_active = false") for r in rows),
            ),
        )


CONF009 = Rule(
    code="CONF009",
    name="not-deployed",
    severity="warning",
    scope="function",
    summary="An ingest function no deploy entry point of its App imports.",
    what=(
        "Reports an ingest function that no entry point deploys, by Modal's rule: `modal "
        "deploy` imports the entry point, and every function of every module that import "
        "loads (directly, or through the modules it imports at module level) is registered "
        "with its App; an entry point deploys the Apps it names. The entry points are "
        "`entrypoint` (`app.py` by default) and `entrypoints`, and any ingest file that "
        "creates the App its own functions use (deployed on its own, `modal deploy "
        "file.py`). Skipped when there is no entry point."
    ),
    why=(
        "Code that is never deployed rots silently, and its registry row describes a "
        "workflow that cannot run."
    ),
    example=(
        "# ingest/backfill.py defines @app.function() def backfill_companies(): ...\n"
        "# app.py imports every ingest module except ingest.backfill, and none of them "
        "imports it"
    ),
    fix=("import the function (or its module) from an entry point of its App, or delete it."),
    failing="backfill_companies is registered but not deployed.",
    passing="it is deployed.",
)


@function_check(CONF009)
def not_deployed(fn: IngestFunction, rows: list[RegistryEntry], ctx: Context) -> Iterator[Hit]:
    searched = ctx.analysis.searched
    entries = searched.entry_points if searched is not None else ctx.config.entry_points()
    if fn.deployed or not entries:
        return
    app = f" {fn.app_name}" if fn.app_name else ""
    yield CONF009.hit(
        f"{fn.name} is not deployed: no entry point of its App{app} imports {fn.file}, "
        "directly or through the modules it imports",
        fn.location,
        fn,
        evidence=(function_evidence(fn), "entry points: " + ", ".join(entries)),
    )


CONF012 = Rule(
    code="CONF012",
    name="host-label-too-long",
    severity="error",
    scope="function",
    summary="A web endpoint whose Modal host label exceeds 63 characters.",
    what=(
        "For web functions, builds Modal's host label `<workspace>--<app>-<name>` (the "
        "deployed name with `_` and `.` turned into `-`) and reports it when it is longer "
        "than 63 characters, the DNS limit. The workspace comes from `workspace` in the "
        "configuration (the rule is skipped without it), the app from the code or "
        "`app_name`."
    ),
    why=(
        "Modal cannot serve a longer label as is: it truncates it and appends a hash, so the "
        "URL in the registry (`modal_endpoint_url`) and in callers stops matching."
    ),
    example=(
        "acme-data--warehouse-ingest-ingest-company-signals-from-linkedin-sales-navigator.modal.run"
    ),
    fix="give the function a shorter deployed name with `@app.function(name=...)`.",
    failing="acme-data--warehouse-ingest-<a 45-character name> is 72 characters.",
    passing="the same function with name='company-signals-li'.",
)


def host_label(workspace: str, app: str, modal_name: str) -> str:
    """Returns Modal's host label ``<workspace>--<app>-<name>`` for a web function."""
    name = modal_name.replace("_", "-").replace(".", "-")
    return f"{workspace}--{app}-{name}".lower()


@function_check(CONF012)
def host_label_too_long(
    fn: IngestFunction, rows: list[RegistryEntry], ctx: Context
) -> Iterator[Hit]:
    config: Config = ctx.config
    app = fn.app_name or config.app_name
    if fn.kind != "web" or not config.workspace or not app:
        return
    label = host_label(config.workspace, app, fn.modal_name)
    if len(label) > MAX_LABEL:
        yield CONF012.hit(
            f"{fn.name}'s Modal host label is {len(label)} characters (at most {MAX_LABEL}): "
            f"{label}.modal.run",
            fn.location,
            fn,
            evidence=(
                function_evidence(fn),
                f"workspace {config.workspace}, app {app}, deployed name {fn.modal_name}",
            ),
        )


CONF013 = Rule(
    code="CONF013",
    name="unresolved-write",
    severity="warning",
    scope="function",
    summary="A write whose schema or table cannot be known statically.",
    what=(
        "Reports each write the analyzer found but could not name (the table comes from a "
        "request field, a database row, ...), with the reason and the call path."
    ),
    why=(
        "The registry cannot be checked against a write nobody can name; every unresolved "
        "write is a hole in the contract, and it also stops CONF003/CONF007 from claiming "
        "that a declared table is not written."
    ),
    example='client.schema("raw").from_(request.table).insert(row)',
    fix=(
        "name the table with a literal or a module constant, or, if it is truly dynamic, "
        "suppress with `# conformance: ignore[CONF013] <why>` on the write line."
    ),
    failing="the function writes to a table read from the request.",
    passing="the table is a module constant.",
)


@function_check(CONF013)
def unresolved_write(fn: IngestFunction, rows: list[RegistryEntry], ctx: Context) -> Iterator[Hit]:
    for u in first_per_site(fn.unresolved, lambda u: (u.location, u.reason)):
        yield CONF013.hit(
            f"{fn.name} writes a table that cannot be named statically: {u.reason}",
            u.location,
            fn,
            evidence=(
                function_evidence(fn),
                *(f"call in {s.function} at {s.location}" for s in u.call_path),
                f"unresolved write at {u.location}: {u.reason}",
            ),
        )


_T = TypeVar("_T", UnresolvedWrite, TableWrite)


def first_per_site(items: Iterable[_T], site: Callable[[_T], Hashable]) -> list[_T]:
    """Returns one item per site (reached along several call paths: the shortest), sorted."""
    chosen: dict[Hashable, _T] = {}
    for item in sorted(items, key=lambda i: len(i.call_path)):
        chosen.setdefault(site(item), item)
    return sorted(chosen.values())


CONF019 = Rule(
    code="CONF019",
    name="unknown-workflow-slug",
    severity="error",
    scope="function",
    summary="The code declares or records a workflow slug that no active registry row has.",
    what=(
        "For a function that registry rows name, reports each workflow slug its code states "
        "(a request-model default, a literal `workflow_slug` written into a row, or a module "
        "`*SLUG*` constant when the module holds that one Modal function) that no active row "
        "has, naming the closest slug the registry does have."
    ),
    why=(
        "Functions look their own row up by slug and store the slug in what they write: a slug "
        "no row has breaks that lookup at run time, and leaves raw rows pointing at no "
        "workflow, even when `modal_function_name` matches."
    ),
    example=(
        'workflow_slug: str = "nostra-ecom-companies"   # the request model\n'
        "- workflow_slug: nostra-ecom-company           # the registry"
    ),
    fix=(
        "make the two agree: usually the code's slug is the one in use, so rename the row's "
        "slug (other systems key on slugs: `check --fix` never renames one), or fix the code."
    ),
    failing="the request model defaults to nostra-ecom-companies; the row is nostra-ecom-company.",
    passing="the row's slug is nostra-ecom-companies.",
)

# where a slug in the code says which workflow the function serves
_STRONG_SLUG_SOURCES = ("request-model default", "inserted literal")


@function_check(CONF019)
def unknown_workflow_slug(
    fn: IngestFunction, rows: list[RegistryEntry], ctx: Context
) -> Iterator[Hit]:
    if not rows:
        return  # CONF001 names the function, and the slug its code suggests
    active = ctx.active_slugs
    alone = ctx.functions_per_module[fn.module] == 1
    reported: set[str] = set()
    for hint in sorted(fn.slug_hints):
        if hint.slug in active or hint.slug in reported:
            continue
        if hint.source not in _STRONG_SLUG_SOURCES and not alone:
            continue  # a module constant shared by several functions says little
        reported.add(hint.slug)
        close = difflib.get_close_matches(hint.slug, sorted(active), n=1, cutoff=0.6)
        message = f"{fn.name} uses workflow slug {hint.slug!r}, which no active registry row has"
        if close:
            message += f" (the registry has {close[0]!r})"
        yield CONF019.hit(
            message,
            hint.location,
            fn,
            hint.slug,
            (
                function_evidence(fn),
                f"slug {hint.slug!r} ({hint.source} at {hint.location})",
                *(ctx.row_evidence(r, f"workflow_slug = {r.workflow_slug}") for r in rows),
            ),
        )
