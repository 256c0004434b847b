"""The executable's table of compiled dataclass methods (conformance.startup)."""

from __future__ import annotations

import dataclasses
import json
import marshal
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import startup

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "warehouse"

# Prints, for every dataclass libcst and our records define, what its generated methods are
# made of, and how a parsed tree and a few records behave; then how many texts were compiled.
_FINGERPRINT = r"""
import dataclasses, inspect, json, sys
from conformance import startup
table = None
if sys.argv[1] != "-":
    table = startup.CodeTable(startup.Path(sys.argv[1]))
    table.install()
import libcst
import libcst._nodes.expression, libcst._nodes.statement, libcst._nodes.module
from conformance import model
from conformance.analysis import values
out = {}
mods = [libcst._nodes.expression, libcst._nodes.statement, libcst._nodes.module, model, values]
for mod in mods:
    for name, cls in sorted(vars(mod).items()):
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            continue
        methods = {}
        for meth in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__"):
            fn = vars(cls).get(meth)
            code = getattr(fn, "__code__", None)
            if code is None:
                methods[meth] = repr(fn)
                continue
            methods[meth] = [
                code.co_code.hex(), repr(code.co_consts), code.co_names, code.co_varnames,
                code.co_flags, code.co_argcount, code.co_kwonlyargcount,
                repr(getattr(fn, "__annotations__", None)), repr(fn.__defaults__),
            ]
        out[f"{mod.__name__}.{name}"] = [str(inspect.signature(cls)), methods]
tree = libcst.parse_module("x = f(1)\nclass A:\n    y: int = 2\n")
again = libcst.parse_module(tree.code)
out["tree"] = [repr(tree.body[0]), tree.deep_equals(again), tree.code]
out["compiled"] = table.compiled if table is not None else None
print(json.dumps(out, sort_keys=True))
"""


def _fingerprint(table: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _FINGERPRINT, table],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_classes_are_the_same_with_the_table_empty_or_loaded(tmp_path: Path) -> None:
    path = tmp_path / "table.bin"
    plain = _fingerprint("-")
    first = _fingerprint(str(path))  # no file there: every text is compiled
    assert plain.pop("compiled") is None
    compiled = first.pop("compiled")
    assert isinstance(compiled, int) and compiled > 500
    assert first == plain
    assert len([k for k in plain if k.startswith("libcst.")]) > 150
    assert len([k for k in plain if k.startswith("conformance.")]) > 40


def test_a_saved_table_is_used_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "table.bin"
    table = startup.CodeTable(path)
    # what the fingerprint compiles, saved by an executable run of the same interpreter
    script = _FINGERPRINT.replace(
        "print(json.dumps(out, sort_keys=True))",
        "table.save() if table is not None else None\nprint(json.dumps(out, sort_keys=True))",
    )
    first = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert first.returncode == 0, first.stderr
    assert path.is_file()
    assert len(startup.CodeTable(path).codes) == json.loads(first.stdout)["compiled"]
    second = _fingerprint(str(path))
    assert second.pop("compiled") == 0  # nothing compiled: every text was in the table
    plain = _fingerprint("-")
    plain.pop("compiled")
    assert second == plain
    assert table.codes == {}  # made before the file existed


def test_code_is_compiled_without_this_modules_future_flags() -> None:
    # startup.py has ``from __future__ import annotations``: compiled with its flags, the
    # annotations of a generated __init__ would become strings
    table = startup.CodeTable(None)
    ns: dict[str, object] = {}
    table.exec("def f(x: int) -> None:\n    pass\n", {"__builtins__": __builtins__}, ns)
    assert ns["f"].__annotations__ == {"x": int, "return": None}  # type: ignore[attr-defined]
    assert table.compiled == 1
    table.exec("def f(x: int) -> None:\n    pass\n", {"__builtins__": __builtins__}, ns)
    assert table.compiled == 1  # the second time from the table


def test_exec_without_globals_uses_the_callers_and_code_passes_through() -> None:
    table = startup.CodeTable(None)
    ns: dict[str, object] = {}
    table.exec("z = EXAMPLE.name", None, ns)  # EXAMPLE: this module's global
    assert ns["z"] == "warehouse"
    table.exec(compile("w = 2", "<t>", "exec"), {}, ns)
    assert ns["w"] == 2 and table.compiled == 1


def _point_class() -> type:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Point:
        x: int
        y: str = "a"

    return Point


def test_installed_table_makes_ordinary_dataclasses_and_uninstalls() -> None:
    plain = _point_class()
    table = startup.CodeTable(None)
    table.install()
    try:
        assert vars(dataclasses)["exec"] == table.exec
        point = _point_class()
    finally:
        table.uninstall()
    assert "exec" not in vars(dataclasses)
    assert table.compiled >= 3
    p = point(1)
    assert p == point(1, "a") and hash(p) == hash(point(1, "a")) and p != point(2)
    assert repr(p).replace(point.__qualname__, "P") == repr(plain(1)).replace(
        plain.__qualname__, "P"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 3  # type: ignore[attr-defined]
    for name in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__"):
        made, expected = getattr(point, name), getattr(plain, name)
        assert made.__code__.co_code == expected.__code__.co_code, name
        assert made.__code__.co_flags == expected.__code__.co_flags, name
        assert getattr(made, "__annotations__", None) == getattr(
            expected, "__annotations__", None
        ), name


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"garbage",
        b"conformance dataclass code\n",  # no checksum
        b"conformance dataclass code\n" + b"0" * 16 + marshal.dumps({}),  # wrong checksum
        b"other header\n" + b"0" * 16,
    ],
    ids=["empty", "garbage", "truncated", "bad-checksum", "foreign"],
)
def test_a_bad_table_file_is_ignored(
    tmp_path: Path, blob: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = tmp_path / "t.bin"
    path.write_bytes(blob)
    table = startup.CodeTable(path)
    assert table.codes == {}
    table.exec("a = 1", {}, {})
    table.save()  # replaced by a good one
    assert len(startup.CodeTable(path).codes) == 1


@pytest.mark.parametrize(
    "payload",
    [
        marshal.dumps([1, 2]),
        marshal.dumps({b"k": 1}),
        marshal.dumps({"k": compile("1", "", "eval")}),
        b"\xff\x00",
    ],
    ids=["not-a-dict", "not-code", "str-key", "unmarshallable"],
)
def test_a_table_of_the_wrong_shape_is_ignored(tmp_path: Path, payload: bytes) -> None:
    from _blake2 import blake2b

    path = tmp_path / "t.bin"
    path.write_bytes(
        b"conformance dataclass code\n" + blake2b(payload, digest_size=16).digest() + payload
    )
    assert startup.CodeTable(path).codes == {}


def test_saved_only_when_something_was_compiled_and_bytecode_may_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cache" / "t.bin"
    table = startup.CodeTable(path)
    table.save()
    assert not path.exists()  # nothing compiled
    table.exec("a = 1", {}, {})
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    table.save()
    assert not path.exists()  # PYTHONDONTWRITEBYTECODE
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    table.save()
    assert path.is_file() and list(path.parent.iterdir()) == [path]  # no temporary left
    unwritable = startup.CodeTable(tmp_path / "file" / "t.bin")
    (tmp_path / "file").write_text("not a directory")
    unwritable.exec("b = 2", {}, {})
    unwritable.save()  # never raises


def test_executable_with_a_table_reports_the_same(tmp_path: Path) -> None:
    path = tmp_path / "t.bin"
    args = ["check", str(EXAMPLE), "--format", "json", "--no-cache"]
    runs = []
    for _ in range(2):
        runs.append(
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import sys; from pathlib import Path; from conformance.startup import main;"
                    f"sys.argv[1:] = {args!r}; main(Path({str(path)!r}))",
                ],
                capture_output=True,
                text=True,
                cwd=tmp_path,
                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
            )
        )
        assert path.is_file()
    plain = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from conformance.cli import run; import sys;sys.argv[1:] = {args!r}; run()",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert runs[0].returncode == runs[1].returncode == plain.returncode == 1
    assert runs[0].stdout == runs[1].stdout == plain.stdout
    assert len(json.loads(plain.stdout)["findings"]) > 18
