"""Narrative cells in notebooks: find them, fill them for a build, and read back an analyst's
edits from a pack's ``pack.ipynb``."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell

from reviewkit.cadences import Cadence, Narrative
from reviewkit.errors import InputError
from reviewkit.inputs._yaml import did_you_mean
from reviewkit.narrative.cells import NarrativeCell
from reviewkit.narrative.drafts import literal
from reviewkit.narrative.edits import CONTROL, CONTROL_IS, NarrativeEdit, normalise
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
        state = (f"STALE: {literal(planned.stale_detail)}; edit it, or set `reviewkit.accepted` "
                 "to true in the cell metadata if it is still right")
    # A KPI's name is the catalog's text, shown as written (Jupyter renders Markdown and HTML).
    label: NotebookNode = new_markdown_cell(  # type: ignore[no-untyped-call]
        f"##### ✎ Commentary: {literal(planned.title)}\n"
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


#: Where a pack's notebook records what the build wrote (notebook metadata, under
#: ``reviewkit``), so the next build can tell every cell an analyst added or changed.
WRITTEN = "written"


def _digest(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()[:16]


#: A surrogate code point: JSON can write one on its own ("\\ud800"), UTF-8 cannot.
_UNPAIRED = re.compile("[\ud800-\udfff]")
_UNWRITABLE = ((_UNPAIRED, "half of a character pair, which no file or store can hold"),
               (CONTROL, CONTROL_IS))


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source) if source is not None else ""


def record_written(notebook: NotebookNode) -> None:
    """Record in the pack's notebook the text of every cell the build wrote and the keys of its
    narrative cells: the next build then knows any cell an analyst added or changed."""
    meta = notebook.metadata.setdefault("reviewkit", {})
    meta[WRITTEN] = {
        "texts": sorted({_digest(_source(cell)) for cell in notebook.cells}),
        "keys": [str(cell.metadata["reviewkit"]["key"]) for cell in notebook.cells
                 if is_narrative(cell) and isinstance(cell.metadata.get("reviewkit"), dict)
                 and "key" in cell.metadata["reviewkit"]],
    }


@dataclass(frozen=True)
class _Written:
    texts: frozenset[str]
    keys: tuple[str, ...]


def _written(notebook: Mapping[str, Any]) -> _Written | None:
    """What the build recorded it wrote; None for a notebook from before the record."""
    meta = notebook.get("metadata")
    record = meta.get("reviewkit", {}).get(WRITTEN) if isinstance(meta, dict) and isinstance(
        meta.get("reviewkit"), dict) else None
    if not isinstance(record, dict):
        return None
    texts, keys = record.get("texts"), record.get("keys")
    if not isinstance(texts, list) or not isinstance(keys, list):
        return None
    return _Written(frozenset(str(t) for t in texts), tuple(str(k) for k in keys))


def _excerpt(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 1] + "…")


class _CellReader:
    """Reads one pack.ipynb's cells, refusing any the rebuild would drop without a word."""

    def __init__(self, path: Path, written: _Written | None, keys: Collection[str] | None
                 ) -> None:
        self.path = path
        self.written = written
        self.keys = tuple(written.keys) if written is not None else (
            tuple(keys) if keys is not None else None)

    def refuse(self, number: int, message: str) -> InputError:
        return InputError(self.path, f"{message}, then build again", line=number,
                          row_label="cell")

    def check_unrecorded(self, number: int, cell: Mapping[str, Any], tags: list[Any]) -> None:
        """A cell that is not a narrative cell: refused when its text is not text the build
        wrote (an analyst added or changed it, and the rebuild would drop it)."""
        text = normalise(_source(cell))
        if self.written is None or not text or _digest(text) in self.written.texts:
            return
        kind = {"markdown": "Markdown", "code": "code", "raw": "raw"}.get(
            str(cell.get("cell_type")), "unknown")
        if LABEL_TAG in tags:
            raise self.refuse(number, f"the label above a narrative cell was changed "
                              f"({_excerpt(text)}), and the build rewrites labels; put your "
                              "text in the narrative cell below the label")
        if NARRATIVE_TAG in tags:
            raise self.refuse(number, f"a cell tagged '{NARRATIVE_TAG}' that is not one of the "
                              f"pack's narrative cells ({_excerpt(text)}; it has no "
                              "'reviewkit' key), so the rebuild would drop it; move its text "
                              "into a narrative cell (those labelled '✎ Commentary')")
        raise self.refuse(number, f"a {kind} cell the build did not write "
                          f"({_excerpt(text)}), so the rebuild would drop it; move its text "
                          "into a narrative cell (those labelled '✎ Commentary') or delete "
                          "the cell")

    def narrative_record(self, number: int, meta: Any) -> dict[str, Any]:
        """The cell's ``reviewkit`` metadata, checked field by field."""
        if not isinstance(meta, dict):
            raise self.refuse(number, f"the narrative cell's metadata 'reviewkit' is "
                              f"{_shown(meta)}, not the mapping the build wrote; undo the "
                              "change to the cell's metadata")
        key = meta.get("key")
        if not isinstance(key, str) or not key.strip():
            raise self.refuse(number, f"metadata 'reviewkit.key' is {_shown(key)}, not a "
                              "narrative cell's key; undo the change to the cell's metadata")
        for name, valid, wanted, null_allowed in _FIELDS:
            if name not in meta:
                if name == "origin":
                    raise self.refuse(number, f"narrative cell '{key}': metadata 'reviewkit."
                                      "origin' is missing; undo the change to the cell's "
                                      "metadata")
                continue
            value = meta[name]
            if (value is None and not null_allowed) or (value is not None and not valid(value)):
                raise self.refuse(number, f"narrative cell '{key}': metadata 'reviewkit."
                                  f"{name}' is {_shown(value)}, not {wanted}; undo the change "
                                  "to the cell's metadata")
        if self.keys is not None and key not in self.keys:
            raise self.refuse(number, f"narrative key '{key}' is not a cell of this pack"
                              f"{did_you_mean(key, self.keys)}, so its text would be stored "
                              "where no cell shows it; put back the key the build wrote in "
                              "the cell's metadata ('reviewkit.key')")
        return meta


#: The fields of a narrative cell's ``reviewkit`` metadata an edit is read from: how each is
#: checked, what it should be, and whether null means "not set" (origin must be present).
_FIELDS: tuple[tuple[str, Callable[[Any], bool], str, bool], ...] = (
    ("origin", lambda v: isinstance(v, str), "text", False),
    ("revision", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
     "a whole number of 0 or more", False),
    ("draft", lambda v: isinstance(v, bool), "true or false", True),
    (ACCEPT_FLAG, lambda v: isinstance(v, bool), "true or false", True),
    ("values", lambda v: isinstance(v, dict), "a mapping", True),
    ("kpi", lambda v: isinstance(v, str), "a KPI id", True),
)


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value[:40])
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def edits_in(pack_notebook: Path, keys: Collection[str] | None = None) -> list[NarrativeEdit]:
    """The narrative edits made in an earlier ``pack.ipynb``: every cell whose text differs
    from the text the build put there, and every draft accepted as it stands.

    Every other cell an analyst added or changed is refused, naming it, before anything is
    saved, so no text is dropped without a word: a cell the build did not write, a narrative
    cell whose key was changed (checked against the keys the build recorded, or ``keys`` for a
    notebook from before that record), malformed narrative metadata, and two cells with the
    same key and different text. A narrative cell keeps its words whatever happened to its
    tags or type (its ``reviewkit`` metadata names it).
    """
    if not pack_notebook.is_file():
        return []
    try:
        # Plain JSON, not nbformat: only the cells' text and metadata matter here, and
        # validating a notebook full of chart images against the schema costs more than the
        # rest of this step.
        notebook = json.loads(pack_notebook.read_text(encoding="utf-8"))
        cells = notebook["cells"]
        if not isinstance(cells, list):
            raise TypeError("'cells' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NarrativeError(f"cannot read the edited notebook {pack_notebook}: {exc}; fix or "
                             "delete it (its narrative would be lost)") from exc
    reader = _CellReader(pack_notebook, _written(notebook), keys)
    edits: dict[str, tuple[int, NarrativeEdit]] = {}
    texts: dict[str, tuple[int, str]] = {}
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise reader.refuse(number, f"the cell is {_shown(cell)}, not a notebook cell; "
                                "undo the change")
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            raise reader.refuse(number, f"the cell's metadata is {_shown(metadata)}, not a "
                                "mapping; undo the change to the cell's metadata")
        for pattern, what in _UNWRITABLE:
            found = pattern.search(_source(cell))
            if found is not None:
                raise reader.refuse(number, f"the cell's text holds U+{ord(found.group()):04X}, "
                                    f"{what} (near "
                                    f"{_shown(_source(cell)[max(0, found.start() - 20):])}); "
                                    "delete it")
        tags = metadata.get("tags", [])
        tags = tags if isinstance(tags, list) else []
        record = metadata.get("reviewkit")
        named = isinstance(record, dict) and "key" in record and "origin" in record
        if not named and not (NARRATIVE_TAG in tags and "reviewkit" in metadata):
            reader.check_unrecorded(number, cell, tags)
            continue
        meta = reader.narrative_record(number, record)
        key = str(meta["key"])
        attached = cell.get("attachments")
        if attached:
            names = (", ".join(repr(name) for name in attached) if isinstance(attached, dict)
                     else "a file")
            raise reader.refuse(number, f"narrative cell '{key}' has {names} attached (pasted "
                                "into it), which a pack cannot show; remove the attachment "
                                "and describe what it showed in words")
        text = normalise(_source(cell))
        first = texts.get(key)
        if first is not None:
            if first[1] != text:
                raise reader.refuse(number, f"this cell and cell {first[0]} are both narrative "
                                    f"cell '{key}' (a copied cell keeps the key of its "
                                    "original) with different text; keep the text you want "
                                    "in one of them and delete the other")
            continue
        texts[key] = (number, text)
        edit = _edit_of(meta, text, pack_notebook)
        if edit is not None:
            edits[key] = (number, edit)
    return [edit for _, edit in edits.values()]


def _edit_of(meta: Mapping[str, Any], text: str, pack_notebook: Path) -> NarrativeEdit | None:
    origin = meta.get("origin")
    revision = int(meta.get("revision") or 0)
    # A draft is accepted as it stands by setting its `draft` flag to false in Jupyter, and any
    # text (a draft, or a stale text still right) by setting `accepted` to true.
    accepted = (meta.get("draft") is False and revision == 0) or meta.get(ACCEPT_FLAG) is True
    unchanged = text == normalise(str(origin))
    if unchanged and not accepted:
        return None  # untouched since the last build
    kpi = meta.get("kpi")
    return NarrativeEdit(
        key=str(meta["key"]), kpi_id=str(kpi) if kpi else None, text=text,
        basis=dict(meta.get("values") or {}), revision=revision,
        source=(f"accepted in notebook {pack_notebook.name}" if accepted and unchanged
                else f"notebook {pack_notebook.name}"),
        where=str(pack_notebook),
        conflict_hint=("rebuild with --prefer notebook or --prefer store (the text not chosen "
                       "stays in the narrative's history)"),
        accepted=accepted,
    )
