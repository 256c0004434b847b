"""Files → module summaries, through a content-hash cache and, for many files, a process pool.

This module imports no parser: a run that finds every file in the cache never loads libcst or
the SQL parser. Cache entries are pickled :class:`ModuleSummary` records keyed by the file's
content, its place in the project, the tool's version and the settings that change analysis;
a corrupt or foreign entry is ignored and rebuilt.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from conformance import cache
from conformance.analysis.values import ModuleSummary
from conformance.config import Config
from conformance.discovery import SourceFile

POOL_THRESHOLD = 48


def summarize_files(
    files: Sequence[SourceFile],
    config: Config,
    use_cache: bool = True,
    jobs: int | None = None,
    digests: dict[str, str] | None = None,
) -> list[ModuleSummary]:
    """Returns one summary per file, in order; records each file's content digest in
    ``digests``. Never raises for a bad file."""
    root = cache.cache_root(config.project_dir) if use_cache else None
    salt = config.analysis_key().encode()
    results: list[ModuleSummary | None] = [None] * len(files)
    todo: list[tuple[int, bytes, str]] = []
    for i, source in enumerate(files):
        try:
            data = source.path.read_bytes()
        except OSError as exc:
            results[i] = _unreadable(source, exc)
            continue
        key = cache.digest(salt, source.rel.encode(), data)
        if digests is not None:
            digests[source.rel] = key
        cached = cache.load(root, key) if root is not None else None
        if (
            isinstance(cached, ModuleSummary)
            and cached.file == source.rel
            and cached.module == source.module
        ):
            results[i] = cached
        else:
            todo.append((i, data, key))
    if todo:
        tasks = [(data, files[i].module, files[i].rel, files[i].is_package) for i, data, _ in todo]
        fresh = _run(tasks, jobs)
        for (i, _, key), summary in zip(todo, fresh, strict=True):
            results[i] = summary
            if root is not None:
                cache.store(root, key, summary)
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


