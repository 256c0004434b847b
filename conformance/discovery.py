"""Paths → the Python files of a project, keyed by their module name under the source root."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from conformance import fileio
from conformance.config import Config
from conformance.sources import is_excluded, matches

_SKIP_DIRS = frozenset(
    {"__pycache__", "node_modules", "site-packages", "venv", ".venv", "build", "dist"}
)


@dataclass(frozen=True, order=True)
class SourceFile:
    """A Python file: ``rel`` is POSIX and relative to the source root. ``refused`` says why
    it must not be read (a symbolic link that leads out of the project); such a file becomes
    an analysis error instead of a silent gap."""

    module: str
    rel: str
    path: Path
    is_package: bool
    refused: str | None = None


def module_name(rel: str) -> tuple[str, bool]:
    """Returns the dotted module name of a source-root-relative path and whether it is a package."""
    parts = rel[:-3].split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def discover(config: Config) -> dict[str, SourceFile]:
    """Returns every ``.py`` file under the source root by module name; never follows symlinked
    directories (no loops), skips hidden and tool directories and ``config.exclude`` globs."""
    root = config.source_root
    allowed = (os.path.realpath(config.project_dir), os.path.realpath(root))
    found: dict[str, SourceFile] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and d not in _SKIP_DIRS and not d.endswith(".egg-info")
        )
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        for filename in sorted(filenames):
            if not filename.endswith(".py"):
                continue
            rel = filename if rel_dir == "." else f"{rel_dir}/{filename}"
            if is_excluded(rel, config.exclude):
                continue
            name, is_package = module_name(rel)
            if not name or not all(part.isidentifier() for part in name.split(".")):
                continue
            path = Path(dirpath) / filename
            found[name] = SourceFile(name, rel, path, is_package, _refusal(path, allowed))
    return found


def _refusal(path: Path, allowed: tuple[str, ...]) -> str | None:
    """A symbolic link whose target is outside the project (``/proc/self/environ``, a file of
    another checkout) is never read: its content would reach the report."""
    if not path.is_symlink():
        return None
    target = os.path.realpath(path)
    if any(target == base or target.startswith(base.rstrip(os.sep) + os.sep) for base in allowed):
        return None
    return "a symbolic link to a file outside the project"


def is_ingest(rel: str, config: Config) -> bool:
    """Returns whether a source-root-relative path is matched by an ``ingest`` entry (a
    directory, a file or a glob; ``.`` is the whole source root)."""
    return matches(rel, config.ingest)


def unmatched(patterns: tuple[str, ...], files: dict[str, SourceFile]) -> tuple[str, ...]:
    """The patterns (``ingest`` or entry point entries) that match none of ``files``."""
    rels = [f.rel for f in files.values()]
    return tuple(p for p in patterns if not any(matches(rel, (p,)) for rel in rels))


MAX_SOURCE_BYTES = 16 << 20


def read_regular(source: SourceFile) -> bytes:
    """Returns a file's bytes; raises OSError for anything but a regular file of at most
    MAX_SOURCE_BYTES (a FIFO would block forever, a device never end) and for a file the
    discovery refused."""
    if source.refused is not None:
        raise OSError(errno.EPERM, source.refused)
    return fileio.read_regular(source.path, MAX_SOURCE_BYTES)


def read_source(source: SourceFile) -> bytes | None:
    """Returns a file's bytes, or None when it cannot be read as a regular file."""
    try:
        return read_regular(source)
    except OSError:
        return None


def find_definitions(
    config: Config, files: dict[str, SourceFile], names: set[str]
) -> dict[str, tuple[str, int]]:
    """Returns where each of ``names`` (a function, or ``Class.method``) is defined outside
    the ingest directories, as (file, line): the first ``def NAME(`` found in a file under the
    source root. A text search, run only for names the registry has and the analysis does not
    (orphan rows), so that the finding can say where the function is instead of guessing."""
    import re

    wanted = {name.rpartition(".")[2]: name for name in names if name}
    if not wanted:
        return {}
    pattern = re.compile(
        rb"^[ \t]*(?:async[ \t]+)?def[ \t]+("
        + b"|".join(re.escape(n.encode()) for n in wanted)
        + rb")[ \t]*\(",
        re.MULTILINE,
    )
    found: dict[str, tuple[str, int]] = {}
    for source in sorted(files.values(), key=lambda f: f.rel):
        if is_ingest(source.rel, config):
            continue
        try:
            data = read_regular(source)
        except OSError:
            continue
        for match in pattern.finditer(data):
            name = wanted[match.group(1).decode()]
            found.setdefault(name, (source.rel, data.count(b"\n", 0, match.start()) + 1))
        if len(found) == len(wanted):
            break
    return found
