"""Alternative text for the pack's charts, written from the pack's figures.

A screen reader (and the PDF's structure tree) reads these in place of the picture, so each
says what a sighted reader takes from the chart and the figures beside it: the span, where the
line went, the target, the status and the trend with its own span, e.g. "Change success rate,
26 weeks to 20 Nov 2026: fell from 96.2% to 88.1%; target 95.0%; off track; trend over the
last 6 weeks: worsening". Every number and status in them is the text of one of the pack's
figures (:mod:`reviewkit.evaluation.figures`), so they say what the page says; each
:class:`AltText` names the figures it states, and the pack's audit checks them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from reviewkit import cadences
from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.figures import (
    SCHEDULE_WORDS,
    PackFigures,
    figure_id,
    spend_subjects,
)
from reviewkit.evaluation.spend import SpendSummary
from reviewkit.evaluation.strategy import Outlook
from reviewkit.formatting import format_date, plural
from reviewkit.inputs.catalog import Kpi
from reviewkit.layout.charts import SPARKLINE_PERIODS, chart_history

#: How a spend status is said.
SPEND_WORDS = {"green": "within budget", "amber": "over budget by up to 5%",
               "red": "over budget by more than 5%", "no_data": "no figures"}
#: The order a timeline's alternative text counts the initiatives in.
SCHEDULE_ORDER = ("late", "at_risk", "on_time", "cancelled")


@dataclass(frozen=True)
class AltText:
    """A chart's alternative text and the identities of the figures it states (each one's
    text appears in it as the page prints it)."""

    text: str
    states: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.text


class _Said:
    """Figure texts as a sentence uses them, remembering which figures it stated."""

    def __init__(self, figures: PackFigures) -> None:
        self.figures = figures
        self.states: list[str] = []

    def __call__(self, subject: str, kind: str, period: str | None = None) -> str:
        identity = figure_id(subject, period or self.figures.period, kind)
        found = self.figures.get(identity)
        if found is None:
            return "—"
        self.states.append(identity)
        return found.text

    def alt(self, text: str) -> AltText:
        return AltText(text, tuple(dict.fromkeys(self.states)))


def kpi_chart_alt(result: KpiResult, figures: PackFigures, *, as_of: dt.date | None = None,
                  sparkline: bool = False) -> AltText:
    """What a KPI's history chart (or, ``sparkline``, a summary tile's sparkline: its last
    periods only) shows, in one sentence, with the value, target, status and trend the page
    prints beside it."""
    say = _Said(figures)
    kpi = result.kpi
    period = result.current.period
    history = chart_history(result, most=SPARKLINE_PERIODS if sparkline else None)
    until = period.end if as_of is None else min(period.end, as_of)
    span = f"{plural(len(history), period.noun)} to {format_date(until)}"
    known = [pv for pv in history if pv.value is not None]
    if not known:
        movement = "no data"
    else:
        first = say(kpi.id, "value", known[0].period.label)
        last = say(kpi.id, "value", known[-1].period.label)
        values = (known[0].value, known[-1].value)
        if len(known) == 1:
            movement = f"one value, {last}"
        elif first == last:
            movement = f"held at {last}"
        else:
            rose = values[1] is not None and values[0] is not None and values[1] > values[0]
            movement = f"{'rose' if rose else 'fell'} from {first} to {last}"
        missing = len(history) - len(known)
        if missing:
            movement += f" (no data for {plural(missing, period.noun)})"
    target = say(kpi.id, "target")
    if result.current.pro_rated:
        target += ", pro-rated to date"
    status = say(kpi.id, "status").lower()
    window = cadences.get(period.cadence).trend_window
    if result.trend == "unknown":
        trend_words = "too few values for a trend"
    else:
        trend = say(kpi.id, "trend").lower()
        trend_words = f"trend over the last {plural(window, period.noun)}: {trend}"
    return say.alt(f"{kpi.name}, {span}: {movement}; target {target}; {status}; {trend_words}")


def outlook_chart_alt(kpi: Kpi, outlook: Outlook, figures: PackFigures) -> AltText:
    """What an outlook chart shows: the monthly history, the forecast, and what the outlook
    says of each quarter (the figures of its table and sentence)."""
    say = _Said(figures)
    quarters = outlook.quarterly.quarters
    if not quarters:
        return say.alt(f"{kpi.name}: history only, too little data for a forecast")
    last = quarters[-1].period
    level = round(outlook.forecast.level * 100)
    text = (f"{kpi.name}: monthly history and a forecast to {last.long_label}, "
            f"{say(kpi.id, 'forecast', last.label)} then ({level}% interval "
            f"{say(kpi.id, 'forecast-low', last.label)} to "
            f"{say(kpi.id, 'forecast-high', last.label)})")
    if outlook.quarterly.target is not None:
        met = [q.period for q in quarters
               if figures.value(kpi.id, "forecast-status", q.period.label) == "met"]
        first = met[0] if met else quarters[0].period
        text += (f"; quarterly target {say(kpi.id, 'forecast-target')}: the projection "
                 f"{say(kpi.id, 'forecast-status', first.label)} in {first.long_label}")
        if not met:
            text += f" and every quarter to {last.long_label}"
    return say.alt(text)


def timeline_alt(figures: PackFigures, as_of: dt.date) -> AltText:
    """What the initiative timeline shows: how many initiatives stand where on their
    schedule on the day the data runs to (the counts printed above it)."""
    say = _Said(figures)
    count = figures.value("initiatives", "count")
    parts = []
    for state in SCHEDULE_ORDER:
        if figures.value("initiatives", state):
            parts.append(f"{say('initiatives', state)} {SCHEDULE_WORDS[state].lower()}")
    total = plural(int(count or 0), "initiative")
    return say.alt(f"Timeline of {total} as of {format_date(as_of)}: " + ", ".join(parts))


def spend_chart_alt(summary: SpendSummary, figures: PackFigures) -> AltText:
    """What the spend chart shows: each category's actual against its budget, year to date
    (the year-to-date columns of the table)."""
    say = _Said(figures)
    parts = []
    for category, subject in zip(summary.categories, spend_subjects(summary), strict=False):
        if category.ytd.actual is None or category.ytd.budget is None:
            parts.append(f"{category.category}: no figures")
            continue
        parts.append(f"{category.category}: {say(subject, 'ytd-actual')} against "
                     f"{say(subject, 'ytd-budget')}, {SPEND_WORDS[category.ytd.status]}")
    month = dt.date(int(summary.period[:4]), int(summary.period[5:7]), 1)
    return say.alt(f"Spend against budget by category, year to date to {month:%B %Y}: "
                   + "; ".join(parts))
