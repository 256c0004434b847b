"""Adopting the tool on a registry that exists: the README's walkthrough, on real PostgreSQL,
against a table shaped like the real warehouse's (tests/warehouse_table.py).

snapshot -> check --fix -> fill the human columns -> apply -> check --registry DSN: no
CONF001, at most 5 layer or writes findings, no duplicate slug, every extra column and every
value a person wrote unchanged; an apply the table would refuse is refused before anything is
sent; ``emit-sql --from-code`` never empties a person's column.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from ruamel.yaml import YAML
from warehouse_table import (
    EXTRA,
    MIGRATED,
    RENAMED,
    STALE_RAW,
    UNREGISTERED,
    clean_entries,
    create,
    table_state,
)

from conformance import api
from conformance.errors import ConformanceError
from conformance.registry.file import load_registry_file

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "warehouse"
HUMAN = ("provider", "platform", "payload_type", "entity_type", "description")
LAYERS_AND_WRITES = {"CONF003", "CONF004", "CONF005", "CONF006", "CONF007", "CONF014", "CONF018"}
# what a person wrote, or the database keeps: never changed by the tool
KEPT = ("id", "created_at", *HUMAN, *EXTRA)


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project with no registry file yet (the team has only the table)."""
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "warehouse"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".conformance_cache"))
    (copy / "workflow_registry.yaml").unlink()
    (copy / "registry.clean.yaml").unlink()
    return copy


def fill_human_columns(path: Path) -> list[str]:
    """Fills the empty human columns of every entry as a person would (the values of the
    example's clean registry, found by function), keeping every other line; returns the slugs
    filled."""
    by_function = {e.modal_function_name: e for e in clean_entries().values()}
    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(path.read_text())
    filled = []
    for item in data["workflows"]:
        if item.get("provider"):
            continue
        clean = by_function[item["modal_function_name"]]
        for column in HUMAN:
            if not item.get(column):
                item[column] = getattr(clean, column) or "company"
        filled.append(item["workflow_slug"])
    with path.open("w") as fh:
        yaml.dump(data, fh)
    return filled


def insert_unregistered_rows(dsn: str) -> None:
    """Inserts the rows of the functions nobody registered, by hand (their clean values)."""
    columns = ("workflow_slug", "provider", "platform", "payload_type", "entity_type")
    with psycopg.connect(dsn) as conn:
        for slug in UNREGISTERED:
            entry = clean_entries()[slug]
            conn.execute(
                "INSERT INTO reference.enrichment_workflow_registry "
                f"({', '.join(columns)}, modal_function_name) VALUES (%s, %s, %s, %s, %s, %s)",
                [*(getattr(entry, c) for c in columns), entry.modal_function_name],
            )


def kept_values(rows: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {r["workflow_slug"]: tuple(r[c] for c in KEPT) for r in rows}


def test_snapshot_fix_fill_apply_check(project: Path, pg_db: str) -> None:
    create(pg_db)
    _, before = table_state(pg_db)
    registry = project / "workflow_registry.yaml"

    # against the table as it is: the missing tool columns are one notice, not a CONF010 each
    first = api.check(project, registry=pg_db)
    assert not [f for f in first.findings if f.code == "CONF010"]
    lacking = [n for n in first.notices if "lacks" in n]
    assert len(lacking) == 1 and "writes" in lacking[0] and "key_column" in lacking[0]

    # 1. snapshot: every column the table holds, the extra ones included
    snapshot = api.snapshot(project, dsn=pg_db)
    assert len(snapshot.registry.entries) == len(before)
    text = registry.read_text()
    assert "workflow_type: backfill" in text and "usage_category: gtm" in text
    assert "new_workflow_slug: company-signals" in text
    assert "id:" not in text and "created_at" not in text  # the database's own

    # 2. check --fix
    fixed = api.fix(project)
    new = {f.function.name: f.slug for f in fixed.plan.fixes if f.is_new}
    unregistered = {clean_entries()[s].modal_function_name for s in UNREGISTERED}
    assert set(new) == unregistered
    entries = {e.workflow_slug: e for e in load_registry_file(registry).entries}
    assert not [s for s in entries if s.endswith("-2")]  # linked, never duplicated
    for slug in MIGRATED:
        assert entries[slug].modal_function_name, slug  # the code claimed its row
    for slug in STALE_RAW:
        assert entries[slug].raw_table == clean_entries()[slug].raw_table
    assert RENAMED[1] in entries and RENAMED[0] not in entries  # slugs are never renamed

    # 3. a person fills the human columns (nothing else)
    assert sorted(fill_human_columns(registry)) == sorted(new.values())

    # 4. apply
    done = api.apply(project, dsn=pg_db)
    assert done.applied
    assert {e.workflow_slug for e in done.plan.inserts} == set(new.values())
    assert "add column writes text[] NOT NULL DEFAULT '{}'" in done.plan.ddl

    # 5. the database check
    checked = api.check(project, registry=pg_db)
    codes = [f.code for f in checked.findings]
    assert "CONF001" not in codes
    assert "CONF021" not in codes  # the database holds exactly the file
    assert sum(code in LAYERS_AND_WRITES for code in codes) <= 5, [
        f.message for f in checked.findings if f.code in LAYERS_AND_WRITES
    ]
    (declared,) = [f for f in checked.findings if f.code == "CONF019"]
    assert RENAMED[0] in declared.message and RENAMED[1] in declared.message
    not_deployed = {f.function for f in checked.findings if f.code == "CONF009"}
    assert not_deployed == {"ingest.legacy_crunchbase.backfill_crunchbase_legacy"}

    # every extra column and every value a person wrote is unchanged
    _, after = table_state(pg_db)
    kept_before, kept_after = kept_values(before), kept_values(after)
    assert {s: kept_after[s] for s in kept_before} == kept_before
    assert len(after) == len(before) + len(new)


def test_an_apply_the_table_would_refuse_sends_nothing(project: Path, pg_db: str) -> None:
    create(pg_db)
    registry = project / "workflow_registry.yaml"
    api.snapshot(project, dsn=pg_db)
    with registry.open("a") as fh:
        fh.write(
            "  - workflow_slug: half-done\n"
            "    modal_function_name: ingest_half_done\n"
            "    platform: clay\n"
            "    payload_type: thing\n"
            "    entity_type: company\n"
            "    workflow_type: scraper\n"
        )
    before = table_state(pg_db)
    with pytest.raises(ConformanceError) as refused:
        api.apply(project, dsn=pg_db, force=True)
    message = str(refused.value)
    assert "nothing was sent" in message and "half-done" in message
    assert "provider is empty (NOT NULL, no default)" in message
    assert "CHECK enrichment_workflow_registry_workflow_type_check fails" in message
    assert "\n" not in message
    assert table_state(pg_db) == before  # not even the DDL ran

    # the same from the command line: exit 2, one line; emit-sql refuses the same way
    for command in (["apply", "--yes", "--force"], ["emit-sql"]):
        run = subprocess.run(
            [sys.executable, "-m", "conformance", *command, str(project), "--dsn", pg_db],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 2, run.stderr
        assert "half-done" in run.stderr and len(run.stderr.strip().splitlines()) == 1
        assert run.stdout == ""
    assert table_state(pg_db) == before


def test_from_code_never_empties_a_persons_column(project: Path, pg_db: str) -> None:
    create(pg_db)
    _, before = table_state(pg_db)

    # with the database: the drafts link to its rows; the unregistered functions' new rows
    # would have no provider, which the table refuses: said before anything is printed
    with pytest.raises(ConformanceError, match="provider is empty") as refused:
        api.emit_sql(project, dsn=pg_db, from_code=True)
    for slug in UNREGISTERED:
        fn = clean_entries()[slug].modal_function_name
        assert fn and fn.replace("_", "-") in str(refused.value)

    # without it (the rows of the unregistered functions inserted by hand first): every
    # function's rows get the code's columns, nothing else
    insert_unregistered_rows(pg_db)
    _, before = table_state(pg_db)
    script = api.emit_sql(project, from_code=True).text
    with psycopg.connect(pg_db) as conn:
        conn.execute(script)
    _, after = table_state(pg_db)
    assert len(after) == len(before)
    assert kept_values(after) == kept_values(before)
    rows = {r["workflow_slug"]: r for r in after}
    for slug in MIGRATED:
        assert rows[slug]["modal_function_name"], slug
    for slug in STALE_RAW:
        assert rows[slug]["raw_table"] == clean_entries()[slug].raw_table
    # run again: nothing left to change
    with psycopg.connect(pg_db) as conn:
        conn.execute(script)
    _, again = table_state(pg_db)
    assert [{k: v for k, v in r.items() if k != "updated_at"} for r in again] == [
        {k: v for k, v in r.items() if k != "updated_at"} for r in after
    ]


def test_from_code_with_the_database_links_rows_like_fix(project: Path, pg_db: str) -> None:
    create(pg_db)
    insert_unregistered_rows(pg_db)
    _, before = table_state(pg_db)
    script = api.emit_sql(project, dsn=pg_db, from_code=True).text
    assert "is_active = false" not in script  # the code never retires a row
    with psycopg.connect(pg_db) as conn:
        conn.execute(script)
    _, after = table_state(pg_db)
    assert kept_values(after) == kept_values(before) and len(after) == len(before)
    rows = {r["workflow_slug"]: r for r in after}
    for slug in MIGRATED:
        assert rows[slug]["modal_function_name"], slug
    assert rows["news-mentions"]["raw_table"] == clean_entries()["news-mentions"].raw_table
    # nothing left to do: the next script changes no row
    script = api.emit_sql(project, dsn=pg_db, from_code=True).text
    assert "UPDATE" not in script and "INSERT" not in script


def test_snapshot_into_a_file_keeps_what_only_the_file_holds(project: Path, pg_db: str) -> None:
    create(pg_db)
    registry = project / "workflow_registry.yaml"
    api.snapshot(project, dsn=pg_db)
    written = registry.read_text()
    registry.write_text(
        written.replace("workflows:\n", "workflows:\n  # why company-signal is singular\n", 1)
        + "  - workflow_slug: only-here\n    modal_function_name: ingest_only_here\n"
    )
    kept = registry.read_text()
    with pytest.raises(ConformanceError) as refused:
        api.snapshot(project, dsn=pg_db)
    message = str(refused.value)
    assert "1 entry the database lacks: only-here (line" in message
    assert "1 comment: line " in message and "--force" in message
    assert registry.read_text() == kept  # nothing written
    run = subprocess.run(
        [sys.executable, "-m", "conformance", "snapshot", str(project), "--dsn", pg_db],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "only-here" in run.stderr, run.stderr
    api.snapshot(project, dsn=pg_db, force=True)
    assert registry.read_text() == written
    api.snapshot(project, dsn=pg_db)  # nothing of the file's own is lost: no refusal


def test_the_readmes_adoption_commands(project: Path, pg_db: str) -> None:
    """The README's adoption snippet, command by command, with the exit codes it implies (the
    person's review is filling the human columns; apply gets --yes, having no terminal)."""
    from test_lifecycle import readme_snippet

    create(pg_db)
    env = {**os.environ, "CONFORMANCE_DSN": pg_db}
    # by command, in order; the example keeps findings about its code (CONF012, CONF016...)
    expected = {0: 1, 1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    commands = []
    for line in readme_snippet("adoption").splitlines():
        command = line.split("#", 1)[0].split()
        if command and command[0] == "conformance":
            commands.append(command[1:])
    assert [c[0] for c in commands] == ["check", "snapshot", "check", "plan", "apply", "check"]
    for i, args in enumerate(commands):
        if args[0] == "plan":
            fill_human_columns(project / "workflow_registry.yaml")
        if args[0] == "apply":
            args = [*args, "--yes"]
        run = subprocess.run(
            [sys.executable, "-m", "conformance", *args],
            capture_output=True,
            text=True,
            cwd=project,
            env=env,
            timeout=120,
        )
        assert run.returncode == expected[i], (args, run.stdout[-2000:], run.stderr[-2000:])
    assert "CONF001" not in run.stdout and "CONF019" in run.stdout
