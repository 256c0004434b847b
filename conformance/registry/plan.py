"""What it takes to bring the database registry in line with the file: a pure comparison."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conformance.errors import ConformanceError
from conformance.model import REGISTRY_COLUMNS, Registry, RegistryEntry, scalar_text


@dataclass(frozen=True)
class RowChange:
    """A row in both sources whose ``columns`` differ: ``before`` in the database, ``after``."""

    before: RegistryEntry
    after: RegistryEntry
    columns: tuple[str, ...]

    @property
    def slug(self) -> str:
        return self.after.workflow_slug

    def to_dict(self) -> dict[str, Any]:
        before, after = self.before.to_dict(), self.after.to_dict()
        return {
            "workflow_slug": self.slug,
            "changes": {c: {"before": before.get(c), "after": after.get(c)} for c in self.columns},
        }


@dataclass(frozen=True)
class Plan:
    """Rows to insert, update and deactivate (never delete), the slugs left as they are, and
    the DDL the table needs (``ddl``: what is missing, e.g. ``add column writes``).

    Every tuple of rows is sorted by slug. ``fingerprint`` identifies the database state (its
    rows and the table's shape) the plan was made against, when it was made against one: an
    apply of the plan refuses to run on any other state.
    """

    inserts: tuple[RegistryEntry, ...] = ()
    updates: tuple[RowChange, ...] = ()
    deactivations: tuple[RegistryEntry, ...] = ()
    unchanged: tuple[str, ...] = ()
    ddl: tuple[str, ...] = ()
    fingerprint: str = ""
    # columns the database fills itself (identity, serial, generated): never written
    read_only: tuple[str, ...] = ()

    @property
    def has_row_changes(self) -> bool:
        return bool(self.inserts or self.updates or self.deactivations)

    @property
    def has_changes(self) -> bool:
        """Rows or DDL to change."""
        return self.has_row_changes or bool(self.ddl)

    @property
    def upserted(self) -> tuple[RegistryEntry, ...]:
        """Returns the entries the apply writes: inserts and the new side of updates."""
        rows = (*self.inserts, *(u.after for u in self.updates))
        return tuple(sorted(rows, key=lambda e: e.workflow_slug))

    def to_dict(self) -> dict[str, Any]:
        return {
            "insert": [e.to_dict() for e in self.inserts],
            "update": [u.to_dict() for u in self.updates],
            "deactivate": [e.workflow_slug for e in self.deactivations],
            "unchanged": list(self.unchanged),
            "ddl": list(self.ddl),
        }


def changed_columns(
    before: RegistryEntry, after: RegistryEntry, *, ignore: Iterable[str] = ()
) -> tuple[str, ...]:
    """Returns the columns whose values differ: the registry columns, in column order, then
    the extra columns ``after`` carries (one it does not carry is left as it is), by name,
    compared by their text (``5`` and ``'5'`` are one value to PostgreSQL). ``ignore``: columns
    never written (those the database fills itself)."""
    skip = set(ignore)
    changed = [c for c in REGISTRY_COLUMNS if getattr(before, c) != getattr(after, c)]
    had = dict(before.extra)
    changed += [
        name
        for name, value in after.extra
        if name not in skip and scalar_text(had.get(name)) != scalar_text(value)
    ]
    return tuple(changed)


def plan(
    database: Registry,
    file: Registry,
    *,
    protect: Iterable[str] = (),
    read_only: Iterable[str] = (),
) -> Plan:
    """Returns the plan that turns ``database`` into ``file``.

    File slugs missing from the database are inserted; differing rows updated; rows active in the
    database but absent from the file deactivated, except the ``protect``ed slugs (entries the
    file has but that were left out, e.g. invalid ones applied with ``--force``). When a slug
    appears twice in one source, its first entry counts. ``read_only`` columns (the database
    fills them) are not compared.
    """
    never_written = tuple(read_only)
    kept = set(protect)
    current = _first_by_slug(database)
    wanted = _first_by_slug(file)
    inserts, updates, unchanged = [], [], []
    for slug in sorted(wanted):
        after = wanted[slug]
        before = current.get(slug)
        if before is None:
            inserts.append(after)
        elif columns := changed_columns(before, after, ignore=never_written):
            updates.append(RowChange(before, after, columns))
        else:
            unchanged.append(slug)
    deactivations = []
    for slug in sorted(current):
        if slug in wanted:
            continue
        if current[slug].is_active and slug not in kept:
            deactivations.append(current[slug])
        else:
            unchanged.append(slug)
    return Plan(tuple(inserts), tuple(updates), tuple(deactivations), tuple(sorted(unchanged)))


def _first_by_slug(registry: Registry) -> dict[str, RegistryEntry]:
    out: dict[str, RegistryEntry] = {}
    for entry in registry.entries:
        out.setdefault(entry.workflow_slug, entry)
    return out


# Deactivating more than this share of the active rows needs an explicit flag: an empty,
# comment-only or truncated registry file would otherwise retire every workflow at once.
MASS_DEACTIVATION_SHARE = 0.10
MASS_DEACTIVATION_MIN = 3


def refuse_mass_deactivation(database: Registry, planned: Plan, allowed: bool) -> None:
    """Raises ConformanceError when ``planned`` deactivates more than MASS_DEACTIVATION_SHARE
    of the database's active rows (and more than MASS_DEACTIVATION_MIN), unless ``allowed``."""
    active = sum(1 for e in database.entries if e.is_active)
    count = len(planned.deactivations)
    if allowed or count <= MASS_DEACTIVATION_MIN or count <= active * MASS_DEACTIVATION_SHARE:
        return
    raise ConformanceError(
        f"the plan deactivates {count} of the {active} active rows (is the registry file empty "
        "or truncated?); nothing was changed. Pass --allow-mass-deactivation if that is meant"
    )
