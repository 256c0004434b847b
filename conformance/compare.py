"""Analysis records + a Registry value → findings. Pure: no I/O, deterministic order.

The rules are documented in :mod:`conformance.codes` (and docs/rules.md); this module only
implements them. Every finding carries its evidence chain: function → call path → write line →
resolved table → registry row.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePath
from typing import TypeVar

from conformance.codes import RULES_BY_CODE
from conformance.config import Config
from conformance.model import (
    LAYER_COLUMNS,
    LAYERS,
    Analysis,
    Finding,
    IngestFunction,
    Location,
    Registry,
    RegistryEntry,
    RegistryProblem,
    Suppression,
    TableWrite,
    UnresolvedWrite,
)

_T = TypeVar("_T", UnresolvedWrite, TableWrite)

MAX_LABEL = 63
REGISTRY_GROUP = "registry"
PROJECT_GROUP = "project"
REGISTRY_CODES = frozenset(r.code for r in RULES_BY_CODE.values() if r.scope == "row")


@dataclass(frozen=True)
class _Hit:
    """A finding before suppressions, severities and exclusions are applied."""

    code: str
    message: str
    location: Location | None
    function: IngestFunction | None = None
    slug: str | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Context:
    config: Config
    registry_file: str | None  # relative to the source root, for locations
    registry_label: str  # as a reader knows it, for evidence
    error_count: int

    def row_location(self, line: int | None) -> Location | None:
        return Location(self.registry_file, line or 1) if self.registry_file else None

    def row_ref(self, row: RegistryEntry) -> str:
        where = self.registry_label
        if where and row.line:
            where = f"{where}:{row.line}"
        return f"row {row.workflow_slug}" + (f" ({where})" if where else "")


def compare(analysis: Analysis, registry: Registry, config: Config) -> tuple[Finding, ...]:
    """Returns every finding for ``analysis`` against ``registry``, sorted; never raises for data.

    Severities come from the catalogue, overridden by ``config.severity`` (``off`` drops a code);
    suppression comments and ``config.exclude`` are applied; unused suppressions become CONF015.
    """
    ctx = _context(analysis, registry, config)
    rows_by_name = registry.by_function()
    hits: list[_Hit] = []
    for fn in analysis.functions:
        hits.extend(_function_hits(fn, _rows_naming(fn, rows_by_name), ctx))
    hits.extend(_registry_hits(analysis, registry, ctx))
    hits.extend(_file_hits(analysis))
    kept, unused = _suppress(hits, analysis.suppressions)
    return _finalise([*kept, *unused], config)


def has_errors(findings: Iterable[Finding]) -> bool:
    """Returns whether any finding has error severity (the check then exits 1)."""
    return any(f.severity == "error" for f in findings)


def group_findings(analysis: Analysis, findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """Returns findings keyed by function ``test_id`` (``file::name``), plus ``registry`` for
    registry-level findings and ``project`` for the rest (files, suppressions, secrets).

    Every function and both extra keys are present, possibly with an empty list.
    """
    ids = {_qualified(fn): fn.test_id for fn in analysis.functions}
    groups: dict[str, list[Finding]] = {fn.test_id: [] for fn in analysis.functions}
    groups[REGISTRY_GROUP] = []
    groups[PROJECT_GROUP] = []
    for f in findings:
        if f.function in ids:
            groups[ids[f.function]].append(f)
        elif f.code in REGISTRY_CODES:
            groups[REGISTRY_GROUP].append(f)
        else:
            groups[PROJECT_GROUP].append(f)
    return groups


def is_excluded(path: str, patterns: Sequence[str]) -> bool:
    """Returns whether a source-root-relative POSIX ``path`` matches any exclude glob.

    ``*`` crosses ``/``; ``dir/**``, ``**/name.py`` and a plain directory prefix also match.
    """
    for raw in patterns:
        pat = raw.strip().removeprefix("./")
        if not pat:
            continue
        if fnmatchcase(path, pat) or path.startswith(pat.rstrip("/") + "/"):
            return True
        if pat.startswith("**/") and fnmatchcase(path, pat[3:]):
            return True
    return False


def host_label(workspace: str, app: str, modal_name: str) -> str:
    """Returns Modal's host label ``<workspace>--<app>-<name>`` for a web function."""
    name = modal_name.replace("_", "-").replace(".", "-")
    return f"{workspace}--{app}-{name}".lower()


# -- context --------------------------------------------------------------------------------------


def _context(analysis: Analysis, registry: Registry, config: Config) -> _Context:
    src = registry.source
    if not src or "://" in src:
        return _Context(config, None, src, len(analysis.errors))
    path = Path(src)
    if not path.is_absolute():
        path = config.project_dir / path
    try:
        rel = PurePath(os.path.relpath(path, config.source_root)).as_posix()
        label = PurePath(os.path.relpath(path, config.project_dir)).as_posix()
    except ValueError:  # another drive on Windows
        rel = label = path.as_posix()
    if label.startswith("../"):
        label = path.as_posix()
    return _Context(config, rel, label, len(analysis.errors))


def _rows_naming(fn: IngestFunction, rows: dict[str, list[RegistryEntry]]) -> list[RegistryEntry]:
    found = list(rows.get(fn.modal_name, []))
    if fn.name != fn.modal_name:
        found += [r for r in rows.get(fn.name, []) if r not in found]
    return sorted(found, key=lambda r: r.workflow_slug)


def _qualified(fn: IngestFunction) -> str:
    return f"{fn.module}.{fn.name}" if fn.module else fn.name


def _norm(table: str, layer: str | None = None) -> str:
    name = table.strip().replace('"', "").lower()
    return f"{layer}.{name}" if layer and "." not in name else name


def _schema(table: str) -> str:
    return table.split(".", 1)[0]


# -- evidence -------------------------------------------------------------------------------------


def _fn_evidence(fn: IngestFunction) -> str:
    state = "deployed" if fn.deployed else "not deployed"
    return (
        f"function {_qualified(fn)} ({fn.file}:{fn.line}; {fn.kind}, {state}, "
        f"modal name {fn.modal_name})"
    )


def _write_evidence(w: TableWrite) -> list[str]:
    steps = [f"call in {s.function} at {s.location}" for s in w.call_path]
    return [
        *steps,
        f"write {w.operation} at {w.location}",
        f"table {w.qualified_name} (layer {w.layer}, via {w.via})",
    ]


def _also(writes: Sequence[TableWrite]) -> list[str]:
    return [f"also {w.operation} {w.qualified_name} at {w.location}" for w in writes[1:6]]


def _row_evidence(ctx: _Context, row: RegistryEntry, detail: str) -> str:
    return f"{ctx.row_ref(row)}: {detail}"


def _opaque(fn: IngestFunction) -> bool:
    """Returns whether the function may write tables code cannot name (so absence is unproven)."""
    return bool(fn.unresolved or fn.rpc)


def _opaque_reason(fn: IngestFunction) -> str:
    parts = []
    if fn.unresolved:
        parts.append(f"{len(fn.unresolved)} unresolved write(s)")
    if fn.rpc:
        parts.append(f"{len(fn.rpc)} .rpc() call(s)")
    return " and ".join(parts)


# -- function rules -------------------------------------------------------------------------------


def _function_hits(fn: IngestFunction, rows: list[RegistryEntry], ctx: _Context) -> Iterator[_Hit]:
    active = [r for r in rows if r.is_active]
    if not rows:
        yield _unregistered(fn)
    elif not active and fn.deployed:
        yield _Hit(
            "CONF008",
            f"{fn.name} is deployed but every registry row naming it is inactive",
            fn.location,
            fn,
            evidence=(
                _fn_evidence(fn),
                *(_row_evidence(ctx, r, "is_active = false") for r in rows),
            ),
        )
    if not fn.deployed and ctx.config.entrypoint:
        yield _Hit(
            "CONF009",
            f"{fn.name} is not imported by the entry point {ctx.config.entrypoint}, so it is "
            "not deployed",
            fn.location,
            fn,
            evidence=(_fn_evidence(fn),),
        )
    yield from _host_label(fn, ctx.config)
    for u in _first_per_site(fn.unresolved, lambda u: (u.location, u.reason)):
        yield _Hit(
            "CONF013",
            f"{fn.name} writes a table that cannot be named statically: {u.reason}",
            u.location,
            fn,
            evidence=(
                _fn_evidence(fn),
                *(f"call in {s.function} at {s.location}" for s in u.call_path),
                f"unresolved write at {u.location}: {u.reason}",
            ),
        )
    for row in active:
        yield from _row_hits(fn, row, ctx)
    yield from _outside_layers(fn, active, ctx)


def _unregistered(fn: IngestFunction) -> _Hit:
    evidence = [_fn_evidence(fn)]
    evidence += [
        f"code suggests slug {h.slug!r} ({h.source} at {h.location})" for h in sorted(fn.slug_hints)
    ]
    tables = sorted({w.qualified_name for w in fn.writes})
    evidence.append("code writes " + (", ".join(tables) if tables else "no table it can name"))
    return _Hit(
        "CONF001",
        f"{fn.name} is not registered: no registry row names it; "
        f"run `conformance register {fn.name}`",
        fn.location,
        fn,
        evidence=tuple(evidence),
    )


def _first_per_site(items: Iterable[_T], site: Callable[[_T], Hashable]) -> list[_T]:
    """Returns one item per site (reached along several call paths: the shortest), sorted."""
    chosen: dict[Hashable, _T] = {}
    for item in sorted(items, key=lambda i: len(i.call_path)):
        chosen.setdefault(site(item), item)
    return sorted(chosen.values())


def _host_label(fn: IngestFunction, config: Config) -> Iterator[_Hit]:
    app = fn.app_name or config.app_name
    if fn.kind != "web" or not config.workspace or not app:
        return
    label = host_label(config.workspace, app, fn.modal_name)
    if len(label) > MAX_LABEL:
        yield _Hit(
            "CONF012",
            f"{fn.name}'s Modal host label is {len(label)} characters (at most {MAX_LABEL}): "
            f"{label}.modal.run",
            fn.location,
            fn,
            evidence=(
                _fn_evidence(fn),
                f"workspace {config.workspace}, app {app}, deployed name {fn.modal_name}",
            ),
        )


def _writes_by_table(fn: IngestFunction) -> dict[str, list[TableWrite]]:
    """Returns the function's writes keyed by normalised table, each list in location order."""
    out: dict[str, list[TableWrite]] = {}
    for w in sorted(fn.writes, key=lambda w: (w.location, len(w.call_path), w.operation)):
        out.setdefault(_norm(w.qualified_name), []).append(w)
    return out


def _first_writes(written: dict[str, list[TableWrite]], schema: str) -> list[TableWrite]:
    """Returns the first write of every table in ``schema``, in location order."""
    return sorted(
        (ws[0] for t, ws in written.items() if _schema(t) == schema), key=lambda w: w.location
    )


def _row_hit(
    fn: IngestFunction,
    row: RegistryEntry,
    code: str,
    message: str,
    at: TableWrite | None,
    evidence: Sequence[str],
) -> _Hit:
    """Returns a finding about ``fn`` and ``row``, on the write ``at`` or else the def line."""
    chain = (_fn_evidence(fn), *(_write_evidence(at) if at else ()), *evidence)
    return _Hit(code, message, at.location if at else fn.location, fn, row.workflow_slug, chain)


def _row_hits(fn: IngestFunction, row: RegistryEntry, ctx: _Context) -> Iterator[_Hit]:
    written = _writes_by_table(fn)
    absent: set[str] = set()  # declared tables already reported as not written
    yield from _layer_hits(fn, row, written, absent, ctx)
    yield from _coalesce_hits(fn, row, written, ctx)
    if row.writes:
        yield from _contract_hits(fn, row, written, absent, ctx)


def _layer_hits(
    fn: IngestFunction,
    row: RegistryEntry,
    written: dict[str, list[TableWrite]],
    absent: set[str],
    ctx: _Context,
) -> Iterator[_Hit]:
    slug = row.workflow_slug
    for layer in LAYERS:
        column = LAYER_COLUMNS[layer]
        in_layer = _first_writes(written, layer)
        declared = row.layer_table(layer)
        if not declared:
            if in_layer:
                yield _row_hit(
                    fn,
                    row,
                    "CONF004",
                    f"{fn.name} writes {in_layer[0].qualified_name} in {layer}, but row {slug} "
                    f"leaves {column} empty",
                    in_layer[0],
                    [*_also(in_layer), _row_evidence(ctx, row, f"{column} is empty")],
                )
            continue
        table = _norm(declared, layer)
        if table in written:
            continue
        absent.add(table)
        if in_layer and not _opaque(fn):
            yield _row_hit(
                fn,
                row,
                "CONF003",
                f"row {slug} declares {column} {table}, but {fn.name} writes "
                f"{', '.join(w.qualified_name for w in in_layer)} in {layer}",
                in_layer[0],
                [*_also(in_layer), _row_evidence(ctx, row, f"{column} = {declared}")],
            )
        else:
            yield _not_visible(fn, row, table, column, ctx)


def _coalesce_hits(
    fn: IngestFunction, row: RegistryEntry, written: dict[str, list[TableWrite]], ctx: _Context
) -> Iterator[_Hit]:
    core = _first_writes(written, "core")
    if core and not row.coalesces_to_core:
        yield _row_hit(
            fn,
            row,
            "CONF005",
            f"{fn.name} writes {core[0].qualified_name}, but row {row.workflow_slug} says "
            "coalesces_to_core: false",
            core[0],
            [_row_evidence(ctx, row, "coalesces_to_core = false")],
        )
    elif not core and row.coalesces_to_core and not row.core_table and not _opaque(fn):
        yield _row_hit(
            fn,
            row,
            "CONF005",
            f"row {row.workflow_slug} says coalesces_to_core: true, but {fn.name} writes no "
            "core table and the row names no core_table",
            None,
            [
                "no write to a core table in code",
                _row_evidence(ctx, row, "coalesces_to_core = true, core_table is empty"),
            ],
        )


def _contract_hits(
    fn: IngestFunction,
    row: RegistryEntry,
    written: dict[str, list[TableWrite]],
    absent: set[str],
    ctx: _Context,
) -> Iterator[_Hit]:
    declared = {_norm(t): t for t in row.writes}
    listed = _row_evidence(ctx, row, "writes = [" + ", ".join(row.writes) + "]")
    for table, ws in written.items():
        if table not in declared:
            yield _row_hit(
                fn,
                row,
                "CONF006",
                f"{fn.name} writes {ws[0].qualified_name}, which row {row.workflow_slug}'s "
                "writes does not list",
                ws[0],
                [*_also(ws), listed],
            )
    for table in sorted(set(declared) - set(written) - absent):
        same_schema = sorted(t for t in written if _schema(t) == _schema(table))
        if same_schema and not _opaque(fn):
            yield _row_hit(
                fn,
                row,
                "CONF007",
                f"row {row.workflow_slug}'s writes lists {declared[table]}, which {fn.name} "
                "does not write",
                None,
                [f"writes in {_schema(table)}: {', '.join(same_schema)}", listed],
            )
        else:
            yield _not_visible(fn, row, table, "writes", ctx)


def _not_visible(
    fn: IngestFunction, row: RegistryEntry, table: str, column: str, ctx: _Context
) -> _Hit:
    schema = _schema(table)
    relation = "contains" if column == "writes" else "="
    if _opaque(fn):
        why = f"{fn.name} has {_opaque_reason(fn)} that may write it"
    else:
        why = f"{fn.name} writes nothing in {schema}; a database trigger may write it"
    return _Hit(
        "CONF018",
        f"row {row.workflow_slug} declares {table} ({column}), but no write to it is visible "
        f"in code: {why}",
        fn.location,
        fn,
        row.workflow_slug,
        (
            _fn_evidence(fn),
            f"no write to {table} in code",
            _row_evidence(ctx, row, f"{column} {relation} {table}"),
        ),
    )


def _outside_layers(
    fn: IngestFunction, active: list[RegistryEntry], ctx: _Context
) -> Iterator[_Hit]:
    if any(r.writes for r in active):
        return  # CONF006 reports every undeclared table for those rows
    others = [w for w in fn.writes if w.layer == "other"]
    for w in _first_per_site(others, lambda w: (w.location, w.qualified_name)):
        how = (
            "the schema is the client's default (no .schema() call)"
            if w.via == "default-schema"
            else f"{w.schema} is not raw, extracted or core"
        )
        yield _Hit(
            "CONF014",
            f"{fn.name} writes {w.qualified_name} outside the layer schemas: {how}",
            w.location,
            fn,
            evidence=(
                _fn_evidence(fn),
                *_write_evidence(w),
                *(_row_evidence(ctx, r, "writes is empty") for r in active),
            ),
        )


# -- registry and file rules ----------------------------------------------------------------------


def _registry_hits(analysis: Analysis, registry: Registry, ctx: _Context) -> Iterator[_Hit]:
    names = {fn.name for fn in analysis.functions} | {fn.modal_name for fn in analysis.functions}
    for row in registry.entries:
        if row.is_active:
            yield from _orphan(row, names, ctx)
    reported: set[tuple[str | None, str | None]] = set()
    kept_slugs = {row.workflow_slug for row in registry.entries}
    for p in registry.problems:
        hit = _problem(p, kept_slugs, ctx)
        reported.add((p.slug, "workflow_slug" if hit.code == "CONF011" else p.field))
        yield hit
    first_by_slug: dict[str, RegistryEntry] = {}
    for row in sorted(registry.entries, key=lambda r: (r.line or 0, r.workflow_slug)):
        first = first_by_slug.setdefault(row.workflow_slug, row)
        if first is not row and (row.workflow_slug, "workflow_slug") not in reported:
            yield _Hit(
                "CONF011",
                f"duplicate workflow_slug {row.workflow_slug}: {ctx.row_ref(first)} uses it too",
                ctx.row_location(row.line),
                slug=row.workflow_slug,
                evidence=(ctx.row_ref(first), ctx.row_ref(row)),
            )
        allowed = ctx.config.entity_types
        if (
            row.entity_type
            and row.entity_type not in allowed
            and (row.workflow_slug, "entity_type") not in reported
        ):
            yield _Hit(
                "CONF010",
                f"invalid registry entry {row.workflow_slug}: entity_type "
                f"{row.entity_type!r} is not one of {', '.join(allowed)}",
                ctx.row_location(row.line),
                slug=row.workflow_slug,
                evidence=(_row_evidence(ctx, row, f"entity_type = {row.entity_type}"),),
            )


def _problem(p: RegistryProblem, kept_slugs: set[str], ctx: _Context) -> _Hit:
    """Returns CONF011 for a repeated slug (the loader kept the first entry), else CONF010."""
    duplicate = "duplicate" in p.message.lower() or (
        p.field == "workflow_slug" and p.slug is not None and p.slug in kept_slugs
    )
    if duplicate:
        message = p.message
        if "duplicate" not in message.lower():
            message = f"duplicate workflow_slug {p.slug}: {message}"
    else:
        subject = " ".join(x for x in (p.slug, f"field {p.field}" if p.field else None) if x)
        message = f"invalid registry entry {subject}: {p.message}" if subject else p.message
    where = ctx.registry_label or "registry"
    if p.line:
        where += f":{p.line}"
    return _Hit(
        "CONF011" if duplicate else "CONF010",
        message,
        ctx.row_location(p.line),
        slug=p.slug,
        evidence=(f"{where}: {p.message}",),
    )


def _orphan(row: RegistryEntry, names: set[str], ctx: _Context) -> Iterator[_Hit]:
    name = row.modal_function_name
    if name and name in names:
        return
    evidence = [_row_evidence(ctx, row, f"modal_function_name = {name or '(empty)'}")]
    if name:
        close = difflib.get_close_matches(name, sorted(names), n=1)
        message = f"row {row.workflow_slug} names {name}, which is no ingest function"
        if close:
            message += f" (did you mean {close[0]}?)"
        evidence.append(f"no ingest function has the name or deployed name {name}")
    else:
        message = f"row {row.workflow_slug} is active but has no modal_function_name"
    if ctx.error_count:
        evidence.append(f"{ctx.error_count} file(s) could not be analysed (CONF016)")
    yield _Hit(
        "CONF002",
        message,
        ctx.row_location(row.line),
        slug=row.workflow_slug,
        evidence=tuple(evidence),
    )


def _file_hits(analysis: Analysis) -> Iterator[_Hit]:
    for e in analysis.errors:
        loc = Location(e.file, e.line)
        yield _Hit(
            "CONF016",
            f"could not analyse {e.file}: {e.message}",
            loc,
            evidence=(f"file {loc}: {e.message}",),
        )
    for s in analysis.secrets:
        yield _Hit(
            "CONF017",
            f"literal {s.kind} in code: {s.masked}; read it from a modal.Secret instead",
            s.location,
            evidence=(f"{s.kind} at {s.location}: {s.masked}",),
        )


# -- suppressions, severities, exclusions ---------------------------------------------------------


def _suppress(
    hits: list[_Hit], suppressions: Sequence[Suppression]
) -> tuple[list[_Hit], list[_Hit]]:
    by_location: dict[Location, list[Suppression]] = {}
    for s in suppressions:
        by_location.setdefault(s.location, []).append(s)
    used: set[tuple[Location, str]] = set()
    kept: list[_Hit] = []
    for h in hits:
        places = [h.location, h.function.location if h.function else None]
        matched = False
        for place in places:
            for s in by_location.get(place, []) if place else []:
                if h.code in _codes(s):
                    used.add((s.location, h.code))
                    matched = True
        if not matched:
            kept.append(h)
    unused: list[_Hit] = []
    for s in suppressions:
        codes = _codes(s)
        if "CONF015" in codes:
            continue
        if not codes:
            unused.append(
                _Hit(
                    "CONF015",
                    "suppression names no code, so it suppresses nothing: write "
                    "`# conformance: ignore[CODE] reason`",
                    s.location,
                    evidence=(
                        f"# conformance: ignore {s.reason} at {s.location}".replace("  ", " "),
                    ),
                )
            )
        for code in codes:
            if (s.location, code) in used:
                continue
            why = "is not a conformance code" if code not in RULES_BY_CODE else "matches no finding"
            unused.append(
                _Hit(
                    "CONF015",
                    f"suppression of {code} {why}" + (f" (reason: {s.reason})" if s.reason else ""),
                    s.location,
                    evidence=(
                        f"# conformance: ignore[{', '.join(s.codes)}] {s.reason} at {s.location}",
                    ),
                )
            )
    return kept, unused


def _codes(s: Suppression) -> tuple[str, ...]:
    return tuple(c.strip().upper() for c in s.codes)


def _finalise(hits: list[_Hit], config: Config) -> tuple[Finding, ...]:
    out: set[Finding] = set()
    for h in hits:
        severity = config.severity.get(h.code, RULES_BY_CODE[h.code].severity)
        if severity == "off":
            continue
        files = [h.location.file if h.location else None, h.function.file if h.function else None]
        if any(f and is_excluded(f, config.exclude) for f in files):
            continue
        out.add(
            Finding(
                code=h.code,
                severity=severity,
                message=h.message,
                location=h.location,
                function=_qualified(h.function) if h.function else None,
                slug=h.slug,
                evidence=h.evidence,
            )
        )
    return tuple(
        sorted(
            out, key=lambda f: (f.sort_key, f.function or "", f.slug or "", f.message, f.evidence)
        )
    )
