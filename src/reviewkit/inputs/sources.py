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

The sources are tables like any other input, read by the same rules (:mod:`table`, and
:mod:`workbook` for ``.xlsx``); their files lie in the params file's folder or a folder its
``allowed`` key names, links followed. A query runs under a time limit (``query_time_limit``,
and a batch's limits per pack through :func:`query_limits`), interrupted when it is spent.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import glob
import hashlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.request import pathname2url

from reviewkit import redact
from reviewkit.cadences import PeriodRule
from reviewkit.errors import EnvironmentFailure, InputError, ReviewkitError, quoted
from reviewkit.inputs import workbook
from reviewkit.inputs._yaml import NUL_IN_PATH, LineDict, did_you_mean
from reviewkit.inputs.columnar import (
    MEMORY_LIMIT_MB,
    define_period_of,
    engine,
    literal,
    trailing_fields,
)
from reviewkit.inputs.measurements import Observation
from reviewkit.inputs.table import (
    FORMATS,
    csv_records,
    damaged,
    field_count_problem,
    format_list,
    magnitude_problem,
    narrow_float_text,
)
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
    params: Path | None = None  # the params file that declares it, and the line
    line: int | None = None

    def describe(self) -> str:
        return f"source '{self.name}' ({self.shown})"

    def declaration_error(self, message: str, key: str) -> InputError:
        """An error about what the params file says of this source (its ``key``)."""
        return InputError(self.params, f"{self.describe()}: {message}", line=self.line,
                          field=f"sources.{self.name}.{key}")


# -- the params file's `sources:` --------------------------------------------------------------

def resolve_sources(params_path: Path, data: LineDict) -> tuple[Source, ...]:
    """Check the params file's ``sources`` mapping and resolve each entry.

    A short entry is a path or glob relative to the params file; a mapping ``{url, table}``
    names a table in a database. Every file a source reads (a link followed to its end) must
    lie inside the params file's folder or a folder its ``allowed`` key names. Errors name the
    params file, the line and the source.
    """
    raw = data.get("sources")
    if raw is None:
        return ()
    line = data.line_of("sources")
    if not isinstance(raw, LineDict):
        raise InputError(params_path, "sources must be a mapping of name to a path, a glob or "
                         "{url: ..., table: ...}", line=line, field="sources")
    roots = _roots(params_path, data)
    sources = []
    for name, spec in raw.items():
        where = raw.line_of(name)
        if not _NAME.fullmatch(name):
            raise InputError(params_path, f"source name {name!r} must be lower-case letters, "
                             "digits and '_', starting with a letter (the query uses it as a "
                             "table name)", line=where, field=f"sources.{name}")
        sources.append(_resolve_one(params_path, name, spec, where, roots))
    return tuple(sources)


@dataclass(frozen=True)
class _Roots:
    """The folders sources may read from: the params file's own, and those ``allowed`` names."""

    folders: tuple[Path, ...]
    declared: bool  # the params file has an `allowed` key

    def holds(self, path: Path) -> bool:
        return any(path.is_relative_to(folder) for folder in self.folders)

    def describe(self) -> str:
        if not self.declared:
            return f"the params file's folder, {self.folders[0]}"
        return ("the params file's folder and allowed: "
                + ", ".join(str(folder) for folder in self.folders[1:]))


def _roots(params_path: Path, data: LineDict) -> _Roots:
    """The params file's folder and the folders of its ``allowed`` key (a path or a list of
    paths, relative to the params file), each with its links followed."""
    folders = [params_path.parent.resolve()]
    allowed = data.get("allowed")
    if allowed is None:
        return _Roots(tuple(folders), False)
    line = data.line_of("allowed")
    # Its form (a path, or a list of them) is checked with the other params (PackParams).
    entries = [allowed] if isinstance(allowed, str) else list(allowed)
    for entry in entries:
        if "\0" in entry:
            raise InputError(params_path, NUL_IN_PATH, line=line, field="allowed")
        try:
            folder = (params_path.parent / entry).resolve()
        except (RuntimeError, OSError) as exc:  # 3.11 raises RuntimeError on a loop
            raise InputError(params_path, f"cannot follow {entry}: {exc}", line=line,
                             field="allowed") from None
        if not folder.is_dir():
            raise InputError(params_path, f"folder not found: {folder}; paths are relative to "
                             "the params file", line=line, field="allowed")
        folders.append(folder)
    return _Roots(tuple(folders), True)


def _inside(params_path: Path, roots: _Roots, written: Path, line: int, field_name: str,
            ) -> Path:
    """``written`` with its links followed, if that lies inside ``roots``; else an error that
    names the file (never its content)."""
    try:
        real = written.resolve(strict=True)
    except FileNotFoundError:
        raise InputError(params_path, f"file not found: {written}; paths are relative to the "
                         "params file", line=line, field=field_name) from None
    except (RuntimeError, OSError) as exc:  # a loop of links, a folder it may not enter
        raise InputError(params_path, f"cannot follow {written}: {exc}; fix the link",
                         line=line, field=field_name) from None
    if not roots.holds(real):
        # Written as it is, or through a link (whose target is named, never read).
        plain = Path(os.path.normpath(written.absolute()))
        link = f" is a link to {real}, which is" if plain != real else " is"
        raise InputError(params_path, f"{plain}{link} outside the folders sources may read "
                         f"({roots.describe()}); move the file there, or name its folder under "
                         "allowed: in the params file", line=line, field=field_name)
    return real


def _resolve_one(params_path: Path, name: str, spec: Any, line: int, roots: _Roots) -> Source:
    field_name = f"sources.{name}"
    if isinstance(spec, LineDict):
        return _resolve_database(params_path, name, spec, roots)
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(params_path, f"a source is a path or glob of {format_list()} files, "
                         "or {url: ..., table: ...}", line=line, field=field_name)
    if "\0" in spec:
        raise InputError(params_path, NUL_IN_PATH, line=line, field=field_name)
    if "://" in spec:
        raise InputError(params_path, "a database source needs a table: write "
                         "{url: ..., table: ...}", line=line, field=field_name)
    suffix = Path(spec).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(params_path, f"unsupported source format '{suffix or spec}'; use "
                         f"{format_list()} files (a glob such as exports/*.csv is fine)",
                         line=line, field=field_name)
    pattern = params_path.parent / spec
    if glob.has_magic(spec):
        matches = sorted(Path(match) for match in glob.glob(str(pattern))
                         if Path(match).is_file())
        if not matches:
            raise InputError(params_path, f"no file matches {spec!r}; paths are relative to "
                             "the params file", line=line, field=field_name)
        files = tuple(sorted(_inside(params_path, roots, match, line, field_name)
                             for match in matches))
        if suffix == ".xlsx" and len(files) > 1:
            raise InputError(params_path, "a glob of .xlsx workbooks is not supported; name one "
                             "workbook per source", line=line, field=field_name)
    else:
        files = (_inside(params_path, roots, pattern, line, field_name),)
        if not files[0].is_file():
            raise InputError(params_path, f"{files[0]} is not a file; name a {format_list()} "
                             "file", line=line, field=field_name)
    kind: SourceKind = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}[suffix]  # type: ignore[assignment]
    return Source(name, kind, spec, files=files)


def _resolve_database(params_path: Path, name: str, spec: LineDict, roots: _Roots) -> Source:
    field_name = f"sources.{name}"
    unknown = [key for key in spec if key not in ("url", "table")]
    if unknown:
        raise InputError(params_path, f"unknown key{did_you_mean(unknown[0], ['url', 'table'])}"
                         "; a database source has url and table", line=spec.line_of(unknown[0]),
                         field=f"{field_name}.{unknown[0]}")
    url, table = spec.get("url"), spec.get("table")
    url_line = spec.line_of("url")
    shown = url
    variable = _ENV_REFERENCE.fullmatch(url) if isinstance(url, str) else None
    if variable:
        if variable[1] not in os.environ:
            raise InputError(params_path, f"the environment variable {variable[1]} is not "
                             "set; set it to the database URL", line=url_line,
                             field=f"{field_name}.url")
        url = os.environ[variable[1]]
    if not isinstance(url, str) or "://" not in url:
        raise InputError(params_path, "url must be a database URL such as "
                         "postgresql://user@host/db or sqlite:///path/to.db",
                         line=url_line, field=f"{field_name}.url")
    if not isinstance(table, str) or not table.strip():
        raise InputError(params_path, "table is required: the database table to read",
                         line=spec.line_of("table"), field=f"{field_name}.table")
    # From the environment, the URL it held (password masked) and where it came from: the
    # provenance names the database the rows were read from.
    shown = redact.url(url) + (f" (from {variable[0]})" if variable else "")
    if database_scheme(url) == "sqlite":
        url = _sqlite_url(params_path, url, url_line, f"{field_name}.url", roots)
    return Source(name, "database", shown, table=table.strip(), url=url, params=params_path,
                  line=spec.line_of("table"))


def database_scheme(url: str) -> str:
    """The database a URL names, without its driver: ``sqlite+pysqlite:///x`` → ``sqlite``."""
    return url.split(":", 1)[0].split("+", 1)[0].lower()


def _sqlite_url(params_path: Path, url: str, line: int, field_name: str, roots: _Roots) -> str:
    """An SQLite URL with its file relative to the params file (like every other path), inside
    the folders sources may read, and opened read-only: reading a source never creates or
    changes a file (SQLite would create a missing one)."""
    import sqlalchemy  # deferred: only database sources need it

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError as exc:
        raise InputError(params_path, f"url is not a database URL ({exc})", line=line,
                         field=field_name) from None
    database = parsed.database or ""
    if "\0" in database:
        raise InputError(params_path, NUL_IN_PATH, line=line, field=field_name)
    if database in ("", ":memory:") or database.startswith("file:"):
        raise InputError(params_path, "url must name an SQLite database file, e.g. "
                         "sqlite:///exports/itsm.db (relative to the params file)",
                         line=line, field=field_name)
    path = _inside(params_path, roots, params_path.parent / database, line, field_name)
    if not path.is_file():
        raise InputError(params_path, f"{path} is not a file; name an SQLite database file",
                         line=line, field=field_name)
    # A file: URI, so its path is quoted: '#', '?' and '%' mean something else in it.
    return str(parsed.set(database=f"file:{pathname2url(str(path))}?mode=ro",
                          query={**parsed.query, "uri": "true"}))


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
    #: The column, finer than the unit, the KPI's rows are broken down by (catalog's
    #: ``breakdown``): the query may return it beside the contract's columns.
    breakdown: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the query may return."""
        return (*RESULT_COLUMNS, *((self.breakdown,) if self.breakdown else ()))

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


# -- limits ------------------------------------------------------------------------------------

#: A query's time limit when the params file sets none (``query_time_limit``), in seconds.
QUERY_TIME_LIMIT = 120.0
#: How long a database source may take to answer when connecting, in seconds.
CONNECT_TIMEOUT = 15


@dataclass(frozen=True)
class QueryLimits:
    """What the queries of one pack may use, set by whoever runs them (a batch: its limits per
    pack): wall-clock seconds for all of them together, and bytes of memory for the engine."""

    seconds: float | None = None
    memory: int | None = None


_NO_LIMITS = QueryLimits()
_LIMITS: contextvars.ContextVar[QueryLimits] = contextvars.ContextVar(
    "reviewkit_query_limits", default=_NO_LIMITS)


@contextmanager
def query_limits(seconds: float | None = None, memory: int | None = None) -> Iterator[None]:
    """Run the queries inside under these limits (each the lesser of it and any outer one):
    a batch gives its packs' time and memory limits, which cover the queries it runs for them
    in its own process before the packs go to workers."""
    outer = _LIMITS.get()
    token = _LIMITS.set(QueryLimits(_least(outer.seconds, seconds), _least(outer.memory, memory)))
    try:
        yield
    finally:
        _LIMITS.reset(token)


def _least(a: float | None, b: float | None) -> Any:
    return b if a is None else a if b is None else min(a, b)


@dataclass
class _Clock:
    """The time left to a pack's queries: each query runs until the params file's limit for one
    query or the end of the pack's budget, whichever comes first."""

    per_query: float
    budget: float | None  # seconds for all of them (a batch's limit per pack)
    deadline: float | None  # time.monotonic() by which every query must be done

    @classmethod
    def start(cls, per_query: float | None) -> _Clock:
        budget = _LIMITS.get().seconds
        return cls(per_query or QUERY_TIME_LIMIT, budget,
                   None if budget is None else time.monotonic() + budget)

    def allowance(self) -> tuple[float, str]:
        """Seconds the next query may run, and that limit in words (for the message)."""
        if self.deadline is not None and self.budget is not None:
            left = max(0.0, self.deadline - time.monotonic())
            if left < self.per_query:
                return left, (f"{self.budget:g} s, the time limit of the pack (the batch's "
                              "--time-limit)")
        return self.per_query, f"{self.per_query:g} s (query_time_limit in the params file)"


@contextmanager
def _watched(con: duckdb.DuckDBPyConnection, seconds: float) -> Iterator[None]:
    """Interrupt what the connection runs once ``seconds`` have passed."""
    timer = threading.Timer(seconds, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _too_slow(query: KpiQuery, sources: Sequence[Source], limit: str) -> InputError:
    return query.error(f"the query over {_read_by(query, sources)} did not finish within "
                       f"{limit}; make it read less (filter on $window_start and $window_end, "
                       "or export a smaller file) or raise the limit")


# -- running queries ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceRead:
    """What a pack read from a database source: its rows' count and a SHA-256 over them (the
    column names, then each row's values in order), for the pack's provenance: a file is
    hashed as it is, a table as the rows the pack was made from."""

    name: str
    rows: int
    sha256: str


@contextmanager
def connect(sources: Sequence[Source], clock: _Clock | None = None,
            reads: dict[str, SourceRead] | None = None,
            ) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with one view per source and no other file access;
    ``reads`` collects what each database source gave."""
    memory = _LIMITS.get().memory
    # The engine's ceiling, lowered (never raised) to the memory a pack may use.
    settings = ({} if memory is None or memory >> 20 >= MEMORY_LIMIT_MB
                else {"memory_limit": f"{max(64, memory >> 20)}MiB"})
    with engine(**settings) as con:
        deadline = None if clock is None else clock.deadline
        for source in sources:
            _register(con, source, deadline, reads)
        # Each file as named and as the views read it (a name with glob characters is read
        # through a pattern that matches only itself: columnar.literal).
        allowed = sorted({name for source in sources for path in source.files
                          for name in (str(path), literal(path))})
        con.execute("SET allowed_paths = $paths", {"paths": allowed})
        # The engine's own spill folder stays usable (it holds nothing but its temp files).
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()
        if spill and spill[0]:
            con.execute("SET allowed_directories = $dirs", {"dirs": [spill[0]]})
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        yield con


def _register(con: duckdb.DuckDBPyConnection, source: Source, deadline: float | None,
              reads: dict[str, SourceRead] | None = None) -> None:
    import duckdb  # deferred: see connect()

    if source.kind == "csv":
        # The engine reads past NUL bytes and overlong lines (a file of good rows and then
        # gigabytes of NUL bytes reads as the good rows); one fast pass finds them first.
        for path in source.files:
            if _damaged(path, *_stamp(path)):
                raise _csv_problem(source, path) or _source_error(
                    source, "the file holds NUL bytes or a line over 4 MiB", file=path)
        _same_header(source)
        for path in source.files:
            # The engine also reads past empty fields after the last column: a line that
            # may have them is read by the row reader's rules, which count them.
            header = _header_of(path)
            if (header is not None and _trailing_fields(path, len(header), *_stamp(path))
                    and (problem := _csv_problem(source, path)) is not None):
                raise problem
    try:
        if source.kind == "csv":
            # As every CSV is read, sources included: comma-separated UTF-8 with a header
            # line, fields in double quotes with "" for a quote inside. Only the columns'
            # types are detected.
            relation = con.read_csv([literal(path) for path in source.files], header=True,
                                    sep=",", quotechar='"', escapechar='"', encoding="utf-8")
        elif source.kind == "parquet":
            relation = con.read_parquet([literal(path) for path in source.files])
        elif source.kind == "xlsx":
            relation = con.from_arrow(_xlsx_table(source))
        else:
            table, read = _database_table(source, deadline)
            relation = con.from_arrow(table)
            if reads is not None:
                reads[source.name] = read
        _exact(relation).create_view(source.name)
    except duckdb.Error as exc:
        raise _file_error(source, exc) or _source_error(source, _engine_message(exc)) from None


def _same_header(source: Source) -> None:
    """The files of a glob are read as one table, column by position: each must have the first
    file's header (the engine would otherwise read one file's dates as another's numbers)."""
    first: list[str] | None = None
    for path in source.files:
        header = _header_of(path)
        if header is None:
            continue  # unreadable: the engine, then the row reader, say why
        if first is None:
            first = header
        elif header != first:
            raise _source_error(source, f"its header ({', '.join(header)}) is not "
                                f"{source.files[0].name}'s ({', '.join(first)}); the files of "
                                "a glob are read as one table and need the same columns in the "
                                "same order", file=path, line=1)


def _header_of(path: Path) -> list[str] | None:
    try:
        for _, fields in csv_records(path, "source"):
            return [str(field).strip() for field in fields]
    except InputError:
        return None
    return None


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=256)
def _damaged(path: Path, size: int, modified: int) -> bool:
    """:func:`damaged`, once per version of a file (size and time): a batch reads the same
    sources for every pack."""
    del size, modified  # the key of the cache only
    return damaged(path)


@functools.lru_cache(maxsize=256)
def _trailing_fields(path: Path, width: int, size: int, modified: int) -> bool:
    """:func:`trailing_fields`, once per version of a file, as :func:`_damaged`."""
    del size, modified  # the key of the cache only
    return trailing_fields(path, width)


def _exact(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """The relation with each float32 column as the decimal it stands for: a float32 95.6 is
    stored as 95.59999847…, and its shortest decimal form (what the data states) is 95.6."""
    if not any(str(kind) == "FLOAT" for kind in relation.types):
        return relation
    columns = []
    for name, kind in zip(relation.columns, relation.types, strict=True):
        quoted_name = '"' + name.replace('"', '""') + '"'
        columns.append(f"CAST(CAST({quoted_name} AS VARCHAR) AS DOUBLE) AS {quoted_name}"
                       if str(kind) == "FLOAT" else quoted_name)
    return relation.project(", ".join(columns))


def _source_error(source: Source, message: str, *, file: Path | None = None,
                  line: int | None = None, field: str | None = None,
                  row_label: str = "line") -> InputError:
    where = file or (source.files[0] if len(source.files) == 1 else source.shown)
    return InputError(where, f"cannot read {source.describe()}: {message}", line=line,
                      field=field, row_label=row_label)


def _xlsx_table(source: Source) -> Any:
    """The first sheet of a workbook as an Arrow table (header on row 1), by the one workbook
    reader: merged cells and formulas without a saved value are refused as in every table."""
    import pyarrow as pa  # deferred: only spreadsheet sources need it

    path = source.files[0]
    try:
        rows = list(workbook.rows(path, source.describe()))
    except InputError as exc:
        raise _source_error(source, exc.message.removeprefix(f"cannot read {source.describe()}: "),
                            line=exc.line, field=exc.field, row_label=exc.row_label) from None
    if not rows:
        raise _source_error(source, "the first sheet is empty; row 1 must be the header")
    for index, name in enumerate(rows[0][1]):
        if isinstance(name, workbook.UncachedFormula):
            raise workbook.formula_error(path, name, 1, f"column {index + 1}",
                                         prefix=f"cannot read {source.describe()}: ")
    header = [str(name).strip() if name is not None else f"column{index + 1}"
              for index, name in enumerate(rows[0][1])]
    for number, cells in rows[1:]:
        for index, cell in enumerate(cells[:len(header)]):
            if isinstance(cell, workbook.UncachedFormula):
                raise workbook.formula_error(path, cell, number, header[index],
                                             prefix=f"cannot read {source.describe()}: ")
    columns = {name: [cells[index] if index < len(cells) else None for _, cells in rows[1:]]
               for index, name in enumerate(header)}
    try:
        return pa.table(columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _source_error(source, f"a column mixes kinds of value ({exc}); keep one kind "
                            "(numbers, dates or text) per column") from None


#: Rows a database table may have: it is copied into the query engine for each pack.
MAX_DATABASE_ROWS = 5_000_000
_FETCH = 50_000


def _database_table(source: Source, deadline: float | None = None) -> tuple[Any, SourceRead]:
    """A database table as an Arrow table, read through SQLAlchemy, and what was read (its
    rows' count and hash: :class:`SourceRead`).

    The table is copied into the query engine once per pack: fine for the thousands of rows
    an operational export has, not for tens of millions (export those to Parquet). A server
    that cannot be reached is a failure of the environment (exit code 4), not of the input.
    """
    import pyarrow as pa  # deferred: only database sources need it
    import sqlalchemy  # deferred: only database sources need it

    schema, _, name = source.table.rpartition(".")
    try:
        engine = sqlalchemy.create_engine(source.url, **_connect_args(source.url))
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ImportError,
            ValueError) as exc:
        raise source.declaration_error(f"the url does not work ({redact.text(str(exc), source.url)}"
                                       "); write it as postgresql://user@host/db or "
                                       "sqlite:///path/to.db", "url") from None
    try:
        with engine.connect() as connection:
            try:
                table = sqlalchemy.Table(name, sqlalchemy.MetaData(), schema=schema or None,
                                         autoload_with=connection)
            except sqlalchemy.exc.NoSuchTableError:
                raise _no_table(source, connection, schema or None) from None
            result = connection.execute(sqlalchemy.select(table))
            names = list(result.keys())
            rows: list[Any] = []
            while batch := result.fetchmany(_FETCH):
                rows.extend(batch)
                if len(rows) > MAX_DATABASE_ROWS:
                    raise _source_error(source, f"table {source.table} has more than "
                                        f"{MAX_DATABASE_ROWS:,} rows, too many to copy for each "
                                        "pack; export it to Parquet and name that file")
                if deadline is not None and time.monotonic() > deadline:
                    raise EnvironmentFailure(f"{source.describe()}: copying table "
                                             f"{source.table} ran past the time limit of the "
                                             "pack; export it to Parquet and name that file")
    except ReviewkitError:
        raise
    except sqlalchemy.exc.DBAPIError as exc:
        message = redact.text(str(exc.orig or exc).split("\n")[0], source.url)
        if exc.connection_invalidated or isinstance(exc, sqlalchemy.exc.OperationalError |
                                                    sqlalchemy.exc.InterfaceError):
            raise EnvironmentFailure(f"cannot reach {source.describe()}: {message}; check that "
                                     "the database is up and the URL is right, then run again"
                                     ) from None
        raise _source_error(source, message) from None
    except Exception as exc:  # drivers raise their own types; all mean "cannot read it"
        raise _source_error(source, redact.text(str(exc).split("\n")[0], source.url)) from None
    finally:
        engine.dispose()
    table = pa.table({column: [row[index] for row in rows] for index, column in enumerate(names)})
    return table, SourceRead(source.name, len(rows), _rows_digest(names, rows))


def _rows_digest(names: Sequence[str], rows: Sequence[Any]) -> str:
    """SHA-256 over a table's column names and rows, each value written one way (dates in ISO
    form, decimals and floats as their exact text): the same rows give the same hash whatever
    the driver's types, and a changed row gives another."""
    def plain(value: Any) -> Any:
        if isinstance(value, dt.date | dt.datetime | dt.time):
            return value.isoformat()
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value).hex()
        return value if value is None or isinstance(value, bool | int | str) else str(value)

    digest = hashlib.sha256()
    digest.update(json.dumps(list(names)).encode())
    for row in rows:
        digest.update(b"\n")
        digest.update(json.dumps([plain(value) for value in row], ensure_ascii=False).encode())
    return digest.hexdigest()


def _connect_args(url: str) -> dict[str, Any]:
    """Driver settings that keep an unreachable server from hanging a build."""
    scheme = database_scheme(url)
    if scheme in ("postgresql", "postgres"):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}}
    if scheme == "sqlite":
        return {"connect_args": {"timeout": CONNECT_TIMEOUT}}
    return {}


def _no_table(source: Source, connection: Any, schema: str | None) -> InputError:
    """"no table 'x' in …; tables: a, b" (with a "did you mean")."""
    import sqlalchemy  # deferred: only database sources need it

    try:
        inspector = sqlalchemy.inspect(connection)
        names = sorted({*inspector.get_table_names(schema=schema),
                        *inspector.get_view_names(schema=schema)})
    except Exception:  # the list is a hint only
        names = []
    return source.declaration_error(f"no table '{source.table}' in the database"
                                    f"{did_you_mean(source.table, names)}; tables: "
                                    f"{', '.join(names) or 'none'}", "table")


# -- a CSV the engine cannot read: which file, which line ---------------------------------------

#: "CSV Error on Line: 30002" … "file = /x/inc-2.csv" in the engine's messages.
_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CSV_FILE = re.compile(r"^\s*file = (.+)$", re.M)
_SNIFFED_FILE = re.compile(r'Error when sniffing file "([^"]+)"')
_CONVERSION = re.compile(r'Error when converting column "([^"]+)"\. Could not convert string '
                         r'"(.*)" to \'([A-Z_ ]+)\'')
_KINDS = {"DOUBLE": "number", "FLOAT": "number", "BIGINT": "whole number",
          "INTEGER": "whole number", "DATE": "date (YYYY-MM-DD)", "BOOLEAN": "true or false",
          "TIME": "time"}


def _file_error(source: Source, exc: BaseException) -> InputError | None:
    """An error naming the CSV file and line at fault for an engine error that comes from
    reading ``source``'s files, or None if it does not. The engine's own text (a page of
    options the params file cannot set, and sometimes another file of the glob) is not used:
    a value that does not fit its column is named from the engine's line; anything else is
    found by reading the files one by one with the row reader's rules."""
    if source.kind != "csv":
        return None
    text = str(exc)
    named = [Path(found.strip()) for found in _CSV_FILE.findall(text) + _SNIFFED_FILE.findall(text)]
    if not named and not _CSV_LINE.search(text):
        return None
    conversion, line = _CONVERSION.search(text), _CSV_LINE.search(text)
    if conversion and line and named and named[0] in source.files:
        column, value, kind = conversion.groups()
        return _source_error(
            source, f"{quoted(value)} in column '{column}' is not a {_KINDS.get(kind, kind)} "
            f"like the column's other values ({kind}, as detected from its first rows); "
            "correct it, or leave it empty for missing", file=named[0], line=int(line[1]),
            field=column)
    for path in source.files:
        found = _csv_problem(source, path)
        if found is not None:
            return found
    return None


def _csv_problem(source: Source, path: Path) -> InputError | None:
    """The first line of ``path`` that breaks the CSV rules (not UTF-8, NUL bytes, an
    unclosed quote, more or fewer fields than the header), as an error; None if none does."""
    width = None
    try:
        for line, fields in csv_records(path, source.describe()):
            if width is None:
                width = len(fields)
            elif (problem := field_count_problem(fields, width)) is not None:
                # the rule every table is read by (and the words), so no table's differs
                return _source_error(source, problem, file=path, line=line)
    except InputError as exc:
        return _source_error(source, exc.message.removeprefix(
            f"cannot read {source.describe()}: "), file=path, line=exc.line)
    return None


def run_queries(
    queries: Sequence[KpiQuery], sources: Sequence[Source], window: Window,
    time_limit: float | None = None, reads: dict[str, SourceRead] | None = None,
) -> dict[str, list[Observation]]:
    """Run each KPI's query over ``window`` and check what it returns.

    Each source file is scanned by the queries that read it, and only their grouped rows come
    back. Each query may run ``time_limit`` seconds (the params file's ``query_time_limit``;
    default :data:`QUERY_TIME_LIMIT`), and all of them no longer than the limits the caller
    set (:func:`query_limits`). Errors name the catalog line of the query, the KPI, the sources
    it reads and the engine's message; or the source file and line at fault.
    """
    if not queries:
        return {}
    import duckdb  # deferred: see connect()

    values = {"window_start": window.start, "window_end": window.end, "cadence": window.cadence}
    series: dict[str, list[Observation]] = {}
    clock = _Clock.start(time_limit)
    with connect(sources, clock, reads) as con:
        define_period_of(con, window.end, window.rule)
        for query in queries:
            statement = duckdb.extract_statements(query.sql)[0]
            used = {name: values[name] for name in statement.named_parameters}
            seconds, limit = clock.allowance()
            try:
                with _watched(con, seconds):
                    result = con.execute(statement.query, used)
                    names = [column[0].lower() for column in result.description or ()]
                    kinds = [str(column[1]) for column in result.description or ()]
                    _check_columns(query, sources, names)
                    rows = result.fetchmany(MAX_RESULT_ROWS + 1)
            except duckdb.InterruptException:
                raise _too_slow(query, sources, limit) from None
            except duckdb.Error as exc:
                raise _query_error(query, sources, exc) from None
            if len(rows) > MAX_RESULT_ROWS:
                raise query.error(f"the query returns more than {MAX_RESULT_ROWS:,} rows; return "
                                  "one row per period (GROUP BY period_of(...))")
            series[query.kpi_id] = _observations(query, sources, names, _exact_rows(kinds, rows))
    return series


def _exact_rows(kinds: Sequence[str], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows with each float32 as the decimal it stands for (a query that CASTs to FLOAT)."""
    narrow = [index for index, kind in enumerate(kinds) if kind == "FLOAT"]
    if not narrow:
        return rows
    exact = []
    for row in rows:
        cells = list(row)
        for index in narrow:
            if isinstance(cells[index], float):
                cells[index] = float(narrow_float_text(cells[index], "f"))
        exact.append(tuple(cells))
    return exact


def _query_error(query: KpiQuery, sources: Sequence[Source], exc: BaseException) -> InputError:
    """An engine error while a query runs or binds: a source file it could not read (named with
    its line), a table that is no source, or the query's own mistake."""
    for source in sources:
        found = _file_error(source, exc)
        if found is not None:
            return found
    missing = _MISSING_TABLE.search(str(exc))
    if missing:
        names = [source.name for source in sources]
        return query.error(f"the query reads a table '{missing[1]}', which is no source of the "
                           f"params file{did_you_mean(missing[1], names)}; sources: "
                           f"{', '.join(names) or 'none'}")
    hint = ""
    if "No function matches" in str(exc) and "VARCHAR" in str(exc):
        hint = ("; a column read as text (VARCHAR) has a value that is not a number or a date "
                "in some file: correct that value, or convert the column in the query "
                "(TRY_CAST(column AS DOUBLE) gives NULL for what is not a number)")
    return query.error(f"the query over {_read_by(query, sources)} failed: "
                       f"{_engine_message(exc)}{hint}")


_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist")


def _read_by(query: KpiQuery, sources: Sequence[Source]) -> str:
    """The sources a query names (by word), for messages; all of them when it names none."""
    named = [source for source in sources if re.search(rf"\b{source.name}\b", query.sql, re.I)]
    chosen = named or list(sources)
    if not chosen:
        return "no source (the params file declares none)"
    return ", ".join(source.describe() for source in chosen)


def _check_columns(query: KpiQuery, sources: Sequence[Source], names: list[str]) -> None:
    for name in names:
        if name not in query.columns:
            finer = f" and {query.breakdown} (its breakdown)" if query.breakdown else ""
            raise query.error(
                f"the query over {_read_by(query, sources)} returns column '{name}'"
                f"{did_you_mean(name, query.columns)}; return period_end and value, and "
                f"optionally segment, target, count{finer}")
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
    seen: dict[tuple[dt.date, str, str], int] = {}
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
        part = (row[index[query.breakdown]] if query.breakdown and query.breakdown in index
                else None)
        part_text = "" if part is None else str(part).strip()
        key = (period_end, segment_text, part_text)
        if key in seen:
            unit = f" and segment '{segment_text}'" if segment_text else ""
            if part_text:
                unit += f" and {query.breakdown} '{part_text}'"
            raise query.error(f"the query returns two rows for {period_end}{unit} (rows "
                              f"{seen[key]} and {number}); return one row per period")
        seen[key] = number
        observations.append(Observation(period_end, value, target, segment_text, number,
                                        count, part_text))
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
    problem = magnitude_problem(result)
    if problem is not None:
        raise query.error(f"the query returns {result:g} in '{column}' (row {number}), which "
                          + problem)
    return result


#: Where the engine's message turns to advice the params file cannot take (options of its CSV
#: reader, a list of candidate functions) or quotes a line of data: cut there.
_ENGINE_ADVICE = ("Possible fixes", "Possible solutions", "Candidate functions", "Original Line",
                  "The search space")
#: The longest engine message quoted.
_ENGINE_CHARS = 300


def _engine_message(exc: BaseException) -> str:
    """DuckDB's message in one short line: without the caret lines under the SQL, the advice
    it gives its own users and any quoted line of data."""
    kept = []
    for line in str(exc).splitlines():
        stripped = line.strip()
        if stripped.startswith(_ENGINE_ADVICE):
            break
        if not stripped or line.startswith("LINE ") or set(stripped) <= {"^"}:
            continue
        kept.append(stripped)
    text = " ".join(kept) or type(exc).__name__
    text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return text if len(text) <= _ENGINE_CHARS else text[:_ENGINE_CHARS].rstrip() + " …"


_NUMERIC_TYPES = re.compile(r"(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|"
                            r"UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*|\"NULL\"|NULL)")
_DATE_TYPES = re.compile(r"(DATE|TIMESTAMP.*|VARCHAR|\"NULL\"|NULL)")


def check_queries(queries: Sequence[KpiQuery], sources: Sequence[Source],
                  time_limit: float | None = None) -> None:
    """Bind every query against the sources without running it: the SQL must name real
    sources and columns, and return the contract's columns with the right kinds of value.

    Binding reads each CSV's header and a sample to learn its types, not the whole file.
    """
    if not queries:
        return
    import duckdb  # deferred: see connect()

    today = dt.date.today()
    values = {"window_start": today, "window_end": today, "cadence": "weekly"}
    clock = _Clock.start(time_limit)
    with connect(sources, clock) as con:
        define_period_of(con, today, PeriodRule("days", 7, "week"))
        for query in queries:
            statement = duckdb.extract_statements(query.sql)[0]
            used = {name: values[name] for name in statement.named_parameters}
            seconds, limit = clock.allowance()
            try:
                with _watched(con, seconds):
                    relation = con.sql(statement.query, params=used)
                    names = [name.lower() for name in relation.columns]
                    kinds = list(relation.types)
            except duckdb.InterruptException:
                raise _too_slow(query, sources, limit) from None
            except duckdb.Error as exc:
                raise _query_error(query, sources, exc) from None
            _check_columns(query, sources, names)
            for name, kind in zip(names, kinds, strict=True):
                pattern = _DATE_TYPES if name == "period_end" else _NUMERIC_TYPES
                if name not in ("segment", query.breakdown) and not pattern.fullmatch(str(kind)):
                    wanted = "a date" if name == "period_end" else "a number"
                    raise query.error(
                        f"the query over {_read_by(query, sources)} returns {kind} in "
                        f"'{name}', which is not {wanted}; CAST it "
                        f"(e.g. CAST(... AS {'DATE' if name == 'period_end' else 'DOUBLE'}))")
