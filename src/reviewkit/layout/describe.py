"""Alternative text for the pack's charts, written from the data each chart draws.

A screen reader (and the PDF's structure tree) reads these in place of the picture, so each
says what a sighted reader takes from the chart: the span, where the line went, the target and
the status, e.g. "Change success rate, 26 weeks to 20 Nov 2026: fell from 96.2% to 88.1%;
target 95%; off track".
"""

from __future__ import annotations

from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.spend import SpendSummary
from reviewkit.evaluation.strategy import Outlook, Strategy
from reviewkit.formatting import STATUS_WORDS, format_date, format_value
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


def kpi_chart_alt(result: KpiResult, *, last: int | None = None) -> str:
    """What a KPI's history chart shows, in one sentence (``last``: of its last periods only,
    as a sparkline draws them): the periods the chart draws, fitted to the data."""
    kpi = result.kpi
    period = result.current.period
    history = chart_history(result, most=last)
    span = f"{_plural(len(history), period.noun)} to {format_date(period.end)}"
    values = [point.value for point in history if point.value is not None]
    if not values:
        movement = "no data"
    else:
        start, end = format_value(values[0], kpi), format_value(values[-1], kpi)
        if len(values) == 1:
            movement = f"one value, {end}"
        elif start == end:
            movement = f"held at {end}"
        else:
            movement = f"{'rose' if values[-1] > values[0] else 'fell'} from {start} to {end}"
        missing = len(history) - len(values)
        if missing:
            movement += f" (no data for {_plural(missing, period.noun)})"
    target = format_value(result.current.target, kpi)
    status = STATUS_WORDS.get(result.status, result.status).lower()
    return f"{kpi.name}, {span}: {movement}; target {target}; {status}"


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


def spend_chart_alt(summary: SpendSummary) -> str:
    """What the spend chart shows: each category's actual against its budget, to date."""
    parts = []
    for category in summary.categories:
        figures = category.ytd
        if figures.actual is None or figures.budget is None:
            parts.append(f"{category.category}: no figures")
            continue
        parts.append(f"{category.category}: {figures.actual:,.0f} against {figures.budget:,.0f}, "
                     f"{SPEND_WORDS.get(figures.status, figures.status)}")
    return f"Spend against budget by category, year to date to {summary.period}: " + "; ".join(
        parts)
