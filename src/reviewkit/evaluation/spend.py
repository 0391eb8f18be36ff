"""Spend against budget: the month, year-to-date and full-year figures the monthly and quarterly
packs show, as pure functions of the loaded :class:`~reviewkit.inputs.spend.SpendLine` rows.

Variance is ``actual - budget`` (positive means overspend) and its percentage is of the budget.
Status (:func:`spend_status`), by the params file's ``spend_thresholds``
(:class:`SpendRules`): ``green`` within budget, or over it by no more than ``materiality``
percent; ``amber`` over by at most ``amber`` percent (default 5, :data:`AMBER_TOLERANCE`);
``red`` over by more (any overspend of a zero budget is red); ``no_data`` without a budget or
an actual. A line a catalog KPI measures (its ``spend_line``) takes that KPI's status rule, so
the KPI and the table state one variance and one status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from reviewkit.evaluation.evaluate import rag_status
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.spend import TOTAL, SpendLine, period_label

SpendStatus = Literal["green", "amber", "red", "no_data"]
ForecastSource = Literal["explicit", "derived", "mixed", "none"]

#: Overspend up to this fraction of the budget is amber; more is red (without a params rule).
AMBER_TOLERANCE = 0.05


@dataclass(frozen=True)
class SpendRules:
    """How a line's variance is judged: an overspend up to ``materiality`` (a fraction of the
    budget) is within budget, up to ``amber`` at risk, more off track; a line a KPI measures
    (``kpis``: line name → KPI) is judged by that KPI's target and amber, in percent."""

    materiality: float = 0.0
    amber: float = AMBER_TOLERANCE
    kpis: Mapping[str, Kpi] = field(default_factory=dict)

    def for_line(self, line: str) -> SpendRules:
        """The rule of one line: its KPI's, when a KPI measures it, else the general one."""
        kpi = self.kpis.get(line)
        return SpendRules(self.materiality, self.amber, {line: kpi} if kpi else {})

    def status(self, budget: float | None, actual: float | None) -> SpendStatus:
        if budget is None or actual is None:
            return "no_data"
        if self.kpis:
            (kpi,) = self.kpis.values()
            _, pct = variance(budget, actual)
            if pct is not None:
                cadence = kpi.cadences[0]
                return rag_status(round(pct, 9), kpi.target_for(cadence),
                                  kpi.amber_for(cadence), kpi.direction)
        if actual <= budget * (1 + self.materiality) + 1e-9:
            return "green"
        if actual <= budget * (1 + self.amber) + 1e-9:
            return "amber"
        return "red"


def spend_rules(materiality_pct: float, amber_pct: float, kpis: Iterable[Kpi]) -> SpendRules:
    """The rules from the params file's ``spend_thresholds`` (in percent) and the catalog's
    KPIs that measure a spend line."""
    return SpendRules(materiality_pct / 100, amber_pct / 100,
                      {kpi.spend_line: kpi for kpi in kpis if kpi.spend_line})


class Figures(BaseModel):
    """Budget against actual (or full-year forecast) with the variance and its status."""

    model_config = ConfigDict(frozen=True)

    budget: float | None
    actual: float | None
    variance: float | None
    variance_pct: float | None
    status: SpendStatus


class CategorySpend(BaseModel):
    """One category (or the total): the pack's period (a month, or a quarter's months to
    date), the year to date and the full year.

    ``full_year.actual`` is the full-year forecast; ``forecast_source`` says whether it is the
    file's ``forecast`` (``explicit``) or actual year-to-date plus the remaining months' budget
    (``derived``); ``budget_months_assumed`` counts months at the end of the year with no row,
    whose budget is taken to equal the category's latest monthly budget (flat phasing).
    """

    model_config = ConfigDict(frozen=True)

    category: str
    current: Figures
    ytd: Figures
    full_year: Figures
    forecast_source: ForecastSource
    forecast_period: str | None = None
    budget_months_assumed: int = 0
    note: str = ""


class SpendSummary(BaseModel):
    """Every category and the total up to one month, categories in file order."""

    model_config = ConfigDict(frozen=True)

    period: str  # the latest month counted, YYYY-MM: the latest with an actual
    first_month: str  # the first month of the pack's period (``period`` for a monthly pack)
    year_start: str
    categories: list[CategorySpend]
    total: CategorySpend
    #: The months of the pack's period the figures count (those with an actual): October
    #: alone when November's actuals are not in yet, though the quarter runs to 20 November.
    months: list[str] = []
    #: An overspend up to this share of the budget is within budget (the params file's
    #: ``spend_thresholds``), and up to ``amber`` at risk.
    materiality: float = 0.0
    amber: float = AMBER_TOLERANCE
    #: Lines a catalog KPI measures: line → the KPI's id (their status is the KPI's rule).
    kpi_lines: dict[str, str] = {}
    #: Those lines' limits in percent of budget: (up to here within, up to here at risk).
    kpi_limits: dict[str, tuple[float, float]] = {}

    def limits(self, line: str) -> tuple[float, float]:
        """A line's limits in percent of its budget: an overspend up to the first is within
        budget, up to the second at risk, beyond it off track."""
        if line in self.kpi_limits:
            return self.kpi_limits[line]
        return 100 * self.materiality, 100 * self.amber


def year_months(period: str | dt.date, year_start_month: int = 1) -> list[str]:
    """The twelve months of the (financial) year that contains ``period``, in order."""
    label = period_label(period)
    year, month = int(label[:4]), int(label[5:])
    first_year = year if month >= year_start_month else year - 1
    months = []
    for offset in range(12):
        index = year_start_month - 1 + offset
        months.append(f"{first_year + index // 12:04d}-{index % 12 + 1:02d}")
    return months


def variance(budget: float | None, actual: float | None) -> tuple[float | None, float | None]:
    """``actual - budget`` and that as a percentage of the budget (None for a zero budget)."""
    if budget is None or actual is None:
        return None, None
    amount = actual - budget
    return amount, (100 * amount / budget if budget else None)


def spend_status(budget: float | None, actual: float | None,
                 rules: SpendRules | None = None) -> SpendStatus:
    """By ``rules`` (default: any overspend is amber up to 5% of budget, red beyond)."""
    return (rules or SpendRules()).status(budget, actual)


def figures(budget: float | None, actual: float | None,
            rules: SpendRules | None = None) -> Figures:
    amount, pct = variance(budget, actual)
    return Figures(budget=budget, actual=actual, variance=amount, variance_pct=pct,
                   status=spend_status(budget, actual, rules))


def categories(lines: Iterable[SpendLine]) -> list[str]:
    """Categories in the order they first appear."""
    return list(dict.fromkeys(line.category for line in lines))


def latest_period(lines: Iterable[SpendLine]) -> str | None:
    """The latest month with an actual, or None."""
    periods = [line.period for line in lines if line.actual is not None]
    return max(periods) if periods else None


def _figure_rows(lines: Iterable[SpendLine], category: str) -> dict[str, SpendLine]:
    return {
        line.period: line
        for line in lines
        if line.category == category and (line.budget is not None or line.actual is not None)
    }


def month_spend(lines: Sequence[SpendLine], period: str | dt.date,
                rules: SpendRules | None = None) -> dict[str, Figures]:
    """Each category's budget and actual for one month (``no_data`` without a row)."""
    label = period_label(period)
    rules = rules or SpendRules()
    result: dict[str, Figures] = {}
    for category in categories(lines):
        row = _figure_rows(lines, category).get(label)
        result[category] = figures(row.budget if row else None, row.actual if row else None,
                                   rules.for_line(category))
    return result


def months_spend(lines: Sequence[SpendLine], first: str, last: str,
                 rules: SpendRules | None = None) -> dict[str, Figures]:
    """Each category's budget and actual summed over the months ``first`` to ``last`` that
    have an actual (like for like, as the year to date); one month is :func:`month_spend`."""
    if first == last:
        return month_spend(lines, last, rules)
    rules = rules or SpendRules()
    result: dict[str, Figures] = {}
    for category in categories(lines):
        closed = [row for month, row in _figure_rows(lines, category).items()
                  if first <= month <= last and row.actual is not None]
        result[category] = (figures(sum(row.budget or 0.0 for row in closed),
                                    sum(row.actual or 0.0 for row in closed),
                                    rules.for_line(category))
                            if closed else figures(None, None))
    return result


def months_with_actuals(lines: Sequence[SpendLine], first: str, last: str) -> list[str]:
    """The months ``first`` to ``last`` for which some line has an actual, in order."""
    return sorted({line.period for line in lines
                   if first <= line.period <= last and line.actual is not None})


def ytd_spend(
    lines: Sequence[SpendLine], period: str | dt.date, year_start_month: int = 1,
    rules: SpendRules | None = None,
) -> dict[str, Figures]:
    """Year to date, up to and including ``period``: sums over the months that have an actual
    (a month without its actual counts neither its budget nor its actual: like for like)."""
    label = period_label(period)
    rules = rules or SpendRules()
    months = [m for m in year_months(label, year_start_month) if m <= label]
    result: dict[str, Figures] = {}
    for category in categories(lines):
        rows = _figure_rows(lines, category)
        closed = [rows[m] for m in months if m in rows and rows[m].actual is not None]
        if not closed:
            result[category] = figures(None, None)
            continue
        budget = sum(row.budget or 0.0 for row in closed)
        actual = sum(row.actual or 0.0 for row in closed)
        result[category] = figures(budget, actual, rules.for_line(category))
    return result


def full_year_forecast(
    lines: Sequence[SpendLine], period: str | dt.date, year_start_month: int = 1,
    rules: SpendRules | None = None,
) -> dict[str, CategorySpend]:
    """Each category's full-year budget and forecast as of ``period`` (only ``full_year`` and
    the forecast fields are meaningful in the result; see :func:`summarise_spend`).

    The forecast is the category's latest ``forecast`` in the year up to ``period``; without
    one, it is derived: every month of the year up to ``period`` with an actual counts its
    actual, every other month its budget. The full-year budget is the sum of the year's monthly
    budgets; months after the category's last row take its latest budget (flat phasing).
    """
    label = period_label(period)
    rules = rules or SpendRules()
    months = year_months(label, year_start_month)
    result: dict[str, CategorySpend] = {}
    for category in categories(lines):
        rows = _figure_rows(lines, category)
        budgets: dict[str, float] = {}
        latest_budget: float | None = None
        assumed = 0
        for month in months:
            row = rows.get(month)
            if row is not None and row.budget is not None:
                latest_budget = row.budget
                budgets[month] = row.budget
        last_row_month = max((m for m in months if m in budgets), default=None)
        if last_row_month is not None and latest_budget is not None:
            for month in months:
                if month > last_row_month:
                    budgets[month] = latest_budget
                    assumed += 1
        full_budget = sum(budgets.values()) if budgets else None
        explicit = [
            line
            for line in lines
            if line.category == category and line.forecast is not None
            and line.period in months and line.period <= label
        ]
        source: ForecastSource
        forecast: float | None
        forecast_period: str | None = None
        if explicit:
            chosen = max(explicit, key=lambda line: line.period)
            forecast, source, forecast_period = chosen.forecast, "explicit", chosen.period
        elif budgets or rows:
            forecast = 0.0
            for month in months:
                row = rows.get(month)
                if month <= label and row is not None and row.actual is not None:
                    forecast += row.actual
                else:
                    forecast += budgets.get(month, 0.0)
            source = "derived"
        else:
            forecast, source = None, "none"
        result[category] = CategorySpend(
            category=category,
            current=figures(None, None),
            ytd=figures(None, None),
            full_year=figures(full_budget, forecast, rules.for_line(category)),
            forecast_source=source,
            forecast_period=forecast_period,
            budget_months_assumed=assumed,
        )
    return result


def summarise_spend(
    lines: Sequence[SpendLine], period: str | dt.date, year_start_month: int = 1,
    period_start: str | dt.date | None = None, rules: SpendRules | None = None,
) -> SpendSummary:
    """The pack period's, year-to-date and full-year figures per category, and the total, up
    to the latest month up to ``period`` with an actual. The pack's period runs from the month
    of ``period_start`` (default: that month itself, a monthly pack): a quarter's months to
    date that have actuals.

    The total's figures are the sums over the categories that have them, with the status rules
    applied to the sums.
    """
    rules = rules or SpendRules()
    asked = period_label(period)
    first = period_label(period_start) if period_start is not None else asked
    counted = months_with_actuals(lines, first, asked)
    # The latest month with actuals is the one the figures run to (a quarter to 20 November
    # without November's actuals runs to October, and says so).
    label = counted[-1] if counted else asked
    first = first if period_start is not None else label
    month = months_spend(lines, first, label, rules)
    ytd = ytd_spend(lines, label, year_start_month, rules)
    year = full_year_forecast(lines, label, year_start_month, rules)
    notes = {line.category: line.note for line in lines if line.period == label and line.note}
    rows = [
        year[category].model_copy(
            update={"current": month[category], "ytd": ytd[category],
                    "note": notes.get(category, "")}
        )
        for category in categories(lines)
    ]
    sources = {row.forecast_source for row in rows if row.forecast_source != "none"}
    total_source: ForecastSource = (
        "none" if not sources else sources.pop() if len(sources) == 1 else "mixed"
    )
    total_rules = rules.for_line(TOTAL)
    total = CategorySpend(
        category=TOTAL,
        current=_sum((row.current for row in rows), total_rules),
        ytd=_sum((row.ytd for row in rows), total_rules),
        full_year=_sum((row.full_year for row in rows), total_rules),
        forecast_source=total_source,
        budget_months_assumed=max((row.budget_months_assumed for row in rows), default=0),
    )
    return SpendSummary(
        period=label,
        first_month=first,
        year_start=year_months(label, year_start_month)[0],
        categories=rows,
        total=total,
        months=[m for m in counted if m <= label] or [label],
        materiality=rules.materiality,
        amber=rules.amber,
        kpi_lines={line: kpi.id for line, kpi in rules.kpis.items()},
        kpi_limits={line: _kpi_limits(kpi) for line, kpi in rules.kpis.items()},
    )


def _kpi_limits(kpi: Kpi) -> tuple[float, float]:
    cadence = kpi.cadences[0]
    target, amber = kpi.target_for(cadence), kpi.amber_for(cadence)
    return target, target if amber is None else amber


def _sum(parts: Iterable[Figures], rules: SpendRules | None = None) -> Figures:
    known = [part for part in parts if part.budget is not None and part.actual is not None]
    if not known:
        return figures(None, None)
    return figures(sum(p.budget or 0.0 for p in known), sum(p.actual or 0.0 for p in known),
                   rules)
