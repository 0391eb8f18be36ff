"""How numbers, units, dates, statuses and changes are written in a pack and its narrative."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol


class Kpi(Protocol):
    """What formatting needs of a KPI (a catalog :class:`~reviewkit.inputs.catalog.Kpi`)."""

    @property
    def unit(self) -> str: ...

    @property
    def decimals(self) -> int | None: ...

    @property
    def higher_is_better(self) -> bool: ...

    @property
    def aggregation(self) -> str: ...


STATUS_WORDS: dict[str, str] = {
    "green": "On track",
    "amber": "At risk",
    "red": "Off track",
    "no_data": "No data",
}

#: The order statuses are counted in everywhere (cover, library page): the worst first.
STATUS_ORDER = ("red", "amber", "green", "no_data")
#: The shape that tells a status without its colour, as the pack's pills and charts draw it.
STATUS_SHAPES = {"red": "■", "amber": "▲", "green": "●", "no_data": "○"}

_PREFIX_UNITS = ("£", "$", "€")

#: Between a number and its unit: a line never breaks inside "7.2 h".
NBSP = "\u00a0"
#: Units that name what is measured rather than a unit of measure: the number prints bare
#: ("29 vs 40", never "29 score vs 40 score"); the unit is said once, in the KPI's definition.
BARE_UNITS = frozenset({"", "count", "score", "index", "points", "rating", "ratio"})
#: More decimals than this are never added to tell a value from its target (a small value's
#: precision may take two more than its own, :func:`_most_decimals`).
MAX_DECIMALS = 4
_MINUS = "\u2212"  # a true minus sign, for signed changes


def decimals_for(value: float, kpi: Kpi) -> int:
    """Digits after the point for one value on its own (the catalog's ``decimals`` if set).

    A percentage always has one at least, so 93.0% stands beside 93.4% as "93.0%" (never "93%"),
    and two from 99% (99.95% and 99.5% are very different availabilities); other units drop
    the decimals of a whole number or of one in the thousands.
    """
    if kpi.decimals is not None:
        return kpi.decimals
    if abs(value) >= 1000:
        return 0
    if kpi.unit == "%":
        return 2 if abs(value) >= 99 and not float(value).is_integer() else _first_digit(value)
    if float(value).is_integer():
        return 0
    return _first_digit(value)


#: The most decimals a small value takes to show its first digit (below 0.000001 it is noise
#: of binary arithmetic, or belongs in a smaller unit).
SMALL_DECIMALS = 6


def _first_digit(value: float) -> int:
    """One decimal, or as many as a value below 0.1 needs to show its first digit: 0.05 h is
    "0.05 h", never "0.1 h", and 0.00002 mg/L never "0.0 mg/L"."""
    size = abs(value)
    if size >= 0.1 or size == 0:
        return 1
    return min(-math.floor(math.log10(size)), SMALL_DECIMALS)


def _most_decimals(places: int) -> int:
    """How far digits may be added to tell figures apart from ``places`` (a small value's
    first digit may already lie beyond :data:`MAX_DECIMALS`)."""
    return max(MAX_DECIMALS, places + 2)


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
                     + [min(exact_decimals(t), 2) for t in thresholds if t is not None]
                     + ([1] if kpi.unit == "%" else []),
                     default=0)
    most = _most_decimals(places)
    while separate and places < most and any(
        value != limit and _fixed(value, places) == _fixed(limit, places)
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

    @property
    def aggregation(self) -> str:
        return "last"


def with_minus(text: str) -> str:
    """A number written by Python with a true minus sign in place of its hyphen (U+2212)."""
    return _MINUS + text[1:] if text.startswith("-") else text


def format_number(value: float, kpi: Kpi, *, decimals: int | None = None) -> str:
    places = decimals if decimals is not None else decimals_for(value, kpi)
    return with_minus(_fixed(value, places, grouped=True))


def rounded(value: float, places: int, *, grouped: bool = True) -> str:
    """``value`` to ``places`` decimals, rounded as written: the number's shortest decimal
    form, a tie away from zero. 21.95 (21.9499… in binary) is "22.0", as a spreadsheet shows
    the workbook's 21.95 and as a reader rounds the data file's; every number a pack prints
    is rounded here."""
    if not math.isfinite(value):
        return f"{value:.{places}f}"
    exact = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return f"{exact:,.{places}f}" if grouped else f"{exact:.{places}f}"


def _fixed(value: float, places: int, *, grouped: bool = False) -> str:
    """``value`` to ``places`` decimals as a pack prints it: a zero has no minus sign ("-0.0"
    is zero), so a figure is told apart from another by the text both print as."""
    text = rounded(value, places, grouped=grouped)
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def with_unit(number: str, unit: str) -> str:
    """A formatted number with its unit: '99.7%', '£512k', '3.4 h' (no break inside), '2'."""
    if unit in BARE_UNITS:
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
    text = rounded(abs(change), places)
    if not text.strip("0.,"):
        return "no change"  # too small to show at the KPI's precision: never "+0.0 pts"
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
    #: The differences as the texts above state them (the figures as printed, subtracted):
    #: what a workbook cell holds, so a spreadsheet shows the pack's words.
    variance_number: float | None = None
    change_number: float | None = None


#: A row of figures judged together: a value, its target and its amber threshold.
Row = tuple[float | None, float, float | None]


def whole_numbers(kpi: Kpi, value: float | None) -> bool:
    """Whether the KPI's value prints as a whole number: a count (its unit, or a catalog
    ``decimals: 0``), or a whole value summed over the period (incidents, complaints)."""
    fraction = value is not None and not float(value).is_integer()
    if kpi.decimals is not None:
        # A fraction is not whole, whatever the catalog says: 2.6 against a target of 3 would
        # print "3" twice and read "on target" (digits are added to tell them apart).
        return kpi.decimals == 0 and not fraction
    if kpi.unit == "%" or fraction:
        return False
    return kpi.unit == "count" or kpi.aggregation == "sum"


def _target_decimals(value: float | None, targets: Sequence[float | None]) -> int:
    """Decimals of the targets beside a whole-number value: none for whole targets, one for a
    pro-rated one below a thousand (1.66 incidents prints "1.7", never "2"), and more while a
    target would print as the value it differs from."""
    known = [t for t in targets if t is not None]
    places = max((0 if float(t).is_integer() or abs(t) >= 1000 else 1 for t in known),
                 default=0)
    most = _most_decimals(places)
    while value is not None and places < most and any(
        t != value and _fixed(t, places) == _fixed(value, places) for t in known
    ):
        places += 1
    return places


def row_decimals(kpi: Kpi, row: Row, beside: Sequence[Row] = ()) -> int:
    """The precision of a KPI's figures printed side by side: its value and thresholds for the
    period, and the rows ``beside`` them (its year to date) at the one precision each needs
    (:func:`shared_decimals`); a whole-number value keeps none."""
    rows = [row, *beside]
    places = 0
    for value, target, amber in rows:
        if whole_numbers(kpi, value):
            continue
        if _amber_from_target(kpi):
            # Set by the target (5% under £19.5k is £18.525k), the amber is not written out to
            # its last digit; the values are still kept apart from it.
            places = max(places, shared_decimals(kpi, [value], [target], [amber]))
        else:
            places = max(places, shared_decimals(kpi, [value], [target, amber]))
    return places


def _amber_from_target(kpi: Kpi) -> bool:
    """Whether the KPI's amber is written as a share of its target ("5%"), in any cadence."""
    amber = getattr(kpi, "amber", None)
    written = amber.values() if isinstance(amber, dict) else [amber]
    return any(isinstance(item, str) for item in written)


def shown(kpi: Kpi, value: float | None, target: float, amber: float | None,
          *, since: float | None = None, beside: Sequence[Row] = (),
          at_least: int = 0) -> Shown:
    """Value, target, amber, variance and change as a pack prints them side by side.

    One precision for all of them and for the rows ``beside`` them (:func:`row_decimals`),
    and at least ``at_least`` (the KPI's precision in the pack, where the row stands beside
    its other figures), except that a whole-number value stays whole: 5 incidents against a
    target pro-rated to 6.65 print as "5" and "6.7". The change is from ``since`` (the value
    the period is compared with).
    """
    places = max(row_decimals(kpi, (value, target, amber), beside), at_least)
    limits = places
    if whole_numbers(kpi, value) and places == 0:
        limits = _target_decimals(value, (target, amber))
    # Each difference is of the two figures as printed, not of the raw numbers: "100.0%"
    # against "99.9%" is "+0.1 pts", never "no change" (99.95 - 99.9 is 0.0499… in binary),
    # and two weeks printed "2.3 h" are "no change", never "-0.1 h".
    variance = _printed_difference(value, places, target, limits)
    change = _printed_difference(value, places, since, places)
    return Shown(
        value=format_value(value, kpi, decimals=places),
        target=format_value(target, kpi, decimals=limits),
        amber=format_value(amber, kpi, decimals=limits),
        variance=format_variance(variance, kpi, decimals=limits),
        change=format_change(change, kpi, decimals=places),
        decimals=places,
        variance_number=variance,
        change_number=change,
    )


def _printed_difference(first: float | None, first_places: int, second: float | None,
                        second_places: int) -> float | None:
    """``first`` minus ``second``, each as printed at its places (binary noise rounded off)."""
    if first is None or second is None:
        return None
    difference = float(_fixed(first, first_places)) - float(_fixed(second, second_places))
    return round(difference, max(first_places, second_places)) + 0.0  # never -0.0


@dataclass(frozen=True)
class Currency:
    """How money from the portfolio, benefits and spend files is written: the symbol and the
    scale the files' amounts are in ('k': thousands)."""

    symbol: str = "£"
    scale: str = "k"

    def format(self, amount: float | None, *, signed: bool = False) -> str:
        """'£4,850k', '€12.6m', 'CHF 310k'; '+£19k' and '-£41k' (true minus) if ``signed``."""
        if amount is None:
            return "—"
        symbol = f"{self.symbol}{NBSP}" if self.symbol[-1:].isalpha() else self.symbol
        sign, number = self._parts(amount, signed)
        return f"{sign}{symbol}{number}{self.scale}"

    def amount(self, amount: float | None, *, signed: bool = False) -> str:
        """The number alone, for a table whose heading names the currency (:attr:`unit`):
        '4,850', '-41' (a true minus)."""
        if amount is None:
            return "—"
        sign, number = self._parts(amount, signed)
        return f"{sign}{number}"

    def difference(self, first: float | None, second: float | None) -> float | None:
        """``first`` minus ``second`` as the two amounts print: a year to date of 5,279.1
        against a budget of 5,320 reads "5,279" and "5,320", so the difference is -41, not
        -40.9."""
        if first is None or second is None:
            return None
        return _printed_difference(first, self._places(first), second, self._places(second))

    @staticmethod
    def _places(amount: float) -> int:
        return 0 if float(amount).is_integer() or abs(amount) >= 100 else 1

    @classmethod
    def _parts(cls, amount: float, signed: bool) -> tuple[str, str]:
        places = cls._places(amount)
        number = rounded(abs(amount), places)
        if not number.strip("0.,"):
            return "", number
        return _MINUS if amount < 0 else ("+" if signed and amount > 0 else ""), number

    @property
    def unit(self) -> str:
        """The unit for an axis or a column: '£k', '€m', 'CHF k'."""
        between = " " if self.symbol[-1:].isalpha() and self.scale else ""
        return f"{self.symbol}{between}{self.scale}"


def signed(number: float, places: int = 0) -> str:
    """A signed number with a true minus: '+14', '-5', '0'."""
    text = rounded(abs(number), places)
    if not text.strip("0.,"):
        return text
    return ("+" if number > 0 else _MINUS) + text


def percent(share: float, places: int = 0) -> str:
    """A percentage with a true minus: '8%', '-25%' (``share`` already in percent)."""
    return with_minus(_fixed(share, places, grouped=True)) + "%"


#: The controls that set the direction of the text after them until closed: embeddings and
#: overrides (LRE, RLE, PDF, LRO, RLO) and isolates (LRI, RLI, FSI, PDI).
_DIRECTION = re.compile("[\u202a-\u202e\u2066-\u2069]")
_FSI, _PDI = "\u2068", "\u2069"


def directional(text: str) -> bool:
    """Whether ``text`` holds a control that sets the direction of the text after it."""
    return _DIRECTION.search(text) is not None


def isolated(text: str, *, always: bool = False) -> str:
    """Text from a user (a name, an owner, a title) that cannot turn the text after it around.

    Text holding direction controls is wrapped in an isolate (FSI … PDI), which ends every
    embedding and override opened inside it: an owner ending in U+202E would otherwise print
    the figures after it backwards. A closing PDI with nothing of the text's own to close is
    left out (it would end the wrapper; on its own it does nothing), and each isolate the text
    leaves open gets its PDI. Text without such controls is returned as it is, unless
    ``always`` (a figure set into text that holds them: the isolate gives it its own
    direction, which an override around it cannot turn).
    """
    if not always and not directional(text):
        return text
    kept: list[str] = []
    isolates = 0
    for char in text:
        if char in "\u2066\u2067\u2068":
            isolates += 1
        elif char == _PDI:
            if not isolates:
                continue
            isolates -= 1
        kept.append(char)
    return _FSI + "".join(kept) + _PDI * (isolates + 1)


def text_for_page(value: object) -> object:
    """What a template prints for ``value`` (Jinja's ``finalize``): plain text isolated
    (:func:`isolated`); markup the pack made is already safe and kept as it is."""
    if type(value) is str:
        return isolated(value)
    return value


def plural(count: int, noun: str, many: str | None = None) -> str:
    """'1 action', '2 actions', '0 KPIs'; ``many`` for irregular plurals ('1 is', '2 are')."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def format_date(day: dt.date | None) -> str:
    """'27 Nov 2026': the one way a pack writes a day."""
    if day is None:
        return "—"
    return f"{day.day} {day:%b %Y}"


def format_timestamp(moment: dt.datetime) -> str:
    """'6 Dec 2026, 11:44 UTC': a moment in UTC, its day written as every other day."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return f"{format_date(moment.date())}, {moment:%H:%M} UTC"


def review_words(review: str) -> str:
    """A review label as a reader reads it: 'weekly 2026-11-06' → 'weekly review of
    6 Nov 2026', 'monthly 2026-10' → 'monthly review of Oct 2026'."""
    cadence, _, label = review.strip().rpartition(" ")
    return f"{cadence + ' ' if cadence else ''}review of {label_words(label)}"


def label_words(label: str) -> str:
    """A period's label as a reader reads it: '2026-10-09' → '9 Oct 2026', '2026-10' →
    'Oct 2026', '2026-Q4' → 'Q4 2026', '2026' as it is."""
    parts = label.split("-")
    try:
        if len(parts) == 3:
            return format_date(dt.date.fromisoformat(label))
        if len(parts) == 2 and parts[1].isdigit():
            return f"{dt.date(int(parts[0]), int(parts[1]), 1):%b} {parts[0]}"
    except ValueError:
        return label
    if len(parts) == 2:
        return f"{parts[1]} {parts[0]}"
    return label


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
