"""The bundled example's registries: the drifted one shows every rule, the clean one only the
findings a registry cannot fix.

A new rule in ``conformance.rules`` without a demonstration in
``examples/warehouse/workflow_registry.yaml`` (or its code) fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.api import CheckResult, Options, check
from conformance.model import Finding
from conformance.rules import RULES_BY_CODE

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "warehouse"
CLEAN = EXAMPLE / "registry.clean.yaml"

# What each drifted entry (or code fact) demonstrates: code → (row slug, qualified function, file).
# None matches anything. Keep in step with the comments in workflow_registry.yaml.
DEMONSTRATIONS: dict[str, list[tuple[str | None, str | None, str | None]]] = {
    "CONF001": [(None, "ingest.people.refresh_person_profiles", None)],
    "CONF002": [("company-signals-v1", None, None), ("partial-payloads", None, None)],
    "CONF003": [("web-traffic", "ingest.web_traffic.poll_web_traffic", None)],
    "CONF004": [("news-mentions", "ingest.news_mentions.ingest_news_mentions", None)],
    "CONF005": [("hiring-signals", "ingest.hiring_signals.derive_hiring_signals", None)],
    "CONF006": [("company-tags", "ingest.company_tags.tag_companies", None)],
    "CONF007": [("tech-stack", "ingest.tech_stack.refresh_tech_stack", None)],
    "CONF008": [(None, "ingest.legacy_forms.legacy_form_intake", None)],
    "CONF009": [(None, "ingest.legacy_crunchbase.backfill_crunchbase_legacy", None)],
    "CONF010": [("linkedin-person-profiles", None, None)],
    "CONF011": [("person-enrichment", None, None)],
    "CONF012": [(None, "ingest.web_traffic.ingest_traffic_benchmarks", None)],
    "CONF013": [(None, "ingest.replay.replay_failed_payloads", None)],
    "CONF014": [(None, "ingest.case_studies.ingest_case_studies", None)],
    "CONF015": [(None, None, "ingest/reviews.py")],
    "CONF016": [(None, None, "ingest/broken_syntax.py")],
    "CONF017": [(None, None, "common/db.py")],
    "CONF018": [("g2-reviews", "ingest.reviews.ingest_reviews", None)],
    "CONF030": [(None, None, None)],
}

# Findings about the code (or the settings) itself: no registry can make them go away.
RESIDUAL = {"CONF009", "CONF012", "CONF013", "CONF015", "CONF016", "CONF017", "CONF030"}


@pytest.fixture(scope="module")
def drifted() -> CheckResult:
    return check(EXAMPLE, Options(use_cache=False, jobs=1))


@pytest.fixture(scope="module")
def clean() -> CheckResult:
    return check(EXAMPLE, Options(use_cache=False, jobs=1), registry=str(CLEAN))


def _codes(findings: tuple[Finding, ...]) -> set[str]:
    return {f.code for f in findings}


def _matches(f: Finding, slug: str | None, function: str | None, file: str | None) -> bool:
    return (
        (slug is None or f.slug == slug)
        and (function is None or f.function == function)
        and (file is None or (f.location is not None and f.location.file == file))
    )


def test_the_example_uses_the_drifted_registry(drifted: CheckResult) -> None:
    assert Path(drifted.registry.source).resolve() == EXAMPLE / "workflow_registry.yaml"


def test_every_rule_fires_on_the_drifted_registry(drifted: CheckResult) -> None:
    missing = sorted(set(RULES_BY_CODE) - _codes(drifted.findings))
    assert not missing, f"no demonstration in examples/warehouse for {missing}"
    assert drifted.has_errors


def test_every_rule_has_a_documented_demonstration() -> None:
    assert sorted(DEMONSTRATIONS) == sorted(RULES_BY_CODE)


@pytest.mark.parametrize("code", sorted(DEMONSTRATIONS))
def test_each_drifted_entry_shows_its_rule(drifted: CheckResult, code: str) -> None:
    found = [f for f in drifted.findings if f.code == code]
    for slug, function, file in DEMONSTRATIONS[code]:
        assert any(_matches(f, slug, function, file) for f in found), (
            f"{code} not reported for slug={slug} function={function} file={file}; got "
            + "; ".join(f.message for f in found)
        )


def test_the_suppression_on_load_rows_is_used(drifted: CheckResult) -> None:
    load_rows = "ingest.generic_loader.load_rows"
    assert any(
        fn.modal_name == "generic-loader" and fn.unresolved for fn in drifted.analysis.functions
    )
    assert not [f for f in drifted.findings if f.code == "CONF013" and f.function == load_rows]
    assert not [
        f
        for f in drifted.findings
        if f.code == "CONF015" and f.location and f.location.file == "ingest/generic_loader.py"
    ]


def test_the_clean_registry_leaves_only_code_findings(clean: CheckResult) -> None:
    assert not clean.registry.problems
    assert _codes(clean.findings) == RESIDUAL
    assert all(f.slug is None for f in clean.findings), [f.message for f in clean.findings]
    # CONF012, CONF016 and CONF017 are errors, so the check still fails: the code must change.
    assert {f.code for f in clean.findings if f.severity == "error"} == {
        "CONF012",
        "CONF016",
        "CONF017",
    }


def test_the_clean_registry_has_the_drifted_ones_slugs(
    drifted: CheckResult, clean: CheckResult
) -> None:
    """Fixing drift never renames or drops a workflow (the duplicate and the invalid entry were
    never loaded); it adds the missing one."""
    before = {e.workflow_slug for e in drifted.registry.entries}
    after = {e.workflow_slug for e in clean.registry.entries}
    assert before | {"linkedin-person-profiles", "person-profile-refresh"} == after


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", "check", *args, "--no-cache", "--jobs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_check_shows_every_code_and_exits_1() -> None:
    result = _cli("examples/warehouse")
    assert result.returncode == 1, result.stderr
    missing = [code for code in RULES_BY_CODE if f" {code} " not in result.stdout]
    assert not missing, result.stdout


def test_cli_check_with_the_clean_registry() -> None:
    result = _cli("examples/warehouse", "--registry", str(CLEAN))
    assert result.returncode == 1, result.stderr
    shown = {code for code in RULES_BY_CODE if f" {code} " in result.stdout}
    assert shown == RESIDUAL, result.stdout


def test_the_stale_ingest_entry_is_reported(drifted: CheckResult) -> None:
    found = [f for f in drifted.findings if f.code == "CONF030"]
    assert [f.message for f in found] == [
        "the ingest entry 'ingest_v1' matches no Python file under the source root "
        "modal-functions/src"
    ]
    assert found[0].severity == "warning" and drifted.exit_code == 1


def test_the_multi_app_example_checks_clean_but_for_its_undeployed_refund() -> None:
    """examples/multiapp: three Apps, deployed by a configured entry point and from their own
    files; the only finding is the function that no deploy imports."""
    result = check(ROOT / "examples" / "multiapp", Options(use_cache=False, jobs=1))
    assert [(f.code, f.function) for f in result.findings] == [
        ("CONF009", "billing.refunds.refund")
    ]
    assert result.exit_code == 0
