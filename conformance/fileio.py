"""Files read and written safely: regular files only, with a size cap, when reading
(:func:`read_regular`); atomically when writing (:func:`write_atomic`: a reader sees the old
file or the new one, never half of either); and a checksummed framing (:func:`seal`,
:func:`unseal`) for the cache, so that a truncated or corrupted file is never trusted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from hashlib import blake2b
from pathlib import Path

__all__ = ["blake2b", "create_temporary", "read_regular", "seal", "unseal", "write_atomic"]


# a registry of thousands of entries is a few MiB; beyond this a file is a mistake or an attack
MAX_REGISTRY_BYTES = 32 << 20


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """Returns the bytes of the regular file at ``path``.

    Raises OSError for anything else (a FIFO would block forever, ``/dev/zero`` never ends) and
    for a file of more than ``limit`` bytes. Opened without blocking, so a FIFO is refused
    rather than waited on.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit // (1 << 20)} MiB")
        chunks, size = [], 0
        while chunk := os.read(fd, max(info.st_size - size, 1 << 16)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # it grew while being read
                raise OSError(errno.EFBIG, f"larger than {limit // (1 << 20)} MiB")
        return b"".join(chunks)
    finally:
        os.close(fd)


def create_temporary(directory: Path, prefix: str, suffix: str = "") -> tuple[int, str]:
    """Creates a new file in ``directory`` readable and writable by its owner only
    (``tempfile.mkstemp``); returns its descriptor and path."""
    return tempfile.mkstemp(suffix=suffix, prefix=prefix, dir=directory)


def seal(header: bytes, payload: bytes, size: int = 32) -> bytes:
    """Returns ``header``, a ``size``-byte checksum of ``payload``, then ``payload``."""
    return b"".join((header, blake2b(payload, digest_size=size).digest(), payload))


def unseal(blob: bytes, header: bytes, size: int = 32) -> bytes | None:
    """Returns the payload of a :func:`seal`-ed ``blob``; None when the header or the
    checksum does not match."""
    start = len(header) + size
    if not blob.startswith(header) or len(blob) < start:
        return None
    payload = blob[start:]
    if blake2b(payload, digest_size=size).digest() != blob[len(header) : start]:
        return None
    return payload


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
