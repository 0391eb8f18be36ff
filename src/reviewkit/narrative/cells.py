"""Analysts' narrative: draft text written by rules, stored edits that survive every rebuild,
placeholders filled from the data, staleness, and the Markdown round trip.

The pack's ``pack.ipynb`` is the analyst's working copy. Each narrative cell carries in its
metadata the text it was given (``origin``) and the store revision it came from, so the next
build can tell an edit from the text it wrote itself and save only real edits.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewkit.errors import ReviewkitError
from reviewkit.evaluation.evaluate import STATUS_WORDS, KpiResult
from reviewkit.formatting import format_change, format_value, ordinal
from reviewkit.store.database import NarrativeConflict, Store, StoredNarrative

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from reviewkit.run.context import PackContext

NARRATIVE_TAG = "narrative"
KPI_KEY_PREFIX = "kpi-"
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
_KPI_FIELD = re.compile(r"^kpi\.([a-z0-9_]+)\.([a-z_]+)$")
KPI_FIELDS = ("value", "target", "amber", "status", "status_word", "trend", "change", "variance",
              "streak", "owner", "name", "unit")
PERIOD_FIELDS = ("label", "start", "end", "long_label")

SECTION_TITLES = {
    "summary": "Summary",
    "kpis": "KPIs by perspective",
    "actions": "Action log",
    "delivery": "Delivery",
    "cost": "Cost discipline",
    "priorities": "Strategic priorities",
}


class NarrativeError(ReviewkitError):
    """Narrative text cannot be used as written (unknown placeholder, conflicting edits)."""

    exit_code = 2


@dataclass
class NarrativeCell:
    """One narrative cell as the next pack will show it."""

    key: str
    kpi_id: str | None
    title: str
    text: str  # as stored or drafted, placeholders unfilled
    draft: bool
    revision: int
    values: dict[str, Any]  # the values the text discusses, as they are now
    stale: bool = False
    stale_detail: str = ""
    prompt: str = ""

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "key": self.key, "draft": self.draft, "stale": self.stale, "origin": self.text,
            "revision": self.revision, "values": self.values, "title": self.title,
        }
        if self.kpi_id:
            meta["kpi"] = self.kpi_id
        if self.stale_detail:
            meta["stale_detail"] = self.stale_detail
        if self.prompt:
            meta["prompt"] = self.prompt
        return meta


# -- placeholders --------------------------------------------------------------------------

def _kpi_value(result: KpiResult, name: str) -> str:
    kpi, current = result.kpi, result.current
    values: dict[str, str] = {
        "value": format_value(current.value, kpi),
        "target": format_value(current.target, kpi),
        "amber": format_value(current.amber, kpi),
        "status": current.status,
        "status_word": STATUS_WORDS[current.status],
        "trend": result.trend,
        "change": format_change(result.change, kpi),
        "variance": format_change(result.variance, kpi),
        "streak": str(result.streak),
        "owner": kpi.owner,
        "name": kpi.name,
        "unit": kpi.unit,
    }
    return values[name]


def placeholders(text: str) -> list[str]:
    return [match.strip() for match in _PLACEHOLDER.findall(text)]


def check_placeholders(text: str, context: PackContext, key: str) -> set[str]:
    """The KPI ids a text refers to; an unknown placeholder is an error naming it and the cell."""
    known = {result.kpi.id for result in context.evaluation.results}
    kpis: set[str] = set()
    for name in placeholders(text):
        match = _KPI_FIELD.match(name)
        if match and match[1] in known and match[2] in KPI_FIELDS:
            kpis.add(match[1])
            continue
        if name.startswith("period.") and name.removeprefix("period.") in PERIOD_FIELDS:
            continue
        hint = (f"KPI '{match[1]}' is not in this pack" if match and match[1] not in known
                else f"use kpi.<id>.<{'|'.join(KPI_FIELDS)}> or period.<{'|'.join(PERIOD_FIELDS)}>")
        raise NarrativeError(f"narrative cell '{key}': unknown placeholder '{{{{ {name} }}}}'; "
                             f"{hint}")
    return kpis


def fill(text: str, context: PackContext) -> str:
    """Replace placeholders with this pack's numbers (checked beforehand)."""
    results = {result.kpi.id: result for result in context.evaluation.results}
    period = context.period

    def replace(match: re.Match[str]) -> str:
        name = match[1].strip()
        kpi_match = _KPI_FIELD.match(name)
        if kpi_match:
            return _kpi_value(results[kpi_match[1]], kpi_match[2])
        attr = name.removeprefix("period.")
        value = getattr(period, attr)
        return value.isoformat() if hasattr(value, "isoformat") else str(value)

    return _PLACEHOLDER.sub(replace, text)


# -- drafts ---------------------------------------------------------------------------------

def draft_for_kpi(result: KpiResult, context: PackContext) -> str:
    """A factual first sentence an analyst can keep, correct or replace."""
    kpi, current, previous = result.kpi, result.current, result.previous
    noun = context.period.noun
    if current.value is None:
        last = (
            f"last measured {result.last_seen.isoformat()}"
            if result.last_seen
            else "never measured"
        )
        text = (f"{kpi.name} has no data this {noun} ({last}); "
                f"owner: {kpi.owner}.")
    else:
        moved = ""
        if result.change is not None and result.change != 0:
            verb = "rose" if result.change > 0 else "fell"
            moved = f" {verb} to {format_value(current.value, kpi)}"
        else:
            moved = f" stands at {format_value(current.value, kpi)}"
        transition = ""
        if previous.status != current.status and previous.status != "no_data":
            transition = (f" ({STATUS_WORDS[previous.status].lower()} → "
                          f"{STATUS_WORDS[current.status].lower()})")
        if current.status == "green":
            where = f"on target for the {ordinal(result.streak)} {noun} in a row"
        else:
            where = (f"the {ordinal(result.streak)} {noun} "
                     f"{'below' if kpi.higher_is_better else 'above'} target")
        text = (f"{kpi.name}{moved}{transition}, {where} "
                f"(target {format_value(current.target, kpi)}); owner: {kpi.owner}.")
    log = context.action_log
    linked = log.open_for(kpi.id) if log else []
    if linked:
        text += " Open actions: " + "; ".join(
            f"{view.id} {view.action.title} (due {view.action.due.isoformat()})" for view in linked
        ) + "."
    elif result.status == "red":
        text += " No open action is linked to it."
    if kpi.action_if_off_track and result.status in ("red", "amber"):
        text += f" Expected action: {kpi.action_if_off_track}"
    return text


def draft_for_section(key: str, context: PackContext) -> str:
    evaluation = context.evaluation
    counts = evaluation.status_counts()
    noun = context.period.noun
    names = {r.kpi.id: r.kpi.name for r in evaluation.results}
    if key == "summary":
        reds = [r.kpi.name for r in evaluation.results if r.status == "red"]
        worse = [names[e.kpi_id] for e in evaluation.exceptions if e.reason == "worsened"]
        text = (f"This {noun}: {counts['red']} KPIs off track"
                + (f" ({', '.join(reds)})" if reds else "")
                + f", {counts['amber']} at risk, {counts['green']} on track.")
        if worse:
            text += f" Worse than last {noun}: {', '.join(worse)}."
        log = context.action_log
        if log and log.overdue:
            text += f" {len(log.overdue)} actions are overdue."
        return text
    if key == "kpis":
        movers = sorted(
            (r for r in evaluation.results if r.change is not None and r.status_changed),
            key=lambda r: r.kpi.name,
        )
        if not movers:
            return f"No KPI changed status since last {noun}."
        return "Status changes since last " + noun + ": " + "; ".join(
            f"{r.kpi.name} {STATUS_WORDS[r.previous.status].lower()} → "
            f"{STATUS_WORDS[r.status].lower()}" for r in movers
        ) + "."
    if key == "actions":
        log = context.action_log
        if not log or not log.overdue:
            return "No action is overdue."
        return "Overdue: " + "; ".join(
            f"{v.id} {v.action.title} ({v.action.owner}, {v.days_overdue} days)"
            for v in log.overdue
        ) + ". For each: re-plan with a new due date, escalate, or close."
    strategy = context.strategy
    if key == "delivery" and strategy is not None and strategy.initiatives is not None:
        states = {i.name: i.schedule_state_on(strategy.as_of) for i in strategy.initiatives}
        late = [name for name, state in states.items() if state == "late"]
        risky = [name for name, state in states.items() if state == "at_risk"]
        over = [i.name for i in strategy.initiatives if i.over_budget]
        text = (f"{len(late)} initiatives late" + (f" ({', '.join(late)})" if late else "")
                + f", {len(risky)} at risk" + (f" ({', '.join(risky)})" if risky else "") + ".")
        if over:
            text += f" Over budget: {', '.join(over)}."
        return text
    if key == "cost" and strategy is not None and strategy.spend is not None:
        total = strategy.spend.total
        over = [c for c in strategy.spend.categories if c.ytd.status in ("amber", "red")]
        year = total.full_year
        text = (f"Year to date £{total.ytd.actual or 0:,.0f}k against a budget of "
                f"£{total.ytd.budget or 0:,.0f}k; full-year forecast "
                f"£{year.actual or 0:,.0f}k against £{year.budget or 0:,.0f}k.")
        if over:
            text += " Over budget to date: " + ", ".join(
                f"{c.category} (+£{c.ytd.variance or 0:,.0f}k)" for c in over) + "."
        return text
    if key == "priorities" and strategy is not None and strategy.priorities is not None:
        return "Progress: " + "; ".join(
            f"{priority.title} {progress.progress:.0f}%" if progress.progress is not None
            else f"{priority.title} unknown" for priority, progress in strategy.priorities
        ) + "."
    return f"Commentary on {SECTION_TITLES.get(key, key)}."


# -- planning the cells of a pack --------------------------------------------------------

def _values_of(kpi_ids: Sequence[str], context: PackContext) -> dict[str, Any]:
    results = {r.kpi.id: r for r in context.evaluation.results}
    return {
        kpi_id: {"value": results[kpi_id].value, "status": results[kpi_id].status}
        for kpi_id in sorted(kpi_ids) if kpi_id in results
    }


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a != b)


def _stale(basis: dict[str, Any], now: dict[str, Any], context: PackContext) -> str:
    """Why a stored text no longer matches the numbers, or '' when it still does."""
    kpis = context.catalog.by_id()
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


def kpi_cell_ids(context: PackContext) -> list[str]:
    """KPIs that get a commentary cell of their own: headline ones and exceptions."""
    order = [r.kpi.id for r in context.evaluation.results]
    wanted = set(context.headline) | {e.kpi_id for e in context.evaluation.exceptions}
    return [kpi_id for kpi_id in order if kpi_id in wanted]


def plan_cells(
    context: PackContext,
    section_keys: Sequence[tuple[str, str]],
    stored: dict[str, StoredNarrative],
) -> list[NarrativeCell]:
    """Every narrative cell of the pack: stored words where there are any, else a draft."""
    results = {r.kpi.id: r for r in context.evaluation.results}
    specs: list[tuple[str, str | None, str, str]] = [
        (key, None, SECTION_TITLES.get(key, key), prompt) for key, prompt in section_keys
    ]
    specs += [
        (f"{KPI_KEY_PREFIX}{kpi_id}", kpi_id, results[kpi_id].kpi.name, "")
        for kpi_id in kpi_cell_ids(context)
    ]
    cells = []
    for key, kpi_id, title, prompt in specs:
        saved = stored.get(key)
        if saved is not None:
            kpis = check_placeholders(saved.text, context, key)
            if kpi_id:
                kpis.add(kpi_id)
            now = _values_of(sorted(kpis), context)
            detail = _stale(saved.basis, now, context)
            cells.append(NarrativeCell(key, kpi_id, title, saved.text, False, saved.revision,
                                       now, bool(detail), detail, prompt))
            continue
        text = (draft_for_kpi(results[kpi_id], context) if kpi_id
                else draft_for_section(key, context))
        now = _values_of([kpi_id] if kpi_id else [], context)
        cells.append(NarrativeCell(key, kpi_id, title, text, True, 0, now, prompt=prompt))
    return cells


# -- the notebook -------------------------------------------------------------------------

def is_narrative(cell: Any) -> bool:
    return bool(cell.get("cell_type") == "markdown"
                and NARRATIVE_TAG in cell.get("metadata", {}).get("tags", []))


def section_keys(notebook: NotebookNode) -> list[tuple[str, str]]:
    keys = []
    for cell in notebook.cells:
        if is_narrative(cell):
            meta = cell.metadata.get("reviewkit", {})
            keys.append((str(meta.get("key")), str(meta.get("prompt", ""))))
    return keys


def _label_cell(planned: NarrativeCell) -> NotebookNode:
    """A heading above a narrative cell for the analyst in Jupyter; the pack leaves it out."""
    from nbformat.v4 import new_markdown_cell

    state = ("draft generated from the data: rewrite it, or set `reviewkit.draft` to false in "
             "the cell metadata to accept it" if planned.draft else "your text, kept across "
             "rebuilds")
    if planned.stale:
        state = f"STALE: {planned.stale_detail}"
    label: NotebookNode = new_markdown_cell(  # type: ignore[no-untyped-call]
        f"##### ✎ Commentary: {planned.title}\n"
        f"<small>cell `{planned.key}`; {state}</small>"
    )
    label.metadata["tags"] = ["remove-cell", "narrative-label"]
    return label


def apply_to_notebook(notebook: NotebookNode, cells: Sequence[NarrativeCell]) -> None:
    """Put the planned text into the section cells and add a cell per KPI after the summary's.

    Each narrative cell gets a label cell above it (tagged ``remove-cell``) so the analyst sees
    in Jupyter which cell is which.
    """
    from nbformat.v4 import new_markdown_cell

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
        if key == "summary":
            for kpi_cell in (cell for cell in cells if cell.kpi_id):
                new = new_markdown_cell(kpi_cell.text)  # type: ignore[no-untyped-call]
                new.metadata["tags"] = [NARRATIVE_TAG]
                new.metadata["reviewkit"] = kpi_cell.metadata()
                result += [_label_cell(kpi_cell), new]
    notebook.cells = result


def for_export(notebook: NotebookNode, context: PackContext) -> NotebookNode:
    """A copy with placeholders filled, for HTML and PDF; pack.ipynb keeps them as written."""
    copy_nb = copy.deepcopy(notebook)
    for cell in copy_nb.cells:
        if is_narrative(cell):
            cell.source = fill(cell.source, context)
    return copy_nb


@dataclass
class CollectResult:
    saved: list[str] = field(default_factory=list)


def collect_edits(
    pack_notebook: Path, store: Store, context: PackContext, *, by: str,
    prefer: str | None = None,
) -> CollectResult:
    """Save the narrative edits made in an earlier ``pack.ipynb`` of this pack to the store.

    A cell whose text differs from the text the build put there was edited by a person. When
    the store also changed since (someone imported Markdown, say), both versions are kept and
    the build stops, unless ``prefer`` says which one wins.
    """
    result = CollectResult()
    if not pack_notebook.is_file():
        return result
    try:
        # Plain JSON, not nbformat: only markdown cells matter here, and validating a notebook
        # full of chart images against the schema costs more than the rest of this step.
        notebook = json.loads(pack_notebook.read_text(encoding="utf-8"))
        cells = list(notebook["cells"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NarrativeError(f"cannot read the edited notebook {pack_notebook}: {exc}; fix or "
                             "delete it (its narrative would be lost)") from exc
    stored = store.narratives(context.cadence, context.period.label)
    for cell in cells:
        if not isinstance(cell, dict) or not is_narrative(cell):
            continue
        meta = cell.get("metadata", {}).get("reviewkit", {})
        key = meta.get("key")
        origin = meta.get("origin")
        if not key or origin is None:
            continue
        source = cell.get("source", "")
        text = _normalise("".join(source) if isinstance(source, list) else str(source))
        # A draft is accepted as it stands by setting its `draft` flag to false in Jupyter.
        accepted = meta.get("draft") is False and int(meta.get("revision", 0)) == 0
        if text == _normalise(str(origin)) and not accepted:
            continue  # untouched since the last build
        check_placeholders(text, context, str(key))
        revision = int(meta.get("revision", 0))
        current = stored.get(str(key))
        if current is not None and _normalise(current.text) == text:
            continue  # saved already (e.g. by a publish the gate then refused)
        if current is not None and current.revision != revision:
            if prefer == "store":
                continue
            if prefer != "notebook":
                raise NarrativeError(
                    f"narrative cell '{key}' was edited in {pack_notebook} and changed in the "
                    f"store since (revision {revision} → {current.revision}); both are kept. "
                    "Rebuild with --prefer notebook or --prefer store to choose"
                )
            revision = current.revision
        try:
            store.save_narrative(
                cadence=context.cadence, label=context.period.label, key=str(key),
                kpi_id=meta.get("kpi"), text=text, basis=dict(meta.get("values") or {}),
                expected_revision=revision, by=by, source=f"notebook {pack_notebook.name}",
            )
        except NarrativeConflict as exc:
            raise NarrativeError(f"{exc}; rebuild with --prefer notebook or --prefer store") \
                from exc
        result.saved.append(str(key))
    return result


def _normalise(text: str) -> str:
    return text.strip().replace("\r\n", "\n")


# -- Markdown round trip -----------------------------------------------------------------

_HEADING = re.compile(r"^## (\S+)(?: — .*)?$")
_REVISION = re.compile(r"^<!-- reviewkit: revision (\d+)(?P<draft>, draft)?(?:, stale)? -->$")


def to_markdown(context: PackContext, cells: Sequence[NarrativeCell]) -> str:
    lines = [
        f"# Narrative: {context.title}, {context.period.long_label}",
        "",
        f"<!-- reviewkit narrative {context.cadence} {context.period.label}. Edit the text under "
        "each '## key' heading and import the file with `reviewkit narrative import`. Keep the "
        "headings and the revision comments. Placeholders such as {{ kpi.<id>.value }} are "
        "filled at build time. -->",
        "",
    ]
    for cell in cells:
        flags = ", draft" if cell.draft else ""
        flags += ", stale" if cell.stale else ""
        lines += [f"## {cell.key} — {cell.title}", f"<!-- reviewkit: revision {cell.revision}"
                  f"{flags} -->", "", cell.text.strip(), ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class MarkdownSection:
    key: str
    revision: int
    text: str
    line: int
    draft: bool = False  # the ", draft" marker is still there (remove it to accept the draft)


def parse_markdown(text: str, path: Path) -> list[MarkdownSection]:
    from reviewkit.errors import InputError

    sections: list[MarkdownSection] = []
    key: str | None = None
    revision = 0
    start = 0
    draft = False
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        heading = _HEADING.match(line)
        if heading:
            if key is not None:
                sections.append(MarkdownSection(key, revision, "\n".join(body).strip(), start,
                                                draft))
            key, revision, start, body, draft = heading[1], 0, number, [], False
            continue
        if key is None:
            continue
        marker = _REVISION.match(line.strip())
        if marker and not body:
            revision, draft = int(marker[1]), bool(marker["draft"])
            continue
        body.append(line)
    if key is not None:
        sections.append(MarkdownSection(key, revision, "\n".join(body).strip(), start, draft))
    seen: set[str] = set()
    for section in sections:
        if section.key in seen:
            raise InputError(path, f"narrative '{section.key}' appears twice", line=section.line)
        seen.add(section.key)
    if not sections:
        raise InputError(path, "no '## key' sections found; export the narrative with "
                         "`reviewkit narrative export` to get the expected layout")
    return sections
