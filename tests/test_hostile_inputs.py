"""Inputs an attacker (a pull request) or an unlucky operator gives the tool: connection strings
in every shape, settings that point elsewhere, symbolic links, devices, alias bombs, huge
numbers, string literals that look like comments, escape sequences, a database that stops
answering. Each case is a regression test for a finding of the trust review.

Connections go to loopback only: a closed local port, a listener started here, or a proxy in
front of the test server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from analysis_helpers import ONE_FUNCTION, make_project
from fake_network import FreezingProxy, Listener, upstream_of

from conformance import cli
from conformance.errors import ConformanceError
from conformance.model import Registry, RegistryEntry

SECRET = "Sup3rSecretPw"
CLOSED = "127.0.0.1:1"  # nothing listens on port 1

PROJECT_FILES = ONE_FUNCTION
REGISTRY = """\
version: 1
workflows:
  - workflow_slug: a
    modal_function_name: ingest_a
    provider: acme
    platform: clay
    payload_type: webhook
    entity_type: company
    raw_table: raw.a_payloads
    writes: [raw.a_payloads]
"""

# Five shapes of connection string, each holding SECRET, each aimed at a closed local port.
DSN_SHAPES = {
    "libpq key=value": f"host=127.0.0.1 port=1 user=u password={SECRET} dbname=d connect_timeout=1",
    "SQLAlchemy URL": f"postgresql+psycopg://u:{SECRET}@{CLOSED}/d?connect_timeout=1",
    "upper-case scheme": f"POSTGRESQL://u:{SECRET}@{CLOSED}/d?connect_timeout=1",
    "mistyped scheme": f"postgresq://u:{SECRET}@{CLOSED}/d",
    "JDBC URL": f"jdbc:postgresql://{CLOSED}/d?user=u&password={SECRET}",
}


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CONFORMANCE_DSN", raising=False)
    monkeypatch.delenv("CONFORMANCE_ALLOW_SETTINGS_DSN", raising=False)
    root = tmp_path / "p"
    root.mkdir()
    make_project(root, PROJECT_FILES)
    (root / "workflow_registry.yaml").write_text(REGISTRY, encoding="utf-8")
    return root


def conformance(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Runs the CLI in this process; returns the exit code and everything it printed."""
    with pytest.raises(SystemExit) as exited:
        cli.main(list(args))
    out = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), out.out + out.err


def _settings(project: Path, extra: str) -> None:
    path = project / "pyproject.toml"
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")


# -- 1. passwords are never printed ---------------------------------------------------------------


@pytest.mark.parametrize("shape", sorted(DSN_SHAPES))
def test_no_connection_string_shape_prints_its_password(
    shape: str, project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = DSN_SHAPES[shape]
    runs = [
        ("check", str(project), "--registry", dsn),
        ("diff", str(project), "--dsn", dsn),
        ("check", dsn),  # taken for the PROJECT argument: click's usage error repeats it
        ("--debug", "check", str(project), "--registry", dsn),
    ]
    for args in runs:
        code, printed = conformance(capsys, *args)
        assert code == 2, (args, printed)
        assert SECRET not in printed, (args, printed)
    monkeypatch.setenv("CONFORMANCE_DSN", dsn)
    code, printed = conformance(capsys, "check", str(project), "--registry", "env")
    assert code == 2 and SECRET not in printed, printed
    monkeypatch.setenv("CONFORMANCE_ALLOW_SETTINGS_DSN", "1")
    _settings(project, f"registry = {dsn!r}\n")
    code, printed = conformance(capsys, "check", str(project))
    assert code == 2 and SECRET not in printed, printed


def test_the_sqlalchemy_form_is_masked_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    from conformance.sources import redact_text

    text = f"Error: Directory 'postgresql+psycopg://u:{SECRET}@db:5432/app' does not exist"
    assert redact_text(text) == (
        "Error: Directory 'postgresql+psycopg://u:***@db:5432/app' does not exist"
    )


def test_an_unencoded_at_sign_in_the_password_is_refused_before_connecting(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = f"postgresql://u:abc@{SECRET}@{CLOSED}/d?connect_timeout=1"
    code, printed = conformance(capsys, "check", str(project), "--registry", dsn)
    assert code == 2
    assert "unencoded '@'" in printed and SECRET not in printed


def test_debug_shows_a_traceback_and_keeps_exit_code_2(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, printed = conformance(capsys, "--debug", "check", str(project), "--registry", "nope.yml")
    assert code == 2
    assert "Traceback" in printed and "registry file not found" in printed


# -- 2. the offline check never connects ----------------------------------------------------------


def test_a_dsn_in_the_settings_is_not_used_unless_the_operator_allows_it(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with Listener() as listener:
        dsn = f"postgresql://u:{SECRET}@127.0.0.1:{listener.port}/d?connect_timeout=1"
        _settings(project, f"registry = {dsn!r}\n")
        code, printed = conformance(capsys, "check", str(project))
        assert code == 2 and "CONFORMANCE_ALLOW_SETTINGS_DSN" in printed, printed
        monkeypatch.setenv("CONFORMANCE_DSN", dsn)
        code, printed = conformance(capsys, "check", str(project), "--offline", "--registry", "env")
        assert code == 2 and "--offline" in printed, printed
        time.sleep(0.2)
        assert listener.accepted == 0
        # the listener does work: allowed, the check connects (and times out talking to it)
        monkeypatch.setenv("CONFORMANCE_ALLOW_SETTINGS_DSN", "1")
        code, printed = conformance(capsys, "check", str(project), "--connect-timeout", "1")
        assert code == 2 and SECRET not in printed
        assert listener.accepted == 1


def test_the_offline_check_reads_the_file_given(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _settings(project, 'registry = "env"\n')
    code, printed = conformance(
        capsys,
        "check",
        str(project),
        "--offline",
        "--registry",
        str(project / "workflow_registry.yaml"),
    )
    assert code == 0, printed


# -- 3. no writes through symbolic links or outside the project -----------------------------------


def test_register_refuses_a_registry_symlink_from_the_settings(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside" / "made-by-conformance.yaml"
    (project / "workflow_registry.yaml").unlink()
    (project / "workflow_registry.yaml").symlink_to(outside)  # dangling, committed
    code, printed = conformance(capsys, "register", str(project), "--all")
    assert code == 2 and "outside the project" in printed, printed
    assert not outside.exists() and not outside.parent.exists()


def test_register_refuses_a_symlink_inside_the_project_too(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = project / "registry" / "real.yaml"
    real.parent.mkdir()
    real.write_text((project / "workflow_registry.yaml").read_text())
    (project / "workflow_registry.yaml").unlink()
    (project / "workflow_registry.yaml").symlink_to(real)
    before = real.read_text()
    (project / "src" / "ingest" / "b.py").write_text(
        "from config import app\n\n@app.function()\ndef ingest_b(client):\n    pass\n"
    )
    code, printed = conformance(capsys, "register", str(project), "--all")
    assert code == 2 and "symbolic link" in printed
    assert real.read_text() == before
    # named on the command line, the operator's choice is followed
    code, printed = conformance(
        capsys,
        "register",
        str(project),
        "--all",
        "--registry",
        str(project / "workflow_registry.yaml"),
    )
    assert code == 0, printed
    assert "ingest_b" in real.read_text()


def test_snapshot_refuses_a_registry_symlink_before_connecting(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "victim.txt"
    target.write_text("keep me\n")
    (project / "workflow_registry.yaml").unlink()
    (project / "workflow_registry.yaml").symlink_to(target)
    dsn = f"postgresql://u:{SECRET}@{CLOSED}/d?connect_timeout=1"
    code, printed = conformance(capsys, "snapshot", str(project), "--dsn", dsn)
    assert code == 2 and "outside the project" in printed
    assert target.read_text() == "keep me\n"


# -- 4. what would crash libcst is refused first --------------------------------------------------


@pytest.mark.parametrize("operator", ["and", "or"])
def test_a_ten_thousand_operand_chain_is_an_analysis_error_not_a_crash(
    operator: str, project: Path
) -> None:
    chain = f" {operator} ".join(["a"] * 10_000)
    (project / "src" / "ingest" / "chain.py").write_text(f"x = {chain}\n")
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "scan", str(project), "--no-cache", "--jobs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "ingest/chain.py:1  expression nested more than 800 levels deep" in result.stdout


# -- 5, 6, 10. registry files that are not what they seem -----------------------------------------


ALIAS_BOMB = """\
version: 1
workflows:
  - workflow_slug: a
    provider: &a [x, x, x, x, x, x, x, x, x]
    platform: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    description: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    payload_type: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
    entity_type: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
    key_column: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
    key_type: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
    writes: [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ALIAS_BOMB, "registry.yaml:10: the registry file expands to more than"),
        (
            "version: 1\nworkflows:\n- workflow_slug: " + "9" * 5000 + "\n",
            "registry.yaml:3: a number",
        ),
        (
            "version: " + "9" * 5000 + "\nworkflows: []\n",
            "registry.yaml:1: a number of 5000 digits",
        ),
        (
            "version: 1\nworkflows: []\nworkflows: []\n",
            "registry.yaml:3: key 'workflows' is given twice",
        ),
        (
            "version: 1\nworkflows: []\n# \x00\n",
            "registry.yaml:3: invalid YAML: unacceptable character",
        ),
    ],
    ids=["alias-bomb", "huge-integer", "huge-version", "duplicate-top-level-key", "nul-byte"],
)
def test_odd_registry_files_are_one_line_errors_with_file_and_line(
    text: str, expected: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    code, printed = conformance(capsys, "check", str(project), "--registry", str(path))
    assert code == 2, printed
    assert expected in printed, printed
    assert len(printed.strip().splitlines()) == 1
    assert time.monotonic() - started < 20


def test_a_duplicate_key_in_a_json_registry_is_an_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "registry.json"
    # not YAML (a tab before a key), so read as JSON, where a repeated key would silently win
    path.write_text('{"version": 1,\t"workflows": [], "workflows": []}\n', encoding="utf-8")
    code, printed = conformance(capsys, "check", str(project), "--registry", str(path))
    assert code == 2 and "given twice" in printed, printed


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_never_read_as_a_registry(
    device: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    code, printed = conformance(capsys, "check", str(project), "--registry", device)
    assert code == 2 and "not a regular file" in printed, printed
    _settings(project, f"registry = {device!r}\n")
    code, printed = conformance(capsys, "check", str(project))
    assert code == 2 and "outside the project" in printed, printed
    (project / "pyproject.toml").write_text(
        '[tool.conformance]\nsource_root = "src"\n', encoding="utf-8"
    )
    (project / "workflow_registry.yaml").unlink()
    (project / "workflow_registry.yaml").symlink_to(device)  # committed
    code, printed = conformance(capsys, "check", str(project))
    assert code == 2 and "outside the project" in printed, printed


def test_a_fifo_registry_does_not_block(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = project / "fifo.yaml"
    os.mkfifo(fifo)
    code, printed = conformance(capsys, "check", str(project), "--registry", str(fifo))
    assert code == 2 and "not a regular file" in printed


# -- 8, 9. only real comments suppress; links out of the project are not read --------------------


def test_a_suppression_inside_a_string_literal_suppresses_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "src" / "ingest" / "b.py").write_text(
        "from config import app\n\n"
        "@app.function()\n"
        'def ingest_b(client, note="# conformance: ignore[CONF001] hidden"):\n'
        '    client.schema("raw").table("b").insert({}).execute()\n'
    )
    code, printed = conformance(capsys, "check", str(project), "--no-cache")
    assert code == 1
    assert "CONF001" in printed and "ingest_b is not registered" in printed


def test_a_bare_ignore_is_reported(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "src" / "ingest" / "a.py"
    path.write_text(
        path.read_text().replace(
            "def ingest_a(client):", "def ingest_a(client):  # conformance: ignore"
        )
    )
    code, printed = conformance(capsys, "check", str(project), "--no-cache")
    assert "CONF015" in printed and "names no code" in printed, printed


def test_a_source_symlink_out_of_the_project_is_not_read(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_text(f'DSN = "postgresql://app:{SECRET}@db/w"\n')
    (project / "src" / "ingest" / "leak.py").symlink_to(outside)
    code, printed = conformance(capsys, "check", str(project), "--no-cache")
    assert "ingest/leak.py:1" in printed
    assert "a symbolic link to a file outside the project" in printed
    assert "CONF017" not in printed and SECRET not in printed


# -- 12. escape sequences and Markdown from analysed strings --------------------------------------


def test_escape_sequences_from_code_are_shown_not_executed(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = project / "src" / "ingest" / "a.py"
    path.write_text(path.read_text().replace('"a_payloads"', '"a\\x1b]0;pwned\\x07_payloads"'))
    for fmt in ("text", "github"):
        code, printed = conformance(capsys, "check", str(project), "--no-cache", "--format", fmt)
        assert "\x1b" not in printed and "\x07" not in printed
        assert "\\x1b]0;pwned\\x07" in printed
    code, printed = conformance(capsys, "scan", str(project), "--no-cache")
    assert "\x1b" not in printed and "\\x1b]0;pwned" in printed
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    registry = project / "workflow_registry.yaml"
    registry.write_text(
        registry.read_text().replace(
            "modal_function_name: ingest_a",
            "modal_function_name: '![x](https://evil.example/p.png)'",
        )
    )
    conformance(capsys, "check", str(project), "--no-cache", "--format", "github")
    markdown = summary.read_text()
    assert "![x](https" not in markdown and "\\!\\[x\\]\\(https" in markdown


# -- 7, 13, 16. the database ----------------------------------------------------------------------


ENTRIES = tuple(
    RegistryEntry(f"workflow-{i}", f"fn_{i}", raw_table=f"raw.t{i}", writes=(f"raw.t{i}",))
    for i in range(10)
)


@pytest.mark.postgres
def test_an_empty_registry_file_cannot_deactivate_every_row(
    pg_db: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.registry.postgres import apply, load_registry_db

    apply(pg_db, Registry(ENTRIES))
    for text in ("", "# nothing\n", "version: 1\nworkflows: []\n"):
        (project / "workflow_registry.yaml").write_text(text)
        code, printed = conformance(capsys, "apply", str(project), "--dsn", pg_db)
        assert code == 2 and "deactivates 10 of the 10 active rows" in printed, printed
        code, printed = conformance(capsys, "emit-sql", str(project), "--dsn", pg_db)
        assert code == 2 and "--allow-mass-deactivation" in printed
    assert all(e.is_active for e in load_registry_db(pg_db).entries)
    code, printed = conformance(
        capsys, "apply", str(project), "--dsn", pg_db, "--allow-mass-deactivation", "--yes"
    )
    assert code == 0, printed
    assert not any(e.is_active for e in load_registry_db(pg_db).entries)


@pytest.mark.postgres
def test_line_breaks_in_values_are_escaped_in_emitted_sql_and_stored_exactly(pg_db: str) -> None:
    import psycopg

    from conformance import sqlgen
    from conformance.registry.postgres import load_registry_db

    tricky = "first\r\nsecond\nthird\rfourth\u2028fifth\u2029sixth\x85seventh\x0beighth\\ninth'"
    entry = RegistryEntry("tricky", "fn", description=tricky)
    script = sqlgen.script([entry])
    literal_lines = [line for line in script.splitlines() if "first" in line]
    assert len(literal_lines) == 1  # the value did not break the line
    for char in "\r\u2028\u2029\x85\x0b":
        assert char not in script
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute(script.replace("\r\n", "\n"))  # a line-ending conversion changes nothing
    assert load_registry_db(pg_db).entries[0].description == tricky


@pytest.mark.postgres
def test_apply_respects_a_read_only_database(pg_db: str) -> None:
    import psycopg
    from psycopg import sql

    from conformance.registry.postgres import apply, load_registry_db

    apply(pg_db, Registry(ENTRIES[:1]))
    name = psycopg.conninfo.conninfo_to_dict(pg_db)["dbname"]
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(
                sql.Identifier(str(name))
            )
        )
    with pytest.raises(ConformanceError, match="read-only transactions.*nothing was changed"):
        apply(pg_db, Registry(ENTRIES))
    assert [e.workflow_slug for e in load_registry_db(pg_db).entries] == ["workflow-0"]


# -- 11. a server that stops answering -----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("operation", ["read", "apply"])
def test_a_server_that_stops_answering_after_connect_is_given_up(
    operation: str, pg_db: str
) -> None:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from conformance.registry.postgres import Timeouts, apply, load_registry_db

    params = conninfo_to_dict(pg_db)
    with FreezingProxy(upstream_of(pg_db), freeze_after=1) as proxy:
        dsn = make_conninfo(
            "",
            host="127.0.0.1",
            port=proxy.port,
            dbname=params["dbname"],
            user=params.get("user") or "postgres",
            password=params.get("password") or "",
            sslmode="disable",
        )
        timeouts = Timeouts(connect=2, statement=0.5, grace=1.0)
        started = time.monotonic()
        with pytest.raises(ConformanceError, match=r"no answer within 1\.5s") as failed:
            if operation == "read":
                load_registry_db(dsn, timeouts=timeouts)
            else:
                apply(dsn, Registry(ENTRIES), timeouts=timeouts)
        assert proxy.frozen.is_set()
        assert time.monotonic() - started < 10
        if operation == "apply":
            assert "nothing was changed" in str(failed.value)
