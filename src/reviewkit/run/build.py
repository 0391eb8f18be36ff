"""The build orchestrator: inputs → evaluation → narrative and gate → notebook → HTML → PDF →
atomic publish. Reads like the pipeline; each stage lives in its own package.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import pickle
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.sign import NotebookNotary

from reviewkit import cadences
from reviewkit.cadences import Cadence
from reviewkit.errors import EnvironmentFailure, ExecutionError, UsageError
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.inputs.loaded import load_named_inputs, sha256_of
from reviewkit.inputs.params import LoadedParams, load_params
from reviewkit.layout.charts import render_charts
from reviewkit.layout.sections import perspective_anchor
from reviewkit.layout.view import PackView, Publication, make_view
from reviewkit.narrative.notebook import apply_to_notebook, edits_in, for_export, slots_of
from reviewkit.narrative.service import NarrativeService, Prefer
from reviewkit.run import export, gate, publish
from reviewkit.run.execute import Kernel, execute_notebook, read_notebook
from reviewkit.run.notebook import PREPARED_ENV
from reviewkit.run.prepare import Prepared, evaluate, notebook_for, sources
from reviewkit.run.reissue import reissue_of, snapshot_of
from reviewkit.run.summary import MANIFEST_ATTACHED, manifest_of, summary_of, write_action_csvs
from reviewkit.store.database import Store
from reviewkit.store.records import Action, PackVersion

__all__ = ["BuildResult", "build_pack", "notebook_for"]

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
) -> BuildResult:
    """Build one pack and put it at ``out_dir/<cadence>/<label>/``, whole or not at all.

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
        # The build's private folder; the kernel finds the prepared pack there (its name is in
        # the kernel's environment, so neither the notebook nor pack.ipynb ever names it).
        scratch = Path(tempfile.mkdtemp(prefix="reviewkit-"))
        handover = scratch / "prepared.pickle"
        # The kernel boots (and imports the notebook helpers) in its own process while this
        # one loads and evaluates the inputs and draws the charts.
        kernel = Kernel(cwd=notebook_path.parent, warm_up=KERNEL_WARM_UP,
                        env={PREPARED_ENV: str(handover)})
        try:
            inputs = load_named_inputs(params)
            notebook = _read_notebook(notebook_path, params)
            store = Store.open(params.store_location)
        except BaseException:
            kernel.shutdown()
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    try:
        with kernel:
            with stages.stage("narrative, gate and charts"):
                evaluated = evaluate(definition, inputs, store, period)
                final = Path(out_dir) / definition.name / evaluated.period.label
                publication = _settle_narrative(store, evaluated, notebook, final / "pack.ipynb",
                                                prefer, author)
                if approver is not None:
                    publication = _apply_gate(evaluated, publication, store.actions(),
                                              params.values.publish_gate, approver, force)
                view = make_view(evaluated, inputs, charts=render_charts(evaluated),
                                 sources=sources(definition, notebook_path, store,
                                                 evaluated.period.label))
                # A pack published before is reissued as its next version, with what changed.
                publication = reissue_of(store.versions(definition.name, evaluated.period.label),
                                         view, publication)
                _hand_over(Prepared(view, publication), handover)
            staging = publish.staging_dir(final)
            try:
                with stages.stage("execute notebook"):
                    # This process mostly waits on the kernel now: import the exporters meanwhile.
                    threading.Thread(target=export.preload, daemon=True).start()
                    notebook.metadata["reviewkit"] = notebook_metadata(view, publication)
                    executed = execute_notebook(
                        notebook,
                        {
                            "cadence": definition.name,
                            # As the pack's own notebook will find it, run again in its folder.
                            "params_file": os.path.relpath(params.path, final.resolve()),
                            "period_end": evaluated.period.end.isoformat(),
                        },
                        cwd=notebook_path.parent,
                        output_path=staging / "pack.ipynb",
                        kernel=kernel,
                        failed_copy=final.parent / f"failed-{evaluated.period.label}.ipynb",
                    )
                    _finish_pack_notebook(executed, notebook_path.name, staging / "pack.ipynb")
            except BaseException:
                publish.discard(staging)
                raise
        try:
            with stages.stage("export HTML"):
                html = export.to_html(for_export(executed, evaluated),
                                      assets=params.values.assets)
                (staging / "pack.html").write_text(html, encoding="utf-8")
            with stages.stage("render PDF"):
                # The data files first: the PDF carries them, and the manifest as it stands
                # before the PDF exists (a file cannot hold its own hash).
                summary = summary_of(view, publication)
                _write_json(staging / "summary.json", summary)
                data = [staging / "summary.json", *write_action_csvs(view, staging)]
                made = [staging / name for name in ("pack.html", "pack.ipynb")] + data
                manifest = manifest_of(view, publication, timings=dict(stages.timings),
                                       outputs=made, notebook=notebook_path)
                export.to_pdf(html, staging / "pack.pdf", base_url=notebook_path.parent,
                              attachments=[
                                  *(export.Attachment(path.name, path.read_bytes())
                                    for path in data),
                                  export.Attachment("manifest.json", _json_bytes(manifest),
                                                    "Supplement", MANIFEST_ATTACHED),
                              ])
            with stages.stage("publish"):
                stages.timings["total"] = time.perf_counter() - started
                manifest["outputs"]["pack.pdf"] = sha256_of(staging / "pack.pdf")
                manifest["timings_seconds"] = _rounded(stages.timings)
                _write_json(staging / "manifest.json", manifest)
                # The pack and its record in the store are one outcome: the record commits
                # while the new pack is in place, and if it cannot, the previous pack returns.
                # A published pack is recorded as a version too: a reissue compares with it.
                with publish.swapped_in(staging, final), store.transaction() as tx:
                    tx.record_pack(definition.name, evaluated.period.label,
                                   evaluated.period.end, summary)
                    if publication.state == "final" and publication.published_at is not None:
                        tx.record_version(PackVersion(
                            definition.name, evaluated.period.label, publication.version,
                            publication.published_at.isoformat(), publication.approver or "",
                            snapshot_of(view, publication)))
        except OSError as exc:  # the disk is full, the folder became read-only, …
            publish.discard(staging)
            raise EnvironmentFailure(f"cannot write the pack under {final.parent}: "
                                     f"{exc.strerror or exc}; nothing was replaced") from exc
        except BaseException:
            publish.discard(staging)
            raise
    finally:
        store.dispose()
        shutil.rmtree(scratch, ignore_errors=True)
    stages.timings["total"] = time.perf_counter() - started
    return BuildResult(folder=final, view=view, publication=publication,
                       timings=dict(stages.timings))


def _read_notebook(path: Path, params: LoadedParams) -> NotebookNode:
    """The pack's notebook; a custom one that cannot be read is the params file's error."""
    try:
        return read_notebook(path)
    except ExecutionError as exc:
        if params.values.notebook is None:
            raise
        raise params.error(f"{path.name} is not a readable Jupyter notebook ({exc.one_line()})",
                           "notebook") from None


def _settle_narrative(store: Store, evaluated: PackEvaluation, notebook: NotebookNode,
                      previous: Path, prefer: Prefer | None, by: str) -> Publication:
    """Save edits from the previous pack.ipynb, then plan every narrative cell of this pack."""
    service = NarrativeService(store, evaluated)
    service.save(edits_in(previous), by=by, prefer=prefer)
    cells = service.plan(slots_of(notebook, evaluated.cadence))
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
                   published_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
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
