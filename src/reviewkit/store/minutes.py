"""Minutes files: the decisions, new actions and action updates of one meeting, in YAML.

Importing is all or nothing (one transaction, after every entry has been checked) and
idempotent: an entry already applied changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewkit.errors import InputError
from reviewkit.inputs._yaml import LineDict, LineList, check_known_keys, load_yaml_mapping
from reviewkit.periods import check_date, parse_date
from reviewkit.store.database import ACTION_STATUSES, Store, Transaction
from reviewkit.store.reviews import Review, parse_review

_ACTION_KEYS = ("title", "owner", "due", "kpi", "note")
_UPDATE_KEYS = ("id", "status", "due", "owner", "note", "title", "kpi")
_DECISION_KEYS = ("text", "rationale", "kpis", "actions")


@dataclass(frozen=True)
class NewAction:
    title: str
    owner: str
    due: dt.date
    kpi: str | None
    note: str


@dataclass(frozen=True)
class NewDecision:
    text: str
    rationale: str
    kpis: list[str]
    actions: list[NewAction]


@dataclass(frozen=True)
class Update:
    id: str
    line: int
    changes: dict[str, Any]


@dataclass
class Minutes:
    path: Path
    sha256: str
    review: Review
    date: dt.date
    unit: str = ""  # the unit whose review this was; '' for the group (or the only) pack
    decisions: list[NewDecision] = field(default_factory=list)
    actions: list[NewAction] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)


@dataclass
class ImportResult:
    created_actions: list[str] = field(default_factory=list)
    created_decisions: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    already_imported: bool = False

    @property
    def changes(self) -> int:
        return (len(self.created_actions) + len(self.created_decisions)
                + sum(len(v) for v in self.updated.values()))


def _text(path: Path, item: LineDict, key: str, *, required: bool) -> str:
    value = item.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InputError(path, "required field is missing", line=item.line, field=key)
        return ""
    if not isinstance(value, str | int | float):
        raise InputError(path, "must be text", line=item.line_of(key), field=key)
    return str(value).strip()


def _date(path: Path, item: LineDict, key: str) -> dt.date:
    value = item.get(key)
    try:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return check_date(value)
        return parse_date(str(value))
    except ValueError as exc:
        raise InputError(path, str(exc), line=item.line_of(key), field=key) from None


def _kpi(path: Path, item: LineDict, key: str, known: set[str]) -> str | None:
    value = item.get(key)
    if value in (None, ""):
        return None
    if str(value) not in known:
        raise InputError(path, f"unknown KPI '{value}'; use an id from the KPI catalog",
                         line=item.line_of(key), field=key)
    return str(value)


def _items(path: Path, data: LineDict, key: str) -> list[tuple[LineDict, int]]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, LineList):
        raise InputError(path, "must be a list of entries", line=data.line_of(key), field=key)
    items = []
    for index, item in enumerate(value):
        if not isinstance(item, LineDict):
            raise InputError(path, "each entry must be a mapping of fields",
                             line=value.item_lines[index], field=key)
        items.append((item, value.item_lines[index]))
    return items


def _new_action(path: Path, item: LineDict, known_kpis: set[str]) -> NewAction:
    check_known_keys(path, item, _ACTION_KEYS, where=" of an action")
    if item.get("due") in (None, ""):
        raise InputError(path, "required field is missing", line=item.line, field="due")
    return NewAction(
        title=_text(path, item, "title", required=True),
        owner=_text(path, item, "owner", required=True),
        due=_date(path, item, "due"),
        kpi=_kpi(path, item, "kpi", known_kpis),
        note=_text(path, item, "note", required=False),
    )


def load_minutes(path: str | Path, known_kpis: set[str],
                 known_units: set[str] | None = None) -> Minutes:
    """Read and check a minutes file; any problem is an InputError naming the line and field."""
    path = Path(path)
    data = load_yaml_mapping(path, "minutes")
    check_known_keys(path, data, ("review", "unit", "date", "decisions", "actions", "updates"))
    review_text = _text(path, data, "review", required=True)
    try:
        review = parse_review(review_text)
    except ValueError as exc:
        raise InputError(path, str(exc), line=data.line_of("review"), field="review") from None
    date = _date(path, data, "date") if data.get("date") not in (None, "") else review.period.end
    unit = _text(path, data, "unit", required=False)
    if unit and (known_units is None or unit not in known_units):
        listed = ", ".join(sorted(known_units or ())) or "none (the params file names no units)"
        raise InputError(path, f"unknown unit '{unit}'; units: {listed}",
                         line=data.line_of("unit"), field="unit")
    minutes = Minutes(path=path.resolve(), sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                      review=review, date=date, unit=unit)
    for item, _line in _items(path, data, "decisions"):
        check_known_keys(path, item, _DECISION_KEYS, where=" of a decision")
        kpis_value = item.get("kpis") or []
        if isinstance(kpis_value, str):
            kpis_value = [kpis_value]
        if not isinstance(kpis_value, list):
            raise InputError(path, "must be a list of KPI ids", line=item.line_of("kpis"),
                             field="kpis")
        for kpi in kpis_value:
            if str(kpi) not in known_kpis:
                raise InputError(path, f"unknown KPI '{kpi}'; use an id from the KPI catalog",
                                 line=item.line_of("kpis"), field="kpis")
        nested = [_new_action(path, sub, known_kpis) for sub, _ in _items(path, item, "actions")]
        minutes.decisions.append(NewDecision(
            text=_text(path, item, "text", required=True),
            rationale=_text(path, item, "rationale", required=False),
            kpis=[str(k) for k in kpis_value], actions=nested,
        ))
    for item, _line in _items(path, data, "actions"):
        minutes.actions.append(_new_action(path, item, known_kpis))
    for item, line in _items(path, data, "updates"):
        check_known_keys(path, item, _UPDATE_KEYS, where=" of an update")
        action_id = _text(path, item, "id", required=True)
        changes: dict[str, Any] = {}
        if item.get("status") not in (None, ""):
            status = str(item["status"])
            if status not in ACTION_STATUSES:
                raise InputError(path, f"status '{status}' is not one of "
                                 + ", ".join(ACTION_STATUSES), line=item.line_of("status"),
                                 field="status")
            changes["status"] = status
        if item.get("due") not in (None, ""):
            changes["due"] = _date(path, item, "due")
        for key in ("owner", "note", "title"):
            if item.get(key) not in (None, ""):
                changes[key] = _text(path, item, key, required=False)
        if item.get("kpi") not in (None, ""):
            changes["kpi_id"] = _kpi(path, item, "kpi", known_kpis)
        if not changes:
            raise InputError(path, f"update of {action_id} changes nothing; give status, due, "
                             "owner or note", line=line, field="id")
        minutes.updates.append(Update(action_id, item.line_of("id"), changes))
    return minutes


def import_minutes(store: Store, minutes: Minutes, *, by: str) -> ImportResult:
    """Apply a minutes file in one transaction; entries already applied are skipped."""
    result = ImportResult()
    source = f"minutes {minutes.path.name} sha256:{minutes.sha256[:12]}"
    review = str(minutes.review)
    with store.transaction() as tx:
        if tx.imported(minutes.sha256):
            result.already_imported = True
            return result
        for update in minutes.updates:
            if not tx.has_action(update.id):
                raise InputError(minutes.path, f"unknown action id '{update.id}'; see "
                                 "`reviewkit actions list`", line=update.line, field="id")
            owner = tx.action(update.id).unit
            if owner != minutes.unit:
                raise InputError(
                    minutes.path,
                    f"action {update.id} belongs to {_unit_words(owner)}, not "
                    f"{_unit_words(minutes.unit)}; record its update in that review's minutes",
                    line=update.line, field="id")
        for decision in minutes.decisions:
            if tx.find_decision(text=decision.text, review=review,
                                unit=minutes.unit) is not None:
                continue  # applied by an earlier import of these minutes
            decision_id = tx.add_decision(
                text=decision.text, rationale=decision.rationale, kpis=decision.kpis,
                review=review, unit=minutes.unit, effective=minutes.date, by=by, source=source,
            )
            result.created_decisions.append(decision_id)
            action_ids = [_add_action(tx, action, minutes, by, source, result, decision_id)
                          for action in decision.actions]
            if action_ids:
                tx.link_actions(decision_id, action_ids, effective=minutes.date, by=by,
                                source=source)
        for action in minutes.actions:
            _add_action(tx, action, minutes, by, source, result)
        for update in minutes.updates:
            # An entry applied by an earlier import of these minutes (same change, same
            # meeting date) is skipped, so re-importing an edited file cannot undo later changes.
            fresh = {
                name: value for name, value in update.changes.items()
                if not tx.has_event(update.id, name, _as_text(value), minutes.date)
            }
            changed = tx.update_action(update.id, fresh, effective=minutes.date, by=by,
                                       source=source)
            if changed:
                result.updated.setdefault(update.id, []).extend(changed)
        tx.record_import(sha256=minutes.sha256, file=str(minutes.path), review=review, by=by,
                         changes=result.changes)
    return result


def _add_action(tx: Transaction, action: NewAction, minutes: Minutes, by: str, source: str,
                result: ImportResult, decision_id: str | None = None) -> str:
    review = str(minutes.review)
    existing = tx.find_action(title=action.title, raised_in=review, unit=minutes.unit)
    if existing is not None:
        return existing.id
    action_id = tx.add_action(
        title=action.title, owner=action.owner, due=action.due, kpi_id=action.kpi,
        raised_in=review, note=action.note, decision_id=decision_id, unit=minutes.unit,
        effective=minutes.date, by=by, source=source,
    )
    result.created_actions.append(action_id)
    return action_id


def _unit_words(unit: str) -> str:
    return f"unit '{unit}'" if unit else "the group's review"


def _as_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)
