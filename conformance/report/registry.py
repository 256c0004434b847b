"""What the registry commands print: the plan or diff between file and database, the entries
``register`` added, and ``snapshot``'s count."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from conformance.report.common import out_path, printable

if TYPE_CHECKING:
    from conformance.registry.fix import FixPlan
    from conformance.registry.plan import Plan


def render_plan(planned: Plan, *, for_diff: bool = False) -> str:
    """Returns the DDL the table needs (one line each), then one line per row to insert,
    update (with each column's two values) or deactivate, then the counts; ``for_diff`` words
    it as differences (rows only)."""
    lines = []
    if planned.ddl and not for_diff:
        lines.append("DDL (the registry table):")
        lines += [f"  {change}" for change in planned.ddl]
    for entry in planned.inserts:
        lines.append(
            f"+ {entry.workflow_slug}: in the file, not in the database"
            + ("" if for_diff else " (insert)")
        )
    for change in planned.updates:
        lines.append(f"~ {change.slug}: {', '.join(change.columns)} differ")
        for column in change.columns:
            before, after = change.before.column(column), change.after.column(column)
            lines.append(f"    {column}: database {before!r} -> file {after!r}")
    for entry in planned.deactivations:
        lines.append(
            f"- {entry.workflow_slug}: active in the database, not in the file"
            + ("" if for_diff else " (deactivate; never deleted)")
        )
    if not lines:
        return "no differences" if for_diff else "nothing to do: the database matches the file"
    return "\n".join(printable(line) for line in [*lines, plan_counts(planned, for_diff)])


def plan_counts(planned: Plan, for_diff: bool = False) -> str:
    """Returns e.g. ``2 DDL changes, 1 to insert, 0 to update, 0 to deactivate, 3 unchanged``."""
    counts = (
        f"{len(planned.inserts)} to insert, {len(planned.updates)} to update, "
        f"{len(planned.deactivations)} to deactivate, {len(planned.unchanged)} unchanged"
    )
    if planned.ddl and not for_diff:
        n = len(planned.ddl)
        counts = f"{n} DDL change{'' if n == 1 else 's'}, {counts}"
    return counts


def render_plan_markdown(planned: Plan, table: str, registry_file: str | None) -> str:
    """Returns the plan as Markdown for a job summary or a pull-request comment: what
    applying ``registry_file`` would change in ``table``. Values are escaped (a registry value
    cannot become a link, an image or HTML)."""
    from conformance.report.github import markdown_text as cell

    # in a code span nothing is interpreted (and escapes would show): only backticks matter
    plain = printable(registry_file or "").replace("`", "'")
    source = f"`{plain}`" if registry_file else "the plan"
    out = [f"### conformance plan: {cell(table)}", ""]
    if not planned.has_changes:
        out.append(f"Nothing to do: the database matches {source}.")
        return "\n".join(out) + "\n"
    out += [f"Applying {source} changes the database:", ""]
    if planned.ddl:
        out += ["**DDL**", ""] + [f"- {cell(change)}" for change in planned.ddl] + [""]
    if planned.has_row_changes:
        out += ["| | row | change |", "|---|---|---|"]
        for entry in planned.inserts:
            fn = entry.modal_function_name or "no function"
            out.append(f"| + | {cell(entry.workflow_slug)} | insert ({cell(fn)}) |")
        for change in planned.updates:
            parts = [
                f"{cell(c)}: {cell(_value(change.before.column(c)))} → "
                f"{cell(_value(change.after.column(c)))}"
                for c in change.columns
            ]
            out.append(f"| ~ | {cell(change.slug)} | {'; '.join(parts)} |")
        for entry in planned.deactivations:
            out.append(f"| - | {cell(entry.workflow_slug)} | deactivate (never deleted) |")
        out.append("")
    out.append(cell(plan_counts(planned)))
    return "\n".join(out) + "\n"


def _value(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    return "null" if value is None else str(value)


def render_applied(planned: Plan) -> str:
    ddl = f"{len(planned.ddl)} DDL change(s), " if planned.ddl else ""
    return (
        f"applied: {ddl}{len(planned.inserts)} inserted, {len(planned.updates)} updated, "
        f"{len(planned.deactivations)} deactivated"
    )


def render_registered(plan: FixPlan, where: str, *, path_prefix: str = "") -> str:
    """Returns, per function ``register`` handled, what it did (a new entry, with the columns
    left to fill, or a link to the entry whose slug its code uses); ``nothing to register``
    when it did nothing."""
    from conformance.registry.draft import draft_entry

    if not plan.fixes:
        return "\n".join(["nothing to register", *plan.unsettled])
    lines = []
    for fix in plan.fixes:
        fn = fix.function
        place = f"{out_path(fn.file, path_prefix)}:{fn.line}"
        if fix.is_new:
            lines.append(f"registered {fn.name} ({place}) as {fix.slug} in {where}")
            suggested = {s.column for s in fix.suggested}
            todo = [t for t in draft_entry(fn, fix.slug).todo if t.split(":")[0] not in suggested]
            lines += [f"  fill {item}" for item in todo]
        else:
            why = next((n.split(": ", 1)[1] for n in fix.notes if n.startswith("linked")), "")
            lines.append(f"linked {fn.name} ({place}) to the entry {fix.slug} in {where}: {why}")
        lines += [f"  suggested {s.column}: {s.value} (from {s.evidence})" for s in fix.suggested]
    lines += list(plan.unsettled)
    return "\n".join(printable(line) for line in lines)


def render_fix(plan: FixPlan, where: str, *, path_prefix: str = "") -> str:
    """Returns what ``check --fix`` changed, entry by entry: the columns the code settled and
    the values it suggests; then what it could not settle."""
    if not plan.fixes:
        return "\n".join([f"{where}: nothing to fix", *plan.unsettled])
    lines = []
    for fix in plan.fixes:
        fn = fix.function
        if fix.is_new:
            place = f"{out_path(fn.file, path_prefix)}:{fn.line}"
            lines.append(f"{where}: + {fix.slug}: new entry for {fn.name} ({place})")
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
    """Returns ``path`` relative to the working directory (with ``..`` when outside it)."""
    import os

    try:
        return Path(os.path.relpath(path.resolve(), Path.cwd())).as_posix()
    except ValueError:  # another drive on Windows
        return str(path)
