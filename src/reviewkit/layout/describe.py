"""Alternative text for the pack's charts, written from the data each chart draws.

A screen reader (and the PDF's structure tree) reads these in place of the picture, so each
says what a sighted reader takes from the chart: the span, where the line went, the target and
the status, e.g. "Change success rate, 26 weeks to 20 Nov 2026: fell from 96.2% to 88.1%;
target 95.0%; off track".
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.forecast import Forecast
from reviewkit.evaluation.spend import SpendSummary
from reviewkit.formatting import (
    STATUS_WORDS,
    Currency,
    format_date,
    format_value,
    label_words,
    shared_decimals,
)
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.portfolio import Initiative, ScheduleState
from reviewkit.layout.charts import chart_history

#: How a schedule state is said in a sentence, in the order the sentence lists them.
SCHEDULE_WORDS: dict[ScheduleState, str] = {
    "late": "late", "at_risk": "at risk", "on_time": "on time", "cancelled": "cancelled"}
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
    # One precision for the sentence's numbers, as the page prints a KPI's figures side by side.
    places = shared_decimals(kpi, values[:1] + values[-1:], [result.current.target],
                             separate=False)
    if not values:
        movement = "no data"
    else:
        start = format_value(values[0], kpi, decimals=places)
        end = format_value(values[-1], kpi, decimals=places)
        if len(values) == 1:
            movement = f"one value, {end}"
        elif start == end:
            movement = f"held at {end}"
        else:
            movement = f"{'rose' if values[-1] > values[0] else 'fell'} from {start} to {end}"
        missing = len(history) - len(values)
        if missing:
            movement += f" (no data for {_plural(missing, period.noun)})"
    target = format_value(result.current.target, kpi, decimals=places)
    status = STATUS_WORDS.get(result.status, result.status).lower()
    return f"{kpi.name}, {span}: {movement}; target {target}; {status}"


def outlook_chart_alt(kpi: Kpi, forecast: Forecast) -> str:
    """What an outlook chart shows: the history, the forecast and whether it reaches target."""
    if not forecast.points:
        return f"{kpi.name}: history only, too little data for a forecast"
    last = forecast.points[-1]
    level = round(forecast.level * 100)
    text = (f"{kpi.name}: history and forecast to {last.period.long_label}, ending near "
            f"{format_value(last.mean, kpi)} ({level}% interval "
            f"{format_value(last.lower, kpi)} to {format_value(last.upper, kpi)})")
    if forecast.target is not None:
        text += f"; target {format_value(forecast.target, kpi)}"
        if forecast.already_on_target:
            text += ", met now"
        elif forecast.reach_period is not None:
            text += f", reached in {forecast.reach_period.long_label}"
        else:
            text += ", not reached in the forecast"
    return text


def timeline_alt(initiatives: Sequence[Initiative], as_of: dt.date) -> str:
    """What the initiative timeline shows: how many initiatives stand where on their schedule."""
    states = Counter(item.schedule_state_on(as_of) for item in initiatives)
    parts = [f"{states[state]} {word}" for state, word in SCHEDULE_WORDS.items() if states[state]]
    return (f"Timeline of {_plural(len(initiatives), 'initiative')} as of {format_date(as_of)}: "
            + ", ".join(parts))


def spend_chart_alt(summary: SpendSummary, currency: Currency) -> str:
    """What the spend chart shows: each category's actual against its budget, to date, in the
    pack's currency."""
    parts = []
    for category in summary.categories:
        figures = category.ytd
        if figures.actual is None or figures.budget is None:
            parts.append(f"{category.category}: no figures")
            continue
        parts.append(f"{category.category}: {currency.format(figures.actual)} against "
                     f"{currency.format(figures.budget)}, "
                     f"{SPEND_WORDS.get(figures.status, figures.status)}")
    return (f"Spend against budget by category, year to date to {label_words(summary.period)}: "
            + "; ".join(parts))
