"""Suggested values for the registry columns a person fills, from unambiguous evidence only.

A wrong suggestion is worse than none, so each is made only when every clue points one way:

- ``entity_type``: the words of the layer tables the function writes (``companies``,
  ``people``, ``target_clients``, ...) and of its request model's fields (``domain``,
  ``linkedin_url``, ...) name one entity type, it is one of the configured ``entity_types``, and
  the function serves no other workflow (whose entity might differ);
- ``key_column``/``key_type``: the request model has exactly one field that is a known natural
  key (``domain``, ``company_domain``, ``linkedin_url``, ``person_linkedin_url``, ``email``),
  whose values are text;
- ``provider``: exactly one known provider (one the registry already names, or a well-known
  enrichment source) appears as a word of the function's module or of its raw table.

Each comes with the evidence it stands on, which ``check --fix`` writes as a comment next to the
value (``# suggested from ...``) so a reviewer knows to check it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from conformance.model import IngestFunction, Registry, RegistryEntry

# words of a table or field name, and the entity type they speak of
ENTITY_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ("company", "companies", "organization", "organizations", "account", "accounts"),
        "company",
    ),
    **dict.fromkeys(("firmographics",), "company"),
    **dict.fromkeys(
        ("person", "people", "persons", "contact", "contacts", "profile", "profiles"), "person"
    ),
    **dict.fromkeys(("employee", "employees", "linkedin", "email", "emails"), "person"),
    # customers and clients are companies of another kind: a name that says so is ambiguous
    **dict.fromkeys(
        ("target_client", "target_clients", "customer", "customers", "client", "clients"),
        "target_client",
    ),
}
# tables whose names describe the workflow's entity: the layers (staging, reference and public
# tables are queues, logs and lookups)
_ENTITY_SCHEMAS = ("raw", "extracted", "core")
# request-model fields that are a workflow's natural key, and the entity they identify
KEY_FIELDS: dict[str, str] = {
    "domain": "company",
    "company_domain": "company",
    "linkedin_url": "person",
    "person_linkedin_url": "person",
    "email": "person",
}
# enrichment sources seen in warehouses like this one (the registry's own providers count too)
KNOWN_PROVIDERS = frozenset(
    {
        "apollo",
        "builtwith",
        "clay",
        "clearbit",
        "crunchbase",
        "firecrawl",
        "g2",
        "glassdoor",
        "greenhouse",
        "hubspot",
        "icypeas",
        "leadmagic",
        "linkedin",
        "newsapi",
        "proxycurl",
        "salesforce",
        "similarweb",
        "zoominfo",
    }
)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Suggestion:
    """A value suggested for an empty column, and the evidence it stands on."""

    column: str
    value: str
    evidence: str


def suggestions(
    fn: IngestFunction, entry: RegistryEntry, entity_types: Sequence[str], registry: Registry
) -> list[Suggestion]:
    """The suggestions for the empty human columns of ``entry``, which describes ``fn``."""
    out: list[Suggestion] = []
    if not entry.entity_type:
        out += _entity_type(fn, entity_types, entry, registry)
    if not entry.key_column and not entry.key_type:
        out += _key(fn)
    if not entry.provider:
        out += _provider(fn, entry, registry)
    return out


def _entity_type(
    fn: IngestFunction, entity_types: Sequence[str], entry: RegistryEntry, registry: Registry
) -> list[Suggestion]:
    votes: dict[str, list[str]] = {}
    for table in sorted(fn.written_tables()):
        schema, name = table.split(".", 1)
        if schema not in _ENTITY_SCHEMAS:
            continue
        words = _words(name)
        words += [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
        for word in words:
            if word in ENTITY_WORDS:
                votes.setdefault(ENTITY_WORDS[word], []).append(f"table {table}")
    for field in fn.request_fields:
        kind = KEY_FIELDS.get(field) or ENTITY_WORDS.get(field)
        if kind is not None:
            votes.setdefault(kind, []).append(f"request model field {field}")
    if len(votes) != 1:
        return []
    ((kind, clues),) = votes.items()
    if kind not in entity_types:
        return []
    # a function serving several workflows (one slug per partner, say) may serve several
    # entities: its code cannot tell which one this entry is for
    if any(
        e.workflow_slug != entry.workflow_slug and e.names_function(fn) for e in registry.entries
    ):
        return []
    where = f" ({fn.request_model})" if fn.request_model and fn.request_fields else ""
    return [Suggestion("entity_type", kind, ", ".join(dict.fromkeys(clues)) + where)]


def _key(fn: IngestFunction) -> list[Suggestion]:
    keys = [f for f in fn.request_fields if f in KEY_FIELDS]
    if len(keys) != 1 or fn.request_model is None:
        return []
    evidence = f"request model field {keys[0]} ({fn.request_model})"
    return [Suggestion("key_column", keys[0], evidence), Suggestion("key_type", "text", evidence)]


def _provider(fn: IngestFunction, entry: RegistryEntry, registry: Registry) -> list[Suggestion]:
    known = KNOWN_PROVIDERS | {str(e.provider).lower() for e in registry.entries if e.provider} - {
        "internal",
        "partner",
    }
    places = [("module", fn.module)]
    raw = entry.raw_table or next((t for t in sorted(fn.written_tables("raw"))), None)
    if raw:
        places.append(("raw table", raw))
    found: dict[str, str] = {}
    for what, name in places:
        for word in _words(name):
            if word in known:
                found.setdefault(word, f"{what} {name}")
    if len(found) != 1:
        return []
    ((provider, evidence),) = found.items()
    return [Suggestion("provider", provider, evidence)]


def _words(name: str) -> list[str]:
    return _WORD.findall(name.lower())
