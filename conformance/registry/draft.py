"""Registry entries drafted from code: what ``register`` and ``emit-sql --from-code`` write.

Everything the analysis can tell is filled in (function, slug, writes, layer tables, whether it
reaches ``core``); the rest is left empty and named, for a human to fill.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conformance.model import LAYERS, IngestFunction, RegistryEntry

HUMAN_FIELDS: tuple[str, ...] = (
    "provider",
    "platform",
    "payload_type",
    "entity_type",
    "description",
    "key_column",
    "key_type",
)
# the slug sources that say which workflow a function serves, strongest first: what the
# function records in its rows outranks a constant its module happens to hold
SLUG_SOURCES = ("request-model default", "inserted literal", "module constant")
_SLUG_OK = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Draft:
    """A drafted entry and the columns left for a human, with why."""

    entry: RegistryEntry
    todo: tuple[str, ...]


def free_slug(slug: str, taken: set[str]) -> str:
    """Returns ``slug``, or ``slug-2``, ``slug-3``, ... whichever is not taken."""
    candidate, n = slug, 2
    while candidate in taken:
        candidate, n = f"{slug}-{n}", n + 1
    return candidate


def slug_for(fn: IngestFunction) -> str:
    """Returns the workflow slug the code states, else one derived from the function's name."""
    for source in SLUG_SOURCES:
        for hint in sorted(fn.slug_hints):
            if hint.source == source and _SLUG_OK.match(hint.slug):
                return hint.slug
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", fn.modal_name).lower()  # CamelCase.method
    name = re.sub(r"^(ingest|sync|load|poll)_", "", name)
    slug = re.sub(r"[^a-z0-9]+", "-", name).strip("-")
    return slug or "workflow"


def draft_entry(fn: IngestFunction, slug: str | None = None) -> Draft:
    """Returns the registry entry the code supports for ``fn``, and what is left to fill."""
    todo = [f"{c}: not in code" for c in HUMAN_FIELDS]
    layer_tables: dict[str, str | None] = {}
    for layer in LAYERS:
        tables = sorted(fn.written_tables(layer))
        if len(tables) == 1:
            layer_tables[layer] = tables[0]
        else:
            layer_tables[layer] = None
            if len(tables) > 1:
                todo.append(
                    f"{layer}_table: writes {len(tables)} {layer} tables "
                    f"({', '.join(tables)}), pick the main one"
                )
    if fn.unresolved:
        todo.append(
            f"writes: {len(fn.unresolved)} write(s) not known statically, see "
            f"{fn.unresolved[0].location}"
        )
    entry = RegistryEntry(
        workflow_slug=slug or slug_for(fn),
        modal_function_name=fn.modal_name,
        raw_table=layer_tables["raw"],
        extracted_table=layer_tables["extracted"],
        core_table=layer_tables["core"],
        coalesces_to_core=bool(fn.written_tables("core")),
        is_active=True,
        writes=tuple(sorted(fn.written_tables())),
    )
    return Draft(entry, tuple(todo))
