"""Shared input fixtures: small files written into tmp_path and KPIs built in code."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import sys
import textwrap
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pg import postgres_url  # noqa: F401  (the session's PostgreSQL server, for every module)

from reviewkit import _speedups, cadences
from reviewkit.cli import main as cli_main
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.loaded import load_inputs
from reviewkit.layout.view import PackView, make_view
from reviewkit.outputs.audit import STRICT_ENV
from reviewkit.periods import TODAY_ENV
from reviewkit.run.prepare import evaluate
from reviewkit.store.database import Store

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "data" / "demo"


#: The day every test takes as today (``REVIEWKIT_TODAY``), whatever the machine's clock says: a
#: Monday after the demo's last week of data (Friday 20 November 2026), in the quarter of the
#: board pack. What a pack says never depends on the day the suite runs.
SUITE_TODAY = "2026-12-01"
#: The Monday after the demo's last week of data, before November ends: the demo's board
#: meets with the quarter and its month in progress (the month-end opex row not yet in).
BOARD_MEETS = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def pin_the_clock() -> None:
    """Take :data:`SUITE_TODAY` as today in this process and every child it starts."""
    os.environ[TODAY_ENV] = SUITE_TODAY


def pytest_configure(config: pytest.Config) -> None:
    pin_the_clock()
    controller = getattr(config.option, "numprocesses", None) and not hasattr(
        config, "workerinput")  # pytest-xdist's controller runs no test
    if not (controller or config.option.collectonly) and sys.platform.startswith("linux"):
        # The fork server a batch starts, started now (it imports while the tests are
        # collected): the children of tests/forked.py are forked from it, and every build in
        # this process or in them forks its kernel from it, as a batch worker's does
        # (reviewkit.run._kernel_fork). tests/test_kernel.py starts kernels both ways.
        # Deferred: the server starts with this process's environment, the clock pinned.
        from reviewkit.run._spawned import worker_context

        worker_context()


#: The session's shared builds (tests/conftest_build.py): a test reading one is ``slow``.
SHARED_BUILDS = {"demo_pack", "demo_packs", "demo_rebuild", "failed_build"}
#: Test files run in one process together under pytest-xdist: they read the rebuild and the
#: failing build over the demo pack (tests/conftest_build.py), made once per process.
FOLLOWUP_READERS = ("tests/test_build.py", "tests/test_cli.py", "tests/test_pdf_structure.py")


def work_unit(nodeid: str) -> str:
    """What pytest-xdist hands a worker as one piece: a test file (its module fixtures, a
    batch, a fault sweep or a notebook's kernel for nbval, are then made once), or the files
    that share the demo pack's follow-up builds."""
    path = nodeid.split("::", 1)[0]
    return "demo follow-ups" if path in FOLLOWUP_READERS else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's scope scheduling with :func:`work_unit` as the scope."""
    from xdist.scheduler import LoadScopeScheduling  # deferred: only under pytest-xdist

    class ByWorkUnit(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    # Once durations are known (the last run's, or the seed's in a fresh clone), hand out the
    # work units in the order of the collection (longest first: pytest_collection_modifyitems);
    # without them, pytest-xdist's own order, the units with the most tests first.
    if _unit_seconds_known(config):
        config.option.loadscopereorder = False
    return ByWorkUnit(config, log)


def pytest_itemcollected(item: pytest.Item) -> None:
    if SHARED_BUILDS & set(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.slow)


#: Where pytest's cache keeps how long each work unit took in the last run that ran it.
UNIT_SECONDS = "reviewkit/work-unit-seconds"
#: The same, from a full run on a 2-core machine, for a checkout whose cache knows no run yet (a
#: fresh clone, CI): only the order of the units depends on it. To refresh it after adding a
#: long test file, copy .pytest_cache/v/reviewkit/work-unit-seconds over it after `make test`.
UNIT_SECONDS_SEED = Path(__file__).with_name("work-unit-seconds.json")


def _unit_seconds_known(config: pytest.Config) -> dict[str, float]:
    cache = getattr(config, "cache", None)
    took: dict[str, float] = cache.get(UNIT_SECONDS, {}) if cache is not None else {}
    if not took and UNIT_SECONDS_SEED.is_file():
        took = json.loads(UNIT_SECONDS_SEED.read_text(encoding="utf-8"))
    return took


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest work units first (pytest-xdist hands them out in this order), so that no
    long one starts last and keeps one core busy while the other idles: by how long each took
    in the last run (pytest's cache), a unit not run since with a ``slow`` test after those and
    before the others. Every worker reads the same cache, so all collect the same order. Where
    the cache knows no run (a fresh clone), the durations come from the committed seed,
    ``tests/work-unit-seconds.json``."""
    slow = {work_unit(item.nodeid) for item in items if item.get_closest_marker("slow")}
    took = _unit_seconds_known(config)

    def longest_first(item: pytest.Item) -> tuple[bool, float]:
        unit = work_unit(item.nodeid)
        if unit in took:
            return False, -took[unit]
        return unit not in slow, 0.0

    items.sort(key=longest_first)


_unit_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    unit = work_unit(report.nodeid)
    _unit_seconds[unit] = _unit_seconds.get(unit, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Keep how long each work unit took (in the process that ran the session: pytest-xdist's
    controller, which sees every worker's reports), for the next run's order."""
    cache = getattr(session.config, "cache", None)
    if cache is None or hasattr(session.config, "workerinput") or not _unit_seconds:
        return
    took = dict(cache.get(UNIT_SECONDS, {}))
    took.update({unit: round(seconds, 1) for unit, seconds in _unit_seconds.items()})
    cache.set(UNIT_SECONDS, took)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The collector as the command line has it once its pipeline is imported
    (:func:`reviewkit._speedups.settle`): the imported modules and the collected tests live as
    long as the process, so the collector stops walking them again and again (a tenth of the
    time of the tests that run in this process)."""
    _speedups.settle()


def shared_folder(factory: pytest.TempPathFactory) -> Path:
    """The temporary folder every process of this test run shares: with pytest-xdist, the
    parent of the worker's own base folder (the run's); without it, the base folder."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once_per_run(folder: Path, make: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """``make(folder)`` run by one process of the test run, however many workers ask: the
    first to take the lock makes it and records what ``make`` returns (JSON) beside it;
    the others wait for the lock and read the record. A failure is recorded too, so it is
    reported by every worker instead of being tried again."""
    from filelock import FileLock  # deferred: only the shared builds need it

    record = folder.with_name(f"{folder.name}.json")
    with FileLock(str(folder.with_name(f"{folder.name}.lock"))):
        if not record.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            try:
                made: dict[str, Any] = {"result": make(folder)}
            except Exception as exc:
                made = {"error": f"{type(exc).__name__}: {exc}"}
            record.write_text(json.dumps(made), encoding="utf-8")
        data: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
    if "error" in data:
        raise RuntimeError(f"building {folder.name} once for the run failed: {data['error']}")
    result: dict[str, Any] = data["result"]
    return result


#: Packs built once per session in child processes (tests/conftest_build.py): the fixture a
#: test reads them through, and the fixture that starts them.
BACKGROUND_BUILDS = {"demo_pack": "demo_pack_started", "demo_packs": "demo_packs_started"}


@pytest.fixture(scope="session", autouse=True)
def _start_background_builds(request: pytest.FixtureRequest) -> None:
    """Start, first thing, the demo builds that the selected tests will read: they run in child
    processes on the other core while the quick tests run here, instead of when their first
    test comes up."""
    used = {name for item in request.session.items
            for name in getattr(item, "fixturenames", ())}
    for fixture, starter in BACKGROUND_BUILDS.items():
        if fixture in used:
            request.getfixturevalue(starter)

# Every pack the suite builds, in this process or a child, fails if its audit finds the pack
# contradicting itself (a draft outside the suite is written with its findings recorded).
os.environ[STRICT_ENV] = "strict"


@contextlib.contextmanager
def as_a_user_sees_warnings() -> Iterator[None]:
    """Python's default warning filters, as a user's ``reviewkit`` process has them.

    The suite turns warnings into errors (pyproject.toml); a user's process prints them to
    stderr instead, where they count against the one-line promise like anything else.
    """
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                         ResourceWarning):
            warnings.simplefilter("ignore", category)
        warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
        yield


def run_cli_in_process(args: Sequence[str]) -> tuple[int, str, str]:
    """``reviewkit ARGS`` in this process, as a user would see it: exit code, stdout, stderr
    (an escaping exception is printed as Python would, with exit code 1)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with (contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr),
          as_a_user_sees_warnings()):
        try:
            code: int | None = cli_main(list(args))
        except SystemExit as exc:  # argparse, or sys.exit inside the command
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:  # what the user would see: a traceback and exit code 1
            traceback.print_exc(file=sys.stderr)
            code = 1
    return code or 0, stdout.getvalue(), stderr.getvalue()
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "inputs"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write dedented text to ``tmp_path/name`` and return the path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def make_kpi() -> Callable[..., Kpi]:
    """A valid KPI with sensible defaults; keyword arguments override any field."""

    def _make(**fields: Any) -> Kpi:
        values: dict[str, Any] = {
            "id": "availability",
            "name": "Availability",
            "perspective": "Reliability",
            "direction": "higher_is_better",
            "target": 99.0,
            "amber": 98.0,
            "owner": "Head of Infrastructure",
            "cadences": ["weekly", "monthly", "quarterly"],
        }
        values.update(fields)
        return Kpi.model_validate(values)

    return _make


def copy_demo(root: Path, cadence: str = "weekly") -> Path:
    """params/<cadence>.yaml copied to ``root/params/`` and the demo data to ``root/data/demo/``
    (once per root), laid out as in the repository; returns the params file.

    A pack reads its action store from beside the params file, so a copy keeps tests off the
    repo's own store (and whatever actions people have recorded there). The params file keeps
    its relative paths, so what a pack shows does not depend on where the checkout lives.
    """
    data = root / "data" / "demo"
    if not data.is_dir():
        shutil.copytree(DEMO_DATA, data, ignore=shutil.ignore_patterns("__pycache__"))
    params = root / "params" / f"{cadence}.yaml"
    params.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "params" / f"{cadence}.yaml", params)
    return params


@pytest.fixture(scope="session")
def demo_params(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """params/weekly.yaml with the demo data, copied into a fresh folder (:func:`copy_demo`)."""
    return copy_demo(tmp_path_factory.mktemp("demo"))


def prepare_view(
    cadence: str,
    params: str | Path,
    period: str | dt.date | None = None,
    *,
    now: dt.datetime | None = None,
) -> PackView:
    """What ``reviewkit build`` lays out for a pack, without running its notebook: the inputs
    loaded and evaluated with the store's history (its document, charts and all, is
    :func:`reviewkit.layout.document.pack_document` of this view)."""
    definition = cadences.get(cadence)
    inputs = load_inputs(params)
    store = Store.open(inputs.params.store_location)
    try:
        evaluated = evaluate(definition, inputs, store, period,
                             today=now.date() if now else None)
    finally:
        store.dispose()
    return make_view(evaluated, inputs, now=now)


#: A small organisation of our own (tests/fixtures/orgs/lumen/generate.py): a quarter in
#: progress, a stale feed, a partial first period, a gap, a spend KPI and board asks.
LUMEN = Path(__file__).resolve().parent / "fixtures" / "orgs" / "lumen"


@pytest.fixture(scope="session")
def lumen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Lumen organisation copied away from the repository (its store is made there)."""
    folder = tmp_path_factory.mktemp("lumen") / "lumen"
    shutil.copytree(LUMEN, folder, ignore=shutil.ignore_patterns("*.sqlite", "__pycache__"))
    return folder


@pytest.fixture(scope="session")
def lumen_quarterly(lumen: Path) -> PackView:
    return prepare_view("quarterly", lumen / "params" / "quarterly.yaml")


@pytest.fixture(scope="session")
def lumen_weekly(lumen: Path) -> PackView:
    return prepare_view("weekly", lumen / "params" / "weekly.yaml")
