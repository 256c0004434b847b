#!/usr/bin/env python3
"""The long fuzz run of ``summarize``: generated and mutated files, counted, crashes kept.

    python bench/fuzz.py --examples 10000 --seed 1 [--jobs 2] [--out DIR]

Four kinds of input, ``--examples`` files in all (split by ``--mix``):

- ``grammar``  hypothesmith ``from_grammar()``: valid Python from the grammar;
- ``node``     hypothesmith ``from_node()``: valid Python through libcst's node types;
- ``ingest``   ``fuzz_support.ingest_modules()``: Python shaped like ingest code;
- ``mutation`` the example project's files, damaged by ``fuzz_support.mutate``.

Each file goes through ``fuzz_support.check_summary``. A *crash* is an exception escaping
``summarize``; a *contract* failure is a summary that breaks the contract (error line outside the
file, unpicklable, ...); a *death* is a worker process killed by a signal (a segfault in the
parser) and a *hang* a file that took longer than ``--hang-seconds``. Crashes matching
``fuzz_support.KNOWN_BUGS`` are counted apart. Every failing input is saved under ``--out``
(default: a new temporary directory) with its traceback; the first of each kind is shrunk.

Workers run in child processes, so a segfault or a hang costs one input, not the run: the
parent notes the input in flight, and restarts the worker after it with the same seed.
Generated code is never run: it is only parsed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO)]

import fuzz_support as fz  # noqa: E402

KINDS = ("grammar", "node", "ingest", "mutation")
DEFAULT_MIX = "grammar=5,node=1,ingest=2,mutation=2"
SLOW_SECONDS = 10.0


def _for_each_input(kind: str, seed: int, count: int, run: Callable[[int, bytes], None]) -> None:
    """Calls ``run(index, source)`` for ``count`` inputs of ``kind``, deterministically from
    ``seed`` (hypothesis drives the loop for the generated kinds)."""
    if kind == "mutation":
        rng = random.Random(seed)
        corpus = [data for _, data in fz.example_sources()]
        for index in range(count):
            run(index, fz.mutate(rng.choice(corpus), rng, corpus))
        return
    import hypothesmith
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    strategy = {
        "grammar": hypothesmith.from_grammar,
        "node": hypothesmith.from_node,
        "ingest": fz.ingest_modules,
    }[kind]()
    index = 0

    @hseed(seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def produce(source: str) -> None:
        nonlocal index
        index += 1
        run(index - 1, source.encode("utf-8", errors="surrogatepass"))

    produce()


def worker(
    kind: str, seed: int, count: int, skip: int, workdir: str, wid: str, deep: bool = False
) -> None:
    """Runs one chunk; writes ``result-<wid>.json``. Notes each input before running it
    (``inflight-<wid>``) so the parent can name the input that killed or hung the worker."""
    warnings.simplefilter("ignore")
    if deep:
        fz.NEST_DEPTHS = (*fz.NEST_DEPTHS, 1000, 2000, 5000)
    out = Path(workdir)
    counts = fz.FuzzCounts()
    known: Counter[str] = Counter()
    failures: list[dict[str, object]] = []
    rejected: list[dict[str, object]] = []
    inflight, index_file = out / f"inflight-{wid}.bin", out / f"inflight-{wid}.idx"

    def run(index: int, data: bytes) -> None:
        if index < skip:
            return
        inflight.write_bytes(data)
        index_file.write_text(str(index))
        start = time.perf_counter()
        counts.files += 1
        try:
            summary = fz.check_summary(data)
        except Exception as exc:  # noqa: BLE001 - every failure is a finding
            name = fz.known_bug(exc)
            if name:
                known[name] += 1
                return
            kind_of = (
                "internal"
                if isinstance(exc, fz.AnalyzerBug)
                else "contract"
                if isinstance(exc, fz.SummaryContractError)
                else "crash"
            )
            counts.crashes += kind_of == "crash"
            path = out / f"{kind_of}-{wid}-{index}.py"
            path.write_bytes(data)
            path.with_suffix(".txt").write_text(fz.describe(exc), encoding="utf-8")
            failures.append(
                {
                    "kind": kind_of,
                    "signature": fz.crash_signature(exc),
                    "path": str(path),
                    "index": index,
                }
            )
            return
        if summary.error is not None:
            counts.errors += 1
            if kind != "mutation" and len(rejected) < 20:  # valid Python, yet refused: keep it
                path = out / f"rejected-{wid}-{index}.py"
                path.write_bytes(data)
                rejected.append({"path": str(path), "error": list(summary.error)})
        elapsed = time.perf_counter() - start
        if elapsed > SLOW_SECONDS:
            path = out / f"slow-{wid}-{index}.py"
            path.write_bytes(data)
            failures.append(
                {
                    "kind": "slow",
                    "signature": f"over {SLOW_SECONDS:.0f} s",
                    "path": str(path),
                    "index": index,
                }
            )

    _for_each_input(kind, seed, count, run)
    result = {
        "files": counts.files,
        "errors": counts.errors,
        "crashes": counts.crashes,
        "known": dict(known),
        "failures": failures,
        "rejected": rejected,
    }
    (out / f"result-{wid}.json").write_text(json.dumps(result), encoding="utf-8")


def _plan(examples: int, mix: str, seed: int, jobs: int) -> list[tuple[str, int, int]]:
    weights = {k: float(w) for k, _, w in (part.partition("=") for part in mix.split(","))}
    unknown = set(weights) - set(KINDS)
    if unknown:
        raise SystemExit(f"unknown kind(s) in --mix: {', '.join(sorted(unknown))}")
    total = sum(weights.values())
    counts = {k: int(examples * w / total) for k, w in weights.items()}
    first = next(iter(counts))
    counts[first] += examples - sum(counts.values())
    tasks = []
    for k, n in counts.items():
        chunks = max(1, min(jobs * 2, n // 50 or 1))
        for i in range(chunks):
            size = n // chunks + (1 if i < n % chunks else 0)
            if size:
                tasks.append((k, seed * 1000 + KINDS.index(k) * 100 + i, size))
    return tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000, help="files to run in all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"kind=weight,... ({DEFAULT_MIX})")
    parser.add_argument("--out", type=Path, help="where failing inputs go (default: a temp dir)")
    parser.add_argument("--hang-seconds", type=float, default=120.0)
    parser.add_argument("--show", type=int, default=5, help="failing inputs to print")
    parser.add_argument("--no-shrink", action="store_true")
    parser.add_argument(
        "--deep",
        action="store_true",
        help="mutations also nest 1000-5000 deep (known to kill the parser)",
    )
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="conformance-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    tasks = _plan(args.examples, args.mix, args.seed, args.jobs)
    print(
        f"fuzz: {args.examples} files, seed {args.seed}, {len(tasks)} chunks on {args.jobs} "
        f"process(es), failing inputs -> {out}",
        flush=True,
    )
    start = time.perf_counter()
    results, deaths = _run_all(tasks, args, out)
    seconds = time.perf_counter() - start
    return _report(tasks, results, deaths, seconds, args, out)


def _run_all(
    tasks: list[tuple[str, int, int]], args: argparse.Namespace, out: Path
) -> tuple[dict[str, dict[str, object]], list[dict[str, object]]]:
    context = multiprocessing.get_context("spawn")
    pending = [(f"{kind}-{seed}-0", kind, seed, count, 0) for kind, seed, count in tasks]
    running: dict[str, tuple[multiprocessing.Process, str, int, int, str]] = {}
    results: dict[str, dict[str, object]] = {}
    deaths: list[dict[str, object]] = []
    while pending or running:
        while pending and len(running) < args.jobs:
            wid, kind, seed, count, skip = pending.pop(0)
            proc = context.Process(
                target=worker, args=(kind, seed, count, skip, str(out), wid, args.deep)
            )
            proc.start()
            running[wid] = (proc, kind, seed, count, str(skip))
        time.sleep(0.2)
        for wid, (proc, kind, seed, count, _) in list(running.items()):
            idx = out / f"inflight-{wid}.idx"
            stalled = idx.exists() and time.time() - idx.stat().st_mtime > args.hang_seconds
            if proc.is_alive() and not stalled:
                continue
            if stalled and proc.is_alive():
                proc.kill()
            proc.join()
            del running[wid]
            result_file = out / f"result-{wid}.json"
            if result_file.exists():
                results[wid] = json.loads(result_file.read_text(encoding="utf-8"))
                continue
            index = int(idx.read_text()) if idx.exists() else 0
            what = "hang" if stalled else f"death (exit {proc.exitcode})"
            saved = out / f"{'hang' if stalled else 'death'}-{wid}-{index}.py"
            inflight = out / f"inflight-{wid}.bin"
            if inflight.exists():
                saved.write_bytes(inflight.read_bytes())
            deaths.append(
                {"kind": what, "signature": what, "path": str(saved), "index": index, "task": kind}
            )
            print(f"  {kind} seed {seed}: {what} at input {index} -> {saved}", flush=True)
            # The same seed regenerates the same inputs: go on after the one that failed.
            # Files already run by the dead worker are counted once, from the restart's skip.
            results[wid] = {
                "files": index + 1 - _skip_of(wid),
                "errors": 0,
                "crashes": 0,
                "known": {},
                "failures": [],
                "rejected": [],
            }
            pending.insert(0, (f"{kind}-{seed}-{index + 1}", kind, seed, count, index + 1))
    return results, deaths


def _skip_of(wid: str) -> int:
    return int(wid.rsplit("-", 1)[1])


def _report(
    tasks: list[tuple[str, int, int]],
    results: dict[str, dict[str, object]],
    deaths: list[dict[str, object]],
    seconds: float,
    args: argparse.Namespace,
    out: Path,
) -> int:
    per_kind: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    known: Counter[str] = Counter()
    failures: list[dict[str, object]] = []
    rejected: list[dict[str, object]] = []
    for wid, result in results.items():
        rejected.extend(result.get("rejected", []))  # type: ignore[arg-type]
        kind = wid.split("-", 1)[0]
        per_kind[kind]["files"] += int(result["files"])  # type: ignore[call-overload]
        per_kind[kind]["crashes"] += int(result["crashes"])  # type: ignore[call-overload]
        per_kind[kind]["errors"] += int(result["errors"])  # type: ignore[call-overload]
        known.update(result["known"])  # type: ignore[arg-type]
        for failure in result["failures"]:  # type: ignore[attr-defined]
            per_kind[kind][str(failure["kind"])] += failure["kind"] != "crash"
            failures.append(failure)
    for death in deaths:
        per_kind[str(death["task"])]["deaths/hangs"] += 1
        failures.append(death)
    total = sum(c["files"] for c in per_kind.values())
    crashes = sum(c["crashes"] for c in per_kind.values())
    internal = sum(c["internal"] for c in per_kind.values())
    other = sum(c["contract"] + c["slow"] + c["deaths/hangs"] for c in per_kind.values())
    print(
        f"\n{total} files run in {seconds:.0f} s: {crashes} crashes (exceptions escaping "
        f"summarize), {internal} internal analyzer errors, {sum(known.values())} known-bug "
        f"failures, {other} other failures"
    )
    for kind, c in per_kind.items():
        if c["files"] or c["deaths/hangs"]:
            print(
                f"  {kind:9} {c['files']:6} files ({c['errors']} reported as errors)  "
                f"{c['crashes']} crashes  {c['internal']} internal  {c['contract']} contract  "
                f"{c['slow']} slow  {c['deaths/hangs']} deaths/hangs"
            )
    for name, n in sorted(known.items()):
        print(f"  known bug {name}: {n}")
    if rejected:
        print(
            f"\nvalid generated Python that summarize reported as an error ({len(rejected)} "
            f"kept, up to 20 per chunk):"
        )
        reasons = Counter(str(r["error"][1])[:90] for r in rejected)  # type: ignore[index]
        for reason, n in reasons.most_common(8):
            print(f"  {n:4} x {reason}")
        print(f"  e.g. {rejected[0]['path']}")
    seen: set[str] = set()
    shown = 0
    for failure in sorted(failures, key=lambda f: (str(f["kind"]), str(f["path"]))):
        signature = f"{failure['kind']}: {failure['signature']}"
        if signature in seen or shown >= args.show:
            continue
        seen.add(signature)
        shown += 1
        path = Path(str(failure["path"]))
        print(f"\n{signature}\n  input: {path}")
        shrinkable = failure["kind"] in ("crash", "internal", "contract")
        if shrinkable and not args.no_shrink and path.exists():
            small = _shrink(path.read_bytes(), str(failure["signature"]))
            small_path = path.with_suffix(".min.py")
            small_path.write_bytes(small)
            print(f"  shrunk ({len(small)} bytes): {small!r}"[:600])
    return 1 if crashes or internal or other else 0


def _shrink(data: bytes, signature: str) -> bytes:
    def same(candidate: bytes) -> bool:
        exc = fz.summarize_fails(candidate)
        return exc is not None and fz.crash_signature(exc) == signature

    return fz.shrink(data, same) if same(data) else data


if __name__ == "__main__":
    sys.exit(main())
