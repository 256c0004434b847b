"""``check --fix``, ``--diff`` and ``register``: what the code settles is written into the
registry file, nothing a person decides is changed, and every untouched line stays as it was."""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from analysis_helpers import make_project

from conformance import api
from conformance.registry.file import load_registry_file
from conformance.registry.suggest import suggestions

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "warehouse"
HUMAN = ("provider", "platform", "payload_type", "entity_type", "description", "is_active")
# what --fix settles in the example's drifted registry, and what it leaves to a person
SETTLED = {"CONF001", "CONF003", "CONF004", "CONF005", "CONF006", "CONF007", "CONF014"}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture()
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "warehouse"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".conformance_cache"))
    return copy


def ingest_project(tmp_path: Path, module: str, names: str, body: str) -> Path:
    """Returns a project whose ingest module ``module`` holds ``body`` (Modal functions on
    ``app``), every one of ``names`` deployed by app.py."""
    files = {
        "config.py": "import modal\napp = modal.App('wh')\n",
        "app.py": f"from ingest.{module} import {names}\n",
        f"ingest/{module}.py": "from config import app\n" + textwrap.dedent(body),
    }
    (tmp_path / "p").mkdir()
    return make_project(tmp_path / "p", files)


def codes(result: api.CheckResult) -> set[str]:
    return {f.code for f in result.findings}


def test_fix_settles_what_the_code_settles_and_nothing_else(warehouse: Path) -> None:
    path = warehouse / "workflow_registry.yaml"
    before_text = path.read_text()
    before = {e.workflow_slug: e for e in load_registry_file(path).entries}
    drifted = api.check(warehouse)
    assert codes(drifted) >= SETTLED
    fixed = api.fix(warehouse)
    assert fixed.checked is not None
    assert not SETTLED & codes(fixed.checked), [
        f.message for f in fixed.checked.findings if f.code in SETTLED
    ]
    # what only a person can settle is still reported
    assert {"CONF002", "CONF008", "CONF010", "CONF011", "CONF019"} <= codes(fixed.checked)
    after = {e.workflow_slug: e for e in load_registry_file(path).entries}
    for slug, entry in before.items():
        for column in HUMAN:
            assert after[slug].column(column) == entry.column(column), (slug, column)
        assert after[slug].extra == entry.extra
    assert set(after) - set(before) == {"refresh-person-profiles"}
    # every line outside the changed entries is the same, comments included
    changed = [fix.line for fix in fixed.plan.fixes if not fix.is_new]
    text = path.read_text()
    for tag, i1, _i2, _j1, _j2 in difflib.SequenceMatcher(
        None, before_text.splitlines(), text.splitlines(), autojunk=False
    ).get_opcodes():
        if tag == "equal":
            continue
        assert any(start <= i1 + 1 <= start + 25 for start in changed) or i1 >= 750, (tag, i1)
    for comment in [line for line in before_text.splitlines() if line.lstrip().startswith("#")]:
        assert comment in text
    # a second fix has nothing left to do
    again = api.fix(warehouse)
    assert not again.changed and not again.plan.fixes


def test_diff_writes_nothing_and_exits_1_when_the_file_would_change(warehouse: Path) -> None:
    path = warehouse / "workflow_registry.yaml"
    before = path.read_bytes()
    shown = cli("check", str(warehouse), "--diff")
    assert shown.returncode == 1, shown.stderr
    assert "+    extracted_table: extracted.news_mentions" in shown.stdout
    assert "-    extracted_table: null" in shown.stdout
    assert path.read_bytes() == before
    fixed = cli("check", str(warehouse), "--fix")
    assert fixed.returncode == 1  # what remains (CONF002, CONF019, ...) are errors
    assert "~ news-mentions (ingest_news_mentions)" in fixed.stderr
    assert "extracted_table: empty -> extracted.news_mentions" in fixed.stderr
    again = cli("check", str(warehouse), "--diff")
    assert again.returncode == 0 and again.stdout == ""


SLUGGED = {
    "config.py": "import modal\napp = modal.App('wh')\n",
    "app.py": "from ingest.icypeas import ingest_email_icypeas\n",
    "ingest/icypeas.py": """
        from pydantic import BaseModel
        from config import app

        class EmailRequest(BaseModel):
            workflow_slug: str = "icypeas-email"
            linkedin_url: str

        @app.function()
        def ingest_email_icypeas(request: EmailRequest, client):
            client.schema("raw").table("icypeas_emails").insert({}).execute()
            client.schema("extracted").table("person_emails").upsert({}).execute()
    """,
}
MIGRATED = """\
version: 1
workflows:
  # inserted by a migration, before anyone knew the function's name
  - workflow_slug: icypeas-email
    provider: icypeas
    platform: clay
    payload_type: email
    entity_type: person
    raw_table: raw.icypeas_email_payloads
"""


@pytest.mark.parametrize("command", [["check", "--fix"], ["register", "--all"]])
def test_the_codes_slug_links_an_entry_instead_of_duplicating_it(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "p").mkdir()
    project = make_project(tmp_path / "p", SLUGGED)
    (project / "workflow_registry.yaml").write_text(MIGRATED)
    args = [command[0], str(project), *command[1:]]
    if command[0] == "register":
        args = [command[0], str(project), "--all"]
    done = cli(*args)
    assert done.returncode in (0, 1), done.stderr
    entries = load_registry_file(project / "workflow_registry.yaml").entries
    assert [e.workflow_slug for e in entries] == ["icypeas-email"]  # no icypeas-email-2
    (entry,) = entries
    assert entry.modal_function_name == "ingest_email_icypeas"
    assert "# inserted by a migration" in (project / "workflow_registry.yaml").read_text()
    if command[0] == "check":  # the stale raw table follows the code
        assert entry.raw_table == "raw.icypeas_emails"
        assert entry.writes == ("extracted.person_emails", "raw.icypeas_emails")
        assert entry.provider == "icypeas" and entry.entity_type == "person"
        assert api.check(project).exit_code == 0


def test_a_row_without_a_function_whose_slug_the_name_gives_is_linked(tmp_path: Path) -> None:
    project = ingest_project(
        tmp_path,
        "tags",
        "ingest_company_tags, sync_news",
        """
            @app.function()
            def ingest_company_tags(client):
                client.schema("raw").table("tags").insert({}).execute()

            @app.function()
            def sync_news(client):
                client.schema("raw").table("news").insert({}).execute()
        """,
    )
    registry = project / "workflow_registry.yaml"
    # a migration's rows: no modal_function_name. company-tags is what ingest_company_tags'
    # name gives; news-feed is no function's name-derived slug (sync_news gives news)
    registry.write_text(
        "version: 1\nworkflows:\n"
        "  - workflow_slug: company-tags\n    provider: clay\n"
        "  - workflow_slug: news-feed\n    provider: clay\n"
    )
    fixed = api.fix(project)
    assert "linked to ingest_company_tags: its name gives this slug" in fixed.plan.fixes[0].notes
    entries = {e.workflow_slug: e for e in load_registry_file(registry).entries}
    assert sorted(entries) == ["company-tags", "news", "news-feed"]  # no company-tags-2
    assert entries["company-tags"].modal_function_name == "ingest_company_tags"
    assert entries["company-tags"].provider == "clay"
    assert entries["news-feed"].modal_function_name is None  # no evidence: not linked
    assert entries["news"].modal_function_name == "sync_news"


def test_a_new_entrys_slug_is_the_one_linking_would_choose(tmp_path: Path) -> None:
    """The slug the function records in its rows outranks a constant its module holds, for a
    new entry as for linking one (and CONF019)."""
    project = ingest_project(
        tmp_path,
        "reviews",
        "ingest_reviews",
        """
            DEFAULT_SLUG = "review-sync"

            @app.function()
            def ingest_reviews(client):
                client.schema("raw").table("review_payloads").insert(
                    {"workflow_slug": "company-reviews"}
                ).execute()
        """,
    )
    fixed = api.fix(project)
    (new,) = fixed.plan.fixes
    assert new.is_new and new.slug == "company-reviews"
    entries = load_registry_file(project / "workflow_registry.yaml").entries
    assert [e.workflow_slug for e in entries] == ["company-reviews"]


def test_a_new_entry_gets_marked_suggestions(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    project = make_project(tmp_path / "p", SLUGGED)
    done = cli("register", str(project), "--all")
    assert done.returncode == 0, done.stderr
    assert "suggested entity_type: person" in done.stdout
    text = (project / "workflow_registry.yaml").read_text()
    assert "entity_type: person  # suggested from " in text
    assert "key_column: linkedin_url  # suggested from request model field linkedin_url" in text
    assert "provider: icypeas  # suggested from module ingest.icypeas" in text
    entry = load_registry_file(project / "workflow_registry.yaml").entries[0]
    assert entry.workflow_slug == "icypeas-email"  # the code's slug, not a derived one
    assert entry.platform is None  # no evidence, no guess


def test_several_tables_in_a_layer_keep_the_entrys_choice_or_take_the_first_called(
    tmp_path: Path,
) -> None:
    project = ingest_project(
        tmp_path,
        "a",
        "ingest_a",
        """
            @app.function()
            def ingest_a(client):
                client.schema("raw").table("second").insert({}).execute()
                client.schema("raw").table("first").insert({}).execute()
                client.schema("core").table("companies").upsert({}).execute()
        """,
    )
    registry = project / "workflow_registry.yaml"
    entry = "  - workflow_slug: a\n    modal_function_name: ingest_a\n    raw_table: {raw}\n"
    for raw, expected in (("raw.first", "raw.first"), ("raw.elsewhere", "raw.second")):
        registry.write_text("version: 1\nworkflows:\n" + entry.format(raw=raw))
        api.fix(project)
        (fixed,) = load_registry_file(registry).entries
        assert fixed.raw_table == expected
        assert fixed.core_table == "core.companies" and fixed.coalesces_to_core
        assert fixed.writes == ("core.companies", "raw.first", "raw.second")


def test_what_a_trigger_may_write_is_kept_and_what_is_proven_gone_is_dropped(
    tmp_path: Path,
) -> None:
    project = ingest_project(
        tmp_path,
        "a",
        "ingest_a",
        """
            @app.function()
            def ingest_a(client):
                client.schema("extracted").table("rows").insert({}).execute()
        """,
    )
    registry = project / "workflow_registry.yaml"
    registry.write_text(
        "version: 1\nworkflows:\n  - workflow_slug: a\n    modal_function_name: ingest_a\n"
        "    core_table: core.rows\n    coalesces_to_core: true\n"
        "    writes: [extracted.rows, extracted.gone, core.rows]\n"
    )
    api.fix(project)
    (entry,) = load_registry_file(registry).entries
    assert entry.writes == ("core.rows", "extracted.rows")  # core.rows: a trigger may write it
    assert entry.core_table == "core.rows" and entry.coalesces_to_core


def test_crlf_files_stay_crlf(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    project = make_project(tmp_path / "p", SLUGGED)
    registry = project / "workflow_registry.yaml"
    registry.write_bytes(MIGRATED.replace("\n", "\r\n").encode())
    api.fix(project)
    data = registry.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"modal_function_name: ingest_email_icypeas\r\n" in data


def test_suggestions_agree_with_the_example_registry() -> None:
    """Every suggestion the example's functions get, for entries whose human columns are
    blanked, equals what the clean registry holds (the README quotes these counts)."""
    scanned = api.scan(EXAMPLE, api.Options(use_cache=False))
    registry = load_registry_file(EXAMPLE / "registry.clean.yaml")
    by_name = {n: f for f in scanned.analysis.functions for n in (f.name, f.modal_name)}
    made = agreed = 0
    for entry in registry.entries:
        fn = by_name.get(entry.modal_function_name or "")
        if fn is None or not entry.is_active:
            continue
        blank = replace(entry, entity_type=None, key_column=None, key_type=None, provider=None)
        others = replace(registry, entries=tuple(e for e in registry.entries if e is not entry))
        for suggestion in suggestions(fn, blank, scanned.config.entity_types, others):
            made += 1
            agreed += entry.column(suggestion.column) == suggestion.value
    assert made >= 20  # 23 when last counted (README)
    assert agreed == made


def test_fix_refuses_a_database_registry(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    project = make_project(tmp_path / "p", SLUGGED)
    done = cli("check", str(project), "--fix", "--registry", "postgresql://u@127.0.0.1:1/d")
    assert done.returncode == 2 and "registry file" in done.stderr
