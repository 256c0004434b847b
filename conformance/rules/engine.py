"""Runs the rules: every registered check over the analysis and the registry, then
suppressions, severities and exclusions, in one deterministic order. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from conformance.config import Config
from conformance.model import Analysis, Finding, Location, Registry, Suppression
from conformance.rules.base import (
    FUNCTION_CHECKS,
    PAIR_CHECKS,
    RUN_CHECKS,
    SUPPRESSION_CHECKS,
    Context,
    Hit,
    Unused,
    catalogue,
    qualified,
)
from conformance.rules.facts import Pair
from conformance.sources import is_excluded

REGISTRY_GROUP = "registry"
PROJECT_GROUP = "project"


def evaluate(
    analysis: Analysis,
    registry: Registry,
    config: Config,
    *,
    file_registry: Registry | None = None,
    register_hint: str | None = None,
    elsewhere: Mapping[str, Location] | None = None,
) -> tuple[Finding, ...]:
    """Returns every finding for ``analysis`` against ``registry``, sorted; never raises for
    data. Severities come from each rule, overridden by ``config.severity`` (``off`` drops a
    code); suppression comments and ``config.exclude`` are applied.

    ``file_registry``: the committed registry file, when ``registry`` is the database (rows
    in the file and not applied are told apart from rows nowhere: CONF021). ``register_hint``:
    the command CONF001 offers (``{function}`` is replaced; default ``conformance register
    {function}``). ``elsewhere`` says where functions the registry names are defined outside
    the ingest directories."""
    ctx = Context.of(
        analysis,
        registry,
        config,
        file_registry=file_registry,
        register_hint=register_hint,
        elsewhere=elsewhere,
    )
    hits: list[Hit] = []
    for fn in analysis.functions:
        rows = ctx.rows_naming(fn)
        for _rule, function_check in FUNCTION_CHECKS:
            hits.extend(function_check(fn, rows, ctx))
        for row in rows:
            if row.is_active:
                pair = Pair(fn, row)
                for _rule, pair_check in PAIR_CHECKS:
                    hits.extend(pair_check(pair, ctx))
    for _rule, run_check in RUN_CHECKS:
        hits.extend(run_check(ctx))
    kept, unused = suppress(hits, analysis.suppressions, {r.code for r in catalogue()})
    for _rule, suppression_check in SUPPRESSION_CHECKS:
        kept.extend(suppression_check(unused, ctx))
    return finalise(kept, config)


def suppress(
    hits: Sequence[Hit], suppressions: Sequence[Suppression], known: set[str]
) -> tuple[list[Hit], list[Unused]]:
    """Drops the hits a suppression matches (a code on the hit's line, or on the ``def`` line of
    its function); returns the rest and the suppressions, code by code, that matched nothing."""
    by_location: dict[Location, list[Suppression]] = {}
    for s in suppressions:
        by_location.setdefault(s.location, []).append(s)
    used: set[tuple[Location, str]] = set()
    kept: list[Hit] = []
    for h in hits:
        places = [h.location, h.function.location if h.function else None]
        matched = False
        for place in places:
            for s in by_location.get(place, []) if place else []:
                if h.rule.code in codes_of(s):
                    used.add((s.location, h.rule.code))
                    matched = True
        if not matched:
            kept.append(h)
    unused: list[Unused] = []
    for s in suppressions:
        codes = codes_of(s)
        if "CONF015" in codes:
            continue  # keeping an unused suppression on purpose
        if not codes:
            unused.append(Unused(s, None, False))
        unused.extend(
            Unused(s, code, code in known) for code in codes if (s.location, code) not in used
        )
    return kept, unused


def codes_of(s: Suppression) -> tuple[str, ...]:
    return tuple(c.strip().upper() for c in s.codes)


def finalise(hits: Iterable[Hit], config: Config) -> tuple[Finding, ...]:
    """Applies severities and exclusions; returns the findings, unique and sorted."""
    out: set[Finding] = set()
    for h in hits:
        severity = config.severity.get(h.rule.code, h.rule.severity)
        if severity == "off":
            continue
        files = [h.location.file if h.location else None, h.function.file if h.function else None]
        if any(f and is_excluded(f, config.exclude) for f in files):
            continue
        out.add(
            Finding(
                code=h.rule.code,
                severity=severity,
                message=h.message,
                location=h.location,
                function=qualified(h.function) if h.function else None,
                slug=h.slug,
                evidence=h.evidence,
            )
        )
    return tuple(
        sorted(
            out, key=lambda f: (f.sort_key, f.function or "", f.slug or "", f.message, f.evidence)
        )
    )


def has_errors(findings: Iterable[Finding]) -> bool:
    """Returns whether any finding has error severity (the check then exits 1)."""
    return any(f.severity == "error" for f in findings)


def group_findings(analysis: Analysis, findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """Returns findings keyed by function ``test_id`` (``file::name``), plus ``registry`` for
    registry-level findings and ``project`` for the rest (files, suppressions, secrets).

    Every function and both extra keys are present, possibly with an empty list.
    """
    row_codes = {r.code for r in catalogue() if r.scope == "row"}
    ids = {qualified(fn): fn.test_id for fn in analysis.functions}
    groups: dict[str, list[Finding]] = {fn.test_id: [] for fn in analysis.functions}
    groups[REGISTRY_GROUP] = []
    groups[PROJECT_GROUP] = []
    for f in findings:
        if f.function in ids:
            groups[ids[f.function]].append(f)
        elif f.code in row_codes:
            groups[REGISTRY_GROUP].append(f)
        else:
            groups[PROJECT_GROUP].append(f)
    return groups
