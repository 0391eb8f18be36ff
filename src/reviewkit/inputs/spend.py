"""Spend against budget: a long table of monthly budget and actual by category.

The file (params key ``spend``, .csv or .xlsx) has one row per month and category:

* ``period`` (``YYYY-MM``; ``YYYY-MM-01``, what Excel stores for a month, is accepted too),
  ``category``, ``budget`` (a number >= 0), ``actual`` (a number; empty for a month that has
  not happened yet, so future months can carry their budget);
* optional ``forecast`` (the category's full-year forecast, usually only on the latest month's
  rows) and ``note``.

A row may carry only a forecast (``budget`` and ``actual`` empty). Two rows for the same period
and category are an error naming both lines, unless one carries only the forecast.

The figures (month, year to date, full year, status) are :mod:`reviewkit.evaluation.spend`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.measurements import Observation
from reviewkit.inputs.table import SourceRow, Table, TableRow, parse_number, parse_text, read_table

SPEND_COLUMNS = ("period", "category", "budget", "actual")
SPEND_OPTIONAL = ("forecast", "note")

_PERIOD = re.compile(r"(\d{4})-(\d{2})(-01)?")


class SpendLine(BaseModel):
    """One validated row: a category's budget, actual and (optionally) full-year forecast."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    category: str = Field(min_length=1)
    budget: float | None = Field(default=None, ge=0)
    actual: float | None = None
    forecast: float | None = None
    note: str = ""
    source: SourceRow | None = Field(default=None, exclude=True, repr=False)

    @property
    def year(self) -> int:
        return int(self.period[:4])

    @property
    def month(self) -> int:
        return int(self.period[5:])


def load_spend(path: str | Path) -> list[SpendLine]:
    """Read and validate a spend table; errors name the file, line and column."""
    table = read_table(path, "spend", SPEND_COLUMNS, SPEND_OPTIONAL)
    lines: list[SpendLine] = []
    seen_figures: dict[tuple[str, str], int] = {}
    seen_forecasts: dict[tuple[str, str], int] = {}
    for row in table.rows:
        line = _spend_line(table, row)
        key = (line.period, line.category)
        has_figures = line.budget is not None or line.actual is not None
        for present, seen in ((has_figures, seen_figures), (line.forecast is not None,
                                                           seen_forecasts)):
            if not present:
                continue
            if key in seen:
                raise table.error(
                    row,
                    f"duplicate row for '{line.category}' in {line.period} (also on "
                    f"{table.row_label} {seen[key]}); keep one",
                    "category",
                )
            seen[key] = row.line
        lines.append(line)
    return lines


def _spend_line(table: Table, row: TableRow) -> SpendLine:
    text = parse_text(table, row, "period")
    match = _PERIOD.fullmatch(text)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise table.error(row, f"{text!r} is not a month; write it as YYYY-MM", "period")
    budget = parse_number(table, row, "budget", required=False, minimum=0)
    actual = parse_number(table, row, "actual", required=False)
    forecast = parse_number(table, row, "forecast", required=False, minimum=0)
    if budget is None and (actual is not None or forecast is None):
        raise table.error(
            row,
            "budget is empty; give the month's budget (only a row that carries just a forecast "
            "may leave budget and actual empty)",
            "budget",
        )
    return SpendLine(
        period=f"{match.group(1)}-{match.group(2)}",
        category=parse_text(table, row, "category"),
        budget=budget,
        actual=actual,
        forecast=forecast,
        note=parse_text(table, row, "note", required=False),
        source=table.source(row),
    )


def period_label(period: str | dt.date) -> str:
    """``YYYY-MM`` for a date (its month) or a ``YYYY-MM`` label (checked)."""
    if isinstance(period, dt.date):
        return f"{period.year:04d}-{period.month:02d}"
    match = _PERIOD.fullmatch(period)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{period!r} is not a month; write it as YYYY-MM")
    return f"{match.group(1)}-{match.group(2)}"


#: The name of the spend table's total line (a KPI's ``spend_line`` may name it).
TOTAL = "Total"


def spend_observations(lines: Sequence[SpendLine], line: str) -> list[Observation]:
    """A spend line's variance to budget in percent, month by month (dated the month's last
    day, weighted by the budget, so a KPI's mean over months is the variance of their sums):
    the values of a KPI whose ``spend_line`` it is."""
    found = []
    for month in sorted({row.period for row in lines if row.actual is not None}):
        rows = [row for row in lines if row.period == month
                and (line == TOTAL or row.category == line)
                and row.budget is not None and row.actual is not None]
        budget = sum(row.budget or 0.0 for row in rows)
        if not rows or budget <= 0:
            continue
        actual = sum(row.actual or 0.0 for row in rows)
        year, number = int(month[:4]), int(month[5:])
        end = dt.date(year + number // 12, number % 12 + 1, 1) - dt.timedelta(days=1)
        found.append(Observation(end, round(100 * (actual - budget) / budget, 9), count=budget))
    return found


def with_spend_kpis(series: dict[str, list[Observation]], kpis: Iterable[Kpi],
                    lines: Sequence[SpendLine]) -> dict[str, list[Observation]]:
    """The measurements with each spend KPI's months from the spend file: a month the spend
    file has an actual for is its figure (the measurement rows of that month are set aside),
    earlier months keep their rows."""
    merged = dict(series)
    for kpi in kpis:
        if not kpi.spend_line:
            continue
        months = spend_observations(lines, kpi.spend_line)
        covered = {(obs.period_end.year, obs.period_end.month) for obs in months}
        kept = [obs for obs in series.get(kpi.id, [])
                if (obs.period_end.year, obs.period_end.month) not in covered]
        merged[kpi.id] = sorted([*kept, *months], key=lambda obs: (obs.period_end, obs.segment))
    return merged
