"""Shared fixtures for the CLI and build tests: the demo pack, built once per session.

Loaded with ``pytest_plugins = ["conftest_build"]`` from tests/test_cli.py and tests/test_build.py.
A full build takes about 15-20 s, so the demo pack is built once (through the ``reviewkit``
console script, quietly) and every test that only reads a pack shares it. The two builds that
need a finished pack to replace (a second build of the same period, and one that fails half-way)
then run side by side in the background, each on its own copy, while other tests run.

The test modules also import helpers from here before pytest registers it as a plugin, so it
opts out of assertion rewriting (it asserts nothing): PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import forked
import pytest
from conftest import copy_demo, once_per_run, shared_folder
from pack_snapshots import BuiltPack as SnapshotPack
from pack_snapshots import DemoBuild

from reviewkit.periods import NOW_ENV

REPO = Path(__file__).resolve().parents[1]
DEMO_PARAMS = REPO / "params" / "weekly.yaml"
DEMO_DATA = REPO / "data" / "demo"
DEMO_LABEL = "2026-11-20"
PACK_FILES = ("pack.pdf", "pack.html", "pack.ipynb", "pack.xlsx", "summary.json",
              "manifest.json")
BIN = Path(sys.executable).parent
BUILD_TIMEOUT = 240


#: The clock of the session's demo pack: it is built at BASE_TIME, and every build over a copy
#: of it (the rebuild, the failing build, the fault cases) at LATER_TIME, so what those record
#: and print comes after it without waiting for the clock to tick (one-second resolution).
BASE_TIME = "2026-12-01T09:00:00+00:00"
LATER_TIME = "2026-12-01T09:30:00+00:00"


def child_env(now: str | None = None) -> dict[str, str]:
    """The environment for a child process: as a user runs reviewkit (no debug switches), with
    the clock at ``now`` when given."""
    env = dict(os.environ)
    for name in ("REVIEWKIT_DEBUG", "REVIEWKIT_NO_SPEEDUPS", NOW_ENV):
        env.pop(name, None)
    if now is not None:
        env[NOW_ENV] = now
    return env


def run_cli(
    args: Sequence[str | Path], *, module: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the command line in a child process: the console script, or ``python -m``."""
    command: list[str] = (
        [sys.executable, "-m", "reviewkit.cli"] if module else [str(BIN / "reviewkit")]
    )
    command += [str(arg) for arg in args]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, env=child_env(), timeout=BUILD_TIMEOUT,
        check=False,
    )


def staging_leftovers(out: Path) -> list[Path]:
    """Anything a build leaves behind besides finished packs and lock files."""
    return [
        path for path in out.rglob("*")
        if "staging" in path.name or ".previous-" in path.name
    ]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (relative name → bytes)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def copy_demo_inputs(root: Path) -> Path:
    """Copy the demo's weekly params and data under ``root`` as laid out in the repository
    (:func:`conftest.copy_demo`): builds keep their action store (``reviewkit.sqlite`` beside
    the params file) out of the working tree and away from other tests. Returns the params
    file."""
    return copy_demo(root)


@dataclasses.dataclass(frozen=True)
class BuiltPack:
    """A pack built by the command line, with what the command printed."""

    params: Path
    out: Path
    folder: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _build_command(params: Path, out: Path, *extra: str) -> list[str]:
    return ["build", "weekly", "--params", str(params), "--out", str(out), *extra]


class Background:
    """A command started now in a child process (:mod:`forked`) and awaited when a test first
    needs what it did; ``target`` is ``forked:cli`` (the command line, ``args`` its words) or
    another ``module:function``.

    Output goes to files, not pipes, so a chatty child never blocks on a full pipe.
    """

    def __init__(self, args: Sequence[Any], logs: Path, *, now: str | None = None,
                 target: str = "forked:cli") -> None:
        self._start = time.perf_counter()
        words = [[str(arg) for arg in args]] if target == "forked:cli" else args
        self._child = forked.Child(target, words, env=child_env(now), logs=logs)
        self._seconds: float | None = None

    def wait(self) -> tuple[int, str, str, float]:
        """Exit code, stdout, stderr and wall seconds (from start to first being awaited)."""
        returncode = self._child.wait(timeout=BUILD_TIMEOUT)
        if self._seconds is None:
            self._seconds = time.perf_counter() - self._start
        return (returncode, *self._child.output(), self._seconds)

    def stop(self) -> None:
        self._child.kill()


@dataclasses.dataclass(frozen=True)
class Rebuild:
    """A second build of the same period over an existing pack, with the state before it."""

    before_inode: int
    before_files: dict[str, bytes]
    before_mtimes: dict[str, int]
    child: Background
    params: Path
    out: Path

    @property
    def built(self) -> BuiltPack:
        returncode, stdout, stderr, seconds = self.child.wait()
        return BuiltPack(self.params, self.out, self.out / "weekly" / DEMO_LABEL, returncode,
                         stdout, stderr, seconds)


@dataclasses.dataclass(frozen=True)
class FailedBuild:
    """A build over a copy of the demo pack that fails while rendering the PDF."""

    before: dict[str, bytes]
    child: Background
    out: Path

    def report(self) -> dict[str, Any]:
        returncode, stdout, stderr, _ = self.child.wait()
        if returncode != 0 or not stdout.strip():
            raise AssertionError(f"the failing-build script itself failed:\n{stderr}")
        data: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        return data


@dataclasses.dataclass
class _Session:
    """The session's demo builds, started in the background as the session starts (see
    ``tests/conftest.py``) and awaited by the fixtures below."""

    pool: ThreadPoolExecutor = dataclasses.field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo"))
    demo_future: Future[dict[str, Any]] | None = None
    demo_root: Path | None = None
    demo: BuiltPack | None = None
    rebuild: Rebuild | None = None
    failed: FailedBuild | None = None
    snapshots: DemoBuild | None = None


def _start_followups(demo: BuiltPack, root: Path) -> tuple[Rebuild, FailedBuild]:
    """Start the rebuild and the failing build, each on its own copy of the demo pack and at
    a later time on the clock than the demo pack's.

    Each copy also gets its own copy of the inputs (with the action store the demo build
    wrote), so the two children never share a store.
    """
    copies: list[tuple[Path, Path]] = []
    for name in ("rebuild", "failing"):
        shutil.copytree(demo.params.parent.parent, root / name / "inputs")
        shutil.copytree(demo.out, root / name / "out")
        copies.append((root / name / "inputs" / "params" / "weekly.yaml", root / name / "out"))
    (params, out), (failing_params, failing_out) = copies

    folder = out / "weekly" / DEMO_LABEL
    (folder / "left-from-old-pack.txt").write_text("old pack\n", encoding="utf-8")
    before_files = snapshot(folder)
    before_mtimes = {name: (folder / name).stat().st_mtime_ns for name in PACK_FILES}
    before_inode = folder.stat().st_ino
    rebuild = Rebuild(before_inode, before_files, before_mtimes,
                      Background(_build_command(params, out), root / "rebuild" / "logs",
                                 now=LATER_TIME),
                      params, out)
    failed = FailedBuild(
        snapshot(failing_out / "weekly" / DEMO_LABEL),
        # In a child so it overlaps the rebuild: fault_build.pdf_fails_in_process.
        Background([str(failing_params), str(failing_out)], root / "failing" / "logs",
                   now=LATER_TIME, target="fault_build:pdf_fails_in_process"),
        failing_out,
    )
    return rebuild, failed


@pytest.fixture(scope="session")
def _demo_session() -> Iterator[_Session]:
    session = _Session()
    yield session
    for child in (session.rebuild and session.rebuild.child,
                  session.failed and session.failed.child):
        if child is not None:
            child.stop()
    # A build another worker may be waiting for is finished, not killed.
    session.pool.shutdown(wait=True)
    if session.snapshots is not None:
        session.snapshots.close()


def _build_demo_pack(root: Path) -> dict[str, Any]:
    """The demo weekly pack built under ``root`` on a fresh store, at :data:`BASE_TIME`."""
    params = copy_demo_inputs(root / "inputs")
    # A temporary folder of its own, so a test can see what the build left there.
    env = {**child_env(BASE_TIME), "TMPDIR": str(demo_temporary_folder(root))}
    start = time.perf_counter()
    proc = forked.run(_build_command(params, root / "out", "-q"), env=env,
                      timeout=BUILD_TIMEOUT)
    return {"params": str(params), "returncode": proc.returncode, "stdout": proc.stdout,
            "stderr": proc.stderr, "seconds": time.perf_counter() - start}


def demo_temporary_folder(root: Path) -> Path:
    """The temporary folder (``TMPDIR``) of the demo build under ``root``."""
    folder = root / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def demo_pack_started(_demo_session: _Session, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Start building the demo weekly pack in the background, once for the whole test run
    (every pytest-xdist worker reads the same pack)."""
    if _demo_session.demo_future is None:
        root = shared_folder(tmp_path_factory) / "demo"
        _demo_session.demo_root = root
        _demo_session.demo_future = _demo_session.pool.submit(
            once_per_run, root, _build_demo_pack)


@pytest.fixture(scope="session")
def demo_pack(demo_pack_started: None, _demo_session: _Session) -> BuiltPack:
    """The demo weekly pack, built once per test run with ``reviewkit build weekly -q`` (on a
    fresh store, at :data:`BASE_TIME`). Read-only for tests: copy what you change."""
    if _demo_session.demo is None:
        assert _demo_session.demo_future is not None and _demo_session.demo_root is not None
        try:
            made = _demo_session.demo_future.result(timeout=BUILD_TIMEOUT * 2)
        except RuntimeError as exc:
            pytest.fail(str(exc))
        root = _demo_session.demo_root
        built = BuiltPack(Path(made["params"]), root / "out",
                          root / "out" / "weekly" / DEMO_LABEL, made["returncode"],
                          made["stdout"], made["stderr"], made["seconds"])
        if built.returncode != 0:
            pytest.fail(f"the demo build failed ({built.returncode}):\n{built.stderr}")
        _demo_session.demo = built
    return _demo_session.demo


def _followups(demo: BuiltPack, session: _Session,
               factory: pytest.TempPathFactory) -> tuple[Rebuild, FailedBuild]:
    """The rebuild and the failing build over copies of the demo pack, both started when the
    first of them is wanted (the test modules that read them share an xdist_group, so one
    worker runs them)."""
    if session.rebuild is None or session.failed is None:
        session.rebuild, session.failed = _start_followups(demo, factory.mktemp("followups"))
    return session.rebuild, session.failed


@pytest.fixture(scope="session")
def demo_packs_started(_demo_session: _Session, tmp_path_factory: pytest.TempPathFactory
                       ) -> DemoBuild:
    """Start building the snapshot packs of every cadence in the background, once for the
    whole test run: tests/pack_snapshots.py."""
    if _demo_session.snapshots is None:
        root = (shared_folder(tmp_path_factory) / "snapshots").resolve()
        _demo_session.snapshots = DemoBuild(root, shared=True)
        _demo_session.snapshots.start()
    return _demo_session.snapshots


@pytest.fixture(scope="session")
def demo_packs(demo_packs_started: DemoBuild) -> dict[str, SnapshotPack]:
    """The demo packs of tests/snapshots/ (the minutes replayed, the week before, this week's,
    the monthly and the quarterly pack, on one store), built once per test run: read-only for
    tests. By name, e.g. ``monthly-2026-10``; their common root is ``.root`` of any."""
    try:
        return demo_packs_started.wait()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def demo_rebuild(demo_pack: BuiltPack, _demo_session: _Session,
                 tmp_path_factory: pytest.TempPathFactory) -> Rebuild:
    """The demo period built again (not quiet) over a copy of the demo pack.

    A marker file was added to the old pack first: a pack replaced whole loses it.
    """
    rebuild, _ = _followups(demo_pack, _demo_session, tmp_path_factory)
    rebuild.child.wait()
    return rebuild


@pytest.fixture(scope="session")
def failed_build(demo_pack: BuiltPack, _demo_session: _Session,
                 tmp_path_factory: pytest.TempPathFactory) -> FailedBuild:
    """A build (in-process, in a child) over a copy of the demo pack, failing at the PDF."""
    _, failed = _followups(demo_pack, _demo_session, tmp_path_factory)
    failed.child.wait()
    return failed


#: The last week of the tiny definition's data.
TINY_DAY = dt.date(2026, 11, 20)


def two_site_definition(root: Path) -> Path:
    """A tiny pack definition under ``root``: two units (North, South), two KPIs, one cadence
    (weekly, six weeks to 2026-11-20) and a notebook of three sections, so a pack costs a kernel
    start and a short PDF; North's commentary on uptime shows an image of the assets folder.
    Returns its params file."""
    import nbformat  # deferred: only the batch tests need it

    from reviewkit.store.database import Store  # deferred: as above
    root.mkdir(parents=True, exist_ok=True)
    (root / "kpis.yaml").write_text("""kpis:
  - {id: uptime, name: Uptime, perspective: Reliability, direction: higher_is_better,
     target: 99, amber: 98, owner: Ops, cadences: [weekly], headline: true}
  - {id: incidents, name: Incidents, perspective: Reliability, direction: lower_is_better,
     target: 4, owner: Ops, cadences: [weekly], aggregation: sum, headline: true}
""", encoding="utf-8")
    rows = ["kpi_id,period_end,value,segment,count"]
    for week in range(6):
        day = (TINY_DAY - dt.timedelta(weeks=5 - week)).isoformat()
        rows += [f"uptime,{day},{98.5 + week * 0.1:.1f},N1,30", f"uptime,{day},99.5,S1,10",
                 f"incidents,{day},{week % 3},N1,", f"incidents,{day},1,S1,"]
    (root / "measurements.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell('cadence = "weekly"\nparams_file = None\nperiod_end = None\n'
                                  "unit = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from reviewkit.run.notebook import open_pack\n"
                                  "pack = open_pack(cadence, params_file, period_end, unit)"),
        *[nbformat.v4.new_code_cell(f'pack.section("{section}")', metadata={
            "reviewkit": {"section": {"id": section, "title": section}, "toc": False}})
          for section in ("cover", "units", "summary")],
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, root / "tiny.ipynb")
    params = root / "params.yaml"
    params.write_text("""organisation: Two Sites
catalog: kpis.yaml
measurements: measurements.csv
notebook: tiny.ipynb
assets: assets
cadences: [weekly]
units:
  - {id: north, segment: N1, name: North}
  - {id: south, segment: S1, name: South}
""", encoding="utf-8")
    # North's commentary on uptime shows an image of the assets folder.
    (root / "assets").mkdir()
    (root / "assets" / "trend.png").write_bytes(PNG)
    store = Store.open(str(root / "reviewkit.sqlite"))
    try:
        store.save_narrative(cadence="weekly", label=TINY_DAY.isoformat(), key="kpi-uptime",
                             kpi_id="uptime", text="Uptime recovers.\n\n![trend](trend.png)",
                             basis={}, expected_revision=0, by="analyst", source="test",
                             unit="north")
    finally:
        store.dispose()
    return params


def png(rgba: bytes) -> bytes:
    """A PNG of one pixel."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" + rgba)) + chunk(b"IEND", b""))


PNG = png(b"\xff\x00\x00\xff")


def harbour_with_minutes(folder: Path) -> Path:
    """A copy of the Harbourside organisation in ``folder`` with its weekly minutes imported
    (the group's actions on the stores' KPIs): its folder."""
    shutil.copytree(REPO / "tests" / "fixtures" / "orgs" / "harbour", folder,
                    ignore=shutil.ignore_patterns("generate.py", "out", "__pycache__"))
    for minutes in sorted((folder / "minutes").glob("*.yaml")):
        done = forked.run(["minutes", "import", str(minutes), "--params", "weekly.yaml"],
                          cwd=folder, env=child_env(), timeout=120)
        assert done.returncode == 0, done.stderr
    return folder
