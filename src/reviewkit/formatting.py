"""How numbers, units, dates, statuses and changes are written in a pack and its narrative."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Kpi(Protocol):
    """What formatting needs of a KPI (a catalog :class:`~reviewkit.inputs.catalog.Kpi`)."""

    @property
    def unit(self) -> str: ...

    @property
    def decimals(self) -> int | None: ...

    @property
    def higher_is_better(self) -> bool: ...


STATUS_WORDS: dict[str, str] = {
    "green": "On track",
    "amber": "At risk",
    "red": "Off track",
    "no_data": "No data",
}

_PREFIX_UNITS = ("£", "$", "€")

#: Between a number and its unit: a line never breaks inside "7.2 h".
NBSP = "\u00a0"
#: More decimals than this are never added to tell a value from its target.
MAX_DECIMALS = 4
_MINUS = "\u2212"  # a true minus sign, for signed changes


def decimals_for(value: float, kpi: Kpi) -> int:
    """Digits after the point for one value on its own (the catalog's ``decimals`` if set)."""
    if kpi.decimals is not None:
        return kpi.decimals
    if float(value).is_integer() or abs(value) >= 1000:
        return 0
    if kpi.unit == "%" and abs(value) >= 99:
        return 2  # 99.95% and 99.5% are very different availabilities
    return 1


def exact_decimals(value: float, limit: int = 3) -> int:
    """The fewest decimals (up to ``limit``) that write ``value`` exactly: 99.5 → 1, 94 → 0."""
    for places in range(limit + 1):
        if abs(round(value, places) - value) < 1e-9:
            return places
    return limit


def shared_decimals(kpi: Kpi, values: Sequence[float | None],
                    thresholds: Sequence[float | None] = (),
                    apart_from: Sequence[float | None] = (), *, separate: bool = True) -> int:
    """One number of decimals for a KPI's values and the thresholds they are judged against.

    Start from what each value needs on its own (the catalog's ``decimals``, else
    :func:`decimals_for`) and what writes each threshold exactly, so "100.0%" stands beside
    "99.5%" rather than "100%" beside "99.50%". Then add digits while a value that differs from
    a threshold (or from a number in ``apart_from``, such as a computed plan) would print the
    same as it: 93.96 against 94 prints "93.96%" and "94.00%", never "94.0%" twice, because
    the status depends on that difference. ``separate=False`` skips that step (projections,
    whose extra digits mean nothing, are judged at the precision they are printed).
    """
    known = [v for v in values if v is not None]
    limits = [t for t in (*thresholds, *apart_from) if t is not None]
    if kpi.decimals is not None:
        places = kpi.decimals
    else:
        places = max([decimals_for(v, kpi) for v in known]
                     + [min(exact_decimals(t), 2) for t in thresholds if t is not None],
                     default=0)
    while separate and places < MAX_DECIMALS and any(
        value != limit and f"{value:.{places}f}" == f"{limit:.{places}f}"
        for value in known for limit in limits
    ):
        places += 1
    return places


@dataclass(frozen=True)
class Measure:
    """A measure that is not a catalog KPI (a benefit or key result described in words): its
    unit is all formatting knows. Counts are whole numbers."""

    unit: str = ""
    higher_is_better: bool = True

    @property
    def decimals(self) -> int | None:
        return 0 if self.unit == "count" else None


def format_number(value: float, kpi: Kpi, *, decimals: int | None = None) -> str:
    places = decimals if decimals is not None else decimals_for(value, kpi)
    return f"{value:,.{places}f}"


def with_unit(number: str, unit: str) -> str:
    """A formatted number with its unit: '99.7%', '£512k', '3.4 h' (no break inside), '2'."""
    if not unit or unit == "count":
        return number
    if unit == "%":
        return f"{number}%"
    for prefix in _PREFIX_UNITS:
        if unit.startswith(prefix):
            sign = number[0] if number[:1] in ("-", _MINUS, "+") else ""
            return f"{sign}{prefix}{number.removeprefix(sign)}{unit[len(prefix):]}"
    return f"{number}{NBSP}{unit}"


def format_value(value: float | None, kpi: Kpi, *, decimals: int | None = None) -> str:
    """A value with its unit: '99.72%', '£512k', '3.4 h', '2'."""
    if value is None:
        return "—"
    return with_unit(format_number(value, kpi, decimals=decimals), kpi.unit)


def format_change(change: float | None, kpi: Kpi, *, decimals: int | None = None) -> str:
    """A signed change, e.g. '+0.4 pts' for percentages, '-2' for counts (a true minus sign)."""
    if change is None:
        return "—"
    if change == 0:
        return "no change"
    if decimals is not None:
        places = decimals
    else:
        places = kpi.decimals if kpi.decimals is not None else (2 if kpi.unit == "%" else 1)
        if abs(change) >= 100 or float(change).is_integer():
            places = 0
    text = f"{abs(change):,.{places}f}"
    sign = "+" if change > 0 else _MINUS
    if kpi.unit == "%":
        return f"{sign}{text}{NBSP}pts"
    return with_unit(f"{sign}{text}", kpi.unit)


def format_variance(variance: float | None, kpi: Kpi, *, decimals: int | None = None) -> str:
    """Value minus target, signed: '-0.04 pts'; 'on target' when there is no difference."""
    if variance is not None and variance == 0:
        return "on target"
    return format_change(variance, kpi, decimals=decimals)


@dataclass(frozen=True)
class Shown:
    """A KPI's figures for one period, written at one precision (:func:`shared_decimals`)."""

    value: str
    target: str
    amber: str
    variance: str
    change: str
    decimals: int


def shown(kpi: Kpi, value: float | None, target: float, amber: float | None,
          change: float | None = None, *, at_least: int = 0) -> Shown:
    """Value, target, amber, variance and change as a pack prints them side by side.

    One precision for all of them (:func:`shared_decimals`, and at least ``at_least``: a row
    that stands beside other figures of the KPI), except that a count is a whole number: 5
    incidents against a target pro-rated to 6.65 print as "5" and "6.7".
    """
    places = max(shared_decimals(kpi, [value], [target, amber]), at_least)
    limits = places
    if kpi.unit == "count" and kpi.decimals is None and (value is None
                                                          or float(value).is_integer()):
        places = at_least
        limits = max(decimals_for(t, kpi) for t in (target, amber) if t is not None)
    variance = None if value is None else value - target
    return Shown(
        value=format_value(value, kpi, decimals=places),
        target=format_value(target, kpi, decimals=limits),
        amber=format_value(amber, kpi, decimals=limits),
        variance=format_variance(variance, kpi, decimals=limits),
        change=format_change(change, kpi, decimals=places),
        decimals=places,
    )


@dataclass(frozen=True)
class Currency:
    """How money from the portfolio, benefits and spend files is written: the symbol and the
    scale the files' amounts are in ('k': thousands)."""

    symbol: str = "£"
    scale: str = "k"

    def format(self, amount: float | None, *, signed: bool = False) -> str:
        """'£4,850k', '€12.6m', 'CHF 310k'; '+£19k' and '-£41k' (true minus) when ``signed``."""
        if amount is None:
            return "—"
        places = 0 if float(amount).is_integer() or abs(amount) >= 100 else 1
        number = f"{abs(amount):,.{places}f}"
        symbol = f"{self.symbol}{NBSP}" if self.symbol[-1:].isalpha() else self.symbol
        sign = _MINUS if amount < 0 else ("+" if signed and amount > 0 else "")
        return f"{sign}{symbol}{number}{self.scale}"

    @property
    def unit(self) -> str:
        """The unit for an axis or a column: '£k', '€m'."""
        return f"{self.symbol}{self.scale}"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """'1 action', '2 actions', '0 KPIs'; ``many`` for irregular plurals ('1 is', '2 are')."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def format_date(day: dt.date | None) -> str:
    if day is None:
        return "—"
    return f"{day.day} {day:%b %Y}"


TREND_ARROWS = {"improving": "▲", "worsening": "▼", "flat": "▶", "unknown": "·"}
TREND_WORDS = {
    "improving": "Improving",
    "worsening": "Worsening",
    "flat": "Flat",
    "unknown": "Trend unknown",
}


def trend_arrow(trend: str, kpi: Kpi) -> str:
    """An arrow pointing the way the value moves (not the way that is good)."""
    if trend in ("flat", "unknown"):
        return TREND_ARROWS[trend]
    rising = (trend == "improving") == kpi.higher_is_better
    return "▲" if rising else "▼"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, … 11th, 12th, 13th, … 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
