"""What the registry commands print: the plan or diff between file and database, the entries
``register`` added, and ``snapshot``'s count."""

from __future__ import annotations

from pathlib import Path

from conformance.registry.fix import FixPlan
from conformance.registry.plan import Plan
from conformance.report.common import printable


def render_plan(planned: Plan, *, for_diff: bool = False) -> str:
    """Returns one line per row to insert, update (with each column's two values) or
    deactivate, then the counts; ``for_diff`` words it as differences."""
    lines = []
    for entry in planned.inserts:
        lines.append(
            f"+ {entry.workflow_slug}: in the file, not in the database"
            + ("" if for_diff else " (insert)")
        )
    for change in planned.updates:
        lines.append(f"~ {change.slug}: {', '.join(change.columns)} differ")
        for column in change.columns:
            before, after = getattr(change.before, column), getattr(change.after, column)
            lines.append(f"    {column}: database {before!r} -> file {after!r}")
    for entry in planned.deactivations:
        lines.append(
            f"- {entry.workflow_slug}: active in the database, not in the file"
            + ("" if for_diff else " (deactivate; never deleted)")
        )
    if not lines:
        return "no differences" if for_diff else "nothing to do: the database matches the file"
    counts = (
        f"{len(planned.inserts)} to insert, {len(planned.updates)} to update, "
        f"{len(planned.deactivations)} to deactivate, {len(planned.unchanged)} unchanged"
    )
    return "\n".join(printable(line) for line in [*lines, counts])


def render_applied(planned: Plan) -> str:
    return (
        f"applied: {len(planned.inserts)} inserted, {len(planned.updates)} updated, "
        f"{len(planned.deactivations)} deactivated"
    )


def render_registered(plan: FixPlan, where: str) -> str:
    """Returns, per function ``register`` handled, what it did (a new entry, with the columns
    left to fill, or a link to the entry whose slug its code uses); ``nothing to register``
    when it did nothing."""
    from conformance.registry.draft import draft_entry

    if not plan.fixes:
        return "\n".join(["nothing to register", *plan.unsettled])
    lines = []
    for fix in plan.fixes:
        fn = fix.function
        place = f"{fn.file}:{fn.line}"
        if fix.is_new:
            lines.append(f"registered {fn.name} ({place}) as {fix.slug} in {where}")
            suggested = {s.column for s in fix.suggested}
            todo = [t for t in draft_entry(fn, fix.slug).todo if t.split(":")[0] not in suggested]
            lines += [f"  fill {item}" for item in todo]
        else:
            lines.append(
                f"linked {fn.name} ({place}) to the entry {fix.slug} in {where}: its code uses "
                "that slug"
            )
        lines += [f"  suggested {s.column}: {s.value} (from {s.evidence})" for s in fix.suggested]
    lines += list(plan.unsettled)
    return "\n".join(printable(line) for line in lines)


def render_fix(plan: FixPlan, where: str) -> str:
    """Returns what ``check --fix`` changed, entry by entry: the columns the code settled and
    the values it suggests; then what it could not settle."""
    if not plan.fixes:
        return "\n".join([f"{where}: nothing to fix", *plan.unsettled])
    lines = []
    for fix in plan.fixes:
        fn = fix.function
        if fix.is_new:
            lines.append(f"{where}: + {fix.slug}: new entry for {fn.name} ({fn.file}:{fn.line})")
        else:
            lines.append(f"{where}:{fix.line}: ~ {fix.slug} ({fn.name})")
            lines += [f"    {note}" for note in fix.notes]
        lines += [
            f"    suggested {s.column}: {s.value} (from {s.evidence}; check it)"
            for s in fix.suggested
        ]
    lines += list(plan.unsettled)
    return "\n".join(printable(line) for line in lines)


def display_path(path: Path) -> str:
    """Returns ``path`` relative to the working directory when it is below it."""
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)
