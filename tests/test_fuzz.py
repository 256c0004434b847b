"""Property-based tests: ``summarize`` never raises and keeps its contract on any input.

Generated Python (hypothesmith, from the grammar and from libcst's node types), Python shaped
like ingest code, and seeded damage to the example project's files. The normal suite runs a
bounded, derandomized sample (seconds); ``-m slow`` runs the larger one, and ``bench/fuzz.py``
the long one (10,000+ files). ``fuzz_support.check_summary`` is the oracle.
"""

from __future__ import annotations

import random
import re

import hypothesmith
import pytest
from fuzz_support import (
    check_summary,
    crash_signature,
    describe,
    example_sources,
    ingest_modules,
    known_bug,
    mutate,
    shrink,
    summarize_fails,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.analysis import values as v

pytestmark = [
    pytest.mark.filterwarnings("ignore::SyntaxWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def bounded(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def summarize_ok(source: bytes) -> v.ModuleSummary | None:
    """Returns the checked summary; None when the failure is a reported, known bug."""
    try:
        return check_summary(source)
    except Exception as exc:
        if known_bug(exc):
            return None
        raise


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")


# -- generated Python -----------------------------------------------------------------------------


@bounded(150)
@given(hypothesmith.from_grammar())
def test_grammar_generated_python(source: str) -> None:
    summarize_ok(_encode(source))


@bounded(20)
@given(hypothesmith.from_node())
def test_node_generated_python(source: str) -> None:
    summarize_ok(_encode(source))


@bounded(60)
@given(ingest_modules())
def test_ingest_shaped_python(source: str) -> None:
    summary = summarize_ok(source.encode())
    # The generator writes valid Python: the analyzer must read it, not refuse it.
    assert summary is None or summary.error is None, summary.error


def _tabs(source: str) -> str:
    return re.sub(r"^((?:    )+)", lambda m: "\t" * (len(m.group(1)) // 4), source, flags=re.M)


@bounded(40)
@given(ingest_modules(), st.sampled_from(["\r\n", "\r", "mixed", "tabs"]))
def test_layout_does_not_change_the_summary(source: str, layout: str) -> None:
    """Line endings and tab indentation change nothing, line numbers included."""
    reference = summarize_ok(source.encode())
    if reference is None or reference.error is not None:
        return
    if layout == "tabs":
        changed = _tabs(source)
    elif layout == "mixed":
        changed = "".join(
            line + ("\r\n", "\n", "\r")[i % 3] for i, line in enumerate(source.split("\n")[:-1])
        )
    else:
        changed = source.replace("\n", layout)
    assert summarize_ok(changed.encode()) == reference


# -- damaged example files ------------------------------------------------------------------------


def _mutation_failures(seed: int, count: int) -> list[str]:
    """Runs ``count`` seeded mutations; returns a description of each new failure, shrunk."""
    rng = random.Random(seed)
    sources = example_sources()
    corpus = [data for _, data in sources]
    failures: list[str] = []
    for i in range(count):
        rel, data = rng.choice(sources)
        damaged = mutate(data, rng, corpus)
        exc = summarize_fails(damaged)
        if exc is None or known_bug(exc):
            continue
        signature = crash_signature(exc)

        def same(candidate: bytes, signature: str = signature) -> bool:
            found = summarize_fails(candidate)
            return found is not None and crash_signature(found) == signature

        small = shrink(damaged, same, budget=500)
        failures.append(
            f"mutation {i} of {rel} (seed {seed}): {describe(exc)}\nshrunk reproducer: {small!r}"
        )
        if len(failures) >= 3:
            break
    return failures


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_example_files(seed: int) -> None:
    failures = _mutation_failures(seed, 600)
    assert not failures, "\n\n".join(failures)


def test_mutations_are_deterministic() -> None:
    sources = [data for _, data in example_sources()]
    first = [mutate(sources[0], random.Random(9), sources) for _ in range(3)]
    again = [mutate(sources[0], random.Random(9), sources) for _ in range(3)]
    assert first == again


# -- the longer runs (-m slow) --------------------------------------------------------------------


@pytest.mark.slow
@bounded(2000)
@given(hypothesmith.from_grammar())
def test_grammar_generated_python_long(source: str) -> None:
    summarize_ok(_encode(source))


@pytest.mark.slow
@bounded(300)
@given(hypothesmith.from_node())
def test_node_generated_python_long(source: str) -> None:
    summarize_ok(_encode(source))


@pytest.mark.slow
@bounded(1000)
@given(ingest_modules())
def test_ingest_shaped_python_long(source: str) -> None:
    summary = summarize_ok(source.encode())
    assert summary is None or summary.error is None, summary.error


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 20))
def test_mutated_example_files_long(seed: int) -> None:
    failures = _mutation_failures(seed, 500)
    assert not failures, "\n\n".join(failures)
