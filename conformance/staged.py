"""What is staged: a copy of the git index's files under a project, to check a commit as it
will be (``conformance check --staged``, the commit hooks' mode).

The pre-commit framework stashes unstaged changes to tracked files, but not untracked files, and
a plain git hook stashes nothing; reading the working tree would let a work-in-progress file that
is not part of the commit block it (or an unstaged fix let a broken commit through). The copy
holds exactly the index's version of every file under the project, so neither happens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from conformance.config import Config
from conformance.errors import ConformanceError


@dataclass(frozen=True)
class Snapshot:
    """The staged copy of ``project`` at ``copy``; ``top`` is the repository root and
    ``copy_top`` its counterpart in the copy."""

    project: Path
    copy: Path
    top: Path
    copy_top: Path

    def real(self, path: Path) -> Path:
        """Returns where a path inside the copy is in the work tree (others unchanged)."""
        try:
            return self.top / Path(path).relative_to(self.copy_top)
        except ValueError:
            return Path(path)

    def real_config(self, config: Config) -> Config:
        """Returns settings read in the copy with their paths the work tree's."""
        return replace(config, project_dir=self.project, source_root=self.real(config.source_root))

    def copied(self, path: Path) -> Path:
        """Returns where a work-tree path under the repository is in the copy (others
        unchanged)."""
        try:
            return self.copy_top / Path(path).absolute().relative_to(self.top)
        except ValueError:
            return Path(path)


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = dict(os.environ, LC_ALL="C", GIT_OPTIONAL_LOCKS="0", GIT_LITERAL_PATHSPECS="1")
    # a hook of `git commit PATH...` gets a temporary index in $GIT_INDEX_FILE, which may be
    # relative to where it runs: -C must not change what it names
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        if name in env:
            env[name] = os.path.abspath(env[name])
    try:
        done = subprocess.run(
            ["git", "-c", "core.fsmonitor=false", "-C", str(cwd), *args],
            input=stdin,
            capture_output=True,
            env=env,
            timeout=120,
            check=False,
        )
    except FileNotFoundError:
        raise ConformanceError("--staged reads the git index, but git is not installed") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConformanceError(f"--staged: git failed ({type(exc).__name__})") from None
    if done.returncode != 0:
        reason = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[0]
        raise ConformanceError(f"--staged: git {args[0]} failed: {reason}")
    return done.stdout


def git_dir(path: Path) -> Path:
    """Returns the git directory of the repository holding ``path``; raises ConformanceError
    outside one."""
    return Path(_git(path, "rev-parse", "--absolute-git-dir").decode().strip())


@contextmanager
def staged(project: Path) -> Iterator[Snapshot]:
    """Yields a :class:`Snapshot`: the staged version of every file under ``project`` (what
    the next commit holds there), copied to a temporary directory that is removed afterwards.
    Raises ConformanceError outside a git work tree."""
    project = project.resolve()
    if not project.is_dir():
        raise ConformanceError(f"project directory not found: {project}")
    top = Path(_git(project, "rev-parse", "--show-toplevel").decode().strip()).resolve()
    rel = project.relative_to(top).as_posix()
    listed = _git(top, "ls-files", "-z", "--cached", "--", rel if rel != "." else ".")
    temporary = Path(tempfile.mkdtemp(prefix="conformance-staged-")).resolve()
    try:
        copy_top = temporary / "tree"
        copy_top.mkdir()
        if listed:
            _git(top, "checkout-index", "-z", "--stdin", f"--prefix={copy_top}/", stdin=listed)
        copy = copy_top / rel
        copy.mkdir(parents=True, exist_ok=True)
        yield Snapshot(project, copy, top, copy_top)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
