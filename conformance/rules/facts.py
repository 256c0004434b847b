"""What a (function, row) pair's rules need, computed once per pair.

The function's writes by table, which of the row's declared tables the code does not write, and
whether that absence is provable: code can prove a table is written, never that it is not, so
an absence is provable only when every write of the function is resolved and it writes other
tables of that schema. The layer and ``writes`` rules read the same facts, so a declared table
is reported once: as a provable absence by the family that declared it, or as not visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from conformance.model import LAYER_COLUMNS, LAYERS, IngestFunction, RegistryEntry, TableWrite


def normalise(table: str, layer: str | None = None) -> str:
    """Returns a table name as rules compare it: lower case, unquoted, schema-qualified (an
    unqualified layer column gets its layer's schema)."""
    name = table.strip().replace('"', "").lower()
    return f"{layer}.{name}" if layer and "." not in name else name


def schema_of(table: str) -> str:
    return table.split(".", 1)[0]


@dataclass(frozen=True)
class Declared:
    """A table the row declares: in a layer ``column`` (``raw_table``, ...) or in ``writes``.

    ``proof_schema`` is the schema whose other writes would make its absence provable: the
    layer for a layer column, the table's own schema for ``writes``.
    """

    table: str  # normalised
    given: str  # as the row writes it
    column: str
    proof_schema: str

    @property
    def in_writes(self) -> bool:
        return self.column == "writes"


@dataclass(frozen=True)
class Pair:
    """An ingest function and one active row naming it."""

    fn: IngestFunction
    row: RegistryEntry

    @cached_property
    def written(self) -> dict[str, list[TableWrite]]:
        """The function's writes keyed by normalised table, each list in location order."""
        out: dict[str, list[TableWrite]] = {}
        for w in sorted(self.fn.writes, key=lambda w: (w.location, len(w.call_path), w.operation)):
            out.setdefault(normalise(w.qualified_name), []).append(w)
        return out

    def first_writes(self, schema: str) -> list[TableWrite]:
        """The first write of every table in ``schema``, in location order."""
        return sorted(
            (ws[0] for t, ws in self.written.items() if schema_of(t) == schema),
            key=lambda w: w.location,
        )

    @cached_property
    def opaque(self) -> bool:
        """Whether the function may write tables code cannot name (unresolved writes, RPCs)."""
        return bool(self.fn.unresolved or self.fn.rpc)

    @cached_property
    def declared(self) -> tuple[Declared, ...]:
        """Every table the row declares, once: layer columns (raw, extracted, core) first, then
        the tables of ``writes`` no layer column declares, sorted."""
        out: list[Declared] = []
        for layer in LAYERS:
            given = self.row.layer_table(layer)
            if given:
                out.append(Declared(normalise(given, layer), given, LAYER_COLUMNS[layer], layer))
        seen = {d.table for d in out}
        by_table = {normalise(t): t for t in self.row.writes}
        for table in sorted(set(by_table) - seen):
            out.append(Declared(table, by_table[table], "writes", schema_of(table)))
        return tuple(out)

    @cached_property
    def missing(self) -> tuple[Declared, ...]:
        """The declared tables the function does not write."""
        return tuple(d for d in self.declared if d.table not in self.written)

    def provably_missing(self, declared: Declared) -> bool:
        """Whether the absence of a declared table is proven (see the module docstring)."""
        return not self.opaque and bool(self.first_writes(declared.proof_schema))

    def opaque_reason(self) -> str:
        parts = []
        if self.fn.unresolved:
            parts.append(f"{len(self.fn.unresolved)} unresolved write(s)")
        if self.fn.rpc:
            parts.append(f"{len(self.fn.rpc)} .rpc() call(s)")
        return " and ".join(parts)


def write_evidence(w: TableWrite) -> list[str]:
    steps = [f"call in {s.function} at {s.location}" for s in w.call_path]
    return [
        *steps,
        f"write {w.operation} at {w.location}",
        f"table {w.qualified_name} (layer {w.layer}, via {w.via})",
    ]


def also(writes: Sequence[TableWrite]) -> list[str]:
    return [f"also {w.operation} {w.qualified_name} at {w.location}" for w in writes[1:6]]
