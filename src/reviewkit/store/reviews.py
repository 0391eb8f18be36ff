"""Review labels such as ``weekly 2026-11-13``, ``monthly 2026-10`` or ``2026-Q3``: a meeting of
a cadence, named by its pack's period label."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from reviewkit import cadences
from reviewkit.cadences import PeriodRule
from reviewkit.periods import Period, check_date, period_containing

_LABEL = re.compile(r"^(?:(?P<cadence>[a-z_]+)\s+)?(?P<label>\S+)$")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_PART = re.compile(r"(\d{4})-([QH])([1-4])")


@dataclass(frozen=True)
class Review:
    """One meeting of a cadence, named by its pack's period label."""

    cadence: str
    label: str
    period: Period

    def __str__(self) -> str:
        return f"{self.cadence} {self.label}"


def _day_in(label: str, rule: PeriodRule) -> dt.date | None:
    """A day inside the period a label names, if the label has the shape of ``rule``'s labels."""
    if rule.unit == "days":
        return dt.date.fromisoformat(label) if _DAY.fullmatch(label) else None
    if rule.length == 1:
        match = _MONTH.fullmatch(label)
        return dt.date(int(match[1]), int(match[2]), 1) if match else None
    match = _PART.fullmatch(label)
    letter = {3: "Q", 6: "H"}.get(rule.length)
    if match is None or match[2] != letter or int(match[3]) > 12 // rule.length:
        return None
    return dt.date(int(match[1]), (int(match[3]) - 1) * rule.length + 1, 1)


def _example(name: str) -> str:
    rule = cadences.rule_of(name)
    return period_containing(name, dt.date(2026, 11, 13 if rule.unit == "days" else 1)).label


def parse_review(text: str) -> Review:
    """Parse a review label; raise ValueError with the accepted forms when it is not one.

    Without a cadence word, the first cadence whose labels have that shape is meant
    (a date: weekly; ``2026-10``: monthly; ``2026-Q3``: quarterly).
    """
    forms = ", ".join(f"'{name} {_example(name)}'" for name in cadences.names())
    match = _LABEL.match(text.strip())
    given = match["cadence"] if match else None
    if match is None or (given is not None and given not in cadences.names()):
        raise ValueError(f"{text!r} is not a review label; write e.g. {forms}")
    label = match["label"]
    candidates = [given] if given else list(cadences.names())
    for name in candidates:
        try:
            day = _day_in(label, cadences.rule_of(name))
        except ValueError:  # e.g. 2026-13-01: the right shape, not a date
            day = None
        if day is not None:
            check_date(day)  # ValueError naming the range: a year-1 review would overflow
            period = period_containing(name, day)
            return Review(name, period.label, period)
    if given:
        raise ValueError(f"{text!r}: a {given} review is labelled like {_example(given)}")
    raise ValueError(f"{text!r} is not a review label; write e.g. {forms}")
