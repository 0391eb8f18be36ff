"""Units beside their group: each unit's figures for the group pack's "units side by side" page,
and the consistency check that the group's figures are the roll-up of its units' figures.
Pure functions, like :mod:`.evaluate`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reviewkit.evaluation.evaluate import KpiResult, aggregate, evaluate
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.loaded import Inputs
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

    def result(self, kpi_id: str) -> KpiResult | None:
        return self.results.get(kpi_id)


def reported_by_units(kpi_id: str, units: Sequence[UnitFigures]) -> int:
    """How many units report a KPI: none, and the group's figure is its own, not a roll-up."""
    return sum(1 for figures in units if figures.result(kpi_id) is not None)


def unit_figures(inputs: Inputs, period: Period,
                 known: Mapping[str, UnitFigures] | None = None) -> tuple[UnitFigures, ...]:
    """Every unit of a group's inputs evaluated for ``period`` (the group pack shows them).
    ``known``: units' figures already evaluated for this period, by unit id (a batch hands on
    those of the units' own packs, so no unit is evaluated twice)."""
    figures = []
    for unit in inputs.units:
        if known is not None and unit.id in known:
            figures.append(known[unit.id])
            continue
        own = inputs.for_unit(unit)
        evaluation = evaluate(own.catalog.kpis, own.measurements.series, period,
                              history_length=inputs.params.values.history,
                              stale_after=inputs.params.values.stale_after)
        figures.append(UnitFigures(unit, {r.kpi.id: r for r in evaluation.results}))
    return tuple(figures)


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
    """A KPI whose group figure is not the roll-up of its units' figures."""

    kpi_id: str
    group: float | None
    rolled_up: float | None
    rule: str

    def describe(self) -> str:
        def shown(value: float | None) -> str:
            return "no value" if value is None else f"{value:g}"
        return (f"{self.kpi_id}: group {shown(self.group)}, units' {self.rule} "
                f"{shown(self.rolled_up)}")


def disagreements(kpis: Mapping[str, Kpi], group: Mapping[str, Any],
                  units: Sequence[Mapping[str, Any]]) -> list[Disagreement]:
    """Compare a group pack's summary.json with its units' summaries, KPI by KPI.

    A KPI no unit reports is the group's own and is not compared.
    """
    by_unit: dict[str, list[UnitFigure]] = {}
    for summary in units:
        unit = summary.get("unit") or {}
        for entry in summary.get("kpis", []):
            seen = entry.get("last_seen")
            by_unit.setdefault(entry["id"], []).append(UnitFigure(
                str(unit.get("id", "")), str(unit.get("segment", "")), entry.get("value"),
                float(entry.get("weight") or 0.0),
                dt.date.fromisoformat(seen) if seen else None))
    found = []
    for entry in group.get("kpis", []):
        kpi = kpis.get(entry["id"])
        figures = by_unit.get(entry["id"])
        if kpi is None or not figures:
            continue
        expected = roll_up(kpi, figures)
        actual = entry.get("value")
        same = (expected is None and actual is None) or (
            expected is not None and actual is not None
            and math.isclose(expected, actual, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE))
        if not same:
            found.append(Disagreement(kpi.id, actual, expected, kpi.rollup_rule))
    return found
