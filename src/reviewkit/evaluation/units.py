"""Units beside their group: each unit's figures for the group pack's "units side by side" page,
and the consistency check that the group's figures are the roll-up of its units' figures.
Pure functions, like :mod:`.evaluate`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reviewkit.evaluation.evaluate import (
    KpiResult,
    aggregate,
    evaluate,
    evaluate_kpi,
    rag_status,
)
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.loaded import Inputs
from reviewkit.inputs.measurements import Observation
from reviewkit.inputs.units import Unit
from reviewkit.periods import Period

#: Figures in summary.json are rounded to 6 decimals, so a roll-up of rounded unit figures may
#: differ from the rounded group figure by a few millionths; more than this is a disagreement.
REL_TOLERANCE = 1e-6
ABS_TOLERANCE = 1e-5


@dataclass(frozen=True)
class UnitFigures:
    """One unit's results for the period, by KPI id (only the KPIs the unit reports)."""

    unit: Unit
    results: Mapping[str, KpiResult]
    #: KPIs the unit shows as its share of the group's figure (no target of its own).
    shares: Mapping[str, ShareOfGroup] = field(default_factory=dict)

    def result(self, kpi_id: str) -> KpiResult | None:
        return self.results.get(kpi_id)

    def share(self, kpi_id: str) -> ShareOfGroup | None:
        return self.shares.get(kpi_id)

def reported_by_units(kpi_id: str, units: Sequence[UnitFigures]) -> int:
    """How many units report a KPI (judged, or as their share of the group): none, and the
    group's figure is its own, not a roll-up."""
    return sum(1 for figures in units
               if figures.result(kpi_id) is not None or figures.share(kpi_id) is not None)


def unit_figures(inputs: Inputs, period: Period,
                 as_of: dt.date | None = None,
                 known: Mapping[str, UnitFigures] | None = None) -> tuple[UnitFigures, ...]:
    """Every unit of a group's inputs evaluated for ``period`` (the group pack shows them),
    each against its own targets; a KPI a unit shows as its share of the group is in its
    :attr:`UnitFigures.shares`. ``known``: units' results already evaluated for this whole
    period, by unit id (a batch hands on those of the units' own packs, so no unit is
    evaluated twice); used when the group's data, too, runs to the period's end."""
    figures = []
    group = {r.kpi.id: r for r in evaluate(
        [kpi for kpi in inputs.catalog.kpis if kpi.sums_units], inputs.measurements.series,
        period, history_length=inputs.params.values.history, as_of=as_of).results}
    whole = as_of is None or as_of >= period.end
    for unit in inputs.units:
        own = inputs.for_unit(unit)
        reused = (known or {}).get(unit.id) if whole else None
        if reused is not None:
            results = dict(reused.results)
        else:
            evaluation = evaluate(own.catalog.kpis, own.measurements.series, period,
                                  history_length=inputs.params.values.history,
                                  stale_after=inputs.params.values.stale_after, as_of=as_of)
            results = {r.kpi.id: r for r in evaluation.results}
        shares = {share.kpi.id: share for share in shares_of(own, period, as_of, group)}
        figures.append(UnitFigures(unit, results, shares))
    return tuple(figures)


@dataclass(frozen=True)
class ShareOfGroup:
    """A unit's figure for a KPI summed over the units that has no target of the unit's own:
    shown as its part of the group's figure, never judged against the group's target."""

    kpi: Kpi  # as the unit's pack names it (its owner)
    unit: KpiResult  # the unit's own series; its status is not shown (no target of its own)
    group: KpiResult  # the group's figure, judged against the group's target

    @property
    def value(self) -> float | None:
        return self.unit.value

    @property
    def share(self) -> float | None:
        """The unit's part of the group's figure (0-1), when both have one."""
        mine, total = self.unit.value, self.group.value
        if mine is None or total is None or total == 0:
            return None
        return mine / total


def shares_of(inputs: Inputs, period: Period, as_of: dt.date | None,
              group: Mapping[str, KpiResult] | None = None) -> tuple[ShareOfGroup, ...]:
    """A unit's shares of its group's figures (:attr:`Inputs.shares`) for ``period``;
    ``group``: the group's results, when already evaluated."""
    if not inputs.shares or inputs.group is None:
        return ()
    history = inputs.params.values.history
    if group is None:
        group_kpis = inputs.group.catalog.by_id()
        group = {r.kpi.id: r for r in evaluate(
            [group_kpis[kpi.id] for kpi in inputs.shares], inputs.group.measurements.series,
            period, history_length=history, as_of=as_of).results}
    shares = []
    for kpi in inputs.shares:
        if period.cadence not in kpi.cadences or kpi.id not in group:
            continue
        whole = group[kpi.id]
        rows = inputs.measurements.series.get(kpi.id, [])
        unit = evaluate_kpi(_scaled(kpi, whole, rows, period), period, rows,
                            history_length=max(history or 0, len(whole.history)), as_of=as_of)
        shares.append(ShareOfGroup(kpi, unit, whole))
    return tuple(shares)


def _scaled(kpi: Kpi, group: KpiResult, rows: Sequence[Observation], period: Period) -> Kpi:
    """The KPI with the group's target and amber scaled to the unit's share of the group's
    figure over the group's history: only so that its trend calls the same relative movement
    flat as the group's does (the unit's status is never shown)."""
    total = math.fsum(pv.value for pv in group.history if pv.value is not None)
    start = group.history[0].period.start
    mine = math.fsum(obs.value for obs in rows
                     if obs.value is not None and start <= obs.period_end <= period.end)
    factor = mine / total if total else 1.0
    cadence = period.cadence
    amber = kpi.amber_for(cadence)
    return kpi.model_copy(update={
        "target": {cadence: kpi.target_for(cadence) * factor},
        "amber": None if amber is None else {cadence: amber * factor},
        "unit_targets": {}})


@dataclass(frozen=True)
class UnitFigure:
    """A unit's figure for one KPI as its pack's summary.json records it."""

    unit: str
    segment: str
    value: float | None
    weight: float
    last_seen: dt.date | None


def roll_up(kpi: Kpi, figures: Sequence[UnitFigure]) -> float | None:
    """The group figure the units' figures make by the KPI's ``rollup`` rule."""
    present = [f for f in figures if f.value is not None]
    if not present:
        return None
    rule = kpi.rollup_rule
    if rule == "mean":
        total = math.fsum(f.weight for f in present)
        if total <= 0:
            return None
        return math.fsum(f.weight * (f.value or 0.0) for f in present) / total
    if rule == "latest":
        latest = max(present, key=lambda f: (f.last_seen or dt.date.min, f.segment))
        return latest.value
    return aggregate([f.value for f in present if f.value is not None], rule)


@dataclass(frozen=True)
class Disagreement:
    """A KPI whose figures in a group pack and its units' packs do not agree: the group's
    figure is not the roll-up of its units', or a pack's target or status is not the one the
    catalog and its value give."""

    kpi_id: str
    detail: str
    pack: str = ""  # the unit whose pack disagrees; '' the group's

    def describe(self) -> str:
        where = f" (unit {self.pack})" if self.pack else ""
        return f"{self.kpi_id}{where}: {self.detail}"


def _shown(value: float | None) -> str:
    return "no value" if value is None else f"{value:g}"


def _close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None
        and math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE))


def _number(entry: Mapping[str, Any], key: str) -> float | None:
    value = entry.get(key)
    return float(value) if isinstance(value, int | float) else None


def _status_problem(entry: Mapping[str, Any], direction: str) -> str | None:
    """Why a pack's status is not the one its value, target and amber give, or None. Where the
    KPI's owner set the status in a review round, the data's status (kept beside it) is the
    one judged."""
    value, target, amber = (_number(entry, key) for key in ("value", "target", "amber"))
    owner = entry.get("status_set_by_owner")
    status, which = ((owner.get("data_status"), "the data's status") if isinstance(owner, Mapping)
                     else (entry.get("status"), "status"))
    if target is None:
        return "no target" if status != "no_data" or value is not None else None
    expected = rag_status(value, target, amber, direction)
    if status != expected:
        return (f"{which} {status}, but {_shown(value)} against target "
                f"{_shown(target)} is {expected}")
    return None


def _catalog_target(kpi: Kpi, cadence: str, entry: Mapping[str, Any],
                    unit: Mapping[str, Any] | None = None) -> float | None:
    """The target the catalog gives a pack's figure (pro-rated as the pack says), or None
    when the catalog gives it none (a unit's share of a summed KPI)."""
    if unit is not None:
        own = kpi.unit_target(str(unit.get("id", "")), str(unit.get("segment", "")))
        if own is not None:
            kpi = kpi.for_unit(str(unit.get("id", "")), str(unit.get("segment", "")))
        elif kpi.sums_units:
            return None
    if cadence not in kpi.cadences:
        return None
    share = _number(entry, "target_share")
    return kpi.target_for(cadence) * (share if share is not None else 1.0)


def disagreements(kpis: Mapping[str, Kpi], group: Mapping[str, Any],
                  units: Sequence[Mapping[str, Any]]) -> list[Disagreement]:
    """Compare a group pack's summary.json with its units' summaries, KPI by KPI: the group's
    figure is the roll-up of its units' (a unit's share of a summed KPI included), and every
    pack's target is the one the catalog gives it (the group's own for the group, never a
    unit's; a unit's own for a unit, never the group's for a summed KPI) and its status the
    one its value and target give.

    A KPI no unit reports is the group's own and its value is not compared; neither is the
    value of a KPI whose group figure is the group's own (``rollup: own``, a median over every
    record), though its target and status are.
    """
    cadence = str(group.get("cadence", ""))
    by_unit: dict[str, list[UnitFigure]] = {}
    found: list[Disagreement] = []
    for summary in units:
        unit = summary.get("unit") or {}
        unit_id = str(unit.get("id", ""))
        for entry in summary.get("kpis", []):
            by_unit.setdefault(entry["id"], []).append(_unit_figure(unit, entry))
            kpi = kpis.get(entry["id"])
            if kpi is None:
                continue
            problem = _status_problem(entry, kpi.direction)
            expected = _catalog_target(kpi, cadence, entry, unit)
            if entry.get("target_from", "catalog") == "catalog":
                if expected is None:
                    problem = (f"judged against target {_shown(_number(entry, 'target'))}, but "
                               "the unit has no target of its own for a KPI summed over the "
                               "units; show it as the unit's share of the group")
                elif not _close(expected, _number(entry, "target")):
                    problem = (f"target {_shown(_number(entry, 'target'))}, but the catalog "
                               f"gives the unit {_shown(expected)}")
            if problem:
                found.append(Disagreement(kpi.id, problem, unit_id))
        for entry in summary.get("shares", []):
            by_unit.setdefault(entry["id"], []).append(_unit_figure(unit, entry))
            ours = next((item for item in group.get("kpis", []) if item["id"] == entry["id"]),
                        None)
            if ours is not None and not _close(_number(entry, "group_value"),
                                               _number(ours, "value")):
                found.append(Disagreement(
                    entry["id"], f"the unit's pack gives the group's figure as "
                    f"{_shown(_number(entry, 'group_value'))}, the group's pack as "
                    f"{_shown(_number(ours, 'value'))}", unit_id))
    for entry in group.get("kpis", []):
        kpi = kpis.get(entry["id"])
        figures = by_unit.get(entry["id"])
        if kpi is None or not figures:
            continue
        problem = _status_problem(entry, kpi.direction)
        if problem:
            found.append(Disagreement(kpi.id, problem))
        if entry.get("target_from", "catalog") == "catalog":
            expected = _catalog_target(kpi, cadence, entry)
            if not _close(expected, _number(entry, "target")):
                found.append(Disagreement(kpi.id, f"target {_shown(_number(entry, 'target'))}, "
                                          f"but the catalog gives the group {_shown(expected)}"))
        elif kpi.rollup != "own":
            targets = {_number(item, "target") for summary in units
                       for item in summary.get("kpis", []) if item["id"] == kpi.id}
            if kpi.sums_units or len(targets) != 1 or not _close(targets.pop(),
                                                                 _number(entry, "target")):
                found.append(Disagreement(
                    kpi.id, f"target {_shown(_number(entry, 'target'))} comes from units' rows, "
                    "but the group is judged against its own target"))
        if kpi.rollup == "own":
            continue
        expected_value = roll_up(kpi, figures)
        actual = entry.get("value")
        if not _close(expected_value, actual):
            found.append(Disagreement(kpi.id, f"group {_shown(actual)}, units' "
                                      f"{kpi.rollup_rule} {_shown(expected_value)}"))
    return found


def _unit_figure(unit: Mapping[str, Any], entry: Mapping[str, Any]) -> UnitFigure:
    seen = entry.get("last_seen")
    return UnitFigure(str(unit.get("id", "")), str(unit.get("segment", "")), entry.get("value"),
                      float(entry.get("weight") or 0.0),
                      dt.date.fromisoformat(seen) if seen else None)
