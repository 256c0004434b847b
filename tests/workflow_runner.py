"""Runs the jobs of a GitHub Actions workflow file locally, as far as a test can: each `run:`
step in bash with the workflow's, job's and step's environment, the job's `if:` decided for an
event, `uses:` steps (checkout, setup-python) and the install step skipped (the venv has the
tool), `continue-on-error` honoured, and a job summary file. Expressions other than the few
this project's workflow uses are an error, so the test cannot pass over something it did not
run."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


@dataclass
class Event:
    """What triggered the run: ``name`` (pull_request, push, schedule, workflow_dispatch),
    the ``ref``, the secrets, and the pull request's number."""

    name: str
    ref: str = "refs/heads/main"
    secrets: dict[str, str] = field(default_factory=dict)
    pull_request: int = 7


@dataclass
class StepResult:
    name: str
    code: int
    output: str


@dataclass
class JobResult:
    ran: bool
    ok: bool = True
    steps: list[StepResult] = field(default_factory=list)
    summary: str = ""

    @property
    def output(self) -> str:
        return "\n".join(f"## {s.name} (exit {s.code})\n{s.output}" for s in self.steps)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data  # type: ignore[no-any-return]


def _value(expression: str, event: Event) -> str:
    if expression.startswith("secrets."):
        return event.secrets.get(expression.split(".", 1)[1], "")
    values = {
        "github.token": "test-token",
        "github.event.pull_request.number": str(event.pull_request),
        "github.event_name": event.name,
        "github.ref": event.ref,
    }
    if expression not in values:
        raise AssertionError(
            f"the workflow uses an expression the runner does not know: {expression}"
        )
    return values[expression]


def substitute(text: str, event: Event) -> str:
    return _EXPRESSION.sub(lambda m: _value(m.group(1), event), text)


def decide(condition: str | None, event: Event) -> bool:
    """Evaluates an `if:` of ``==``/``!=`` comparisons joined by ``&&`` and ``||``."""
    if condition is None:
        return True
    condition = _EXPRESSION.sub(lambda m: m.group(1), condition)
    assert "(" not in condition, f"unsupported condition: {condition}"
    return any(
        all(_compare(part.strip(), event) for part in alternative.split("&&"))
        for alternative in condition.split("||")
    )


def _compare(text: str, event: Event) -> bool:
    match = re.fullmatch(r"([\w.]+)\s*(==|!=)\s*'([^']*)'", text)
    assert match, f"unsupported comparison: {text}"
    left = _value(match.group(1), event)
    return (left == match.group(3)) == (match.group(2) == "==")


def run_job(
    workflow: dict[str, Any],
    job: str,
    event: Event,
    *,
    workspace: Path,
    env: dict[str, str],
    tmp: Path,
) -> JobResult:
    """Runs one job of ``workflow`` for ``event`` in ``workspace`` (the checkout)."""
    spec = workflow["jobs"][job]
    if not decide(spec.get("if"), event):
        return JobResult(ran=False)
    summary = tmp / f"summary-{job}-{event.name}.md"
    summary.write_text("")
    base = {
        **env,
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_EVENT_NAME": event.name,
        "GITHUB_REF": event.ref,
        "GITHUB_REPOSITORY": "acme/warehouse",
    }
    for scope in (workflow.get("env", {}), spec.get("env", {})):
        base.update({k: substitute(str(v), event) for k, v in scope.items()})
    result = JobResult(ran=True)
    for step in spec["steps"]:
        if "uses" in step:
            continue
        name = step.get("name", step["run"].splitlines()[0])
        if name.startswith("Install conformance"):
            continue  # the test's venv has it; the command is checked by its own test
        if not decide(step.get("if"), event):
            continue
        step_env = {
            **base,
            **{k: substitute(str(v), event) for k, v in step.get("env", {}).items()},
        }
        script = tmp / "step.sh"
        script.write_text(substitute(step["run"], event))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        result.steps.append(StepResult(name, done.returncode, done.stdout + done.stderr))
        if done.returncode != 0 and not step.get("continue-on-error"):
            result.ok = False
            break
    result.summary = summary.read_text()
    return result


def fake_gh(directory: Path, log: Path, existing: str = "") -> None:
    """Puts a `gh` in ``directory`` that records each call's arguments in ``log`` (one call per
    record, NUL-separated) and answers a listing of comments with ``existing`` (ids)."""
    gh = directory / "gh"
    gh.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\0" "$*" >> "{log}"\n'
        'case "$*" in *--jq*) '
        f'printf "%s" "{existing}" ;; esac\n'
    )
    gh.chmod(0o755)


def gh_calls(log: Path) -> list[str]:
    return [call for call in log.read_text().split("\0") if call] if log.exists() else []


def environment_with(path_dirs: list[Path]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "PRE_COMMIT", "CONFORMANCE_", "PYTEST_", "GITHUB_"))
    }
    env["PATH"] = os.pathsep.join([*map(str, path_dirs), env.get("PATH", os.defpath)])
    return env
