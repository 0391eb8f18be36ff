"""Update rounds: what each owner updates for a period, their saves, the office's tracker, and
publishing the round's packs. No web here: the command line and the web application both call
these functions.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewkit import cadences
from reviewkit.errors import ReviewkitError, UsageError
from reviewkit.evaluation.owners import DecimalComma, entered_number
from reviewkit.formatting import STATUS_WORDS, format_date, format_value
from reviewkit.inputs.loaded import Inputs
from reviewkit.inputs.params import GROUP_FOLDER, load_params
from reviewkit.periods import parse_date, period_containing
from reviewkit.periods import today as clock
from reviewkit.run.prepare import evaluate, load_for
from reviewkit.store.cycle import (
    OVERRIDE_STATUSES,
    CycleStore,
    OwnerProgress,
    Round,
    RoundClosed,
    User,
    same_owner,
)
from reviewkit.store.database import Store
from reviewkit.store.records import APPROVAL_FIELD, Action, KpiUpdate

if TYPE_CHECKING:  # the build is imported when a round is published, not at start-up
    from reviewkit.run.parallel import Published as Published

log = logging.getLogger(__name__)

#: The longest text an owner may save in one field (a page of writing).
MAX_TEXT = 4000
#: Action changes made in a round are recorded with this source (and the round's name).
SOURCE = "review round"


def unit_word(unit: str) -> str:
    """A pack's unit as people and folders name it: its id, or 'group'."""
    return unit or GROUP_FOLDER


@dataclass(frozen=True)
class KpiTask:
    """One KPI of one pack that an owner updates in a round, with its figures at opening."""

    kpi_id: str
    unit: str  # '' the group's (or the only) pack
    unit_name: str
    name: str
    owner: str
    value: str
    target: str
    status: str
    manual: bool

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> KpiTask:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    @property
    def status_word(self) -> str:
        return STATUS_WORDS.get(self.status, self.status)

    @property
    def key(self) -> str:
        """The KPI and pack as one word, for forms and anchors."""
        return f"{self.kpi_id}.{unit_word(self.unit)}"


def _tasks_of(definition: cadences.Cadence, inputs: Inputs, store: Store,
              period: dt.date) -> dict[str, dict[str, Any]]:
    """Every owner's KPIs for the period, by pack (the group's and each unit's), and every owner
    of an open action of the definition."""
    packs = [("", None)] + [(unit.id, unit) for unit in inputs.units]
    tasks: dict[str, dict[str, Any]] = {}
    for key, unit in packs:
        evaluated = evaluate(definition, inputs, store, period, key or None)
        for result in evaluated.results:
            kpi = result.kpi
            task = KpiTask(kpi_id=kpi.id, unit=key,
                           unit_name=unit.name if unit else ("Group" if inputs.units else ""),
                           name=kpi.name, owner=kpi.owner, value=format_value(result.value, kpi),
                           target=format_value(result.current.target, kpi),
                           status=result.status,
                           # A group's figure of units is their roll-up: entered per unit.
                           manual=kpi.manual and (unit is not None or not inputs.units))
            tasks.setdefault(kpi.owner, {"kpis": []})["kpis"].append(task.__dict__)
    for action in store.actions():
        if action.is_open:
            tasks.setdefault(action.owner, {"kpis": []})
    return tasks


def open_round(store: Store, params_file: str | Path, cadence: str, *, period: str | None,
               due: str, by: str) -> Round:
    """Open the update round of ``cadence`` for the period holding ``period`` (default: the
    latest the pack would report), due on ``due``."""
    definition = cadences.get(cadence)
    params = load_params(params_file)
    inputs = load_for(params)
    today = clock()
    try:
        due_day = parse_date(due)
    except ValueError as exc:
        raise UsageError(f"--due: {exc}; give the day owners' updates are due") from None
    evaluated = evaluate(definition, inputs, store, period)
    label, end = evaluated.period.label, evaluated.period.end
    tasks = _tasks_of(definition, inputs, store, end)
    if due_day < today and due_day < end:
        raise UsageError(f"--due {due_day.isoformat()} has passed; give a day from today on")
    return CycleStore(store).open_round(cadence=definition.name, label=label, period_end=end,
                                        params=str(params.path), due=due_day, tasks=tasks, by=by)


# -- an owner's page ---------------------------------------------------------------------------

def may_update_unit(user: User, unit: str) -> bool:
    return "all" in user.units or unit_word(unit) in user.units


def kpi_tasks(round_: Round, user: User) -> list[KpiTask]:
    """The KPIs ``user`` updates in the round: those of the owners they answer for, in the units
    granted to them."""
    if user.role != "owner":
        return []
    found = []
    for owner, entry in round_.tasks.items():
        if user.answers_for(owner):
            found += [KpiTask.of(item) for item in entry.get("kpis", [])
                      if may_update_unit(user, item["unit"])]
    return sorted(found, key=lambda t: (t.name.casefold(), t.unit != "", t.unit_name))


def kpi_names(round_: Round) -> dict[str, str]:
    """The name of every KPI of the round by its id, as the packs name them."""
    return {item["kpi_id"]: item["name"] for entry in round_.tasks.values()
            for item in entry.get("kpis", [])}


def owners_of(round_: Round, user: User) -> list[str]:
    return [owner for owner in round_.tasks if user.answers_for(owner)]


def page_owners(store: Store, round_: Round, user: User) -> list[str]:
    """The owners whose updates ``user``'s page holds: those they answer for with a KPI of the
    round or an open action in the units granted to them. A tick marks only these: an owner
    whose units the person is not granted is someone else's to update."""
    mine = [task.owner for task in kpi_tasks(round_, user)]
    mine += [action.owner for action in action_tasks(store, user)]
    return [owner for owner in owners_of(round_, user)
            if any(same_owner(owner, name) for name in mine)]


def action_tasks(store: Store, user: User) -> list[Action]:
    """The open actions ``user`` answers for, in their units."""
    if user.role != "owner":
        return []
    return [action for action in store.actions()
            if action.is_open and user.answers_for(action.owner)
            and may_update_unit(user, action.unit)]


def find_task(round_: Round, user: User, kpi_id: str, unit: str) -> KpiTask:
    for task in kpi_tasks(round_, user):
        if task.kpi_id == kpi_id and task.unit == unit:
            return task
    raise PermissionError(f"{user.email} does not update {kpi_id} ({unit_word(unit)})")


class UpdateRefused(ReviewkitError):
    """An owner's update that cannot be saved as written (a value that is no number, an
    override without its reason); the message says what to change."""

    exit_code = 2


def check_kpi_update(task: KpiTask, fields: Mapping[str, str]) -> dict[str, str]:
    """An owner's KPI fields, checked: a number for a value measured by hand, a known status,
    a reason with every override, no field longer than :data:`MAX_TEXT`."""
    clean = {name: text.replace("\r\n", "\n").strip() for name, text in fields.items()}
    for name, text in clean.items():
        if len(text) > MAX_TEXT:
            raise UpdateRefused(f"{name} is {len(text)} characters; keep it under {MAX_TEXT}")
    value = clean.get("value", "")
    if value:
        if not task.manual:
            raise UpdateRefused(f"{task.name} is not measured by hand; its value comes from "
                                "the data")
        try:
            number = entered_number(value)
        except DecimalComma:
            raise UpdateRefused(f"the value of {task.name} ({value[:40]!r}) has a comma that "
                                "does not group thousands; use a point for decimals, e.g. "
                                "87.5") from None
        except ValueError:
            raise UpdateRefused(f"value {value[:40]!r} is not a number; write digits, e.g. "
                                "87.5") from None
        if not math.isfinite(number):
            raise UpdateRefused("the value must be a finite number")
    status = clean.get("status", "")
    if status and status not in OVERRIDE_STATUSES:
        raise UpdateRefused(f"status {status!r} is not one of {', '.join(OVERRIDE_STATUSES)}")
    if status and not clean.get("status_reason"):
        raise UpdateRefused("say why you set the status yourself (the reason is shown in the "
                            "pack beside it)")
    return clean


def save_kpi_update(cycle: CycleStore, round_: Round, user: User, task: KpiTask,
                    fields: Mapping[str, str], revisions: Mapping[str, int]) -> list[str]:
    """Save an owner's update of one KPI; :class:`FieldConflict` when someone saved one of the
    same fields meanwhile (nothing is saved then)."""
    if not round_.is_open:
        raise UpdateRefused(f"the round {round_.name} is closed")
    clean = check_kpi_update(task, fields)
    changes = {name: (text, revisions.get(name, 0)) for name, text in clean.items()}
    # Only the KPI's own owner has started: the saver may answer for others in other units.
    try:
        return cycle.save_fields(round_.id, task.kpi_id, task.unit, changes, by=user.name,
                                 owners=[task.owner])
    except RoundClosed:  # closed after this request read the round
        raise UpdateRefused(f"the round {round_.name} is closed") from None


class ActionConflict(ReviewkitError):
    """The action changed since the page showed it; nothing was saved."""

    exit_code = 2


def save_action_update(store: Store, cycle: CycleStore, round_: Round, user: User,
                       action_id: str, *, note: str, note_was: str, done: bool, due: str,
                       due_was: str, reason: str) -> list[str]:
    """An owner's update of one of their open actions: a progress note, done, or a new due date
    with its reason. Each change is an event of the action (who, when, from the round); a note
    or due date someone else changed since the page showed it is a conflict."""
    if not round_.is_open:
        raise UpdateRefused(f"the round {round_.name} is closed")
    action = next((a for a in action_tasks(store, user) if a.id == action_id), None)
    if action is None:
        raise PermissionError(f"{user.email} does not update action {action_id}")
    note = note.replace("\r\n", "\n").strip()
    if len(note) > MAX_TEXT or len(reason) > MAX_TEXT:
        raise UpdateRefused(f"keep notes under {MAX_TEXT} characters")
    changes: dict[str, Any] = {}
    if note != action.note.strip():
        if note_was.strip() != action.note.strip():
            raise ActionConflict(f"the note of {action.id} was changed by someone else since "
                                 f"you opened the page; it now reads: {action.note}")
        changes["note"] = note
    if due and due != action.due.isoformat():
        if due_was != action.due.isoformat():
            raise ActionConflict(f"the due date of {action.id} was changed since you opened "
                                 f"the page (now {action.due.isoformat()})")
        try:
            new_due = parse_date(due)
        except ValueError as exc:
            raise UpdateRefused(f"the new due date of {action.id}: {exc}") from None
        if new_due < clock():  # a slip of the keyboard: an action is not due in the past
            raise UpdateRefused(f"{action.id} cannot move to {format_date(new_due)}: that day "
                                "has passed; choose today or later")
        if not reason.strip():
            raise UpdateRefused(f"say why {action.id} moves to {due} (the reason is kept with "
                                "the new date)")
        changes["due"] = new_due
        reason_note = f"Due date moved to {due}: {reason.strip()}"
        changes["note"] = f"{changes.get('note', action.note)}\n{reason_note}".strip()
    if done:
        changes["status"] = "done"
    if not changes:
        return []
    with store.transaction() as tx:
        changed = tx.update_action(action.id, changes, effective=clock(), by=user.name,
                                   source=f"{SOURCE} {round_.name}")
    if changed:
        cycle.audit(user.name, "action updated", action.id,
                    {"round": round_.id, "fields": changed})
        cycle.set_started(round_.id, [owner for owner in owners_of(round_, user)
                                      if same_owner(owner, action.owner)])
    return changed


# -- the office's tracker ----------------------------------------------------------------------

@dataclass(frozen=True)
class TrackerRow:
    owner: str
    state: str  # done | late | started | not started
    people: tuple[User, ...]
    kpis: int
    updated: int
    progress: OwnerProgress
    overrides: tuple[tuple[KpiTask, KpiUpdate], ...] = field(default_factory=tuple)
    #: People who answer for the owner but are granted none of the units of its KPIs and open
    #: actions (shown when no one else can update them).
    ungranted: tuple[User, ...] = ()


def tracker(cycle: CycleStore, round_: Round, users: Sequence[User],
            today: dt.date | None = None) -> list[TrackerRow]:
    """Each owner of the round: done, late, started or not started, who can update their KPIs
    and open actions (answering for them in those units), how many of the KPIs those people
    can update have an update, and the statuses they set."""
    day = today or clock()
    values = cycle.values(round_.id)
    actions = [action for action in cycle.store.actions() if action.is_open]
    rows = []
    for owner, progress in cycle.progress(round_.id).items():
        every = [KpiTask.of(item) for item in round_.tasks.get(owner, {}).get("kpis", [])]
        units = {t.unit for t in every} | {a.unit for a in actions
                                           if same_owner(a.owner, owner)}
        answering = [u for u in users if u.role == "owner" and u.active
                     and u.answers_for(owner)]
        # An owner with nothing left in any unit (their action closed since the opening) is
        # no one's grant to lack: who answers for them is listed.
        people = tuple(u for u in answering
                       if not units or any(may_update_unit(u, unit) for unit in units))
        # What no one signed up can update still waits for someone: counted until then.
        tasks = [t for t in every if not people
                 or any(may_update_unit(u, t.unit) for u in people)]
        updated = [t for t in tasks if any(
            v.text for name, v in values.get((t.kpi_id, t.unit),
                                             KpiUpdate(t.kpi_id, t.unit)).fields.items()
            if name != APPROVAL_FIELD)]
        overrides = tuple((t, values[(t.kpi_id, t.unit)]) for t in every
                          if (t.kpi_id, t.unit) in values
                          and values[(t.kpi_id, t.unit)].text("status"))
        rows.append(TrackerRow(owner, progress.state(day, round_.due), people, len(tasks),
                               len(updated), progress, overrides,
                               tuple(u for u in answering if u not in people)))
    order = {"late": 0, "not started": 1, "started": 2, "done": 3}
    return sorted(rows, key=lambda r: (order[r.state], r.owner.casefold()))


def approve_status(cycle: CycleStore, round_: Round, kpi_id: str, unit: str, *,
                   by: str, approve: bool) -> None:
    """The office approves an owner's status (the revision it saw), or takes the approval
    back; not in a closed round (an approval changes what the pack says)."""
    if not round_.is_open:
        raise UpdateRefused(f"the round {round_.name} is closed")
    update = cycle.values(round_.id).get((kpi_id, unit))
    status = update.fields.get("status") if update else None
    if status is None or not status.text:
        raise UpdateRefused(f"no owner set the status of {kpi_id} ({unit_word(unit)})")
    current = update.fields.get(APPROVAL_FIELD) if update else None
    try:
        cycle.save_fields(round_.id, kpi_id, unit,
                          {APPROVAL_FIELD: (str(status.revision) if approve else "",
                                            current.revision if current else 0)}, by=by)
    except RoundClosed:
        raise UpdateRefused(f"the round {round_.name} is closed") from None


# -- publishing the round's packs --------------------------------------------------------------

def publish_round(round_: Round, *, approver: str, out_dir: Path, force: bool = False,
                  by: str, workers: int | None = None) -> list[Published]:
    """Publish every pack of the round's definition for its period (each through the publish
    gate; ``force`` publishes anyway and records the reasons): the units' packs and the
    group's side by side, ``workers`` at once (default one per core; reviewkit.run.parallel)."""
    # Deferred for start-up time: the build imports papermill, nbconvert and WeasyPrint, which
    # only publishing needs (the server starts in a second without them).
    from reviewkit.run.parallel import publish_packs

    return publish_packs(Path(round_.params), round_.cadence, period=round_.period_end,
                         out_dir=out_dir, approver=approver, force=force, by=by,
                         workers=workers or 0)


def label_of(cadence: str, day: dt.date) -> str:
    return period_containing(cadence, day).label
