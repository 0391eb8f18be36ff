"""Operational sources and KPI queries: SQL over the params file's named sources, run by DuckDB.

A catalog KPI may carry a ``query`` instead of rows in the measurements table. The query reads
the sources the params file declares (CSV or Parquet files and globs, an ``.xlsx``, or a table in
a database) and returns one row per period (and unit): ``period_end``, ``value`` and optionally
``segment`` and ``target``. Its rows become the KPI's :class:`Observation` series, so the
evaluation downstream does not know where a value came from.

Why DuckDB: it scans CSV and Parquet column-wise and in parallel, so a query over ten million
incident rows reads each file once and hands back a few hundred rows; nothing is loaded into
Python row by row. The window is passed as query parameters (``$window_start``, ``$window_end``,
``$cadence``), never pasted into the SQL, and a query can read only the declared sources: the
connection turns off all other file access and extension loading before any query runs.
"""

from __future__ import annotations

import datetime as dt
import glob
import math
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reviewkit import redact
from reviewkit.cadences import PeriodRule
from reviewkit.errors import InputError
from reviewkit.inputs._yaml import LineDict, did_you_mean
from reviewkit.inputs.columnar import define_period_of, engine
from reviewkit.inputs.measurements import Observation
from reviewkit.periods import Period, check_date, parse_date

if TYPE_CHECKING:
    import duckdb

#: What a query may ask for with ``$name``; reviewkit binds each as a typed parameter.
QUERY_PARAMETERS = ("window_start", "window_end", "cadence")
#: The columns a query returns (any order); other names are an error.
RESULT_COLUMNS = ("period_end", "value", "segment", "target", "count")
#: A query returns one row per period and unit; far more than any pack shows means it forgot to
#: group (and would pull a raw table into memory).
MAX_RESULT_ROWS = 100_000
#: A database URL may be given as ``${VARIABLE}``, read from the environment (as the store's).
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Source names are SQL identifiers the query writes as table names.
_NAME = re.compile(r"[a-z_][a-z0-9_]*", re.ASCII)
_FILE_FORMATS = (".csv", ".parquet", ".xlsx")

SourceKind = Literal["csv", "parquet", "xlsx", "database"]


@dataclass(frozen=True)
class Source:
    """One named source from the params file, resolved: its files, or a database table."""

    name: str
    kind: SourceKind
    shown: str  # the path or glob as written, or the URL with its password hidden
    files: tuple[Path, ...] = ()
    table: str = ""
    url: str = field(default="", repr=False)  # may hold a password: never printed or shown

    def describe(self) -> str:
        return f"source '{self.name}' ({self.shown})"


# -- the params file's `sources:` --------------------------------------------------------------

def resolve_sources(params_path: Path, data: LineDict) -> tuple[Source, ...]:
    """Check the params file's ``sources`` mapping and resolve each entry.

    A short entry is a path or glob relative to the params file; a mapping ``{url, table}``
    names a table in a database. Errors name the params file, the line and the source.
    """
    raw = data.get("sources")
    if raw is None:
        return ()
    line = data.line_of("sources")
    if not isinstance(raw, LineDict):
        raise InputError(params_path, "sources must be a mapping of name to a path, a glob or "
                         "{url: ..., table: ...}", line=line, field="sources")
    sources = []
    for name, spec in raw.items():
        where = raw.line_of(name)
        if not _NAME.fullmatch(name):
            raise InputError(params_path, f"source name {name!r} must be lower-case letters, "
                             "digits and '_', starting with a letter (the query uses it as a "
                             "table name)", line=where, field=f"sources.{name}")
        sources.append(_resolve_one(params_path, name, spec, where))
    return tuple(sources)


def _resolve_one(params_path: Path, name: str, spec: Any, line: int) -> Source:
    field_name = f"sources.{name}"
    if isinstance(spec, LineDict):
        unknown = [key for key in spec if key not in ("url", "table")]
        if unknown:
            raise InputError(params_path, f"unknown key{did_you_mean(unknown[0], ['url', 'table'])}"
                             "; a database source has url and table", line=spec.line_of(unknown[0]),
                             field=f"{field_name}.{unknown[0]}")
        url, table = spec.get("url"), spec.get("table")
        shown = url
        variable = _ENV_REFERENCE.fullmatch(url) if isinstance(url, str) else None
        if variable:
            if variable[1] not in os.environ:
                raise InputError(params_path, f"the environment variable {variable[1]} is not "
                                 "set; set it to the database URL", line=spec.line_of("url"),
                                 field=f"{field_name}.url")
            url = os.environ[variable[1]]
        if not isinstance(url, str) or "://" not in url:
            raise InputError(params_path, "url must be a database URL such as "
                             "postgresql://user@host/db or sqlite:///path/to.db",
                             line=spec.line_of("url"), field=f"{field_name}.url")
        if not isinstance(table, str) or not table.strip():
            raise InputError(params_path, "table is required: the database table to read",
                             line=spec.line_of("table"), field=f"{field_name}.table")
        return Source(name, "database", redact.url(str(shown) if variable else url),
                      table=table.strip(), url=url)
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(params_path, "a source is a path or glob of .csv, .parquet or .xlsx "
                         "files, or {url: ..., table: ...}", line=line, field=field_name)
    if "://" in spec:
        raise InputError(params_path, "a database source needs a table: write "
                         "{url: ..., table: ...}", line=line, field=field_name)
    suffix = Path(spec).suffix.lower()
    if suffix not in _FILE_FORMATS:
        raise InputError(params_path, f"unsupported source format '{suffix or spec}'; use .csv, "
                         ".parquet or .xlsx files (a glob such as exports/*.csv is fine)",
                         line=line, field=field_name)
    pattern = params_path.parent / spec
    if glob.has_magic(spec):
        files = tuple(sorted(Path(match).resolve() for match in glob.glob(str(pattern))
                             if Path(match).is_file()))
        if not files:
            raise InputError(params_path, f"no file matches {spec!r}; paths are relative to "
                             "the params file", line=line, field=field_name)
        if suffix == ".xlsx" and len(files) > 1:
            raise InputError(params_path, "a glob of .xlsx workbooks is not supported; name one "
                             "workbook per source", line=line, field=field_name)
    else:
        if not pattern.is_file():
            raise InputError(params_path, f"file not found: {pattern.resolve()}; paths are "
                             "relative to the params file", line=line, field=field_name)
        files = (pattern.resolve(),)
    kind: SourceKind = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}[suffix]  # type: ignore[assignment]
    return Source(name, kind, spec, files=files)


# -- the catalog's `query:` ---------------------------------------------------------------------

def check_query_text(sql: str) -> str | None:
    """Why ``sql`` is not one SELECT statement using only the known parameters, or None."""
    import duckdb  # deferred: only catalogs with queries pay for the engine's import

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        return f"the query is not valid SQL: {_engine_message(exc)}"
    if len(statements) != 1:
        return f"the query must be one SELECT statement (found {len(statements)})"
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        return "the query must be a SELECT statement; reviewkit only reads sources"
    unknown = sorted(set(statement.named_parameters) - set(QUERY_PARAMETERS))
    if unknown:
        return (f"unknown query parameter ${unknown[0]}{did_you_mean(unknown[0], QUERY_PARAMETERS)}"
                "; parameters: " + ", ".join(f"${name}" for name in QUERY_PARAMETERS))
    return None


@dataclass(frozen=True)
class KpiQuery:
    """A catalog KPI's query and where it is written, for messages."""

    kpi_id: str
    sql: str
    catalog: Path
    line: int

    def error(self, message: str) -> InputError:
        return InputError(self.catalog, f"KPI '{self.kpi_id}': {message}", line=self.line,
                          field="query")


@dataclass(frozen=True)
class Window:
    """The dates a pack shows (its chart window) and how its periods are cut."""

    start: dt.date
    end: dt.date
    cadence: str
    rule: PeriodRule


def window_for(period: Period, history: int) -> Window:
    """The window of a pack: its ``history`` periods, oldest first, ending with ``period``."""
    first = period.shift(-(history - 1))
    return Window(first.start, period.end, period.cadence, period.rule)


# -- running queries ---------------------------------------------------------------------------

@contextmanager
def connect(sources: Sequence[Source]) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with one view per source and no other file access."""
    with engine() as con:
        for source in sources:
            _register(con, source)
        allowed = [str(path) for source in sources for path in source.files]
        con.execute("SET allowed_paths = $paths", {"paths": allowed})
        # The engine's own spill folder stays usable (it holds nothing but its temp files).
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()
        if spill and spill[0]:
            con.execute("SET allowed_directories = $dirs", {"dirs": [spill[0]]})
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        yield con


def _register(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    import duckdb  # deferred: see connect()

    try:
        if source.kind == "csv":
            relation = con.read_csv([str(path) for path in source.files])
        elif source.kind == "parquet":
            relation = con.read_parquet([str(path) for path in source.files])
        elif source.kind == "xlsx":
            relation = con.from_arrow(_xlsx_table(source))
        else:
            relation = con.from_arrow(_database_table(source))
        relation.create_view(source.name)
    except duckdb.Error as exc:
        raise _source_error(source, _engine_message(exc)) from None


def _source_error(source: Source, message: str) -> InputError:
    file = source.files[0] if len(source.files) == 1 else source.shown
    return InputError(file, f"cannot read {source.describe()}: {message}")


def _xlsx_table(source: Source) -> Any:
    """The first sheet of a workbook as an Arrow table (header on row 1)."""
    import openpyxl  # deferred: only spreadsheet sources need it
    import pyarrow as pa  # deferred: with openpyxl

    path = source.files[0]
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for files that are not workbooks
        raise _source_error(source, f"not an Excel workbook ({exc})") from None
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    if not rows:
        raise _source_error(source, "the first sheet is empty; row 1 must be the header")
    header = [str(name).strip() if name is not None else f"column{index + 1}"
              for index, name in enumerate(rows[0])]
    columns = {name: [row[index] if index < len(row) else None for row in rows[1:]]
               for index, name in enumerate(header)}
    try:
        return pa.table(columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _source_error(source, f"a column mixes kinds of value ({exc}); keep one kind "
                            "(numbers, dates or text) per column") from None


def _database_table(source: Source) -> Any:
    """A database table as an Arrow table, read through SQLAlchemy.

    The table is copied into the query engine once per pack: fine for the thousands of rows
    an operational export has, not for tens of millions (export those to Parquet).
    """
    import pyarrow as pa  # deferred: only database sources need it
    import sqlalchemy  # deferred: only database sources need it

    try:
        engine = sqlalchemy.create_engine(source.url)
        try:
            table = sqlalchemy.Table(source.table, sqlalchemy.MetaData(), autoload_with=engine)
            with engine.connect() as connection:
                result = connection.execute(sqlalchemy.select(table))
                names = list(result.keys())
                rows = result.fetchall()
        finally:
            engine.dispose()
    except Exception as exc:  # drivers raise their own types; all mean "cannot read it"
        raise _source_error(source, redact.text(str(exc).split("\n")[0], source.url)) from None
    return pa.table({name: [row[index] for row in rows] for index, name in enumerate(names)})


def run_queries(
    queries: Sequence[KpiQuery], sources: Sequence[Source], window: Window
) -> dict[str, list[Observation]]:
    """Run each KPI's query over ``window`` and check what it returns.

    Each source file is scanned by the queries that read it, and only their grouped rows come
    back. Errors name the catalog line of the query, the KPI, the sources it reads and the
    engine's message.
    """
    if not queries:
        return {}
    import duckdb  # deferred: see connect()

    values = {"window_start": window.start, "window_end": window.end, "cadence": window.cadence}
    series: dict[str, list[Observation]] = {}
    with connect(sources) as con:
        define_period_of(con, window.end, window.rule)
        for query in queries:
            statement = duckdb.extract_statements(query.sql)[0]
            used = {name: values[name] for name in statement.named_parameters}
            try:
                result = con.execute(statement.query, used)
                names = [column[0].lower() for column in result.description or ()]
                _check_columns(query, sources, names)
                rows = result.fetchmany(MAX_RESULT_ROWS + 1)
            except duckdb.Error as exc:
                raise query.error(f"the query over {_read_by(query, sources)} failed: "
                                  f"{_engine_message(exc)}") from None
            if len(rows) > MAX_RESULT_ROWS:
                raise query.error(f"the query returns more than {MAX_RESULT_ROWS:,} rows; return "
                                  "one row per period (GROUP BY period_of(...))")
            series[query.kpi_id] = _observations(query, sources, names, rows)
    return series


def _read_by(query: KpiQuery, sources: Sequence[Source]) -> str:
    """The sources a query names (by word), for messages; all of them when it names none."""
    named = [source for source in sources if re.search(rf"\b{source.name}\b", query.sql, re.I)]
    chosen = named or list(sources)
    if not chosen:
        return "no source (the params file declares none)"
    return ", ".join(source.describe() for source in chosen)


def _check_columns(query: KpiQuery, sources: Sequence[Source], names: list[str]) -> None:
    for name in names:
        if name not in RESULT_COLUMNS:
            raise query.error(
                f"the query over {_read_by(query, sources)} returns column '{name}'"
                f"{did_you_mean(name, RESULT_COLUMNS)}; return period_end and value, and "
                "optionally segment, target and count")
    if len(set(names)) != len(names):
        raise query.error("the query returns a column twice; return each of period_end, value, "
                          "segment, target and count at most once")
    for name in ("period_end", "value"):
        if name not in names:
            raise query.error(f"the query over {_read_by(query, sources)} returns no "
                              f"'{name}' column (it returns {', '.join(names) or 'none'}); "
                              "name the columns with AS period_end, AS value")


def _observations(
    query: KpiQuery, sources: Sequence[Source], names: list[str], rows: Sequence[tuple[Any, ...]]
) -> list[Observation]:
    index = {name: position for position, name in enumerate(names)}
    seen: dict[tuple[dt.date, str], int] = {}
    observations = []
    for number, row in enumerate(rows, start=1):
        period_end = _as_date(query, row[index["period_end"]], number)
        value = _as_number(query, sources, row[index["value"]], "value", number)
        target = (_as_number(query, sources, row[index["target"]], "target", number)
                  if "target" in index else None)
        count = (_as_number(query, sources, row[index["count"]], "count", number)
                 if "count" in index else None)
        if count is not None and count <= 0:
            raise query.error(f"the query returns {count:g} in 'count' (row {number}); a count "
                              "is how many items the value stands for: a positive number, or "
                              "NULL")
        segment = row[index["segment"]] if "segment" in index else None
        segment_text = "" if segment is None else str(segment).strip()
        key = (period_end, segment_text)
        if key in seen:
            unit = f" and segment '{segment_text}'" if segment_text else ""
            raise query.error(f"the query returns two rows for {period_end}{unit} (rows "
                              f"{seen[key]} and {number}); return one row per period")
        seen[key] = number
        observations.append(Observation(period_end, value, target, segment_text, number,
                                        count))
    observations.sort(key=lambda obs: (obs.period_end, obs.segment))
    return observations


def _as_date(query: KpiQuery, value: object, number: int) -> dt.date:
    day: dt.date | None = None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        try:
            day = parse_date(value)
        except ValueError:
            day = None
    if day is not None:
        try:
            return check_date(day)
        except ValueError as exc:
            raise query.error(f"row {number} of the query's result: {exc}") from None
    shown = "an empty period_end" if value is None else f"period_end {value!r}"
    raise query.error(f"row {number} of the query's result has {shown}; return a date "
                      "(e.g. period_of(opened_at) AS period_end)")


def _as_number(
    query: KpiQuery, sources: Sequence[Source], value: object, column: str, number: int
) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise query.error(f"the query over {_read_by(query, sources)} returns {value!r} in "
                          f"'{column}' (row {number}), which is not a number; return a number "
                          "(CAST(... AS DOUBLE)) or NULL for missing")
    result = float(value)
    if not math.isfinite(result):
        raise query.error(f"the query returns {result} in '{column}' (row {number}); return a "
                          "finite number or NULL for missing (check for a division by zero)")
    return result


def _engine_message(exc: BaseException) -> str:
    """DuckDB's message without the caret lines under the SQL; one line."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    kept = []
    for line in lines:
        if line.startswith("LINE ") or set(line.strip()) <= {"^"}:
            continue
        kept.append(line.strip())
    return " ".join(kept) or type(exc).__name__


_NUMERIC_TYPES = re.compile(r"(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|"
                            r"UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*|\"NULL\"|NULL)")
_DATE_TYPES = re.compile(r"(DATE|TIMESTAMP.*|VARCHAR|\"NULL\"|NULL)")


def check_queries(queries: Sequence[KpiQuery], sources: Sequence[Source]) -> None:
    """Bind every query against the sources without running it: the SQL must name real
    sources and columns, and return the contract's columns with the right kinds of value.

    Binding reads each CSV's header and a sample to learn its types, not the whole file.
    """
    if not queries:
        return
    import duckdb  # deferred: see connect()

    today = dt.date.today()
    values = {"window_start": today, "window_end": today, "cadence": "weekly"}
    with connect(sources) as con:
        define_period_of(con, today, PeriodRule("days", 7, "week"))
        for query in queries:
            statement = duckdb.extract_statements(query.sql)[0]
            used = {name: values[name] for name in statement.named_parameters}
            try:
                relation = con.sql(statement.query, params=used)
            except duckdb.Error as exc:
                raise query.error(f"the query over {_read_by(query, sources)} failed: "
                                  f"{_engine_message(exc)}") from None
            names = [name.lower() for name in relation.columns]
            _check_columns(query, sources, names)
            for name, kind in zip(names, relation.types, strict=True):
                pattern = _DATE_TYPES if name == "period_end" else _NUMERIC_TYPES
                if name != "segment" and not pattern.fullmatch(str(kind)):
                    wanted = "a date" if name == "period_end" else "a number"
                    raise query.error(
                        f"the query over {_read_by(query, sources)} returns {kind} in "
                        f"'{name}', which is not {wanted}; CAST it "
                        f"(e.g. CAST(... AS {'DATE' if name == 'period_end' else 'DOUBLE'}))")
