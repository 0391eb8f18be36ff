"""Review periods per cadence: the window a value is taken over, its label, and its neighbours."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Period:
    """A closed date range ``[start, end]`` for one cadence."""

    cadence: str
    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        if self.cadence == "weekly":
            return self.end.isoformat()
        if self.cadence == "monthly":
            return f"{self.end.year:04d}-{self.end.month:02d}"
        return f"{self.end.year:04d}-Q{(self.end.month - 1) // 3 + 1}"

    @property
    def noun(self) -> str:
        """'week', 'month' or 'quarter'."""
        return {"weekly": "week", "monthly": "month", "quarterly": "quarter"}[self.cadence]

    @property
    def long_label(self) -> str:
        """Words for a reader: 'week ending 20 Nov 2026', 'November 2026', 'Q4 2026'."""
        if self.cadence == "weekly":
            return f"week ending {self.end.day} {self.end:%b %Y}"
        if self.cadence == "monthly":
            return f"{self.end:%B %Y}"
        return f"Q{(self.end.month - 1) // 3 + 1} {self.end.year}"

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def shift(self, steps: int) -> Period:
        """The period ``steps`` cadences later (negative: earlier)."""
        if self.cadence == "weekly":
            return weekly_period(self.end + dt.timedelta(days=7 * steps))
        months = 1 if self.cadence == "monthly" else 3
        year, month = _add_months(self.end.year, self.end.month, months * steps)
        return period_containing(self.cadence, dt.date(year, month, 1))

    def previous(self) -> Period:
        return self.shift(-1)

    def offset_of(self, day: dt.date) -> int:
        """How many periods before this one ``day`` falls: 0 inside, 1 in the previous, -1 after."""
        if self.cadence == "weekly":
            return (self.end - day).days // 7
        months = (self.end.year - day.year) * 12 + (self.end.month - day.month)
        if self.cadence == "monthly":
            return months
        return _quarter_index(self.end) - _quarter_index(day)

    def history(self, count: int) -> list[Period]:
        """The ``count`` periods ending with this one, oldest first."""
        return [self.shift(-steps) for steps in range(count - 1, -1, -1)]


def _quarter_index(day: dt.date) -> int:
    return day.year * 4 + (day.month - 1) // 3


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def weekly_period(end: dt.date) -> Period:
    return Period("weekly", end - dt.timedelta(days=6), end)


def period_containing(cadence: str, day: dt.date) -> Period:
    """The period of ``cadence`` that contains ``day`` (weekly: the 7 days ending on ``day``)."""
    if cadence == "weekly":
        return weekly_period(day)
    if cadence == "monthly":
        last = calendar.monthrange(day.year, day.month)[1]
        return Period(
            "monthly", dt.date(day.year, day.month, 1), dt.date(day.year, day.month, last)
        )
    if cadence == "quarterly":
        first_month = (day.month - 1) // 3 * 3 + 1
        last_month = first_month + 2
        last = calendar.monthrange(day.year, last_month)[1]
        return Period(
            "quarterly", dt.date(day.year, first_month, 1), dt.date(day.year, last_month, last)
        )
    raise ValueError(f"unknown cadence {cadence!r}")
