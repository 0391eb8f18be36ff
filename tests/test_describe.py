"""Alternative text of the charts, written from the pack's figures: the chart's span and
movement, and the value, target, status and trend (with its span) the page prints beside it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import prepare_view

from reviewkit.evaluation.evaluate import DataQuality, Evaluation, KpiResult, PeriodValue
from reviewkit.evaluation.figures import PackFigures, pack_figures
from reviewkit.evaluation.strategy import Strategy
from reviewkit.inputs.catalog import Kpi
from reviewkit.layout.describe import kpi_chart_alt
from reviewkit.layout.document import pack_document
from reviewkit.periods import period_containing

END = dt.date(2026, 11, 20)


def _result(kpi: Kpi, values: list[float | None], status: str = "red") -> KpiResult:
    """A weekly result whose history holds ``values`` (oldest first), ending 20 Nov 2026."""
    history = [
        PeriodValue(period_containing("weekly", END - dt.timedelta(weeks=len(values) - 1 - i)),
                    value, 95.0, 90.0, "red" if value is None else status,  # type: ignore[arg-type]
                    0 if value is None else 1)
        for i, value in enumerate(values)
    ]
    return KpiResult(kpi=kpi, current=history[-1], previous=history[-2], history=history,
                     trend="worsening", streak=1, last_seen=END, periods_without_data=0,
                     stale=False)


def _figures(result: KpiResult) -> PackFigures:
    period = result.current.period
    evaluation = Evaluation(period, (result,), (), DataQuality())
    return pack_figures(period=period, evaluation=evaluation, action_log=None, changes=None,
                        strategy=Strategy(as_of=END), kpis={result.kpi.id: result.kpi})


def _alt(result: KpiResult, *, sparkline: bool = False) -> str:
    return kpi_chart_alt(result, _figures(result), sparkline=sparkline).text


def test_kpi_chart_alt_says_the_span_the_movement_the_target_the_status_and_the_trend(
    demo_params: Path,
) -> None:
    view = prepare_view("weekly", demo_params)
    assert pack_document(view).alt("change_success_rate").text == (
        "Change success rate, 26 weeks to 20 Nov 2026: fell from 94.6% to 88.1%; target 95.0%; "
        "off track; trend over the last 6 weeks: worsening")


def test_kpi_chart_alt_counts_the_periods_without_data(demo_params: Path) -> None:
    view = prepare_view("weekly", demo_params)
    assert pack_document(view).alt("backup_success_rate").text == (
        "Backup success rate, 26 weeks to 20 Nov 2026: fell from 99.3% to 97.8% (no data for "
        "3 weeks); target 99.0%; no data; too few values for a trend")


def test_a_sparkline_and_its_tile_state_the_same_figures(demo_params: Path) -> None:
    """The tile says Worsening over six weeks; the sparkline's text says the same, beside the
    movement over the thirteen weeks it draws (never a bare "fell" against "Worsening")."""
    document = pack_document(prepare_view("weekly", demo_params))
    figures = document.figures
    alt = document.alt("spark-cloud_spend")
    assert alt.text == ("Cloud spend run-rate, 13 weeks to 20 Nov 2026: fell from £46.4k to "
                        "£44.6k; target £42.0k; at risk; trend over the last 6 weeks: worsening")
    for identity in alt.states:
        figure = figures.get(identity)
        assert figure is not None and figure.text.lower() in alt.text.lower(), identity
    assert "cloud_spend/2026-11-20/trend" in alt.states


@pytest.mark.parametrize(("values", "movement"), [
    ([90.0, 92.5, 96.0], "rose from {0} to {2}"),
    ([96.0, 91.0, 96.0], "held at {2}"),
    ([None, None, 93.2], "one value, {2} (no data for 2 weeks)"),
    ([None, None, None], "no data"),
])
def test_kpi_chart_alt_names_the_movement_from_first_to_last_value(
    make_kpi: Callable[..., Kpi], values: list[float | None], movement: str
) -> None:
    kpi = make_kpi(name="Change success rate", unit="%")
    result = _result(kpi, values)
    figures = _figures(result)
    texts = [figures.text(kpi.id, "value", pv.period.label) for pv in result.history]
    assert _alt(result) == (
        f"Change success rate, 3 weeks to 20 Nov 2026: {movement.format(*texts)}; target "
        f"{figures.text(kpi.id, 'target')}; off track; trend over the last 6 weeks: worsening")


def test_kpi_chart_alt_of_a_sparkline_covers_only_its_last_periods(
    make_kpi: Callable[..., Kpi],
) -> None:
    kpi = make_kpi(name="Availability", unit="%")
    values: list[float | None] = [70.0, 75.0, 80.0, 85.0, 88.0, 90.0, 91.0, 92.0, 93.0, 93.2,
                                  93.4, 93.5, 93.6, 93.8]
    result = _result(kpi, values, status="amber")
    figures = _figures(result)
    first, last = (figures.text(kpi.id, "value", pv.period.label)
                   for pv in (result.history[1], result.history[-1]))
    assert _alt(result, sparkline=True).startswith(
        f"Availability, 13 weeks to 20 Nov 2026: rose from {first} to {last};")
