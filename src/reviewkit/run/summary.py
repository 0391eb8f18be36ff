"""summary.json and manifest.json: the machine-readable face of a pack."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from reviewkit.inputs.loaded import sha256_of
from reviewkit.inputs.units import Unit
from reviewkit.layout.view import PackView, Publication


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
        "kpis": [
            {
                "id": result.kpi.id,
                "name": result.kpi.name,
                "perspective": result.kpi.perspective,
                "kind": result.kpi.kind,
                "value": _round(result.value),
                "target": _round(result.current.target),
                "amber": _round(result.current.amber),
                "status": result.status,
                "previous_status": result.previous.status,
                "direction": result.kpi.direction,
                "owner": result.kpi.owner,
                "trend": result.trend,
                "streak": result.streak,
                "change": _round(result.change),
                "variance": _round(result.variance),
                "unit": result.kpi.unit,
                # A summed KPI in a period in progress: the share its target is pro-rated to.
                **({"target_share": _round(result.current.share)}
                   if result.current.pro_rated else {}),
                # The target of the data's rows, or the catalog's (the group's, or the unit's).
                "target_from": result.current.target_from,
            }
            for result in evaluation.results
        ],
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
            entry["breakdown"] = {"column": table.column, "parts": [
                {"name": part.name, "value": _round(part.value), "status": part.status,
                 "share": _round(part.share)} for part in table.parts]}
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
            summary["shares"] = [
                {"id": share.kpi.id, "name": share.kpi.name, "value": _round(share.value),
                 "group_value": _round(share.group.value),
                 "share": _round(share.share), "group_status": share.group.status,
                 "group_target": _round(share.group.current.target),
                 "trend": share.unit.trend, "owner": share.kpi.owner, "unit": share.kpi.unit,
                 "weight": _round(share.unit.current.weight),
                 "last_seen": share.unit.last_seen.isoformat() if share.unit.last_seen
                 else None, "rollup": share.kpi.rollup_rule}
                for share in evaluated.shares]
    return summary


def _unit(unit: Unit) -> dict[str, str]:
    return {"id": unit.id, "name": unit.name, "segment": unit.segment, "owner": unit.owner}


#: What the copy of the manifest embedded in the PDF says about the PDF's own hash.
MANIFEST_ATTACHED = ("The manifest as it stood before pack.pdf was rendered: manifest.json beside "
                     "the PDF adds the PDF's own SHA-256 and the last stages' timings.")


def manifest_of(
    view: PackView,
    publication: Publication,
    *,
    timings: dict[str, float],
    outputs: list[Path],
    notebook: Path,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """Provenance of a pack: parameters, input hashes, versions, timings and output hashes,
    and its fingerprint (a batch skips the pack while it stays the same)."""
    provenance = view.provenance
    return {
        "cadence": view.cadence.name,
        "label": view.period.label,
        "unit": view.evaluated.unit_key or None,
        "fingerprint": fingerprint,
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
                         notebook.name),
        "embedded_files": ["summary.json", "actions.csv", "decisions.csv", "manifest.json"],
        "parameters": provenance.parameters,
        "inputs": [
            {"role": item.role, "path": item.path, "sha256": item.sha256,
             "size_bytes": item.size_bytes, "rows": item.rows}
            for item in provenance.inputs
        ],
        "versions": provenance.versions,
        "timings_seconds": {stage: round(seconds, 3) for stage, seconds in timings.items()},
        "outputs": {path.name: sha256_of(path) for path in outputs},
    }


ACTION_COLUMNS = (
    "id", "title", "owner", "due", "status", "kpi_id", "raised_in", "days_overdue",
    "due_date_changes", "age_days", "raised_on", "closed_on", "kpi_status", "decision_id", "note",
)
DECISION_COLUMNS = ("id", "decided_on", "review", "text", "rationale", "kpis", "actions")


def write_action_csvs(view: PackView, folder: Path) -> list[Path]:
    """actions.csv and decisions.csv: the log as of the pack's period end."""
    log = view.action_log
    actions_path, decisions_path = folder / "actions.csv", folder / "decisions.csv"
    with actions_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ACTION_COLUMNS)
        for item in log.actions:
            a = item.action
            writer.writerow([
                a.id, a.title, a.owner, a.due.isoformat(), a.status, a.kpi_id or "",
                a.raised_in or "", item.days_overdue, item.due_changes, item.age_days,
                a.raised_on.isoformat(), item.closed_on.isoformat() if item.closed_on else "",
                item.kpi_status or "", a.decision_id or "", a.note,
            ])
    with decisions_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(DECISION_COLUMNS)
        for d in log.decisions:
            writer.writerow([d.id, d.decided_on.isoformat(), d.review or "", d.text, d.rationale,
                             " ".join(d.kpis), " ".join(d.actions)])
    return [actions_path, decisions_path]
