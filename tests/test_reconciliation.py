"""Roll-up reconciliation on the demo data: a KPI's quarterly value equals the roll-up of its
monthly values, which equals the roll-up of its weekly values, by the same aggregation rule.

Every value here comes from reviewkit.evaluate (the code the packs use); the test only combines
the finer periods' results and compares them with the coarser period's. The demo's rows are its
seven units' (each weighted by its count in a mean), rolled up into the group's figures.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from reviewkit.evaluation.evaluate import PeriodValue, evaluate, evaluate_kpi
from reviewkit.evaluation.rollup import year_to_date
from reviewkit.inputs.catalog import Catalog, Kpi, load_catalog
from reviewkit.inputs.measurements import Measurements, Observation, load_measurements
from reviewkit.periods import Period, period_containing, weekly_period

DEMO = REPO / "data" / "demo"
#: Every quarter of 2025 and the first three of 2026 (the demo's fully reported quarters).
QUARTERS = [(2025, 1), (2025, 2), (2025, 3), (2025, 4), (2026, 1), (2026, 2), (2026, 3)]
FRIDAY = 4  # dt.date.weekday(): the demo's weekly rows are dated on Fridays
UNITS = 7  # rows per KPI and date: one per unit


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO / "kpis.yaml")


@pytest.fixture(scope="module")
def measurements() -> Measurements:
    return load_measurements(DEMO / "measurements.csv")


def quarter(year: int, number: int) -> Period:
    return period_containing("quarterly", dt.date(year, number * 3, 1))


def months_of(q: Period) -> list[Period]:
    return [period_containing("monthly", dt.date(q.start.year, q.start.month + i, 1))
            for i in range(3)]


def fridays_in(period: Period) -> list[dt.date]:
    """The Friday grid of the data: every Friday dated inside ``period``."""
    day = period.start + dt.timedelta(days=(FRIDAY - period.start.weekday()) % 7)
    days = []
    while day <= period.end:
        days.append(day)
        day += dt.timedelta(days=7)
    return days


def value_of(kpi: Kpi, period: Period, measurements: Measurements) -> PeriodValue:
    """The KPI's value for one period, as a pack of that cadence evaluates it."""
    result = evaluate_kpi(kpi, period, measurements.series.get(kpi.id, []), history_length=2)
    assert result.current.period == period
    return result.current


def combine(values: Sequence[PeriodValue], rule: str) -> float | None:
    """Roll finer periods' values up by a KPI's rule (mean weighted by measurement counts)."""
    present = [pv for pv in values if pv.value is not None]
    if not present:
        return None
    numbers = [pv.value for pv in present if pv.value is not None]
    if rule == "sum":
        return math.fsum(numbers)
    if rule == "min":
        return min(numbers)
    if rule == "max":
        return max(numbers)
    if rule == "last":
        return numbers[-1]  # periods are in date order
    assert rule == "mean"
    weight = math.fsum(pv.weight for pv in present)
    return math.fsum(pv.value * pv.weight for pv in present if pv.value is not None) / weight


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_demo_catalog_uses_every_aggregation_rule(catalog: Catalog) -> None:
    """The reconciliation below covers each rule on real KPIs."""
    rules = {kpi.aggregation for kpi in catalog.kpis}
    assert {"mean", "sum", "last", "max"} <= rules
    assert {kpi.id for kpi in catalog.kpis if "weekly" not in kpi.cadences} == {
        "phishing_click_rate", "opex_variance", "clinician_satisfaction"
    }


@pytest.mark.parametrize(("year", "number"), QUARTERS, ids=[f"{y}-Q{n}" for y, n in QUARTERS])
def test_quarter_value_equals_rollup_of_its_months(
    catalog: Catalog, measurements: Measurements, year: int, number: int
) -> None:
    q = quarter(year, number)
    evaluation = evaluate(catalog.kpis, measurements.series, q)
    quarterly = {r.kpi.id: r.current for r in evaluation.results}
    assert set(quarterly) == {kpi.id for kpi in catalog.kpis}
    mismatches = []
    for kpi in catalog.kpis:
        months = [value_of(kpi, month, measurements) for month in months_of(q)]
        whole = quarterly[kpi.id]
        assert whole.value is not None, f"{kpi.id} has no data in {q.label}"
        assert whole.count == sum(pv.count for pv in months)
        rolled = combine(months, kpi.aggregation)
        if not close(whole.value, rolled):
            mismatches.append((kpi.id, kpi.aggregation, whole.value, rolled))
    assert mismatches == []


@pytest.mark.parametrize(("year", "number"), QUARTERS, ids=[f"{y}-Q{n}" for y, n in QUARTERS])
def test_month_and_quarter_values_equal_rollup_of_their_weeks(
    catalog: Catalog, measurements: Measurements, year: int, number: int
) -> None:
    q = quarter(year, number)
    weekly_kpis = [kpi for kpi in catalog.kpis if "weekly" in kpi.cadences]
    assert len(weekly_kpis) == 13
    mismatches = []
    for kpi in weekly_kpis:
        for period in [q, *months_of(q)]:
            weeks = [value_of(kpi, weekly_period(day), measurements) for day in fridays_in(period)]
            assert 4 <= len(weeks) <= 14
            # One measurement a week per unit (the ledger's KPI is the group's own row).
            assert all(pv.count <= UNITS for pv in weeks)
            whole = value_of(kpi, period, measurements)
            assert whole.count == sum(pv.count for pv in weeks)
            rolled = combine(weeks, kpi.aggregation)
            if kpi.aggregation == "mean":
                # Every unit reports every week with the same count, so the weeks weigh alike
                # and the weighted mean is the plain mean of the weekly group figures.
                plain = [pv.value for pv in weeks if pv.value is not None]
                assert close(rolled, math.fsum(plain) / len(plain))
            if not close(whole.value, rolled):
                mismatches.append((kpi.id, period.label, whole.value, rolled))
    assert mismatches == []


def test_mean_kpi_with_a_missing_week_rolls_up_by_measurement_count(
    catalog: Catalog, measurements: Measurements
) -> None:
    """change_lead_time has an empty value on 2025-03-14: March counts three measurements, not
    four, and the quarter's mean weights each month by its count, so a plain mean of the monthly
    means would be wrong."""
    kpi = catalog.by_id()["change_lead_time"]
    q = quarter(2025, 1)
    months = [value_of(kpi, month, measurements) for month in months_of(q)]
    # Fridays: 5, 4 and 4, less the empty one; one row per unit each.
    assert [pv.count for pv in months] == [5 * UNITS, 4 * UNITS, 3 * UNITS]
    whole = value_of(kpi, q, measurements)
    assert whole.count == 12 * UNITS
    assert close(whole.value, combine(months, "mean"))
    unweighted = math.fsum(pv.value for pv in months if pv.value is not None) / 3
    assert not close(whole.value, unweighted)


def test_sum_kpis_take_each_cadence_target_from_the_catalog_mapping(
    catalog: Catalog, measurements: Measurements
) -> None:
    raw = yaml.safe_load(Path(DEMO / "kpis.yaml").read_text(encoding="utf-8"))["kpis"]
    mappings = {item["id"]: item for item in raw if item.get("aggregation") == "sum"}
    assert set(mappings) == {"p1_incidents", "security_incidents"}
    for kpi_id, item in mappings.items():
        kpi = catalog.by_id()[kpi_id]
        assert isinstance(item["target"], dict) and isinstance(item["amber"], dict)
        q = quarter(2026, 3)
        for cadence, period in (("quarterly", q), ("monthly", months_of(q)[1]),
                                ("weekly", weekly_period(fridays_in(q)[5]))):
            pv = value_of(kpi, period, measurements)
            assert pv.target == item["target"][cadence], (kpi_id, cadence)
            assert pv.amber == item["amber"][cadence], (kpi_id, cadence)
    p1 = catalog.by_id()["p1_incidents"]
    assert [p1.target_for(c) for c in ("weekly", "monthly", "quarterly")] == [1, 4, 12]
    assert [p1.amber_for(c) for c in ("weekly", "monthly", "quarterly")] == [2, 8, 24]


def test_year_to_date_follows_a_financial_year_and_pro_rates_a_period_in_progress(
    make_kpi: Callable[..., Kpi],
) -> None:
    """A July-June year: by 20 Nov a summed KPI's year-to-date target is Q3 whole plus 51/92
    of Q4, and only measurements from 1 July count."""
    kpi = make_kpi(aggregation="sum", direction="lower_is_better", target={"quarterly": 12},
                   amber={"quarterly": 24}, cadences=["quarterly"])
    quarter = period_containing("quarterly", dt.date(2026, 11, 20))
    rows = [Observation(dt.date(2026, 6, 30), 9, None, ""),
            Observation(dt.date(2026, 8, 14), 4, None, ""),
            Observation(dt.date(2026, 11, 13), 3, None, "")]
    ytd = year_to_date(kpi, quarter, rows, as_of=dt.date(2026, 11, 20), first_month=7)
    assert ytd.start == dt.date(2026, 7, 1)
    assert ytd.value == 7
    assert ytd.periods == pytest.approx(1 + 51 / 92)
    assert ytd.target == pytest.approx(12 * (1 + 51 / 92))
    calendar = year_to_date(kpi, quarter, rows)
    assert (calendar.start, calendar.value, calendar.periods) == (dt.date(2026, 1, 1), 16, 4)


def test_a_year_to_date_at_its_scaled_target_is_on_target(make_kpi: Callable[..., Kpi]) -> None:
    """A summed KPI's target times the months gone (0.1 x 3 is 0.30000000000000004 in binary)
    is the number it reads as: a year to date printed equal to it is on target."""
    kpi = make_kpi(direction="higher_is_better", aggregation="sum", unit="t",
                   target={"monthly": 0.1}, amber={"monthly": 0.05}, cadences=["monthly"])
    march = period_containing("monthly", dt.date(2026, 3, 31))
    ytd = year_to_date(kpi, march, [Observation(dt.date(2026, 3, 15), 0.3, None, "")])
    assert (ytd.target, ytd.status) == (0.3, "green")


def test_a_level_kpis_year_to_date_is_judged_against_the_target_its_rows_set(
        make_kpi: Callable[..., Kpi]) -> None:
    """Kestrel's capital works: the scorecard row read "€45.9m ≥ €45.0m On track" (the rows'
    target) and its year to date, the same €45.9m, "Off track" against the catalog's €52m."""
    kpi = make_kpi(direction="higher_is_better", aggregation="last", unit="€m",
                   target={"monthly": 52}, amber={"monthly": 46}, cadences=["monthly"])
    october = period_containing("monthly", dt.date(2026, 10, 31))
    rows = [Observation(dt.date(2026, 9, 30), 40.1, 41.0, ""),
            Observation(dt.date(2026, 10, 31), 45.9, 45.0, "")]
    period = evaluate_kpi(kpi, october, rows, history_length=2).current
    ytd = year_to_date(kpi, october, rows, first_month=7)
    assert (period.target, period.status) == (45.0, "green")
    assert (ytd.value, ytd.target, ytd.amber, ytd.status) == (45.9, 45.0, 39.0, "green")
