"""Module summaries → ingest function records: which functions are Modal functions, what the
entry point deploys, and everything each function reaches; after a partial change, whatever the
last run resolved from unchanged modules is reused (:class:`Reuse`).

Loaded only when something must be resolved: a run that finds every file unchanged stops in
``project.py`` without importing this module, the resolver or the symbolic values.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

from conformance.analysis import values as v
from conformance.analysis.resolve import (
    METHOD_DECORATORS,
    WEB_DECORATORS,
    Frame,
    Resolved,
    Resolver,
)
from conformance.analysis.summaries import Summaries
from conformance.analysis.values import (
    AppMethod,
    AppRef,
    ClassRef,
    External,
    FuncRef,
    Instance,
    ModuleRef,
)
from conformance.config import Config
from conformance.discovery import SourceFile, is_ingest
from conformance.model import (
    IngestFunction,
    Invocation,
    Location,
    RpcCall,
    SlugHint,
    TableWrite,
    UnresolvedWrite,
)

if TYPE_CHECKING:
    from conformance.analysis.project import _Increments, _ProjectEntry


@dataclass(frozen=True)
class ModalInfo:
    modal_name: str
    kind: str
    app_name: str | None


# an ingest module's Modal functions (qualname, facts), and the modules they were found from
Candidates = tuple[frozenset[str], tuple[tuple[str, ModalInfo], ...]]
# one import of the entry point: its name, the functions and whole modules it deploys, and the
# modules that was resolved from
Import = tuple[str, frozenset[FuncRef], frozenset[str], frozenset[str]]
# what the entry point deploys, import by import (None: no entry point), and the Modal modules
# it was computed for
Deployed = tuple[tuple[Import, ...] | None, frozenset[str]]


@dataclass(frozen=True)
class Reuse:
    """What the previous analysis offers when only some files changed: each function's record,
    each ingest module's Modal functions and what the entry point deploys, each reusable when
    none of the modules it was resolved from changed."""

    records: dict[tuple[str, str], IngestFunction]
    depends: dict[tuple[str, str], frozenset[str]]
    changed: frozenset[str]
    candidates: dict[str, Candidates]
    deployed: Deployed

    @classmethod
    def of(
        cls,
        previous: tuple[_ProjectEntry, _Increments],
        digests: dict[str, str],
        files: dict[str, SourceFile],
    ) -> Reuse:
        entry, increments = previous
        before = dict(entry.digests)
        module_of = {f.rel: f.module for f in files.values()}
        changed = {module_of.get(rel, rel) for rel, d in digests.items() if before.get(rel) != d}
        changed |= {module_of.get(rel, rel) for rel in before if rel not in digests}
        records = {(f.module, f.name): f for f in entry.analysis.functions}
        return cls(
            records,
            dict(increments.depends),
            frozenset(changed),
            dict(increments.candidates),
            increments.deployed,
        )

    def get(self, key: tuple[str, str], deployed: bool) -> IngestFunction | None:
        deps = self.depends.get(key)
        record = self.records.get(key)
        if deps is None or record is None or deps & self.changed:
            return None
        return record if record.deployed == deployed else replace(record, deployed=deployed)

    def candidates_of(self, module: str) -> Candidates | None:
        found = self.candidates.get(module)
        return found if found is not None and not found[0] & self.changed else None

    def deployed_imports(self, modal_modules: frozenset[str]) -> dict[str, Import]:
        imports, modules = self.deployed
        if imports is None or modules != modal_modules:
            return {}
        return {part[0]: part for part in imports if not part[3] & self.changed}


def resolve_functions(
    summaries: Summaries,
    config: Config,
    entry: str | None,
    reuse: Reuse | None = None,
) -> tuple[
    tuple[IngestFunction, ...],
    tuple[tuple[tuple[str, str], frozenset[str]], ...],
    tuple[tuple[str, Candidates], ...],
    Deployed,
]:
    """Returns the ingest functions, and for each the modules its record was resolved from;
    each ingest module's Modal functions; and what the entry point deploys."""
    resolver = Resolver(summaries.without_errors())
    by_module: list[tuple[str, Candidates]] = []
    for name in sorted(resolver.modules):
        if not is_ingest(summaries.facts[name].rel, config):
            continue
        found = reuse.candidates_of(name) if reuse is not None else None
        if found is None:
            found = _modal_functions(resolver, name, resolver.modules[name])
        by_module.append((name, found))
    candidates = [
        (FuncRef(module, qualname), info, deps)
        for module, (deps, found) in by_module
        for qualname, info in found
    ]
    modal_refs = frozenset(ref for ref, _, _ in candidates)
    resolver.modal_functions = modal_refs
    modal_modules = frozenset(ref.module for ref in modal_refs)
    known_imports = reuse.deployed_imports(modal_modules) if reuse is not None else {}
    imports = _deployed(resolver, entry, modal_modules, known_imports)
    deployed: tuple[set[FuncRef], set[str]] | None = None
    if imports is not None and entry is not None:
        deployed = (set(), {entry})
        for _name, functions, modules, _deps in imports:
            deployed[0].update(functions)
            deployed[1].update(modules)
    out: list[IngestFunction] = []
    depends: list[tuple[tuple[str, str], frozenset[str]]] = []
    for ref, info, found_deps in candidates:
        key = (ref.module, ref.qualname)
        is_deployed = deployed is None or ref in deployed[0] or ref.module in deployed[1]
        reused = reuse.get(key, is_deployed) if reuse is not None else None
        if reuse is not None and reused is not None:
            out.append(reused)
            depends.append((key, reuse.depends[key]))
            continue
        resolver.forget()
        with resolver.collect() as deps:
            deps.update(found_deps)
            out.append(_record(resolver, summaries, config, ref, info, is_deployed))
        depends.append((key, frozenset(deps)))
    records = tuple(sorted(out, key=lambda f: (f.file, f.line, f.name)))
    return records, tuple(depends), tuple(by_module), (imports, modal_modules)


def _record(
    resolver: Resolver,
    summaries: Summaries,
    config: Config,
    ref: FuncRef,
    info: ModalInfo,
    deployed: bool,
) -> IngestFunction:
    """Returns the record of one ingest function, resolving everything it reaches."""
    func = resolver.function(ref.module, ref.qualname)
    if func is None:
        raise KeyError(f"{ref.module}.{ref.qualname}")
    reach = resolver.reach(ref, _self_binding(ref, func))
    module = summaries[ref.module]
    return IngestFunction(
        name=func.qualname,
        module=ref.module,
        file=module.file,
        line=func.line,
        kind=info.kind,
        deployed=deployed,
        modal_name=info.modal_name,
        app_name=info.app_name or config.app_name,
        writes=_unique(reach.writes, key=lambda w: (w.schema, w.table, w.operation, w.location)),
        unresolved=_unique(reach.unresolved, key=lambda u: (u.location, u.reason)),
        rpc=_unique(reach.rpc, key=lambda r: (r.name, r.location)),
        invokes=_unique(reach.invokes, key=lambda i: (i.target, i.method, i.location)),
        slug_hints=_slug_hints(resolver, ref, func, module, reach.slugs),
    )


def _self_binding(ref: FuncRef, func: v.FunctionSummary) -> tuple[tuple[str, Resolved], ...]:
    if func.class_name is not None and func.params and func.params[0] == "self":
        return (("self", Instance(ClassRef(ref.module, func.class_name))),)
    return ()


def _decorator_parts(
    resolver: Resolver, module: str, decorator: v.Value
) -> tuple[Resolved, dict[str, Resolved]]:
    frame = Frame(module)
    if isinstance(decorator, v.CallResult):
        kwargs = {k: resolver.resolve(val, frame) for k, val in decorator.kwargs}
        return resolver.resolve(decorator.func, frame), kwargs
    return resolver.resolve(decorator, frame), {}


def _is_web(target: Resolved) -> bool:
    if isinstance(target, External):
        head, _, last = target.dotted.rpartition(".")
        return last in WEB_DECORATORS and head.split(".")[0] == "modal"
    return isinstance(target, AppMethod) and target.attr in WEB_DECORATORS


def _modal_functions(resolver: Resolver, module: str, summary: v.ModuleSummary) -> Candidates:
    """Returns the Modal functions of one module, with the modules they were found from."""
    with resolver.collect() as deps:
        deps.add(module)
        found = _modal_functions_of(resolver, module, summary)
    return frozenset(deps), tuple((ref.qualname, info) for ref, _func, info in found)


def _modal_functions_of(
    resolver: Resolver, module: str, summary: v.ModuleSummary
) -> list[tuple[FuncRef, v.FunctionSummary, ModalInfo]]:
    out = []
    classes = {c.name: c for c in summary.classes}
    cls_apps: dict[str, AppRef] = {}
    for cls in summary.classes:
        for decorator in cls.decorators:
            target, _ = _decorator_parts(resolver, module, decorator)
            if isinstance(target, AppMethod) and target.attr == "cls":
                cls_apps[cls.name] = target.app
    for func in summary.functions:
        if "<locals>" in func.qualname:
            continue
        if func.class_name is not None and func.class_name not in cls_apps:
            continue
        app: AppRef | None = cls_apps.get(func.class_name) if func.class_name else None
        is_function = is_method = web = scheduled = False
        modal_name: str | None = None
        for decorator in func.decorators:
            target, kwargs = _decorator_parts(resolver, module, decorator)
            if isinstance(target, AppMethod) and target.attr == "function":
                is_function, app = True, target.app
                name = kwargs.get("name")
                if isinstance(name, v.Str):
                    modal_name = name.value
                scheduled = scheduled or "schedule" in kwargs
            elif _is_web(target):
                web = True
                if isinstance(target, AppMethod):
                    is_function, app = True, target.app
            elif (
                isinstance(target, External)
                and target.dotted.rpartition(".")[2] in METHOD_DECORATORS
                and target.dotted.startswith("modal")
            ):
                is_method = True
        if func.class_name is not None:
            if not (is_method or web) or func.class_name not in classes:
                continue
        elif not is_function:
            continue
        kind = "web" if web else "scheduled" if scheduled else "worker"
        out.append(
            (
                FuncRef(module, func.qualname),
                func,
                ModalInfo(modal_name or func.qualname, kind, app.name if app is not None else None),
            )
        )
    return out


def _deployed(
    resolver: Resolver, entry: str | None, modal_modules: frozenset[str], known: dict[str, Import]
) -> tuple[Import, ...] | None:
    """Returns, for each import of the entry point, the functions and whole modules it deploys
    (None: no entry point); ``known`` holds the imports whose result is still good."""
    if entry is None or entry not in resolver.modules:
        return None
    out = []
    for name, value in resolver.modules[entry].bindings:
        if isinstance(value, v.ImportRef):
            part = known.get(name)
            out.append(
                part if part is not None else _deploys(resolver, entry, name, value, modal_modules)
            )
    return tuple(out)


def _deploys(
    resolver: Resolver, entry: str, name: str, value: v.ImportRef, modal_modules: frozenset[str]
) -> Import:
    functions: set[FuncRef] = set()
    modules: set[str] = set()
    with resolver.collect() as deps:
        deps.add(entry)
        target = resolver.resolve(value, Frame(entry))
        if isinstance(target, FuncRef):
            functions.add(target)
        elif isinstance(target, ClassRef):
            cls = resolver.class_summary(target.module, target.name)
            functions.update(
                FuncRef(target.module, f"{target.name}.{m}") for m in (cls.methods if cls else ())
            )
        elif isinstance(target, ModuleRef):
            if value.name is None and target.module != value.module:
                return name, frozenset(), frozenset(), frozenset(deps)
            modules.add(target.module)
        if value.name is None and value.module in modal_modules:
            modules.add(value.module)
    return name, frozenset(functions), frozenset(modules), frozenset(deps)


def _slug_hints(
    resolver: Resolver,
    ref: FuncRef,
    func: v.FunctionSummary,
    module: v.ModuleSummary,
    inserted: list[tuple[str, Location]],
) -> tuple[SlugHint, ...]:
    hints: dict[tuple[str, str], SlugHint] = {}
    here = Location(module.file, func.line)
    for _param, annotation in func.annotations:
        cls = resolver.resolve(annotation, Frame(ref.module))
        if isinstance(cls, ClassRef):
            summary = resolver.class_summary(cls.module, cls.name)
            if summary is None:
                continue
            for name, value in summary.fields:
                if name == "workflow_slug":
                    resolved = resolver.resolve(value, Frame(cls.module))
                    if isinstance(resolved, v.Str):
                        loc = Location(resolver.modules[cls.module].file, summary.line)
                        hints.setdefault(
                            (resolved.value, "request-model default"),
                            SlugHint(resolved.value, "request-model default", loc),
                        )
    for name, value in module.bindings:
        if "SLUG" in name.upper() and isinstance(value, (v.Str, v.Global, v.ImportRef)):
            resolved = resolver.resolve(value, Frame(ref.module))
            if isinstance(resolved, v.Str):
                hints.setdefault(
                    (resolved.value, "module constant"),
                    SlugHint(resolved.value, "module constant", here),
                )
    for slug, loc in inserted:
        hints.setdefault((slug, "inserted literal"), SlugHint(slug, "inserted literal", loc))
    return tuple(hints.values())


_T = TypeVar("_T", TableWrite, UnresolvedWrite, RpcCall, Invocation)


def _unique(items: Iterable[_T], key: Callable[[_T], Hashable]) -> tuple[_T, ...]:
    """Returns the items without repeats by ``key`` (the first, shortest path wins), sorted."""
    seen: dict[Hashable, _T] = {}
    for item in items:
        seen.setdefault(key(item), item)
    return tuple(sorted(seen.values()))
