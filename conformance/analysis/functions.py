"""Module summaries → ingest function records: which functions are Modal functions, what the
entry point deploys, and everything each function reaches; after a partial change, whatever the
last run resolved from unchanged modules is reused (:class:`Reuse`).

Loaded only when something must be resolved: a run that finds every file unchanged stops in
``project.py`` without importing this module, the resolver or the symbolic values.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from conformance.analysis import values as v
from conformance.analysis.incremental import (
    Deployment,
    EntryPoint,
    FunctionDepends,
    ModalInfo,
    ModuleFacts,
    ModuleFunctions,
    Reuse,
)
from conformance.analysis.known import options
from conformance.analysis.migrations import Database
from conformance.analysis.resolve import (
    METHOD_DECORATORS,
    WEB_DECORATORS,
    Frame,
    Resolved,
    Resolver,
)
from conformance.analysis.summaries import Summaries, reached_modules
from conformance.analysis.values import (
    AppMethod,
    AppRef,
    ClassRef,
    External,
    FuncRef,
    Instance,
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

if TYPE_CHECKING:  # migrations are read only when a project has some
    from conformance.analysis.sqlfunctions import MigrationFile


@dataclass(frozen=True)
class Resolution:
    """The ingest functions (sorted by file, line, name), and what the next run may reuse:
    the modules each record was resolved from, each ingest module's Modal functions, and the
    entry points deployment was read from."""

    functions: tuple[IngestFunction, ...]
    depends: tuple[FunctionDepends, ...]
    module_functions: tuple[ModuleFunctions, ...]
    deployment: Deployment


def resolve_functions(
    summaries: Summaries,
    config: Config,
    entries: Sequence[str] = (),
    reuse: Reuse | None = None,
    migrations: tuple[MigrationFile, ...] = (),
) -> Resolution:
    """Resolves every Modal function of the ingest modules: what it writes, calls, invokes,
    and whether an entry point deploys it (``entries``: the configured entry points' modules);
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
    resolver.modal_functions = frozenset(ref for ref, _, _ in candidates)
    deployment = _deployment(resolver, summaries, entries, by_module, reuse)
    deployed_by = deploys(deployment, summaries.facts, [(ref, info) for ref, info, _ in candidates])
    out: list[IngestFunction] = []
    depends: list[FunctionDepends] = []
    for ref, info, found_deps in candidates:
        key = (ref.module, ref.qualname)
        by = deployed_by.get(ref, ()) if deployed_by is not None else ()
        is_deployed = deployed_by is None or bool(by)
        reused = reuse.record(key, is_deployed, by) if reuse is not None else None
        if reuse is not None and reused is not None:
            out.append(reused)
            depends.append(FunctionDepends(*key, reuse.depends[key]))
            continue
        resolver.forget()
        with resolver.collect() as deps:
            deps.update(found_deps)
            out.append(_record(resolver, summaries, config, ref, info, by if is_deployed else None))
        depends.append(FunctionDepends(*key, frozenset(deps)))
    records = tuple(sorted(out, key=lambda f: (f.file, f.line, f.name)))
    return Resolution(records, tuple(depends), tuple(by_module), deployment)


def _record(
    resolver: Resolver,
    summaries: Summaries,
    config: Config,
    ref: FuncRef,
    info: ModalInfo,
    deployed_by: tuple[str, ...] | None,
) -> IngestFunction:
    """Returns the record of one ingest function, resolving everything it reaches;
    ``deployed_by`` the entry points that deploy it (None: not deployed)."""
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
        deployed=deployed_by is not None,
        deployed_by=deployed_by or (),
        modal_name=info.modal_name,
        app_name=info.app_name or config.app_name,
        writes=_unique(reach.writes, key=lambda w: (w.schema, w.table, w.operation, w.location)),
        unresolved=_unique(reach.unresolved, key=lambda u: (u.location, u.reason)),
        rpc=_unique(reach.rpc, key=lambda r: (r.name, r.location)),
        invokes=_unique(reach.invokes, key=lambda i: (i.target, i.method, i.location)),
        slug_hints=_slug_hints(resolver, ref, func, module, reach.slugs),
        **_request_model(resolver, ref, func),
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
        info = ModalInfo(
            modal_name or func.qualname,
            kind,
            app.name if app is not None else None,
            app.module if app is not None else None,
        )
        out.append((FuncRef(module, func.qualname), func, info))
    return out


def _deployment(
    resolver: Resolver,
    summaries: Summaries,
    entries: Sequence[str],
    by_module: Sequence[ModuleFunctions],
    reuse: Reuse | None,
) -> Deployment:
    """The entry points: the configured ones (with the Apps each names), and every ingest
    module that creates the App its own functions use: such a file is deployed on its own
    (``modal deploy ingest/file.py``)."""
    points: list[EntryPoint] = []
    for entry in entries:
        if entry not in resolver.modules:
            continue
        known = reuse.entry_point(entry) if reuse is not None else None
        points.append(known or _entry_point(resolver, summaries.facts, entry))
    configured = {p.module for p in points}
    for found in by_module:
        own = sorted({a for _, info in found.functions if (a := info.app) and a[0] == found.module})
        if own and found.module not in configured:
            file = summaries.facts[found.module].rel
            points.append(EntryPoint(found.module, file, False, tuple(own), found.depends))
    return Deployment(tuple(points))


def _entry_point(resolver: Resolver, facts: Mapping[str, ModuleFacts], entry: str) -> EntryPoint:
    """A configured entry point and the Apps it names at module level (Modal deploys the App
    objects a module holds): None when it names none. Only names made here or imported from a
    module that makes an App are resolved: the others (the functions it imports) would load
    every ingest module's summary for nothing."""
    apps: set[tuple[str, str]] = set()
    summary = resolver.modules[entry]
    with resolver.collect() as deps:
        deps.add(entry)
        for _name, value in summary.bindings:
            if isinstance(value, v.ImportRef):
                source = facts.get(value.module)
                if value.name is None or source is None or not source.creates_app:
                    continue
            elif not isinstance(value, v.CallResult):
                continue
            for option in options(resolver.resolve(value, Frame(entry))):
                if isinstance(option, AppRef):
                    apps.add((option.module, option.name or ""))
    return EntryPoint(
        entry, summary.file, True, tuple(sorted(apps)) if apps else None, frozenset(deps)
    )


def deploys(
    deployment: Deployment,
    facts: Mapping[str, ModuleFacts],
    functions: Sequence[tuple[FuncRef, ModalInfo]],
) -> dict[FuncRef, tuple[str, ...]] | None:
    """Which entry points deploy each function (None: no entry point, deployment unknown).

    Modal registers every function of a module with its App when the module is imported: an
    entry point deploys the functions of the modules it imports, directly or through other
    modules (at module level: an import inside a function runs only when it is called), that
    are on an App it deploys."""
    if not deployment.entries:
        return None
    out: dict[FuncRef, list[str]] = {}
    for entry in deployment.entries:
        loaded = _loaded(entry.module, facts)
        apps = set(entry.apps) if entry.apps is not None else None
        for ref, info in functions:
            if ref.module in loaded and (apps is None or info.app is None or info.app in apps):
                out.setdefault(ref, []).append(entry.file)
    return {ref: tuple(sorted(set(files))) for ref, files in out.items()}


def _loaded(entry: str, facts: Mapping[str, ModuleFacts]) -> set[str]:
    """The project modules importing ``entry`` loads: itself, and what its module-level imports
    load, transitively (``import a.b`` loads ``a`` and ``a.b``)."""
    tops = {name.partition(".")[0] for name in facts}
    seen = {entry}
    todo = [entry]
    while todo:
        found = facts.get(todo.pop())
        if found is None:
            continue
        # most imports are of libraries: only the project's own are followed
        ours = [d for d in found.module_imports if d.partition(".")[0] in tops]
        for name in reached_modules(ours):
            if name in facts and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def _request_model(resolver: Resolver, ref: FuncRef, func: v.FunctionSummary) -> dict[str, Any]:
    """The fields of the first project class a parameter is annotated with (a request model),
    and where it is defined."""
    for _param, annotation in func.annotations:
        cls = resolver.resolve(annotation, Frame(ref.module))
        if isinstance(cls, ClassRef):
            summary = resolver.class_summary(cls.module, cls.name)
            if summary is not None and summary.annotated:
                where = Location(resolver.modules[cls.module].file, summary.line)
                return {"request_fields": summary.annotated, "request_model": where}
    return {}


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
