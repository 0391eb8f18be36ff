"""A pack's pages without a kernel or a PDF: its document made as a build makes it, its sections
laid out in this process (the kernel's work), and its HTML page written by the HTML output.

The suite audits many packs this way in seconds; the full builds (tests/conftest_build.py, the
snapshots) audit theirs as every build does.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_output

from reviewkit import cadences
from reviewkit.inputs.params import load_params
from reviewkit.layout.document import SPARKLINE_PREFIX, PackDocument, pack_document
from reviewkit.layout.notebooks import make_notebook
from reviewkit.layout.sections import Pack
from reviewkit.layout.view import Publication, make_view
from reviewkit.narrative.notebook import apply_to_notebook
from reviewkit.narrative.service import NarrativeService
from reviewkit.outputs.html import to_html
from reviewkit.run.prepare import evaluate, load_for, unit_inputs
from reviewkit.store.database import Store

#: A one-pixel PNG: the audit reads a chart's alternative text, never its pixels.
DOT = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/"
                       "PchI7wAAAABJRU5ErkJggg==")


def document_of(cadence: str, params: str | Path, period: str | dt.date | None = None, *,
                unit: str | None = None, today: dt.date | None = None,
                charts: bool = False) -> PackDocument:
    """A pack's document as ``reviewkit build`` makes it (a draft, its narrative planned);
    every chart a dot unless ``charts`` draws them."""
    definition = cadences.get(cadence)
    inputs = load_for(load_params(params), unit)
    store = Store.open(inputs.params.store_location)
    try:
        evaluated = evaluate(definition, inputs, store, period, unit, today=today)
        cells = NarrativeService(store, evaluated).plan(definition.narratives)
    finally:
        store.dispose()
    view = make_view(evaluated, unit_inputs(inputs, unit))
    document = pack_document(view, Publication(narrative=cells))
    if charts:
        from reviewkit.layout.charts import render_charts

        drawn = render_charts(evaluated)
    else:
        drawn = {chart_id: DOT for chart_id in document.alts
                 if not chart_id.startswith(SPARKLINE_PREFIX)}
    return pack_document(view, document.publication, drawn)


def executed_notebook(document: PackDocument) -> NotebookNode:
    """The pack's notebook as its kernel leaves it: each section's output laid out from the
    document, the narrative cells filled in."""
    cadence = document.view.cadence
    notebook = copy.deepcopy(make_notebook(cadence))
    apply_to_notebook(notebook, document.publication.narrative, cadence)
    pack = Pack(document, styled=False)
    for cell in notebook.cells:
        section = cell.get("metadata", {}).get("reviewkit", {}).get("section")
        if cell.cell_type != "code" or not isinstance(section, dict):
            continue
        fragment = pack.section(str(section["id"]))
        if fragment is None:
            cell.outputs = []
            continue
        data, metadata = fragment._repr_mimebundle_()
        cell.outputs = [new_output("display_data", data=data, metadata=metadata)]
    return notebook


def page_of(document: PackDocument) -> str:
    """The pack's HTML page, as the HTML output writes it."""
    return to_html(document, executed_notebook(document))
