"""The result cache: data-only entries under ``.conformance_cache/`` (or $CONFORMANCE_CACHE_DIR).

Every entry is ``key``, a checksum of the payload, and the payload: JSON text that
:mod:`conformance.records` decodes into our own record classes only, never a pickle. The
checksum catches a truncated or corrupted file; the decoder turns anything that is not an
entry of the expected class into a miss, so a foreign or crafted file is rebuilt, never
trusted, and nothing in it is ever executed. Writes are atomic (temporary file, then
``os.replace``); a cache that cannot be written only costs time.

What a commit can change is not a cache (:func:`locate`): a cache directory in which git
tracks a file, or one reached through a symbolic link inside the project (a committed link
could send writes anywhere), is neither read nor written, and the run says so in a notice. An
entry is opened without following a symbolic link and read only if it is a regular file of
at most :data:`MAX_ENTRY` bytes. The tool writes a ``.gitignore`` only into a directory it
made itself.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from conformance import __version__, records
from conformance.fileio import blake2b, create_temporary, seal, unseal

FORMAT = 7
MAX_ENTRY = 64 * 1024 * 1024  # bytes: a larger file is not read (a summary is kilobytes)
_T = TypeVar("_T")
_GITIGNORE = "# created by conformance\n*\n"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# a FIFO planted as an entry must not block the open
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def cache_root(project_dir: Path) -> Path:
    """Returns the cache directory for a project, versioned by the tool's version and by the
    layout of the records it stores (so an entry written by other code is never read)."""
    return _base(project_dir)[0] / f"v{FORMAT}-{__version__}-{_layout()}"


def _base(project_dir: Path) -> tuple[Path, bool]:
    """The directory the versioned cache directories sit in, and whether the operator named
    it ($CONFORMANCE_CACHE_DIR) rather than the project."""
    env = os.environ.get("CONFORMANCE_CACHE_DIR")
    return (Path(env), True) if env else (project_dir / ".conformance_cache", False)


@dataclass(frozen=True)
class Place:
    """Where a run keeps its cache: ``root``, or None with the ``notice`` that says why not."""

    root: Path | None
    notice: str | None = None


def locate(project_dir: Path) -> Place:
    """Returns the cache directory a run may use for ``project_dir``, or why it may not.

    Refused: a symbolic link at the project's ``.conformance_cache`` or at the versioned
    directory (the operator's $CONFORMANCE_CACHE_DIR itself may be one), and a directory in
    which git tracks any file, or for which git cannot tell (it is then in a checkout that
    anyone who can push a branch can fill). Outside a git work tree, or without git, nothing
    is tracked.
    """
    base, from_operator = _base(project_dir)
    root = cache_root(project_dir)
    for path in (root,) if from_operator else (base, root):
        if os.path.islink(path):
            return Place(
                None, f"not using the cache: {_shown(path, project_dir)} is a symbolic link"
            )
    if not os.path.isdir(root):  # nothing to read yet, and what is written is ignored for git
        return Place(root)
    problem = git_tracks(root)
    if problem is not None:
        return Place(None, f"not using the cache: {_shown(root, project_dir)}: {problem}")
    return Place(root)


def _shown(path: Path, project_dir: Path) -> str:
    try:
        return path.relative_to(project_dir).as_posix()
    except ValueError:
        return str(path)


def git_tracks(directory: Path) -> str | None:
    """Returns why ``directory`` cannot be trusted as git sees it: git tracks a file in it, or
    git failed to say; None when it tracks none, when the directory is in no git work tree
    (or inside a ``.git`` directory), or when there is no git. Runs ``git ls-files`` only when
    a ``.git`` is found above it (or $GIT_DIR is set), and remembers the answer while the git
    index is unchanged."""
    marker = _git_marker(directory)
    if "GIT_DIR" not in os.environ:
        if marker is None:
            return None
        if marker.is_dir() and marker in directory.absolute().parents:
            return None  # e.g. the plain git hook's cache, in the git directory
    memo_key = _index_state(directory, marker)
    if memo_key is not None and memo_key in _GIT_VERDICTS:
        return _GIT_VERDICTS[memo_key]
    listed = _git(directory, "ls-files", "-z", "--cached", "--", ".")
    if listed is None:  # no git: nothing can be tracked
        verdict = None
    elif listed[0] == 0:
        count = listed[1].count(b"\0")
        verdict = (
            f"git tracks {count} file{'s' if count != 1 else ''} in it, which a commit can "
            "change (`git rm -r --cached` them)"
            if count
            else None
        )
    else:  # not a repository, or in none of its work tree: nothing tracked; else unknown
        inside = _git(directory, "rev-parse", "--is-inside-work-tree")
        if inside is None or inside[1].strip() == b"false" or b"not a git repository" in inside[2]:
            verdict = None
        else:
            reason = (listed[2].decode("utf-8", "replace").strip().splitlines() or ["?"])[0]
            verdict = f"cannot tell whether git tracks files in it (git: {reason[:200]})"
    if memo_key is not None:
        _GIT_VERDICTS[memo_key] = verdict
    return verdict


def _git(directory: Path, *args: str) -> tuple[int, bytes, bytes] | None:
    """Runs git in ``directory``: exit code, output, errors; None when there is no git (a
    failure to run it at all is reported as exit code -1)."""
    import subprocess

    env = dict(os.environ, LC_ALL="C", GIT_OPTIONAL_LOCKS="0")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):  # relative to our directory
        if name in env:
            env[name] = os.path.abspath(env[name])
    command = ["git", "-c", "core.fsmonitor=false", "-C", str(directory), *args]
    try:
        done = subprocess.run(command, capture_output=True, env=env, timeout=30, check=False)
    except FileNotFoundError:
        return None
    except (OSError, subprocess.SubprocessError) as exc:
        return -1, b"", type(exc).__name__.encode()
    return done.returncode, done.stdout, done.stderr


def _git_marker(directory: Path) -> Path | None:
    """The nearest ``.git`` (directory or file) in ``directory`` or above, without running git."""
    for parent in (directory, *directory.absolute().parents):
        marker = parent / ".git"
        if os.path.lexists(marker):
            return marker
    return None


def _index_state(directory: Path, marker: Path | None) -> tuple[object, ...] | None:
    """What the memo of git's answer is keyed by: the directory and the state of the git index
    (which changes on every add, commit or checkout); None when the index is not found."""
    if marker is None or any(k in os.environ for k in ("GIT_INDEX_FILE", "GIT_WORK_TREE")):
        return None
    git_dir = marker
    try:
        if not marker.is_dir():  # a worktree or submodule: "gitdir: PATH"
            text = marker.read_text(encoding="utf-8", errors="replace").strip()
            if not text.startswith("gitdir:"):
                return None
            git_dir = marker.parent / text[len("gitdir:") :].strip()
        index = os.stat(git_dir / "index")
    except OSError:
        return None
    return (str(directory.absolute()), str(git_dir), index.st_ino, index.st_size, index.st_mtime_ns)


# git's answer by directory and index state, for this process (one run asks twice: the
# analysis and the registry file)
_GIT_VERDICTS: dict[tuple[object, ...], str | None] = {}


# the modules whose classes cache entries hold, and the codec
_RECORD_MODULES = (
    "records.py",
    "model.py",
    "analysis/values.py",
    "analysis/sqltext.py",
    "analysis/incremental.py",
    "analysis/sqlfunctions.py",
)


@functools.cache
def _layout() -> str:
    """A digest of the source of every module whose records the cache holds: an entry
    written by other code (an edited checkout between versions) is never read. Reading
    the files, not importing them, keeps the warm path from loading the analyzer's modules."""
    package = Path(__file__).resolve().parent
    parts = []
    for name in _RECORD_MODULES:
        try:
            parts.append((package / name).read_bytes())
        except OSError:  # a zipped or frozen install: the version alone decides
            parts.append(name.encode())
    return digest(*parts)[:12]


def digest(*parts: bytes) -> str:
    """Returns a short hex digest of ``parts`` (separated, so parts cannot run together)."""
    h = blake2b(digest_size=20)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def load(root: Path, key: str, cls: type[_T]) -> _T | None:
    """Returns the record of class ``cls`` stored under ``key``, or None when absent or not to
    be trusted."""
    payload = _read_payload(root, key, MAX_ENTRY)
    return records.decode(payload, cls) if payload is not None else None


def marked(root: Path, key: str) -> bool:
    """Returns whether :func:`mark` recorded ``key`` (an entry that holds no record: a fact
    such as "these settings were validated")."""
    return _read_payload(root, key, 4096) == b""


def _read_payload(root: Path, key: str, limit: int) -> bytes | None:
    """Returns the payload of the entry ``key``: None when it is absent, not a regular file
    (a symbolic link is not followed), larger than ``limit`` bytes or not sealed under its
    key."""
    try:
        fd = os.open(root / key, _READ_FLAGS)
    except OSError:  # absent, or a symbolic link (O_NOFOLLOW)
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            blob = fh.read(limit + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(blob) > limit:
        return None
    return unseal(blob, key.encode() + b"\n")


def mark(root: Path, key: str) -> None:
    """Records ``key`` as a fact (see :func:`marked`); never raises for an unwritable cache."""
    store_payload(root, key, b"")


def store(root: Path, key: str, value: object) -> None:
    """Stores ``value`` under ``key`` atomically; never raises for an unwritable cache."""
    payload = records.encode(value)
    if payload is not None:
        store_payload(root, key, payload)


def store_payload(root: Path, key: str, payload: bytes) -> None:
    """Stores an already encoded value (:func:`records.encode`) under ``key`` atomically (a
    temporary file, then ``os.replace``); never raises for an unwritable cache."""
    # one flat directory (file systems index large ones): a fan-out by key prefix makes
    # nearly a directory per entry on a cold run
    for _attempt in range(2):  # a second time when the directory went away meanwhile
        try:
            if root not in _MADE:
                _make(root)
            fd, tmp = create_temporary(root, prefix=".tmp-")
        except OSError:
            if root not in _MADE:
                return  # cannot be made: an unwritable cache
            _MADE.discard(root)
            continue
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(seal(key.encode() + b"\n", payload))
            os.replace(tmp, root / key)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        except BaseException:
            os.unlink(tmp)
            raise
        return


def _make(root: Path) -> None:
    """Makes the cache directory, and a ``.gitignore`` that ignores everything in each
    directory made here (never in one that was there: ``CONFORMANCE_CACHE_DIR=.`` must not hide
    a repository's files)."""
    base = root.parent
    made: list[Path] = []
    if not os.path.isdir(base):
        base.mkdir(parents=True, exist_ok=True)  # an existing file: OSError, an unusable cache
        made.append(base)
    try:
        root.mkdir()
        made.append(root)
        _prune_older(root)
    except FileExistsError:
        if not os.path.isdir(root) or os.path.islink(root):
            raise NotADirectoryError(root) from None
    for directory in made:
        _write_ignore(directory)
    _MADE.add(root)


def _prune_older(root: Path) -> None:
    """Removes the sibling cache directories (``v<format>-<version>-<layout>``) of an older
    format or tool version than ``root``'s, once, when ``root`` is made: an upgrade would
    otherwise leave every earlier generation behind. Never follows a link; never raises."""
    import re
    import shutil

    def generation(name: str) -> tuple[int, ...] | None:
        match = re.fullmatch(r"v(\d+)-(\d+(?:\.\d+)*)-[0-9a-f]+", name)
        return tuple(map(int, [match[1], *match[2].split(".")])) if match else None

    current = generation(root.name)
    with contextlib.suppress(OSError):
        for sibling in root.parent.iterdir():
            older = generation(sibling.name)
            if current and older and older < current and not sibling.is_symlink():
                shutil.rmtree(sibling, ignore_errors=True)


def _write_ignore(directory: Path) -> None:
    try:
        fd = os.open(
            directory / ".gitignore", os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666
        )
    except OSError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(_GITIGNORE)


# cache directories this process has made (or found): one check each, not one per entry
_MADE: set[Path] = set()
