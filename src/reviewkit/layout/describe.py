"""Alternative text for the pack's charts, written from the pack's figures.

A screen reader (and the PDF's structure tree) reads these in place of the picture, so each
says what a sighted reader takes from the chart and the figures beside it: the span, where the
line went, the trend with its own span, the target and the status, e.g. "Change success rate,
26 weeks to 20 Nov 2026: fell from 94.6% to 88.1%; over the last 6 weeks worsening; target
95.0%; off track". Every number and status in them is the text of one of the pack's figures
(:mod:`reviewkit.evaluation.figures`), so they say what the page says; each :class:`AltText`
names the figures it states, and the pack's audit checks them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from reviewkit.evaluation.evaluate import KpiResult, PeriodValue
from reviewkit.evaluation.figures import PackFigures, figure_id, spend_subjects
from reviewkit.evaluation.spend import SpendSummary
from reviewkit.evaluation.strategy import Outlook
from reviewkit.formatting import format_date, format_value, isolated, plural
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.portfolio import ScheduleState
from reviewkit.layout.charts import SPARKLINE_PERIODS, chart_history

#: How a schedule state is said in a sentence, in the order the sentence lists them.
SCHEDULE_WORDS: dict[ScheduleState, str] = {
    "on_time": "on time", "at_risk": "at risk", "late": "late", "finished": "finished",
    "cancelled": "cancelled"}
#: How a spend status is said.
SPEND_WORDS = {"green": "within budget", "amber": "over budget by up to 5%",
               "red": "over budget by more than 5%", "no_data": "no figures"}


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


def _value_of(point: PeriodValue) -> float:
    return point.value or 0.0  # only points with a value are compared


def kpi_chart_alt(result: KpiResult, figures: PackFigures, *, as_of: dt.date | None = None,
                  sparkline: bool = False) -> AltText:
    """What a KPI's history chart (or, ``sparkline``, a summary tile's sparkline: its last
    periods only) shows, in one sentence: the periods the chart draws, fitted to the data, up
    to the day the data runs to (``as_of``), where the line went, and the trend, target and
    status as the page prints them.

    A first period the data only partly covers is named, and the line's movement is told from
    the first whole period, so eight incidents in five weeks do not read as a rise to fourteen
    in seven."""
    say = _Said(figures)
    kpi = result.kpi
    period = result.current.period
    history = chart_history(result, most=SPARKLINE_PERIODS if sparkline else None)
    end = min(period.end, as_of) if as_of is not None else period.end
    span = f"{plural(len(history), period.noun)} to {format_date(end)}"
    known = [point for point in history if point.value is not None]
    partial = [point for point in known if point.partial]
    whole = [point for point in known if not point.partial] or known
    if not known:
        movement = "no data"
    else:
        first, final = whole[0], known[-1]
        start = say(kpi.id, "value", first.period.label)
        finish = say(kpi.id, "value", final.period.label)
        to_date = " so far" if final.pro_rated and as_of is not None and as_of < period.end \
            else ""
        if len(known) == 1:
            movement = f"one value, {finish}"
        elif first is final or start == finish:
            movement = f"held at {finish}{to_date}"
            # The ends alone would hide a dip between them ("held at 100.0%" over a week of
            # 98.6%): name the lowest and highest values where they print otherwise.
            between = [say(kpi.id, "value", point.period.label)
                       for point in (min(whole, key=_value_of), max(whole, key=_value_of))]
            extremes = [f"{word} {text}" for word, text in zip(("low", "high"), between,
                                                              strict=True) if text != finish]
            if extremes:
                movement = (f"ended where it began, at {finish}{to_date} "
                            f"({', '.join(extremes)})")
        else:
            rose = (final.value or 0) > (first.value or 0)
            movement = f"{'rose' if rose else 'fell'} from {start} to {finish}{to_date}"
        missing = len(history) - len(known)
        if missing:
            movement += f" (no data for {plural(missing, period.noun)})"
        if partial and partial[0] is not first:
            movement += (f"; {partial[0].period.long_label} is only partly covered (data from "
                         f"{format_date(partial[0].partial_from)})")
    trend = ""
    if result.trend in ("improving", "worsening", "flat"):
        reading = result.reading
        trend = f"; over the last {reading.span} {say(kpi.id, 'trend').lower()}"
        if reading.caveat:
            trend += f", {reading.caveat}"
    target = say(kpi.id, "target")
    status = say(kpi.id, "status").lower()
    stale = ""
    if result.data_to is not None:
        stale = (f" (last measured {format_date(result.data_to)})" if result.status == "no_data"
                 else f" (data to {format_date(result.data_to)})")
    return say.alt(f"{isolated(kpi.name)}, {span}: {movement}{trend}; target {target}; "
                   f"{status}{stale}")


def outlook_chart_alt(kpi: Kpi, outlook: Outlook, figures: PackFigures) -> AltText:
    """What an outlook chart shows, and the verdict the page prints beside it: the chart draws
    months against the monthly target, the sentence speaks in quarters, and the alternative
    text says both, in the sentence's own words."""
    say = _Said(figures)
    forecast = outlook.forecast
    if not forecast.points:
        return say.alt(f"{isolated(kpi.name)}: history only, too little data for a forecast")
    history = [period for period, value in outlook.history if value is not None]
    last = forecast.points[-1]
    level = round(forecast.level * 100)
    shown = (f"{isolated(kpi.name)}, monthly values to {history[-1].long_label}"
             f"{' (a month in progress)' if outlook.partial_month else ''} and the forecast "
             f"to {last.period.long_label} with its {level}% interval")
    if forecast.target is not None:
        # At the precision of the quarters' sentence after it ("18.0 ML/d" twice, not "18").
        target = format_value(forecast.target, kpi, decimals=outlook.quarterly.decimals)
        shown += f"; the dashed line is the monthly target, {target}"
    return say.alt(f"{shown}. {outlook.quarterly.sentence}")


def timeline_alt(figures: PackFigures, as_of: dt.date) -> AltText:
    """What the initiative timeline shows: how many initiatives stand where on their schedule
    on the day the data runs to (the dashed line), as the strip above it counts them."""
    say = _Said(figures)
    parts = [f"{say('initiatives', state)} {word}" for state, word in SCHEDULE_WORDS.items()
             if figures.value("initiatives", state)]
    total = plural(int(figures.value("initiatives", "count") or 0), "initiative")
    return say.alt(f"Timeline of {total} as of {format_date(as_of)}: " + ", ".join(parts))


def spend_chart_alt(summary: SpendSummary, figures: PackFigures) -> AltText:
    """What the spend chart shows: each category's actual against its budget, year to date (to
    the latest month with actuals), as the table's year-to-date columns print them, with the
    status the table gives it."""
    say = _Said(figures)
    parts = []
    for category, subject in zip(summary.categories, spend_subjects(summary), strict=False):
        ytd = category.ytd
        if ytd.actual is None or ytd.budget is None:
            parts.append(f"{category.category}: no figures")
            continue
        within, amber = summary.limits(category.category)
        words = {"green": "within budget" + (f" (or within {within:g}%)" if within else ""),
                 "amber": f"over budget by up to {amber:g}%",
                 "red": f"over budget by more than {amber:g}%"}
        parts.append(f"{category.category}: {say(subject, 'ytd-actual')} against "
                     f"{say(subject, 'ytd-budget')}, "
                     f"{words.get(ytd.status, SPEND_WORDS.get(ytd.status, ''))}")
    year, month = int(summary.period[:4]), int(summary.period[5:7])
    return say.alt(f"Spend against budget by category, year to date to "
                   f"{dt.date(year, month, 1):%B %Y}: " + "; ".join(parts))
