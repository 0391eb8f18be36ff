"""Review labels such as ``weekly 2026-11-13``, ``monthly 2026-10`` or ``2026-Q3``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from reviewkit.periods import Period, period_containing

_LABEL = re.compile(
    r"^(?:(?P<cadence>weekly|monthly|quarterly)\s+)?"
    r"(?P<label>\d{4}-\d{2}-\d{2}|\d{4}-\d{2}|\d{4}-Q[1-4])$"
)


@dataclass(frozen=True)
class Review:
    """One meeting of a cadence, named by its pack's period label."""

    cadence: str
    label: str
    period: Period

    def __str__(self) -> str:
        return f"{self.cadence} {self.label}"


def parse_review(text: str) -> Review:
    """Parse a review label; raise ValueError with the accepted forms when it is not one."""
    match = _LABEL.match(text.strip())
    if not match:
        raise ValueError(
            f"{text!r} is not a review label; write e.g. 'weekly 2026-11-13', "
            "'monthly 2026-10' or 'quarterly 2026-Q3'"
        )
    label = match["label"]
    if "Q" in label:
        cadence, year, quarter = "quarterly", int(label[:4]), int(label[-1])
        day = dt.date(year, quarter * 3, 1)
    elif len(label) == 7:
        cadence, day = "monthly", dt.date(int(label[:4]), int(label[5:]), 1)
    else:
        cadence, day = "weekly", dt.date.fromisoformat(label)
    given = match["cadence"]
    if given and given != cadence:
        raise ValueError(f"{text!r}: a {given} review is labelled like "
                         + {"weekly": "2026-11-13", "monthly": "2026-10",
                            "quarterly": "2026-Q3"}[given])
    period = period_containing(cadence, day)
    return Review(cadence, period.label, period)
