"""Line numbers for the few nodes a report needs, without libcst's PositionProvider.

``PositionProvider`` computes a range for every node through the metadata machinery and costs
about twice the parse. Code generation that only counts newlines and notes the line when one of the
wanted nodes starts costs a fraction of that, and gives the same start line for the nodes we ask
about (names of defs and of called methods, which carry no leading whitespace of their own).
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
from libcst._nodes.internal import CodegenState


class _LineCountingState(CodegenState):
    def __init__(self, module: cst.Module, wanted: dict[int, int]) -> None:
        super().__init__(
            default_indent=module.default_indent, default_newline=module.default_newline
        )
        self.line = 1
        self.wanted = wanted
        self.found: dict[int, int] = {}

    def add_token(self, value: str) -> None:
        if "\n" in value:
            self.line += value.count("\n")
        elif "\r" in value:
            self.line += value.count("\r")

    def add_indent_tokens(self) -> None:
        pass

    def before_codegen(self, node: cst.CSTNode) -> None:
        index = self.wanted.get(id(node))
        if index is not None:
            self.found[index] = self.line


def start_lines(module: cst.Module, nodes: Sequence[cst.CSTNode]) -> list[int]:
    """Returns the 1-based line where each node of ``nodes`` starts (1 if never reached)."""
    if not nodes:
        return []
    wanted = {id(node): i for i, node in enumerate(nodes)}
    state = _LineCountingState(module, wanted)
    module._codegen(state)
    return [state.found.get(i, 1) for i in range(len(nodes))]
