"""Measurements: the long table of KPI values, loaded from CSV, Parquet or Excel and validated.

A CSV of at least :data:`COLUMNAR_FROM_BYTES` is checked column-wise by DuckDB
(:mod:`reviewkit.inputs.columnar`), which also combines each KPI's rows of a date into one
:class:`Observation` (their figure, exact sum and count); no row becomes a Python value. Any
doubt sends it through the row reader, so errors and line numbers are the same either way.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from pathlib import Path

from reviewkit.errors import quoted
from reviewkit.inputs.columnar import DaySummary, Scan, scan_csv
from reviewkit.inputs.table import (
    FORMATS,
    MAX_LINE_CHARS,
    OutOfRange,
    Table,
    TableRow,
    damaged,
    date_or_none,
    number_or_none,
    stream_table,
)

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
    #: How many rows with a value this observation stands for: 1 for a row; a large table's
    #: rows of one date, across their segments, are one observation (``value`` is then their
    #: figure by the KPI's aggregation and ``total`` their exact sum).
    rows: int = 1
    total: Decimal | None = None

    @property
    def exact(self) -> Decimal:
        """The exact sum of the values this observation stands for (its value for a row: the
        decimal the file wrote, which the shortest repr of a float read from it is)."""
        if self.total is not None:
            return self.total
        assert self.value is not None
        return Decimal(repr(self.value))


#: Exact sums and means: the data are decimals, and both readers add them up exactly, so a
#: large table's figures are those of reading every row, to the last bit.
_EXACT_DIGITS = 60


def exact_sum(observations: Iterable[Observation]) -> float:
    """The sum of the observations' values, added up exactly (as decimals), as a float."""
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        return float(sum((obs.exact for obs in observations), Decimal(0)))


def exact_mean(observations: Iterable[Observation]) -> float | None:
    """The mean of the values the observations stand for, added up exactly."""
    total, rows = Decimal(0), 0
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        for obs in observations:
            total += obs.exact
            rows += obs.rows
    return mean_of(total, rows)


def mean_of(total: Decimal, rows: int) -> float | None:
    """``total / rows`` as a float (None for no rows), divided as :func:`exact_mean` does."""
    if not rows:
        return None
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        return float(total / rows)


@dataclass(frozen=True)
class Unseen:
    """Rows of a large table that a pack's series leave out, counted so that the data-quality
    appendix reports them as it would from every row."""

    unknown_kpis: dict[str, int] = field(default_factory=dict)  # rows of KPIs not in the catalog
    rows_after_period: int = 0
    extra_target_rows: dict[str, int] = field(default_factory=dict)  # beyond those in the series
    rows_in_future: int = 0  # rows after today that the series leave out
    #: Rows of segments that are none of the group's units (a unit's name written for its
    #: segment, a site dropped from the params file): segment -> rows left out of the group.
    other_segments: dict[str, int] = field(default_factory=dict)


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
        """The latest date measured (for ``kpi_ids``), ignoring rows dated after ``not_after``:
        in a large table's scan and in the series held beside it (a spend KPI's, a query's)."""
        dates = [
            obs.period_end
            for kpi_id, rows in self.series.items()
            if kpi_ids is None or kpi_id in kpi_ids
            for obs in rows
            if not_after is None or obs.period_end <= not_after
        ]
        if self.scan is not None:
            dates.extend(day for kpi_id, day in self.scan.latest_dates(not_after).items()
                         if kpi_ids is None or kpi_id in kpi_ids)
        return max(dates, default=None)

    def for_pack(self, rules: Mapping[str, str], end: dt.date, today: dt.date) -> Measurements:
        """The series a pack ending on ``end`` needs from a large table, for the catalog's KPIs
        (id → aggregation rule): for each date, one observation standing for its rows with a
        value (their figure by the KPI's rule, their exact sum and how many they are), and one
        per row without a value. Rows after ``end`` and rows of KPIs the catalog does not know
        are only counted. A table read row by row is returned as is."""
        if self.scan is None:
            return self
        series: dict[str, list[Observation]] = {}
        extra_targets: dict[str, int] = {}
        after = future = 0
        for kpi_id, days in self.scan.days.items():
            rule = rules.get(kpi_id)
            for summary in days:
                if rule is None or summary.day > end:
                    after += summary.rows if summary.day > end else 0
                    future += summary.rows if summary.day > today else 0
                    continue
                made = _observations(summary, rule)
                series.setdefault(kpi_id, []).extend(made)
                if summary.day > today:
                    future += summary.rows - len(made)
                extra = summary.target_rows - sum(1 for obs in made if obs.target is not None)
                if extra:
                    extra_targets[kpi_id] = extra_targets.get(kpi_id, 0) + extra
        unknown = {kpi_id: count for kpi_id, count in self.scan.rows.items()
                   if kpi_id not in rules}
        return replace(self, series=series, scan=None,
                       unseen=Unseen(unknown, after, extra_targets, future))


def _observations(summary: DaySummary, rule: str) -> list[Observation]:
    """A date's rows of one KPI as the evaluation reads them: one observation for those with a
    value, one for each without (as the row reader has them)."""
    made: list[Observation] = []
    if summary.n:
        assert summary.total is not None
        value = {"mean": mean_of(summary.total, summary.n), "sum": float(summary.total),
                 "min": summary.low, "max": summary.high, "last": summary.last}[rule]
        made.append(Observation(summary.day, value,
                                summary.target if summary.target_missing_segment is None
                                and summary.target_rows else None,
                                rows=summary.n, total=summary.total))
    made.extend(Observation(summary.day, None, summary.target
                            if segment == summary.target_missing_segment else None, segment)
                for segment in summary.missing)
    return made


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
        scan = scan_csv(table.path, header) if header is not None else None
        if scan is not None:
            return Measurements(path=table.path, series={}, row_count=scan.row_count,
                                ignored_columns=list(table.ignored), scan=scan)
    series: dict[str, list[Observation]] = defaultdict(list)
    seen: dict[tuple[str, dt.date, str, str], int] = {}
    dates: dict[str, dt.date] = {}  # a table repeats its few hundred dates thousands of times
    count = 0
    for row in rows:
        count += 1
        observation, kpi_id = _observation(table, row, dates)
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


def _observation(table: Table, row: TableRow,
                 dates: dict[str, dt.date]) -> tuple[Observation, str]:
    """A row checked, as an observation of its KPI; ``dates``: the dates read so far, by text."""
    kpi_id = row.get("kpi_id")
    if kpi_id == "":
        raise table.error(row, "kpi_id is empty", "kpi_id")
    date_text = row.get("period_end")
    period_end = dates.get(date_text)
    if period_end is None:
        try:
            period_end = date_or_none(date_text)
        except ValueError as exc:
            raise table.error(row, str(exc), "period_end") from None
        if period_end is None:
            raise table.error(row, "period_end is empty; write the date as YYYY-MM-DD",
                              "period_end")
        dates[date_text] = period_end
    value_text = row.get("value")
    try:
        value = number_or_none(value_text)
    except OutOfRange as exc:
        raise table.error(row, str(exc), "value") from None
    except ValueError:
        raise table.error(row, f"{quoted(value_text)} is not a number; use digits, or leave "
                          "it empty for missing", "value") from None
    target_text = row.get("target")
    try:
        target = number_or_none(target_text)
    except OutOfRange as exc:
        raise table.error(row, str(exc), "target") from None
    except ValueError:
        raise table.error(row, f"{quoted(target_text)} is not a number; leave it empty to use "
                          "the catalog target", "target") from None
    count_text = row.get("count")
    try:
        count = number_or_none(count_text)
    except OutOfRange as exc:
        raise table.error(row, str(exc), "count") from None
    except ValueError:
        count = -1.0
    if count is not None and count <= 0:
        raise table.error(row, f"{quoted(count_text)} is not a positive number; give how many "
                          "items the value summarises, or leave it empty to count the row once",
                          "count")
    return (Observation(period_end, value, target, row.get("segment"), row.line, count),
            kpi_id)
