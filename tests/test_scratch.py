"""Temporary folders a process killed outright leaves behind are removed by the next one that
makes such a folder (reviewkit._scratch); a living process's folders, and folders that are
not ours, are left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reviewkit import _scratch

#: A process that makes a scratch folder under the folder it is given, says where, and waits.
_HOLDER = """
import sys, time
from reviewkit import _scratch
print(_scratch.make("reviewkit-", sys.argv[1]), flush=True)
time.sleep(120)
"""


def _holder(parent: Path) -> tuple[subprocess.Popen[str], Path]:
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, str(parent)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, Path(child.stdout.readline().strip())


def test_a_killed_processs_folder_goes_with_the_next_folder_made_and_a_living_ones_stays(
        tmp_path: Path) -> None:
    killed, left = _holder(tmp_path)
    living, held = _holder(tmp_path)
    (left / "prepared.pickle").write_bytes(b"the pack's figures")
    older = tmp_path / "reviewkit-made-by-an-older-version"
    older.mkdir()
    other = tmp_path / "someone-elses"
    other.mkdir()
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        mine = _scratch.make("rk-kernel-", tmp_path)
        assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
            [held.name, mine.name, older.name, other.name])
        assert _scratch.sweep(tmp_path) == []  # nothing more: the living keep theirs
        os.kill(living.pid, signal.SIGKILL)
        living.wait(timeout=30)
        assert _scratch.sweep(tmp_path) == [held]
        assert mine.is_dir() and (mine / _scratch.OWNER).is_file()  # still this process's
    finally:
        for child in (killed, living):
            child.kill()
            child.wait(timeout=30)
            if child.stdout is not None:
                child.stdout.close()
    _scratch.remove(mine)
    assert sorted(path.name for path in tmp_path.iterdir()) == [older.name, other.name]


def test_a_scratch_folder_is_private_removed_after_its_block_and_named_for_the_sweep(
        tmp_path: Path) -> None:
    with _scratch.folder("reviewkit-duckdb-") as made:
        assert made.name.startswith("reviewkit-duckdb-")
        assert (made.stat().st_mode & 0o777) == 0o700
    assert not made.exists()
    with pytest.raises(ValueError, match="reviewkit-"):
        _scratch.make("elsewhere-", tmp_path)  # a folder the sweep would never find
    assert list(tmp_path.iterdir()) == []
