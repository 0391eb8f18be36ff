"""Charts: axes fitted to the data (with a minimum span), whole-number ticks for counts, labels
that fit, and no chart where there is too little history to draw one."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence

import pytest
from PIL import Image

from reviewkit.evaluation.evaluate import KpiResult, evaluate_kpi
from reviewkit.evaluation.forecast import forecast_kpi, monthly_series
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.measurements import Observation
from reviewkit.layout.charts import (
    MIN_CHART_PERIODS,
    chart_history,
    counts_only,
    kpi_chart_png,
    kpi_figure,
    outlook_png,
    sparkline,
    wrap_label,
)
from reviewkit.periods import weekly_period

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
    result = weekly(make_kpi(), [96, 97])
    shown = chart_history(result)
    assert len(shown) == MIN_CHART_PERIODS
    assert [pv.value for pv in shown][-2:] == [96, 97]


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
