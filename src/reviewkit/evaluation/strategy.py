"""The business and strategy views of the monthly and quarterly packs: initiatives, benefits,
spend, strategic priorities, year to date and the outlook. Prepared once per build from the
optional inputs; every section says so when its input is not configured.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reviewkit.periods import Period, period_containing
from reviewkit.evaluation.rollup import YearToDate, year_to_date

if TYPE_CHECKING:
    from reviewkit.inputs.catalog import Catalog
    from reviewkit.evaluation.evaluate import Evaluation
    from reviewkit.evaluation.forecast import Forecast
    from reviewkit.inputs.measurements import Measurements
    from reviewkit.inputs.params import LoadedParams
    from reviewkit.inputs.portfolio import Benefit, BenefitAssessment, Initiative
    from reviewkit.inputs.priorities import PriorityProgress, StrategicPriority
    from reviewkit.inputs.spend import SpendLine, SpendSummary


@dataclass
class BenefitView:
    benefit: Benefit
    assessment: BenefitAssessment
    initiative: Initiative | None
    kpi_name: str | None


@dataclass
class Strategy:
    """Everything beyond the KPI scorecard that a monthly or quarterly pack shows."""

    initiatives: list[Initiative] | None = None
    benefits: list[BenefitView] | None = None
    spend: SpendSummary | None = None
    priorities: list[tuple[StrategicPriority, PriorityProgress]] | None = None
    forecasts: list[Forecast] = field(default_factory=list)
    ytd: dict[str, YearToDate] = field(default_factory=dict)
    as_of: dt.date | None = None

    def schedule_counts(self) -> dict[str, int]:
        counts = {"on_time": 0, "at_risk": 0, "late": 0, "cancelled": 0}
        for initiative in self.initiatives or []:
            counts[initiative.schedule_state_on(self.as_of)] += 1
        return counts

    def initiatives_for(self, priority_id: str) -> list[Initiative]:
        return [i for i in self.initiatives or [] if i.strategic_priority == priority_id]

    def benefits_at_risk(self) -> list[BenefitView]:
        return [view for view in self.benefits or [] if view.assessment.state == "at_risk"]


def _latest_values(
    evaluation: Evaluation, measurements: Measurements, end: dt.date
) -> dict[str, tuple[float, dt.date]]:
    """Each KPI's value for benefits and key results: this period's, else its latest before."""
    values: dict[str, tuple[float, dt.date]] = {}
    for result in evaluation.results:
        if result.value is not None:
            values[result.kpi.id] = (result.value, result.current.period.end)
    for kpi_id, rows in measurements.series.items():
        if kpi_id in values:
            continue
        dated = [obs for obs in rows if obs.value is not None and obs.period_end <= end]
        if dated:
            last = max(dated, key=lambda obs: obs.period_end)
            assert last.value is not None
            values[kpi_id] = (last.value, last.period_end)
    return values


def last_complete_month(as_of: dt.date) -> Period:
    """Forecasts start from the last whole month: a month in progress understates sums."""
    month = period_containing("monthly", as_of)
    return month if month.end <= as_of else month.previous()


@dataclass
class OptionalInputs:
    """The monthly and quarterly inputs a params file names, loaded and cross-checked."""

    initiatives: list[Initiative] | None = None
    benefits: list[Benefit] | None = None
    spend: list[SpendLine] | None = None
    priorities: list[StrategicPriority] | None = None

    def describe(self) -> list[str]:
        return [f"{name} ({len(items)})" for name, items in (
            ("initiatives", self.initiatives), ("benefits", self.benefits),
            ("spend rows", self.spend), ("priorities", self.priorities)) if items is not None]


def load_optional_inputs(params: LoadedParams, catalog: Catalog) -> OptionalInputs:
    """Load every optional input named in the params file and check their references."""
    from reviewkit.inputs.portfolio import check_benefits, check_initiatives, load_benefits, load_initiatives

    values = params.values
    kpi_ids = {kpi.id for kpi in catalog.kpis}
    inputs = OptionalInputs()
    if values.priorities is not None:
        from reviewkit.inputs.priorities import load_priorities

        inputs.priorities = load_priorities(values.priorities, kpi_ids)
    if values.initiatives is not None:
        inputs.initiatives = load_initiatives(values.initiatives)
        priority_ids = ({p.id for p in inputs.priorities} if inputs.priorities is not None
                        else None)
        check_initiatives(inputs.initiatives, kpi_ids, priority_ids)
    if values.benefits is not None:
        inputs.benefits = load_benefits(values.benefits)
        check_benefits(inputs.benefits, inputs.initiatives, kpi_ids)
    if values.spend is not None:
        from reviewkit.inputs.spend import load_spend

        inputs.spend = load_spend(values.spend)
    return inputs


def prepare_strategy(
    cadence: str,
    params: LoadedParams,
    catalog: Catalog,
    measurements: Measurements,
    evaluation: Evaluation,
    period: Period,
    headline: list[str],
    as_of: dt.date,
) -> Strategy:
    """Load the optional inputs (checked against the catalog and each other) and evaluate them."""
    from reviewkit.inputs.portfolio import assess_benefit

    strategy = Strategy(as_of=as_of)
    inputs = load_optional_inputs(params, catalog)
    priorities = inputs.priorities
    strategy.initiatives = inputs.initiatives
    latest = _latest_values(evaluation, measurements, as_of)
    if inputs.benefits is not None:
        benefits = inputs.benefits
        by_id = {i.id: i for i in strategy.initiatives or []}
        names = {kpi.id: kpi.name for kpi in catalog.kpis}
        strategy.benefits = []
        for benefit in benefits:
            value, date = latest.get(benefit.kpi_id or "", (None, None))
            assessment = assess_benefit(benefit, as_of, value, date)
            strategy.benefits.append(BenefitView(benefit, assessment,
                                                 by_id.get(benefit.initiative_id),
                                                 names.get(benefit.kpi_id or "")))
    if inputs.spend is not None:
        from reviewkit.inputs.spend import summarise_spend

        strategy.spend = summarise_spend(inputs.spend, as_of)
    if priorities is not None:
        from reviewkit.inputs.priorities import priority_progress

        plain = {kpi_id: value for kpi_id, (value, _) in latest.items()}
        strategy.priorities = [(p, priority_progress(p, plain)) for p in priorities]
    if cadence in ("monthly", "quarterly"):
        for result in evaluation.results:
            strategy.ytd[result.kpi.id] = year_to_date(
                result.kpi, period, measurements.series.get(result.kpi.id, [])
            )
    if cadence == "quarterly":
        from reviewkit.evaluation.forecast import forecast_kpi, monthly_series

        start = last_complete_month(as_of)
        kpis_by_id = {kpi.id: kpi for kpi in catalog.kpis}
        for kpi_id in headline:
            kpi = kpis_by_id[kpi_id]
            series = monthly_series(kpi, measurements.series.get(kpi_id, []), start)
            strategy.forecasts.append(forecast_kpi(kpi, series))
    return strategy
