"""What the registry commands print: the plan or diff between file and database, the entries
``register`` added, and ``snapshot``'s count."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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


def render_registered(added: Sequence[tuple[str, str, str, Sequence[str]]], where: str) -> str:
    """Returns, per added entry (function, its place, slug, what is left to fill), a line and
    the columns to fill; ``nothing to register`` when none was added."""
    if not added:
        return "nothing to register"
    lines = []
    for name, place, slug, todo in added:
        lines.append(printable(f"registered {name} ({place}) as {slug} in {where}"))
        lines += [printable(f"  fill {item}") for item in todo]
    return "\n".join(lines)


def display_path(path: Path) -> str:
    """Returns ``path`` relative to the working directory when it is below it."""
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)
