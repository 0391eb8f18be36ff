"""Generate the seeded Northwind IT demo data set used by reviewkit's examples and tests.

Writes, next to this script:

* ``kpis.yaml`` - the KPI catalog (format: "KPI catalog (YAML)" in the data contract);
* ``measurements.csv`` - the long measurement table ``kpi_id,period_end,value,target``;
* ``measurements.xlsx`` (sheet ``measurements``) and ``measurements.parquet`` - the same rows, so
  every supported input format can be tested against identical data.

The numbers are synthetic but shaped to tell a story at the demo period end, Friday 2026-11-20
(README.md tells it): three KPIs red, three amber, one worsening into red in the final week, one
recovering, a stale feed, a few missing weeks, a per-row target override and rows for a KPI that
is not in the catalog. The script checks that story before writing anything, so a tweak that
breaks what the README promises fails loudly instead of silently changing the demo.

Usage: ``python data/demo/generate.py``. Only the standard library, numpy, pandas and PyYAML
(plus openpyxl and pyarrow, which pandas uses for the .xlsx and .parquet copies) are needed.
The output is deterministic: re-running it gives byte-identical files (the workbook's save
timestamps are pinned; the Parquet bytes can change only with the pyarrow version).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import operator
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import units  # data/demo/units.py, beside this script
import yaml

OUT_DIR = Path(__file__).resolve().parent

SEED = 20261120
# 104 weekly periods, each labelled by its Friday, ending on the demo period end.
FIRST_FRIDAY = dt.date(2024, 11, 29)
LAST_FRIDAY = dt.date(2026, 11, 20)
N_WEEKS = 104
# Monthly-only KPIs are measured on the month's last day; November 2026 has not closed yet at the
# demo period end, so the latest monthly row is October's.
FIRST_MONTH_END = dt.date(2024, 11, 30)
LAST_MONTH_END = dt.date(2026, 10, 31)

ALL_CADENCES = ["weekly", "monthly", "quarterly"]
MONTHLY_ONLY = ["monthly", "quarterly"]

Kpi = dict[str, Any]
Generator = Callable[[np.random.Generator, list[dt.date]], np.ndarray]


# --------------------------------------------------------------------------------------------
# YAML rendering
# --------------------------------------------------------------------------------------------


class _Flow(list[Any]):
    """A list rendered inline (``[weekly, monthly]``): block lists of single words are noise."""


class _FlowMap(dict[str, Any]):
    """A mapping rendered inline, used for per-cadence targets so each stays on one line."""


class _CatalogDumper(yaml.SafeDumper):
    """SafeDumper that indents block sequences under their key, as people write YAML by hand."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


def _represent_flow_map(dumper: yaml.SafeDumper, data: _FlowMap) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


_CatalogDumper.add_representer(_Flow, _represent_flow)
_CatalogDumper.add_representer(_FlowMap, _represent_flow_map)


def _per_cadence(weekly: float, monthly: float, quarterly: float) -> _FlowMap:
    """Per-cadence value for a KPI summed over time (the contract requires one per cadence)."""
    return _FlowMap(weekly=weekly, monthly=monthly, quarterly=quarterly)


# --------------------------------------------------------------------------------------------
# The catalog. Keys are in the order a reader wants them; the YAML keeps that order.
# --------------------------------------------------------------------------------------------

CATALOG: list[Kpi] = [
    # ---- Delivery ----------------------------------------------------------------------------
    {
        "id": "change_success_rate",
        "name": "Change success rate",
        "perspective": "Delivery",
        "direction": "higher_is_better",
        "target": 95,
        "amber": 90,
        "owner": "Change Manager",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "%",
        "kind": "leading",
        "aggregation": "mean",
        "headline": True,
        "definition": "Share of production changes implemented in the week that did not cause an "
        "incident, a rollback or an emergency fix within 72 hours.",
        "why_it_matters": "Failed changes are the largest single cause of our P1 incidents, so a "
        "falling rate warns of outages before clinicians feel them.",
        "action_if_off_track": "Require Change Advisory Board sign-off with a tested rollback plan "
        "for every EHR and network change until the rate is back on target for two weeks.",
    },
    {
        "id": "change_lead_time",
        "name": "Change lead time",
        "perspective": "Delivery",
        "direction": "lower_is_better",
        "target": 5,
        "amber": 8,
        "owner": "Head of Delivery",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "days",
        "kind": "leading",
        "aggregation": "mean",
        "definition": "Median working days from a change being approved to its deployment in "
        "production, over the changes deployed in the week (from the release pipeline export).",
        "why_it_matters": "Slow changes delay fixes and clinical improvements and push teams "
        "towards risky emergency changes.",
        "action_if_off_track": "Move pipeline-automation work to the top of the delivery backlog "
        "and clear the approval queue at the next Change Advisory Board.",
    },
    {
        "id": "milestones_on_time",
        "name": "Project milestones on time",
        "perspective": "Delivery",
        "direction": "higher_is_better",
        "target": 85,
        "owner": "Head of Delivery",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "%",
        "kind": "lagging",
        "aggregation": "mean",
        "definition": "Share of portfolio milestones due in the last four weeks that were met by "
        "their baselined date (a rolling four-week window, reported weekly).",
        "why_it_matters": "Late milestones delay the benefits the board funded, such as the "
        "e-prescribing roll-out and the data-centre exit.",
        "action_if_off_track": "Take every programme below target to the portfolio board with a "
        "re-plan or a scope-cut decision.",
    },
    # ---- Reliability -------------------------------------------------------------------------
    {
        "id": "ehr_availability",
        "name": "EHR availability",
        "perspective": "Reliability",
        "direction": "higher_is_better",
        "target": 99.9,
        "amber": 99.5,
        "owner": "Head of Infrastructure",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "%",
        "kind": "lagging",
        "aggregation": "mean",
        "headline": True,
        # Availability is a shared outcome: our data centres and network, the application team
        # and the EHR vendor's hosted services all have to be up.
        "contributors": _Flow(["Infrastructure", "Clinical Applications", "EHR vendor"]),
        "definition": "Minutes in which the electronic health record was usable at all four "
        "hospitals, as a share of all minutes in the week, measured by a synthetic clinician "
        "log-in every minute; planned downtime counts as unavailable.",
        "why_it_matters": "When the EHR is down, wards fall back to paper, medication checks slow "
        "down and results are missed.",
        "action_if_off_track": "Freeze non-urgent EHR changes and hold a joint problem review "
        "with the EHR vendor within five working days.",
    },
    {
        "id": "p1_incidents",
        "name": "P1 incidents",
        "perspective": "Reliability",
        "direction": "lower_is_better",
        # Summed over time, so targets are per cadence: ~4.3 weeks a month, 3 months a quarter.
        "target": _per_cadence(1, 4, 12),
        "amber": _per_cadence(2, 8, 24),
        "owner": "Service Operations Manager",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "count",
        "kind": "lagging",
        "aggregation": "sum",
        "headline": True,
        "definition": "Priority 1 incidents (a clinical service unavailable at a hospital, or a "
        "patient-safety risk) opened in the period.",
        "why_it_matters": "Each P1 disrupts patient care across a hospital; the count shows "
        "whether the estate is getting more or less stable.",
        "action_if_off_track": "Commission a problem review for each P1 and pause discretionary "
        "changes to the affected service until it is complete.",
    },
    {
        "id": "mttr_p1",
        "name": "Mean time to restore (P1/P2)",
        "perspective": "Reliability",
        "direction": "lower_is_better",
        "target": 4,
        "amber": 6,
        "owner": "Service Operations Manager",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "h",
        "kind": "lagging",
        "aggregation": "mean",
        # Restores need the desk, our engineers and the network supplier's field engineers.
        "contributors": _Flow(["Service Desk", "Infrastructure", "Network supplier"]),
        "definition": "Mean hours from logging to service restoration for priority 1 and 2 "
        "incidents resolved in the period (P2s are included so every week has a sample).",
        "why_it_matters": "Downtime procedures cope with short outages; long restores are what "
        "cancel clinics and divert ambulances.",
        "action_if_off_track": "Hold a restore-time review with the network supplier and invoke "
        "the contract's service-credit clause if restores stay above target for three weeks.",
    },
    {
        "id": "backup_success_rate",
        "name": "Backup success rate",
        "perspective": "Reliability",
        "direction": "higher_is_better",
        "target": 99,
        "amber": 97,
        "owner": "Head of Infrastructure",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "%",
        "kind": "leading",
        "aggregation": "mean",
        "definition": "Share of scheduled backup jobs for clinical and corporate systems that "
        "completed and passed verification in the week.",
        "why_it_matters": "A failed backup is invisible until the day we need to restore; this "
        "is our early warning on ransomware recovery.",
        "action_if_off_track": "Re-run failed jobs within 24 hours and hold a restore test of any "
        "system that misses two backups in a row.",
    },
    {
        "id": "peak_storage_utilisation",
        "name": "Peak storage utilisation",
        "perspective": "Reliability",
        "direction": "lower_is_better",
        "target": 80,
        "amber": 90,
        "owner": "Head of Infrastructure",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "%",
        "kind": "leading",
        # The risk is the worst day, not the average one, so periods roll up by their peak.
        "aggregation": "max",
        "definition": "Highest daily utilisation of the primary storage arrays in the period, as "
        "a share of usable capacity.",
        "why_it_matters": "Above 90% the arrays slow down and imaging and EHR response times "
        "suffer; new capacity takes eight weeks to buy and install.",
        "action_if_off_track": "Raise the purchase order for the next storage shelf and start "
        "archiving cold imaging studies.",
    },
    # ---- Risk control ------------------------------------------------------------------------
    {
        "id": "critical_patch_compliance",
        "name": "Critical patch compliance",
        "perspective": "Risk control",
        "direction": "higher_is_better",
        "target": 95,
        "amber": 90,
        "owner": "CISO",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "%",
        "kind": "leading",
        "aggregation": "mean",
        "headline": True,
        "definition": "Share of servers and end-user devices with every critical security patch "
        "installed within 14 days of release, measured at the end of the week.",
        "why_it_matters": "Unpatched critical vulnerabilities are the usual way ransomware gets "
        "into hospitals.",
        "action_if_off_track": "Authorise extra out-of-hours patch windows with clinical sign-off "
        "and isolate devices that cannot be patched.",
    },
    {
        "id": "open_critical_vulns",
        "name": "Open critical vulnerabilities",
        "perspective": "Risk control",
        "direction": "lower_is_better",
        "target": 15,
        "amber": 25,
        "owner": "CISO",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "count",
        "kind": "leading",
        # A stock, not a flow: the exposure we carry is the latest count, not an average; the
        # group's exposure is every unit's added up.
        "aggregation": "last",
        "rollup": "sum",
        "definition": "Critical (CVSS 9.0 or higher) vulnerabilities open on internet-facing or "
        "clinical systems at the end of the period.",
        "why_it_matters": "It is the exposure an attacker sees today; the longer the list, the "
        "likelier a breach.",
        "action_if_off_track": "Give each open critical vulnerability a named owner and fix date, "
        "and take any that cannot be fixed to the risk committee for formal acceptance.",
    },
    {
        "id": "security_incidents",
        "name": "Security incidents",
        "perspective": "Risk control",
        "direction": "lower_is_better",
        "target": _per_cadence(3, 13, 39),
        "amber": _per_cadence(5, 21, 63),
        "owner": "CISO",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "count",
        "kind": "lagging",
        "aggregation": "sum",
        "definition": "Confirmed information-security incidents (malware, account compromise, "
        "data-handling breaches) opened in the period.",
        "why_it_matters": "Incidents are what our security controls exist to prevent; a rising "
        "count means the controls are not working.",
        "action_if_off_track": "Brief the Senior Information Risk Owner and commission a control "
        "review of the most frequent incident type.",
    },
    {
        "id": "phishing_click_rate",
        "name": "Phishing simulation click rate",
        "perspective": "Risk control",
        "direction": "lower_is_better",
        "target": 5,
        "amber": 8,
        "owner": "CISO",
        "cadences": _Flow(MONTHLY_ONLY),
        "unit": "%",
        "kind": "leading",
        "aggregation": "mean",
        "definition": "Share of staff who clicked the link in the month's simulated phishing "
        "email (one campaign a month, reported on the month's last day).",
        "why_it_matters": "Phishing is how most attacks on hospitals start; a falling click rate "
        "is an early sign of a safer workforce.",
        "action_if_off_track": "Assign targeted training to departments above the amber line and "
        "ask their directors to chase completion.",
    },
    # ---- Cost discipline ---------------------------------------------------------------------
    {
        "id": "cloud_spend",
        "name": "Cloud spend run-rate",
        "perspective": "Cost discipline",
        "direction": "lower_is_better",
        "target": 42,
        "amber": 46,
        "owner": "Finance Business Partner",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "£k",
        "kind": "lagging",
        # A weekly run-rate, so it rolls up by mean: summing Friday rows would make every month
        # with five Fridays look over budget. The group's run-rate is its units' added up.
        "aggregation": "mean",
        "rollup": "sum",
        "headline": True,
        "definition": "Cloud and hosting spend incurred in the week, from the providers' billing "
        "exports, in thousands of pounds; monthly and quarterly values are the average weekly "
        "run-rate.",
        "why_it_matters": "Cloud is our fastest-growing cost line and can overrun silently; the "
        "weekly run-rate catches waste within days, not at month-end close.",
        "action_if_off_track": "Have the FinOps group switch off idle resources and renew lapsed "
        "reservations, and hold new cloud workloads until the run-rate is back under target.",
    },
    {
        "id": "opex_variance",
        "name": "Opex variance to budget",
        "perspective": "Cost discipline",
        "direction": "lower_is_better",
        "target": 1,
        "owner": "Finance Business Partner",
        "cadences": _Flow(MONTHLY_ONLY),
        "unit": "%",
        "kind": "lagging",
        "aggregation": "mean",
        "spend_line": "Total",
        "definition": "IT operating spend for the month against the month's budget, as a "
        "percentage (positive means overspend), from the ledger after month-end close.",
        "why_it_matters": "The group's savings plan depends on IT staying within budget; "
        "overspend now means cancelled projects later.",
        "action_if_off_track": "Agree compensating savings with budget holders at the next "
        "finance review, or take a budget-change request to the executive team.",
    },
    # ---- Customer ----------------------------------------------------------------------------
    {
        "id": "service_desk_csat",
        "name": "Service desk satisfaction",
        "perspective": "Customer",
        "direction": "higher_is_better",
        "target": 90,
        "amber": 85,
        "owner": "Service Desk Lead",
        "cadences": _Flow(ALL_CADENCES),
        "unit": "%",
        "kind": "lagging",
        "aggregation": "mean",
        "headline": True,
        # Measured by hand: each site lead enters the week's survey score in the review round.
        "manual": True,
        "definition": "Share of post-ticket survey responses in the week that rate the service "
        "desk 4 or 5 out of 5.",
        "why_it_matters": "It is staff's daily experience of IT, and it falls before complaints "
        "and workarounds appear.",
        "action_if_off_track": "Add temporary agents on the busiest shifts and review the ten "
        "lowest-rated tickets with the team every week.",
        # Each hospital's site IT lead answers for the desk's service to that hospital.
        "owners": {"NGH": "Site IT Lead, North General", "SAH": "Site IT Lead, St Anne's",
                   "RCH": "Site IT Lead, Riverside", "EWC": "Site IT Lead, Eastfield"},
    },
    {
        "id": "clinician_satisfaction",
        "name": "Clinician satisfaction with IT",
        "perspective": "Customer",
        "direction": "higher_is_better",
        "target": 7.5,
        "owner": "Head of Delivery",
        "cadences": _Flow(MONTHLY_ONLY),
        "unit": "score",
        "kind": "lagging",
        "aggregation": "mean",
        "definition": "Mean answer (0 to 10) of clinical staff to 'How well does IT help you care "
        "for patients?' in the monthly pulse survey, which closes on the month's last day.",
        "why_it_matters": "It shows whether IT gives clinicians time back for patients or takes "
        "it away.",
        "action_if_off_track": "Take the lowest-scoring theme in the survey comments to the "
        "clinical digital board and fund one fix for it next quarter.",
    },
]

# Decimal places each KPI's values are reported with (counts are whole numbers).
DECIMALS: dict[str, int] = {
    "ehr_availability": 2,
    "p1_incidents": 0,
    "open_critical_vulns": 0,
    "security_incidents": 0,
}
DEFAULT_DECIMALS = 1

# Data-quality features the demo must exercise (see the contract's data-quality appendix):
# three isolated weeks where the release-pipeline export failed: rows present, value empty;
GAPS: dict[str, list[dt.date]] = {
    "change_lead_time": [dt.date(2025, 3, 14), dt.date(2025, 8, 1), dt.date(2026, 2, 20)],
}
# the backup feed stopped when the backup platform was migrated, three weeks before the end;
STALE_AFTER: dict[str, dt.date] = {"backup_success_rate": dt.date(2026, 10, 30)}
# during the June 2025 EHR upgrade go-live the portfolio board agreed a lower milestone target;
TARGET_OVERRIDES: dict[str, dict[dt.date, float]] = {
    "milestones_on_time": {dt.date(2025, 6, day): 70.0 for day in (6, 13, 20, 27)},
}
# and the new backup platform reports a job count under its own id, which no KPI in the catalog
# has: the packs list these rows in the data-quality appendix.
UNKNOWN_ROWS: list[tuple[str, dt.date, float]] = [
    ("legacy_backup_jobs", dt.date(2026, 11, 6), 1412),
    ("legacy_backup_jobs", dt.date(2026, 11, 13), 1398),
    ("legacy_backup_jobs", dt.date(2026, 11, 20), 1405),
]

# The weekly story the README tells; checked before anything is written.
EXPECTED_STATUS: dict[dt.date, dict[str, str]] = {
    dt.date(2026, 11, 13): {
        "change_success_rate": "amber",
        "ehr_availability": "amber",
        "service_desk_csat": "amber",
        "mttr_p1": "red",
        "open_critical_vulns": "red",
        "backup_success_rate": "no_data",
    },
    dt.date(2026, 11, 20): {
        "change_success_rate": "red",
        "mttr_p1": "red",
        "open_critical_vulns": "red",
        "ehr_availability": "amber",
        "service_desk_csat": "amber",
        "cloud_spend": "amber",
        "backup_success_rate": "no_data",
    },
}  # every other weekly KPI must be green on both dates


# --------------------------------------------------------------------------------------------
# Series generators: a plausible base process (level, drift, seasonality, noise) per KPI, then
# a few pinned recent values so the story at 2026-11-20 does not depend on the noise draw.
# --------------------------------------------------------------------------------------------


def _winter(dates: list[dt.date]) -> np.ndarray:
    """+1 in mid-January, -1 in mid-July: winter pressures hit hospitals and their IT alike."""
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
    return np.cos(2 * math.pi * (doy - 15) / 365.25)


def _drift(dates: list[dt.date], start: float, end: float) -> np.ndarray:
    return np.linspace(start, end, len(dates))


def _pin(dates: list[dt.date], values: np.ndarray, start: str, pinned: list[float]) -> np.ndarray:
    """Overwrite consecutive values from the ``start`` date on (the scripted part of the story)."""
    out = np.array(values, dtype=float)
    first = dates.index(dt.date.fromisoformat(start))
    if first + len(pinned) > len(dates):
        raise ValueError(f"pinned values from {start} run past the last period")
    out[first : first + len(pinned)] = pinned
    return out


def _clip(values: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    return np.asarray(np.clip(values, low, high), dtype=float)


def _gen_change_success_rate(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    # Fewer, safer changes in the December freeze; then a new integration-engine release train
    # from October 2026 fails repeatedly and drags the rate from green through amber to red.
    base = _clip(96.5 + 0.4 * _winter(dates) + rng.normal(0, 1.1, len(dates)), 86, 100)
    return _pin(dates, base, "2026-10-02", [96.4, 96.1, 95.3, 94.1, 93.6, 92.4, 91.3, 88.1])


def _gen_change_lead_time(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    # Two years of pipeline automation bring lead time down from amber to comfortably green;
    # the Christmas change freeze adds a bump every year.
    in_freeze = [(d.month == 12 and d.day >= 15) or (d.month == 1 and d.day <= 7) for d in dates]
    freeze = 2.0 * np.array(in_freeze, dtype=float)
    return _clip(_drift(dates, 6.8, 3.9) + freeze + rng.normal(0, 0.45, len(dates)), 1.5, None)


def _gen_milestones_on_time(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    # A rolling four-week share, so the weekly series is smoothed rather than white noise.
    raw = 89.5 + rng.normal(0, 6.0, len(dates) + 3)
    rolled = _clip(np.convolve(raw, np.ones(4) / 4, mode="valid"), 50, 100)
    # The EHR upgrade go-live (June 2025) pulled staff off projects; the board lowered the
    # target for those four weeks (see TARGET_OVERRIDES).
    return _pin(dates, rolled, "2025-06-06", [78.5, 74.0, 72.5, 76.5])


def _gen_ehr_availability(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    # Built from downtime minutes: a few minutes of blips most weeks, an occasional real outage
    # (more often in winter), and rare major ones.
    minutes = rng.gamma(2.0, 2.0, len(dates))
    winter = _clip(_winter(dates), 0, None)
    outage = rng.random(len(dates)) < 0.10 + 0.06 * winter
    minutes += outage * rng.uniform(15, 45, len(dates))
    major = rng.random(len(dates)) < 0.015
    minutes += major * rng.uniform(60, 200, len(dates))
    availability = 100 * (1 - minutes / (7 * 24 * 60))
    # Three amber weeks in a row after failed integration-engine changes (see change success).
    return _pin(dates, availability, "2026-10-23", [99.95, 99.93, 99.71, 99.62, 99.78])


def _gen_p1_incidents(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    counts = rng.poisson(0.65 + 0.3 * _clip(_winter(dates), 0, None)).astype(float)
    return _pin(dates, counts, "2026-11-06", [1, 0, 1])


def _gen_mttr_p1(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    hours = 3.3 * np.exp(rng.normal(0, 0.2, len(dates))) + 0.3 * _winter(dates)
    # The network supplier changed on 1 September 2026; its field engineers are slow to reach
    # the hospitals, so restores jump into red and stay there (a long red streak, not a trend).
    hours = _pin(dates, hours, "2026-09-04", [4.6, 5.3, 6.4, 6.9, 7.3, 6.8])
    return _pin(dates, hours, "2026-10-16", [7.5, 7.0, 7.4, 6.9, 7.6, 7.2])


def _gen_backup_success_rate(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    rate = 99.35 + rng.normal(0, 0.3, len(dates))
    dips = rng.random(len(dates)) < 0.06
    rate = _clip(rate - dips * rng.uniform(1.0, 3.0, len(dates)), 90, 100)
    # Jobs failed while workloads moved to the new backup platform in October 2026; then the old
    # platform's feed stopped (see STALE_AFTER) and the new one reports under another id.
    return _pin(dates, rate, "2026-10-16", [97.8, 97.4, 97.8])


def _gen_peak_storage_utilisation(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    # A sawtooth: steady growth from imaging (data volumes do not random-walk), then a drop when
    # a new shelf is installed; the day-to-day noise sits on top of the trend.
    expansions = {
        dt.date(2025, 5, 16): 14.0,
        dt.date(2026, 1, 16): 12.0,
        dt.date(2026, 8, 21): 13.0,
    }
    level = 71.0
    peaks = []
    for d in dates:
        level += 0.45 - expansions.get(d, 0.0)
        peaks.append(level + abs(rng.normal(0, 0.8)))
    return _clip(np.array(peaks), 0, 100)


def _gen_critical_patch_compliance(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    base = _clip(95.8 - 0.8 * _winter(dates) + rng.normal(0, 1.4, len(dates)), 70, 100)
    # An operating-system feature update in August 2026 swamped the patch pipeline (red all
    # September); extra patch windows from October bring it back to green by mid-November.
    base = _pin(dates, base, "2026-08-07", [92.1, 90.4, 89.2, 88.1, 87.5, 86.2, 87.0, 86.4])
    return _pin(dates, base, "2026-10-02", [86.9, 88.4, 89.7, 91.2, 92.6, 93.9, 95.2, 96.1])


def _gen_open_critical_vulns(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    # A stock: each week new findings arrive and about 30% of the open ones are fixed.
    open_count = 10
    counts = []
    for w in _clip(_winter(dates), 0, None):
        new = int(rng.poisson(3.5 + 0.8 * w))
        fixed = int(rng.binomial(open_count + new, 0.3))
        open_count += new - fixed
        counts.append(float(open_count))
    # Mid-October vendor advisories for the imaging servers and the VPN appliances add a batch
    # that cannot be fixed without downtime, so the count sits in red.
    return _pin(dates, np.array(counts), "2026-10-16", [27, 31, 29, 30, 28, 29])


def _gen_security_incidents(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    counts = rng.poisson(1.9 + 0.4 * _clip(_winter(dates), 0, None)).astype(float)
    return _pin(dates, counts, "2026-11-13", [2, 2])


def _gen_phishing_click_rate(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    # The awareness programme steadily halves the click rate over two years.
    rate = _clip(_drift(dates, 9.8, 4.3) + rng.normal(0, 0.6, len(dates)), 0.5, None)
    return _pin(dates, rate, "2026-10-31", [4.4])


def _gen_cloud_spend(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    spend = _drift(dates, 35.5, 40.0) + rng.normal(0, 1.2, len(dates))
    spikes = rng.random(len(dates)) < 0.05
    spend += spikes * rng.uniform(3, 7, len(dates))
    # A lapsed reserved-instance commitment moves the imaging archive to on-demand prices.
    return _pin(dates, spend, "2026-11-06", [40.3, 41.2, 44.6])


def _gen_opex_variance(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    # Winter brings agency and contractor costs; autumn 2026 energy prices push it over budget.
    variance = -0.3 + 0.6 * _winter(dates) + rng.normal(0, 0.8, len(dates))
    return _pin(dates, variance, "2026-09-30", [1.4, 2.3])


def _gen_service_desk_csat(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    base = _clip(92.0 - 0.8 * _winter(dates) + rng.normal(0, 1.0, len(dates)), 70, 99.5)
    # Two agents left in September and their replacements started late: a steady slide to amber.
    return _pin(dates, base, "2026-10-02", [92.3, 91.8, 91.0, 90.6, 89.8, 89.3, 88.6, 87.2])


def _gen_clinician_satisfaction(rng: np.random.Generator, dates: list[dt.date]) -> np.ndarray:
    score = _clip(_drift(dates, 7.4, 7.7) + rng.normal(0, 0.2, len(dates)), 0, 10)
    return _pin(dates, score, "2026-10-31", [7.7])


GENERATORS: dict[str, Generator] = {
    "change_success_rate": _gen_change_success_rate,
    "change_lead_time": _gen_change_lead_time,
    "milestones_on_time": _gen_milestones_on_time,
    "ehr_availability": _gen_ehr_availability,
    "p1_incidents": _gen_p1_incidents,
    "mttr_p1": _gen_mttr_p1,
    "backup_success_rate": _gen_backup_success_rate,
    "peak_storage_utilisation": _gen_peak_storage_utilisation,
    "critical_patch_compliance": _gen_critical_patch_compliance,
    "open_critical_vulns": _gen_open_critical_vulns,
    "security_incidents": _gen_security_incidents,
    "phishing_click_rate": _gen_phishing_click_rate,
    "cloud_spend": _gen_cloud_spend,
    "opex_variance": _gen_opex_variance,
    "service_desk_csat": _gen_service_desk_csat,
    "clinician_satisfaction": _gen_clinician_satisfaction,
}


# --------------------------------------------------------------------------------------------
# Building the measurement rows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One measurement row; ``value`` None is written as an empty cell (a missing value)."""

    kpi_id: str
    period_end: dt.date
    value: float | None
    target: float | None
    decimals: int


def weekly_dates() -> list[dt.date]:
    dates = [FIRST_FRIDAY + dt.timedelta(weeks=i) for i in range(N_WEEKS)]
    if dates[-1] != LAST_FRIDAY:
        raise ValueError(f"weekly calendar ends {dates[-1]}, expected {LAST_FRIDAY}")
    return dates


def month_end_dates() -> list[dt.date]:
    dates: list[dt.date] = []
    year, month = FIRST_MONTH_END.year, FIRST_MONTH_END.month
    while True:
        next_first = dt.date(year + month // 12, month % 12 + 1, 1)
        month_end = next_first - dt.timedelta(days=1)
        if month_end > LAST_MONTH_END:
            return dates
        dates.append(month_end)
        year, month = next_first.year, next_first.month


def _rng_for(kpi_id: str) -> np.random.Generator:
    # One stream per KPI, keyed by its id, so editing one KPI's model never reshuffles the others.
    return np.random.default_rng([SEED, zlib.crc32(kpi_id.encode())])


def build_rows() -> list[Row]:
    rows: list[Row] = []
    for kpi in CATALOG:
        kpi_id = kpi["id"]
        dates = weekly_dates() if "weekly" in kpi["cadences"] else month_end_dates()
        values = GENERATORS[kpi_id](_rng_for(kpi_id), dates)
        decimals = DECIMALS.get(kpi_id, DEFAULT_DECIMALS)
        gaps = set(GAPS.get(kpi_id, []))
        overrides = TARGET_OVERRIDES.get(kpi_id, {})
        stale_after = STALE_AFTER.get(kpi_id)
        for day, raw in zip(dates, values, strict=True):
            if stale_after is not None and day > stale_after:
                continue  # the feed stopped: no rows at all, unlike a gap
            value = None if day in gaps else round(float(raw), decimals)
            rows.append(Row(kpi_id, day, value, overrides.get(day), decimals))
    rows.extend(Row(kpi_id, day, value, None, 0) for kpi_id, day, value in UNKNOWN_ROWS)
    return rows


# --------------------------------------------------------------------------------------------
# Checks: the catalog obeys the contract and the data tells the README's story.
# --------------------------------------------------------------------------------------------


def _for_cadence(threshold: Any, cadence: str) -> float | None:
    if threshold is None:
        return None
    return float(threshold[cadence]) if isinstance(threshold, dict) else float(threshold)


def rag(value: float | None, target: float, amber: float | None, direction: str) -> str:
    """The contract's status rule."""
    if value is None:
        return "no_data"
    better = operator.ge if direction == "higher_is_better" else operator.le
    if better(value, target):
        return "green"
    if amber is not None and better(value, amber):
        return "amber"
    return "red"


def check_catalog(catalog: list[Kpi]) -> None:
    ids = [k["id"] for k in catalog]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate KPI ids")
    headline = [k["id"] for k in catalog if k.get("headline")]
    if len(headline) != 6:
        raise ValueError(f"expected 6 headline KPIs, got {headline}")
    for kpi in catalog:
        if not re.fullmatch(r"[a-z0-9_]+", kpi["id"]):
            raise ValueError(f"bad id {kpi['id']!r}")
        if kpi.get("headline") and "weekly" not in kpi["cadences"]:
            raise ValueError(f"{kpi['id']}: headline KPIs must be weekly")
        for cadence in kpi["cadences"]:
            target = _for_cadence(kpi["target"], cadence)
            amber = _for_cadence(kpi.get("amber"), cadence)
            if target is None:
                raise ValueError(f"{kpi['id']}: no target for {cadence}")
            bad_side = amber is None or (
                amber < target if kpi["direction"] == "higher_is_better" else amber > target
            )
            if not bad_side:
                raise ValueError(f"{kpi['id']}: amber {amber} is not on the bad side of {target}")


def weekly_status(rows: list[Row], day: dt.date) -> dict[str, str]:
    """Status of every weekly KPI for the week ending ``day`` (one row per week in this data)."""
    by_key = {(r.kpi_id, r.period_end): r for r in rows}
    status = {}
    for kpi in CATALOG:
        if "weekly" not in kpi["cadences"]:
            continue
        row = by_key.get((kpi["id"], day))
        value = row.value if row else None
        target = row.target if row and row.target is not None else None
        if target is None:
            target = _for_cadence(kpi["target"], "weekly")
        assert target is not None  # check_catalog guarantees a weekly target
        status[kpi["id"]] = rag(
            value, target, _for_cadence(kpi.get("amber"), "weekly"), kpi["direction"]
        )
    return status


def check_story(rows: list[Row]) -> None:
    keys = [(r.kpi_id, r.period_end) for r in rows]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate (kpi_id, period_end) rows")
    for day, expected in EXPECTED_STATUS.items():
        actual = weekly_status(rows, day)
        wanted = {kpi_id: expected.get(kpi_id, "green") for kpi_id in actual}
        if actual != wanted:
            diff = {k: (wanted[k], actual[k]) for k in actual if actual[k] != wanted[k]}
            raise ValueError(f"story broken at {day}: (expected, actual) {diff}")


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------

CATALOG_HEADER = """\
# Northwind IT - KPI catalog for the reviewkit demo.
# Generated by data/demo/generate.py: edit that script and re-run it rather than this file.
# Format: "KPI catalog (YAML)" in the data contract. `headline` and `contributors` are optional
# extras: the six headline tiles, and the teams that share a KPI's outcome.

"""


def write_catalog(path: Path) -> None:
    text = yaml.dump(
        {"kpis": CATALOG},
        Dumper=_CatalogDumper,
        sort_keys=False,
        allow_unicode=True,
        width=76,  # PyYAML's wrap width is a soft limit; this keeps lines under 100 characters
    )
    # A blank line between KPIs (not before the first) makes the file much easier to scan.
    text = text.replace("\n  - id: ", "\n\n  - id: ").replace("kpis:\n\n", "kpis:\n", 1)
    path.write_text(CATALOG_HEADER + text, encoding="utf-8")


def _fmt(value: float | None, decimals: int) -> str:
    return "" if value is None else f"{value:.{decimals}f}"


def write_csv(path: Path, rows: list[units.UnitRow]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["kpi_id", "period_end", "value", "target", "segment", "count"])
        for r in rows:
            writer.writerow(
                [
                    r.kpi_id,
                    r.period_end.isoformat(),
                    r.value_text,
                    _fmt(r.target, r.decimals),
                    r.segment,
                    "" if r.count is None else str(r.count),
                ]
            )


def to_frame(rows: list[units.UnitRow]) -> pd.DataFrame:
    # period_end stays a real date (date cells in Excel, date32 in Parquet) so readers of those
    # formats are tested on native dates, not ISO strings.
    return pd.DataFrame(
        {
            "kpi_id": [r.kpi_id for r in rows],
            "period_end": [r.period_end for r in rows],
            "value": np.array([np.nan if r.value is None else r.value for r in rows], dtype=float),
            "target": np.array(
                [np.nan if r.target is None else r.target for r in rows], dtype=float
            ),
            "segment": [r.segment for r in rows],
            "count": np.array([np.nan if r.count is None else r.count for r in rows],
                              dtype=float),
        }
    )


def write_xlsx(path: Path, frame: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl", date_format="YYYY-MM-DD") as writer:
        frame.to_excel(writer, sheet_name="measurements", index=False)
    # openpyxl stamps the save time into docProps/core.xml and into every zip entry. Pin both so
    # the committed workbook only changes when the data does.
    stamp = b"2026-11-20T00:00:00Z"
    with (
        zipfile.ZipFile(buffer) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp, data)
            pinned = zipfile.ZipInfo(info.filename, date_time=(2026, 11, 20, 0, 0, 0))
            dst.writestr(pinned, data, compress_type=zipfile.ZIP_DEFLATED)


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    frame.to_parquet(path, engine="pyarrow", index=False)


def _month_end(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1) - dt.timedelta(days=1)


def _quarter_end(day: dt.date) -> dt.date:
    return _month_end(dt.date(day.year, (day.month - 1) // 3 * 3 + 3, 1))


def main() -> None:
    check_catalog(CATALOG)
    rows = build_rows()
    check_story(rows)
    unit_rows = units.split(rows, CATALOG)
    units.check_roll_up(rows, unit_rows, CATALOG,
                        {"weekly": lambda day: day, "monthly": _month_end,
                         "quarterly": _quarter_end},
                        rag, _for_cadence)
    write_catalog(OUT_DIR / "kpis.yaml")
    write_csv(OUT_DIR / "measurements.csv", unit_rows)
    frame = to_frame(unit_rows)
    write_xlsx(OUT_DIR / "measurements.xlsx", frame)
    write_parquet(OUT_DIR / "measurements.parquet", frame)
    print(f"wrote {len(CATALOG)} KPIs and {len(unit_rows)} measurement rows ({len(rows)} group "
          f"figures over {len(units.UNITS)} units) to {OUT_DIR}")


if __name__ == "__main__":
    main()
