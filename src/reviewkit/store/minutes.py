"""Minutes files: the decisions, new actions, action updates and board asks of one meeting, in
YAML.

Importing is all or nothing (one transaction, after every entry has been checked) and
idempotent: an entry already applied changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewkit.errors import InputError, ReviewkitError
from reviewkit.inputs._yaml import LineDict, LineList, check_known_keys, load_yaml_mapping
from reviewkit.periods import check_date, parse_date
from reviewkit.store.database import ACTION_STATUSES, ASK_STATUSES, Store, Transaction
from reviewkit.store.records import MinutesEntry
from reviewkit.store.reviews import Review, parse_review

_ACTION_KEYS = ("title", "owner", "due", "kpi", "note")
_UPDATE_KEYS = ("id", "status", "due", "owner", "note", "title", "kpi")
_DECISION_KEYS = ("text", "rationale", "kpis", "actions", "answers")
_ASK_KEYS = ("ask", "options", "recommendation", "owner", "deadline", "kpis", "actions")
#: What an update of a board ask (an id B-…) may change.
_ASK_UPDATE_KEYS = ("id", "status", "deadline", "recommendation", "owner")


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
    answers: str | None = None  # the board ask this decision answers (B-…)


@dataclass(frozen=True)
class NewAsk:
    """A matter tabled for the board to decide."""

    ask: str
    options: list[str]
    recommendation: str
    owner: str
    deadline: dt.date
    kpis: list[str]
    actions: list[str]


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
    asks: list[NewAsk] = field(default_factory=list)
    ask_lines: list[int] = field(default_factory=list)


@dataclass
class ImportResult:
    created_actions: list[str] = field(default_factory=list)
    created_decisions: list[str] = field(default_factory=list)
    created_asks: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    amended: list[str] = field(default_factory=list)  # the differences recorded as amendments
    already_imported: bool = False

    @property
    def changes(self) -> int:
        return (len(self.created_actions) + len(self.created_decisions)
                + len(self.created_asks) + sum(len(v) for v in self.updated.values()))


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


def _text_list(path: Path, item: LineDict, key: str) -> list[str]:
    value = item.get(key)
    if value in (None, ""):
        return []
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(
            isinstance(part, str | int | float) and not isinstance(part, bool)
            and str(part).strip() for part in value):
        raise InputError(path, "must be a list of texts", line=item.line_of(key), field=key)
    return [str(part).strip() for part in value]


def _kpi_list(path: Path, item: LineDict, key: str, known: set[str]) -> list[str]:
    kpis = _text_list(path, item, key)
    for kpi in kpis:
        if kpi not in known:
            raise InputError(path, f"unknown KPI '{kpi}'; use an id from the KPI catalog",
                             line=item.line_of(key), field=key)
    return kpis


def _new_ask(path: Path, item: LineDict, known_kpis: set[str]) -> NewAsk:
    check_known_keys(path, item, _ASK_KEYS, where=" of a board ask")
    if item.get("deadline") in (None, ""):
        raise InputError(path, "required field is missing: by when the board must decide",
                         line=item.line, field="deadline")
    actions = _text_list(path, item, "actions")
    for action_id in actions:
        if not _ACTION_ID.fullmatch(action_id):
            raise InputError(path, f"'{action_id}' is not an action id (A-0001)",
                             line=item.line_of("actions"), field="actions")
    return NewAsk(
        ask=_text(path, item, "ask", required=True),
        options=_text_list(path, item, "options"),
        recommendation=_text(path, item, "recommendation", required=False),
        owner=_text(path, item, "owner", required=True),
        deadline=_date(path, item, "deadline"),
        kpis=_kpi_list(path, item, "kpis", known_kpis),
        actions=actions,
    )


_ACTION_ID = re.compile(r"A-\d{4,}")
_ASK_ID = re.compile(r"B-\d{4,}")


def load_minutes(path: str | Path, known_kpis: set[str],
                 known_units: set[str] | Callable[[], set[str]] | None = None) -> Minutes:
    """Read and check a minutes file; any problem is an InputError naming the line and field.

    ``known_units`` may be a function, called only when the file names a unit (finding the
    units of a params file can mean loading its measurements)."""
    path = Path(path)
    data = load_yaml_mapping(path, "minutes")
    check_known_keys(path, data, ("review", "unit", "date", "decisions", "actions", "updates",
                                  "board_asks"))
    review_text = _text(path, data, "review", required=True)
    try:
        review = parse_review(review_text)
    except ValueError as exc:
        raise InputError(path, str(exc), line=data.line_of("review"), field="review") from None
    date = _date(path, data, "date") if data.get("date") not in (None, "") else review.period.end
    unit = _text(path, data, "unit", required=False)
    if unit:
        units = known_units() if callable(known_units) else (known_units or set())
        if unit not in units:
            listed = ", ".join(sorted(units)) or "none (the params file names no units)"
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
        answers = _text(path, item, "answers", required=False) or None
        if answers is not None and not _ASK_ID.fullmatch(answers):
            raise InputError(path, f"'{answers}' is not a board ask id (B-0001)",
                             line=item.line_of("answers"), field="answers")
        minutes.decisions.append(NewDecision(
            text=_text(path, item, "text", required=True),
            rationale=_text(path, item, "rationale", required=False),
            kpis=[str(k) for k in kpis_value], actions=nested, answers=answers,
        ))
    for item, _line in _items(path, data, "actions"):
        minutes.actions.append(_new_action(path, item, known_kpis))
    for item, line in _items(path, data, "board_asks"):
        if unit:
            raise InputError(path, "board asks are the group's (its board pack shows them); "
                             "record them in the group's minutes", line=line, field="board_asks")
        minutes.asks.append(_new_ask(path, item, known_kpis))
        minutes.ask_lines.append(line)
    for item, line in _items(path, data, "updates"):
        if _ASK_ID.fullmatch(str(item.get("id") or "")):
            minutes.updates.append(_ask_update(path, item, line))
            continue
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


def _ask_update(path: Path, item: LineDict, line: int) -> Update:
    """An update of a board ask: the board deferred or withdrew it, or its deadline or
    recommendation changed (a decision answers it with ``answers``)."""
    check_known_keys(path, item, _ASK_UPDATE_KEYS, where=" of a board ask's update")
    ask_id = _text(path, item, "id", required=True)
    changes: dict[str, Any] = {}
    if item.get("status") not in (None, ""):
        status = str(item["status"])
        if status not in ASK_STATUSES:
            raise InputError(path, f"status '{status}' is not one of " + ", ".join(ASK_STATUSES),
                             line=item.line_of("status"), field="status")
        changes["status"] = status
    if item.get("deadline") not in (None, ""):
        changes["deadline"] = _date(path, item, "deadline")
    for key in ("recommendation", "owner"):
        if item.get(key) not in (None, ""):
            changes[key] = _text(path, item, key, required=False)
    if not changes:
        raise InputError(path, f"update of {ask_id} changes nothing; give status, deadline, "
                         "recommendation or owner", line=line, field="id")
    return Update(ask_id, item.line_of("id"), changes)


@dataclass(frozen=True)
class _Entry:
    """One entry of a minutes file: where it sits, what it says and what it is."""

    key: str  # "decisions[0]", "decisions[0].actions[1]", "actions[2]", "updates[0]"
    kind: str  # decision | action | update | ask
    content: dict[str, Any]
    decision: NewDecision | None = None
    action: NewAction | None = None
    update: Update | None = None
    ask: NewAsk | None = None
    parent: str | None = None  # a decision's action: the decision's key


def _entries(minutes: Minutes) -> list[_Entry]:
    found: list[_Entry] = []
    for i, decision in enumerate(minutes.decisions):
        key = f"decisions[{i}]"
        content: dict[str, Any] = {"text": decision.text, "rationale": decision.rationale,
                                   "kpis": list(decision.kpis)}
        if decision.answers:
            content["answers"] = decision.answers
        found.append(_Entry(key, "decision", content, decision=decision))
        for j, action in enumerate(decision.actions):
            found.append(_Entry(f"{key}.actions[{j}]", "action", _action_content(action),
                                action=action, parent=key))
    for i, action in enumerate(minutes.actions):
        found.append(_Entry(f"actions[{i}]", "action", _action_content(action), action=action))
    for i, ask in enumerate(minutes.asks):
        found.append(_Entry(f"board_asks[{i}]", "ask", _ask_content(ask), ask=ask))
    for i, update in enumerate(minutes.updates):
        found.append(_Entry(f"updates[{i}]", "update",
                            {"id": update.id, **{name: _as_text(value)
                                                 for name, value in update.changes.items()}},
                            update=update))
    return found


def _ask_content(ask: NewAsk) -> dict[str, Any]:
    return {"ask": ask.ask, "options": list(ask.options), "recommendation": ask.recommendation,
            "owner": ask.owner, "deadline": ask.deadline.isoformat(), "kpis": list(ask.kpis),
            "actions": list(ask.actions)}


def _action_content(action: NewAction) -> dict[str, Any]:
    return {"title": action.title, "owner": action.owner, "due": action.due.isoformat(),
            "kpi": action.kpi, "note": action.note}


#: An action entry's fields as the store calls them.
_ACTION_FIELD = {"title": "title", "owner": "owner", "due": "due", "kpi": "kpi_id",
                 "note": "note"}


class MinutesDiffer(ReviewkitError):
    """A review's minutes were imported before and this file differs from them; nothing is
    changed until the differences are recorded as amendments (``--amend``)."""

    exit_code = 2

    def __init__(self, minutes: Minutes, differences: list[str]) -> None:
        self.reasons = differences
        super().__init__(
            f"{minutes.path}: the minutes of {minutes.review} were imported before and this "
            f"file differs from them in {len(differences)} place"
            f"{'s' if len(differences) != 1 else ''} (below); nothing was changed. If the file "
            "is the corrected record, run the import again with --amend to record them as "
            "amendments of that meeting"
        )


def _fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [name for name in dict.fromkeys([*old, *new]) if old.get(name) != new.get(name)]


def _show(value: Any) -> str:
    """A field's value in a difference: quoted when it is text with spaces (a title)."""
    if value in (None, "", []):
        return "—"
    if isinstance(value, str) and any(char.isspace() for char in value):
        return repr(value)
    return ", ".join(value) if isinstance(value, list) else str(value)


def import_minutes(store: Store, minutes: Minutes, *, by: str,
                   amend: bool = False) -> ImportResult:
    """Apply a minutes file in one transaction.

    The first file of a review is applied entry by entry, and each entry is remembered. A
    file for a review imported before is compared with what was remembered: if an entry
    changed, appeared or went, nothing is applied and :class:`MinutesDiffer` lists the
    differences, until ``amend`` records them as amendments of the meeting (effective on its
    date): a changed entry updates the same action or decision, a new one is created, and an
    action taken out of the minutes is dropped. The same file again changes nothing.
    """
    result = ImportResult()
    source = f"minutes {minutes.path.name} sha256:{minutes.sha256[:12]}"
    review, unit = str(minutes.review), minutes.unit
    with store.transaction() as tx:
        if tx.imported(minutes.sha256):
            result.already_imported = True
            return result
        _check_updates(tx, minutes)
        recorded = tx.minutes_entries(review, unit)
        before = bool(recorded) or tx.review_imported(review)
        entries = _entries(minutes)
        matched = {} if recorded or not before else _legacy_matches(tx, minutes, entries)
        differences: list[str] = []
        for entry in entries:
            known = recorded.get(entry.key) or matched.get(entry.key)
            if known is None:
                if before:
                    differences.append(_added(entry, bool(recorded)))
            elif known.content != entry.content:
                differences += [
                    f"{entry.key} ({known.entity_id}): {name} {_show(known.content.get(name))} "
                    f"→ {_show(entry.content.get(name))}"
                    for name in _fields(known.content, entry.content)]
        current = {entry.key for entry in entries}
        for key, gone in recorded.items():
            if key not in current:
                differences.append(f"{key} ({gone.entity_id}): no longer in the minutes"
                                   + (" (the action is dropped)" if gone.kind == "action"
                                      else " (kept: an applied record is not undone)"))
        if differences and not amend:
            raise MinutesDiffer(minutes, differences)
        if differences:
            source = f"minutes amendment {minutes.path.name} sha256:{minutes.sha256[:12]}"
            result.amended = differences
        made: dict[str, str] = {}  # entry key → the record it is (for a decision's actions)
        for entry in entries:
            known = recorded.get(entry.key) or matched.get(entry.key)
            made[entry.key] = _apply(tx, minutes, entry, known, made, by, source, result)
        for key, gone in recorded.items():
            if key not in current:
                if gone.kind == "action":
                    changed = tx.update_action(
                        gone.entity_id, {"status": "dropped",
                                         "note": f"removed from the minutes of {review}"},
                        effective=minutes.date, by=by, source=source)
                    if changed:
                        result.updated.setdefault(gone.entity_id, []).extend(changed)
                tx.forget_minutes_entry(review, unit, key)
        tx.record_import(sha256=minutes.sha256, file=str(minutes.path), review=review, by=by,
                         changes=result.changes)
    return result


def _check_updates(tx: Transaction, minutes: Minutes) -> None:
    for decision in minutes.decisions:
        if decision.answers and not tx.has_ask(decision.answers):
            raise InputError(minutes.path, f"decision answers unknown board ask "
                             f"'{decision.answers}'; see `reviewkit asks list`", field="answers")
    for update in minutes.updates:
        if _ASK_ID.fullmatch(update.id):
            if not tx.has_ask(update.id):
                raise InputError(minutes.path, f"unknown board ask id '{update.id}'; see "
                                 "`reviewkit asks list`", line=update.line, field="id")
            continue
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


def _added(entry: _Entry, remembered: bool) -> str:
    if entry.kind == "decision":
        what = f"decision {_show(entry.content['text'])}"
    elif entry.kind == "ask":
        what = f"board ask {_show(entry.content['ask'])}"
    elif entry.kind == "action":
        what = f"action {_show(entry.content['title'])}"
    else:
        what = f"update of {entry.content['id']}"
    if remembered:
        return f"{entry.key}: a new {what}"
    return (f"{entry.key}: {what} is not among the {entry.kind}s this review raised (it was "
            "imported before reviewkit kept minutes entries); with --amend it is added")


def _legacy_matches(tx: Transaction, minutes: Minutes,
                    entries: list[_Entry]) -> dict[str, MinutesEntry]:
    """For a review imported before entries were kept: the entries found by their text, taken
    to be what was imported (nothing else is known of it)."""
    review, unit = str(minutes.review), minutes.unit
    found: dict[str, MinutesEntry] = {}
    for entry in entries:
        record: str | None = None
        if entry.decision is not None:
            decision = tx.find_decision(text=entry.decision.text, review=review, unit=unit)
            record = decision.id if decision else None
        elif entry.action is not None:
            action = tx.find_action(title=entry.action.title, raised_in=review, unit=unit)
            record = action.id if action else None
        elif entry.update is not None and all(
                tx.has_event(entry.update.id, name, _as_text(value), minutes.date)
                for name, value in entry.update.changes.items()):
            record = entry.update.id
        if record is not None:
            found[entry.key] = MinutesEntry(entry.key, entry.kind, record, entry.content)
    return found


def _apply(tx: Transaction, minutes: Minutes, entry: _Entry, known: MinutesEntry | None,
           made: dict[str, str], by: str, source: str, result: ImportResult) -> str:
    """Make or amend the record of one entry, remember the entry; the record's id."""
    review, unit, day = str(minutes.review), minutes.unit, minutes.date
    if entry.ask is not None:
        ask = entry.ask
        if known is None:
            record = tx.add_ask(
                ask=ask.ask, owner=ask.owner, deadline=ask.deadline, options=ask.options,
                recommendation=ask.recommendation, kpis=ask.kpis, action_ids=ask.actions,
                review=review, unit=unit, effective=day, by=by, source=source)
            result.created_asks.append(record)
        else:
            record = known.entity_id
            changed = tx.update_ask(
                record, {name: entry.content[name] for name in _fields(known.content,
                                                                       entry.content)},
                effective=day, by=by, source=source)
            if changed:
                result.updated.setdefault(record, []).extend(changed)
    elif entry.decision is not None:
        if known is None:
            record = tx.add_decision(
                text=entry.decision.text, rationale=entry.decision.rationale,
                kpis=entry.decision.kpis, review=review, unit=unit, effective=day, by=by,
                source=source)
            result.created_decisions.append(record)
            if entry.decision.answers:
                changed = tx.update_ask(entry.decision.answers,
                                        {"status": "decided", "decision_id": record},
                                        effective=day, by=by, source=source)
                if changed:
                    result.updated.setdefault(entry.decision.answers, []).extend(changed)
        else:
            record = known.entity_id
            changed = tx.update_decision(
                record, {name: entry.content[name] for name in _fields(known.content,
                                                                       entry.content)
                         if name != "answers"},
                effective=day, by=by, source=source)
            if changed:
                result.updated.setdefault(record, []).extend(changed)
    elif entry.action is not None:
        if known is None:
            parent = made.get(entry.parent) if entry.parent else None
            record = tx.add_action(
                title=entry.action.title, owner=entry.action.owner, due=entry.action.due,
                kpi_id=entry.action.kpi, raised_in=review, note=entry.action.note,
                decision_id=parent, unit=unit, effective=day, by=by, source=source)
            result.created_actions.append(record)
            if parent is not None:
                linked = [*tx.decision(parent).actions, record]
                tx.link_actions(parent, linked, effective=day, by=by, source=source)
        else:
            record = known.entity_id
            changes = {_ACTION_FIELD[name]: entry.content[name]
                       for name in _fields(known.content, entry.content)}
            changed = tx.update_action(record, changes, effective=day, by=by, source=source)
            if changed:
                result.updated.setdefault(record, []).extend(changed)
    else:
        assert entry.update is not None
        record = entry.update.id
        old = known.content if known is not None and known.entity_id == record else {}
        if _ASK_ID.fullmatch(record):
            wanted_ask = {name: value for name, value in entry.update.changes.items()
                          if old.get(name) != _as_text(value)}
            changed = tx.update_ask(record, wanted_ask, effective=day, by=by, source=source)
            if changed:
                result.updated.setdefault(record, []).extend(changed)
            tx.keep_minutes_entry(review, unit, MinutesEntry(entry.key, entry.kind, record,
                                                             entry.content))
            return record
        wanted = {name: value for name, value in entry.update.changes.items()
                  if old.get(name) != _as_text(value)}
        # A change this meeting already made (the same value on the same date) is not made
        # twice: re-importing cannot undo what later meetings changed.
        fresh = {name: value for name, value in wanted.items()
                 if not tx.has_event(record, name, _as_text(value), day)}
        changed = tx.update_action(record, fresh, effective=day, by=by, source=source)
        if changed:
            result.updated.setdefault(record, []).extend(changed)
    tx.keep_minutes_entry(review, unit, MinutesEntry(entry.key, entry.kind, record,
                                                     entry.content))
    return record


def _unit_words(unit: str) -> str:
    return f"unit '{unit}'" if unit else "the group's review"


def _as_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)
