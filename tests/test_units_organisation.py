"""An organisation as organisations run units: Harbourside Pharmacy Group's three stores and the
group, the weekly and monthly packs built in one local batch, with every value, target and
status in every pack checked against figures computed here from the raw records with pandas
and sqlite3 alone (tests/fixtures/orgs/harbour).

What it covers: each store judged against its own target (unit_targets, amber: 5%), a summed
KPI without a store target shown as the store's share of the group and never judged against
the group's target, the group judged against the group's target, counts of events that read 0
in weeks without rows (from an SQLite database by a path relative to the params file, and from
the measurements table), a chain-wide 90th percentile from the query's own group row
(rollup: own), a store's KPI broken down by department, the group's actions in a store's pack,
a unit folder from an accented store name, the consistency check, the rows read from the
database in the provenance, and the outlook of a query KPI counting the months it has.

Economy: each pack is built once (8 packs, in one batch shared by every test). A batch on Dask
builds the same packs as a local one (tests/test_batch.py compares them), so the packs here
are built locally.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import forked
import pandas as pd
import pytest
import yaml
from conftest_build import REPO, child_env, harbour_with_minutes

from reviewkit import cadences
from reviewkit.inputs.params import load_params
from reviewkit.run.prepare import evaluate, load_for
from reviewkit.store.database import Store

pytestmark = pytest.mark.slow

HARBOUR = REPO / "tests" / "fixtures" / "orgs" / "harbour"
WEEK_END = dt.date(2026, 10, 30)
MONTH = "2026-09"
UNITS = {"Northgate": "northgate", "Quayside": "quayside", "São Brás": "sao-bras"}
PACKS = {"weekly": "2026-10-30", "monthly": "2026-09"}
BATCH_TIMEOUT = 600


# -- the figures, from the raw records -----------------------------------------------------------

def _period(days: pd.Series, cadence: str) -> pd.Series:
    """Each date's period end: weeks end on Fridays (the weekly pack ends on one), months on
    their last day."""
    days = pd.to_datetime(days).dt.normalize()
    if cadence == "weekly":
        return days + pd.to_timedelta((4 - days.dt.day_of_week) % 7, unit="D")
    return days + pd.offsets.MonthEnd(0)


def _current(cadence: str) -> pd.Timestamp:
    return pd.Timestamp(WEEK_END) if cadence == "weekly" else pd.Timestamp("2026-09-30")


def _start(cadence: str) -> pd.Timestamp:
    return _current(cadence) - (pd.Timedelta(days=6) if cadence == "weekly"
                                else pd.Timedelta(days=29))


def _by_store(frame: pd.DataFrame, cadence: str, day: str, value: Any) -> dict[str, float]:
    """A figure per store (and '' for the group) for the pack's period: ``value`` applied to
    each store's records and to all of them."""
    frame = frame.assign(period=_period(frame[day], cadence))
    now = frame[frame["period"] == _current(cadence)]
    figures = {store: float(value(rows)) for store, rows in now.groupby("store")}
    figures[""] = float(value(now)) if len(now) else float("nan")
    return figures


def expected_values(cadence: str) -> dict[str, dict[str, float]]:
    """KPI → store ('' the group) → the pack's figure, computed from the records."""
    data = HARBOUR / "data"
    sales = pd.read_parquet(data / "sales.parquet")
    revenue = _by_store(sales, cadence, "sold_at",
                        lambda rows: round(rows["amount_gbp"].sum() / 1000, 3))
    # the query rounds each store's figure; the group's is their sum
    revenue[""] = sum(value for store, value in revenue.items() if store)

    with sqlite3.connect(data / "complaints.sqlite") as con:
        complaints_rows = pd.read_sql("SELECT received_at, store FROM complaints", con)
    complaints = _by_store(complaints_rows, cadence, "received_at", len)

    rx = pd.read_csv(data / "prescriptions.csv", parse_dates=["issued_at"])
    waits = _by_store(rx, cadence, "issued_at",
                      lambda rows: round(rows["wait_minutes"].quantile(0.9), 1))

    table = pd.read_csv(data / "measurements.csv", parse_dates=["period_end"])
    table["store"] = table["segment"]
    shelf = _by_store(table[table.kpi_id == "on_shelf"], cadence, "period_end",
                      lambda rows: (rows["value"] * rows["count"]).sum() / rows["count"].sum())
    misses = _by_store(table[table.kpi_id == "near_misses"], cadence, "period_end",
                       lambda rows: rows["value"].sum())
    stores = ["", *UNITS]
    # counts of events: a store (or the group) without a row in the period had none
    for counts in (complaints, misses):
        for store in stores:
            if store not in counts or counts[store] != counts[store]:  # missing or NaN
                counts[store] = 0.0
    return {"revenue": revenue, "complaints": complaints, "wait_p90": waits,
            "on_shelf": shelf, "near_misses": misses}


def expected_departments(store: str, cadence: str) -> dict[str, float]:
    table = pd.read_csv(HARBOUR / "data" / "measurements.csv", parse_dates=["period_end"])
    rows = table[(table.kpi_id == "on_shelf") & (table.segment == store)]
    rows = rows[_period(rows["period_end"], cadence) == _current(cadence)]
    return {name: float((part["value"] * part["count"]).sum() / part["count"].sum())
            for name, part in rows.groupby("department")}


def catalog() -> dict[str, dict[str, Any]]:
    with (HARBOUR / "kpis.yaml").open(encoding="utf-8") as handle:
        return {kpi["id"]: kpi for kpi in yaml.safe_load(handle)["kpis"]}


def _threshold(spec: Any, cadence: str) -> Any:
    return spec.get(cadence) if isinstance(spec, dict) else spec


def thresholds(kpi: dict[str, Any], cadence: str, store: str) -> tuple[float, float] | None:
    """The target and amber a pack must judge ``store`` ('' the group) by, as the catalog
    says; None when a store has no target of its own for a KPI summed over the stores."""
    own = kpi.get("unit_targets", {})
    entry = own.get(UNITS.get(store, "")) or own.get(store)
    summed = kpi.get("aggregation") == "sum"
    if store and entry is None and summed:
        return None
    if store and entry is not None:
        spec = entry if "target" in entry else {"target": entry}
        target = float(_threshold(spec["target"], cadence))
        amber_spec = spec.get("amber", kpi.get("amber"))
        if "amber" not in spec and not (isinstance(amber_spec, str) and amber_spec.endswith("%")):
            group = float(_threshold(kpi["target"], cadence))
            amber = target * float(_threshold(kpi["amber"], cadence)) / group
            return target, amber
    else:
        target = float(_threshold(kpi["target"], cadence))
        amber_spec = kpi.get("amber")
    amber = _threshold(amber_spec, cadence)
    if isinstance(amber, str):
        share = float(amber.rstrip("%")) / 100
        band = abs(target) * share
        return target, (target - band if kpi["direction"] == "higher_is_better"
                        else target + band)
    return target, float(amber)


def status(value: float, target: float, amber: float, direction: str) -> str:
    better = (lambda a, b: a >= b) if direction == "higher_is_better" else (lambda a, b: a <= b)
    if better(value, target):
        return "green"
    return "amber" if better(value, amber) else "red"


# -- the batch -----------------------------------------------------------------------------------

def _batch(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return forked.run(["batch", *args], cwd=cwd, env=child_env(), timeout=BATCH_TIMEOUT)


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory,
            ) -> tuple[Path, dict[str, Any]]:
    """The organisation's packs, weekly and monthly, from one local batch: its report."""
    # Its last review's minutes imported: an action of the group's on complaints, and one
    # of Quayside's own.
    org = harbour_with_minutes(tmp_path_factory.mktemp("units-org") / "harbour")
    proc = _batch(org, "--params", "weekly.yaml", "--params", "monthly.yaml", "--out", "out",
                  "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((org / "out" / "batch.json").read_text(encoding="utf-8"))
    return org / "out", report


def summary(out: Path, cadence: str, unit: str) -> dict[str, Any]:
    path = out / cadence / PACKS[cadence] / unit / "summary.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_every_pack_is_built_in_its_units_folder_and_the_group_agrees_with_its_units(
        harbour: tuple[Path, Any]) -> None:
    out, report = harbour
    assert [pack["status"] for pack in report["packs"]] == ["built"] * 8
    assert report["consistency"] == []
    for cadence, label in PACKS.items():
        assert sorted(path.name for path in (out / cadence / label).iterdir()
                      if path.is_dir()) == ["group", "northgate", "quayside", "sao-bras"]


@pytest.mark.parametrize("cadence", list(PACKS))
def test_every_value_target_and_status_is_the_one_the_records_and_the_catalog_give(
        harbour: tuple[Path, Any], cadence: str) -> None:
    out, _ = harbour
    figures = expected_values(cadence)
    kpis = catalog()
    checked = 0
    for store in ["", *UNITS]:
        pack = summary(out, cadence, UNITS.get(store, "group"))
        judged = {entry["id"]: entry for entry in pack["kpis"]}
        shares = {entry["id"]: entry for entry in pack.get("shares", [])}
        for kpi_id, kpi in kpis.items():
            if cadence not in kpi["cadences"]:
                continue
            value = figures[kpi_id][store]
            limits = thresholds(kpi, cadence, store)
            if limits is None:
                # no target of its own for a summed KPI: its share of the group, not judged
                assert kpi_id not in judged, (store, kpi_id)
                share = shares[kpi_id]
                group = figures[kpi_id][""]
                assert share["value"] == pytest.approx(value, abs=1e-6), (store, kpi_id)
                assert share["group_value"] == pytest.approx(group, abs=1e-6)
                assert share["share"] == (pytest.approx(value / group) if group else None)
                group_limits = thresholds(kpi, cadence, "")
                assert group_limits is not None
                assert share["group_status"] == status(group, *group_limits, kpi["direction"])
                checked += 1
                continue
            entry = judged[kpi_id]
            target, amber = limits
            assert entry["value"] == pytest.approx(value, abs=1e-6), (store, kpi_id)
            assert entry["target"] == pytest.approx(target), (store, kpi_id)
            assert entry["amber"] == pytest.approx(amber), (store, kpi_id)
            assert entry["status"] == status(value, target, amber, kpi["direction"]), (
                store, kpi_id, value, target, amber)
            checked += 1
    assert checked == 5 * 4


def test_a_store_without_a_target_of_its_own_is_never_judged_against_the_groups(
        harbour: tuple[Path, Any]) -> None:
    out, _ = harbour
    pack = summary(out, "weekly", "sao-bras")
    assert "complaints" not in {entry["id"] for entry in pack["kpis"]}
    assert {entry["id"] for entry in pack["shares"]} == {"complaints", "near_misses"}
    assert pack["status_counts"] == {
        "green": 1, "amber": 1, "red": 1, "no_data": 0}  # revenue, lines on shelf, waits
    html = (out / "weekly" / PACKS["weekly"] / "sao-bras" / "pack.html").read_text("utf-8")
    assert "The unit&#39;s share of the group&#39;s figures" in html or \
        "The unit's share of the group's figures" in html


def test_the_groups_percentile_is_its_own_row_not_a_roll_up_of_the_stores(
        harbour: tuple[Path, Any]) -> None:
    out, _ = harbour
    waits = expected_values("weekly")["wait_p90"]
    group = next(entry for entry in summary(out, "weekly", "group")["kpis"]
                 if entry["id"] == "wait_p90")
    assert group["value"] == pytest.approx(waits[""])
    assert group["rollup"] == "own"
    # no roll-up of the stores' percentiles gives it
    stores = [waits[store] for store in UNITS]
    assert group["value"] not in (max(stores), min(stores), pytest.approx(sum(stores) / 3))


def test_counts_of_events_read_zero_in_weeks_without_rows(harbour: tuple[Path, Any]) -> None:
    out, _ = harbour
    html = (out / "weekly" / PACKS["weekly"] / "group" / "pack.html").read_text("utf-8")
    assert "Counts of events that read 0 where the data has no rows" in html
    # the quiet week (9 Oct) had no complaint in any store: 0, on track, in the group's history
    with sqlite3.connect(HARBOUR / "data" / "complaints.sqlite") as con:
        quiet = con.execute("SELECT count(*) FROM complaints WHERE received_at >= '2026-10-03' "
                            "AND received_at < '2026-10-10'").fetchone()[0]
    assert quiet == 0
    northgate = summary(out, "weekly", "northgate")
    complaints = next(entry for entry in northgate["kpis"] if entry["id"] == "complaints")
    assert complaints["value"] is not None and complaints["status"] != "no_data"


def test_a_stores_card_breaks_its_lines_on_shelf_down_by_department(
        harbour: tuple[Path, Any]) -> None:
    out, _ = harbour
    entry = next(item for item in summary(out, "weekly", "quayside")["kpis"]
                 if item["id"] == "on_shelf")
    parts = {part["name"]: part for part in entry["breakdown"]["parts"]}
    expected = expected_departments("Quayside", "weekly")
    assert set(parts) == set(expected)
    for name, value in expected.items():
        assert parts[name]["value"] == pytest.approx(value, abs=1e-6)
        assert parts[name]["status"] == status(value, 97, 95, "higher_is_better")
    # the front shop is below amber while the store as a whole is not
    assert parts["Front shop"]["status"] == "red" and entry["status"] != "red"
    html = (out / "weekly" / PACKS["weekly"] / "quayside" / "pack.html").read_text("utf-8")
    assert "This week by department" in html and "Front shop" in html


def test_a_stores_pack_lists_the_groups_actions_on_its_kpis(harbour: tuple[Path, Any]) -> None:
    out, _ = harbour
    pack = summary(out, "weekly", "quayside")
    group = summary(out, "weekly", "group")
    # the group's one open action (on complaints), listed beside Quayside's own
    assert len(pack["actions"]["group_open"]) == 1 and group["actions"]["open"] == 1
    assert pack["actions"]["group_open"][0] not in pack["actions"]["opened_since_last"]
    html = (out / "weekly" / PACKS["weekly"] / "quayside" / "pack.html").read_text("utf-8")
    assert "The group&#39;s actions on this unit&#39;s KPIs" in html or \
        "The group's actions on this unit's KPIs" in html
    assert "Call back every complainant of October" in html


def test_the_provenance_names_the_database_rows_read_with_their_hash_and_no_variable(
        harbour: tuple[Path, Any]) -> None:
    out, _ = harbour
    manifest = json.loads((out / "weekly" / PACKS["weekly"] / "group" / "manifest.json")
                          .read_text(encoding="utf-8"))
    database = next(item for item in manifest["inputs"] if item["role"] == "source complaints")
    with sqlite3.connect(HARBOUR / "data" / "complaints.sqlite") as con:
        rows = con.execute("SELECT count(*) FROM complaints").fetchone()[0]
    assert database["rows"] == rows
    assert re.fullmatch(r"[0-9a-f]{64}", database["sha256"])
    assert "complaints.sqlite" in database["path"] and "table complaints" in database["path"]


def test_the_outlook_of_a_query_kpi_counts_the_months_it_has(tmp_path: Path) -> None:
    """The quarterly pack runs its queries by quarter; the outlook runs them again by month
    (six months of sales, not the two quarter ends a quarter's rows are dated on)."""
    org = tmp_path / "harbour"
    shutil.copytree(HARBOUR, org, ignore=shutil.ignore_patterns("generate.py"))
    params = load_params(org / "quarterly.yaml")
    store = Store.open(params.store_location)
    try:
        pack = evaluate(cadences.get("quarterly"), load_for(params), store)
    finally:
        store.dispose()
    sales = pd.read_parquet(HARBOUR / "data" / "sales.parquet")
    months = sales[sales["sold_at"] < "2026-10-01"]["sold_at"].dt.to_period("M").nunique()
    outlook = {item.forecast.kpi_id: item.forecast for item in pack.strategy.outlooks}
    assert months == 6
    assert outlook["revenue"].n_points == months
    assert f"{months} months with data" in outlook["revenue"].sentence
