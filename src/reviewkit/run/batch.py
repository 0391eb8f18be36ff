"""Many packs at once: every (params file, unit, cadence) pack and the group packs, into
``OUT/<cadence>/<label>/<unit>/``.

The batch reads each params file and its inputs once, evaluates every pack in this process
(cheap, pure), settles each pack's narrative, and skips a pack whose fingerprint matches its
last successful build. The rest go to workers (local processes or a Dask cluster), each pack on
its own kernel. One failing pack does not stop the others. At the end the batch checks that
each group's figures are the roll-up of its units' figures, writes ``OUT/batch.json`` and
rewrites ``OUT/index.html``. A lock keeps two batches out of one output folder.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Literal

from reviewkit import __version__, cadences, periods
from reviewkit.cadences import Cadence
from reviewkit.errors import EnvironmentFailure, ReviewkitError, UsageError
from reviewkit.evaluation.pack import PackEvaluation, reference_day
from reviewkit.evaluation.units import Disagreement, UnitFigures, disagreements
from reviewkit.inputs._yaml import did_you_mean
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.loaded import Inputs, load_named_inputs
from reviewkit.inputs.params import GROUP_FOLDER, LoadedParams, load_params
from reviewkit.inputs.sources import query_limits
from reviewkit.inputs.units import Unit
from reviewkit.outputs.files import MANIFEST_FILE, SUMMARY_FILE
from reviewkit.outputs.pack import PACK_FILES
from reviewkit.periods import parse_period, period_containing, today
from reviewkit.run import library, publish
from reviewkit.run._spawned import worker_context, worker_main
from reviewkit.run.build import PackJob, pack_folder, prepare_job
from reviewkit.run.cluster import DaskPool
from reviewkit.run.execute import read_notebook
from reviewkit.run.prepare import notebook_for
from reviewkit.run.workers import Event, Limits, LocalPool, Outcome, one_line_of
from reviewkit.store.database import Store, StoreFault

LOCK_NAME = ".reviewkit-batch.lock"
REPORT_NAME = "batch.json"


class BatchBusy(EnvironmentFailure):
    """Another batch is writing to the same output folder (run again once it has finished)."""


@dataclass(frozen=True)
class PlannedPack:
    """One pack of a batch: which definition, cadence, unit and period, and where it goes."""

    params: Path
    cadence: str
    unit: str | None  # a unit's id; None for the group (or the only) pack
    units: bool  # whether the definition has units (the group then goes to group/)
    label: str
    period_end: dt.date  # the day the batch reports (any day in the period)
    folder: Path

    @property
    def name(self) -> str:
        who = self.unit or (GROUP_FOLDER if self.units else "")
        return " ".join(part for part in (self.cadence, self.label, who) if part)

    def command(self, out: Path) -> list[str]:
        """The one ``reviewkit build`` that makes this pack alone (Airflow, Dagster, cron)."""
        command = ["reviewkit", "build", self.cadence, "--params", str(self.params),
                   "--period", self.period_end.isoformat(), "--out", str(out)]
        if self.units:
            command += ["--unit", self.unit or GROUP_FOLDER]
        return command

    def as_json(self, out: Path) -> dict[str, Any]:
        return {"name": self.name, "params": str(self.params), "cadence": self.cadence,
                "unit": self.unit or (GROUP_FOLDER if self.units else None),
                "label": self.label, "period": self.period_end.isoformat(),
                "folder": str(self.folder), "command": self.command(out)}


@dataclass(frozen=True)
class Definition:
    """A params file with its inputs loaded once for the whole batch."""

    params: LoadedParams
    inputs: Inputs
    cadences: tuple[Cadence, ...]
    units: tuple[Unit, ...]  # the units selected for this batch


@dataclass(frozen=True)
class Plan:
    out: Path
    definitions: tuple[Definition, ...]
    packs: tuple[tuple[Definition, PlannedPack], ...]


def parse_units(selection: str | None) -> tuple[str, ...] | None:
    """``--units``: None or 'all' (every unit), else the ids it names, each once."""
    if selection is None or selection.strip() == "all":
        return None
    wanted = [part.strip() for part in selection.split(",")]
    if not any(wanted):
        raise UsageError(f"--units {selection!r} names no unit; give unit ids separated by "
                         "commas, or all")
    if "" in wanted:
        raise UsageError(f"--units {selection!r} has an empty id between commas; give unit ids "
                         "separated by commas, or all")
    twice = sorted({unit for unit in wanted if wanted.count(unit) > 1})
    if twice:
        raise UsageError(f"--units names {', '.join(repr(u) for u in twice)} more than once; "
                         "name each unit once")
    return tuple(wanted)


def _select_units(inputs: Inputs, selection: str | None) -> tuple[Unit, ...]:
    wanted = parse_units(selection)
    if wanted is None:
        return inputs.units
    known = {unit.id: unit for unit in inputs.units}
    for unit_id in wanted:
        if unit_id not in known:
            hint = did_you_mean(unit_id, list(known))
            raise UsageError(f"--units: '{unit_id}' is not a unit of {inputs.params.path.name}"
                             f"{hint}; units: {', '.join(known) or 'none'}")
    return tuple(known[unit_id] for unit_id in wanted)


def _cadences_of(params: LoadedParams, inputs: Inputs,
                 requested: Sequence[str] | None) -> tuple[Cadence, ...]:
    named = params.values.cadences
    if named is None:
        used = {name for kpi in inputs.catalog.kpis for name in kpi.cadences}
        named = [name for name in cadences.names() if name in used]
    if requested:
        for name in requested:
            cadences.get(name)  # a usage error with a suggestion for a typo
        named = [name for name in named if name in requested]
    return tuple(cadences.get(name) for name in named)


def plan(params_files: Sequence[str | Path], out: str | Path, *, units: str | None = None,
         cadence_names: Sequence[str] | None = None,
         period: str | dt.date | None = None) -> Plan:
    """Every pack a batch would build, in order (the inputs are loaded, nothing is built)."""
    if not params_files:
        raise UsageError("name at least one params file with --params")
    out_dir = Path(out).resolve()
    day = parse_period(period)
    definitions = []
    packs: list[tuple[Definition, PlannedPack]] = []
    where: dict[Path, PlannedPack] = {}
    for params_file in params_files:
        params = load_params(params_file)
        inputs = load_named_inputs(params, every_segment=units is not None)
        chosen = _select_units(inputs, units)
        definition = Definition(params, inputs, _cadences_of(params, inputs, cadence_names),
                                chosen)
        definitions.append(definition)
        for cadence in definition.cadences:
            reported = reference_day(cadence, inputs, day, today())
            label = period_containing(cadence.name, reported).label
            members: list[Unit | None] = [*chosen, None]
            for unit in members:
                # Only the folder's name is needed here: the unit's rows are cut when its pack
                # is made (cutting them now for every unit cost units x rows before anything
                # was built).
                own = replace(inputs, unit=unit)
                planned = PlannedPack(params.path, cadence.name, unit.id if unit else None,
                                      bool(inputs.units), label, reported,
                                      pack_folder(out_dir, cadence, label, own))
                clash = where.get(planned.folder)
                if clash is not None:
                    raise UsageError(
                        f"{clash.params.name} and {planned.params.name} both make the "
                        f"{planned.name} pack ({planned.folder}); give each params file its "
                        "own cadences (the params key 'cadences') or its own --out")
                where[planned.folder] = planned
                packs.append((definition, planned))
    made = {name for definition in definitions for name in
            (cadence.name for cadence in definition.cadences)}
    missing = [name for name in cadence_names or () if name not in made]
    if missing or not packs:
        offered = "; ".join(
            f"{definition.params.path.name} makes " + (", ".join(
                cadence.name for cadence in _cadences_of(definition.params, definition.inputs,
                                                         None)) or "none")
            for definition in definitions)
        asked = f"--cadence {', '.join(missing)}: " if missing else ""
        raise UsageError(f"{asked}no params file makes "
                         f"{', '.join(missing) + ' packs' if missing else 'a pack'} "
                         f"({offered}); name a cadence they make, or another params file")
    return Plan(out_dir, tuple(definitions), tuple(packs))


# -- the lock ------------------------------------------------------------------------------


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the output folder's batch lock; a second batch is refused with who holds it.

    An OS lock (flock) on a file in the folder: released by the kernel when the batch ends,
    however it ends, so a killed batch never leaves the folder locked.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise publish.unwritable(out, exc, "the batch's packs") from exc
    path = out / LOCK_NAME
    created = not path.exists()
    try:
        handle: IO[str] = path.open("a+", encoding="utf-8")
    except OSError as exc:
        raise publish.unwritable(out, exc, "the batch's lock") from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another batch"
            raise BatchBusy(f"{out} is being written by {holder}; wait for it to finish, or "
                            "write to another folder with --out") from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"reviewkit batch (pid {os.getpid()} on {socket.gethostname()}, user "
                         f"{getpass.getuser()}, started {_now()})\n")
            handle.flush()
        except OSError as exc:  # a full disk: leave the folder as it was
            if created:
                with suppress(OSError):
                    path.unlink()
            raise publish.unwritable(out, exc, "the batch's lock") from exc
        try:
            yield
        finally:
            with suppress(OSError):
                handle.seek(0)
                handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        with suppress(OSError):
            handle.close()


# -- running it ----------------------------------------------------------------------------


@dataclass
class PackReport:
    """One line of the batch's table (and of batch.json)."""

    planned: PlannedPack
    status: Literal["built", "skipped", "failed", "waiting"] = "waiting"
    seconds: float = 0.0
    error: str = ""
    worker: str = ""
    environment: bool = False  # failed because the machine failed (the store, the disk)
    warnings: tuple[str, ...] = ()  # what a single build would print as "warning:" lines

    def as_json(self) -> dict[str, Any]:
        return {"name": self.planned.name, "params": str(self.planned.params),
                "cadence": self.planned.cadence,
                "unit": self.planned.unit or (GROUP_FOLDER if self.planned.units else None),
                "label": self.planned.label, "folder": str(self.planned.folder),
                "status": self.status, "seconds": round(self.seconds, 2),
                "error": self.error or None, "worker": self.worker or None,
                "warnings": list(self.warnings)}


@dataclass
class BatchReport:
    out: Path
    executor: str
    workers: int
    started: str
    packs: list[PackReport] = field(default_factory=list)
    consistency: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for pack in self.packs if pack.status == status)

    @property
    def failed(self) -> list[PackReport]:
        return [pack for pack in self.packs if pack.status == "failed"]

    def as_json(self) -> dict[str, Any]:
        return {"reviewkit": __version__, "out": str(self.out), "executor": self.executor,
                "workers": self.workers, "started": self.started, "finished": _now(),
                "seconds": round(self.seconds, 2),
                "counts": {status: self.count(status)
                           for status in ("built", "skipped", "failed")},
                "packs": [pack.as_json() for pack in self.packs],
                "consistency": self.consistency}


#: Told about each pack as its state changes, and once more at the end (``None``).
Watcher = Callable[[BatchReport, PackReport | None], None]


@dataclass(frozen=True)
class BatchOptions:
    params: tuple[Path, ...]
    out: Path
    units: str | None = None
    cadences: tuple[str, ...] | None = None
    period: str | None = None
    workers: int = 0  # 0: one per core
    force: bool = False
    executor: Literal["process", "dask"] = "process"
    scheduler: str | None = None
    limits: Limits = field(default_factory=Limits)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


def run_batch(options: BatchOptions, watch: Watcher | None = None) -> BatchReport:
    """Build every pack of the plan; returns the report (also written as OUT/batch.json)."""
    started = time.perf_counter()
    workers = options.workers or default_workers()
    if options.scheduler and options.executor != "dask":
        raise UsageError("--scheduler needs --executor dask")
    out = options.out.resolve()
    # Planned first (it only reads): a refused plan leaves the output folder untouched. The
    # queries of KPIs run here, in this process, for every pack: the packs' limits cover them
    # too (each pack's queries together).
    with query_limits(options.limits.seconds, options.limits.memory):
        batch_plan = plan(options.params, out, units=options.units,
                          cadence_names=options.cadences, period=options.period)
    with locked(out):
        report = BatchReport(out, options.executor, workers, _now(),
                             [PackReport(planned) for _, planned in batch_plan.packs])
        pool = _pool(options, workers)
        try:
            events = pool.run(_jobs(batch_plan, report, options.force, watch, options.limits))
            for event in events:
                _apply(report, event, watch)
        finally:
            pool.close()
        _clean_abandoned(out)
        report.consistency = [item for definition in batch_plan.definitions
                              for item in _consistency(definition, batch_plan, report)]
        report.seconds = time.perf_counter() - started
        _write_json(out / REPORT_NAME, report.as_json())
        library.write_index(out)
    if watch:
        watch(report, None)
    return report


def _pool(options: BatchOptions, workers: int) -> LocalPool | DaskPool:
    if options.executor == "dask":
        return DaskPool(workers, options.limits, options.scheduler)
    return LocalPool(workers, options.limits, target=worker_main, context=worker_context())


def _jobs(batch_plan: Plan, report: BatchReport, force: bool,
          watch: Watcher | None, limits: Limits) -> Iterator[tuple[int, PackJob]]:
    """Prepare each pack in turn (one store session per params file) and hand on those whose
    fingerprint changed; a pack that cannot even be prepared fails here, alone."""
    author = getpass.getuser()
    stores: dict[Path, Store] = {}
    # A store that failed (unreachable, locked, damaged) is not asked again for the next pack:
    # each would wait for it (a locked one for a minute) only to fail the same way.
    unavailable: dict[Path, str] = {}
    templates: dict[Path, Any] = {}
    # Each unit's figures from its own pack, for its group's units page (the plan puts a
    # definition's units before their group): each unit is evaluated once.
    figures: dict[tuple[Path, str, str], dict[str, UnitFigures]] = {}
    try:
        for index, (definition, planned) in enumerate(batch_plan.packs):
            line = report.packs[index]
            started = time.perf_counter()
            params = definition.params
            if params.path in unavailable:
                _finish(line, "failed", 0.0, unavailable[params.path], watch, report,
                        environment=True)
                continue
            # The pack's lock while its edits are read and saved: a single build or publish
            # of the same pack under way makes this pack fail, alone, instead of interleaving.
            holding = ExitStack()
            try:
                cadence = cadences.get(planned.cadence)
                notebook_path = notebook_for(cadence, params.values.notebook)
                if notebook_path not in templates:
                    templates[notebook_path] = read_notebook(notebook_path)
                store = stores.get(params.path)
                if store is None:
                    store = stores[params.path] = Store.open(params.store_location)
                known = figures.setdefault((params.path, planned.cadence, planned.label), {})
                with query_limits(limits.seconds, limits.memory):
                    job = prepare_job(
                        cadence, definition.inputs, store, templates[notebook_path],
                        notebook_path, period=planned.period_end,
                        unit=planned.unit or (GROUP_FOLDER if planned.units else None),
                        out_dir=batch_plan.out, by=author, claim=_claim_into(holding),
                        units_known=known)
                remember_unit(known, job.view.evaluated)
            except StoreFault as exc:
                unavailable[params.path] = exc.one_line()
                _finish(line, "failed", time.perf_counter() - started, exc.one_line(), watch,
                        report, environment=True)
                continue
            except ReviewkitError as exc:
                _finish(line, "failed", time.perf_counter() - started, exc.one_line(), watch,
                        report, environment=isinstance(exc, EnvironmentFailure))
                continue
            except Exception as exc:  # a bug: still only this pack's failure, in one line
                _finish(line, "failed", time.perf_counter() - started, one_line_of(exc), watch,
                        report)
                continue
            finally:
                holding.close()
            if not force and _unchanged(job):
                _finish(line, "skipped", time.perf_counter() - started, "", watch, report)
                continue
            yield index, job
    finally:
        for store in stores.values():
            store.dispose()


def remember_unit(known: dict[str, UnitFigures], evaluated: PackEvaluation) -> None:
    """Keep a unit's figures for its group's units page when they are the ones the group
    would evaluate: a period the unit's data covers to its end (the group's page judges every
    unit on the whole period, while a unit's own pack of a period in progress is judged as of
    its latest data)."""
    if evaluated.unit is not None and evaluated.as_of >= evaluated.period.end:
        known[evaluated.unit.id] = UnitFigures(
            evaluated.unit, {result.kpi.id: result for result in evaluated.evaluation.results})


def _claim_into(holding: ExitStack) -> Callable[[Path], None]:
    """Take a pack's lock without waiting, held until ``holding`` closes."""
    def claim(folder: Path) -> None:
        holding.enter_context(publish.locked(folder, wait=False))
    return claim


def _unchanged(job: PackJob) -> bool:
    """Whether the pack in place (or the draft beside a published pack) was built from exactly
    these inputs and is whole: every file its manifest lists, with the hash it lists, and every
    file today's outputs write."""
    return any(_fingerprint_of(folder) == job.fingerprint and publish.whole_pack(folder)
               and all((folder / name).is_file() for name in PACK_FILES)
               for folder in (job.final, publish.draft_beside(job.final)))


def _fingerprint_of(folder: Path) -> str | None:
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = manifest.get("fingerprint") if isinstance(manifest, dict) else None
    return found if isinstance(found, str) else None


def _finish(line: PackReport, status: Literal["built", "skipped", "failed"], seconds: float,
            error: str, watch: Watcher | None, report: BatchReport, worker: str = "", *,
            environment: bool = False) -> None:
    line.status, line.seconds, line.error, line.worker = status, seconds, error, worker
    line.environment = environment
    if watch:
        watch(report, line)


def _apply(report: BatchReport, event: Event, watch: Watcher | None) -> None:
    if event[0] == "started":
        line = report.packs[event[1]]
        line.status = "waiting"
        line.worker = "running"
        if watch:
            watch(report, line)
        return
    outcome: Outcome = event[1]
    report.packs[outcome.index].warnings = outcome.warnings
    _finish(report.packs[outcome.index], outcome.status, outcome.seconds, outcome.error, watch,
            report, outcome.worker, environment=outcome.environment)


def _clean_abandoned(out: Path) -> None:
    """Staging folders left by workers that were killed mid-pack: every worker has finished
    now, so any still here is abandoned (on a cluster their process ids mean nothing here),
    unless its pack's lock is held: a single build of that pack is under way in this folder."""
    for path in out.rglob(".*.staging-*"):
        name = path.name[1:].split(".staging-", 1)[0]
        if path.is_dir() and not publish.is_locked(path.parent / name):
            shutil.rmtree(path, ignore_errors=True)


def _consistency(definition: Definition, batch_plan: Plan,
                 report: BatchReport) -> list[dict[str, Any]]:
    """Each group pack against its units' packs, as they now stand in the output folder."""
    if not definition.units:
        return []
    kpis = definition.inputs.catalog.by_id()
    found = []
    planned = [p for d, p in batch_plan.packs if d is definition]
    for group in (p for p in planned if p.unit is None):
        members = [p for p in planned if p.unit is not None and p.cadence == group.cadence
                   and p.label == group.label]
        if len(members) < len(definition.inputs.units):
            found.append({"pack": group.name, "kpi": None, "detail": "not checked: the batch "
                          "built only some of the units (--units)"})
            continue
        found += check_group(group.name, kpis, group.folder,
                             {str(p.unit): p.folder for p in members})
    return found


def check_group(name: str, kpis: Mapping[str, Kpi], group_folder: Path,
                unit_folders: Mapping[str, Path]) -> list[dict[str, Any]]:
    """A group pack against its units' packs, as they now stand in their folders: each
    disagreement (``kpi`` set), or why it could not be checked (``kpi`` None). A batch checks
    its group packs this way, and so does a published review round (run/parallel.py)."""
    group = summary_of(group_folder)
    summaries = {unit: summary_of(folder) for unit, folder in unit_folders.items()}
    missing = [unit for unit, summary in summaries.items() if summary is None]
    if group is None or missing:
        return [{"pack": name, "kpi": None, "detail": "not checked: "
                 + ("the group pack is missing" if group is None else
                    f"no pack for {', '.join(missing)}")}]
    return compare_group(name, kpis, group,
                         [summary for summary in summaries.values() if summary is not None])


def compare_group(name: str, kpis: Mapping[str, Kpi], group: Mapping[str, Any],
                  units: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The consistency check of one group pack; summaries that are not what a build writes
    (edited or damaged since) are reported as not checked, not a crash."""
    try:
        problems: list[Disagreement] = disagreements(kpis, group, units)
    except (KeyError, TypeError, ValueError, AttributeError):
        return [{"pack": name, "kpi": None, "detail": "not checked: a summary.json of the "
                 "group or a unit is damaged; rebuild those packs (--force)"}]
    return [{"pack": name, "kpi": item.kpi_id, "detail": item.describe()}
            for item in problems]


def summary_of(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Written whole: a reader sees the previous report or this one, never half of it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        with suppress(OSError):
            partial.unlink()
        raise publish.unwritable(path.parent, exc, f"the batch's report {path.name}") from exc


def _now() -> str:
    return periods.now().isoformat()


def plan_json(batch_plan: Plan) -> str:
    """``reviewkit batch --plan``: the packs as JSON, one ``reviewkit build`` command each."""
    return json.dumps([planned.as_json(batch_plan.out) for _, planned in batch_plan.packs],
                      indent=2, ensure_ascii=False) + "\n"

