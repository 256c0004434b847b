"""One file's source → :class:`ModuleSummary`: one libcst parse, one pruned walk, nothing run.

``guards`` refuses what would crash libcst, ``speedups`` parses (and finds lines) faster than
libcst's public API, ``reader`` walks the tree, ``calls`` and ``clients/`` recognise calls to
client libraries, ``lines`` gives the walk's marks their line numbers, and ``text`` reads
suppression comments and literal secrets.
"""

from __future__ import annotations

import ast

import libcst as cst

from conformance.analysis import values as v
from conformance.analysis.parse import guards, speedups
from conformance.analysis.parse.lines import mark_lines
from conformance.analysis.parse.reader import Reader
from conformance.analysis.parse.text import find_secrets, find_suppressions, line_at

__all__ = ["summarize_file"]


def summarize_file(source: bytes, module_name: str, file: str, is_package: bool) -> v.ModuleSummary:
    """Returns the summary of one file's ``source``. Never raises: a file that cannot be read as
    Python becomes a summary whose ``error`` is ``(line, reason)``."""
    text = source.decode("utf-8", errors="replace")
    suppressions, secrets = find_suppressions(text), find_secrets(text)

    def failed(line: int, reason: str) -> v.ModuleSummary:
        return v.ModuleSummary(
            module_name,
            file,
            is_package,
            (),
            (),
            (),
            suppressions=suppressions,
            secrets=secrets,
            error=(line, reason),
        )

    if b"\x00" in source:
        return failed(line_at(text, text.index("\x00")), "file contains a NUL byte")
    try:
        source.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not source.startswith(b"# -*- coding") and b"coding" not in source[:200]:
            return failed(
                line_at(source[: exc.start].decode("latin-1"), exc.start), "file is not valid UTF-8"
            )
    # Python's own parser first: it is ten times faster, its statement positions give the
    # lines, and it refuses cleanly the deep nesting that overflows libcst's native stack.
    tree: ast.Module | None = None
    python_error: SyntaxError | None = None
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        if any(word in str(exc.msg) for word in guards.NESTING_MESSAGES):
            return failed(exc.lineno or 1, f"syntax error: {exc.msg}")
        python_error = exc  # perhaps newer syntax than this Python's: libcst decides
    except (RecursionError, MemoryError):
        return failed(1, "nesting too deep to parse")
    except ValueError as exc:
        return failed(1, f"cannot parse: {exc}")
    if tree is not None:
        deep = guards.too_deep(tree, text)
        if deep is not None:
            return failed(deep, f"expression nested more than {guards.MAX_DEPTH} levels deep")
    try:
        module = speedups.parse_module(source)
    except cst.ParserSyntaxError as exc:
        if python_error is not None:
            return failed(python_error.lineno or 1, f"syntax error: {python_error.msg}")
        return failed(exc.raw_line, f"syntax error: {exc.message}")
    except RecursionError:
        return failed(1, "nesting too deep to parse")
    except Exception as exc:  # libcst raises a few other types on odd input
        return failed(1, f"cannot parse: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    reader = Reader(module_name, is_package)
    try:
        reader.run(module)
        lines = mark_lines(module, tree, reader.lines_needed())
    except RecursionError:
        return failed(1, "nesting too deep to analyse")
    except Exception as exc:  # a bug in the analyzer must not stop the other files
        if python_error is not None:  # e.g. a string literal Python rejects
            return failed(python_error.lineno or 1, f"syntax error: {python_error.msg}")
        first = (str(exc).splitlines() or [""])[0][:200]
        return failed(1, f"internal analyzer error ({type(exc).__name__}: {first})")
    return reader.summary(file, lines, suppressions, secrets)
