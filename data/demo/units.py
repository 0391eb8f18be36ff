"""Split the demo's group measurements into its seven units, so the units roll back up to them.

Northwind IT serves four hospitals and three shared services; ``generate.py`` writes the group
figures the README's story is told in, and this module turns each group row into one row per
unit (``segment``) whose roll-up, by the KPI's ``rollup`` rule in the catalog, is that group
figure exactly:

* a **mean** KPI weighs each unit by its ``count`` (changes, incidents, devices, survey
  answers); every unit's value is the group's plus the unit's own lean and some noise, and the
  last unit's value is solved so the weighted mean is the group's figure to the last bit;
* a **sum** (incidents, vulnerabilities, cloud spend) is split in whole counts (or tenths of
  £k) by each unit's share, plus noise;
* a **max** (peak storage) is reached by the data centre, the other units sitting below it;
* ``opex_variance`` comes from the group's ledger and stays a group row (no segment).

A unit's count is the same every week, so a month's mean over units is the mean over weeks of
the weekly group figures, as before. ``check_roll_up`` proves every weekly, monthly and
quarterly status is unchanged before anything is written (the packs' snapshots pin the rest).
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

SEED = 20261120

#: (segment, share of the organisation's work, lean: how much worse than the group it runs,
#: in amber bands). The names, owners and ids are the params file's (params/units/).
UNITS: list[tuple[str, float, float]] = [
    ("NGH", 0.24, 0.25),   # North General Hospital, the largest
    ("SAH", 0.18, -0.2),   # St Anne's Hospital
    ("RCH", 0.12, 0.1),    # Riverside Community Hospital
    ("EWC", 0.14, -0.1),   # Eastfield Women's & Children's Hospital
    ("CMH", 0.12, 0.35),   # Community & Mental Health Services
    ("CORP", 0.10, -0.3),  # Corporate Services
    ("DCN", 0.10, 0.0),    # Data Centre & Network (solved last, and the storage peak)
]
#: KPIs that stay the group's own rows: the ledger knows only the group's budget.
GROUP_ONLY = {"opex_variance"}
#: Rows of KPIs not in the catalog go to the unit whose system sends them.
UNKNOWN_UNIT = "DCN"
#: What a mean KPI's count is, per unit for its share of 1.0 (so a share of 0.24 → 24 %).
COUNT_SCALE: dict[str, int] = {
    "change_success_rate": 100,  # changes a week
    "change_lead_time": 100,
    "milestones_on_time": 50,  # milestones due in the window
    "ehr_availability": 0,  # 0: every unit weighs the same (minutes are the same length)
    "mttr_p1": 40,  # P1/P2 incidents resolved
    "backup_success_rate": 2000,  # backup jobs
    "critical_patch_compliance": 6000,  # devices
    "phishing_click_rate": 9000,  # staff emailed
    "service_desk_csat": 400,  # survey answers
    "clinician_satisfaction": 1500,  # clinicians answering
}
#: How far units spread around the group figure, in the KPI's own unit.
SPREAD: dict[str, float] = {
    "change_success_rate": 2.5, "change_lead_time": 0.8, "milestones_on_time": 4.0,
    "ehr_availability": 0.12, "mttr_p1": 0.8, "backup_success_rate": 0.5,
    "critical_patch_compliance": 1.5, "phishing_click_rate": 0.8, "service_desk_csat": 1.8,
    "clinician_satisfaction": 0.25, "peak_storage_utilisation": 6.0,
}
#: Values that cannot leave these bounds (percentages, scores).
BOUNDS: dict[str, tuple[float, float]] = {"clinician_satisfaction": (0.0, 10.0)}


#: reviewkit rounds every computed figure to 9 decimal places (evaluate.FIGURE_DECIMALS).
FIGURE_DECIMALS = 9
#: How close a weekly roll-up must come to the group's figure when it cannot be exact (a few
#: units in the last place; packs show at most six decimals).
CLOSE = 1e-13


class GroupRow(Protocol):
    kpi_id: str
    period_end: dt.date
    value: float | None
    target: float | None
    decimals: int


@dataclass(frozen=True)
class UnitRow:
    """One measurement row of one unit (``segment``) with the count it summarises."""

    kpi_id: str
    period_end: dt.date
    value: float | None
    target: float | None
    decimals: int
    segment: str
    count: int | None
    value_text: str  # the value as written (a solved value carries more digits)


def _rule(kpi: dict[str, Any]) -> str:
    rollup = kpi.get("rollup")
    if rollup:
        return str(rollup)
    return {"last": "latest"}.get(kpi["aggregation"], kpi["aggregation"])


def _counts(kpi_id: str) -> list[int | None]:
    scale = COUNT_SCALE.get(kpi_id)
    if scale is None:
        return [None] * len(UNITS)
    if scale == 0:
        return [1] * len(UNITS)
    return [max(1, round(share * scale)) for _, share, _ in UNITS]


def _text(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _bounds(kpi: dict[str, Any]) -> tuple[float, float]:
    if kpi["id"] in BOUNDS:
        return BOUNDS[kpi["id"]]
    return (0.0, 100.0) if kpi.get("unit") == "%" else (0.0, math.inf)


def _split_mean(rng: np.random.Generator, kpi: dict[str, Any], group: float,
                decimals: int, counts: list[int]) -> list[str]:
    """Unit values (as text) whose count-weighted mean is ``group`` exactly as a float."""
    low, high = _bounds(kpi)
    # Near a bound (availability at 99.96 %) the units cannot spread far without one passing it.
    band = min(SPREAD[kpi["id"]], (high - group) / 3, (group - low) / 3)
    worse = -1.0 if kpi["direction"] == "higher_is_better" else 1.0
    target = float(f"{group:.{decimals}f}")
    total = math.fsum(counts)
    edges = [edge for key in ("target", "amber")
             for edge in _thresholds(kpi.get(key))]
    for _attempt in range(200):
        texts = []
        for (_, _, lean), _count in zip(UNITS[:-1], counts[:-1], strict=True):
            value = group + worse * lean * band + rng.normal(0, band / 2)
            texts.append(_text(min(high, max(low, value)), decimals))
        rest = math.fsum(c * float(t) for c, t in zip(counts[:-1], texts, strict=True))
        last = (target * total - rest) / counts[-1]
        if not low <= last <= high:
            continue
        # The solved value, written with a few more digits, nudged a step at a time until the
        # weighted mean lands on the group's figure to the last bit where a float allows it
        # (a sum of seven floats divided by seven cannot always hit it), else the nearest.
        best: tuple[float, list[str]] | None = None
        for extra in range(2, 10):
            step = 10.0 ** -(decimals + extra)
            for nudge in sorted(range(-30, 31), key=abs):
                candidate = _text(last + nudge * step, decimals + extra)
                if not low <= float(candidate) <= high:
                    continue
                values = [*texts, candidate]
                weighted = math.fsum(c * float(t) for c, t in zip(counts, values, strict=True))
                mean = round(weighted / total, FIGURE_DECIMALS)
                error = abs(mean - target)
                if error == 0:
                    return values
                # Off by a bit, but never across a threshold: 99.9 must stay ≥ a 99.9 target.
                same_side = all((mean >= edge) == (target >= edge) and
                                (mean <= edge) == (target <= edge) for edge in edges)
                if same_side and (best is None or error < best[0]):
                    best = (error, values)
        if best is not None and best[0] <= CLOSE * abs(target):
            return best[1]
    raise ValueError(f"{kpi['id']}: cannot split {group} into units")


def _thresholds(value: Any) -> list[float]:
    if value is None:
        return []
    return [float(v) for v in value.values()] if isinstance(value, dict) else [float(value)]


def _split_whole(rng: np.random.Generator, total: int) -> list[int]:
    shares = np.array([share for _, share, _ in UNITS]) * rng.uniform(0.6, 1.4, len(UNITS))
    return [int(n) for n in rng.multinomial(total, shares / shares.sum())]


def _split_sum(rng: np.random.Generator, group: float, decimals: int) -> list[str]:
    """Unit values (as text) that add up to ``group`` exactly as a float."""
    scale = 10 ** decimals
    whole = round(group * scale)
    target = float(_text(group, decimals))
    for _attempt in range(200):
        parts = _split_whole(rng, whole)
        texts = [_text(part / scale, decimals) for part in parts]
        if math.fsum(float(t) for t in texts) == target:
            return texts
    raise ValueError(f"cannot split {group} into units exactly")


def _split_max(rng: np.random.Generator, kpi: dict[str, Any], group: float,
               decimals: int) -> list[str]:
    """The data centre reaches the peak; every other unit sits below it."""
    band = SPREAD[kpi["id"]]
    texts = [_text(max(0.0, group - abs(rng.normal(band, band / 2))), decimals)
             for _ in UNITS[:-1]]
    return [*texts, _text(group, decimals)]


def split(rows: Sequence[GroupRow], catalog: list[dict[str, Any]]) -> list[UnitRow]:
    """One row per unit for every group row (the group's own KPIs and unknown KPIs kept)."""
    kpis = {kpi["id"]: kpi for kpi in catalog}
    out: list[UnitRow] = []
    streams: dict[str, np.random.Generator] = {}
    for row in rows:
        kpi = kpis.get(row.kpi_id)
        if kpi is None:
            out.append(UnitRow(row.kpi_id, row.period_end, row.value, row.target, row.decimals,
                               UNKNOWN_UNIT, None, _fmt(row.value, row.decimals)))
            continue
        if row.kpi_id in GROUP_ONLY:
            out.append(UnitRow(row.kpi_id, row.period_end, row.value, row.target, row.decimals,
                               "", None, _fmt(row.value, row.decimals)))
            continue
        rng = streams.setdefault(row.kpi_id, np.random.default_rng(
            [SEED, zlib.crc32(("units-" + row.kpi_id).encode())]))
        counts = _counts(row.kpi_id)
        if row.value is None:
            texts = [""] * len(UNITS)
        elif _rule(kpi) == "mean":
            texts = _split_mean(rng, kpi, row.value, row.decimals,
                                [c or 1 for c in counts])
        elif _rule(kpi) == "sum":
            texts = _split_sum(rng, row.value, row.decimals)
        elif _rule(kpi) == "max":
            texts = _split_max(rng, kpi, row.value, row.decimals)
        else:
            raise ValueError(f"{row.kpi_id}: no unit split for the rule {_rule(kpi)!r}")
        for (segment, _, _), count, text in zip(UNITS, counts, texts, strict=True):
            out.append(UnitRow(row.kpi_id, row.period_end, float(text) if text else None,
                               row.target, row.decimals, segment, count, text))
    return out


def _fmt(value: float | None, decimals: int) -> str:
    return "" if value is None else _text(value, decimals)


# --------------------------------------------------------------------------------------------
# The check: the units' roll-up gives the group's figures and statuses, period by period.
# --------------------------------------------------------------------------------------------


def _combine(kpi: dict[str, Any], rows: Sequence[tuple[str, float, float]]) -> float | None:
    """reviewkit's figure of a period (see reviewkit.evaluation.evaluate.combine): each unit
    over time by ``aggregation``, then across units by ``rollup``; (segment, value, count)."""
    if not rows:
        return None
    aggregation, rule = kpi["aggregation"], _rule(kpi)

    def over_time(part: Sequence[tuple[str, float, float]]) -> float:
        values = [v for _, v, _ in part]
        if aggregation == "mean":
            return math.fsum(c * v for _, v, c in part) / math.fsum(c for _, _, c in part)
        return {"sum": math.fsum, "max": max, "min": min,
                "last": lambda vs: vs[-1]}[aggregation](values)

    segments: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for item in rows:
        segments[item[0]].append(item)
    if len(segments) == 1 or (rule == "mean" and aggregation == "mean"):
        return round(over_time(rows), FIGURE_DECIMALS)
    figures = [over_time(part) for part in segments.values()]
    combine: dict[str, Callable[[list[float]], float]] = {"sum": math.fsum, "max": max,
                                                          "min": min}
    return round(combine[rule](figures), FIGURE_DECIMALS)


def check_roll_up(group_rows: Sequence[GroupRow], unit_rows: Sequence[UnitRow],
                  catalog: list[dict[str, Any]],
                  periods: dict[str, Callable[[dt.date], dt.date]],
                  rag: Callable[[float | None, float, float | None, str], str],
                  threshold: Callable[[Any, str], float | None]) -> None:
    """Every period's group figure from the units equals the one from the group rows: exactly
    for weeks, and with the same status for months and quarters (sums of means may differ in
    the last bit)."""
    kpis = {kpi["id"]: kpi for kpi in catalog}
    for cadence, period_of in periods.items():
        before: dict[tuple[str, dt.date], list[tuple[str, float, float]]] = defaultdict(list)
        after: dict[tuple[str, dt.date], list[tuple[str, float, float]]] = defaultdict(list)
        for row in sorted(group_rows, key=lambda r: r.period_end):
            if row.value is not None and row.kpi_id in kpis:
                before[(row.kpi_id, period_of(row.period_end))].append(("", row.value, 1.0))
        for unit_row in sorted(unit_rows, key=lambda r: (r.period_end, r.segment)):
            if unit_row.value is not None and unit_row.kpi_id in kpis:
                after[(unit_row.kpi_id, period_of(unit_row.period_end))].append(
                    (unit_row.segment, unit_row.value, float(unit_row.count or 1)))
        if set(before) != set(after):
            raise ValueError(f"{cadence}: the units report other periods than the group")
        for key, rows in before.items():
            kpi = kpis[key[0]]
            if cadence not in kpi["cadences"]:
                continue
            was, now = _combine(kpi, rows), _combine(kpi, after[key])
            target = threshold(kpi["target"], cadence)
            assert target is not None
            amber = threshold(kpi.get("amber"), cadence)
            weekly = cadence == "weekly"
            off = was is None or now is None or abs(was - now) > CLOSE * max(1.0, abs(was))
            if (weekly and (was is None) != (now is None)) or (weekly and was is not None
                                                               and off) or rag(
                    was, target, amber, kpi["direction"]) != rag(now, target, amber,
                                                                 kpi["direction"]):
                raise ValueError(f"{key[0]} {cadence} {key[1]}: group {was}, units roll up "
                                 f"to {now}")
