"""The result cache: warm equals cold, a changed helper changes its callers, nothing is trusted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from analysis_helpers import make_project

from conformance import cache, records
from conformance.analysis.project import analyze_project
from conformance.config import load_config
from conformance.discovery import SourceFile
from conformance.model import CallStep, Location

FILES = {
    "config.py": "import modal\napp = modal.App('wh')\n",
    "extraction/writer.py": """
        def save(client, row):
            client.schema("core").table("companies").upsert(row).execute()
    """,
    "ingest/a.py": """
        from config import app
        from extraction.writer import save

        @app.function()
        def first(client):
            save(client, {})
    """,
    "ingest/b.py": """
        from config import app
        from extraction import writer

        @app.function()
        def second(client):
            writer.save(client, {})
            client.schema("raw").table("b_payloads").insert({}).execute()
    """,
}


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "p"
    root.mkdir()
    return make_project(root, FILES)


def tables(analysis) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {f.name: sorted(w.qualified_name for w in f.writes) for f in analysis.functions}


def test_warm_scan_equals_cold_scan(project: Path) -> None:
    config = load_config(project)
    cold = analyze_project(config)
    warm = analyze_project(config)
    assert warm.to_dict() == cold.to_dict()
    assert "parse" in cold.timings and "parse" not in warm.timings
    assert (project.parent / "cache" / ".gitignore").read_text().strip().endswith("*")


def test_changed_helper_changes_every_function_that_reaches_it(project: Path) -> None:
    config = load_config(project)
    assert tables(analyze_project(config)) == {
        "first": ["core.companies"],
        "second": ["core.companies", "raw.b_payloads"],
    }
    helper = project / "src" / "extraction" / "writer.py"
    helper.write_text(helper.read_text().replace('"companies"', '"organisations"'))
    assert tables(analyze_project(config)) == {
        "first": ["core.organisations"],
        "second": ["core.organisations", "raw.b_payloads"],
    }


def test_new_file_is_seen_on_the_warm_path(project: Path) -> None:
    config = load_config(project)
    analyze_project(config)
    (project / "src" / "ingest" / "c.py").write_text(
        "from config import app\n\n@app.function()\ndef third():\n    pass\n"
    )
    assert [f.name for f in analyze_project(config).functions] == ["first", "second", "third"]


def test_corrupt_entries_are_ignored_and_rebuilt(project: Path) -> None:
    config = load_config(project)
    cold = analyze_project(config)
    entries = [
        p for p in (project.parent / "cache").rglob("*") if p.is_file() and p.name != ".gitignore"
    ]
    assert entries
    for i, path in enumerate(entries):
        data = path.read_bytes()
        # truncate one, flip a byte in another, replace the rest with a foreign pickle
        path.write_bytes(
            data[: len(data) // 2]
            if i % 3 == 0
            else data[:-1] + bytes([data[-1] ^ 1])
            if i % 3 == 1
            else b"not a cache entry"
        )
    again = analyze_project(config)
    assert again.to_dict() == cold.to_dict()
    assert "parse" in again.timings  # everything was rebuilt


def test_load_rejects_a_payload_whose_checksum_does_not_match(tmp_path: Path) -> None:
    key = "ab" + "0" * 38
    cache.store(tmp_path, key, Location("a.py", 1))
    assert cache.load(tmp_path, key, Location) == Location("a.py", 1)
    assert cache.load(tmp_path, key, CallStep) is None  # another class: a miss
    path = tmp_path / key
    blob = bytearray(path.read_bytes())
    blob[-2] ^= 0xFF
    path.write_bytes(bytes(blob))
    assert cache.load(tmp_path, key, Location) is None


def test_no_cache_writes_nothing(project: Path) -> None:
    analyze_project(load_config(project), use_cache=False)
    assert not (project.parent / "cache").exists()


def test_warm_path_imports_no_parser_no_validator_and_no_database_driver(project: Path) -> None:
    script = (
        "import sys, json\n"
        "from conformance.cli import main\n"
        "try:\n"
        "    main(['scan', sys.argv[1], '--format', 'json', '-o', sys.argv[2]])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ['libcst', 'sqlglot', 'psycopg', 'jsonschema', 'yaml']\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    env = {**os.environ, "CONFORMANCE_CACHE_DIR": str(project.parent / "cache")}
    out = project.parent / "out.json"

    def heavy_modules_loaded() -> list[str]:
        run = subprocess.run(
            [sys.executable, "-c", script, str(project), str(out)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return list(json.loads(run.stdout))

    cold = heavy_modules_loaded()
    assert "libcst" in cold
    assert "jsonschema" in cold  # the settings, validated once
    assert heavy_modules_loaded() == []  # warm: settings and files unchanged


def test_a_copy_of_the_project_elsewhere_reads_its_registry_file_from_the_cache(
    project: Path, tmp_path: Path
) -> None:
    """What `check --staged` does on every commit: the staged files are a copy in a new
    temporary directory each time, and an unchanged registry file is not parsed again."""
    import shutil

    (project / "workflow_registry.yaml").write_text(
        "version: 1\nworkflows:\n  - workflow_slug: first\n    modal_function_name: first\n"
    )
    script = (
        "import sys, json\n"
        "from conformance.api import check\n"
        "result = check(sys.argv[1], offline=True)\n"
        "print(json.dumps([result.registry.source, 'yaml' in sys.modules]))\n"
    )
    env = {**os.environ, "CONFORMANCE_CACHE_DIR": str(tmp_path / "cache")}

    def check_in_a_new_process(where: Path) -> list[object]:
        run = subprocess.run(
            [sys.executable, "-c", script, str(where)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return list(json.loads(run.stdout))

    check_in_a_new_process(project)
    copy = tmp_path / "snapshot"
    shutil.copytree(project, copy)
    source, parsed = check_in_a_new_process(copy)
    assert source == str(copy / "workflow_registry.yaml")  # the copy's path, not the original's
    assert parsed is False


def test_a_copy_of_the_project_elsewhere_hits_the_cache(project: Path, tmp_path: Path) -> None:
    import shutil

    analyze_project(load_config(project))
    copy = tmp_path / "snapshot"
    shutil.copytree(project, copy)  # what the git hook checks: the staged files, elsewhere
    warm = analyze_project(load_config(copy))
    assert "parse" not in warm.timings
    assert tables(warm) == {
        "first": ["core.companies"],
        "second": ["core.companies", "raw.b_payloads"],
    }


EDITS = [
    ("extraction/company.py", '"companies"', '"organisations"'),  # a helper many reach
    ("ingest/company_tags.py", '"company_keywords"', '"company_terms"'),  # one ingest file
    (
        "app.py",
        "from ingest.reviews import ingest_reviews, score_review_batch\n",
        "from ingest.reviews import ingest_reviews\n",
    ),  # the entry point: deployment changes
    ("config.py", 'modal.App("warehouse-ingest")', 'modal.App("warehouse-ingest-2")'),
    ("extraction/people.py", "def ", "def _unused_helper():\n    pass\n\n\ndef "),
    # a file that stops parsing, and one that starts
    ("ingest/company_tags.py", "def ", "def (\n"),
    ("ingest/broken_syntax.py", '"""Half-finished', '"""Half-finished"""\nraise SystemExit\n"""'),
    # a suppression and a secret appear; a suppressed file changes elsewhere
    (
        "ingest/champions.py",
        "\n\n",
        '\n\nKEY = "postgresql://u:hunter22@db/x"  # conformance: ignore[CONF017] test\n\n',
    ),
    ("ingest/reviews.py", "\n\n", "\n\nimport extraction.lineage\n\n"),  # a new import
]


@pytest.mark.parametrize("rel,old,new", EDITS, ids=[e[0] for e in EDITS])
def test_partly_cached_analysis_equals_a_fresh_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rel: str, old: str, new: str
) -> None:
    import shutil

    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "warehouse"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "warehouse", project)
    config = load_config(project)
    analyze_project(config)
    path = project / "modal-functions" / "src" / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    partly = analyze_project(config)
    fresh = analyze_project(config, use_cache=False)
    assert partly.to_dict() == fresh.to_dict()
    assert [f.app_name for f in partly.functions] == [f.app_name for f in fresh.functions]
    assert partly.suppressions == fresh.suppressions and partly.secrets == fresh.secrets
    assert partly.functions == fresh.functions  # slug hints, call paths: every field
    again = analyze_project(config)  # and the entry it stored is as good as a fresh one
    assert again.functions == fresh.functions and again.errors == fresh.errors


def test_a_one_file_change_loads_only_the_summaries_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After one ingest file changes, the summaries of the other ingest files and of helpers
    it does not reach stay on disk (summaries.Summaries loads on first use)."""
    import shutil

    from conformance.analysis import summaries as summaries_module

    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "warehouse"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "warehouse", project)
    config = load_config(project)
    analyze_project(config)
    path = project / "modal-functions" / "src" / "ingest" / "company_tags.py"
    path.write_text(path.read_text() + "\nEDITED = 1\n")
    made: list[summaries_module.Summaries] = []
    real = summaries_module.collect_summaries

    def spy(*args: object, **kwargs: object) -> summaries_module.Summaries:
        made.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr("conformance.analysis.summaries.collect_summaries", spy)
    reads: list[str] = []
    read = summaries_module.read_regular

    def counted(source: SourceFile) -> bytes:
        reads.append(source.rel)
        return read(source)

    monkeypatch.setattr("conformance.analysis.summaries.read_regular", counted)
    partly = analyze_project(config)
    (store,) = made
    assert len(store) > 30
    assert 1 <= store.loaded() <= 10, store.loaded()
    assert reads == ["ingest/company_tags.py"]  # the rest were hashed once, before
    assert partly.to_dict() == analyze_project(config, use_cache=False).to_dict()


def test_every_record_survives_the_codec_field_for_field(tmp_path: Path) -> None:
    """A real analysis and its summaries come back from records.encode/decode equal and of
    the same classes; transient fields (timings, notices) are not stored."""
    from dataclasses import replace

    from conformance import records
    from conformance.analysis.summaries import collect_summaries
    from conformance.analysis.values import ModuleSummary
    from conformance.discovery import discover
    from conformance.model import Analysis

    project = make_project(tmp_path, FILES)
    config = load_config(project)
    analysis = analyze_project(config, use_cache=False)
    files = discover(config)
    summaries = collect_summaries(list(files.values()), files, config, use_cache=False)
    for record in (analysis, *summaries.values()):
        payload = records.encode(record)
        assert payload is not None
        back = records.decode(payload, type(record))
        assert back == record
        assert type(back) is type(record)
    noisy = replace(analysis, timings={"parse": 1.0}, notices=("a notice",))
    back = records.decode(records.encode(noisy) or b"", Analysis)
    assert back is not None and back.timings == {} and back.notices == ()
    assert records.decode(records.encode(analysis) or b"", ModuleSummary) is None


def test_a_cache_directory_removed_while_running_is_made_again(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "cache" / "v"
    cache.store(root, "ab" + "1" * 38, Location("a.py", 1))
    shutil.rmtree(tmp_path / "cache")
    cache.store(root, "ab" + "2" * 38, Location("b.py", 2))  # made by this process before
    assert cache.load(root, "ab" + "2" * 38, Location) == Location("b.py", 2)
    assert (tmp_path / "cache" / ".gitignore").is_file()
    cache.store(tmp_path / "file-not-dir" / "v", "cd" + "0" * 38, Location("c", 1))  # no raise
    (tmp_path / "blocked").write_text("")
    cache.store(tmp_path / "blocked" / "v", "cd" + "0" * 38, Location("c", 1))


def test_the_process_pool_fills_the_cache_that_later_runs_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enough files for the pool: its workers send encoded summaries, which the main process
    stores; a warm run and a partly changed run then equal fresh serial analyses."""
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(cache_dir))
    files = dict(FILES)
    for i in range(60):
        files[f"ingest/n{i}.py"] = f"""
            from config import app
            from extraction.writer import save

            @app.function()
            def load_{i}(client):
                save(client, {{}})
                client.schema("raw").table("t{i}").insert({{}}).execute()
        """
    project = make_project(tmp_path, files)
    config = load_config(project)
    pooled = analyze_project(config, jobs=2)
    assert pooled.to_dict() == analyze_project(config, use_cache=False, jobs=1).to_dict()
    entries = [p for p in cache_dir.rglob("*") if p.is_file() and p.name != ".gitignore"]
    assert len(entries) >= 60 + 3  # one per file, and the project's two records
    assert analyze_project(config, jobs=2).to_dict() == pooled.to_dict()  # warm
    writer = project / "src" / "extraction" / "writer.py"
    writer.write_text(writer.read_text().replace('"companies"', '"organisations"'))
    partly = analyze_project(config, jobs=2)
    assert partly.to_dict() == analyze_project(config, use_cache=False, jobs=1).to_dict()
    renamed = [f for f in partly.functions if any(w.table == "organisations" for w in f.writes)]
    assert len(renamed) >= 62  # the 60 new functions and the fixture's own


def test_the_layout_key_covers_every_module_whose_classes_the_cache_holds() -> None:
    """The cache root is keyed by the source of the modules in cache._RECORD_MODULES: every
    module whose classes records.ALLOWED lets an entry hold, and the codec itself."""
    files = {m.removeprefix("conformance.").replace(".", "/") + ".py" for m in records.ALLOWED}
    assert {"model.py", "analysis/values.py", "analysis/incremental.py"} <= files
    assert files | {"records.py"} == set(cache._RECORD_MODULES)


def test_a_new_generation_prunes_older_versions_only(project: Path, tmp_path: Path) -> None:
    base = tmp_path / "cache"
    current = cache.cache_root(project)
    assert current.parent == base
    fmt = int(current.name.split("-")[0][1:])
    older = [base / f"v{fmt}-0.1.0-abc123abc123", base / f"v{fmt - 1}-9.9.9-abc123abc123"]
    kept = [
        base / f"v{fmt}-99.0.0-abc123abc123",  # a newer version: another checkout's
        base / "notes",  # not a cache generation
    ]
    for directory in (*older, *kept):
        directory.mkdir(parents=True)
        (directory / "entry").write_text("x")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep").write_text("x")
    link = base / f"v{fmt}-0.0.1-def456def456"
    link.symlink_to(outside, target_is_directory=True)

    analyze_project(load_config(project))  # makes the current generation

    assert current.is_dir()
    assert not any(d.exists() for d in older)
    assert all(d.is_dir() for d in kept)
    assert (outside / "keep").exists()  # a link is never followed
