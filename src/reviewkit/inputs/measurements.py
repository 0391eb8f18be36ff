"""Measurements: the long table of KPI values, loaded from CSV, Parquet or Excel and validated.

A CSV of at least :data:`COLUMNAR_FROM_BYTES` is checked column-wise by DuckDB
(:mod:`reviewkit.inputs.columnar`) and only the rows a pack needs become Python values; any
doubt sends it through the row reader, so errors and line numbers are the same either way.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from reviewkit.cadences import PeriodRule
from reviewkit.errors import quoted
from reviewkit.inputs.columnar import Scan, pack_rows, scan_csv
from reviewkit.inputs.table import (
    FORMATS,
    MAX_LINE_CHARS,
    Table,
    TableRow,
    damaged,
    date_or_none,
    number_or_none,
    stream_table,
)
from reviewkit.periods import today

REQUIRED_COLUMNS = ("kpi_id", "period_end", "value")
OPTIONAL_COLUMNS = ("target", "segment", "count")
#: A CSV this large (16 MiB, about 350,000 rows) or larger is read column-wise. Below it the row
#: reader is faster: it needs no query engine.
COLUMNAR_FROM_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
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
    #: Its value of a column finer than the unit (a depot, a region, a ward) that the KPI is
    #: broken down by (the catalog's ``breakdown``); '' when the KPI has none.
    part: str = ""


@dataclass(frozen=True)
class Unseen:
    """Rows of a large table that a pack's series leave out, counted so that the data-quality
    appendix reports them as it would from every row."""

    unknown_kpis: dict[str, int] = field(default_factory=dict)  # rows of KPIs not in the catalog
    rows_after_period: int = 0
    extra_target_rows: dict[str, int] = field(default_factory=dict)  # beyond those in the series
    rows_in_future: int = 0  # rows after today that the series leave out


@dataclass(frozen=True)
class Measurements:
    """Validated measurements grouped by KPI, each series sorted by date.

    A large CSV is held as its checked :class:`Scan` until a pack says which KPIs and periods
    it needs (:meth:`for_pack`); until then ``series`` is empty.
    """

    path: Path
    series: dict[str, list[Observation]]
    row_count: int
    ignored_columns: list[str] = field(default_factory=list)
    scan: Scan | None = None
    unseen: Unseen | None = None

    def latest_date(self, kpi_ids: set[str] | None = None,
                    not_after: dt.date | None = None) -> dt.date | None:
        """The latest date measured (for ``kpi_ids``), ignoring rows dated after ``not_after``."""
        if self.scan is not None:
            latest = [day for kpi_id, day in self.scan.latest_dates(not_after).items()
                      if kpi_ids is None or kpi_id in kpi_ids]
            return max(latest) if latest else None
        dates = [
            obs.period_end
            for kpi_id, rows in self.series.items()
            if kpi_ids is None or kpi_id in kpi_ids
            for obs in rows
            if not_after is None or obs.period_end <= not_after
        ]
        return max(dates) if dates else None

    def for_pack(self, rules: Mapping[str, str], keep_from: dt.date, end: dt.date,
                 rule: PeriodRule, today: dt.date) -> Measurements:
        """The series a pack ending on ``end`` needs, for the catalog's KPIs (id → aggregation
        rule): every row from ``keep_from``, and each earlier period of the pack's cadence as
        one row (its value by the KPI's rule, its latest date with a value and latest target),
        plus the earlier rows with an empty value. A table read row by row is returned as is.
        """
        if self.scan is None:
            return self
        series: dict[str, list[Observation]] = defaultdict(list)
        summarised_targets: dict[str, int] = defaultdict(int)
        # Why the caches: millions of rows share a few hundred dates and units; one object
        # each instead of one per row.
        days: dict[dt.date, dt.date] = {}
        units: dict[str, str] = {}
        with pack_rows(self.scan.table, rules, keep_from, end, rule, today) as rows:
            for batch in rows.kept:
                for kpi_id, day, value, target, segment in batch:
                    series[kpi_id].append(Observation(days.setdefault(day, day), value, target,
                                                      units.setdefault(segment, segment)))
            for kpi_id, day, value, target, _ in rows.summarised:
                series[kpi_id].append(Observation(day, value, target))
                if target is not None:
                    summarised_targets[kpi_id] += 1
            for kpi_id, day, segment in rows.missing:
                series[kpi_id].append(Observation(day, None, None, segment))
        for observations in series.values():
            observations.sort(key=lambda obs: (obs.period_end, obs.segment))
        # The series hold one target row per summarised period; the table may have more.
        extra = {kpi_id: count - summarised_targets.get(kpi_id, 0)
                 for kpi_id, count in rows.target_rows_before.items()}
        unknown = {kpi_id: count for kpi_id, count in sorted(self.scan.rows.items())
                   if kpi_id not in rules}
        return replace(self, series=dict(series), scan=None,
                       unseen=Unseen(unknown, rows.rows_after, extra, rows.rows_in_future))


def load_measurements(path: str | Path, *, column_wise: bool = True,
                      breakdowns: Mapping[str, str] | None = None) -> Measurements:
    """Read measurements and check every row; errors name the file, the line and the column.

    ``column_wise``: a large CSV may be read column-wise (see the module's docstring).
    ``breakdowns``: KPI id → the column its rows are broken down by (a depot, a region): that
    column of the KPI's rows is kept as each row's :attr:`Observation.part`."""
    breakdowns = dict(breakdowns or {})
    finer = tuple(sorted(set(breakdowns.values())))
    table, rows = stream_table(path, "measurements", REQUIRED_COLUMNS,
                               (*OPTIONAL_COLUMNS, *finer), formats=FORMATS)
    # Why only without counts: a count weighs rows in means across units, which the engine's
    # per-period summary does not reproduce; such a table is read row by row (so is one with
    # a breakdown: the summary keeps no parts).
    if (column_wise and table.path.suffix.lower() == ".csv" and "count" not in table.columns
            and not any(column in table.columns for column in finer)
            and table.path.stat().st_size >= COLUMNAR_FROM_BYTES and not damaged(table.path)):
        header = _header(table.path)
        scan = scan_csv(table.path, header, today()) if header is not None else None
        if scan is not None:
            return Measurements(path=table.path, series={}, row_count=scan.row_count,
                                ignored_columns=list(table.ignored), scan=scan)
    series: dict[str, list[Observation]] = defaultdict(list)
    seen: dict[tuple[str, dt.date, str, str], int] = {}
    count = 0
    for row in rows:
        count += 1
        observation, kpi_id = _observation(table, row)
        column = breakdowns.get(kpi_id)
        if column is not None and column in table.columns:
            observation = replace(observation, part=row.get(column).strip())
        key = (kpi_id, observation.period_end, observation.segment, observation.part)
        if key in seen:
            where = f" segment '{observation.segment}'" if observation.segment else ""
            if observation.part:
                where += f" {column} '{observation.part}'"
            raise table.error(
                row,
                f"duplicate row for '{kpi_id}' on {observation.period_end}{where} "
                f"(also on {table.row_label} {seen[key]}); keep one",
            )
        seen[key] = row.line
        series[kpi_id].append(observation)
    for observations in series.values():
        observations.sort(key=lambda obs: (obs.period_end, obs.segment))
    return Measurements(path=table.path, series=dict(series), row_count=count,
                        ignored_columns=list(table.ignored))


def _header(path: Path) -> list[str] | None:
    """The CSV's header cells as the row reader reads them (trimmed, lower-cased), by position;
    None when it spans lines (the column-wise scan then leaves the file to the row reader)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline(MAX_LINE_CHARS + 1)
    if first.count('"') % 2 or len(first) > MAX_LINE_CHARS:
        return None
    return [cell.strip().lower() for cell in next(csv.reader([first]), [])]


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
        raise table.error(row, f"{quoted(value_text)} is not a number; use digits, or leave "
                          "it empty for missing", "value") from None
    target_text = row.get("target")
    try:
        target = number_or_none(target_text)
    except ValueError:
        raise table.error(row, f"{quoted(target_text)} is not a number; leave it empty to use "
                          "the catalog target", "target") from None
    count_text = row.get("count")
    try:
        count = number_or_none(count_text)
    except ValueError:
        count = -1.0
    if count is not None and count <= 0:
        raise table.error(row, f"{quoted(count_text)} is not a positive number; give how many "
                          "items the value summarises, or leave it empty to count the row once",
                          "count")
    return (Observation(period_end, value, target, row.get("segment"), row.line, count),
            kpi_id)
