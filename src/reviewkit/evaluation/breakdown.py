"""A KPI's latest period broken down by a column finer than the unit (a depot, a region, a
ward): each part's figure, and for a level its status against the pack's target, so that "the
Midlands hub below amber" can be checked in the pack. Pure functions, like :mod:`.evaluate`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reviewkit.evaluation.evaluate import (
    KpiResult,
    PeriodValue,
    Status,
    period_value,
    rag_status,
)
from reviewkit.inputs.measurements import Observation


@dataclass(frozen=True)
class Part:
    """One part of a KPI's figure for the period."""

    name: str  # the column's value: "Midlands hub"
    value: float | None
    #: Against the pack's target for a level (a rate, a mean); None for a sum, whose parts add
    #: up to the figure and are not judged one by one.
    status: Status | None
    #: The part's share of the figure, for a sum (0-1); None for a level.
    share: float | None
    count: int  # measurements with a value behind it


@dataclass(frozen=True)
class Breakdown:
    """A KPI's figure for the period by the parts of its ``breakdown`` column."""

    column: str  # "depot"
    parts: tuple[Part, ...]

    @property
    def judged(self) -> bool:
        """Whether the parts carry a status (a level) or a share (a sum)."""
        return any(part.status is not None for part in self.parts)


def breakdown_of(result: KpiResult, rows: Sequence[Observation]) -> Breakdown | None:
    """The current period of ``result`` by its KPI's breakdown column, from the KPI's rows
    (those of the pack: a unit's own); None when the KPI has no breakdown or the period has
    no rows with a part. Parts are in order of their name."""
    kpi, current = result.kpi, result.current
    if not kpi.breakdown:
        return None
    period = current.period
    inside = [obs for obs in rows if period.contains(obs.period_end) and obs.part]
    if not inside:
        return None
    by_part: dict[str, list[Observation]] = {}
    for obs in inside:
        by_part.setdefault(obs.part, []).append(obs)
    parts = []
    for name in sorted(by_part):
        pv: PeriodValue = period_value(kpi, period, by_part[name])
        if kpi.sums_units or kpi.aggregation == "sum":
            share = (pv.value / current.value if pv.value is not None and current.value
                     else None)
            parts.append(Part(name, pv.value, None, share, pv.count))
        else:
            # Judged against the figure's own target and amber: a part is measured against
            # what is asked of the whole (a row's target for one part would judge it by
            # another's).
            status = rag_status(pv.value, current.target, current.amber, kpi.direction)
            parts.append(Part(name, pv.value, status, None, pv.count))
    return Breakdown(kpi.breakdown, tuple(parts))


def breakdowns(results: Sequence[KpiResult],
               series: Mapping[str, Sequence[Observation]]) -> dict[str, Breakdown]:
    """Every KPI of a pack with a breakdown for its period, by KPI id."""
    found = {}
    for result in results:
        table = breakdown_of(result, series.get(result.kpi.id, ()))
        if table is not None:
            found[result.kpi.id] = table
    return found
