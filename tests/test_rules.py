"""The catalogue: every code documented, explained, in docs/rules.md, and proven by its cases.

Each rule's cases are data under ``tests/rule_cases/<CODE>/``: ``fail*.yaml`` must yield the code
(and, with ``expect``, exactly those findings of it, each message holding the expectation's
``says`` when it has one), ``pass*.yaml`` must yield no finding at all
(codes listed under ``allow`` excepted). The YAML describes a hand-built Analysis, Registry and
Config; see ``build_case`` for the fields and their defaults.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.config import Config
from conformance.errors import ConformanceError
from conformance.model import (
    Analysis,
    AnalysisError,
    CallStep,
    IngestFunction,
    Invocation,
    Location,
    Registry,
    RegistryEntry,
    RegistryProblem,
    RpcCall,
    Searched,
    SecretLiteral,
    SlugHint,
    Suppression,
    TableWrite,
    UnresolvedWrite,
)
from conformance.rules import RULES, RULES_BY_CODE, evaluate
from conformance.rules.docs import explain, render_rules_markdown, rule

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "rule_cases"
PROJECT = Path("/project")


# -- building a case ------------------------------------------------------------------------------


def _loc(d: dict[str, Any], default_file: str) -> Location:
    return Location(d.get("file", default_file), d["line"])


def _path(steps: list[dict[str, Any]], default_file: str) -> tuple[CallStep, ...]:
    return tuple(CallStep(s["function"], _loc(s, default_file)) for s in steps)


def _function(d: dict[str, Any]) -> IngestFunction:
    name = d["name"]
    file = d.get("file", f"ingest/{name}.py")
    writes = []
    for w in d.get("writes", []):
        schema, table = w["table"].split(".", 1)
        writes.append(
            TableWrite(
                schema,
                table,
                w.get("operation", "insert"),
                _loc(w, file),
                w.get("via", "literal"),
                _path(w.get("call_path", []), file),
            )
        )
    return IngestFunction(
        name=name,
        module=d.get("module", file.removesuffix(".py").replace("/", ".")),
        file=file,
        line=d.get("line", 10),
        kind=d.get("kind", "worker"),
        deployed=d.get("deployed", True),
        modal_name=d.get("modal_name", name),
        app_name=d.get("app_name"),
        writes=tuple(writes),
        unresolved=tuple(
            UnresolvedWrite(_loc(u, file), u["reason"], _path(u.get("call_path", []), file))
            for u in d.get("unresolved", [])
        ),
        rpc=tuple(RpcCall(r.get("name"), _loc(r, file)) for r in d.get("rpc", [])),
        invokes=tuple(
            Invocation(i["target"], i.get("method", "spawn"), _loc(i, file))
            for i in d.get("invokes", [])
        ),
        slug_hints=tuple(
            SlugHint(h["slug"], h.get("source", "constant"), _loc(h, file))
            for h in d.get("slug_hints", [])
        ),
    )


def _entry(d: dict[str, Any]) -> RegistryEntry:
    fields = dict(d)
    fields["writes"] = tuple(fields.get("writes", ()))
    fields["extra"] = tuple(sorted(fields.get("extra", {}).items()))
    return RegistryEntry(**fields)


def build_case(
    data: dict[str, Any],
) -> tuple[Analysis, Registry, Config]:
    """Returns the Analysis, Registry and Config a case file describes.

    Top-level keys: ``functions`` (name; file ``ingest/<name>.py``, line 10, kind worker,
    deployed true, modal_name = name by default; ``writes`` with ``table: schema.name``,
    operation insert, via literal, line, optional file/call_path; ``unresolved``, ``rpc``,
    ``invokes``, ``slug_hints``), ``registry`` (``source``, ``entries`` as registry columns plus
    ``line``, ``problems``; ``extra`` a mapping of extra columns), ``errors``,
    ``suppressions``, ``secrets``, ``searched`` (what the settings matched: ``python_files``,
    ``ingest_files``, ``unmatched_ingest``, ``unmatched_entry_points``, ``entry_points``;
    absent: an analysis built by hand), and ``config`` (Config fields; the project is
    /project, the source root /project/src). A case checks one rule: no column is required
    (CONF020) unless its ``config`` says ``required_columns``.
    """
    searched = data.get("searched")
    analysis = Analysis(
        searched=Searched(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in searched.items()}
        )
        if searched is not None
        else None,
        functions=tuple(_function(f) for f in data.get("functions", [])),
        errors=tuple(
            AnalysisError(e["file"], e["line"], e["message"]) for e in data.get("errors", [])
        ),
        suppressions=tuple(
            Suppression(_loc(s, ""), tuple(s["codes"]), s.get("reason", ""))
            for s in data.get("suppressions", [])
        ),
        secrets=tuple(
            SecretLiteral(_loc(s, ""), s["masked"], s.get("kind", "database URL"))
            for s in data.get("secrets", [])
        ),
    )
    reg = data.get("registry", {})
    registry = Registry(
        entries=tuple(_entry(e) for e in reg.get("entries", [])),
        source=reg.get("source", "workflow_registry.yaml"),
        problems=tuple(RegistryProblem(**p) for p in reg.get("problems", [])),
    )
    settings = {"required_columns": (), **data.get("config", {})}
    for key in ("exclude", "entity_types", "required_columns", "ingest", "entrypoints"):
        if key in settings:
            settings[key] = tuple(settings[key])
    config = Config(project_dir=PROJECT, source_root=PROJECT / "src", **settings)
    return analysis, registry, config


def case_options(data: dict[str, Any]) -> dict[str, Any]:
    """Returns evaluate()'s keyword arguments a case sets: ``elsewhere`` (function name → file
    and line of a definition outside the ingest directories) and ``file_registry`` (the
    committed file, as ``registry``; the registry is then the database's, ``source`` a DSN
    label)."""
    options: dict[str, Any] = {}
    if "elsewhere" in data:
        options["elsewhere"] = {name: _loc(d, "") for name, d in data["elsewhere"].items()}
    if "file_registry" in data:
        reg = data["file_registry"]
        options["file_registry"] = Registry(
            entries=tuple(_entry(e) for e in reg.get("entries", [])),
            source=reg.get("source", "workflow_registry.yaml"),
        )
    return options


def _case_files(prefix: str) -> list[Any]:
    return [
        pytest.param(path, id=f"{path.parent.name}/{path.stem}")
        for path in sorted(CASES.glob(f"CONF*/{prefix}*.yaml"))
    ]


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


# -- the catalogue --------------------------------------------------------------------------------


@pytest.mark.parametrize("r", RULES, ids=lambda r: r.code)
def test_every_rule_is_documented(r: Any) -> None:
    assert re.fullmatch(r"CONF\d{3}", r.code)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.name)
    assert r.severity in ("error", "warning")
    assert r.scope in ("function", "row", "file")
    for field in ("summary", "what", "why", "example", "fix", "failing", "passing"):
        assert getattr(r, field).strip(), f"{r.code} has no {field}"
    assert r.code in explain(r.code)


@pytest.mark.parametrize("r", RULES, ids=lambda r: r.code)
def test_every_rule_has_a_failing_and_a_passing_case(r: Any) -> None:
    assert list((CASES / r.code).glob("fail*.yaml")), f"{r.code} has no failing case"
    assert list((CASES / r.code).glob("pass*.yaml")), f"{r.code} has no passing case"


def test_codes_and_names_are_unique_and_in_order() -> None:
    assert len(set(RULES_BY_CODE)) == len(RULES) == len({r.name for r in RULES})
    assert list(RULES_BY_CODE) == sorted(RULES_BY_CODE)
    assert {d.name for d in CASES.iterdir() if d.is_dir()} <= set(RULES_BY_CODE)


def test_rule_lookup_accepts_codes_and_names() -> None:
    assert rule("CONF001") is rule("conf1") is rule("unregistered-function")
    with pytest.raises(ConformanceError, match="unknown code"):
        explain("CONF999")
    with pytest.raises(ConformanceError):
        rule("nonsense")


def test_explain_has_every_section() -> None:
    text = explain("CONF001")
    for heading in ("What:", "Why:", "Example:", "Fix:", "Fails when:", "Passes when:"):
        assert heading in text
    assert "conformance register" in text


def test_docs_rules_md_is_up_to_date() -> None:
    current = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == render_rules_markdown(), (
        "docs/rules.md is stale: run `.venv/bin/python -m conformance.rules.docs --write`"
    )


def test_readme_rule_table_is_up_to_date() -> None:
    from conformance.rules.docs import readme_with_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == readme_with_table(readme), (
        "the README's rule table is stale: run `.venv/bin/python -m conformance.rules.docs --write`"
    )
    for r in RULES:
        assert f"| [{r.code}](docs/rules.md#{r.anchor}) | {r.name} | {r.severity} |" in readme


def test_every_rule_lives_in_a_family_module_beside_its_check() -> None:
    import inspect

    from conformance.rules.base import (
        FUNCTION_CHECKS,
        PAIR_CHECKS,
        RUN_CHECKS,
        SUPPRESSION_CHECKS,
    )

    for rule_, check in [*FUNCTION_CHECKS, *PAIR_CHECKS, *RUN_CHECKS, *SUPPRESSION_CHECKS]:
        module = inspect.getmodule(check)
        assert module is not None and getattr(module, rule_.code) is rule_, rule_.code


def test_rules_markdown_links_resolve() -> None:
    text = render_rules_markdown()
    for r in RULES:
        assert f"## {r.code} {r.name}" in text
        assert f"(#{r.anchor})" in text


# -- the cases, turned into tests -----------------------------------------------------------------


@pytest.mark.parametrize("path", _case_files("fail"))
def test_failing_case_yields_its_code(path: Path) -> None:
    code = path.parent.name
    data = _load(path)
    findings = evaluate(*build_case(data), **case_options(data))
    codes = {f.code for f in findings}
    assert code in codes, [f.to_dict() for f in findings]
    assert codes <= {code, *data.get("allow", [])}, [f.to_dict() for f in findings]
    if "expect" in data:
        got = sorted(
            (
                f.location.file if f.location else None,
                f.location.line if f.location else None,
                f.slug,
            )
            for f in findings
            if f.code == code
        )
        want = sorted((e.get("file"), e.get("line"), e.get("slug")) for e in data["expect"])
        assert got == want
        messages = " | ".join(f.message for f in findings if f.code == code)
        for e in data["expect"]:
            assert e.get("says", "") in messages, messages
    for f in findings:
        assert f.severity == RULES_BY_CODE[f.code].severity
        assert f.evidence, f"{f.code} finding without evidence"


@pytest.mark.parametrize("path", _case_files("pass"))
def test_passing_case_is_clean(path: Path) -> None:
    data = _load(path)
    findings = evaluate(*build_case(data), **case_options(data))
    assert {f.code for f in findings} <= set(data.get("allow", [])), [f.to_dict() for f in findings]
    assert path.parent.name not in {f.code for f in findings}
