"""Turns an Analysis into the compact form the hand-written expected.json files use."""

from __future__ import annotations

import io
import subprocess
import textwrap
from collections.abc import Iterable, Mapping
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from conformance import cli
from conformance.model import Analysis


def evidence(analysis: Analysis) -> dict[str, list[str]]:
    """Every write of every function as its evidence chain reads, by ``file::function``:
    ``schema.table operation via VIA at FILE:LINE``, then the call path that reaches it
    (``< caller at FILE:LINE``), innermost call last."""
    out: dict[str, list[str]] = {}
    for f in analysis.functions:
        lines = []
        for w in f.writes:
            chain = "".join(f" < {s.function} at {s.location}" for s in w.call_path)
            lines.append(f"{w.qualified_name} {w.operation} via {w.via} at {w.location}{chain}")
        out[f.test_id] = sorted(lines)
    return out


def normalise(analysis: Analysis) -> dict[str, Any]:
    functions = []
    for f in analysis.functions:
        functions.append(
            {
                "name": f.name,
                "file": f.file,
                "kind": f.kind,
                "app": f.app_name,
                "deployed": f.deployed,
                "deployed_by": list(f.deployed_by),
                "modal_name": f.modal_name,
                "writes": sorted({(w.schema, w.table, w.operation) for w in f.writes}),
                "unresolved": len({u.location for u in f.unresolved}),
                "rpc": sorted({r.name or "?" for r in f.rpc}),
                "invokes": sorted({i.target for i in f.invokes}),
            }
        )
    functions.sort(key=lambda f: (f["file"], f["name"]))
    for f in functions:
        f["writes"] = [list(w) for w in f["writes"]]
    return {"functions": functions, "errors": sorted({e.file for e in analysis.errors})}


def make_project(root: Path, files: dict[str, str], settings: str = "") -> Path:
    """Writes a small project: ``files`` maps source-root-relative paths to source text."""
    (root / "pyproject.toml").write_text(
        '[tool.conformance]\nsource_root = "src"\n' + settings, encoding="utf-8"
    )
    for rel, text in files.items():
        path = root / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


# A minimal Modal project's files, shared by the surface tests (pre-commit, pytest plugin).
# a project of one ingest function that writes one raw table (for make_project)
ONE_FUNCTION = {
    "config.py": "import modal\napp = modal.App('wh')\n",
    "app.py": "from ingest.a import ingest_a\n",
    "ingest/a.py": """
        from config import app

        @app.function()
        def ingest_a(client):
            client.schema("raw").table("a_payloads").insert({}).execute()
    """,
}

MINI_CONFIG = """\
import modal

app = modal.App("mini-ingest")
image = modal.Image.debian_slim()
"""

MINI_FUNCTION = """\
from config import app, image


@app.function(image=image)
def ingest_{name}(client, row: dict) -> None:
    client.schema("raw").from_("{name}_payloads").insert(row).execute()
"""


def run_cli(
    args: Iterable[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    unset: Iterable[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Runs the command line in this process from ``cwd``, with ``env`` on top of the
    environment and ``unset`` removed from it; the result as a finished process's."""
    args = list(args)
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
        patch.chdir(cwd)
        for name in unset:
            patch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        try:
            cli.main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def execute(dsn: str, text: str) -> None:
    """Runs SQL text in its own autocommitted connection to ``dsn``."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(text)
