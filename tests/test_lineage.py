"""The lineage view: ``scan --by-table`` (who writes a table) and ``scan --format mermaid|dot``
(function -> raw -> extracted -> core), for one workflow and for the whole warehouse."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from analysis_helpers import run_cli

from conformance.model import IngestFunction, Location, TableWrite
from conformance.report import lineage

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "warehouse"


def _fn(name: str, *tables: str, file: str = "ingest/x.py") -> IngestFunction:
    writes = tuple(
        TableWrite(t.split(".")[0], t.split(".")[1], "upsert", Location(file, 10 + i))
        for i, t in enumerate(tables)
    )
    return IngestFunction(name, "ingest.x", file, 5, "worker", True, name, writes=writes)


SIGNALS = _fn(
    "ingest_signals", "raw.payloads", "extracted.signals", "core.companies", "staging.log"
)
TAGS = _fn("tag_companies", "core.companies", "core.tags")


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    """``conformance scan ARGS`` in this process, from the example project."""
    return run_cli(["scan", *args], EXAMPLE)


def test_edges_follow_each_functions_layers_and_others_hang_off_dashed() -> None:
    names, groups, links = lineage.edges([SIGNALS, TAGS])
    assert names == ["ingest_signals", "tag_companies"]
    assert groups == {
        "raw": ["raw.payloads"],
        "extracted": ["extracted.signals"],
        "core": ["core.companies", "core.tags"],
        "other": ["staging.log"],
    }
    assert links == [
        ("ingest_signals", "raw.payloads", False),
        ("raw.payloads", "extracted.signals", False),
        ("extracted.signals", "core.companies", False),
        ("ingest_signals", "staging.log", True),
        ("tag_companies", "core.companies", False),  # writes core only: straight there
        ("tag_companies", "core.tags", False),
    ]


def test_who_writes_core_companies_in_the_example() -> None:
    result = scan("--by-table")
    assert result.returncode == 0, result.stderr
    blocks = {b.splitlines()[0]: b for b in result.stdout.split("\n\n")}
    block = blocks["core.companies"]
    writers = {line.split()[1] for line in block.splitlines()[1:]}
    assert {"ingest_company_signals", "merge_companies", "verify_domains"} <= writers
    for line in block.splitlines()[1:]:
        operation, _name, where = line.split()
        file, number = where.rsplit(":", 1)
        assert operation in ("insert", "upsert", "update", "merge", "delete", "truncate")
        assert (EXAMPLE / file).is_file() and number.isdigit()  # relative to the cwd
    tables = list(blocks)
    layers = [t.split(".")[0] for t in tables[:-1]]
    order = ["raw", "extracted", "core"]
    ranks = [order.index(x) if x in order else 3 for x in layers]
    assert ranks == sorted(ranks)  # raw, extracted, core, then the rest


def test_by_table_json_and_one_function() -> None:
    result = scan("--by-table", "--format", "json", "--function", "ingest_company_signals")
    data = json.loads(result.stdout)
    tables = {t["table"]: t for t in data["tables"]}
    assert set(tables) == {
        "raw.signal_payloads",
        "extracted.company_signals",
        "core.companies",
        "staging.ingest_failures",
        "staging.lineage_events",
    }
    assert {w["function"] for t in data["tables"] for w in t["writes"]} == {
        "ingest_company_signals"
    }
    assert tables["core.companies"]["layer"] == "core"


def test_mermaid_per_workflow_and_for_the_whole_warehouse() -> None:
    one = scan("--format", "mermaid", "--function", "ingest_company_signals").stdout
    assert one.startswith("flowchart LR\n")
    ids = dict(re.findall(r'^\s+(\w+)\[\(?"([^"]+)"\)?\]$', one, re.M))
    arrows = [
        (ids[a], ids[b], arrow)
        for a, arrow, b in re.findall(r"^\s+(\w+) (-->|-\.->) (\w+)$", one, re.M)
    ]
    assert ("ingest_company_signals", "raw.signal_payloads", "-->") in arrows
    assert ("raw.signal_payloads", "extracted.company_signals", "-->") in arrows
    assert ("extracted.company_signals", "core.companies", "-->") in arrows
    assert ("ingest_company_signals", "staging.lineage_events", "-.->") in arrows
    assert one.count("subgraph ") == one.count("  end")
    whole = scan("--format", "mermaid").stdout
    assert whole.count('["') > one.count('["') and "enrich_company" in whole


def test_dot_is_well_formed_and_declares_every_node_it_links() -> None:
    text = scan("--format", "dot").stdout
    assert text.startswith("digraph conformance {") and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    declared = set(re.findall(r'^\s+("[^"]+") \[label=', text, re.M))
    for a, b in re.findall(r'^\s+("[^"]+") -> ("[^"]+")', text, re.M):
        assert a in declared and b in declared


def test_labels_from_code_cannot_break_out_of_the_graph() -> None:
    hostile = _fn("ingest_x", 'raw.a"]-->evil["b', 'core.c\\"')
    mermaid = lineage.render_mermaid([hostile])
    assert '"]-->evil' not in mermaid and "#quot;" in mermaid
    dot = lineage.render_dot([hostile])
    assert 'raw.a\\"]-->evil[\\"b' in dot and '"t:core.c\\\\\\""' in dot


def test_an_unknown_function_is_a_one_line_error() -> None:
    result = scan("--format", "dot", "--function", "nope")
    assert result.returncode == 2 and "no ingest function named 'nope'" in result.stderr
    assert scan("--by-table", "--format", "dot").returncode == 2
