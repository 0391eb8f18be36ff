"""The build orchestrator: inputs → evaluation → narrative and gate → the pack's document →
notebook → outputs (notebook, HTML, data, workbook, PDF) → audit → manifest → atomic publish.
Reads like the pipeline; each stage lives in its own package.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import getpass
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from reviewkit import _scratch, _speedups, cadences, periods
from reviewkit.cadences import Cadence
from reviewkit.errors import EnvironmentFailure, ExecutionError, UsageError
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.evaluation.units import UnitFigures
from reviewkit.inputs.loaded import Inputs
from reviewkit.inputs.params import GROUP_FOLDER, LoadedParams, load_params
from reviewkit.layout.charts import render_charts
from reviewkit.layout.document import PackDocument, PlannedSection, pack_document, plan_sections
from reviewkit.layout.view import PackView, Publication, make_view
from reviewkit.narrative.cells import cell_keys
from reviewkit.narrative.notebook import (
    apply_to_notebook,
    edits_in,
    is_narrative,
    record_written,
    slots_of,
)
from reviewkit.narrative.service import NarrativeService, Prefer
from reviewkit.outputs.audit import STRICT_ENV, AuditFailed, Finding, audit
from reviewkit.outputs.base import BuildFacts, Staging
from reviewkit.outputs.data import summary_of
from reviewkit.outputs.files import NOTEBOOK_FILE
from reviewkit.outputs.pack import MANIFEST, OUTPUTS, file_of, preload
from reviewkit.run import gate, publish
from reviewkit.run.chart_process import ChartProcess
from reviewkit.run.execute import Kernel, execute_notebook, read_notebook
from reviewkit.run.fingerprint import pack_fingerprint
from reviewkit.run.notebook import PREPARED_ENV
from reviewkit.run.prepare import (
    evaluate,
    load_for,
    notebook_for,
    sources,
    unit_inputs,
    unit_key,
)
from reviewkit.run.reissue import published_versions, reissue_of, snapshot_of
from reviewkit.store.database import Store
from reviewkit.store.records import Action, PackVersion

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

#: Run silently in the kernel as soon as it is up, so the notebook's first cell finds the
#: helpers imported and the templates compiled; with the speed-ups of the command line
#: (:mod:`reviewkit._speedups`) first, as the kernel is a process of the build too: without
#: them its import of nbformat alone took as long as the rest of its start.
KERNEL_WARM_UP = """\
import reviewkit._speedups
reviewkit._speedups.apply()
import reviewkit.run.notebook
reviewkit.run.notebook.warm_up()
reviewkit._speedups.settle()
del reviewkit
"""


@dataclass(frozen=True)
class BuildResult:
    """Where a finished pack is, what it shows, how long each stage took and what its audit
    found (nothing, for a pack that agrees with itself)."""

    folder: Path
    document: PackDocument
    timings: Mapping[str, float] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    #: What the person building should know of the files written (one line each).
    warnings: tuple[str, ...] = ()
    #: A draft made while a published pack is in the pack's folder goes beside it (``folder``
    #: is then ``<pack>.draft``): the version of that published pack; None otherwise.
    beside_published: int | None = None

    @property
    def view(self) -> PackView:
        return self.document.view

    @property
    def publication(self) -> Publication:
        return self.document.publication

    @property
    def pdf(self) -> Path:
        return self.folder / file_of("PDF")

    @property
    def notebook(self) -> Path:
        return self.folder / NOTEBOOK_FILE


class _Stages:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.done += 1
        if self.progress:
            self.progress(f"[{self.done}/{self.total}] {name} …")
        start = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - start


@dataclass(frozen=True)
class PackJob:
    """One pack ready to make: its document assembled (evaluated, its narrative settled, its
    publication decided), its notebook filled in and its place decided. A batch prepares every
    job in one process (inputs loaded and evaluated once) and hands each to a worker, which
    draws the charts, runs the notebook, writes the outputs and publishes."""

    name: str  # "weekly 2026-11-20 north": how progress and errors name the pack
    document: PackDocument  # charts are drawn by the worker when empty
    notebook: NotebookNode
    notebook_path: Path
    final: Path
    fingerprint: str
    store_location: str
    assets: Path | None = None  # the params file's folder of narrative images
    #: The version published in ``final`` when the job was prepared (0: none): a later one at
    #: the swap means the pack was published meanwhile, and this build stops.
    found_published: int = 0
    #: A contradiction the audit finds refuses the publication (the ``figures_agree`` rule of
    #: a pack being published without --force).
    refuse_contradictions: bool = False
    #: The analyst's notebooks whose edits were read, as they were then (checked at the swap).
    notebooks_read: tuple[tuple[str, publish.Signature], ...] = ()
    #: Whether the document's charts are drawn (a pack may have none: no KPI with enough
    #: values for one), else the worker draws them.
    charts_drawn: bool = False

    @property
    def unit(self) -> str:
        return self.document.view.evaluated.unit_key

    @property
    def view(self) -> PackView:
        return self.document.view

    @property
    def publication(self) -> Publication:
        return self.document.publication


def pack_folder(out_dir: str | Path, cadence: Cadence, label: str, inputs: Inputs) -> Path:
    """Where a pack goes: ``OUT/<cadence>/<label>/`` for a definition without units (today's
    layout); with units, ``OUT/<cadence>/<label>/<unit>/`` and the group's ``.../group/``."""
    base = Path(out_dir) / cadence.name / label
    if not inputs.units:
        return base
    return base / (inputs.unit.id if inputs.unit is not None else GROUP_FOLDER)


def pack_name(cadence: Cadence, label: str, inputs: Inputs) -> str:
    who = inputs.unit.id if inputs.unit else (GROUP_FOLDER if inputs.units else "")
    return " ".join(part for part in (cadence.name, label, who) if part)


def prepare_job(
    definition: Cadence,
    inputs: Inputs,
    store: Store,
    template: NotebookNode,
    notebook_path: Path,
    *,
    period: str | dt.date | None = None,
    unit: str | None = None,
    out_dir: str | Path = "outputs",
    approver: str | None = None,
    force: bool = False,
    prefer: Prefer | None = None,
    by: str,
    claim: Callable[[Path], None] | None = None,
    units_known: Mapping[str, UnitFigures] | None = None,
) -> PackJob:
    """Evaluate one pack of a definition (``inputs`` are the whole definition's), save the
    narrative edits of its previous ``pack.ipynb``, plan its narrative, apply the publish gate
    when it is being published, and fill in its notebook: everything but the charts and the
    notebook run. ``claim`` is called with the pack's folder before its edits are read (a
    build takes the pack's lock there). ``units_known``: units' figures already evaluated
    for a group's units page, by unit id."""
    evaluated = evaluate(definition, inputs, store, period, unit, units_known=units_known)
    own = unit_inputs(inputs, unit)
    final = pack_folder(out_dir, definition, evaluated.period.label, own)
    if claim is not None:
        claim(final)
    found_published = publish.published_version(final) or 0
    notebook = copy.deepcopy(template)
    plan = plan_sections(evaluated)
    _keep_sections(notebook, plan)
    publication, notebooks_read = _settle_narrative(store, evaluated, notebook, final,
                                                    prefer, by)
    view = make_view(evaluated, own, sources=sources(definition, notebook_path, store,
                                                     evaluated.period.label, unit_key(unit),
                                                     base=inputs.params.path.parent,
                                                     params=str(inputs.params.path)))
    document = pack_document(view, publication, sections=plan)
    rules = inputs.params.values.publish_gate
    if approver is not None:
        publication = _apply_gate(document, store.actions(unit=unit_key(unit)), rules, approver,
                                  force)
    # A pack published before is reissued as its next version, with what changed.
    publication = reissue_of(published_versions(
        store.versions(definition.name, evaluated.period.label, unit_key(unit)), final,
        definition.name, evaluated.period.label, unit_key(unit)), view, publication)
    document = replace(document, publication=publication)
    return PackJob(
        name=pack_name(definition, evaluated.period.label, own), document=document,
        notebook=notebook, notebook_path=notebook_path, final=final,
        fingerprint=pack_fingerprint(view, publication, notebook,
                                     assets=inputs.params.values.assets),
        store_location=inputs.params.store_location, assets=inputs.params.values.assets,
        found_published=found_published,
        refuse_contradictions=(approver is not None and not force
                               and rules.get("figures_agree", True)),
        notebooks_read=notebooks_read,
    )


def _keep_sections(notebook: NotebookNode, plan: Sequence[PlannedSection]) -> None:
    """Drop the cells of sections this pack's plan leaves out (the units page outside a group,
    the group's portfolio in a unit's pack, the spend of a pack without a spend file), and the
    commentary cells that follow them: a section's cell is known by its id, everything else
    about it is the plan's."""
    wanted = {section.id for section in plan}
    kept: list[NotebookNode] = []
    dropping = False
    for cell in notebook.cells:
        section = cell.metadata.get("reviewkit", {}).get("section")
        if isinstance(section, dict):
            dropping = section.get("id") not in wanted
            if not dropping:
                kept.append(cell)
            continue
        if dropping and is_narrative(cell):
            continue  # the commentary of a section left out
        dropping = False
        kept.append(cell)
    notebook.cells = kept


def start_kernel(notebook_path: Path, memory_limit: int | None = None) -> tuple[Kernel, Path]:
    """A kernel booting (and importing the notebook helpers) in its own process, and the private
    folder where it will find its prepared pack (named in its environment, so neither the
    notebook nor pack.ipynb ever names it)."""
    scratch = _scratch.make("reviewkit-")
    try:
        kernel = Kernel(cwd=notebook_path.parent, warm_up=KERNEL_WARM_UP,
                        env={PREPARED_ENV: str(scratch / "prepared.pickle")},
                        memory_limit=memory_limit)
    except BaseException:
        _scratch.remove(scratch)
        raise
    return kernel, scratch


def produce(
    job: PackJob,
    *,
    kernel: tuple[Kernel, Path] | None = None,
    progress: Progress | None = None,
    stages: _Stages | None = None,
    memory_limit: int | None = None,
    store: Store | None = None,
) -> BuildResult:
    """Make a prepared pack: draw its charts, run its notebook on its own kernel, write every
    output, audit it, and publish the folder whole (or leave the previous pack untouched), then
    record the pack in the store."""
    stages = stages or _Stages(progress, total=len(OUTPUTS) + 5)
    started = time.perf_counter()
    running, scratch = kernel or start_kernel(job.notebook_path, memory_limit)
    # A single build hands over its store session; a batch worker opens its own.
    own_store = store is None
    try:
        with running:
            document = job.document
            if not job.charts_drawn:
                with stages.stage("charts"):
                    document = replace(document,
                                       charts=render_charts(document.view.evaluated))
            _hand_over(document, scratch / "prepared.pickle")
            staging = publish.staging_dir(job.final)
            try:
                with stages.stage("execute notebook"):
                    # This process mostly waits on the kernel now: import the outputs' libraries
                    # meanwhile (once papermill is imported, which imports in its own way).
                    _speedups.import_papermill()
                    threading.Thread(target=_preload_quietly, daemon=True).start()
                    executed = execute_notebook(
                        job.notebook,
                        _parameters(document.view, job),
                        cwd=job.notebook_path.parent,
                        output_path=staging / NOTEBOOK_FILE,
                        kernel=running,
                        failed_copy=failed_notebook(job.final),
                    )
                    record_written(executed)
            except BaseException:
                publish.discard(staging)
                raise
        try:
            view, publication = document.view, document.publication
            written = Staging(staging, BuildFacts(job.notebook_path, job.assets, job.fingerprint,
                                                  stages.timings))
            for output in OUTPUTS:
                with stages.stage(f"write {output.name}"):
                    output.write(document, executed, written)
            with stages.stage("audit"):
                findings = tuple(audit(document, written.files[file_of("HTML page")].decode(),
                                       written.files.get(file_of("PDF"))))
                written.facts.audit.extend(finding.as_json() for finding in findings)
                _judge(findings, job)
            with stages.stage("publish"):
                stages.timings["total"] = stages.timings.get("total", 0.0) + (
                    time.perf_counter() - started)
                MANIFEST.write(document, executed, written)
                publish.refuse_over_unit_packs(job.final)
                if store is None:
                    store = Store.open(job.store_location)
                # The pack and its record in the store are one outcome: the record commits
                # while the new pack is in place, and if it cannot, the previous pack returns.
                # A draft never replaces a published pack: it goes beside it, unrecorded (the
                # published pack stays the pack of record).
                with publish.swapped_in(
                        staging, job.final, publishing=publication.state == "final",
                        found_published=job.found_published,
                        notebooks_read=job.notebooks_read) as placed, \
                        store.transaction() as tx:
                    if placed == job.final:
                        tx.record_pack(view.cadence.name, view.period.label, view.period.end,
                                       summary_of(view, publication), job.unit)
                    # A published pack is recorded as a version too: a reissue compares with it.
                    if publication.state == "final" and publication.published_at is not None:
                        tx.record_version(PackVersion(
                            view.cadence.name, view.period.label, publication.version,
                            publication.published_at.isoformat(), publication.approver or "",
                            snapshot_of(view, publication), job.unit))
                # An earlier failure's notebook no longer tells the truth about this pack (left
                # in place if it cannot go: the pack is built either way).
                with contextlib.suppress(OSError):
                    failed_notebook(job.final).unlink(missing_ok=True)
        except OSError as exc:  # the disk is full, the folder became read-only, …
            publish.discard(staging)
            raise EnvironmentFailure(f"cannot write the pack under {job.final.parent}: "
                                     f"{exc.strerror or exc}; nothing was replaced") from exc
        except BaseException:
            publish.discard(staging)
            raise
    finally:
        if own_store and store is not None:
            store.dispose()
        _scratch.remove(scratch)
    return BuildResult(folder=placed, document=document, timings=dict(stages.timings),
                       findings=findings, warnings=tuple(written.warnings),
                       beside_published=job.found_published if placed != job.final else None)


def failed_notebook(final: Path) -> Path:
    """Where a build whose notebook failed keeps the executed notebook: beside the pack's
    folder, until the pack builds."""
    return final.parent / f"failed-{final.name}.ipynb"


def _judge(findings: tuple[Finding, ...], job: PackJob) -> None:
    """A pack that contradicts itself is not published: with ``REVIEWKIT_AUDIT=strict`` (the
    test suite) it is not written at all, and publishing refuses it (the ``figures_agree``
    rule) unless forced; a draft is written with its findings in the manifest."""
    if not findings:
        return
    if os.environ.get(STRICT_ENV, "").strip().lower() == "strict":
        raise AuditFailed(findings)
    if job.refuse_contradictions:
        raise gate.PublishRefused([f"the pack contradicts itself: {finding.describe()}"
                                   for finding in findings])
    for finding in findings:  # the command line shows them; they are in the manifest too
        log.info("%s: audit: %s", job.name, finding.describe())


def _import_outputs() -> None:
    """Import what the notebook's run and the outputs use, ahead of need (while another
    process draws the charts)."""
    _speedups.import_papermill()
    _preload_quietly()


def _preload_quietly() -> None:
    """Import the outputs' libraries ahead of need; a failure (too little memory, say) is left
    to the output itself to report, not printed as a stray thread's traceback."""
    with contextlib.suppress(Exception):
        preload()


def _parameters(view: PackView, job: PackJob) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "cadence": view.cadence.name,
        # As the pack's own notebook will find it, run again in its folder.
        "params_file": os.path.relpath(view.provenance.params_path, job.final.resolve()),
        "period_end": view.period.end.isoformat(),
    }
    if job.unit:
        parameters["unit"] = job.unit
    return parameters


def build_pack(
    cadence: str | Cadence,
    params_file: str | Path,
    *,
    period: str | dt.date | None = None,
    out_dir: str | Path = "outputs",
    progress: Progress | None = None,
    approver: str | None = None,
    force: bool = False,
    prefer: Prefer | None = None,
    by: str | None = None,
    unit: str | None = None,
) -> BuildResult:
    """Build one pack and put it at ``out_dir/<cadence>/<label>/`` (a unit's, or with units the
    group's, one folder deeper), whole or not at all.

    With an ``approver`` the pack is published: the publish gate runs first (``force``
    overrides it and records why) and the pack is marked final. Narrative edits made in the
    previous ``pack.ipynb`` of the same pack are saved to the store before anything else.
    """
    definition = cadence if isinstance(cadence, Cadence) else cadences.get(cadence)
    stages = _Stages(progress, total=len(OUTPUTS) + 5)
    started = time.perf_counter()
    author = by or getpass.getuser()
    # Forked first, before this process opens the store or takes the pack's lock: matplotlib
    # imports there while the inputs load here; the outputs' libraries import here while the
    # charts are drawn there.
    drawing = ChartProcess.start()
    try:
        return _build_pack(definition, params_file, drawing, stages, started, period=period,
                           out_dir=out_dir, progress=progress, approver=approver, force=force,
                           prefer=prefer, by=author, unit=unit)
    finally:
        if drawing is not None:
            drawing.close()


def _build_pack(definition: Cadence, params_file: str | Path, drawing: ChartProcess | None,
                stages: _Stages, started: float, *, period: str | dt.date | None,
                out_dir: str | Path, progress: Progress | None, approver: str | None,
                force: bool, prefer: Prefer | None, by: str, unit: str | None) -> BuildResult:
    with stages.stage("load and validate inputs"):
        params = load_params(params_file)
        notebook_path = notebook_for(definition, params.values.notebook)
        inputs = load_for(params, unit)
        template = _read_notebook(notebook_path, params)
        store = Store.open(params.store_location)
    # The pack's lock is held from reading the analyst's edits to the swap: a build and a
    # publish of the same pack (or two builds) happen one after the other, never interleaved.
    holding = contextlib.ExitStack()
    try:
        with stages.stage("narrative, gate and charts"):
            job = prepare_job(
                definition, inputs, store, template, notebook_path, period=period,
                unit=unit, out_dir=out_dir, approver=approver, force=force, prefer=prefer,
                by=by, claim=lambda folder: holding.enter_context(
                    publish.locked(folder, waiting=progress)))
            # The kernel boots (and imports the notebook helpers) in its own process while
            # the charts are drawn: only once the inputs, the notebook, the store, the
            # analyst's edits in the previous pack and the publish gate are known to be good,
            # so bad input never costs a kernel.
            kernel = start_kernel(notebook_path)
            try:
                draw = (functools.partial(drawing.draw, meanwhile=_import_outputs)
                        if drawing is not None else render_charts)
                job = replace(job, charts_drawn=True, document=replace(
                    job.document, charts=draw(job.document.view.evaluated)))
            except BaseException:
                _stop(kernel)
                raise
        stages.timings["total"] = time.perf_counter() - started
        return produce(job, kernel=kernel, stages=stages, store=store)
    finally:
        holding.close()
        store.dispose()


def _read_notebook(path: Path, params: LoadedParams) -> NotebookNode:
    """The pack's notebook; a custom one that cannot be read is the params file's error."""
    try:
        return read_notebook(path)
    except ExecutionError as exc:
        if params.values.notebook is None:
            raise
        raise params.error(f"{path.name} is not a readable Jupyter notebook ({exc.one_line()})",
                           "notebook") from None


def _stop(kernel: tuple[Kernel, Path]) -> None:
    running, scratch = kernel
    running.shutdown()
    _scratch.remove(scratch)


def _settle_narrative(
    store: Store, evaluated: PackEvaluation, notebook: NotebookNode, final: Path,
    prefer: Prefer | None, by: str,
) -> tuple[Publication, tuple[tuple[str, publish.Signature], ...]]:
    """Save edits from the pack's previous pack.ipynb (and from the draft beside a published
    pack, the newer working copy), then plan every narrative cell of this pack; with the
    notebooks read, as they were before they were read (a save after that stops the swap)."""
    service = NarrativeService(store, evaluated)
    slots = slots_of(notebook, evaluated.cadence)
    keys = cell_keys(evaluated, slots, service.stored())
    paths = [folder / NOTEBOOK_FILE for folder in (final, publish.draft_beside(final))]
    read = tuple((str(path), publish.signature(path)) for path in paths)
    edits = [edit for path in paths for edit in edits_in(path, keys=keys)]
    service.save(edits, by=by, prefer=prefer)
    cells = service.plan(slots)
    apply_to_notebook(notebook, cells, evaluated.cadence)
    return Publication(narrative=cells), read


def _apply_gate(document: PackDocument, actions_now: list[Action],
                rules: Mapping[str, bool], approver: str, force: bool) -> Publication:
    if not approver.strip():
        raise UsageError("--approver must name a person")
    publication = document.publication
    reasons = gate.check(document.view.evaluated, publication.narrative, actions_now, rules,
                         document=document)
    if reasons and not force:
        raise gate.PublishRefused(reasons)
    return replace(publication, state="final", approver=approver.strip(),
                   published_at=periods.now(),
                   overrides=tuple(reasons))


def _hand_over(document: PackDocument, path: Path) -> None:
    """Leave the pack's document where the kernel's ``open_pack`` looks (written whole: the
    name appears only once the file is complete)."""
    partial = path.with_suffix(".partial")
    partial.write_bytes(pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL))
    partial.replace(path)
