"""reviewkit batch: every unit's and the group's pack made in worker processes (or on a Dask
cluster), skipped when unchanged, listed in batch.json and index.html, safe against a second
batch and against being killed.

Economy: one tiny definition (two units, two KPIs, one cadence) and a notebook of two sections,
so a pack costs a kernel start and a two-page PDF; the first batch is shared by several tests.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import forked
import nbformat
import pytest
from conftest import run_cli_in_process as run
from conftest_build import child_env, png
from conftest_build import two_site_definition as _definition

from reviewkit.run import publish
from reviewkit.run.batch import BatchOptions, locked, run_batch

pytestmark = pytest.mark.slow

DAY = dt.date(2026, 11, 20)  # the tiny definition's last week
FILES = ("pack.pdf", "pack.html", "pack.ipynb", "summary.json", "manifest.json")




def _batch(*args: str | Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return forked.run(["batch", *args], env=child_env(), timeout=timeout)


def _whole_packs(out: Path) -> list[Path]:
    """Every visible pack folder; each must have all its files (nothing half-written)."""
    folders = sorted({p.parent for p in out.glob("weekly/*/*/*") if not p.parent.name
                     .startswith(".")})
    for folder in folders:
        missing = [name for name in FILES if not (folder / name).is_file()]
        assert missing == [], f"{folder} is half-written: {missing}"
    return folders


@pytest.fixture(scope="module")
def first_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    """The tiny definition's batch, run as the command line runs it, in this process: its
    workers are forked from this process's fork server, as a batch forks them from its own
    (a batch in a forked child would start and preload a second server)."""
    root = tmp_path_factory.mktemp("batch")
    params = _definition(root / "inputs")
    out = root / "out"
    code, stdout, stderr = run(["batch", "--params", str(params), "--out", str(out),
                                "--workers", "2"])
    assert code == 0, stderr
    return params, out, subprocess.CompletedProcess(["batch"], code, stdout, stderr)


def test_a_batch_builds_each_unit_and_the_group_into_their_own_folders(
        first_batch: tuple[Path, Path, Any]) -> None:
    _, out, proc = first_batch
    folders = _whole_packs(out)
    assert [f.relative_to(out).as_posix() for f in folders] == [
        "weekly/2026-11-20/group", "weekly/2026-11-20/north", "weekly/2026-11-20/south"]
    report = json.loads((out / "batch.json").read_text())
    assert report["counts"] == {"built": 3, "skipped": 0, "failed": 0}
    assert report["consistency"] == []
    assert {p["unit"]: p["status"] for p in report["packs"]} == {
        "north": "built", "south": "built", "group": "built"}
    assert "3 built, 0 unchanged (skipped), 0 failed" in proc.stderr
    group = json.loads((out / "weekly/2026-11-20/group/summary.json").read_text())
    assert [u["id"] for u in group["units"]] == ["north", "south"]
    north = json.loads((out / "weekly/2026-11-20/north/summary.json").read_text())
    assert north["unit"]["name"] == "North"
    # only the group pack has the units page
    group_html = (out / "weekly/2026-11-20/group/pack.html").read_text()
    assert "<h2>Units side by side</h2>" in group_html
    north_html = (out / "weekly/2026-11-20/north/pack.html").read_text()
    assert "<h2>Units side by side</h2>" not in north_html


def test_the_library_page_lists_every_pack_with_links_and_no_outside_resource(
        first_batch: tuple[Path, Path, Any]) -> None:
    _, out, _ = first_batch
    page = (out / "index.html").read_text(encoding="utf-8")
    for unit in ("north", "south", "group"):
        assert f'href="./weekly/2026-11-20/{unit}/pack.pdf"' in page
    assert "North" in page and "Group" in page
    assert "http" not in page.replace('name="viewport"', "")
    os.remove(out / "index.html")
    proc = forked.run(["index", out], env=child_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (out / "index.html").read_text(encoding="utf-8").count("pack.pdf") == 3


def test_a_second_batch_with_nothing_changed_skips_every_pack(
        first_batch: tuple[Path, Path, Any]) -> None:
    params, out, _ = first_batch
    before = {f: (f / "pack.pdf").stat().st_mtime_ns for f in _whole_packs(out)}
    report = run_batch(BatchOptions(params=(params,), out=out, workers=1))
    assert [p.status for p in report.packs] == ["skipped"] * 3
    assert {f: (f / "pack.pdf").stat().st_mtime_ns for f in _whole_packs(out)} == before


def test_the_plan_names_one_build_command_per_pack(first_batch: tuple[Path, Path, Any]
                                                   ) -> None:
    params, out, _ = first_batch
    proc = _batch("--params", params, "--out", out, "--plan", timeout=60)
    assert proc.returncode == 0, proc.stderr
    entries = json.loads(proc.stdout)
    assert [e["command"][-2:] for e in entries] == [["--unit", "north"], ["--unit", "south"],
                                                    ["--unit", "group"]]
    assert entries[0]["command"][:3] == ["reviewkit", "build", "weekly"]


def test_a_second_batch_on_the_same_folder_is_refused_naming_the_first(tmp_path: Path) -> None:
    params = _definition(tmp_path / "inputs")
    out = tmp_path / "out"
    with locked(out):
        proc = _batch("--params", params, "--out", out, timeout=60)
    assert proc.returncode == 4
    line = proc.stderr.strip()
    assert line.startswith(f"reviewkit: error: {out} is being written by reviewkit batch "
                           f"(pid {os.getpid()}")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_killed_batch_leaves_whole_packs_and_a_rerun_builds_only_the_rest(
        tmp_path: Path) -> None:
    params = _definition(tmp_path / "inputs")
    out = tmp_path / "out"
    child = forked.start(["batch", "--params", params, "--out", out, "--workers", "1"],
                         env=child_env(), logs=tmp_path / "logs")
    deadline = time.monotonic() + 240
    while not _whole_packs(out) and time.monotonic() < deadline:
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    finished = _whole_packs(out)
    assert len(finished) == 1
    report = run_batch(BatchOptions(params=(params,), out=out, workers=2))
    statuses = sorted(p.status for p in report.packs)
    assert statuses == ["built", "built", "skipped"], [p.error for p in report.packs]
    assert len(_whole_packs(out)) == 3
    assert list(out.rglob("*staging*")) == []


def test_the_batch_clean_up_spares_the_staging_of_a_build_holding_its_pack(
        tmp_path: Path) -> None:
    """A single build in the same output folder holds its pack's lock while its staging folder
    fills: the batch's clean-up at the end leaves it; an abandoned one goes."""
    from reviewkit.run.batch import _clean_abandoned

    week = tmp_path / "out" / "weekly" / DAY.isoformat()
    busy = week / ".north.staging-999999-0000aaaa"
    abandoned = week / ".south.staging-999998-0000bbbb"
    for folder in (busy, abandoned):
        folder.mkdir(parents=True)
        (folder / "pack.html").write_text("half", encoding="utf-8")
    with publish.locked(week / "north"):
        _clean_abandoned(tmp_path / "out")
    assert (busy / "pack.html").is_file()
    assert not abandoned.exists()


def _dask_workers(batch: int) -> list[int]:
    """The worker processes of the Dask cluster the batch process ``batch`` started: forked
    from the batch's fork server (a child of the batch), which imported the pipeline once,
    not started afresh by the batch itself."""
    parents: dict[int, int] = {}
    commands: dict[int, bytes] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue
        parents[int(stat.parent.name)] = parent
        commands[int(stat.parent.name)] = command
    servers = {pid for pid, parent in parents.items()
               if parent == batch and b"forkserver" in commands[pid]}
    return sorted(pid for pid, parent in parents.items() if parent in servers)


def _what_it_says(folder: Path) -> dict[str, Any]:
    """A pack's summary.json without the moment it was built."""
    summary: dict[str, Any] = json.loads((folder / "summary.json").read_text())
    return {key: value for key, value in summary.items() if key != "generated_at"}


def test_a_batch_on_dask_finishes_every_pack_when_a_worker_is_killed_and_says_what_a_local_one_says(
        tmp_path: Path, first_batch: tuple[Path, Path, Any]) -> None:
    """The batch's own Dask cluster (two worker processes) loses a worker while a pack is being
    built: every pack is still built whole, the same as the local batch's; the progress line
    counts what runs, and Dask's own warnings never reach the user."""
    params = _definition(tmp_path / "inputs")
    out = tmp_path / "out"
    child = forked.start(["batch", "--params", params, "--out", out, "--workers", "2",
                          "--executor", "dask"], env=child_env(), logs=tmp_path / "logs")
    killed: list[int] = []
    deadline = time.monotonic() + 200
    while not killed and child.poll() is None and time.monotonic() < deadline:
        workers = _dask_workers(child.pid)
        if len(workers) == 2 and list(out.rglob(".*staging*")):
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])
        time.sleep(0.1)
    proc = child.finished(timeout=300)
    assert killed, "no worker was killed"
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "batch.json").read_text())
    assert [p["status"] for p in report["packs"]] == ["built"] * 3, report["packs"]
    assert report["executor"] == "dask" and report["consistency"] == []
    assert len(_whole_packs(out)) == 3
    assert list(out.rglob("*staging*")) == []
    assert "Warning" not in proc.stderr and "warnings.warn" not in proc.stderr, proc.stderr
    running = [int(found) for found in re.findall(r"\(running (\d+),", proc.stderr)]
    assert running and max(running) <= 2, proc.stderr
    _, local, _ = first_batch
    for unit in ("north", "south", "group"):
        assert (_what_it_says(out / "weekly" / DAY.isoformat() / unit)
                == _what_it_says(local / "weekly" / DAY.isoformat() / unit)), unit


# -- published packs (these change the first batch's folders, so they come last) --------------


@pytest.fixture(scope="module")
def published(first_batch: tuple[Path, Path, Any]) -> tuple[Path, Path, dict[str, bytes]]:
    """The first batch's packs with North's published (version 1): the published pack's
    files, as they were published. The tests using it come last in this module: they change
    the first batch's folders."""
    params, out, _ = first_batch
    common = ["weekly", "--params", str(params), "--out", str(out), "--unit", "north"]
    proc = forked.run(["publish", *common, "--approver", "Dana", "--force", "-q"],
                      env=child_env())
    assert proc.returncode == 0, proc.stderr
    north = out / "weekly" / DAY.isoformat() / "north"
    return params, out, _files(north)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_a_draft_of_a_published_pack_goes_beside_it_and_a_batch_keeps_both(
        published: tuple[Path, Path, dict[str, bytes]]) -> None:
    params, out, files = published
    north = out / "weekly" / DAY.isoformat() / "north"
    assert json.loads((north / "summary.json").read_text())["state"] == "final"
    proc = forked.run(["draft", "weekly", "--params", params, "--out", out, "--unit", "north"],
                      env=child_env())
    assert proc.returncode == 0, proc.stderr
    beside = north.with_name("north.draft")
    assert proc.stdout.strip() == str(beside / "pack.ipynb")
    assert f"the published pack (version 1) stays in {north}" in proc.stderr
    assert _files(north) == files
    assert json.loads((beside / "summary.json").read_text())["state"] == "draft"
    # Nothing changed since: the batch rebuilds neither the published pack nor its draft.
    report = run_batch(BatchOptions(params=(params,), out=out, workers=1))
    assert [p.status for p in report.packs] == ["skipped"] * 3
    assert _files(north) == files


def test_a_batch_rebuilds_what_is_stale_or_not_whole_and_never_over_a_published_pack(
        published: tuple[Path, Path, dict[str, bytes]]) -> None:
    params, out, files = published
    week = out / "weekly" / DAY.isoformat()
    (params.parent / "assets" / "trend.png").write_bytes(png(b"\x00\x80\x00\xff"))
    (week / "south" / "pack.html").unlink()
    summary = json.loads((week / "group" / "summary.json").read_text())
    summary["status_counts"]["red"] = 0
    (week / "group" / "summary.json").write_text(json.dumps(summary))
    report = run_batch(BatchOptions(params=(params,), out=out, workers=2))
    assert {p.planned.unit or "group": p.status for p in report.packs} == {
        "north": "built", "south": "built", "group": "built"}, [p.error for p in report.packs]
    assert _files(week / "north") == files, "the published pack must stay as published"
    assert json.loads((week / "north.draft" / "manifest.json").read_text())["state"] == "draft"
    for folder in (week / "south", week / "group", week / "north.draft"):
        assert publish.whole_pack(folder), folder
    assert report.consistency == []


def test_publishing_again_collects_the_edits_made_in_the_draft_beside_and_removes_it(
        published: tuple[Path, Path, dict[str, bytes]]) -> None:
    params, out, _ = published
    week = out / "weekly" / DAY.isoformat()
    draft = week / "north.draft" / "pack.ipynb"
    notebook = json.loads(draft.read_text(encoding="utf-8"))
    [cell] = [c for c in notebook["cells"]
              if c["metadata"].get("reviewkit", {}).get("key") == "kpi-uptime"]
    cell["source"] = "Uptime is back above target after the network fix."
    draft.write_text(json.dumps(notebook), encoding="utf-8")
    proc = forked.run(["publish", "weekly", "--params", params, "--out", out, "--unit",
                       "north", "--approver", "Sam", "--force", "-q"], env=child_env())
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((week / "north" / "summary.json").read_text())
    assert (summary["state"], summary["version"]) == ("final", 2)
    assert "Uptime is back above target after the network fix." in (
        week / "north" / "pack.html").read_text(encoding="utf-8")
    assert (week / "north" / "versions" / "1" / "pack.pdf").is_file()
    assert not (week / "north.draft").exists()


def test_a_failed_notebook_is_kept_beside_the_pack_until_the_pack_builds(tmp_path: Path) -> None:
    """The executed notebook of a failed build is kept for the user to open; once the same pack
    builds, it is gone (it no longer says anything true about the pack beside it)."""
    params = _definition(tmp_path / "inputs")
    notebook_file = params.parent / "tiny.ipynb"
    good = notebook_file.read_bytes()
    notebook = nbformat.read(notebook_file, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell('raise ValueError("a cell that fails")'))
    nbformat.write(notebook, notebook_file)
    out = tmp_path / "out"
    failed = out / "weekly" / DAY.isoformat() / "failed-north.ipynb"
    args = ["build", "weekly", "--params", str(params), "--out", str(out), "--unit", "north",
            "-q"]
    code, _, err = run(args)
    assert code == 1 and "a cell that fails" in err and failed.is_file()
    notebook_file.write_bytes(good)
    code, _, err = run(args)
    assert (code, err) == (0, "")
    assert (out / "weekly" / DAY.isoformat() / "north" / "pack.pdf").is_file()
    assert not failed.exists()
