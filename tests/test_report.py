"""Every renderer: scan text/JSON, check text/JSON/SARIF/GitHub/JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance.config import Config
from conformance.model import (
    FUNCTION_KINDS,
    VIA,
    WRITE_OPERATIONS,
    Analysis,
    AnalysisError,
    CallStep,
    Finding,
    IngestFunction,
    Invocation,
    Location,
    Registry,
    RegistryEntry,
    RpcCall,
    Suppression,
    TableWrite,
    UnresolvedWrite,
)
from conformance.report import (
    CHECK_FORMATS,
    escape_data,
    escape_property,
    render_check,
    render_check_json,
    render_check_text,
    render_github,
    render_github_summary,
    render_junit,
    render_sarif,
    render_scan,
    render_scan_json,
    render_scan_text,
)
from conformance.rules import RULES, RULES_BY_CODE
from conformance.rules import evaluate as compare

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text(encoding="utf-8"))
PROJECT = Path("/project")
CONFIG = Config(project_dir=PROJECT, source_root=PROJECT / "src")


def _write(
    table: str, op: str, file: str, line: int, via: str = "literal", **kw: Any
) -> TableWrite:
    schema, name = table.split(".")
    return TableWrite(schema, name, op, Location(file, line), via, **kw)


SIGNALS = IngestFunction(
    name="ingest_company_signals",
    module="ingest.company_signals",
    file="ingest/company_signals.py",
    line=12,
    kind="web",
    deployed=True,
    modal_name="ingest-company-signals",
    app_name="warehouse-ingest",
    writes=(
        _write("raw.signal_payloads", "insert", "ingest/company_signals.py", 30),
        _write(
            "extracted.company_signals",
            "upsert",
            "extraction/company.py",
            45,
            "constant",
            call_path=(
                CallStep(
                    "ingest.company_signals.ingest_company_signals",
                    Location("ingest/company_signals.py", 20),
                ),
            ),
        ),
        _write("core.companies", "upsert", "extraction/company.py", 60),
        _write("public.scrape_log", "insert", "ingest/company_signals.py", 70, "default-schema"),
    ),
    unresolved=(UnresolvedWrite(Location("ingest/company_signals.py", 80), "table from request"),),
    rpc=(
        RpcCall("merge_company", Location("ingest/company_signals.py", 90)),
        RpcCall(None, Location("ingest/company_signals.py", 91)),
    ),
    invokes=(Invocation("enrich_company", "spawn", Location("ingest/company_signals.py", 95)),),
)
BACKFILL = IngestFunction(
    name="backfill_companies",
    module="ingest.backfill",
    file="ingest/backfill.py",
    line=8,
    kind="scheduled",
    deployed=False,
    modal_name="backfill_companies",
)
ANALYSIS = Analysis(
    functions=(SIGNALS, BACKFILL),
    errors=(AnalysisError("ingest/broken.py", 3, "SyntaxError: expected ':'"),),
    suppressions=(Suppression(Location("ingest/backfill.py", 2), ("CONF013",), "stale"),),
)
REGISTRY = Registry(
    entries=(
        RegistryEntry(
            "company-signals",
            "ingest-company-signals",
            raw_table="raw.signal_payloads",
            extracted_table="extracted.company_signals",
            line=1,
        ),
        RegistryEntry("company-legacy", "ingest_company_v1", line=9),
    ),
    source=str(PROJECT / "workflow_registry.yaml"),
)
FINDINGS = compare(ANALYSIS, REGISTRY, CONFIG)


def test_fixture_exercises_registry_function_and_project_findings() -> None:
    assert {
        "CONF001",
        "CONF002",
        "CONF004",
        "CONF005",
        "CONF009",
        "CONF013",
        "CONF014",
        "CONF015",
        "CONF016",
    } <= {f.code for f in FINDINGS}


def _validate(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA, format_checker=None).validate(doc)


# -- scan -----------------------------------------------------------------------------------------


def test_scan_text_groups_writes_by_layer() -> None:
    text = render_scan_text(ANALYSIS)
    block = text.split("\n\n")[0]
    assert block.startswith("ingest_company_signals  ingest/company_signals.py:12\n")
    assert "web · deployed · modal name ingest-company-signals · app warehouse-ingest" in block
    headings = [
        line.strip()
        for line in block.splitlines()
        if line.startswith("  ") and not line.startswith("    ")
    ]
    assert headings[1:] == ["raw", "extracted", "core", "other", "unresolved", "rpc", "invokes"]
    assert "upsert  extracted.company_signals  extraction/company.py:45" in block
    assert "via constant" in block and "via default-schema" in block
    assert "ingest/company_signals.py:80  table from request" in block
    assert "(name not static)" in block and "enrich_company.spawn" in block
    assert "backfill_companies  ingest/backfill.py:8" in text and "writes: none" in text
    assert "errors\n  ingest/broken.py:3  SyntaxError" in text
    assert text.rstrip().endswith(
        "2 functions (1 deployed), 4 writes, 1 unresolved, 1 file not analysed"
    )


def test_scan_text_path_prefix() -> None:
    text = render_scan_text(ANALYSIS, path_prefix="modal-functions/src")
    assert "modal-functions/src/extraction/company.py:45" in text
    assert "modal-functions/src/ingest/broken.py:3" in text


def test_scan_json_is_the_analysis_plus_version_and_valid() -> None:
    doc = json.loads(render_scan_json(ANALYSIS))
    _validate(doc)
    assert doc["functions"] == ANALYSIS.to_dict()["functions"]
    assert isinstance(doc["version"], str) and "findings" not in doc


def test_scan_json_path_prefix_reaches_nested_files() -> None:
    doc = json.loads(render_scan_json(ANALYSIS, path_prefix="modal-functions/src/"))
    _validate(doc)
    write = doc["functions"][0]["writes"][1]
    assert write["file"] == "modal-functions/src/extraction/company.py"
    assert write["call_path"][0]["file"] == "modal-functions/src/ingest/company_signals.py"


def test_schema_requires_the_documented_fields() -> None:
    doc = json.loads(render_scan_json(ANALYSIS))
    for path in (
        ("functions", 0, "modal_name"),
        ("functions", 0, "writes", 0, "via"),
        ("functions", 0, "unresolved", 0, "reason"),
        ("errors", 0, "message"),
    ):
        broken = json.loads(json.dumps(doc))
        parent = broken
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        with pytest.raises(jsonschema.ValidationError):
            _validate(broken)
    with pytest.raises(jsonschema.ValidationError):
        _validate({"functions": []})


def test_schema_enums_follow_the_model() -> None:
    defs = SCHEMA["$defs"]
    assert tuple(defs["write"]["properties"]["operation"]["enum"]) == WRITE_OPERATIONS
    assert tuple(defs["write"]["properties"]["via"]["enum"]) == VIA
    assert tuple(defs["function"]["properties"]["kind"]["enum"]) == FUNCTION_KINDS


# -- check text and JSON --------------------------------------------------------------------------


def test_check_text_shows_findings_with_evidence_and_a_summary() -> None:
    text = render_check_text(ANALYSIS, FINDINGS, path_prefix="src")
    assert (
        "src/extraction/company.py:60: error CONF004 [undeclared-layer-write] "
        "ingest_company_signals writes core.companies in core"
    ) in text
    assert "workflow_registry.yaml:9: error CONF002 [orphan-row] row company-legacy" in text
    assert "\n    function ingest.company_signals.ingest_company_signals (" in text
    last = text.rstrip().splitlines()[-1]
    errors = sum(f.severity == "error" for f in FINDINGS)
    warnings = len(FINDINGS) - errors
    assert last.startswith(f"2 functions checked: {errors} errors, {warnings} warnings (CONF")


def test_check_text_without_findings() -> None:
    assert render_check_text(ANALYSIS, ()) == "2 functions checked: no findings\n"


def test_check_json_validates_and_carries_findings() -> None:
    doc = json.loads(render_check_json(ANALYSIS, FINDINGS, path_prefix="src"))
    _validate(doc)
    assert len(doc["findings"]) == len(FINDINGS)
    assert doc["summary"]["findings"] == len(FINDINGS)
    orphan = next(f for f in doc["findings"] if f["code"] == "CONF002")
    assert (orphan["file"], orphan["line"], orphan["slug"]) == (
        "workflow_registry.yaml",
        9,
        "company-legacy",
    )
    assert orphan["name"] == "orphan-row"
    assert doc["functions"][0]["file"] == "src/ingest/company_signals.py"


def test_registry_findings_without_location_use_the_registry_file() -> None:
    finding = Finding("CONF002", "error", "row x names nothing", slug="x", evidence=("row x",))
    doc = json.loads(render_check_json(ANALYSIS, (finding,), registry_file="registry.yaml"))
    _validate(doc)
    assert (doc["findings"][0]["file"], doc["findings"][0]["line"]) == ("registry.yaml", None)
    assert render_check_text(ANALYSIS, (finding,)).startswith("(registry): error CONF002")


# -- SARIF ----------------------------------------------------------------------------------------


def test_sarif_structure() -> None:
    log = json.loads(
        render_sarif(FINDINGS, path_prefix="modal-functions/src", registry_file="r.yaml")
    )
    assert log["version"] == "2.1.0" and "sarif-schema-2.1.0" in log["$schema"]
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "conformance" and driver["version"]
    assert [r["id"] for r in driver["rules"]] == list(RULES_BY_CODE)
    for r in driver["rules"]:
        assert r["fullDescription"]["text"]
        assert r["shortDescription"]["text"] and r["help"]["text"]
        assert r["defaultConfiguration"]["level"] in ("error", "warning")
        assert f"docs/rules.md#{r['id'].lower()}-{r['name']}" in r["help"]["markdown"]
    assert len(run["results"]) == len(FINDINGS)
    for res, f in zip(run["results"], FINDINGS, strict=True):
        assert res["ruleId"] == f.code and driver["rules"][res["ruleIndex"]]["id"] == f.code
        assert res["level"] == f.severity and res["message"]["text"].startswith(f.message)
        (loc,) = res["locations"]
        phys = loc["physicalLocation"]
        assert not phys["artifactLocation"]["uri"].startswith(("/", "../"))
        assert phys["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert phys["region"]["startLine"] >= 1
        assert res["partialFingerprints"]
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert "modal-functions/src/ingest/company_signals.py" in uris
    assert run["automationDetails"] == {"id": "conformance/"}


def test_sarif_without_a_repository_url_has_no_help_uri_and_with_one_links_the_tag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conformance import __version__
    from conformance.rules import docs

    log = json.loads(render_sarif(FINDINGS))
    driver = log["runs"][0]["tool"]["driver"]
    assert "informationUri" not in driver and all("helpUri" not in r for r in driver["rules"])
    monkeypatch.setattr(docs, "repository_url", lambda: "https://git.example/acme/wc")
    log = json.loads(render_sarif(FINDINGS))
    driver = log["runs"][0]["tool"]["driver"]
    url = f"https://git.example/acme/wc/blob/v{__version__}/docs/rules.md"
    assert driver["informationUri"] == url
    assert driver["rules"][0]["helpUri"] == f"{url}#conf001-unregistered-function"


def test_sarif_registry_location_and_uri_quoting() -> None:
    finding = Finding("CONF002", "error", "orphan", slug="x")
    log = json.loads(render_sarif((finding,), registry_file="my registry.yaml"))
    phys = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert phys == {
        "artifactLocation": {"uri": "my%20registry.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1},
    }
    # no registry file named (a database registry configured in the settings): the settings
    bare = json.loads(render_sarif((finding,)))
    (location,) = bare["runs"][0]["results"][0]["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "pyproject.toml"


def test_sarif_registry_file_relative_to_the_project_with_columns() -> None:
    columns = {Location("../workflow_registry.yaml", 9): 3}
    log = json.loads(
        render_sarif(FINDINGS, path_prefix="src", columns=columns, base_uri="file:///repo/")
    )
    run = log["runs"][0]
    orphan = next(r for r in run["results"] if r["ruleId"] == "CONF002")
    phys = orphan["locations"][0]["physicalLocation"]
    assert phys == {
        "artifactLocation": {"uri": "workflow_registry.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 9, "startColumn": 3},
    }
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///repo/"}}


def test_sarif_is_valid_against_the_official_schema_and_githubs_rules() -> None:
    from standards import validate_sarif

    for kwargs in (
        {"path_prefix": "modal-functions/src", "registry_file": "workflow_registry.yaml"},
        {"path_prefix": "src/", "automation_id": "conformance/database/"},
        {
            "path_prefix": "src",
            "columns": {Location("ingest/backfill.py", 8): 5},
            "base_uri": "file:///r/",
        },
    ):
        validate_sarif(json.loads(render_sarif(FINDINGS, **kwargs)))  # type: ignore[arg-type]
    validate_sarif(json.loads(render_sarif(())))


def test_an_invalid_sarif_log_fails_the_validation() -> None:
    from standards import validate_sarif

    log = json.loads(render_sarif(FINDINGS))
    log["runs"][0]["results"][0]["level"] = "fatal"  # not a SARIF level
    with pytest.raises(AssertionError, match="level"):
        validate_sarif(log)
    log = json.loads(render_sarif(FINDINGS))
    log["runs"][0]["results"][0]["locations"] = []  # valid SARIF, refused by GitHub
    with pytest.raises(AssertionError, match="without one"):
        validate_sarif(log)


# -- GitHub ---------------------------------------------------------------------------------------


def test_github_escaping() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_github_annotations() -> None:
    lines = render_github(FINDINGS, path_prefix="src").splitlines()
    assert len(lines) == len(FINDINGS)
    first = next(line for line in lines if "CONF001" in line)
    assert first.startswith(
        "::error file=src/ingest/backfill.py,line=8,title=CONF001 unregistered-function::"
    )
    assert "%0Afunction ingest.backfill.backfill_companies" in first
    assert "\n" not in first
    warning = next(line for line in lines if "title=CONF009" in line)
    assert warning.startswith("::warning ")
    assert render_github(()) == ""


def test_github_annotation_properties_are_escaped() -> None:
    finding = Finding("CONF016", "error", "bad: 50%", Location("odd,dir/a:b.py", 3))
    (line,) = render_github((finding,)).splitlines()
    assert line == (
        "::error file=odd%2Cdir/a%3Ab.py,line=3,title=CONF016 analysis-error::bad: 50%25"
    )


def test_github_summary_markdown() -> None:
    pipe = Finding("CONF016", "error", "a | b\nc", Location("ingest/x.py", 1))
    md = render_github_summary(ANALYSIS, (*FINDINGS, pipe), path_prefix="src")
    assert md.startswith("### conformance: 2 functions checked: ")
    assert "| Code | Rule | Severity | Count |" in md
    assert "| CONF002 | orphan-row |" in md  # no absolute docs URL known: no link
    assert "| error | CONF016 | src/ingest/x\\.py:1 | a \\| b c |" in md
    assert render_github_summary(ANALYSIS, ()).startswith(
        "### conformance: 2 functions checked: no findings"
    )


# -- JUnit ----------------------------------------------------------------------------------------


def test_junit_one_case_per_function_plus_registry_and_project() -> None:
    root = ET.fromstring(
        render_junit(ANALYSIS, FINDINGS, path_prefix="src", registry_file="workflow_registry.yaml")
    )
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    assert list(cases) == [
        ("ingest.company_signals", "ingest_company_signals"),
        ("ingest.backfill", "backfill_companies"),
        ("conformance", "registry"),
        ("conformance", "project"),
    ]
    assert suite.get("tests") == "4" and suite.get("failures") == root.get("failures") == "4"
    assert suite.get("file") == "workflow_registry.yaml"
    backfill = cases[("ingest.backfill", "backfill_companies")]
    assert backfill.get("file") is None and backfill.get("line") is None  # not in the schema
    failure = backfill.find("failure")
    assert failure is not None and failure.get("type") == "CONF001"
    assert "conformance register backfill_companies" in (failure.text or "")
    assert "src/ingest/backfill.py:8" in (failure.text or "")
    out = backfill.find("system-out")
    assert out is not None and "CONF009" in (out.text or "")
    project = cases[("conformance", "project")].find("failure")
    assert "CONF016" in (project.text or "")  # type: ignore[union-attr]


def test_junit_passing_cases_and_unsafe_characters() -> None:
    finding = Finding("CONF016", "error", "bad byte \x00 here", Location("ingest/x.py", 1))
    root = ET.fromstring(render_junit(ANALYSIS, (finding,)))
    cases = list(root.iter("testcase"))
    assert [c.find("failure") is None for c in cases] == [True, True, True, False]
    assert root.get("failures") == "1"


def test_junit_is_valid_against_junit_10_xsd() -> None:
    from standards import validate_junit

    validate_junit(render_junit(ANALYSIS, FINDINGS, path_prefix="src", registry_file="r.yaml"))
    validate_junit(render_junit(ANALYSIS, ()))
    bad = render_junit(ANALYSIS, FINDINGS).replace("<testcase ", '<testcase line="3" ', 1)
    with pytest.raises(AssertionError):
        validate_junit(bad)  # the attribute 0.1.0 wrote: the schema has none


# -- all renderers --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", CHECK_FORMATS)
def test_check_renderers_share_a_signature_and_never_print(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = render_check(fmt, ANALYSIS, FINDINGS, path_prefix="src", registry_file="r.yaml")
    assert out.endswith("\n") and out == render_check(
        fmt, ANALYSIS, FINDINGS, path_prefix="src", registry_file="r.yaml"
    )
    assert capsys.readouterr() == ("", "")
    assert len(RULES) == len(RULES_BY_CODE)


def test_unknown_formats_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown check format"):
        render_check("html", ANALYSIS, FINDINGS)
    with pytest.raises(ValueError, match="unknown scan format"):
        render_scan("html", ANALYSIS)
    assert render_scan("json", ANALYSIS) == render_scan_json(ANALYSIS)


def test_dump_json_is_json_with_outer_levels_one_member_per_line() -> None:
    from conformance.report.common import dump_json

    data = {
        "version": "1",
        "functions": [{"name": "f", "writes": [{"table": "t", "path": [1, 2]}], "none": []}],
        "errors": [],
        "odd": {'ä"': None, "n": 1.5},
    }
    text = dump_json(data)
    assert json.loads(text) == data
    assert text.endswith("}\n")
    lines = text.splitlines()
    assert '  "errors": [],' in lines
    assert '        {"table": "t", "path": [1, 2]}' in lines  # the fifth level stays on one line
    assert '    "\\u00e4\\"": null,' not in lines and '    "ä\\"": null,' in lines
    assert dump_json([]) == "[]\n" and dump_json("x") == '"x"\n'


def _rebased(value: object, prefix: str) -> object:
    """The reference: every string ``"file"`` member under ``prefix``, at any depth."""
    from conformance.report.common import out_path

    if isinstance(value, dict):
        return {
            k: out_path(v, prefix) if k == "file" and isinstance(v, str) else _rebased(v, prefix)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rebased(v, prefix) for v in value]
    return value


@pytest.mark.parametrize("levels", [0, 1, 2, 4, 6])
def test_dump_json_puts_every_file_member_under_the_prefix(levels: int) -> None:
    from conformance.report.common import dump_json

    hostile = 'a "file": "b\\\\c.py'
    data = {
        "file": "top.py",
        "profile": "not/a/path.py",
        "functions": [
            {
                "file": "ingest/x.py",
                "name": '"file": "fake.py"',
                "writes": [{"file": hostile, "path": [{"file": "deep/é.py", "line": 3}]}],
                "errors": [{"file": None}, {"file": 7}, {"a_file": "z.py"}],
            }
        ],
        "findings": [{"file": "registry.yaml", "evidence": [{"file": "kept.py"}]}],
        "nested": {"file": "../outside.py", "list": ["file", {"file": ""}]},
    }
    expected = dict(_rebased(data, "modal-functions/src"))  # type: ignore[call-overload]
    assert json.loads(dump_json(data, levels, "modal-functions/src")) == expected
    if levels:  # as_is names top-level members: with no level on lines, there are none
        text = dump_json(data, levels, "modal-functions/src", as_is=("findings",))
        expected["findings"] = data["findings"]
        assert json.loads(text) == expected
    assert json.loads(dump_json(data, levels)) == data  # no prefix: unchanged


def test_the_formats_a_run_seldom_asks_for_load_on_first_use() -> None:
    import subprocess
    import sys

    code = (
        "import sys, conformance.report as r\n"
        "before = [m for m in ('conformance.report.sarif', 'conformance.report.junit',"
        " 'conformance.report.github') if m in sys.modules]\n"
        "from conformance.report import render_sarif, render_junit, escape_data\n"
        "print(before, render_sarif.__module__, render_junit.__module__, escape_data('a%b'))\n"
        "r.no_such_renderer\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.split() == [
        "[]",
        "conformance.report.sarif",
        "conformance.report.junit",
        "a%25b",
    ]
    assert "AttributeError: module 'conformance.report' has no attribute 'no_such_renderer'" in (
        run.stderr
    )
