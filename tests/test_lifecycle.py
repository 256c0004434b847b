"""One function's whole life in a real repository: real git, the real pre-commit executable,
real PostgreSQL, and the jobs of hooks/conformance.yml run step by step (tests/workflow_runner).

A monorepo whose warehouse project is ``warehouse/``, set up as the README says (its pre-commit
snippet, the workflow file with PROJECT set):

1. main holds ``ingest_company``, registered; the merge job applies it; the drift job is clean;
2. a branch adds ``ingest_person`` without an entry: the commit is blocked, and the hint is
   the second hook (an untracked work-in-progress file never matters);
3. the fix: ``pre-commit run conformance-fix`` (the second hook, ``check --fix``) adds the
   entry, the developer fills the columns it names; the commit passes;
4. the pull request's jobs: the check passes, the plan (``+ person``) is in the job summary and
   in the comment;
5. merge to main: the apply job applies it and checks the live table;
6. the scheduled drift job is clean; after a hand edit in the database it fails, naming the row.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from analysis_helpers import MINI_CONFIG, MINI_FUNCTION
from test_precommit import (
    CONFORMANCE,
    FILLED,
    PRE_COMMIT,
    PYPROJECT,
    REGISTRY,
    REPO,
    offline_env,
    output,
    run,
)
from workflow_runner import (
    Event,
    JobResult,
    environment_with,
    fake_gh,
    gh_calls,
    load,
    run_job,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is not installed in the venv"),
]


def readme_snippet(marker: str) -> str:
    """Returns the fenced block that follows ``<!-- snippet: marker -->`` in the README."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    after = text.split(f"<!-- snippet: {marker} -->", 1)[1]
    match = re.search(r"```\w*\n(.*?)```", after, re.S)
    assert match, marker
    return match.group(1)


def pre_commit_config() -> str:
    """The README's .pre-commit-config.yaml as written, with the repository replaced by a local
    one running the manifest's hooks with the venv's executable (`language: python` would build
    an environment from the package index; the rest is the snippet's and the manifest's)."""
    snippet = yaml.safe_load(readme_snippet("pre-commit"))
    (remote,) = snippet["repos"]
    assert remote["rev"] == "v" + __import__("conformance").__version__
    manifest = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    hooks = []
    for hook in remote["hooks"]:
        merged = {**manifest[hook["id"]], **hook}
        command = shlex.split(merged["entry"])
        assert command[0] == "conformance"
        merged["entry"] = shlex.join([str(CONFORMANCE), *command[1:]])
        merged["language"] = "system"
        merged.pop("minimum_pre_commit_version", None)
        hooks.append(merged)
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}, sort_keys=False)


def write_repository(root: Path) -> None:
    project = root / "warehouse"
    src = project / "modal-functions" / "src"
    (src / "ingest").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "workflow_registry.yaml").write_text(REGISTRY)
    (src / "config.py").write_text(MINI_CONFIG)
    (src / "ingest" / "__init__.py").write_text("")
    (src / "ingest" / "company.py").write_text(MINI_FUNCTION.format(name="company"))
    (src / "app.py").write_text("from ingest.company import ingest_company  # noqa: F401\n")
    (root / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")  # not ours
    (root / ".gitignore").write_text(".conformance_cache/\n__pycache__/\nconformance-plan.*\n")
    workflow = (REPO / "hooks" / "conformance.yml").read_text()
    assert '  PROJECT: "."\n' in workflow
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "conformance.yml").write_text(
        workflow.replace('  PROJECT: "."\n', '  PROJECT: "warehouse"\n')
    )
    (root / ".pre-commit-config.yaml").write_text(pre_commit_config())


def fill(registry: Path, function: str) -> None:
    data = yaml.safe_load(registry.read_text())
    (entry,) = [e for e in data["workflows"] if e.get("modal_function_name") == function]
    entry.update({k: v for k, v in FILLED.items() if not entry.get(k)})
    registry.write_text(yaml.safe_dump(data, sort_keys=False))


def test_one_function_from_pull_request_to_drift(tmp_path: Path, pg_db: str) -> None:
    import psycopg

    root = tmp_path / "repo"
    root.mkdir()
    env = offline_env(tmp_path)
    tools = tmp_path / "bin"
    tools.mkdir()
    gh_log = tmp_path / "gh.log"
    fake_gh(tools, gh_log)
    ci_env = environment_with([tools, CONFORMANCE.parent])
    ci_env["CONFORMANCE_CACHE_DIR"] = str(tmp_path / "ci-cache")
    workflow = load(REPO / "hooks" / "conformance.yml")
    workflow["env"]["PROJECT"] = "warehouse"
    secrets = {"CONFORMANCE_DSN": pg_db, "CONFORMANCE_READ_DSN": pg_db}

    checkouts = iter(range(1000))

    def job(name: str, event: str, **kw: object) -> JobResult:
        """Runs a job in a fresh checkout of the current commit (as actions/checkout makes:
        no untracked files, no cache)."""
        head = run(["git", "rev-parse", "HEAD"], root, env).stdout.strip()
        workspace = tmp_path / f"checkout-{next(checkouts)}"
        run(["git", "clone", "-q", "--no-checkout", str(root), str(workspace)], tmp_path, env)
        run(["git", "checkout", "-q", head], workspace, env)
        return run_job(
            workflow,
            name,
            Event(event, secrets=secrets, **kw),  # type: ignore[arg-type]
            workspace=workspace,
            env=ci_env,
            tmp=tmp_path,
        )

    run(["git", "init", "-q", "-b", "main"], root, env)
    for key, value in [("user.name", "Dev"), ("user.email", "dev@example.invalid")]:
        run(["git", "config", "--local", key, value], root, env)
    write_repository(root)
    run([str(PRE_COMMIT), "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")], root, env)
    run([str(PRE_COMMIT), "install"], root, env)
    run(["git", "add", "-A"], root, env)
    first = run(["git", "commit", "-q", "-m", "Warehouse with ingest_company"], root, env, False)
    assert first.returncode == 0, output(first)

    # 1. main: applied on push, drift clean
    applied = job("apply", "push")
    assert applied.ran and applied.ok, applied.output
    assert "- create table reference\\.enrichment\\_workflow\\_registry" in applied.summary
    drift = job("drift", "schedule")
    assert drift.ran and drift.ok, drift.output

    # 2. a branch adds ingest_person without an entry: blocked; WIP untracked files never matter
    run(["git", "checkout", "-q", "-b", "add-person"], root, env)
    src = root / "warehouse" / "modal-functions" / "src"
    (src / "ingest" / "person.py").write_text(MINI_FUNCTION.format(name="person"))
    with open(src / "app.py", "a") as fh:
        fh.write("from ingest.person import ingest_person  # noqa: F401\n")
    wip = src / "ingest" / "wip_scraper.py"  # never added: neither blocks nor passes anything
    wip.write_text(MINI_FUNCTION.format(name="wip_scraper"))
    run(["git", "add", "warehouse/modal-functions/src/ingest/person.py"], root, env)
    run(["git", "add", "warehouse/modal-functions/src/app.py"], root, env)
    blocked = run(["git", "commit", "-q", "-m", "Add ingest_person"], root, env, False)
    text = output(blocked)
    assert blocked.returncode != 0, text
    assert "CONF001" in text and "ingest_person is not registered" in text
    assert "wip_scraper" not in text  # untracked: not part of the commit
    assert "run `pre-commit run conformance-fix --hook-stage manual --all-files`" in text
    assert "modal-functions/src/ingest/person.py:5:1" in text

    # 3. the fix: the hint's command adds the entry (and fails: files changed, columns to fill)
    fixed = run(
        [str(PRE_COMMIT), "run", "conformance-fix", "--hook-stage", "manual", "--all-files"],
        root,
        env,
        False,
    )
    assert fixed.returncode == 1, output(fixed)
    assert "+ person: new entry for ingest_person" in output(fixed), output(fixed)
    assert "CONF020" in output(fixed)  # what remains: the human columns
    fill(root / "warehouse" / "workflow_registry.yaml", "ingest_person")
    run(["git", "add", "warehouse/workflow_registry.yaml"], root, env)
    passed = run(["git", "commit", "-q", "-m", "Add ingest_person"], root, env, False)
    assert passed.returncode == 0, output(passed)
    assert "conformance (workflow registry)" in output(passed) and "Passed" in output(passed)

    # 4. the pull request: the check passes, the plan is in the summary and the comment
    check = job("check", "pull_request", ref="refs/pull/7/merge")
    assert check.ran and check.ok, check.output
    assert not job("apply", "pull_request", ref="refs/pull/7/merge").ran
    plan = job("plan", "pull_request", ref="refs/pull/7/merge")
    assert plan.ran and plan.ok, plan.output
    assert "| + | person | insert (ingest\\_person) |" in plan.summary, plan.summary
    assert "1 to insert, 0 to update, 0 to deactivate, 1 unchanged" in plan.summary
    listing, posted = gh_calls(gh_log)
    assert listing.startswith("api repos/acme/warehouse/issues/7/comments --paginate --jq")
    assert posted.startswith("api -X POST repos/acme/warehouse/issues/7/comments -f body=")
    assert "<!-- conformance plan -->" in posted and "| + | person | insert" in posted
    fake_gh(tools, gh_log, existing="4242")  # the next push updates that comment
    assert job("plan", "pull_request", ref="refs/pull/7/merge").ok
    assert gh_calls(gh_log)[-1].startswith(
        "api -X PATCH repos/acme/warehouse/issues/comments/4242 -f body=<!-- conformance plan -->"
    )
    with psycopg.connect(pg_db) as conn:  # the plan wrote nothing
        count = conn.execute("SELECT count(*) FROM reference.enrichment_workflow_registry")
        assert count.fetchone() == (1,)

    # 5. merge to main: apply
    run(["git", "checkout", "-q", "main"], root, env)
    run(["git", "merge", "-q", "--no-ff", "-m", "Merge add-person", "add-person"], root, env)
    merged = job("apply", "push")
    assert merged.ran and merged.ok, merged.output
    assert "| + | person | insert (ingest\\_person) |" in merged.summary
    assert "applied: 1 inserted" in merged.output

    # 6. drift: clean, then a hand edit fails the job naming the row
    clean = job("drift", "workflow_dispatch")
    assert clean.ran and clean.ok, clean.output
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE reference.enrichment_workflow_registry SET writes = '{}', "
            "provider = 'edited by hand' WHERE workflow_slug = 'person'"
        )
    drifted = job("drift", "schedule")
    assert drifted.ran and not drifted.ok, drifted.output
    assert re.search(
        r"::error file=warehouse/workflow_registry\.yaml,line=\d+,col=\d+,"
        r"title=CONF021 apply-pending::row person differs",
        drifted.output,
    ), drifted.output
    assert "CONF021" in drifted.summary and "person" in drifted.summary
    assert wip.exists()  # the work in progress was never touched


def test_the_readme_commands_work_from_a_subdirectory_of_a_monorepo(
    tmp_path: Path, pg_db: str
) -> None:
    import os
    import subprocess

    root = tmp_path / "repo"
    root.mkdir()
    env = offline_env(tmp_path)
    run(["git", "init", "-q", "-b", "main"], root, env)
    write_repository(root)
    (root / "warehouse" / "workflow_registry.yaml").write_text("version: 1\nworkflows: []\n")
    env = {**env, "CONFORMANCE_DSN": pg_db, "CONFORMANCE_CACHE_DIR": str(tmp_path / "cache")}
    cwd = root
    ran = 0
    for line in readme_snippet("monorepo").splitlines():
        command, _, comment = line.partition("#")
        words = shlex.split(command)
        if words[0] == "cd":
            cwd = cwd / words[1]
            assert cwd.is_dir(), line
            continue
        assert words[0] == "conformance", line
        done = subprocess.run(
            [str(CONFORMANCE), *words[1:]],
            cwd=cwd,
            env={k: v for k, v in env.items() if k != "PRE_COMMIT"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode in (0, 1), (line, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and "no ingest function" not in done.stderr, line
        shown = comment.strip().split("...")[0].strip()
        if shown.startswith(("company.py", "::error")):
            assert shown in done.stdout, (line, done.stdout)
        ran += 1
    assert ran >= 4 and os.path.samefile(cwd, root / "warehouse/modal-functions/src/ingest")
