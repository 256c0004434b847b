"""The rules engine: suppressions, severities, exclusions, evidence, locations and determinism.

The per-rule behaviour is proven by the data cases in tests/rule_cases (see test_codes.py); these
tests cover what lies across rules. Records are built by hand: compare is a pure function.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conformance.config import Config
from conformance.model import (
    Analysis,
    AnalysisError,
    CallStep,
    Finding,
    IngestFunction,
    Location,
    Registry,
    RegistryEntry,
    SecretLiteral,
    Suppression,
    TableWrite,
    UnresolvedWrite,
)
from conformance.registry.plan import plan
from conformance.report.registry import render_plan, render_plan_markdown
from conformance.rules import PROJECT_GROUP, REGISTRY_GROUP, group_findings, has_errors
from conformance.rules import evaluate as compare
from conformance.rules.functions import host_label
from conformance.sources import is_excluded

PROJECT = Path("/nonexistent/project")  # compare never touches the file system


def config(**kw: Any) -> Config:
    """Settings for these cross-rule tests; their hand-built rows fill no required column."""
    kw.setdefault("required_columns", ())
    return Config(project_dir=PROJECT, source_root=PROJECT / "src", **kw)


def write(table: str, line: int, file: str = "ingest/company.py", **kw: Any) -> TableWrite:
    schema, name = table.split(".")
    return TableWrite(schema, name, kw.pop("operation", "insert"), Location(file, line), **kw)


def function(
    name: str = "ingest_company", file: str = "ingest/company.py", **kw: Any
) -> IngestFunction:
    defaults: dict[str, Any] = {
        "module": file.removesuffix(".py").replace("/", "."),
        "line": 10,
        "kind": "worker",
        "deployed": True,
        "modal_name": name,
    }
    return IngestFunction(name=name, file=file, **{**defaults, **kw})


def row(slug: str = "company", fn: str | None = "ingest_company", **kw: Any) -> RegistryEntry:
    return RegistryEntry(workflow_slug=slug, modal_function_name=fn, **kw)


def registry(*entries: RegistryEntry, source: str = "workflow_registry.yaml") -> Registry:
    return Registry(entries=entries, source=source)


def codes(findings: tuple[Finding, ...]) -> list[str]:
    return [f.code for f in findings]


UNRESOLVED = UnresolvedWrite(Location("ingest/company.py", 25), "table from request.table")
CLEAN_ROW = row(raw_table="raw.company_payloads", line=1)
RAW_WRITE = write("raw.company_payloads", 14)


# -- suppressions ---------------------------------------------------------------------------------


def suppress(line: int, *codes_: str, file: str = "ingest/company.py") -> Suppression:
    return Suppression(Location(file, line), codes_, "a reason")


def test_suppression_on_the_finding_line() -> None:
    fn = function(writes=(RAW_WRITE,), unresolved=(UNRESOLVED,))
    analysis = Analysis((fn,), suppressions=(suppress(25, "CONF013"),))
    assert compare(analysis, registry(CLEAN_ROW), config()) == ()


def test_suppression_on_the_def_line_covers_findings_elsewhere() -> None:
    helper_write = write("raw.other", 40, file="helpers/store.py")
    fn = function(writes=(RAW_WRITE, helper_write))
    analysis = Analysis((fn,), suppressions=(suppress(10, "CONF003"),))
    assert compare(analysis, registry(row(raw_table="raw.elsewhere")), config()) == ()


def test_suppression_of_another_code_does_not_match() -> None:
    fn = function(writes=(RAW_WRITE,), unresolved=(UNRESOLVED,))
    analysis = Analysis((fn,), suppressions=(suppress(25, "CONF014"),))
    found = compare(analysis, registry(CLEAN_ROW), config())
    assert codes(found) == ["CONF013", "CONF015"]
    assert "CONF014" in found[1].message and found[1].location == Location("ingest/company.py", 25)


def test_only_the_unused_code_of_a_suppression_is_reported() -> None:
    fn = function(writes=(RAW_WRITE,), unresolved=(UNRESOLVED,))
    analysis = Analysis((fn,), suppressions=(suppress(25, "CONF013", "CONF006"),))
    found = compare(analysis, registry(CLEAN_ROW), config())
    assert codes(found) == ["CONF015"]
    assert "CONF006" in found[0].message and "CONF013" not in found[0].message


def test_listing_conf015_keeps_an_unused_suppression_quiet() -> None:
    analysis = Analysis((), suppressions=(suppress(3, "CONF013", "CONF015"),))
    assert compare(analysis, registry(), config()) == ()


def test_suppression_codes_are_case_insensitive() -> None:
    fn = function(writes=(RAW_WRITE,), unresolved=(UNRESOLVED,))
    analysis = Analysis((fn,), suppressions=(suppress(25, " conf013"),))
    assert compare(analysis, registry(CLEAN_ROW), config()) == ()


def test_suppression_counts_as_used_when_its_rule_is_off() -> None:
    fn = function(writes=(RAW_WRITE,), unresolved=(UNRESOLVED,))
    analysis = Analysis((fn,), suppressions=(suppress(25, "CONF013"),))
    assert compare(analysis, registry(CLEAN_ROW), config(severity={"CONF013": "off"})) == ()


def test_a_helper_line_suppression_covers_every_function_reaching_it() -> None:
    shared = UnresolvedWrite(Location("helpers/any.py", 7), "dynamic")
    a = function("ingest_a", "ingest/a.py", unresolved=(shared,))
    b = function("ingest_b", "ingest/b.py", unresolved=(shared,))
    analysis = Analysis((a, b), suppressions=(suppress(7, "CONF013", file="helpers/any.py"),))
    reg = registry(row("a", "ingest_a"), row("b", "ingest_b"))
    assert compare(analysis, reg, config()) == ()


# -- severities and exclusions --------------------------------------------------------------------


def test_severity_override_and_off() -> None:
    fn = function(deployed=False, writes=(RAW_WRITE,))
    analysis = Analysis((fn,))
    found = compare(analysis, registry(), config())
    assert [(f.code, f.severity) for f in found] == [("CONF001", "error"), ("CONF009", "warning")]
    found = compare(analysis, registry(), config(severity={"CONF009": "error", "CONF001": "off"}))
    assert [(f.code, f.severity) for f in found] == [("CONF009", "error")]
    found = compare(analysis, registry(), config(severity={"CONF001": "warning"}))
    assert not has_errors(found) and has_errors(compare(analysis, registry(), config()))


@pytest.mark.parametrize(
    "pattern",
    [
        "ingest/legacy/**",
        "ingest/legacy/*",
        "ingest/legacy",
        "ingest/legacy/",
        "**/old.py",
        "./ingest/legacy/old.py",
        "*/legacy/*.py",
    ],
)
def test_exclude_drops_findings_in_matching_files(pattern: str) -> None:
    legacy = function("ingest_old", "ingest/legacy/old.py")
    current = function("ingest_new", "ingest/new.py")
    found = compare(Analysis((legacy, current)), registry(), config(exclude=(pattern,)))
    assert [f.function for f in found] == ["ingest.new.ingest_new"]


def test_exclude_drops_a_function_findings_located_in_helpers() -> None:
    legacy = function(
        "ingest_old",
        "ingest/legacy/old.py",
        writes=(write("public.log", 5, file="helpers/log.py"),),
    )
    found = compare(
        Analysis((legacy,)), registry(row(fn="ingest_old")), config(exclude=("ingest/legacy/**",))
    )
    assert found == ()


def test_exclude_drops_unused_suppressions_in_excluded_files() -> None:
    analysis = Analysis((), suppressions=(suppress(3, "CONF013", file="vendor/x.py"),))
    assert compare(analysis, registry(), config(exclude=("vendor",))) == ()


def test_is_excluded() -> None:
    assert is_excluded("a/b/c.py", ["a"])
    assert not is_excluded("ab/c.py", ["a"])
    assert is_excluded("c.py", ["**/c.py"])
    assert not is_excluded("a/c.py", [""])


# -- registry rows --------------------------------------------------------------------------------


def test_each_active_row_is_checked_on_its_own() -> None:
    fn = function(writes=(RAW_WRITE, write("core.companies", 30)))
    good = row(
        "company",
        raw_table="raw.company_payloads",
        core_table="core.companies",
        coalesces_to_core=True,
        writes=("raw.company_payloads", "core.companies"),
    )
    narrow = row("company-raw", raw_table="raw.company_payloads", writes=("raw.company_payloads",))
    found = compare(Analysis((fn,)), registry(good, narrow), config())
    assert [(f.code, f.slug) for f in found] == [
        ("CONF004", "company-raw"),
        ("CONF005", "company-raw"),
        ("CONF006", "company-raw"),
    ]
    assert all(f.location == Location("ingest/company.py", 30) for f in found)


def test_only_inactive_rows_and_not_deployed_is_retired_code() -> None:
    fn = function(deployed=False, writes=(RAW_WRITE,))
    found = compare(Analysis((fn,)), registry(replace(CLEAN_ROW, is_active=False)), config())
    assert codes(found) == ["CONF009"]


def test_row_may_name_the_deployed_name() -> None:
    fn = function(modal_name="company-ingest", writes=(RAW_WRITE,))
    found = compare(
        Analysis((fn,)),
        registry(replace(CLEAN_ROW, modal_function_name="company-ingest")),
        config(),
    )
    assert found == ()


def test_table_names_compare_case_insensitively_and_unqualified() -> None:
    fn = function(writes=(write("raw.Company_Payloads", 14),))
    found = compare(
        Analysis((fn,)),
        registry(row(raw_table="company_payloads", writes=("RAW.company_payloads",))),
        config(),
    )
    assert found == ()


def test_orphan_mentions_files_that_could_not_be_analysed() -> None:
    analysis = Analysis((), errors=(AnalysisError("ingest/broken.py", 3, "SyntaxError"),))
    found = compare(analysis, registry(row(line=4)), config())
    assert codes(found) == ["CONF002", "CONF016"]  # ../workflow_registry.yaml sorts first
    orphan = next(f for f in found if f.code == "CONF002")
    assert any("could not be analysed" in e for e in orphan.evidence)


# -- locations and evidence -----------------------------------------------------------------------


def test_registry_findings_point_at_the_registry_file_relative_to_the_source_root() -> None:
    reg = registry(row(line=4), source=str(PROJECT / "workflow_registry.yaml"))
    (finding,) = compare(Analysis(()), reg, config())
    assert finding.location == Location("../workflow_registry.yaml", 4)
    assert finding.evidence[0].startswith("row company (workflow_registry.yaml:4)")
    flat = Config(project_dir=PROJECT, source_root=PROJECT, required_columns=())
    (finding,) = compare(Analysis(()), registry(row(line=4)), flat)
    assert finding.location == Location("workflow_registry.yaml", 4)


def test_registry_from_a_database_has_no_file_location() -> None:
    reg = registry(row(line=None), source="postgresql://app@db/warehouse")
    (finding,) = compare(Analysis(()), reg, config())
    assert finding.location is None and finding.slug == "company"
    assert finding.to_dict()["file"] is None


def test_an_extra_column_that_differs_is_shown_by_apply_pending_and_the_plan() -> None:
    """An extra column (one the tool does not model) that differs between the database and the
    file is a CONF021 finding and a plan line, as a modelled one is."""
    fn = function(writes=(RAW_WRITE,))
    live = row(raw_table="raw.company_payloads", extra=(("workflow_type", "lookup"),))
    filed = replace(live, extra=(("workflow_type", "ingest"),), line=1)
    database = registry(live, source="postgresql://app@db/warehouse")
    (finding,) = compare(Analysis((fn,)), database, config(), file_registry=registry(filed))
    assert finding.code == "CONF021"
    assert "workflow_type: database 'lookup', file 'ingest'" in finding.evidence
    planned = plan(database, registry(filed))
    assert "    workflow_type: database 'lookup' -> file 'ingest'" in render_plan(planned)
    markdown = render_plan_markdown(planned, "reference.registry", None)
    assert r"workflow\_type: lookup → ingest" in markdown


def test_evidence_chain_runs_from_function_to_row() -> None:
    path = (
        CallStep("ingest.company.ingest_company", Location("ingest/company.py", 20)),
        CallStep("helpers.store.store_raw", Location("helpers/store.py", 38)),
    )
    helper = write("raw.signal_payloads", 40, file="helpers/store.py", call_path=path)
    fn = function(writes=(helper,))
    (finding,) = compare(Analysis((fn,)), registry(replace(CLEAN_ROW, line=3)), config())
    assert finding.code == "CONF003"
    assert finding.location == Location("helpers/store.py", 40)
    assert finding.function == "ingest.company.ingest_company"
    ev = finding.evidence
    assert ev[0].startswith("function ingest.company.ingest_company (ingest/company.py:10")
    assert ev[1] == "call in ingest.company.ingest_company at ingest/company.py:20"
    assert ev[2] == "call in helpers.store.store_raw at helpers/store.py:38"
    assert ev[3] == "write insert at helpers/store.py:40"
    assert ev[4].startswith("table raw.signal_payloads")
    assert ev[5] == "row company (workflow_registry.yaml:3): raw_table = raw.company_payloads"


def test_secret_message_shows_only_the_masked_value() -> None:
    secret = SecretLiteral(Location("config.py", 5), "postgresql://app:****@db/w", "database URL")
    (finding,) = compare(Analysis((), secrets=(secret,)), registry(), config())
    assert "****" in finding.message and finding.code == "CONF017"


def test_host_label() -> None:
    assert host_label("acme", "ingest", "load_company.v2") == "acme--ingest-load-company-v2"


# -- determinism and grouping ---------------------------------------------------------------------


def _busy_project() -> tuple[Analysis, Registry]:
    fns = tuple(
        function(
            f"ingest_{i}",
            f"ingest/m{i % 3}.py",
            line=10 + i,
            deployed=i % 2 == 0,
            writes=(
                write(f"raw.t{i}", 20 + i, file=f"ingest/m{i % 3}.py"),
                write("public.log", 5, file="helpers/log.py"),
            ),
            unresolved=(UNRESOLVED,) if i % 4 == 0 else (),
        )
        for i in range(8)
    )
    rows = tuple(
        row(f"slug-{i}", f"ingest_{i}", raw_table=f"raw.t{i + i % 2}", line=i * 5 + 1)
        for i in range(10)
    )
    return Analysis(fns), registry(*rows)


def test_output_is_sorted_and_independent_of_input_order() -> None:
    analysis, reg = _busy_project()
    found = compare(analysis, reg, config())
    assert found and list(found) == sorted(found, key=lambda f: f.sort_key)
    rng = random.Random(7)
    fns, rows = list(analysis.functions), list(reg.entries)
    for _ in range(5):
        rng.shuffle(fns)
        rng.shuffle(rows)
        assert compare(Analysis(tuple(fns)), registry(*rows), config()) == found


def test_group_findings_keys_every_function_plus_registry_and_project() -> None:
    analysis, reg = _busy_project()
    analysis = replace(analysis, errors=(AnalysisError("ingest/x.py", 1, "boom"),))
    groups = group_findings(analysis, compare(analysis, reg, config()))
    assert set(groups) == {fn.test_id for fn in analysis.functions} | {
        REGISTRY_GROUP,
        PROJECT_GROUP,
    }
    assert {f.code for f in groups[REGISTRY_GROUP]} == {"CONF002"}
    assert {f.code for f in groups[PROJECT_GROUP]} == {"CONF016"}
    assert {f.code for f in groups["ingest/m1.py::ingest_1"]} >= {"CONF003", "CONF009"}


def test_a_site_reached_along_several_paths_is_reported_once() -> None:
    near = (CallStep("ingest.company.ingest_company", Location("ingest/company.py", 20)),)
    far = (*near, CallStep("helpers.log.log", Location("helpers/log.py", 3)))
    log_near = write("public.log", 5, file="helpers/log.py", call_path=near)
    log_far = write("public.log", 5, file="helpers/log.py", call_path=far)
    dyn = UnresolvedWrite(Location("helpers/log.py", 9), "dynamic", far)
    fn = function(writes=(log_far, log_near), unresolved=(dyn, replace(dyn, call_path=near)))
    found = compare(Analysis((fn,)), registry(row()), config())
    assert codes(found) == ["CONF014", "CONF013"]
    assert sum("call in" in e for e in found[0].evidence) == 1  # the shortest path
