"""What one run remembers for the next, as named records, and what the next run reuses.

Two cache entries per project: a :class:`ProjectEntry` (the whole analysis and the digests of
the files it read; a run that finds them all unchanged returns it and stops), and, stored apart
so that run never loads it, :class:`Increments`: what a run after a partial change reuses — per
file its imports (:class:`ModuleFacts`), per ingest module its Modal functions
(:class:`ModuleFunctions`), per function the modules its record was resolved from
(:class:`FunctionDepends`), and per entry point the Apps it deploys (:class:`Deployment`).
:class:`Reuse` answers, for each of those, whether it still holds: whether none of the modules
it was computed from changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from conformance.model import Analysis, IngestFunction


@dataclass(frozen=True, slots=True)
class ModuleFacts:
    """What is remembered of one summarised file, so that a later run can follow its imports,
    and know whether it had an error, without reading its summary."""

    module: str
    rel: str
    digest: str
    imports: tuple[str, ...]
    has_error: bool
    # the imports made only inside function bodies (see ModuleSummary.local_imports)
    local_imports: tuple[str, ...] = ()
    # whether it binds the result of a call of something named App or Stub at module level:
    # the modules worth resolving when an entry point's Apps are looked for
    creates_app: bool = False

    @property
    def module_imports(self) -> tuple[str, ...]:
        """The imports that run when the module is imported: what a deploy loads with it."""
        if not self.local_imports:
            return self.imports
        local = set(self.local_imports)
        return tuple(i for i in self.imports if i not in local)


@dataclass(frozen=True, slots=True)
class ModalInfo:
    """What a Modal decorator says of a function: deployed name, kind, and its App: the name
    and the module that creates it (together, which App it is)."""

    modal_name: str
    kind: str
    app_name: str | None
    app_module: str | None = None

    @property
    def app(self) -> tuple[str, str] | None:
        return (self.app_module, self.app_name or "") if self.app_module is not None else None


@dataclass(frozen=True, slots=True)
class ModuleFunctions:
    """An ingest module's Modal functions (qualified name and facts), and the modules they
    were found from."""

    module: str
    depends: frozenset[str]
    functions: tuple[tuple[str, ModalInfo], ...]


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """A module Modal deploys from: a configured entry point, or an ingest module that creates
    the App its own functions use (deployed on its own, ``modal deploy file.py``). ``apps`` are
    the Apps it deploys, each as (module that creates it, name); None when it names no App (then
    whatever the modules it imports register). ``depends``: the modules that was read from."""

    module: str
    file: str
    configured: bool
    apps: tuple[tuple[str, str], ...] | None
    depends: frozenset[str]


@dataclass(frozen=True, slots=True)
class Deployment:
    """The entry points deployment was read from; none: deployment is not known."""

    entries: tuple[EntryPoint, ...]


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

    def record(
        self, key: tuple[str, str], deployed: bool, deployed_by: tuple[str, ...]
    ) -> IngestFunction | None:
        """The function's last record, when nothing it was resolved from changed."""
        depends = self.depends.get(key)
        record = self.records.get(key)
        if depends is None or record is None or depends & self.changed:
            return None
        if (record.deployed, record.deployed_by) == (deployed, deployed_by):
            return record
        return replace(record, deployed=deployed, deployed_by=deployed_by)

    def module_functions(self, module: str) -> ModuleFunctions | None:
        found = self.functions.get(module)
        return found if found is not None and not found.depends & self.changed else None

    def entry_point(self, module: str) -> EntryPoint | None:
        """The configured entry point's last reading, when nothing it was read from changed."""
        for entry in self.deployment.entries:
            if entry.module == module and entry.configured and not entry.depends & self.changed:
                return entry
        return None
