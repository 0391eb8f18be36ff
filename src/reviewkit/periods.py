"""Review periods: the window a value is taken over, its label, and its neighbours.

A period's shape comes from its cadence's :class:`~reviewkit.cadences.PeriodRule`: a run of days
ending on a chosen date (weekly: the 7 days ending on a Friday), or whole calendar months
(monthly: 1, quarterly: 3).
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import re
from dataclasses import dataclass

from reviewkit import cadences
from reviewkit.cadences import PeriodRule
from reviewkit.errors import UsageError, quoted


@dataclass(frozen=True, order=True)
class Period:
    """A closed date range ``[start, end]`` for one cadence."""

    cadence: str
    start: dt.date
    end: dt.date

    @property
    def rule(self) -> PeriodRule:
        return cadences.rule_of(self.cadence)

    @property
    def label(self) -> str:
        """'2026-11-20' (days), '2026-10' (a month), '2026-Q4' (a quarter), '2026-H2', '2026'."""
        rule = self.rule
        if rule.unit == "days":
            return self.end.isoformat()
        if rule.length == 1:
            return f"{self.end.year:04d}-{self.end.month:02d}"
        if rule.length == 12:
            return f"{self.end.year:04d}"
        letter = {3: "Q", 6: "H"}.get(rule.length, "P")
        return f"{self.end.year:04d}-{letter}{_index_in_year(self.end, rule.length)}"

    @property
    def noun(self) -> str:
        """'week', 'month' or 'quarter'."""
        return self.rule.noun

    @property
    def long_label(self) -> str:
        """Words for a reader: 'week ending 20 Nov 2026', 'November 2026', 'Q4 2026'."""
        rule = self.rule
        if rule.unit == "days":
            return f"{rule.noun} ending {self.end.day} {self.end:%b %Y}"
        if rule.length == 1:
            return f"{self.end:%B %Y}"
        if rule.length == 12:
            return f"{self.end.year}"
        year, _, part = self.label.partition("-")
        return f"{part} {year}"

    @property
    def short_label(self) -> str:
        """For chart axes: '20 Nov', 'Nov 26', 'Q4 26' (a year: '2026')."""
        rule = self.rule
        if rule.unit == "days":
            return f"{self.end.day} {self.end:%b}"
        if rule.length == 1:
            return f"{self.end:%b %y}"
        if rule.length == 12:
            return self.label
        year, _, part = self.label.partition("-")
        return f"{part} {year[2:]}"

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def shift(self, steps: int) -> Period:
        """The period ``steps`` cadences later (negative: earlier)."""
        rule = self.rule
        if rule.unit == "days":
            later = self.end + dt.timedelta(days=rule.length * steps)
            return period_containing(self.cadence, later)
        year, month = _add_months(self.end.year, self.end.month, rule.length * steps)
        return period_containing(self.cadence, dt.date(year, month, 1))

    def previous(self) -> Period:
        return self.shift(-1)

    def offset_of(self, day: dt.date) -> int:
        """How many periods before this one ``day`` falls: 0 inside, 1 in the previous, -1 after."""
        rule = self.rule
        if rule.unit == "days":
            return (self.end - day).days // rule.length
        return (_month_index(self.end) // rule.length) - (_month_index(day) // rule.length)

    def history(self, count: int) -> list[Period]:
        """The ``count`` periods ending with this one, oldest first."""
        return [self.shift(-steps) for steps in range(count - 1, -1, -1)]


#: The dates reviewkit works with. Beyond them the calendar arithmetic of a pack (its history,
#: a year ago, the streak back to the first measurement) would leave Python's dates.
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2999, 12, 31)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def parse_date(text: str) -> dt.date:
    """A date written ``YYYY-MM-DD`` (nothing else: not ``20261120``, not ``2026-W47-5``), in
    the years reviewkit works with; ValueError with the reason for a reader otherwise."""
    text = text.strip()
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(f"{quoted(text)} is not a date; write it as YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{quoted(text)} is not a date; write it as YYYY-MM-DD") from None
    return check_date(day)


#: Set to a YYYY-MM-DD date to build as of that day instead of the machine's date (a rebuild
#: that must come out as it did then; tests).
TODAY_ENV = "REVIEWKIT_TODAY"
#: Set to a UTC time (``YYYY-MM-DDTHH:MM:SS``, ``Z`` or ``+00:00`` allowed) to take as the
#: moment instead of the machine's clock: what a pack says it was generated at, what the store
#: records as built, published or updated. Its date is also today's unless ``REVIEWKIT_TODAY``
#: says otherwise. Tests use it to order builds without waiting for the clock to tick.
NOW_ENV = "REVIEWKIT_NOW"


def now() -> dt.datetime:
    """The moment reviewkit takes as now (UTC, whole seconds): the machine's clock, or
    ``REVIEWKIT_NOW``."""
    text = os.environ.get(NOW_ENV)
    if not text:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{NOW_ENV}: {quoted(text)} is not a time; write it as "
                         "YYYY-MM-DDTHH:MM:SS (UTC)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    elif moment.utcoffset() != dt.timedelta(0):
        raise UsageError(f"{NOW_ENV}: {quoted(text)} is not in UTC; end it with Z or +00:00")
    try:
        check_date(moment.date())
    except ValueError as exc:
        raise UsageError(f"{NOW_ENV}: {exc}") from None
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def today() -> dt.date:
    """The day reviewkit takes as today: the machine's date, or ``REVIEWKIT_TODAY``, or the
    date of ``REVIEWKIT_NOW``."""
    text = os.environ.get(TODAY_ENV)
    if not text:
        return now().date() if os.environ.get(NOW_ENV) else dt.date.today()
    try:
        return parse_date(text)
    except ValueError as exc:
        raise UsageError(f"{TODAY_ENV}: {exc}") from None


def parse_period(text: str | dt.date | None) -> dt.date | None:
    """A ``--period`` value as a date; a clear usage error when it is not one."""
    if text is None:
        return None
    try:
        if isinstance(text, dt.date):
            return check_date(text)
        return parse_date(str(text))
    except ValueError as exc:
        raise UsageError(f"--period: {exc}") from None


def check_date(day: dt.date) -> dt.date:
    """``day`` if reviewkit can work with it; ValueError naming the range otherwise."""
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"{day.isoformat()} is outside the dates reviewkit works with "
                         f"({EARLIEST.isoformat()} to {LATEST.isoformat()})")
    return day


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _index_in_year(day: dt.date, length: int) -> int:
    return (day.month - 1) // length + 1


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def weekly_period(end: dt.date) -> Period:
    return period_containing("weekly", end)


def period_containing(cadence: str, day: dt.date) -> Period:
    """The period of ``cadence`` that contains ``day``.

    For a cadence of days, the period is the run of days *ending* on ``day`` (a weekly pack is
    named by its last day); for months, the calendar block of months holding ``day``.
    """
    rule = cadences.rule_of(cadence)
    if rule.unit == "days":
        return Period(cadence, day - dt.timedelta(days=rule.length - 1), day)
    first_month = (day.month - 1) // rule.length * rule.length + 1
    year, last_month = _add_months(day.year, first_month, rule.length - 1)
    last = calendar.monthrange(year, last_month)[1]
    return Period(cadence, dt.date(day.year, first_month, 1), dt.date(year, last_month, last))
