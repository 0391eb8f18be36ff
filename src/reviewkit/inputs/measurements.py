"""Measurements: the long table of KPI values, loaded from CSV, Parquet or Excel and validated."""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reviewkit.inputs._cells import cell_text
from reviewkit.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

REQUIRED_COLUMNS = ("kpi_id", "period_end", "value")
OPTIONAL_COLUMNS = ("target", "segment")


@dataclass(frozen=True)
class Observation:
    """One measurement row after validation."""

    period_end: dt.date
    value: float | None  # None: the row exists but the value is missing
    target: float | None = None
    segment: str = ""
    line: int = 0


@dataclass
class Measurements:
    """Validated measurements grouped by KPI, each series sorted by date."""

    path: Path
    series: dict[str, list[Observation]]
    row_count: int
    ignored_columns: list[str] = field(default_factory=list)

    def latest_date(self, kpi_ids: set[str] | None = None) -> dt.date | None:
        dates = [
            obs.period_end
            for kpi_id, rows in self.series.items()
            if kpi_ids is None or kpi_id in kpi_ids
            for obs in rows
        ]
        return max(dates) if dates else None


def load_measurements(path: str | Path) -> Measurements:
    """Read measurements and check every row; errors name the file, the line and the column."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "measurements file not found; check the path in the params file")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".xlsx"):
        raise InputError(
            path, f"unsupported measurements format '{suffix}'; use .csv, .parquet or .xlsx"
        )
    if suffix == ".csv":
        columns, data, lines = _read_csv(path)
        return _validate(path, columns, data, "line", lines, _plain_text)
    frame, row_label, first_row = _read_frame(path, suffix)
    columns = [str(column).strip() for column in frame.columns]
    data = {column: frame[original].tolist()
            for column, original in zip(columns, frame.columns, strict=True)}
    numbers = list(range(first_row, first_row + len(frame)))
    return _validate(path, columns, data, row_label, numbers, cell_text)


def _read_csv(path: Path) -> tuple[list[str], dict[str, list[object]], list[int]]:
    """Read a CSV as text with the standard library: pandas would cost a second to import,
    and the csv reader knows the line each record ends on, even across quoted newlines."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError(path, "the file is empty; the first line must be the header "
                                 + ", ".join(REQUIRED_COLUMNS), line=1)
            columns = [column.strip() for column in header]
            data: dict[str, list[object]] = {column: [] for column in columns}
            lines: list[int] = []
            for record in reader:
                lines.append(reader.line_num)
                record = record + [""] * (len(columns) - len(record))
                for column, cell in zip(columns, record, strict=False):
                    data[column].append(cell)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"cannot read measurements: not UTF-8 text ({exc.reason}); "
                         "save the file as UTF-8 CSV") from exc
    except csv.Error as exc:
        raise InputError(path, f"cannot read measurements: {exc}") from exc
    return columns, data, lines


def _plain_text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _read_frame(path: Path, suffix: str) -> tuple[pd.DataFrame, str, int]:
    import pandas as pd  # deferred: pandas costs a second to import and most commands skip it

    try:
        if suffix == ".xlsx":
            frame = pd.read_excel(path, dtype=object, engine="openpyxl")
            return frame, "row", 2
        frame = pd.read_parquet(path)
        return frame, "row", 1
    except InputError:
        raise
    except Exception as exc:  # pandas raises many types for unreadable files
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(path, f"cannot read measurements: {reason}") from exc


def _number(text: str) -> float | None:
    if text == "":
        return None
    number = float(text)  # ValueError for text that is not a number
    if math.isnan(number) or math.isinf(number):
        raise ValueError(text)
    return number


def _validate(
    path: Path,
    columns: list[str],
    data: dict[str, list[object]],
    row_label: str,
    numbers: list[int],
    text: Callable[[object], str],
) -> Measurements:
    for required in REQUIRED_COLUMNS:
        if required not in columns:
            raise InputError(
                path,
                f"required column '{required}' is missing; the header must include "
                + ", ".join(REQUIRED_COLUMNS),
                line=1 if row_label == "line" else None,
                field=required,
                row_label=row_label,
            )
    ignored = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    has_target = "target" in columns
    has_segment = "segment" in columns

    series: dict[str, list[Observation]] = defaultdict(list)
    seen: dict[tuple[str, dt.date, str], int] = {}
    kpi_ids = data["kpi_id"]
    dates = data["period_end"]
    values = data["value"]
    targets = data["target"] if has_target else [None] * len(numbers)
    segments = data["segment"] if has_segment else [None] * len(numbers)
    rows = 0
    for line, raw_id, raw_date, raw_value, raw_target, raw_segment in zip(
        numbers, kpi_ids, dates, values, targets, segments, strict=True
    ):
        kpi_id, date_text, value_text = text(raw_id), text(raw_date), text(raw_value)
        if kpi_id == "" and date_text == "" and value_text == "":
            continue  # a blank line is not a row
        if kpi_id == "":
            raise InputError(path, "kpi_id is empty", line=line, field="kpi_id",
                             row_label=row_label)
        try:
            period_end = dt.date.fromisoformat(date_text)
        except ValueError:
            raise InputError(
                path,
                f"{date_text!r} is not an ISO date; write it as YYYY-MM-DD",
                line=line,
                field="period_end",
                row_label=row_label,
            ) from None
        try:
            value = _number(value_text)
        except ValueError:
            raise InputError(
                path,
                f"{value_text!r} is not a number; use digits, or leave it empty for missing",
                line=line,
                field="value",
                row_label=row_label,
            ) from None
        target_text = text(raw_target)
        try:
            target = _number(target_text)
        except ValueError:
            raise InputError(
                path,
                f"{target_text!r} is not a number; leave it empty to use the catalog target",
                line=line,
                field="target",
                row_label=row_label,
            ) from None
        segment = text(raw_segment)
        key = (kpi_id, period_end, segment)
        if key in seen:
            where = f" segment '{segment}'" if segment else ""
            raise InputError(
                path,
                f"duplicate row for '{kpi_id}' on {period_end}{where} "
                f"(also on {row_label} {seen[key]}); keep one",
                line=line,
                row_label=row_label,
            )
        seen[key] = line
        series[kpi_id].append(Observation(period_end, value, target, segment, line))
        rows += 1
    for observations in series.values():
        observations.sort(key=lambda obs: (obs.period_end, obs.segment))
    return Measurements(path=path.resolve(), series=dict(series), row_count=rows,
                        ignored_columns=ignored)
