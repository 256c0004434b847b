"""Files → module summaries, through a content-hash cache and, for many files, a process pool.

This module imports no parser: a run that finds every file in the cache never loads libcst or
the SQL parser. Cache entries are pickled :class:`ModuleSummary` records keyed by the file's
content, its place in the project, the tool's version and the settings that change analysis;
a corrupt or foreign entry is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from conformance import __version__
from conformance.analysis.values import ModuleSummary
from conformance.config import Config
from conformance.discovery import SourceFile

CACHE_FORMAT = 2
POOL_THRESHOLD = 48
_GITIGNORE = "# created by conformance\n*\n"


def cache_dir(config: Config) -> Path:
    """Returns the cache directory: ``$CONFORMANCE_CACHE_DIR`` or ``PROJECT/.conformance_cache``."""
    env = os.environ.get("CONFORMANCE_CACHE_DIR")
    return Path(env) if env else config.project_dir / ".conformance_cache"


def summarize_files(
    files: Sequence[SourceFile],
    config: Config,
    use_cache: bool = True,
    jobs: int | None = None,
    phases: dict[str, float] | None = None,
) -> list[ModuleSummary]:
    """Returns one summary per file, in order. Never raises for a bad file."""
    phases = phases if phases is not None else {}
    start = time.perf_counter()
    root = cache_dir(config) / f"v{CACHE_FORMAT}" if use_cache else None
    salt = f"{__version__}\0{CACHE_FORMAT}\0{config.analysis_key()}".encode()
    results: list[ModuleSummary | None] = [None] * len(files)
    todo: list[tuple[int, bytes, str]] = []
    for i, source in enumerate(files):
        try:
            data = source.path.read_bytes()
        except OSError as exc:
            results[i] = _unreadable(source, exc)
            continue
        key = hashlib.blake2b(
            salt + b"\0" + source.rel.encode() + b"\0" + data, digest_size=20
        ).hexdigest()
        cached = _load(root, key) if root is not None else None
        if cached is not None and cached.file == source.rel and cached.module == source.module:
            results[i] = cached
        else:
            todo.append((i, data, key))
    phases["hash"] = phases.get("hash", 0.0) + time.perf_counter() - start
    start = time.perf_counter()
    if todo:
        tasks = [(data, files[i].module, files[i].rel, files[i].is_package) for i, data, _ in todo]
        fresh = _run(tasks, jobs)
        for (i, _, key), summary in zip(todo, fresh, strict=True):
            results[i] = summary
            if root is not None:
                _store(root, key, summary)
    phases["parse"] = phases.get("parse", 0.0) + time.perf_counter() - start
    return [r for r in results if r is not None]


def _summarize(task: tuple[bytes, str, str, bool]) -> ModuleSummary:
    from conformance.analysis.extract import summarize

    return summarize(*task)


def _run(tasks: list[tuple[bytes, str, str, bool]], jobs: int | None) -> list[ModuleSummary]:
    workers = jobs if jobs is not None else min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(tasks) < POOL_THRESHOLD:
        return [_summarize(t) for t in tasks]
    import multiprocessing

    # fork: ~0.15 s faster to start than spawn, and Python 3.14 changes the Linux default.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    import conformance.analysis.extract  # noqa: F401  (loaded once, before the fork)

    chunk = max(1, len(tasks) // (workers * 4))
    with context.Pool(workers) as pool:
        return pool.map(_summarize, tasks, chunksize=chunk)


def _unreadable(source: SourceFile, exc: OSError) -> ModuleSummary:
    reason = exc.strerror or type(exc).__name__
    return ModuleSummary(
        source.module,
        source.rel,
        source.is_package,
        (),
        (),
        (),
        error=(1, f"cannot read file: {reason}"),
    )


def _load(root: Path, key: str) -> ModuleSummary | None:
    path = root / key[:2] / key
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except OSError:
        return None
    # Layout: key, checksum of the payload, payload. Only a payload whose checksum matches is
    # unpickled, so a truncated, corrupted or foreign file is rebuilt, never trusted.
    header = key.encode() + b"\n"
    if not blob.startswith(header) or len(blob) < len(header) + 32:
        return None
    digest, payload = blob[len(header) : len(header) + 32], blob[len(header) + 32 :]
    if hashlib.blake2b(payload, digest_size=32).digest() != digest:
        return None
    try:
        value = pickle.loads(payload)
    except Exception:
        return None
    return value if isinstance(value, ModuleSummary) else None


def _store(root: Path, key: str, summary: ModuleSummary) -> None:
    target = root / key[:2] / key
    try:
        if not root.exists():
            root.mkdir(parents=True, exist_ok=True)
            gitignore = root.parent / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text(_GITIGNORE, encoding="utf-8")
        target.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            payload = pickle.dumps(summary, protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(fd, "wb") as fh:
                fh.write(key.encode() + b"\n")
                fh.write(hashlib.blake2b(payload, digest_size=32).digest())
                fh.write(payload)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a cache that cannot be written only costs time
