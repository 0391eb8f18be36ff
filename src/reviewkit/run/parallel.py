"""Every pack of one definition published at once (a review round of the serve extra): the
units' packs and the group's made side by side by the batch's workers, one per core.

Each pack is prepared here as a single build prepares it (its narrative edits saved, the
publish gate applied, under the pack's lock), with each unit evaluated once and its figures
handed to the group's units page as a batch hands them. The worker swaps the pack in under its
lock again, and refuses to if a publication of the same pack came in between.

A published group pack is then checked against its units' packs of the period as they stand
(published in this round or before it), as a batch checks it: a unit refused by the gate this
time keeps its earlier pack, whose figures the group's page may no longer print.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from reviewkit import cadences
from reviewkit.errors import ReviewkitError
from reviewkit.evaluation.units import UnitFigures
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.params import GROUP_FOLDER, load_params
from reviewkit.run import publish
from reviewkit.run._spawned import worker_context, worker_main
from reviewkit.run.batch import check_group, default_workers, remember_unit
from reviewkit.run.build import BuildResult, PackJob, build_pack, prepare_job
from reviewkit.run.execute import read_notebook
from reviewkit.run.gate import PublishRefused
from reviewkit.run.prepare import load_for, notebook_for
from reviewkit.run.workers import Limits, LocalPool
from reviewkit.store.database import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Agreement:
    """A published group pack checked against its units' packs of the same period."""

    compared: tuple[str, ...] = ()  # the units whose packs were read
    disagreements: tuple[str, ...] = ()  # each KPI (and unit) whose figures do not agree
    not_checked: str = ""  # why the check could not be made ('' when it was)


@dataclass(frozen=True)
class Published:
    """What became of one pack: its build, or why it was not published; for a group's pack,
    how its figures agree with its units' packs."""

    unit: str  # the unit's id, "group" for the group's pack, "" for a definition's only pack
    result: BuildResult | None = None
    refused: tuple[str, ...] = ()
    error: str = ""
    agreement: Agreement | None = None


def group_agreement(group_folder: Path, kpis: Mapping[str, Kpi],
                    units: Sequence[str]) -> Agreement:
    """The group pack in ``group_folder`` against the packs of ``units`` beside it, as they
    now stand (the batch's check: ``run/batch.py: check_group``)."""
    found = check_group(group_folder.name, kpis, group_folder,
                        {unit: group_folder.parent / unit for unit in units})
    notes = [str(item["detail"]).removeprefix("not checked: ")
             for item in found if item["kpi"] is None]
    return Agreement(compared=() if notes else tuple(units),
                     disagreements=tuple(item["detail"] for item in found if item["kpi"]),
                     not_checked="; ".join(notes))


def publish_packs(params_file: Path, cadence: str, *, period: dt.date, out_dir: Path,
                  approver: str, force: bool = False, by: str | None = None,
                  workers: int = 0) -> list[Published]:
    """Publish every pack of the definition for the period containing ``period``: the group's
    and each unit's (one pack where it has no units), each through the publish gate (``force``
    publishes anyway and records the reasons). In the order group, then units."""
    author = by or getpass.getuser()
    params = load_params(params_file)
    # One pack (no units): built here, as `reviewkit publish` builds it, which loads the inputs
    # itself.
    if params.values.units is None:
        return [_alone(params_file, cadence, period, out_dir, approver, force, author)]
    inputs = load_for(params)
    if not inputs.units:
        return [_alone(params_file, cadence, period, out_dir, approver, force, author)]
    definition = cadences.get(cadence)
    notebook_path = notebook_for(definition, params.values.notebook)
    template = read_notebook(notebook_path)
    # Units first: each unit's figures are then handed to the group's units page.
    order = [unit.id for unit in inputs.units] + [GROUP_FOLDER]
    made: dict[str, Published] = {}
    prepared: list[tuple[str, PackJob]] = []
    store = Store.open(params.store_location)
    try:

        def jobs() -> Iterator[tuple[int, PackJob]]:
            """Each pack prepared in turn, handed to a worker as soon as it is (the first
            pack is made while the next are prepared)."""
            known: dict[str, UnitFigures] = {}
            for unit in order:
                holding = ExitStack()
                try:
                    job = prepare_job(definition, inputs, store, template, notebook_path,
                                      period=period, unit=unit, out_dir=out_dir,
                                      approver=approver, force=force, by=author,
                                      claim=_held_in(holding),
                                      units_known=known)
                except PublishRefused as exc:
                    made[unit] = Published(unit, refused=tuple(exc.reasons))
                    continue
                except ReviewkitError as exc:
                    made[unit] = Published(unit, error=str(exc))
                    continue
                finally:
                    holding.close()
                remember_unit(known, job.view.evaluated)
                prepared.append((unit, job))
                yield len(prepared) - 1, job

        pool = LocalPool(min(len(order), workers or default_workers()), Limits(),
                         target=worker_main, context=worker_context())
        for event in pool.run(jobs()):
            if event[0] != "finished":
                continue
            outcome = event[1]
            unit, job = prepared[outcome.index]
            if outcome.status == "built":
                made[unit] = Published(unit, BuildResult(folder=job.final, document=job.document,
                                                    timings=dict(outcome.timings)))
            elif outcome.refused:
                made[unit] = Published(unit, refused=outcome.refused)
            else:
                log.warning("publishing %s failed: %s", job.name, outcome.error)
                made[unit] = Published(unit, error=outcome.error)
    finally:
        store.dispose()
    group = made[GROUP_FOLDER]
    if group.result is not None:
        agreement = group_agreement(group.result.folder, inputs.catalog.by_id(), order[:-1])
        made[GROUP_FOLDER] = replace(group, agreement=agreement)
        if agreement.disagreements:
            log.warning("the group's pack %s disagrees with its units' packs: %s",
                        group.result.folder, "; ".join(agreement.disagreements))
    return [made[unit] for unit in [GROUP_FOLDER, *order[:-1]]]


def _held_in(holding: ExitStack) -> Callable[[Path], None]:
    """Take a pack's lock (waiting for a build or publish of it under way), held until
    ``holding`` closes."""
    def claim(folder: Path) -> None:
        holding.enter_context(publish.locked(folder))
    return claim


def _alone(params_file: Path, cadence: str, period: dt.date, out_dir: Path, approver: str,
           force: bool, by: str) -> Published:
    try:
        return Published("", build_pack(cadence, params_file, period=period.isoformat(),
                                   out_dir=out_dir, approver=approver, force=force, by=by))
    except PublishRefused as exc:
        return Published("", refused=tuple(exc.reasons))
    except ReviewkitError as exc:
        log.warning("publishing %s failed: %s", params_file, exc)
        return Published("", error=str(exc))
