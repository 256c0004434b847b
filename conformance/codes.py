"""The catalogue of finding codes: one documented, stable :class:`Rule` per code.

``compare`` takes severities from here, ``conformance explain CODE`` prints :func:`explain`, the
SARIF report lists the rules, and ``docs/rules.md`` is :func:`render_rules_markdown` (a test fails
when the file is out of date; regenerate it with ``python -m conformance.codes > docs/rules.md``).
Each rule's failing and passing cases are data files under ``tests/rule_cases/<CODE>/`` that the
test suite turns into tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.errors import ConformanceError

RULES_URL = "https://conformance.dev/rules"


@dataclass(frozen=True)
class Rule:
    """One stable finding code and its documentation.

    ``scope`` says what a finding of this code is about: an ingest ``function``, a registry
    ``row``, or a source ``file``. ``failing`` and ``passing`` describe the rule's two test cases
    (their data is in ``tests/rule_cases/<code>/``).
    """

    code: str
    name: str
    severity: str
    scope: str
    summary: str
    what: str
    why: str
    example: str
    fix: str
    failing: str
    passing: str

    @property
    def anchor(self) -> str:
        """Returns the Markdown heading anchor of this rule in docs/rules.md."""
        return f"{self.code.lower()}-{self.name}"

    @property
    def help_uri(self) -> str:
        return f"{RULES_URL}#{self.anchor}"

    @property
    def doc(self) -> str:
        """Returns the one-paragraph documentation: what, why and fix."""
        return f"{self.what} {self.why} Fix: {self.fix}"


RULES: tuple[Rule, ...] = (
    Rule(
        code="CONF001",
        name="unregistered-function",
        severity="error",
        scope="function",
        summary="An ingest function that no registry row names.",
        what=(
            "Reports an ingest function (a Modal function under an ingest directory) whose name "
            "or deployed name appears in no row's `modal_function_name`, active or inactive."
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
            "run `conformance register ingest_company` (the finding names the function), fill "
            "the fields it leaves empty, and commit the registry file."
        ),
        failing="ingest_company writes raw.company_payloads and no registry row names it.",
        passing="an active row names ingest_company and declares exactly what it writes.",
    ),
    Rule(
        code="CONF002",
        name="orphan-row",
        severity="error",
        scope="row",
        summary="An active registry row that names no ingest function.",
        what=(
            "Reports an active row whose `modal_function_name` matches neither the name nor the "
            "deployed name of any ingest function, and an active row with no "
            "`modal_function_name` at all. Inactive rows are retired and never orphans."
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
    ),
    Rule(
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
    ),
    Rule(
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
    ),
    Rule(
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
    ),
    Rule(
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
    ),
    Rule(
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
    ),
    Rule(
        code="CONF008",
        name="deployed-but-inactive",
        severity="error",
        scope="function",
        summary="A deployed function whose registry rows are all inactive.",
        what=(
            "Reports a function the entry point imports (so it is deployed) when every row "
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
        fix="reactivate the row, or stop importing the function from the entry point.",
        failing="the function is deployed and its only row is inactive.",
        passing="the function is no longer deployed (it still gets CONF009 if left in ingest/).",
    ),
    Rule(
        code="CONF009",
        name="not-deployed",
        severity="warning",
        scope="function",
        summary="An ingest function the deploy entry point does not import.",
        what=(
            "Reports an ingest function that the configured entry point (`entrypoint`, "
            "`app.py` by default) does not import, so `modal deploy` never ships it. Skipped "
            "when no entry point is configured."
        ),
        why=(
            "Code that is never deployed rots silently, and its registry row describes a "
            "workflow that cannot run."
        ),
        example=(
            "# ingest/backfill.py defines @app.function() def backfill_companies(): ...\n"
            "# app.py imports every ingest module except ingest.backfill"
        ),
        fix="import the function from the entry point, or delete it.",
        failing="backfill_companies is registered but not deployed.",
        passing="it is deployed.",
    ),
    Rule(
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
    ),
    Rule(
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
    ),
    Rule(
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
            "acme-data--warehouse-ingest-ingest-company-signals-from-linkedin-sales-navigator"
            ".modal.run"
        ),
        fix="give the function a shorter deployed name with `@app.function(name=...)`.",
        failing="acme-data--warehouse-ingest-<a 45-character name> is 72 characters.",
        passing="the same function with name='company-signals-li'.",
    ),
    Rule(
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
    ),
    Rule(
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
    ),
    Rule(
        code="CONF015",
        name="unused-suppression",
        severity="warning",
        scope="file",
        summary="A `# conformance: ignore[CODE]` comment that suppresses nothing.",
        what=(
            "Reports each code of a suppression comment that matched no finding, codes that "
            "do not exist, and a bare `# conformance: ignore` that names no code. A suppression "
            "matches a finding of its code on the same line, or any finding of its code for the "
            "function whose `def` line carries it. Only comments suppress: the same text inside "
            "a string literal is ignored."
        ),
        why=("A stale suppression would silently hide the next real finding on that line."),
        example="def ingest_company(request):   # conformance: ignore[CONF013] nothing to ignore",
        fix="delete the comment (or the code from its list).",
        failing="a suppression of CONF013 on a line with no finding.",
        passing="the suppression sits on an unresolved write's line.",
    ),
    Rule(
        code="CONF016",
        name="analysis-error",
        severity="error",
        scope="file",
        summary="A file the analyzer could not read or parse.",
        what=(
            "Reports each file under the source root that could not be read or parsed; every "
            "other file is still analysed."
        ),
        why=(
            "Functions and writes in that file are unknown, so the check cannot vouch for it "
            "(and rows naming its functions may show up as CONF002)."
        ),
        example="def ingest_company(request)   # missing colon: SyntaxError",
        fix="fix the syntax error (the message gives the line).",
        failing="one file has a syntax error.",
        passing="every file parses.",
    ),
    Rule(
        code="CONF017",
        name="literal-secret",
        severity="error",
        scope="file",
        summary="A connection string with a password, or a service key, written in the code.",
        what=(
            "Reports a literal database URL with a password or a service key in analysed code. "
            "The finding shows the masked value only."
        ),
        why="Secrets in source end up in git history, CI logs and every clone.",
        example='create_client(URL, "eyJhbGciOi...")   # a literal service key',
        fix=("read it from the environment through a `modal.Secret`, and rotate the leaked value."),
        failing="a module holds a literal postgresql:// URL with a password.",
        passing="the URL comes from os.environ.",
    ),
    Rule(
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
    ),
)

RULES_BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}
CODES: tuple[str, ...] = tuple(RULES_BY_CODE)

NOTES = """\
## How the rules read the registry

- A row names a function when its `modal_function_name` equals the function's Python name or its
  deployed name (`@app.function(name=...)`). Several rows may name one function (one function,
  several slugs): every layer and `writes` rule checks each active row against the function on its
  own, so a finding names its row (`slug`).
- Inactive rows (`is_active: false`) are retired: they are never orphans and never checked against
  code. A function whose only rows are inactive is not "unregistered" (CONF001); it is CONF008 if
  it is still deployed.
- Code can prove that a table is written, never that it is not: database triggers (an `extracted`
  insert copied into `core`) and `.rpc()` functions write tables no code shows. So a declared
  table the code does not write is an error (CONF003, CONF007) only when the function writes other
  tables in that schema and every one of its writes is resolved; otherwise it is the warning
  CONF018, which a suppression on the def line can document (`# conformance: ignore[CONF018]
  written by trg_company_signals_to_core`).
- An empty `writes` means the row has not adopted the full contract yet: CONF006/CONF007 skip it,
  the layer rules still apply, and writes outside the layers surface as CONF014.
- Table names are compared schema-qualified and case-insensitively; an unqualified layer column
  is read as that layer's schema.

## Suppressions, severities and exclusions

- `# conformance: ignore[CODE, ...] reason` suppresses findings of those codes located on that
  line, and all findings of those codes for the function whose `def` line carries the comment. A
  code that suppresses nothing is reported as CONF015 (list CONF015 itself to keep it anyway).
- `[tool.conformance.severity]` sets a code to `error`, `warning` or `off`; `off` drops it.
- `exclude` globs (relative to the source root) drop findings located in matching files and every
  finding of a function defined in one. `dir/**`, `**/name.py` and plain directory prefixes work.
- Registry-level findings (CONF002, CONF010, CONF011) point at the entry's line in the registry
  file; they cannot be suppressed by comments, only by severity.
"""


def rule(code: str) -> Rule:
    """Returns the rule for a code (``CONF001``, ``conf1``) or its name (``orphan-row``).

    Raises ConformanceError for an unknown code.
    """
    key = code.strip()
    by_name = {r.name: r for r in RULES}
    if key.lower() in by_name:
        return by_name[key.lower()]
    upper = key.upper()
    if upper.startswith("CONF") and upper[4:].isdigit():
        upper = f"CONF{int(upper[4:]):03d}"
    if upper not in RULES_BY_CODE:
        raise ConformanceError(f"unknown code {code!r}; known codes: {', '.join(CODES)}")
    return RULES_BY_CODE[upper]


def explain(code: str) -> str:
    """Returns the plain-text documentation of one code; raises ConformanceError if unknown."""
    r = rule(code)
    example = "\n".join(f"    {line}" for line in r.example.splitlines())
    return (
        f"{r.code} {r.name} (default severity: {r.severity})\n"
        f"{r.summary}\n\n"
        f"What: {r.what}\n\n"
        f"Why: {r.why}\n\n"
        f"Example:\n{example}\n\n"
        f"Fix: {r.fix}\n\n"
        f"Fails when: {r.failing}\n"
        f"Passes when: {r.passing}\n\n"
        f"More: {r.help_uri}\n"
    )


def render_rules_markdown() -> str:
    """Returns the content of docs/rules.md, generated from the catalogue."""
    out = [
        "# Conformance rules",
        "",
        "<!-- Generated by conformance.codes.render_rules_markdown(); do not edit by hand.",
        "     Regenerate: python -m conformance.codes > docs/rules.md -->",
        "",
        "`conformance explain CODE` prints the same text for one code.",
        "",
        "| Code | Name | Severity | Summary |",
        "|------|------|----------|---------|",
    ]
    for r in RULES:
        summary = r.summary.replace("|", "\\|")
        out.append(f"| [{r.code}](#{r.anchor}) | {r.name} | {r.severity} | {summary} |")
    out += ["", NOTES.rstrip(), ""]
    for r in RULES:
        out += [
            f"## {r.code} {r.name}",
            "",
            f"*Default severity: {r.severity}. About: {r.scope}.* {r.summary}",
            "",
            f"**What.** {r.what}",
            "",
            f"**Why.** {r.why}",
            "",
            "**Example.**",
            "",
            "```",
            r.example,
            "```",
            "",
            f"**Fix.** {r.fix}",
            "",
            f"**Fails when:** {r.failing}",
            "",
            f"**Passes when:** {r.passing}",
            "",
        ]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(render_rules_markdown(), end="")
