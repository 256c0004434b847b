"""The registry file: problems named by entry, field and line; writes that never lose anything."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.errors import ConformanceError
from conformance.model import Registry, RegistryEntry, RegistryProblem
from conformance.registry.file import (
    append_entries,
    comments,
    load_registry_file,
    registry_yaml,
    write_registry_file,
)

GOOD = """\
# The team's registry. Keep sorted by provider.
version: 1
workflows:
  # Company signals from Acme.
  - workflow_slug: company-signals   # do not rename: dashboards use it
    modal_function_name: ingest_company_signals
    entity_type: company
    raw_table: signal_payloads
    extracted_table: extracted.signals
    core_table: companies
    coalesces_to_core: true
    writes: [raw.signal_payloads, extracted.signals, core.companies]

  - workflow_slug: person-enrich
    modal_function_name: ingest_person
    entity_type: person
    is_active: false
"""


def _write(tmp_path: Path, text: str, name: str = "workflow_registry.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str) -> list[RegistryProblem]:
    return list(load_registry_file(_write(tmp_path, text)).problems)


def test_valid_file_loads_with_lines_and_normalised_tables(tmp_path: Path) -> None:
    registry = load_registry_file(_write(tmp_path, GOOD))
    assert registry.problems == ()
    first, second = registry.entries
    assert first == RegistryEntry(
        "company-signals",
        "ingest_company_signals",
        entity_type="company",
        raw_table="raw.signal_payloads",
        extracted_table="extracted.signals",
        core_table="core.companies",
        coalesces_to_core=True,
        writes=("core.companies", "extracted.signals", "raw.signal_payloads"),
    )
    assert (first.line, second.line) == (5, 14)
    assert second.is_active is False and second.writes == ()
    assert registry.source.endswith("workflow_registry.yaml")


def test_json_is_accepted(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '{"version": 1, "workflows": [\n {"workflow_slug": "a-b",\n'
        '  "raw_table": "x", "writes": ["raw.x"]}]}',
        "registry.json",
    )
    assert load_registry_file(path).entries == (
        RegistryEntry("a-b", raw_table="raw.x", writes=("raw.x",)),
    )


def test_empty_file_is_an_empty_registry(tmp_path: Path) -> None:
    assert load_registry_file(_write(tmp_path, "# nothing yet\n")) == Registry(
        (), str(tmp_path / "workflow_registry.yaml")
    )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("version: 1\nworkflows:\n  - workflow_slug: a\n    provider: [unclosed\n", 5, "YAML"),
        ("version: 1\nworkflows:\n\t- workflow_slug: a\n", 3, "YAML"),
        ("- just\n- a list\n", 1, "mapping with `version: 1`"),
        ("version: 2\nworkflows: []\n", 1, "not a registry file"),
        ("version: 1\nworkflows: {a: 1}\n", 2, "not a registry file"),
        ("version: 1\nworkflows: []\nextra: true\n", 3, "not a registry file"),
        ("workflows: []\n", 1, "not a registry file"),
        ("version: 1\nworkflows: [!!python/object:os.system {}]\n", 2, "YAML"),
    ],
)
def test_unusable_files_raise_with_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConformanceError, match=message) as info:
        load_registry_file(path)
    assert info.value.location == f"{path}:{line}"


def test_absurd_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: 1\nworkflows: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConformanceError, match="nested too deeply"):
        load_registry_file(path)


def test_unreadable_files_raise(tmp_path: Path) -> None:
    with pytest.raises(ConformanceError, match="cannot read"):
        load_registry_file(tmp_path / "missing.yaml")
    with pytest.raises(ConformanceError, match="cannot read"):
        load_registry_file(tmp_path)
    binary = tmp_path / "latin1.yaml"
    binary.write_bytes(b"version: 1\nworkflows:\n  - workflow_slug: caf\xe9\n")
    with pytest.raises(ConformanceError, match="not UTF-8") as info:
        load_registry_file(binary)
    assert info.value.location == f"{binary}:3"


def test_invalid_json_names_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path, '{"version": 1,\n "workflows": [\n  {"workflow_slug": "a"\n]}', "registry.json"
    )
    with pytest.raises(ConformanceError, match="JSON") as info:
        load_registry_file(path)
    assert info.value.location == f"{path}:4"


def test_each_problem_names_entry_field_and_line(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """\
        version: 1
        workflows:
          - workflow_slug: wrong-types
            provider: 5
            is_active: "yes"
            writes: raw.x
          - workflow_slug: unknown-column
            modal_function: ingest_x
          - modal_function_name: no_slug
          - workflow_slug: Bad_Slug
          - workflow_slug: bad-entity
            entity_type: robot
          - workflow_slug: bare-writes
            writes: [raw.ok, signal_payloads]
          - workflow_slug: bad-table
            raw_table: "raw.x; drop table y"
          - workflow_slug: twice-key
            provider: a
            provider: b
          - just a string
          - workflow_slug: fine
        """,
    )
    found = {(p.slug, p.field, p.line) for p in problems}
    assert found == {
        ("wrong-types", "provider", 4),
        ("wrong-types", "is_active", 5),
        ("wrong-types", "writes", 6),
        ("unknown-column", "modal_function", 8),
        (None, "workflow_slug", 9),
        ("Bad_Slug", "workflow_slug", 10),
        ("bad-entity", "entity_type", 12),
        ("bare-writes", "writes", 14),
        ("bad-table", "raw_table", 16),
        ("twice-key", "provider", 19),
        (None, None, 20),
    }
    messages = {p.field: p.message for p in problems if p.slug == "wrong-types"}
    assert messages["provider"] == "provider must be string or null, not an integer 5"
    assert "not a schema-qualified" in next(p.message for p in problems if p.slug == "bare-writes")
    assert "company, person, target_client" in next(
        p.message for p in problems if p.slug == "bad-entity"
    )


def test_text_postgresql_cannot_store_is_a_problem(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """\
        version: 1
        workflows:
          - workflow_slug: nul
            description: "a\\0b"
          - workflow_slug: surrogate
            provider: "\\ud800"
        """,
    )
    assert {(p.slug, p.field, p.line) for p in problems} == {
        ("nul", "description", 4),
        ("surrogate", "provider", 6),
    }
    assert all("PostgreSQL cannot store" in p.message for p in problems)


def test_invalid_entries_are_skipped_and_valid_ones_kept(tmp_path: Path) -> None:
    registry = load_registry_file(
        _write(
            tmp_path,
            """\
        version: 1
        workflows:
          - workflow_slug: kept
          - workflow_slug: dropped
            provider: 5
        """,
        )
    )
    assert [e.workflow_slug for e in registry.entries] == ["kept"]
    assert len(registry.problems) == 1


def test_configured_entity_types_replace_the_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "version: 1\nworkflows:\n  - workflow_slug: a\n    entity_type: robot\n"
    )
    assert load_registry_file(path, entity_types=("robot",)).problems == ()
    assert load_registry_file(path, entity_types=None).problems == ()
    assert load_registry_file(path).problems[0].field == "entity_type"


def test_duplicate_slugs_and_rival_claims(tmp_path: Path) -> None:
    registry = load_registry_file(
        _write(
            tmp_path,
            """\
        version: 1
        workflows:
          - workflow_slug: same
            modal_function_name: f
          - workflow_slug: same
            modal_function_name: f
          - workflow_slug: rival
            modal_function_name: ingest_a
          - workflow_slug: rival
            modal_function_name: ingest_b
        """,
        )
    )
    assert [(e.workflow_slug, e.modal_function_name) for e in registry.entries] == [
        ("same", "f"),
        ("rival", "ingest_a"),
    ]
    duplicate, rival = registry.problems
    assert (duplicate.slug, duplicate.field, duplicate.line) == ("same", "workflow_slug", 5)
    assert "already defined (line 3)" in duplicate.message
    assert (rival.slug, rival.line) == ("rival", 9)
    assert "ingest_a (line 7) and again by ingest_b" in rival.message


# -- writing --------------------------------------------------------------------------------------

ENTRIES = (
    RegistryEntry(
        "zeta-flow",
        "ingest_zeta",
        description="multi\nline: yes # not a comment",
        writes=("raw.z",),
    ),
    RegistryEntry("alpha-flow", "ingest_alpha", provider="null", key_type="123", is_active=False),
)


def test_write_is_sorted_deterministic_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    write_registry_file(path, Registry(ENTRIES))
    text = path.read_text(encoding="utf-8")
    assert text == registry_yaml(reversed(ENTRIES))
    assert text.index("alpha-flow") < text.index("zeta-flow")
    assert text.startswith("# ")
    loaded = load_registry_file(path)
    assert loaded.entries == tuple(sorted(ENTRIES))
    write_registry_file(path, loaded)
    assert path.read_text(encoding="utf-8") == text


def test_write_of_no_entries(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    write_registry_file(path, [])
    assert load_registry_file(path) == Registry((), str(path))


def test_write_refuses_entries_that_would_not_load_back(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    with pytest.raises(ConformanceError, match="kebab-case"):
        write_registry_file(path, [RegistryEntry("Not Kebab")])
    assert path.read_text(encoding="utf-8") == GOOD


FREE_TEXT = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=40
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.one_of(st.none(), FREE_TEXT), min_size=4, max_size=4))
def test_hostile_free_text_round_trips_through_the_file(
    tmp_path: Path, values: list[str | None]
) -> None:
    entry = RegistryEntry(
        "hostile", values[0], provider=values[1], description=values[2], api_endpoint_url=values[3]
    )
    path = tmp_path / "hostile.yaml"
    write_registry_file(path, [entry, RegistryEntry("other")])
    assert load_registry_file(path).entries == (entry, RegistryEntry("other"))
    append_entries(path, [RegistryEntry("zz-appended", description=values[2])])
    loaded = load_registry_file(path).entries
    assert loaded[0] == entry and loaded[-1].description == values[2]


# -- appending ------------------------------------------------------------------------------------


def test_append_keeps_every_byte_of_the_human_file(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "# end of list\n")
    new = RegistryEntry("new-flow", "ingest_new", writes=("raw.new",))
    append_entries(path, [new])
    text = path.read_text(encoding="utf-8")
    assert text.startswith(GOOD)
    assert text.endswith("# end of list\n")
    loaded = load_registry_file(path)
    assert [e.workflow_slug for e in loaded.entries] == [
        "company-signals",
        "person-enrich",
        "new-flow",
    ]
    assert loaded.entries[-1] == new


def test_append_inserts_before_following_keys_and_comments(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        workflows:
          - workflow_slug: a
            # note about a
        # other settings
        version: 1
        """,
    )
    append_entries(path, [RegistryEntry("b")])
    text = path.read_text(encoding="utf-8")
    assert text.index("# note about a") < text.index("workflow_slug: b") < text.index("# other")
    assert [e.workflow_slug for e in load_registry_file(path).entries] == ["a", "b"]


@pytest.mark.parametrize("start", ["workflows: []  # none yet", "workflows:", "workflows: ~"])
def test_append_to_an_empty_list(tmp_path: Path, start: str) -> None:
    path = _write(tmp_path, f"# mine\nversion: 1\n{start}\n# tail\n")
    append_entries(path, [RegistryEntry("b"), RegistryEntry("a")])
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# mine\nversion: 1\n") and text.endswith("# tail\n")
    assert [e.workflow_slug for e in load_registry_file(path).entries] == ["b", "a"]


def test_append_keeps_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"version: 1\r\nworkflows:\r\n- workflow_slug: a\r\n")
    append_entries(path, [RegistryEntry("b")])
    data = path.read_bytes()
    assert data.startswith(b"version: 1\r\nworkflows:\r\n- workflow_slug: a\r\n- workflow_slug: b")
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_append_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    append_entries(path, [RegistryEntry("b"), RegistryEntry("a")])
    assert [e.workflow_slug for e in load_registry_file(path).entries] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "new", "message"),
    [
        ("version: 1\nworkflows:\n  - workflow_slug: a\n    provider: 5\n", "b", "problem"),
        ("version: 1\nworkflows:\n  - workflow_slug: a\n  - workflow_slug: a\n", "b", "problem"),
        ("version: 1\nworkflows: [\n", "b", "YAML"),
        ("version: 1\nworkflows:\n  - workflow_slug: a\n", "a", "already in"),
        ("version: 1\nworkflows:\n  - workflow_slug: a\n", "Bad Slug", "kebab-case"),
        ("version: 1\nworkflows: [{workflow_slug: a}]\n", "b", "flow-style"),
    ],
)
def test_append_refuses_and_writes_nothing(
    tmp_path: Path, text: str, new: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConformanceError, match=message):
        append_entries(path, [RegistryEntry(new)])
    assert path.read_text(encoding="utf-8") == text


# -- atomicity ------------------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_interrupted_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = _write(tmp_path, GOOD)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if failing == "write":
        real_fdopen = os.fdopen

        def half_writer(fd: int, *args: object, **kwargs: object) -> object:
            fh = real_fdopen(fd, *args, **kwargs)  # type: ignore[call-overload]

            def write(text: str) -> int:
                fh.__class__.write(fh, text[: len(text) // 2])
                raise OSError(28, "No space left on device")

            fh.write = write
            return fh

        monkeypatch.setattr(os, "fdopen", half_writer)
    else:
        monkeypatch.setattr(os, failing, boom)
    with pytest.raises(ConformanceError, match="No space left"):
        write_registry_file(path, ENTRIES)
    with pytest.raises(ConformanceError, match="No space left"):
        append_entries(path, [RegistryEntry("new-flow")])
    monkeypatch.undo()
    assert path.read_text(encoding="utf-8") == GOOD
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left


def test_write_follows_symlinks_and_keeps_the_mode(tmp_path: Path) -> None:
    target = _write(tmp_path, GOOD, "real.yaml")
    target.chmod(0o640)
    link = tmp_path / "workflow_registry.yaml"
    link.symlink_to(target)
    append_entries(link, [RegistryEntry("new-flow")])
    assert link.is_symlink()
    assert "new-flow" in target.read_text(encoding="utf-8")
    assert target.stat().st_mode & 0o777 == 0o640


def _load_text(tmp_path: Path, text: str) -> Registry:
    path = tmp_path / "workflow_registry.yaml"
    path.write_text(textwrap.dedent(text))
    return load_registry_file(path)


def test_columns_the_tool_does_not_know_are_kept_and_a_misspelt_one_is_a_problem(
    tmp_path: Path,
) -> None:
    registry = _load_text(
        tmp_path,
        """\
        version: 1
        workflows:
          - workflow_slug: a
            new_workflow_slug: a-v2
            workflow_type: ingest
            usage_category: gtm
            id: 17
          - workflow_slug: b
            raw_tabel: raw.b
        """,
    )
    (a,) = [e for e in registry.entries if e.workflow_slug == "a"]
    assert dict(a.extra) == {
        "id": 17,
        "new_workflow_slug": "a-v2",
        "usage_category": "gtm",
        "workflow_type": "ingest",
    }
    (problem,) = registry.problems  # new_workflow_slug is a column of its own, not a typo
    assert problem.field == "raw_tabel" and "did you mean raw_table?" in problem.message
    assert problem.line == 9


def test_comments_are_found_outside_strings() -> None:
    text = textwrap.dedent(
        """\
        # head
        version: 1  # v
        workflows:
          # about a
          - workflow_slug: a  # trailing
            description: 'has # inside'
            provider: x#y
            notes: |
              # not a comment
        """
    )
    assert comments(text) == [(1, "head"), (2, "v"), (4, "about a"), (5, "trailing")]
