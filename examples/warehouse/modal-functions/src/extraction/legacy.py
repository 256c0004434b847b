"""Leftovers from the 2022 warehouse. Only ``legacy_domain_alias`` is still used."""

from __future__ import annotations

LEGACY_ALIASES = {
    "acme.io": "acme.com",
    "globex.net": "globex.com",
    "initech.co": "initech.com",
}


def legacy_domain_alias(domain: str) -> str:
    """Returns the canonical domain for a domain the old warehouse stored differently."""
    return LEGACY_ALIASES.get(domain, domain)


def purge_company_archive(client, before: str) -> int:
    """Deletes archived companies older than ``before``.

    Nothing calls this any more: the archive is pruned by a database job now.
    """
    res = (
        client.schema("core")
        .table("company_archive")
        .delete()
        .lt("archived_at", before)
        .execute()
    )
    return len(res.data or [])
