"""Forecasting: monthly roll-up, ETS projections, target verdicts and the pack sentence."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from conftest import BOARD_MEETS, REPO, prepare_view

from reviewkit.evaluation import forecast as fc
from reviewkit.evaluation.forecast import Forecast, forecast_kpi, monthly_series
from reviewkit.evaluation.strategy import outlook_series
from reviewkit.formatting import STATUS_WORDS
from reviewkit.inputs.catalog import Kpi, load_catalog
from reviewkit.inputs.measurements import Observation, load_measurements
from reviewkit.layout.figures import shown_of
from reviewkit.layout.view import PackView
from reviewkit.periods import Period, period_containing

MakeKpi = Callable[..., Kpi]

#: Two years of monthly values end here, so the 12-month forecast is exactly 2027.
LAST = period_containing("monthly", dt.date(2026, 12, 1))


def months(
    values: Sequence[float | None], last: Period = LAST
) -> list[tuple[Period, float | None]]:
    """Monthly (period, value) pairs ending with ``last``."""
    return list(zip(last.history(len(values)), values, strict=True))


def wobble(i: int) -> float:
    """Small deterministic noise, so the fits are realistic but reproducible."""
    return (0.3, -0.2, 0.1, -0.3, 0.2, -0.1)[i % 6]


def pct_kpi(make_kpi: MakeKpi, **fields: Any) -> Kpi:
    values: dict[str, Any] = {"id": "rate", "name": "Change success rate", "unit": "%",
                              "target": 95.0, "amber": None}
    values.update(fields)
    return make_kpi(**values)


def month(label: str) -> Period:
    year, number = label.split("-")
    return period_containing("monthly", dt.date(int(year), int(number), 1))


# --- monthly_series ----------------------------------------------------------------------------


def obs(day: str, value: float | None, segment: str = "") -> Observation:
    return Observation(dt.date.fromisoformat(day), value, segment=segment)


ROWS = [
    obs("2026-01-09", 4.0),
    obs("2026-01-16", None),
    obs("2026-01-30", 2.0),
    obs("2026-01-23", 6.0),  # out of order: the rule sees date order
    obs("2026-03-06", 1.0, segment="b"),
    obs("2026-03-06", 3.0, segment="a"),
    obs("2026-03-20", 5.0),
    obs("2026-03-27", 7.0),  # after the end date below: ignored
]


@pytest.mark.parametrize(
    ("rule", "january", "march"),
    [("mean", 4.0, 3.0), ("sum", 12.0, 9.0), ("last", 2.0, 5.0), ("min", 2.0, 1.0),
     ("max", 6.0, 5.0)],
)
def test_monthly_series_applies_the_aggregation_rule(
    make_kpi: MakeKpi, rule: str, january: float, march: float
) -> None:
    kpi = make_kpi(aggregation=rule)
    series = monthly_series(kpi, ROWS, dt.date(2026, 3, 25), months=4)
    assert [(p.label, v) for p, v in series] == [
        ("2025-12", None), ("2026-01", january), ("2026-02", None), ("2026-03", march),
    ]
    assert all(p.cadence == "monthly" for p, _ in series)


def test_monthly_series_matches_evaluate_for_monthly_periods(make_kpi: MakeKpi) -> None:
    from reviewkit.evaluation.evaluate import period_value

    kpi = make_kpi(aggregation="last")
    march = period_containing("monthly", dt.date(2026, 3, 1))
    series = monthly_series(kpi, ROWS, march, months=3)
    rows = sorted((o for o in ROWS if march.contains(o.period_end)),
                  key=lambda o: (o.period_end, o.segment))
    assert series[-1] == (march, period_value(kpi, march, rows).value) == (march, 7.0)


def test_monthly_series_ends_at_the_month_holding_a_quarter_end(make_kpi: MakeKpi) -> None:
    quarter = period_containing("quarterly", dt.date(2026, 2, 1))
    series = monthly_series(make_kpi(), ROWS, quarter)
    assert len(series) == 36
    assert series[-1][0].label == "2026-03"
    assert series[0][0].label == "2023-04"


# --- projections and verdicts ------------------------------------------------------------------


def test_rising_series_reaches_a_higher_target_in_the_right_month(make_kpi: MakeKpi) -> None:
    kpi = pct_kpi(make_kpi, target=85.5)
    history = [60.0 + i + wobble(i) for i in range(24)]  # +1 a month, 83 in December 2026
    result = forecast_kpi(kpi, months(history))
    assert result.method == fc.ETS_METHOD
    assert result.n_points == 24
    assert not result.already_on_target
    assert result.reaches_target is True
    # A straight line crosses 85.5 in mid-March; the damped trend gets there in March too.
    assert result.reach_period == month("2027-03")
    assert result.sentence.startswith(
        "On the current trajectory, change success rate reaches its 85.5% target in March 2027 "
        "(80% interval "
    )
    assert result.sentence.endswith("% in March 2027).")


def test_falling_lower_is_better_series_reaches_its_target(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(id="lead_time", name="Change lead time", direction="lower_is_better",
                   target=5.2, amber=None, unit="days")
    history = [12.0 - 0.25 * i + wobble(i) / 4 for i in range(24)]  # -0.25 a month, 6.25 in Dec
    result = forecast_kpi(kpi, months(history))
    assert result.reaches_target is True
    # A straight line gets to 5.2 after 4.2 months; the damped trend, in May 2027 as well.
    assert result.reach_period == month("2027-05")
    assert result.points[0].mean < history[-1]
    assert "change lead time reaches its target of 5.2\u00a0days in May 2027" in result.sentence


def test_flat_series_far_from_target_is_not_projected_to_reach_it(make_kpi: MakeKpi) -> None:
    kpi = pct_kpi(make_kpi)
    result = forecast_kpi(kpi, months([80.0 + wobble(i) for i in range(24)]))
    assert result.reaches_target is False
    assert result.reach_period is None
    assert result.misses_from is None
    assert not result.already_on_target
    assert result.sentence.startswith(
        "On the current trajectory, change success rate is not projected to reach its 95.0% "
        "target by December 2027 (80% interval "
    )


def test_already_on_target_and_staying_there(make_kpi: MakeKpi) -> None:
    kpi = pct_kpi(make_kpi)
    result = forecast_kpi(kpi, months([97.0 + wobble(i) for i in range(24)]))
    assert result.already_on_target
    assert result.reaches_target is True
    assert result.reach_period == month("2027-01")
    assert result.misses_from is None
    assert result.sentence.startswith(
        "Change success rate is on its 95.0% target and projected to stay there through "
        "December 2027"
    )


def test_on_target_now_but_sliding_away(make_kpi: MakeKpi) -> None:
    kpi = pct_kpi(make_kpi)
    history = [110.0 - 0.6 * i + wobble(i) / 3 for i in range(24)]  # 96.2 in December
    result = forecast_kpi(kpi, months(history))
    assert result.already_on_target
    assert result.misses_from is not None
    assert result.misses_from > LAST
    assert "is on its 95.0% target now, but on the current trajectory it falls short from" in (
        result.sentence
    )


def test_intervals_contain_the_mean_and_widen_with_horizon(make_kpi: MakeKpi) -> None:
    rng = random.Random(7)
    level = 50.0
    history = []
    for _ in range(30):  # a random walk with drift: the interval should fan out
        level += 0.3 + rng.gauss(0, 1)
        history.append(level)
    result = forecast_kpi(make_kpi(unit="", target=1000.0, amber=None), months(history),
                          level=0.9)
    assert result.method == fc.ETS_METHOD
    widths = [p.upper - p.lower for p in result.points]
    assert all(p.lower < p.mean < p.upper for p in result.points)
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(widths))
    assert widths[-1] > 1.5 * widths[0]
    narrower = forecast_kpi(make_kpi(unit="", target=1000.0, amber=None), months(history),
                            level=0.5)
    assert narrower.points[0].upper - narrower.points[0].lower < widths[0]
    assert "(90% interval" in result.sentence


def test_projections_stay_within_natural_bounds(make_kpi: MakeKpi) -> None:
    kpi = pct_kpi(make_kpi, target=99.9)
    history = [94.5 + 0.2 * i + wobble(i) for i in range(24)]  # rising towards 100%
    result = forecast_kpi(kpi, months(history))
    assert max(p.upper for p in result.points) == 100.0  # clipped, not 100.4
    counts = make_kpi(unit="count", aggregation="sum", direction="lower_is_better", amber=None,
                      target={"weekly": 1, "monthly": 4, "quarterly": 12})
    falling = forecast_kpi(counts, months([max(0.0, 8 - 0.4 * i) + abs(wobble(i)) * 3
                                           for i in range(24)]))
    assert min(p.lower for p in falling.points) >= 0.0
    assert falling.target == 4.0


def test_quarterly_roll_up_uses_the_aggregation_rule(make_kpi: MakeKpi) -> None:
    history = months([10.0 + 0.2 * i + wobble(i) for i in range(24)])
    for rule in ("mean", "sum", "last", "max"):
        result = forecast_kpi(make_kpi(aggregation=rule, unit="", target=100.0, amber=None),
                              history)
        assert len(result.points) == 12
        assert [q.period.label for q in result.quarters] == [
            "2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4",
        ]
        q2 = result.points[3:6]
        expected = {
            "mean": sum(p.mean for p in q2) / 3,
            "sum": sum(p.mean for p in q2),
            "last": q2[-1].mean,
            "max": max(p.mean for p in q2),
        }[rule]
        assert result.quarters[1].mean == pytest.approx(expected)
        assert result.quarters[1].lower <= result.quarters[1].mean <= result.quarters[1].upper


def test_forecast_runs_to_a_quarter_end_when_the_history_ends_mid_quarter(
    make_kpi: MakeKpi,
) -> None:
    november = month("2026-11")
    result = forecast_kpi(pct_kpi(make_kpi), months([80.0 + wobble(i) for i in range(24)],
                                                    last=november))
    assert result.last_actual == november
    assert [p.period.label for p in result.points][:2] == ["2026-12", "2027-01"]
    assert len(result.points) == 13
    assert [q.period.label for q in result.quarters] == [
        "2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4",
    ]


def test_insufficient_data(make_kpi: MakeKpi) -> None:
    kpi = pct_kpi(make_kpi)
    result = forecast_kpi(kpi, months([None] * 10 + [96.0, 97.0, None, 95.0, 96.0, 97.0, 98.0]
                                      + [96.0]))
    assert result.method == fc.INSUFFICIENT
    assert result.n_points == 7
    assert result.points == [] and result.quarters == []
    assert result.reaches_target is None and result.reach_period is None
    assert result.already_on_target
    assert result.sentence == (
        "Change success rate has too little history to forecast: 7 months with data, at least "
        "8 needed."
    )
    empty = forecast_kpi(kpi, months([None] * 12))
    assert empty.method == fc.INSUFFICIENT
    assert empty.last_actual is None and not empty.already_on_target
    assert "0 months with data" in empty.sentence


def test_gaps_are_interpolated_and_ends_trimmed(make_kpi: MakeKpi) -> None:
    kpi = pct_kpi(make_kpi, target=85.5)
    values: list[float | None] = [60.0 + i + wobble(i) for i in range(24)]
    values[5] = values[10] = values[11] = None
    with_gaps = [None, None, *values, None]  # leading and trailing empty months
    result = forecast_kpi(kpi, months(with_gaps, last=month("2027-01")))
    assert result.gaps_filled == 3
    assert result.n_points == 24
    assert result.last_actual == LAST
    assert result.latest_value == values[-1]
    assert result.points[0].period == month("2027-01")
    assert result.reach_period == month("2027-03")

    # Months may also be missing from the list altogether; the order does not matter.
    sparse = [pair for pair in months(values) if pair[1] is not None]
    again = forecast_kpi(kpi, list(reversed(sparse)))
    assert again.gaps_filled == 3
    assert again.points == result.points


def test_interpolation_is_a_straight_line_across_the_gap() -> None:
    history, observed, gaps = fc._prepare(months([1.0, None, None, 4.0, None, 8.0]))
    assert [v for _, v in history] == pytest.approx([1.0, 2.0, 3.0, 4.0, 6.0, 8.0])
    assert (observed, gaps) == (3, 3)


def test_falls_back_to_a_linear_trend_when_ets_does_not_converge(
    make_kpi: MakeKpi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    real_fit = ETSModel.fit

    def warning_fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        warnings.warn("optimizer gave up", ConvergenceWarning, stacklevel=2)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(ETSModel, "fit", warning_fit)
    kpi = pct_kpi(make_kpi, target=85.5)
    result = forecast_kpi(kpi, months([60.0 + i + wobble(i) for i in range(24)]))
    assert result.method.startswith(fc.OLS_METHOD)
    assert "did not converge" in result.method
    assert len(result.points) == 12
    assert all(p.lower < p.mean < p.upper for p in result.points)
    # A straight line through +1 a month from 83 crosses 85.5 in March as well.
    assert result.reach_period == month("2027-03")


def test_a_series_without_variation_is_held_flat(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(unit="count", aggregation="sum", direction="lower_is_better", amber=None,
                   target=4.0)
    result = forecast_kpi(kpi, months([0.0] * 12))
    assert result.method == fc.CONSTANT_METHOD
    assert {(p.mean, p.lower, p.upper) for p in result.points} == {(0.0, 0.0, 0.0)}
    assert result.already_on_target and result.misses_from is None


def test_bad_arguments_are_rejected(make_kpi: MakeKpi) -> None:
    kpi = make_kpi()
    with pytest.raises(ValueError, match="level"):
        forecast_kpi(kpi, months([1.0] * 10), level=80)
    with pytest.raises(ValueError, match="horizon"):
        forecast_kpi(kpi, months([1.0] * 10), horizon=0)
    quarterly = period_containing("quarterly", dt.date(2026, 1, 1))
    with pytest.raises(ValueError, match="monthly"):
        forecast_kpi(kpi, [(quarterly, 1.0)])


# --- the demo data -----------------------------------------------------------------------------


def test_demo_headline_kpis_all_get_a_forecast() -> None:
    catalog = load_catalog(REPO / "data" / "demo" / "kpis.yaml")
    measurements = load_measurements(REPO / "data" / "demo" / "measurements.csv")
    headline = [kpi for kpi in catalog.kpis if kpi.headline]
    assert len(headline) == 6
    october = dt.date(2026, 10, 31)  # the last complete month of the demo data
    results: list[Forecast] = []
    for kpi in headline:
        series = monthly_series(kpi, measurements.series[kpi.id], october, months=36)
        result = forecast_kpi(kpi, series)
        results.append(result)
        assert result.method in (fc.ETS_METHOD,) or result.method.startswith(fc.OLS_METHOD)
        assert result.n_points == 24  # Nov 2024 to Oct 2026
        assert result.last_actual == month("2026-10")
        assert len(result.points) == 14 and len(result.quarters) == 4
        assert result.reaches_target is not None
        assert all(p.lower <= p.mean <= p.upper for p in result.points + result.quarters)
        assert result.sentence.endswith(").")
        assert kpi.name.lower() in result.sentence.lower()
    # p1_incidents is summed: its quarters are three months' worth of incidents.
    p1 = next(r for r in results if r.kpi_id == "p1_incidents")
    assert p1.quarters[0].mean == pytest.approx(sum(p.mean for p in p1.points[2:5]))


# --- the outlook in quarters -------------------------------------------------------------------


def test_quarterly_outlook_starts_with_the_quarter_in_progress_and_uses_its_target() -> None:
    """P1 incidents, forecast from October 2026: Q4 2026 counts October's measured incidents
    plus November's and December's projections, and the sentence speaks of the quarterly
    target (12), not the monthly one (4)."""
    catalog = load_catalog(REPO / "data" / "demo" / "kpis.yaml")
    measurements = load_measurements(REPO / "data" / "demo" / "measurements.csv")
    kpi = catalog.by_id()["p1_incidents"]
    series = monthly_series(kpi, measurements.series[kpi.id], dt.date(2026, 10, 31))
    forecast = forecast_kpi(kpi, series)
    outlook = fc.quarter_outlook(kpi, forecast, series)
    labels = [q.period.label for q in outlook.quarters]
    assert labels == ["2026-Q4", "2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4"]
    now = outlook.quarters[0]
    october = dict(series)[month("2026-10")]
    assert now.actual_months == 1
    assert now.mean == pytest.approx(october + forecast.points[0].mean + forecast.points[1].mean)
    assert outlook.quarters[1].mean == pytest.approx(forecast.quarters[0].mean)
    assert outlook.target == 12
    assert "quarterly target of 12" in outlook.sentence
    assert "monthly" not in outlook.sentence


def test_a_projection_that_prints_as_the_target_counts_as_reaching_it(
    make_kpi: MakeKpi,
) -> None:
    """Held flat at 99.8996%: printed as 99.90% beside a 99.90% target, it is on target."""
    kpi = pct_kpi(make_kpi, target=99.9, amber=99.5)
    series = months([99.8996] * 12)
    forecast = forecast_kpi(kpi, series)
    outlook = fc.quarter_outlook(kpi, forecast, series)
    assert outlook.decimals == 2
    assert outlook.reach == outlook.quarters[0].period
    assert "not projected" not in outlook.sentence
    assert outlook.sentence.startswith("Change success rate is on its 99.90% target")


def test_the_quarter_in_progress_is_stated_at_the_scorecards_precision_amber_included(
    make_kpi: MakeKpi,
) -> None:
    """Kestrel's leakage, 21.95 ML/d against an amber of 22.00: the outlook said "at risk in Q4
    2026 to date (22.0 ML/d against 18.0 ML/d)", as if on the amber line, where the scorecard
    prints 21.95 ML/d against 18.00 ML/d."""
    from reviewkit.evaluation.evaluate import PeriodValue
    from reviewkit.formatting import shown

    kpi = make_kpi(id="leak", name="Leakage", unit="ML/d", target=18.0, amber=22.0,
                   direction="lower_is_better")
    series = months([20.0 + 0.1 * i + wobble(i) for i in range(12)])
    quarter = period_containing("quarterly", LAST.end)
    now = PeriodValue(quarter, 21.95, 18.0, 22.0, "amber", 1)
    outlook = fc.quarter_outlook(kpi, forecast_kpi(kpi, series), series, now=now,
                                 as_of=LAST.end)
    scorecard = shown(kpi, 21.95, 18.0, 22.0)
    assert (scorecard.value, scorecard.target) == ("21.95\u00a0ML/d", "18.00\u00a0ML/d")
    assert f"({scorecard.value} against {scorecard.target})" in outlook.sentence


def test_quarterly_outlook_without_a_forecast_keeps_the_reason(make_kpi: MakeKpi) -> None:
    kpi = pct_kpi(make_kpi)
    series = months([96.0, 96.5, 97.0])
    forecast = forecast_kpi(kpi, series)
    outlook = fc.quarter_outlook(kpi, forecast, series)
    assert outlook.quarters == []
    assert outlook.sentence == forecast.sentence


# --- the board pack's outlook agrees with its scorecard ------------------------------------------


@pytest.fixture(scope="module")
def demo_quarterly(tmp_path_factory: pytest.TempPathFactory) -> PackView:
    text = (REPO / "params" / "quarterly.yaml").read_text(encoding="utf-8")
    folder = tmp_path_factory.mktemp("outlook")
    params = folder / "quarterly.yaml"
    params.write_text(text.replace("../data/demo/", f"{REPO / 'data' / 'demo'}/"),
                      encoding="utf-8")
    return prepare_view("quarterly", params, now=BOARD_MEETS)


def test_the_outlook_states_the_quarter_in_progress_as_the_scorecard_does(
        demo_quarterly: PackView) -> None:
    """The outlook said "Change success rate is on its 95.0% target in Q4 2026" (95.6%, from
    October and a forecast) two pages after the scorecard's 93.4% at risk for Q4 to date."""
    assert demo_quarterly.strategy.outlooks
    for outlook in demo_quarterly.strategy.outlooks:
        result = demo_quarterly.result(outlook.forecast.kpi_id)
        now = outlook.quarterly.quarters[0]
        assert now.period == result.current.period and now.to_date
        assert (now.status, now.mean, now.target) == (
            result.status, result.value, result.current.target)
        sentence = outlook.quarterly.sentence
        words = STATUS_WORDS[result.status].lower()
        assert sentence.startswith(f"{result.kpi.name} is {words} in Q4 2026 to date "
                                   f"({shown_of(result).value} against "), sentence
        if result.status != "green":
            assert " is on " not in sentence and "on track" not in sentence
        assert [q.period.label for q in outlook.quarterly.quarters[1:]] == [
            "2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4"]


def test_the_outlook_is_fitted_on_the_month_in_progress(demo_quarterly: PackView) -> None:
    """Critical patch compliance recovered in November (96.1% in the week to 20 Nov); fitted
    on complete months only, the outlook held it flat at 89.7% and forecast a year's miss."""
    outlooks = {o.forecast.kpi_id: o for o in demo_quarterly.strategy.outlooks}
    patch = outlooks["critical_patch_compliance"]
    assert patch.partial_month and patch.history[-1][0].label == "2026-11"
    assert patch.forecast.last_actual is not None
    assert patch.forecast.last_actual.label == "2026-11"
    assert "not projected" not in patch.quarterly.sentence


def test_a_summed_kpis_month_in_progress_counts_at_its_pace_for_the_whole_month(
        make_kpi: MakeKpi) -> None:
    kpi = make_kpi(id="incidents", aggregation="sum", direction="lower_is_better", unit="count",
                   target={"weekly": 1, "monthly": 4, "quarterly": 12}, amber=None)
    # Weekly rows on Fridays, two a week; November has 3 of its 4 Fridays by the 20th.
    rows = [Observation(dt.date(2026, 10, 2) + dt.timedelta(weeks=i), 2.0) for i in range(8)]
    series, partial = outlook_series(kpi, rows, dt.date(2026, 11, 20))
    assert partial and series[-1][0].label == "2026-11"
    assert series[-1][1] == pytest.approx(6.0 / (3 / 4))
    assert dict(series)[period_containing("monthly", dt.date(2026, 10, 1))] == 10.0


#: A child process fits the same series and says whether scipy rewrote its docstrings.
_FIT_IN_A_CHILD = """
import json, sys
from reviewkit import _speedups
_speedups.apply()
from reviewkit.evaluation import forecast
fitted = forecast._fit_ets([50.0, 52.0, 51.0, 55.0, 57.0, 56.0, 60.0, 61.0, 63.0], 4, 0.8)
import scipy.stats
print(json.dumps({"fitted": fitted,
                  "noted": "Array API Standard Support" in (scipy.stats.ttest_ind.__doc__ or "")}))
"""


def test_the_speed_ups_skip_scipys_docstring_notes_and_fit_the_same_forecast() -> None:
    """scipy parses the docstrings of hundreds of functions as statsmodels imports it, only to
    add a note to each (about 0.6 s of CPU on the quarterly pack's critical path); with the
    speed-ups it leaves them as they are, and the forecast is the same to the last digit."""
    import json
    import os
    import subprocess
    import sys

    def fit(**env: str) -> dict[str, Any]:
        environment = {k: v for k, v in os.environ.items() if k != "REVIEWKIT_NO_SPEEDUPS"}
        proc = subprocess.run([sys.executable, "-c", _FIT_IN_A_CHILD], capture_output=True,
                              text=True, env={**environment, **env}, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return result

    plain, quick = fit(REVIEWKIT_NO_SPEEDUPS="1"), fit()
    assert plain["noted"] and not quick["noted"]
    assert quick["fitted"] == plain["fitted"]
