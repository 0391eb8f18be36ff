"""Large measurement tables, read column-wise by DuckDB; and the engine settings every DuckDB
connection of reviewkit shares.

A measurements CSV of millions of rows is not turned into millions of Python values. Loading
it scans the file once, as text, and checks every row with the same rules as the row reader
(:mod:`reviewkit.inputs.table`): each rule is written here at least as strictly, so a table
this scan passes is one the row reader passes too. When the scan finds anything it cannot
vouch for — a bad value, a duplicate, a line it cannot parse — it says so and the caller reads
the file row by row instead, which names the first bad line exactly as it always has.

Building a pack then reads only the catalog's KPIs, and only the periods the pack needs, into
Python; the earlier periods come back as one row per KPI and period (see :func:`pack_rows`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewkit import _scratch
from reviewkit.cadences import PeriodRule
from reviewkit.inputs.table import MAX_MAGNITUDE
from reviewkit.periods import EARLIEST, LATEST

if TYPE_CHECKING:
    import duckdb

#: DuckDB's own memory ceiling; it spills to disk beyond it instead of growing.
MEMORY_LIMIT_MB = 1024  # MiB
MEMORY_LIMIT = f"{MEMORY_LIMIT_MB}MiB"

#: What Python's str.strip() removes at the ends of a cell. A cell with any of it at an end is
#: left to the row reader (which trims it), so the scan can compare cells as they are.
_SPACE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
#: The contract's number, as in table.py (RE2 syntax).
_NUMBER = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"


def _edge_space(column: str) -> str:
    """SQL: the cell starts or ends with white space (comparing only its first and last
    character: a trim with a character list costs ten times the scan)."""
    return (f"({column} <> '' AND (contains(getvariable('reviewkit_space'), left({column}, 1)) "
            f"OR contains(getvariable('reviewkit_space'), right({column}, 1))))")


@contextmanager
def engine(**settings: Any) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection that never installs or loads an extension (no network)
    and spills, when it must, into a temporary folder removed afterwards."""
    import duckdb  # deferred: only packs with large tables or queries pay for the import

    # Why a folder of our own: past the memory limit DuckDB spills to disk, by default into
    # ".tmp" in the working directory, which is the user's.
    with _scratch.folder("reviewkit-duckdb-") as spill:
        con = duckdb.connect(config={"autoinstall_known_extensions": False,
                                     "autoload_known_extensions": False,
                                     "memory_limit": MEMORY_LIMIT, "temp_directory": str(spill),
                                     **settings})
        try:
            # A bar drawn on the terminal during a long scan would break the one-line promise.
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()


def literal(path: Path) -> str:
    """``path`` as DuckDB reads that one file: it expands '*', '?' and '[' in a path as a
    shell does (``report[1].csv`` would read ``report1.csv``), so each is put in brackets,
    where it stands for itself."""
    return "".join(f"[{char}]" if char in "*?[" else char for char in str(path))


def define_period_of(con: duckdb.DuckDBPyConnection, end: dt.date, rule: PeriodRule) -> None:
    """``period_of(x)``: the last day of the period (cut by ``rule``, one of them ending on
    ``end``) that holds the date or time ``x``."""
    con.execute("SET VARIABLE reviewkit_period_end = $end", {"end": end})
    if rule.unit == "days":
        # Periods of N days end on the pack's period end, N, 2N … days apart.
        con.execute(
            "CREATE MACRO period_of(x) AS getvariable('reviewkit_period_end') - "
            f"{rule.length} * CAST(floor(date_diff('day', CAST(x AS DATE), "
            f"getvariable('reviewkit_period_end')) / {rule.length}) AS INTEGER)")
    else:
        # Blocks of N calendar months from January: the block's last month, its last day.
        con.execute(
            "CREATE MACRO period_of(x) AS last_day(make_date(year(CAST(x AS DATE)), "
            f"(month(CAST(x AS DATE)) - 1) // {rule.length} * {rule.length} + {rule.length}, 1))")


# -- large measurement tables --------------------------------------------------------------

@dataclass(frozen=True)
class CsvTable:
    """A measurements CSV the column-wise scan has checked: where it is and its columns (by
    position, as the header names them; "" for a column the contract does not read)."""

    path: Path
    columns: tuple[str, ...]


#: The scale of the engine's exact sums: a value with more decimal places than this (or in
#: exponent form, or of more than 15 significant digits) sends the table to the row reader.
SUM_SCALE = 12
#: The most digits a value the engine sums may have: up to 15, a value's shortest Python repr
#: is the decimal written in the file, so both readers add the same decimals.
SUM_DIGITS = 15


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One KPI's rows on one date, combined across their segments by the engine."""

    day: dt.date
    rows: int  # every row of the KPI on that date
    n: int  # the rows with a value
    total: Decimal | None  # the exact sum of those values (None when n is 0)
    low: float | None  # the smallest of them
    high: float | None  # the largest
    last: float | None  # the value of the last of them in segment order
    # The target of the last row in segment order that has one (a row with or without a
    # value), and which row that is: None when it has a value, else its segment.
    target: float | None
    target_missing_segment: str | None
    target_rows: int  # rows with a target
    missing: tuple[str, ...]  # the segments of the rows without a value, in order


@dataclass(frozen=True)
class Scan:
    """What the load stage keeps of a checked table: no rows, only each KPI's rows summarised
    per date (see :class:`DaySummary`), which is all a pack of any period needs."""

    table: CsvTable
    row_count: int
    rows: dict[str, int]  # each KPI's row count
    days: dict[str, tuple[DaySummary, ...]]  # each KPI's dates, in order
    has_segments: bool = False  # some row has a segment (a unit)

    def latest_dates(self, not_after: dt.date | None) -> dict[str, dt.date]:
        """Each KPI's latest date with a row, ignoring rows after ``not_after`` (None: none
        ignored)."""
        latest: dict[str, dt.date] = {}
        for kpi_id, days in self.days.items():
            kept = [day.day for day in days if not_after is None or day.day <= not_after]
            if kept:
                latest[kpi_id] = kept[-1]
        return latest


def _relation_sql(con: duckdb.DuckDBPyConnection, table: CsvTable) -> str:
    """A view ``raw`` of the CSV as text, one column per header column, named c0, c1 …"""
    names = [f"c{index}" for index in range(len(table.columns))]
    # No null_padding: a line with fewer fields than the header is an error here, so the row
    # reader refuses it by its line (padded, its fields were read under the wrong columns).
    # Like the row reader, the engine reads empty fields after the last column.
    con.read_csv(literal(table.path), header=True, all_varchar=True, auto_detect=False,
                 delimiter=",", quotechar='"', escapechar='"',
                 columns={name: "VARCHAR" for name in names},
                 encoding="utf-8").create_view("raw")
    def cell(name: str) -> str:
        if name not in table.columns:
            return "''"
        return f"coalesce(c{table.columns.index(name)}, '')"
    return (f"SELECT {cell('kpi_id')} AS kpi_id, {cell('period_end')} AS period_end, "
            f"{cell('value')} AS value, {cell('target')} AS target, "
            f"{cell('segment')} AS segment FROM raw")


#: The delimiter that reads a CSV's lines whole: a character no table's text holds (a line with
#: it splits, the engine stops, and the row reader decides).
_WHOLE_LINE = "\x1f"


def trailing_fields(path: Path, width: int) -> bool:
    """Whether a line of the CSV may hold more than ``width`` fields, the extra ones empty.

    The engine reads a line with empty fields after the header's last column ('a,b,c,' under
    a header of three) as if they were not there, and does not say so; the row reader refuses
    them (the unquoted '1,234.5' in 'x,d,1,234.5,,,' would be the value 1 and a target of
    234.5). Each physical line is read whole; one that ends in an empty field (',' or '""')
    has its commas outside quotes counted. A line of a quoted field that spans lines may be
    counted wrong, so True means only "let the row reader decide"."""
    import duckdb  # deferred: see engine()

    text = "rtrim(line, chr(13))"
    unquoted = f"""regexp_replace({text}, '"([^"]|"")*"', '', 'g')"""
    try:
        with engine() as con:
            found = con.execute(f"""
                SELECT count(*) FROM read_csv($path, columns={{'line': 'VARCHAR'}}, header=true,
                  auto_detect=false, delim='{_WHOLE_LINE}', quote='', escape='')
                WHERE (suffix({text}, ',') OR suffix({text}, '""'))
                  AND length({unquoted}) - length(replace({unquoted}, ',', '')) <> {width - 1}
            """, {"path": literal(path)}).fetchone()
    except duckdb.Error:
        return True  # a line the engine cannot read whole: the row reader decides
    return bool(found and found[0])


def _bad_number(column: str) -> str:
    """SQL: the cell is not empty and not a finite number in the contract's form, of at most
    MAX_MAGNITUDE (a value in the exact form has at most 15 digits, so is always within it)."""
    return (f"({column} <> '' AND NOT (regexp_full_match({column}, '{_NUMBER}') "
            f"AND coalesce(abs(try_cast({column} AS DOUBLE)) <= {MAX_MAGNITUDE!r}, false)))")


#: A number in the contract's form that the engine adds up exactly as the row reader does: no
#: exponent and at most SUM_SCALE decimal places (RE2 syntax); it is finite.
_EXACT_NUMBER = rf"[+-]?([0-9]+(\.[0-9]{{0,{SUM_SCALE}}})?|\.[0-9]{{1,{SUM_SCALE}}})"


def _exact_form(column: str) -> str:
    """SQL: the cell holds a number the engine sums exactly as the row reader does (see
    :data:`_EXACT_NUMBER`), of at most SUM_DIGITS digits. One regular expression a cell: the
    contract's own form is implied."""
    digits = (f"length({column}) - CAST(starts_with({column}, '+') OR starts_with({column}, '-') "
              f"AS INTEGER) - CAST(contains({column}, '.') AS INTEGER)")
    return (f"(regexp_full_match({column}, '{_EXACT_NUMBER}') "
            f"AND (length({column}) <= {SUM_DIGITS} OR {digits} <= {SUM_DIGITS}))")


def _date_or_none(text: str) -> dt.date | None:
    """The date a period_end cell holds as the row reader reads it (None: it reads none)."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    if len(text) != 10 or day.isoformat() != text or not EARLIEST <= day <= LATEST:
        return None
    return day


def scan_csv(path: Path, columns: Sequence[str]) -> Scan | None:
    """Check every row of a measurements CSV column-wise and summarise each KPI's rows per date,
    in one pass over the file; None when the row reader must decide.

    ``columns`` is the header as the row reader checked it (lower-cased, trimmed). Checked
    here: kpi_id not empty; period_end a real YYYY-MM-DD date from 1900 to 2999; value and
    target empty or a finite number in the contract's form; no two rows with the same KPI,
    date and segment; no kpi_id or segment with white space at an end (the row reader trims
    it; we leave such a file to it). A value the engine cannot add up exactly as the row
    reader does (see :func:`_exact_form`) also leaves the file to the row reader, and so does a
    unit's row (a segment) with a target of its own: whether units' targets set a period's
    target depends on which units give one (evaluation's ``_period_target``), which a date's
    summary does not keep.
    """
    import duckdb  # deferred: see engine()

    table = CsvTable(path, tuple(columns))
    with engine() as con:
        try:
            cells = _relation_sql(con, table)
            con.execute(f"CREATE VIEW cells AS {cells}")
            con.execute(
                "CREATE VIEW rows AS SELECT * FROM cells WHERE NOT (kpi_id = '' AND "
                "period_end = '' AND value = '' AND target = '' AND segment = '')")
            con.execute("SET VARIABLE reviewkit_space = $space", {"space": _SPACE})
            # One pass: per KPI and date (as written), its rows checked and summarised. A date
            # has as many distinct segments as rows, or two rows share one (a duplicate; the
            # segments' hashes are counted, faster than their text: two segments of one date
            # sharing a hash read as a duplicate too, and the row reader then decides). A value
            # not in the exact form is bad or beyond exact sums, and a unit's row with a target
            # needs the units' own rows: the row reader decides too.
            groups = con.execute(f"""
                WITH typed AS (
                  SELECT kpi_id, period_end, value, target, segment,
                         CASE WHEN value <> '' THEN try_cast(value AS DOUBLE) END AS v,
                         CASE WHEN target <> '' THEN try_cast(target AS DOUBLE) END AS t
                  FROM rows)
                SELECT kpi_id, period_end, count(*), count(DISTINCT hash(segment)),
                  count(*) FILTER (WHERE segment <> ''),
                  count(*) FILTER (WHERE {_edge_space('segment')} OR {_bad_number('target')}),
                  count(*) FILTER (WHERE (value <> '' AND NOT {_exact_form('value')})
                                    OR (segment <> '' AND target <> '')),
                  count(v),
                  sum(try_cast(value AS DECIMAL(38, {SUM_SCALE}))) FILTER (WHERE v IS NOT NULL),
                  min(v), max(v), arg_max(v, segment) FILTER (WHERE v IS NOT NULL),
                  arg_max(t, segment) FILTER (WHERE t IS NOT NULL),
                  arg_max(CASE WHEN v IS NULL THEN segment END, segment)
                    FILTER (WHERE t IS NOT NULL),
                  arg_max(v IS NULL, segment) FILTER (WHERE t IS NOT NULL),
                  count(t),
                  list(segment ORDER BY segment) FILTER (WHERE value = '')
                FROM typed GROUP BY kpi_id, period_end
            """).fetchall()
        except duckdb.Error:
            return None  # a line DuckDB cannot parse: the row reader names it, or reads it
    if trailing_fields(path, len(columns)):
        return None
    rows: dict[str, int] = {}
    days: dict[str, list[DaySummary]] = {}
    has_segments = False
    for (kpi_id, text, count, segments, with_segment, bad, inexact, n, total, low, high, last,
         target, target_segment, target_missing, target_rows, missing) in groups:
        day = _date_or_none(text)
        if (bad or inexact or count != segments or day is None or not kpi_id
                or kpi_id != kpi_id.strip(_SPACE)):
            return None
        has_segments = has_segments or bool(with_segment)
        rows[kpi_id] = rows.get(kpi_id, 0) + count
        days.setdefault(kpi_id, []).append(DaySummary(
            day, count, n, total if n else None, low, high, last, target,
            target_segment if target_missing else None, target_rows, tuple(missing or ())))
    return Scan(table, sum(rows.values()),
                dict(sorted(rows.items())),
                {kpi_id: tuple(sorted(found, key=lambda summary: summary.day))
                 for kpi_id, found in days.items()},
                has_segments)
