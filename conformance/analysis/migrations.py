"""The repository's migration files → what the database functions they define write.

A ``.rpc("merge_leads", ...)`` call (or ``SELECT merge_leads(...)`` in SQL text) runs a Postgres
function; when its ``CREATE [OR REPLACE] FUNCTION`` is in the migrations (the ``migrations``
setting, ``supabase/migrations/*.sql`` by default), its body says what it writes. Migration files
are read as data, never run: regular files inside the project, of bounded size, each read once per
content (cached) by :mod:`sqlfunctions`. :class:`Database` applies them in file order.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conformance import cache, fileio
from conformance.config import Config

if TYPE_CHECKING:  # the warm path lists and hashes migrations without loading their reader
    from conformance.analysis.sqlfunctions import DatabaseFunction, MigrationFile

# a pseudo-module: what a resolution read from the migrations (see incremental.Reuse)
MIGRATIONS_MODULE = "<migrations>"
MAX_MIGRATION_BYTES = 16 << 20


class Database:
    """The functions the migrations leave defined, applied in file order (a later
    ``CREATE OR REPLACE`` replaces, a ``DROP`` removes), looked up by name."""

    def __init__(self, files: Iterable[MigrationFile]) -> None:
        defined: dict[tuple[str, str, str], DatabaseFunction] = {}
        for migration in files:
            for function in migration.functions:
                if not function.dropped:
                    defined[(function.schema, function.name, function.signature)] = function
                    continue
                for key in list(defined):
                    same = key[:2] == (function.schema, function.name)
                    if same and (not function.signature or key[2] == function.signature):
                        del defined[key]
        self._by_name: dict[str, list[DatabaseFunction]] = {}
        for function in defined.values():
            self._by_name.setdefault(function.name, []).append(function)

    def __bool__(self) -> bool:
        return bool(self._by_name)

    def lookup(self, name: str) -> list[DatabaseFunction]:
        """The definitions ``name`` (``fn`` or ``schema.fn``) can call: all overloads of the
        schema it names; unqualified, those in ``public`` when there are, else any schema's."""
        schema, _, bare = name.rpartition(".")
        found = self._by_name.get(bare.lower(), [])
        if schema:
            return [f for f in found if f.schema == schema.lower()]
        public = [f for f in found if f.schema == "public"]
        return public or found


MIGRATION_KEY = "migration:"


@dataclass(frozen=True, order=True)
class MigrationSource:
    """A migration file: ``key`` names it among the files a run read (``migration:`` and its
    path in the project), ``file`` is where findings point (relative to the source root), and
    ``refused`` says why it must not be read (a symbolic link out of the project)."""

    key: str
    path: Path
    file: str
    refused: str | None = None


def sources(config: Config) -> list[MigrationSource]:
    """The files the ``migrations`` globs match under the project, in the order migrations
    apply (by path: Supabase names them by timestamp)."""
    project = config.project_dir
    found: dict[str, MigrationSource] = {}
    for pattern in config.migrations:
        for path in sorted(project.glob(pattern)):
            if not path.is_file() and not path.is_symlink():
                continue
            rel = path.relative_to(project).as_posix()
            try:
                shown = Path(os.path.relpath(path, config.source_root)).as_posix()
            except ValueError:  # another drive
                shown = path.as_posix()
            real = os.path.realpath(path)
            inside = real.startswith(os.path.realpath(project).rstrip(os.sep) + os.sep)
            refused = None if inside else "a symbolic link to a file outside the project"
            found.setdefault(rel, MigrationSource(MIGRATION_KEY + rel, path, shown, refused))
    return sorted(found.values(), key=lambda s: s.key)


def read(source: MigrationSource) -> bytes:
    """A migration's bytes; raises OSError for a refused file, a non-regular file or one over
    the size cap."""
    if source.refused is not None:
        raise OSError(errno.EPERM, source.refused)
    return fileio.read_regular(source.path, MAX_MIGRATION_BYTES)


def collect(
    found: Sequence[MigrationSource],
    config: Config,
    root: Path | None,
    digests: dict[str, str],
) -> tuple[MigrationFile, ...]:
    """Reads each migration (from the cache when its content was read before: ``root``),
    recording its digest in ``digests`` by key; never raises for a bad file."""
    if not found:
        return ()
    from conformance.analysis.sqlfunctions import MigrationFile, read_migration

    salt = config.analysis_key().encode()
    out = []
    for source in found:
        try:
            data = read(source)
        except OSError as exc:
            out.append(MigrationFile(source.file, (), (1, f"cannot read file: {exc.strerror}")))
            continue
        key = digests[source.key] = cache.digest(salt, source.key.encode(), data)
        cached = cache.load(root, key, MigrationFile) if root is not None else None
        if cached is not None and cached.file == source.file:
            out.append(cached)
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            migration = MigrationFile(source.file, (), (1, "file is not valid UTF-8"))
        else:
            migration = read_migration(text, source.file)
        if root is not None:
            cache.store(root, key, migration)
        out.append(migration)
    return tuple(out)
