"""Narrative cells in notebooks: find them, fill them for a build, and read back an analyst's
edits from a pack's ``pack.ipynb``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell

from reviewkit.cadences import Cadence, Narrative
from reviewkit.narrative.cells import NarrativeCell
from reviewkit.narrative.edits import NarrativeEdit, normalise
from reviewkit.narrative.placeholders import NarrativeError

#: The cell tag that marks a narrative cell.
NARRATIVE_TAG = "narrative"
#: The cell tag of the label above each narrative cell (shown in Jupyter, left out of packs).
LABEL_TAG = "narrative-label"
#: Cells tagged so are left out of the pack (the notebook's own notes, narrative labels).
REMOVE_TAG = "remove-cell"
#: The cell-metadata flag (under ``reviewkit``) an analyst sets to true to accept a cell's text
#: as it stands: a draft, or a stale text that is still right.
ACCEPT_FLAG = "accepted"


def is_narrative(cell: Any) -> bool:
    return bool(cell.get("cell_type") == "markdown"
                and NARRATIVE_TAG in cell.get("metadata", {}).get("tags", []))


def slots_of(notebook: NotebookNode, cadence: Cadence) -> list[Narrative]:
    """The section narrative cells a notebook holds, in order, named as the cadence names them
    (a custom notebook's own cells keep the prompt in their metadata)."""
    declared = {narrative.key: narrative for narrative in cadence.narratives}
    slots = []
    for cell in notebook.cells:
        if not is_narrative(cell):
            continue
        meta = cell.metadata.get("reviewkit", {})
        key = str(meta.get("key"))
        known = declared.get(key)
        slots.append(Narrative(key, known.title if known else str(meta.get("title", key)),
                               str(meta.get("prompt", known.prompt if known else ""))))
    return slots


def _label_cell(planned: NarrativeCell) -> NotebookNode:
    """A heading above a narrative cell for the analyst in Jupyter; the pack leaves it out."""
    state = ("draft generated from the data: rewrite it, or set `reviewkit.accepted` to true "
             "in the cell metadata to accept it" if planned.draft else "your text, kept across "
             "rebuilds")
    if planned.stale:
        state = (f"STALE: {planned.stale_detail}; edit it, or set `reviewkit.accepted` to true "
                 "in the cell metadata if it is still right")
    label: NotebookNode = new_markdown_cell(  # type: ignore[no-untyped-call]
        f"##### ✎ Commentary: {planned.title}\n"
        f"<small>cell `{planned.key}`; {state}</small>"
    )
    label.metadata["tags"] = [REMOVE_TAG, LABEL_TAG]
    return label


def _kpi_commentary_at(cells: Sequence[NotebookNode], cadence: Cadence) -> int:
    """Where the KPIs' own commentary goes: after the cell of the section the cadence says it
    follows (and after that section's own commentary), else after the summary's commentary (a
    custom notebook without that section)."""
    asking = {section.id for section in cadence.sections if section.kpi_commentary}
    def _after(index: int) -> int:
        index += 1
        while index < len(cells) and (is_narrative(cells[index])
                                      or LABEL_TAG in cells[index].metadata.get("tags", [])):
            index += 1
        return index

    for index, cell in enumerate(cells):
        section = cell.metadata.get("reviewkit", {}).get("section", {})
        if isinstance(section, dict) and section.get("id") in asking:
            return _after(index)
    for index, cell in enumerate(cells):
        if is_narrative(cell) and cell.metadata.get("reviewkit", {}).get("key") == "summary":
            return index + 1
    return len(cells)


def apply_to_notebook(notebook: NotebookNode, cells: Sequence[NarrativeCell],
                      cadence: Cadence) -> None:
    """Put the planned text into the section cells and add a cell per KPI after the section
    that asks for them (the summary in a weekly pack, the KPI detail in the longer packs).

    Each narrative cell gets a label cell above it (tagged ``remove-cell``) so the analyst sees
    in Jupyter which cell is which.
    """
    by_key = {cell.key: cell for cell in cells}
    result = []
    for nb_cell in notebook.cells:
        if not is_narrative(nb_cell):
            result.append(nb_cell)
            continue
        key = str(nb_cell.metadata.get("reviewkit", {}).get("key"))
        planned = by_key.get(key)
        if planned is None:
            result.append(nb_cell)
            continue
        nb_cell.source = planned.text
        nb_cell.metadata["reviewkit"] = planned.metadata()
        result += [_label_cell(planned), nb_cell]
    kpi_cells = []
    for kpi_cell in (cell for cell in cells if cell.kpi_id):
        new = new_markdown_cell(kpi_cell.text)  # type: ignore[no-untyped-call]
        new.metadata["tags"] = [NARRATIVE_TAG]
        new.metadata["reviewkit"] = kpi_cell.metadata()
        kpi_cells += [_label_cell(kpi_cell), new]
    at = _kpi_commentary_at(result, cadence)
    notebook.cells = result[:at] + kpi_cells + result[at:]


def edits_in(pack_notebook: Path) -> list[NarrativeEdit]:
    """The narrative edits made in an earlier ``pack.ipynb``: every cell whose text differs
    from the text the build put there, and every draft accepted as it stands."""
    if not pack_notebook.is_file():
        return []
    try:
        # Plain JSON, not nbformat: only markdown cells matter here, and validating a notebook
        # full of chart images against the schema costs more than the rest of this step.
        notebook = json.loads(pack_notebook.read_text(encoding="utf-8"))
        cells = list(notebook["cells"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NarrativeError(f"cannot read the edited notebook {pack_notebook}: {exc}; fix or "
                             "delete it (its narrative would be lost)") from exc
    edits = []
    for cell in cells:
        if not isinstance(cell, dict) or not is_narrative(cell):
            continue
        meta = cell.get("metadata", {}).get("reviewkit", {})
        key = meta.get("key")
        origin = meta.get("origin")
        if not key or origin is None:
            continue
        source = cell.get("source", "")
        text = normalise("".join(source) if isinstance(source, list) else str(source))
        revision = int(meta.get("revision", 0))
        # A draft is accepted as it stands by setting its `draft` flag to false in Jupyter, and
        # any text (a draft, or a stale text still right) by setting `accepted` to true.
        accepted = (meta.get("draft") is False and revision == 0) or meta.get(ACCEPT_FLAG) is True
        if text == normalise(str(origin)) and not accepted:
            continue  # untouched since the last build
        edits.append(NarrativeEdit(
            key=str(key), kpi_id=meta.get("kpi"), text=text,
            basis=dict(meta.get("values") or {}), revision=revision,
            source=(f"accepted in notebook {pack_notebook.name}" if accepted
                    and text == normalise(str(origin)) else f"notebook {pack_notebook.name}"),
            where=str(pack_notebook),
            conflict_hint="rebuild with --prefer notebook or --prefer store",
            accepted=accepted,
        ))
    return edits
