"""KPIs computed from operational data: the params file's sources, the catalog's queries, the
window a query is given, what it must return, and the demo's two routes to the same figures."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, prepare_view
from pg import create_database, drop_database

from reviewkit.cli.app import main
from reviewkit.errors import EnvironmentFailure, InputError
from reviewkit.inputs.catalog import load_catalog
from reviewkit.inputs.loaded import load_inputs, shown_path
from reviewkit.inputs.params import load_params
from reviewkit.inputs.sources import KpiQuery, Source, run_queries, window_for
from reviewkit.layout.sections import Pack
from reviewkit.layout.view import Publication
from reviewkit.outputs.data import summary_of
from reviewkit.periods import period_containing

OPERATIONAL = ("mttr_p1", "cloud_spend")

CATALOG_HEAD = """\
kpis:
  - id: restore_hours
    name: Mean time to restore
    perspective: Reliability
    direction: lower_is_better
    target: 4
    owner: Service Operations Manager
    cadences: [weekly, monthly]
    unit: h
"""

GOOD_QUERY = """\
    query: |
      SELECT period_of(restored_at) AS period_end,
             avg(hours) AS value
      FROM incidents
      WHERE restored_at BETWEEN $window_start AND $window_end
      GROUP BY ALL
"""


def _incidents_csv(folder: Path) -> Path:
    path = folder / "incidents.csv"
    path.write_text(
        "incident_id,restored_at,hours,site\n"
        "1,2026-11-14,2.0,North\n"   # Saturday: the week ending Friday 20 Nov
        "2,2026-11-20,4.0,South\n"
        "3,2026-11-13,9.0,North\n"   # Friday: the week before
        "4,2026-11-21,7.0,North\n",  # after the pack's period
        encoding="utf-8")
    return path


def _pack(tmp_path: Path, query: str = GOOD_QUERY, sources: str | None = None) -> Path:
    """A params file, catalog and measurements for one KPI computed by ``query``."""
    _incidents_csv(tmp_path)
    (tmp_path / "kpis.yaml").write_text(CATALOG_HEAD + query, encoding="utf-8")
    (tmp_path / "measurements.csv").write_text(
        "kpi_id,period_end,value\nother,2026-11-20,1\n", encoding="utf-8")
    params = tmp_path / "params.yaml"
    params.write_text(
        "organisation: Test\ncatalog: kpis.yaml\nmeasurements: measurements.csv\n"
        "period_end: 2026-11-20\n"
        + (sources if sources is not None else "sources:\n  incidents: incidents.csv\n"),
        encoding="utf-8")
    return params


def _error(params: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        load_inputs(params)
    return caught.value


# -- the demo: both routes agree --------------------------------------------------------------

@pytest.fixture(scope="module")
def both_demo_views(demo_params: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    text = (REPO / "params" / "weekly-operational-data.yaml").read_text(encoding="utf-8")
    absolute = text.replace("../data/demo/", f"{REPO / 'data' / 'demo'}/")
    operational = tmp_path_factory.mktemp("operational") / "weekly-operational-data.yaml"
    operational.write_text(absolute, encoding="utf-8")
    now = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
    return (prepare_view("weekly", demo_params, now=now),
            prepare_view("weekly", operational, now=now))


def test_query_kpis_give_the_prepared_tables_figures_for_every_period_in_the_window(
    both_demo_views,  # type: ignore[no-untyped-def]
) -> None:
    table, queried = both_demo_views
    for kpi_id in OPERATIONAL:
        expected = [(pv.period.label, pv.value, pv.target, pv.status, pv.count, pv.weight)
                    for pv in table.evaluated.result(kpi_id).history]
        got = [(pv.period.label, pv.value, pv.target, pv.status, pv.count, pv.weight)
               for pv in queried.evaluated.result(kpi_id).history]
        assert len(got) == 26 and all(row[1] is not None and row[4] == 7 for row in got)
        assert got == expected, kpi_id


def test_the_operational_demo_pack_summary_equals_the_demo_packs(
    both_demo_views,  # type: ignore[no-untyped-def]
) -> None:
    table, queried = both_demo_views
    assert summary_of(queried, Publication()) == summary_of(table, Publication())


def test_the_operational_pack_records_each_source_file_in_its_provenance(
    both_demo_views,  # type: ignore[no-untyped-def]
) -> None:
    _, queried = both_demo_views
    page = Pack(queried).section("provenance").html
    # Named relative to the params file, as every input is: no folder of the build machine.
    folder = shown_path(REPO / "data" / "demo" / "operational",
                        Path(queried.provenance.params_path).parent)
    assert f"<code>incidents: {folder}/incidents-*.csv</code>" in page
    roles = [(item.role, Path(item.path).name) for item in queried.provenance.inputs]
    assert ("source billing", "cloud-billing.parquet") in roles
    assert [name for role, name in roles if role == "source incidents"] == [
        "incidents-2024.csv", "incidents-2025.csv", "incidents-2026.csv"]


def test_the_operational_catalog_is_the_demo_catalog_with_two_queries() -> None:
    plain = load_catalog(REPO / "data" / "demo" / "kpis.yaml")
    operational = load_catalog(REPO / "data" / "demo" / "kpis-operational.yaml")
    assert [kpi.id for kpi in operational.kpis if kpi.query] == ["mttr_p1", "cloud_spend"]
    assert [kpi.model_copy(update={"query": None}) for kpi in operational.kpis] == plain.kpis


def test_the_operational_records_are_what_their_generator_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = REPO / "data" / "demo"
    before = {path.name: path.read_bytes() for path in (folder / "operational").glob("*.csv")}
    assert len(before) == 3
    spec = importlib.util.spec_from_file_location("generate_operational",
                                                  folder / "generate_operational.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    monkeypatch.setattr(generator, "HERE", tmp_path)
    monkeypatch.setattr(generator, "OUT", tmp_path / "operational")
    for name in ("kpis.yaml", "measurements.csv"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    generator.main()
    after = {path.name: path.read_bytes() for path in (tmp_path / "operational").glob("*.csv")}
    assert after == before
    assert ((tmp_path / "kpis-operational.yaml").read_bytes()
            == (folder / "kpis-operational.yaml").read_bytes())


# -- the window and the periods -----------------------------------------------------------------

def test_the_window_is_the_periods_the_charts_show() -> None:
    period = period_containing("weekly", dt.date(2026, 11, 20))
    window = window_for(period, 26)
    assert (window.start, window.end) == (dt.date(2026, 5, 23), dt.date(2026, 11, 20))
    quarter = window_for(period_containing("quarterly", dt.date(2026, 11, 20)), 12)
    assert (quarter.start, quarter.end) == (dt.date(2024, 1, 1), dt.date(2026, 12, 31))


def _run(tmp_path: Path, sql: str, cadence: str = "weekly",
         day: dt.date = dt.date(2026, 11, 20), history: int = 4) -> dict[str, list]:  # type: ignore[type-arg]
    source = Source("incidents", "csv", "incidents.csv", files=(_incidents_csv(tmp_path),))
    query = KpiQuery("restore_hours", sql, tmp_path / "kpis.yaml", 9)
    return run_queries([query], [source], window_for(period_containing(cadence, day), history))


def test_period_of_cuts_weeks_ending_on_the_packs_weekday(tmp_path: Path) -> None:
    got = _run(tmp_path, "SELECT period_of(restored_at) AS period_end, sum(hours) AS value "
                         "FROM incidents GROUP BY ALL")["restore_hours"]
    assert [(obs.period_end, obs.value) for obs in got] == [
        (dt.date(2026, 11, 13), 9.0), (dt.date(2026, 11, 20), 6.0), (dt.date(2026, 11, 27), 7.0)]


def test_period_of_cuts_calendar_months_and_quarters(tmp_path: Path) -> None:
    sql = ("SELECT period_of(restored_at) AS period_end, count(*) AS value "
           "FROM incidents GROUP BY ALL")
    assert [obs.period_end for obs in _run(tmp_path, sql, "monthly")["restore_hours"]] == [
        dt.date(2026, 11, 30)]
    assert [obs.period_end for obs in _run(tmp_path, sql, "quarterly")["restore_hours"]] == [
        dt.date(2026, 12, 31)]


def test_the_window_reaches_the_query_as_parameters(tmp_path: Path) -> None:
    got = _run(tmp_path, "SELECT $window_end AS period_end, 1 AS value, $cadence AS segment "
                         "UNION ALL SELECT $window_start, 2, $cadence")["restore_hours"]
    assert [(obs.period_end, obs.value, obs.segment) for obs in got] == [
        (dt.date(2026, 10, 24), 2.0, "weekly"), (dt.date(2026, 11, 20), 1.0, "weekly")]


def test_a_query_with_a_segment_column_gives_one_row_per_unit(tmp_path: Path) -> None:
    got = _run(tmp_path, "SELECT period_of(restored_at) AS period_end, site AS segment, "
                         "avg(hours) AS value FROM incidents "
                         "WHERE restored_at <= $window_end GROUP BY ALL")["restore_hours"]
    assert [(obs.period_end.isoformat(), obs.segment, obs.value) for obs in got] == [
        ("2026-11-13", "North", 9.0), ("2026-11-20", "North", 2.0),
        ("2026-11-20", "South", 4.0)]


def test_a_query_kpi_is_evaluated_like_a_measured_one(tmp_path: Path) -> None:
    view = prepare_view("weekly", _pack(tmp_path))
    result = view.evaluated.result("restore_hours")
    assert (result.value, result.previous.value, result.status) == (3.0, 9.0, "green")


def test_rows_in_the_table_for_a_query_kpi_are_replaced_by_the_query(tmp_path: Path) -> None:
    params = _pack(tmp_path)
    (tmp_path / "measurements.csv").write_text(
        "kpi_id,period_end,value\nrestore_hours,2026-11-20,99\n", encoding="utf-8")
    assert prepare_view("weekly", params).evaluated.result("restore_hours").value == 3.0


# -- sources in the params file ------------------------------------------------------------------

def test_a_glob_source_reads_every_matching_file(tmp_path: Path) -> None:
    for year in (2025, 2026):
        (tmp_path / f"changes-{year}.csv").write_text(
            f"day,ok\n{year}-11-20,1\n{year}-11-19,0\n", encoding="utf-8")
    params = _pack(tmp_path, query="""\
    query: SELECT period_of(day) AS period_end, 100 * avg(ok) AS value FROM changes GROUP BY ALL
""", sources="sources:\n  changes: changes-*.csv\n")
    inputs = load_inputs(params)
    assert [path.name for path in inputs.params.sources[0].files] == [
        "changes-2025.csv", "changes-2026.csv"]
    assert prepare_view("weekly", params).evaluated.result("restore_hours").value == 50.0


def test_a_file_of_a_glob_whose_name_has_glob_characters_is_read_as_itself(
        tmp_path: Path) -> None:
    """The glob finds changes-1.csv and changes-[1].csv; each is read as that file, though
    DuckDB would read the second name as a pattern matching the first."""
    (tmp_path / "changes-1.csv").write_text("day,ok\n2026-11-20,1\n", encoding="utf-8")
    (tmp_path / "changes-[1].csv").write_text("day,ok\n2026-11-19,0\n2026-11-18,0\n",
                                              encoding="utf-8")
    params = _pack(tmp_path, query="""\
    query: SELECT period_of(day) AS period_end, 100 * avg(ok) AS value FROM changes GROUP BY ALL
""", sources="sources:\n  changes: changes-*.csv\n")
    assert prepare_view("weekly", params).evaluated.result("restore_hours").value == \
        pytest.approx(100 / 3)


def test_an_xlsx_source_is_read_from_its_first_sheet(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["restored_at", "hours"])
    sheet.append([dt.datetime(2026, 11, 18, 10, 30), 5])
    sheet.append([dt.datetime(2026, 11, 19), 3])
    book.save(tmp_path / "incidents.xlsx")
    params = _pack(tmp_path, sources="sources:\n  incidents: incidents.xlsx\n")
    assert prepare_view("weekly", params).evaluated.result("restore_hours").value == 4.0


def test_a_database_table_is_a_source(tmp_path: Path) -> None:
    database = tmp_path / "itsm.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE incidents (restored_at TEXT, hours REAL)")
        connection.executemany("INSERT INTO incidents VALUES (?, ?)",
                               [("2026-11-17", 1.0), ("2026-11-18", 2.0)])
    params = _pack(tmp_path, query="""\
    query: |
      SELECT period_of(CAST(restored_at AS DATE)) AS period_end, avg(hours) AS value
      FROM incidents GROUP BY ALL
""", sources=f"sources:\n  incidents: {{url: 'sqlite:///{database}', table: incidents}}\n")
    assert prepare_view("weekly", params).evaluated.result("restore_hours").value == 1.5


def test_the_provenance_writes_parameters_as_the_params_file_does(tmp_path: Path) -> None:
    """Lists and a database source's mapping read as YAML would, never as Python reprs."""
    database = tmp_path / "itsm.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE incidents (restored_at TEXT, hours REAL)")
    params = _pack(tmp_path, sources=(
        "cadences: [weekly]\n"
        f"sources:\n  incidents: {{url: 'sqlite:///{database}', table: incidents}}\n"))
    page = Pack(prepare_view("weekly", params)).section("provenance").html
    assert "[&#39;" not in page and "{&#39;" not in page and "['" not in page
    assert '<th scope="row">cadences</th><td><code>weekly</code></td>' in page
    assert "incidents: url: sqlite:///" in page and "table: incidents" in page


def test_a_database_source_from_the_environment_is_in_the_provenance_with_its_rows_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = tmp_path / "itsm.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE incidents (restored_at TEXT, hours REAL)")
        connection.executemany("INSERT INTO incidents VALUES (?, ?)",
                               [("2026-11-17", 1.0), ("2026-11-18", 2.0)])
    monkeypatch.setenv("ITSM_URL", "sqlite:///itsm.db")
    params = _pack(tmp_path, query="""\
    query: |
      SELECT period_of(CAST(restored_at AS DATE)) AS period_end, avg(hours) AS value
      FROM incidents GROUP BY ALL
""", sources="sources:\n  incidents: {url: '${ITSM_URL}', table: incidents}\n")
    first = prepare_view("weekly", params).provenance.inputs
    (entry,) = [item for item in first if item.role == "source incidents"]
    assert entry.path == "sqlite:///itsm.db (from ${ITSM_URL}) table incidents"
    assert entry.rows == 2 and len(entry.sha256) == 64
    # the same rows give the same hash; a changed row another
    again = prepare_view("weekly", params).provenance.inputs
    assert [item.sha256 for item in again if item.role == "source incidents"] == [entry.sha256]
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE incidents SET hours = 2.5 WHERE restored_at = '2026-11-18'")
    changed = prepare_view("weekly", params).provenance.inputs
    assert [item.sha256 for item in changed if item.role == "source incidents"] != [entry.sha256]


def test_a_postgresql_table_is_a_source_shown_without_its_password(
    tmp_path: Path, postgres_url: str,
) -> None:
    import psycopg

    database = create_database(postgres_url)
    try:
        conninfo = database.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute("CREATE TABLE incidents (restored_at DATE, hours REAL)")
            connection.execute("INSERT INTO incidents VALUES ('2026-11-17', 1), ('2026-11-19', 3)")
        # The test server trusts every local connection, so any password gets in.
        url = database.replace("://postgres@", "://postgres:Tr0ub4dor@")
        params = _pack(tmp_path, sources=f"sources:\n  incidents: {{url: '{url}', "
                                         "table: incidents}\n")
        view = prepare_view("weekly", params)
        assert view.evaluated.result("restore_hours").value == 2.0
        page = Pack(view).section("provenance").html
        assert "Tr0ub4dor" not in page + repr(view.provenance)
        assert "postgres:***@127.0.0.1" in page
    finally:
        drop_database(database)


@pytest.mark.parametrize("password", ["Tr0ub4dor", "Tr0 ub4 dor"])
def test_a_database_password_appears_in_no_message_and_no_parameter(
        tmp_path: Path, password: str) -> None:
    """A password with spaces too: drivers take it unencoded, and the pack printed it whole."""
    params = _pack(tmp_path, sources=(
        f"sources:\n  incidents:\n    url: 'postgresql://reports:{password}@127.0.0.1:9/itsm'\n"
        "    table: incidents\n"))
    loaded = load_params(params)
    shown = repr(loaded.raw) + repr(loaded.values) + repr(loaded.sources)
    assert "ub4" not in shown
    assert loaded.sources[0].shown == "postgresql://reports:***@127.0.0.1:9/itsm"
    with pytest.raises(EnvironmentFailure) as caught:  # nothing listens on port 9
        load_inputs(params)
    assert "source 'incidents' (postgresql://reports:***@127.0.0.1:9/itsm)" in str(caught.value)
    assert "ub4" not in str(caught.value)


@pytest.mark.parametrize(("sources", "expected"), [
    ("sources:\n  incidents: nowhere-*.csv\n", "no file matches 'nowhere-*.csv'"),
    ("sources:\n  incidents: incidents.json\n", "unsupported source format '.json'"),
    ("sources:\n  Incidents: incidents.csv\n", "source name 'Incidents' must be lower-case"),
    ("sources:\n  incidents: {url: 'sqlite:///x.db'}\n", "table is required"),
    ("sources:\n  incidents: sqlite:///x.db\n", "a database source needs a table"),
    ("", "has a query, but this params file declares no sources"),
])
def test_a_bad_source_is_named_with_its_line(tmp_path: Path, sources: str,
                                             expected: str) -> None:
    error = _error(_pack(tmp_path, sources=sources))
    assert error.file == str(tmp_path / "params.yaml") or error.file.endswith("params.yaml")
    assert expected in error.message


# -- bad queries ----------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "expected"), [
    ("    query: SELECT 1 AS period_end; DROP TABLE incidents\n",
     "the query must be one SELECT statement (found 2)"),
    ("    query: COPY incidents TO 'stolen.csv'\n", "must be a SELECT statement"),
    ("    query: SELEC 1\n", "the query is not valid SQL: Parser Error"),
    ("    query: SELECT $windowstart AS period_end, 1 AS value\n",
     "unknown query parameter $windowstart (did you mean 'window_start'?)"),
])
def test_a_query_that_is_not_one_select_is_refused_at_load(tmp_path: Path, query: str,
                                                             expected: str) -> None:
    error = _error(_pack(tmp_path, query=query))
    assert (Path(error.file or "").name, error.line, error.field) == ("kpis.yaml", 10, "query")
    assert error.message.startswith("KPI 'restore_hours': ")
    assert expected in error.message


@pytest.mark.parametrize(("query", "expected"), [
    ("SELECT period_of(restored) AS period_end, avg(hours) AS value FROM incidents GROUP BY ALL",
     "KPI 'restore_hours': the query over source 'incidents' (incidents.csv) failed: Binder "
     "Error: Referenced column \"restored\" not found"),
    ("SELECT restored_at AS period_end, avg(hours) AS val FROM incidents GROUP BY ALL",
     "returns column 'val' (did you mean 'value'?)"),
    ("SELECT restored_at AS period_end FROM incidents",
     "returns no 'value' column (it returns period_end)"),
    ("SELECT restored_at AS period_end, site AS value FROM incidents",
     "returns VARCHAR in 'value', which is not a number"),
    ("SELECT hours AS period_end, 1 AS value FROM incidents",
     "returns DOUBLE in 'period_end', which is not a date"),
    ("SELECT * FROM read_csv('/etc/passwd')", "Permission Error"),
])
def test_a_query_that_fails_or_returns_the_wrong_columns_is_one_line_naming_kpi_and_source(
    tmp_path: Path, query: str, expected: str,
) -> None:
    error = _error(_pack(tmp_path, query=f"    query: \"{query}\"\n"))
    assert (error.line, error.field) == (10, "query")
    assert expected in error.message
    assert "\n" not in error.one_line()


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT period_of(restored_at) AS period_end, sum(hours) / 0 AS value FROM incidents "
     "GROUP BY ALL", "returns inf in 'value'"),
    ("SELECT DATE '2026-11-20' AS period_end, 1e30 AS value",
     "returns 1e+30 in 'value' (row 1), which is beyond the largest figure reviewkit reads"),
    ("SELECT DATE '2026-11-20' AS period_end, hours AS value FROM incidents",
     "returns two rows for 2026-11-20 (rows 1 and 2)"),
    ("SELECT CAST(NULL AS DATE) AS period_end, 1 AS value", "has an empty period_end"),
    ("SELECT '20/11/2026' AS period_end, 1 AS value", "period_end '20/11/2026'"),
    ("SELECT range AS period_end, 1 AS value FROM range(3)", "period_end 0"),
])
def test_a_query_that_returns_bad_rows_names_the_kpi_and_what_to_return(
    tmp_path: Path, sql: str, expected: str,
) -> None:
    with pytest.raises(InputError) as caught:
        _run(tmp_path, sql)
    assert (caught.value.line, caught.value.field) == (9, "query")
    assert expected in caught.value.message


def test_a_query_error_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    params = _pack(tmp_path, query="    query: SELECT nonsense AS value FROM incidents\n")
    assert main(["validate", "--params", str(params)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"reviewkit: error: {tmp_path / 'kpis.yaml'}, line 10, "
                               "field 'query': KPI 'restore_hours': the query over source "
                               "'incidents'")



# -- one rule for every table: workbooks, narrow floats -----------------------------------------

def _workbook(path: Path, rows: list[list[object]], edit: Any = None) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if edit is not None:
        edit(sheet)
    book.save(path)
    return path


WEEK_OF_WORK = [["restored_at", "hours"], [dt.date(2026, 11, 16), 10],
                [dt.date(2026, 11, 17), 20], [dt.date(2026, 11, 18), 30],
                [dt.date(2026, 11, 19), 10]]
SUM_QUERY = """\
    query: |
      SELECT period_of(restored_at) AS period_end, sum(hours) AS value
      FROM incidents GROUP BY ALL
"""


def test_an_xlsx_source_with_a_formula_whose_value_was_never_saved_is_refused(
    tmp_path: Path,
) -> None:
    # Read as empty, the week would sum to 60 instead of 70.
    def formula(sheet: Any) -> None:
        sheet["B5"] = "=B2"  # openpyxl saves no value for it

    _workbook(tmp_path / "incidents.xlsx", WEEK_OF_WORK, formula)
    error = _error(_pack(tmp_path, query=SUM_QUERY,
                         sources="sources:\n  incidents: incidents.xlsx\n"))
    assert (Path(error.file or "").name, error.line, error.row_label, error.field) == (
        "incidents.xlsx", 5, "row", "hours")
    assert "formula (=B2) whose value was never saved" in error.message
    assert "source 'incidents'" in error.message


def test_an_xlsx_source_with_merged_cells_is_refused_as_the_measurements_are(
    tmp_path: Path,
) -> None:
    rows = [*WEEK_OF_WORK[:3], [None, 30], WEEK_OF_WORK[4]]

    def merge(sheet: Any) -> None:
        sheet.merge_cells("A3:A4")

    _workbook(tmp_path / "incidents.xlsx", rows, merge)
    error = _error(_pack(tmp_path, query=SUM_QUERY,
                         sources="sources:\n  incidents: incidents.xlsx\n"))
    assert (Path(error.file or "").name, error.line) == ("incidents.xlsx", 3)
    assert "cells A3:A4 are merged" in error.message

    assert "unmerge them" in error.message


def test_a_float32_column_of_a_parquet_source_is_the_decimal_it_stands_for(
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"day": [dt.date(2026, 11, 20)],
                             "availability": pa.array([95.6], pa.float32())}),
                   tmp_path / "uptime.parquet")
    params = _pack(tmp_path, query="""\
    query: |
      SELECT period_of(day) AS period_end, avg(availability) AS value,
             CAST(95.6 AS FLOAT) AS target
      FROM uptime GROUP BY ALL
""", sources="sources:\n  uptime: uptime.parquet\n")
    params.write_text(params.read_text(encoding="utf-8").replace(
        "direction: lower_is_better", "direction: higher_is_better"), encoding="utf-8")
    kpis = tmp_path / "kpis.yaml"
    kpis.write_text(kpis.read_text(encoding="utf-8").replace("target: 4", "target: 95.6")
                    .replace("direction: lower_is_better", "direction: higher_is_better"),
                    encoding="utf-8")
    result = prepare_view("weekly", params).evaluated.result("restore_hours")
    assert (result.value, result.current.target, result.status) == (95.6, 95.6, "green")


# -- reach: sources stay inside the params file's folder (or a folder it allows) ---------------

def test_a_link_in_a_globs_folder_to_a_file_outside_is_refused_without_its_content(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.csv").write_text("password,Tr0ub4dor\n1,2\n", encoding="utf-8")
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "exports").mkdir()
    _incidents_csv(folder / "exports").rename(folder / "exports" / "incidents-2026.csv")
    (folder / "exports" / "incidents-2027.csv").symlink_to(outside / "secret.csv")
    params = _pack(folder, sources="sources:\n  incidents: exports/incidents-*.csv\n")
    error = _error(params)
    assert (Path(error.file or "").name, error.field) == ("params.yaml", "sources.incidents")
    assert "incidents-2027.csv" in error.message and "outside" in error.message
    assert "allowed" in error.message
    assert "Tr0ub4dor" not in str(error) and "password" not in str(error)
    assert "\n" not in error.one_line()


def test_a_source_outside_the_params_folder_is_read_only_from_an_allowed_folder(
    tmp_path: Path,
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    _incidents_csv(exports)
    folder = tmp_path / "params"
    folder.mkdir()
    params = _pack(folder, sources="sources:\n  incidents: ../exports/incidents.csv\n")
    error = _error(params)
    assert error.field == "sources.incidents" and "outside" in error.message
    params.write_text(params.read_text(encoding="utf-8") + "allowed: ../exports\n",
                      encoding="utf-8")
    assert prepare_view("weekly", params).evaluated.result("restore_hours").value == 3.0
    params.write_text(params.read_text(encoding="utf-8").replace(
        "allowed: ../exports", "allowed: [../nowhere]"), encoding="utf-8")
    error = _error(params)
    assert error.field == "allowed" and "folder not found" in error.message


@pytest.mark.parametrize(("sources", "field"), [
    ('sources:\n  incidents: "incidents\\0.csv"\n', "sources.incidents"),
    ('sources:\n  incidents: "exports/*\\0.csv"\n', "sources.incidents"),
    ('sources:\n  incidents: {url: "sqlite:///itsm\\0.db", table: incidents}\n',
     "sources.incidents.url"),
    ('allowed: "exports\\0"\nsources:\n  incidents: incidents.csv\n', "allowed"),
], ids=["file", "glob", "sqlite", "allowed"])
def test_a_source_path_holding_a_nul_character_is_refused_naming_the_field(
    tmp_path: Path, sources: str, field: str,
) -> None:
    # YAML writes NUL as "\0" in a double-quoted string; no file name can hold it.
    error = _error(_pack(tmp_path, sources=sources))
    assert error.field == field and "NUL" in error.message


# -- limits: time and memory --------------------------------------------------------------------

SLOW_QUERY = """\
    query: |
      SELECT DATE '2026-11-20' AS period_end, sum(hash(a.range + b.range)) % 7 AS value
      FROM range(100000000) a, range(100000000) b
"""


def test_a_query_past_its_time_limit_is_stopped_with_one_line(tmp_path: Path) -> None:
    params = _pack(tmp_path, query=SLOW_QUERY)
    params.write_text(params.read_text(encoding="utf-8") + "query_time_limit: 1\n",
                      encoding="utf-8")
    load_inputs(params)  # binding does not run the query
    with pytest.raises(InputError) as caught:
        prepare_view("weekly", params)
    assert (caught.value.line, caught.value.field) == (10, "query")
    assert "did not finish within 1 s" in caught.value.message
    assert "query_time_limit" in caught.value.message


def test_a_batch_time_limit_caps_the_queries_run_for_its_packs(tmp_path: Path) -> None:
    from reviewkit.inputs.sources import query_limits

    params = _pack(tmp_path, query=SLOW_QUERY)
    with query_limits(seconds=1), pytest.raises(InputError) as caught:
        prepare_view("weekly", params)
    assert "did not finish within 1 s" in caught.value.message


# -- database sources ---------------------------------------------------------------------------

def _itsm(database: Path) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE incidents (restored_at TEXT, hours REAL)")
        connection.execute("CREATE TABLE changes (day TEXT)")
        connection.executemany("INSERT INTO incidents VALUES (?, ?)",
                               [("2026-11-17", 1.0), ("2026-11-18", 2.0)])


DATE_QUERY = """\
    query: |
      SELECT period_of(CAST(restored_at AS DATE)) AS period_end, avg(hours) AS value
      FROM incidents GROUP BY ALL
"""


def test_a_relative_sqlite_url_is_relative_to_the_params_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _itsm(tmp_path / "itsm.db")
    params = _pack(tmp_path, query=DATE_QUERY,
                   sources="sources:\n  incidents: {url: 'sqlite:///itsm.db', table: incidents}\n")
    monkeypatch.chdir(tmp_path.parent)
    assert prepare_view("weekly", params).evaluated.result("restore_hours").value == 1.5


@pytest.mark.parametrize("folder, written", [("exports #1", "exports%20%231"),
                                              ("exports 50%", "exports%2050%25"),
                                              ("exports?", "exports%3F")])
def test_a_sqlite_database_in_a_folder_whose_name_needs_quoting_is_read(
    tmp_path: Path, folder: str, written: str,
) -> None:
    """The URL is written as URLs are, quoted; the file it names is read, whatever characters
    its path has ('#', '%' and '?' mean something else to SQLite's own file: URIs)."""
    (tmp_path / folder).mkdir()
    _itsm(tmp_path / folder / "itsm.db")
    params = _pack(tmp_path, query=DATE_QUERY, sources=(
        f"sources:\n  incidents: {{url: 'sqlite:///{written}/itsm.db', table: incidents}}\n"))
    assert prepare_view("weekly", params).evaluated.result("restore_hours").value == 1.5


def test_a_missing_sqlite_database_is_named_and_never_created(tmp_path: Path) -> None:
    params = _pack(tmp_path, query=DATE_QUERY,
                   sources="sources:\n  incidents: {url: 'sqlite:///nope.db', table: incidents}\n")
    error = _error(params)
    assert error.field == "sources.incidents.url" and "nope.db" in error.message
    assert not (tmp_path / "nope.db").exists()


def test_a_table_that_is_not_there_names_the_source_and_the_tables_that_are(
    tmp_path: Path,
) -> None:
    _itsm(tmp_path / "itsm.db")
    params = _pack(tmp_path, query=DATE_QUERY,
                   sources="sources:\n  incidents: {url: 'sqlite:///itsm.db', table: incidnts}\n")
    error = _error(params)
    assert (Path(error.file or "").name, error.line, error.field) == (
        "params.yaml", 6, "sources.incidents.table")
    assert "source 'incidents'" in error.message
    assert "no table 'incidnts'" in error.message
    assert "did you mean 'incidents'" in error.message
    assert "tables: changes, incidents" in error.message


def test_an_unreachable_database_is_a_failure_of_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    params = _pack(tmp_path, sources=(
        "sources:\n  incidents:\n    url: postgresql://reports:Tr0ub4dor@127.0.0.1:9/itsm\n"
        "    table: incidents\n"))
    with pytest.raises(EnvironmentFailure) as caught:
        load_inputs(params)
    assert "source 'incidents' (postgresql://reports:***@127.0.0.1:9/itsm)" in str(caught.value)
    assert main(["validate", "--params", str(params)]) == 4
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Tr0ub4dor" not in err


# -- messages a user can act on -----------------------------------------------------------------

@pytest.mark.parametrize(("second", "line", "expected"), [
    ("id,restored_at,hours\n3,2026-11-15,2.0\n4,2026-11-18,3,4,5\n", 3,
     "has 5 fields, the header 3"),
    ("id,restored_at,hours\n3,2026-11-15,2.0\n4,2026-11-18,1,234.5,\n", 3,
     "has 5 fields, the header 3"),
    ("id,restored_at,hours\n3,2026-11-15,2.0\n4,2026-11-18,1,\n", 3,
     "has 4 fields, the header 3; remove the comma after the last field"),
    ("id,restored_at,hours\n3,2026-11-15,2.0\n" + "\0" * 20_781 + "\n", 3, "NUL bytes"),
    ("id,restored_at,hours\n3,2026-11-15,2.0\n4,2026-11-18,\"unclosed\n", 3,
     "a quote opened on this line is never closed"),
])
def test_a_bad_file_of_a_glob_is_named_with_its_line_in_one_short_line(
    tmp_path: Path, second: str, line: int, expected: str,
) -> None:
    (tmp_path / "inc-1.csv").write_text("id,restored_at,hours\n1,2026-11-14,2.0\n"
                                        "2,2026-11-20,4.0\n", encoding="utf-8")
    (tmp_path / "inc-2.csv").write_text(second, encoding="utf-8")
    error = _error(_pack(tmp_path, sources="sources:\n  incidents: inc-*.csv\n"))
    message = error.one_line()
    assert (Path(error.file or "").name, error.line) == ("inc-2.csv", line), message
    assert expected in message and "source 'incidents'" in message
    assert len(message) < 400, message
    for engine_advice in ("strict_mode", "sniff", "Possible", "ignore_errors", "\\0"):
        assert engine_advice not in message


def test_a_value_deep_in_a_file_that_does_not_fit_its_column_names_file_line_and_column(
    tmp_path: Path,
) -> None:
    rows = "".join(f"{n},2026-11-{10 + n % 10},2.0\n" for n in range(30_000))
    (tmp_path / "inc-1.csv").write_text("id,restored_at,hours\n1,2026-11-14,2.0\n",
                                        encoding="utf-8")
    (tmp_path / "inc-2.csv").write_text("id,restored_at,hours\n" + rows
                                        + "30000,2026-11-18,oops\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        prepare_view("weekly", _pack(tmp_path, sources="sources:\n  incidents: inc-*.csv\n"))
    error = caught.value
    message = error.one_line()
    assert (Path(error.file or "").name, error.line, error.field) == (
        "inc-2.csv", 30_002, "hours"), message
    assert "'oops'" in message and "source 'incidents'" in message
    assert len(message) < 400, message


def test_a_batchs_time_limit_stops_a_slow_query_and_fails_only_its_pack(tmp_path: Path) -> None:
    from reviewkit.run.batch import BatchOptions, run_batch
    from reviewkit.run.workers import Limits

    params = _pack(tmp_path, query=SLOW_QUERY)
    report = run_batch(BatchOptions(params=(params,), out=tmp_path / "out", workers=1,
                                    limits=Limits(seconds=1, memory=None)))
    assert {(pack.planned.cadence, pack.status, "did not finish within 1 s" in pack.error)
            for pack in report.packs} == {("weekly", "failed", True), ("monthly", "failed", True)}


def test_a_csv_source_with_a_sparse_tail_of_nul_bytes_is_refused_not_read_as_its_good_rows(
    tmp_path: Path,
) -> None:
    # Past the rows the engine samples for types, it used to stop at the NUL bytes silently.
    rows = "".join(f"{n},2026-11-{14 + n % 7},2.0\n" for n in range(40_000))
    path = tmp_path / "inc-1.csv"
    path.write_text("id,restored_at,hours\n" + rows, encoding="utf-8")
    with path.open("r+b") as handle:
        handle.truncate(40 << 20)
    with pytest.raises(InputError) as caught:
        prepare_view("weekly", _pack(tmp_path, sources="sources:\n  incidents: inc-*.csv\n"))
    assert (Path(caught.value.file or "").name, caught.value.line) == ("inc-1.csv", 40_002)
    assert "NUL bytes" in caught.value.message


def test_a_packs_memory_limit_lowers_the_query_engines_ceiling_and_never_raises_it(
    tmp_path: Path,
) -> None:
    from reviewkit.inputs.sources import connect, query_limits

    source = Source("incidents", "csv", "incidents.csv", files=(_incidents_csv(tmp_path),))

    def ceiling() -> str:
        with connect([source]) as con:
            row = con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert row is not None
        return str(row[0])

    with query_limits(memory=256 << 20):
        assert ceiling() == "256.0 MiB"
    with query_limits(memory=6 << 30):
        assert ceiling() == "1.0 GiB"
    assert ceiling() == "1.0 GiB"


def test_a_workbook_header_cell_with_an_unsaved_formula_is_refused(tmp_path: Path) -> None:
    def formula(sheet: Any) -> None:
        sheet["B1"] = '="ho"&"urs"'

    _workbook(tmp_path / "incidents.xlsx", WEEK_OF_WORK, formula)
    error = _error(_pack(tmp_path, query=SUM_QUERY,
                         sources="sources:\n  incidents: incidents.xlsx\n"))
    assert (error.line, error.field) == (1, "column 2")
    assert "whose value was never saved" in error.message


@pytest.mark.parametrize("header", ["id,restored_at,hours,site", "restored_at,id,hours"])
def test_a_file_of_a_glob_whose_header_differs_is_named_with_both_headers(
    tmp_path: Path, header: str,
) -> None:
    (tmp_path / "inc-1.csv").write_text("id,restored_at,hours\n1,2026-11-14,2.0\n",
                                        encoding="utf-8")
    (tmp_path / "inc-2.csv").write_text(header + "\n" + "3,2026-11-15,2.0,N\n",
                                        encoding="utf-8")
    error = _error(_pack(tmp_path, sources="sources:\n  incidents: inc-*.csv\n"))
    assert (Path(error.file or "").name, error.line) == ("inc-2.csv", 1)
    assert (f"its header ({header.replace(',', ', ')}) is not inc-1.csv's (id, restored_at, "
            "hours)") in error.message
