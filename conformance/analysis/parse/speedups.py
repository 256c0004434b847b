"""The analyzer's two speed-ups that reach past libcst's public API, named in this one place.

Each pays for itself by a large, measured margin (bench/RESULTS.md, "speed-ups"); setting
``CONFORMANCE_SPEEDUPS=0`` switches both off, and the analysis is then made through libcst's
public API alone, with the same result (the test suite runs the example both ways). libcst is
pinned to the minor version they are tested with (pyproject.toml); when its internals differ
from what is expected here, the public path is taken.

1. **Parsing without per-node validation.** Every node libcst builds runs ``_validate`` from
   ``CSTNode.__post_init__``: checks meant for trees built by hand, which a parser-built tree
   passes by construction (libcst's own comment on ``__post_init__`` says as much). While our
   parse runs, the hook is replaced by a no-op, and only while libcst's hook still does nothing
   but call ``_validate``.
2. **Line numbers by generating single statements.** A finding needs the line of a few marked
   nodes. libcst's public way, ``PositionProvider``, computes a position for every node by
   generating the whole module, many times the cost of the way here. Here, the
   lines come from ``ast`` where it can tell them (parse/lines.py), and otherwise one statement
   is generated with a code-generation state (libcst's internal ``CodegenState``) that only
   counts line breaks and stops once the wanted nodes are seen.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any

import libcst as cst

ENABLED = os.environ.get("CONFORMANCE_SPEEDUPS", "1").strip() not in ("0", "false", "no", "off")


# -- 1. parsing without per-node validation --------------------------------------------------------


def _validates_only(hook: Any) -> bool:
    code = getattr(hook, "__code__", None)
    return code is not None and code.co_names == ("_validate",)


_VALIDATE_HOOK = cst.CSTNode.__post_init__
_SKIP_VALIDATION = _validates_only(_VALIDATE_HOOK)


def _no_validation(self: cst.CSTNode) -> None:
    return None


def parse_module(source: bytes) -> cst.Module:
    """``cst.parse_module``, without the per-node checks while switched on (see above)."""
    if not (ENABLED and _SKIP_VALIDATION):
        return cst.parse_module(source)
    cst.CSTNode.__post_init__ = _no_validation  # type: ignore[method-assign]
    try:
        return cst.parse_module(source)
    finally:
        cst.CSTNode.__post_init__ = _VALIDATE_HOOK  # type: ignore[method-assign]


# -- 2. line numbers by generating single statements ----------------------------------------------

try:
    from libcst._nodes.internal import CodegenState
except ImportError:  # pragma: no cover - another libcst: the public path only
    CodegenState = None  # type: ignore[assignment,misc]


class _Found(Exception):
    pass


if CodegenState is not None:

    class _LineCountingState(CodegenState):
        """A code-generation state that writes nothing and counts line breaks, recording the
        line at which each wanted node starts."""

        def __init__(self, module: cst.Module, wanted: dict[int, int], first_line: int) -> None:
            super().__init__(
                default_indent=module.default_indent, default_newline=module.default_newline
            )
            self.line = first_line
            self.wanted = wanted
            self.found: dict[int, int] = {}

        def add_token(self, value: str) -> None:
            if "\n" in value or "\r" in value:
                self.line += value.count("\n") + value.count("\r") - value.count("\r\n")

        def add_indent_tokens(self) -> None:
            pass

        def before_codegen(self, node: cst.CSTNode) -> None:
            index = self.wanted.get(id(node))
            if index is not None:
                self.found[index] = self.line
                if len(self.found) == len(self.wanted):
                    raise _Found


def _generated_lines(
    module: cst.Module, root: cst.CSTNode, nodes: Sequence[cst.CSTNode], first_line: int
) -> list[int]:
    wanted = {id(node): i for i, node in enumerate(nodes)}
    state = _LineCountingState(module, wanted, first_line)
    with contextlib.suppress(_Found):
        root._codegen(state)
    return [state.found.get(i, first_line) for i in range(len(nodes))]


def statement_lines(
    module: cst.Module, root: cst.CSTNode, nodes: Sequence[cst.CSTNode], first_line: int
) -> list[int]:
    """The line at which each of ``nodes`` starts, inside ``root`` (a statement of
    ``module``) whose generated text starts at ``first_line``."""
    if not nodes:
        return []
    if not ENABLED or CodegenState is None:
        return start_lines(module, nodes)
    return _generated_lines(module, root, nodes, first_line)


def start_lines(module: cst.Module, nodes: Sequence[cst.CSTNode]) -> list[int]:
    """The line at which each of ``nodes`` starts, for the whole module: generated once with
    the counting state when switched on, else through libcst's public ``PositionProvider``."""
    if not nodes:
        return []
    if ENABLED and CodegenState is not None:
        return _generated_lines(module, module, nodes, 1)
    from libcst.metadata import MetadataWrapper, PositionProvider

    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return [positions[node].start.line for node in nodes]
