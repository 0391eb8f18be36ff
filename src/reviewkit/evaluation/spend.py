"""Spend against budget: the month, year-to-date and full-year figures the monthly and quarterly
packs show, as pure functions of the loaded :class:`~reviewkit.inputs.spend.SpendLine` rows.

Variance is ``actual - budget`` (positive means overspend) and its percentage is of the budget.
Status (:func:`spend_status`): ``green`` within budget (actual <= budget); ``amber`` over budget
by at most 5% (:data:`AMBER_TOLERANCE`); ``red`` over by more than 5% (any overspend of a zero
budget is red); ``no_data`` without a budget or an actual.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from reviewkit.inputs.spend import SpendLine, period_label

SpendStatus = Literal["green", "amber", "red", "no_data"]
ForecastSource = Literal["explicit", "derived", "mixed", "none"]

#: Overspend up to this fraction of the budget is amber; more is red.
AMBER_TOLERANCE = 0.05


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

    period: str  # the latest month counted, YYYY-MM
    first_month: str  # the first month of the pack's period (``period`` for a monthly pack)
    year_start: str
    categories: list[CategorySpend]
    total: CategorySpend


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


def spend_status(budget: float | None, actual: float | None) -> SpendStatus:
    """green: actual <= budget; amber: over by at most 5% of budget; red: over by more."""
    if budget is None or actual is None:
        return "no_data"
    if actual <= budget + 1e-9:
        return "green"
    if actual <= budget * (1 + AMBER_TOLERANCE) + 1e-9:
        return "amber"
    return "red"


def figures(budget: float | None, actual: float | None) -> Figures:
    amount, pct = variance(budget, actual)
    return Figures(budget=budget, actual=actual, variance=amount, variance_pct=pct,
                   status=spend_status(budget, actual))


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


def month_spend(lines: Sequence[SpendLine], period: str | dt.date) -> dict[str, Figures]:
    """Each category's budget and actual for one month (``no_data`` without a row)."""
    label = period_label(period)
    result: dict[str, Figures] = {}
    for category in categories(lines):
        row = _figure_rows(lines, category).get(label)
        result[category] = figures(row.budget if row else None, row.actual if row else None)
    return result


def months_spend(lines: Sequence[SpendLine], first: str, last: str) -> dict[str, Figures]:
    """Each category's budget and actual summed over the months ``first`` to ``last`` that
    have an actual (like for like, as the year to date); one month is :func:`month_spend`."""
    if first == last:
        return month_spend(lines, last)
    result: dict[str, Figures] = {}
    for category in categories(lines):
        closed = [row for month, row in _figure_rows(lines, category).items()
                  if first <= month <= last and row.actual is not None]
        result[category] = (figures(sum(row.budget or 0.0 for row in closed),
                                    sum(row.actual or 0.0 for row in closed))
                            if closed else figures(None, None))
    return result


def ytd_spend(
    lines: Sequence[SpendLine], period: str | dt.date, year_start_month: int = 1
) -> dict[str, Figures]:
    """Year to date, up to and including ``period``: sums over the months that have an actual
    (a month without its actual counts neither its budget nor its actual: like for like)."""
    label = period_label(period)
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
        result[category] = figures(budget, actual)
    return result


def full_year_forecast(
    lines: Sequence[SpendLine], period: str | dt.date, year_start_month: int = 1
) -> dict[str, CategorySpend]:
    """Each category's full-year budget and forecast as of ``period`` (only ``full_year`` and
    the forecast fields are meaningful in the result; see :func:`summarise_spend`).

    The forecast is the category's latest ``forecast`` in the year up to ``period``; without
    one, it is derived: every month of the year up to ``period`` with an actual counts its
    actual, every other month its budget. The full-year budget is the sum of the year's monthly
    budgets; months after the category's last row take its latest budget (flat phasing).
    """
    label = period_label(period)
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
            full_year=figures(full_budget, forecast),
            forecast_source=source,
            forecast_period=forecast_period,
            budget_months_assumed=assumed,
        )
    return result


def summarise_spend(
    lines: Sequence[SpendLine], period: str | dt.date, year_start_month: int = 1,
    period_start: str | dt.date | None = None,
) -> SpendSummary:
    """The pack period's, year-to-date and full-year figures per category, and the total, up
    to the month ``period``. The pack's period runs from the month of ``period_start`` (default:
    ``period`` itself, a monthly pack) to ``period``: a quarter's months to date.

    The total's figures are the sums over the categories that have them, with the status rules
    applied to the sums.
    """
    label = period_label(period)
    first = period_label(period_start) if period_start is not None else label
    month = months_spend(lines, first, label)
    ytd = ytd_spend(lines, label, year_start_month)
    year = full_year_forecast(lines, label, year_start_month)
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
    total = CategorySpend(
        category="Total",
        current=_sum(row.current for row in rows),
        ytd=_sum(row.ytd for row in rows),
        full_year=_sum(row.full_year for row in rows),
        forecast_source=total_source,
        budget_months_assumed=max((row.budget_months_assumed for row in rows), default=0),
    )
    return SpendSummary(
        period=label,
        first_month=first,
        year_start=year_months(label, year_start_month)[0],
        categories=rows,
        total=total,
    )


def _sum(parts: Iterable[Figures]) -> Figures:
    known = [part for part in parts if part.budget is not None and part.actual is not None]
    if not known:
        return figures(None, None)
    return figures(sum(p.budget or 0.0 for p in known), sum(p.actual or 0.0 for p in known))
