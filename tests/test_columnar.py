"""Large measurement tables, read column-wise: the same packs, the same errors and the same line
numbers as the row reader. Every test here lowers the size from which a CSV is read column-wise
to zero, so small files take the large-table path."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from conftest import copy_demo, prepare_view

from reviewkit.errors import InputError
from reviewkit.evaluation.evaluate import combine
from reviewkit.inputs import measurements
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.loaded import load_inputs
from reviewkit.inputs.measurements import load_measurements

HEADER = "kpi_id,period_end,value,target,segment\n"
GOOD = "availability,2026-11-13,99.1,,north\navailability,2026-11-20,99.5,,north\n"


def _column_wise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measurements, "COLUMNAR_FROM_BYTES", 0)


def _row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measurements, "COLUMNAR_FROM_BYTES", 1 << 62)


def _message(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_measurements(path)
    return caught.value.one_line()


@pytest.mark.parametrize("body", [
    GOOD + "availability,2026-11-27,n/a,,north\n",
    GOOD + ",2026-11-27,1,,north\n",
    GOOD + "availability,27/11/2026,1,,north\n",
    GOOD + "availability,2026-02-30,1,,north\n",
    GOOD + "availability,0000-01-01,1,,north\n",
    GOOD + "availability,2026-11-27,1e999,,north\n",
    GOOD + "availability,2026-11-27,nan,,north\n",
    GOOD + "availability,2026-11-27,1,2O,north\n",
    GOOD + "availability,2026-11-27,1 000,,north\n",
    GOOD + "availability,2026-11-27,\u0661,,north\n",  # an Arabic-Indic digit
    GOOD + "availability,2026-11-20,99.9,,north\n",  # a duplicate of line 3
    '"avail\nability",2026-11-06,1,,north\n' + GOOD + "availability,2026-11-27,x,,north\n",
    GOOD + "availability,2026-11-27,1,,north,extra,fields\navailability,2026-11-28,x,,\n",
    GOOD + '"availability,2026-11-27,1,,north\n',  # an unclosed quote
    GOOD + "availability,2026-11-27,1,234.5,,north\n",  # an unquoted thousands separator
    GOOD + "availability,2026-11-27,1\n",  # fewer fields than the header
    GOOD + ",,\n",  # commas short of the header
    GOOD + "availability,2026-11-27,1,,north, \n",  # white space after the last column
    GOOD + "availability,2026-11-27,1,1e30,north\n",  # a target beyond the largest figure
    GOOD + "availability,2026-11-27,1e30,,north\n",  # a value beyond it
    GOOD + "availability,2026-11-27,1,234.5,,\n",  # a thousands separator, then empty fields
    GOOD + "availability,2026-11-27,1,,north,\r\n",  # a trailing comma (CRLF)
    GOOD + 'availability,2026-11-27,1,,"a, b",""\n',  # a quoted comma, a quoted empty field
])
def test_the_column_wise_path_names_the_same_bad_line_as_the_row_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str,
) -> None:
    path = tmp_path / "measurements.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    _row_by_row(monkeypatch)
    expected = _message(path)
    _column_wise(monkeypatch)
    assert _message(path) == expected


def _by_date(table: measurements.Measurements, rule: str) -> dict[str, list[tuple[object, ...]]]:
    """Each KPI's dates as the evaluation reads them: the date's figure by ``rule`` across its
    segments (value, rows with a value, their weight), the target that wins on that date (the
    last in segment order), the segments without a value and how many rows have a target."""
    found: dict[str, list[tuple[object, ...]]] = {}
    for kpi_id, rows in table.series.items():
        kpi = Kpi(id=kpi_id, name=kpi_id, perspective="P", direction="higher_is_better",
                  target=1.0, owner="O", cadences=["weekly"], aggregation=rule)
        for day in sorted({obs.period_end for obs in rows}):
            on_day = sorted((obs for obs in rows if obs.period_end == day),
                            key=lambda obs: obs.segment)
            targets = [obs.target for obs in on_day if obs.target is not None]
            found.setdefault(kpi_id, []).append((
                day, combine(kpi, on_day), targets[-1] if targets else None,
                [obs.segment for obs in on_day if obs.value is None]))
    return found


@pytest.mark.parametrize("body", [
    GOOD,
    "\ufeff" + GOOD,  # a byte-order mark before the header is written below
    GOOD.replace("\n", "\r\n"),
    "availability,2026-11-20, +5 ,,north\navailability,2026-11-13,.5,,south\n"
    "availability,2026-11-06,5.,1e2,\n",
    "availability,2026-11-20,\u00a099.5\u00a0,,north\n",  # no-break spaces: Python trims them
    'availability,2026-11-20,1,,"North, ""main"" site"\navailability,2026-11-20,2,,\n',
    "availability,2026-11-20,1,,\navailability,2026-11-13,,,north\n,,,,\n\n",  # blank rows
])
def test_the_column_wise_path_reads_the_same_values_as_the_row_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str,
) -> None:
    path = tmp_path / "measurements.csv"
    bom = body.startswith("\ufeff")
    path.write_text(("\ufeff" if bom else "") + HEADER + body.removeprefix("\ufeff"),
                    encoding="utf-8")
    _row_by_row(monkeypatch)
    expected = load_measurements(path)
    _column_wise(monkeypatch)
    got = load_measurements(path)
    assert (got.row_count, got.latest_date()) == (expected.row_count, expected.latest_date())
    for rule in ("mean", "sum", "min", "max", "last"):
        whole = got.for_pack({"availability": rule}, dt.date(2030, 1, 4), dt.date(2030, 1, 4))
        assert _by_date(whole, rule) == _by_date(expected, rule)


@pytest.mark.parametrize("name", ["measurements[1].csv", "measurements?.csv",
                                  "measurements*.csv"])
def test_a_large_table_whose_name_has_glob_characters_is_read_from_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
) -> None:
    """DuckDB expands '*', '?' and '[' in a path as a shell does: measurements[1].csv would be
    read from measurements1.csv, beside it."""
    (tmp_path / "measurements1.csv").write_text(
        HEADER + "availability,2026-11-20,12.5,,north\n", encoding="utf-8")
    path = tmp_path / name
    path.write_text(HEADER + GOOD, encoding="utf-8")
    _row_by_row(monkeypatch)
    expected = load_measurements(path)
    _column_wise(monkeypatch)
    got = load_measurements(path)
    assert got.row_count == expected.row_count == 2
    whole = got.for_pack({"availability": "last"}, dt.date(2026, 11, 20), dt.date(2026, 11, 20))
    assert _by_date(whole, "last") == _by_date(expected, "last")


def _history_table(path: Path) -> None:
    """Three and a half years of daily rows for three KPIs in three units, with gaps, empty
    values, target overrides, rows of a KPI the catalog does not know and rows after the
    pack's period."""
    rng = random.Random(9)
    lines = [HEADER.strip()]
    day = dt.date(2023, 6, 1)
    while day <= dt.date(2027, 1, 10):
        for kpi_id in ("availability", "incidents", "backlog"):
            for segment in ("north", "south", ""):
                if rng.random() < 0.05:
                    continue
                value = "" if rng.random() < 0.02 else f"{rng.uniform(90, 100):.2f}"
                # Targets on the group's own rows: a unit's target sends a table to the row
                # reader (see the test after the next).
                target = (f"{rng.uniform(95, 99):.1f}" if rng.random() < 0.03 and not segment
                          else "")
                lines.append(f"{kpi_id},{day},{value},{target},{segment}")
        if day.day == 1:
            lines.append(f"retired_kpi,{day},1,,")
        day += dt.timedelta(days=1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _catalog(path: Path) -> None:
    entries = []
    for kpi_id, rule, direction in (("availability", "mean", "higher_is_better"),
                                    ("incidents", "sum", "lower_is_better"),
                                    ("backlog", "last", "lower_is_better")):
        entries.append(
            f"  - id: {kpi_id}\n    name: {kpi_id}\n    perspective: Reliability\n"
            f"    direction: {direction}\n    target: {{weekly: 96, monthly: 96, quarterly: 96}}\n"
            f"    owner: Someone\n    cadences: [weekly, monthly, quarterly]\n"
            f"    aggregation: {rule}\n")
    path.write_text("kpis:\n" + "".join(entries), encoding="utf-8")


@pytest.mark.parametrize(("cadence", "history"), [("weekly", 4), ("monthly", 4),
                                                   ("quarterly", 4)])
def test_a_large_table_gives_the_same_pack_as_reading_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cadence: str, history: int,
) -> None:
    _history_table(tmp_path / "measurements.csv")
    _catalog(tmp_path / "kpis.yaml")
    params = tmp_path / "params.yaml"
    params.write_text("organisation: Test\ncatalog: kpis.yaml\nmeasurements: measurements.csv\n"
                      f"period_end: 2026-11-20\nhistory: {history}\n", encoding="utf-8")
    _row_by_row(monkeypatch)
    expected = prepare_view(cadence, params).evaluated
    _column_wise(monkeypatch)
    assert load_inputs(params).measurements.scan is not None
    got = prepare_view(cadence, params).evaluated
    assert got.evaluation.data_quality == expected.evaluation.data_quality
    assert expected.evaluation.data_quality.rows_after_period > 0
    assert expected.evaluation.data_quality.unknown_kpis == {"retired_kpi": 44}
    assert got.results == expected.results
    assert max(result.streak for result in got.results) > history  # counted past the charts
    assert got.strategy == expected.strategy


def test_a_large_table_brings_one_observation_per_kpi_and_date_into_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ten units' rows a day for half a year: the engine combines each date's rows, so what a
    # pack holds in memory grows with its dates, not with the table's rows; the figures are
    # the same as reading every row.
    path = tmp_path / "measurements.csv"
    lines = [HEADER.strip()]
    day = dt.date(2026, 6, 1)
    while day <= dt.date(2026, 11, 20):
        lines.extend(f"availability,{day},{90 + unit / 7:.3f},,unit-{unit}" for unit in range(10))
        day += dt.timedelta(days=1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    end = dt.date(2026, 11, 20)
    _row_by_row(monkeypatch)
    expected = load_measurements(path)
    _column_wise(monkeypatch)
    got = load_measurements(path).for_pack({"availability": "mean"}, end, end)
    dates = (end - dt.date(2026, 6, 1)).days + 1
    assert len(got.series["availability"]) == dates
    assert sum(obs.rows for obs in got.series["availability"]) == 10 * dates
    assert _by_date(got, "mean") == _by_date(expected, "mean")


def test_a_table_with_units_and_a_kpi_with_a_rollup_of_its_own_is_read_row_by_row(
    demo_params: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The demo's rows have sites, and two KPIs sum their sites' figures: the column-wise
    # summary of earlier periods would combine those rows by the KPI's aggregation instead.
    _column_wise(monkeypatch)
    inputs = load_inputs(demo_params)
    assert inputs.measurements.scan is None
    assert sum(len(rows) for rows in inputs.measurements.series.values()) > 9_000


@pytest.mark.parametrize(("cadence", "period"), [("weekly", "2026-11-20"),
                                                 ("monthly", "2026-10-31"),
                                                 ("quarterly", "2026-11-20")])
def test_the_demo_read_column_wise_gives_the_same_pack_as_reading_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cadence: str, period: str,
) -> None:
    """Seven units' rows a date, empty values and a date after the period: combined per date
    by the engine, they make the pack that every row makes (the demo without its counts, its
    two rollups of their own and its units' targets: with them, a table is read row by row)."""
    params = copy_demo(tmp_path, cadence)
    data = tmp_path / "data" / "demo"
    catalog = data / "kpis.yaml"
    catalog.write_text("\n".join(line for line in catalog.read_text(encoding="utf-8")
                                 .splitlines() if not line.strip().startswith("rollup:"))
                       + "\n", encoding="utf-8")
    table = data / "measurements.csv"
    lines = table.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "kpi_id,period_end,value,target,segment,count"

    def without_count_and_units_targets(line: str) -> str:
        kpi_id, day, value, target, segment, _ = line.split(",")
        return ",".join((kpi_id, day, value, "" if segment else target, segment))

    table.write_text("\n".join([lines[0].rsplit(",", 1)[0], *map(
        without_count_and_units_targets, lines[1:])]) + "\n", encoding="utf-8")
    _row_by_row(monkeypatch)
    expected = prepare_view(cadence, params, period).evaluated
    _column_wise(monkeypatch)
    assert load_inputs(params).measurements.scan is not None
    got = prepare_view(cadence, params, period).evaluated
    assert got.evaluation.data_quality == expected.evaluation.data_quality
    assert got.results == expected.results
    assert got.changes == expected.changes
    assert got.strategy == expected.strategy
    # A period's figure stands on its rows (seven units' a date), not on its one date.
    assert max(result.current.count for result in got.results) >= 7


def test_nul_bytes_after_the_good_rows_are_refused_not_read_as_the_good_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
) -> None:
    # A file whose end was never written (a full disk, a copy cut short) is sparse: 40 MiB of
    # NUL bytes after two good rows. The engine used to read it as the two rows.
    path = tmp_path / "measurements.csv"
    path.write_text(HEADER + GOOD, encoding="utf-8")
    with path.open("r+b") as handle:
        handle.truncate(40 << 20)
    _column_wise(monkeypatch)
    message = _message(path)
    assert "line 4:" in message and "NUL bytes" in message
    assert len(message) < 300
    out, err = capfd.readouterr()
    assert (out, err) == ("", ""), "the engine printed a progress bar"


def test_the_column_wise_path_judges_a_value_at_its_target_on_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "measurements.csv").write_text(
        HEADER + "availability,2026-11-13,95.6,,\navailability,2026-11-20,95.6,95.6,\n",
        encoding="utf-8")
    (tmp_path / "kpis.yaml").write_text(
        "kpis:\n  - id: availability\n    name: Availability\n    perspective: Reliability\n"
        "    direction: higher_is_better\n    target: 95.6\n    amber: 90\n    owner: Someone\n"
        "    cadences: [weekly]\n", encoding="utf-8")
    params = tmp_path / "params.yaml"
    params.write_text("organisation: Test\ncatalog: kpis.yaml\nmeasurements: measurements.csv\n"
                      "period_end: 2026-11-20\n", encoding="utf-8")
    _column_wise(monkeypatch)
    assert load_inputs(params).measurements.scan is not None
    result = prepare_view("weekly", params).evaluated.result("availability")
    assert (result.value, result.status, result.previous.status) == (95.6, "green", "green")


def test_a_units_row_with_a_target_of_its_own_sends_the_table_to_the_row_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Whether units' targets set a period's target depends on which units give one; a date's
    # summary does not keep that, so the row reader reads such a table.
    path = tmp_path / "measurements.csv"
    path.write_text(HEADER + "availability,2026-11-20,99.5,98,north\n"
                    "availability,2026-11-20,99.1,,south\n", encoding="utf-8")
    _column_wise(monkeypatch)
    assert load_measurements(path).scan is None
    path.write_text(HEADER + "availability,2026-11-20,99.5,98,\n"
                    "availability,2026-11-20,99.1,,south\n", encoding="utf-8")
    assert load_measurements(path).scan is not None
