"""The pytest plugin, driven through ``pytester`` on small projects written to disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from analysis_helpers import MINI_CONFIG, MINI_FUNCTION

pytest_plugins = ["pytester"]


def _import_everything() -> None:
    """Loads every module of the package before any in-process run. pytester drops the modules
    a run imports when it ends; the next run would import them again while a package kept in
    ``sys.modules`` still points at the old ones, mixing two generations of the same classes
    (and re-importing the analyzer for every run would cost seconds each time)."""
    import importlib
    import pkgutil

    import psycopg  # noqa: F401  (its error classes must stay one generation too)

    import conformance

    for module in pkgutil.walk_packages(conformance.__path__, "conformance."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)


_import_everything()

PYPROJECT = """\
[tool.conformance]
source_root = "src"
ingest = ["ingest"]
entrypoint = "app.py"
registry = "workflow_registry.yaml"
"""

CONFIG = MINI_CONFIG

FUNCTION = MINI_FUNCTION

ENTRY = """\
version: 1
workflows:
"""

ROW = """\
  - workflow_slug: {name}-ingest
    modal_function_name: ingest_{name}
    provider: acme
    platform: clay
    payload_type: webhook
    entity_type: company
    raw_table: raw.{name}_payloads
    writes: [raw.{name}_payloads]
"""


def make_project(
    root: Path,
    functions: tuple[str, ...] = ("company", "person"),
    registered: tuple[str, ...] = ("company", "person"),
    deployed: tuple[str, ...] | None = None,
    extra_rows: str = "",
) -> Path:
    """Writes a minimal Modal project under ``root``; returns ``root``."""
    src = root / "src"
    (src / "ingest").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (src / "config.py").write_text(CONFIG)
    (src / "ingest" / "__init__.py").write_text("")
    imports = ["from config import app  # noqa: F401"]
    for name in functions:
        (src / "ingest" / f"{name}.py").write_text(FUNCTION.format(name=name))
        if deployed is None or name in deployed:
            imports.append(f"from ingest.{name} import ingest_{name}  # noqa: F401")
    (src / "app.py").write_text("\n".join(imports) + "\n")
    rows = "".join(ROW.format(name=name) for name in registered)
    (root / "workflow_registry.yaml").write_text(ENTRY + (rows + extra_rows or "  []\n"))
    return root


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Runs pytest in-process (so monkeypatches reach the plugin). Hypothesis' plugin, which
    this venv has and these runs do not need, costs over a second per run: it is left out."""
    return pytester.runpytest_inprocess("-p", "no:hypothesispytest", *args)


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    return make_project(pytester.path)


def test_passing_project_has_one_item_per_function(
    pytester: pytest.Pytester, project: Path
) -> None:
    result = run(pytester, "--conformance", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "pyproject.toml::conformance-status PASSED*",
            "src/ingest/company.py::ingest_company PASSED*",
            "src/ingest/person.py::ingest_person PASSED*",
            "pyproject.toml::conformance-registry PASSED*",
        ]
    )
    assert result.ret == pytest.ExitCode.OK


def test_unregistered_function_fails_with_finding_fix_and_evidence(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester.path, registered=("company",))
    result = run(pytester, "--conformance", "-rf")
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*_ ingest_person _*",
            "1 error (CONF001)",
            "src/ingest/person.py:5: CONF001 error: ingest_person is not registered*",
            "*function ingest.person.ingest_person (ingest/person.py:5*",
            "*-> code writes raw.person_payloads",
            "FAILED src/ingest/person.py::ingest_person - 1 error (CONF001)",
        ]
    )
    assert "run `conformance register ingest_person`" in result.stdout.str()


def test_k_selects_functions_by_name(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, registered=("company",))
    passing = run(pytester, "--conformance", "-k", "ingest_company")
    passing.assert_outcomes(passed=1, deselected=3)
    failing = run(pytester, "--conformance", "-k", "person")
    failing.assert_outcomes(failed=1, deselected=3)


def test_registry_item_reports_rows_no_function_owns(pytester: pytest.Pytester) -> None:
    orphan = ROW.format(name="ghost").replace("ingest_ghost", "ghost_fn")
    make_project(pytester.path, extra_rows=orphan)
    result = run(pytester, "--conformance")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ conformance-registry _*",
            "workflow_registry.yaml:*: CONF002 error: row ghost-ingest names ghost_fn*",
            "*see `conformance explain CONF002`",
        ]
    )


def test_warnings_are_shown_but_do_not_fail(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, deployed=("company",))
    result = run(pytester, "--conformance")
    result.assert_outcomes(passed=4, warnings=1)
    result.stdout.fnmatch_lines(
        ["*warnings summary*", "src/ingest/person.py::ingest_person", "*CONF009 warning:*"]
    )


def test_tool_error_fails_the_status_item_only(pytester: pytest.Pytester) -> None:
    make_project(pytester.path)
    (pytester.path / "workflow_registry.yaml").unlink()
    result = run(pytester, "--conformance", "-rfs")
    result.assert_outcomes(failed=1, skipped=3)
    result.stdout.fnmatch_lines(
        [
            "*_ conformance-status _*",
            "conformance: error: registry file not found: *workflow_registry.yaml*",
        ]
    )
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stdout.no_fnmatch_line("*Traceback*")


def test_tool_error_in_settings_leaves_only_the_status_item(pytester: pytest.Pytester) -> None:
    make_project(pytester.path)
    (pytester.path / "pyproject.toml").write_text('[tool.conformance]\nsource_root = "nowhere"\n')
    result = run(pytester, "--conformance")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["conformance: error: source root not found: *nowhere"])


def test_tool_error_fails_selected_functions_when_status_is_deselected(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester.path)
    (pytester.path / "workflow_registry.yaml").unlink()
    result = run(pytester, "--conformance", "-k", "ingest_company")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["*conformance check did not run: registry file not found*"])


def test_inactive_without_the_flag(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, registered=())
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("conformance*")
    result.stdout.no_fnmatch_line("*conformance::*")


def test_runs_alongside_ordinary_tests(pytester: pytest.Pytester, project: Path) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = run(pytester, "--conformance")
    result.assert_outcomes(passed=5)


def test_collect_only_lists_ids_without_loading_the_registry(
    pytester: pytest.Pytester, project: Path
) -> None:
    unreachable = "postgresql://nobody:secret@127.0.0.1:9/none?connect_timeout=1"
    result = run(
        pytester, "--conformance", "--conformance-registry", unreachable, "--collect-only", "-q"
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "pyproject.toml::conformance-status",
            "src/ingest/company.py::ingest_company",
            "src/ingest/person.py::ingest_person",
            "pyproject.toml::conformance-registry",
            "4 tests collected*",
        ]
    )


def test_project_and_registry_options(pytester: pytest.Pytester) -> None:
    make_project(pytester.path / "warehouse", registered=("company",))
    full = pytester.path / "warehouse" / "full.yaml"
    full.write_text(ENTRY + ROW.format(name="company") + ROW.format(name="person"))
    opts = ["--conformance", "--conformance-project", "warehouse"]
    run(pytester, *opts).assert_outcomes(passed=3, failed=1)
    run(pytester, *opts, "--conformance-registry", "full.yaml").assert_outcomes(passed=4)


def test_check_runs_once_per_session(
    pytester: pytest.Pytester, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conformance.rules

    calls: list[int] = []
    real = conformance.rules.evaluate

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(conformance.rules, "evaluate", counting)
    run(pytester, "--conformance").assert_outcomes(passed=4)
    assert calls == [1]


def test_failure_text_lists_every_error_then_warnings(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, registered=(), deployed=("company",))
    result = run(pytester, "--conformance")
    result.assert_outcomes(passed=2, failed=2)
    text = result.stdout.str()
    person = text[text.index("_ ingest_person _") :]
    assert person.index("CONF001 error:") < person.index("CONF009 warning:")
    assert "1 error (CONF001), 1 warning(s)" in person
    assert "run `conformance register ingest_company`" in text


def test_registry_from_the_environment_keeps_the_password_out_of_the_report(
    pytester: pytest.Pytester, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONFORMANCE_DSN", raising=False)
    unset = run(pytester, "--conformance", "--conformance-registry", "env")
    unset.assert_outcomes(failed=1, skipped=3)
    unset.stdout.fnmatch_lines(["conformance: error: *CONFORMANCE_DSN is not set"])

    dsn = "postgresql://reader:hunter2secret@127.0.0.1:9/warehouse?connect_timeout=2"
    monkeypatch.setenv("CONFORMANCE_DSN", dsn)
    refused = run(pytester, "--conformance", "--conformance-registry", "env")
    refused.assert_outcomes(failed=1, skipped=3)
    refused.stdout.fnmatch_lines(["conformance: error: *127.0.0.1*"])
    assert "hunter2secret" not in refused.stdout.str()


SECRET = "Sup3rSecretPw"


@pytest.mark.parametrize(
    "dsn",
    [
        f"host=127.0.0.1 port=1 user=u password={SECRET} dbname=d connect_timeout=1",
        f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/d?connect_timeout=1",
        f"POSTGRESQL://u:{SECRET}@127.0.0.1:1/d?connect_timeout=1",
        f"postgresq://u:{SECRET}@127.0.0.1:1/d",
        f"jdbc:postgresql://127.0.0.1:1/d?user=u&password={SECRET}",
    ],
    ids=["libpq", "sqlalchemy", "upper-case", "mistyped", "jdbc"],
)
def test_no_connection_string_shape_reaches_the_output_or_the_junit_xml(
    pytester: pytest.Pytester, project: Path, dsn: str
) -> None:
    xml = pytester.path / "report.xml"
    result = run(
        pytester, "--conformance", "--conformance-registry", dsn, f"--junitxml={xml}", "-rA"
    )
    result.assert_outcomes(failed=1, skipped=3)
    assert SECRET not in result.stdout.str() + result.stderr.str()
    assert SECRET not in xml.read_text(encoding="utf-8")


def test_every_printed_node_id_runs_that_item_again(pytester: pytest.Pytester) -> None:
    make_project(
        pytester.path,
        registered=("company",),
        extra_rows="  - workflow_slug: ghost-ingest\n    modal_function_name: ghost_fn\n",
    )
    first = run(pytester, "--conformance", "-rA")
    first.assert_outcomes(passed=2, failed=2)
    printed = [
        line.split(" ", 1)[1].split(" - ")[0]
        for line in first.stdout.lines
        if line.startswith(("PASSED ", "FAILED "))
    ]
    assert sorted(printed) == [
        "pyproject.toml::conformance-registry",
        "pyproject.toml::conformance-status",
        "src/ingest/company.py::ingest_company",
        "src/ingest/person.py::ingest_person",
    ]
    for node_id in printed:
        again = run(pytester, "--conformance", node_id, "-v")
        outcome = "FAILED" if node_id.endswith(("ingest_person", "registry")) else "PASSED"
        again.stdout.fnmatch_lines([f"{node_id} {outcome}*"])
        assert again.parseoutcomes().get(outcome.lower()) == 1, again.stdout.str()
        again.stdout.no_fnmatch_line("*ERROR*")  # the ingest module is never imported


def test_a_blanket_filterwarnings_error_does_not_fail_warning_findings(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester.path, deployed=("company",))  # CONF009 (a warning) for ingest_person
    with open(pytester.path / "pyproject.toml", "a") as fh:
        fh.write('\n[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n')
    result = run(pytester, "--conformance")
    result.assert_outcomes(passed=4, warnings=1)
    result.stdout.fnmatch_lines(["*ConformanceWarning*CONF009 warning*"])


@pytest.mark.parametrize(
    ("rule", "outcomes"),
    [
        ("error::conformance.pytest_plugin.ConformanceWarning", {"passed": 3, "failed": 1}),
        ("ignore::conformance.pytest_plugin.ConformanceWarning", {"passed": 4}),
    ],
)
def test_a_filter_naming_the_warning_class_is_obeyed(
    pytester: pytest.Pytester, rule: str, outcomes: dict[str, int]
) -> None:
    make_project(pytester.path, deployed=("company",))
    with open(pytester.path / "pyproject.toml", "a") as fh:
        fh.write(f'\n[tool.pytest.ini_options]\nfilterwarnings = ["{rule}"]\n')
    result = run(pytester, "--conformance")
    result.assert_outcomes(**outcomes)
