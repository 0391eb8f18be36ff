"""Alternative text for the pack's charts, written from the data each chart draws.

A screen reader (and the PDF's structure tree) reads these in place of the picture, so each
says what a sighted reader takes from the chart: the span, where the line went, the target and
the status, e.g. "Change success rate, 26 weeks to 20 Nov 2026: fell from 96.2% to 88.1%;
target 95%; off track".
"""

from __future__ import annotations

import datetime as dt

from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.spend import SpendSummary
from reviewkit.evaluation.strategy import Outlook, Strategy
from reviewkit.formatting import STATUS_WORDS, Currency, format_date, format_value
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.portfolio import ScheduleState
from reviewkit.layout.charts import chart_history

#: How a schedule state is said in a sentence, in the order the sentence lists them.
SCHEDULE_WORDS: dict[ScheduleState, str] = {
    "on_time": "on time", "at_risk": "at risk", "late": "late", "finished": "finished",
    "cancelled": "cancelled"}
#: How a spend status is said.
SPEND_WORDS = {"green": "within budget", "amber": "over budget by up to 5%",
               "red": "over budget by more than 5%", "no_data": "no figures"}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def kpi_chart_alt(result: KpiResult, *, last: int | None = None,
                  as_of: dt.date | None = None) -> str:
    """What a KPI's history chart shows, in one sentence (``last``: of its last periods only,
    as a sparkline draws them): the periods the chart draws, fitted to the data, up to the day
    the data runs to (``as_of``), where the line went, and the trend as the page says it.

    A first period the data only partly covers is named, and the line's movement is told from
    the first whole period, so eight incidents in five weeks do not read as a rise to fourteen
    in seven."""
    kpi = result.kpi
    period = result.current.period
    history = chart_history(result, most=last)
    end = min(period.end, as_of) if as_of is not None else period.end
    span = f"{_plural(len(history), period.noun)} to {format_date(end)}"
    known = [point for point in history if point.value is not None]
    partial = [point for point in known if point.partial]
    whole = [point for point in known if not point.partial] or known
    if not known:
        movement = "no data"
    else:
        first, final = whole[0], known[-1]
        start, finish = format_value(first.value, kpi), format_value(final.value, kpi)
        to_date = " so far" if final.pro_rated and as_of is not None and as_of < period.end \
            else ""
        if len(known) == 1:
            movement = f"one value, {finish}"
        elif first is final or start == finish:
            movement = f"held at {finish}{to_date}"
        else:
            rose = (final.value or 0) > (first.value or 0)
            movement = f"{'rose' if rose else 'fell'} from {start} to {finish}{to_date}"
        missing = len(history) - len(known)
        if missing:
            movement += f" (no data for {_plural(missing, period.noun)})"
        if partial and partial[0] is not first:
            day = partial[0].partial_from
            movement += (f"; {partial[0].period.long_label} is only partly covered (data from "
                         f"{format_date(day)})")
    target = format_value(result.current.target, kpi)
    status = STATUS_WORDS.get(result.status, result.status).lower()
    reading = result.reading
    trend = ""
    if result.trend in ("improving", "worsening", "flat"):
        trend = f"; over the last {reading.span} {result.trend}"
        if reading.caveat:
            trend += f", {reading.caveat}"
    stale = ""
    if result.data_to is not None:
        stale = (f" (last measured {format_date(result.data_to)})" if result.status == "no_data"
                 else f" (data to {format_date(result.data_to)})")
    return f"{kpi.name}, {span}: {movement}{trend}; target {target}; {status}{stale}"


def outlook_chart_alt(kpi: Kpi, outlook: Outlook) -> str:
    """What an outlook chart shows, and the verdict the page prints beside it: the chart draws
    months against the monthly target, the sentence speaks in quarters, and the alternative
    text says both, in the sentence's own words."""
    forecast = outlook.forecast
    if not forecast.points:
        return f"{kpi.name}: history only, too little data for a forecast"
    history = [period for period, value in outlook.history if value is not None]
    last = forecast.points[-1]
    level = round(forecast.level * 100)
    shown = (f"{kpi.name}, monthly values to {history[-1].long_label}"
             f"{' (a month in progress)' if outlook.partial_month else ''} and the forecast "
             f"to {last.period.long_label} with its {level}% interval")
    if forecast.target is not None:
        shown += f"; the dashed line is the monthly target, {format_value(forecast.target, kpi)}"
    return f"{shown}. {outlook.quarterly.sentence}"


def timeline_alt(strategy: Strategy) -> str:
    """What the initiative timeline shows: how many initiatives stand where on their schedule,
    as of the day the data runs to (the dashed line), in the order the page counts them."""
    counts = strategy.schedule_counts()
    initiatives = strategy.initiatives or ()
    parts = [f"{counts[state]} {word}" for state, word in SCHEDULE_WORDS.items() if counts[state]]
    return (f"Timeline of {_plural(len(initiatives), 'initiative')} as of "
            f"{format_date(strategy.as_of)}: " + ", ".join(parts))


def spend_chart_alt(summary: SpendSummary, currency: Currency) -> str:
    """What the spend chart shows: each category's actual against its budget, year to date (to
    the latest month with actuals), in the pack's currency and with the status the table
    gives it."""
    parts = []
    for category in summary.categories:
        figures = category.ytd
        if figures.actual is None or figures.budget is None:
            parts.append(f"{category.category}: no figures")
            continue
        within, amber = summary.limits(category.category)
        words = {"green": "within budget" + (f" (or within {within:g}%)" if within else ""),
                 "amber": f"over budget by up to {amber:g}%",
                 "red": f"over budget by more than {amber:g}%"}
        parts.append(f"{category.category}: {currency.format(figures.actual)} against "
                     f"{currency.format(figures.budget)}, "
                     f"{words.get(figures.status, SPEND_WORDS.get(figures.status, ''))}")
    year, month = int(summary.period[:4]), int(summary.period[5:])
    return (f"Spend against budget by category, year to date to "
            f"{dt.date(year, month, 1):%B %Y}: " + "; ".join(parts))
