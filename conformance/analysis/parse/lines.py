"""Line numbers for the few nodes a report needs, without libcst's PositionProvider.

``PositionProvider`` computes a range for every node and costs about twice the parse; even a
code generation that only counts newlines costs most of a parse. Instead the statements of the
libcst tree are paired with those of ``ast.parse`` (a tenth of libcst's parse time), which knows
where each statement starts and ends. A node on a one-line statement gets that line for free;
in a statement spanning several lines, a called name or method whose every occurrence in the
statement is on one line gets that line from ``ast`` too; only the rest is generated, one
statement alone, counting newlines until the wanted nodes are seen. When the two trees cannot
be paired (``ast`` of this Python rejects the file), the whole module is generated once instead.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import NamedTuple

import libcst as cst

from conformance.analysis.parse import speedups

# (statement or None, node): a node and the innermost statement being read when it was seen;
# a FunctionDef/ClassDef as the statement of its own name node means "the def line".
Mark = tuple[cst.CSTNode | None, cst.CSTNode]


class _Mismatch(Exception):
    pass


class _Span(NamedTuple):
    first: int  # where generating the statement starts (leading lines included)
    line: int  # the statement's own first line (the ``def`` line for a def)
    one_line: bool
    node: ast.AST | None = None  # the same statement in ``ast``


def _pair(body: Sequence[cst.CSTNode], tree: Sequence[ast.stmt], spans: dict[int, _Span]) -> None:
    """Records ``(first line, last line)`` of every libcst statement by walking both trees."""
    i = 0

    def take() -> ast.stmt:
        nonlocal i
        if i >= len(tree):
            raise _Mismatch
        i += 1
        return tree[i - 1]

    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                node = take()
                one = node.end_lineno == node.lineno
                spans[id(small)] = _Span(node.lineno, node.lineno, one, node)
            continue
        node = take()
        # a compound statement is generated from its leading comment and blank lines on
        leading = len(getattr(stmt, "leading_lines", ()))
        spans[id(stmt)] = _Span(node.lineno - leading, node.lineno, False, node)
        for cst_suite, ast_suite in _suites(stmt, node):
            _pair_suite(cst_suite, ast_suite, spans)
    if i != len(tree):
        raise _Mismatch


def _pair_suite(suite: object, tree: list[ast.stmt], spans: dict[int, _Span]) -> None:
    if isinstance(suite, cst.IndentedBlock):
        _pair(suite.body, tree, spans)
    elif isinstance(suite, cst.SimpleStatementSuite):
        if len(suite.body) != len(tree):
            raise _Mismatch
        for small, node in zip(suite.body, tree, strict=True):
            one = node.end_lineno == node.lineno
            spans[id(small)] = _Span(node.lineno, node.lineno, one, node)
    elif isinstance(suite, cst.If):  # elif
        _pair([suite], tree, spans)
    elif suite is not None:
        raise _Mismatch


def _suites(stmt: cst.CSTNode, node: ast.stmt) -> list[tuple[object, list[ast.stmt]]]:
    out: list[tuple[object, list[ast.stmt]]] = []
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            raise _Mismatch
        out.append((stmt.body, node.body))
    elif isinstance(stmt, (cst.If, cst.For, cst.While)):
        if not isinstance(node, (ast.If, ast.For, ast.AsyncFor, ast.While)):
            raise _Mismatch
        out.append((stmt.body, node.body))
        orelse = stmt.orelse
        if orelse is not None:
            out.append((orelse.body if isinstance(orelse, cst.Else) else orelse, node.orelse))
    elif isinstance(stmt, cst.With):
        if not isinstance(node, (ast.With, ast.AsyncWith)):
            raise _Mismatch
        out.append((stmt.body, node.body))
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        handlers = getattr(node, "handlers", None)
        if handlers is None or len(handlers) != len(stmt.handlers):
            raise _Mismatch
        out.append((stmt.body, node.body))  # type: ignore[attr-defined]
        out.extend(
            (h.body, a.body)  # type: ignore[attr-defined]
            for h, a in zip(stmt.handlers, handlers, strict=True)
        )
        if stmt.orelse is not None:
            out.append((stmt.orelse.body, node.orelse))  # type: ignore[attr-defined]
        if stmt.finalbody is not None:
            out.append((stmt.finalbody.body, node.finalbody))  # type: ignore[attr-defined]
    elif isinstance(stmt, cst.Match):
        cases = getattr(node, "cases", None)
        if cases is None or len(cases) != len(stmt.cases):
            raise _Mismatch
        out.extend((c.body, a.body) for c, a in zip(stmt.cases, cases, strict=True))
    else:
        raise _Mismatch
    return out


def mark_lines(module: cst.Module, tree: ast.Module | None, marks: Sequence[Mark]) -> list[int]:
    """Returns the 1-based start line of each marked node; ``tree`` is ``ast.parse`` of the same
    source (None when Python's parser rejected it)."""
    if not marks:
        return []
    if not speedups.ENABLED:
        return speedups.start_lines(module, [node for _, node in marks])
    spans: dict[int, _Span] = {}
    try:
        if tree is None:
            raise _Mismatch
        _pair(module.body, tree.body, spans)
    except (RecursionError, _Mismatch):
        return speedups.start_lines(module, [node for _, node in marks])
    lines = [0] * len(marks)
    pending: dict[int, tuple[cst.CSTNode, list[int]]] = {}
    for i, (stmt, node) in enumerate(marks):
        span = spans.get(id(stmt)) if stmt is not None else None
        if stmt is None or span is None:
            return speedups.start_lines(module, [node for _, node in marks])
        if span.one_line or isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            lines[i] = span.line  # decorators and defaults count as the def line
        else:
            pending.setdefault(id(stmt), (stmt, []))[1].append(i)
    for stmt, indices in pending.values():
        span = spans[id(stmt)]
        names = _name_lines(span.node) if span.node is not None else None
        rest = []
        for i in indices:
            node = marks[i][1]
            known = names.get(node.value) if names and isinstance(node, cst.Name) else None
            if known is not None and len(known) == 1:
                (lines[i],) = known  # every occurrence of the name is on one line
            else:
                rest.append(i)
        if rest:
            found = speedups.statement_lines(module, stmt, [marks[i][1] for i in rest], span.first)
            for i, line in zip(rest, found, strict=True):
                lines[i] = line
    return lines


_HEADERS: dict[type, tuple[str, ...]] = {
    ast.If: ("test",),
    ast.While: ("test",),
    ast.For: ("target", "iter"),
    ast.AsyncFor: ("target", "iter"),
    ast.With: ("items",),
    ast.AsyncWith: ("items",),
}


def _name_lines(node: ast.AST) -> dict[str, set[int]] | None:
    """Returns the lines on which each name or attribute occurs in a statement (its header, for
    a compound statement), or None when ``ast`` cannot be trusted for it.

    Most marked nodes are a called name (``save(...)``) or method (``.insert(``); when all its
    occurrences in the statement share one line, that is the line, with no code generation.
    Positions inside f-strings are unreliable before Python 3.12: a statement with an f-string
    is generated instead.
    """
    if isinstance(node, ast.stmt) and type(node) in _HEADERS:
        roots: list[ast.AST] = []
        for field in _HEADERS[type(node)]:
            value = getattr(node, field)
            roots.extend(value if isinstance(value, list) else [value])
    elif isinstance(node, (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return)):
        roots = [node]
    else:
        return None
    out: dict[str, set[int]] = {}
    for root in roots:
        for sub in ast.walk(root):
            if isinstance(sub, ast.JoinedStr):
                return None
            if isinstance(sub, ast.Name):
                out.setdefault(sub.id, set()).add(sub.lineno)
            elif isinstance(sub, ast.Attribute) and sub.end_lineno is not None:
                out.setdefault(sub.attr, set()).add(sub.end_lineno)
    return out
