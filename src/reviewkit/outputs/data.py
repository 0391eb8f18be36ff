"""The machine-readable face of a pack: ``summary.json``, ``actions.csv`` and
``decisions.csv`` (the data files, which the PDF carries), and ``manifest.json`` (its
provenance). Every KPI figure in them is the pack's figure (:mod:`reviewkit.evaluation.figures`).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewkit.evaluation.actions import ActionView
from reviewkit.evaluation.breakdown import Breakdown
from reviewkit.evaluation.figures import (
    PackFigures,
    breakdown_subjects,
    group_subject,
    unit_subject,
)
from reviewkit.evaluation.units import ShareOfGroup
from reviewkit.inputs.units import Unit
from reviewkit.layout.document import PackDocument
from reviewkit.layout.view import PackView, Publication
from reviewkit.outputs.base import Staging
from reviewkit.outputs.files import MANIFEST_FILE, SUMMARY_FILE

if TYPE_CHECKING:
    from nbformat import NotebookNode


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def summary_of(view: PackView, publication: Publication) -> dict[str, Any]:
    """The contract's summary: one entry per KPI and the exceptions list. A pack of a
    definition with units also says which unit it is (or which units its group rolls up), and
    per KPI the weight and last date the consistency check of a batch needs."""
    evaluation = view.evaluation
    summary: dict[str, Any] = {
        "cadence": view.cadence.name,
        "period_end": view.period.end.isoformat(),
        "period_start": view.period.start.isoformat(),
        "label": view.period.label,
        "organisation": view.organisation,
        "title": view.title,
        "state": publication.state,
        **({"approver": publication.approver} if publication.approver else {}),
        **({"published_at": publication.published_at.isoformat()}
           if publication.published_at else {}),
        "version": publication.version,
        "generated_at": view.generated_at.isoformat(),
        "status_counts": evaluation.status_counts(),
        "headline": list(view.headline),
        "kpis": [_kpi_entry(view, result.kpi.id) for result in evaluation.results],
        "exceptions": [
            {"kpi_id": item.kpi_id, "reason": item.reason, "detail": item.detail}
            for item in evaluation.exceptions
        ],
        "actions": view.action_log.summary(),
    }
    evaluated = view.evaluated
    for entry in summary["kpis"]:
        table = evaluated.breakdowns.get(entry["id"])
        if table is not None:
            entry["breakdown"] = _breakdown(view, entry["id"], table)
    if evaluated.unit is not None or evaluated.is_group:
        if evaluated.unit is not None:
            summary["unit"] = _unit(evaluated.unit)
        else:
            summary["units"] = [_unit(figures.unit) for figures in evaluated.units]
        for entry, result in zip(summary["kpis"], evaluation.results, strict=True):
            entry["weight"] = _round(result.current.weight)
            entry["last_seen"] = result.last_seen.isoformat() if result.last_seen else None
            entry["rollup"] = result.kpi.rollup_rule
        if evaluated.unit is not None:
            summary["shares"] = [_share_entry(view, evaluated.unit, share)
                                 for share in evaluated.shares]
    return summary


def _number(figures: PackFigures, subject: str, kind: str) -> float | None:
    value = figures.value(subject, kind)
    return _round(float(value)) if isinstance(value, int | float) else None


def _breakdown(view: PackView, kpi_id: str, table: Breakdown) -> dict[str, Any]:
    """A KPI's period by the parts of its breakdown column, as the card states it."""
    figures = view.figures
    return {"column": table.column, "parts": [
        {"name": part.name, "value": _number(figures, subject, "value"),
         "status": figures.value(subject, "status"),
         "share": _number(figures, subject, "share")}
        for subject, part in zip(breakdown_subjects(kpi_id, table), table.parts, strict=True)]}


def _share_entry(view: PackView, unit: Unit, share: ShareOfGroup) -> dict[str, Any]:
    """A KPI the unit's pack shows as its share of the group's figure, as its table states it."""
    figures = view.figures
    mine, group = unit_subject(share.kpi.id, unit.id), group_subject(share.kpi.id)
    last_seen = share.unit.last_seen
    return {"id": share.kpi.id, "name": share.kpi.name,
            "value": _number(figures, mine, "value"),
            "group_value": _number(figures, group, "value"),
            "share": _number(figures, mine, "share"),
            "group_status": figures.value(group, "status"),
            "group_target": _number(figures, group, "target"),
            "trend": figures.value(mine, "trend"), "owner": share.kpi.owner,
            "unit": share.kpi.unit, "weight": _round(share.unit.current.weight),
            "last_seen": last_seen.isoformat() if last_seen else None,
            "rollup": share.kpi.rollup_rule}


def _kpi_entry(view: PackView, kpi_id: str) -> dict[str, Any]:
    """One KPI's entry: its figures for the period, as the pack states them."""
    result = view.result(kpi_id)
    kpi = result.kpi
    figures = view.figures

    def number(kind: str, period: str | None = None) -> float | None:
        value = figures.value(kpi_id, kind, period)
        return _round(float(value)) if isinstance(value, int | float) else None

    def word(kind: str, period: str | None = None) -> Any:
        return figures.value(kpi_id, kind, period)

    entry: dict[str, Any] = {
        "id": kpi.id,
        "name": kpi.name,
        "perspective": kpi.perspective,
        "kind": kpi.kind,
        "value": number("value"),
        "target": number("target"),
        "amber": number("amber"),
        "status": word("status"),
        "previous_status": word("status", result.previous.period.label),
        "direction": kpi.direction,
        "owner": kpi.owner,
        "trend": word("trend"),
        "streak": result.streak,
        # Unrounded, unlike the pages, which subtract the figures as printed.
        "change": _round(result.change),
        "variance": _round(result.variance),
        "unit": kpi.unit,
    }
    # A summed KPI in a period in progress: the share its target is pro-rated to.
    if result.current.pro_rated:
        entry["target_share"] = number("share")
    # The target of the data's rows, or the catalog's (the group's, or the unit's).
    entry["target_from"] = result.current.target_from
    # A status the KPI's owner set in the review round instead of the data's: a reader (and
    # the consistency check of a group) can tell it from one the value and target give.
    if result.owner_status is not None:
        entry["status_set_by_owner"] = {
            "data_status": result.owner_status.data_status,
            "reason": result.owner_status.reason, "by": result.owner_status.by,
            "approved": result.owner_status.approved}
    return entry


def _unit(unit: Unit) -> dict[str, str]:
    return {"id": unit.id, "name": unit.name, "segment": unit.segment, "owner": unit.owner}


def manifest_of(document: PackDocument, staging: Staging, *,
                embedded: tuple[str, ...] = ()) -> dict[str, Any]:
    """Provenance of a pack: parameters, input hashes, versions, timings, the audit's findings
    and the hash of every file written so far, and its fingerprint (a batch skips the pack
    while it stays the same)."""
    view, publication = document.view, document.publication
    provenance = view.provenance
    facts = staging.facts
    return {
        "cadence": view.cadence.name,
        "label": view.period.label,
        "unit": view.evaluated.unit_key or None,
        "fingerprint": facts.fingerprint,
        "state": publication.state,
        "version": publication.version,
        "reissue_of": publication.reissue.previous if publication.reissue else None,
        "approver": publication.approver,
        "published_at": publication.published_at.isoformat() if publication.published_at
        else None,
        "gate_overrides": list(publication.overrides),
        "narrative": [
            {"key": cell.key, "draft": cell.draft, "stale": cell.stale, "revision": cell.revision}
            for cell in publication.narrative
        ],
        "generated_at": view.generated_at.isoformat(),
        # As the provenance names it: never a folder of the machine that built the pack.
        "notebook": next((item.path for item in provenance.inputs if item.role == "notebook"),
                         facts.notebook.name),
        "embedded_files": [*embedded, MANIFEST_FILE],
        "parameters": provenance.parameters,
        "inputs": [
            {"role": item.role, "path": item.path, "sha256": item.sha256,
             "size_bytes": item.size_bytes, "rows": item.rows}
            for item in provenance.inputs
        ],
        "versions": provenance.versions,
        "timings_seconds": {stage: round(seconds, 3) for stage, seconds in facts.timings.items()},
        "audit": list(facts.audit),
        "outputs": staging.hashes(leave_out=(MANIFEST_FILE,)),
    }


ACTION_COLUMNS = (
    "id", "title", "owner", "due", "status", "kpi_id", "raised_in", "days_overdue",
    "due_date_changes", "age_days", "raised_on", "closed_on", "kpi_status", "decision_id", "note",
)
DECISION_COLUMNS = ("id", "decided_on", "review", "text", "rationale", "kpis", "actions")


def action_row(figures: PackFigures, item: ActionView, kpi_status: str) -> list[object]:
    """An action in :data:`ACTION_COLUMNS`, its figures as the pack states them (the CSV and
    the workbook write the same row; each says the KPI's status in its own form)."""
    a = item.action
    subject = f"action:{a.id}"
    return [
        a.id, a.title, a.owner, a.due.isoformat(), a.status, a.kpi_id or "",
        a.raised_in or "", figures.value(subject, "days-overdue"),
        figures.value(subject, "due-changes"), figures.value(subject, "age"),
        a.raised_on.isoformat(), item.closed_on.isoformat() if item.closed_on else "",
        kpi_status, a.decision_id or "", a.note,
    ]


def action_csvs(view: PackView) -> dict[str, bytes]:
    """actions.csv and decisions.csv: the log as of the pack's period end (each action's
    days overdue and KPI status as the pack states them)."""
    log = view.action_log
    figures = view.figures
    actions, decisions = io.StringIO(newline=""), io.StringIO(newline="")
    writer = csv.writer(actions)
    writer.writerow(ACTION_COLUMNS)
    for item in log.actions:
        status = figures.value(f"action:{item.action.id}", "kpi-status") or ""
        writer.writerow(action_row(figures, item, str(status)))
    writer = csv.writer(decisions)
    writer.writerow(DECISION_COLUMNS)
    for d in log.decisions:
        writer.writerow([d.id, d.decided_on.isoformat(), d.review or "", d.text, d.rationale,
                         " ".join(d.kpis), " ".join(d.actions)])
    return {"actions.csv": actions.getvalue().encode("utf-8"),
            "decisions.csv": decisions.getvalue().encode("utf-8")}


def write_action_csvs(view: PackView, folder: Path) -> list[Path]:
    """actions.csv and decisions.csv written into ``folder``."""
    written = []
    for name, content in action_csvs(view).items():
        (folder / name).write_bytes(content)
        written.append(folder / name)
    return written


def json_bytes(data: dict[str, Any]) -> bytes:
    """``data`` as the JSON a pack writes. A NaN or an infinity raises ValueError: JSON has
    no such number (Python would write a bare ``Infinity``, which JSON readers refuse), and
    inputs are bounded so that no figure can become one; a path that made one must fail
    loudly, not write a summary.json no reader accepts."""
    return (json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
            ).encode("utf-8")


class DataOutput:
    """The pack's data as files: ``summary.json`` (the contract's summary), ``actions.csv``
    and ``decisions.csv``; the PDF carries them."""

    name: str = "data files"
    files: tuple[str, ...] = (SUMMARY_FILE, "actions.csv", "decisions.csv")
    attached: bool = True
    link: str = ""

    def write(self, document: PackDocument, executed: NotebookNode, staging: Staging) -> None:
        staging.put(SUMMARY_FILE, json_bytes(summary_of(document.view, document.publication)))
        for name, content in action_csvs(document.view).items():
            staging.put(name, content)


class ManifestOutput:
    """``manifest.json``: the pack's provenance, written last (it hashes every other file);
    the PDF carries it as it stood before the PDF (``embedded``: the files the PDF carries)."""

    name: str = "manifest"
    files: tuple[str, ...] = (MANIFEST_FILE,)
    attached: bool = False
    link: str = ""

    def __init__(self, embedded: tuple[str, ...]) -> None:
        self.embedded = embedded

    def draft(self, document: PackDocument, staging: Staging) -> dict[str, Any]:
        """The manifest as it stands (what the PDF carries)."""
        return manifest_of(document, staging, embedded=self.embedded)

    def write(self, document: PackDocument, executed: NotebookNode, staging: Staging) -> None:
        staging.put(MANIFEST_FILE, json_bytes(self.draft(document, staging)))
