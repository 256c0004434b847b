"""PostgREST over plain HTTP: a ``requests``/``httpx`` request whose URL holds
``/rest/v1/<table>`` writes that table.

The base URL usually comes from the environment, so it is rarely known; the ``/rest/v1/`` path
segment is the evidence that the request goes to PostgREST, and the text after it names the
table (``/rest/v1/rpc/<function>`` calls a database function). The schema is the
``Content-Profile`` header's, else PostgREST's default (``public``); ``post`` inserts (upserts
with ``Prefer: resolution=merge-duplicates``), ``put`` upserts, ``patch`` updates, ``delete``
deletes. A URL with no ``/rest/v1/`` segment is some other service: not a database write.

Functions of resolved values only: the resolver (``resolve.py``) resolves the call's arguments
and records what this module says.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.analysis import values as v
from conformance.analysis.known import DEFAULT_SCHEMA, mapping
from conformance.model import VIA

# the requests/httpx functions and client classes that send requests
HTTP_LIBRARIES = ("requests", "httpx")
CLIENT_CLASSES = frozenset(
    {
        "requests.Session",
        "requests.session",
        "requests.sessions.Session",
        "httpx.Client",
        "httpx.AsyncClient",
    }
)
WRITE_VERBS = frozenset({"post", "patch", "put", "delete"})
_SEGMENT = "/rest/v1/"
_DELIMITERS = "/?#"


@dataclass(frozen=True)
class Request:
    """What one PostgREST request does: writes ``table`` in ``schema`` (each a resolved
    :class:`values.Str`, or another value saying why it is not known), or calls the database
    function ``rpc``."""

    operation: str
    schema: v.Value
    table: v.Value
    rpc: v.Value | None = None


def sender(dotted: str) -> v.HttpCall | None:
    """``requests.post``, ``httpx.delete``, ``requests.request``, ...: the request function
    ``dotted`` names, if it is one."""
    library, _, verb = dotted.rpartition(".")
    if library.split(".")[0] in HTTP_LIBRARIES and (verb in WRITE_VERBS or verb == "request"):
        return v.HttpCall(verb)
    return None


def client_method(client: v.HttpClient, attr: str) -> v.Value | None:
    """``client.post`` and friends of a session or client."""
    return v.HttpCall(attr, client) if attr in WRITE_VERBS or attr == "request" else None


def request(
    call: v.HttpCall,
    args: list[v.Value],
    kwargs: dict[str, v.Value],
) -> Request | None:
    """What a request sent by ``call`` with these resolved arguments does to the database;
    None when it is not a PostgREST write (another service, a read, a URL that shows no
    ``/rest/v1/`` segment)."""
    verb = call.verb
    if verb == "request":
        method = args[0] if args else kwargs.get("method")
        if not isinstance(method, v.Str):
            return None
        verb, args = method.value.lower(), args[1:]
    if verb not in WRITE_VERBS:
        return None
    url = args[0] if args else kwargs.get("url")
    if url is None:
        return None
    client = call.client
    if client is not None and client.base_url is not None and not _absolute(url):
        url = _join(client.base_url, url)
    target = _after_segment(url)
    if target is None:
        return None
    headers = _headers(client.headers if client is not None else None, kwargs.get("headers"))
    schema = _header(headers, "content-profile") or DEFAULT_SCHEMA
    first, second = target
    if isinstance(first, v.Str) and first.value == "rpc" and second is not None:
        return Request("rpc", schema, first, rpc=second)
    return Request(_operation(verb, headers), schema, first)


def _operation(verb: str, headers: v.Value) -> str:
    if verb == "patch":
        return "update"
    if verb == "delete":
        return "delete"
    if verb == "put":
        return "upsert"
    prefer = _header(headers, "prefer")
    merges = isinstance(prefer, v.Str) and "resolution=merge-duplicates" in prefer.value
    return "upsert" if merges else "insert"


def _parts(value: v.Value) -> list[v.Value]:
    return list(value.parts) if isinstance(value, v.Concat) else [value]


def _absolute(url: v.Value) -> bool:
    head = _parts(url)[0]
    return not isinstance(head, v.Str) or "://" in head.value


def _join(base: v.Value, url: v.Value) -> v.Value:
    """httpx's ``base_url`` and a relative URL, meeting at one slash."""
    head, tail = _parts(base), _parts(url)
    last, first = head[-1], tail[0]
    if isinstance(last, v.Str) and isinstance(first, v.Str):
        if last.value.endswith("/") and first.value.startswith("/"):
            tail = [v.Str(first.value[1:], first.via), *tail[1:]]
        elif not last.value.endswith("/") and not first.value.startswith("/"):
            head = [*head, v.Str("/", last.via)]
    return v.Concat((*head, *tail))


def _via_rank(via: str) -> int:
    return VIA.index(via) if via in VIA else 0


def _after_segment(url: v.Value) -> tuple[v.Value, v.Value | None] | None:
    """The path segment after ``/rest/v1/`` (the table, or ``rpc``) and the one after it (the
    function, after ``rpc``); a segment with a runtime part is that part. None without the
    segment, or when nothing follows it."""
    runs = _runs(_parts(url))
    for i, run in enumerate(runs):
        if isinstance(run, _Run) and _SEGMENT in run.text:
            at = run.text.index(_SEGMENT) + len(_SEGMENT)
            after = _Run(run.text[at:], run.vias[at:])
            segments = _segments([after, *runs[i + 1 :]])
            if not segments or segments[0] is None:
                return None
            return segments[0], (segments[1] if len(segments) > 1 else None)
    return None


@dataclass(frozen=True)
class _Run:
    """Known text, with how each of its characters was known (a base URL from a constant and a
    table from a literal can meet in one run)."""

    text: str
    vias: tuple[str, ...]

    def piece(self, start: int, end: int) -> v.Str:
        return v.Str(self.text[start:end], max(self.vias[start:end], key=_via_rank))


def _runs(parts: list[v.Value]) -> list[_Run | v.Value]:
    """The parts with each stretch of known text joined into one run."""
    out: list[_Run | v.Value] = []
    for part in parts:
        last = out[-1] if out else None
        if not isinstance(part, v.Str):
            out.append(part)
        elif isinstance(last, _Run):
            out[-1] = _Run(last.text + part.value, last.vias + (part.via,) * len(part.value))
        else:
            out.append(_Run(part.value, (part.via,) * len(part.value)))
    return out


def _segments(runs: list[_Run | v.Value]) -> list[v.Value | None]:
    """Splits the path at ``/`` up to the query string; a segment is a string, or the runtime
    value it is built from (None: empty)."""
    segments: list[v.Value | None] = []
    pieces: list[v.Value] = []
    for run in runs:
        if not isinstance(run, _Run):
            pieces.append(run)
            continue
        cut = min((run.text.index(c) for c in "?#" if c in run.text), default=len(run.text))
        start = 0
        while start <= cut:
            slash = run.text.find("/", start, cut)
            end = cut if slash < 0 else slash
            if end > start:
                pieces.append(run.piece(start, end))
            if slash < 0:
                break
            segments.append(_segment(pieces))
            pieces, start = [], slash + 1
        if cut < len(run.text):
            break
    segments.append(_segment(pieces))
    return segments


def _segment(pieces: list[v.Value]) -> v.Value | None:
    if not pieces:
        return None
    if all(isinstance(p, v.Str) for p in pieces):
        strs = [p for p in pieces if isinstance(p, v.Str)]
        return v.Str("".join(p.value for p in strs), max((p.via for p in strs), key=_via_rank))
    hole = next(p for p in pieces if not isinstance(p, v.Str))
    if len(pieces) == 1:
        return hole
    reason = hole.reason if isinstance(hole, v.Unknown) else "a value known only at runtime"
    return v.Unknown(f"a name built at runtime ({reason})")


def _headers(client: v.Value | None, given: v.Value | None) -> v.Value:
    """The request's headers: the client's, then the call's (a key in both: the call's)."""
    if client is None:
        return given if given is not None else v.Dict(())
    if given is None:
        return client
    ours, theirs = mapping(given), mapping(client)
    if ours is None or theirs is None:
        return given if ours is None else client
    keys = {k.lower() for k, _ in ours[0]}
    items = v.Dict(tuple(i for i in theirs[0] if i[0].lower() not in keys) + ours[0])
    # a runtime mapping merged into either may hold any header: keep one to say so
    return (
        v.Merged(items, (v.Unknown("headers merged at runtime"),))
        if ours[1] or theirs[1]
        else items
    )


def _header(headers: v.Value, name: str) -> v.Value | None:
    """The value of header ``name`` (any case); None when the headers are known not to hold
    it; an :class:`values.Unknown` saying why when they cannot be known."""
    entries = mapping(headers)
    if entries is None:
        reason = headers.reason if isinstance(headers, v.Unknown) else "headers built at runtime"
        return v.Unknown(f"the {name} header is in {reason}")
    items, open_ended = entries
    for key, value in reversed(items):
        if key.lower() == name:
            return value
    if open_ended:
        return v.Unknown(f"the {name} header may come from headers merged at runtime")
    return None
