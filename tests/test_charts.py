"""Charts: axes fitted to the data (with a minimum span), whole-number ticks for counts, labels
that fit, and no chart where there is too little history to draw one."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from reviewkit.evaluation.evaluate import KpiResult, evaluate_kpi
from reviewkit.evaluation.forecast import ForecastPoint, forecast_kpi, monthly_series
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.measurements import Observation
from reviewkit.layout import charts
from reviewkit.layout.charts import (
    MIN_CHART_PERIODS,
    chart_history,
    chartable,
    counts_only,
    kpi_chart_png,
    kpi_figure,
    outlook_png,
    sparkline,
    tick_labels,
    wrap_label,
)
from reviewkit.periods import period_containing, weekly_period

MakeKpi = Callable[..., Kpi]
END = dt.date(2026, 11, 20)


def weekly(kpi: Kpi, values: Sequence[float | None], history: int = 26) -> KpiResult:
    """A KPI with one value a week ending on END (None: no row), charted over ``history``."""
    rows = [Observation(END - dt.timedelta(weeks=len(values) - 1 - i), value, None, "")
            for i, value in enumerate(values) if value is not None]
    return evaluate_kpi(kpi, weekly_period(END), rows, history_length=history)


def test_chart_spans_the_data_not_the_whole_history(make_kpi: MakeKpi) -> None:
    """Nine weeks of data in a 26-week history: nine weeks on the axis."""
    result = weekly(make_kpi(), [96, 97, 95, 96, 94, 95, 96, 97, 98])
    assert len(result.history) == 26
    assert len(chart_history(result)) == 9
    axes = kpi_figure(result).axes[0]
    assert axes.get_xlim() == (-0.5, 8.5)


def test_chart_keeps_a_minimum_span_when_the_data_is_short(make_kpi: MakeKpi) -> None:
    result = weekly(make_kpi(), [96, 97, 98])
    shown = chart_history(result)
    assert len(shown) == MIN_CHART_PERIODS == 3
    assert [pv.value for pv in shown] == [96, 97, 98]


def test_a_kpi_with_fewer_than_three_values_gets_no_chart(make_kpi: MakeKpi) -> None:
    """Two points drawn across an axis of empty periods say less than the two values."""
    assert not chartable(weekly(make_kpi(), [96, 97]))
    assert not chartable(weekly(make_kpi(), [96, None, None, 97]))
    assert chartable(weekly(make_kpi(), [96, None, 97, 98]))


def test_the_latest_value_is_labelled_outside_the_plot(make_kpi: MakeKpi) -> None:
    """Beside the plot, the label never sits on the last marker or the target line."""
    figure = kpi_figure(weekly(make_kpi(unit="mg/L", decimals=3), [0.21, 0.2, 0.195]))
    renderer = FigureCanvasAgg(figure).get_renderer()
    axes = figure.axes[0]
    label = next(t for t in axes.texts if "mg/L" in t.get_text())
    box = label.get_window_extent(renderer)
    plot = axes.get_window_extent(renderer)
    assert box.x0 >= plot.x1
    assert box.x1 <= figure.bbox.x1  # and inside the figure


def test_the_value_axis_has_a_tick_beyond_the_highest_value(make_kpi: MakeKpi) -> None:
    result = weekly(make_kpi(unit="h", direction="lower_is_better", target=4, amber=6),
                    [2.4, 3.1, 4.6, 6.4, 7.2, 7.6, 7.2])
    axes = kpi_figure(result).axes[0]
    low, high = axes.get_ylim()
    ticks = [t for t in axes.get_yticks() if low <= t <= high]
    assert max(ticks) >= 7.6


def test_the_value_axis_of_figures_never_below_zero_starts_at_zero(make_kpi: MakeKpi) -> None:
    """Complaints of 0 most weeks drew an axis from minus 1: a count that cannot be negative."""
    kpi = make_kpi(unit="count", direction="lower_is_better", target=1, amber=2,
                   aggregation="sum")
    axes = kpi_figure(weekly(kpi, [0, 1, 0, 2, 0, 0, 3, 0])).axes[0]
    low, _ = axes.get_ylim()
    assert low == 0
    assert min(axes.get_yticks()) >= 0
    # A KPI that does go below zero keeps its negative axis (a variance to budget).
    signed = make_kpi(unit="%", direction="lower_is_better", target=0, amber=5)
    assert kpi_figure(weekly(signed, [-2.5, 1.0, 3.2, -0.4])).axes[0].get_ylim()[0] < 0


def test_axis_dates_are_written_as_every_date_in_the_pack() -> None:
    """'Oct 2026' and 'Q4 2026', never 'Oct 26'; weeks name their year once."""
    months = [period_containing("monthly", dt.date(2026, month, 28)) for month in (9, 10)]
    assert tick_labels(months) == ["Sep 2026", "Oct 2026"]
    quarters = [period_containing("quarterly", dt.date(2026, 11, 1))]
    assert tick_labels(quarters) == ["Q4 2026"]
    weeks = [weekly_period(dt.date(2026, 12, 25)), weekly_period(dt.date(2027, 1, 1)),
             weekly_period(dt.date(2027, 1, 8))]
    assert tick_labels(weeks) == ["25 Dec 2026", "1 Jan 2027", "8 Jan"]


def test_chart_keeps_gaps_inside_the_data(make_kpi: MakeKpi) -> None:
    result = weekly(make_kpi(), [96, None, None, None, None, None, None, 97])
    assert len(chart_history(result)) == 8


def test_sparkline_spans_the_same_periods_as_the_chart(make_kpi: MakeKpi) -> None:
    result = weekly(make_kpi(), [96, 97, 95, 96, 94, 95, 96, 97, 98])
    line = sparkline(result)
    xs = [float(point.split(",")[0]) for point in line.segments[0].split()]
    assert len(xs) == 9
    assert xs[0] == pytest.approx(3.0) and xs[-1] == pytest.approx(line.width - 3.0)


@pytest.mark.parametrize("values", [[0, 1, 0, 2, 1, 0, 1, 3], [7, 8, 7, 8, 9, 8]])
def test_a_count_kpi_gets_whole_number_ticks(make_kpi: MakeKpi, values: list[float]) -> None:
    kpi = make_kpi(unit="count", direction="lower_is_better", target=1, amber=2,
                   aggregation="sum")
    result = weekly(kpi, values)
    assert counts_only(result)
    ticks = kpi_figure(result).axes[0].get_yticks()
    assert len(ticks) >= 2
    assert all(float(tick).is_integer() for tick in ticks)


def test_a_kpi_of_fractions_keeps_fractional_ticks(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(unit="%", target=95.5, amber=95)
    result = weekly(kpi, [95.1, 95.3, 95.2, 95.6, 95.4, 95.7])
    assert not counts_only(result)
    assert not all(float(t).is_integer() for t in kpi_figure(result).axes[0].get_yticks())


def test_long_axis_labels_wrap_onto_at_most_three_lines() -> None:
    name = ("Halswell Junction Road trunk main renewal and pressure-management zone "
            "reconfiguration (Stage 2 of the South-West Network Resilience Programme)")
    label = wrap_label(name)
    lines = label.split("\n")
    assert len(lines) == 3
    assert all(len(line) <= 30 for line in lines)
    assert lines[-1].endswith("…")
    assert wrap_label("Smart meters") == "Smart meters"


def test_no_outlook_chart_without_enough_history(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(cadences=["monthly", "quarterly"])
    rows = [Observation(dt.date(2026, month, 28), 96.0 + month / 10, None, "")
            for month in range(6, 11)]
    series = monthly_series(kpi, rows, dt.date(2026, 10, 31))
    forecast = forecast_kpi(kpi, series)
    assert forecast.points == []
    assert outlook_png(kpi, series, forecast) is None


def test_charts_are_opaque_rgb_pngs(make_kpi: MakeKpi) -> None:
    """No alpha channel: WeasyPrint would encode it a second time as the image's soft mask."""
    png = kpi_chart_png(weekly(make_kpi(), [96, 97, 95, 96, 94, 95]))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.mode == "RGB"
    assert image.size == (1320, 330)  # 6.6 by 1.65 inches at 200 dpi


def test_a_charts_png_holds_exactly_the_pixels_drawn_and_the_pdf_takes_it_as_it_is(
        make_kpi: MakeKpi, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PNG is written here (no row filter, as flat chart colours compress best without
    one); it must decode to the canvas's pixels and stay what the PDF stores as it is."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from reviewkit._speedups import png_data_as_is

    canvases: list[Any] = []
    real_canvas = FigureCanvasAgg

    def keeping(fig: Any) -> Any:
        canvases.append(real_canvas(fig))
        return canvases[-1]

    monkeypatch.setattr("matplotlib.backends.backend_agg.FigureCanvasAgg", keeping)
    png = kpi_chart_png(weekly(make_kpi(), [96, 97, 95, 96, 94, 95]))
    drawn = np.asarray(canvases[0].buffer_rgba())[:, :, :3]
    with Image.open(io.BytesIO(png)) as image:
        image.load()  # checks every chunk's CRC and the compressed data's checksum
        assert image.mode == "RGB" and image.size == (drawn.shape[1], drawn.shape[0])
        assert np.array_equal(np.asarray(image), drawn)
    assert png_data_as_is(png) is not None


def test_an_outlook_of_a_figure_that_cannot_be_negative_draws_no_room_below_zero(
        make_kpi: MakeKpi, monkeypatch: pytest.MonkeyPatch) -> None:
    """P1 incidents' outlook drew its axis from -2.5: the interval of a count reached below
    zero. A band below zero is cut at zero and the axis starts there."""
    kpi = make_kpi(cadences=["monthly", "quarterly"], unit="count", direction="lower_is_better",
                   target=4, amber=6)
    series = [(period_containing("monthly", dt.date(2025, month, 1)), value)
              for month, value in zip(range(1, 13), [5, 1, 6, 0, 7, 2, 5, 1, 6, 0, 4, 3],
                                      strict=True)]
    months = [period_containing("monthly", dt.date(2026, month, 1)) for month in range(1, 7)]
    forecast = dataclasses.replace(
        forecast_kpi(kpi, series),
        points=[ForecastPoint(month, 3.0, -2.2, 9.0) for month in months])
    drawn: list[Any] = []
    monkeypatch.setattr(charts, "_png", lambda fig: drawn.append(fig) or b"png")
    assert outlook_png(kpi, series, forecast) == b"png"
    axes = drawn[0].axes[0]
    assert axes.get_ylim()[0] == 0
    band = axes.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() >= 0
