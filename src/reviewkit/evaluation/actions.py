"""The action log as of a pack: what was carried forward, closed, opened, slipped and whether it
worked. Pure functions over store events, so a pack rebuilt later shows the same log.

A change counts for the pack of period end E when its effective date is before E: actions
recorded at the meeting on review L (effective L) first appear in the next pack, as "since the
last review".
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from reviewkit.evaluation.evaluate import (
    ExceptionItem,
    KpiResult,
    combine,
    is_worse,
    rag_status,
)
from reviewkit.evaluation.grain import (
    cadence_days,
    dates_with_values,
    grain_of_rows,
    shortest_cadence,
)
from reviewkit.inputs.catalog import Kpi, as_written
from reviewkit.inputs.measurements import Observation
from reviewkit.periods import Period
from reviewkit.store.records import (
    AMENDMENT_SOURCE,
    OPEN_STATUSES,
    Action,
    BoardAsk,
    Decision,
    Event,
)

#: Closed actions are checked for effect over this many days back from the period end.
EFFECTIVENESS_WINDOW_DAYS = 90


@dataclass(frozen=True)
class ActionView:
    """An action as it stood at a pack's period end."""

    action: Action
    age_days: int
    days_overdue: int
    due_changes: int
    closed_on: dt.date | None
    kpi_name: str | None = None
    kpi_status: str | None = None

    @property
    def id(self) -> str:
        return self.action.id

    @property
    def is_open(self) -> bool:
        return self.action.status in OPEN_STATUSES

    @property
    def overdue(self) -> bool:
        return self.is_open and self.days_overdue > 0


@dataclass(frozen=True)
class Point:
    """A KPI at one date of its data, at the data's own grain (a week's row, a month's): the
    finest figure there is, the same whichever pack shows it."""

    day: dt.date | None  # the row date; None: no data by then
    value: float | None
    status: str
    noun: str = ""  # the grain: "week", "month" ('' unknown)

    @property
    def label(self) -> str:
        """'week to 23 Oct 2026', 'month to 31 Oct 2026', '23 Oct 2026'."""
        if self.day is None:
            return "no data"
        day = f"{self.day.day} {self.day:%b %Y}"
        return f"{self.noun} to {day}" if self.noun else day


@dataclass(frozen=True)
class Effect:
    """Did a closed action move its KPI the right way? The KPI at its data's own grain when the
    action was raised (the latest row up to that day: what the meeting saw) and at the day the
    data runs to, so every pack built from the same data gives the same verdict."""

    view: ActionView
    kpi_id: str
    then: Point
    now: Point
    verdict: str  # improved | no_better | unknown


@dataclass(frozen=True)
class ActionLog:
    """Everything a pack says about actions and decisions."""

    as_of: dt.date
    since: dt.date
    previous_label: str | None
    actions: tuple[ActionView, ...] = ()
    decisions: tuple[Decision, ...] = ()
    effects: tuple[Effect, ...] = ()
    #: In a unit's pack: the group's open actions on the unit's KPIs (the group pack's log
    #: holds them; the unit's lead needs to see them beside the unit's own).
    group_actions: tuple[ActionView, ...] = ()
    #: The board asks as they stood (every status): the register the board pack reads.
    asks: tuple[BoardAsk, ...] = ()

    @property
    def tabled(self) -> list[BoardAsk]:
        """The asks before the board: tabled and not yet decided, withdrawn or deferred."""
        return [ask for ask in self.asks if ask.tabled]

    @property
    def asks_decided_since(self) -> list[BoardAsk]:
        return [ask for ask in self.asks if ask.status != "tabled"
                and ask.id in self.ask_changed_since]

    #: Asks whose status changed since the last review (filled by :func:`action_log`).
    ask_changed_since: frozenset[str] = frozenset()

    @property
    def has_previous_review(self) -> bool:
        """Whether a pack was recorded before this one (else "since" is the previous period's
        end, and nothing was asked at a "last review")."""
        return self.previous_label is not None

    @property
    def open(self) -> list[ActionView]:
        return [view for view in self.actions if view.is_open]

    @property
    def overdue(self) -> list[ActionView]:
        return sorted((v for v in self.actions if v.overdue), key=lambda v: -v.days_overdue)

    @property
    def carried_forward(self) -> list[ActionView]:
        """Open actions raised before the last review."""
        return [v for v in self.open if v.action.raised_on < self.since]

    @property
    def opened_since(self) -> list[ActionView]:
        return [v for v in self.actions if self.since <= v.action.raised_on < self.as_of]

    @property
    def closed_since(self) -> list[ActionView]:
        return [
            v for v in self.actions
            if v.closed_on is not None and self.since <= v.closed_on < self.as_of
        ]

    @property
    def slipped(self) -> list[ActionView]:
        return [v for v in self.open if v.due_changes > 0]

    @property
    def decisions_since(self) -> list[Decision]:
        return [d for d in self.decisions if self.since <= d.decided_on < self.as_of]

    def open_for(self, kpi_id: str) -> list[ActionView]:
        """The open actions on a KPI: the pack's own, and in a unit's pack the group's."""
        return [v for v in (*self.open, *self.group_actions) if v.action.kpi_id == kpi_id]

    def with_group_actions(self, group: ActionLog, kpi_ids: set[str]) -> ActionLog:
        """This (a unit's) log with the group's open actions on the unit's KPIs."""
        return replace(self, group_actions=tuple(
            view for view in group.open if view.action.kpi_id in kpi_ids))

    def summary(self) -> dict[str, object]:
        """The contract's ``actions`` block of summary.json."""
        return {
            "open": len(self.open),
            "overdue": [v.id for v in self.overdue],
            "closed_since_last": [v.id for v in self.closed_since],
            "opened_since_last": [v.id for v in self.opened_since],
            "decisions_since_last": [d.id for d in self.decisions_since],
            "since": self.since.isoformat(),
            "previous_pack": self.previous_label,
            **({"group_open": [v.id for v in self.group_actions]} if self.group_actions
               else {}),
        }


def replay_asks(events: Sequence[Event], before: dt.date,
                since: dt.date | None = None) -> tuple[dict[str, BoardAsk], set[str]]:
    """Every board ask as it stood from the events effective before ``before``, and the asks
    whose status changed on or after ``since``."""
    asks: dict[str, BoardAsk] = {}
    moved: set[str] = set()
    for event in sorted(events, key=lambda e: (e.effective, e.seq)):
        if event.entity != "ask" or event.effective >= before:
            continue
        if event.field == "created" and event.new:
            asks[event.entity_id] = _ask_from(json.loads(event.new))
            continue
        current = asks.get(event.entity_id)
        if current is None or event.new is None:
            continue
        value: Any = event.new
        if event.field in ("options", "kpis", "actions"):
            value = json.loads(event.new)
        elif event.field == "deadline":
            value = dt.date.fromisoformat(event.new)
        asks[event.entity_id] = replace(current, **{event.field: value})
        if event.field == "status" and since is not None and event.effective >= since:
            moved.add(event.entity_id)
    return asks, moved


def _ask_from(values: dict[str, str | None]) -> BoardAsk:
    return BoardAsk(
        id=str(values["id"]), ask=str(values["ask"]),
        options=json.loads(str(values.get("options") or "[]")),
        recommendation=str(values.get("recommendation") or ""), owner=str(values["owner"]),
        deadline=dt.date.fromisoformat(str(values["deadline"])),
        status=str(values.get("status") or "tabled"), review=values.get("review"),
        raised_on=dt.date.fromisoformat(str(values["raised_on"])),
        kpis=json.loads(str(values.get("kpis") or "[]")),
        actions=json.loads(str(values.get("actions") or "[]")),
        decision_id=values.get("decision_id"), unit=str(values.get("unit") or ""),
    )


def replay(events: Sequence[Event], before: dt.date) -> tuple[dict[str, Action],
                                                               dict[str, dt.date],
                                                               dict[str, int],
                                                               dict[str, Decision]]:
    """State of every action and decision from the events effective before ``before``.

    Returns actions, the date each was closed (done or dropped), how many times each due date
    moved, and decisions.
    """
    actions: dict[str, Action] = {}
    closed_on: dict[str, dt.date] = {}
    due_changes: dict[str, int] = {}
    decisions: dict[str, Decision] = {}
    for event in sorted(events, key=lambda e: (e.effective, e.seq)):
        if event.effective >= before or event.entity == "ask":
            continue
        if event.entity == "decision":
            if event.field == "created" and event.new:
                decisions[event.entity_id] = _decision_from(json.loads(event.new))
            elif event.field == "actions" and event.entity_id in decisions and event.new:
                decisions[event.entity_id] = replace(decisions[event.entity_id],
                                                     actions=json.loads(event.new))
            elif event.field == "text" and event.entity_id in decisions:
                decisions[event.entity_id] = replace(decisions[event.entity_id],
                                                     text=event.new or "")
            elif event.field == "rationale" and event.entity_id in decisions:
                decisions[event.entity_id] = replace(decisions[event.entity_id],
                                                     rationale=event.new or "")
            elif event.field == "kpis" and event.entity_id in decisions and event.new:
                decisions[event.entity_id] = replace(decisions[event.entity_id],
                                                     kpis=json.loads(event.new))
            continue
        if event.field == "created" and event.new:
            actions[event.entity_id] = _action_from(json.loads(event.new))
            continue
        current = actions.get(event.entity_id)
        if current is None or event.new is None:
            continue
        if event.field == "due":
            actions[event.entity_id] = replace(current, due=dt.date.fromisoformat(event.new))
            if not event.source.startswith(AMENDMENT_SOURCE):  # a correction is no slip
                due_changes[event.entity_id] = due_changes.get(event.entity_id, 0) + 1
        elif event.field == "status":
            actions[event.entity_id] = replace(current, status=event.new)
            if event.new in OPEN_STATUSES:
                closed_on.pop(event.entity_id, None)
            else:
                closed_on[event.entity_id] = event.effective
        elif event.field == "title":
            actions[event.entity_id] = replace(current, title=event.new)
        elif event.field == "owner":
            actions[event.entity_id] = replace(current, owner=event.new)
        elif event.field == "kpi_id":
            actions[event.entity_id] = replace(current, kpi_id=event.new)
        elif event.field == "note":
            actions[event.entity_id] = replace(current, note=event.new)
    return actions, closed_on, due_changes, decisions


def _action_from(values: dict[str, str | None]) -> Action:
    return Action(
        id=str(values["id"]), title=str(values["title"]), owner=str(values["owner"]),
        due=dt.date.fromisoformat(str(values["due"])), status=str(values["status"]),
        kpi_id=values.get("kpi_id"), raised_in=values.get("raised_in"),
        raised_on=dt.date.fromisoformat(str(values["raised_on"])),
        decision_id=values.get("decision_id"), note=str(values.get("note") or ""),
    )


def _decision_from(values: dict[str, str | None]) -> Decision:
    return Decision(
        id=str(values["id"]), text=str(values["text"]),
        rationale=str(values.get("rationale") or ""),
        review=values.get("review"), decided_on=dt.date.fromisoformat(str(values["decided_on"])),
        kpis=json.loads(str(values.get("kpis") or "[]")),
        actions=json.loads(str(values.get("actions") or "[]")),
    )


def action_log(
    events: Sequence[Event],
    period: Period,
    *,
    since: dt.date,
    previous_label: str | None,
    results: Sequence[KpiResult],
    series: dict[str, list[Observation]],
    as_of: dt.date | None = None,
) -> ActionLog:
    """The action log of the pack for ``period``, as of ``as_of`` (default: its end).

    A pack of a period still in progress takes its log as of the day its data runs to (or
    today, if earlier): an action due next week is not overdue yet.
    """
    as_of = period.end if as_of is None else min(as_of, period.end)
    actions, closed_on, due_changes, decisions = replay(events, as_of)
    by_kpi = {result.kpi.id: result for result in results}
    views = []
    for action in sorted(actions.values(), key=lambda a: a.id):
        result = by_kpi.get(action.kpi_id or "")
        open_now = action.status in OPEN_STATUSES
        views.append(
            ActionView(
                action=action,
                age_days=max(0, (as_of - action.raised_on).days),
                days_overdue=max(0, (as_of - action.due).days) if open_now else 0,
                due_changes=due_changes.get(action.id, 0),
                closed_on=closed_on.get(action.id),
                kpi_name=result.kpi.name if result else None,
                kpi_status=result.status if result else None,
            )
        )
    decision_list = sorted(decisions.values(), key=lambda d: d.id)
    # An ask tabled at the meeting on the pack's own period end is before the board that day.
    asks, moved = replay_asks(events, as_of + dt.timedelta(days=1), since)
    return ActionLog(as_of=as_of, since=since, previous_label=previous_label,
                     actions=tuple(views), decisions=tuple(decision_list),
                     effects=tuple(effects(views, as_of, period, by_kpi, series)),
                     asks=tuple(sorted(asks.values(), key=lambda a: a.id)),
                     ask_changed_since=frozenset(moved))


def effects(views: Sequence[ActionView], as_of: dt.date, period: Period,
            by_kpi: dict[str, KpiResult], series: dict[str, list[Observation]]) -> list[Effect]:
    """For actions done in the last 90 days and linked to a KPI: the KPI then and now, at the
    finest grain its data has (:func:`point_at`)."""
    start = as_of - dt.timedelta(days=EFFECTIVENESS_WINDOW_DAYS)
    found = []
    for view in views:
        kpi_id = view.action.kpi_id
        if view.action.status != "done" or view.closed_on is None or not kpi_id:
            continue
        if not start <= view.closed_on < as_of or kpi_id not in by_kpi:
            continue
        kpi = by_kpi[kpi_id].kpi
        rows = series.get(kpi_id, [])
        then = point_at(kpi, rows, view.action.raised_on)
        now = point_at(kpi, rows, as_of)
        found.append(Effect(view, kpi_id, then, now, _verdict(kpi, then, now)))
    return found


def point_at(kpi: Kpi, rows: Sequence[Observation], day: dt.date) -> Point:
    """The KPI at the latest date of its data up to ``day``: that date's rows combined (its
    segments rolled up), judged against the target of the KPI's shortest cadence (for a
    summed KPI whose rows come more or less often than that cadence, the target scaled to the
    rows' grain)."""
    grain = grain_of_rows(rows)
    dates = dates_with_values(rows, until=day)
    noun = grain.noun if grain is not None else ""
    if not dates:
        return Point(None, None, "no_data", noun)
    latest = dates[-1]
    value = combine(kpi, [obs for obs in rows if obs.period_end == latest]).value
    cadence = shortest_cadence(kpi)
    target, amber = kpi.target_for(cadence), kpi.amber_for(cadence)
    if kpi.aggregation == "sum" and grain is not None:
        factor = grain.days / cadence_days(cadence)
        target = as_written(target * factor)
        amber = None if amber is None else as_written(amber * factor)
    return Point(latest, value, rag_status(value, target, amber, kpi.direction), noun)


def _verdict(kpi: Kpi, then: Point, now: Point) -> str:
    if then.value is None or now.value is None or then.day == now.day:
        return "unknown"
    better = now.value > then.value if kpi.higher_is_better else now.value < then.value
    if better or is_worse(then.status, now.status):
        return "improved"
    return "no_better"


def red_without_action(results: Sequence[KpiResult], log: ActionLog) -> list[ExceptionItem]:
    """The escalation rule: a red KPI with no open action linked to it is an exception."""
    return [
        ExceptionItem(result.kpi.id, "red_no_action", "no open action is linked to this KPI")
        for result in results
        if result.status == "red" and not log.open_for(result.kpi.id)
    ]
