"""The grain of a KPI's data: how often its rows come (a week, a month), read from the rows'
own dates, and what follows from it whatever the pack's cadence: where the data starts (so a
first period it only partly covers is flagged), which points are missing inside a window, how
long a feed has been silent, and the KPI's value at a date (the finest figure the data has).

A quarterly pack reads weekly rows as weekly rows: a feed silent for three weeks is stale in the
board pack as it is in the weekly one. Pure functions, like :mod:`.evaluate`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reviewkit import cadences
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.measurements import Observation

#: Recent row dates the grain is read from (older rows may be summarised per period).
GRAIN_SAMPLE = 12
#: A step of at least this many days is a calendar month (28 to 31 days).
MONTH_DAYS = 28


@dataclass(frozen=True)
class Grain:
    """How often a KPI's rows come: every ``days`` days, or every ``months`` calendar months
    (``days`` is then the months' length, roughly)."""

    days: int  # the typical step between row dates
    months: int = 0  # 1: monthly rows, 3: quarterly rows; 0: a step of days

    @property
    def noun(self) -> str:
        if self.months:
            return {1: "month", 3: "quarter", 6: "half-year", 12: "year"}.get(
                self.months, f"{self.months}-month period")
        return {1: "day", 7: "week", 14: "fortnight"}.get(self.days, f"{self.days}-day period")

    def plural(self, count: int) -> str:
        return f"{count} {self.noun}{'s' if count != 1 else ''}"

    def start_of(self, day: dt.date) -> dt.date:
        """The first day a row dated ``day`` covers."""
        if self.months:
            return self.step(day, -1) + dt.timedelta(days=1) if day == _month_end(day) \
                else day.replace(day=1)
        return day - dt.timedelta(days=self.days - 1)

    def step(self, day: dt.date, steps: int = 1) -> dt.date:
        """The row date ``steps`` grains after ``day`` (before, when negative)."""
        if not self.months:
            return day + dt.timedelta(days=self.days * steps)
        index = day.year * 12 + day.month - 1 + steps * self.months
        year, month = divmod(index, 12)
        first = dt.date(year, month + 1, 1)
        if day == _month_end(day):
            return _month_end(first)
        return first.replace(day=min(day.day, _month_end(first).day))

    def missed(self, last: dt.date, as_of: dt.date) -> int:
        """How many rows due after ``last`` up to ``as_of`` have not come."""
        count = 0
        due = self.step(last)
        while due <= as_of:
            count += 1
            due = self.step(due)
        return count

    def points_in(self, anchor: dt.date, start: dt.date, end: dt.date) -> int:
        """How many row dates of this grain, in step with ``anchor`` (a row's date), fall in
        ``start``..``end``."""
        if end < start:
            return 0
        due = anchor
        while due > start:
            due = self.step(due, -1)
        while due < start:
            due = self.step(due)
        count = 0
        while due <= end:
            count += 1
            due = self.step(due)
        return count

    def slack(self) -> dt.timedelta:
        """How late a row may come and still be on time (a month of 28 to 31 days, a week
        reported on a Thursday after a bank holiday)."""
        return dt.timedelta(days=3 if self.months else self.days // 2)


def _month_end(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def dates_with_values(rows: Iterable[Observation], until: dt.date | None = None) -> list[dt.date]:
    """The distinct dates of rows with a value (up to ``until``), in order."""
    return sorted({obs.period_end for obs in rows
                   if obs.value is not None and (until is None or obs.period_end <= until)})


def grain_of(dates: Sequence[dt.date]) -> Grain | None:
    """The grain of a series from its latest dates: the median step between them (None with
    fewer than three dates: one step says little about the next)."""
    recent = list(dates)[-GRAIN_SAMPLE:]
    if len(recent) < 3:
        return None
    steps = [(b - a).days for a, b in itertools.pairwise(recent)]
    step = int(statistics.median_low(steps))
    if step >= MONTH_DAYS:
        months = max(1, round(step / 30.44))
        return Grain(round(months * 30.44), months)
    return Grain(max(1, step))


@dataclass(frozen=True)
class Coverage:
    """Where a KPI's data starts and how often it comes."""

    grain: Grain | None
    first: dt.date | None  # the first row date with a value
    start: dt.date | None  # the first day that row covers
    anchor: dt.date | None = None  # the latest row date: the grain's rows fall in step with it

    def share(self, period_start: dt.date, period_end: dt.date,
              until: dt.date | None = None) -> float:
        """The share of a period (``period_start``..``period_end``) the data covers from its
        start up to ``until``: in the KPI's own rows that have come when their grain is finer
        than the period (8 of a quarter's 13 weekly rows have come by 20 November, though 51 of
        its 92 days have passed: the first of them covers the last days of September), else in
        days."""
        begin = max(period_start, self.start) if self.start is not None else period_start
        end = min(period_end, until) if until is not None else period_end
        if begin <= period_start and end >= period_end:
            return 1.0
        if end < begin:
            return 0.0
        if self.grain is not None and self.anchor is not None:
            whole = self.grain.points_in(self.anchor, period_start, period_end)
            if whole > 1:
                first = self.first if self.first is not None and self.first > period_start \
                    else period_start
                # The rows that have come, not those due by ``until``: a sum of eight weeks is
                # judged against eight weeks of target even where other data runs on (a late
                # week is a gap the data-quality appendix reports).
                return self.grain.points_in(self.anchor, first, min(end, self.anchor)) / whole
        return ((end - begin).days + 1) / ((period_end - period_start).days + 1)


def grain_of_rows(rows: Sequence[Observation], until: dt.date | None = None) -> Grain | None:
    """The grain of a KPI's rows: of its dates, or for rows of several units (a group's), the
    coarsest of each unit's own. Two weekly feeds, one on Mondays and one on Thursdays, are
    weekly rows, never a 3-day feed with a gap in every other slot."""
    by_segment: dict[str, list[Observation]] = {}
    for obs in rows:
        by_segment.setdefault(obs.segment, []).append(obs)
    if len(by_segment) <= 1:
        return grain_of(dates_with_values(rows, until))
    grains = [grain for grain in (grain_of(dates_with_values(own, until))
                                  for own in by_segment.values()) if grain is not None]
    return max(grains, key=lambda grain: grain.days, default=None)


def coverage_of(rows: Iterable[Observation]) -> Coverage:
    rows = list(rows)
    dates = dates_with_values(rows)
    if not dates:
        return Coverage(None, None, None)
    grain = grain_of_rows(rows)
    first = dates[0]
    # Without a grain, where the first row's data starts is unknown: no period is taken to be
    # partly covered.
    return Coverage(grain, first, grain.start_of(first) if grain else None, dates[-1])


def missing_points(grain: Grain, dates: Sequence[dt.date], start: dt.date,
                   end: dt.date) -> list[dt.date]:
    """Row dates the grain expects between the first and the last of ``dates`` that fall in
    ``start``..``end`` and have no row (a gap inside the data, not before or after it)."""
    known = sorted(set(dates))
    missing = []
    for before, after in itertools.pairwise(known):
        due = grain.step(before)
        # A row a few days late is not a gap: only a whole grain more is.
        while grain.step(due) <= after + grain.slack():
            if start <= due <= end:
                missing.append(due)
            due = grain.step(due)
    return missing


@dataclass(frozen=True)
class Silence:
    """How long a feed has been silent at a date."""

    grain: Grain | None
    last: dt.date | None  # the latest row date with a value, up to the date
    missed: int  # rows due since then that have not come

    def stale(self, after: int) -> bool:
        return self.last is not None and self.missed >= after


def silence_of(rows: Iterable[Observation], as_of: dt.date) -> Silence:
    """How many of a KPI's rows are overdue at ``as_of``, at the grain of its data."""
    rows = list(rows)
    dates = dates_with_values(rows, until=as_of)
    if not dates:
        return Silence(None, None, 0)
    grain = grain_of_rows(rows, until=as_of)
    if grain is None:
        return Silence(None, dates[-1], 0)
    return Silence(grain, dates[-1], grain.missed(dates[-1], as_of))



def cadence_days(name: str) -> float:
    """The length of a cadence's periods in days (a month: 30.44)."""
    rule = cadences.rule_of(name)
    return float(rule.length) if rule.unit == "days" else rule.length * 30.44


def shortest_cadence(kpi: Kpi) -> str:
    """The KPI's cadence with the shortest periods (weekly before monthly before quarterly)."""
    return min(kpi.cadences, key=cadence_days)
