"""The plan file: what ``plan --out FILE`` writes and ``apply FILE`` applies.

Data only: JSON validated against ``schemas/plan.schema.json``, its rows decoded through the
registry's own validation into :class:`RegistryEntry` values; nothing in it is executed or
unpickled. It records the rows and DDL that were reviewed and the fingerprint of the database
state they were planned against, so ``apply FILE`` applies exactly them, or nothing when the
database has moved since.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.config import load_schema
from conformance.errors import ConformanceError
from conformance.fileio import MAX_REGISTRY_BYTES, read_regular
from conformance.model import RegistryEntry
from conformance.registry.plan import Plan, RowChange, changed_columns

FORMAT = 1
SCHEMA_FILE = "plan.schema.json"


def plan_json(planned: Plan, table: str, registry_file: str | None = None) -> str:
    """Returns the plan file's text for ``planned`` (made against a database: it has a
    fingerprint)."""
    if not planned.fingerprint:
        raise ConformanceError("a plan file needs a plan made against the database")
    data = {
        "conformance_plan": FORMAT,
        "tool_version": __version__,
        "table": table,
        "registry_file": registry_file,
        "database_fingerprint": planned.fingerprint,
        "ddl": list(planned.ddl),
        "insert": [_row(e) for e in planned.inserts],
        "update": [
            {
                "workflow_slug": u.slug,
                "columns": list(u.columns),
                "before": _row(u.before),
                "after": _row(u.after),
            }
            for u in planned.updates
        ],
        "deactivate": [_row(e) for e in planned.deactivations],
        "unchanged": list(planned.unchanged),
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _row(entry: RegistryEntry) -> dict[str, Any]:
    return entry.to_dict()


def read_plan(path: Path, table: str) -> Plan:
    """Returns the plan in the file at ``path``, made for ``table``. Raises ConformanceError
    (naming the file) for anything that is not such a plan: not JSON, another format, another
    table, a row a registry could not hold, an update whose columns do not differ."""
    where = str(path)
    try:
        text = read_regular(path, MAX_REGISTRY_BYTES).decode("utf-8")
        data = json.loads(text)
    except FileNotFoundError:
        raise ConformanceError(f"plan file not found: {where}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ConformanceError(f"not a plan file ({reason})", where) from None
    from jsonschema import Draft202012Validator as Validator

    errors = list(Validator(load_schema(SCHEMA_FILE)).iter_errors(data))
    if errors:
        first = errors[0]
        at = ".".join(str(p) for p in first.path) or "(top level)"
        raise ConformanceError(f"not a plan file: {at}: {first.message}", where)
    if data["table"] != table:
        raise ConformanceError(
            f"the plan is for {data['table']}, the project's registry table is {table}", where
        )
    updates = []
    for item in data["update"]:
        before, after = _entry(item["before"], where), _entry(item["after"], where)
        columns = tuple(item["columns"])
        differ = set(changed_columns(before, after))
        if before.workflow_slug != after.workflow_slug or not set(columns) <= differ:
            raise ConformanceError(
                f"not a plan file: update {item['workflow_slug']!r} does not match its rows",
                where,
            )
        updates.append(RowChange(before, after, columns))
    return Plan(
        inserts=tuple(_entry(e, where) for e in data["insert"]),
        updates=tuple(updates),
        deactivations=tuple(_entry(e, where) for e in data["deactivate"]),
        unchanged=tuple(data["unchanged"]),
        ddl=tuple(data["ddl"]),
        fingerprint=data["database_fingerprint"],
    )


def _entry(data: dict[str, Any], where: str) -> RegistryEntry:
    from conformance.registry.entries import RawEntry, validate_entries

    entries, problems = validate_entries([RawEntry(data)], None)
    if problems or not entries:
        message = problems[0].message if problems else "not a registry row"
        slug = data.get("workflow_slug")
        raise ConformanceError(f"not a plan file: row {slug!r}: {message}", where)
    return entries[0]
