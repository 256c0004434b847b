"""What one run remembers for the next, as named records, and what the next run reuses.

Two cache entries per project: a :class:`ProjectEntry` (the whole analysis and the digests of
the files it read; a run that finds them all unchanged returns it and stops), and, stored apart
so that run never loads it, :class:`Increments`: what a run after a partial change reuses — per
file its imports (:class:`ModuleFacts`), per ingest module its Modal functions
(:class:`ModuleFunctions`), per function the modules its record was resolved from
(:class:`FunctionDepends`), and per import of the entry point what it deploys
(:class:`Deployment`). :class:`Reuse` answers, for each of those, whether it still holds:
whether none of the modules it was computed from changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from conformance.model import Analysis, IngestFunction

if TYPE_CHECKING:  # the warm path reads a ProjectEntry without loading the symbolic values
    from conformance.analysis.values import FuncRef


@dataclass(frozen=True, slots=True)
class ModuleFacts:
    """What is remembered of one summarised file, so that a later run can follow its imports,
    and know whether it had an error, without reading its summary."""

    module: str
    rel: str
    digest: str
    imports: tuple[str, ...]
    has_error: bool


@dataclass(frozen=True, slots=True)
class ModalInfo:
    """What a Modal decorator says of a function: deployed name, kind, App name."""

    modal_name: str
    kind: str
    app_name: str | None


@dataclass(frozen=True, slots=True)
class ModuleFunctions:
    """An ingest module's Modal functions (qualified name and facts), and the modules they
    were found from."""

    module: str
    depends: frozenset[str]
    functions: tuple[tuple[str, ModalInfo], ...]


@dataclass(frozen=True, slots=True)
class DeployedImport:
    """One import of the entry point: its name, the functions and whole modules it deploys,
    and the modules that was resolved from."""

    name: str
    functions: frozenset[FuncRef]
    modules: frozenset[str]
    depends: frozenset[str]


@dataclass(frozen=True, slots=True)
class Deployment:
    """What the entry point deploys, import by import (``imports`` is None without an entry
    point), and the modules holding Modal functions it was computed for."""

    imports: tuple[DeployedImport, ...] | None
    modal_modules: frozenset[str]


@dataclass(frozen=True, slots=True)
class FunctionDepends:
    """The modules an ingest function's record was resolved from."""

    module: str
    qualname: str
    depends: frozenset[str]

    @property
    def key(self) -> tuple[str, str]:
        return self.module, self.qualname


@dataclass(frozen=True)
class ProjectEntry:
    """A whole analysis and the digests of the files it read (the warm path's cache entry)."""

    digests: tuple[tuple[str, str], ...]
    analysis: Analysis


@dataclass(frozen=True)
class Increments:
    """What a run after a partial change reuses (see the module docstring); ``digests`` ties
    it to the :class:`ProjectEntry` it was written with."""

    digests: tuple[tuple[str, str], ...]
    depends: tuple[FunctionDepends, ...]
    modules: tuple[ModuleFacts, ...]
    functions: tuple[ModuleFunctions, ...]
    deployment: Deployment


@dataclass(frozen=True)
class Reuse:
    """What the previous analysis offers when only some files changed: each function's record,
    each ingest module's Modal functions and what the entry point deploys, each reusable when
    none of the modules it was resolved from changed."""

    records: dict[tuple[str, str], IngestFunction]
    depends: dict[tuple[str, str], frozenset[str]]
    changed: frozenset[str]
    functions: dict[str, ModuleFunctions]
    deployment: Deployment

    @classmethod
    def of(
        cls,
        entry: ProjectEntry,
        increments: Increments,
        digests: dict[str, str],
        modules: dict[str, str],
    ) -> Reuse:
        """``digests`` are this run's, by file; ``modules`` the module of each file."""
        before = dict(entry.digests)
        changed = {modules.get(rel, rel) for rel, d in digests.items() if before.get(rel) != d}
        changed |= {modules.get(rel, rel) for rel in before if rel not in digests}
        return cls(
            {(f.module, f.name): f for f in entry.analysis.functions},
            {d.key: d.depends for d in increments.depends},
            frozenset(changed),
            {found.module: found for found in increments.functions},
            increments.deployment,
        )

    def record(self, key: tuple[str, str], deployed: bool) -> IngestFunction | None:
        """The function's last record, when nothing it was resolved from changed."""
        depends = self.depends.get(key)
        record = self.records.get(key)
        if depends is None or record is None or depends & self.changed:
            return None
        return record if record.deployed == deployed else replace(record, deployed=deployed)

    def module_functions(self, module: str) -> ModuleFunctions | None:
        found = self.functions.get(module)
        return found if found is not None and not found.depends & self.changed else None

    def deployed_imports(self, modal_modules: frozenset[str]) -> dict[str, DeployedImport]:
        imports = self.deployment.imports
        if imports is None or self.deployment.modal_modules != modal_modules:
            return {}
        return {part.name: part for part in imports if not part.depends & self.changed}
