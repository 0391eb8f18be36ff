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
import math
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewkit.cadences import PeriodRule
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
    spill = tempfile.mkdtemp(prefix="reviewkit-duckdb-")
    try:
        con = duckdb.connect(config={"autoinstall_known_extensions": False,
                                     "autoload_known_extensions": False,
                                     "memory_limit": MEMORY_LIMIT, "temp_directory": spill,
                                     **settings})
        try:
            # A bar drawn on the terminal during a long scan would break the one-line promise.
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)


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


@dataclass(frozen=True)
class Scan:
    """What the load stage keeps of a checked table: no rows, only what choosing a period and
    reporting on the file need."""

    table: CsvTable
    row_count: int
    today: dt.date  # the day the scan took as today
    latest: dict[str, dt.date]  # the latest date of each KPI's rows, up to ``today``
    rows: dict[str, int]  # each KPI's row count
    has_segments: bool = False  # some row has a segment (a unit)

    def latest_dates(self, not_after: dt.date | None) -> dict[str, dt.date]:
        """Each KPI's latest date, ignoring rows after ``not_after`` (None: none ignored)."""
        if not_after == self.today:
            return self.latest
        with engine() as con:
            cells = _relation_sql(con, self.table)
            latest = con.execute(
                f"SELECT kpi_id, max(period_end) FROM ({cells}) WHERE kpi_id <> '' "
                "AND ($last IS NULL OR period_end <= $last) GROUP BY kpi_id",
                {"last": not_after.isoformat() if not_after else None}).fetchall()
        return {kpi: dt.date.fromisoformat(day) for kpi, day in latest}


def _relation_sql(con: duckdb.DuckDBPyConnection, table: CsvTable) -> str:
    """A view ``raw`` of the CSV as text, one column per header column, named c0, c1 …"""
    names = [f"c{index}" for index in range(len(table.columns))]
    con.read_csv(str(table.path), header=True, all_varchar=True, auto_detect=False,
                 delimiter=",", quotechar='"', escapechar='"', null_padding=True,
                 columns={name: "VARCHAR" for name in names},
                 encoding="utf-8").create_view("raw")
    def cell(name: str) -> str:
        if name not in table.columns:
            return "''"
        return f"coalesce(c{table.columns.index(name)}, '')"
    return (f"SELECT {cell('kpi_id')} AS kpi_id, {cell('period_end')} AS period_end, "
            f"{cell('value')} AS value, {cell('target')} AS target, "
            f"{cell('segment')} AS segment FROM raw")


def scan_csv(path: Path, columns: Sequence[str], today: dt.date) -> Scan | None:
    """Check every row of a measurements CSV column-wise; None when the row reader must decide.

    ``columns`` is the header as the row reader checked it (lower-cased, trimmed). Checked
    here: kpi_id not empty; period_end a real YYYY-MM-DD date from 1900 to 2999; value and
    target empty or a finite number in the contract's form; no two rows with the same KPI,
    date and segment; no kpi_id or segment with white space at an end (the row reader trims
    it; we leave such a file to it).
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
            # One scan: per KPI, its rows, its bad rows and its latest date up to today.
            con.execute("SET VARIABLE reviewkit_space = $space", {"space": _SPACE})
            per_kpi = con.execute(f"""
                SELECT kpi_id, count(*), count(*) FILTER (WHERE
                    kpi_id = '' OR {_edge_space('kpi_id')} OR {_edge_space('segment')}
                 OR period_end < $earliest OR period_end > $latest OR period_end IS DISTINCT FROM
                    strftime(try_cast(period_end AS DATE), '%Y-%m-%d')
                 OR (value <> '' AND NOT (regexp_full_match(value, '{_NUMBER}')
                      AND coalesce(isfinite(try_cast(value AS DOUBLE)), false)))
                 OR (target <> '' AND NOT (regexp_full_match(target, '{_NUMBER}')
                      AND coalesce(isfinite(try_cast(target AS DOUBLE)), false)))),
                 max(period_end) FILTER (WHERE period_end <= $today),
                 count(*) FILTER (WHERE segment <> '')
                FROM rows GROUP BY kpi_id
            """, {"today": today.isoformat(), "earliest": EARLIEST.isoformat(),
                  "latest": LATEST.isoformat()}).fetchall()
            if any(bad for _, _, bad, _, _ in per_kpi):
                return None
            # A hash shared by two different rows reads as a duplicate too: the row reader
            # then decides (a chance of a few in a million for ten million rows). Hashes
            # group faster than the text they stand for.
            duplicate = con.execute(
                "SELECT 1 FROM rows GROUP BY hash(kpi_id, period_end, segment) "
                "HAVING count(*) > 1 LIMIT 1").fetchone()
            if duplicate is not None:
                return None
        except duckdb.Error:
            return None  # a line DuckDB cannot parse: the row reader names it, or reads it
    return Scan(table, sum(rows for _, rows, _, _, _ in per_kpi), today,
                {kpi: dt.date.fromisoformat(day) for kpi, _, _, day, _ in per_kpi if day},
                {kpi: rows for kpi, rows, _, _, _ in per_kpi},
                any(units for _, _, _, _, units in per_kpi))


Row = tuple[str, dt.date, float | None, float | None, str]
#: Rows fetched at a time: DuckDB's result rows are Python tuples until we keep what we need.
_BATCH = 100_000
#: Periods fetched at a time when earlier periods are summarised: each brings its values.
_GROUPS = 64


@dataclass(frozen=True)
class PackRows:
    """The rows of a large table that one pack needs, as plain values."""

    # every row of the catalog's KPIs dated from ``keep_from`` to the period end, in
    # (kpi, date, segment) order, in batches: kpi, date, value, target, segment
    kept: Iterator[list[Row]]
    # before ``keep_from``, one row per KPI and period that has a value: kpi, the latest date
    # with a value, the period's value by the KPI's rule, the latest target, the values counted
    summarised: list[tuple[str, dt.date, float, float | None, int]]
    # before ``keep_from``, the rows with an empty value: kpi, date, segment
    missing: list[tuple[str, dt.date, str]]
    rows_after: int  # rows of any KPI dated after the period
    rows_in_future: int  # rows after today not among the kept (unknown KPIs, after the period)
    target_rows_before: dict[str, int]  # rows with a target, before ``keep_from``


@contextmanager
def pack_rows(
    table: CsvTable,
    rules: Mapping[str, str],
    keep_from: dt.date,
    end: dt.date,
    rule: PeriodRule,
    today: dt.date,
) -> Iterator[PackRows]:
    """The rows of ``rules``' KPIs (id → aggregation rule) that a pack ending on ``end`` needs.

    Rows from ``keep_from`` on come back as they are (one scan of the file, fetched in batches
    while the context is open). Earlier periods are only needed to count a streak back past the
    charts, for the day a KPI was last seen and for the data-quality appendix, so a second scan
    returns them combined: one row per KPI and period with the period's value (the KPI's rule
    over its values, as the evaluation computes it), its latest date with a value and its
    latest target (in date and segment order); plus each row with an empty value. Two scans of
    the file hold less in memory than one scan into a table of every row.
    """
    with engine() as con:
        cells = _relation_sql(con, table)
        con.execute("CREATE TEMP TABLE rules (kpi_id VARCHAR, rule VARCHAR)")
        con.executemany("INSERT INTO rules VALUES (?, ?)", list(rules.items()))
        # Dates compare as text: the load's scan checked their form.
        con.execute(f"""
            CREATE VIEW typed AS
            SELECT kpi_id, period_end, CAST(period_end AS DATE) AS day,
                   CAST(nullif(value, '') AS DOUBLE) AS value,
                   CAST(nullif(target, '') AS DOUBLE) AS target, segment, rule
            FROM ({cells}) LEFT JOIN rules USING (kpi_id)
            WHERE period_end <> ''
        """)
        define_period_of(con, end, rule)
        # Means and sums come back as the list of the period's values and are added up here
        # with math.fsum, as the evaluation does (the engine's sum can differ in the last bit).
        earlier = con.execute("""
            SELECT kpi_id, any_value(rule),
                   count(*) FILTER (WHERE period_end > $end_text),
                   count(*) FILTER (WHERE period_end > $today_text
                                    AND (rule IS NULL OR period_end > $end_text)),
                   count(*) FILTER (WHERE rule IS NOT NULL AND period_end < $start_text),
                   max(day) FILTER (WHERE value IS NOT NULL AND period_end < $start_text),
                   count(value),
                   CASE any_value(rule)
                     WHEN 'min' THEN min(value)
                     WHEN 'max' THEN max(value)
                     WHEN 'last' THEN arg_max(value, (day, segment))
                                      FILTER (WHERE value IS NOT NULL)
                   END,
                   CASE WHEN any_value(rule) IN ('mean', 'sum')
                        THEN list(value) FILTER (WHERE value IS NOT NULL) END,
                   arg_max(target, (day, segment)) FILTER (WHERE target IS NOT NULL),
                   count(target),
                   list((day, segment) ORDER BY day, segment) FILTER (WHERE value IS NULL)
            FROM typed
            WHERE period_end > $end_text OR period_end > $today_text
               OR (rule IS NOT NULL AND period_end < $start_text)
            GROUP BY kpi_id, period_of(day)
        """, {"end_text": end.isoformat(), "start_text": keep_from.isoformat(),
              "today_text": today.isoformat()})
        summarised: list[tuple[str, dt.date, float, float | None, int]] = []
        missing: list[tuple[str, dt.date, str]] = []
        targets: dict[str, int] = {}
        after = future = 0
        while groups := earlier.fetchmany(_GROUPS):
            for (kpi_id, kpi_rule, later, in_future, before, seen, count, value, values,
                 target, target_rows, empty) in groups:
                after += later
                future += in_future
                if not before:
                    continue  # a KPI the catalog does not know, or a period after keep_from
                if seen is not None:
                    if kpi_rule == "mean":
                        value = math.fsum(values) / len(values)
                    elif kpi_rule == "sum":
                        value = math.fsum(values)
                    summarised.append((kpi_id, seen, value, target, count))
                missing.extend((kpi_id, day, segment) for day, segment in empty or ())
                if target_rows:
                    targets[kpi_id] = targets.get(kpi_id, 0) + target_rows

        def batches() -> Iterator[list[Row]]:
            if keep_from > end:
                return  # every period summarised: no need to read the file again
            result = con.execute(
                "SELECT kpi_id, day, value, target, segment FROM typed WHERE rule IS NOT NULL "
                "AND period_end BETWEEN $start_text AND $end_text "
                "ORDER BY kpi_id, day, segment",
                {"start_text": keep_from.isoformat(), "end_text": end.isoformat()})
            while batch := result.fetchmany(_BATCH):
                yield batch

        yield PackRows(kept=batches(), summarised=summarised, missing=missing,
                       rows_after=after, rows_in_future=future, target_rows_before=targets)
