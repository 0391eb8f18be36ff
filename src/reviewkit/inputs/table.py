"""One reader for every tabular input (CSV, XLSX, Parquet), with one set of rules.

* Header names are trimmed and lower-cased; a repeated column is an error; a column that looks
  like a misspelt known one is an error with a suggestion ("did you mean"); other extra columns
  are set aside and reported (:attr:`Table.ignored`).
* Every row knows where it came from: the line in a CSV (the header is line 1; a record with a
  quoted newline is named by the line it starts on) or the row in a spreadsheet or Parquet file.
* CSV: UTF-8 with or without a byte-order mark, LF or CRLF line ends.
* Cells become text exactly as written: an empty cell is ``""``; nothing is guessed (``n/a``
  stays ``n/a``, a Parquet NaN becomes ``nan``), so the field parsers below reject it with the
  file, line and column, the same way for every format.
* Numbers are ``[+-]digits[.digits][e±digits]`` and finite; dates are ``YYYY-MM-DD``.

The readers import openpyxl or pyarrow only for their own format, and never pandas: a build
that reads a CSV pays for no spreadsheet library.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import math
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TextIO, cast

from pydantic import BaseModel, ConfigDict

from reviewkit.errors import InputError, quoted
from reviewkit.inputs import workbook
from reviewkit.inputs._yaml import did_you_mean
from reviewkit.periods import parse_date as parse_iso_date

RowLabel = Literal["line", "row"]
#: The formats of every table reviewkit reads: measurements, the portfolio tables and sources.
FORMATS = (".csv", ".parquet", ".xlsx")

#: A number as the contract writes it: optional sign, digits with an optional decimal part (or
#: a leading point), optional exponent. No thousands separators, underscores, 'nan' or 'inf'.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
#: The largest magnitude a figure may have, either side of zero. Above 10^15 a float no longer
#: holds every whole number (2^53 is about 9.007e15) and a figure of 16 digits cannot be
#: printed exactly; no KPI, budget or benefit means such a number, so one is a slip (a unit
#: wrong by a factor, an exponent typed by mistake), and a pack could not print it (1e30 has
#: more digits than the decimal arithmetic of formatting holds). Bounded this way, no sum of
#: any table's rows can overflow to infinity.
MAX_MAGNITUDE = 1e15
#: How a message names the bound.
MAX_MAGNITUDE_TEXT = "1e15 (1,000,000,000,000,000)"
#: Columns people add to annotate a table: never taken for a misspelt known column (they are
#: set aside and reported like any other extra column).
ANNOTATION_COLUMNS = frozenset({"comment", "comments", "note", "notes", "remark", "remarks",
                                "source", "sources"})
#: The largest CSV field we read (the csv module's default limit is 128 KiB).
MAX_FIELD_BYTES = 1 << 20
#: The longest physical line of a CSV we read: a record's fields are at most MAX_FIELD_BYTES
#: each, and a longer line is no table's (a file padded with NUL bytes, a binary file).
MAX_LINE_CHARS = 4 * MAX_FIELD_BYTES
#: What a line or cell with NUL bytes is told (after "the line" or "the cell").
NUL_MESSAGE = ("holds NUL bytes, which no text has: the file is damaged (cut short, or never "
               "written to its end) or is not a table; export it again")
#: Bytes read at a time when a file is checked for damage (less than MAX_LINE_CHARS).
_PIECE = 1 << 20
#: Rows of a Parquet file read at a time.
_PARQUET_BATCH = 65_536

csv.field_size_limit(MAX_FIELD_BYTES)


class SourceRow(BaseModel):
    """Where a record came from, so a later cross-check can still name the file and line."""

    model_config = ConfigDict(frozen=True)

    file: Path
    line: int
    row_label: RowLabel = "line"

    def error(self, message: str, field: str | None = None) -> InputError:
        return InputError(self.file, message, line=self.line, field=field,
                          row_label=self.row_label)


@dataclass(frozen=True)
class TableRow:
    """One non-blank row: the text of each known column ("" when empty)."""

    line: int
    cells: dict[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass(frozen=True)
class Table:
    """A checked header and the rows under it."""

    path: Path
    row_label: RowLabel
    columns: tuple[str, ...]  # every named column of the header, in order
    rows: tuple[TableRow, ...]
    ignored: tuple[str, ...] = ()  # columns the contract does not know (reported, not read)

    def error(self, row: TableRow, message: str, field: str | None = None) -> InputError:
        return InputError(self.path, message, line=row.line, field=field,
                          row_label=self.row_label)

    def source(self, row: TableRow) -> SourceRow:
        return SourceRow(file=self.path, line=row.line, row_label=self.row_label)


def read_table(
    path: str | Path,
    what: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    *,
    formats: Sequence[str] = FORMATS,
) -> Table:
    """Read a table and check its header against the ``required`` and ``optional`` columns."""
    header, rows = stream_table(path, what, required, optional, formats=formats)
    return replace(header, rows=tuple(rows))


def stream_table(
    path: str | Path,
    what: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    *,
    formats: Sequence[str] = FORMATS,
) -> tuple[Table, Iterator[TableRow]]:
    """The checked header (a :class:`Table` without rows) and the rows, read one at a time as
    the iterator is consumed: a caller that keeps only what it needs never holds the table."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"{what} file not found; check the path in the params file")
    suffix = path.suffix.lower()
    if suffix not in formats:
        raise InputError(path, f"unsupported {what} format '{suffix or path.name}'; use "
                         + format_list(formats))
    reader = {".csv": csv_records, ".xlsx": _xlsx_records, ".parquet": _parquet_records}[suffix]
    row_label: RowLabel = "line" if suffix == ".csv" else "row"
    records = reader(path, what)
    header = next(records, None)
    if header is None:
        raise InputError(path, f"the file is empty; the first {row_label} must be the header "
                         + ", ".join(required), line=1, row_label=row_label)
    header_line, header_cells = header
    for index, cell in enumerate(header_cells):
        if isinstance(cell, workbook.UncachedFormula):
            raise workbook.formula_error(path, cell, header_line, f"column {index + 1}")
    columns = _check_header(path, what, [_cell_text(name).lower() for name in header_cells],
                            required, optional, header_line, row_label, suffix)
    known = set(required) | set(optional)
    wanted = [(index, name) for index, name in enumerate(columns) if name in known]
    ignored = tuple(name for name in columns if name and name not in known)
    table = Table(path=path.resolve(), row_label=row_label,
                  columns=tuple(name for name in columns if name), rows=(), ignored=ignored)
    return table, _rows(path, row_label, records, wanted, len(header_cells))


def format_list(formats: Sequence[str] = FORMATS) -> str:
    """'.csv, .parquet or .xlsx'."""
    names = sorted(formats)
    return (", ".join(names[:-1]) + " or " if len(names) > 1 else "") + names[-1]


def _rows(path: Path, row_label: RowLabel, records: Records,
          wanted: list[tuple[int, str]], width: int) -> Iterator[TableRow]:
    if row_label == "line":
        return _csv_rows(path, records, wanted, width)
    return _cell_rows(path, row_label, records, wanted)


def field_count_problem(fields: Sequence[object], width: int) -> str | None:
    """Why a CSV record does not fit a header of ``width`` fields, or None when it does.

    Fields are read by position, so a line with a field too many or too few puts every field
    after the slip under the wrong column: '1,234.5' unquoted was the value 1 and a dropped
    234.5. An empty line (no fields at all) is no record and fits. Empty fields count: a
    trailing comma adds one, and 'x,d,1,234.5,,,' under six columns is seven fields, not a
    value of 1 and a target of 234.5."""
    count = len(fields)
    if count == width or count == 0:
        return None
    if count < width:
        hint = "give every column its field (an empty one is just its comma), or fix the line"
    elif all(field == "" for field in fields[width:]):
        hint = "remove the comma after the last field, or fix the line"
    else:
        hint = 'quote a field that holds a comma ("1,234.5"), or fix the line'
    return (f"the line has {count} field{'s' if count != 1 else ''}, the header {width}; "
            + hint)


def _csv_rows(path: Path, records: Records, wanted: list[tuple[int, str]],
              width: int) -> Iterator[TableRow]:
    """A CSV's rows: every cell is text and :func:`_lines` refused NUL bytes line by line, so
    checking the field count and trimming is all that is left to do (this loop is most of the
    time a build spends reading a measurements table)."""
    for line, values in records:
        texts = cast("list[str]", values)
        if len(texts) != width:
            problem = field_count_problem(texts, width)
            if problem is not None:
                raise InputError(path, problem, line=line)
            if not texts:
                continue  # an empty line is not a row
        cells = {name: texts[index].strip() for index, name in wanted}
        if any(cells.values()):  # a line of empty fields is not a row
            yield TableRow(line=line, cells=cells)


def _cell_rows(path: Path, row_label: RowLabel, records: Records,
               wanted: list[tuple[int, str]]) -> Iterator[TableRow]:
    """A workbook's or Parquet file's rows: cells of any type, each checked."""
    for line, values in records:
        for index, name in wanted:
            cell = values[index] if index < len(values) else None
            if isinstance(cell, workbook.UncachedFormula):
                raise workbook.formula_error(path, cell, line, name)
            if isinstance(cell, str) and "\0" in cell:
                raise InputError(path, f"the cell {NUL_MESSAGE}", line=line, field=name,
                                 row_label=row_label)
        cells = {name: _cell_text(values[index]) if index < len(values) else ""
                 for index, name in wanted}
        if all(text == "" for text in cells.values()):
            continue  # a blank line is not a row
        yield TableRow(line=line, cells=cells)


def _check_header(
    path: Path, what: str, columns: list[str], required: Sequence[str], optional: Sequence[str],
    line: int, row_label: RowLabel, suffix: str,
) -> list[str]:
    known = [*required, *optional]
    seen: set[str] = set()
    for column in columns:
        if column == "":
            continue
        if column in seen:
            raise InputError(path, f"column '{column}' appears twice in the header; keep one",
                             line=line, field=column, row_label=row_label)
        seen.add(column)
        if column in known or column in ANNOTATION_COLUMNS:
            continue
        hint = did_you_mean(column, known)
        if hint:
            raise InputError(path, f"unknown column{hint}; columns: " + ", ".join(known),
                             line=line, field=column, row_label=row_label)
    for column in required:
        if column not in seen:
            where = _first_sheet_note(path) if suffix == ".xlsx" else ""
            raise InputError(
                path,
                f"required column '{column}' is missing; the header must include "
                + ", ".join(required) + where,
                line=line, field=column, row_label=row_label,
            )
    return columns


# -- the three formats ---------------------------------------------------------------------

Records = Iterator[tuple[int, list[object]]]


def csv_records(path: Path, what: str) -> Records:
    """(line the record starts on, fields) for each record, the header first."""
    start = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            # strict: a quote that never closes is an error, not the rest of the file swallowed
            # into one field.
            reader = csv.reader(_lines(handle, path, what), strict=True)
            while True:
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    if "unexpected end of data" in str(exc) or "EOF" in str(exc):
                        raise InputError(path, f"cannot read {what}: a quote opened on this "
                                         "line is never closed", line=start) from exc
                    raise InputError(path, f"cannot read {what}: {exc}", line=reader.line_num
                                     ) from exc
                yield start, list(record)
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise InputError(path, f"cannot read {what}: not UTF-8 text ({exc.reason}); save the "
                         "file as UTF-8 CSV", line=_first_line_not_utf8(path)) from exc
    except IsADirectoryError as exc:
        raise InputError(path, f"{what} is a folder, not a file") from exc
    except OSError as exc:
        raise InputError(path, f"cannot read {what}: {exc.strerror or exc}") from exc


def _lines(handle: TextIO, path: Path, what: str) -> Iterator[str]:
    """The file's physical lines, each checked before the csv module sees it: a line is read
    at most MAX_LINE_CHARS at a time (a file of NUL bytes without a line end, gigabytes of
    it, is refused after a few megabytes, not held whole), and NUL bytes are refused."""
    number = 0
    while line := handle.readline(MAX_LINE_CHARS + 1):
        number += 1
        if "\0" in line:
            raise InputError(path, f"cannot read {what}: the line {NUL_MESSAGE}", line=number)
        if len(line) > MAX_LINE_CHARS:
            raise InputError(path, f"cannot read {what}: the line is longer than "
                             f"{MAX_LINE_CHARS:,} characters, far more than any table's row; "
                             "the file is damaged or is not CSV text", line=number)
        yield line


def _first_line_not_utf8(path: Path) -> int | None:
    """The line of the first bytes that are not UTF-8 (only looked for once decoding failed),
    read in pieces of at most MAX_LINE_CHARS bytes."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    number = 1
    with path.open("rb") as handle:
        while piece := handle.readline(MAX_LINE_CHARS + 1):
            try:
                decoder.decode(piece)
            except UnicodeDecodeError:
                return number
            number += piece.endswith(b"\n")
    return None


def damaged(path: Path) -> bool:
    """Whether a file holds NUL bytes or a line longer than MAX_LINE_CHARS, found in one fast
    pass of 1 MiB reads. The column-wise engine reads past both (a sparse file of gigabytes
    of NUL bytes after good rows passes as the good rows); the row reader names the line."""
    run = 0  # the length of the line that runs on from the last piece
    with path.open("rb") as handle:
        while piece := handle.read(_PIECE):
            if b"\0" in piece:
                return True
            first = piece.find(b"\n")
            if first < 0:
                run += len(piece)
            else:
                # Lines inside one piece are shorter than the piece, which is shorter than the
                # limit: only a line running across pieces can be too long.
                if run + first > MAX_LINE_CHARS:
                    return True
                run = len(piece) - piece.rfind(b"\n") - 1
            if run > MAX_LINE_CHARS:
                return True
    return False


def _xlsx_records(path: Path, what: str) -> Records:
    """Rows of the first sheet (row 1 is the header), by the one workbook reader."""
    return workbook.rows(path, what)


def _first_sheet_note(path: Path) -> str:
    """"(only the first sheet, 'X', is read; …)" when the workbook has more than one."""
    names = workbook.sheet_names(path)
    if len(names) < 2:
        return ""
    return (f" (only the first sheet, '{names[0]}', is read; the workbook also has "
            + ", ".join(f"'{name}'" for name in names[1:]) + ")")


def _parquet_records(path: Path, what: str) -> Records:
    """Rows of a Parquet file; the header is its column names (row 0), data rows from 1.

    Read a batch of rows at a time, so a large file is never held whole."""
    import pyarrow as pa  # deferred: only Parquet inputs need it
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises many types for unreadable files
        raise InputError(path, f"cannot read {what}: {_reason(exc)}") from exc
    number = 0
    try:
        yield 0, list(source.schema_arrow.names)
        batches = source.iter_batches(batch_size=_PARQUET_BATCH)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (OSError, pa.ArrowException) as exc:
                raise InputError(path, f"cannot read {what}: {_reason(exc)}", line=number + 1,
                                 row_label="row") from exc
            columns = [python_values(column) for column in batch.columns]
            for index in range(batch.num_rows):
                number += 1
                yield number, [column[index] for column in columns]
    finally:
        source.close()


def python_values(column: Any) -> list[object]:
    """An Arrow column's values as Python values, a narrow float as the decimal it stands for.

    A float32 95.6 is stored as 95.59999847…; widened to a Python float it would miss a target
    of 95.6. Its shortest decimal form is what the data states, so that is what is read."""
    import pyarrow as pa  # deferred: only Parquet inputs need it
    import pyarrow.compute as pc

    if pa.types.is_float32(column.type):
        # Arrow writes a float32 as its shortest decimal form ('95.6').
        return list(pc.cast(column, pa.string()).to_pylist())
    if pa.types.is_float16(column.type):
        return [None if value is None else narrow_float_text(value, "e")
                for value in column.to_pylist()]
    return list(column.to_pylist())


def narrow_float_text(value: float, code: str) -> str:
    """The shortest decimal text that reads back as the same ``code`` float (struct's "e" for
    float16, "f" for float32): 95.59999847412109 as a float32 is '95.6'."""
    if not math.isfinite(value):
        return str(value)
    (stored,) = struct.unpack(code, struct.pack(code, value))
    for digits in range(1, 18):
        text = f"{stored:.{digits}g}"
        if struct.unpack(code, struct.pack(code, float(text)))[0] == stored:
            return text
    return repr(stored)


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _cell_text(value: object) -> str:
    """A cell as trimmed text; dates as ISO dates, a missing cell as ''."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "nan"  # a NaN in a spreadsheet or Parquet file is not an empty cell
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


# -- fields ------------------------------------------------------------------------------

class OutOfRange(ValueError):
    """A number in the contract's form whose magnitude is beyond :data:`MAX_MAGNITUDE`; its
    text is the message, which names the bound."""


def magnitude_problem(value: float) -> str | None:
    """Why a finite number is no figure (its magnitude is beyond :data:`MAX_MAGNITUDE`), or
    None: the words after the quoted value in a message."""
    if abs(value) <= MAX_MAGNITUDE:
        return None
    return (f"is beyond the largest figure reviewkit reads, {MAX_MAGNITUDE_TEXT} either side "
            "of zero; check the number and its unit")


def number_or_none(text: str) -> float | None:
    """A number as the contract writes it; None for an empty cell; ValueError otherwise
    (:class:`OutOfRange`, saying why, for a number beyond :data:`MAX_MAGNITUDE`)."""
    if text == "":
        return None
    if not _NUMBER.fullmatch(text):
        raise ValueError(text)
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    problem = magnitude_problem(number)
    if problem is not None:
        raise OutOfRange(f"{quoted(text)} {problem}")
    return number


def date_or_none(text: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` date; None for an empty cell; ValueError saying why otherwise."""
    if text == "":
        return None
    return parse_iso_date(text)


def parse_text(table: Table, row: TableRow, column: str, *, required: bool = True) -> str:
    text = row.get(column)
    if required and text == "":
        raise table.error(row, "required value is empty", column)
    return text


def parse_date(
    table: Table, row: TableRow, column: str, *, required: bool = True
) -> dt.date | None:
    text = parse_text(table, row, column, required=required)
    try:
        return date_or_none(text)
    except ValueError as exc:
        raise table.error(row, str(exc), column) from None


def parse_number(
    table: Table,
    row: TableRow,
    column: str,
    *,
    required: bool = True,
    minimum: float | None = None,
    maximum: float | None = None,
    empty_hint: str = "",
) -> float | None:
    text = parse_text(table, row, column, required=required)
    try:
        number = number_or_none(text)
    except OutOfRange as exc:
        raise table.error(row, str(exc), column) from None
    except ValueError:
        raise table.error(row, f"{quoted(text)} is not a number; use digits{empty_hint}", column
                          ) from None
    if number is None:
        return None
    if minimum is not None and number < minimum:
        raise table.error(row, f"{text} is below the minimum of {minimum:g}", column)
    if maximum is not None and number > maximum:
        raise table.error(row, f"{text} is above the maximum of {maximum:g}", column)
    return number


def parse_choice(table: Table, row: TableRow, column: str, choices: Sequence[str]) -> str:
    """One of ``choices``; case, spaces and hyphens are forgiven ("On track" is on_track)."""
    text = parse_text(table, row, column)
    value = re.sub(r"[\s-]+", "_", text.lower())
    if value not in choices:
        raise table.error(
            row,
            f"{quoted(text)} is not allowed; use one of {', '.join(choices)}"
            + did_you_mean(value, choices),
            column,
        )
    return value


_ID_PATTERN = re.compile(r"[a-z0-9_-]+")


def parse_id(table: Table, row: TableRow, column: str, seen: dict[str, int], what: str) -> str:
    """A required, unique id of lower-case letters, digits, '_' and '-'."""
    text = parse_text(table, row, column)
    if not _ID_PATTERN.fullmatch(text):
        raise table.error(
            row,
            f"{what} id {quoted(text)} must use only lower-case letters, digits, '_' and '-'",
            column,
        )
    if text in seen:
        raise table.error(
            row,
            f"duplicate {what} id '{text}' (also on {table.row_label} {seen[text]}); keep one",
            column,
        )
    seen[text] = row.line
    return text
