"""How numbers, units, dates, statuses and changes are written in a pack and its narrative."""

from __future__ import annotations

import datetime as dt
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


def decimals_for(value: float, kpi: Kpi) -> int:
    if kpi.decimals is not None:
        return kpi.decimals
    if float(value).is_integer() or abs(value) >= 1000:
        return 0
    if kpi.unit == "%" and abs(value) >= 99:
        return 2  # 99.95% and 99.5% are very different availabilities
    return 1


def format_number(value: float, kpi: Kpi, *, decimals: int | None = None) -> str:
    places = decimals if decimals is not None else decimals_for(value, kpi)
    return f"{value:,.{places}f}"


def format_value(value: float | None, kpi: Kpi, *, decimals: int | None = None) -> str:
    """A value with its unit: '99.72%', '£512k', '3.4 h', '2'."""
    if value is None:
        return "—"
    number = format_number(value, kpi, decimals=decimals)
    unit = kpi.unit
    if not unit or unit == "count":
        return number
    if unit == "%":
        return f"{number}%"
    for prefix in _PREFIX_UNITS:
        if unit.startswith(prefix):
            sign = "-" if number.startswith("-") else ""
            return f"{sign}{prefix}{number.lstrip('-')}{unit[len(prefix):]}"
    return f"{number} {unit}"


def format_change(change: float | None, kpi: Kpi) -> str:
    """A signed change, e.g. '+0.4 pts' for percentages, '-2' for counts."""
    if change is None:
        return "—"
    if change == 0:
        return "no change"
    places = kpi.decimals if kpi.decimals is not None else (2 if kpi.unit == "%" else 1)
    if abs(change) >= 100 or float(change).is_integer():
        places = 0
    text = f"{abs(change):,.{places}f}"
    sign = "+" if change > 0 else "\u2212"  # a true minus sign
    if kpi.unit == "%":
        return f"{sign}{text} pts"
    if not kpi.unit or kpi.unit == "count":
        return f"{sign}{text}"
    for prefix in _PREFIX_UNITS:
        if kpi.unit.startswith(prefix):
            return f"{sign}{prefix}{text}{kpi.unit[len(prefix):]}"
    return f"{sign}{text} {kpi.unit}"


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
