"""A build killed at any stage (SIGKILL: no clean-up runs) or failing to record its pack leaves
the pack folder whole (the previous pack, or the new one complete), the store readable and in
step, and no kernel running.

Economy: the pack under fault is a small unit's pack (tests/conftest_build.py's two-site
definition: a kernel, a notebook of three sections, a two-page PDF), built once and then over
its copies with each fault, two at a time: what is under test is the pipeline's order of
writes, not the size of the pack."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import forked
import pytest
from conftest_build import (
    BASE_TIME,
    LATER_TIME,
    TINY_DAY,
    child_env,
    snapshot,
    two_site_definition,
)
from fault_build import SAVED_MEANWHILE

from reviewkit import _scratch
from reviewkit.inputs.catalog import Kpi
from reviewkit.run import _kernel_fork, publish
from reviewkit.run.batch import compare_group
from reviewkit.run.cluster import cluster_failure
from reviewkit.run.workers import Limits, LocalPool, Outcome, memory_too_small
from reviewkit.store.database import Store

pytest_plugins = ["conftest_build"]
pytestmark = pytest.mark.slow

BEFORE_SWAP = ("charts", "execute", "pdf", "before-swap")
AFTER_SWAP = ("after-swap", "after-record")
MODES = (*BEFORE_SWAP, *AFTER_SWAP, "record-fails", "disk-full", "published-meanwhile",
         "saved-meanwhile")
PACK_FILES = ("pack.pdf", "pack.html", "pack.ipynb", "summary.json", "manifest.json")
LABEL = TINY_DAY.isoformat()
UNIT = "north"


def _params(root: Path) -> Path:
    return root / "inputs" / "params.yaml"


def _folder(root: Path) -> Path:
    return root / "out" / "weekly" / LABEL / UNIT


@dataclasses.dataclass(frozen=True)
class Faulted:
    mode: str
    root: Path
    params: Path
    folder: Path
    returncode: int
    stderr: str
    kernel_pid: int | None
    #: The kernel's parent: the fork server (reviewkit.run._kernel_fork), not the build.
    kernel_parent: int | None
    build_pid: int


@dataclasses.dataclass(frozen=True)
class Base:
    root: Path
    folder_files: dict[str, bytes]
    recorded_at: str
    runs: dict[str, Faulted]


def _recorded(params: Path) -> dict[str, str]:
    store = Store.open(str(params.parent / "reviewkit.sqlite"))
    try:
        return {pack.label: pack.built_at for pack in store.packs("weekly", UNIT)}
    finally:
        store.dispose()


def _run(mode: str, base_root: Path, where: Path) -> Faulted:
    shutil.copytree(base_root, where)
    params = _params(where)
    pid_file = where / "kernel.pid"
    # A temporary folder of its own: what the build leaves there is the test's to read.
    (where / "tmp").mkdir()
    child = forked.Child("fault_build:faulted_build",
                         [mode, str(params), str(where / "out"), str(pid_file), "--unit", UNIT],
                         env={**child_env(LATER_TIME), "TMPDIR": str(where / "tmp")})
    proc = child.finished(timeout=300)
    pid, parent = ((int(found) for found in pid_file.read_text().split()) if pid_file.is_file()
                   else (None, None))
    return Faulted(mode, where, params, _folder(where), proc.returncode, proc.stderr, pid,
                   parent, child.pid)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    """North's pack built on a fresh store, and a build over a copy of it with each fault,
    two at a time; they run later on the clock, so a new record has a later built_at."""
    root = tmp_path_factory.mktemp("faults") / "base"
    params = two_site_definition(root / "inputs")
    built = forked.run(["build", "weekly", "--params", params, "--unit", UNIT,
                        "--out", root / "out", "-q"], env=child_env(BASE_TIME), timeout=300)
    assert built.returncode == 0, built.stderr
    before = snapshot(_folder(root))
    assert "pack.pdf" in before
    recorded = _recorded(params)[LABEL]
    cases = tmp_path_factory.mktemp("fault-cases")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(MODES, pool.map(lambda m: _run(m, root, cases / m), MODES),
                        strict=True))
    return Base(root, before, recorded, runs)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _whole_new_pack(folder: Path) -> bool:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return all(
        hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
        for name, digest in manifest["outputs"].items()
    ) and all((folder / name).is_file() for name in PACK_FILES)


@pytest.mark.parametrize("mode", MODES)
def test_no_kernel_outlives_a_killed_or_failed_build(base: Base, mode: str) -> None:
    run = base.runs[mode]
    assert run.kernel_pid is not None, run.stderr
    # The build ran beside the fork server it was forked from, so its kernel was forked there
    # too: the build is not its parent, and the kernel must see the build die by itself. In
    # the "execute" case the kernel starts afresh, the build's child (tests/fault_build.py).
    assert (run.kernel_parent == run.build_pid) == (mode == "execute"
                                                    or not _kernel_fork.SUPPORTED)
    deadline = time.monotonic() + 10
    while _alive(run.kernel_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(run.kernel_pid)


@pytest.mark.parametrize("mode", BEFORE_SWAP)
def test_a_build_killed_before_the_swap_leaves_the_previous_pack_and_record(
    base: Base, mode: str
) -> None:
    run = base.runs[mode]
    assert run.returncode == -9, run.stderr
    assert snapshot(run.folder) == base.folder_files
    assert _recorded(run.params)[LABEL] == base.recorded_at


@pytest.mark.parametrize("mode", AFTER_SWAP)
def test_a_build_killed_after_the_swap_leaves_the_new_pack_whole_and_the_store_readable(
    base: Base, mode: str
) -> None:
    run = base.runs[mode]
    assert run.returncode == -9, run.stderr
    assert snapshot(run.folder) != base.folder_files
    assert _whole_new_pack(run.folder)
    # The record was not committed (the kill came first): the store still holds the earlier
    # record, readable and unlocked; the next build of the period records it again.
    assert _recorded(run.params)[LABEL] == base.recorded_at


def test_a_store_that_cannot_record_the_pack_leaves_the_previous_pack_in_place(
    base: Base,
) -> None:
    run = base.runs["record-fails"]
    assert run.returncode == 4, run.stderr
    assert run.stderr.count("\n") == 1 and "database is locked" in run.stderr
    assert snapshot(run.folder) == base.folder_files
    assert _recorded(run.params)[LABEL] == base.recorded_at


def test_a_full_disk_while_writing_the_pack_is_one_line_and_keeps_the_previous_pack(
    base: Base,
) -> None:
    run = base.runs["disk-full"]
    assert run.returncode == 4, run.stderr
    assert run.stderr.count("\n") == 1 and "No space left on device" in run.stderr
    assert "nothing was replaced" in run.stderr
    assert snapshot(run.folder) == base.folder_files


def test_a_draft_finishing_after_a_publish_of_its_pack_stops_and_leaves_the_published_pack(
    base: Base,
) -> None:
    run = base.runs["published-meanwhile"]
    assert run.returncode == 4, run.stderr
    assert run.stderr.count("\n") == 1
    assert "version 1 of the pack in" in run.stderr and "was published while this draft was " \
        "being made" in run.stderr and "nothing was replaced" in run.stderr
    after = snapshot(run.folder)
    manifest = json.loads(after.pop("manifest.json"))
    assert (manifest["state"], manifest["version"]) == ("final", 1)
    assert after == {name: data for name, data in base.folder_files.items()
                     if name != "manifest.json"}
    assert not run.folder.with_name(f"{run.folder.name}.draft").exists()
    assert _recorded(run.params)[LABEL] == base.recorded_at


def test_a_notebook_saved_after_its_edits_were_read_stops_the_build_and_keeps_the_words(
    base: Base,
) -> None:
    """An analyst saves pack.ipynb in Jupyter while a build of the pack runs, after the build
    read its edits: the swap would retire the folder holding those words and delete it. The
    build stops instead (one line, exit 4), and the saved notebook stays, for the next build
    to collect."""
    run = base.runs["saved-meanwhile"]
    assert run.returncode == 4, run.stderr
    assert run.stderr.count("\n") == 1
    assert "pack.ipynb was saved after this build read its edits" in run.stderr
    assert "nothing was replaced" in run.stderr
    after = snapshot(run.folder)
    assert SAVED_MEANWHILE in after.pop("pack.ipynb").decode("utf-8")
    assert after == {name: data for name, data in base.folder_files.items()
                     if name != "pack.ipynb"}
    assert _recorded(run.params)[LABEL] == base.recorded_at


def test_a_build_waits_for_the_build_or_publish_of_the_same_pack_under_way(
    base: Base, tmp_path: Path
) -> None:
    """Builds and publishes of one pack are serialised: while another process holds the pack's
    lock (a publish under way), a build does not read the pack's edits nor replace it."""
    root = tmp_path / "serial"
    shutil.copytree(base.root, root)
    params = _params(root)
    folder = _folder(root)
    before = snapshot(folder)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
         "from reviewkit.run import publish\n"
         "with publish.locked(Path(sys.argv[1])):\n"
         "    print('held', flush=True)\n    sys.stdin.read()\n", str(folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        build = subprocess.Popen(
            [sys.executable, "-m", "reviewkit", "build", "weekly", "--params", str(params),
             "--unit", UNIT, "--out", str(root / "out")], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=child_env(LATER_TIME))
        deadline = time.monotonic() + 120
        waiting = ""
        assert build.stderr is not None
        while "waiting for reviewkit (pid" not in waiting and time.monotonic() < deadline:
            waiting += build.stderr.readline()
        assert f"waiting for reviewkit (pid {holder.pid} on " in waiting
        assert build.poll() is None and snapshot(folder) == before
    finally:
        holder.communicate("", timeout=30)  # releases the lock
    _, err = build.communicate(timeout=240)
    assert build.returncode == 0, err
    assert snapshot(folder) != before and _whole_new_pack(folder)


@pytest.mark.parametrize("mode", MODES)
def test_what_a_killed_build_leaves_beside_the_pack_is_cleaned_by_the_next(
    base: Base, mode: str
) -> None:
    run = base.runs[mode]
    publish.clean_abandoned(run.folder)
    leftovers = [p.name for p in run.folder.parent.iterdir()
                 if p.name.startswith(".") and not p.name.endswith(".lock")]
    assert leftovers == []


@pytest.mark.parametrize("mode", MODES)
def test_what_a_killed_build_leaves_in_the_temporary_folder_goes_with_the_next_build(
    base: Base, mode: str
) -> None:
    """A build that fails cleans its temporary folders up itself; one killed outright cannot
    (its prepared pack, the kernel's sockets and log stay), and the next build's first
    temporary folder sweeps them away (reviewkit._scratch), the pack's figures with them."""
    temporary = base.runs[mode].root / "tmp"
    # Jinja's cache of compiled section templates is kept on purpose (reviewkit._speedups).
    kept = [path.name for path in temporary.glob("_jinja2-cache-*")]
    left = sorted(path.name for path in temporary.iterdir() if path.name not in kept)
    if mode in (*BEFORE_SWAP, *AFTER_SWAP):
        assert any(name.startswith("reviewkit-") for name in left), left
    else:
        assert left == []
    swept = _scratch.make("reviewkit-", temporary)  # what the next build does first
    try:
        assert sorted(path.name for path in temporary.iterdir()) == sorted([swept.name, *kept])
    finally:
        _scratch.remove(swept)
    assert sorted(path.name for path in temporary.iterdir()) == sorted(kept)


def test_shutting_down_a_kernel_stops_its_warm_up_instead_of_waiting_for_it(
    tmp_path: Path,
) -> None:
    # A refused publish or a bad input shuts the kernel down while it may still be warming up:
    # the warm-up must stop with it, not hold the command until its own time-out.
    from reviewkit.run.execute import Kernel

    kernel = Kernel(cwd=tmp_path, warm_up="import time\ntime.sleep(120)")
    assert kernel._warm is not None
    kernel.shutdown()
    assert not kernel._warm.is_alive()


# -- a batch under trouble: the memory limit, the cluster, damaged summaries -----------------


def test_a_memory_limit_too_small_for_a_worker_is_reported_as_such() -> None:
    """Under a cap too small to load the pipeline the worker aborts (or raises MemoryError):
    the pack fails saying the memory limit is too small, not "worker died"."""
    pool = LocalPool(1, Limits(seconds=120, memory=200 << 20))
    events = list(pool.run(iter([(0, None)])))  # type: ignore[list-item]
    [outcome] = [event[1] for event in events if event[0] == "finished"]
    assert isinstance(outcome, Outcome) and outcome.status == "failed"
    assert outcome.error.startswith("the pack's worker ran out of memory under the memory "
                                    "limit of 200 MB; raise --memory-limit"), outcome.error


@pytest.mark.parametrize("detail", [
    "could not execute the notebook: RuntimeError: Kernel died before replying to kernel_info "
    "(kernel said: RuntimeError: can't start new thread)",
    "could not execute the notebook: DeadKernelError: Kernel died (kernel said: object type "
    "name: MemoryError)",
])
def test_a_kernel_out_of_memory_under_the_limit_is_reported_in_our_words(detail: str) -> None:
    assert memory_too_small(detail, 1100 << 20) == (
        "the pack's kernel ran out of memory under the memory limit of 1100 MB; raise "
        "--memory-limit (a pack's worker and its kernel each need about 1 GB of address "
        "space), or 0 for no limit; nothing was published")
    assert memory_too_small(detail, None) == detail


def test_a_pack_lost_on_every_dask_try_is_reported_in_our_words_not_as_killed_worker() -> None:
    from distributed import KilledWorker  # deferred: only this test needs it

    error = KilledWorker("reviewkit-pack-0-123", "tcp://127.0.0.1:40000", "tcp://127.0.0.1:1")
    message = cluster_failure(error, Limits(seconds=30, memory=2048 << 20))
    assert message == ("its worker was lost on each of 3 tries: the pack ran past the time "
                       "limit of 30 s (--time-limit) or over the memory limit of 2048 MB, or "
                       "the worker died; nothing was published")
    assert "KilledWorker" not in message


@pytest.mark.parametrize("damage", [
    lambda s: s.update(kpis="many"), lambda s: s.update(kpis=[{"value": 1}]),
    lambda s: s["kpis"][0].update(weight="heavy"), lambda s: s.update(unit=["north"]),
], ids=["kpis-a-string", "kpi-without-id", "weight-not-a-number", "unit-a-list"])
def test_a_damaged_summary_at_the_end_of_a_batch_is_not_checked_and_said_so(
    damage: Any,
) -> None:
    kpi = Kpi(id="uptime", name="Uptime", perspective="Reliability",
              direction="higher_is_better", target=99, owner="Ops", cadences=["weekly"])
    unit = {"unit": {"id": "north"}, "kpis": [{"id": "uptime", "value": 99.0, "weight": 1}]}
    damage(unit)
    group = {"kpis": [{"id": "uptime", "value": 99.0}]}
    assert compare_group("weekly 2026-11-20 group", {"uptime": kpi}, group, [unit]) == [
        {"pack": "weekly 2026-11-20 group", "kpi": None, "detail": "not checked: a "
         "summary.json of the group or a unit is damaged; rebuild those packs (--force)"}]
