"""Module summaries → ingest function records: which functions are Modal functions, what the
entry point deploys, and everything each function reaches; after a partial change, whatever the
last run resolved from unchanged modules is reused (:class:`Reuse`).

Loaded only when something must be resolved: a run that finds every file unchanged stops in
``project.py`` without importing this module, the resolver or the symbolic values.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from conformance.analysis import values as v
from conformance.analysis.incremental import (
    DeployedImport,
    Deployment,
    FunctionDepends,
    ModalInfo,
    ModuleFunctions,
    Reuse,
)
from conformance.analysis.migrations import Database, MigrationFile
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
from conformance.discovery import is_ingest
from conformance.model import (
    IngestFunction,
    Invocation,
    Location,
    RpcCall,
    SlugHint,
    TableWrite,
    UnresolvedWrite,
)


@dataclass(frozen=True)
class Resolution:
    """The ingest functions (sorted by file, line, name), and what the next run may reuse:
    the modules each record was resolved from, each ingest module's Modal functions, and what
    the entry point deploys."""

    functions: tuple[IngestFunction, ...]
    depends: tuple[FunctionDepends, ...]
    module_functions: tuple[ModuleFunctions, ...]
    deployment: Deployment


def resolve_functions(
    summaries: Summaries,
    config: Config,
    entry: str | None,
    reuse: Reuse | None = None,
    migrations: tuple[MigrationFile, ...] = (),
) -> Resolution:
    """Resolves every Modal function of the ingest modules: what it writes, calls, invokes;
    a database function a ``migrations`` file defines is read for what it writes."""
    database = Database(migrations) if migrations else None
    resolver = Resolver(summaries.without_errors(), database=database)
    by_module: list[ModuleFunctions] = []
    for name in sorted(resolver.modules):
        if not is_ingest(summaries.facts[name].rel, config):
            continue
        found = reuse.module_functions(name) if reuse is not None else None
        by_module.append(found or _modal_functions(resolver, name, resolver.modules[name]))
    candidates = [
        (FuncRef(found.module, qualname), info, found.depends)
        for found in by_module
        for qualname, info in found.functions
    ]
    modal_refs = frozenset(ref for ref, _, _ in candidates)
    resolver.modal_functions = modal_refs
    modal_modules = frozenset(ref.module for ref in modal_refs)
    known_imports = reuse.deployed_imports(modal_modules) if reuse is not None else {}
    imports = _deployed(resolver, entry, modal_modules, known_imports)
    deployed: tuple[set[FuncRef], set[str]] | None = None
    if imports is not None and entry is not None:
        deployed = (set(), {entry})
        for part in imports:
            deployed[0].update(part.functions)
            deployed[1].update(part.modules)
    out: list[IngestFunction] = []
    depends: list[FunctionDepends] = []
    for ref, info, found_deps in candidates:
        key = (ref.module, ref.qualname)
        is_deployed = deployed is None or ref in deployed[0] or ref.module in deployed[1]
        reused = reuse.record(key, is_deployed) if reuse is not None else None
        if reuse is not None and reused is not None:
            out.append(reused)
            depends.append(FunctionDepends(*key, reuse.depends[key]))
            continue
        resolver.forget()
        with resolver.collect() as deps:
            deps.update(found_deps)
            out.append(_record(resolver, summaries, config, ref, info, is_deployed))
        depends.append(FunctionDepends(*key, frozenset(deps)))
    records = tuple(sorted(out, key=lambda f: (f.file, f.line, f.name)))
    return Resolution(records, tuple(depends), tuple(by_module), Deployment(imports, modal_modules))


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


def _modal_functions(resolver: Resolver, module: str, summary: v.ModuleSummary) -> ModuleFunctions:
    """Returns the Modal functions of one module, with the modules they were found from."""
    with resolver.collect() as deps:
        deps.add(module)
        found = _modal_functions_of(resolver, module, summary)
    return ModuleFunctions(
        module, frozenset(deps), tuple((ref.qualname, info) for ref, _func, info in found)
    )


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
    resolver: Resolver,
    entry: str | None,
    modal_modules: frozenset[str],
    known: dict[str, DeployedImport],
) -> tuple[DeployedImport, ...] | None:
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
) -> DeployedImport:
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
                return DeployedImport(name, frozenset(), frozenset(), frozenset(deps))
            modules.add(target.module)
        if value.name is None and value.module in modal_modules:
            modules.add(value.module)
    return DeployedImport(name, frozenset(functions), frozenset(modules), frozenset(deps))


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
