"""The command line: exit codes, one-line errors, JSON reports, and the registry round trip."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from analysis_helpers import make_project

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "warehouse"
SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text())

CLEAN = {
    "config.py": "import modal\napp = modal.App('wh')\n",
    "app.py": "from ingest.a import ingest_a\n",
    "ingest/a.py": """
        from config import app

        @app.function()
        def ingest_a(client):
            client.schema("raw").table("a_payloads").insert({}).execute()
            client.schema("extracted").table("a_rows").upsert({}).execute()
    """,
}


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=120,
    )


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "p"
    root.mkdir()
    return make_project(root, CLEAN, 'registry = "workflow_registry.yaml"\n')


def test_scan_json_is_valid_against_the_report_schema() -> None:
    result = run("scan", str(EXAMPLE), "--format", "json", "--no-cache", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    # paths relative to the working directory
    broken = "examples/warehouse/modal-functions/src/ingest/broken_syntax.py"
    assert any(e["file"] == broken for e in report["errors"])
    assert all(not f["file"].startswith("/") for f in report["functions"])


def test_check_json_is_valid_and_exit_code_is_one_with_errors() -> None:
    result = run("check", str(EXAMPLE), "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["findings"]


@pytest.mark.parametrize("fmt", ["text", "sarif", "github", "junit"])
def test_every_check_format_renders(fmt: str) -> None:
    result = run("check", str(EXAMPLE), "--format", fmt)
    assert result.returncode == 1, result.stderr
    assert "CONF001" in result.stdout


def test_register_then_check_is_clean(project: Path) -> None:
    assert run("check", str(project)).returncode == 2  # no registry file yet: tool error
    registered = run("register", str(project), "ingest_a")
    assert registered.returncode == 0, registered.stderr
    assert "fill provider" in registered.stdout
    text = (project / "workflow_registry.yaml").read_text()
    assert "workflow_slug: a" in text and "raw.a_payloads" in text
    placeholder = run("check", str(project))
    assert placeholder.returncode == 1 and "CONF020" in placeholder.stdout
    fill_human_columns(project)
    result = run("check", str(project))
    assert result.returncode == 0, result.stdout + result.stderr
    assert run("register", str(project), "--all").stdout.strip() == "nothing to register"


def fill_human_columns(project: Path) -> None:
    """What a person does after `register`: fills the columns the code cannot tell."""
    path = project / "workflow_registry.yaml"
    text = path.read_text()
    for column, value in (
        ("provider", "clay"),
        ("platform", "clay"),
        ("payload_type", "webhook"),
        ("entity_type", "company"),
    ):
        text = text.replace(f"{column}: null", f"{column}: {value}")
    path.write_text(text)


def test_unregistered_function_fails_with_conf001_and_the_fix(project: Path) -> None:
    run("register", str(project), "--all")
    (project / "src" / "ingest" / "b.py").write_text(
        "from config import app\n\n@app.function()\ndef ingest_b():\n    pass\n"
    )
    result = run("check", str(project))
    assert result.returncode == 1
    assert "CONF001" in result.stdout and "conformance register ingest_b" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "/nonexistent/project"],
        ["check", str(EXAMPLE), "--format", "yaml"],
        ["explain", "CONF999"],
        ["frobnicate"],
        ["register", str(EXAMPLE)],
    ],
)
def test_usage_and_tool_errors_exit_2_in_one_line(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()


def test_invalid_settings_name_the_setting(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.conformance]\nsource_root = "src"\ningest = "ingest"\n'
    )
    result = run("scan", str(project))
    assert result.returncode == 2
    assert "pyproject.toml:6: [tool.conformance] ingest: 'ingest' is not of type 'array'" in (
        result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1
    # validated once, the same settings are not validated again; changed, they are
    settings = project / "pyproject.toml"
    settings.write_text('[tool.conformance]\nsource_root = "src"\n')
    assert run("scan", str(project)).returncode == 0
    settings.write_text('[tool.conformance]\nsource_root = "src"\nstatement_timeout = 0\n')
    result = run("scan", str(project))
    assert result.returncode == 2 and "statement_timeout" in result.stderr


def test_explain_prints_the_rule() -> None:
    result = run("explain", "CONF001")
    assert result.returncode == 0 and "register" in result.stdout


def test_timings_go_to_stderr(project: Path) -> None:
    result = run("scan", str(project), "--timings", "--format", "json")
    assert result.returncode == 0
    assert "timings:" in result.stderr and "discover" in result.stderr
    json.loads(result.stdout)


def test_emit_sql_from_code_runs_on_an_empty_database(project: Path, pg_db: str) -> None:
    import psycopg

    sql_text = run("emit-sql", str(project), "--from-code").stdout
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute(sql_text)
        conn.execute(sql_text)  # idempotent
        rows = conn.execute(
            "SELECT workflow_slug, modal_function_name, raw_table, writes "
            "FROM reference.enrichment_workflow_registry"
        ).fetchall()
    assert rows == [("a", "ingest_a", "raw.a_payloads", ["extracted.a_rows", "raw.a_payloads"])]


@pytest.mark.postgres
def test_apply_then_check_against_the_database_is_clean(project: Path, pg_db: str) -> None:
    run("register", str(project), "--all")
    fill_human_columns(project)
    env = {"CONFORMANCE_DSN": pg_db}
    plan = run("apply", str(project), "--dry-run", "--force", env=env)
    assert plan.returncode == 1, plan.stderr  # changes to make: 1
    assert "+ a" in plan.stdout
    applied = run("apply", str(project), "--yes", "--force", env=env)
    assert applied.returncode == 0, applied.stderr
    assert "applied: 2 DDL change(s), 1 inserted" in applied.stdout
    assert run("apply", str(project), "--force", env=env).stdout.startswith("nothing to do")
    assert run("apply", str(project), "--dry-run", "--force", env=env).returncode == 0
    checked = run("check", str(project), "--registry", pg_db)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert run("diff", str(project), env=env).returncode == 0


@pytest.mark.postgres
def test_diff_and_snapshot_round_trip(project: Path, pg_db: str, tmp_path: Path) -> None:
    run("register", str(project), "--all")
    env = {"CONFORMANCE_DSN": pg_db}
    assert run("apply", str(project), "--yes", "--force", env=env).returncode == 0
    registry = project / "workflow_registry.yaml"
    registry.write_text(registry.read_text().replace("provider: null", "provider: clay"))
    changed = run("diff", str(project), env=env)
    assert changed.returncode == 1 and "~ a: provider" in changed.stdout
    snap = tmp_path / "snap.yaml"
    assert run("snapshot", str(project), "--registry", str(snap), env=env).returncode == 0
    assert "provider: null" in snap.read_text()
    assert run("apply", str(project), "--yes", "--force", env=env).returncode == 0
    assert run("snapshot", str(project), "--registry", str(snap), env=env).returncode == 0
    assert "provider: clay" in snap.read_text()
    assert run("diff", str(project), "--registry", str(snap), env=env).returncode == 0


@pytest.mark.postgres
def test_emit_sql_with_dsn_deactivates_rows_the_file_no_longer_has(
    project: Path, pg_db: str
) -> None:
    import psycopg

    run("register", str(project), "--all")
    assert (
        run("apply", str(project), "--yes", "--force", env={"CONFORMANCE_DSN": pg_db}).returncode
        == 0
    )
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO reference.enrichment_workflow_registry "
            "(workflow_slug, modal_function_name) VALUES ('gone', 'gone_fn')"
        )
    sql_text = run("emit-sql", str(project), "--dsn", pg_db).stdout
    statements = [line for line in sql_text.upper().splitlines() if not line.startswith("--")]
    assert not any(line.lstrip().startswith(("DELETE", "TRUNCATE")) for line in statements)
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute(sql_text)
        rows = dict(
            conn.execute(
                "SELECT workflow_slug, is_active FROM reference.enrichment_workflow_registry"
            ).fetchall()
        )
    assert rows == {"a": True, "gone": False}


def test_password_never_printed_on_failure(project: Path) -> None:
    secret = "s3cr3t-pass-word"
    dsn = f"postgresql://someone:{secret}@127.0.0.1:1/nowhere?connect_timeout=2"
    run("register", str(project), "--all")
    for args in (
        ["check", str(project), "--registry", dsn],
        ["apply", str(project), "--dsn", dsn],
        ["diff", str(project), "--dsn", dsn],
        ["snapshot", str(project), "--dsn", dsn],
        ["emit-sql", str(project), "--dsn", dsn],
    ):
        result = run(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert secret not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


def test_module_entry_point_and_console_script_agree() -> None:
    exe = shutil.which("conformance", path=str(Path(sys.executable).parent))
    assert exe is not None
    a = subprocess.run([exe, "--version"], capture_output=True, text=True)
    b = run("--version")
    assert a.stdout == b.stdout and "conformance" in a.stdout
    # both end with a hard exit (cli.run): the whole report is flushed first, the code kept
    example = str(Path(__file__).resolve().parent.parent / "examples" / "warehouse")
    args = ["check", example, "--format", "json", "--no-cache"]
    a = subprocess.run([exe, *args], capture_output=True, text=True)
    b = run(*args)
    assert a.returncode == b.returncode == 1
    assert a.stdout == b.stdout and len(json.loads(a.stdout)["findings"]) > 18


def test_exclude_means_the_same_to_scan_and_check(project: Path) -> None:
    """``exclude = ["ingest/experimental"]`` (a directory, no glob): scan no longer lists the
    functions there, and check reports nothing about them (one matcher for both)."""
    experimental = project / "src" / "ingest" / "experimental" / "trial.py"
    experimental.parent.mkdir(parents=True)
    experimental.write_text(
        "from config import app\n\n@app.function()\ndef ingest_trial(client):\n"
        '    client.schema("raw").table("trial").insert({}).execute()\n'
    )
    before = run("scan", str(project), "--format", "json", "--no-cache")
    assert "ingest_trial" in before.stdout
    settings = project / "pyproject.toml"
    settings.write_text(settings.read_text() + 'exclude = ["ingest/experimental"]\n')
    scanned = run("scan", str(project), "--format", "json", "--no-cache")
    assert scanned.returncode == 0, scanned.stderr
    assert "ingest_trial" not in scanned.stdout
    checked = run("check", str(project), "--no-cache")
    assert "ingest_trial" not in checked.stdout + checked.stderr


def test_a_check_that_finds_no_ingest_function_says_where_it_looked_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Functions at the top of the source root: the default ``ingest`` finds nothing (exit 2,
    CONF022 naming what was searched); ``--ingest .`` finds them."""
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(tmp_path / "cache"))
    files = {
        "config.py": "import modal\napp = modal.App('wh')\n",
        "jobs.py": (
            "from config import app\n\n@app.function()\n"
            "def ingest_a(client):\n"
            "    client.schema('raw').table('a_payloads').insert({}).execute()\n"
        ),
    }
    (tmp_path / "p").mkdir()
    project = make_project(tmp_path / "p", files, 'registry = "workflow_registry.yaml"\n')
    (project / "workflow_registry.yaml").write_text("version: 1\nworkflows: []\n")
    nothing = run("check", str(project), "--offline")
    assert nothing.returncode == 2, nothing.stdout + nothing.stderr
    assert "CONF022" in nothing.stdout
    assert "no ingest function found: the ingest entries (ingest) match 0 of the 2" in (
        nothing.stdout
    )
    assert "the ingest entry 'ingest' matches no Python file" in nothing.stdout
    found = run("check", str(project), "--offline", "--ingest", ".", "--format", "json")
    assert found.returncode == 1, found.stderr  # found, and unregistered (CONF001)
    report = json.loads(found.stdout)
    jsonschema.validate(report, SCHEMA)
    assert [f["name"] for f in report["functions"]] == ["ingest_a"]
    assert "CONF022" not in {f["code"] for f in report["findings"]}
