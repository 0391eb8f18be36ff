"""Reissues: what a published pack said (its snapshot, kept in the store), and what a pack
published again says differently (every KPI value and status, narrative cell and action)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from reviewkit.formatting import STATUS_WORDS, format_date, format_value
from reviewkit.layout.view import Difference, PackView, Publication, Reissue
from reviewkit.narrative.placeholders import fill
from reviewkit.outputs.files import MANIFEST_FILE, SUMMARY_FILE
from reviewkit.run import publish
from reviewkit.store.records import PackVersion, summary_snapshot

#: A Markdown backslash escape (drafts escape catalog text so it shows literally): the change
#: page shows the character, as the pack does.
_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!&<>|~])")

#: The fields of an action a reissue compares, and how each is named to the reader.
ACTION_FIELDS = {"title": "title", "owner": "owner", "due": "due", "status": "status"}


def snapshot_of(view: PackView, publication: Publication) -> dict[str, Any]:
    """What a pack says, as plain JSON for the store: KPI values and statuses, the narrative as
    the reader saw it (placeholders filled) and the action log."""
    return {
        "kpis": [
            {"id": result.kpi.id, "name": result.kpi.name, "value": result.value,
             "value_text": view.figures.text(result.kpi.id, "value"), "status": result.status}
            for result in view.evaluation.results
        ],
        "narrative": [
            {"key": cell.key, "title": cell.title,
             "text": _MARKDOWN_ESCAPE.sub(r"\1", fill(cell.text, view.evaluated))}
            for cell in publication.narrative
        ],
        "actions": [
            {"id": item.action.id, "title": item.action.title, "owner": item.action.owner,
             "due": format_date(item.action.due), "status": item.action.status}
            for item in view.action_log.actions
        ],
    }


def _by(items: Any, key: str) -> dict[str, Mapping[str, Any]]:
    return {str(item[key]): item for item in items or ()}


def _same_value(a: object, b: object) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _status_word(status: object) -> str:
    return STATUS_WORDS.get(str(status), str(status))


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[Difference, ...]:
    """Everything ``after`` says differently from ``before`` (two :func:`snapshot_of`), in the
    pack's order: KPI values and statuses, then narrative cells, then actions."""
    found: list[Difference] = []
    old_kpis, new_kpis = _by(before.get("kpis"), "id"), _by(after.get("kpis"), "id")
    for kpi_id, new in new_kpis.items():
        old = old_kpis.get(kpi_id)
        if old is None:
            found.append(Difference("value", str(new["name"]), "not in the pack",
                                    str(new["value_text"])))
            continue
        if not _same_value(old.get("value"), new.get("value")):
            found.append(Difference("value", str(new["name"]), str(old["value_text"]),
                                    str(new["value_text"])))
        if old.get("status") != new.get("status"):
            found.append(Difference("status", str(new["name"]), _status_word(old["status"]),
                                    _status_word(new["status"])))
    found += [Difference("value", str(old["name"]), str(old["value_text"]), "not in the pack")
              for kpi_id, old in old_kpis.items() if kpi_id not in new_kpis]

    # A snapshot taken from a summary (a version published before snapshots were kept) holds
    # no narrative or actions: what it does not hold is not compared.
    old_cells, new_cells = _by(before.get("narrative"), "key"), _by(after.get("narrative"), "key")
    if "narrative" not in before:
        old_cells = new_cells = {}
    for key in [*new_cells, *(key for key in old_cells if key not in new_cells)]:
        old_text = str(old_cells[key]["text"]).strip() if key in old_cells else ""
        new_text = str(new_cells[key]["text"]).strip() if key in new_cells else ""
        if old_text != new_text:
            title = (new_cells.get(key) or old_cells[key])["title"]
            found.append(Difference("narrative", str(title), old_text or "(none)",
                                    new_text or "(none)"))

    old_actions, new_actions = _by(before.get("actions"), "id"), _by(after.get("actions"), "id")
    if "actions" not in before:
        old_actions = new_actions = {}
    for action_id in [*new_actions, *(a for a in old_actions if a not in new_actions)]:
        was, now = old_actions.get(action_id), new_actions.get(action_id)
        subject = f"{action_id} {(now or was or {}).get('title', '')}".strip()
        if was is None or now is None:
            present = now or was or {}
            summary = f"{present.get('status', '')}, due {present.get('due', '')}"
            found.append(Difference("action", subject, "not in the log" if was is None
                                    else summary, summary if was is None else "not in the log"))
            continue
        changed = [name for name in ACTION_FIELDS if was.get(name) != now.get(name)]
        if changed:
            found.append(Difference(
                "action", subject,
                "; ".join(f"{ACTION_FIELDS[name]} {was.get(name)}" for name in changed),
                "; ".join(f"{ACTION_FIELDS[name]} {now.get(name)}" for name in changed)))
    return tuple(found)


def published_versions(recorded: list[PackVersion], folder: Path, cadence: str, label: str,
                       unit: str) -> list[PackVersion]:
    """The published versions of the pack in ``folder``: those the store ``recorded``, and
    the published pack the folder holds when the store does not know its version (published
    before reviewkit recorded versions, or with another store), so versions continue from it."""
    version = publish.published_version(folder)
    if version is None or any(known.version >= version for known in recorded):
        return recorded
    try:
        summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    summary = summary if isinstance(summary, dict) else {}
    return [*recorded, PackVersion(
        cadence, label, version,
        str(summary.get("published_at") or summary.get("generated_at")
            or dt.datetime.fromtimestamp((folder / MANIFEST_FILE).stat().st_mtime,
                                         dt.UTC).isoformat()),
        str(summary.get("approver") or ""), summary_snapshot(summary), unit)]


def reissue_of(versions: list[PackVersion], view: PackView,
               publication: Publication) -> Publication:
    """``publication`` as the next version of a pack already published ``versions`` times,
    with what it changed since the last of them (unchanged when never published)."""
    if not versions:
        return publication
    last = versions[-1]
    # A version known from its summary has values without their text: shown as the pack does.
    kpis = {result.kpi.id: result.kpi for result in view.evaluation.results}
    before = {**last.snapshot, "kpis": [
        {**item, "value_text": item.get("value_text") or (
            format_value(item.get("value"), kpis[item["id"]]) if item.get("id") in kpis
            else str(item.get("value")))}
        for item in last.snapshot.get("kpis") or ()]}
    changed = differences(before, snapshot_of(view, publication))
    return replace(publication, version=last.version + 1,
                   reissue=Reissue(last.version, last.published_at, last.approver, changed,
                                   kpis_only=not {"narrative", "actions"} <= set(last.snapshot)))
