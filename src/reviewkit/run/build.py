"""The build orchestrator: inputs → evaluation → narrative and gate → notebook → HTML → PDF →
atomic publish. Reads like the pipeline; each stage lives in its own package.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import getpass
import json
import os
import pickle
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.sign import NotebookNotary

from reviewkit import cadences, periods
from reviewkit.cadences import Cadence, Section
from reviewkit.errors import EnvironmentFailure, ExecutionError, UsageError
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.inputs.loaded import Inputs, sha256_of
from reviewkit.inputs.params import GROUP_FOLDER, LoadedParams, load_params
from reviewkit.layout.charts import render_charts
from reviewkit.layout.sections import perspective_anchor
from reviewkit.layout.view import PackView, Publication, make_view
from reviewkit.narrative.cells import cell_keys
from reviewkit.narrative.notebook import (
    apply_to_notebook,
    edits_in,
    for_export,
    is_narrative,
    record_written,
    slots_of,
)
from reviewkit.narrative.service import NarrativeService, Prefer
from reviewkit.run import export, gate, publish
from reviewkit.run.execute import Kernel, execute_notebook, read_notebook
from reviewkit.run.fingerprint import pack_fingerprint
from reviewkit.run.notebook import PREPARED_ENV
from reviewkit.run.prepare import (
    Prepared,
    evaluate,
    load_for,
    notebook_for,
    sources,
    unit_inputs,
    unit_key,
)
from reviewkit.run.reissue import published_versions, reissue_of, snapshot_of
from reviewkit.run.summary import MANIFEST_ATTACHED, manifest_of, summary_of, write_action_csvs
from reviewkit.store.database import Store
from reviewkit.store.records import Action, PackVersion

Progress = Callable[[str], None]

#: Run silently in the kernel as soon as it is up, so the notebook's first cell finds the
#: helpers imported and the templates compiled.
KERNEL_WARM_UP = "import reviewkit.run.notebook\nreviewkit.run.notebook.warm_up()\ndel reviewkit"


@dataclass(frozen=True)
class BuildResult:
    """Where a finished pack is, what it shows, and how long each stage took."""

    folder: Path
    view: PackView
    publication: Publication
    timings: Mapping[str, float] = field(default_factory=dict)
    #: A draft made while a published pack is in the pack's folder goes beside it (``folder``
    #: is then ``<pack>.draft``): the version of that published pack; None otherwise.
    beside_published: int | None = None

    @property
    def pdf(self) -> Path:
        return self.folder / "pack.pdf"


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
    """One pack ready to make: evaluated, its narrative settled, its notebook filled in and its
    place decided. A batch prepares every job in one process (inputs loaded and evaluated once)
    and hands each to a worker, which draws the charts, runs the notebook and publishes."""

    name: str  # "weekly 2026-11-20 north": how progress and errors name the pack
    view: PackView  # charts are drawn by the worker when empty
    publication: Publication
    notebook: NotebookNode
    notebook_path: Path
    final: Path
    fingerprint: str
    store_location: str
    assets: Path | None = None  # the params file's folder of narrative images
    #: The version published in ``final`` when the job was prepared (0: none): a later one at
    #: the swap means the pack was published meanwhile, and this build stops.
    found_published: int = 0

    @property
    def unit(self) -> str:
        return self.view.evaluated.unit_key


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
) -> PackJob:
    """Evaluate one pack of a definition (``inputs`` are the whole definition's), save the
    narrative edits of its previous ``pack.ipynb``, plan its narrative, apply the publish gate
    when it is being published, and fill in its notebook: everything but the charts and the
    notebook run. ``claim`` is called with the pack's folder before its edits are read (a
    build takes the pack's lock there)."""
    evaluated = evaluate(definition, inputs, store, period, unit)
    own = unit_inputs(inputs, unit)
    final = pack_folder(out_dir, definition, evaluated.period.label, own)
    if claim is not None:
        claim(final)
    found_published = publish.published_version(final) or 0
    notebook = copy.deepcopy(template)
    _keep_sections(notebook, evaluated.sections)
    publication = _settle_narrative(store, evaluated, notebook, final, prefer, by)
    if approver is not None:
        publication = _apply_gate(evaluated, publication, store.actions(unit=unit_key(unit)),
                                  inputs.params.values.publish_gate, approver, force)
    view = make_view(evaluated, own, sources=sources(definition, notebook_path, store,
                                                     evaluated.period.label, unit_key(unit),
                                                     params=str(inputs.params.path),
                                                     base=inputs.params.path.parent))
    # A pack published before is reissued as its next version, with what changed.
    publication = reissue_of(published_versions(
        store.versions(definition.name, evaluated.period.label, unit_key(unit)), final,
        definition.name, evaluated.period.label, unit_key(unit)), view, publication)
    notebook.metadata["reviewkit"] = notebook_metadata(view, publication)
    return PackJob(
        name=pack_name(definition, evaluated.period.label, own), view=view,
        publication=publication, notebook=notebook, notebook_path=notebook_path, final=final,
        fingerprint=pack_fingerprint(view, publication, notebook,
                                     assets=inputs.params.values.assets),
        store_location=inputs.params.store_location, assets=inputs.params.values.assets,
        found_published=found_published,
    )


def _keep_sections(notebook: NotebookNode, sections: Sequence[Section]) -> None:
    """Drop the cells of sections this pack does not have (the units page outside a group, the
    group's portfolio in a unit's pack, the spend of a pack without a spend file), and the
    commentary cells that follow them."""
    wanted = {section.id for section in sections}
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
    scratch = Path(tempfile.mkdtemp(prefix="reviewkit-"))
    try:
        kernel = Kernel(cwd=notebook_path.parent, warm_up=KERNEL_WARM_UP,
                        env={PREPARED_ENV: str(scratch / "prepared.pickle")},
                        memory_limit=memory_limit)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
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
    """Make a prepared pack: draw its charts, run its notebook on its own kernel, export HTML
    and PDF, and publish the folder whole (or leave the previous pack untouched), then record
    the pack in the store."""
    stages = stages or _Stages(progress, total=5)
    started = time.perf_counter()
    running, scratch = kernel or start_kernel(job.notebook_path, memory_limit)
    # A single build hands over its store session; a batch worker opens its own.
    own_store = store is None
    try:
        with running:
            view = job.view
            if not view.charts:
                with stages.stage("charts"):
                    view = replace(view, charts=render_charts(view.evaluated))
            _hand_over(Prepared(view, job.publication), scratch / "prepared.pickle")
            staging = publish.staging_dir(job.final)
            try:
                with stages.stage("execute notebook"):
                    # This process mostly waits on the kernel now: import the exporters meanwhile.
                    threading.Thread(target=_preload_quietly, daemon=True).start()
                    executed = execute_notebook(
                        job.notebook,
                        _parameters(view, job),
                        cwd=job.notebook_path.parent,
                        output_path=staging / "pack.ipynb",
                        kernel=running,
                        failed_copy=job.final.parent / f"failed-{job.final.name}.ipynb",
                    )
                    _finish_pack_notebook(executed, job.notebook_path.name,
                                          staging / "pack.ipynb")
            except BaseException:
                publish.discard(staging)
                raise
        try:
            evaluated = view.evaluated
            with stages.stage("export HTML"):
                html = export.to_html(for_export(executed, evaluated), assets=job.assets)
                (staging / "pack.html").write_text(html, encoding="utf-8")
            with stages.stage("render PDF"):
                # The data files first: the PDF carries them, and the manifest as it stands
                # before the PDF exists (a file cannot hold its own hash).
                summary = summary_of(view, job.publication)
                _write_json(staging / "summary.json", summary)
                data = [staging / "summary.json", *write_action_csvs(view, staging)]
                made = [staging / name for name in ("pack.html", "pack.ipynb")] + data
                manifest = manifest_of(view, job.publication, timings=dict(stages.timings),
                                       outputs=made, notebook=job.notebook_path,
                                       fingerprint=job.fingerprint)
                export.to_pdf(html, staging / "pack.pdf", base_url=job.notebook_path.parent,
                              attachments=[
                                  *(export.Attachment(path.name, path.read_bytes())
                                    for path in data),
                                  export.Attachment("manifest.json", _json_bytes(manifest),
                                                    "Supplement", MANIFEST_ATTACHED),
                              ])
            with stages.stage("publish"):
                stages.timings["total"] = stages.timings.get("total", 0.0) + (
                    time.perf_counter() - started)
                manifest["outputs"]["pack.pdf"] = sha256_of(staging / "pack.pdf")
                manifest["timings_seconds"] = _rounded(stages.timings)
                _write_json(staging / "manifest.json", manifest)
                publish.refuse_over_unit_packs(job.final)
                if store is None:
                    store = Store.open(job.store_location)
                # The pack and its record in the store are one outcome: the record commits
                # while the new pack is in place, and if it cannot, the previous pack returns.
                # A draft never replaces a published pack: it goes beside it, unrecorded (the
                # published pack stays the pack of record).
                publication = job.publication
                with publish.swapped_in(
                        staging, job.final, publishing=publication.state == "final",
                        found_published=job.found_published) as placed, \
                        store.transaction() as tx:
                    if placed == job.final:
                        tx.record_pack(view.cadence.name, view.period.label, view.period.end,
                                       summary, job.unit)
                    # A published pack is recorded as a version too: a reissue compares with it.
                    if publication.state == "final" and publication.published_at is not None:
                        tx.record_version(PackVersion(
                            view.cadence.name, view.period.label, publication.version,
                            publication.published_at.isoformat(), publication.approver or "",
                            snapshot_of(view, publication), job.unit))
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
        shutil.rmtree(scratch, ignore_errors=True)
    return BuildResult(folder=placed, view=view, publication=job.publication,
                       timings=dict(stages.timings),
                       beside_published=job.found_published if placed != job.final else None)


def _preload_quietly() -> None:
    """Import the exporters ahead of need; a failure (too little memory, say) is left to the
    export itself to report, not printed as a stray thread's traceback."""
    with contextlib.suppress(Exception):
        export.preload()


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
    stages = _Stages(progress, total=6)
    started = time.perf_counter()
    author = by or getpass.getuser()
    with stages.stage("load and validate inputs"):
        params = load_params(params_file)
        notebook_path = notebook_for(definition, params.values.notebook)
        # The kernel boots (and imports the notebook helpers) in its own process while this
        # one loads and evaluates the inputs and draws the charts.
        kernel = start_kernel(notebook_path)
        try:
            inputs = load_for(params, unit)
            template = _read_notebook(notebook_path, params)
            store = Store.open(params.store_location)
        except BaseException:
            _stop(kernel)
            raise
    # The pack's lock is held from reading the analyst's edits to the swap: a build and a
    # publish of the same pack (or two builds) happen one after the other, never interleaved.
    holding = contextlib.ExitStack()
    try:
        try:
            with stages.stage("narrative, gate and charts"):
                job = prepare_job(
                    definition, inputs, store, template, notebook_path, period=period,
                    unit=unit, out_dir=out_dir, approver=approver, force=force, prefer=prefer,
                    by=author, claim=lambda folder: holding.enter_context(
                        publish.locked(folder, waiting=progress)))
                job = replace(job, view=replace(job.view,
                                                charts=render_charts(job.view.evaluated)))
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
    shutil.rmtree(scratch, ignore_errors=True)


def _settle_narrative(store: Store, evaluated: PackEvaluation, notebook: NotebookNode,
                      final: Path, prefer: Prefer | None, by: str) -> Publication:
    """Save edits from the pack's previous pack.ipynb (and from the draft beside a published
    pack, the newer working copy), then plan every narrative cell of this pack."""
    service = NarrativeService(store, evaluated)
    slots = slots_of(notebook, evaluated.cadence)
    keys = cell_keys(evaluated, slots)
    edits = [edit for folder in (final, publish.draft_beside(final))
             for edit in edits_in(folder / "pack.ipynb", keys=keys)]
    service.save(edits, by=by, prefer=prefer)
    cells = service.plan(slots)
    apply_to_notebook(notebook, cells)
    return Publication(narrative=cells)


def _apply_gate(evaluated: PackEvaluation, publication: Publication, actions_now: list[Action],
                rules: Mapping[str, bool], approver: str, force: bool) -> Publication:
    if not approver.strip():
        raise UsageError("--approver must name a person")
    reasons = gate.check(evaluated, publication.narrative, actions_now, rules)
    if reasons and not force:
        raise gate.PublishRefused(reasons)
    return replace(publication, state="final", approver=approver.strip(),
                   published_at=periods.now(),
                   overrides=tuple(reasons))


def _finish_pack_notebook(executed: NotebookNode, source: str, written: Path) -> None:
    """Write the pack's notebook as the analyst will open it.

    papermill records where it read and wrote the notebook: the whole notebook (it was handed
    over in memory) and the build's staging folder. The pack's copy names them as the pack sees
    them (the built-in notebook's file name, and itself), so it carries no path of the machine
    that built it. And it is signed as trusted for the user who built it, as Jupyter signs a
    notebook that user ran: JupyterLab otherwise strips the sections' styles and charts from
    outputs it did not see made (they are ours, with every user text escaped).
    """
    record = executed.metadata.get("papermill")
    if record is not None:
        record["input_path"] = source
        record["output_path"] = written.name
    record_written(executed)
    nbformat.write(executed, written)  # type: ignore[no-untyped-call]
    # A notebook left untrusted (e.g. the signature database is locked) still opens, unstyled.
    with contextlib.suppress(Exception):
        NotebookNotary().sign(executed)  # type: ignore[no-untyped-call]


def _hand_over(prepared: Prepared, path: Path) -> None:
    """Leave the prepared pack where the kernel's ``open_pack`` looks (written whole: the name
    appears only once the file is complete)."""
    partial = path.with_suffix(".partial")
    partial.write_bytes(pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL))
    partial.replace(path)


def notebook_metadata(view: PackView, publication: Publication) -> dict[str, Any]:
    """What the HTML template needs besides cell outputs: running header, page size, contents."""
    perspectives = dict.fromkeys(result.kpi.perspective for result in view.evaluation.results)
    return {
        "version": view.provenance.versions.get("reviewkit", ""),
        "organisation": view.organisation,
        "title": view.title,
        "cadence": view.cadence.name,
        "period_label": view.period.label,
        "running_header": view.running_header,
        "classification": view.classification,
        "page_size": view.page_size,
        "state": publication.state,
        "version_note": publication.version_note,
        "perspectives": [{"id": perspective_anchor(name), "title": name}
                         for name in perspectives],
    }


def _rounded(timings: Mapping[str, float]) -> dict[str, float]:
    return {stage: round(seconds, 3) for stage, seconds in timings.items()}


def _json_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_bytes(_json_bytes(data))
