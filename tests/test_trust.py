"""Nothing a pull request can commit is executed: crafted cache entries, tracked or linked cache
directories.

The attack: anyone who can push a branch can ``git add -f`` a file under ``.conformance_cache/``
named like an entry the tool reads for one of the project's files. Each test plants entries
under the real keys of a copy of examples/warehouse (per-file summaries, the project and
increments entries, the registry file's entry): pickles whose ``__reduce__`` writes a marker
file, framed exactly as the old format framed pickles, and new-format entries of the wrong
shape. Every surface then runs (``scan``, ``check``, the process pool, both commit hooks, the
pytest plugin): the marker never appears and the results equal a clean run's.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import cache, records
from conformance.analysis.project import analyze_project
from conformance.analysis.summaries import POOL_THRESHOLD
from conformance.analysis.values import ModuleSummary
from conformance.config import load_config
from conformance.discovery import discover
from conformance.fileio import seal

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "warehouse"
SRC = "modal-functions/src"


class Marker:
    """Unpickling this writes ``path``: the attacker's code running."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.write_text, (self.path, "the cache ran code\n"))


def copy_example(dest: Path, extra_files: int = 0) -> Path:
    """A copy of examples/warehouse (without any cache), with ``extra_files`` more ingest
    modules (enough for the process pool)."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".conformance_cache"))
    for i in range(extra_files):
        (dest / SRC / "ingest" / f"extra_{i}.py").write_text(
            "from config import app\n\n\n"
            f"@app.function()\ndef extra_{i}(client):\n"
            f'    client.schema("raw").table("extra_{i}").insert({{}}).execute()\n'
        )
    return dest


def real_keys(project: Path, tmp: Path) -> list[str]:
    """The names of every entry a run of ``check`` reads for ``project``: those a cold run
    writes (it reads each before writing it), found in a scratch cache directory."""
    scratch = tmp / "scratch-cache"
    env = {**os.environ, "CONFORMANCE_CACHE_DIR": str(scratch)}
    cli("check", str(project), "--jobs", "1", env=env)
    (root,) = [p for p in scratch.iterdir() if p.is_dir()]
    keys = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    shutil.rmtree(scratch)
    return keys


def summary_key(project: Path, rel: str) -> str:
    """The key of one file's summary, as summaries.py computes it."""
    config = load_config(project)
    data = (config.source_root / rel).read_bytes()
    return cache.digest(config.analysis_key().encode(), rel.encode(), data)


def project_keys(project: Path) -> tuple[str, str]:
    """The keys of the project entry and the increments entry, as project.py computes them."""
    from conformance.analysis import migrations

    config = load_config(project)
    listing = "\n".join(
        [
            *sorted(f.rel for f in discover(config).values()),
            *(m.key for m in migrations.sources(config)),
        ]
    )
    key = cache.digest(b"project", config.analysis_key().encode(), listing.encode())
    return key, cache.digest(b"increments", key.encode())


def old_format(key: str, marker: Path) -> bytes:
    """An entry as format 6 wrote it: key line, blake2b-256 of the payload, a pickle."""
    return seal(key.encode() + b"\n", pickle.dumps(Marker(marker), protocol=5))


def new_format_lookalikes(key: str, marker: Path) -> list[bytes]:
    """Entries with the new framing and JSON text that must still never be trusted."""
    smuggled = pickle.dumps(Marker(marker), protocol=5).decode("latin-1")
    texts = [
        # a tag no union has, carrying the pickle as text
        [records.SCHEMA, "ModuleSummary", ["m", "f.py", False, [["x", ["Marker", smuggled]]]]],
        # a class name outside the allowlist at the top
        [records.SCHEMA, "Marker", [smuggled]],
        # the right shape with wrong types: a list where a string goes, a string for a bool
        [records.SCHEMA, "ModuleSummary", [["m"], "f.py", "false", [], [], [], [], [], [], None]],
        # references to records that do not exist, or to the record itself
        [records.SCHEMA, "ModuleSummary", 0],
        [records.SCHEMA, "ProjectEntry", [[["a.py", "d"]], 7]],
    ]
    return [seal(key.encode() + b"\n", json.dumps(t).encode()) for t in texts]


def plant(root: Path, keys: list[str], marker: Path, variant: int = 0) -> None:
    """Writes a crafted entry under every key: the old pickle framing, or (variant > 0) one
    of the new-format look-alikes."""
    root.mkdir(parents=True, exist_ok=True)
    for key in keys:
        blob = (
            old_format(key, marker)
            if variant == 0
            else new_format_lookalikes(key, marker)[(variant - 1) % 5]
        )
        (root / key).write_bytes(blob)


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The executable (``python -m conformance`` runs ``cli.run``, as the console script)."""
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else os.environ.copy(),
        cwd=cwd,
        timeout=300,
        check=False,
    )


def default_env() -> dict[str, str]:
    """The environment without $CONFORMANCE_CACHE_DIR: the cache is the project's own."""
    return {k: v for k, v in os.environ.items() if k != "CONFORMANCE_CACHE_DIR"}


def outputs(
    project: Path, out: Path, *extra: str, env: dict[str, str] | None = None
) -> dict[str, object]:
    """scan and check of ``project`` as JSON, with exit codes."""
    got: dict[str, object] = {}
    for command in ("scan", "check"):
        report = out / f"{command}.json"
        done = cli(command, str(project), "--format", "json", "-o", str(report), *extra, env=env)
        assert done.returncode in (0, 1), done.stderr
        got[command] = (done.returncode, json.loads(report.read_text()))
    return got


@pytest.fixture()
def marker(tmp_path: Path) -> Path:
    return tmp_path / "MARKER-the-cache-ran-code"


@pytest.mark.parametrize(
    "variant", [0, 1, 2, 3, 4, 5], ids=["pickle", "tag", "class", "types", "ref", "project-ref"]
)
def test_crafted_entries_under_the_real_keys_never_run(
    tmp_path: Path, marker: Path, variant: int
) -> None:
    project = copy_example(tmp_path / "warehouse")
    clean = outputs(project, tmp_path, "--no-cache")
    keys = real_keys(project, tmp_path)
    summary = summary_key(project, "ingest/company_tags.py")
    project_key, increments_key = project_keys(project)
    assert {summary, project_key, increments_key} <= set(keys)
    assert len(keys) >= 40  # every summary, the two project entries and the registry file's
    root = cache.cache_root(project)
    plant(root, keys, marker, variant)
    for jobs in ("1", "2"):
        assert outputs(project, tmp_path, "--jobs", jobs, env=default_env()) == clean
        assert not marker.exists()
    # the crafted entries were replaced by good ones: a warm run uses them
    warm = cli(
        "scan",
        str(project),
        "--timings",
        "--format",
        "json",
        "-o",
        str(tmp_path / "w.json"),
        env=default_env(),
    )
    assert "parse" not in warm.stderr and not marker.exists()


def test_the_process_pool_never_runs_a_crafted_entry(tmp_path: Path, marker: Path) -> None:
    project = copy_example(tmp_path / "warehouse", extra_files=POOL_THRESHOLD + 10)
    clean = outputs(project, tmp_path, "--no-cache", "--jobs", "1")
    keys = real_keys(project, tmp_path)
    assert len(keys) >= POOL_THRESHOLD + 10
    plant(cache.cache_root(project), keys, marker)
    assert outputs(project, tmp_path, "--jobs", "2", env=default_env()) == clean
    assert not marker.exists()
    plant(cache.cache_root(project), keys, marker, variant=3)
    assert outputs(project, tmp_path, "--jobs", "2", env=default_env()) == clean
    assert not marker.exists()


def test_the_library_turns_crafted_entries_into_misses(
    tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, with the pool threshold lowered: every summary goes through a worker."""
    monkeypatch.delenv("CONFORMANCE_CACHE_DIR", raising=False)
    monkeypatch.setattr("conformance.analysis.summaries.POOL_THRESHOLD", 2)
    project = copy_example(tmp_path / "warehouse")
    config = load_config(project)
    clean = analyze_project(config, use_cache=False, jobs=1)
    keys = real_keys(project, tmp_path)
    for variant in range(6):
        plant(cache.cache_root(project), keys, marker, variant)
        got = analyze_project(config, jobs=2)
        assert got == clean and got.errors == clean.errors and not marker.exists()
        assert got.notices == ()


def test_a_hand_edited_entry_with_wrong_types_is_ignored_and_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONFORMANCE_CACHE_DIR", raising=False)
    project = copy_example(tmp_path / "warehouse")
    config = load_config(project)
    cold = analyze_project(config)
    rel = "ingest/company_tags.py"
    key = summary_key(project, rel)
    path = cache.cache_root(project) / key
    header = key.encode() + b"\n"
    entry = json.loads(path.read_bytes()[len(header) + 32 :])
    assert entry[1] == "ModuleSummary"
    entry[2][2] = 1  # is_package: an int where a bool goes
    path.write_bytes(seal(header, json.dumps(entry).encode()))  # checksum made to match
    assert cache.load(path.parent, key, ModuleSummary) is None
    project_key, _ = project_keys(project)
    (path.parent / project_key).unlink()  # so the summaries are read again
    again = analyze_project(config)
    assert again == cold and "parse" in again.timings
    rebuilt = cache.load(path.parent, key, ModuleSummary)
    assert rebuilt is not None and rebuilt.file == rel


def test_an_entry_is_read_only_from_a_regular_file_not_through_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    good = "ab" + "1" * 38
    from conformance.model import Location

    cache.store(root, good, Location("a.py", 1))
    link = "ab" + "2" * 38
    os.symlink(root / good, root / link)
    assert cache.load(root, good, Location) == Location("a.py", 1)
    assert cache.load(root, link, Location) is None  # O_NOFOLLOW
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / ("ab" + "3" * 38))
        assert cache.load(root, "ab" + "3" * 38, Location) is None  # no hang, not regular
    monkeypatch.setattr(cache, "MAX_ENTRY", 16)
    assert cache.load(root, good, Location) is None  # over the size cap


# -- a cache directory a commit can change --------------------------------------------------------


def git(root: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=root,
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@needs_git
def test_a_cache_directory_git_tracks_is_neither_read_nor_written(
    tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONFORMANCE_CACHE_DIR", raising=False)
    project = copy_example(tmp_path / "warehouse")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "project")
    config = load_config(project)
    cold = analyze_project(config)
    assert cold.notices == ()
    root = cache.cache_root(project)
    keys = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    plant(root, keys, marker)
    git(project, "add", "-f", ".conformance_cache")
    git(project, "commit", "-q", "-m", "a cache, committed")
    before = {p.name: p.read_bytes() for p in root.iterdir()}
    tracked = analyze_project(config)
    assert tracked == cold and "parse" in tracked.timings  # nothing read
    (notice,) = tracked.notices
    assert "not using the cache" in notice and "git tracks" in notice
    assert {p.name: p.read_bytes() for p in root.iterdir()} == before  # nothing written
    assert not marker.exists()
    done = cli("check", str(project), env=default_env())
    assert done.stderr.count("conformance: not using the cache") == 1, done.stderr
    assert not marker.exists()
    git(project, "rm", "-r", "-q", "--cached", ".conformance_cache")
    git(project, "commit", "-q", "-m", "no cache")
    untracked = analyze_project(config)
    assert untracked.notices == () and untracked == cold  # used again (and rebuilt)
    assert not marker.exists()


@needs_git
def test_a_cache_directory_outside_the_work_tree_or_in_the_git_directory_is_used(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".git" / "conformance-cache").mkdir()
    assert cache.git_tracks(repo / ".git" / "conformance-cache") is None
    (tmp_path / "elsewhere").mkdir()
    assert cache.git_tracks(tmp_path / "elsewhere") is None
    (repo / "c").mkdir()
    (repo / "c" / "f").write_text("x")
    assert cache.git_tracks(repo / "c") is None  # present, not tracked
    git(repo, "add", "c/f")
    assert "git tracks 1 file" in (cache.git_tracks(repo / "c") or "")


def test_a_symlinked_cache_directory_is_refused_unless_the_operator_named_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONFORMANCE_CACHE_DIR", raising=False)
    project = copy_example(tmp_path / "warehouse")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / ".conformance_cache").symlink_to(elsewhere, target_is_directory=True)
    config = load_config(project)
    analysis = analyze_project(config)
    (notice,) = analysis.notices
    assert ".conformance_cache is a symbolic link" in notice
    assert list(elsewhere.iterdir()) == []  # nothing written through the link
    done = cli("scan", str(project), env=default_env())
    assert "conformance: not using the cache: .conformance_cache is a symbolic link" in done.stderr
    # the versioned directory as a link, inside a real .conformance_cache
    (project / ".conformance_cache").unlink()
    (project / ".conformance_cache").mkdir()
    cache.cache_root(project).symlink_to(elsewhere, target_is_directory=True)
    assert "is a symbolic link" in analyze_project(config).notices[0]
    assert list(elsewhere.iterdir()) == []
    # $CONFORMANCE_CACHE_DIR may be a link: the operator chose it
    operator = tmp_path / "operator-cache"
    operator.symlink_to(elsewhere, target_is_directory=True)
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(operator))
    assert analyze_project(config).notices == ()
    assert [p.name for p in elsewhere.iterdir()] == [cache.cache_root(project).name]


def test_a_gitignore_is_written_only_into_directories_the_tool_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_example(tmp_path / "warehouse")
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(project))  # CONFORMANCE_CACHE_DIR=.
    analyze_project(load_config(project))
    assert not (project / ".gitignore").exists()
    assert (cache.cache_root(project) / ".gitignore").read_text().strip().endswith("*")
    made = tmp_path / "new" / "cache"
    monkeypatch.setenv("CONFORMANCE_CACHE_DIR", str(made))
    analyze_project(load_config(project))
    assert (made / ".gitignore").is_file() and (cache.cache_root(project) / ".gitignore").is_file()
    assert not (made.parent / ".gitignore").exists()


# -- the commit hooks and the pytest plugin -------------------------------------------------------

pytest_plugins = ["pytester"]


@needs_git
def test_commit_hooks_never_run_a_committed_cache_entry(tmp_path: Path, marker: Path) -> None:
    from test_precommit import (
        CONFORMANCE,
        PRE_COMMIT,
        install_plain_hook,
        local_hook_config,
        offline_env,
        output,
        run,
    )

    if not PRE_COMMIT.exists() or not CONFORMANCE.exists():
        pytest.skip("pre-commit or conformance is not installed in the venv")
    env = offline_env(tmp_path)
    root = copy_example(tmp_path / "repo")
    # the example ships drift and broken files: the hooks refuse, with the clean run's findings
    clean = cli("check", ".", "--no-cache", env=env, cwd=root).stdout.strip()
    assert "CONF016" in clean
    # pre-commit sets PRE_COMMIT=1: CONF001 then offers its conformance-fix hook
    clean_under_pre_commit = cli(
        "check", ".", "--no-cache", env={**env, "PRE_COMMIT": "1"}, cwd=root
    ).stdout.strip()
    keys = real_keys(root, tmp_path)
    run(["git", "init", "-q", "-b", "main"], root, env)
    for key, value in [("user.name", "T"), ("user.email", "t@example.invalid")]:
        run(["git", "config", "--local", key, value], root, env)
    (root / ".pre-commit-config.yaml").write_text(local_hook_config())
    run([str(PRE_COMMIT), "install"], root, env)
    plant(cache.cache_root(root), keys, marker)
    run(["git", "add", "-A"], root, env)
    run(["git", "add", "-f", ".conformance_cache"], root, env)  # the attack
    first = run(["git", "commit", "-q", "-m", "with a crafted cache"], root, env, check=False)
    assert first.returncode == 1, output(first)
    assert clean_under_pre_commit in output(first)
    # the hook checks what is staged (--staged), with its cache in the git directory: the
    # committed cache directory is not even looked at
    assert (root / ".git" / "conformance-cache").is_dir()
    assert not marker.exists()

    # the plain git hook: a staged snapshot, with its cache in the git directory
    run([str(PRE_COMMIT), "uninstall"], root, env)
    install_plain_hook(root)
    hook_cache = root / ".git" / "conformance-cache" / cache.cache_root(root).name
    plant(hook_cache, keys, marker)
    second = run(["git", "commit", "-q", "-m", "plain hook"], root, env, check=False)
    assert second.returncode == 1 and "commit refused" in output(second), output(second)
    assert clean in output(second)
    assert not marker.exists()
    plant(hook_cache, keys, marker, variant=3)
    third = run(["git", "commit", "-q", "-m", "plain hook"], root, env, check=False)
    assert third.returncode == 1 and clean in output(third)
    assert not marker.exists()


def test_the_pytest_plugin_never_runs_a_crafted_entry(
    pytester: pytest.Pytester, marker: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CONFORMANCE_CACHE_DIR", raising=False)
    clean_dir = copy_example(tmp_path / "clean")
    project = pytester.path
    for item in clean_dir.iterdir():
        target = project / item.name
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copyfile(item, target)
    keys = real_keys(project, tmp_path)

    def outcomes(where: Path) -> dict[str, int]:
        result = pytester.runpytest_inprocess(
            "-p", "no:hypothesispytest", "--conformance", f"--conformance-project={where}"
        )
        return result.parseoutcomes()

    clean = outcomes(clean_dir)
    plant(cache.cache_root(project), keys, marker)
    assert outcomes(project) == clean
    assert not marker.exists()
    plant(cache.cache_root(project), keys, marker, variant=2)
    assert outcomes(project) == clean
    assert not marker.exists()


@needs_git
def test_the_pytest_plugin_shows_the_notice(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONFORMANCE_CACHE_DIR", raising=False)
    project = copy_example(pytester.path / "warehouse")
    git(project, "init", "-q")
    analyze_project(load_config(project))
    git(project, "add", "-A")
    git(project, "add", "-f", ".conformance_cache")
    git(project, "commit", "-q", "-m", "committed cache")
    result = pytester.runpytest_inprocess(
        "-p", "no:hypothesispytest", "--conformance", f"--conformance-project={project}"
    )
    result.stdout.fnmatch_lines(["*conformance: not using the cache: *git tracks*"])


# -- the codec: round trips and hostile bytes -----------------------------------------------------


def _example_summaries() -> list[ModuleSummary]:
    from conformance.analysis.parse import summarize_file as summarize

    config = load_config(EXAMPLE)
    files = discover(config)
    return [
        summarize(f.path.read_bytes(), f.module, f.rel, f.is_package)
        for f in sorted(files.values(), key=lambda f: f.rel)
    ]


SUMMARIES = _example_summaries()
PAYLOADS = [records.encode(s) for s in SUMMARIES]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SUMMARIES))), st.randoms(use_true_random=False))
def test_summaries_of_real_files_round_trip(index: int, rng: object) -> None:
    """decode(encode(x)) == x for the example's summaries, and for those of damaged copies."""
    import random

    from fuzz_support import mutate

    from conformance.analysis.parse import summarize_file as summarize

    summary = SUMMARIES[index]
    assert records.decode(records.encode(summary) or b"", ModuleSummary) == summary
    assert isinstance(rng, random.Random)
    source = mutate(
        (load_config(EXAMPLE).source_root / summary.file).read_bytes(),
        rng,
        [p.read_bytes() for p in (EXAMPLE / SRC / "ingest").glob("*.py")][:5],
    )
    damaged = summarize(source, summary.module, summary.file, summary.is_package)
    payload = records.encode(damaged)
    assert payload is not None and records.decode(payload, ModuleSummary) == damaged


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_decoding_random_bytes_never_raises(data: bytes) -> None:
    for cls in (ModuleSummary, records_class("ProjectEntry"), records_class("Registry")):
        assert records.decode(data, cls) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(range(len(PAYLOADS))),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
    st.integers(0, 10**6),
    JSON,
)
def test_decoding_mutated_entries_never_raises(
    index: int, flips: list[tuple[int, int]], cut: int, graft: object
) -> None:
    """Bytes flipped, the text cut short, or a JSON subtree replaced by anything: decode
    returns None or a ModuleSummary, and never raises."""
    payload = bytearray(PAYLOADS[index] or b"")
    for where, value in flips:
        payload[where % len(payload)] = value
    for blob in (bytes(payload), bytes(payload[: cut % (len(payload) + 1)])):
        got = records.decode(blob, ModuleSummary)
        assert got is None or type(got) is ModuleSummary
    tree = json.loads(PAYLOADS[index] or b"")
    node = tree
    for step in flips:  # walk down a path the flips choose, then graft
        if not isinstance(node, list) or not node:
            break
        child = node[step[0] % len(node)]
        if not isinstance(child, list):
            node[step[0] % len(node)] = graft
            break
        node = child
    else:
        if isinstance(node, list) and node:
            node[cut % len(node)] = graft
    got = records.decode(json.dumps(tree).encode(), ModuleSummary)
    assert got is None or type(got) is ModuleSummary


def records_class(name: str) -> type:
    import importlib

    for module, names in records.ALLOWED.items():
        if name in names:
            cls = getattr(importlib.import_module(module), name)
            assert isinstance(cls, type)
            return cls
    raise KeyError(name)
