"""The bundled example's registries: the drifted one shows every rule, the clean one only the
findings a registry cannot fix.

A new rule in ``conformance.rules`` without a demonstration in
``examples/warehouse/workflow_registry.yaml`` (or its code) fails here.
"""

from __future__ import annotations

import re
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
def _demonstrations() -> dict[str, list[tuple[str, str]]]:
    """What workflow_registry.yaml says each rule is demonstrated by, read from its comments:
    ``# CONFxxx ...`` right above an entry (``("row", slug)``), and, in the list at its end,
    ``# - CONFxxx name: ... FILE[:NAME]`` (``("code", FILE)``, the first ``.py`` or ``.toml``
    file the line names)."""
    found: dict[str, list[tuple[str, str]]] = {}
    pending: list[str] = []
    text = (EXAMPLE / "workflow_registry.yaml").read_text(encoding="utf-8")
    for line in text.splitlines():
        stripped = line.strip()
        listed = re.match(r"# - (CONF\d{3}) [a-z-]+: .*?([\w/]+\.(?:py|toml))\b", stripped)
        if listed:
            found.setdefault(listed.group(1), []).append(("code", listed.group(2)))
            continue
        if stripped.startswith("#") and line.startswith("  "):
            pending += re.findall(r"\b(CONF\d{3})\b", stripped)[:1] if not pending else []
            continue
        entry = re.match(r"- workflow_slug: (\S+)", stripped)
        if entry and pending:
            for code in pending:
                found.setdefault(code, []).append(("row", entry.group(1)))
        pending = []
    return found


DEMONSTRATIONS = _demonstrations()

# Rules that only a check against the database shows (the committed file beside it): shown by
# applying registry.clean.yaml without one entry to a real PostgreSQL and checking the
# example against it (test_database_rules_show_against_a_database).
DATABASE_DEMONSTRATIONS: dict[str, list[str]] = {"CONF021": ["tech-stack"]}

# Findings about the code (or the settings) itself: no registry can make them go away.
RESIDUAL = {"CONF009", "CONF012", "CONF013", "CONF015", "CONF016", "CONF017", "CONF022"}


@pytest.fixture(scope="module")
def drifted() -> CheckResult:
    return check(EXAMPLE, Options(use_cache=False, jobs=1))


@pytest.fixture(scope="module")
def clean() -> CheckResult:
    return check(EXAMPLE, Options(use_cache=False, jobs=1), registry=str(CLEAN))


def _codes(findings: tuple[Finding, ...]) -> set[str]:
    return {f.code for f in findings}


def _shows(f: Finding, kind: str, where: str, registry: CheckResult) -> bool:
    """Whether finding ``f`` is about the demonstrating row (by its slug, or the function it
    names) or the demonstrating file."""
    if kind == "code":
        module = where.removesuffix(".py").replace("/", ".")
        in_file = f.location is not None and (
            f.location.file == where or f.location.file.endswith("/" + where)
        )
        return in_file or (f.function or "").startswith(module + ".")
    names = {e.modal_function_name for e in registry.registry.entries if e.workflow_slug == where}
    named = {
        f"{fn.module}.{fn.name}"
        for fn in registry.analysis.functions
        if fn.name in names or fn.modal_name in names
    }
    return f.slug == where or f.function in named


def test_the_example_uses_the_drifted_registry(drifted: CheckResult) -> None:
    assert Path(drifted.registry.source).resolve() == EXAMPLE / "workflow_registry.yaml"


def test_every_rule_fires_on_the_drifted_registry(drifted: CheckResult) -> None:
    missing = sorted(set(RULES_BY_CODE) - set(DATABASE_DEMONSTRATIONS) - _codes(drifted.findings))
    assert not missing, f"no demonstration in examples/warehouse for {missing}"
    assert drifted.has_errors


def test_every_rule_has_a_documented_demonstration() -> None:
    assert sorted([*DEMONSTRATIONS, *DATABASE_DEMONSTRATIONS]) == sorted(RULES_BY_CODE)


@pytest.mark.postgres
def test_database_rules_show_against_a_database(pg_db: str) -> None:
    from conformance.model import Registry
    from conformance.registry.file import load_registry_file
    from conformance.registry.postgres import apply

    clean = load_registry_file(CLEAN)
    applied = [e for e in clean.entries if e.workflow_slug != "tech-stack"]
    apply(pg_db, Registry(tuple(applied), str(CLEAN)))
    result = check(EXAMPLE, Options(jobs=1), registry=pg_db)
    for code, demonstrations in DATABASE_DEMONSTRATIONS.items():
        found = [f for f in result.findings if f.code == code]
        for slug in demonstrations:
            assert any(f.slug == slug for f in found), (code, found)
    pending = next(f for f in result.findings if f.slug == "tech-stack" and f.code == "CONF021")
    assert "not in the database" in pending.message and "register" not in pending.message
    assert pending.location is not None and pending.location.file == "../../workflow_registry.yaml"
    # registered in the file, missing from the database: pending, never "unregistered"
    assert not [
        f for f in result.findings if f.code == "CONF001" and f.function == pending.function
    ]


@pytest.mark.parametrize("code", sorted(DEMONSTRATIONS))
def test_each_drifted_entry_shows_its_rule(drifted: CheckResult, code: str) -> None:
    found = [f for f in drifted.findings if f.code == code]
    for kind, where in DEMONSTRATIONS[code]:
        assert any(_shows(f, kind, where, drifted) for f in found), (
            f"{code} not reported for the {kind} {where}; got "
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
    """Fixing drift drops no workflow (the duplicate and the invalid entry were never loaded);
    it adds the missing one, and gives back the slug the code uses (CONF019). The row of the
    function outside ingest/ is fixed in the settings, not the registry: the clean run leaves
    it out."""
    before = {e.workflow_slug for e in drifted.registry.entries}
    before -= {"company-discoveries", "icp-generation"}
    after = {e.workflow_slug for e in clean.registry.entries}
    added = {"linkedin-person-profiles", "person-profile-refresh", "company-discovery"}
    assert before | added == after


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
    missing = [
        code
        for code in RULES_BY_CODE
        if f" {code} " not in result.stdout and code not in DATABASE_DEMONSTRATIONS
    ]
    assert not missing, result.stdout


def test_cli_check_with_the_clean_registry() -> None:
    result = _cli("examples/warehouse", "--registry", str(CLEAN))
    assert result.returncode == 1, result.stderr
    shown = {code for code in RULES_BY_CODE if f" {code} " in result.stdout}
    assert shown == RESIDUAL, result.stdout


def test_the_stale_ingest_entry_is_reported(drifted: CheckResult) -> None:
    found = [f for f in drifted.findings if f.code == "CONF022"]
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


def test_a_finding_about_the_settings_points_at_the_setting(drifted: CheckResult) -> None:
    (found,) = [f for f in drifted.findings if f.code == "CONF022"]
    assert found.location is not None
    assert found.location.file == "../../pyproject.toml"
    line = (EXAMPLE / "pyproject.toml").read_text().splitlines()[found.location.line - 1]
    assert line.startswith("ingest = ")
