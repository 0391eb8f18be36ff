"""How numbers are written: enough digits to tell a value from its target, one precision for a
KPI's figures side by side, units that never break from their number, money in the params
file's currency, and plurals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from bidi import left_open

from reviewkit.formatting import (
    NBSP,
    Currency,
    format_change,
    format_date,
    format_value,
    format_variance,
    isolated,
    label_words,
    percent,
    plural,
    review_words,
    shared_decimals,
    shown,
    signed,
)
from reviewkit.inputs.catalog import Kpi


@pytest.mark.parametrize(
    ("unit", "decimals", "value", "target", "expected_value", "expected_target"),
    [
        ("%", None, 93.96, 94, "93.96%", "94.00%"),  # amber, not "94.0%" twice
        ("mg/L", 2, 0.195, 0.2, f"0.195{NBSP}mg/L", f"0.200{NBSP}mg/L"),  # catalog 2 is a floor
        ("€k", None, 309.96, 310, "€309.96k", "€310.00k"),
        ("%", None, 100, 99.5, "100.0%", "99.5%"),  # one precision, not "100%" vs "99.50%"
        ("%", None, 99.72, 99.9, "99.72%", "99.90%"),
        ("count", None, 6, 4, "6", "4"),
        ("h", None, 7.2, 4, f"7.2{NBSP}h", f"4.0{NBSP}h"),
    ],
)
def test_value_and_target_print_at_one_precision_that_keeps_them_apart(
    make_kpi: Callable[..., Kpi], unit: str, decimals: int | None, value: float, target: float,
    expected_value: str, expected_target: str,
) -> None:
    kpi = make_kpi(unit=unit, decimals=decimals, target=target, amber=None)
    figures = shown(kpi, value, target, None)
    assert (figures.value, figures.target) == (expected_value, expected_target)


def test_a_value_just_past_its_amber_threshold_is_told_apart_from_it(
    make_kpi: Callable[..., Kpi],
) -> None:
    kpi = make_kpi(unit="%", target=94, amber=90)
    assert shared_decimals(kpi, [89.96], [94, 90]) == 2


def test_a_value_just_below_zero_is_told_apart_from_a_threshold_of_zero(
    make_kpi: Callable[..., Kpi],
) -> None:
    """-0.04 °C against a target of 0 printed "0.0 °C" twice and was judged at risk: a zero
    prints without its minus sign, so "-0.0" and "0.0" are the same figure on the page."""
    kpi = make_kpi(unit="°C", target=0, amber=-1)
    figures = shown(kpi, -0.04, 0, -1)
    assert figures.value != figures.target
    assert shared_decimals(kpi, [-0.04], [0, -1]) == 2
    count = make_kpi(unit="count", target=0, amber=-1, decimals=None)
    assert shown(count, -0.4, 0, -1).value != shown(count, -0.4, 0, -1).target


@pytest.mark.parametrize(("value", "target", "decimals", "expected"), [
    (99.95, 99.9, 1, ("100.0%", "99.9%", "+0.1\u00a0pts")),  # 0.05 is 0.04999… in binary
    (2.5, 3, 0, ("2.5%", "3.0%", "\u22120.5\u00a0pts")),
    (2.6, 3, 0, ("2.6%", "3.0%", "\u22120.4\u00a0pts")),  # "3%" against "3.0%", "on target"
    (2.0, 3, 0, ("2%", "3%", "\u22121\u00a0pts")),
])
def test_a_variance_is_the_difference_of_the_value_and_target_printed_beside_it(
    make_kpi: Callable[..., Kpi], value: float, target: float, decimals: int,
    expected: tuple[str, str, str],
) -> None:
    """"100.0%" against "99.9%" read "no change": the variance was rounded on its own."""
    kpi = make_kpi(unit="%", target=target, amber=None, decimals=decimals)
    figures = shown(kpi, value, target, None)
    assert (figures.value, figures.target, figures.variance) == expected


def test_an_amber_given_as_a_share_of_the_target_adds_no_digits_of_its_own(
    make_kpi: Callable[..., Kpi],
) -> None:
    # 5% under £19.5k is £18.525k: written out it made every figure of the KPI "£18.75k".
    kpi = make_kpi(unit="£k", target=19.5, amber="5%")
    figures = shown(kpi, 18.75, 19.5, kpi.amber_for("weekly"))
    assert (figures.value, figures.target, figures.amber) == ("£18.8k", "£19.5k", "£18.5k")
    # It is still a threshold: a value beside it prints apart from it.
    assert shown(kpi, 18.51, 19.5, kpi.amber_for("weekly")).value == "£18.51k"
    # An amber the catalog writes out is written as the catalog does.
    written = make_kpi(unit="£k", target=19.5, amber=18.525)
    assert shown(written, 18.75, 19.5, 18.525).amber == "£18.53k"


def test_variance_uses_the_shared_precision_and_says_on_target_when_equal(
    make_kpi: Callable[..., Kpi],
) -> None:
    kpi = make_kpi(unit="%", target=94, amber=90)
    assert shown(kpi, 93.96, 94, 90).variance == f"\u22120.04{NBSP}pts"
    assert shown(kpi, 94, 94, 90).variance == "on target"
    assert format_variance(0.0, kpi) == "on target"
    assert format_change(0.0, kpi) == "no change"


def test_equal_value_and_target_need_no_extra_digits(make_kpi: Callable[..., Kpi]) -> None:
    kpi = make_kpi(unit="%", target=94, amber=90)
    assert shown(kpi, 94.0, 94, 90).value == "94.0%"
    assert shown(kpi, 94.0, 94, 90).decimals == 1


def test_unit_is_joined_to_its_number_by_a_no_break_space(make_kpi: Callable[..., Kpi]) -> None:
    assert format_value(7.2, make_kpi(unit="h")) == f"7.2{NBSP}h"
    assert format_change(-1.5, make_kpi(unit="ML/d")) == f"\u22121.5{NBSP}ML/d"


def test_prefix_currency_units_keep_the_sign_before_the_symbol(
    make_kpi: Callable[..., Kpi],
) -> None:
    kpi = make_kpi(unit="€k")
    assert format_value(-41.5, kpi) == "\u2212€41.5k"
    assert format_change(-41.5, kpi) == "\u2212€41.5k"


@pytest.mark.parametrize(
    ("currency", "amount", "signed", "expected"),
    [
        (Currency("£", "k"), 4850, False, "£4,850k"),
        (Currency("€", "k"), 4850, False, "€4,850k"),
        (Currency("€", "m"), 12.6, False, "€12.6m"),
        (Currency("€", "k"), -41, True, "\u2212€41k"),
        (Currency("€", "k"), 19, True, "+€19k"),
        (Currency("CHF", "k"), 310, False, f"CHF{NBSP}310k"),
        (Currency("$", ""), 0, False, "$0"),
    ],
)
def test_money_is_written_in_the_configured_currency_and_scale(
    currency: Currency, amount: float, signed: bool, expected: str,
) -> None:
    assert currency.format(amount, signed=signed) == expected


def test_missing_money_is_a_dash() -> None:
    assert Currency().format(None) == "—"


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "0 actions"), (1, "1 action"), (2, "2 actions")]
)
def test_plural_agrees_with_the_count(count: int, expected: str) -> None:
    assert plural(count, "action") == expected


def test_plural_takes_an_irregular_form() -> None:
    assert plural(1, "KPI needs", "KPIs need") == "1 KPI needs"
    assert plural(3, "KPI needs", "KPIs need") == "3 KPIs need"


def test_a_count_stays_whole_beside_a_pro_rated_target(make_kpi: Callable[..., Kpi]) -> None:
    kpi = make_kpi(unit="count", direction="lower_is_better", target=12, amber=24)
    figures = shown(kpi, 5, 12 * 51 / 92, 24 * 51 / 92)
    assert (figures.value, figures.target, figures.amber) == ("5", "6.7", "13.3")
    assert (shown(kpi, 5, 4, 8).value, shown(kpi, 5, 4, 8).target) == ("5", "4")


# -- one precision per KPI row, true minus signs, one date style ------------------------------


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        (93.0, 95, ("93.0%", "95.0%", f"\u22122.0{NBSP}pts")),  # never "93%" beside "93.4%"
        (78.0, 80, ("78.0%", "80.0%", f"\u22122.0{NBSP}pts")),
        (None, 99, ("—", "99.0%", "—")),  # no value: the target still at the KPI's precision
        (94.0, 94, ("94.0%", "94.0%", "on target")),
    ],
)
def test_a_percentage_prints_at_one_decimal_at_least_whatever_its_value(
    make_kpi: Callable[..., Kpi], value: float | None, target: float,
    expected: tuple[str, str, str],
) -> None:
    kpi = make_kpi(unit="%", target=target, amber=None)
    figures = shown(kpi, value, target, None)
    assert (figures.value, figures.target, figures.variance) == expected


def test_year_to_date_shares_the_precision_of_the_period_beside_it(
    make_kpi: Callable[..., Kpi],
) -> None:
    kpi = make_kpi(unit="%", target=99, amber=98)
    period = shown(kpi, 98.3, 99, 98, beside=[(99.05, 99, 98)])
    ytd = shown(kpi, 99.05, 99, 98, beside=[(98.3, 99, 98)])
    assert (period.value, ytd.value) == ("98.30%", "99.05%")
    assert period.decimals == ytd.decimals == 2


@pytest.mark.parametrize("decimals", [None, 0])
def test_a_pro_rated_target_of_a_count_keeps_one_decimal(
    make_kpi: Callable[..., Kpi], decimals: int | None,
) -> None:
    kpi = make_kpi(unit="count", decimals=decimals, direction="lower_is_better",
                   target={"weekly": 1, "monthly": 4, "quarterly": 3}, amber=None,
                   aggregation="sum")
    figures = shown(kpi, 3, 3 * 51 / 92, None)
    assert (figures.value, figures.target) == ("3", "1.7")  # never "3 of 2"


def test_a_summed_whole_number_stays_whole_beside_a_target_it_is_close_to(
    make_kpi: Callable[..., Kpi],
) -> None:
    kpi = make_kpi(unit="incidents", direction="lower_is_better", target=6, amber=None,
                   aggregation="sum")
    figures = shown(kpi, 64, 63.997, None)
    assert figures.value == f"64{NBSP}incidents"  # not "64.00"
    assert figures.target != f"64{NBSP}incidents"


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [("%", -0.1, "\u22120.1%"), ("€k", -41.5, "\u2212€41.5k"), ("h", -2.5, f"\u22122.5{NBSP}h")],
)
def test_a_negative_value_has_a_true_minus_sign(
    make_kpi: Callable[..., Kpi], unit: str, value: float, expected: str,
) -> None:
    assert format_value(value, make_kpi(unit=unit)) == expected


def test_a_change_too_small_to_print_is_no_change(make_kpi: Callable[..., Kpi]) -> None:
    kpi = make_kpi(unit="%")
    assert format_change(0.04, kpi, decimals=1) == "no change"  # never "+0.0 pts"
    assert format_change(-0.04, kpi, decimals=1) == "no change"
    assert format_change(0.05001, kpi, decimals=1) == f"+0.1{NBSP}pts"


@pytest.mark.parametrize("unit", ["score", "index", "count", ""])
def test_a_unit_that_names_the_measure_is_not_repeated_on_every_number(
    make_kpi: Callable[..., Kpi], unit: str,
) -> None:
    kpi = make_kpi(unit=unit, target=40, amber=30)
    figures = shown(kpi, 29, 40, 30, since=40)
    assert (figures.value, figures.target, figures.change) == ("29", "40", "\u221211")


def test_dates_and_period_labels_print_in_one_style() -> None:
    assert format_date(dt.date(2026, 11, 27)) == "27 Nov 2026"
    assert label_words("2026-10-09") == "9 Oct 2026"
    assert label_words("2026-10") == "Oct 2026"
    assert label_words("2026-Q4") == "Q4 2026"
    assert label_words("2026") == "2026"
    assert review_words("weekly 2026-11-06") == "weekly review of 6 Nov 2026"
    assert review_words("2026-Q3") == "review of Q3 2026"


def test_signed_numbers_and_percentages_have_a_true_minus() -> None:
    assert (signed(14), signed(-5), signed(0)) == ("+14", "\u22125", "0")
    assert (percent(8.2), percent(-25)) == ("8%", "\u221225%")


@pytest.mark.parametrize(("now", "before", "expected"), [
    (2.26, 2.34, ("2.3\u00a0h", "no change")),       # both weeks print "2.3 h"
    (2.34, 2.25, ("2.3\u00a0h", "no change")),       # 2.25 prints "2.3 h" too
    (2.3, 2.24, ("2.3\u00a0h", "+0.1\u00a0h")),      # 2.3 against "2.2 h", not 0.06
])
def test_a_change_is_the_difference_of_the_two_periods_as_printed(
    make_kpi: Callable[..., Kpi], now: float, before: float, expected: tuple[str, str],
) -> None:
    """Two weeks printed "2.3 h" read a change of "-0.1 h": the change was rounded on its own."""
    kpi = make_kpi(unit="h", target=2.0, amber=3.0, direction="lower_is_better")
    figures = shown(kpi, now, 2.0, 3.0, since=before)
    assert (figures.value, figures.change) == expected
    assert shown(kpi, before, 2.0, 3.0).value in {"2.3\u00a0h", "2.2\u00a0h"}


def test_a_printed_difference_is_stated_as_a_number_too(make_kpi: Callable[..., Kpi]) -> None:
    """The workbook stores the difference the page prints: 100.0% against 99.9% is 0.1."""
    kpi = make_kpi(unit="%", target=99.9, amber=None, decimals=1)
    figures = shown(kpi, 99.95, 99.9, None, since=99.84)
    assert figures.variance_number == 0.1 and figures.change_number == 0.2


@pytest.mark.parametrize(("unit", "value", "target", "expected"), [
    # 0.0000 against 0.0000 "off track": more than four decimals were never added.
    ("mg/L", 0.000025, 0.00001, ("0.00003\u00a0mg/L", "0.00001\u00a0mg/L")),
    ("h", 0.05, 0.2, ("0.05\u00a0h", "0.20\u00a0h")),   # 0.05 h printed "0.1 h"
    ("%", 0.04, 0.5, ("0.04%", "0.50%")),
    ("mg/L", 0.195, 0.2, ("0.195\u00a0mg/L", "0.200\u00a0mg/L")),  # as before
])
def test_a_small_value_never_prints_as_zero_or_as_its_target(
    make_kpi: Callable[..., Kpi], unit: str, value: float, target: float,
    expected: tuple[str, str],
) -> None:
    kpi = make_kpi(unit=unit, target=target, amber=None, direction="lower_is_better")
    figures = shown(kpi, value, target, None)
    assert (figures.value, figures.target) == expected


@pytest.mark.parametrize(("value", "places", "expected"), [
    (21.95, 1, "22.0"),       # 21.95 is 21.9499… in binary: it printed "21.9"
    (-21.95, 1, "\u221222.0"),
    (0.125, 2, "0.13"),
    (2.675, 2, "2.68"),
    (1234.5, 0, "1,235"),
    (0.0449, 1, "0.0"),
])
def test_a_number_at_a_rounding_tie_rounds_as_written_half_away_from_zero(
    make_kpi: Callable[..., Kpi], value: float, places: int, expected: str,
) -> None:
    """The pack printed 21.95 ML/d as "21.9" where a spreadsheet shows its workbook's 21.95 as
    "22.0", and where a reader rounding the data file's 21.95 gets 22.0 too."""
    kpi = make_kpi(unit="count", target=1, amber=None)
    assert format_value(value, kpi, decimals=places) == expected


def test_signed_figures_and_money_round_half_away_from_zero_too() -> None:
    assert Currency("€", "m").format(12.25) == "€12.3m"
    assert signed(-2.5) == "\u22123" and percent(12.5) == "13%"


@pytest.mark.parametrize("text", [
    "Evil \u202e%1.88 name",                 # a right-to-left override, never closed
    "\u2069\u202eclosed our isolate first",  # a stray PDI that would end the wrapper
    "\u2067\u202bnested, left open",
    "Ahmad \u202bأحمد\u202c Khan",            # balanced: still isolated, nothing dropped
])
def test_user_text_is_isolated_so_no_direction_leaks_into_the_figures_after_it(
    text: str,
) -> None:
    """A KPI name or owner holding U+202E reversed the figures printed after it ("88.1%" read
    "%1.88")."""
    assert left_open(isolated(text) + " 88.1%") == []
    assert isolated(text).replace("\u2069", "").replace("\u2068", "") == text.replace(
        "\u2069", "").replace("\u2068", "")


def test_text_without_direction_controls_is_left_as_it_is() -> None:
    assert isolated("Ahmad أحمد Khan (P1/P2)") == "Ahmad أحمد Khan (P1/P2)"


@pytest.mark.parametrize(("actual", "budget", "expected"), [
    (5279.1, 5320.0, "\u2212€41k"),     # printed 5,279 and 5,320: it read "-€40.9k"
    (1659.2, 1640.0, "+€19k"),
    (95.55, 80.0, "+€15.6k"),           # 95.6 (half away from zero) - 80
    (120.3, 95.5, "+€24.5k"),           # 120 - 95.5
    (100.0, 100.0, "€0k"),
])
def test_a_money_difference_is_of_the_amounts_as_printed(
    actual: float, budget: float, expected: str,
) -> None:
    currency = Currency("€", "k")
    assert currency.format(currency.difference(actual, budget), signed=True) == expected


def test_a_money_difference_without_both_amounts_is_none() -> None:
    assert Currency("€", "k").difference(None, 10.0) is None


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_summary_json_refuses_a_number_json_has_not(number: float) -> None:
    # Python writes a bare Infinity or NaN, which no JSON reader accepts: fail instead.
    from reviewkit.outputs.data import json_bytes

    with pytest.raises(ValueError, match="not JSON compliant"):
        json_bytes({"kpis": [{"value": number}]})

