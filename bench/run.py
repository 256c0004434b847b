#!/usr/bin/env python3
"""Times conformance against bare parsing on generated corpora and prints Markdown tables.

    python bench/run.py --scales 1,10,50 --repeat 5 [--out bench/RESULTS.md]

For each scale it (re)generates ``bench/corpus/xN`` when missing or stale, sets every row up,
then runs ``--repeat`` rounds (at least 5) of one run per row, so that a stretch of slowness on
the machine falls on every row alike. It prints one table per scale: min and median seconds, and
the ratio of the row's min to the min of the bare single-process libcst parse of the same files.
A row that cannot run prints ``n/a (reason)``; the runner itself does not fail.

Rows (see bench/README.md):
  floor        fresh interpreter: walk + read + hash every .py file (whole process)
  ast          ast.parse of every file (read + parse, in a fresh process, imports excluded)
  libcst       libcst.parse_module of every file, one process (the denominator)
  libcst-pool  the same in a 2-process fork pool, including the pool's start-up
  scan-*       ``conformance scan PROJECT --format json`` as a subprocess (whole-process wall time):
               cold (--no-cache), cold-cache (empty cache dir), warm (hot cache), one (one ingest
               file changed since the cache was filled: a 400-line module with 4 Modal
               functions), one-largest (the same with the largest ingest module)
  check-*      the same five for
               ``conformance check PROJECT --registry PROJECT/workflow_registry.yaml``
  fixit        Fixit 2 with one no-op rule, when ``fixit`` is importable (--fixit-python)
  rss          peak RSS of the cold scan (os.wait4 rusage of each run)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
MANIFEST = ".bench_manifest.json"
MIN_REPEAT = 5
EDIT_MARK = b"\nBENCH_EDIT = "

BASELINE_ROWS = ("floor", "ast", "libcst", "libcst-pool")
TOOL_ROWS = (
    "scan-cold",
    "scan-cold-cache",
    "scan-warm",
    "scan-one",
    "scan-one-largest",
    "check-cold",
    "check-cold-cache",
    "check-warm",
    "check-one",
    "check-one-largest",
    "rss",
)
ALL_ROWS = BASELINE_ROWS + TOOL_ROWS + ("fixit",)
GROUPS = {"baseline": BASELINE_ROWS, "tool": TOOL_ROWS, "all": ALL_ROWS}
LABELS = {
    "floor": "floor: start + walk + read + hash (whole process)",
    "ast": "`ast.parse`, 1 process",
    "libcst": "bare libcst `parse_module`, 1 process",
    "libcst-pool": "bare libcst, 2-process fork pool (incl. start-up)",
    "scan-cold": "`scan` cold (`--no-cache`)",
    "scan-cold-cache": "`scan` cold, empty cache",
    "scan-warm": "`scan` warm (nothing changed)",
    "scan-one": "`scan`, one ingest file changed",
    "scan-one-largest": "`scan`, the largest ingest file changed",
    "check-cold": "`check` cold (`--no-cache`)",
    "check-cold-cache": "`check` cold, empty cache",
    "check-warm": "`check` warm (nothing changed)",
    "check-one": "`check`, one ingest file changed",
    "check-one-largest": "`check`, the largest ingest file changed",
    "fixit": "Fixit 2, one no-op rule",
    "rss": "peak RSS of the cold scan (MB)",
}

FLOOR_SOURCE = """
import hashlib, os, sys
n = 0
for dirpath, dirnames, filenames in os.walk(sys.argv[1]):
    dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
    for name in filenames:
        if name.endswith(".py"):
            with open(os.path.join(dirpath, name), "rb") as fh:
                hashlib.sha256(fh.read()).digest()
            n += 1
"""


# -- in-process measurements (run in a fresh child: ``run.py --measure MODE PROJECT``) ------------


def py_files(project: Path) -> list[str]:
    """Returns every ``.py`` file under ``project`` (hidden and cache directories skipped)."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(project):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py"))
    return out


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _libcst_parse_file(path: str) -> int:
    import libcst

    libcst.parse_module(_read(path))
    return 1


def measure(mode: str, project: Path) -> float:
    """Returns the seconds that ``mode`` takes over ``project`` (imports and the walk excluded)."""
    files = py_files(project)
    if mode == "ast":
        import ast

        started = time.perf_counter()
        for path in files:
            ast.parse(_read(path), filename=path)
        return time.perf_counter() - started
    if mode == "libcst":
        import libcst

        started = time.perf_counter()
        for path in files:
            libcst.parse_module(_read(path))
        return time.perf_counter() - started
    if mode == "libcst-pool":
        import multiprocessing

        import libcst  # noqa: F401 - imported before the fork, like a tool would

        started = time.perf_counter()
        ctx = multiprocessing.get_context("fork")
        pool = ctx.Pool(2)
        chunksize = max(1, len(files) // 16)
        for _ in pool.imap_unordered(_libcst_parse_file, files, chunksize=chunksize):
            pass
        pool.close()
        pool.join()
        return time.perf_counter() - started
    raise ValueError(f"unknown mode {mode}")


# -- running children ----------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    returncode: int
    maxrss_mb: float
    stderr: str
    stdout_path: Path
    timed_out: bool = False


def child_env(extra: dict[str, str] | None = None, keep_env: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    if not keep_env:
        # Users have bytecode caches; a benchmark without them measures compilation.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("CONFORMANCE_REGISTRY", None)
    env.update(extra or {})
    return env


def run_child(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float, stdout_path: Path
) -> Run:
    """Runs ``cmd`` and returns its wall time, exit code and peak RSS (from ``os.wait4``)."""
    with open(stdout_path, "wb") as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        # its own process group, so that a timeout also ends the pool workers it started
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    # ru_maxrss is in KiB on Linux (bytes on macOS)
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return Run(
        seconds, proc.returncode, usage.ru_maxrss / scale, stderr, stdout_path, timed_out.is_set()
    )


def failure(run: Run, ok_codes: tuple[int, ...] = (0, 1)) -> str | None:
    """Returns why ``run`` failed, or None when it looks like a normal run of the tool."""
    if run.timed_out:
        return f"timed out after {run.seconds:.0f} s"
    last = next((line.strip() for line in reversed(run.stderr.splitlines()) if line.strip()), "")
    if "Traceback (most recent call last)" in run.stderr:
        return f"crashed: {last[:160]}"
    if "No module named" in run.stderr:
        return last[:160]
    if run.returncode == 1 and run.stdout_path.stat().st_size == 0:
        return f"exit 1 without output: {last[:160]}" if last else "exit 1 without output"
    if run.returncode not in ok_codes:
        return f"exit {run.returncode}: {last[:160]}" if last else f"exit {run.returncode}"
    return None


# -- rows ----------------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    values: list[float] = field(default_factory=list)
    error: str | None = None
    unit: str = "s"
    note: str = ""


class BenchFailure(Exception):
    """A row that cannot run: its reason is printed in the table instead of figures."""


@dataclass
class Sampler:
    """One row: ``setup`` once (untimed), then ``sample(i)`` once per round, seconds back."""

    row: Row
    sample: Callable[[int], float]
    setup: Callable[[], None] | None = None


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.repeat = args.repeat
        self.timeout = args.timeout
        self.tmp = Path(tempfile.mkdtemp(prefix="conformance-bench-"))
        self.notes: list[str] = []
        self.described = False

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    # baseline rows -----------------------------------------------------------------------------
    def floor(self, project: Path) -> Sampler:
        cmd = [sys.executable, "-c", FLOOR_SOURCE, str(project)]
        env = child_env(keep_env=self.args.keep_env)

        def sample(_: int) -> float:
            run = run_child(cmd, env, project, self.timeout, self.tmp / "floor.out")
            reason = failure(run, (0,))
            if reason:
                raise BenchFailure(reason)
            return run.seconds

        # the untimed run warms the page cache
        return Sampler(Row("floor"), sample, lambda: _ignore(sample))

    def in_process(self, key: str, project: Path) -> Sampler:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", key, str(project)]
        env = child_env(keep_env=self.args.keep_env)

        def sample(_: int) -> float:
            run = run_child(cmd, env, REPO, self.timeout, self.tmp / "measure.out")
            reason = failure(run, (0,))
            if reason:
                raise BenchFailure(reason)
            try:
                return float(json.loads(run.stdout_path.read_text())["seconds"])
            except (ValueError, KeyError) as exc:
                raise BenchFailure(f"bad output from --measure: {exc}") from exc

        return Sampler(Row(key), sample)

    # tool rows ---------------------------------------------------------------------------------
    def tool_cmd(self, command: str, project: Path, no_cache: bool) -> list[str]:
        cmd = [sys.executable, "-m", "conformance", command, str(project)]
        if command == "scan":
            cmd += ["--format", "json"]
        else:
            cmd += ["--registry", str(project / "workflow_registry.yaml")]
        if no_cache:
            cmd.append("--no-cache")
        return cmd

    def tool_run(
        self, cmd: list[str], cache: Path, project: Path, validate_json: bool
    ) -> tuple[Run, str | None]:
        env = child_env({"CONFORMANCE_CACHE_DIR": str(cache)}, keep_env=self.args.keep_env)
        out = self.tmp / "tool.out"
        run = run_child(cmd, env, project, self.timeout, out)
        reason = failure(run)
        if reason is None and validate_json:
            try:
                json.loads(out.read_text(encoding="utf-8"))
            except ValueError as exc:
                reason = f"output is not JSON ({exc})"
        return run, reason

    def fresh_cache(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="cache-", dir=self.tmp))

    def tool_samplers(
        self, command: str, project: Path, wanted: set[str], rss: Row | None
    ) -> list[Sampler]:
        is_scan = command == "scan"
        cold = self.tool_cmd(command, project, no_cache=True)
        cached = self.tool_cmd(command, project, no_cache=False)
        # the file each one-file row edits, restored first if a run was interrupted
        targets = edit_targets(project)
        originals: dict[str, bytes] = {}
        for suffix, target in targets.items():
            if isinstance(target, Path):
                originals[suffix] = restore(target)

        def check(cmd: list[str], cache: Path) -> None:
            _run, reason = self.tool_run(cmd, cache, project, is_scan)
            if reason:
                raise BenchFailure(reason)

        def timed(
            key: str, cmd: list[str], cache_for_run: Callable[[], Path]
        ) -> Callable[[int], float]:
            def sample(i: int) -> float:
                run, reason = self.tool_run(cmd, cache_for_run(), project, is_scan and i == 0)
                if reason:
                    raise BenchFailure(reason)
                if key == "scan-cold" and rss is not None:
                    rss.values.append(run.maxrss_mb)
                if is_scan and i == 0 and not self.described:
                    # the first timed scan (rows run in the order cold, cold-cache, warm, ...)
                    self.described = self.describe_output(command, run, project)
                return run.seconds

            return sample

        out: list[Sampler] = []
        if f"{command}-cold" in wanted or (is_scan and rss is not None):
            # its setup is one untimed run: bytecode caches, the page cache, and a quick sign
            # that the tool runs at all
            out.append(
                Sampler(
                    Row(f"{command}-cold"),
                    timed(f"{command}-cold", cold, self.fresh_cache),
                    lambda: check(cold, self.fresh_cache()),
                )
            )
        if f"{command}-cold-cache" in wanted:
            key = f"{command}-cold-cache"
            out.append(Sampler(Row(key), timed(key, cached, self.fresh_cache)))
        if f"{command}-warm" in wanted:
            warm_cache = self.fresh_cache()
            key = f"{command}-warm"
            out.append(
                Sampler(
                    Row(key),
                    timed(key, cached, lambda: warm_cache),
                    lambda: check(cached, warm_cache),
                )
            )
        for suffix in ("one", "one-largest"):
            key = f"{command}-{suffix}"
            if key not in wanted:
                continue
            target = targets[suffix]
            if not isinstance(target, Path):
                out.append(Sampler(Row(key, error=target), _unavailable))
                continue
            out.append(self.one_file(key, target, originals[suffix], cached, project, timed, check))
        return out

    def one_file(
        self,
        key: str,
        target: Path,
        original: bytes,
        cmd: list[str],
        project: Path,
        timed: Callable[[str, list[str], Callable[[], Path]], Callable[[int], float]],
        check: Callable[[list[str], Path], None],
    ) -> Sampler:
        """A row that fills a cache once, then edits ``target`` before every run: a new last
        line ``BENCH_EDIT = i``, so that its content hash differs each time."""
        cache = self.fresh_cache()
        run = timed(key, cmd, lambda: cache)

        def sample(i: int) -> float:
            # the file is edited for this run only: the other rows see it unchanged
            target.write_bytes(original + EDIT_MARK + f"{i}\n".encode())
            try:
                return run(i)
            finally:
                target.write_bytes(original)

        lines = original.count(b"\n")
        row = Row(key, note=f"edits {target.relative_to(project)} ({lines} lines)")
        return Sampler(row, sample, lambda: check(cmd, cache))

    def describe_output(self, command: str, run: Run, project: Path) -> bool:
        """Notes what a scan reported next to the generated counts; False if it could not."""
        if command != "scan":
            return False
        try:
            data = json.loads(run.stdout_path.read_text(encoding="utf-8"))
        except ValueError:
            return False
        functions = data.get("functions") if isinstance(data, dict) else None
        if isinstance(functions, list):
            manifest = read_manifest(project) or {}
            pairs = sum(
                len({(w.get("schema"), w.get("table")) for w in f.get("writes", [])})
                for f in functions
                if isinstance(f, dict)
            )
            unresolved = sum(len(f.get("unresolved", [])) for f in functions if isinstance(f, dict))
            self.notes.append(
                f"`scan` reported {len(functions)} functions (generated: "
                f"{manifest.get('ingest_functions', '?')}), {pairs} function-table pairs "
                f"(generated: {manifest.get('function_table_pairs', '?')}) and {unresolved} "
                f"unresolved writes."
            )
            return True
        return False

    def fixit(self, project: Path) -> Sampler:
        python = self.args.fixit_python or os.environ.get("BENCH_FIXIT_PYTHON") or sys.executable
        cmd = [python, "-m", "fixit", "--rules", "bench_fixit_noop:NoOp", "lint", str(project)]
        env = child_env({"PYTHONPATH": str(BENCH)}, keep_env=self.args.keep_env)

        def setup() -> None:
            try:
                probe = subprocess.run([python, "-c", "import fixit"], capture_output=True)
            except OSError as exc:
                raise BenchFailure(f"cannot run {python}: {exc.strerror}") from exc
            if probe.returncode != 0:
                raise BenchFailure(f"fixit not importable by {python}; see bench/README.md")

        def sample(_: int) -> float:
            run = run_child(cmd, env, self.tmp, self.timeout, self.tmp / "fixit.out")
            reason = failure(run)
            if reason:
                raise BenchFailure(reason)
            return run.seconds

        return Sampler(Row("fixit"), sample, setup)

    # one scale ---------------------------------------------------------------------------------
    def scale(self, scale: int, wanted: set[str]) -> str:
        """Sets every row up, then runs rounds of one run per row: a machine that is slower
        for a while slows every row alike, instead of whichever row it was measuring."""
        project = ensure_corpus(scale, self.args.corpus_dir, self.args.seed, self.log)
        manifest = read_manifest(project) or {}
        self.notes = []
        self.described = False
        sizes = manifest.get("py_line_stats")
        if sizes:
            self.notes.append(
                f"Lines per `.py` file: median {sizes['median']:g}, 90th percentile "
                f"{sizes['p90']:,}, max {sizes['max']:,} (`{manifest.get('largest_py_file')}`)."
            )
        samplers: list[Sampler] = []
        for key in ("floor", "ast", "libcst", "libcst-pool"):
            if key in wanted or key == "libcst":
                samplers.append(
                    self.floor(project) if key == "floor" else self.in_process(key, project)
                )
        rss = Row("rss", unit="MB") if "rss" in wanted else None
        for command in ("scan", "check"):
            keys = {k for k in wanted if k.startswith(command + "-")}
            if command == "scan" and rss is not None:
                keys.add("scan-cold")
            samplers += self.tool_samplers(
                command, project, keys, rss if command == "scan" else None
            )
        if "fixit" in wanted:
            samplers.append(self.fixit(project))
        for sampler in samplers:
            if sampler.setup is not None:
                self.log(f"[x{scale}] {sampler.row.key}: setting up ...")
                try:
                    sampler.setup()
                except BenchFailure as exc:
                    sampler.row.error = str(exc)
        for i in range(self.repeat):
            self.log(f"[x{scale}] round {i + 1} of {self.repeat} ...")
            for sampler in samplers:
                if sampler.row.error is None:
                    try:
                        sampler.row.values.append(sampler.sample(i))
                    except BenchFailure as exc:
                        sampler.row.error = str(exc)
        rows = {s.row.key: s.row for s in samplers}
        if rss is not None:
            cold = rows.get("scan-cold")
            rss.error = cold.error if cold is not None else None
            rows["rss"] = rss
        return render(
            scale,
            manifest,
            [rows[k] for k in ALL_ROWS if k in rows and k in wanted | {"libcst"}],
            self.notes,
            self.repeat,
        )


def _ignore(sample: Callable[[int], float]) -> None:
    sample(-1)


def _unavailable(_: int) -> float:
    raise BenchFailure("not available")  # never called: the row has its error already


# -- corpus and output ---------------------------------------------------------------------------


def read_manifest(project: Path) -> dict | None:
    try:
        return json.loads((project / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_corpus(scale: int, corpus_dir: Path, seed: int, log) -> Path:
    """Returns ``corpus_dir/xN``, generating it when missing or made by another generator."""
    sys.path.insert(0, str(BENCH))
    try:
        import gen_corpus
    finally:
        sys.path.pop(0)
    project = corpus_dir / f"x{scale}"
    manifest = read_manifest(project)
    if (
        manifest is None
        or manifest.get("generator_digest") != gen_corpus.generator_digest()
        or manifest.get("seed") != seed
        or manifest.get("scale") != scale
    ):
        log(f"[x{scale}] generating {project} ...")
        started = time.perf_counter()
        gen_corpus.generate(scale, project, seed)
        log(f"[x{scale}] generated in {time.perf_counter() - started:.1f} s")
    return project


def edit_targets(project: Path) -> dict[str, Path | str]:
    """Returns the file that each one-file row edits (or why there is none): for ``one`` the
    ingest module the manifest names (400 lines with 4 Modal functions, like the file changed
    on the real warehouse), for ``one-largest`` the largest ingest module."""
    manifest = read_manifest(project) or {}
    out: dict[str, Path | str] = {}
    for suffix, key in (("one", "edit_module"), ("one-largest", "largest_ingest_module")):
        path = (manifest.get(key) or {}).get("path")
        if not path or not (project / path).is_file():
            out[suffix] = f"the corpus manifest names no {key}; regenerate the corpus"
        else:
            out[suffix] = project / path
    return out


def restore(target: Path) -> bytes:
    """Returns ``target``'s content without a ``BENCH_EDIT`` line left by an interrupted run
    (writing it back when there was one)."""
    original = target.read_bytes()
    if EDIT_MARK in original:
        original = original[: original.index(EDIT_MARK)]
        target.write_bytes(original)
    return original


def fmt(value: float, unit: str) -> str:
    if unit == "MB":
        return f"{value:.0f}"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def render(scale: int, manifest: dict, rows: list[Row], notes: list[str], repeat: int) -> str:
    denominator = next(
        (min(r.values) for r in rows if r.key == "libcst" and r.values and not r.error), None
    )
    title = (
        f"### Scale {scale}× — {manifest.get('py_files', '?'):,} files, "
        f"{manifest.get('py_lines', 0):,} lines, {manifest.get('ingest_functions', '?'):,} "
        f"ingest functions, {manifest.get('write_sites', '?'):,} write sites"
    )
    out = [title, "", "| row | min | median | × libcst parse (min) |", "|---|---:|---:|---:|"]
    for row in rows:
        label = LABELS[row.key]
        if row.error or not row.values:
            out.append(f"| {label} | n/a ({row.error or 'no runs'}) | | |")
            continue
        lo, med = min(row.values), statistics.median(row.values)
        suffix = " MB" if row.unit == "MB" else " s"
        ratio = "—" if row.unit != "s" or denominator is None else f"{lo / denominator:.2f}×"
        out.append(
            f"| {label} | {fmt(lo, row.unit)}{suffix} | {fmt(med, row.unit)}{suffix} | {ratio} |"
        )
    out.append("")
    runs = {r.key: len(r.values) for r in rows if r.values and not r.error}
    if runs and len(set(runs.values())) == 1:
        out.append(f"Runs per row: {next(iter(runs.values()))}.")
    elif runs:
        out.append("Runs per row: " + ", ".join(f"{k} {n}" for k, n in runs.items()) + ".")
    for row in rows:
        if row.note and row.values:
            out.append(f"`{row.key}` {row.note}.")
    out += notes
    return "\n".join(out) + "\n"


def machine_header() -> str:
    try:
        from importlib.metadata import version

        import libcst  # noqa: F401

        libcst_version = version("libcst")
    except Exception:  # noqa: BLE001 - only for the header
        libcst_version = "not installed"
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
            ).stdout.strip()
            or "?"
        )
    except OSError:
        commit = "?"
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; libcst {libcst_version}; conformance at {commit}; "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}.\n"
    )


def parse_rows(text: str) -> set[str]:
    wanted: set[str] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if part in GROUPS:
            wanted |= set(GROUPS[part])
        elif part in ALL_ROWS:
            wanted.add(part)
        else:
            raise argparse.ArgumentTypeError(
                f"unknown row {part!r} (rows: {', '.join(ALL_ROWS)}; groups: {', '.join(GROUPS)})"
            )
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scales", default="1,10,50", help="comma-separated scales (default 1,10,50)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=MIN_REPEAT,
        help=f"runs per row, at least {MIN_REPEAT} (default {MIN_REPEAT})",
    )
    parser.add_argument(
        "--rows",
        type=parse_rows,
        default=set(ALL_ROWS),
        help="comma-separated rows or groups (baseline, tool, all); default all",
    )
    parser.add_argument("--corpus-dir", type=Path, default=BENCH / "corpus")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per child run")
    parser.add_argument(
        "--fixit-python",
        help="Python that can import fixit (default: this one, or $BENCH_FIXIT_PYTHON)",
    )
    parser.add_argument(
        "--keep-env",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE in the children's environment",
    )
    parser.add_argument("--out", type=Path, help="also write the Markdown to this file")
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "PROJECT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        mode, project = args.measure
        print(json.dumps({"seconds": measure(mode, Path(project))}))
        return 0
    if args.repeat < MIN_REPEAT:
        parser.error(f"--repeat must be at least {MIN_REPEAT}")
    scales = [int(s) for s in args.scales.split(",") if s.strip()]
    bench = Bench(args)
    parts = ["## conformance benchmark", "", machine_header()]
    print("\n".join(parts), flush=True)
    try:
        for scale in scales:
            table = bench.scale(scale, args.rows)
            print(table, flush=True)
            parts.append(table)
    finally:
        bench.close()
    if args.out:
        args.out.write_text("\n".join(parts), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
