"""One rule for periods in every pack: a period in progress, or a first period the data only
partly covers, is compared like for like; a feed's silence and gaps are read at the data's own
grain, so the board pack flags what the weekly pack flags."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from conftest import prepare_view

from reviewkit.evaluation.evaluate import evaluate_kpi, exceptions_for
from reviewkit.evaluation.rollup import year_ago
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.measurements import Observation
from reviewkit.layout.view import PackView
from reviewkit.periods import period_containing

MakeKpi = Callable[..., Kpi]
D = dt.date


def weekly(values: Sequence[float | None], end: dt.date) -> list[Observation]:
    first = end - dt.timedelta(weeks=len(values) - 1)
    return [Observation(first + dt.timedelta(weeks=i), value)
            for i, value in enumerate(values) if value is not None]


# -- a quarter in progress, compared like for like ---------------------------------------------


@pytest.mark.parametrize("named", ["2026-10-01", "2026-11-02", "2026-12-31"])
def test_any_day_named_in_a_quarter_in_progress_gives_the_same_pack(
        lumen: Path, lumen_quarterly: PackView, named: str) -> None:
    """--period only picks the period: the pack's figures take every row inside it, so its
    day "data to", its pro-rated targets and its action log are the data's last day, not the
    day named."""
    view = prepare_view("quarterly", lumen / "params" / "quarterly.yaml", named)
    assert view.period == lumen_quarterly.period
    assert view.as_of == lumen_quarterly.as_of == D(2026, 11, 20)
    assert ([(r.kpi.id, r.status, r.current.target) for r in view.evaluated.results]
            == [(r.kpi.id, r.status, r.current.target)
                for r in lumen_quarterly.evaluated.results])


def test_a_summed_kpi_in_a_quarter_in_progress_is_compared_with_the_same_share_of_the_last(
        lumen_quarterly: PackView) -> None:
    complaints = lumen_quarterly.result("customer_complaints")
    # 8 of the quarter's 13 weekly rows have come by Friday 20 November (the first covers the
    # last days of September), so 8/13 of the quarter is covered, not 51/92 of its days.
    assert complaints.current.share == pytest.approx(8 / 13)
    assert complaints.previous.value == 170
    assert complaints.current.value == 105
    # 105 complaints in 8 weeks is the last quarter's rate (170 in 13): nothing changed.
    assert complaints.change_pro_rata
    assert complaints.change is not None and abs(complaints.change) < 5


def test_a_year_ago_of_a_summed_kpi_in_progress_is_the_same_share_of_that_quarter(
        lumen_quarterly: PackView) -> None:
    complaints = lumen_quarterly.result("customer_complaints")
    ago = year_ago(complaints)
    assert ago is not None and ago.value is not None
    assert ago.pro_rated and ago.share == pytest.approx(8 / 13)
    assert ago.value == pytest.approx(complaints.current.value, rel=0.1)


def test_a_level_in_a_quarter_in_progress_is_compared_as_it_is(
        lumen_quarterly: PackView) -> None:
    on_time = lumen_quarterly.result("on_time_departures")
    assert not on_time.change_pro_rata
    assert on_time.change == pytest.approx(on_time.value - on_time.previous.value)


# -- a first period the data only partly covers -------------------------------------------------

def test_a_first_quarter_the_data_starts_inside_is_flagged_and_its_sum_judged_pro_rata(
        lumen_quarterly: PackView) -> None:
    first = next(pv for pv in lumen_quarterly.result("customer_complaints").history
                 if pv.value is not None)
    assert first.period.label == "2025-Q3"
    assert first.partial_from == D(2025, 8, 9)  # the week ending Friday 15 August
    assert first.share == pytest.approx(7 / 13)  # 7 of the quarter's 13 weekly rows
    assert first.target == pytest.approx(120 * 7 / 13)
    quality = lumen_quarterly.evaluation.data_quality
    assert quality.partial_first["customer_complaints"] == (D(2025, 8, 9), "2025-Q3")


def test_a_partial_first_period_of_a_level_is_flagged_but_keeps_its_target(
        lumen_quarterly: PackView) -> None:
    first = next(pv for pv in lumen_quarterly.result("on_time_departures").history
                 if pv.value is not None)
    assert first.partial and first.target == 94 and not first.pro_rated


def test_a_full_quarter_after_a_partial_first_one_compares_with_it_pro_rata(
        make_kpi: MakeKpi) -> None:
    kpi = make_kpi(id="overflows", direction="lower_is_better", aggregation="sum",
                   target={"weekly": 1, "quarterly": 12}, amber=None, unit="count",
                   cadences=["weekly", "quarterly"])
    # One week of data in Q3 (one overflow), then a whole Q4 with eight.
    rows = weekly([1] + [0] * 5 + [1, 1, 2, 1, 1, 1, 0, 1], D(2026, 12, 25))
    quarter = period_containing("quarterly", D(2026, 12, 31))
    result = evaluate_kpi(kpi, quarter, rows, history_length=4)
    assert result.previous.partial_from == D(2026, 9, 19)
    assert result.change_pro_rata
    # Q3's one overflow in the quarter's last week (1 of its 13 weekly rows) is 13 in a whole
    # quarter: the comparison is pro rata, and says so.
    assert result.previous.share == pytest.approx(1 / 13)
    assert result.compared.value == pytest.approx(13)


# -- a feed's silence and gaps at the data's own grain --------------------------------------------

def test_a_weekly_feed_silent_for_three_weeks_is_stale_in_the_board_pack(
        lumen_quarterly: PackView, lumen_weekly: PackView) -> None:
    for view in (lumen_weekly, lumen_quarterly):
        fuel = view.result("fuel_burn")
        assert fuel.stale, view.cadence.name
        assert fuel.data_to == D(2026, 10, 30)
        stale = [item for item in exceptions_for(fuel) if item.reason == "stale"]
        assert stale and stale[0].detail == "no data for 3 weeks", view.cadence.name
        assert view.evaluation.data_quality.stale["fuel_burn"] == D(2026, 10, 30)


def test_the_quarter_value_of_a_stale_feed_stands_on_old_data(
        lumen_quarterly: PackView) -> None:
    fuel = lumen_quarterly.result("fuel_burn")
    assert fuel.value is not None and fuel.status != "no_data"
    assert fuel.data_to == D(2026, 10, 30)


def test_a_missing_week_inside_a_quarter_is_a_data_quality_finding(
        lumen_quarterly: PackView) -> None:
    quality = lumen_quarterly.evaluation.data_quality
    assert quality.missing_points["booking_availability"] == [D(2026, 7, 17)]
    assert quality.grain_nouns["booking_availability"] == "week"


def test_the_weekly_pack_lists_a_missing_week_once_as_a_gap(lumen_weekly: PackView) -> None:
    quality = lumen_weekly.evaluation.data_quality
    assert "booking_availability" not in quality.missing_points
    assert quality.gaps["booking_availability"] == ["2026-07-17"]


def test_a_monthly_feed_is_not_stale_before_its_next_month_is_due(make_kpi: MakeKpi) -> None:
    kpi = make_kpi()
    rows = [Observation(D(2026, month, 28 if month == 2 else 30 if month in (4, 6, 9) else 31),
                        99.5) for month in range(1, 11)]
    quarter = period_containing("quarterly", D(2026, 11, 20))
    result = evaluate_kpi(kpi, quarter, rows, history_length=4, as_of=D(2026, 11, 20))
    assert not result.stale and result.grain is not None and result.grain.months == 1


# -- streaks count what they name -----------------------------------------------------------------

def test_the_target_streak_counts_periods_below_target_across_amber_and_red(
        make_kpi: MakeKpi) -> None:
    kpi = make_kpi(target=95.0, amber=90.0)
    week = period_containing("weekly", D(2026, 11, 20))
    # Green, then amber for two weeks, then red this week.
    result = evaluate_kpi(kpi, week, weekly([96, 96, 92, 91, 88], D(2026, 11, 20)),
                          history_length=6)
    assert result.status == "red"
    assert result.streak == 1
    assert result.target_streak == 3


# -- change and trend never read as a contradiction ----------------------------------------------

def test_a_kpi_that_went_off_track_this_period_is_never_a_green_improving(
        lumen_quarterly: PackView) -> None:
    """Reportable safety incidents: fewer over the year, then two in November (off track): a
    board read a green "▼ Improving" beside a doubled count."""
    safety = lumen_quarterly.result("safety_incidents")
    assert safety.status == "red" and safety.previous.status == "green"
    assert safety.trend == "improving"
    reading = safety.reading
    assert reading.tone == "mixed" and reading.caveat == "worse this quarter"
    assert reading.span == "4 quarters"


def test_a_trend_reads_with_its_span_and_tone(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(target=95.0, amber=90.0)
    week = period_containing("weekly", D(2026, 11, 20))
    sliding = evaluate_kpi(kpi, week, weekly([99, 98.5, 98, 97.5, 97, 96], D(2026, 11, 20)),
                           history_length=6)
    assert (sliding.trend, sliding.reading.tone) == ("worsening", "warning")  # still on track
    assert sliding.reading.span == "6 weeks"


def test_a_groups_units_reporting_on_different_weekdays_are_read_as_weekly_rows() -> None:
    """Units reporting weekly, one on Mondays and one on Thursdays: the group's pooled dates
    step 3 and 4 days, and were read as a 3-day feed with a gap in every other slot."""
    from reviewkit.evaluation.grain import coverage_of, silence_of

    monday, thursday = D(2026, 9, 7), D(2026, 9, 10)
    rows = [Observation(day + dt.timedelta(weeks=week), 1.0, segment=segment)
            for week in range(10) for day, segment in ((monday, "A"), (thursday, "B"))]
    coverage = coverage_of(rows)
    assert coverage.grain is not None and coverage.grain.noun == "week"
    assert coverage.start == monday - dt.timedelta(days=6)
    silence = silence_of(rows, D(2026, 11, 16))
    assert silence.grain is not None and silence.grain.noun == "week"
