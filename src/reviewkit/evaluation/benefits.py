"""Benefits realization: how far each promised benefit has come against its planned path.

Pure functions of a :class:`~reviewkit.inputs.portfolio.Benefit`, a date and (for a benefit
measured by a KPI) that KPI's latest value.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from reviewkit.inputs.portfolio import Benefit

BenefitState = Literal["not_started", "on_track", "at_risk", "achieved", "no_data"]

#: A benefit whose realized share of its improvement falls short of the planned share by more
#: than this part of the plan to date (a fraction: 0.10 is a tenth of what was planned by now)
#: is "at risk": half the planned value is not on track, however early or back-loaded the plan.
BENEFIT_TOLERANCE = 0.10
#: A shortfall smaller than this (a fraction of the whole improvement: one percentage point) is
#: noise, not a risk: the first days of a plan would otherwise flag a benefit for a rounding.
BENEFIT_NOISE = 0.01


class BenefitAssessment(BaseModel):
    """A benefit's progress against its plan on a date (see :func:`assess_benefit`)."""

    model_config = ConfigDict(frozen=True)

    benefit_id: str
    state: BenefitState
    as_of: dt.date
    value: float | None
    planned_value: float
    planned_fraction: float
    realized_fraction: float | None

    @property
    def gap_points(self) -> float | None:
        """How far realized progress trails the plan, in percentage points (negative: ahead)."""
        if self.realized_fraction is None:
            return None
        return 100 * (self.planned_fraction - self.realized_fraction)


def planned_fraction(benefit: Benefit, on: dt.date) -> float:
    """Share of the improvement planned by ``on``: 0 up to the baseline date, 1 from the target
    date, linear in between."""
    if on <= benefit.baseline_date:
        return 0.0
    if on >= benefit.target_date:
        return 1.0
    return (on - benefit.baseline_date).days / (benefit.target_date - benefit.baseline_date).days


def planned_value(benefit: Benefit, on: dt.date) -> float:
    """The value the plan expects on ``on`` (the straight line from baseline to target)."""
    return benefit.baseline + planned_fraction(benefit, on) * (benefit.target - benefit.baseline)


def realized_fraction(benefit: Benefit, value: float) -> float:
    """Share of the improvement achieved by ``value``, in either direction: 1 at the target,
    0 at the baseline, negative when worse than the baseline (not clipped)."""
    return (value - benefit.baseline) / (benefit.target - benefit.baseline)


def is_at_risk(planned: float, realized: float) -> bool:
    """The at-risk rule: moving the wrong way (worse than the baseline), or realized progress
    short of the plan to date by more than :data:`BENEFIT_TOLERANCE` of that plan (and by more
    than :data:`BENEFIT_NOISE` of the whole): £29k of a planned £58k is at risk."""
    shortfall = planned - realized
    return realized < 0 or (shortfall > BENEFIT_TOLERANCE * planned + 1e-9
                            and shortfall > BENEFIT_NOISE + 1e-9)


def assess_benefit(
    benefit: Benefit,
    on: dt.date,
    kpi_value: float | None = None,
    kpi_value_date: dt.date | None = None,
) -> BenefitAssessment:
    """A benefit's state on ``on`` (the pack's period end).

    The value is ``kpi_value`` for a KPI benefit (pass the latest value up to ``on`` and, with
    ``kpi_value_date``, the date it was measured), else the benefit's own ``realized``. The plan
    is read on the date the value was measured (``kpi_value_date`` or ``realized_date``, never
    after ``on``), so an old reading is compared with the plan of its day.

    States, first that applies: ``no_data`` (no value); ``not_started`` (before the baseline
    date); ``achieved`` (the target is reached); ``at_risk`` (:func:`is_at_risk`); ``on_track``.
    """
    if benefit.kpi_id is not None:
        value, measured = kpi_value, kpi_value_date
    else:
        value, measured = benefit.realized, benefit.realized_date
    as_of = min(measured, on) if measured is not None else on
    planned = planned_fraction(benefit, as_of)
    plan_value = planned_value(benefit, as_of)
    if value is None:
        return BenefitAssessment(benefit_id=benefit.id, state="no_data", as_of=as_of, value=None,
                                 planned_value=plan_value, planned_fraction=planned,
                                 realized_fraction=None)
    realized = realized_fraction(benefit, value)
    state: BenefitState
    if as_of < benefit.baseline_date:
        state = "not_started"
    elif realized >= 1 - 1e-9:
        state = "achieved"
    elif is_at_risk(planned, realized):
        state = "at_risk"
    else:
        state = "on_track"
    return BenefitAssessment(benefit_id=benefit.id, state=state, as_of=as_of, value=value,
                             planned_value=plan_value, planned_fraction=planned,
                             realized_fraction=realized)
