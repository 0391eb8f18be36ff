"""Alternative text of the charts, written from the pack's figures: the chart's span and
movement, and the trend (with its span), target and status the page prints beside it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BOARD_MEETS, REPO, prepare_view

from reviewkit.evaluation.evaluate import DataQuality, Evaluation, KpiResult, PeriodValue
from reviewkit.evaluation.figures import PackFigures, pack_figures
from reviewkit.evaluation.strategy import Strategy
from reviewkit.inputs.catalog import Kpi
from reviewkit.layout.describe import kpi_chart_alt
from reviewkit.layout.document import pack_document
from reviewkit.layout.sections import Pack
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
                     trend="unknown", streak=1, last_seen=END, periods_without_data=0,
                     stale=False)


def _figures(result: KpiResult) -> PackFigures:
    period = result.current.period
    evaluation = Evaluation(period, (result,), (), DataQuality())
    return pack_figures(period=period, evaluation=evaluation, action_log=None, changes=None,
                        strategy=Strategy(as_of=END), kpis={result.kpi.id: result.kpi})


def _alt(result: KpiResult, *, sparkline: bool = False) -> str:
    return kpi_chart_alt(result, _figures(result), sparkline=sparkline).text


def test_kpi_chart_alt_says_the_span_the_movement_the_trend_the_target_and_the_status(
    demo_params: Path,
) -> None:
    view = prepare_view("weekly", demo_params)
    assert pack_document(view).alt("change_success_rate").text == (
        "Change success rate, 26 weeks to 20 Nov 2026: fell from 94.6% to 88.1%; over the last 6 "
        "weeks worsening; target 95.0%; off track")


def test_kpi_chart_alt_counts_the_periods_without_data(demo_params: Path) -> None:
    view = prepare_view("weekly", demo_params)
    assert pack_document(view).alt("backup_success_rate").text == (
        "Backup success rate, 26 weeks to 20 Nov 2026: fell from 99.3% to 97.8% (no data for 3 "
        "weeks); target 99.0%; no data (last measured 30 Oct 2026)")


def test_an_alt_text_states_its_figures_as_the_page_prints_them(demo_params: Path) -> None:
    document = pack_document(prepare_view("weekly", demo_params))
    figures = document.figures
    for chart_id in ("change_success_rate", "spark-cloud_spend", "cloud_spend"):
        alt = document.alt(chart_id)
        assert alt.states
        for identity in alt.states:
            figure = figures.get(identity)
            assert figure is not None and figure.text.lower() in alt.text.lower(), identity


@pytest.mark.parametrize(("values", "movement"), [
    ([90.0, 92.5, 96.0], "rose from {0} to {2}"),
    ([96.0, 96.0, 96.0], "held at {2}"),
    # "held at 96.0%" though the middle week was 91.0%: only the ends were compared.
    ([96.0, 91.0, 96.0], "ended where it began, at {2} (low {1})"),
    ([91.0, 96.0, 91.0], "ended where it began, at {2} (high {1})"),
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
        f"{figures.text(kpi.id, 'target')}; off track")


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


# -- the alternative text says what the page says ------------------------------------------------

@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Pack:
    text = (REPO / "params" / "quarterly.yaml").read_text(encoding="utf-8")
    params = tmp_path_factory.mktemp("alt") / "quarterly.yaml"
    params.write_text(text.replace("../data/demo/", f"{REPO / 'data' / 'demo'}/"),
                      encoding="utf-8")
    return Pack(prepare_view("quarterly", params, now=BOARD_MEETS))


def test_the_timeline_alt_counts_what_the_strip_counts_on_the_day_the_data_runs_to(
        board: Pack) -> None:
    """The alt text said "as of 31 Dec 2026: 5 late, 1 at risk" beside a strip of "4 late"
    and a dashed line on 20 Nov 2026."""
    counts = board.view.strategy.schedule_counts()
    alt = board.chart_alt("timeline")
    assert alt.startswith("Timeline of 10 initiatives as of 20 Nov 2026: ")
    for state, word in (("on_time", "on time"), ("at_risk", "at risk"), ("late", "late"),
                        ("finished", "finished")):
        if counts[state]:
            assert f"{counts[state]} {word}" in alt
    assert counts["late"] == 3 and counts["finished"] == 2  # EHR upgrade 2025 is history


def test_the_outlook_alt_gives_the_verdict_the_page_prints(board: Pack) -> None:
    """The alt text said "target 95%, met now" (a monthly target, the latest month) beside a
    sentence and a scorecard that say at risk for the quarter."""
    for outlook in board.view.strategy.outlooks:
        if not outlook.forecast.points:
            continue
        alt = board.chart_alt(f"outlook-{outlook.forecast.kpi_id}")
        assert alt.endswith(outlook.quarterly.sentence)
        assert "met now" not in alt and "not reached in the forecast" not in alt


def test_a_sparkline_alt_says_the_trend_the_tile_shows_with_its_span(
        demo_params: Path) -> None:
    """"Cloud spend … fell from £46.4k to £44.6k" beside a tile that says ▲ Worsening: the
    line's 13 weeks and the trend's 6 are different spans, and the alt text now says both."""
    pack = Pack(prepare_view("weekly", demo_params))
    result = pack.view.result("cloud_spend")
    alt = pack.sparkline_alt(result)
    assert alt.startswith("Cloud spend run-rate, 13 weeks to 20 Nov 2026: ")
    assert f"over the last 6 weeks {result.trend}" in alt


def test_board_chart_alts_end_on_the_day_the_data_runs_to_and_name_the_money(
        board: Pack) -> None:
    alt = board.chart_alt("p1_incidents")
    assert " to 20 Nov 2026: " in alt and "31 Dec 2026" not in alt
    spend = board.chart_alt("spend")
    assert spend.startswith("Spend against budget by category, year to date to November 2026")
    assert "Staff: £" in spend


def test_a_direction_override_in_a_kpis_name_ends_with_the_name(
    make_kpi: Callable[..., Kpi],
) -> None:
    """A KPI named with U+202E read its whole alternative text backwards after the name: the
    span, the movement, the target and the status."""
    from bidi import left_open

    kpi = make_kpi(name="Change \u202esuccess rate", unit="%", target=95.0, amber=90.0)
    alt = _alt(_result(kpi, [90.0, 92.5, 96.0], status="green"))
    name_end = alt.index(", 3 weeks")
    assert left_open(alt[:name_end]) == [] and "rose from" in alt
