"""The shipped workflow file and hook manifest, as files: what they install, when each job runs,
and that the manifest's hooks are wired as documented (pre-commit validates it)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_runner import Event, decide, load

from conformance import __version__

REPO = Path(__file__).resolve().parents[1]
# `pip install [options] conformance...`: the package index's unrelated project
BARE = r"pip install(?:\s+-{1,2}[\w-]+)*\s+['\"]?conformance(?![\w-])"
WORKFLOW = REPO / "hooks" / "conformance.yml"


def test_the_workflow_installs_from_the_repository_at_a_tag_never_by_a_bare_name() -> None:
    text = WORKFLOW.read_text()
    data = load(WORKFLOW)
    top = list(data["env"])
    assert top[:2] == ["CONFORMANCE_REPOSITORY", "CONFORMANCE_REF"]  # named, at the top
    assert data["env"]["CONFORMANCE_REF"] == f"v{__version__}"
    installs = [
        step["run"]
        for job in data["jobs"].values()
        for step in job["steps"]
        if step.get("name", "").startswith("Install conformance")
    ]
    assert len(installs) == len(data["jobs"])
    for command in installs:
        (spec,) = [w for w in shlex.split(command) if "workflow-conformance" in w]
        assert re.fullmatch(
            r"workflow-conformance(\[binary\])? @ git\+\$\{CONFORMANCE_REPOSITORY\}@"
            r"\$\{CONFORMANCE_REF\}",
            spec,
        ), spec
    assert not re.search(BARE, text)
    for name in ("plan", "apply", "drift"):  # these connect: psycopg's own libpq
        assert any("[binary]" in s["run"] for s in data["jobs"][name]["steps"] if "run" in s)


@pytest.mark.parametrize(
    ("event", "ref", "jobs"),
    [
        ("pull_request", "refs/pull/7/merge", {"check", "plan"}),
        ("push", "refs/heads/main", {"check", "apply"}),
        ("schedule", "refs/heads/main", {"drift"}),
        ("workflow_dispatch", "refs/heads/main", {"drift"}),
    ],
)
def test_each_event_runs_its_jobs(event: str, ref: str, jobs: set[str]) -> None:
    data = load(WORKFLOW)
    ran = {name for name, job in data["jobs"].items() if decide(job.get("if"), Event(event, ref))}
    assert ran == jobs


def test_secrets_reach_only_the_jobs_that_need_them_and_the_write_dsn_only_apply() -> None:
    data = load(WORKFLOW)
    jobs = data["jobs"]
    assert "secrets." not in yaml.safe_dump(jobs["check"])
    assert jobs["apply"]["environment"] == "registry"
    assert "secrets.CONFORMANCE_DSN" in jobs["apply"]["env"]["CONFORMANCE_DSN"]
    for name in ("plan", "drift"):
        assert jobs[name]["environment"] == "registry-read"
        assert "CONFORMANCE_READ_DSN" in jobs[name]["env"]["CONFORMANCE_DSN"]
    assert data["permissions"] == {"contents": "read"}
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    # the DSN is never on a command line
    for job in jobs.values():
        for step in job["steps"]:
            assert "--dsn" not in step.get("run", "")


def test_the_manifest_is_valid_and_wires_both_hooks() -> None:
    pre_commit = Path(sys.executable).parent / "pre-commit"
    if not pre_commit.exists():
        pytest.skip("pre-commit is not installed in the venv")
    done = subprocess.run(
        [str(pre_commit), "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"conformance", "conformance-fix"}
    check, fix = hooks["conformance"], hooks["conformance-fix"]
    assert shlex.split(check["entry"]) == [
        "conformance",
        "check",
        "--jobs",
        "1",
        "--offline",
        "--staged",
    ]
    assert shlex.split(fix["entry"]) == [
        "conformance",
        "check",
        "--fix",
        "--offline",
        "--staged",
    ]
    assert fix["stages"] == ["manual"]  # changes files only when asked
    for hook in (check, fix):
        assert hook["pass_filenames"] is False and hook["language"] == "python"
        files = re.compile(hook["files"])
        for path in (
            "a/ingest/x.py",
            "workflow_registry.yaml",
            "w/workflow_registry.json",
            "w/pyproject.toml",
        ):
            assert files.search(path), path
        for path in (".github/workflows/ci.yml", "package.json", "docs/openapi.yaml", "a.md"):
            assert not files.search(path), path


def test_the_readme_and_hooks_readme_document_the_released_tag() -> None:
    for doc in (REPO / "README.md", REPO / "hooks" / "README.md", REPO / ".pre-commit-hooks.yaml"):
        tags = set(re.findall(r"rev: (v\d+\.\d+\.\d+)", doc.read_text()))
        assert tags == {f"v{__version__}"}, (doc, tags)
    assert f"## [{__version__}]" in (REPO / "CHANGELOG.md").read_text()
    for doc in (REPO / "README.md", REPO / "hooks" / "README.md", REPO / "hooks" / "pre-commit"):
        assert not re.search(BARE, doc.read_text()), doc
