"""Longer views for the monthly and quarterly packs: year to date, a year ago, and the overall
status of a balanced-scorecard perspective. Pure functions, like :mod:`.evaluate`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from reviewkit.evaluation.evaluate import KpiResult, PeriodValue, Status, combine, rag_status
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.measurements import Observation
from reviewkit.periods import Period


@dataclass(frozen=True)
class YearToDate:
    """A KPI from 1 January to the end of the period, against its year-to-date target."""

    start: dt.date
    end: dt.date
    value: float | None
    target: float
    amber: float | None
    status: Status
    periods: int  # months (monthly pack) or quarters (quarterly pack) elapsed


def periods_elapsed(period: Period) -> int:
    """Periods of the cadence from 1 January to the end of ``period``, this one included."""
    rule = period.rule
    if rule.unit == "months":
        return (period.end.month - 1) // rule.length + 1
    return (period.end - dt.date(period.end.year, 1, 1)).days // rule.length + 1


def year_to_date(kpi: Kpi, period: Period, observations: Sequence[Observation]) -> YearToDate:
    """Aggregate every measurement from 1 January to the period end by the KPI's rule.

    For a ``sum`` KPI the target (and amber) scale with the periods elapsed: eight P1 incidents
    a month means forty by the end of May. Other rules keep the per-period target.
    """
    start = dt.date(period.end.year, 1, 1)
    value = combine(kpi, [obs for obs in observations
                          if start <= obs.period_end <= period.end]).value
    target = kpi.target_for(period.cadence)
    amber = kpi.amber_for(period.cadence)
    elapsed = periods_elapsed(period)
    if kpi.aggregation == "sum":
        target *= elapsed
        amber = amber * elapsed if amber is not None else None
    return YearToDate(start, period.end, value, target, amber,
                      rag_status(value, target, amber, kpi.direction), elapsed)


def year_ago(result: KpiResult) -> PeriodValue | None:
    """The same period a year earlier, when the history reaches back that far."""
    steps = result.current.period.rule.per_year
    if len(result.history) <= steps:
        return None
    return result.history[-1 - steps]


_RANK = {"green": 0, "no_data": 1, "amber": 1, "red": 2}


def perspective_status(results: Sequence[KpiResult]) -> Status:
    """Overall status of a perspective: its worst KPI.

    Red if any KPI is red; amber if any is amber or has no data (a gap is not good news);
    green only when every KPI is green; no data when none has data.
    """
    statuses = [result.status for result in results]
    if not statuses or all(status == "no_data" for status in statuses):
        return "no_data"
    worst = max(statuses, key=lambda status: _RANK[status])
    return "amber" if worst == "no_data" else worst
