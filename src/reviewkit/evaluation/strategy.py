"""The business and strategy views of the longer packs: initiatives, benefits, spend, strategic
priorities, year to date and the outlook. Each is prepared only when the cadence asks for it
(:attr:`reviewkit.cadences.Cadence.strategy`), from the optional inputs the params file names;
every section says so when its input is not configured.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from reviewkit.cadences import Cadence
from reviewkit.evaluation.benefits import BenefitAssessment, assess_benefit
from reviewkit.evaluation.evaluate import Evaluation
from reviewkit.evaluation.forecast import (
    Forecast,
    QuarterOutlook,
    forecast_kpi,
    monthly_series,
    quarter_outlook,
)
from reviewkit.evaluation.priorities import PriorityProgress, priority_progress
from reviewkit.evaluation.rollup import YearToDate, year_to_date
from reviewkit.evaluation.spend import SpendSummary, summarise_spend
from reviewkit.formatting import Currency
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.loaded import Inputs
from reviewkit.inputs.portfolio import Benefit, Initiative
from reviewkit.inputs.priorities import StrategicPriority
from reviewkit.periods import Period, period_containing


@dataclass(frozen=True)
class BenefitView:
    benefit: Benefit
    assessment: BenefitAssessment
    initiative: Initiative | None
    kpi_name: str | None


@dataclass(frozen=True)
class Outlook:
    """A headline KPI's forecast, the monthly history it was fitted on (for its chart), and
    the same forecast in quarters (what the quarterly pack prints)."""

    forecast: Forecast
    history: tuple[tuple[Period, float | None], ...]
    quarterly: QuarterOutlook


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

    def schedule_counts(self) -> dict[str, int]:
        counts = {"on_time": 0, "at_risk": 0, "late": 0, "cancelled": 0}
        for initiative in self.initiatives or ():
            counts[initiative.schedule_state_on(self.as_of)] += 1
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
    for kpi_id, rows in inputs.measurements.series.items():
        if kpi_id in values:
            continue
        dated = [obs for obs in rows if obs.value is not None and obs.period_end <= end]
        if dated:
            last = max(dated, key=lambda obs: obs.period_end)
            assert last.value is not None
            values[kpi_id] = (last.value, last.period_end)
    return values


def _zeros(kpi: Kpi, series: list[tuple[Period, float | None]],
           ) -> list[tuple[Period, float | None]]:
    """A count of events (``absent: zero``) is 0 in a month without rows from the day its data
    begins, as in the pack's own periods."""
    if not kpi.counts_absent_as_zero or kpi.data_from is None:
        return series
    start = kpi.data_from
    return [(month, 0.0 if value is None and month.end >= start else value)
            for month, value in series]


def last_complete_month(as_of: dt.date) -> Period:
    """Forecasts start from the last whole month: a month in progress understates sums."""
    month = period_containing("monthly", as_of)
    return month if month.end <= as_of else month.previous()


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
        for benefit in inputs.benefits:
            value, date = latest.get(benefit.kpi_id or "", (None, None))
            views.append(BenefitView(benefit, assess_benefit(benefit, as_of, value, date),
                                     by_id.get(benefit.initiative_id),
                                     names.get(benefit.kpi_id or "")))
        benefits = tuple(views)
    year_start_month = inputs.params.values.year_start_month
    spend = None
    if cadence.wants("spend") and inputs.spend is not None:
        spend = summarise_spend(inputs.spend, as_of, year_start_month,
                                period_start=period.start)
    priorities = None
    if cadence.wants("priorities") and inputs.priorities is not None:
        plain = {kpi_id: value for kpi_id, (value, _) in latest.items()}
        priorities = tuple((p, priority_progress(p, plain)) for p in inputs.priorities)
    ytd = {}
    if cadence.wants("year_to_date"):
        for result in evaluation.results:
            ytd[result.kpi.id] = year_to_date(
                result.kpi, period, inputs.measurements.series.get(result.kpi.id, []),
                as_of=as_of, first_month=year_start_month,
            )
    outlooks = []
    if cadence.wants("outlook"):
        start = last_complete_month(as_of)
        kpis_by_id = inputs.catalog.by_id()
        for kpi_id in headline:
            kpi = kpis_by_id[kpi_id]
            series = _zeros(kpi, monthly_series(kpi, inputs.outlook_series(kpi_id), start))
            forecast = forecast_kpi(kpi, series)
            outlooks.append(Outlook(forecast, tuple(series),
                                    quarter_outlook(kpi, forecast, series)))
    return Strategy(as_of=as_of, initiatives=initiatives, benefits=benefits, spend=spend,
                    priorities=priorities, outlooks=tuple(outlooks), ytd=ytd,
                    currency=inputs.params.values.currency.currency)
