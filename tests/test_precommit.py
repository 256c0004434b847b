"""The commit-time surfaces, end to end: the real ``pre-commit`` executable running this
repository's hook manifest, and the plain git hook ``hooks/pre-commit``, in temporary git
repositories holding a small Modal project.

The manifest's hook is ``language: python``, which makes pre-commit build an environment from
the package index; the test runs the same hook as ``repo: local`` / ``language: system`` with the
venv's ``conformance`` so that nothing touches the network (proxies point at a closed port, the
index is disabled, and git may use local protocols only).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from analysis_helpers import MINI_CONFIG, MINI_FUNCTION

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PRE_COMMIT = BIN / "pre-commit"
CONFORMANCE = BIN / "conformance"

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is not installed in the venv"),
    pytest.mark.skipif(not CONFORMANCE.exists(), reason="conformance is not installed"),
]

PYPROJECT = """\
[tool.conformance]
source_root = "modal-functions/src"
ingest = ["ingest"]
entrypoint = "app.py"
registry = "workflow_registry.yaml"
"""

CONFIG = MINI_CONFIG

FUNCTION = MINI_FUNCTION

REGISTRY = """\
version: 1
workflows:
  - workflow_slug: company
    provider: acme
    platform: api
    payload_type: company_profile
    entity_type: company
    description: Company profiles from the Acme API.
    raw_table: raw.company_payloads
    key_column: domain
    key_type: text
    modal_function_name: ingest_company
    writes: [raw.company_payloads]
"""

# What a human fills in after `conformance register`: the columns the code cannot tell.
FILLED = {
    "provider": "acme",
    "platform": "api",
    "payload_type": "person_profile",
    "entity_type": "person",
    "description": "Person profiles from the Acme API.",
    "key_column": "linkedin_url",
    "key_type": "text",
}


def offline_env(tmp_path: Path) -> dict[str, str]:
    """Returns an environment with its own HOME, git config and pre-commit store, no network."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "PRE_COMMIT", "CONFORMANCE_", "PYTEST_"))
    }
    closed = "http://127.0.0.1:9"  # nothing listens on the discard port: any request fails
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_ALLOW_PROTOCOL="file",
        GIT_TERMINAL_PROMPT="0",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        PIP_NO_INDEX="1",
        PIP_CONFIG_FILE=os.devnull,
        http_proxy=closed,
        https_proxy=closed,
        HTTP_PROXY=closed,
        HTTPS_PROXY=closed,
        no_proxy="",
        NO_PROXY="",
        PATH=os.pathsep.join([str(BIN), env.get("PATH", os.defpath)]),
    )
    return env


def run(
    args: list[str], cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(args)} exited {result.returncode}:\n{output(result)}")
    return result


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def write_project(root: Path) -> None:
    """A Modal project shaped like examples/warehouse, with one registered ingest function."""
    src = root / "modal-functions" / "src"
    (src / "ingest").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "workflow_registry.yaml").write_text(REGISTRY)
    (root / ".gitignore").write_text(".conformance_cache/\n__pycache__/\n")
    (src / "config.py").write_text(CONFIG)
    (src / "ingest" / "__init__.py").write_text("")
    (src / "ingest" / "company.py").write_text(FUNCTION.format(name="company"))
    (src / "app.py").write_text(
        "from config import app  # noqa: F401\n"
        "from ingest.company import ingest_company  # noqa: F401\n"
    )


def add_unregistered_function(root: Path) -> None:
    src = root / "modal-functions" / "src"
    (src / "ingest" / "person.py").write_text(FUNCTION.format(name="person"))
    with open(src / "app.py", "a", encoding="utf-8") as fh:
        fh.write("from ingest.person import ingest_person  # noqa: F401\n")


def fill_registered_entry(registry: Path, function: str) -> dict[str, object]:
    """Fills the columns ``conformance register`` left empty in ``function``'s entry."""
    data = yaml.safe_load(registry.read_text())
    entries = [e for e in data["workflows"] if e.get("modal_function_name") == function]
    assert len(entries) == 1, f"register added no single entry for {function}: {data}"
    entry = entries[0]
    for column, value in FILLED.items():
        if entry.get(column) in (None, ""):
            entry[column] = value
    registry.write_text(yaml.safe_dump(data, sort_keys=False))
    return dict(entry)


def init_repo(root: Path, env: dict[str, str]) -> None:
    run(["git", "init", "-q", "-b", "main"], root, env)
    for key, value in [
        ("user.name", "Conformance Test"),
        ("user.email", "conformance@example.invalid"),
        ("commit.gpgsign", "false"),
    ]:
        run(["git", "config", "--local", key, value], root, env)


def local_hook_config() -> str:
    """Returns a .pre-commit-config.yaml running the manifest's hook with the venv's executable."""
    manifest = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    hook = dict(next(h for h in manifest if h["id"] == "conformance"))
    assert hook["language"] == "python"
    command = shlex.split(hook["entry"])
    assert command[0] == "conformance"
    hook["entry"] = shlex.join([str(CONFORMANCE), *command[1:]])
    hook["language"] = "system"  # `python` would build an environment from the package index
    hook.pop("minimum_pre_commit_version", None)
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": [hook]}]}, sort_keys=False)


def commit(root: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess[str]:
    run(["git", "add", "-A"], root, env)
    return run(["git", "commit", "-q", "-m", message], root, env, check=False)


def test_pre_commit_refuses_unregistered_function_until_registered(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    env = offline_env(tmp_path)
    init_repo(root, env)
    write_project(root)
    (root / ".pre-commit-config.yaml").write_text(local_hook_config())
    run([str(PRE_COMMIT), "install"], root, env)

    first = commit(root, env, "A registered ingest function")
    assert first.returncode == 0, output(first)
    assert "conformance (workflow registry)" in output(first)

    add_unregistered_function(root)
    refused = commit(root, env, "An unregistered ingest function")
    text = output(refused)
    assert refused.returncode != 0, text
    assert "conformance (workflow registry)" in text and "Failed" in text
    assert "CONF001" in text
    # under pre-commit the fix offered is what the developer has: the second hook
    assert "run `pre-commit run conformance-fix --hook-stage manual --all-files`" in text
    head = run(["git", "log", "--format=%s"], root, env).stdout.splitlines()
    assert head == ["A registered ingest function"]

    run([str(CONFORMANCE), "register", "ingest_person"], root, env)  # the exact fix command
    entry = fill_registered_entry(root / "workflow_registry.yaml", "ingest_person")
    assert entry["raw_table"] == "raw.person_payloads"  # told by the code, not filled by us

    accepted = commit(root, env, "Register ingest_person")
    assert accepted.returncode == 0, output(accepted)
    assert "conformance (workflow registry)" in output(accepted)
    assert "Passed" in output(accepted)

    store = Path(env["PRE_COMMIT_HOME"])
    assert not [p for p in store.glob("repo*") if p.is_dir()], "pre-commit cloned a repository"


def test_pre_commit_skips_the_check_when_no_matching_file_changes(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    env = offline_env(tmp_path)
    init_repo(root, env)
    write_project(root)
    (root / ".pre-commit-config.yaml").write_text(local_hook_config())
    run([str(PRE_COMMIT), "install"], root, env)
    assert commit(root, env, "Project").returncode == 0
    (root / "workflow_registry.yaml").write_text("version: 1\nworkflows: []\n")
    run(["git", "commit", "-q", "-am", "Empty the registry", "--no-verify"], root, env)
    (root / "NOTES.txt").write_text("no code here\n")
    notes = commit(root, env, "Notes only")
    assert notes.returncode == 0, output(notes)
    assert "(no files to check)Skipped" in output(notes)


def install_plain_hook(root: Path) -> None:
    hook = root / ".git" / "hooks" / "pre-commit"
    shutil.copyfile(REPO / "hooks" / "pre-commit", hook)
    hook.chmod(0o755)


def test_plain_git_hook_refuses_unregistered_function_until_registered(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    env = offline_env(tmp_path)
    init_repo(root, env)
    write_project(root)
    install_plain_hook(root)
    assert commit(root, env, "A registered ingest function").returncode == 0

    add_unregistered_function(root)
    refused = commit(root, env, "An unregistered ingest function")
    text = output(refused)
    assert refused.returncode != 0, text
    assert "CONF001" in text and "run `conformance register ingest_person`" in text
    assert "commit refused" in text and "git commit --no-verify" in text

    run([str(CONFORMANCE), "register", "ingest_person"], root, env)
    fill_registered_entry(root / "workflow_registry.yaml", "ingest_person")
    accepted = commit(root, env, "Register ingest_person")
    assert accepted.returncode == 0, output(accepted)


def test_plain_git_hook_checks_the_staged_snapshot(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    env = offline_env(tmp_path)
    init_repo(root, env)
    write_project(root)
    install_plain_hook(root)
    assert commit(root, env, "Project").returncode == 0

    # Staged: an unregistered function. Unstaged: its registration. The commit must be refused.
    add_unregistered_function(root)
    run(["git", "add", "-A"], root, env)
    run([str(CONFORMANCE), "register", "ingest_person"], root, env)
    fill_registered_entry(root / "workflow_registry.yaml", "ingest_person")
    refused = run(["git", "commit", "-q", "-m", "Staged only"], root, env, check=False)
    assert refused.returncode != 0, output(refused)
    assert "CONF001" in output(refused)

    # A change to no Python/YAML/JSON file runs no check at all.
    run(["git", "reset", "-q", "--hard"], root, env)
    (root / "NOTES.txt").write_text("notes\n")
    skipped = commit(root, env, "Notes")
    assert skipped.returncode == 0, output(skipped)
    assert "CONF" not in output(skipped)


def test_plain_git_hook_reports_a_tool_error(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    env = offline_env(tmp_path)
    init_repo(root, env)
    write_project(root)
    install_plain_hook(root)
    (root / "workflow_registry.yaml").unlink()
    result = commit(root, env, "No registry file")
    assert result.returncode != 0, output(result)  # git reports any failing hook as 1
    assert "registry file not found" in output(result)
    assert "the check could not run" in output(result)


def test_a_partial_commit_is_checked_as_committed(tmp_path: Path) -> None:
    """`git commit PATH` hands the hook a temporary index ($GIT_INDEX_FILE): the check reads
    that one, so a registry change left out of the commit does not let it through."""
    root = tmp_path / "repo"
    root.mkdir()
    env = offline_env(tmp_path)
    init_repo(root, env)
    write_project(root)
    install_plain_hook(root)
    assert commit(root, env, "Project").returncode == 0
    add_unregistered_function(root)
    run([str(CONFORMANCE), "register", "ingest_person"], root, env)
    fill_registered_entry(root / "workflow_registry.yaml", "ingest_person")
    run(["git", "add", "-A"], root, env)
    src = "modal-functions/src"
    partial = run(
        ["git", "commit", "-q", "-m", "code only", f"{src}/ingest/person.py", f"{src}/app.py"],
        root,
        env,
        check=False,
    )
    assert partial.returncode != 0 and "CONF001" in output(partial), output(partial)
    whole = run(["git", "commit", "-q", "-m", "code and registry"], root, env, check=False)
    assert whole.returncode == 0, output(whole)
