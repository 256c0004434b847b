"""Cache entries as data: records ↔ JSON text, decoded only into our own record classes.

Nothing read from a cache entry is ever unpickled, imported or executed. An entry is the JSON
text ``[SCHEMA, "ClassName", record]`` (stdlib ``json``, C-accelerated). A record is the list of
its constructor's arguments, in field order; a record of a class that is a member of a union
(``Value``, ``Effect`` in ``analysis/values.py``) starts with its class name, its tag, so that
the decoder knows which member it is. Tuples and frozensets are lists; str, int, float, bool and
None are themselves. A record met again in the same entry (a call-path step, a location, a value
shared by several records) is written as its number, as pickle's memo does: records are numbered
in the order they start. Fields marked ``metadata={"transient": True}`` (timings, notices) are
not stored.

Decoding is driven by a schema derived once per class from its annotations: every value must
have the type its field declares (an ``int`` field takes no bool, a ``tuple[str, ...]`` only
strings), and a record is built only by calling the constructor of a class in :data:`ALLOWED`.
Anything else, and any input that is not valid JSON of that shape (truncated, too deep, a number
too long), makes :func:`decode` return None: the caller treats that as a cache miss. Encoding is
the C encoder with one callback per record.

This module imports only standard modules a run has loaded anyway (``json``, ``typing``,
``dataclasses``): the warm path loads it to read the cached analysis without loading the
analyzer's modules; the schema of a class is built the first time an entry of it is read or
written, importing the module of a class an annotation names only for type checking.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import operator
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["ALLOWED", "SCHEMA", "decode", "encode"]

# the encoding's version: bump it when this module writes entries differently (the records'
# own layout is part of the cache directory's name, see cache.py)
SCHEMA = 1

# every class an entry may hold, by module: nothing else is ever constructed from an entry
ALLOWED: dict[str, tuple[str, ...]] = {
    "conformance.model": (
        "Location",
        "CallStep",
        "TableWrite",
        "UnresolvedWrite",
        "RpcCall",
        "Invocation",
        "SlugHint",
        "IngestFunction",
        "AnalysisError",
        "Suppression",
        "SecretLiteral",
        "Searched",
        "Analysis",
        "RegistryEntry",
        "RegistryProblem",
        "Registry",
    ),
    "conformance.analysis.values": (
        # values and resolved values: members of ``Value`` (tagged)
        "Str",
        "Unknown",
        "Param",
        "Global",
        "ImportRef",
        "Attr",
        "Sub",
        "Concat",
        "Choice",
        "Seq",
        "Dict",
        "Merged",
        "Elem",
        "Each",
        "CallResult",
        "Client",
        "ClientOptions",
        "SchemaScope",
        "TableRef",
        "Bucket",
        "SqlTemplate",
        "SqlIdentifier",
        "LocalFunction",
        "LocalClass",
        "FuncRef",
        "ClassRef",
        "ModuleRef",
        "External",
        "AppRef",
        "AppMethod",
        "Instance",
        "BoundMethod",
        "RemoteFunction",
        "OrmTable",
        "OrmStatement",
        "OrmSession",
        "HttpClient",
        "HttpCall",
        # effects: members of ``Effect`` (tagged)
        "WriteSite",
        "SqlSite",
        "CallSite",
        "RpcSite",
        "InvokeSite",
        # summaries (untagged)
        "FunctionSummary",
        "ClassSummary",
        "ModuleSummary",
    ),
    "conformance.analysis.sqltext": ("SqlWrite", "SqlAnalysis"),
    "conformance.analysis.sqlfunctions": ("BodyWrite", "DatabaseFunction", "MigrationFile"),
    "conformance.analysis.incremental": (
        "ModuleFacts",
        "ModalInfo",
        "ModuleFunctions",
        "EntryPoint",
        "Deployment",
        "FunctionDepends",
        "ProjectEntry",
        "Increments",
    ),
}
_ALLOWED = frozenset(f"{module}.{name}" for module, names in ALLOWED.items() for name in names)
_UNTAGGED_VALUES = frozenset({"FunctionSummary", "ClassSummary", "ModuleSummary"})

# names that annotations use but their modules import only for type checking
_LATE_NAMES: dict[str, tuple[str, str]] = {
    "SqlAnalysis": ("conformance.analysis.sqltext", "SqlAnalysis"),
    "FuncRef": ("conformance.analysis.values", "FuncRef"),
}

_T = TypeVar("_T")
# the records decoded so far, by number: what a reference points to
_Memo = list[Any]
_Decoder = Callable[[Any, _Memo], Any]


class _Invalid(ValueError):
    """An entry that does not have the shape its schema says."""


def encode(value: object) -> bytes | None:
    """Returns the entry for ``value`` (an instance of a class in :data:`ALLOWED`), or None
    when it cannot be stored (e.g. nested too deeply, or holding something else)."""
    if _qualified(type(value)) not in _ALLOWED:
        return None
    numbers: dict[int, int] = {}  # id of a record written → its number (all stay alive)

    def default(obj: object) -> Any:
        """The JSON encoder's callback: a record written before is its number; a record is
        its tag (if any) and arguments; a set is its items."""
        number = numbers.get(id(obj))
        if number is not None:
            return number
        encoder = _ENCODERS.get(type(obj))
        if encoder is None:
            if type(obj) is frozenset:
                return list(obj)
            encoder = _make_encoder(type(obj))
        numbers[id(obj)] = len(numbers)
        return encoder(obj)

    try:
        text = json.JSONEncoder(
            ensure_ascii=True,  # lone surrogates from string escapes survive as \\udxxx
            check_circular=False,  # records are acyclic; a cycle would be a RecursionError
            separators=(",", ":"),
            default=default,
        ).encode((SCHEMA, type(value).__name__, value))
    except (TypeError, ValueError, RecursionError):
        return None
    return text.encode("ascii")


def decode(payload: bytes, cls: type[_T]) -> _T | None:
    """Returns the record of class ``cls`` that ``payload`` holds, or None when ``payload`` is
    not an entry of that class made by :func:`encode` (never raises for any input)."""
    decoder = _record_decoder(cls)  # our own classes: a schema error is a bug, raised
    try:
        entry = json.loads(payload)
        if (
            type(entry) is not list
            or len(entry) != 3
            or type(entry[0]) is not int
            or entry[0] != SCHEMA
            or entry[1] != cls.__name__
        ):
            return None
        value = decoder(entry[2], [])
    except Exception:  # _Invalid, bad JSON, a number too long to convert, nesting too deep
        return None
    return value if type(value) is cls else None


# -- encoding -------------------------------------------------------------------------------------


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_tagged(cls: type) -> bool:
    return cls.__module__ == "conformance.analysis.values" and cls.__name__ not in _UNTAGGED_VALUES


def _fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("transient", False)]


_ENCODERS: dict[type, Callable[[Any], Any]] = {}


def _make_encoder(cls: type) -> Callable[[Any], Any]:
    if _qualified(cls) not in _ALLOWED or not dataclasses.is_dataclass(cls):
        raise TypeError(f"not a cache record: {_qualified(cls)}")
    names = [f.name for f in _fields(cls)]
    get = operator.attrgetter(*names) if names else None
    tag = cls.__name__
    encoder: Callable[[Any], Any]
    if get is None:
        encoder = (lambda obj: (tag,)) if _is_tagged(cls) else (lambda obj: ())
    elif len(names) == 1:  # attrgetter of one name returns the value, not a 1-tuple
        encoder = (lambda obj: (tag, get(obj))) if _is_tagged(cls) else (lambda obj: (get(obj),))
    else:
        encoder = (lambda obj: (tag, *get(obj))) if _is_tagged(cls) else get
    _ENCODERS[cls] = encoder
    return encoder


# -- decoding -------------------------------------------------------------------------------------
#
# Every decoder takes what ``json.loads`` made (lists, str, int, float, bool, None) and the
# records decoded so far, and returns the value, or raises. A record or a fixed-size tuple must
# be a list of the right length whose scalar items have exactly their fields' types; its nested
# items (a list for a record, tuple or set, or an int: the number of a record decoded before,
# which must be of the class the field takes) are decoded in place by their own decoders, which
# check them, and the constructor is called with the list. Records are numbered in the order
# they start, as the encoder numbers them, so a reference can only name a finished record.

_SCALARS = (str, int, float, bool, type(None))
_NONE = type(None)
_RECORD_DECODERS: dict[type, _Decoder] = {}
# a nested item: its index, and its decoder, or for a union the members' decoders by tag and
# the members' classes; and whether it may be None
_Nested = tuple[int, "_Decoder | None", "dict[str, _Decoder] | None", "frozenset[type]", bool]


def _deref(x: Any, memo: _Memo, classes: frozenset[type]) -> Any:
    """The record a reference names, if it is of one of ``classes`` (a record not finished
    yet, an ancestor, is None here: refused)."""
    if type(x) is not int or x < 0:
        raise _Invalid(x)
    obj = memo[x]
    if type(obj) not in classes:
        raise _Invalid(x)
    return obj


def _record_decoder(cls: type) -> _Decoder:
    """The decoder of a record of ``cls`` (tag included when ``cls`` is tagged); built once."""
    decoder = _RECORD_DECODERS.get(cls)
    if decoder is None:
        decoder = _build_record(cls)
    return decoder


def _build_record(cls: type) -> _Decoder:
    if _qualified(cls) not in _ALLOWED or not dataclasses.is_dataclass(cls):
        raise TypeError(f"not a cache record: {_qualified(cls)}")
    # a stand-in first: a record that contains itself (through Value) refers to it while built
    slot: list[_Decoder] = []
    stand_in = _RECORD_DECODERS[cls] = lambda x, memo: slot[0](x, memo)
    try:
        hints = _hints(cls)
        items = [hints[f.name] for f in _fields(cls)]
        decoder = _struct(items, cls, cls.__name__ if _is_tagged(cls) else None)
    except BaseException:
        del _RECORD_DECODERS[cls]
        raise
    slot.append(decoder)
    _RECORD_DECODERS[cls] = decoder
    for tags in _UNIONS:  # unions built meanwhile hold the stand-in: give them the decoder
        if tags.get(cls.__name__) is stand_in:
            tags[cls.__name__] = decoder
    return decoder


def _struct(items: list[Any], build: type, tag: str | None) -> _Decoder:
    """The decoder of a list of ``items`` (after ``tag``, when given) made into ``build``: a
    record class (numbered, may be referenced) or ``tuple``."""
    record = build is not tuple
    offset = 0 if tag is None else 1
    size = len(items) + offset
    # scalars are checked here; a nested value's own decoder checks its type
    scalars: list[tuple[int, tuple[type, ...]]] = []
    nested: list[_Nested] = []
    for i, hint in enumerate(items, start=offset):
        kinds = _scalar_kinds(hint)
        if kinds is not None:
            scalars.append((i, kinds))
            continue
        inner = _strip_none(hint)
        tags = _union_tags(inner)
        members = frozenset(typing.get_args(inner)) if tags is not None else frozenset()
        decoder = None if tags is not None else _decoder(inner)
        nested.append((i, decoder, tags, members, inner is not hint))

    if not record:

        def fixed(x: Any, memo: _Memo) -> Any:
            if type(x) is not list or len(x) != size:
                raise _Invalid(build)
            for i, kinds in scalars:
                if type(x[i]) not in kinds:
                    raise _Invalid(build)
            if nested:
                _decode_nested(x, nested, memo)
            return tuple(x)

        return fixed

    def decode_record(x: Any, memo: _Memo) -> Any:
        if type(x) is not list:  # a reference to a record decoded before
            if type(x) is int and x >= 0 and type(memo[x]) is build:
                return memo[x]
            raise _Invalid(build)
        if len(x) != size or (offset and x[0] != tag):
            raise _Invalid(build)
        for i, kinds in scalars:
            if type(x[i]) not in kinds:
                raise _Invalid(build)
        if not nested:
            obj = build(*x[1:]) if offset else build(*x)
            memo.append(obj)
            return obj
        number = len(memo)
        memo.append(None)  # numbered as it starts, as the encoder numbers it
        _decode_nested(x, nested, memo)
        obj = memo[number] = build(*x[1:]) if offset else build(*x)
        return obj

    return decode_record


def _decode_nested(x: list[Any], nested: list[_Nested], memo: _Memo) -> None:
    for i, decoder, tags, members, optional in nested:
        value = x[i]
        if value is None:
            if optional:
                continue
            raise _Invalid(x)
        if tags is None:
            x[i] = decoder(value, memo)  # type: ignore[misc]
        elif type(value) is list:
            x[i] = tags[value[0]](value, memo)
        else:
            x[i] = _deref(value, memo, members)


def _is_record(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _hints(cls: type) -> dict[str, Any]:
    """The field types of ``cls``, evaluated from its annotations (our own source: the
    names its module imports only for type checking are imported here)."""
    module = sys.modules[cls.__module__]
    annotations = [vars(c).get("__annotations__", {}) for c in cls.__mro__]
    text = " ".join(str(a) for names in annotations for a in names.values())
    late = {
        name: getattr(importlib.import_module(where), attr)
        for name, (where, attr) in _LATE_NAMES.items()
        if name in text and name not in vars(module)
    }
    return typing.get_type_hints(cls, globalns=vars(module), localns=late)


def _scalar_kinds(hint: Any) -> tuple[type, ...] | None:
    """The exact types a scalar field (str, int, bool, float, None, or a union of them)
    accepts; None for anything else."""
    if hint in _SCALARS:
        return (hint,)
    if _is_union(hint):
        args = typing.get_args(hint)
        if all(a in _SCALARS for a in args):
            return tuple(args)
    return None


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _strip_none(hint: Any) -> Any:
    """``X | None`` → ``X`` (a union of several records stays a union)."""
    if not _is_union(hint):
        return hint
    members = tuple(a for a in typing.get_args(hint) if a is not _NONE)
    if len(members) == len(typing.get_args(hint)):
        return hint
    return members[0] if len(members) == 1 else typing.Union[members]  # noqa: UP007


# every union's decoders by tag (some may hold the stand-in of a record still being built)
_UNIONS: list[dict[str, _Decoder]] = []


def _union_tags(hint: Any) -> dict[str, _Decoder] | None:
    """For a union of records: each member's decoder by its tag; None for anything else."""
    if not _is_union(hint):
        return None
    by_tag: dict[str, _Decoder] = {}
    for member in typing.get_args(hint):
        if not _is_record(member):
            raise TypeError(f"no cache encoding for a union with {member!r}")
        if not _is_tagged(member):
            raise TypeError(f"an untagged record in a union: {member!r}")
        by_tag[member.__name__] = _record_decoder(member)
    _UNIONS.append(by_tag)
    return by_tag


def _decoder(hint: Any) -> _Decoder:
    """Returns the decoder of a non-None value of type ``hint`` (what JSON made of it)."""
    kinds = _scalar_kinds(hint)
    if kinds is not None:

        def scalar(x: Any, memo: _Memo) -> Any:
            if type(x) not in kinds:
                raise _Invalid(hint)
            return x

        return scalar
    if _is_record(hint):
        return _record_decoder(hint)
    tags = _union_tags(hint)
    if tags is not None:
        members = frozenset(typing.get_args(hint))
        return lambda x, memo: tags[x[0]](x, memo) if type(x) is list else _deref(x, memo, members)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _sequence_decoder(args[0], tuple)
    if origin is frozenset and len(args) == 1:
        return _sequence_decoder(args[0], frozenset)
    if origin is tuple and args and Ellipsis not in args:
        return _struct(list(args), tuple, None)
    raise TypeError(f"no cache encoding for the type {hint!r}")


def _sequence_decoder(item: Any, make: Callable[[Any], Any]) -> _Decoder:
    """The decoder of a list of ``item`` values, made into a tuple or a frozenset."""
    kinds = _scalar_kinds(item)
    if kinds is not None:
        allowed = frozenset(kinds)

        def scalars(x: Any, memo: _Memo) -> Any:
            if type(x) is not list or not allowed.issuperset(map(type, x)):
                raise _Invalid(item)
            return make(x)

        return scalars
    tags = _union_tags(item)
    if tags is not None:
        members = frozenset(typing.get_args(item))

        def union_items(x: Any, memo: _Memo) -> Any:
            if type(x) is not list:
                raise _Invalid(item)
            return make(
                [
                    tags[value[0]](value, memo)
                    if type(value) is list
                    else _deref(value, memo, members)
                    for value in x
                ]
            )

        return union_items
    decode_item = _decoder(item)

    def sequence(x: Any, memo: _Memo) -> Any:
        if type(x) is not list:
            raise _Invalid(item)
        return make([decode_item(value, memo) for value in x])

    return sequence
