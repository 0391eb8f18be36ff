"""Every figure a pack states, computed once and written once.

A *figure* is one thing a pack says, with its identity: ``<subject>/<period>/<kind>``, e.g.
``change_success_rate/2026-Q4/status`` (a KPI's status for a period), ``change_success_rate@north
/2026-Q4/value`` (a unit's value), ``actions/2026-11-20/overdue`` or ``spend:total/2026-10/ytd-
actual``. Each carries the number (or word) and the text every page prints for it, so the
scorecard, the cards, the summary tiles, the units page, the outlook, the charts' alternative
texts, the drafted sentences, ``summary.json``, the CSVs and the workbook all state the same
figure the same way. A figure stated a second time (an action's "when raised" value is the
KPI's value for that period; the outlook's quarter in progress is the scorecard's quarter)
goes through the same book: a second, different value for one identity is recorded as a
:class:`Conflict`, which the pack's audit reports.

A KPI's values print at one precision across the pack (its periods, and in a group pack its
units' figures too): the one that keeps its current value apart from its target.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from reviewkit.evaluation.actions import ActionLog
from reviewkit.evaluation.breakdown import Breakdown
from reviewkit.evaluation.changes import ChangeReport
from reviewkit.evaluation.evaluate import Evaluation, KpiResult, PeriodValue
from reviewkit.evaluation.forecast import QuarterOutlook
from reviewkit.evaluation.priorities import KeyResultProgress
from reviewkit.evaluation.rollup import YearToDate, perspective_status, year_ago
from reviewkit.evaluation.spend import CategorySpend, SpendSummary
from reviewkit.evaluation.strategy import BenefitView, Strategy
from reviewkit.evaluation.units import ShareOfGroup, UnitFigures
from reviewkit.formatting import (
    NBSP,
    STATUS_WORDS,
    TREND_WORDS,
    Currency,
    Measure,
    Shown,
    format_date,
    format_value,
    plural,
    shared_decimals,
    shown,
    whole_numbers,
)
from reviewkit.formatting import Kpi as Formattable
from reviewkit.inputs.catalog import Kpi
from reviewkit.periods import Period

#: A true minus sign, as formatting writes signed figures.
MINUS = "\u2212"
#: How the pack words a spend line's status (the symbol before it is the page's).
SPEND_WORDS = {"green": "Within", "amber": "Over ≤5%", "red": "Over >5%", "no_data": "No data"}
#: How the pack words an initiative's schedule state.
SCHEDULE_WORDS = {"on_time": "On time", "at_risk": "At risk", "late": "Late",
                  "finished": "Finished", "cancelled": "Cancelled"}
#: How the pack words a closed action's effect on its KPI.
VERDICT_WORDS = {"improved": "Moved the right way", "no_better": "No better yet",
                 "unknown": "Not measurable"}
#: What an outlook says of a quarter: its projection meets the target, or does not.
FORECAST_WORDS = {"met": "meets the target", "missed": "misses the target"}


def figure_id(subject: str, period: str, kind: str) -> str:
    """A figure's identity, as the HTML's ``data-fig`` attributes name it."""
    return f"{subject}/{period}/{kind}"


def split_id(identity: str) -> tuple[str, str, str]:
    """(subject, period, kind) of an identity (a subject may hold '/'; periods never do)."""
    subject, period, kind = identity.rsplit("/", 2)
    return subject, period, kind


def slug(text: str) -> str:
    """A subject name for free text (a spend category): lower case, words joined by '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def unit_subject(kpi_id: str, unit_id: str) -> str:
    """The subject of a unit's figures for a KPI on a group's units page, and in a unit's own
    pack of its share of the group's figure (the same figure, so the same identity)."""
    return f"{kpi_id}@{unit_id}"


#: The subject suffix of the group's figures stated in a unit's pack (its share table).
GROUP_SUFFIX = "@group"


def group_subject(kpi_id: str) -> str:
    """The subject of the group's figure for a KPI in a unit's pack (beside the unit's share
    of it): not the pack's own figure for the KPI, which would be the unit's."""
    return f"{kpi_id}{GROUP_SUFFIX}"


def breakdown_subjects(kpi_id: str, table: Breakdown) -> list[str]:
    """The subject of each part of a KPI's breakdown, in order ('sales#quayside-front-shop');
    two names that read alike get a number."""
    subjects = []
    seen: dict[str, int] = {}
    for part in table.parts:
        name = slug(part.name)
        seen[name] = seen.get(name, 0) + 1
        subjects.append(f"{kpi_id}#{name}" + (f"-{seen[name]}" if seen[name] > 1 else ""))
    return subjects


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure: the number or word the pack states, and the text it prints it as."""

    value: float | int | str | None
    text: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """One identity stated twice with different values: the pack contradicts itself."""

    identity: str
    first: Figure
    first_where: str
    second: Figure
    second_where: str

    def describe(self) -> str:
        return (f"{self.identity} is {self.first.text!r} in {self.first_where} but "
                f"{self.second.text!r} in {self.second_where}")


@dataclass(frozen=True)
class PackFigures:
    """Every figure of one pack, by identity, and any identity stated twice differently."""

    period: str  # the pack's period label: the default period of a lookup
    figures: Mapping[str, Figure] = field(default_factory=dict)
    #: Each KPI's precision in this pack (decimals of its values).
    decimals: Mapping[str, int] = field(default_factory=dict)
    conflicts: tuple[Conflict, ...] = ()

    def __contains__(self, identity: object) -> bool:
        return identity in self.figures

    def __len__(self) -> int:
        return len(self.figures)

    def __iter__(self) -> Iterator[str]:
        return iter(self.figures)

    def get(self, identity: str) -> Figure | None:
        return self.figures.get(identity)

    def identity(self, subject: str, kind: str, period: str | None = None) -> str:
        return figure_id(subject, period or self.period, kind)

    def of(self, subject: str, kind: str, period: str | None = None) -> Figure:
        """The figure of ``subject`` (default period: the pack's); KeyError if not stated."""
        return self.figures[self.identity(subject, kind, period)]

    def text(self, subject: str, kind: str, period: str | None = None) -> str:
        found = self.figures.get(self.identity(subject, kind, period))
        return found.text if found is not None else "—"

    def value(self, subject: str, kind: str, period: str | None = None) -> float | int | str | None:
        found = self.figures.get(self.identity(subject, kind, period))
        return found.value if found is not None else None

    def shown(self, kpi_id: str) -> Shown:
        """A KPI's figures for the pack's period, as a row of texts (what a drafted sentence
        or a placeholder quotes)."""
        return Shown(value=self.text(kpi_id, "value"), target=self.text(kpi_id, "target"),
                     amber=self.text(kpi_id, "amber"), variance=self.text(kpi_id, "variance"),
                     change=self.text(kpi_id, "change"), decimals=self.decimals.get(kpi_id, 0),
                     variance_number=self._number(kpi_id, "variance"),
                     change_number=self._number(kpi_id, "change"))

    def _number(self, subject: str, kind: str) -> float | None:
        value = self.value(subject, kind)
        return float(value) if isinstance(value, int | float) else None


class _Book:
    """The figures as they are written, each identity once (a second, different statement
    of an identity is a conflict, kept for the audit)."""

    def __init__(self, period: str) -> None:
        self.period = period
        self.figures: dict[str, Figure] = {}
        self.where: dict[str, str] = {}
        self.conflicts: list[Conflict] = []

    def add(self, subject: str, kind: str, value: float | int | str | None, text: str,
            where: str, period: str | None = None) -> None:
        identity = figure_id(subject, period or self.period, kind)
        figure = Figure(value, text)
        known = self.figures.get(identity)
        if known is None:
            self.figures[identity] = figure
            self.where[identity] = where
        elif known != figure:
            self.conflicts.append(Conflict(identity, known, self.where[identity], figure, where))

    def done(self, decimals: Mapping[str, int]) -> PackFigures:
        return PackFigures(self.period, dict(self.figures), dict(decimals),
                           tuple(self.conflicts))


# -- KPIs --------------------------------------------------------------------------------------


def kpi_decimals(result: KpiResult, units: Sequence[UnitFigures] = ()) -> int:
    """The precision of a KPI's values in a pack: what its current value needs to stand apart
    from its target, and in a group pack what any unit's does (one precision per row)."""
    kpi = result.kpi
    places = [_own_decimals(result)]
    for figures in units:
        unit_result = figures.result(kpi.id)
        share = figures.share(kpi.id)
        if unit_result is not None:
            places.append(_own_decimals(unit_result))
        elif share is not None and not whole_numbers(kpi, share.value):
            # A unit's share of the group's figure is not judged: the target it carries only
            # scales its trend, and has no digits to stand apart from (£9.97k was £10.0k).
            places.append(shared_decimals(kpi, [share.value]))
    return max(places)


def _own_decimals(result: KpiResult) -> int:
    """What the KPI's current value needs (without one, its latest value: a feed that stopped
    at 99.30% against 99% is not "99%")."""
    current = next((pv for pv in reversed(result.history) if pv.value is not None),
                   result.current)
    return shown(result.kpi, current.value, current.target, current.amber).decimals


def value_text(kpi: Formattable, value: float | None, decimals: int) -> str:
    """A KPI's value for any period of the pack, at the pack's precision for the KPI (a count
    that is not a whole number keeps a decimal)."""
    places = decimals
    if (value is not None and not float(value).is_integer() and places == 0
            and kpi.unit == "count" and getattr(kpi, "decimals", None) is None):
        places = 1
    return format_value(value, kpi, decimals=places)


def _streak(result: KpiResult) -> int:
    return result.periods_without_data if result.status == "no_data" else result.streak


def _kpi(book: _Book, result: KpiResult, decimals: int, where: str = "scorecard") -> None:
    kpi, current = result.kpi, result.current
    label = current.period.label
    noun = current.period.noun
    row = shown(kpi, current.value, current.target, current.amber,
                since=result.compared.value, at_least=decimals)
    add = book.add
    add(kpi.id, "value", current.value, row.value, where, label)
    add(kpi.id, "status", current.status, STATUS_WORDS[current.status], where, label)
    add(kpi.id, "target", current.target, row.target, where, label)
    if current.amber is not None:
        add(kpi.id, "amber", current.amber, row.amber, where, label)
    # The differences as printed (summary.json takes the unrounded ones from the result).
    add(kpi.id, "variance", row.variance_number, row.variance, where, label)
    add(kpi.id, "change", row.change_number, row.change, where, label)
    add(kpi.id, "trend", result.trend, TREND_WORDS[result.trend], where, label)
    add(kpi.id, "streak", _streak(result), plural(_streak(result), noun), where, label)
    if current.pro_rated:
        add(kpi.id, "share", current.share, f"{current.share:.0%}", where, label)
    if result.last_seen is not None:
        add(kpi.id, "last-seen", result.last_seen.isoformat(), format_date(result.last_seen),
            where, label)
    if result.stale:
        add(kpi.id, "stale", result.periods_without_data,
            plural(result.periods_without_data, noun), where, label)
    for pv in result.history[:-1]:
        _period(book, kpi, pv, decimals, "history")
    ago = year_ago(result)
    if ago is not None:
        # The same period a year earlier, as the scorecard compares it (a summed KPI's period
        # in progress: the same share of it).
        add(kpi.id, "year-ago", ago.value, value_text(kpi, ago.value, decimals), where, label)


def _period(book: _Book, kpi: Kpi, pv: PeriodValue, decimals: int, where: str) -> None:
    """A KPI's value and status for one period (its chart's points, "a year ago", an action's
    "when raised"): a value already written (the scorecard's) keeps its text."""
    label = pv.period.label
    known = book.figures.get(figure_id(kpi.id, label, "value"))
    text = (known.text if known is not None and known.value == pv.value
            else value_text(kpi, pv.value, decimals))
    book.add(kpi.id, "value", pv.value, text, where, label)
    book.add(kpi.id, "status", pv.status, STATUS_WORDS[pv.status], where, label)


def _ytd(book: _Book, kpi: Kpi, ytd: YearToDate, decimals: int) -> None:
    row = shown(kpi, ytd.value, ytd.target, ytd.amber, at_least=decimals)
    book.add(kpi.id, "ytd", ytd.value, row.value, "year to date")
    book.add(kpi.id, "ytd-target", ytd.target, row.target, "year to date")
    book.add(kpi.id, "ytd-status", ytd.status, STATUS_WORDS[ytd.status], "year to date")


def _units(book: _Book, units: Sequence[UnitFigures], group: Mapping[str, KpiResult],
           decimals: Mapping[str, int]) -> None:
    for figures in units:
        for kpi_id, result in figures.results.items():
            subject = unit_subject(kpi_id, figures.unit.id)
            places = decimals.get(kpi_id, _own_decimals(result))
            where = f"units page ({figures.unit.name})"
            book.add(subject, "value", result.value,
                     value_text(result.kpi, result.value, places), where)
            book.add(subject, "status", result.status, STATUS_WORDS[result.status], where)
            _share_of(book, subject, result, group.get(kpi_id), where)
        for kpi_id, share in figures.shares.items():
            # Its share of the group's figure, not judged: a value and a share, no status.
            subject = unit_subject(kpi_id, figures.unit.id)
            places = decimals.get(kpi_id, _own_decimals(share.unit))
            where = f"units page ({figures.unit.name})"
            book.add(subject, "value", share.value,
                     value_text(share.kpi, share.value, places), where)
            _share_of(book, subject, share.unit, group.get(kpi_id), where)


def _share_of(book: _Book, subject: str, unit: KpiResult, whole: KpiResult | None,
              where: str) -> None:
    """A unit's part of a group figure that is the sum of its units' ("—" without one)."""
    if whole is None or whole.kpi.rollup_rule != "sum":
        return
    share = unit.value / whole.value if unit.value is not None and whole.value else None
    book.add(subject, "share", share, "—" if share is None else f"{100 * share:.0f}%", where)


def _shares(book: _Book, shares: Sequence[ShareOfGroup], unit_id: str,
            decimals: dict[str, int]) -> None:
    """A unit pack's share of each group figure it is not judged on: the unit's figure, the
    group's, the share, the group's status against the group's target, the unit's trend.
    One precision per row: the one the group's figure needs beside its target."""
    for share in shares:
        kpi, whole = share.kpi, share.group
        places = decimals.setdefault(kpi.id, _own_decimals(whole))
        mine, group = unit_subject(kpi.id, unit_id), group_subject(kpi.id)
        where = f"the unit's share of the group's figures ({kpi.name})"
        row = shown(kpi, whole.value, whole.current.target, whole.current.amber,
                    at_least=places)
        book.add(mine, "value", share.value, value_text(kpi, share.value, places), where)
        book.add(mine, "share", share.share,
                 "—" if share.share is None else f"{100 * share.share:.0f}%", where)
        book.add(mine, "trend", share.unit.trend, TREND_WORDS[share.unit.trend], where)
        book.add(group, "value", whole.value, value_text(kpi, whole.value, places), where)
        book.add(group, "target", whole.current.target, row.target, where)
        book.add(group, "status", whole.status, STATUS_WORDS[whole.status], where)


def _breakdowns(book: _Book, tables: Mapping[str, Breakdown], results: Mapping[str, KpiResult],
                decimals: Mapping[str, int]) -> None:
    """Each part of a KPI's figure for the period: its value at the KPI's precision, and its
    status against the pack's target (a level) or its share of the figure (a sum)."""
    for kpi_id, table in tables.items():
        result = results.get(kpi_id)
        if result is None:
            continue
        places = decimals.get(kpi_id, 0)
        for subject, part in zip(breakdown_subjects(kpi_id, table), table.parts, strict=True):
            where = f"breakdown of {result.kpi.name} ({part.name})"
            book.add(subject, "value", part.value, value_text(result.kpi, part.value, places),
                     where)
            if part.status is not None:
                book.add(subject, "status", part.status, STATUS_WORDS[part.status], where)
            elif part.share is not None:
                book.add(subject, "share", part.share, f"{100 * part.share:.0f}%", where)


# -- the rest of the pack ----------------------------------------------------------------------


def _perspectives(book: _Book, evaluation: Evaluation) -> None:
    """Each perspective's status: its worst KPI's (the balanced scorecard's boxes)."""
    groups: dict[str, list[KpiResult]] = {}
    for result in evaluation.results:
        groups.setdefault(result.kpi.perspective, []).append(result)
    for name, results in groups.items():
        status = perspective_status(results)
        book.add(f"perspective:{perspective_slug(name)}", "status", status,
                 STATUS_WORDS[status], "balanced scorecard")


def perspective_slug(name: str) -> str:
    """The anchor of a perspective's heading, and the subject of its status."""
    return "persp-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "other")


def _counts(book: _Book, evaluation: Evaluation) -> None:
    for status, count in evaluation.status_counts().items():
        book.add("pack", status, count, str(count), "status counts")
    book.add("pack", "kpis", len(evaluation.results), str(len(evaluation.results)),
             "status counts")
    needing = list(dict.fromkeys(item.kpi_id for item in evaluation.exceptions))
    book.add("pack", "attention", len(needing), str(len(needing)), "needs attention")
    unowned = [item for item in evaluation.exceptions if item.reason == "red_no_action"]
    book.add("pack", "red-no-action", len(unowned), str(len(unowned)), "needs attention")


def _actions(book: _Book, log: ActionLog, results: Mapping[str, KpiResult],
             decimals: Mapping[str, int]) -> None:
    where = "action log"
    counts = {"open": len(log.open), "overdue": len(log.overdue),
              "closed-since": len(log.closed_since), "opened-since": len(log.opened_since),
              "decisions-since": len(log.decisions_since), "slipped": len(log.slipped),
              "effects": len(log.effects),
              "effects-improved": sum(1 for e in log.effects if e.verdict == "improved")}
    if log.group_actions:
        counts["group-open"] = len(log.group_actions)
        counts["group-overdue"] = sum(1 for view in log.group_actions if view.overdue)
    for kind, count in counts.items():
        book.add("actions", kind, count, str(count), where)
    # A unit's pack also lists the group's open actions on its KPIs (action ids are the
    # store's, one sequence for every unit).
    for view in (*log.actions, *log.group_actions):
        subject = f"action:{view.id}"
        book.add(subject, "age", view.age_days, f"{view.age_days}{NBSP}d", where)
        book.add(subject, "days-overdue", view.days_overdue, f"{view.days_overdue}{NBSP}d",
                 where)
        book.add(subject, "due-changes", view.due_changes, f"\u00d7{view.due_changes}", where)
        if view.kpi_status is not None:
            book.add(subject, "kpi-status", view.kpi_status, STATUS_WORDS[view.kpi_status],
                     where)
    for effect in log.effects:
        # The KPI at the data's own grain when the action was raised and now: its own figures
        # (a week's row in a quarterly pack is not the quarter's figure).
        subject = f"action:{effect.view.id}"
        where = f"did closed actions work? ({effect.view.id})"
        book.add(subject, "verdict", effect.verdict, VERDICT_WORDS[effect.verdict], where)
        result = results.get(effect.kpi_id)
        places = decimals.get(effect.kpi_id, 1)
        if result is not None:
            # The KPI's precision in this pack, or more where the two figures need it: a KPI
            # whole this week must not turn the 22.3 the meeting saw into "22".
            places = max(places, shared_decimals(
                result.kpi, [point.value for point in (effect.then, effect.now)],
                separate=False))
        for when, point in (("then", effect.then), ("now", effect.now)):
            if result is not None:
                book.add(subject, f"{when}-value", point.value,
                         value_text(result.kpi, point.value, places), where)
            book.add(subject, f"{when}-status", point.status,
                     STATUS_WORDS.get(point.status, point.status), where)


def _portfolio(book: _Book, strategy: Strategy) -> None:
    if strategy.initiatives is None:
        return
    currency = strategy.currency
    where = "initiative portfolio"
    for state, count in strategy.schedule_counts().items():
        book.add("initiatives", state, count, str(count), where)
    book.add("initiatives", "count", len(strategy.initiatives),
             str(len(strategy.initiatives)), where)
    for item in strategy.initiatives:
        state = strategy.schedule_of(item)
        subject = f"initiative:{item.id}"
        book.add(subject, "state", state, SCHEDULE_WORDS[state], where)
        book.add(subject, "done", item.percent_complete, f"{item.percent_complete:.0f}%", where)
        book.add(subject, "slip", item.slip_days,
                 f"{item.slip_days:+d}{NBSP}d".replace("-", MINUS) if item.slip_days else "—",
                 where)
        book.add(subject, "budget", item.budget, currency.format(item.budget), where)
        book.add(subject, "cost", item.cost_to_date, currency.format(item.cost_to_date), where)
        if item.budget_used is not None:
            book.add(subject, "budget-used", item.budget_used,
                     f"{item.budget_used * 100:.0f}%", where)


def _benefits(book: _Book, strategy: Strategy, kpis: Mapping[str, Kpi],
              decimals: Mapping[str, int]) -> None:
    if strategy.benefits is None:
        return
    where = "benefits"
    at_risk = strategy.benefits_at_risk()
    book.add("benefits", "count", len(strategy.benefits), str(len(strategy.benefits)), where)
    book.add("benefits", "at-risk", len(at_risk), str(len(at_risk)), where)
    for view in strategy.benefits:
        subject = f"benefit:{view.benefit.id}"
        assessment = view.assessment
        book.add(subject, "state", assessment.state,
                 assessment.state.replace("_", " ").capitalize(), where)
        # A benefit measured by a KPI prints its row at the KPI's precision in the pack at
        # least: the week's value reads as the action table beside it reads it.
        kpi_id = view.benefit.kpi_id or ""
        texts = benefit_texts(view, kpis.get(kpi_id), decimals.get(kpi_id, 0))
        book.add(subject, "baseline", view.benefit.baseline, texts.baseline, where)
        book.add(subject, "target", view.benefit.target, texts.target, where)
        book.add(subject, "planned", assessment.planned_value, texts.planned, where)
        same = _stated(book, view.benefit.kpi_id, assessment.value)
        book.add(subject, "value", assessment.value, texts.value if same is None else same,
                 where)
        if assessment.realized_fraction is not None:
            book.add(subject, "realized", assessment.realized_fraction,
                     f"{assessment.realized_fraction * 100:.0f}%", where)


def _priorities(book: _Book, strategy: Strategy, kpis: Mapping[str, Kpi],
                decimals: Mapping[str, int]) -> None:
    if strategy.priorities is None:
        return
    where = "strategic priorities"
    for priority, progress in strategy.priorities:
        subject = f"priority:{priority.id}"
        book.add(subject, "progress", progress.progress, _percent(progress.progress), where)
        for index, kr in enumerate(progress.key_results, start=1):
            sub = f"kr:{priority.id}:{index}"
            kpi = kpis.get(kr.kpi or "")
            # A key result measured by a KPI's value this period states that figure, as the
            # scorecard does, and its row prints at the KPI's precision.
            same = _stated(book, kr.kpi, kr.value)
            texts = key_result_texts(kr, kpi, decimals.get(str(kr.kpi)) if same else None)
            book.add(sub, "baseline", kr.baseline, texts.baseline, where)
            book.add(sub, "value", kr.value, same if same is not None else texts.value, where)
            book.add(sub, "target", kr.target, texts.target, where)
            book.add(sub, "progress", kr.progress, _percent(kr.progress), where)


def _stated(book: _Book, kpi_id: str | None, value: float | None) -> str | None:
    """The text of a KPI's value this period, when ``value`` is it."""
    if not kpi_id or value is None:
        return None
    known = book.figures.get(figure_id(kpi_id, book.period, "value"))
    return known.text if known is not None and known.value == value else None


def _percent(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{MINUS}{-value:.0f}%" if round(value) < 0 else f"{value:.0f}%"


def spend_word(status: str, amber: float) -> str:
    """A spend line's status as the table words it, with the limit it was judged by."""
    return {"green": "Within", "amber": f"Over ≤{amber:g}%",
            "red": f"Over >{amber:g}%"}.get(status, SPEND_WORDS["no_data"])


def _spend(book: _Book, spend: SpendSummary, currency: Currency) -> None:
    lines: list[tuple[str, CategorySpend]] = list(
        zip(spend_subjects(spend), [*spend.categories, spend.total], strict=True))
    for subject, line in lines:
        where = f"spend ({line.category})"
        _, amber = spend.limits(line.category)
        for span, figures in (("period", line.current), ("ytd", line.ytd),
                              ("fy", line.full_year)):
            book.add(subject, f"{span}-budget", figures.budget, currency.format(figures.budget),
                     where)
            book.add(subject, f"{span}-actual", figures.actual, currency.format(figures.actual),
                     where)
            # The difference of the two amounts as printed beside it (5,279 against 5,320 is
            # -41, never -40.9).
            variance = currency.difference(figures.actual, figures.budget)
            book.add(subject, f"{span}-variance", variance,
                     currency.format(variance, signed=True), where)
            book.add(subject, f"{span}-status", figures.status,
                     spend_word(figures.status, amber), where)


def spend_subjects(spend: SpendSummary) -> list[str]:
    """The subject of each spend category's figures, in order, then the total's."""
    subjects: list[str] = []
    seen: dict[str, int] = {}
    for category in spend.categories:
        name = slug(category.category)
        seen[name] = seen.get(name, 0) + 1
        subjects.append(f"spend:{name}" + (f"-{seen[name]}" if seen[name] > 1 else ""))
    return [*subjects, "spend:total"]


def _outlook(book: _Book, strategy: Strategy, kpis: Mapping[str, Kpi]) -> None:
    """Each quarter of the outlook: the projection, its interval, and whether it meets the
    quarterly target (what the outlook's sentence claims of that quarter)."""
    for outlook in strategy.outlooks:
        kpi = kpis[outlook.forecast.kpi_id]
        quarters = outlook.quarterly
        where = f"outlook ({kpi.name})"
        for quarter in quarters.quarters:
            label = quarter.period.label
            if quarter.measured:
                # The pack's own quarter: the scorecard's figure, stated as the scorecard does.
                verdict = "met" if quarter.status == "green" else "missed"
                book.add(kpi.id, "forecast-status", verdict, FORECAST_WORDS[verdict], where,
                         label)
                continue
            book.add(kpi.id, "forecast", quarter.mean,
                     format_value(quarter.mean, kpi, decimals=quarters.decimals), where, label)
            book.add(kpi.id, "forecast-low", quarter.lower,
                     format_value(quarter.lower, kpi, decimals=quarters.decimals), where, label)
            book.add(kpi.id, "forecast-high", quarter.upper,
                     format_value(quarter.upper, kpi, decimals=quarters.decimals), where, label)
            if quarters.target is not None:
                verdict = "met" if _met(quarters, quarter.period) else "missed"
                book.add(kpi.id, "forecast-status", verdict, FORECAST_WORDS[verdict], where,
                         label)
        if quarters.target is not None:
            book.add(kpi.id, "forecast-target", quarters.target,
                     format_value(quarters.target, kpi, decimals=quarters.decimals), where)


def _met(outlook: QuarterOutlook, quarter: Period) -> bool:
    """Whether the outlook says ``quarter`` meets the target: from the first quarter that
    reaches it until the first that falls short again (its own verdict, not worked out
    again here)."""
    if outlook.reach is None or quarter < outlook.reach:
        return False
    return outlook.misses_from is None or quarter < outlook.misses_from


# -- benefits' and key results' measures --------------------------------------------------------


@dataclass(frozen=True)
class MeasureTexts:
    """A benefit's or key result's numbers, at one precision and with its measure's unit."""

    baseline: str
    target: str
    planned: str
    value: str


def _measure(kpi: Kpi | None, unit: str, baseline: float | None,
             target: float) -> Formattable:
    if kpi is not None:
        return kpi
    return Measure(unit, higher_is_better=baseline is None or target >= baseline)


def benefit_texts(view: BenefitView, kpi: Kpi | None, at_least: int = 0) -> MeasureTexts:
    """Baseline, target, the planned value now and the realized value of a benefit, in the
    unit of its KPI (or its own ``unit``), kept apart where they differ, with ``at_least``
    decimals (its KPI's in the pack)."""
    benefit, assessment = view.benefit, view.assessment
    measure = _measure(kpi, benefit.unit, benefit.baseline, benefit.target)
    # The planned value is a point on a straight line: not a threshold to print exactly.
    places = max(shared_decimals(measure, [assessment.value],
                                 [benefit.baseline, benefit.target]), at_least)
    return MeasureTexts(*(format_value(value, measure, decimals=places) for value in (
        benefit.baseline, benefit.target, assessment.planned_value, assessment.value)))


def key_result_texts(kr: KeyResultProgress, kpi: Kpi | None,
                     places: int | None = None) -> MeasureTexts:
    """Baseline, target and the value now of a key result, in its KPI's unit (or its own), at
    a precision (``places``, unless given) that also keeps a level apart from its KPI's own
    target and amber (93.96% beside a 94.00% target prints as 93.96%, never "94.0%")."""
    measure = _measure(kpi, kr.unit, kr.baseline, kr.target)
    if places is None:
        thresholds = [kr.baseline, kr.target]
        if kpi is not None and kpi.aggregation != "sum":
            cadence = kpi.cadences[0]
            thresholds += [kpi.target_for(cadence), kpi.amber_for(cadence)]
        places = shared_decimals(measure, [kr.value], thresholds)
    return MeasureTexts(format_value(kr.baseline, measure, decimals=places),
                        format_value(kr.target, measure, decimals=places), "",
                        format_value(kr.value, measure, decimals=places))


# -- the whole pack ------------------------------------------------------------------------------


def pack_figures(
    *,
    period: Period,
    evaluation: Evaluation,
    action_log: ActionLog | None,
    changes: ChangeReport | None,
    strategy: Strategy,
    kpis: Mapping[str, Kpi],
    units: Sequence[UnitFigures] = (),
    shares: Sequence[ShareOfGroup] = (),
    unit_id: str | None = None,
    breakdowns: Mapping[str, Breakdown] | None = None,
    as_of: dt.date | None = None,
) -> PackFigures:
    """Every figure the pack of ``period`` states (see the module): in a unit's pack
    (``unit_id``) its ``shares`` of the group's figures, and the ``breakdowns`` of its KPIs."""
    book = _Book(period.label)
    results = {result.kpi.id: result for result in evaluation.results}
    decimals = {kpi_id: kpi_decimals(result, units) for kpi_id, result in results.items()}
    for result in evaluation.results:
        _kpi(book, result, decimals[result.kpi.id])
    for kpi_id, ytd in strategy.ytd.items():
        if kpi_id in results:
            _ytd(book, results[kpi_id].kpi, ytd, decimals[kpi_id])
    _units(book, units, results, decimals)
    if unit_id is not None:
        _shares(book, shares, unit_id, decimals)
    _breakdowns(book, breakdowns or {}, results, decimals)
    _counts(book, evaluation)
    _perspectives(book, evaluation)
    if action_log is not None:
        _actions(book, action_log, results, decimals)
    if changes is not None:
        for change in changes.status_changes:
            before = period.previous().label
            book.add(change.kpi_id, "status", change.before, STATUS_WORDS[change.before],
                     "what changed since the last review", before)
    _portfolio(book, strategy)
    _benefits(book, strategy, kpis, decimals)
    _priorities(book, strategy, kpis, decimals)
    if strategy.spend is not None:
        _spend(book, strategy.spend, strategy.currency)
    _outlook(book, strategy, kpis)
    if as_of is not None:
        book.add("pack", "as-of", as_of.isoformat(), format_date(as_of), "cover")
    return book.done(decimals)
