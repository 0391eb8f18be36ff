"""Minutes files: the decisions, new actions, action updates and board asks of one meeting, in
YAML.

Importing is all or nothing (one transaction, after every entry has been checked) and
idempotent: an entry already applied changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewkit.errors import InputError, ReviewkitError
from reviewkit.inputs._yaml import LineDict, LineList, check_known_keys, load_yaml_mapping
from reviewkit.periods import check_date, parse_date
from reviewkit.store.database import ACTION_STATUSES, ASK_STATUSES, Store, Transaction
from reviewkit.store.records import AMENDMENT_SOURCE, MinutesEntry
from reviewkit.store.reviews import Review, parse_review

_ACTION_KEYS = ("id", "title", "owner", "due", "kpi", "note")
_UPDATE_KEYS = ("id", "status", "due", "owner", "note", "title", "kpi")
_DECISION_KEYS = ("id", "text", "rationale", "kpis", "actions", "answers")
_ASK_KEYS = ("id", "ask", "options", "recommendation", "owner", "deadline", "kpis", "actions")
#: What an update of a board ask (an id B-…) may change.
_ASK_UPDATE_KEYS = ("id", "status", "deadline", "recommendation", "owner")
#: What an entry's ``id`` looks like, by kind: in corrected minutes it names the action,
#: decision or board ask the entry is.
_ID_PREFIX = {"action": "A-", "decision": "D-", "ask": "B-"}
_ACTION_ID = re.compile(r"A-\d{4,}")
_ASK_ID = re.compile(r"B-\d{4,}")


@dataclass(frozen=True)
class NewAction:
    title: str
    owner: str
    due: dt.date
    kpi: str | None
    note: str
    id: str | None = None  # corrected minutes: the action this entry is (``id: A-0007``)
    line: int = 0  # where the entry (or its id) is in the file


@dataclass(frozen=True)
class NewDecision:
    text: str
    rationale: str
    kpis: list[str]
    actions: list[NewAction]
    id: str | None = None  # corrected minutes: the decision this entry is
    line: int = 0
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
    id: str | None = None  # corrected minutes: the ask this entry is
    line: int = 0


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


def _entry_id(path: Path, item: LineDict, kind: str) -> tuple[str | None, int]:
    """An entry's own ``id`` (corrected minutes name the record an entry is) and its line."""
    value = _text(path, item, "id", required=False)
    if not value:
        return None, item.line
    prefix = _ID_PREFIX[kind]
    if not value.startswith(prefix):
        what = "a board ask" if kind == "ask" else f"{'an' if kind == 'action' else 'a'} {kind}"
        raise InputError(path, f"{value!r} is not the id of {what}; "
                         f"{'board ask' if kind == 'ask' else kind} ids look like {prefix}0007",
                         line=item.line_of("id"),
                         field="id")
    return value, item.line_of("id")


def _new_action(path: Path, item: LineDict, known_kpis: set[str]) -> NewAction:
    check_known_keys(path, item, _ACTION_KEYS, where=" of an action")
    if item.get("due") in (None, ""):
        raise InputError(path, "required field is missing", line=item.line, field="due")
    entry_id, line = _entry_id(path, item, "action")
    return NewAction(
        title=_text(path, item, "title", required=True),
        owner=_text(path, item, "owner", required=True),
        due=_date(path, item, "due"),
        kpi=_kpi(path, item, "kpi", known_kpis),
        note=_text(path, item, "note", required=False),
        id=entry_id, line=line,
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


def _new_ask(path: Path, item: LineDict, known_kpis: set[str]) -> NewAsk:
    check_known_keys(path, item, _ASK_KEYS, where=" of a board ask")
    if item.get("deadline") in (None, ""):
        raise InputError(path, "required field is missing: by when the board must decide",
                         line=item.line, field="deadline")
    kpis = _text_list(path, item, "kpis")
    for kpi in kpis:
        if kpi not in known_kpis:
            raise InputError(path, f"unknown KPI '{kpi}'; use an id from the KPI catalog",
                             line=item.line_of("kpis"), field="kpis")
    actions = _text_list(path, item, "actions")
    for action_id in actions:
        if not _ACTION_ID.fullmatch(action_id):
            raise InputError(path, f"'{action_id}' is not an action id (A-0001)",
                             line=item.line_of("actions"), field="actions")
    entry_id, line = _entry_id(path, item, "ask")
    return NewAsk(
        ask=_text(path, item, "ask", required=True),
        options=_text_list(path, item, "options"),
        recommendation=_text(path, item, "recommendation", required=False),
        owner=_text(path, item, "owner", required=True),
        deadline=_date(path, item, "deadline"),
        kpis=kpis, actions=actions, id=entry_id, line=line,
    )


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
    if date < review.period.start:
        # A meeting cannot review a pack whose period has not begun: a typo ("11-02" for
        # "12-02") would put its actions into older packs.
        begins = review.period.start.isoformat()
        raise InputError(path, f"the meeting's date {date.isoformat()} is before the "
                         f"{review.period.noun} it reviews begins ({begins})",
                         line=data.line_of("date"), field="date")
    unit = _text(path, data, "unit", required=False)
    if unit:
        units = known_units() if callable(known_units) else (known_units or set())
        if unit not in units:
            listed = ", ".join(sorted(units)) or "none (the params file names no units)"
            raise InputError(path, f"unknown unit '{unit}'; units: {listed}",
                             line=data.line_of("unit"), field="unit")
    # The path as given: messages name the file as the user typed it (the store records it
    # resolved, where the import was made from).
    minutes = Minutes(path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
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
        entry_id, line = _entry_id(path, item, "decision")
        answers = _text(path, item, "answers", required=False) or None
        if answers is not None and not _ASK_ID.fullmatch(answers):
            raise InputError(path, f"'{answers}' is not a board ask id (B-0001)",
                             line=item.line_of("answers"), field="answers")
        minutes.decisions.append(NewDecision(
            text=_text(path, item, "text", required=True),
            rationale=_text(path, item, "rationale", required=False),
            kpis=[str(k) for k in kpis_value], actions=nested, id=entry_id, line=line,
            answers=answers,
        ))
    for item, _line in _items(path, data, "actions"):
        minutes.actions.append(_new_action(path, item, known_kpis))
    for item, line in _items(path, data, "board_asks"):
        if unit:
            raise InputError(path, "board asks are the group's (its board pack shows them); "
                             "record them in the group's minutes", line=line, field="board_asks")
        minutes.asks.append(_new_ask(path, item, known_kpis))
    updated: dict[str, int | None] = {}  # id → the line of its update
    for item, line in _items(path, data, "updates"):
        record = str(item.get("id") or "")
        if record in updated:
            # Two updates of one record in one meeting would be applied one after the other,
            # the same day, and the second would silently undo the first.
            raise InputError(path, f"{record} is updated twice in these minutes (first on line "
                             f"{updated[record]}); give its changes in one update",
                             line=item.line_of("id"), field="id")
        if record:
            updated[record] = item.line_of("id")
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


@dataclass(frozen=True)
class _Entry:
    """One entry of a minutes file: where it sits, what it says and what it is."""

    key: str  # "decisions[0]", "decisions[0].actions[1]", "actions[2]", "updates[0]"
    kind: str  # decision | action | update | ask
    content: dict[str, Any]
    line: int
    decision: NewDecision | None = None
    action: NewAction | None = None
    update: Update | None = None
    ask: NewAsk | None = None
    parent: str | None = None  # a decision's action: the decision's key
    told: str | None = None  # the record the file says this entry is (its ``id``)


def _entries(minutes: Minutes) -> list[_Entry]:
    found: list[_Entry] = []
    for i, decision in enumerate(minutes.decisions):
        key = f"decisions[{i}]"
        content: dict[str, Any] = {"text": decision.text, "rationale": decision.rationale,
                                   "kpis": list(decision.kpis)}
        if decision.answers:  # only when given: minutes kept before board asks stay alike
            content["answers"] = decision.answers
        found.append(_Entry(key, "decision", content, decision.line,
                            decision=decision, told=decision.id))
        for j, action in enumerate(decision.actions):
            found.append(_Entry(f"{key}.actions[{j}]", "action", _action_content(action),
                                action.line, action=action, parent=key, told=action.id))
    for i, action in enumerate(minutes.actions):
        found.append(_Entry(f"actions[{i}]", "action", _action_content(action), action.line,
                            action=action, told=action.id))
    for i, ask in enumerate(minutes.asks):
        found.append(_Entry(f"board_asks[{i}]", "ask", _ask_content(ask), ask.line, ask=ask,
                            told=ask.id))
    for i, update in enumerate(minutes.updates):
        found.append(_Entry(f"updates[{i}]", "update",
                            {"id": update.id, **{name: _as_text(value)
                                                 for name, value in update.changes.items()}},
                            update.line, update=update))
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

#: The entry remembered for every import of a review's minutes, whatever the file holds: it
#: tells a second file of that meeting from a first one even when the first had no entries.
_MEETING = MinutesEntry("", "meeting", "", {})


@dataclass(frozen=True)
class _Known:
    """A record a review's minutes made before: the entry as it was imported (``key`` None for
    minutes imported before reviewkit kept entries) and the action or decision it is."""

    key: str | None
    kind: str
    entity_id: str
    content: dict[str, Any]
    parent: str | None = None  # an action raised under a decision: that decision's id


class MinutesDiffer(ReviewkitError):
    """A review's minutes were imported before and this file differs from them; nothing is
    changed until the differences are recorded as amendments (``--amend``)."""

    exit_code = 2

    def __init__(self, minutes: Minutes, differences: list[str]) -> None:
        self.reasons = differences
        super().__init__(
            f"{minutes.path}: the minutes of {_meeting_words(minutes)} were imported before and "
            f"this file differs from them in {len(differences)} place"
            f"{'s' if len(differences) != 1 else ''} (below); nothing was changed. If the file "
            "is the corrected record, run the import again with --amend to record them as "
            "amendments of that meeting"
        )


def _fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The fields that differ, in the order the file gives them."""
    return [name for name in dict.fromkeys([*new, *old]) if old.get(name) != new.get(name)]


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

    The first file of a review (of one unit) is applied entry by entry, and each entry is
    remembered. A file for a meeting imported before is matched with what was remembered,
    entry by entry, by identity and never by position (see :func:`_match`): if an entry
    changed, appeared or went, nothing is applied and :class:`MinutesDiffer` lists the
    differences, until ``amend`` records them as amendments of the meeting (effective on its
    date): a changed entry updates the same action or decision, a new one is created, and an
    action taken out of the minutes is dropped. The same file again changes nothing.
    """
    result = ImportResult()
    source = f"minutes {minutes.path.name} sha256:{minutes.sha256[:12]}"
    review, unit = str(minutes.review), minutes.unit
    with store.transaction() as tx:
        # Imports queue up here: the same file imported several times at once is applied by
        # the first, and the others find it imported (SQLite's write lock does this already).
        tx.lock_minutes()
        if tx.imported(minutes.sha256):
            result.already_imported = True
            return result
        _check_updates(tx, minutes)
        entries = _entries(minutes)
        recorded = tx.minutes_entries(review, unit)
        legacy = not recorded
        if legacy:  # not imported, or imported before reviewkit kept entries
            known = _legacy_known(tx, review, unit)
            before = bool(known) or unit in tx.units_of_imports(review)
        else:
            known = _recorded_known(recorded)
            before = True
        if not before:
            _refuse_ids_in_first_minutes(minutes, entries)
        matched = _match(minutes, entries, known)
        if legacy:
            # An update of a meeting imported before entries were kept is that update when
            # every change it makes was recorded on the meeting's date.
            for entry in entries:
                if entry.update is not None and entry.key not in matched and before and all(
                        tx.has_event(entry.update.id, name, _as_text(value), minutes.date)
                        for name, value in entry.update.changes.items()):
                    matched[entry.key] = _Known(None, "update", entry.update.id, entry.content)
        used = {id(record) for record in matched.values()}
        # Minutes from before entries were kept cannot say what was taken out of them.
        gone = [] if legacy else [record for record in known if id(record) not in used]
        differences = _differences(entries, matched, gone, before=before, legacy=legacy)
        if differences and not amend:
            raise MinutesDiffer(minutes, differences)
        if differences:
            source = f"{AMENDMENT_SOURCE} {minutes.path.name} sha256:{minutes.sha256[:12]}"
            result.amended = differences
        made: dict[str, str] = {}  # entry key → the record it is (for a decision's actions)
        for entry in entries:
            made[entry.key] = _apply(tx, minutes, entry, matched.get(entry.key), made, by,
                                     source, result)
        for record in gone:
            if record.kind == "action":
                changed = tx.update_action(
                    record.entity_id, {"status": "dropped",
                                       "note": f"removed from the minutes of {review}"},
                    effective=minutes.date, by=by, source=source)
                if changed:
                    result.updated.setdefault(record.entity_id, []).extend(changed)
        tx.replace_minutes_entries(review, unit, [_MEETING, *(
            MinutesEntry(entry.key, entry.kind, made[entry.key], entry.content)
            for entry in entries)])
        tx.record_import(sha256=minutes.sha256, file=str(minutes.path.resolve()), review=review,
                         by=by, changes=result.changes)
    return result


def _recorded_known(recorded: dict[str, MinutesEntry]) -> list[_Known]:
    """The entries remembered of a meeting, each with the decision it was raised under."""
    known = []
    for key, entry in recorded.items():
        if entry.kind == _MEETING.kind:
            continue
        parent = recorded.get(key.rpartition(".")[0]) if "." in key else None
        known.append(_Known(key, entry.kind, entry.entity_id, entry.content,
                            parent.entity_id if parent else None))
    return known


def _legacy_known(tx: Transaction, review: str, unit: str) -> list[_Known]:
    """The actions and decisions that minutes of a review imported before reviewkit kept
    entries made, as those minutes said them (their values when created)."""
    known: list[_Known] = []
    for decision in tx.decisions(unit):
        created = tx.created_by_minutes(decision.id) if decision.review == review else None
        if created is not None:
            kpis = created.get("kpis", "[]")
            known.append(_Known(None, "decision", decision.id, {
                "text": created.get("text", ""), "rationale": created.get("rationale") or "",
                "kpis": list(json.loads(kpis) if isinstance(kpis, str) else kpis or [])}))
    for action in tx.actions(unit=unit):
        created = tx.created_by_minutes(action.id) if action.raised_in == review else None
        if created is not None:
            known.append(_Known(None, "action", action.id, {
                "title": created.get("title", ""), "owner": created.get("owner", ""),
                "due": created.get("due", ""), "kpi": created.get("kpi_id"),
                "note": created.get("note") or ""}, created.get("decision_id")))
    return known


def _refuse_ids_in_first_minutes(minutes: Minutes, entries: list[_Entry]) -> None:
    for entry in entries:
        if entry.told is not None:
            raise InputError(
                minutes.path, f"{entry.told}: an entry's id names the {entry.kind} it corrects "
                f"in minutes imported before, and the minutes of {_meeting_words(minutes)} are "
                f"new; leave the id out (to change an action raised before, list it under "
                "updates)", line=entry.line, field="id")


#: The field that names an entry, by kind: an entry whose name is unchanged is the same entry.
_NAME_FIELD = {"action": "title", "decision": "text", "update": "id", "ask": "ask"}


def _alike(kind: str, new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether a changed entry can be the old one corrected: its name is unchanged, or it
    differs in one field only (an update is always of the same action)."""
    if kind == "update":
        return bool(new.get("id") == old.get("id"))
    return bool(new.get(_NAME_FIELD[kind]) == old.get(_NAME_FIELD[kind])
                or len(_fields(old, new)) <= 1)


def _match(minutes: Minutes, entries: list[_Entry], known: list[_Known]) -> dict[str, _Known]:
    """Each entry's record, by identity, never by position: first the id the entry gives,
    then a record whose entry is unchanged, then one it is unambiguously a correction of
    (:func:`_alike`, one to one). Decisions first: an action is matched only among the
    actions of its own decision. What matches nothing is new; a record nothing matches went."""
    matched: dict[str, _Known] = {}
    free = list(known)

    def raised_under(entry: _Entry) -> str | None:
        if entry.parent is None:
            return None
        parent = matched.get(entry.parent)
        return parent.entity_id if parent else f"new {entry.parent}"

    def fits(entry: _Entry, record: _Known) -> bool:
        return record.kind == entry.kind and (
            entry.kind != "action" or record.parent == raised_under(entry))

    def take(entry: _Entry, record: _Known) -> None:
        matched[entry.key] = record
        free.remove(record)

    for kind in ("decision", "action", "ask", "update"):
        mine = [entry for entry in entries if entry.kind == kind]
        for entry in mine:
            if entry.told is not None:
                record = next((r for r in free if r.kind == kind and r.entity_id == entry.told),
                              None)
                if record is None:
                    raise _not_of_these_minutes(minutes, entry, known, matched)
                if not fits(entry, record):
                    where = (f"under decision {record.parent}" if record.parent
                             else "on its own, not under a decision,")
                    raise InputError(
                        minutes.path, f"{entry.told} was raised {where} in these minutes; an "
                        "amendment cannot move it (take it out, and add the action anew where "
                        "it belongs)", line=entry.line, field="id")
                take(entry, record)
        for entry in mine:
            if entry.key not in matched:
                record = next((r for r in free if fits(entry, r) and r.content == entry.content),
                              None)
                if record is not None:
                    take(entry, record)
        while True:  # one-to-one corrections, until no more are certain
            pending = [entry for entry in mine if entry.key not in matched]
            candidates = {entry.key: [r for r in free if fits(entry, r)
                                      and _alike(kind, entry.content, r.content)]
                          for entry in pending}
            chosen = [(entry, found[0]) for entry in pending
                      if len(found := candidates[entry.key]) == 1
                      and sum(any(r is found[0] for r in candidates[other.key])
                              for other in pending) == 1]
            for entry, record in chosen:
                take(entry, record)
            if not chosen:
                break
    return matched


def _not_of_these_minutes(minutes: Minutes, entry: _Entry, known: list[_Known],
                          matched: dict[str, _Known]) -> InputError:
    if any(record.entity_id == entry.told for record in matched.values()):
        problem = f"{entry.told} is the id of two entries; give each entry its own"
    else:
        ours = sorted(r.entity_id for r in known if r.kind == entry.kind)
        what = ("a board ask" if entry.kind == "ask"
                else f"{'an' if entry.kind == 'action' else 'a'} {entry.kind}")
        problem = (f"{entry.told} is not {what} "
                   f"these minutes of {_meeting_words(minutes)} raised"
                   + (f" (they raised {', '.join(ours)})" if ours else "")
                   + "; leave the id out for a new one, or change an action raised elsewhere "
                   "under updates")
    return InputError(minutes.path, problem, line=entry.line, field="id")


def _differences(entries: list[_Entry], matched: dict[str, _Known], gone: list[_Known], *,
                 before: bool, legacy: bool) -> list[str]:
    """What a file says differently from the minutes imported before, one line each."""
    found: list[str] = []
    for entry in entries:
        record = matched.get(entry.key)
        if record is None:
            if before:
                found.append(_added(entry, legacy, [r.entity_id for r in gone
                                                    if r.kind == entry.kind]))
            continue
        moved = f", was {record.key}" if record.key and record.key != entry.key else ""
        found += [f"{entry.key} ({record.entity_id}{moved}): {name} "
                  f"{_show(record.content.get(name))} → {_show(entry.content.get(name))}"
                  for name in _fields(record.content, entry.content)]
    for record in sorted(gone, key=lambda r: r.key or ""):
        found.append(f"{record.key} ({record.entity_id}): no longer in the minutes"
                     + (" (the action is dropped)" if record.kind == "action"
                        else " (kept: an applied record is not undone)"))
    return found


def _check_updates(tx: Transaction, minutes: Minutes) -> None:
    for decision in minutes.decisions:
        if decision.answers and not tx.has_ask(decision.answers):
            raise InputError(minutes.path, f"decision answers unknown board ask "
                             f"'{decision.answers}'; see `reviewkit asks list`",
                             line=decision.line, field="answers")
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


def _added(entry: _Entry, legacy: bool, gone: list[str]) -> str:
    if entry.kind == "decision":
        what = f"decision {_show(entry.content['text'])}"
    elif entry.kind == "ask":
        what = f"board ask {_show(entry.content['ask'])}"
    elif entry.kind == "action":
        what = f"action {_show(entry.content['title'])}"
    else:
        what = f"update of {entry.content['id']}"
    if legacy:
        return (f"{entry.key}: {what} is not among the {entry.kind}s this review raised (it "
                "was imported before reviewkit kept minutes entries); with --amend it is added"
                + (f" (if it is one of them corrected, give it that {entry.kind}'s id)"
                   if entry.kind != "update" else ""))
    if not gone or entry.kind == "update":
        return f"{entry.key}: a new {what}"
    which = gone[0] if len(gone) == 1 else f"one of {', '.join(gone)}"
    return (f"{entry.key}: a new {what} (if it corrects {which}, give it `id: {gone[0]}`"
            + ("" if len(gone) == 1 else " or the id it corrects") + ")")


def _apply(tx: Transaction, minutes: Minutes, entry: _Entry, known: _Known | None,
           made: dict[str, str], by: str, source: str, result: ImportResult) -> str:
    """Make or amend the record of one entry; the record's id."""
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
        answers = entry.decision.answers
        if known is None:
            record = tx.add_decision(
                text=entry.decision.text, rationale=entry.decision.rationale,
                kpis=entry.decision.kpis, review=review, unit=unit, effective=day, by=by,
                source=source)
            result.created_decisions.append(record)
        else:
            record = known.entity_id
            changed = tx.update_decision(
                record, {name: entry.content[name] for name in _fields(known.content,
                                                                       entry.content)
                         if name != "answers"},
                effective=day, by=by, source=source)
            if changed:
                result.updated.setdefault(record, []).extend(changed)
        if answers:  # the board decided the ask: off the table
            changed = tx.update_ask(answers, {"status": "decided", "decision_id": record},
                                    effective=day, by=by, source=source)
            if changed:
                result.updated.setdefault(answers, []).extend(changed)
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
        wanted = {name: value for name, value in entry.update.changes.items()
                  if old.get(name) != _as_text(value)}
        if _ASK_ID.fullmatch(record):
            changed = tx.update_ask(record, wanted, effective=day, by=by, source=source)
            if changed:
                result.updated.setdefault(record, []).extend(changed)
            return record
        # A change this meeting already made (the same value on the same date) is not made
        # twice: re-importing cannot undo what later meetings changed.
        fresh = {name: value for name, value in wanted.items()
                 if not tx.has_event(record, name, _as_text(value), day)}
        changed = tx.update_action(record, fresh, effective=day, by=by, source=source)
        if changed:
            result.updated.setdefault(record, []).extend(changed)
    return record


def _meeting_words(minutes: Minutes) -> str:
    return f"{minutes.review}" + (f" (unit '{minutes.unit}')" if minutes.unit else "")


def _unit_words(unit: str) -> str:
    return f"unit '{unit}'" if unit else "the group's review"


def _as_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)
