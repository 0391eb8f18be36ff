"""Measurements: the long table of KPI values, loaded from CSV, Parquet or Excel and validated."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from reviewkit.inputs.table import (
    FORMATS,
    Table,
    TableRow,
    date_or_none,
    number_or_none,
    read_table,
)

REQUIRED_COLUMNS = ("kpi_id", "period_end", "value")
OPTIONAL_COLUMNS = ("target", "segment", "count")


@dataclass(frozen=True)
class Observation:
    """One measurement row after validation."""

    period_end: dt.date
    value: float | None  # None: the row exists but the value is missing
    target: float | None = None
    segment: str = ""
    line: int = 0
    #: How many items the value summarises (changes, tickets, survey answers): its weight in a
    #: mean across rows and units; None counts as 1.
    count: float | None = None


@dataclass(frozen=True)
class Measurements:
    """Validated measurements grouped by KPI, each series sorted by date."""

    path: Path
    series: dict[str, list[Observation]]
    row_count: int
    ignored_columns: list[str] = field(default_factory=list)

    def latest_date(self, kpi_ids: set[str] | None = None,
                    not_after: dt.date | None = None) -> dt.date | None:
        """The latest date measured (for ``kpi_ids``), ignoring rows dated after ``not_after``."""
        dates = [
            obs.period_end
            for kpi_id, rows in self.series.items()
            if kpi_ids is None or kpi_id in kpi_ids
            for obs in rows
            if not_after is None or obs.period_end <= not_after
        ]
        return max(dates) if dates else None


def load_measurements(path: str | Path) -> Measurements:
    """Read measurements and check every row; errors name the file, the line and the column."""
    table = read_table(path, "measurements", REQUIRED_COLUMNS, OPTIONAL_COLUMNS,
                       formats=FORMATS)
    series: dict[str, list[Observation]] = defaultdict(list)
    seen: dict[tuple[str, dt.date, str], int] = {}
    for row in table.rows:
        observation, kpi_id = _observation(table, row)
        key = (kpi_id, observation.period_end, observation.segment)
        if key in seen:
            where = f" segment '{observation.segment}'" if observation.segment else ""
            raise table.error(
                row,
                f"duplicate row for '{kpi_id}' on {observation.period_end}{where} "
                f"(also on {table.row_label} {seen[key]}); keep one",
            )
        seen[key] = row.line
        series[kpi_id].append(observation)
    for observations in series.values():
        observations.sort(key=lambda obs: (obs.period_end, obs.segment))
    return Measurements(path=table.path, series=dict(series), row_count=len(table.rows),
                        ignored_columns=list(table.ignored))


def _observation(table: Table, row: TableRow) -> tuple[Observation, str]:
    kpi_id = row.get("kpi_id")
    if kpi_id == "":
        raise table.error(row, "kpi_id is empty", "kpi_id")
    date_text = row.get("period_end")
    try:
        period_end = date_or_none(date_text)
    except ValueError as exc:
        raise table.error(row, str(exc), "period_end") from None
    if period_end is None:
        raise table.error(row, "period_end is empty; write the date as YYYY-MM-DD",
                          "period_end")
    value_text = row.get("value")
    try:
        value = number_or_none(value_text)
    except ValueError:
        raise table.error(row, f"{value_text!r} is not a number; use digits, or leave it empty "
                          "for missing", "value") from None
    target_text = row.get("target")
    try:
        target = number_or_none(target_text)
    except ValueError:
        raise table.error(row, f"{target_text!r} is not a number; leave it empty to use the "
                          "catalog target", "target") from None
    count_text = row.get("count")
    try:
        count = number_or_none(count_text)
    except ValueError:
        count = -1.0
    if count is not None and count <= 0:
        raise table.error(row, f"{count_text!r} is not a positive number; give how many items "
                          "the value summarises, or leave it empty to count the row once",
                          "count")
    return (Observation(period_end, value, target, row.get("segment"), row.line, count),
            kpi_id)
