"""Progress of strategic priorities: pure functions of the loaded priorities and KPI values.

A key result's progress (:func:`progress_from_value`) is the share of the way from baseline to
target that the value has travelled, in percent, up to 100 and negative when it moved the wrong
way (never floored at 0: restore time doubling is not "not started"); the sign of
``target - baseline`` says which way is better, so it works for lower-is-better measures too.
With a baseline date and a due date, the progress expected by now is the share of that time
gone (:func:`expected_progress`). A priority's progress (:func:`priority_progress`) is the
weighted mean over all its key results whose progress is known, each counted no lower than
-100% (one runaway key result does not bury the others).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from reviewkit.inputs.priorities import KeyResult, Objective, StrategicPriority

# --------------------------------------------------------------------------------------------
# Progress: pure functions
# --------------------------------------------------------------------------------------------


class KeyResultProgress(BaseModel):
    """A key result with the value used and its progress (None: the KPI has no value)."""

    model_config = ConfigDict(frozen=True)

    objective_id: str | None
    objective: str
    text: str
    kpi: str | None
    baseline: float | None
    target: float
    value: float | None
    weight: float
    progress: float | None
    unit: str = ""  # of a key result without a KPI
    #: Progress expected by now (baseline date to due date, in time), None without dates.
    expected: float | None = None
    #: What the value is, when it is not simply the KPI's figure for the pack's period: "a
    #: month, pro rata over Q4 2026 to date".
    note: str = ""


#: A key result counts no lower than this in its priority's weighted progress.
FLOOR_IN_PRIORITY = -100.0


class PriorityProgress(BaseModel):
    """A priority's weighted progress over its key results, and each key result's part."""

    model_config = ConfigDict(frozen=True)

    priority_id: str
    title: str
    owner: str
    progress: float | None
    key_results: list[KeyResultProgress]
    #: The weighted progress expected by now, over the key results with dates.
    expected: float | None = None

    @property
    def unknown(self) -> int:
        """Key results left out of the weighted mean because their KPI has no value."""
        return sum(1 for kr in self.key_results if kr.progress is None)


def progress_from_value(baseline: float, target: float, value: float) -> float:
    """Percent of the way from ``baseline`` to ``target`` that ``value`` has come, at most 100.

    Direction-aware through the sign of ``target - baseline``: for a lower-is-better measure
    (target below baseline) a falling value is progress. A value on the wrong side of the
    baseline is negative (restore time from 3.5 h to 7.2 h against a target of 3 h is -740%);
    beyond the target is 100. (Equal baseline and target: 100 at the target, else 0.)
    """
    span = target - baseline
    if span == 0:
        return 100.0 if value == target else 0.0
    return min(100.0, 100 * (value - baseline) / span)


def expected_progress(start: dt.date | None, due: dt.date | None,
                      on: dt.date | None) -> float | None:
    """The progress a key result is expected to have made by ``on``: the share of the time from
    its baseline date to its due date gone, in percent (None without both dates)."""
    if start is None or due is None or on is None:
        return None
    if on <= start:
        return 0.0
    if on >= due:
        return 100.0
    return 100 * (on - start).days / (due - start).days


def key_result_progress(kr: KeyResult, kpi_values: Mapping[str, float | None]) -> float | None:
    """A key result's progress, 0-100: from its KPI's value in ``kpi_values`` (None when the KPI
    has no value), else its manual ``progress``, else from ``baseline`` and ``current``."""
    if kr.kpi is not None:
        value = kpi_values.get(kr.kpi)
        if value is None or kr.baseline is None:
            return None
        return progress_from_value(kr.baseline, kr.target, value)
    if kr.progress is not None:
        return kr.progress
    if kr.baseline is not None and kr.current is not None:
        return progress_from_value(kr.baseline, kr.target, kr.current)
    return None


def weighted_progress(parts: Iterable[tuple[float, float | None]]) -> float | None:
    """Weighted mean of ``(weight, progress)`` pairs, leaving out unknown progress, each counted
    no lower than :data:`FLOOR_IN_PRIORITY`; None if all are unknown."""
    known = [(weight, max(FLOOR_IN_PRIORITY, progress)) for weight, progress in parts
             if progress is not None]
    total = sum(weight for weight, _ in known)
    if not known or total <= 0:
        return None
    return sum(weight * progress for weight, progress in known) / total


def objective_progress(
    objective: Objective, kpi_values: Mapping[str, float | None]
) -> float | None:
    """Weighted progress over one objective's key results."""
    return weighted_progress(
        (kr.weight, key_result_progress(kr, kpi_values)) for kr in objective.key_results
    )


#: A key result's value and what it is ("a month, pro rata over Q4 2026 to date"), found by the
#: caller: None to read ``kpi_values`` by the key result's KPI.
KeyResultValue = Callable[[KeyResult], tuple[float | None, str]]


def priority_progress(
    priority: StrategicPriority, kpi_values: Mapping[str, float | None],
    on: dt.date | None = None, value_of: KeyResultValue | None = None,
) -> PriorityProgress:
    """A priority's progress: the weighted mean over all key results of all its objectives
    (weights compare key results across the whole priority, not within an objective), and the
    progress expected by ``on`` where the key results have dates. ``value_of`` gives a key
    result's value at its own grain (:func:`reviewkit.evaluation.strategy.key_result_value`)."""
    parts: list[KeyResultProgress] = []
    for objective in priority.objectives:
        for kr in objective.key_results:
            note = ""
            if kr.kpi is not None and value_of is not None:
                value, note = value_of(kr)
                values: Mapping[str, float | None] = {kr.kpi: value}
            else:
                value = kpi_values.get(kr.kpi) if kr.kpi is not None else kr.current
                values = kpi_values
            parts.append(
                KeyResultProgress(
                    objective_id=objective.id,
                    objective=objective.text,
                    text=kr.text,
                    kpi=kr.kpi,
                    baseline=kr.baseline,
                    target=kr.target,
                    value=value,
                    weight=kr.weight,
                    progress=key_result_progress(kr, values),
                    unit=kr.unit,
                    expected=expected_progress(kr.baseline_date, kr.due, on),
                    note=note,
                )
            )
    return PriorityProgress(
        priority_id=priority.id,
        title=priority.title,
        owner=priority.owner,
        progress=weighted_progress((part.weight, part.progress) for part in parts),
        key_results=parts,
        expected=weighted_progress((part.weight, part.expected) for part in parts),
    )
