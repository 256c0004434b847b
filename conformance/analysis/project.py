"""A project directory → :class:`Analysis`: discover, summarise (cached, parallel), read the
migrations (cached), resolve.

Only the ingest modules, the entry points and the modules they import (transitively) are read;
everything else under the source root is left alone. The migration files the ``migrations``
setting names are read as data for the database functions they define.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from conformance import cache
from conformance.analysis import migrations
from conformance.analysis.incremental import Increments, ProjectEntry
from conformance.config import Config
from conformance.discovery import SourceFile, discover, is_ingest, read_source, unmatched
from conformance.model import (
    Analysis,
    AnalysisError,
    IngestFunction,
    Location,
    Searched,
    SecretLiteral,
    Suppression,
)
from conformance.sources import matches

if TYPE_CHECKING:
    from conformance.analysis.sqlfunctions import MigrationFile
    from conformance.analysis.summaries import Summaries


@dataclass
class Timings:
    phases: dict[str, float] = field(default_factory=dict)
    _last: float = field(default_factory=time.perf_counter)

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - self._last
        self._last = now


def analyze_project(config: Config, use_cache: bool = True, jobs: int | None = None) -> Analysis:
    """Returns the analysis of the project ``config`` describes. Never raises for bad source
    files: each becomes an :class:`AnalysisError` and the rest is still analysed. A cache that
    cannot be trusted (see :func:`cache.locate`) is not used, and ``notices`` say why.

    When the file list and every file the last analysis read are unchanged, that analysis is
    returned from the cache without parsing or resolving anything.
    """
    timings = Timings()
    files = discover(config)
    sql_files = migrations.sources(config)
    timings.lap("discover")
    place = cache.locate(config.project_dir) if use_cache else cache.Place(None)
    root = place.root
    notices = (place.notice,) if place.notice is not None else ()
    listing = "\n".join([*sorted(f.rel for f in files.values()), *(m.key for m in sql_files)])
    project_key = cache.digest(b"project", config.analysis_key().encode(), listing.encode())
    increments_key = cache.digest(b"increments", project_key.encode())
    previous: tuple[ProjectEntry, Increments] | None = None
    hashed: dict[str, str] = {}
    entry = cache.load(root, project_key, ProjectEntry) if root is not None else None
    if entry is not None:
        hashed = _hash_files(entry, files, sql_files, config)
        if hashed == dict(entry.digests):
            timings.lap("hash")
            return replace(entry.analysis, timings=dict(timings.phases), notices=notices)
    timings.lap("hash")
    # past the warm path: only now the parser, the resolver and the symbolic values load
    from conformance.analysis.functions import resolve_functions
    from conformance.analysis.incremental import Reuse
    from conformance.analysis.summaries import collect_summaries

    if root is not None and entry is not None:
        increments = cache.load(root, increments_key, Increments)
        if increments is not None and increments.digests == entry.digests:
            previous = entry, increments

    digests: dict[str, str] = {}
    wanted = [f for f in files.values() if is_ingest(f.rel, config)]
    ingest_files = len(wanted)
    entry_modules = [f.module for f in files.values() if matches(f.rel, config.entry_points())]
    wanted += [files[m] for m in entry_modules]
    known = {m.rel: m for m in previous[1].modules} if previous is not None else None
    summaries = collect_summaries(
        sorted(set(wanted)), files, config, root is not None, jobs, digests, known, hashed, root
    )
    sql_digests: dict[str, str] = {}
    database = migrations.collect(sql_files, config, root, sql_digests)
    timings.lap("parse")
    reuse = None
    if previous is not None:
        modules = {f.rel: f.module for f in files.values()}
        modules.update({m.key: migrations.MIGRATIONS_MODULE for m in sql_files})
        reuse = Reuse.of(previous[0], previous[1], digests | sql_digests, modules)
    resolution = resolve_functions(summaries, config, sorted(entry_modules), reuse, database)
    timings.lap("resolve")
    searched = Searched(
        len(files),
        ingest_files,
        unmatched(config.ingest, files),
        unmatched(config.entry_points(), files) if config.entrypoint_configured else (),
        tuple(e.file for e in resolution.deployment.entries),
    )
    analysis = _assemble(
        resolution.functions, summaries, previous[0] if previous is not None else None, database
    )
    analysis = replace(analysis, searched=searched)
    if root is not None and len(digests) == len(summaries):
        read = tuple(sorted((digests | sql_digests).items()))
        increments = Increments(
            read,
            resolution.depends,
            tuple(summaries.facts.values()),
            resolution.module_functions,
            resolution.deployment,
        )
        cache.store(root, increments_key, increments)
        cache.store(root, project_key, ProjectEntry(read, analysis))
    return replace(analysis, timings=dict(timings.phases), notices=notices)


def _assemble(
    functions: tuple[IngestFunction, ...],
    summaries: Summaries,
    previous: ProjectEntry | None,
    database: tuple[MigrationFile, ...] = (),
) -> Analysis:
    """The analysis: the functions, and each file's errors, suppressions and secrets (from
    the last analysis for a file that did not change, so its summary need not be loaded),
    and the migration files that could not be read."""
    unchanged = {summaries.facts[m].rel for m in summaries.unchanged}
    fresh = [summaries[m] for m in summaries if m not in summaries.unchanged]
    before = previous.analysis if previous is not None else None
    errors = [AnalysisError(s.file, s.error[0], s.error[1]) for s in fresh if s.error]
    errors += [AnalysisError(m.file, m.error[0], m.error[1]) for m in database if m.error]
    suppressions = [
        Suppression(Location(s.file, line), codes, reason)
        for s in fresh
        for line, codes, reason in s.suppressions
    ]
    secrets = [
        SecretLiteral(Location(s.file, line), masked, kind)
        for s in fresh
        for line, masked, kind in s.secrets
    ]
    if before is not None and unchanged:
        errors += [e for e in before.errors if e.file in unchanged]
        suppressions += [x for x in before.suppressions if x.location.file in unchanged]
        secrets += [x for x in before.secrets if x.location.file in unchanged]
    return Analysis(
        functions,
        errors=tuple(sorted(errors)),
        suppressions=tuple(sorted(suppressions)),
        secrets=tuple(sorted(secrets)),
    )


def _hash_files(
    entry: ProjectEntry,
    files: dict[str, SourceFile],
    sql_files: list[migrations.MigrationSource],
    config: Config,
) -> dict[str, str]:
    """Returns the digest of every file the last analysis read that can still be read; when
    some changed, the summarising step reuses these instead of reading every file again."""
    by_rel = {f.rel: f for f in files.values()}
    by_key = {m.key: m for m in sql_files}
    salt = config.analysis_key().encode()
    out: dict[str, str] = {}
    for rel, _known in entry.digests:
        source = by_rel.get(rel)
        data = read_source(source) if source is not None else None
        if data is None and rel in by_key:
            try:
                data = migrations.read(by_key[rel])
            except OSError:
                data = None
        if data is not None:
            out[rel] = cache.digest(salt, rel.encode(), data)
    return out
