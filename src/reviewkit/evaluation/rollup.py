"""Longer views for the monthly and quarterly packs: year to date, a year ago, and the overall
status of a balanced-scorecard perspective. Pure functions, like :mod:`.evaluate`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from reviewkit.evaluation.evaluate import (
    KpiResult,
    PeriodValue,
    Status,
    combine,
    like_for_like,
    period_target,
    rag_status,
)
from reviewkit.inputs.catalog import Kpi, as_written
from reviewkit.inputs.measurements import Observation
from reviewkit.periods import Period


@dataclass(frozen=True)
class YearToDate:
    """A KPI from the first day of the (financial) year to the day the data runs to, against
    its year-to-date target."""

    start: dt.date
    end: dt.date
    value: float | None
    target: float
    amber: float | None
    status: Status
    periods: float  # periods of the cadence elapsed in the year (a period in progress in part)


def year_start(day: dt.date, first_month: int = 1) -> dt.date:
    """The first day of the year holding ``day``, for a year that starts in ``first_month``."""
    year = day.year if day.month >= first_month else day.year - 1
    return dt.date(year, first_month, 1)


def periods_elapsed(period: Period, as_of: dt.date | None = None, first_month: int = 1) -> float:
    """Periods of the cadence from the start of the year to ``as_of`` (default: the end of
    ``period``): each period counts the share of its days inside that span."""
    end = min(period.end, as_of) if as_of is not None else period.end
    start = year_start(period.end, first_month)
    elapsed = 0.0
    current = period
    while current.end >= start:
        first, last = max(current.start, start), min(current.end, end)
        if last >= first:
            days = (current.end - current.start).days + 1
            elapsed += ((last - first).days + 1) / days
        current = current.previous()
    return elapsed


def year_to_date(kpi: Kpi, period: Period, observations: Sequence[Observation], *,
                 as_of: dt.date | None = None, first_month: int = 1) -> YearToDate:
    """Aggregate every measurement from the start of the year to the period end by the KPI's
    rule (the year starts in ``first_month``: 7 for a July-June financial year).

    For a ``sum`` KPI the target (and amber) scale with the periods elapsed: eight P1 incidents
    a month means forty by the end of May, and a month half gone counts half. Other rules keep
    the period's target: the one its rows set, as the period's own figure is judged, else the
    catalog's.
    """
    start = year_start(period.end, first_month)
    value = combine(kpi, [obs for obs in observations
                          if start <= obs.period_end <= period.end]).value
    elapsed = periods_elapsed(period, as_of, first_month)
    if kpi.aggregation == "sum":
        target = as_written(kpi.target_for(period.cadence) * elapsed)
        amber = kpi.amber_for(period.cadence)
        amber = as_written(amber * elapsed) if amber is not None else None
    else:
        target, amber, _ = period_target(kpi, period.cadence, [
            obs for obs in observations if period.start <= obs.period_end <= period.end])
    return YearToDate(start, min(period.end, as_of or period.end), value, target, amber,
                      rag_status(value, target, amber, kpi.direction), elapsed)


def year_ago(result: KpiResult) -> PeriodValue | None:
    """The same period a year earlier, when the history reaches back that far; for a summed
    KPI whose current period is partly covered (in progress), the same share of it
    (:func:`like_for_like`: 105 complaints in 8 of 13 weeks compare with 8/13 of a year ago)."""
    steps = result.current.period.rule.per_year
    if len(result.history) <= steps:
        return None
    return like_for_like(result.kpi, result.history[-1 - steps], result.current.share)


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
