"""Alternative text of the charts, written from the data each chart draws."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import prepare_view

from reviewkit.evaluation.evaluate import KpiResult, PeriodValue
from reviewkit.inputs.catalog import Kpi
from reviewkit.layout.describe import kpi_chart_alt
from reviewkit.periods import period_containing


def _result(kpi: Kpi, values: list[float | None], status: str = "red") -> KpiResult:
    """A weekly result whose history holds ``values`` (oldest first), ending 20 Nov 2026."""
    end = dt.date(2026, 11, 20)
    history = [
        PeriodValue(period_containing("weekly", end - dt.timedelta(weeks=len(values) - 1 - i)),
                    value, 95.0, 90.0, "red" if value is None else status,  # type: ignore[arg-type]
                    0 if value is None else 1)
        for i, value in enumerate(values)
    ]
    return KpiResult(kpi=kpi, current=history[-1], previous=history[-2], history=history,
                     trend="worsening", streak=1, last_seen=end, periods_without_data=0,
                     stale=False)


def test_kpi_chart_alt_says_the_span_the_movement_the_target_and_the_status(
    demo_params: Path,
) -> None:
    view = prepare_view("weekly", demo_params)
    assert kpi_chart_alt(view.result("change_success_rate")) == (
        "Change success rate, 26 weeks to 20 Nov 2026: fell from 94.6% to 88.1%; target 95.0%; "
        "off track")


def test_kpi_chart_alt_counts_the_periods_without_data(demo_params: Path) -> None:
    view = prepare_view("weekly", demo_params)
    assert kpi_chart_alt(view.result("backup_success_rate")) == (
        "Backup success rate, 26 weeks to 20 Nov 2026: fell from 99.30% to 97.80% (no data for 3 "
        "weeks); target 99.00%; no data")


@pytest.mark.parametrize(("values", "movement"), [
    ([90.0, 92.5, 96.0], "rose from 90.0% to 96.0%"),
    ([96.0, 91.0, 96.0], "held at 96.0%"),
    ([None, None, 93.2], "one value, 93.2% (no data for 2 weeks)"),
    ([None, None, None], "no data"),
])
def test_kpi_chart_alt_names_the_movement_from_first_to_last_value(
    make_kpi: Callable[..., Kpi], values: list[float | None], movement: str
) -> None:
    kpi = make_kpi(name="Change success rate", unit="%")
    text = kpi_chart_alt(_result(kpi, values))
    assert text == (f"Change success rate, 3 weeks to 20 Nov 2026: {movement}; target 95.0%; "
                    "off track")


def test_kpi_chart_alt_of_a_sparkline_covers_only_its_last_periods(
    make_kpi: Callable[..., Kpi],
) -> None:
    kpi = make_kpi(name="Availability", unit="%")
    text = kpi_chart_alt(_result(kpi, [80.0, 91.0, 92.0, 93.5], status="amber"), last=2)
    assert text == ("Availability, 2 weeks to 20 Nov 2026: rose from 92.0% to 93.5%; target 95.0%; "
                    "at risk")
