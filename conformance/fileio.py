"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Also the two primitives the cache and the executable's start share, chosen for start-up time:
``blake2b`` without loading OpenSSL (``import hashlib`` costs 3–8 ms) and a temporary file
without ``tempfile`` (which loads ``shutil`` and ``random``, about 6 ms).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - every CPython build has _blake2
    from hashlib import blake2b

__all__ = ["blake2b", "create_temporary", "write_atomic"]

# as tempfile.mkstemp opens (Python makes the descriptor non-inheritable itself)
_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)


def create_temporary(directory: Path, prefix: str, suffix: str = "") -> tuple[int, str]:
    """Creates a new file in ``directory`` readable and writable by its owner only, as
    ``tempfile.mkstemp`` does; returns its descriptor and path."""
    for _attempt in range(100):
        name = os.path.join(directory, f"{prefix}{os.urandom(8).hex()}{suffix}")
        try:
            return os.open(name, _FLAGS, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused temporary file name in {directory}")


def write_atomic(path: Path, text: str | bytes) -> None:
    """Writes ``text`` (UTF-8) or bytes to ``path`` through a synced temporary file and
    ``os.replace``.

    An interruption at any point leaves the previous file intact. Keeps the old file's mode.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temporary(directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:  # what open() would have given a new file, not the temporary file's 0600
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
