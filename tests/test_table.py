"""One table reader for every tabular input: the same rules, line numbers and messages for
measurements, initiatives, benefits and spend, in CSV, XLSX and Parquet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reviewkit.errors import InputError
from reviewkit.inputs.measurements import load_measurements
from reviewkit.inputs.portfolio import load_benefits, load_initiatives
from reviewkit.inputs.spend import load_spend
from reviewkit.inputs.table import MAX_FIELD_BYTES, read_table

Write = Callable[[str, str], Path]

SPEND = "period,category,budget,actual,forecast,note\n"
MEASUREMENTS = "kpi_id,period_end,value,target\n"
INITIATIVES = ("id,name,owner,priority,status,planned_finish,forecast_finish,budget,"
               "cost_to_date,percent_complete,description\n")


def error_of(load: Callable[[Path], Any], path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        load(path)
    return caught.value


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- line numbers through quoted newlines --------------------------------------------------

def test_spend_error_after_a_quoted_newline_names_the_line_the_bad_row_starts_on(
    write: Write,
) -> None:
    path = write("spend.csv", SPEND
                 + '2026-01,Staff,100,90,,"a note\nover two lines"\n'
                 + "2026-02,Staff,100,lots,,\n")
    error = error_of(load_spend, path)
    assert (error.line, error.field) == (4, "actual")
    assert f"{path}, line 4, field 'actual'" in str(error)


def test_measurement_error_after_a_quoted_newline_names_the_line_the_bad_row_starts_on(
    write: Write,
) -> None:
    path = write("m.csv", "kpi_id,period_end,value,note\n"
                 + 'a,2026-11-13,1,"two\nlines"\n' + "a,2026-11-20,x,\n")
    assert error_of(load_measurements, path).line == 4


def test_initiative_error_after_a_quoted_newline_names_the_line(write: Write) -> None:
    good = "a,A,Owner,high,on_track,2026-12-01,2026-12-01,10,5,50,\"long\ndescription\"\n"
    bad = "b,B,Owner,urgent,on_track,2026-12-01,2026-12-01,10,5,50,\n"
    error = error_of(load_initiatives, write("i.csv", INITIATIVES + good + bad))
    assert (error.line, error.field) == (4, "priority")


# -- numbers: the same rule everywhere -----------------------------------------------------

@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "8_8.1", "1,000", "n/a", "0x10",
                                  "1e400"])
def test_spend_rejects_text_that_is_not_a_plain_number(write: Write, text: str) -> None:
    path = write("spend.csv", SPEND + f'2026-01,Staff,100,"{text}",,\n')
    error = error_of(load_spend, path)
    assert (error.line, error.field) == (2, "actual")
    assert repr(text) in str(error)


@pytest.mark.parametrize("text", ["nan", "inf", "8_8.1", "1,000", "n/a", "١٢"])
def test_measurements_reject_text_that_is_not_a_plain_number(write: Write, text: str) -> None:
    path = write("m.csv", MEASUREMENTS + f'a,2026-11-20,"{text}",\n')
    error = error_of(load_measurements, path)
    assert (error.line, error.field) == (2, "value")


@pytest.mark.parametrize("text", ["1", "-2.5", "+3", ".5", "5.", "1e3", "2.5E-2", " 7 "])
def test_plain_numbers_parse_the_same_in_every_table(write: Write, text: str) -> None:
    expected = float(text)
    spend = load_spend(write("spend.csv", SPEND + f'2026-01,Staff,100,"{text}",,\n'))
    assert spend[0].actual == expected
    measured = load_measurements(write("m.csv", MEASUREMENTS + f'a,2026-11-20,"{text}",\n'))
    assert measured.series["a"][0].value == expected


@pytest.mark.parametrize(("column", "text"), [
    ("value", "1e30"), ("value", "-1e300"), ("value", "1000000000000001"), ("target", "1e16"),
    ("count", "2e15"),
])
def test_a_measurement_beyond_the_largest_figure_is_refused(
    write: Write, column: str, text: str,
) -> None:
    # Finite, so it passed validate, and then a build stopped with a traceback printing it.
    cells = {"value": "1", "target": "", "count": "", column: text}
    path = write("m.csv", "kpi_id,period_end,value,target,count\n"
                 f"a,2026-11-20,{cells['value']},{cells['target']},{cells['count']}\n")
    error = error_of(load_measurements, path)
    assert (error.line, error.field) == (2, column)
    assert error.one_line() == (
        f"{path}, line 2, field '{column}': '{text}' is beyond the largest figure reviewkit "
        "reads, 1e15 (1,000,000,000,000,000) either side of zero; check the number and its unit")


def test_every_table_and_format_bounds_its_numbers_alike(write: Write, tmp_path: Path) -> None:
    error = error_of(load_spend, write("spend.csv", SPEND + "2026-01,Staff,1e20,90,,\n"))
    assert (error.line, error.field) == (2, "budget") and "beyond the largest" in str(error)
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"kpi_id": ["a"], "period_end": ["2026-11-20"], "value": [1e30]}),
                   path)
    error = error_of(load_measurements, path)
    assert (error.line, error.field) == (1, "value") and "beyond the largest" in str(error)


def test_the_largest_figure_itself_is_read(write: Write) -> None:
    path = write("m.csv", "kpi_id,period_end,value,target\na,2026-11-20,1e15,-1000000000000000\n")
    [row] = load_measurements(path).series["a"]
    assert (row.value, row.target) == (1e15, -1e15)


def test_two_figures_near_the_largest_sum_to_a_finite_figure_and_overflow_is_refused(
    write: Write,
) -> None:
    # Two rows of 1.7e308 in two segments of a summed KPI added up to inf: 'rose to inf' in
    # the pack and a bare Infinity in summary.json. No row can be that large any more, and a
    # sum of rows within the bound needs more than 10^290 of them to overflow.
    from reviewkit.evaluation.evaluate import combine
    from reviewkit.inputs.catalog import Kpi

    header = "kpi_id,period_end,value,segment\n"
    error = error_of(load_measurements, write("m.csv", header + "a,2026-11-20,1.7e308,north\n"
                                              "a,2026-11-20,1.7e308,south\n"))
    assert (error.line, error.field) == (2, "value")
    kpi = Kpi(id="a", name="A", perspective="P", direction="higher_is_better", target=1.0,
              owner="O", cadences=["weekly"], aggregation="sum")
    largest = load_measurements(write("m.csv", header + "a,2026-11-20,1e15,north\n"
                                      "a,2026-11-20,1e15,south\n")).series["a"]
    assert combine(kpi, largest).value == 2e15


@pytest.mark.parametrize("text", ["20261120", "2026-W47-5", "2026-11-20T00:00", "2026/11/20",
                                  "2026-11-31"])
def test_dates_must_be_written_yyyy_mm_dd(write: Write, text: str) -> None:
    error = error_of(load_measurements, write("m.csv", MEASUREMENTS + f"a,{text},1,\n"))
    assert (error.line, error.field) == (2, "period_end")
    assert "YYYY-MM-DD" in str(error)


# -- field counts: a line has as many fields as the header -------------------------------------

#: Each table the row reader reads: its header and one good line of it.
TABLES = [
    pytest.param(load_measurements, "kpi_id,period_end,value\n", "ecoli_compliance,2026-11-27,99",
                 id="measurements"),
    pytest.param(load_spend, "period,category,budget,actual\n", "2026-01,Staff,100,90", id="spend"),
    pytest.param(load_initiatives, INITIATIVES,
                 "a,A,Owner,high,on_track,2026-12-01,2026-12-01,10,5,50,Text", id="initiatives"),
    pytest.param(load_benefits, "id,initiative_id,description,baseline,target,baseline_date,"
                 "target_date,measure\n",
                 "b,a,Faster,10,5,2026-01-01,2026-12-31,Days", id="benefits"),
]


def test_an_unquoted_thousands_separator_is_refused_not_read_as_two_fields(write: Write) -> None:
    # Read by position, '1,234.5' was the value 1 and a fourth field dropped without a word.
    path = write("m.csv", "kpi_id,period_end,value\necoli_compliance,2026-11-20,99\n"
                 "ecoli_compliance,2026-11-27,1,234.5\n")
    error = error_of(load_measurements, path)
    assert (error.line, error.field) == (3, None)
    assert error.one_line().startswith(f"{path}, line 3: the line has 4 fields, the header 3")


@pytest.mark.parametrize("load, header, good", TABLES)
@pytest.mark.parametrize("cut, count", [(",9", +1), ("", -1)], ids=["one-more", "one-fewer"])
def test_every_table_refuses_a_line_with_more_or_fewer_fields_than_its_header(
    write: Write, load: Callable[[Path], Any], header: str, good: str, cut: str, count: int,
) -> None:
    width = header.count(",") + 1
    bad = good + cut if count > 0 else good.rsplit(",", 1)[0]
    path = write("t.csv", header + good + "\n" + bad + "\n")
    error = error_of(load, path)
    assert error.line == 3
    assert f"the line has {width + count} fields, the header {width}" in error.one_line()


@pytest.mark.parametrize("load, header, good", TABLES)
def test_a_trailing_comma_is_one_more_field_and_refused(
    write: Write, load: Callable[[Path], Any], header: str, good: str,
) -> None:
    # Were empty fields after the last column let through, '1,234.5' unquoted in a row whose
    # last columns are empty ('x,d,1,234.5,,,' under six) would read as a value and a target.
    width = header.count(",") + 1
    path = write("t.csv", header + good + "\n\n" + good + ",\n")
    error = error_of(load, path)
    assert error.line == 4
    assert (f"the line has {width + 1} fields, the header {width}; remove the comma after the "
            "last field") in error.one_line()


@pytest.mark.parametrize("line", [" ", ","])
def test_a_line_of_white_space_or_commas_short_of_the_header_is_refused(
    tmp_path: Path, line: str,
) -> None:
    # written as it is: the write fixture's dedent would empty a line of white space
    path = write_bytes(tmp_path, "m.csv", f"kpi_id,period_end,value\n{line}\n".encode())
    error = error_of(load_measurements, path)
    assert error.line == 2 and "the header 3" in error.one_line()


# -- encodings and line ends ---------------------------------------------------------------

@pytest.mark.parametrize("load, header, row", [
    (load_spend, SPEND, "2026-01,Staff,100,90,,\n"),
    (load_measurements, MEASUREMENTS, "a,2026-11-20,1,\n"),
])
def test_a_byte_order_mark_and_crlf_line_ends_are_read_as_plain_csv(
    tmp_path: Path, load: Callable[[Path], Any], header: str, row: str
) -> None:
    plain = write_bytes(tmp_path, "plain.csv", (header + row).encode())
    windows = write_bytes(tmp_path, "windows.csv",
                          b"\xef\xbb\xbf" + (header + row).replace("\n", "\r\n").encode())
    assert load(plain) == load(windows) or repr(load(plain)) == repr(load(windows)).replace(
        "windows.csv", "plain.csv")


def test_text_that_is_not_utf8_says_how_to_save_it(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "m.csv", (MEASUREMENTS + "a,2026-11-20,1,caf\xe9\n").encode(
        "latin-1"))
    assert "save the file as UTF-8 CSV" in str(error_of(load_measurements, path))


# -- the header ----------------------------------------------------------------------------

@pytest.mark.parametrize("load, header, misspelt, known", [
    (load_measurements, "kpi_id,period_end,valeu\n", "valeu", "value"),
    (load_spend, "period,category,budget,actuals\n", "actuals", "actual"),
    (load_initiatives, INITIATIVES.replace("owner", "ownr"), "ownr", "owner"),
])
def test_a_misspelt_column_gets_the_same_did_you_mean_everywhere(
    write: Write, load: Callable[[Path], Any], header: str, misspelt: str, known: str
) -> None:
    error = error_of(load, write("table.csv", header))
    assert (error.line, error.field) == (1, misspelt)
    assert f"unknown column (did you mean '{known}'?); columns: " in str(error)


@pytest.mark.parametrize("load, header", [
    (load_measurements, "kpi_id,period_end,value,value\n"),
    (load_spend, "period,category,budget,actual,budget\n"),
])
def test_a_repeated_column_is_an_error_naming_it(
    write: Write, load: Callable[[Path], Any], header: str
) -> None:
    error = error_of(load, write("table.csv", header))
    assert (error.line, error.field) == (1, header.strip().split(",")[-1])
    assert "appears twice in the header" in str(error)


def test_other_extra_columns_are_set_aside_and_reported(write: Write) -> None:
    table = read_table(write("t.csv", "a,b,comments\n1,2,x\n"), "test", ["a"], ["b"])
    assert table.ignored == ("comments",)
    assert table.rows[0].cells == {"a": "1", "b": "2"}


def test_header_names_are_trimmed_and_case_blind(write: Write) -> None:
    loaded = load_measurements(write("m.csv", " KPI_ID , Period_End ,Value\na,2026-11-20,1\n"))
    assert loaded.series["a"][0].value == 1.0


# -- spreadsheets and Parquet --------------------------------------------------------------

def _xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize("text", ["n/a", "N/A", "NA", "nan", "-"])
def test_na_text_in_an_xlsx_value_cell_is_an_error_as_in_csv(tmp_path: Path, text: str) -> None:
    path = _xlsx(tmp_path / "m.xlsx", {"data": [["kpi_id", "period_end", "value"],
                                                ["a", "2026-11-20", text]]})
    error = error_of(load_measurements, path)
    assert (error.line, error.row_label, error.field) == (2, "row", "value")


def test_an_xlsx_with_its_data_on_the_second_sheet_says_only_the_first_is_read(
    tmp_path: Path,
) -> None:
    path = _xlsx(tmp_path / "m.xlsx", {"Notes": [["read me"]],
                                       "Data": [["kpi_id", "period_end", "value"]]})
    message = str(error_of(load_measurements, path))
    assert "required column 'kpi_id' is missing" in message
    assert "only the first sheet, 'Notes', is read; the workbook also has 'Data'" in message


def test_a_nan_in_parquet_is_an_error_not_a_missing_value(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"kpi_id": ["a", "a"], "period_end": ["2026-11-13", "2026-11-20"],
                             "value": [1.0, float("nan")]}), path)
    error = error_of(load_measurements, path)
    assert (error.line, error.row_label, error.field) == (2, "row", "value")


def test_a_null_in_parquet_is_a_missing_value(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"kpi_id": ["a"], "period_end": ["2026-11-20"],
                             "value": pa.array([None], pa.float64())}), path)
    assert load_measurements(path).series["a"][0].value is None


def test_a_file_that_is_not_a_workbook_is_an_input_error(write: Write) -> None:
    path = write("m.xlsx", "kpi_id,period_end,value\n")
    assert "not an Excel workbook" in str(error_of(load_measurements, path))


# -- very long fields ----------------------------------------------------------------------

def test_a_long_note_is_read_and_an_overlong_field_names_its_line(write: Write) -> None:
    long_note = "x" * 200_000  # over the csv module's default limit of 128 KiB
    rows = load_spend(write("spend.csv", SPEND + f"2026-01,Staff,100,90,,{long_note}\n"))
    assert rows[0].note == long_note
    huge = "y" * (MAX_FIELD_BYTES + 10)
    error = error_of(load_spend, write("spend2.csv", SPEND + "2026-01,Staff,100,90,,\n"
                                       + f"2026-02,Staff,100,90,,{huge}\n"))
    assert error.line == 3
    assert "field larger than field limit" in str(error)


def test_an_annotation_column_is_set_aside_not_taken_for_a_misspelt_one(write: Write) -> None:
    # 'comment' is close to 'count', but people add comment columns; it is reported, not refused.
    table = read_table(write("t.csv", "kpi_id,count,comment\na,1,checked\n"), "test",
                       ["kpi_id"], ["count"])
    assert table.ignored == ("comment",)


# -- one rule for every format: merged cells, unsaved formulas, NUL bytes, narrow floats -------

def test_merged_cells_in_a_workbook_are_refused_naming_the_range(tmp_path: Path) -> None:
    # Merged, only C2 holds the value: C3 would read as empty, a missing value for 20 Nov.
    path = _xlsx(tmp_path / "m.xlsx", {"data": [["kpi_id", "period_end", "value"],
                                                ["a", "2026-11-13", 95.6],
                                                ["a", "2026-11-20", None]]})
    book = openpyxl.load_workbook(path)
    book.active.merge_cells("C2:C3")
    book.save(path)
    error = error_of(load_measurements, path)
    assert (error.line, error.row_label) == (2, "row")
    assert "cells C2:C3 are merged" in error.message
    assert "unmerge them" in error.message


def test_a_float32_in_parquet_is_the_decimal_it_stands_for(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"kpi_id": ["a", "b"], "period_end": ["2026-11-20"] * 2,
                             "value": pa.array([95.6, 0.1], pa.float32()),
                             "target": pa.array([95.6, None], pa.float16())}), path)
    loaded = load_measurements(path)
    assert [(obs.value, obs.target) for obs in loaded.series["a"]] == [(95.6, 95.6)]
    assert loaded.series["b"][0].value == 0.1


def test_a_float32_nan_in_parquet_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"kpi_id": ["a"], "period_end": ["2026-11-20"],
                             "value": pa.array([float("nan")], pa.float32())}), path)
    error = error_of(load_measurements, path)
    assert (error.line, error.field) == (1, "value")


def test_a_parquet_file_is_read_in_batches_with_row_numbers_running_on(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    days = [f"2026-{month:02d}-{day:02d}" for month in range(1, 13) for day in range(1, 29)]
    values: list[object] = [1.0] * len(days)
    values[300] = float("inf")
    pq.write_table(pa.table({"kpi_id": ["a"] * len(days), "period_end": days,
                             "value": values}), path, row_group_size=50)
    assert error_of(load_measurements, path).line == 301


def test_nul_bytes_in_a_csv_are_refused_naming_the_line_without_printing_them(
    tmp_path: Path,
) -> None:
    path = write_bytes(tmp_path, "m.csv", MEASUREMENTS.encode() + b"a,2026-11-13,1,\n"
                       + b"\0" * 20_781 + b"\na,2026-11-20,2,\n")
    error = error_of(load_measurements, path)
    assert error.line == 3
    assert "NUL bytes" in error.message
    assert len(error.one_line()) < 300 and "\0" not in error.one_line()


def test_nul_bytes_in_a_parquet_cell_are_refused_as_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"kpi_id": ["a\0b"], "period_end": ["2026-11-20"],
                             "value": [1.0]}), path)
    error = error_of(load_measurements, path)
    assert (error.line, error.field) == (1, "kpi_id")
    assert "NUL bytes" in error.message


def test_a_line_too_long_for_any_table_is_refused_without_reading_it_whole(
    tmp_path: Path,
) -> None:
    import tracemalloc

    path = tmp_path / "m.csv"
    with path.open("wb") as handle:
        handle.write(MEASUREMENTS.encode() + b"a,2026-11-13,1,\n")
        handle.write(b"x" * (64 << 20))  # 64 MiB without a line end
    tracemalloc.start()
    try:
        error = error_of(load_measurements, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.line == 3
    assert peak < 24 << 20, f"{peak >> 20} MiB held to refuse the line"


def test_a_long_cell_is_summarised_in_a_message_never_printed_whole(write: Write) -> None:
    path = write("m.csv", MEASUREMENTS + "a,2026-11-20," + "9" * 50 + "x" * 5000 + ",\n")
    message = error_of(load_measurements, path).one_line()
    assert len(message) < 300, message
    assert "(5,050 characters)" in message
