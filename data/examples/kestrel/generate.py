"""Generate the Kestrel Water example organisation: reviewkit data unlike the demo's.

Writes, next to this script:

* ``kpis.yaml`` - ten KPIs in four perspectives (format: "KPI catalog (YAML)" in the data contract);
* ``measurements.csv`` - ``kpi_id,period_end,value,target``: nine weeks (25 Sep to 20 Nov 2026) for
  the weekly KPIs, five month ends (June to October 2026) for the two monthly-only KPIs;
* ``initiatives.csv``, ``benefits.csv``, ``spend.csv`` (amounts in thousands of euros) and
  ``priorities.yaml`` - the monthly and quarterly inputs;
* ``minutes/weekly-2026-11-06.yaml`` and ``minutes/weekly-2026-11-13.yaml`` - two meetings' minutes;
* ``params/weekly.yaml``, ``params/monthly.yaml``, ``params/quarterly.yaml``.

README.md tells the story these numbers carry and what in them is meant to stress the packs
(units, very long and very short names, few periods, euros).

Usage: ``python data/examples/kestrel/generate.py``. Standard library only. Seeded: re-running it
rewrites byte-identical files. Before writing anything the script checks the catalog against the
data contract's rules and the weekly statuses on 2026-11-13 and 2026-11-20 against README.md, and
stops with an error if an edit has broken the story.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import json
import random
import re
import statistics
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent
SEED = 20261120

# Nine weekly periods, each labelled by its Friday; the latest is the weekly pack's period end.
LAST_FRIDAY = dt.date(2026, 11, 20)
N_WEEKS = 9
FRIDAYS = [LAST_FRIDAY - dt.timedelta(weeks=N_WEEKS - 1 - i) for i in range(N_WEEKS)]
# Monthly-only KPIs: five month ends, June to October 2026 (November has not closed on 20 Nov).
MONTH_ENDS = [dt.date(2026, m, calendar.monthrange(2026, m)[1]) for m in range(6, 11)]

ALL = ["weekly", "monthly", "quarterly"]
MONTHLY_ONLY = ["monthly", "quarterly"]

ORGANISATION = "Kestrel Water & Wastewater Services — Ōtautahi Region"
CLASSIFICATION = "Restricted — Kestrel Board & Executive"

# Owners (long titles on purpose: they wrap in tiles, tables and the needs-attention list).
DWQ = "Drinking Water Quality & Public Health Compliance Manager"
NETWORKS = "General Manager, Three Waters Network Operations & Maintenance"
WASTEWATER = "Principal Wastewater Treatment & Environmental Consents Engineer"
CUSTOMER = "Head of Customer Experience, Billing & Community Engagement"
CFO = "Chief Financial Officer & Company Secretary"
CAPEX = "Capital Programme Delivery Director (Infrastructure Renewals)"


def per_cadence(weekly: float, monthly: float, quarterly: float) -> dict[str, float]:
    return {"weekly": weekly, "monthly": monthly, "quarterly": quarterly}


# --------------------------------------------------------------------------------------------
# The catalog, in the order the packs list it (grouped by perspective)
# --------------------------------------------------------------------------------------------

CATALOG: list[dict[str, Any]] = [
    # ---- Public health & drinking-water safety -------------------------------------------------
    {
        "id": "ecoli_compliance",
        "name": "Drinking-water samples compliant with the microbiological standard (E. coli)",
        "perspective": "Public health & drinking-water safety",
        "direction": "higher_is_better",
        "target": 99.5,
        "amber": 98.0,
        "owner": DWQ,
        "cadences": ALL,
        "unit": "%",
        "kind": "lagging",
        "aggregation": "mean",
        "headline": True,
        "definition": "Share of the week's routine distribution-zone and treatment-plant samples "
        "with no E. coli detected in 100 mL, as reported by the accredited laboratory.",
        "why_it_matters": "A single positive sample can mean a boil-water notice for thousands of "
        "households; the standard is set by the drinking-water regulator.",
        "action_if_off_track": "Resample within 24 hours, raise the chlorine dose in the affected "
        "zone and notify the regulator and the medical officer of health the same day.",
    },
    {
        "id": "chlorine_residual",
        "name": "Free available chlorine at network extremities",
        "perspective": "Public health & drinking-water safety",
        "direction": "higher_is_better",
        "target": 0.20,
        "amber": 0.10,
        "owner": DWQ,
        "cadences": ALL,
        "unit": "mg/L",
        "kind": "leading",
        "aggregation": "mean",
        "headline": True,
        "decimals": 2,
        "definition": "Mean free available chlorine measured at the 24 far-end sampling taps "
        "(the points furthest from a treatment plant) during the week.",
        "why_it_matters": "Residual chlorine at the ends of the network is the early warning "
        "before a microbiological failure; it decays faster as the water warms in spring.",
        "action_if_off_track": "Increase dosing at the supplying plant or reservoir, flush dead "
        "ends, and add the affected zones to the daily sampling round.",
    },
    # ---- Network resilience & environment -------------------------------------------------------
    {
        "id": "real_losses",
        "name": "Leakage",
        "perspective": "Network resilience & environment",
        "direction": "lower_is_better",
        "target": 18.0,
        "amber": 22.0,
        "owner": NETWORKS,
        "cadences": ALL,
        "unit": "ML/d",
        "kind": "leading",
        "aggregation": "mean",
        "headline": True,
        "definition": "Real losses from the distribution network in megalitres per day, "
        "estimated from minimum night flow in the 41 district metered areas.",
        "why_it_matters": "Leaked water is treated, pumped and paid for; rising night flow also "
        "warns of a trunk-main failure before it bursts.",
        "action_if_off_track": "Send step-test and acoustic-logger crews to the district metered "
        "areas with the biggest rise in night flow and fast-track repairs.",
    },
    {
        "id": "min_pressure",
        "name": "Minimum network pressure at critical monitoring points",
        "perspective": "Network resilience & environment",
        "direction": "higher_is_better",
        "target": 250,
        "amber": 200,
        "owner": NETWORKS,
        "cadences": ALL,
        "unit": "kPa",
        "kind": "leading",
        "aggregation": "min",
        "definition": "Lowest pressure logged in the period at the 18 critical monitoring points "
        "(hill suburbs and the ends of long mains), from 15-minute logger data.",
        "why_it_matters": "Below 200 kPa upstairs taps and fire-fighting flows suffer, and low "
        "pressure lets contaminated ground water into the pipes.",
        "action_if_off_track": "Check pump-station schedules and pressure-reducing valves in the "
        "zone and tell the fire service if fire-fighting flows are at risk.",
    },
    {
        "id": "wastewater_overflows",
        "name": "Wastewater overflows to the Ōtākaro/Avon and Ōpāwaho/Heathcote rivers",
        "perspective": "Network resilience & environment",
        "direction": "lower_is_better",
        # Summed over time, so the targets are per cadence.
        "target": per_cadence(1, 4, 12),
        "amber": per_cadence(2, 8, 24),
        "owner": WASTEWATER,
        "cadences": ALL,
        "unit": "count",
        "kind": "lagging",
        "aggregation": "sum",
        "headline": True,
        "contributors": [
            "Networks Operations",
            "Bromley Wastewater Treatment Plant",
            "Stormwater & Land Drainage Planning",
            "Regional council consents liaison",
        ],
        "definition": "Wet- and dry-weather overflows of untreated wastewater from the network "
        "to the two rivers or the estuary, counted per event.",
        "why_it_matters": "Each overflow closes rivers to swimming and mahinga kai gathering and "
        "counts against the network discharge consent.",
        "action_if_off_track": "Root-cause every dry-weather overflow within five working days and "
        "bring forward storage or pump-station capacity where wet-weather events recur.",
    },
    {
        "id": "outfall_temperature",
        "name": "Ocean outfall effluent temperature",
        "perspective": "Network resilience & environment",
        "direction": "lower_is_better",
        "target": 21.0,
        "amber": 23.0,
        "owner": WASTEWATER,
        "cadences": ALL,
        "unit": "°C",
        "kind": "lagging",
        # The consent limit is about the hottest day, so periods roll up by their maximum.
        "aggregation": "max",
        "definition": "Highest daily mean temperature of treated effluent at the ocean outfall "
        "monitoring station in the period.",
        "why_it_matters": "The discharge consent limits effluent temperature; warm effluent also "
        "means the treatment ponds are close to their limit.",
        "action_if_off_track": "Increase pond recirculation and tell the regional council before "
        "the consent limit is reached.",
    },
    # ---- Customers & community ----------------------------------------------------------------
    {
        "id": "complaints_resolved_10d",
        "name": "Customer complaints resolved within ten working days of first contact",
        "perspective": "Customers & community",
        "direction": "higher_is_better",
        "target": 94,
        "amber": 90,
        "owner": CUSTOMER,
        "cadences": ALL,
        "unit": "%",
        "kind": "lagging",
        "aggregation": "mean",
        "headline": True,
        "definition": "Share of complaints closed in the week that were resolved within ten "
        "working days of the customer's first contact.",
        "why_it_matters": "The regulator's customer-service code expects 94%; slow resolution is "
        "the first thing customers tell their councillors about.",
        "action_if_off_track": "Move field schedulers to the complaints queue and call back every "
        "customer whose complaint has passed nine working days.",
    },
    {
        "id": "customer_satisfaction",
        "name": "Customer satisfaction",
        "perspective": "Customers & community",
        "direction": "higher_is_better",
        "target": 80,
        "amber": 75,
        "owner": CUSTOMER,
        "cadences": MONTHLY_ONLY,
        "unit": "%",
        "kind": "lagging",
        "aggregation": "mean",
        "definition": "Share of surveyed households rating the service 4 or 5 out of 5 in the "
        "monthly customer survey, which closes on the month's last day.",
        "why_it_matters": "It is how the community judges us, and it is reported to the "
        "shareholding councils every quarter.",
        "action_if_off_track": "Take the lowest-scoring theme in the survey comments to the "
        "executive and fund one fix for it next quarter.",
    },
    # ---- Financial sustainability -------------------------------------------------------------
    {
        "id": "energy_cost",
        "name": "Treatment & pumping energy cost (weekly run-rate)",
        "perspective": "Financial sustainability",
        "direction": "lower_is_better",
        "target": 310,
        "amber": 330,
        "owner": CFO,
        "cadences": ALL,
        "unit": "€k",
        "kind": "lagging",
        "aggregation": "mean",
        "headline": True,
        "definition": "Electricity cost of the treatment plants and pump stations in the week, in "
        "thousands of euros, from the retailer's half-hourly data.",
        "why_it_matters": "Energy is the largest controllable operating cost; pumping leaked "
        "water and spot-price spikes both show here first.",
        "action_if_off_track": "Shift reservoir filling to off-peak hours and ask the retailer for "
        "a fixed-price block for the rest of the financial year.",
    },
    {
        "id": "capex_delivered",
        "name": "Capital works programme delivered, calendar year to date",
        "perspective": "Financial sustainability",
        "direction": "higher_is_better",
        # The October plan; each month's row carries that month's year-to-date plan as `target`.
        "target": 52.0,
        "amber": 46.0,
        "owner": CAPEX,
        "cadences": MONTHLY_ONLY,
        "unit": "€m",
        "kind": "lagging",
        # A cumulative figure: the latest value in the period is the one that counts.
        "aggregation": "last",
        "definition": "Capital expenditure on renewals and growth projects from 1 January to the "
        "month end, in millions of euros, against the phased year-to-date plan.",
        "why_it_matters": "Under-delivery means renewals slip a year and the network keeps "
        "ageing; the councils fund the programme on the plan.",
        "action_if_off_track": "Re-phase the programme at the capital board and release "
        "contingency projects that are ready to start.",
    },
]

# --------------------------------------------------------------------------------------------
# The measurements: recent weeks pinned to carry the story, earlier weeks a seeded walk
# --------------------------------------------------------------------------------------------

# Digits written to the CSV for each KPI.
CSV_PLACES = {
    "ecoli_compliance": 2, "chlorine_residual": 3, "real_losses": 1, "min_pressure": 0,
    "wastewater_overflows": 0, "outfall_temperature": 1, "complaints_resolved_10d": 2,
    "customer_satisfaction": 1, "energy_cost": 2, "capex_delivered": 2,
}

# For each weekly KPI: (level, noise) for the unpinned early weeks, then the pinned values from
# a date on. ``None`` is a missing value (an empty cell).
WEEKLY: dict[str, tuple[float, float, str, list[float | None]]] = {
    # One positive sample on 13 Nov (Rocky Point zone, cleared on resample); otherwise clean.
    "ecoli_compliance": (100.0, 0.0, "2026-11-06", [100.0, 98.61, 100.0]),
    # Spring warming: residual decays from 0.26 to just under target. 0.195 prints as 0.20.
    "chlorine_residual": (0.26, 0.006, "2026-10-16", [0.240, 0.232, 0.224, 0.215, 0.209, 0.195]),
    # Trunk-main burst on 14 Oct; repaired 28 Oct; a second leak found by step tests in Nov.
    "real_losses": (17.8, 0.3, "2026-10-16", [24.9, 23.8, 22.9, 22.3, 22.7, 23.4]),
    # The burst's pressure dip on 16 Oct; the logger export failed for the week of 20 Nov.
    "min_pressure": (268, 6, "2026-10-16", [214, 247, 259, 262, 258, None]),
    # Storm on 8 Oct; heavy rain on 18 Nov.
    "wastewater_overflows": (0, 0, "2026-09-25", [1, 1, 3, 1, 0, 1, 0, 0, 3]),
    # Rising with spring; the telemetry radio failed on 31 Oct, so no rows after 30 Oct.
    "outfall_temperature": (17.8, 0.1, "2026-09-25", [17.8, 18.3, 18.9, 19.6, 20.4, 21.3]),
    # The burst brought a wave of complaints; back over 94 in November, then 93.96 (prints 94.0).
    "complaints_resolved_10d": (95.0, 0.4, "2026-10-16", [91.2, 92.4, 93.1, 94.2, 94.4, 93.96]),
    # Extra pumping after the burst, then the spring spot-price spike. 30 Oct is 309.96.
    "energy_cost": (300.0, 3.0, "2026-10-16", [318.9, 312.5, 309.96, 314.2, 319.8, 324.7]),
}
# Weeks with no row at all (not even an empty value): the stale feed.
NO_ROWS_AFTER = {"outfall_temperature": dt.date(2026, 10, 30)}

MONTHLY: dict[str, list[float]] = {
    "customer_satisfaction": [81.2, 80.4, 79.1, 78.3, 76.8],
    "capex_delivered": [29.12, 33.80, 38.95, 43.61, 45.90],
}
# Year-to-date capital plan for each month end (the `target` column overrides the catalog).
CAPEX_PLAN = [30.0, 35.5, 41.0, 46.5, 52.0]

EXPECTED_STATUS: dict[dt.date, dict[str, str]] = {
    dt.date(2026, 11, 13): {
        "ecoli_compliance": "amber",
        "real_losses": "red",
        "outfall_temperature": "no_data",
        "energy_cost": "amber",
    },
    dt.date(2026, 11, 20): {
        "chlorine_residual": "amber",
        "real_losses": "red",
        "min_pressure": "no_data",
        "wastewater_overflows": "red",
        "outfall_temperature": "no_data",
        "complaints_resolved_10d": "amber",
        "energy_cost": "amber",
    },
}  # every other weekly KPI must be green on both dates

Row = tuple[str, dt.date, float | None, float | None]  # kpi_id, period_end, value, target


def weekly_rows() -> list[Row]:
    rows: list[Row] = []
    for kpi_id, (level, noise, start, pinned) in WEEKLY.items():
        rng = random.Random(f"{SEED}-{kpi_id}")
        first = FRIDAYS.index(dt.date.fromisoformat(start))
        values: list[float | None] = []
        for i, _day in enumerate(FRIDAYS):
            if i >= first:
                values.append(pinned[i - first] if i - first < len(pinned) else None)
            else:
                values.append(level + rng.gauss(0, noise))
        for day, value in zip(FRIDAYS, values, strict=True):
            stop = NO_ROWS_AFTER.get(kpi_id)
            if stop is not None and day > stop:
                continue
            if value is not None:
                value = round(value, CSV_PLACES[kpi_id])
            rows.append((kpi_id, day, value, None))
    return rows


def monthly_rows() -> list[Row]:
    rows: list[Row] = []
    for kpi_id, values in MONTHLY.items():
        for i, (day, value) in enumerate(zip(MONTH_ENDS, values, strict=True)):
            target = CAPEX_PLAN[i] if kpi_id == "capex_delivered" else None
            rows.append((kpi_id, day, value, target))
    return rows


def kpi(kpi_id: str) -> dict[str, Any]:
    return next(k for k in CATALOG if k["id"] == kpi_id)


def status(kpi_id: str, value: float | None, cadence: str = "weekly") -> str:
    k = kpi(kpi_id)
    if value is None:
        return "no_data"
    target = k["target"][cadence] if isinstance(k["target"], dict) else k["target"]
    amber = k["amber"][cadence] if isinstance(k["amber"], dict) else k["amber"]
    if k["direction"] == "higher_is_better":
        return "green" if value >= target else "amber" if value >= amber else "red"
    return "green" if value <= target else "amber" if value <= amber else "red"


def check_catalog() -> None:
    ids = [k["id"] for k in CATALOG]
    if len(set(ids)) != len(ids) or not 8 <= len(ids) <= 10:
        raise ValueError("need 8 to 10 unique KPI ids")
    if len({k["perspective"] for k in CATALOG}) != 4:
        raise ValueError("need four perspectives")
    if sum(bool(k.get("headline")) for k in CATALOG) not in (5, 6):
        raise ValueError("need 5 or 6 headline KPIs")
    if sum(len(k["name"]) > 60 for k in CATALOG) < 2:
        raise ValueError("need at least two names over 60 characters")
    for k in CATALOG:
        if not re.fullmatch(r"[a-z0-9_]+", k["id"]):
            raise ValueError(f"bad id {k['id']!r}")
        for cadence in k["cadences"]:
            t = k["target"][cadence] if isinstance(k["target"], dict) else k["target"]
            a = k["amber"][cadence] if isinstance(k["amber"], dict) else k["amber"]
            good = a < t if k["direction"] == "higher_is_better" else a > t
            if not good:
                raise ValueError(f"{k['id']}: amber {a} is not on the bad side of target {t}")


def check_story(rows: list[Row]) -> None:
    keys = [(r[0], r[1]) for r in rows]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate (kpi_id, period_end) rows")
    by_key = {(r[0], r[1]): r[2] for r in rows}
    for day, expected in EXPECTED_STATUS.items():
        for kpi_id in WEEKLY:
            actual = status(kpi_id, by_key.get((kpi_id, day)))
            wanted = expected.get(kpi_id, "green")
            if actual != wanted:
                raise ValueError(f"story broken: {kpi_id} on {day} is {actual}, not {wanted}")
    # The rounding traps the README promises: amber, yet printed equal to the target.
    if f"{by_key[('complaints_resolved_10d', LAST_FRIDAY)]:.1f}" != "94.0":
        raise ValueError("complaints_resolved_10d must print as 94.0 on 20 Nov")
    if f"{by_key[('chlorine_residual', LAST_FRIDAY)]:.2f}" != "0.20":
        raise ValueError("chlorine_residual must print as 0.20 on 20 Nov")
    # October (the monthly pack): overflows amber (6 of 4), capex red against its plan.
    october = [v for (k, d), v in by_key.items()
               if k == "wastewater_overflows" and d.month == 10 and v is not None]
    if status("wastewater_overflows", sum(october), "monthly") != "amber":
        raise ValueError("October overflows must be amber")
    if MONTHLY["capex_delivered"][-1] >= CAPEX_PLAN[-1] - 6.0:
        raise ValueError("October capex must be red against its plan")


# --------------------------------------------------------------------------------------------
# Portfolio, benefits, spend (thousands of euros) and priorities
# --------------------------------------------------------------------------------------------

INITIATIVE_HEADER = [
    "id", "name", "owner", "priority", "status", "start", "planned_finish", "forecast_finish",
    "budget", "cost_to_date", "percent_complete", "strategic_priority", "kpis", "description",
]
INITIATIVES: list[list[object]] = [
    ["halswell_trunk_main", "Halswell Junction Road trunk main renewal and pressure-management "
     "zone reconfiguration (Stage 2 of the South-West Network Resilience Programme)", NETWORKS,
     "high", "at_risk", "2026-02-02", "2026-12-18", "2027-03-26", 4850, 4120, 71,
     "resilient_network", "real_losses min_pressure",
     "Replace 3.2 km of 1960s asbestos-cement trunk main and split the zone in two; the October "
     "burst and a second leak found in November pushed the final tie-ins into autumn."],
    ["bromley_storage", "Bromley wastewater storage & overflow reduction", WASTEWATER, "high",
     "on_track", "2026-03-02", "2027-06-30", "2027-06-30", 12600, 3950, 28, "healthy_waterways",
     "wastewater_overflows",
     "An 18 ML storage tank and a larger pump station at Bromley to hold wet-weather flows "
     "until the plant can treat them."],
    ["uv_main_pumps", "UV disinfection at Main Pumps", DWQ, "high", "done", "2026-01-12",
     "2026-08-14", "2026-08-28", 2300, 2412, 100, "safe_drinking_water",
     "ecoli_compliance, chlorine_residual",
     "Ultraviolet treatment as a second barrier at the largest well-field; commissioned two "
     "weeks late and 5% over budget."],
    ["smart_meters", "Smart meters", CUSTOMER, "medium", "not_started", "2027-01-11",
     "2027-09-30", "2027-09-30", 1800, 0, 0, "resilient_network",
     "real_losses complaints_resolved_10d",
     "Pilot 5,000 smart meters in two district metered areas to find private-side leaks and "
     "answer billing questions at first contact."],
]

BENEFIT_HEADER = [
    "id", "initiative_id", "description", "kpi_id", "measure", "unit", "baseline", "target",
    "baseline_date", "target_date", "realized", "realized_date", "owner",
]
BENEFITS: list[list[object]] = [
    ["less_leakage", "halswell_trunk_main", "Less water lost from the south-west trunk mains",
     "real_losses", "", "ML/d", 18.2, 15.0, "2026-06-30", "2027-06-30", "", "", NETWORKS],
    ["fewer_overflows", "bromley_storage", "Fewer wet-weather overflows to the Ōtākaro/Avon",
     "", "Wet-weather overflows in the last 12 months", "count", 46, 20, "2026-01-01",
     "2028-06-30", 41, "2026-10-31", WASTEWATER],
    ["second_barrier", "uv_main_pumps", "Every Main Pumps sample free of E. coli",
     "ecoli_compliance", "", "%", 99.1, 99.9, "2026-08-28", "2027-02-26", "", "", DWQ],
    ["uv_energy_saving", "uv_main_pumps", "Lower chlorine and pumping cost once UV is running",
     "", "Annualised operating saving", "€k", 0, 85, "2026-08-28", "2027-08-31", 31,
     "2026-10-31", CFO],
]

SPEND_HEADER = ["period", "category", "budget", "actual", "forecast", "note"]
SPEND_CATEGORIES = [
    "Electricity & pumping energy",
    "Treatment chemicals (chlorine, coagulants, UV lamps)",
    "Network maintenance & reactive repairs",
    "Staff",
    "Contractors & professional services",
]
SPEND_MONTHS = [7, 8, 9, 10, 11]  # the financial year starts on 1 July
# December as a share of its budget, for the July-December forecast on the November rows.
DECEMBER_OUTLOOK = {
    "Electricity & pumping energy": 1.06,
    "Treatment chemicals (chlorine, coagulants, UV lamps)": 1.04,
    "Network maintenance & reactive repairs": 1.05,
    "Staff": 0.98,
    "Contractors & professional services": 1.00,
}


def spend_rows(rows: list[Row]) -> list[list[object]]:
    """July to November 2026; November's actuals are the flash estimate at 20 November."""
    rng = random.Random(f"{SEED}-spend")
    energy = {d: v for k, d, v, _ in rows if k == "energy_cost" and v is not None}
    monthly_budget = {
        "Electricity & pumping energy": 1330.0,
        "Treatment chemicals (chlorine, coagulants, UV lamps)": 410.0,
        "Network maintenance & reactive repairs": 980.0,
        "Staff": 2150.0,
        "Contractors & professional services": 620.0,
    }
    out: list[list[object]] = []
    for month in SPEND_MONTHS:
        days = calendar.monthrange(2026, month)[1]
        for category in SPEND_CATEGORIES:
            budget = monthly_budget[category]
            note = ""
            if category.startswith("Electricity"):
                weeks = [v for d, v in energy.items() if d.month == month]
                rate = statistics.mean(weeks) if weeks else 296.0 + rng.gauss(0, 2)
                actual = rate * days / 7
                if month == 11:
                    note = "Flash estimate: run-rate to 20 Nov; spot-price spike"
            elif category.startswith("Network"):
                actual = budget * (1 + rng.gauss(0.01, 0.02))
                if month == 10:
                    actual = budget * 1.19
                    note = "Halswell trunk-main burst (14 Oct) and reinstatement"
                if month == 11:
                    actual = budget * 1.08
                    note = "Second leak on the Halswell main"
            elif category == "Staff":
                actual = budget * (1 - abs(rng.gauss(0.02, 0.01)))  # vacancies
            elif category.startswith("Treatment"):
                actual = budget * (1 + rng.gauss(0.0, 0.015))
                if month in (10, 11):
                    actual = budget * 1.04  # higher chlorine dosing as the water warms
            else:
                actual = budget * (1 + rng.gauss(-0.01, 0.02))
            forecast: object = ""
            if month == 11:
                # The full year is the financial year, July to June (params year_start_month:
                # 7): the actuals so far, December's outlook, and January to June at budget.
                so_far = sum(float(r[3]) for r in out if r[1] == category) + actual
                rest = budget * (DECEMBER_OUTLOOK[category] + 6)
                forecast = f"{so_far + rest:.1f}"
            out.append([f"2026-{month:02d}", category, f"{budget:.1f}", f"{actual:.1f}",
                        forecast, note])
    return out


PRIORITIES_YAML = f"""\
# {ORGANISATION} - the board's strategic priorities (reviewkit example data).
# Generated by data/examples/kestrel/generate.py: edit that script and re-run it.

priorities:
  - id: safe_drinking_water
    title: Safe drinking water, every tap, every day
    owner: {json.dumps(DWQ, ensure_ascii=False)}
    baseline_date: 2026-07-01
    due: 2027-06-30
    description: Two barriers against contamination at every source, and a network that keeps
      its chlorine residual to the last tap.
    objectives:
      - id: two_barriers
        text: Two treatment barriers at every source
        key_results:
          - text: E. coli compliance at 99.9% (baseline August 2026, before UV)
            kpi: ecoli_compliance
            baseline: 99.1
            target: 99.9
            weight: 2
          - text: Free available chlorine of 0.25 mg/L at every network extremity
            kpi: chlorine_residual
            baseline: 0.18
            target: 0.25
          - text: Well-fields with UV treatment commissioned (of 9)
            baseline: 2
            target: 9
            current: 3
            unit: well-fields

  - id: resilient_network
    title: A resilient network that loses less water and keeps its pressure
    owner: {json.dumps(NETWORKS, ensure_ascii=False)}
    baseline_date: 2026-07-01
    due: 2027-06-30
    objectives:
      - id: lose_less_water
        text: Lose less of the water we treat
        key_results:
          - text: Leakage down to 15 ML/d (baseline June 2026)
            kpi: real_losses
            baseline: 18.2
            target: 15.0
            weight: 2
          - text: Minimum pressure at critical points of at least 270 kPa
            kpi: min_pressure
            baseline: 255
            target: 270
          - text: Kilometres of trunk main renewed (of 12)
            target: 12
            progress: 27
            unit: km

  - id: healthy_waterways
    title: Healthy rivers, estuary and harbour — Ōtākaro/Avon, Ōpāwaho/Heathcote and Te Ihutai
    owner: {json.dumps(WASTEWATER, ensure_ascii=False)}
    baseline_date: 2026-07-01
    due: 2027-06-30
    description: Fewer overflows of untreated wastewater and an outfall that stays inside its
      consent.
    objectives:
      - id: keep_it_in_the_pipes
        text: Keep wastewater in the pipes
        key_results:
          - text: Wet-weather overflows in a year down from 46 to 20
            baseline: 46
            target: 20
            current: 41
            unit: count
            weight: 2
          - text: Outfall effluent temperature below 20 °C all year
            kpi: outfall_temperature
            baseline: 21.5
            target: 20.0
"""

# --------------------------------------------------------------------------------------------
# Minutes and params
# --------------------------------------------------------------------------------------------

# Action titles too long for one line of this file (one is over 100 characters on purpose).
SHUTDOWN_TITLE = ("Book the shutdown crews and notify the 1,840 affected properties in Halswell "
                  "and Oaklands")
PROBE_TITLE = ("Replace the failed temperature probe and telemetry radio at the ocean outfall "
               "monitoring station and back-fill the missing readings from the operators' "
               "manual log")

MINUTES = {
    "weekly-2026-11-06.yaml": f"""\
# Minutes of the weekly operational review held on the pack for the week ending 6 Nov 2026.
review: weekly 2026-11-06
date: 2026-11-09
decisions:
  - text: Bring the Halswell trunk-main shutdown forward to the weekend of 14\N{EN DASH}15 November
    rationale: Leakage red for four weeks (22.3 ML/d); night-flow step tests point to the trunk main
    kpis: [real_losses, min_pressure]
    actions:
      - title: {SHUTDOWN_TITLE}
        owner: {json.dumps(NETWORKS, ensure_ascii=False)}
        due: 2026-11-12
        kpi: real_losses
actions:
  - title: {PROBE_TITLE}
    owner: Aroha Pōtiki-Ngāta
    due: 2026-11-13
    kpi: outfall_temperature
    note: Telemetry lost on 31 Oct; operators are reading the probe by hand once a day
  - title: Call back every customer whose complaint has passed nine working days
    owner: {json.dumps(CUSTOMER, ensure_ascii=False)}
    due: 2026-11-20
    kpi: complaints_resolved_10d
""",
    "weekly-2026-11-13.yaml": f"""\
# Minutes of the weekly operational review held on the pack for the week ending 13 Nov 2026.
review: weekly 2026-11-13
date: 2026-11-16
actions:
  - title: Review chlorine dosing at Main Pumps and the Rocky Point reservoirs as the water warms
    owner: {json.dumps(DWQ, ensure_ascii=False)}
    due: 2026-11-27
    kpi: chlorine_residual
updates:
  - id: A-0001
    status: done
    note: Crews booked; letters delivered to all 1,840 properties on 10 Nov
  - id: A-0002
    due: 2026-11-27
    note: Replacement probe on back-order from the supplier; manual readings not yet keyed in
  - id: A-0003
    status: in_progress
    note: 212 call-backs made; 35 complaints still open past nine days
""",
}

PARAMS = {
    "weekly.yaml": f"""\
# Weekly operational review of the Kestrel example organisation. Paths are relative to this file.
organisation: {json.dumps(ORGANISATION, ensure_ascii=False)}
title: Weekly Operational Review
catalog: ../kpis.yaml
measurements: ../measurements.csv
classification: {json.dumps(CLASSIFICATION, ensure_ascii=False)}
page_size: letter               # US letter, unlike the demo's A4
# period_end: 2026-11-20        # default: the latest week in the data
# store: reviewkit.sqlite       # action and decision store (next to this file by default)
""",
    "monthly.yaml": f"""\
# Monthly business review of the Kestrel example organisation. Paths are relative to this file.
organisation: {json.dumps(ORGANISATION, ensure_ascii=False)}
title: Monthly Performance & Business Review
catalog: ../kpis.yaml
measurements: ../measurements.csv
period_end: 2026-10-31          # the last complete month
initiatives: ../initiatives.csv
benefits: ../benefits.csv
spend: ../spend.csv             # thousands of euros
currency: {{symbol: "€", scale: k}}
year_start_month: 7             # the financial year runs July to June
classification: {json.dumps(CLASSIFICATION, ensure_ascii=False)}
""",
    "quarterly.yaml": f"""\
# Quarterly strategic review (the board pack) of the Kestrel example organisation.
organisation: {json.dumps(ORGANISATION, ensure_ascii=False)}
title: Quarterly Strategic Review for the Board of Directors
catalog: ../kpis.yaml
measurements: ../measurements.csv
period_end: 2026-11-20          # quarter to date: Q4 2026 holds only October and part of November
initiatives: ../initiatives.csv
benefits: ../benefits.csv
spend: ../spend.csv
priorities: ../priorities.yaml
currency: {{symbol: "€", scale: k}}
year_start_month: 7
classification: {json.dumps(CLASSIFICATION, ensure_ascii=False)}
""",
}

# --------------------------------------------------------------------------------------------
# Writers (hand-rolled YAML: standard library only)
# --------------------------------------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-zÀ-ž][^:#&*!|>'\"%@`{}\[\],]*$")


def yaml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and text == text.strip() and text.lower() not in ("yes", "no", "true",
                                                                            "false", "null"):
        return text
    return json.dumps(text, ensure_ascii=False)


def catalog_yaml() -> str:
    out = io.StringIO()
    out.write(f"# {ORGANISATION} - KPI catalog (reviewkit example data).\n")
    out.write("# Generated by data/examples/kestrel/generate.py: edit that script and re-run it.\n")
    out.write('# Format: "KPI catalog (YAML)" in docs/data-contract.md.\n\nkpis:\n')
    for k in CATALOG:
        first = True
        for key, value in k.items():
            prefix = "  - " if first else "    "
            first = False
            if isinstance(value, dict):
                inner = ", ".join(f"{c}: {yaml_scalar(v)}" for c, v in value.items())
                out.write(f"{prefix}{key}: {{{inner}}}\n")
            elif isinstance(value, list):
                out.write(f"{prefix}{key}: [{', '.join(yaml_scalar(v) for v in value)}]\n")
            else:
                out.write(f"{prefix}{key}: {yaml_scalar(value)}\n")
        out.write("\n")
    return out.getvalue().rstrip("\n") + "\n"


def csv_text(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def fmt(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:.{places}f}"


def measurements_csv(rows: list[Row]) -> str:
    order = {k["id"]: i for i, k in enumerate(CATALOG)}
    rows = sorted(rows, key=lambda r: (order[r[0]], r[1]))
    table = [[k, d.isoformat(), fmt(v, CSV_PLACES[k]), fmt(t, 1)] for k, d, v, t in rows]
    return csv_text(["kpi_id", "period_end", "value", "target"], table)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def main() -> None:
    check_catalog()
    rows = weekly_rows() + monthly_rows()
    check_story(rows)
    files = {
        "kpis.yaml": catalog_yaml(),
        "measurements.csv": measurements_csv(rows),
        "initiatives.csv": csv_text(INITIATIVE_HEADER, INITIATIVES),
        "benefits.csv": csv_text(BENEFIT_HEADER, BENEFITS),
        "spend.csv": csv_text(SPEND_HEADER, spend_rows(rows)),
        "priorities.yaml": PRIORITIES_YAML,
        **{f"minutes/{name}": text for name, text in MINUTES.items()},
        **{f"params/{name}": text for name, text in PARAMS.items()},
    }
    for name, text in files.items():
        write(OUT_DIR / name, text)
        print(f"wrote {OUT_DIR / name}")


if __name__ == "__main__":
    main()
