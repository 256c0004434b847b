"""Frozen records shared by every layer of conformance.

Nothing here touches syntax-tree nodes: the analyzer turns source into these records, the rules
compare them with a :class:`Registry`, and the reports render them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

LAYERS: tuple[str, ...] = ("raw", "extracted", "core")
# the layers, then the tables of every other schema
LAYER_GROUPS: tuple[str, ...] = (*LAYERS, "other")
WRITE_OPERATIONS: tuple[str, ...] = ("insert", "upsert", "update", "delete", "merge", "truncate")
FUNCTION_KINDS: tuple[str, ...] = ("web", "scheduled", "worker")
# How the schema and table of a write were known, from the most direct to the least.
VIA: tuple[str, ...] = ("literal", "sql", "constant", "argument", "loop", "default-schema")


def layer_of(schema: str) -> str:
    """Returns the layer a schema belongs to: ``raw``, ``extracted``, ``core`` or ``other``."""
    return schema if schema in LAYERS else "other"


@dataclass(frozen=True, order=True, slots=True)
class Location:
    """A place in the analysed project: ``file`` is POSIX and relative to the source root."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, order=True, slots=True)
class CallStep:
    """One hop of evidence: ``function`` (``module.qualname``) calls onwards at ``location``."""

    function: str
    location: Location

    def __str__(self) -> str:
        return f"{self.function} ({self.location})"


@dataclass(frozen=True, order=True, slots=True)
class TableWrite:
    """A write to ``schema.table`` at ``location``, reached through ``call_path``."""

    schema: str
    table: str
    operation: str
    location: Location
    via: str = "literal"
    call_path: tuple[CallStep, ...] = ()

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def layer(self) -> str:
        return layer_of(self.schema)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "table": self.table,
            "operation": self.operation,
            "file": self.location.file,
            "line": self.location.line,
            "via": self.via,
            "call_path": [_step_dict(s) for s in self.call_path],
        }


@dataclass(frozen=True, order=True, slots=True)
class UnresolvedWrite:
    """A write whose schema or table cannot be known statically, with the reason why."""

    location: Location
    reason: str
    call_path: tuple[CallStep, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "reason": self.reason,
            "call_path": [_step_dict(s) for s in self.call_path],
        }


@dataclass(frozen=True, order=True, slots=True)
class RpcCall:
    """A ``.rpc(name, ...)`` call: a database function whose effect code cannot show."""

    name: str | None
    location: Location
    call_path: tuple[CallStep, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.location.file,
            "line": self.location.line,
            "call_path": [_step_dict(s) for s in self.call_path],
        }


@dataclass(frozen=True, order=True, slots=True)
class Invocation:
    """``target.spawn()/.remote()/.map()`` of another Modal function; its writes stay with it."""

    target: str
    method: str
    location: Location
    call_path: tuple[CallStep, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "method": self.method,
            "file": self.location.file,
            "line": self.location.line,
            "call_path": [_step_dict(s) for s in self.call_path],
        }


@dataclass(frozen=True, order=True, slots=True)
class SlugHint:
    """A workflow slug the code states (request-model default, constant or inserted literal)."""

    slug: str
    source: str
    location: Location


@dataclass(frozen=True, order=True, slots=True)
class IngestFunction:
    """A Modal function under an ingest directory, with everything it can reach."""

    name: str
    module: str
    file: str
    line: int
    kind: str
    deployed: bool
    modal_name: str
    app_name: str | None = None
    writes: tuple[TableWrite, ...] = ()
    unresolved: tuple[UnresolvedWrite, ...] = ()
    rpc: tuple[RpcCall, ...] = ()
    invokes: tuple[Invocation, ...] = ()
    slug_hints: tuple[SlugHint, ...] = ()
    # the fields of the request model a parameter is annotated with, and where it is defined
    request_fields: tuple[str, ...] = ()
    request_model: Location | None = None
    # the entry points (files) whose deploy includes it (its module imported, transitively)
    deployed_by: tuple[str, ...] = ()

    @property
    def location(self) -> Location:
        return Location(self.file, self.line)

    @property
    def test_id(self) -> str:
        return f"{self.file}::{self.name}"

    def written_tables(self, layer: str | None = None) -> frozenset[str]:
        """Returns the schema-qualified tables written, optionally only those of one layer."""
        return frozenset(w.qualified_name for w in self.writes if layer is None or w.layer == layer)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "file": self.file,
            "line": self.line,
            "kind": self.kind,
            "deployed": self.deployed,
            "deployed_by": list(self.deployed_by),
            "modal_name": self.modal_name,
            "app_name": self.app_name,
            "writes": [w.to_dict() for w in self.writes],
            "unresolved": [u.to_dict() for u in self.unresolved],
            "rpc": [r.to_dict() for r in self.rpc],
            "invokes": [i.to_dict() for i in self.invokes],
            "slug_hints": [
                {
                    "slug": h.slug,
                    "source": h.source,
                    "file": h.location.file,
                    "line": h.location.line,
                }
                for h in self.slug_hints
            ],
        }


@dataclass(frozen=True, order=True, slots=True)
class AnalysisError:
    """A file the analyzer could not read or parse; every other file is still analysed."""

    file: str
    line: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message}


@dataclass(frozen=True, order=True, slots=True)
class Suppression:
    """``# conformance: ignore[CODE, ...] reason`` on a line of an analysed file."""

    location: Location
    codes: tuple[str, ...]
    reason: str


@dataclass(frozen=True, order=True, slots=True)
class SecretLiteral:
    """A literal connection string with a password, or a service key, in analysed code."""

    location: Location
    masked: str
    kind: str


@dataclass(frozen=True, slots=True)
class Searched:
    """What the settings made the analysis look at, so that a run that finds nothing says
    where it looked: the Python files under the source root and how many the ``ingest``
    entries matched, the entries (``ingest``, entry points) that matched no file, and the entry
    points deployment was read from (configured ones, and App files deployed on their own)."""

    python_files: int
    ingest_files: int
    unmatched_ingest: tuple[str, ...] = ()
    unmatched_entry_points: tuple[str, ...] = ()
    entry_points: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Analysis:
    """The result of analysing a project: plain records, ready for rules and reports.
    ``searched`` is None for an analysis not made from a project (built by hand)."""

    functions: tuple[IngestFunction, ...]
    errors: tuple[AnalysisError, ...] = ()
    suppressions: tuple[Suppression, ...] = ()
    secrets: tuple[SecretLiteral, ...] = ()
    searched: Searched | None = None
    # neither is cached (records.py skips transient fields): they describe one run
    timings: dict[str, float] = field(
        default_factory=dict, compare=False, metadata={"transient": True}
    )
    # what the run has to tell its user, e.g. that it did not use the cache, and why
    notices: tuple[str, ...] = field(default=(), compare=False, metadata={"transient": True})

    def to_dict(self) -> dict[str, Any]:
        return {
            "functions": [f.to_dict() for f in self.functions],
            "errors": [e.to_dict() for e in self.errors],
        }


def _step_dict(step: CallStep) -> dict[str, Any]:
    return {"function": step.function, "file": step.location.file, "line": step.location.line}


# -- registry -------------------------------------------------------------------------------------

REGISTRY_COLUMNS: tuple[str, ...] = (
    "workflow_slug",
    "provider",
    "platform",
    "payload_type",
    "entity_type",
    "description",
    "raw_table",
    "extracted_table",
    "core_table",
    "key_column",
    "key_type",
    "modal_function_name",
    "modal_endpoint_url",
    "api_endpoint_url",
    "coalesces_to_core",
    "is_active",
    "writes",
)
# the value of a column the tool does not know, as the registry file holds it
Scalar = str | int | float | bool | None


def scalar_text(value: object) -> str | None:
    """Returns an extra column's value as PostgreSQL reads it from text (``5`` and ``'5'`` are
    one value; booleans are ``true``/``false``); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


LAYER_COLUMNS: dict[str, str] = {
    "raw": "raw_table",
    "extracted": "extracted_table",
    "core": "core_table",
}


@dataclass(frozen=True, order=True, slots=True)
class RegistryEntry:
    """One row of ``reference.enrichment_workflow_registry``, keyed by ``workflow_slug``.

    Table names are schema-qualified (``raw.signal_payloads``); loaders normalise unqualified
    names by prefixing the layer's schema. ``extra`` holds the columns of the live table the
    tool does not know (``id``, ``workflow_type``, ...), sorted by name, kept as they are.
    ``line`` is where the entry starts in a registry file, when it came from one.
    """

    workflow_slug: str
    modal_function_name: str | None = None
    provider: str | None = None
    platform: str | None = None
    payload_type: str | None = None
    entity_type: str | None = None
    description: str | None = None
    raw_table: str | None = None
    extracted_table: str | None = None
    core_table: str | None = None
    key_column: str | None = None
    key_type: str | None = None
    modal_endpoint_url: str | None = None
    api_endpoint_url: str | None = None
    coalesces_to_core: bool = False
    is_active: bool = True
    writes: tuple[str, ...] = ()
    extra: tuple[tuple[str, Scalar], ...] = field(default=(), compare=False)
    line: int | None = field(default=None, compare=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegistryEntry):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[Any, ...]:
        """What equality compares: every column, the extra ones by name (their values may be of
        different types, so they take no part in ordering, only in equality)."""
        return (*(getattr(self, c) for c in REGISTRY_COLUMNS), self.extra)

    def layer_table(self, layer: str) -> str | None:
        return getattr(self, LAYER_COLUMNS[layer])  # type: ignore[no-any-return]

    def column(self, name: str) -> Any:
        """The value of a registry column, or of an extra column (None when the entry lacks
        it)."""
        if name in REGISTRY_COLUMNS:
            return getattr(self, name)
        return dict(self.extra).get(name)

    def empty_columns(self, names: Iterable[str]) -> list[str]:
        """Returns those of ``names`` the entry leaves empty (None or ``""``), in order."""
        return [c for c in names if self.column(c) in (None, "")]

    def names_function(self, fn: IngestFunction) -> bool:
        """Whether ``modal_function_name`` is the function's deployed or Python name."""
        return self.modal_function_name in (fn.modal_name, fn.name)

    def to_dict(self) -> dict[str, Any]:
        """Returns the registry columns as plain values (``writes`` as a list), then the extra
        columns."""
        out: dict[str, Any] = {c: getattr(self, c) for c in REGISTRY_COLUMNS}
        out["writes"] = list(self.writes)
        out.update(self.extra)
        return out


@dataclass(frozen=True, order=True, slots=True)
class RegistryProblem:
    """Something wrong with a registry source: which entry, which field, and where.

    ``kind`` is ``invalid`` (a value the registry schema refuses, or a source that lacks
    something) or ``duplicate`` (a slug claimed again after its first entry).
    """

    message: str
    slug: str | None = None
    field: str | None = None
    line: int | None = None
    kind: str = "invalid"


@dataclass(frozen=True, slots=True)
class Registry:
    """The registry as one value, whichever source it came from.

    ``source`` names where it came from (a file path, or a DSN with its password removed);
    ``problems`` are invalid or duplicate entries found while loading (the valid ones are kept);
    ``notices`` what the reader should know about the source as a whole (said once each).
    """

    entries: tuple[RegistryEntry, ...]
    source: str = ""
    problems: tuple[RegistryProblem, ...] = ()
    notices: tuple[str, ...] = ()

    def by_function(self) -> dict[str, list[RegistryEntry]]:
        """Returns the entries grouped by ``modal_function_name`` (entries without one omitted)."""
        out: dict[str, list[RegistryEntry]] = {}
        for entry in self.entries:
            if entry.modal_function_name:
                out.setdefault(entry.modal_function_name, []).append(entry)
        return out


# -- findings -------------------------------------------------------------------------------------

SEVERITIES: tuple[str, ...] = ("error", "warning", "off")


@dataclass(frozen=True, order=True, slots=True)
class Finding:
    """A rule's verdict: a stable ``code``, where, what, and the chain of evidence behind it.

    Findings sort by file, line, code; ``location`` is ``None`` for registry-level findings
    without a file position.
    """

    sort_key: tuple[str, int, str] = field(init=False, repr=False)
    code: str
    severity: str
    message: str
    location: Location | None = None
    function: str | None = None
    slug: str | None = None
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        loc = self.location
        object.__setattr__(
            self, "sort_key", (loc.file if loc else "", loc.line if loc else 0, self.code)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.location.file if self.location else None,
            "line": self.location.line if self.location else None,
            "function": self.function,
            "slug": self.slug,
            "evidence": list(self.evidence),
        }
