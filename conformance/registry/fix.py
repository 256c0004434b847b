"""What the code alone settles in a registry file: the plan of ``check --fix`` and ``register``.

For each ingest function, the entries that describe it are brought in line with its code:

- **linking**: an entry no function names is linked (its ``modal_function_name`` set) to the
  function whose code declares or records that entry's slug (a request-model default, a literal
  ``workflow_slug`` written into a row, a module constant), or, when the code states no slug,
  to the one function whose name gives that slug (``ingest_company_tags``: ``company-tags``);
- **new entries** for functions still unregistered, with the code's slug when it has one (never
  a second entry for a slug that exists), else one derived from the name;
- **layer tables, writes and coalesces_to_core** of every active entry naming a function follow
  what the code writes: a layer column takes the table the function writes in that layer (when
  it writes several: the entry's own value if it is one of them, else the first in call order);
  ``writes`` gains every table written and loses those the code proves it no longer writes;
  what the code cannot prove absent (a trigger's or an RPC's write) is kept.

Nothing a person decides is changed: provider, platform, payload_type, entity_type,
description, is_active, the slug and the extra columns stay as they are. Where the code gives
unambiguous evidence for an empty human column, a *suggestion* is made instead, written with a
comment that says so and where the evidence is (:mod:`conformance.registry.suggest`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from conformance.model import (
    LAYER_COLUMNS,
    LAYERS,
    IngestFunction,
    Registry,
    RegistryEntry,
    TableWrite,
)
from conformance.registry.draft import SLUG_SOURCES, draft_entry, free_slug, slug_for
from conformance.registry.suggest import Suggestion, suggestions


@dataclass(frozen=True)
class EntryFix:
    """The changes to one entry: ``values`` the code settles (column → new value), the
    ``suggested`` values of empty human columns, and ``notes`` saying what changed and why.
    ``line`` is the existing entry's (None: a new entry)."""

    slug: str
    function: IngestFunction
    line: int | None
    values: tuple[tuple[str, Any], ...]
    suggested: tuple[Suggestion, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def is_new(self) -> bool:
        return self.line is None

    def entry(self, base: RegistryEntry | None = None) -> RegistryEntry:
        """The entry after the fix (``base``: the entry before it, for an existing one)."""
        changes = dict(self.values)
        changes.update({s.column: s.value for s in self.suggested})
        writes = changes.pop("writes", None)
        start = base or RegistryEntry(self.slug)
        entry = replace(start, **changes)
        return replace(entry, writes=tuple(writes)) if writes is not None else entry


@dataclass(frozen=True)
class FixPlan:
    """Every entry fix, in file order then new entries by function, and what the code could not
    settle (said once each)."""

    fixes: tuple[EntryFix, ...]
    unsettled: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.fixes)


def plan_fix(
    functions: Sequence[IngestFunction],
    registry: Registry,
    entity_types: Sequence[str],
    *,
    only: Iterable[IngestFunction] | None = None,
    new_entries: bool = True,
    existing_entries: bool = True,
) -> FixPlan:
    """Returns what the code settles in ``registry`` (a registry file's, problems aside).

    ``only`` limits the plan to some functions (``register FUNCTION``); ``new_entries`` and
    ``existing_entries`` choose between adding entries for unregistered functions and
    bringing the existing ones in line (``register`` only adds).
    """
    chosen = list(functions if only is None else only)
    entries = list(registry.entries)
    by_slug = {e.workflow_slug: e for e in entries}
    names = {n for fn in functions for n in (fn.name, fn.modal_name)}
    fixes: list[EntryFix] = []
    unsettled: list[str] = []
    linked: dict[str, IngestFunction] = {}  # slug → the function the fix links it to

    def naming(fn: IngestFunction) -> list[RegistryEntry]:
        found = [e for e in entries if e.names_function(fn)]
        found += [by_slug[s] for s, f in linked.items() if f is fn and by_slug[s] not in found]
        return found

    for fn in chosen:
        registered = any(e.names_function(fn) for e in entries)
        for slug in code_slugs(fn):
            entry = by_slug.get(slug)
            if entry is None:
                continue
            owner = entry.modal_function_name
            if registered and owner:
                break  # its rows are named already; the slug rule reports the rest
            if owner and owner in names:
                unsettled.append(
                    f"{fn.name}'s code uses slug {slug!r}, but that entry names {owner}: not linked"
                )
                break
            if slug not in linked:
                linked[slug] = fn
            break
    # a row no function names whose slug is the one a function's name gives (a row inserted by
    # a migration without modal_function_name) is that function's, not a reason for a second
    by_name: dict[str, list[IngestFunction]] = {}
    for fn in chosen:
        if not naming(fn) and not code_slugs(fn):
            by_name.setdefault(slug_for(fn), []).append(fn)
    named_by: set[str] = set()
    for slug, fns in by_name.items():
        entry = by_slug.get(slug)
        if entry is None or entry.modal_function_name or slug in linked or len(fns) != 1:
            continue
        linked[slug] = fns[0]
        named_by.add(slug)
    taken = set(by_slug)
    for fn in chosen:
        rows = naming(fn)
        if not rows:
            if not new_entries:
                continue
            new_slug = _new_slug(fn, taken)
            if new_slug is None:
                continue  # its code's slug is taken by another function's entry: said above
            taken.add(new_slug)
            draft = draft_entry(fn, new_slug)
            values = tuple((c, v) for c, v in draft.entry.to_dict().items() if c != "workflow_slug")
            suggested = tuple(suggestions(fn, draft.entry, entity_types, registry))
            notes = ("new entry for an unregistered function",)
            fixes.append(EntryFix(new_slug, fn, None, values, suggested, notes))
            continue
        for row in rows:
            is_link = row.workflow_slug in linked and linked[row.workflow_slug] is fn
            if not existing_entries and not (is_link and new_entries):
                continue  # registering: only the link that stands for a new entry
            if not row.is_active and not is_link:
                continue  # retired: nothing to bring in line
            why = "its name gives this slug" if row.workflow_slug in named_by else None
            fix = _entry_fix(fn, row, is_link, entity_types, registry, existing_entries, why)
            if fix is not None:
                fixes.append(fix)
    order = {e.workflow_slug: i for i, e in enumerate(entries)}
    fixes.sort(key=lambda f: (f.is_new, order.get(f.slug, 0), f.function.test_id))
    return FixPlan(tuple(fixes), tuple(dict.fromkeys(unsettled)))


def code_slugs(fn: IngestFunction) -> list[str]:
    """The slugs the function's code states, strongest source first."""
    out: list[str] = []
    for source in SLUG_SOURCES:
        for hint in sorted(fn.slug_hints):
            if hint.source == source and hint.slug not in out:
                out.append(hint.slug)
    return out


def _new_slug(fn: IngestFunction, taken: set[str]) -> str | None:
    """The slug of a new entry: the code's own when it has one (None when an entry already has
    it: that entry is not duplicated), else one derived from the name, made unique."""
    slug = slug_for(fn)
    if slug in code_slugs(fn):
        return None if slug in taken else slug
    return free_slug(slug, taken)


def _entry_fix(
    fn: IngestFunction,
    row: RegistryEntry,
    is_link: bool,
    entity_types: Sequence[str],
    registry: Registry,
    follow_code: bool = True,
    why: str | None = None,
) -> EntryFix | None:
    """The changes one existing entry needs to describe ``fn``'s code (only the link, unless
    ``follow_code``), or None. ``why`` the entry is linked (default: the code uses its slug)."""
    values: dict[str, Any] = {}
    notes: list[str] = []
    if is_link:
        values["modal_function_name"] = fn.modal_name
        notes.append(f"linked to {fn.name}: {why or 'its code uses this slug'}")
        if not follow_code:
            return EntryFix(
                row.workflow_slug, fn, row.line or 0, tuple(values.items()), (), tuple(notes)
            )
    ordered = writes_in_call_order(fn)
    for layer in LAYERS:
        column = LAYER_COLUMNS[layer]
        in_layer = list(dict.fromkeys(w.qualified_name for w in ordered if w.layer == layer))
        current = row.layer_table(layer)
        if not in_layer:
            continue  # nothing written there: a trigger may write what the row says
        keep = current if current in in_layer else in_layer[0]
        if keep != current:
            values[column] = keep
    written = sorted({w.qualified_name for w in fn.writes})
    kept = [t for t in row.writes if t not in written and not _provably_absent(fn, t)]
    writes = sorted({*written, *kept})
    if writes != sorted(row.writes):
        values["writes"] = writes
    core = any(w.layer == "core" for w in fn.writes)
    opaque = bool(fn.unresolved or fn.rpc)
    coalesces = True if core else row.coalesces_to_core if (row.core_table or opaque) else False
    if coalesces != row.coalesces_to_core:
        values["coalesces_to_core"] = coalesces
    after = replace(row, **{k: v for k, v in values.items() if k != "writes"})
    suggested = tuple(suggestions(fn, after, entity_types, registry))
    for column, value in values.items():
        if column != "modal_function_name":
            notes.append(f"{column}: {_shown(row.column(column))} -> {_shown(value)}")
    if not values and not suggested:
        return None
    return EntryFix(
        row.workflow_slug, fn, row.line or 0, tuple(values.items()), suggested, tuple(notes)
    )


def writes_in_call_order(fn: IngestFunction) -> list[TableWrite]:
    """The function's writes in the order its body reaches them: by the first call that leads
    to each (its own line for a direct write), then by the write's own place."""
    return sorted(
        fn.writes,
        key=lambda w: (w.call_path[0].location if w.call_path else w.location, w.location),
    )


def _provably_absent(fn: IngestFunction, table: str) -> bool:
    """Whether the code proves it no longer writes ``table``: every write is resolved and it
    writes other tables of that schema (otherwise a trigger or an RPC may write it)."""
    if fn.unresolved or fn.rpc:
        return False
    schema = table.split(".", 1)[0].lower()
    return any(w.schema.lower() == schema for w in fn.writes)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return "empty" if value in (None, "") else str(value)
