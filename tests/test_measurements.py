"""Measurements: CSV, Excel and Parquet load to the same series; bad rows name file and line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import FIXTURES, REPO

from reviewkit.errors import InputError
from reviewkit.inputs.measurements import Observation, load_measurements

Write = Callable[[str, str], Path]

CSV = """
kpi_id,period_end,value,target,segment
availability,2026-11-13,99.7,,
availability,2026-11-20,99.8,99.5,
p1_incidents,2026-11-20,1,,north
p1_incidents,2026-11-20,,,south
"""


def _frame() -> pd.DataFrame:
    """The rows of CSV, typed as a spreadsheet or Parquet file would hold them."""
    return pd.DataFrame(
        {
            "kpi_id": ["availability", "availability", "p1_incidents", "p1_incidents"],
            "period_end": [dt.date(2026, 11, 13), dt.date(2026, 11, 20), dt.date(2026, 11, 20),
                           dt.date(2026, 11, 20)],
            "value": [99.7, 99.8, 1.0, None],
            "target": [None, 99.5, None, None],
            "segment": [None, None, "north", "south"],
        }
    )


def _series_without_lines(path: Path) -> dict[str, list[tuple[object, ...]]]:
    return {
        kpi_id: [(o.period_end, o.value, o.target, o.segment) for o in rows]
        for kpi_id, rows in load_measurements(path).series.items()
    }


def _error(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_measurements(path)
    assert info.value.exit_code == 2
    assert str(info.value).startswith(str(path))
    return info.value


def test_csv_rows_become_sorted_observations_per_kpi(write: Write) -> None:
    loaded = load_measurements(write("m.csv", CSV))

    assert loaded.row_count == 4
    assert loaded.series["availability"] == [
        Observation(dt.date(2026, 11, 13), 99.7, None, "", line=2),
        Observation(dt.date(2026, 11, 20), 99.8, 99.5, "", line=3),
    ]
    assert loaded.series["p1_incidents"] == [
        Observation(dt.date(2026, 11, 20), 1.0, None, "north", line=4),
        Observation(dt.date(2026, 11, 20), None, None, "south", line=5),
    ]
    assert loaded.latest_date() == dt.date(2026, 11, 20)
    assert loaded.latest_date({"nothing"}) is None


def test_rows_in_any_order_are_sorted_by_date(write: Write) -> None:
    loaded = load_measurements(
        write("m.csv", "kpi_id,period_end,value\na,2026-11-20,2\na,2026-11-06,0\na,2026-11-13,1\n")
    )
    assert [o.value for o in loaded.series["a"]] == [0.0, 1.0, 2.0]
    assert [o.line for o in loaded.series["a"]] == [3, 4, 2]


def test_csv_xlsx_and_parquet_load_to_the_same_series(write: Write, tmp_path: Path) -> None:
    csv = write("m.csv", CSV)
    xlsx = tmp_path / "m.xlsx"
    _frame().to_excel(xlsx, index=False, sheet_name="measurements")
    parquet = tmp_path / "m.parquet"
    _frame().to_parquet(parquet, index=False)

    expected = _series_without_lines(csv)
    assert _series_without_lines(xlsx) == expected
    assert _series_without_lines(parquet) == expected


def test_parquet_with_timestamp_dates_and_integer_values_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    pd.DataFrame(
        {"kpi_id": ["a", "a"], "period_end": pd.to_datetime(["2026-11-13", "2026-11-20"]),
         "value": [3, 4]}
    ).to_parquet(path)
    assert [(o.period_end, o.value) for o in load_measurements(path).series["a"]] == [
        (dt.date(2026, 11, 13), 3.0), (dt.date(2026, 11, 20), 4.0)
    ]


def test_the_three_demo_files_hold_the_same_series() -> None:
    demo = REPO / "data" / "demo"
    expected = _series_without_lines(demo / "measurements.csv")
    assert _series_without_lines(demo / "measurements.xlsx") == expected
    assert _series_without_lines(demo / "measurements.parquet") == expected


@pytest.mark.parametrize("column", ["kpi_id", "period_end", "value"])
def test_missing_required_column_is_named(write: Write, column: str) -> None:
    header = ",".join(c for c in ("kpi_id", "period_end", "value") if c != column)
    error = _error(write("m.csv", header + "\n"))
    assert error.field == column
    assert error.line == 1
    assert f"required column '{column}' is missing" in str(error)


def test_missing_required_column_in_a_spreadsheet_is_named(tmp_path: Path) -> None:
    path = tmp_path / "m.xlsx"
    pd.DataFrame({"kpi_id": ["a"], "date": [dt.date(2026, 1, 2)], "value": [1.0]}).to_excel(
        path, index=False
    )
    assert _error(path).field == "period_end"


def test_header_whitespace_is_ignored_and_extra_columns_are_reported(write: Write) -> None:
    path = write("m.csv", " kpi_id , period_end ,value,note\na,2026-11-20,1,x\n")
    loaded = load_measurements(path)
    assert loaded.series["a"][0].value == 1.0
    assert loaded.ignored_columns == ["note"]


def test_non_numeric_value_names_file_line_and_field(write: Write) -> None:
    path = write("m.csv", CSV + "availability,2026-11-27,99.9%,,\n")
    error = _error(path)
    assert error.line == 6
    assert error.field == "value"
    assert f"{path}, line 6, field 'value'" in str(error)
    assert "'99.9%' is not a number" in str(error)


@pytest.mark.parametrize("bad", ["n/a", "inf", "1,5"])
def test_other_non_numbers_are_rejected(write: Write, bad: str) -> None:
    error = _error(write("m.csv", f'kpi_id,period_end,value\na,2026-11-20,"{bad}"\n'))
    assert (error.line, error.field) == (2, "value")


def test_non_numeric_value_in_a_spreadsheet_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "m.xlsx"
    frame = _frame().astype({"value": object})
    frame.loc[2, "value"] = "one"
    frame.to_excel(path, index=False)
    error = _error(path)
    assert (error.line, error.field) == (4, "value")  # row 1 is the header
    assert "row 4" in str(error)


def test_empty_value_is_a_missing_observation_not_an_error(write: Write) -> None:
    loaded = load_measurements(write("m.csv", "kpi_id,period_end,value\na,2026-11-20,\n"))
    assert loaded.series["a"] == [Observation(dt.date(2026, 11, 20), None, line=2)]
    assert loaded.row_count == 1


def test_values_with_surrounding_spaces_and_exponents_parse(write: Write) -> None:
    loaded = load_measurements(write("m.csv", "kpi_id,period_end,value\na,2026-11-20, 1.5e2 \n"))
    assert loaded.series["a"][0].value == 150.0


@pytest.mark.parametrize("bad", ["2026-11-31", "20/11/2026", "", "last friday"])
def test_bad_date_names_line_and_field(write: Write, bad: str) -> None:
    error = _error(write("m.csv", f"kpi_id,period_end,value\na,2026-11-13,1\na,{bad},2\n"))
    assert (error.line, error.field) == (3, "period_end")
    assert "YYYY-MM-DD" in str(error)


def test_empty_kpi_id_names_the_line(write: Write) -> None:
    error = _error(write("m.csv", "kpi_id,period_end,value\n,2026-11-13,1\n"))
    assert (error.line, error.field) == (2, "kpi_id")


def test_duplicate_rows_name_both_lines() -> None:
    path = FIXTURES / "measurements_duplicate_row.csv"
    error = _error(path)
    assert error.line == 5
    assert "duplicate row for 'availability' on 2026-11-20" in str(error)
    assert "also on line 3" in str(error)


def test_duplicate_rows_in_the_same_segment_are_rejected(write: Write) -> None:
    error = _error(write("m.csv", CSV + "p1_incidents,2026-11-20,2,,north\n"))
    assert error.line == 6
    assert "segment 'north'" in str(error)
    assert "also on line 4" in str(error)


def test_duplicate_is_detected_even_when_the_value_is_missing(write: Write) -> None:
    error = _error(write("m.csv", "kpi_id,period_end,value\na,2026-11-20,\na,2026-11-20,1\n"))
    assert error.line == 3


def test_same_date_in_different_segments_is_fine(write: Write) -> None:
    loaded = load_measurements(
        write("m.csv", "kpi_id,period_end,value,segment\n"
              "a,2026-11-20,1,east\na,2026-11-20,2,west\n")
    )
    assert [(o.segment, o.value) for o in loaded.series["a"]] == [("east", 1.0), ("west", 2.0)]


def test_target_column_overrides_are_parsed_per_row(write: Write) -> None:
    loaded = load_measurements(write("m.csv", CSV))
    assert [o.target for o in loaded.series["availability"]] == [None, 99.5]


def test_non_numeric_target_names_the_field(write: Write) -> None:
    error = _error(write("m.csv", "kpi_id,period_end,value,target\na,2026-11-20,1,high\n"))
    assert (error.line, error.field) == (2, "target")


def test_unknown_kpi_ids_are_kept(write: Write) -> None:
    path = write("m.csv", "kpi_id,period_end,value\nlegacy_jobs,2026-11-20,1\n")
    loaded = load_measurements(path)
    assert "legacy_jobs" in loaded.series


@pytest.mark.parametrize("name", ["m.json", "m.xls", "m.txt"])
def test_unsupported_extension_is_rejected(write: Write, name: str) -> None:
    error = _error(write(name, "kpi_id,period_end,value\n"))
    assert "unsupported measurements format" in str(error)
    assert ".csv, .parquet or .xlsx" in str(error)


def test_extension_is_case_insensitive(write: Write) -> None:
    assert load_measurements(write("M.CSV", "kpi_id,period_end,value\na,2026-11-20,1\n")).row_count


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    assert "not found" in str(_error(tmp_path / "m.csv"))


def test_unreadable_file_is_an_input_error(write: Write) -> None:
    path = write("m.parquet", "this is not parquet")
    assert "cannot read measurements" in str(_error(path))


def test_blank_lines_are_ignored_and_line_numbers_still_count_them() -> None:
    path = FIXTURES / "measurements_blank_lines_and_bad_value.csv"
    error = _error(path)
    assert (error.line, error.field) == (5, "value")  # header, blank, row, blank, bad row


def test_blank_lines_do_not_become_rows(write: Write) -> None:
    loaded = load_measurements(write("m.csv", "kpi_id,period_end,value\n\na,2026-11-20,1\n\n,,\n"))
    assert loaded.row_count == 1
    assert loaded.series["a"][0].line == 3


def test_header_is_line_one_so_the_first_data_row_is_line_two(write: Write) -> None:
    loaded = load_measurements(write("m.csv", CSV))
    assert [o.line for rows in loaded.series.values() for o in rows] == [2, 3, 4, 5]
