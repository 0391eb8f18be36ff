"""How numbers are written: enough digits to tell a value from its target, one precision for a
KPI's figures side by side, units that never break from their number, money in the params
file's currency, and plurals."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reviewkit.formatting import (
    NBSP,
    Currency,
    format_change,
    format_value,
    format_variance,
    plural,
    shared_decimals,
    shown,
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
    assert shown(kpi, 94.0, 94, 90).value == "94%"


def test_unit_is_joined_to_its_number_by_a_no_break_space(make_kpi: Callable[..., Kpi]) -> None:
    assert format_value(7.2, make_kpi(unit="h")) == f"7.2{NBSP}h"
    assert format_change(-1.5, make_kpi(unit="ML/d")) == f"\u22121.5{NBSP}ML/d"


def test_prefix_currency_units_keep_the_sign_before_the_symbol(
    make_kpi: Callable[..., Kpi],
) -> None:
    kpi = make_kpi(unit="€k")
    assert format_value(-41.5, kpi) == "-€41.5k"
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
