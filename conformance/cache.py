"""The result cache: data-only entries under ``.conformance_cache/`` (or $CONFORMANCE_CACHE_DIR).

Every entry is ``key``, a checksum of the payload, and the payload: JSON text that
:mod:`conformance.records` decodes into our own record classes only, never a pickle. The
checksum catches a truncated or corrupted file; the decoder turns anything that is not an
entry of the expected class into a miss, so a foreign or crafted file is rebuilt, never
trusted, and nothing in it is ever executed. Writes are atomic (temporary file, then
``os.replace``); a cache that cannot be written only costs time. The directory ignores itself
for git.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import TypeVar

from conformance import __version__, records
from conformance.fileio import blake2b, create_temporary, seal, unseal

FORMAT = 7
_T = TypeVar("_T")
_GITIGNORE = "# created by conformance\n*\n"


def cache_root(project_dir: Path) -> Path:
    """Returns the cache directory for a project, versioned by the tool's version and by the
    layout of the records it stores (so an entry written by other code is never read)."""
    env = os.environ.get("CONFORMANCE_CACHE_DIR")
    base = Path(env) if env else project_dir / ".conformance_cache"
    return base / f"v{FORMAT}-{__version__}-{_layout()}"


# the modules whose classes cache entries hold, and the codec
_RECORD_MODULES = (
    "records.py",
    "model.py",
    "analysis/values.py",
    "analysis/sqltext.py",
    "analysis/summaries.py",
    "analysis/functions.py",
    "analysis/project.py",
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
    try:
        with open(root / key, "rb") as fh:
            blob = fh.read()
    except OSError:
        return None
    payload = unseal(blob, key.encode() + b"\n")
    if payload is None:
        return None
    return records.decode(payload, cls)


def store(root: Path, key: str, value: object) -> None:
    """Stores ``value`` under ``key`` atomically; never raises for an unwritable cache."""
    payload = records.encode(value)
    if payload is not None:
        store_payload(root, key, payload)


def store_payload(root: Path, key: str, payload: bytes) -> None:
    """Stores an already encoded value (:func:`records.encode`) under ``key`` atomically (a
    temporary file, then ``os.replace``); never raises for an unwritable cache."""
    # one flat directory (file systems index large ones): a fan-out by key prefix made
    # nearly a directory per entry on a cold run, 139 for 200 entries
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
    if not root.exists():
        root.mkdir(parents=True, exist_ok=True)
        gitignore = root.parent / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text(_GITIGNORE, encoding="utf-8")
    _MADE.add(root)


# cache directories this process has made (or found): one check each, not one per entry
_MADE: set[Path] = set()
