"""What is refused before libcst sees a file: input its native parser would crash on.

libcst's parser overflows its native stack a few thousand levels deep, which kills the
process (no exception to catch). Python's own parser refuses such nesting cleanly, and its
tree, ten times cheaper to build, shows how deep libcst's would be.
"""

from __future__ import annotations

import ast
import re

NESTING_MESSAGES = (
    "too many nested",
    "too deeply nested",
    "too many levels of indentation",
    "too many statically nested",
)
# libcst's parser overflows its native stack a few thousand levels deep; real code stays far
# below this.
MAX_DEPTH = 800
_LONG_STATEMENT = 400
_BOOLEAN_OPERATOR = re.compile(r"\b(?:and|or)\b")
_LONG_LINE = 1500


def too_deep(tree: ast.Module, text: str) -> int | None:
    """Returns the line of a statement nested more than ``MAX_DEPTH`` levels, else None.

    Only statements that could be that deep are measured: those spanning many lines, or all of
    them when the file has a very long line (a deep chain on one line) or enough ``and``/``or``
    for a chain of them to be that long on short lines.
    """
    everything = (
        len(text) > _LONG_LINE and any(len(line) > _LONG_LINE for line in text.splitlines())
    ) or sum(1 for _ in _BOOLEAN_OPERATOR.finditer(text)) > MAX_DEPTH
    for stmt in tree.body:
        span = (stmt.end_lineno or stmt.lineno) - stmt.lineno
        if (everything or span > _LONG_STATEMENT) and _depth_exceeds(stmt, MAX_DEPTH):
            return stmt.lineno
    return None


def _depth_exceeds(root: ast.AST, limit: int) -> bool:
    """Whether libcst's tree of ``root`` would nest deeper than ``limit``. ``ast`` keeps
    ``a and b and c`` as one flat node where libcst nests one level per operator, so a long
    chain of ``and``/``or`` counts as that deep (its native parser overflows on 10,000)."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        step = len(node.values) - 1 if isinstance(node, ast.BoolOp) else 1
        stack.extend((child, depth + max(step, 1)) for child in ast.iter_child_nodes(node))
    return False
