"""Shared fixtures. PostgreSQL: ``CONFORMANCE_TEST_DSN`` if set, else a throwaway pgserver.

Without a server the PostgreSQL tests skip locally and fail in CI (``CI`` set): a skipped
database test in CI would hide exactly what it is there to catch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest


@dataclass(frozen=True)
class PgServer:
    """A server the tests may create databases on; ``data_dir`` only when we started it."""

    dsn: str
    data_dir: Path | None = None
    start_seconds: float = 0.0


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {reason}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """Returns the session's PostgreSQL server (skips, or fails in CI, without one)."""
    dsn = os.environ.get("CONFORMANCE_TEST_DSN")
    if dsn:
        yield PgServer(dsn)
        return
    runtime = None
    if not os.environ.get("XDG_RUNTIME_DIR"):
        # pgserver asks platformdirs for a runtime dir, which warns unless one is set (mode 0700)
        runtime = tempfile.mkdtemp(prefix="conformance-xdg-")
        os.environ["XDG_RUNTIME_DIR"] = runtime
    # not under pytest's basetemp: a concurrent pytest run prunes old basetemps, server and all
    data_dir = Path(tempfile.mkdtemp(prefix="conformance-pg-"))
    started = time.monotonic()
    try:
        import pgserver

        server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    except Exception as exc:  # any failure to start means: no server here
        _remove(data_dir, runtime)
        _unavailable(f"pgserver could not start ({type(exc).__name__}: {exc})")
    try:
        yield PgServer(server.get_uri(), data_dir, time.monotonic() - started)
    finally:
        server.cleanup()
        _remove(data_dir, runtime)


def _remove(data_dir: Path, runtime: str | None) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)
    if runtime is not None:
        shutil.rmtree(runtime, ignore_errors=True)
        os.environ.pop("XDG_RUNTIME_DIR", None)


@pytest.fixture(scope="session")
def pg_dsn(pg_server: PgServer) -> str:
    """Returns a DSN of the session's server (its maintenance database)."""
    return pg_server.dsn


def with_dbname(dsn: str, dbname: str) -> str:
    """Returns ``dsn`` pointing at another database, in the same (URL or key=value) form."""
    if dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(dsn)
        return urlunsplit(parts._replace(path="/" + dbname))
    from psycopg.conninfo import make_conninfo

    return make_conninfo(dsn, dbname=dbname)


@pytest.fixture
def pg_db(pg_dsn: str) -> Iterator[str]:
    """Returns the DSN of a fresh, empty database, dropped after the test."""
    import psycopg
    from psycopg import sql

    name = f"conformance_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_dbname(pg_dsn, name)
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI (``CI`` set) a skipped test is a failure: nothing may quietly not run there."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI, which counts as a failure: {reason}"
