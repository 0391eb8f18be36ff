"""Review periods: windows, labels, neighbours across year boundaries, offsets and history."""

from __future__ import annotations

import datetime as dt

import pytest

from reviewkit.errors import UsageError
from reviewkit.periods import Period, period_containing, weekly_period

D = dt.date


@pytest.mark.parametrize(
    ("cadence", "day", "start", "end", "label"),
    [
        ("weekly", D(2026, 11, 20), D(2026, 11, 14), D(2026, 11, 20), "2026-11-20"),
        ("weekly", D(2026, 1, 2), D(2025, 12, 27), D(2026, 1, 2), "2026-01-02"),
        ("monthly", D(2026, 11, 20), D(2026, 11, 1), D(2026, 11, 30), "2026-11"),
        ("monthly", D(2028, 2, 10), D(2028, 2, 1), D(2028, 2, 29), "2028-02"),  # leap year
        ("monthly", D(2026, 2, 28), D(2026, 2, 1), D(2026, 2, 28), "2026-02"),
        ("quarterly", D(2026, 11, 20), D(2026, 10, 1), D(2026, 12, 31), "2026-Q4"),
        ("quarterly", D(2026, 1, 1), D(2026, 1, 1), D(2026, 3, 31), "2026-Q1"),
        ("quarterly", D(2026, 6, 30), D(2026, 4, 1), D(2026, 6, 30), "2026-Q2"),
        ("quarterly", D(2026, 7, 1), D(2026, 7, 1), D(2026, 9, 30), "2026-Q3"),
    ],
)
def test_period_containing_gives_the_window_and_label(
    cadence: str, day: dt.date, start: dt.date, end: dt.date, label: str
) -> None:
    period = period_containing(cadence, day)
    assert (period.cadence, period.start, period.end, period.label) == (cadence, start, end, label)


def test_a_week_is_the_seven_days_ending_on_period_end_whatever_the_weekday() -> None:
    wednesday = weekly_period(D(2026, 11, 18))
    assert (wednesday.end - wednesday.start).days == 6
    assert wednesday.label == "2026-11-18"


def test_long_labels_read_as_words() -> None:
    assert period_containing("weekly", D(2026, 11, 20)).long_label == "week ending 20 Nov 2026"
    assert period_containing("monthly", D(2026, 11, 20)).long_label == "November 2026"
    assert period_containing("quarterly", D(2026, 11, 20)).long_label == "Q4 2026"


def test_unknown_cadence_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(UsageError, match="unknown cadence 'daily'; use one of weekly, monthly"):
        period_containing("daily", D(2026, 11, 20))


@pytest.mark.parametrize(
    ("day", "inside"),
    [(D(2026, 11, 13), False), (D(2026, 11, 14), True), (D(2026, 11, 20), True),
     (D(2026, 11, 21), False)],
)
def test_contains_is_inclusive_at_both_ends(day: dt.date, inside: bool) -> None:
    assert weekly_period(D(2026, 11, 20)).contains(day) is inside


def test_previous_week_across_the_year_boundary() -> None:
    week = weekly_period(D(2026, 1, 2))
    assert week.previous() == weekly_period(D(2025, 12, 26))
    assert week.shift(1) == weekly_period(D(2026, 1, 9))
    assert week.shift(0) == week


def test_previous_month_across_the_year_boundary_and_short_months() -> None:
    january = period_containing("monthly", D(2026, 1, 15))
    assert january.previous().label == "2025-12"
    assert january.previous().end == D(2025, 12, 31)
    assert january.shift(1) == Period("monthly", D(2026, 2, 1), D(2026, 2, 28))
    assert january.shift(-13).label == "2024-12"
    assert period_containing("monthly", D(2026, 3, 31)).previous().end == D(2026, 2, 28)


def test_previous_quarter_across_the_year_boundary() -> None:
    q1 = period_containing("quarterly", D(2026, 2, 1))
    assert q1.previous() == Period("quarterly", D(2025, 10, 1), D(2025, 12, 31))
    assert q1.previous().label == "2025-Q4"
    assert q1.shift(4).label == "2027-Q1"
    assert q1.shift(-5).label == "2024-Q4"


@pytest.mark.parametrize(
    ("day", "offset"),
    [
        (D(2026, 11, 20), 0),
        (D(2026, 11, 14), 0),
        (D(2026, 11, 13), 1),
        (D(2026, 11, 7), 1),
        (D(2026, 11, 6), 2),
        (D(2026, 11, 21), -1),
        (D(2026, 11, 27), -1),
        (D(2026, 11, 28), -2),
    ],
)
def test_weekly_offset_of_counts_whole_weeks_back(day: dt.date, offset: int) -> None:
    assert weekly_period(D(2026, 11, 20)).offset_of(day) == offset


@pytest.mark.parametrize(
    ("cadence", "day", "offset"),
    [
        ("monthly", D(2026, 1, 1), 0),
        ("monthly", D(2026, 1, 31), 0),
        ("monthly", D(2025, 12, 31), 1),
        ("monthly", D(2025, 1, 31), 12),
        ("monthly", D(2026, 2, 1), -1),
        ("quarterly", D(2026, 3, 31), 0),
        ("quarterly", D(2025, 12, 31), 1),
        ("quarterly", D(2025, 3, 1), 4),
        ("quarterly", D(2026, 4, 1), -1),
    ],
)
def test_monthly_and_quarterly_offset_of_across_years(
    cadence: str, day: dt.date, offset: int
) -> None:
    assert period_containing(cadence, D(2026, 1, 15)).offset_of(day) == offset


def test_offset_of_agrees_with_shift() -> None:
    for cadence in ("weekly", "monthly", "quarterly"):
        period = period_containing(cadence, D(2026, 2, 27))
        for steps in range(-3, 30):
            earlier = period.shift(-steps)
            assert period.offset_of(earlier.start) == steps
            assert period.offset_of(earlier.end) == steps


def test_history_lists_periods_oldest_first_ending_with_this_one() -> None:
    period = period_containing("monthly", D(2026, 2, 10))
    history = period.history(4)
    assert [p.label for p in history] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert history[-1] == period
    assert period.history(1) == [period]
    assert [p.label for p in weekly_period(D(2026, 1, 2)).history(3)] == [
        "2025-12-19", "2025-12-26", "2026-01-02"
    ]


def test_periods_sort_by_date_within_a_cadence() -> None:
    weeks = [weekly_period(D(2026, 11, 20)), weekly_period(D(2026, 11, 6))]
    assert sorted(weeks)[0].end == D(2026, 11, 6)
