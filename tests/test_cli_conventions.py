"""What users of ruff, flake8 and sqlfluff expect of a linter: the project found from any
directory inside it, ``path:line:col`` relative to where they stand (GitHub and SARIF: to the
repository root), ``--statistics``, ``--quiet``, ``--exit-zero``, colour and progress only on a
terminal, ``explain --all``, and shell completion."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from analysis_helpers import make_project, run_cli

from conformance import terminal

REGISTERED = """\
version: 1
workflows:
  - workflow_slug: a
    modal_function_name: ingest_a
    raw_table: raw.a_payloads
    writes: [raw.a_payloads]
  - workflow_slug: gone
    modal_function_name: ingest_gone
"""
FILES = {
    "config.py": "import modal\napp = modal.App('wh')\n",
    "app.py": "from ingest.a import ingest_a\nfrom ingest.b import ingest_b\n",
    "ingest/a.py": """
        from config import app

        @app.function()
        def ingest_a(client):
            client.schema("raw").table("a_payloads").insert({}).execute()
    """,
    "ingest/b.py": """
        from config import app


        @app.function()
        def ingest_b(client):
            client.schema("raw").table("b_payloads").insert({}).execute()
    """,
}


def conformance(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs the command line in this process, from ``cwd``, with ``env`` on top of the
    environment (without NO_COLOR and GITHUB_WORKSPACE)."""
    return run_cli(args, cwd, env, unset=("NO_COLOR", "GITHUB_WORKSPACE"))


@pytest.fixture()
def monorepo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``mono/`` (a git repository with a pyproject.toml of its own, not ours) holding the
    project ``services/warehouse`` (source root ``src``)."""
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(tmp_path / "cache"))
    mono = tmp_path / "mono"
    project = mono / "services" / "warehouse"
    project.mkdir(parents=True)
    (mono / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    make_project(project, FILES, 'registry = "workflow_registry.yaml"\nrequired_columns = []\n')
    (project / "workflow_registry.yaml").write_text(REGISTERED)
    subprocess.run(["git", "init", "-q", str(mono)], check=True)
    return mono


def test_run_from_a_subdirectory_finds_the_project_and_prints_paths_from_here(
    monorepo: Path,
) -> None:
    ingest = monorepo / "services" / "warehouse" / "src" / "ingest"
    result = conformance("check", cwd=ingest)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    # the def line's code starts in column 1; the registry entry's "- " in column 3
    assert any(
        line.startswith("b.py:5:1: error CONF001 [unregistered-function] ingest_b is not")
        for line in lines
    )
    assert any(line.startswith("../../workflow_registry.yaml:7:3: error CONF002") for line in lines)
    for line in lines:
        if ": error " in line or ": warning " in line:
            place = line.split(": ", 1)[0]
            file, row, col = place.rsplit(":", 2)
            assert (ingest / file).is_file() and row.isdigit() and col.isdigit(), line
    # the same from the repository root, where nothing is configured: PROJECT given
    from_root = conformance("check", "services/warehouse", cwd=monorepo)
    assert "services/warehouse/src/ingest/b.py:5:1: error CONF001" in from_root.stdout
    # scan too
    scanned = conformance("scan", cwd=ingest)
    assert scanned.stdout.startswith("ingest_a  a.py:4\n")


def test_github_and_sarif_paths_are_relative_to_the_repository_root(monorepo: Path) -> None:
    ingest = monorepo / "services" / "warehouse" / "src" / "ingest"
    github = conformance("check", "--format", "github", cwd=ingest)
    assert (
        "::error file=services/warehouse/src/ingest/b.py,line=5,col=1,title=CONF001"
        in github.stdout
    )
    assert "file=services/warehouse/workflow_registry.yaml,line=7,col=3" in github.stdout
    sarif = json.loads(conformance("check", "--format", "sarif", cwd=ingest).stdout)
    run = sarif["runs"][0]
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert uris == {
        "services/warehouse/src/ingest/b.py",
        "services/warehouse/workflow_registry.yaml",
    }
    for uri in uris:
        assert (monorepo / uri).is_file()
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == monorepo.resolve().as_uri() + "/"
    assert run["automationDetails"]["id"] == "conformance/services/warehouse/file/"


def test_no_project_found_says_so_instead_of_passing_silently(tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    result = conformance("scan", cwd=empty, env={"CONFORMANCE_CACHE_DIR": str(tmp_path / "c")})
    assert result.returncode == 0
    assert "no ingest function found" in result.stderr and "[tool.conformance]" in result.stderr


def test_statistics_quiet_and_exit_zero(monorepo: Path) -> None:
    project = monorepo / "services" / "warehouse"
    stats = conformance("check", "--statistics", cwd=project)
    assert stats.returncode == 1
    lines = stats.stdout.splitlines()
    assert lines[0].split() == ["1", "CONF001", "error", "unregistered-function"]
    assert lines[1].split() == ["1", "CONF002", "error", "orphan-row"]
    assert lines[-1].startswith("2 functions checked: 2 errors")
    quiet = conformance("check", "-q", cwd=project)
    assert quiet.returncode == 1 and quiet.stderr == ""
    assert len(quiet.stdout.splitlines()) == 2  # two headlines, no evidence, no summary
    assert conformance("check", "--exit-zero", cwd=project).returncode == 0
    bad = conformance("check", "--exit-zero", "--registry", "missing.yaml", cwd=project)
    assert bad.returncode == 2  # a tool error is never zero
    refused = conformance("check", "--statistics", "--format", "json", cwd=project)
    assert refused.returncode == 2 and "--statistics" in refused.stderr


def test_colour_only_when_asked_or_on_a_terminal_without_no_color(monorepo: Path) -> None:
    project = monorepo / "services" / "warehouse"
    assert "\x1b[" not in conformance("check", cwd=project).stdout  # piped: auto is off
    always = conformance("check", "--color", "always", cwd=project, env={"NO_COLOR": "1"})
    assert "\x1b[1;31merror\x1b[0m" in always.stdout  # the command line wins over NO_COLOR
    never = conformance("check", "--color", "never", cwd=project)
    assert "\x1b[" not in never.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_colour_follows_the_terminal_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stdout", _Terminal())
    assert terminal.use_color("auto", None) is True
    assert terminal.use_color("auto", "report.txt") is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert terminal.use_color("auto", None) is False
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.delenv("NO_COLOR")
    assert terminal.use_color("auto", None) is False


def test_progress_shows_on_a_terminal_for_long_runs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(terminal, "PROGRESS_AFTER", 0.05)
    screen = _Terminal()
    with terminal.progress(stream=screen):
        time.sleep(0.3)
    shown = screen.getvalue()
    assert "conformance: analysing" in shown and shown.endswith("\r\x1b[K")
    quick = _Terminal()
    with terminal.progress(stream=quick):
        pass
    assert quick.getvalue() == ""
    piped = io.StringIO()
    with terminal.progress(stream=piped):
        time.sleep(0.2)
    assert piped.getvalue() == ""
    quiet = _Terminal()
    with terminal.progress(enabled=False, stream=quiet):
        time.sleep(0.2)
    assert quiet.getvalue() == ""


def test_explain_all_and_one(tmp_path: Path) -> None:
    from conformance.rules import RULES

    every = conformance("explain", "--all", cwd=tmp_path)
    assert every.returncode == 0
    assert [line.split()[0] for line in every.stdout.splitlines() if line[:4] == "CONF"][
        : len(RULES)
    ] == [r.code for r in RULES]
    assert conformance("explain", cwd=tmp_path).returncode == 2
    assert conformance("explain", "CONF001", "--all", cwd=tmp_path).returncode == 2
    assert "docs/rules.md#conf001" in conformance("explain", "CONF001", cwd=tmp_path).stdout


def _process(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
        timeout=120,
    )


def test_shell_completion_is_clicks(tmp_path: Path) -> None:
    script = _process("--help", cwd=tmp_path, env={"_CONFORMANCE_COMPLETE": "bash_source"})
    assert script.returncode == 0
    assert "_conformance_completion" in script.stdout and "complete " in script.stdout
    words = _process(
        cwd=tmp_path,
        env={
            "_CONFORMANCE_COMPLETE": "bash_complete",
            "COMP_WORDS": "conformance ch",
            "COMP_CWORD": "1",
        },
    )
    assert "plain,check" in words.stdout


def test_register_from_a_subdirectory_writes_the_projects_registry(monorepo: Path) -> None:
    ingest = monorepo / "services" / "warehouse" / "src" / "ingest"
    result = conformance("register", "ingest_b", cwd=ingest)
    assert result.returncode == 0, result.stderr
    assert "registered ingest_b (b.py:5) as b in ../../workflow_registry.yaml" in result.stdout
    assert (
        "modal_function_name: ingest_b"
        in (monorepo / "services" / "warehouse" / "workflow_registry.yaml").read_text()
    )
    assert not (ingest / "workflow_registry.yaml").exists()


def test_staged_checks_the_index_and_names_work_tree_files(monorepo: Path) -> None:
    from conformance import api

    project = monorepo / "services" / "warehouse"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=monorepo, check=True)
    # unstaged: the registry fixed; untracked: another unregistered function
    registry = project / "workflow_registry.yaml"
    registry.write_text(REGISTERED.replace("gone", "b").replace("ingest_gone", "ingest_b"))
    (project / "src" / "ingest" / "c.py").write_text(
        "from config import app\n\n@app.function()\ndef ingest_c():\n    pass\n"
    )
    worktree = api.check(project, api.Options(use_cache=False))
    assert {f.function for f in worktree.findings if f.code == "CONF001"} == {"ingest.c.ingest_c"}
    staged = api.check(project, api.Options(use_cache=False), staged=True)
    assert {f.code for f in staged.findings} == {"CONF001", "CONF002"}  # the index's version
    assert {f.function for f in staged.findings if f.code == "CONF001"} == {"ingest.b.ingest_b"}
    assert staged.config.project_dir == project.resolve()
    assert staged.config.source_root == (project / "src").resolve()
    assert staged.registry.source == str(registry.resolve())
    outside = monorepo.parent / "not-a-repo"
    outside.mkdir()
    (outside / "pyproject.toml").write_text("[tool.conformance]\n")
    with pytest.raises(api.ConformanceError, match="--staged"):
        api.check(outside, staged=True)
