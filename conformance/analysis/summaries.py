"""Files → module summaries, through a content-hash cache and, for many files, a process pool.

This module imports no parser: a run that finds every file in the cache never loads libcst or
the SQL parser. Cache entries are encoded :class:`ModuleSummary` records (data only, see
:mod:`conformance.records`) keyed by the file's
content, its place in the project, the tool's version and the settings that change analysis;
a corrupt or foreign entry is ignored and rebuilt.
"""

from __future__ import annotations

import gc
import os
import queue
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from conformance import cache, records
from conformance.analysis.incremental import ModuleFacts
from conformance.analysis.values import Attr, CallResult, ModuleSummary
from conformance.config import Config
from conformance.discovery import SourceFile, read_regular

POOL_THRESHOLD = 48


class Summaries(Mapping[str, ModuleSummary]):
    """Module name → summary. A summary the last run recorded unchanged is decoded only when
    it is first asked for: after a one-file change most are never needed."""

    def __init__(self) -> None:
        self.facts: dict[str, ModuleFacts] = {}
        self._loaded: dict[str, ModuleSummary] = {}
        self._deferred: dict[str, Callable[[], ModuleSummary]] = {}
        self.unchanged: set[str] = set()  # deferred at first: unchanged since the last run

    def add(self, summary: ModuleSummary, digest: str) -> None:
        self._loaded[summary.module] = summary
        self.facts[summary.module] = ModuleFacts(
            summary.module,
            summary.file,
            digest,
            summary.imports,
            summary.error is not None,
            summary.local_imports,
            creates_app(summary),
        )

    def defer(self, facts: ModuleFacts, load: Callable[[], ModuleSummary]) -> None:
        self.facts[facts.module] = facts
        self._deferred[facts.module] = load
        self.unchanged.add(facts.module)

    def __getitem__(self, module: str) -> ModuleSummary:
        if module not in self.facts:  # e.g. a file with an error, seen through without_errors()
            raise KeyError(module)
        summary = self._loaded.get(module)
        if summary is None:
            summary = self._loaded[module] = self._deferred.pop(module)()
        return summary

    def __contains__(self, module: object) -> bool:
        return module in self.facts

    def __iter__(self) -> Iterator[str]:
        return iter(self.facts)

    def __len__(self) -> int:
        return len(self.facts)

    def loaded(self) -> int:
        """How many summaries were parsed or decoded (for tests and --timings)."""
        return len(self._loaded)

    def without_errors(self) -> Summaries:
        """The modules that could be analysed: a view that shares this one's summaries, so a
        summary it loads is loaded once for both."""
        view = Summaries()
        view.facts = {m: facts for m, facts in self.facts.items() if not facts.has_error}
        view._loaded, view._deferred, view.unchanged = self._loaded, self._deferred, self.unchanged
        return view


def collect_summaries(
    roots: Sequence[SourceFile],
    index: Mapping[str, SourceFile],
    config: Config,
    use_cache: bool = True,
    jobs: int | None = None,
    digests: dict[str, str] | None = None,
    known: Mapping[str, ModuleFacts] | None = None,
    hashed: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> Summaries:
    """Returns the summaries of ``roots`` and of every module of ``index`` they import,
    transitively, by module name; records each file's content digest in ``digests``.

    ``known`` (by file) is what the last run recorded: a file whose content is unchanged is
    not decoded until its summary is asked for, nor read again when ``hashed`` (by file)
    already holds its digest. Files not in the cache are parsed in one
    process pool that lives for the whole run (new work is handed to it as imports are
    discovered), or serially for few files or ``jobs=1``. Never raises for a bad file. The
    cache is ``root`` when given, else the project's (:func:`cache.locate`), if ``use_cache``.
    """
    if not use_cache:
        root = None
    elif root is None:
        root = cache.locate(config.project_dir).root
    salt = config.analysis_key().encode()
    done = Summaries()
    seen: set[str] = set()
    misses: deque[tuple[SourceFile, bytes, str]] = deque()
    keys: dict[str, str] = {}

    def visit(source: SourceFile) -> None:
        if source.module in seen:
            return
        seen.add(source.module)
        before = known.get(source.rel) if known is not None and root is not None else None
        if (
            before is not None
            and hashed is not None
            and hashed.get(source.rel) == before.digest
            and before.module == source.module
        ):
            unchanged(source, before)
            return
        try:
            data = read_regular(source)
        except OSError as exc:
            accept(_unreadable(source, exc), None)
            return
        key = keys[source.module] = cache.digest(salt, source.rel.encode(), data)
        if digests is not None:
            digests[source.rel] = key
        if before is not None and before.digest == key and before.module == source.module:
            unchanged(source, before)
            return
        cached = cache.load(root, key, ModuleSummary) if root is not None else None
        if cached is not None and cached.file == source.rel and cached.module == source.module:
            accept(cached, None)
        else:
            misses.append((source, data, key))
            # Read ahead: the modules this file's import lines name are very likely reached,
            # so they join the first batch instead of waiting for this file's summary.
            for name in likely_imports(data, source):
                if name in index:
                    visit(index[name])

    def unchanged(source: SourceFile, before: ModuleFacts) -> None:
        keys[source.module] = before.digest
        if digests is not None:
            digests[source.rel] = before.digest
        done.defer(before, lambda: _load_unchanged(root, source, before.digest))
        follow(before.imports)

    def follow(imports: Iterable[str]) -> None:
        for name in reached_modules(imports):
            if name in index:
                visit(index[name])

    def accept(summary: ModuleSummary, key: str | None) -> None:
        done.add(summary, keys.get(summary.module, ""))
        if key is not None and root is not None:
            cache.store(root, key, summary)
        follow(summary.imports)

    with _rare_collections():
        for source in roots:
            visit(source)
        _parse_misses(misses, accept, root, jobs)
    return done


def _load_unchanged(root: Path | None, source: SourceFile, key: str) -> ModuleSummary:
    """The summary of a file the last run recorded with this content: from the cache, or
    parsed again when the entry has gone since."""
    cached = cache.load(root, key, ModuleSummary) if root is not None else None
    if cached is not None and cached.file == source.rel:
        return cached
    try:
        data = read_regular(source)
    except OSError as exc:
        return _unreadable(source, exc)
    summary = _summarize(_task(source, data))
    if root is not None:
        cache.store(root, key, summary)
    return summary


@contextmanager
def _rare_collections() -> Iterator[None]:
    """Parsing builds millions of short-lived, acyclic nodes; with the default thresholds the
    cyclic collector runs thousands of times over them, for nothing.
    Collections stay on, just rarer, while files are parsed; forked workers inherit this."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _parse_misses(
    misses: deque[tuple[SourceFile, bytes, str]],
    accept: Callable[[ModuleSummary, str | None], None],
    root: Path | None,
    jobs: int | None,
) -> None:
    """Summarises the files not found in the cache; ``accept`` may add more misses."""
    workers = jobs if jobs is not None else min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(misses) < POOL_THRESHOLD:
        while misses:
            source, data, key = misses.popleft()
            accept(_summarize(_task(source, data)), key)
        return
    import concurrent.futures as cf
    import multiprocessing

    import conformance.analysis.parse  # noqa: F401  (loaded once, before the fork)

    # the largest files first, and batches that shrink as the work runs out: the workers
    # finish together instead of one waiting on the other's last batch
    ordered = sorted(misses, key=lambda miss: -len(miss[1]))
    misses.clear()
    misses.extend(ordered)

    # fork: workers inherit the loaded parser instead of importing it again (spawn); Python
    # 3.14 changes the Linux default, so it is asked for.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        finished: queue.SimpleQueue[cf.Future[list[bytes | None]]] = queue.SimpleQueue()
        running: dict[cf.Future[list[bytes | None]], list[tuple[SourceFile, bytes, str]]] = {}

        def send(batch: list[tuple[SourceFile, bytes, str]]) -> None:
            future = pool.submit(_summarize_many, [_task(src, data) for src, data, _ in batch])
            future.add_done_callback(finished.put)
            running[future] = batch

        while misses or running:
            while misses and len(running) < workers * 3:
                size = max(1, min(8, len(misses) // (workers * 3)))
                send([misses.popleft() for _ in range(min(size, len(misses)))])
            done_future = finished.get()
            batch = running.pop(done_future)
            try:
                payloads = done_future.result()
            except Exception:  # a worker died: the batch is summarised here
                payloads = [None] * len(batch)
            for (source, data, key), payload in zip(batch, payloads, strict=True):
                summary = records.decode(payload, ModuleSummary) if payload is not None else None
                if payload is None or summary is None:  # e.g. too deep to encode: made here
                    accept(_summarize(_task(source, data)), key)
                    continue
                # the bytes that carried the summary here are what the cache stores; the
                # writes happen here, while the workers parse
                if root is not None:
                    cache.store_payload(root, key, payload)
                accept(summary, None)


def creates_app(summary: ModuleSummary) -> bool:
    """Whether a module-level name is bound to a call of something named ``App`` or ``Stub``
    (``app = modal.App(...)``): read from the file alone, so a cheap filter, not the answer."""
    for _name, value in summary.bindings:
        if isinstance(value, CallResult):
            func = value.func
            name = func.attr if isinstance(func, Attr) else getattr(func, "name", None)
            if name in ("App", "Stub"):
                return True
    return False


def reached_modules(imports: Iterable[str]) -> Iterator[str]:
    """Every module an import statement loads: ``a.b.c`` loads ``a``, ``a.b`` and ``a.b.c``."""
    for dotted in imports:
        parts = dotted.split(".")
        for i in range(1, len(parts) + 1):
            yield ".".join(parts[:i])


def _task(source: SourceFile, data: bytes) -> tuple[bytes, str, str, bool]:
    return (data, source.module, source.rel, source.is_package)


def _summarize_many(tasks: list[tuple[bytes, str, str, bool]]) -> list[bytes | None]:
    """Summarises a batch in a worker; each summary comes back encoded once (None when it
    cannot be encoded), which is also the form the cache stores."""
    return [records.encode(_summarize(task)) for task in tasks]


_IMPORT_LINE = re.compile(
    rb"^[ \t]*(?:from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+\(?([^#\r\n)]*)"
    rb"|import[ \t]+([^#\r\n]+))",
    re.MULTILINE,
)


def likely_imports(data: bytes, source: SourceFile) -> Iterator[str]:
    """Yields the modules a file's import lines name, read with a regular expression (fast,
    approximate: used only to start parsing early, never as the analysis)."""
    package = source.module if source.is_package else source.module.rpartition(".")[0]
    for match in _IMPORT_LINE.finditer(data):
        dots, base, names, plain = match.groups()
        if plain is not None:
            for part in plain.split(b","):
                name = part.strip().split(b" ")[0].decode("ascii", "ignore")
                if name:
                    yield from reached_modules((name,))
            continue
        module = base.decode("ascii", "ignore")
        if dots:
            anchor = package
            for _ in range(len(dots) - 1):
                anchor = anchor.rpartition(".")[0]
            module = f"{anchor}.{module}".strip(".") if module else anchor
        if not module:
            continue
        yield from reached_modules((module,))
        for part in names.split(b","):
            name = part.strip().split(b" ")[0].decode("ascii", "ignore")
            if name.isidentifier():
                yield f"{module}.{name}"


def _summarize(task: tuple[bytes, str, str, bool]) -> ModuleSummary:
    from conformance.analysis.parse import summarize_file

    return summarize_file(*task)


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
