"""The ``conformance`` executable's start: dataclass methods compiled once per installation.

Most of what a run that re-analyses one changed file pays is start-up, and most of that is
``import libcst``: about 260 dataclasses (libcst's nodes, then our records), each of whose
``__init__``, ``__eq__``, ``__repr__`` and ``__hash__`` the dataclasses module writes as source
text and compiles, about 1,400 small compilations (0.07–0.09 s here). The text for a class is
the same on every run, so, as Python keeps a module's bytecode in ``__pycache__``, this module
keeps the compiled code of those texts in one file there, keyed by a digest of each text and
by the interpreter's exact version, and hands it back instead of compiling again.

Only the compilation is skipped: each method is still built by executing its code with the
globals and locals dataclasses passes, so every class is what it would have been. The code is
compiled exactly as ``exec`` of the text compiles it (no inherited ``__future__`` flags). The
file is written after a run that compiled something new, atomically, beside the package's own
bytecode, and not at all when Python writes no bytecode (``PYTHONDONTWRITEBYTECODE``) or the
directory is read-only; an unreadable, foreign or corrupt file is ignored. This applies to the
executable only (``conformance``, ``python -m conformance``), never to the package imported as
a library or a pytest plugin.
"""

from __future__ import annotations

import builtins
import contextlib
import marshal
import sys
from pathlib import Path
from types import CodeType
from typing import Any, NoReturn

from conformance.fileio import blake2b, seal, unseal, write_atomic

_HEADER = b"conformance dataclass code\n"
_SUM = 16


def default_path() -> Path:
    """Where the executable keeps the table: the package's ``__pycache__``, one file per exact
    interpreter version (code objects are only valid for the interpreter that made them)."""
    tag = sys.implementation.cache_tag or sys.implementation.name
    return Path(__file__).parent / "__pycache__" / f"dataclasses.{tag}-{sys.hexversion:x}.bin"


class CodeTable:
    """Compiled code by digest of its source text, loaded from and saved to one file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.codes: dict[bytes, CodeType] = {}
        self.compiled = 0  # texts compiled by this process (not found in the table)
        self._installed: Any = None
        if path is not None:
            self.codes = _read(path)

    def exec(self, source: object, globals: Any = None, locals: Any = None, /) -> None:
        """``exec`` with the code of a source text taken from the table when it is there."""
        if globals is None:  # as the builtin: the caller's namespaces
            frame = sys._getframe(1)
            globals = frame.f_globals
            locals = frame.f_locals if locals is None else locals
        if type(source) is not str:
            builtins.exec(source, globals, locals)  # type: ignore[arg-type]
            return
        key = blake2b(source.encode(), digest_size=_SUM).digest()
        code = self.codes.get(key)
        if code is None:
            # dont_inherit: exactly the flags ``exec`` of the text in dataclasses would use
            code = compile(source, "<string>", "exec", dont_inherit=True)
            self.codes[key] = code
            self.compiled += 1
        builtins.exec(code, globals, locals)

    def install(self) -> None:
        """Makes the dataclasses module compile through this table (its ``exec`` is looked up
        in its globals before the builtins)."""
        import dataclasses

        if "exec" not in vars(dataclasses):
            dataclasses.exec = self.exec  # type: ignore[attr-defined]
            self._installed = dataclasses

    def uninstall(self) -> None:
        if self._installed is not None and vars(self._installed).get("exec") == self.exec:
            del self._installed.exec
        self._installed = None

    def save(self) -> None:
        """Writes the table when this run compiled something new; never raises."""
        if self.path is None or not self.compiled or sys.dont_write_bytecode:
            return
        try:
            payload = marshal.dumps(self.codes)
        except ValueError:  # pragma: no cover - only code objects and bytes are stored
            return
        with contextlib.suppress(OSError):
            write_atomic(self.path, seal(_HEADER, payload, _SUM))


def _read(path: Path) -> dict[bytes, CodeType]:
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except OSError:
        return {}
    payload = unseal(blob, _HEADER, _SUM)
    if payload is None:
        return {}
    try:
        table = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return {}
    if not isinstance(table, dict) or not all(
        type(k) is bytes and type(c) is CodeType for k, c in table.items()
    ):
        return {}
    return table


def main(path: Path | None = None) -> NoReturn:
    """The executable: the CLI, run with the code table (``path``, else :func:`default_path`)
    installed; the table is saved once the output is flushed."""
    table = CodeTable(path or default_path())
    table.install()
    from conformance.cli import run

    run(at_exit=table.save)
