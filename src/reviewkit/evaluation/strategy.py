"""The business and strategy views of the longer packs: initiatives, benefits, spend, strategic
priorities, year to date and the outlook. Each is prepared only when the cadence asks for it
(:attr:`reviewkit.cadences.Cadence.strategy`), from the optional inputs the params file names;
every section says so when its input is not configured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from reviewkit import cadences
from reviewkit.cadences import Cadence
from reviewkit.evaluation.actions import point_at
from reviewkit.evaluation.benefits import BenefitAssessment, assess_benefit
from reviewkit.evaluation.evaluate import Evaluation, combine
from reviewkit.evaluation.forecast import (
    Forecast,
    QuarterOutlook,
    forecast_kpi,
    monthly_series,
    quarter_outlook,
)
from reviewkit.evaluation.grain import cadence_days, coverage_of, shortest_cadence
from reviewkit.evaluation.priorities import PriorityProgress, priority_progress
from reviewkit.evaluation.rollup import YearToDate, year_to_date
from reviewkit.evaluation.spend import SpendSummary, spend_rules, summarise_spend
from reviewkit.formatting import Currency
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.loaded import Inputs
from reviewkit.inputs.measurements import Observation
from reviewkit.inputs.portfolio import Benefit, Initiative, ScheduleState
from reviewkit.inputs.priorities import KeyResult, StrategicPriority
from reviewkit.periods import Period, period_containing

#: Schedule states in the order packs count them.
SCHEDULE_STATES: tuple[ScheduleState, ...] = ("on_time", "at_risk", "late", "finished",
                                              "cancelled")


@dataclass(frozen=True)
class BenefitView:
    benefit: Benefit
    assessment: BenefitAssessment
    initiative: Initiative | None
    kpi_name: str | None
    #: What the realized value of a KPI's benefit is: "week to 20 Nov 2026" (the KPI at its
    #: data's own grain, the same in every pack built from the same data).
    measured: str = ""


@dataclass(frozen=True)
class Outlook:
    """A headline KPI's forecast, the monthly history it was fitted on (for its chart), and
    the same forecast in quarters (what the quarterly pack prints)."""

    forecast: Forecast
    history: tuple[tuple[Period, float | None], ...]
    quarterly: QuarterOutlook
    #: The last month of the history is in progress: its value so far (a level), or that pace
    #: for the whole month (a sum, pro rata).
    partial_month: bool = False


@dataclass(frozen=True)
class Strategy:
    """Everything beyond the KPI scorecard that a monthly or quarterly pack shows."""

    as_of: dt.date
    initiatives: tuple[Initiative, ...] | None = None
    benefits: tuple[BenefitView, ...] | None = None
    spend: SpendSummary | None = None
    priorities: tuple[tuple[StrategicPriority, PriorityProgress], ...] | None = None
    outlooks: tuple[Outlook, ...] = ()
    ytd: dict[str, YearToDate] = field(default_factory=dict)
    #: The money of the initiatives, benefits and spend files (the params file says which).
    currency: Currency = field(default_factory=Currency)

    @property
    def forecasts(self) -> list[Forecast]:
        return [outlook.forecast for outlook in self.outlooks]

    def schedule_of(self, initiative: Initiative) -> ScheduleState:
        """An initiative's schedule state as of the day the data runs to: the one rule every
        page, chart and alternative text uses."""
        return initiative.schedule_state_on(self.as_of)

    def schedule_counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(SCHEDULE_STATES, 0)
        for initiative in self.initiatives or ():
            counts[self.schedule_of(initiative)] += 1
        return counts

    def initiatives_for(self, priority_id: str) -> list[Initiative]:
        return [i for i in self.initiatives or () if i.strategic_priority == priority_id]

    def benefits_at_risk(self) -> list[BenefitView]:
        return [view for view in self.benefits or () if view.assessment.state == "at_risk"]


def _latest_values(
    evaluation: Evaluation, inputs: Inputs, end: dt.date
) -> dict[str, tuple[float, dt.date]]:
    """Each KPI's value for benefits and key results: this period's, else its latest before."""
    values: dict[str, tuple[float, dt.date]] = {}
    for result in evaluation.results:
        if result.value is not None:
            values[result.kpi.id] = (result.value, result.current.period.end)
    kpis = inputs.catalog.by_id()
    for kpi_id, rows in inputs.measurements.series.items():
        if kpi_id in values or kpi_id not in kpis:
            continue
        dated = [obs for obs in rows if obs.value is not None and obs.period_end <= end]
        if dated:
            # The latest date's figure: its rows (one per unit) combined as in any period.
            latest = max(obs.period_end for obs in dated)
            value = combine(kpis[kpi_id], [obs for obs in dated if obs.period_end == latest])
            assert value.value is not None
            values[kpi_id] = (value.value, latest)
    return values


def key_result_value(kr: KeyResult, kpis: dict[str, Kpi], evaluation: Evaluation,
                     period: Period, as_of: dt.date,
                     latest: dict[str, tuple[float, dt.date]]) -> tuple[float | None, str]:
    """A key result's value in its own grain, and what it is when that is not the scorecard's
    figure. A summed KPI is read as a rate per the key result's ``per`` cadence (default: the
    KPI's shortest): "complaints under 40 a month" against 105 complaints in 8 of Q4's 13
    weeks reads 57 a month, not 105; a level is the scorecard's figure for the pack's period.
    A KPI the pack does not report takes its latest value."""
    assert kr.kpi is not None
    kpi = kpis[kr.kpi]
    try:
        result = evaluation.result(kr.kpi)
    except KeyError:
        result = None
    if result is None or result.value is None:
        value, day = latest.get(kr.kpi, (None, None))
        return value, (f"latest, {day.day} {day:%b %Y}" if day is not None else "")
    stale = (f"data to {result.data_to.day} {result.data_to:%b %Y}"
             if result.data_to is not None else "")
    if kpi.aggregation != "sum":
        return result.value, stale
    per = kr.per or shortest_cadence(kpi)
    share = result.current.share
    if per == period.cadence and share >= 1:
        return result.value, stale
    days = (period.end - period.start).days + 1
    rate = result.value / share * cadence_days(per) / days if share > 0 else None
    when = period.long_label + (" to date" if as_of < period.end else "")
    return rate, f"a {cadences.rule_of(per).noun}, pro rata over {when}" + (
        f"; {stale}" if stale else "")


def outlook_month(as_of: dt.date) -> Period:
    """The last month an outlook is fitted on: the one holding the day the data runs to, in
    progress or not (its data counts; a sum's partial month counts pro rata)."""
    return period_containing("monthly", as_of)


def outlook_series(kpi: Kpi, rows: Sequence[Observation],
                   as_of: dt.date) -> tuple[list[tuple[Period, float | None]], bool]:
    """A KPI's monthly values for its outlook, up to the month holding ``as_of``, and whether
    that month is in progress. A summed KPI's month in progress counts at its pace so far for
    the whole month (at the grain of its rows: 3 of November's 4 weekly rows make 4/3 of their
    sum), so the latest data is used without reading as a drop."""
    month = outlook_month(as_of)
    series = monthly_series(kpi, rows, as_of)
    partial = as_of < month.end
    if partial and kpi.aggregation == "sum" and series and series[-1][1] is not None:
        share = coverage_of(rows).share(month.start, month.end, as_of)
        last, value = series[-1]
        if 0 < share < 1 and value is not None:
            series[-1] = (last, value / share)
    return series, partial
def _zeros(kpi: Kpi, series: list[tuple[Period, float | None]],
           ) -> list[tuple[Period, float | None]]:
    """A count of events (``absent: zero``) is 0 in a month without rows from the day its data
    begins, as in the pack's own periods."""
    if not kpi.counts_absent_as_zero or kpi.data_from is None:
        return series
    start = kpi.data_from
    return [(month, 0.0 if value is None and month.end >= start else value)
            for month, value in series]


def prepare_strategy(
    cadence: Cadence,
    inputs: Inputs,
    evaluation: Evaluation,
    period: Period,
    headline: tuple[str, ...],
    as_of: dt.date,
) -> Strategy:
    """Evaluate the parts of the strategy view the cadence asks for."""
    latest = _latest_values(evaluation, inputs, as_of)
    initiatives = inputs.initiatives if cadence.wants("initiatives") else None
    benefits = None
    if cadence.wants("benefits") and inputs.benefits is not None:
        by_id = {i.id: i for i in inputs.initiatives or ()}
        names = {kpi.id: kpi.name for kpi in inputs.catalog.kpis}
        views = []
        kpis = inputs.catalog.by_id()
        for benefit in inputs.benefits:
            value: float | None = None
            date: dt.date | None = None
            measured = ""
            if benefit.kpi_id in kpis:
                point = point_at(kpis[benefit.kpi_id],
                                 inputs.measurements.series.get(benefit.kpi_id, []), as_of)
                value, date, measured = point.value, point.day, point.label
            views.append(BenefitView(benefit, assess_benefit(benefit, as_of, value, date),
                                     by_id.get(benefit.initiative_id),
                                     names.get(benefit.kpi_id or ""),
                                     measured if value is not None else ""))
        benefits = tuple(views)
    year_start_month = inputs.params.values.year_start_month
    spend = None
    if cadence.wants("spend") and inputs.spend is not None:
        thresholds = inputs.params.values.spend_thresholds
        spend = summarise_spend(inputs.spend, as_of, year_start_month,
                                period_start=period.start,
                                rules=spend_rules(thresholds.materiality, thresholds.amber,
                                                  inputs.catalog.kpis))
    priorities = None
    if cadence.wants("priorities") and inputs.priorities is not None:
        plain = {kpi_id: value for kpi_id, (value, _) in latest.items()}

        def value_of(kr: KeyResult) -> tuple[float | None, str]:
            return key_result_value(kr, inputs.catalog.by_id(), evaluation, period, as_of,
                                    latest)

        priorities = tuple((p, priority_progress(p, plain, as_of, value_of))
                           for p in inputs.priorities)
    ytd = {}
    if cadence.wants("year_to_date"):
        for result in evaluation.results:
            ytd[result.kpi.id] = year_to_date(
                result.kpi, period, inputs.measurements.series.get(result.kpi.id, []),
                as_of=as_of, first_month=year_start_month,
            )
    outlooks = []
    if cadence.wants("outlook"):
        kpis_by_id = inputs.catalog.by_id()
        for kpi_id in headline:
            kpi = kpis_by_id[kpi_id]
            series, partial = outlook_series(kpi, inputs.outlook_rows_of(kpi_id), as_of)
            series = _zeros(kpi, series)
            forecast = forecast_kpi(kpi, series)
            # The outlook speaks in quarters: a pack of quarters starts it from its own quarter
            # as the scorecard states it.
            quarters = period.rule.unit == "months" and period.rule.length == 3
            now = evaluation.result(kpi_id).current if quarters else None
            outlooks.append(Outlook(forecast, tuple(series),
                                    quarter_outlook(kpi, forecast, series, now, as_of),
                                    partial))
    return Strategy(as_of=as_of, initiatives=initiatives, benefits=benefits, spend=spend,
                    priorities=priorities, outlooks=tuple(outlooks), ytd=ytd,
                    currency=inputs.params.values.currency.currency)
