"""The build orchestrator: inputs → evaluation → notebook → HTML → PDF → atomic publish.

Reads like the pipeline; each stage lives in its own module.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewkit.run import export
from reviewkit.run import gate
from reviewkit.run import publish
from reviewkit.run.context import PackContext, prepare_context, render_charts
from reviewkit.errors import ReviewkitError, UsageError
from reviewkit.run.execute import Kernel, execute_notebook, read_notebook
from reviewkit.narrative.cells import (
    NarrativeCell,
    apply_to_notebook,
    collect_edits,
    for_export,
    plan_cells,
    section_keys,
)
from reviewkit.inputs.params import load_params
from reviewkit.run.summary import manifest_of, summary_of, write_action_csvs

if TYPE_CHECKING:
    from nbformat import NotebookNode

Progress = Callable[[str], None]

#: Run silently in the kernel as soon as it is up, so the notebook's first cell finds the
#: helpers imported and the templates compiled.
KERNEL_WARM_UP = "import reviewkit.layout.sections\nreviewkit.layout.sections.warm_up()\ndel reviewkit"

NOTEBOOKS = {
    "weekly": "weekly_operational.ipynb",
    "monthly": "monthly_business.ipynb",
    "quarterly": "quarterly_strategic.ipynb",
}


@dataclass
class BuildResult:
    """Where a finished pack is, and how long each stage took."""

    folder: Path
    context: PackContext
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def pdf(self) -> Path:
        return self.folder / "pack.pdf"


def notebook_for(cadence: str, custom: Path | None = None) -> Path:
    """The built-in notebook of a cadence, unless the params file names its own."""
    if custom is not None:
        return custom
    path = Path(str(resources.files("reviewkit") / "notebooks" / NOTEBOOKS[cadence]))
    if not path.is_file():
        raise ReviewkitError(f"the {cadence} notebook is not installed at {path}")
    return path


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
    cadence: str,
    params_file: str | Path,
    *,
    period: str | dt.date | None = None,
    out_dir: str | Path = "outputs",
    progress: Progress | None = None,
    approver: str | None = None,
    force: bool = False,
    prefer: str | None = None,
    by: str | None = None,
) -> BuildResult:
    """Build one pack and put it at ``out_dir/<cadence>/<label>/``, whole or not at all.

    With an ``approver`` the pack is published: the publish gate runs first (``force``
    overrides it and records why) and the pack is marked final. Narrative edits made in the
    previous ``pack.ipynb`` of the same pack are saved to the store before anything else.
    """
    stages = _Stages(progress, total=6)
    started = time.perf_counter()
    author = by or getpass.getuser()
    with stages.stage("load and validate inputs"):
        notebook_path = notebook_for(cadence, load_params(params_file).values.notebook)
        # The kernel boots (and imports the notebook helpers) in its own process while this
        # one loads and evaluates the inputs and draws the charts.
        kernel = Kernel(cwd=notebook_path.parent, warm_up=KERNEL_WARM_UP)
        try:
            context = prepare_context(cadence, params_file, period, with_charts=False)
            notebook = read_notebook(notebook_path)
        except BaseException:
            kernel.shutdown()
            raise
        final = Path(out_dir) / cadence / context.period.label
    with kernel, tempfile.TemporaryDirectory(prefix="reviewkit-") as scratch:
        with stages.stage("narrative, gate and charts"):
            cells = _settle_narrative(context, notebook, final / "pack.ipynb", prefer, author)
            if approver is not None:
                _apply_gate(context, cells, approver, force)
            render_charts(context)
            context_file = Path(scratch) / "context.pickle"
            context.save(context_file)
        staging = publish.staging_dir(final)
        try:
            with stages.stage("execute notebook"):
                # This process mostly waits on the kernel now: import the exporters meanwhile.
                threading.Thread(target=export.preload, daemon=True).start()
                notebook.metadata["reviewkit"] = notebook_metadata(context)
                executed = execute_notebook(
                    notebook,
                    {
                        "cadence": cadence,
                        "params_file": context.params_path,
                        "period_end": context.period.end.isoformat(),
                        "context_file": str(context_file),
                    },
                    cwd=notebook_path.parent,
                    output_path=staging / "pack.ipynb",
                    kernel=kernel,
                    failed_copy=final.parent / f"failed-{context.period.label}.ipynb",
                )
        except BaseException:
            publish.discard(staging)
            raise
    try:
        with stages.stage("export HTML"):
            html = export.to_html(for_export(executed, context))
            (staging / "pack.html").write_text(html, encoding="utf-8")
        with stages.stage("render PDF"):
            export.to_pdf(html, staging / "pack.pdf", base_url=notebook_path.parent)
        with stages.stage("publish"):
            summary = summary_of(context)
            _write_json(staging / "summary.json", summary)
            csvs = write_action_csvs(context, staging)
            stages.timings["total"] = time.perf_counter() - started
            outputs = [staging / name for name in ("pack.pdf", "pack.html", "pack.ipynb",
                                                   "summary.json")] + csvs
            manifest = manifest_of(context, timings=stages.timings, outputs=outputs,
                                   notebook=notebook_path)
            _write_json(staging / "manifest.json", manifest)
            publish.commit(staging, final)
            # Recorded only once the pack is in place: the next pack compares against it.
            _record(context, summary)
    except BaseException:
        publish.discard(staging)
        raise
    stages.timings["total"] = time.perf_counter() - started
    return BuildResult(folder=final, context=context, timings=stages.timings)


def _settle_narrative(context: PackContext, notebook: NotebookNode, previous: Path,
                      prefer: str | None, by: str) -> list[NarrativeCell]:
    """Save edits from the previous pack.ipynb, then plan every narrative cell of this pack."""
    from reviewkit.store.database import Store

    store = Store.open(context.store_location)
    try:
        collect_edits(previous, store, context, by=by, prefer=prefer)
        stored = store.narratives(context.cadence, context.period.label)
        context.actions_now = store.actions()
    finally:
        store.dispose()
    cells = plan_cells(context, section_keys(notebook), stored)
    apply_to_notebook(notebook, cells)
    context.narrative = cells
    return cells


def _apply_gate(context: PackContext, cells: list[NarrativeCell], approver: str,
                force: bool) -> None:
    if not approver.strip():
        raise UsageError("--approver must name a person")
    rules = dict(context.parameters.get("publish_gate") or {})
    reasons = gate.check(context, cells, context.actions_now, rules)
    if reasons and not force:
        raise gate.PublishRefused(reasons)
    context.overrides = reasons
    context.state = "final"
    context.approver = approver.strip()
    context.published_at = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _record(context: PackContext, summary: dict[str, Any]) -> None:
    from reviewkit.store.database import Store

    store = Store.open(context.store_location)
    try:
        store.record_pack(context.cadence, context.period.label, context.period.end, summary)
    finally:
        store.dispose()


def notebook_metadata(context: PackContext) -> dict[str, Any]:
    """What the HTML template needs besides cell outputs: running header, page size, contents."""
    from reviewkit.layout.sections import Pack

    return {
        "version": context.versions.get("reviewkit", ""),
        "organisation": context.organisation,
        "title": context.title,
        "cadence": context.cadence,
        "period_label": context.period.label,
        "running_header": f"{context.organisation} · {context.title} · {context.period.long_label}",
        "classification": context.classification,
        "page_size": context.page_size,
        "state": context.state,
        "perspectives": [
            {"id": Pack.perspective_anchor(name), "title": name}
            for name in Pack(context).by_perspective()
        ],
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
