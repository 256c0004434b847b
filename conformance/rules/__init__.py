"""The rules: one module per family, each rule's documentation right next to its check.

==========  ==========================================================================
functions   an ingest function against the rows naming it (CONF001, 008, 009, 012, 013, 019)
layers      a (function, row) pair's layer tables (CONF003, 004, 005)
contract    a pair's ``writes`` contract and what code cannot show (CONF006, 007, 014, 018)
rows        the registry's own rows, and the database against the file (CONF002, 010, 011,
            020, 021)
files       analysed files and what was searched (CONF015, 016, 017, 022)
==========  ==========================================================================

``base`` holds what they are made of, ``facts`` what a (function, row) pair's rules share,
``engine`` runs them (suppressions, severities, exclusions, order), and ``docs`` renders their
documentation. Adding a rule: a ``Rule`` and its check in a family module, its cases under
``tests/rule_cases/<CODE>/``, then ``python -m conformance.rules.docs --write``.
"""

from __future__ import annotations

from conformance.rules import contract, files, functions, layers, rows  # noqa: F401 (registers)
from conformance.rules.base import Rule, catalogue
from conformance.rules.engine import (
    PROJECT_GROUP,
    REGISTRY_GROUP,
    evaluate,
    group_findings,
    has_errors,
)

RULES: tuple[Rule, ...] = catalogue()
RULES_BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}

__all__ = [
    "PROJECT_GROUP",
    "REGISTRY_GROUP",
    "RULES",
    "RULES_BY_CODE",
    "Rule",
    "evaluate",
    "group_findings",
    "has_errors",
]
