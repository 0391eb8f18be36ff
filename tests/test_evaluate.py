"""KPI evaluation: pure functions from catalog, measurements and period to statuses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import pytest

from reviewkit.evaluation.evaluate import (
    DataQuality,
    ExceptionItem,
    PeriodValue,
    aggregate,
    elapsed_share,
    evaluate,
    evaluate_kpi,
    exceptions_for,
    is_worse,
    period_value,
    rag_status,
    sort_exceptions,
    streak_of,
    trend_of,
)
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.measurements import Observation
from reviewkit.periods import Period, period_containing, weekly_period

MakeKpi = Callable[..., Kpi]
D = dt.date
END = D(2026, 11, 20)  # a Friday
WEEK = weekly_period(END)


def obs(day: dt.date, value: float | None, target: float | None = None,
        segment: str = "") -> Observation:
    return Observation(day, value, target, segment)


def weekly_rows(values: Sequence[float | None], end: dt.date = END) -> list[Observation]:
    """One row a week, oldest first, the last dated ``end``; ``None`` means no row that week."""
    first = end - dt.timedelta(weeks=len(values) - 1)
    return [
        obs(first + dt.timedelta(weeks=i), value)
        for i, value in enumerate(values)
        if value is not None
    ]


def history_of(kpi: Kpi, values: Sequence[float | None], cadence: str = "weekly") -> list[
    PeriodValue
]:
    """Period values for consecutive periods ending with the one containing END."""
    periods = period_containing(cadence, END).history(len(values))
    return [
        period_value(kpi, period, [] if value is None else [obs(period.end, value)])
        for period, value in zip(periods, values, strict=True)
    ]


def reasons(items: Sequence[ExceptionItem]) -> list[str]:
    return [item.reason for item in items]


@pytest.fixture
def higher(make_kpi: MakeKpi) -> Kpi:
    """Higher is better: target 95, amber 90."""
    return make_kpi(id="change_success_rate", direction="higher_is_better", target=95, amber=90)


@pytest.fixture
def lower(make_kpi: MakeKpi) -> Kpi:
    """Lower is better: target 5, amber 8."""
    return make_kpi(id="change_lead_time", direction="lower_is_better", target=5, amber=8)


# --- RAG status -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status"),
    [(96, "green"), (95, "green"), (94.99, "amber"), (90, "amber"), (89.99, "red"), (0, "red"),
     (None, "no_data")],
)
def test_rag_status_higher_is_better_at_every_boundary(value: float | None, status: str) -> None:
    assert rag_status(value, 95, 90, "higher_is_better") == status


@pytest.mark.parametrize(
    ("value", "status"),
    [(4, "green"), (5, "green"), (5.01, "amber"), (8, "amber"), (8.01, "red"), (100, "red"),
     (None, "no_data")],
)
def test_rag_status_lower_is_better_at_every_boundary(value: float | None, status: str) -> None:
    assert rag_status(value, 5, 8, "lower_is_better") == status


@pytest.mark.parametrize(
    ("direction", "value", "status"),
    [
        ("higher_is_better", 95, "green"),
        ("higher_is_better", 94.99, "red"),
        ("lower_is_better", 5, "green"),
        ("lower_is_better", 5.01, "red"),
        ("lower_is_better", None, "no_data"),
    ],
)
def test_rag_status_without_amber_goes_straight_to_red(
    direction: str, value: float | None, status: str
) -> None:
    assert rag_status(value, 95 if direction == "higher_is_better" else 5, None, direction) == (
        status
    )


def test_zero_is_a_value_not_missing_data() -> None:
    assert rag_status(0, 1, 2, "lower_is_better") == "green"


@pytest.mark.parametrize(
    ("status", "than", "worse"),
    [("red", "amber", True), ("amber", "green", True), ("red", "green", True),
     ("green", "amber", False), ("amber", "amber", False), ("red", "no_data", False),
     ("no_data", "green", False)],
)
def test_is_worse_compares_rag_colours_and_ignores_no_data(
    status: str, than: str, worse: bool
) -> None:
    assert is_worse(status, than) is worse


# --- aggregation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("mean", 2.5), ("sum", 10.0), ("last", 2.0), ("min", 1.0), ("max", 4.0)],
)
def test_aggregation_rules(rule: str, expected: float) -> None:
    assert aggregate([3.0, 1.0, 4.0, 2.0], rule) == expected


def test_aggregation_of_nothing_is_none_and_unknown_rules_fail() -> None:
    assert aggregate([], "sum") is None
    with pytest.raises(ValueError, match="median"):
        aggregate([1.0], "median")


def test_mean_and_sum_are_exact_for_decimal_fractions() -> None:
    assert aggregate([0.1] * 10, "sum") == 1.0
    assert aggregate([0.1] * 10, "mean") == 0.1


@pytest.mark.parametrize(
    ("rule", "value", "status"),
    [("mean", 92.0, "amber"), ("sum", 276.0, "green"), ("last", 85.0, "red"),
     ("min", 85.0, "red"), ("max", 96.0, "green")],
)
def test_several_values_in_one_period_are_aggregated_in_date_order(
    make_kpi: MakeKpi, rule: str, value: float, status: str
) -> None:
    kpi = make_kpi(target=95, amber=90, aggregation=rule)
    rows = [obs(D(2026, 11, 14), 95), obs(D(2026, 11, 17), 96), obs(D(2026, 11, 18), None),
            obs(D(2026, 11, 20), 85)]

    result = period_value(kpi, WEEK, rows)

    assert result.value == value
    assert result.status == status
    assert result.count == 3  # the row with an empty value is not counted
    assert (result.target, result.amber) == (95, 90)


def test_a_period_with_only_empty_values_has_no_data(higher: Kpi) -> None:
    result = period_value(higher, WEEK, [obs(END, None)])
    assert (result.value, result.status, result.count) == (None, "no_data", 0)


# --- evaluate_kpi: which rows count ----------------------------------------------------------


def test_rows_after_the_period_are_ignored(higher: Kpi) -> None:
    rows = [*weekly_rows([96, 96]), obs(D(2026, 11, 21), 10), obs(D(2026, 11, 27), 10)]

    result = evaluate_kpi(higher, WEEK, rows, history_length=8)

    assert (result.value, result.status) == (96, "green")
    assert result.last_seen == END
    assert all(pv.period.end <= END for pv in result.history)


def test_rows_before_the_history_window_are_outside_the_history(higher: Kpi) -> None:
    rows = [obs(END - dt.timedelta(weeks=20), 50), *weekly_rows([96, 97])]

    result = evaluate_kpi(higher, WEEK, rows, history_length=8)

    assert len(result.history) == 8
    assert [pv.value for pv in result.history] == [None] * 6 + [96, 97]


def test_observations_in_any_order_give_the_same_result(higher: Kpi) -> None:
    rows = weekly_rows([91, 93, 92, 96, 97, 88])
    forwards = evaluate_kpi(higher, WEEK, rows, history_length=8)
    backwards = evaluate_kpi(higher, WEEK, list(reversed(rows)), history_length=8)
    assert forwards == backwards


def test_history_is_at_least_the_trend_window(higher: Kpi) -> None:
    result = evaluate_kpi(higher, WEEK, weekly_rows([96]), history_length=2)
    assert len(result.history) >= 6
    assert result.history[-1] is result.current
    assert result.history[-2] is result.previous
    assert result.previous.period == WEEK.previous()


# --- target overrides -------------------------------------------------------------------------


def test_row_target_override_keeps_the_amber_band_width_higher_is_better(higher: Kpi) -> None:
    rows = [obs(D(2026, 11, 16), 72, target=70), obs(END, 72, target=75)]

    current = evaluate_kpi(higher, WEEK, rows, history_length=6).current

    assert (current.target, current.amber) == (75, 70)  # the latest row wins; band stays 5
    assert current.status == "amber"


def test_row_target_override_keeps_the_amber_band_width_lower_is_better(lower: Kpi) -> None:
    assert period_value(lower, WEEK, [obs(END, 8.5, target=6)]).amber == 9
    assert period_value(lower, WEEK, [obs(END, 8.5, target=6)]).status == "amber"
    assert period_value(lower, WEEK, [obs(END, 9.5, target=6)]).status == "red"
    assert period_value(lower, WEEK, [obs(END, 6, target=6)]).status == "green"


def test_row_target_override_without_amber_has_no_band(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(target=85, amber=None)
    current = period_value(kpi, WEEK, [obs(END, 72, target=70)])
    assert (current.target, current.amber, current.status) == (70, None, "green")


def test_an_override_applies_only_to_its_own_period(higher: Kpi) -> None:
    rows = [obs(END - dt.timedelta(weeks=1), 72, target=70), obs(END, 72)]
    result = evaluate_kpi(higher, WEEK, rows, history_length=6)
    assert (result.previous.target, result.previous.status) == (70, "green")
    assert (result.current.target, result.current.status) == (95, "red")


def test_override_on_a_row_with_an_empty_value_still_counts(higher: Kpi) -> None:
    current = period_value(higher, WEEK, [obs(D(2026, 11, 18), 80), obs(END, None, target=80)])
    assert (current.target, current.status) == (80, "green")


def test_per_cadence_targets_are_used_for_the_period_cadence(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(direction="lower_is_better", aggregation="sum",
                   target={"weekly": 1, "monthly": 4}, amber={"weekly": 2, "monthly": 8},
                   cadences=["weekly", "monthly"])
    month = period_containing("monthly", END)
    rolled = period_value(kpi, month, [obs(D(2026, 11, 6), 2), obs(D(2026, 11, 13), 3)])
    assert (rolled.value, rolled.target, rolled.amber, rolled.status) == (5, 4, 8, "amber")


# --- trend ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "trend"),
    [
        ([90, 91, 92, 93, 94, 95], "improving"),
        ([95, 94, 93, 92, 91, 90], "worsening"),
        ([95, 96, 95, 96, 95, 96], "flat"),
        ([90, 91.3, 92.6], "improving"),  # fitted change 2.6 exceeds half the 5-point band
        ([90, 91.25, 92.5], "flat"),  # fitted change exactly 2.5 does not exceed it
        ([90, 91.2, 92.4], "flat"),
        ([92.5, 91.25, 90], "flat"),
        ([92.6, 91.3, 90], "worsening"),
    ],
)
def test_trend_higher_is_better_against_half_the_amber_band(
    higher: Kpi, values: list[float], trend: str
) -> None:
    assert trend_of(higher, history_of(higher, values)) == trend


@pytest.mark.parametrize(
    ("values", "trend"),
    [
        ([8, 7.5, 7, 6.5, 6, 5.5], "improving"),  # lower is better: falling values improve
        ([5.5, 6, 6.5, 7, 7.5, 8], "worsening"),
        ([6, 6.2, 6, 6.2, 6, 6.2], "flat"),
        ([6, 5.2, 4.4], "improving"),  # change -1.6 exceeds half the 3-point band
        ([6, 5.25, 4.5], "flat"),  # change exactly -1.5 does not
        ([6, 5.3, 4.6], "flat"),
    ],
)
def test_trend_lower_is_better_mirrors(lower: Kpi, values: list[float], trend: str) -> None:
    assert trend_of(lower, history_of(lower, values)) == trend


@pytest.mark.parametrize(
    ("direction", "values", "trend"),
    [
        ("higher_is_better", [100, 102, 104], "flat"),  # change 4 < 5% of target 100
        ("higher_is_better", [100, 102.5, 105], "flat"),  # exactly 5% is not more than 5%
        ("higher_is_better", [100, 103, 106], "improving"),
        ("lower_is_better", [100, 103, 106], "worsening"),
        ("lower_is_better", [106, 103, 100], "improving"),
    ],
)
def test_trend_without_amber_uses_five_percent_of_target(
    make_kpi: MakeKpi, direction: str, values: list[float], trend: str
) -> None:
    kpi = make_kpi(direction=direction, target=100, amber=None)
    assert trend_of(kpi, history_of(kpi, values)) == trend


def test_trend_with_a_zero_target_and_no_amber_scales_by_the_values(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(direction="lower_is_better", target=0, amber=None)
    assert trend_of(kpi, history_of(kpi, [10, 10.1, 10.2])) == "flat"
    assert trend_of(kpi, history_of(kpi, [10, 12, 14])) == "worsening"


@pytest.mark.parametrize(
    "values",
    [
        [],
        [96],
        [90, 96],
        [None, None, None, 90, None, 96],  # only two values in the window
        [90, 91, 92, 93, 94, None],  # no current value
    ],
)
def test_trend_is_unknown_without_three_values_including_the_current(
    higher: Kpi, values: list[float | None]
) -> None:
    assert trend_of(higher, history_of(higher, values)) == "unknown"


def test_trend_skips_gaps_but_keeps_their_place(higher: Kpi) -> None:
    assert trend_of(higher, history_of(higher, [90, None, None, None, 94, 95])) == "improving"


def test_trend_looks_only_at_the_last_six_weeks(higher: Kpi) -> None:
    values = [50, 60, 70, 80, 96, 96, 96, 96, 96, 96]
    assert trend_of(higher, history_of(higher, values)) == "flat"


def test_quarterly_trend_looks_at_four_quarters(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(target=95, amber=90)
    assert trend_of(kpi, history_of(kpi, [50, 96, 96, 96, 96], "quarterly")) == "flat"
    assert trend_of(kpi, history_of(kpi, [96, 50, 96, 96, 96], "quarterly")) == "improving"


# --- streak, change and variance --------------------------------------------------------------


def test_streak_counts_periods_in_the_current_status(higher: Kpi) -> None:
    assert streak_of(history_of(higher, [80, 92, 80, 85, 70])) == 3
    assert streak_of(history_of(higher, [96, 97, 98])) == 3
    assert streak_of(history_of(higher, [80, 96])) == 1
    assert streak_of(history_of(higher, [96, None, None])) == 2
    assert streak_of([]) == 0


def test_streak_in_an_evaluated_result_spans_the_history(higher: Kpi) -> None:
    result = evaluate_kpi(higher, WEEK, weekly_rows([96] + [80] * 9), history_length=26)
    assert result.streak == 9


def test_change_and_variance_against_previous_and_target(higher: Kpi) -> None:
    result = evaluate_kpi(higher, WEEK, weekly_rows([91, 88]), history_length=6)

    assert result.change == pytest.approx(-3)
    assert result.variance == pytest.approx(-7)
    assert result.variance_pct == pytest.approx(-700 / 95)
    assert result.status_changed


def test_change_and_variance_are_none_without_values(higher: Kpi) -> None:
    no_previous = evaluate_kpi(higher, WEEK, weekly_rows([None, 88]), history_length=6)
    assert no_previous.change is None
    assert no_previous.variance == pytest.approx(-7)

    no_current = evaluate_kpi(higher, WEEK, weekly_rows([88, None]), history_length=6)
    assert (no_current.change, no_current.variance, no_current.variance_pct) == (None, None, None)


def test_variance_pct_is_none_for_a_zero_target(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(direction="lower_is_better", target=0, amber=2)
    result = evaluate_kpi(kpi, WEEK, weekly_rows([1]), history_length=6)
    assert result.variance == 1
    assert result.variance_pct is None


# --- exceptions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (96, 96, []),
        (92, 85, ["red", "worsened"]),  # amber -> red
        (96, 92, ["worsened"]),  # green -> amber
        (96, 85, ["red", "worsened"]),  # green -> red
        (85, 80, ["red"]),  # red stays red
        (85, 92, []),  # red -> amber is better
        (None, 85, ["red"]),  # from no data is not "worsened"
        (96, None, ["no_data"]),  # to no data is not "worsened" either
    ],
)
def test_exception_reasons_by_status_change(
    higher: Kpi, previous: float | None, current: float | None, expected: list[str]
) -> None:
    result = evaluate_kpi(higher, WEEK, weekly_rows([previous, current]), history_length=6)
    assert reasons(exceptions_for(result)) == expected


def test_red_detail_counts_the_streak(higher: Kpi) -> None:
    result = evaluate_kpi(higher, WEEK, weekly_rows([96, 85, 80, 70]), history_length=6)
    (red,) = exceptions_for(result)
    assert (red.kpi_id, red.reason, red.detail) == ("change_success_rate", "red",
                                                      "3rd week in a row")


def test_worsened_detail_names_both_statuses(higher: Kpi) -> None:
    result = evaluate_kpi(higher, WEEK, weekly_rows([96, 92]), history_length=6)
    assert exceptions_for(result)[0].detail == "On track → At risk"


def test_no_data_for_one_period_is_not_yet_stale(higher: Kpi) -> None:
    result = evaluate_kpi(higher, WEEK, weekly_rows([96, 96, None]), history_length=6)
    assert (result.periods_without_data, result.stale) == (1, False)
    (item,) = exceptions_for(result)
    assert (item.reason, item.detail) == ("no_data", "last measured 13 Nov 2026")


def test_stale_after_the_configured_periods_gives_no_data_and_stale(higher: Kpi) -> None:
    rows = weekly_rows([96, 96, None, None])
    result = evaluate_kpi(higher, WEEK, rows, history_length=6, stale_after=2)

    assert (result.periods_without_data, result.stale) == (2, True)
    assert reasons(exceptions_for(result)) == ["no_data", "stale"]
    assert exceptions_for(result)[1].detail == "no data for 2 weeks"
    not_yet = evaluate_kpi(higher, WEEK, rows, history_length=6, stale_after=3)
    assert reasons(exceptions_for(not_yet)) == ["no_data"]


def test_empty_values_count_as_no_data_for_staleness(higher: Kpi) -> None:
    rows = [*weekly_rows([96, 96], end=END - dt.timedelta(weeks=2)),
            obs(END - dt.timedelta(weeks=1), None), obs(END, None)]
    result = evaluate_kpi(higher, WEEK, rows, history_length=6)
    assert result.stale
    assert result.last_seen == END - dt.timedelta(weeks=2)


def test_staleness_counts_back_to_data_older_than_the_history(higher: Kpi) -> None:
    rows = [obs(END - dt.timedelta(weeks=40), 96)]
    result = evaluate_kpi(higher, WEEK, rows, history_length=8)
    assert result.periods_without_data == 40
    assert result.stale


def test_a_kpi_never_measured_is_no_data_but_not_stale(higher: Kpi) -> None:
    result = evaluate_kpi(higher, WEEK, [], history_length=6)
    assert (result.status, result.stale, result.last_seen) == ("no_data", False, None)
    (item,) = exceptions_for(result)
    assert (item.reason, item.detail) == ("no_data", "never measured")


def test_a_red_kpi_that_worsened_has_both_reasons(higher: Kpi) -> None:
    result = evaluate_kpi(higher, WEEK, weekly_rows([92, 85]), history_length=6)
    assert [(e.kpi_id, e.reason) for e in exceptions_for(result)] == [
        ("change_success_rate", "red"), ("change_success_rate", "worsened")
    ]


def test_exceptions_sort_by_urgency_then_catalog_order() -> None:
    items = [
        ExceptionItem("b", "stale", ""),
        ExceptionItem("a", "no_data", ""),
        ExceptionItem("c", "worsened", ""),
        ExceptionItem("b", "something_new", ""),
        ExceptionItem("c", "red", ""),
        ExceptionItem("a", "red", ""),
        ExceptionItem("b", "red_no_action", ""),
        ExceptionItem("b", "no_data", ""),
    ]
    ordered = sort_exceptions(items, ["c", "b", "a"])
    assert [(e.reason, e.kpi_id) for e in ordered] == [
        ("red", "c"), ("red", "a"), ("red_no_action", "b"), ("worsened", "c"),
        ("no_data", "b"), ("no_data", "a"), ("stale", "b"), ("something_new", "b"),
    ]


# --- evaluate(): cadence filter, exceptions and data quality ----------------------------------


@pytest.fixture
def catalog(make_kpi: MakeKpi) -> list[Kpi]:
    return [
        make_kpi(id="rate", target=95, amber=90),
        make_kpi(id="backups", target=99, amber=97),
        make_kpi(id="opex", cadences=["monthly", "quarterly"], target=1, amber=None,
                 direction="lower_is_better"),
        make_kpi(id="csat", target=90, amber=85),
        make_kpi(id="new_kpi", target=1, amber=None),
    ]


@pytest.fixture
def series() -> dict[str, list[Observation]]:
    return {
        "rate": weekly_rows([96, 96, 92, 85]),  # amber -> red
        "backups": weekly_rows([99.5, 99.5, None, None, None]),  # stale
        "opex": [obs(D(2026, 10, 31), 2.3)],
        # 30 Oct: a row with an empty value; two rows (two segments) after the period.
        "csat": [*weekly_rows([91, None, 92, 93, 88]), obs(D(2026, 10, 30), None),
                 obs(D(2026, 11, 27), 50), obs(D(2026, 11, 27), 60, segment="north")],
        "legacy_jobs": weekly_rows([1412, 1398, 1405]),
        "new_kpi": [obs(D(2026, 12, 4), 1)],  # only after the period
    }


def test_evaluate_includes_only_kpis_reported_at_the_period_cadence(
    catalog: list[Kpi], series: dict[str, list[Observation]]
) -> None:
    weekly = evaluate(catalog, series, WEEK, history_length=8)
    monthly = evaluate(catalog, series, period_containing("monthly", D(2026, 10, 31)))

    assert [r.kpi.id for r in weekly.results] == ["rate", "backups", "csat", "new_kpi"]
    assert [r.kpi.id for r in monthly.results] == ["rate", "backups", "opex", "csat", "new_kpi"]
    assert monthly.result("opex").status == "red"
    with pytest.raises(KeyError):
        weekly.result("opex")


def test_evaluate_collects_and_orders_exceptions(
    catalog: list[Kpi], series: dict[str, list[Observation]]
) -> None:
    evaluation = evaluate(catalog, series, WEEK, history_length=8)

    assert [(e.reason, e.kpi_id) for e in evaluation.exceptions] == [
        ("red", "rate"),
        ("worsened", "rate"),
        ("worsened", "csat"),
        ("no_data", "backups"),
        ("no_data", "new_kpi"),
        ("stale", "backups"),
    ]
    assert evaluation.status_counts() == {"green": 0, "amber": 1, "red": 1, "no_data": 2}


def test_data_quality_lists_every_finding(
    catalog: list[Kpi], series: dict[str, list[Observation]]
) -> None:
    quality = evaluate(catalog, series, WEEK, history_length=8,
                       ignored_columns=["note"]).data_quality

    assert quality.unknown_kpis == {"legacy_jobs": 3}
    assert quality.missing_values == {"csat": [D(2026, 10, 30)]}
    assert quality.gaps == {
        "backups": ["2026-11-06", "2026-11-13", "2026-11-20"],
        "csat": ["2026-10-30"],  # weeks before the first measurement are not gaps
    }
    assert quality.stale == {"backups": D(2026, 10, 30)}
    assert quality.never_reported == ["new_kpi"]
    assert quality.rows_after_period == 3
    assert quality.ignored_columns == ["note"]
    assert quality.issue_count == 1 + 1 + 2 + 1 + 1 + 1 + 1


def test_target_overrides_are_counted_up_to_the_period(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(id="m", target=85, amber=None)
    rows = [obs(D(2026, 11, 13), 72, target=70), obs(END, 80, target=70),
            obs(D(2026, 11, 27), 80, target=70)]
    quality = evaluate([kpi], {"m": rows}, WEEK).data_quality
    assert quality.target_overrides == {"m": 2}
    assert quality.issue_count == 1  # overrides are noted, not counted as issues (rows after are)


def test_clean_data_has_no_data_quality_issues(make_kpi: MakeKpi) -> None:
    quality = evaluate([make_kpi(id="a")], {"a": weekly_rows([99] * 30)}, WEEK).data_quality
    assert quality == DataQuality()
    assert quality.issue_count == 0


def test_default_history_length_is_per_cadence(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(id="a")
    assert len(evaluate([kpi], {}, WEEK).results[0].history) == 26
    assert len(evaluate([kpi], {}, period_containing("monthly", END)).results[0].history) == 24
    assert len(evaluate([kpi], {}, period_containing("quarterly", END)).results[0].history) == 12


# --- roll-up ----------------------------------------------------------------------------------

#: Weekly rows dated on the Fridays of Q3 2026: July (5 Fridays), August (4), September (4).
Q3_FRIDAYS = [D(2026, 7, 3) + dt.timedelta(weeks=i) for i in range(13)]
Q3_VALUES = [1, 2, 0, 3, 1, 5, 0, 2, 4, 1, 0, 2, 6]


def _q3_rows() -> list[Observation]:
    # A row on the Friday that closes Q2 and one after the quarter must not be counted in Q3.
    return [obs(D(2026, 6, 26), 100), *map(obs, Q3_FRIDAYS, Q3_VALUES), obs(D(2026, 10, 2), 100)]


def _months() -> dict[int, list[int]]:
    by_month: dict[int, list[int]] = {}
    for day, value in zip(Q3_FRIDAYS, Q3_VALUES, strict=True):
        by_month.setdefault(day.month, []).append(value)
    return by_month


def test_monthly_and_quarterly_sum_roll_up_weekly_rows(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(id="incidents", direction="lower_is_better", aggregation="sum",
                   target={"weekly": 1, "monthly": 4, "quarterly": 12},
                   amber={"weekly": 2, "monthly": 8, "quarterly": 24})
    months = _months()

    for month, values in months.items():
        period = period_containing("monthly", D(2026, month, 1))
        current = evaluate_kpi(kpi, period, _q3_rows(), history_length=6).current
        assert current.value == sum(values)
        assert current.count == len(values)
        assert current.target == 4

    quarter = evaluate_kpi(kpi, period_containing("quarterly", D(2026, 9, 30)), _q3_rows(),
                           history_length=4).current
    assert quarter.value == 27 == sum(sum(v) for v in months.values())
    assert (quarter.target, quarter.amber, quarter.status) == (12, 24, "red")


def test_monthly_and_quarterly_mean_is_over_every_measurement(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(id="spend", direction="lower_is_better", target=42, amber=46)
    months = _months()

    for month, values in months.items():
        period = period_containing("monthly", D(2026, month, 1))
        value = evaluate_kpi(kpi, period, _q3_rows(), history_length=6).value
        assert value == pytest.approx(sum(values) / len(values))

    quarter = evaluate_kpi(kpi, period_containing("quarterly", D(2026, 8, 1)), _q3_rows(),
                           history_length=4)
    mean_of_months = sum(sum(v) / len(v) for v in months.values()) / 3
    assert quarter.value == pytest.approx(sum(Q3_VALUES) / 13)
    assert quarter.value != pytest.approx(mean_of_months)


def test_a_weekly_row_counts_in_the_month_of_its_date(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(id="incidents", aggregation="sum", target=1, amber=None)
    # The week ending Friday 2 Oct 2026 starts in September; the row belongs to October.
    rows = [obs(D(2026, 9, 25), 1), obs(D(2026, 10, 2), 10)]
    october = period_containing("monthly", D(2026, 10, 2))
    result = evaluate_kpi(kpi, october, rows, history_length=6)
    assert (result.value, result.previous.value) == (10, 1)


def test_monthly_evaluation_ignores_rows_after_the_month(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(id="a", aggregation="last", target=1, amber=None)
    rows = [obs(D(2026, 10, 30), 5), obs(D(2026, 11, 6), 7)]
    result = evaluate_kpi(kpi, period_containing("monthly", D(2026, 10, 1)), rows,
                          history_length=6)
    assert result.value == 5
    assert isinstance(result.current.period, Period)


# --- a period in progress -----------------------------------------------------------------------

QUARTER = period_containing("quarterly", D(2026, 11, 20))


def test_elapsed_share_counts_the_days_of_the_period_so_far() -> None:
    assert elapsed_share(QUARTER, D(2026, 11, 20)) == pytest.approx(51 / 92)
    assert elapsed_share(QUARTER, QUARTER.end) == 1.0
    assert elapsed_share(QUARTER, None) == 1.0


def test_a_summed_kpi_in_progress_is_judged_against_its_pro_rated_target(
    make_kpi: MakeKpi,
) -> None:
    """Eleven P1 incidents by 20 Nov: on track against the quarter's 12, but the quarter is 51
    of 92 days old, so the target so far is 6.65 (amber 13.3): at risk."""
    kpi = make_kpi(direction="lower_is_better", aggregation="sum", unit="count",
                   target={"quarterly": 12}, amber={"quarterly": 24}, cadences=["quarterly"])
    rows = [obs(D(2026, 10, 16), 5), obs(D(2026, 11, 13), 6)]
    whole = evaluate_kpi(kpi, QUARTER, rows, history_length=4)
    assert whole.status == "green"
    so_far = evaluate_kpi(kpi, QUARTER, rows, history_length=4, as_of=D(2026, 11, 20))
    assert so_far.current.pro_rated
    assert so_far.current.target == pytest.approx(12 * 51 / 92)
    assert so_far.current.amber == pytest.approx(24 * 51 / 92)
    assert so_far.status == "amber"
    assert so_far.previous.share == 1.0  # only the period in progress is pro-rated


def test_a_summed_kpi_is_pro_rated_to_the_rows_that_have_come_not_those_due(
    make_kpi: MakeKpi,
) -> None:
    """Weekly rows to Friday 20 Nov in a quarter whose data (a month-end row of another KPI)
    runs to 30 Nov: eight weeks of incidents are judged against eight weeks of target, never
    nine; the late week is a gap the data-quality appendix reports."""
    kpi = make_kpi(direction="lower_is_better", aggregation="sum", unit="count",
                   target={"quarterly": 13}, amber={"quarterly": 26}, cadences=["quarterly"])
    rows = [obs(D(2026, 10, 2) + dt.timedelta(weeks=week), 1) for week in range(8)]
    so_far = evaluate_kpi(kpi, QUARTER, rows, history_length=4, as_of=D(2026, 11, 30))
    assert so_far.current.share == pytest.approx(8 / 13)
    assert so_far.current.target == pytest.approx(8)


def test_a_level_kpi_in_progress_keeps_its_target(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(target=95, amber=90, aggregation="mean", cadences=["quarterly"])
    result = evaluate_kpi(kpi, QUARTER, [obs(D(2026, 11, 13), 94)], history_length=4,
                          as_of=D(2026, 11, 20))
    assert (result.current.target, result.current.share, result.status) == (95, 1.0, "amber")


def test_trend_against_a_moving_target_judges_the_variance(make_kpi: MakeKpi) -> None:
    """Capital works delivered rises every month but falls further behind its plan."""
    kpi = make_kpi(target=52, amber=46, aggregation="last", cadences=["monthly"])
    months = period_containing("monthly", D(2026, 10, 31)).history(4)
    plan = [33, 39, 45, 52]
    done = [30, 35, 40, 45.9]
    rising_plan = [period_value(kpi, m, [obs(m.end, v, target=t)])
                   for m, v, t in zip(months, done, plan, strict=True)]
    assert trend_of(kpi, rising_plan) == "worsening"
    fixed_plan = [period_value(kpi, m, [obs(m.end, v)]) for m, v in zip(months, done, strict=True)]
    assert trend_of(kpi, fixed_plan) == "improving"


def test_a_kpi_on_target_at_the_best_value_of_its_window_is_not_worsening(
    make_kpi: MakeKpi,
) -> None:
    """0 incidents now, after a run of 1-3: the fitted line still rises, but "On track,
    worsening" at zero would contradict itself."""
    kpi = make_kpi(direction="lower_is_better", target=1, amber=2, unit="count")
    assert trend_of(kpi, history_of(kpi, [0, 1, 2, 3, 2, 0])) == "flat"
    assert trend_of(kpi, history_of(kpi, [0, 1, 2, 3, 2, 1])) == "worsening"  # not the best


# -- a threshold computed from written ones is the number it reads as ---------------------------
# Binary floating point leaves noise in a threshold the pack computes (0.4 - (0.3 - 0.2) is
# 0.30000000000000004): a value printed equal to its threshold was judged on the wrong side.


def test_a_value_at_the_amber_line_a_row_target_moves_is_amber(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(target=0.3, amber=0.2, unit="mg/L")
    current = period_value(kpi, WEEK, [obs(END, 0.3, target=0.4)])
    assert (current.target, current.amber, current.status) == (0.4, 0.3, "amber")


def test_a_value_at_its_pro_rated_target_is_on_target(make_kpi: MakeKpi) -> None:
    """Sixty-three incidents 21 days into a 30-day month whose target is 90: the target so far
    is 63 (90 x 21/30 is 62.99999999999999 in binary)."""
    kpi = make_kpi(direction="lower_is_better", aggregation="sum", unit="count",
                   target={"monthly": 90}, amber={"monthly": 120}, cadences=["monthly"])
    month = period_containing("monthly", D(2026, 11, 1))
    result = evaluate_kpi(kpi, month, [obs(D(2026, 11, 21), 63)], history_length=2,
                          as_of=D(2026, 11, 21))
    assert result.current.target == 63 and result.status == "green"


def test_a_value_at_a_relative_amber_line_is_amber(make_kpi: MakeKpi) -> None:
    kpi = make_kpi(target=99.9, amber="1%")
    assert kpi.amber_for("weekly") == 98.901
    assert period_value(kpi, WEEK, [obs(END, 98.901)]).status == "amber"
