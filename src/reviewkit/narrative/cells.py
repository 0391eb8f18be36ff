"""The narrative cells of a pack: the analyst's stored words where there are any, else a draft
written from the data, each knowing the numbers it discusses so a later build can tell when
the text has gone stale.

The pack's ``pack.ipynb`` is the analyst's working copy. Each narrative cell carries in its
metadata the text it was given (``origin``) and the store revision it came from, so the next
build can tell an edit from the text it wrote itself and save only real edits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reviewkit.cadences import Narrative
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.formatting import format_value
from reviewkit.narrative.drafts import draft_for_kpi, draft_for_section
from reviewkit.narrative.placeholders import NarrativeError, check_placeholders, kpis_named
from reviewkit.store.records import StoredNarrative

#: Keys of the commentary cell each headline or exceptional KPI gets: ``kpi-<id>``.
KPI_KEY_PREFIX = "kpi-"


@dataclass(frozen=True)
class NarrativeCell:
    """One narrative cell as the pack shows it."""

    key: str
    kpi_id: str | None
    title: str
    text: str  # as stored or drafted, placeholders unfilled
    draft: bool
    revision: int
    values: dict[str, Any] = field(default_factory=dict)  # the values the text discusses, now
    stale: bool = False
    stale_detail: str = ""
    prompt: str = ""

    def metadata(self) -> dict[str, Any]:
        """The cell's ``reviewkit`` metadata in the notebook (a plain, JSON-ready copy)."""
        meta: dict[str, Any] = {
            "key": self.key, "draft": self.draft, "stale": self.stale, "origin": self.text,
            "revision": self.revision, "values": dict(self.values), "title": self.title,
        }
        if self.kpi_id:
            meta["kpi"] = self.kpi_id
        if self.stale_detail:
            meta["stale_detail"] = self.stale_detail
        if self.prompt:
            meta["prompt"] = self.prompt
        return meta


def values_of(kpi_ids: Sequence[str], pack: PackEvaluation) -> dict[str, Any]:
    """The value and status of each KPI, as a text discussing them is saved with."""
    results = {r.kpi.id: r for r in pack.results}
    return {
        kpi_id: {"value": results[kpi_id].value, "status": results[kpi_id].status}
        for kpi_id in sorted(kpi_ids) if kpi_id in results
    }


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a != b)


def _stale(basis: Mapping[str, Any], now: Mapping[str, Any], pack: PackEvaluation) -> str:
    """Why a stored text no longer matches the numbers, or '' when it still does."""
    kpis = pack.catalog.by_id()
    for kpi_id, then in basis.items():
        current = now.get(kpi_id)
        if current is None:
            continue
        if _differs(then.get("value"), current.get("value")) or then.get("status") != current.get(
            "status"
        ):
            kpi = kpis[kpi_id]
            return (f"{kpi.name} was {format_value(then.get('value'), kpi)} when this was "
                    f"written; it is now {format_value(current.get('value'), kpi)}")
    return ""


def kpi_cell_ids(pack: PackEvaluation,
                 stored: Mapping[str, StoredNarrative] | None = None) -> list[str]:
    """KPIs that get a commentary cell of their own: headline ones, exceptions, and any an
    analyst has written about for this pack (a corrected row that clears an exception must not
    take their words out of the pack; an emptied cell lets the KPI go)."""
    order = [r.kpi.id for r in pack.results]
    written = {key.removeprefix(KPI_KEY_PREFIX) for key, saved in (stored or {}).items()
               if key.startswith(KPI_KEY_PREFIX) and saved.text.strip()}
    wanted = set(pack.headline) | {e.kpi_id for e in pack.evaluation.exceptions} | written
    return [kpi_id for kpi_id in order if kpi_id in wanted]


def cell_keys(pack: PackEvaluation, slots: Sequence[Narrative],
              stored: Mapping[str, StoredNarrative] | None = None) -> list[str]:
    """The keys of every narrative cell of the pack, in order (what :func:`plan_cells` makes)."""
    return [slot.key for slot in slots] + [f"{KPI_KEY_PREFIX}{kpi_id}"
                                           for kpi_id in kpi_cell_ids(pack, stored)]


def plan_cells(
    pack: PackEvaluation,
    slots: Sequence[Narrative],
    stored: Mapping[str, StoredNarrative],
    *,
    strict: bool = True,
) -> tuple[NarrativeCell, ...]:
    """Every narrative cell of the pack: the sections' cells (``slots``, in order), then one
    per KPI of :func:`kpi_cell_ids`; stored words where there are any, else a draft.

    Stored text with an unknown placeholder (a KPI since removed from the catalog) is an error
    (``strict``: a pack cannot show it), or kept as written: an export must still write it out,
    as exporting, editing and importing the text is how it gets fixed."""
    results = {r.kpi.id: r for r in pack.results}
    specs: list[tuple[str, str | None, str, str]] = [
        (slot.key, None, slot.title, slot.prompt) for slot in slots
    ]
    specs += [
        (f"{KPI_KEY_PREFIX}{kpi_id}", kpi_id, results[kpi_id].kpi.name, "")
        for kpi_id in kpi_cell_ids(pack, stored)
    ]
    cells = []
    for key, kpi_id, title, prompt in specs:
        saved = stored.get(key)
        if saved is not None:
            try:
                kpis = check_placeholders(saved.text, pack, key)
            except NarrativeError as exc:
                if strict:
                    raise NarrativeError(
                        f"{exc}; to fix the stored text, export the narrative (`reviewkit "
                        "narrative export`), edit that cell and import the file (`reviewkit "
                        "narrative import`)") from None
                kpis = kpis_named(saved.text, pack)
            if kpi_id:
                kpis.add(kpi_id)
            now = values_of(sorted(kpis), pack)
            detail = _stale(saved.basis, now, pack)
            cells.append(NarrativeCell(key, kpi_id, title, saved.text, False, saved.revision,
                                       now, bool(detail), detail, prompt))
            continue
        text = (draft_for_kpi(results[kpi_id], pack) if kpi_id
                else draft_for_section(key, title, pack))
        now = values_of([kpi_id] if kpi_id else [], pack)
        cells.append(NarrativeCell(key, kpi_id, title, text, True, 0, now, prompt=prompt))
    return tuple(cells)
