"""The rails around `apply`, on a real PostgreSQL: the plan shows DDL as well as rows, a
terminal is asked and anything else needs --yes, --dry-run exits 1 when there is something to
do, `plan --out FILE` then `apply FILE` applies exactly what was reviewed (or nothing when the
database moved), and a registry file with invalid, duplicate or incomplete entries is refused
unless --force."""

from __future__ import annotations

import json
import os
import pickle
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from analysis_helpers import ONE_FUNCTION, execute, make_project, run_cli

pytestmark = pytest.mark.postgres

FILES = ONE_FUNCTION
ENTRY = """\
  - workflow_slug: {slug}
    provider: acme
    platform: api
    payload_type: a_payload
    entity_type: company
    description: A payloads.
    key_column: id
    key_type: text
    raw_table: raw.a_payloads
    modal_function_name: {function}
    writes: [raw.a_payloads]
"""
NARROW = """
CREATE SCHEMA reference;
CREATE TABLE reference.enrichment_workflow_registry (
    workflow_slug text NOT NULL UNIQUE,
    provider text,
    modal_function_name text
);
"""


def registry(*entries: tuple[str, str]) -> str:
    return "version: 1\nworkflows:\n" + "".join(
        ENTRY.format(slug=s, function=f) for s, f in entries
    )


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "p"
    root.mkdir()
    make_project(root, FILES, 'registry = "workflow_registry.yaml"\n')
    (root / "workflow_registry.yaml").write_text(registry(("a", "ingest_a")))
    return root


def conformance(*args: str, cwd: Path, dsn: str) -> subprocess.CompletedProcess[str]:
    """Runs the command line in this process (a terminal is the one thing it then lacks: the
    prompt test runs a process of its own), from ``cwd``, with $CONFORMANCE_DSN set."""
    return run_cli(args, cwd, {"CONFORMANCE_DSN": dsn})


def rows(dsn: str) -> dict[str, tuple[object, ...]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT to_regclass('reference.enrichment_workflow_registry') IS NOT NULL"
        ).fetchone()
        if not found or not found[0]:
            return {}
        return {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT workflow_slug, modal_function_name, provider, is_active "
                "FROM reference.enrichment_workflow_registry"
            )
        }


def test_the_plan_shows_ddl_and_rows_and_a_dry_run_exits_1_on_changes(
    project: Path, pg_db: str
) -> None:
    empty = conformance("apply", "--dry-run", cwd=project, dsn=pg_db)
    assert empty.returncode == 1, empty.stderr
    assert "create schema reference" in empty.stdout
    assert "create table reference.enrichment_workflow_registry" in empty.stdout
    assert "+ a: in the file, not in the database (insert)" in empty.stdout
    assert rows(pg_db) == {}  # a dry run writes nothing
    execute(pg_db, NARROW)
    narrow = conformance("plan", cwd=project, dsn=pg_db)
    assert narrow.returncode == 0
    assert "create schema" not in narrow.stdout and "create table" not in narrow.stdout
    assert "add column writes text[] NOT NULL DEFAULT '{}'" in narrow.stdout
    assert "add column workflow_slug" not in narrow.stdout
    assert conformance("apply", "--yes", cwd=project, dsn=pg_db).returncode == 0
    clean = conformance("apply", "--dry-run", cwd=project, dsn=pg_db)
    assert clean.returncode == 0 and "nothing to do" in clean.stdout
    markdown = conformance("plan", "--format", "markdown", cwd=project, dsn=pg_db)
    assert "Nothing to do: the database matches `workflow_registry.yaml`." in markdown.stdout


def test_apply_asks_on_a_terminal_and_refuses_without_one(project: Path, pg_db: str) -> None:
    refused = conformance("apply", cwd=project, dsn=pg_db)
    assert refused.returncode == 2
    assert "pass --yes" in refused.stderr and "nothing was changed" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert rows(pg_db) == {}

    declined = _on_a_terminal(["apply"], project, pg_db, answer="n")
    assert declined[0] == 1 and "Apply these changes" in declined[1], declined
    assert rows(pg_db) == {}
    accepted = _on_a_terminal(["apply"], project, pg_db, answer="y")
    assert accepted[0] == 0 and "applied:" in accepted[1], accepted
    assert rows(pg_db) == {"a": ("ingest_a", "acme", True)}


def _on_a_terminal(args: list[str], cwd: Path, dsn: str, answer: str) -> tuple[int, str]:
    """Runs conformance with a pseudo-terminal as stdin, stdout and stderr; answers the prompt."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "CONFORMANCE_DSN": dsn, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance", *args],
        cwd=cwd,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    seen = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(controller, answer.encode() + b"\n")
            answered = True
        if process.poll() is not None and not ready:
            break
    code = process.wait(timeout=60)
    os.close(controller)
    return code, seen.decode("utf-8", "replace")


def test_plan_out_then_apply_the_file_applies_exactly_what_was_reviewed(
    project: Path, pg_db: str, tmp_path: Path
) -> None:
    plan_file = tmp_path / "reviewed.json"
    made = conformance("plan", "--out", str(plan_file), cwd=project, dsn=pg_db)
    assert made.returncode == 0, made.stderr
    data = json.loads(plan_file.read_text())
    assert data["conformance_plan"] == 1 and data["database_fingerprint"].startswith("sha256:")
    assert [r["workflow_slug"] for r in data["insert"]] == ["a"]
    # the file changes after the review: the reviewed plan is what is applied
    (project / "workflow_registry.yaml").write_text(registry(("a", "ingest_a"), ("b", "ingest_b")))
    applied = conformance("apply", str(plan_file), cwd=project, dsn=pg_db)  # no TTY, no --yes
    assert applied.returncode == 0, applied.stderr
    assert rows(pg_db) == {"a": ("ingest_a", "acme", True)}

    # a plan made, then the database moved (a hand edit): nothing is applied
    second = tmp_path / "second.json"
    assert conformance("plan", "--out", str(second), cwd=project, dsn=pg_db).returncode == 0
    execute(pg_db, "UPDATE reference.enrichment_workflow_registry SET provider = 'hand edit'")
    moved = conformance("apply", str(second), cwd=project, dsn=pg_db)
    assert moved.returncode == 2, moved.stdout
    assert "changed since the plan was made" in moved.stderr
    assert rows(pg_db) == {"a": ("ingest_a", "hand edit", True)}


@pytest.mark.parametrize(
    "content",
    [
        b"not json at all",
        pickle.dumps({"conformance_plan": 1}),  # never unpickled: not JSON, refused
        json.dumps({"conformance_plan": 2}).encode(),
    ],
    ids=["text", "pickle", "other-format"],
)
def test_a_plan_file_is_data_and_anything_else_is_refused(
    project: Path, pg_db: str, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "plan.json"
    bad.write_bytes(content)
    result = conformance("apply", str(bad), cwd=project, dsn=pg_db)
    assert result.returncode == 2 and "not a plan file" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and rows(pg_db) == {}


def test_a_tampered_row_in_a_plan_file_is_refused(
    project: Path, pg_db: str, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert conformance("plan", "--out", str(plan_file), cwd=project, dsn=pg_db).returncode == 0
    data = json.loads(plan_file.read_text())
    data["insert"][0]["workflow_slug"] = "Not A Slug"
    plan_file.write_text(json.dumps(data))
    result = conformance("apply", str(plan_file), cwd=project, dsn=pg_db)
    assert result.returncode == 2 and "not a plan file" in result.stderr
    assert rows(pg_db) == {}


def test_invalid_duplicate_or_incomplete_entries_are_refused_unless_forced(
    project: Path, pg_db: str
) -> None:
    path = project / "workflow_registry.yaml"
    assert conformance("apply", "--yes", cwd=project, dsn=pg_db).returncode == 0
    execute(
        pg_db,
        "INSERT INTO reference.enrichment_workflow_registry (workflow_slug, modal_function_name) "
        "VALUES ('broken', 'ingest_broken')",
    )
    good = registry(("a", "ingest_a"))
    broken = (
        "  - workflow_slug: broken\n    modal_function_name: ingest_broken\n"
        "    entity_type: robot\n"
    )
    incomplete = "  - workflow_slug: c\n    modal_function_name: ingest_c\n"
    duplicate = ENTRY.format(slug="a", function="ingest_a2")
    for extra, said in (
        (broken, "entity_type 'robot' is not one of"),
        (duplicate, "workflow_slug 'a'"),
        (incomplete, "entry c is incomplete: provider, platform"),
    ):
        path.write_text(good + extra)
        for command in (["plan"], ["apply", "--yes"]):
            refused = conformance(*command, cwd=project, dsn=pg_db)
            assert refused.returncode == 2, (command, refused.stdout)
            assert said in refused.stderr and "--force" in refused.stderr, refused.stderr
    assert set(rows(pg_db)) == {"a", "broken"}
    # forced: the invalid entry is left out and its row kept (not deactivated); the incomplete
    # one is applied as it is
    path.write_text(good + broken + incomplete)
    forced = conformance("apply", "--yes", "--force", cwd=project, dsn=pg_db)
    assert forced.returncode == 0, forced.stderr
    assert rows(pg_db) == {
        "a": ("ingest_a", "acme", True),
        "broken": ("ingest_broken", None, True),
        "c": ("ingest_c", None, True),
    }


def test_findings_about_the_code_never_block_apply(project: Path, pg_db: str) -> None:
    (project / "src" / "ingest" / "b.py").write_text(
        "from config import app\n\n@app.function()\ndef ingest_b(client):\n    pass\n"
    )
    assert conformance("check", "--offline", cwd=project, dsn=pg_db).returncode == 1
    applied = conformance("apply", "--yes", cwd=project, dsn=pg_db)
    assert applied.returncode == 0, applied.stderr


def test_sarif_and_junit_of_a_database_check_are_valid_and_located(
    project: Path, pg_db: str
) -> None:
    from standards import validate_junit, validate_sarif

    assert conformance("apply", "--yes", cwd=project, dsn=pg_db).returncode == 0
    execute(
        pg_db,
        "INSERT INTO reference.enrichment_workflow_registry (workflow_slug, modal_function_name)"
        " VALUES ('orphan', 'ingest_nothing')",
    )
    (project / "src" / "ingest" / "b.py").write_text(
        "from config import app\n\n@app.function()\ndef ingest_b(client):\n    pass\n"
    )
    sarif = conformance("check", "--registry", "env", "--format", "sarif", cwd=project, dsn=pg_db)
    assert sarif.returncode == 1, sarif.stderr
    log = json.loads(sarif.stdout)
    validate_sarif(log)
    run = log["runs"][0]
    assert run["automationDetails"]["id"] == "conformance/database/"
    places = {
        r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in run["results"]
    }
    assert places["CONF001"] == "src/ingest/b.py"
    # the orphan row exists only in the database, which has no lines: the registry file
    assert places["CONF021"] == "workflow_registry.yaml"
    offline = conformance("check", "--offline", "--format", "sarif", cwd=project, dsn=pg_db)
    assert json.loads(offline.stdout)["runs"][0]["automationDetails"]["id"] == ("conformance/file/")
    junit = conformance("check", "--registry", "env", "--format", "junit", cwd=project, dsn=pg_db)
    validate_junit(junit.stdout)
