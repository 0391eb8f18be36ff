"""Spend against budget: row validation naming file and line, and the month, year-to-date,
full-year forecast, variance and status computations."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO

from reviewkit.errors import InputError
from reviewkit.evaluation.spend import (
    full_year_forecast,
    latest_period,
    month_spend,
    spend_rules,
    spend_status,
    summarise_spend,
    variance,
    year_months,
    ytd_spend,
)
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.measurements import Observation
from reviewkit.inputs.spend import SpendLine, load_spend, period_label, with_spend_kpis
from reviewkit.layout.sections import Pack
from reviewkit.layout.view import PackView

Write = Callable[[str, str], Path]

CSV = """\
period,category,budget,actual,forecast,note
2026-01,Cloud,100,90,,
2026-01,Staff,1000,1000,,
2026-02,Cloud,100,110,,reservation lapsed
2026-02,Staff,1000,990,,

2026-03,Cloud,100,,,
2026-03,Staff,1000,,,
"""


def _spend(write: Write, *rows: str) -> Path:
    return write("spend.csv", "\n".join(["period,category,budget,actual,forecast,note", *rows])
                 + "\n")


def _error(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_spend(path)
    assert info.value.exit_code == 2
    assert str(info.value).startswith(str(path))
    return info.value


def _line(period: str, category: str, budget: float | None, actual: float | None,
          forecast: float | None = None) -> SpendLine:
    return SpendLine(period=period, category=category, budget=budget, actual=actual,
                     forecast=forecast)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def test_spend_rows_load_with_optional_and_empty_cells(write: Write) -> None:
    lines = load_spend(write("spend.csv", CSV))

    assert len(lines) == 6
    assert lines[0] == _line("2026-01", "Cloud", 100, 90).model_copy(
        update={"source": lines[0].source})
    assert (lines[0].year, lines[0].month) == (2026, 1)
    assert lines[2].note == "reservation lapsed"
    assert lines[4].actual is None and lines[4].budget == 100  # a future month: budget only
    assert lines[4].source is not None and lines[4].source.line == 7  # blank line 6 skipped
    assert latest_period(lines) == "2026-02"


def test_a_forecast_only_row_may_share_its_month_with_the_figures(write: Write) -> None:
    path = _spend(write, "2026-02,Cloud,100,110,,", "2026-02,Cloud,,,1300,finance view")

    lines = load_spend(path)

    assert lines[1].budget is None and lines[1].forecast == 1300


def test_spend_loads_from_excel_with_month_cells(tmp_path: Path) -> None:
    path = tmp_path / "spend.xlsx"
    pd.DataFrame(
        {
            "Period": [dt.datetime(2026, 1, 1), "2026-02"],
            "Category": ["Cloud", "Cloud"],
            "Budget": [100, 100.5],
            "Actual": [90.25, None],
        }
    ).to_excel(path, index=False)

    lines = load_spend(path)

    assert [(x.period, x.budget, x.actual) for x in lines] == [
        ("2026-01", 100.0, 90.25), ("2026-02", 100.5, None)]
    assert lines[0].source is not None and lines[0].source.row_label == "row"


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("2026-13,Cloud,100,90,,", "period", "'2026-13' is not a month; write it as YYYY-MM"),
        ("Nov 2026,Cloud,100,90,,", "period", "'Nov 2026' is not a month"),
        ("2026-11-15,Cloud,100,90,,", "period", "'2026-11-15' is not a month"),
        ("2026-11,,100,90,,", "category", "required value is empty"),
        ("2026-11,Cloud,100,ninety,,", "actual", "'ninety' is not a number"),
        ("2026-11,Cloud,-1,90,,", "budget", "-1 is below the minimum of 0"),
        ("2026-11,Cloud,,90,,", "budget", "budget is empty"),
        ("2026-11,Cloud,,,,", "budget", "budget is empty"),
        ("2026-11,Cloud,100,90,x,", "forecast", "'x' is not a number"),
    ],
)
def test_a_bad_spend_cell_names_file_line_and_column(
    write: Write, row: str, field: str, message: str
) -> None:
    error = _error(_spend(write, "2026-10,Cloud,100,90,,", row))

    assert f", line 3, field '{field}': {message}" in str(error)


def test_a_duplicate_period_and_category_names_both_lines(write: Write) -> None:
    path = _spend(write, "2026-10,Cloud,100,90,,", "2026-10,Staff,100,90,,",
                  "2026-10,Cloud,100,95,,")

    error = _error(path)

    assert ", line 4, field 'category': duplicate row for 'Cloud' in 2026-10 (also on line 2)" in (
        str(error))


def test_two_forecasts_for_the_same_month_and_category_are_duplicates(write: Write) -> None:
    path = _spend(write, "2026-10,Cloud,100,90,1200,", "2026-10,Cloud,,,1250,")

    assert "line 3, field 'category': duplicate row for 'Cloud' in 2026-10 (also on line 2)" in (
        str(_error(path)))


def test_a_missing_column_is_named(write: Write) -> None:
    path = write("spend.csv", "period,category,budget\n2026-01,Cloud,100\n")

    assert "line 1, field 'actual': required column 'actual' is missing" in str(_error(path))


def test_a_misspelt_column_is_an_error(write: Write) -> None:
    path = write("spend.csv", "period,category,budget,actual,forcast\n2026-01,Cloud,100,90,\n")

    assert "field 'forcast': unknown column (did you mean 'forecast'?)" in str(_error(path))


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def test_variance_is_actual_minus_budget_and_a_share_of_budget() -> None:
    assert variance(200, 210) == (10, 5.0)
    assert variance(200, 190) == (-10, -5.0)
    assert variance(0, 10) == (10, None)
    assert variance(None, 10) == (None, None)


@pytest.mark.parametrize(
    ("budget", "actual", "status"),
    [(100, 90, "green"), (100, 100, "green"), (100, 100.01, "amber"), (100, 105, "amber"),
     (100, 105.01, "red"), (0, 0, "green"), (0, 1, "red"), (100, None, "no_data"),
     (None, 5, "no_data")],
)
def test_spend_status_rule(budget: float | None, actual: float | None, status: str) -> None:
    assert spend_status(budget, actual) == status


def test_period_labels_and_year_months() -> None:
    assert period_label(dt.date(2026, 11, 20)) == "2026-11"
    assert period_label("2026-11") == "2026-11"
    with pytest.raises(ValueError, match="not a month"):
        period_label("2026-00")
    assert year_months("2026-11")[0] == "2026-01" and year_months("2026-11")[-1] == "2026-12"
    # A financial year from April: February 2027 is in the year that began in April 2026.
    assert year_months("2027-02", 4)[0] == "2026-04"
    assert year_months("2027-02", 4)[-1] == "2027-03"


def test_month_and_year_to_date_figures(write: Write) -> None:
    lines = load_spend(write("spend.csv", CSV))

    month = month_spend(lines, "2026-02")
    assert (month["Cloud"].budget, month["Cloud"].actual) == (100, 110)
    assert (month["Cloud"].variance, month["Cloud"].variance_pct) == (10, 10.0)
    assert month["Cloud"].status == "red"
    assert month["Staff"].status == "green"
    assert month_spend(lines, "2026-03")["Cloud"].status == "no_data"
    assert month_spend(lines, "2026-04")["Cloud"].budget is None

    ytd = ytd_spend(lines, dt.date(2026, 3, 31))  # March has no actual yet: like for like
    assert (ytd["Cloud"].budget, ytd["Cloud"].actual, ytd["Cloud"].status) == (200, 200, "green")
    assert (ytd["Staff"].budget, ytd["Staff"].actual) == (2000, 1990)
    assert ytd_spend(lines, "2026-01")["Cloud"].actual == 90


def test_full_year_forecast_is_derived_from_actuals_and_remaining_budgets(write: Write) -> None:
    lines = load_spend(write("spend.csv", CSV))

    cloud = full_year_forecast(lines, "2026-02")["Cloud"]

    # Budget: three months with rows plus nine assumed at March's 100 (flat phasing).
    assert cloud.full_year.budget == 1200
    assert cloud.budget_months_assumed == 9
    # Forecast: January and February actuals, then budget for March to December.
    assert cloud.full_year.actual == 90 + 110 + 10 * 100
    assert cloud.forecast_source == "derived"
    assert cloud.full_year.status == "green"


def test_an_explicit_forecast_wins_and_the_latest_one_counts(write: Write) -> None:
    path = _spend(
        write,
        "2026-01,Cloud,100,120,1300,",
        "2026-02,Cloud,100,130,,",
        "2026-02,Cloud,,,1400,finance re-forecast",
        "2026-03,Cloud,100,,1500,next month",
        "2025-12,Cloud,100,100,9999,last year",
    )
    lines = load_spend(path)

    feb = full_year_forecast(lines, "2026-02")["Cloud"]
    assert (feb.full_year.actual, feb.forecast_source, feb.forecast_period) == (
        1400, "explicit", "2026-02")
    assert feb.full_year.budget == 1200
    assert feb.full_year.status == "red"  # 16.7% over
    jan = full_year_forecast(lines, "2026-01")["Cloud"]
    assert jan.full_year.actual == 1300


def test_summary_has_every_category_and_totals(write: Write) -> None:
    lines = load_spend(write("spend.csv", CSV))

    summary = summarise_spend(lines, dt.date(2026, 2, 20))

    assert summary.period == "2026-02"
    assert summary.year_start == "2026-01"
    assert [row.category for row in summary.categories] == ["Cloud", "Staff"]
    assert summary.categories[0].note == "reservation lapsed"
    total = summary.total
    current = total.current
    assert (current.budget, current.actual, current.status) == (1100, 1100, "green")
    assert (total.ytd.budget, total.ytd.actual) == (2200, 2190)
    assert total.full_year.budget == 13200
    assert total.full_year.actual == 1200 + (1000 + 990 + 10 * 1000)
    assert total.forecast_source == "derived"


def test_a_financial_year_from_april(write: Write) -> None:
    path = _spend(write, "2026-03,Cloud,100,500,,", "2026-04,Cloud,100,101,,",
                  "2026-05,Cloud,100,104,,")
    lines = load_spend(path)

    ytd = ytd_spend(lines, "2026-05", year_start_month=4)["Cloud"]

    assert (ytd.budget, ytd.actual, ytd.status) == (200, 205, "amber")
    assert ytd_spend(lines, "2026-05")["Cloud"].status == "red"  # calendar year counts March


# --------------------------------------------------------------------------------------------
# The demo spend
# --------------------------------------------------------------------------------------------


def test_the_demo_spend_matches_the_opex_and_cloud_kpis() -> None:
    lines = load_spend(REPO / "data" / "demo" / "spend.csv")
    with (REPO / "data" / "demo" / "measurements.csv").open(encoding="utf-8") as handle:
        opex = {row["period_end"][:7]: float(row["value"]) for row in csv.DictReader(handle)
                if row["kpi_id"] == "opex_variance" and row["period_end"] >= "2026"}

    assert {line.period for line in lines} == {f"2026-{m:02d}" for m in range(1, 12)}
    assert len({line.category for line in lines}) == 6
    for period, kpi in opex.items():
        total = summarise_spend(lines, period).total.current
        assert total.variance_pct is not None
        assert round(total.variance_pct, 1) == kpi, period
    cloud = [month_spend(lines, f"2026-{m:02d}")["Cloud"].status for m in range(1, 12)]
    assert cloud == ["green"] * 8 + ["red", "amber", "red"]
    november = summarise_spend(lines, "2026-11")
    assert all(row.forecast_source == "explicit" for row in november.categories)
    assert november.total.full_year.status == "amber"
    assert november.total.ytd.status == "green"


# -- one variance and one status per line and period ---------------------------------------------

def test_an_overspend_within_materiality_is_within_budget() -> None:
    """+£11.2k on £13,050k (0.09%) was "▲ Over ≤5%": any overspend was amber."""
    rules = spend_rules(0.5, 5, [])
    assert spend_status(13050, 13061.2) == "amber"
    assert spend_status(13050, 13061.2, rules) == "green"
    assert spend_status(100, 100.6, rules) == "amber"
    assert spend_status(100, 105.1, rules) == "red"


def test_a_line_a_kpi_measures_is_judged_by_the_kpis_own_limits(
        make_kpi: Callable[..., Kpi]) -> None:
    """Opex 2.3% over budget was red as a KPI (target 1%) and amber in the spend table."""
    kpi = make_kpi(id="opex_variance", direction="lower_is_better", target=1.0, amber=None,
                   unit="%", cadences=["monthly", "quarterly"], spend_line="Total")
    rules = spend_rules(0.0, 5, [kpi])
    lines = [SpendLine(period="2026-10", category="Staff", budget=1000, actual=1023)]
    summary = summarise_spend(lines, "2026-10", rules=rules)
    assert summary.total.current.variance_pct == pytest.approx(2.3)
    assert summary.total.current.status == "red"
    assert summary.categories[0].current.status == "amber"  # the general rule for a category
    assert summary.kpi_lines == {"Total": "opex_variance"} and summary.limits("Total") == (1, 1)


def test_a_spend_kpi_takes_its_months_from_the_spend_file(make_kpi: Callable[..., Kpi]) -> None:
    kpi = make_kpi(id="opex_variance", direction="lower_is_better", target=1.0, amber=None,
                   unit="%", cadences=["monthly", "quarterly"], spend_line="Total")
    lines = [SpendLine(period="2026-10", category="Staff", budget=1000, actual=1030),
             SpendLine(period="2026-10", category="Cloud", budget=500, actual=500),
             SpendLine(period="2026-11", category="Staff", budget=1000, actual=1000)]
    ledger = [Observation(dt.date(2026, 9, 30), 1.4), Observation(dt.date(2026, 10, 31), 9.9)]
    series = with_spend_kpis({"opex_variance": ledger}, [kpi], lines)["opex_variance"]
    assert [(o.period_end, o.value, o.count) for o in series] == [
        (dt.date(2026, 9, 30), 1.4, None),  # before the spend file: the ledger's row
        (dt.date(2026, 10, 31), 2.0, 1500), (dt.date(2026, 11, 30), 0.0, 1000)]


def test_a_quarter_to_date_names_only_the_months_with_actuals() -> None:
    """"Q4 2026 to date (October to November)" printed October's figures alone."""
    lines = [SpendLine(period="2026-10", category="Fleet", budget=420, actual=431),
             SpendLine(period="2026-11", category="Fleet", budget=420, actual=None)]
    summary = summarise_spend(lines, dt.date(2026, 11, 20), period_start=dt.date(2026, 10, 1))
    assert summary.months == ["2026-10"] and summary.period == "2026-10"
    assert summary.total.current.budget == 420


def test_the_board_packs_spend_kpi_and_spend_table_state_one_variance_and_status(
        lumen_quarterly: PackView) -> None:
    spend = lumen_quarterly.strategy.spend
    assert spend is not None and spend.months == ["2026-10"]
    opex = lumen_quarterly.result("opex_variance")
    assert opex.value == pytest.approx(spend.total.current.variance_pct)
    assert opex.status == spend.total.current.status
    ytd = lumen_quarterly.strategy.ytd["opex_variance"]
    assert ytd.value == pytest.approx(spend.total.ytd.variance_pct)
    assert ytd.status == spend.total.ytd.status
    assert Pack(lumen_quarterly).spend_months().title == "Q4 2026 to date (October)"
