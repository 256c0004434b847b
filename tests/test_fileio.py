"""Atomic writes and the temporary files under them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from conformance import fileio


def test_a_temporary_file_is_new_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    fd, name = fileio.create_temporary(tmp_path, prefix=".x-", suffix=".tmp")
    os.close(fd)
    path = Path(name)
    assert path.parent == tmp_path and path.name.startswith(".x-") and path.name.endswith(".tmp")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fd2, name2 = fileio.create_temporary(tmp_path, prefix=".x-", suffix=".tmp")
    os.close(fd2)
    assert name2 != name


def test_write_atomic_keeps_an_existing_files_mode_and_gives_a_new_one_the_umasks(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.txt"
    old.write_text("before")
    old.chmod(0o640)
    fileio.write_atomic(old, "after")
    assert old.read_text() == "after" and stat.S_IMODE(old.stat().st_mode) == 0o640
    umask = os.umask(0o022)
    try:
        fileio.write_atomic(tmp_path / "sub" / "new.bin", b"\x00\x01")
    finally:
        os.umask(umask)
    new = tmp_path / "sub" / "new.bin"
    assert new.read_bytes() == b"\x00\x01" and stat.S_IMODE(new.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["new.bin", "old.txt", "sub"]


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "registry.yaml"
    target.write_text("old")

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        fileio.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["registry.yaml"]
