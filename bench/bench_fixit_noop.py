"""A Fixit 2 rule that reports nothing, for ``bench/run.py``'s Fixit row.

It measures Fixit's fixed cost per file (read, parse, metadata, one visit of the tree). Fixit is
not a dependency of conformance; ``bench/run.py`` puts this directory on ``PYTHONPATH`` and runs
``python -m fixit --rules bench_fixit_noop:NoOp lint PROJECT`` when ``fixit`` is importable.
"""

from __future__ import annotations

import libcst as cst
from fixit import LintRule


class NoOp(LintRule):
    """Visits every node and reports nothing."""

    VALID = []
    INVALID = []

    def visit_Module(self, node: cst.Module) -> None:
        return None
