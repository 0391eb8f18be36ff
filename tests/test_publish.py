"""reviewkit.publish: a pack folder appears whole or not at all, and stale staging is cleaned.

Fast unit tests on small folders; no build.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from reviewkit.errors import UsageError
from reviewkit.run import publish

LABEL = "2026-11-20"


@pytest.fixture
def final(tmp_path: Path) -> Path:
    """Where a pack goes: ``out/weekly/<label>`` (the folders do not exist yet)."""
    return tmp_path / "out" / "weekly" / LABEL


def _fill(folder: Path, token: str, names: tuple[str, ...] = ("pack.pdf", "summary.json")) -> None:
    for name in names:
        (folder / name).write_text(f"{token} {name}\n", encoding="utf-8")
    (folder / "charts").mkdir(exist_ok=True)
    (folder / "charts" / "a.svg").write_text(f"{token} chart\n", encoding="utf-8")


def _files(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def _siblings(final: Path) -> list[str]:
    """Everything beside the pack folder: it and its lock file, once a commit is done."""
    return sorted(path.name for path in final.parent.iterdir())


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --- staging_dir ------------------------------------------------------------------------------


def test_staging_dir_is_a_fresh_hidden_folder_beside_the_final_place(final: Path) -> None:
    first = publish.staging_dir(final)
    second = publish.staging_dir(final)
    assert first != second
    for staging in (first, second):
        assert staging.is_dir()
        assert staging.parent == final.parent
        assert staging.name.startswith(f".{LABEL}.staging-{os.getpid()}-")
        assert list(staging.iterdir()) == []
    assert not final.exists()


def test_staging_dir_where_no_folder_can_be_made_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file, not a folder\n", encoding="utf-8")
    with pytest.raises(UsageError, match="cannot write the pack under") as error:
        publish.staging_dir(blocker / "weekly" / LABEL)
    assert error.value.exit_code == 2


# --- commit -----------------------------------------------------------------------------------


def test_commit_into_a_new_place_moves_the_staging_folder_whole(final: Path) -> None:
    staging = publish.staging_dir(final)
    _fill(staging, "new")
    expected = _files(staging)
    publish.commit(staging, final)
    assert _files(final) == expected
    assert not staging.exists()
    assert _siblings(final) == [f".{LABEL}.lock", LABEL]


def test_commit_replaces_an_existing_pack_whole(final: Path) -> None:
    final.mkdir(parents=True)
    _fill(final, "old", names=("pack.pdf", "summary.json", "only-in-old.txt"))
    staging = publish.staging_dir(final)
    _fill(staging, "new")
    expected = _files(staging)
    publish.commit(staging, final)
    assert _files(final) == expected  # nothing of the old pack is left in it
    assert not staging.exists()
    assert _siblings(final) == [f".{LABEL}.lock", LABEL]


def test_commit_replacing_a_pack_swaps_folders_with_one_atomic_exchange(
    final: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    final.mkdir(parents=True)
    _fill(final, "old")
    staging = publish.staging_dir(final)
    _fill(staging, "new")
    new_inode = staging.stat().st_ino
    calls: list[tuple[Path, Path, bool]] = []
    real_exchange = publish._exchange

    def spy(a: Path, b: Path) -> bool:
        swapped = real_exchange(a, b)
        calls.append((a, b, swapped))
        return swapped

    monkeypatch.setattr(publish, "_exchange", spy)
    publish.commit(staging, final)
    assert calls == [(staging, final, True)]
    assert final.stat().st_ino == new_inode  # the staging folder itself is now the pack
    assert set(_files(final).values()) == {"new pack.pdf\n", "new summary.json\n",
                                           "new chart\n"}


def test_exchange_swaps_two_folders(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "file").write_text("a", encoding="utf-8")
    (b / "file").write_text("b", encoding="utf-8")
    assert publish._exchange(a, b)
    assert (a / "file").read_text(encoding="utf-8") == "b"
    assert (b / "file").read_text(encoding="utf-8") == "a"


def test_commit_without_exchange_support_still_replaces_whole_and_cleans_up(
    final: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish, "_exchange", lambda a, b: False)
    final.mkdir(parents=True)
    _fill(final, "old", names=("pack.pdf", "only-in-old.txt"))
    staging = publish.staging_dir(final)
    _fill(staging, "new")
    expected = _files(staging)
    publish.commit(staging, final)
    assert _files(final) == expected
    assert _siblings(final) == [f".{LABEL}.lock", LABEL]  # no .previous-* left


def test_readers_never_see_the_pack_missing_while_it_is_replaced(final: Path) -> None:
    final.mkdir(parents=True)
    _fill(final, "v0")
    stop = threading.Event()
    missing: list[int] = []

    def watch() -> None:
        while not stop.is_set():
            if not final.is_dir():
                missing.append(1)

    reader = threading.Thread(target=watch)
    reader.start()
    try:
        for version in range(1, 13):
            staging = publish.staging_dir(final)
            _fill(staging, f"v{version}")
            publish.commit(staging, final)
    finally:
        stop.set()
        reader.join()
    assert missing == []
    assert set(_files(final).values()) == {"v12 pack.pdf\n", "v12 summary.json\n",
                                           "v12 chart\n"}


# --- clean_abandoned and discard ----------------------------------------------------------------


def test_clean_abandoned_removes_staging_of_dead_pids_and_keeps_live_ones(final: Path) -> None:
    final.parent.mkdir(parents=True)
    dead = final.parent / f".{LABEL}.staging-{_dead_pid()}-deadbeef"
    live = final.parent / f".{LABEL}.staging-{os.getpid()}-cafef00d"
    other_pack = final.parent / f".2026-11-13.staging-{_dead_pid()}-0badf00d"
    not_ours = final.parent / f".{LABEL}.staging-notapid"
    for folder in (dead, live, other_pack, not_ours, final):
        folder.mkdir()
        (folder / "pack.pdf").write_text("x", encoding="utf-8")
    publish.clean_abandoned(final)
    assert not dead.exists()
    for kept in (live, other_pack, not_ours, final):
        assert (kept / "pack.pdf").is_file(), kept.name


def test_staging_dir_cleans_up_after_killed_builds(final: Path) -> None:
    final.parent.mkdir(parents=True)
    abandoned = final.parent / f".{LABEL}.staging-{_dead_pid()}-12345678"
    abandoned.mkdir()
    (abandoned / "pack.html").write_text("half", encoding="utf-8")
    staging = publish.staging_dir(final)
    assert not abandoned.exists()
    assert staging.is_dir()


def test_a_build_killed_between_the_two_renames_leaves_the_previous_pack_to_the_next(
    final: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where folders cannot be exchanged at once (NFS, SMB), a swap is two renames: the pack
    to a retired name, then the new one into place. A build killed between them leaves no
    pack at ``final``, the previous one retired under the dead build's id and the new one in
    its staging folder. The next build puts the previous pack back (the new one's record was
    never committed), never deletes it."""
    monkeypatch.setattr(publish, "_exchange", lambda a, b: False)
    final.mkdir(parents=True)
    _fill(final, "published")
    previous = _files(final)
    dead = _dead_pid()
    final.rename(final.parent / f".{LABEL}.previous-{dead}-0123abcd")
    new = final.parent / f".{LABEL}.staging-{dead}-4567cdef"
    new.mkdir()
    _fill(new, "killed build's")
    staging = publish.staging_dir(final)  # what the next build does first
    assert _files(final) == previous
    assert _siblings(final) == sorted([f".{LABEL}.lock", LABEL, staging.name])


def test_discard_removes_the_staging_folder(final: Path) -> None:
    staging = publish.staging_dir(final)
    _fill(staging, "unfinished")
    publish.discard(staging)
    assert not staging.exists()
    assert not final.exists()
    publish.discard(staging)  # discarding twice (or something never made) is harmless


# --- two processes at once ----------------------------------------------------------------------

_COMMITTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from reviewkit.run import publish

    final, token, sync = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    staging = publish.staging_dir(final)
    for i in range(40):
        (staging / f"part-{i:02d}.txt").write_text(f"{token} {i}\\n" * 200)
    (staging / "charts").mkdir()
    (staging / "charts" / "a.svg").write_text(f"{token} chart\\n")
    (sync / f"ready-{token}").touch()
    deadline = time.monotonic() + 30
    while not (sync / "go").exists():
        if time.monotonic() > deadline:
            sys.exit("no go signal")
        time.sleep(0.0005)
    publish.commit(staging, final)
    """
)


def _expected_version(token: str) -> dict[str, str]:
    files = {f"part-{i:02d}.txt": f"{token} {i}\n" * 200 for i in range(40)}
    files["charts/a.svg"] = f"{token} chart\n"
    return files


def _wait_until_ready(children: list[subprocess.Popen[str]], ready: list[Path]) -> None:
    deadline = time.monotonic() + 60
    while not all(path.exists() for path in ready):
        for child in children:
            if child.poll() is not None:
                _, stderr = child.communicate()
                raise AssertionError(f"a committer exited early ({child.returncode}):\n{stderr}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the committers to get ready")
        time.sleep(0.005)


@pytest.mark.parametrize("existing", [False, True], ids=["new-place", "replacing"])
def test_two_processes_committing_at_once_leave_exactly_one_complete_version(
    existing: bool, tmp_path: Path
) -> None:
    final = tmp_path / "out" / "weekly" / LABEL
    if existing:
        final.mkdir(parents=True)
        _fill(final, "old")
    for round_ in range(3):
        sync = tmp_path / f"sync-{round_}"
        sync.mkdir()
        tokens = (f"A{round_}", f"B{round_}")
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _COMMITTER, str(final), token, str(sync)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for token in tokens
        ]
        try:
            _wait_until_ready(children, [sync / f"ready-{token}" for token in tokens])
            (sync / "go").touch()
            results = [child.communicate(timeout=60) for child in children]
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                child.communicate()  # reap it and close its pipes
        for child, (_, stderr) in zip(children, results, strict=True):
            assert child.returncode == 0, stderr
        assert _files(final) in (_expected_version(tokens[0]), _expected_version(tokens[1]))
        assert _siblings(final) == [f".{LABEL}.lock", LABEL]


# --- a published pack is only ever replaced by a newer publication -----------------------------


def _pack(folder: Path, state: str, version: int, token: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"state": state, "version": version}))
    (folder / "pack.pdf").write_text(token, encoding="utf-8")


def test_a_draft_goes_beside_a_published_pack_and_never_over_it(final: Path) -> None:
    _pack(final, "final", 1, "version 1")
    staging = publish.staging_dir(final)
    _pack(staging, "draft", 2, "draft of version 2")
    with publish.swapped_in(staging, final, publishing=False, found_published=1) as placed:
        assert placed == final.with_name(f"{LABEL}.draft")
    assert (final / "pack.pdf").read_text() == "version 1"
    assert (placed / "pack.pdf").read_text() == "draft of version 2"
    assert not (placed / "versions").exists()


def test_a_draft_replaces_a_draft_in_place(final: Path) -> None:
    _pack(final, "draft", 1, "first draft")
    staging = publish.staging_dir(final)
    _pack(staging, "draft", 1, "second draft")
    with publish.swapped_in(staging, final, publishing=False, found_published=0) as placed:
        assert placed == final
    assert (final / "pack.pdf").read_text() == "second draft"


def test_a_publication_replaces_the_published_pack_and_removes_the_draft_beside_it(
    final: Path,
) -> None:
    _pack(final, "final", 1, "version 1")
    _pack(publish.draft_beside(final), "draft", 2, "draft of version 2")
    staging = publish.staging_dir(final)
    _pack(staging, "final", 2, "version 2")
    with publish.swapped_in(staging, final, publishing=True, found_published=1) as placed:
        assert placed == final
    assert (final / "pack.pdf").read_text() == "version 2"
    assert (final / "versions" / "1" / "pack.pdf").read_text() == "version 1"
    assert not publish.draft_beside(final).exists()


@pytest.mark.parametrize("publishing", [False, True], ids=["draft", "publication"])
def test_a_build_finishing_after_a_publish_of_its_pack_stops_and_replaces_nothing(
    final: Path, publishing: bool
) -> None:
    """A draft (or a publication) prepared while version 5 was the latest finishes after
    version 6 was published: it would be out of date, so it stops, and version 6 stays."""
    _pack(final, "final", 6, "version 6")
    staging = publish.staging_dir(final)
    _pack(staging, "final" if publishing else "draft", 6, "made from version 5")
    with pytest.raises(publish.PublishedMeanwhile, match=r"version 6 of the pack in .* was "
                       r"published while this .* was being made.*nothing was replaced"), \
            publish.swapped_in(staging, final, publishing=publishing, found_published=5):
        raise AssertionError("the swap must not happen")
    assert (final / "pack.pdf").read_text() == "version 6"
    assert not publish.draft_beside(final).exists()
    assert publish.PublishedMeanwhile.exit_code == 4


def test_the_pack_lock_is_reentrant_in_a_thread_and_exclusive_between_processes(
    final: Path,
) -> None:
    final.parent.mkdir(parents=True)
    with publish.locked(final), publish.locked(final):  # a build, and its swap inside it
        assert publish.is_locked(final)
        code = textwrap.dedent(f"""
            from pathlib import Path
            from reviewkit.run import publish
            try:
                with publish.locked(Path({str(final)!r}), wait=False):
                    print("got it")
            except publish.PackBusy as exc:
                print(exc.one_line())
        """)
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=60, check=True)
        assert other.stdout.startswith(f"the pack {final} is being built by reviewkit (pid "
                                       f"{os.getpid()} on "), other.stdout
    assert not publish.is_locked(final)


def _whole(folder: Path) -> None:
    """A pack folder whose manifest lists the hash of each output, as a build writes it."""
    folder.mkdir(parents=True)
    outputs = {}
    for name, data in (("pack.pdf", b"%PDF-1.7 a whole pack\n"), ("pack.html", b"<html>\n"),
                       ("summary.json", b'{"state": "draft"}\n'), ("pack.ipynb", b"{}\n")):
        (folder / name).write_bytes(data)
        outputs[name] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps({"outputs": outputs}))


@pytest.mark.parametrize(("damage", "whole"), [
    (lambda f: None, True),
    (lambda f: (f / "pack.html").unlink(), False),
    (lambda f: (f / "pack.pdf").write_bytes(b"%PDF-1.7 a wh"), False),
    (lambda f: (f / "summary.json").write_text('{"state": "final"}\n'), False),
    (lambda f: (f / "manifest.json").write_text("{not json"), False),
    (lambda f: (f / "pack.ipynb").unlink(), False),
    # the analyst's working copy: edited in Jupyter, its edits are collected before comparing
    (lambda f: (f / "pack.ipynb").write_text('{"cells": []}'), True),
], ids=["untouched", "html-deleted", "pdf-truncated", "summary-edited", "manifest-damaged",
        "notebook-deleted", "notebook-edited"])
def test_a_pack_is_whole_only_when_every_output_matches_its_manifest(
    tmp_path: Path, damage: Any, whole: bool
) -> None:
    folder = tmp_path / "pack"
    _whole(folder)
    damage(folder)
    assert publish.whole_pack(folder) is whole
