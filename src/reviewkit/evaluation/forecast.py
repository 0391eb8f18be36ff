"""Outlook: a KPI's next four quarters projected from its monthly history, with an interval.

The model is damped additive-trend exponential smoothing, ETS(A,Ad,N), fitted with statsmodels;
if that fit fails or does not converge, a straight-line (OLS) trend is used instead and
``Forecast.method`` says so. docs/forecasting.md explains the choice for readers of the pack.

Everything here is a pure function of its arguments. statsmodels (and pandas, which it needs)
are imported inside the fitting functions because they take seconds to import and most commands
never forecast. Fitting is deterministic: analytic intervals, no simulation.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

from reviewkit import _speedups
from reviewkit.cadences import MONTHLY
from reviewkit.evaluation.evaluate import PeriodValue, aggregate, combine
from reviewkit.formatting import (
    STATUS_WORDS,
    format_number,
    format_value,
    isolated,
    shared_decimals,
    shown,
)
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.measurements import Observation
from reviewkit.periods import Period, period_containing

#: Fewer observed months than this and no model is fitted.
MIN_POINTS = 8
#: Name of the main model, as ``Forecast.method`` reports it.
ETS_METHOD = "ETS(A,Ad,N): exponential smoothing with a damped additive trend"
#: Name of the fallback model; the reason the main model was not used is appended.
OLS_METHOD = "Linear trend (OLS)"
#: ``Forecast.method`` when every month had the same value.
CONSTANT_METHOD = "No variation: every month had the same value, which is held"
#: ``Forecast.method`` when there is too little history to fit anything.
INSUFFICIENT = "insufficient data"

_PREFIX_UNITS = ("£", "$", "€")

#: Calendar months of history a forecast is fitted on.
HISTORY_MONTHS = 36


@dataclass(frozen=True)
class ForecastPoint:
    """The projected value of one future month (or quarter) and its prediction interval."""

    period: Period
    mean: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Forecast:
    """A KPI's outlook: monthly projections, their quarterly roll-up and the target verdict."""

    kpi_id: str
    method: str  # the model used, or INSUFFICIENT
    n_points: int  # months fitted on, gaps filled included (INSUFFICIENT: months with data)
    level: float  # coverage of the intervals, e.g. 0.8
    target: float | None  # the monthly target the verdict uses
    last_actual: Period | None  # the latest month with a value; the forecast starts after it
    latest_value: float | None  # that month's value
    points: list[ForecastPoint]  # monthly, oldest first; empty when no model was fitted
    quarters: list[ForecastPoint]  # whole calendar quarters covered by ``points``
    reaches_target: bool | None  # some projected month meets the target; None: no forecast
    reach_period: Period | None  # the first projected month that meets the target
    already_on_target: bool  # the latest actual meets the target
    misses_from: Period | None  # first projected month that misses the target once it is met
    gaps_filled: int  # months without data inside the history, filled by interpolation
    sentence: str  # one plain-English sentence for the pack


def monthly_series(
    kpi: Kpi,
    observations: Sequence[Observation],
    end: Period | dt.date,
    months: int = HISTORY_MONTHS,
) -> list[tuple[Period, float | None]]:
    """The KPI's value in each of the ``months`` calendar months up to the one holding ``end``.

    Each month's value applies the KPI's aggregation rule to every measurement dated in that
    month, in date order, exactly as :func:`reviewkit.evaluate.period_value` does for a monthly
    period; months without a value are ``None``. Measurements dated after ``end`` (a date, or a
    period's last day) are ignored, so a mid-month ``end`` gives a partial last month.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    end_date = end.end if isinstance(end, Period) else end
    periods = period_containing("monthly", end_date).history(months)
    buckets: dict[dt.date, list[Observation]] = {period.start: [] for period in periods}
    for obs in observations:
        if obs.value is None or obs.period_end > end_date:
            continue
        bucket = buckets.get(obs.period_end.replace(day=1))
        if bucket is not None:
            bucket.append(obs)
    return [(period, combine(kpi, buckets[period.start]).value) for period in periods]


def forecast_kpi(
    kpi: Kpi,
    monthly_values: Sequence[tuple[Period, float | None]],
    horizon: int = 12,
    level: float = 0.8,
) -> Forecast:
    """Project a KPI's monthly values at least ``horizon`` months past its latest actual.

    ``monthly_values`` is what :func:`monthly_series` returns (any order; missing months may be
    ``None`` or absent). Months before the first value and after the last are dropped; gaps in
    between are filled by straight-line interpolation. The forecast starts the month after the
    latest actual and runs to the end of the calendar quarter that holds its ``horizon``-th month,
    so ``quarters`` always holds whole quarters (four for the default horizon of 12). Interval
    bounds, and the projections themselves, are kept at or above 0 when every actual is, and at
    or below 100 for a percentage whose actuals all are.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least 1 month")
    if not 0.0 < level < 1.0:
        raise ValueError("level must be between 0 and 1, e.g. 0.8 for an 80% interval")
    target = _monthly_target(kpi)
    history, observed, gaps = _prepare(monthly_values)
    last_actual = history[-1][0] if history else None
    latest = history[-1][1] if history else None
    on_target = latest is not None and target is not None and _meets(kpi, latest, target)

    if observed < MIN_POINTS:
        return Forecast(
            kpi_id=kpi.id,
            method=INSUFFICIENT,
            n_points=observed,
            level=level,
            target=target,
            last_actual=last_actual,
            latest_value=latest,
            points=[],
            quarters=[],
            reaches_target=None,
            reach_period=None,
            already_on_target=on_target,
            misses_from=None,
            gaps_filled=gaps,
            sentence=(
                f"{isolated(kpi.name)} has too little history to forecast: "
                f"{_months(observed)} with data, at least {MIN_POINTS} needed."
            ),
        )

    assert last_actual is not None  # observed >= MIN_POINTS
    periods = _forecast_periods(last_actual, horizon)
    values = [value for _, value in history]
    method, means, lowers, uppers = _fit(values, len(periods), level)
    floor = 0.0 if min(values) >= 0 else None
    ceiling = 100.0 if kpi.unit == "%" and max(values) <= 100 else None
    points = [
        ForecastPoint(
            period,
            _clip(mean, floor, ceiling),
            _clip(lower, floor, ceiling),
            _clip(upper, floor, ceiling),
        )
        for period, mean, lower, upper in zip(periods, means, lowers, uppers, strict=True)
    ]
    reach = None
    misses = None
    if target is not None:
        met = [_meets(kpi, p.mean, target) for p in points]
        if True in met:
            reach = points[met.index(True)].period
        # The first miss once the target is met: by the latest actual, else by the projection.
        start = 0 if on_target else (met.index(True) if True in met else len(met))
        later = zip(points[start:], met[start:], strict=True)
        misses = next((p.period for p, ok in later if not ok), None)
    forecast = Forecast(
        kpi_id=kpi.id,
        method=method,
        n_points=len(values),
        level=level,
        target=target,
        last_actual=last_actual,
        latest_value=latest,
        points=points,
        quarters=_quarters(points, kpi.aggregation),
        reaches_target=None if target is None else reach is not None,
        reach_period=reach,
        already_on_target=on_target,
        misses_from=misses,
        gaps_filled=gaps,
        sentence="",
    )
    return _with_sentence(kpi, forecast)


# --- preparing the history ---------------------------------------------------------------------


def _prepare(
    monthly_values: Sequence[tuple[Period, float | None]],
) -> tuple[list[tuple[Period, float]], int, int]:
    """Consecutive months from the first value to the last, gaps interpolated.

    Returns the months with values, how many were observed, and how many were filled.
    """
    known: dict[Period, float] = {}
    for period, value in monthly_values:
        if period.rule != MONTHLY.period:
            raise ValueError(f"monthly values expected, got a {period.cadence} period")
        if value is not None and math.isfinite(value):
            known[period] = float(value)
    if not known:
        return [], 0, 0
    first, last = min(known), max(known)
    months: list[Period] = [first]
    while months[-1] != last:
        months.append(months[-1].shift(1))
    filled: list[tuple[Period, float]] = []
    gaps = 0
    for index, period in enumerate(months):
        if period in known:
            filled.append((period, known[period]))
            continue
        gaps += 1
        before = index - 1  # the previous month always has a value by now (filled or known)
        after = next(i for i in range(index + 1, len(months)) if months[i] in known)
        start, stop = filled[before][1], known[months[after]]
        share = 1 / (after - before)
        filled.append((period, start + (stop - start) * share))
    return filled, len(known), gaps


def _forecast_periods(last_actual: Period, horizon: int) -> list[Period]:
    """The months after ``last_actual``: at least ``horizon``, ending on a quarter's last month."""
    periods = [last_actual.shift(step) for step in range(1, horizon + 1)]
    while periods[-1].end.month % 3 != 0:
        periods.append(periods[-1].shift(1))
    return periods


# --- fitting -----------------------------------------------------------------------------------


def _fit(
    values: Sequence[float], steps: int, level: float
) -> tuple[str, list[float], list[float], list[float]]:
    """Fit ETS(A,Ad,N); on failure or a convergence warning, fit a straight line instead."""
    if max(values) == min(values):
        # Why: no model can be fitted to a series with no variation (ETS does not converge and
        # a line has no residuals); the honest projection is the same value, with no interval.
        flat = [values[-1]] * steps
        return CONSTANT_METHOD, flat, list(flat), list(flat)
    try:
        means, lowers, uppers = _fit_ets(values, steps, level)
        return ETS_METHOD, means, lowers, uppers
    except _FitFailed as exc:
        reason = str(exc)
    method = f"{OLS_METHOD}; fallback because the ETS fit {reason}"
    try:
        means, lowers, uppers = _fit_ols(values, steps, level)
    except _FitFailed as exc:
        # Why not raise: one odd series must not stop a pack. Flat projections at the latest
        # value, with no interval, keep the outlook table whole, and ``method`` says why.
        last = values[-1]
        method = f"No model: the ETS fit {reason} and the linear trend fit {exc}; latest value held"
        return method, [last] * steps, [last] * steps, [last] * steps
    return method, means, lowers, uppers


class _FitFailed(Exception):
    """A model could not be fitted; the message says why, for ``Forecast.method``."""


def _checked(
    caught: Sequence[warnings.WarningMessage], columns: Sequence[Sequence[float]]
) -> None:
    """Reject a fit that warned about convergence or numerical trouble, or gave non-numbers."""
    # Deferred for start-up time (seconds): only the quarterly outlook fits models.
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    for message in caught:
        if issubclass(message.category, ConvergenceWarning):
            raise _FitFailed("did not converge")
        if issubclass(message.category, RuntimeWarning):
            raise _FitFailed(f"hit a numerical problem ({message.message})")
    if not all(math.isfinite(x) for column in columns for x in column):
        raise _FitFailed("gave non-finite values")


def _fit_ets(
    values: Sequence[float], steps: int, level: float
) -> tuple[list[float], list[float], list[float]]:
    # Deferred for start-up time (seconds): only the quarterly outlook fits models.
    import pandas as pd

    _speedups.lighten_scipy()  # before scipy.stats is imported, through statsmodels
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    # Why a RangeIndex: ETS prediction needs a pandas index, and an integer one avoids
    # statsmodels' date-frequency warnings; the months are attached afterwards.
    series = pd.Series(list(values), dtype=float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = ETSModel(series, error="add", trend="add", damped_trend=True)
            result = model.fit(disp=False)
            # Why method="exact": the analytic intervals, never the random simulation.
            frame = result.get_prediction(
                start=len(values), end=len(values) + steps - 1, method="exact"
            ).summary_frame(alpha=1 - level)
        except Exception as exc:  # statsmodels raises many types for degenerate series
            raise _FitFailed(f"failed ({type(exc).__name__}: {exc})") from exc
    retvals = getattr(result, "mle_retvals", None)
    if isinstance(retvals, dict) and retvals.get("converged") is False:
        raise _FitFailed("did not converge")
    columns = (
        [float(x) for x in frame["mean"]],
        [float(x) for x in frame["pi_lower"]],
        [float(x) for x in frame["pi_upper"]],
    )
    _checked(caught, columns)
    return columns


def _fit_ols(
    values: Sequence[float], steps: int, level: float
) -> tuple[list[float], list[float], list[float]]:
    # Deferred for start-up time (seconds): only the quarterly outlook fits models.
    import numpy as np

    _speedups.lighten_scipy()  # before scipy.stats is imported, through statsmodels
    from statsmodels.regression.linear_model import OLS

    n = len(values)
    design = np.column_stack([np.ones(n), np.arange(n, dtype=float)])
    ahead = np.column_stack([np.ones(steps), np.arange(n, n + steps, dtype=float)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = OLS(np.asarray(values, dtype=float), design).fit()
            frame = result.get_prediction(ahead).summary_frame(alpha=1 - level)
        except Exception as exc:
            raise _FitFailed(f"failed ({type(exc).__name__}: {exc})") from exc
    columns = (
        [float(x) for x in frame["mean"]],
        [float(x) for x in frame["obs_ci_lower"]],
        [float(x) for x in frame["obs_ci_upper"]],
    )
    _checked(caught, columns)
    return columns


# --- verdicts and roll-up ----------------------------------------------------------------------


def _monthly_target(kpi: Kpi) -> float | None:
    """The catalog's monthly target; None when per-cadence targets have no monthly entry."""
    if isinstance(kpi.target, dict):
        found = kpi.target.get("monthly")
        return None if found is None else float(found)
    return float(kpi.target)


def _meets(kpi: Kpi, value: float, target: float) -> bool:
    return value >= target if kpi.higher_is_better else value <= target


def _clip(value: float, floor: float | None, ceiling: float | None) -> float:
    if floor is not None:
        value = max(value, floor)
    if ceiling is not None:
        value = min(value, ceiling)
    return value


def _quarters(points: Sequence[ForecastPoint], rule: str) -> list[ForecastPoint]:
    """Whole calendar quarters of the forecast, by the KPI's own aggregation rule.

    The rule is applied separately to the monthly means, lower bounds and upper bounds (so a
    ``sum`` KPI's quarter is the sum of three months, a ``last`` KPI's is its third month).
    Combining bounds this way treats the months' errors as moving together: for ``mean`` and
    ``sum`` the quarterly interval is wider, not narrower, than a full calculation would give.
    """
    groups: dict[Period, list[ForecastPoint]] = {}
    for point in points:
        groups.setdefault(period_containing("quarterly", point.period.end), []).append(point)
    quarters = []
    for quarter, months in groups.items():
        if len(months) != 3:
            continue
        mean = aggregate([p.mean for p in months], rule)
        lower = aggregate([p.lower for p in months], rule)
        upper = aggregate([p.upper for p in months], rule)
        assert mean is not None and lower is not None and upper is not None
        quarters.append(ForecastPoint(quarter, mean, lower, upper))
    return quarters


# --- the sentence ------------------------------------------------------------------------------


def _with_sentence(kpi: Kpi, forecast: Forecast) -> Forecast:
    return replace(forecast, sentence=_sentence(kpi, forecast))


def _sentence(kpi: Kpi, forecast: Forecast) -> str:
    points = forecast.points
    final = points[-1]
    interval = f"{forecast.level * 100:g}% interval"
    by_end = f"by {final.period.long_label}"
    if forecast.target is None:
        return (
            f"On the current trajectory, {_lower_first(kpi.name)} is projected at "
            f"{_value(final.mean, kpi, forecast.target)} {by_end} "
            f"({interval} {_interval(final, kpi, forecast.target)})."
        )
    target = _target_words(kpi, forecast.target)
    if forecast.already_on_target:
        if forecast.misses_from is None:
            return (
                f"{isolated(kpi.name)} is on {target} and projected to stay there through "
                f"{final.period.long_label} ({interval} "
                f"{_interval(final, kpi, forecast.target)} by then)."
            )
        slip = next(p for p in points if p.period == forecast.misses_from)
        return (
            f"{isolated(kpi.name)} is on {target} now, but on the current trajectory it falls "
            f"short from {slip.period.long_label} ({interval} "
            f"{_interval(slip, kpi, forecast.target)} by then)."
        )
    if forecast.reach_period is not None:
        reach = next(p for p in points if p.period == forecast.reach_period)
        again = (
            f" but falls short again from {forecast.misses_from.long_label}"
            if forecast.misses_from is not None
            else ""
        )
        return (
            f"On the current trajectory, {_lower_first(kpi.name)} reaches {target} in "
            f"{reach.period.long_label}{again} ({interval} "
            f"{_interval(reach, kpi, forecast.target)} in {reach.period.long_label})."
        )
    return (
        f"On the current trajectory, {_lower_first(kpi.name)} is not projected to reach "
        f"{target} {by_end} ({interval} {_interval(final, kpi, forecast.target)} by then)."
    )


def _lower_first(name: str) -> str:
    """'Change success rate' -> 'change success rate'; 'EHR availability' stays as it is."""
    first = name.split(" ", 1)[0]
    if len(first) > 1 and first[0].isupper() and first[1:].islower():
        return name[0].lower() + name[1:]
    return name


def _places(kpi: Kpi, target: float | None) -> int:
    """Decimals for projections: one, or two for percentages near 100 (99.5% vs 99.9%)."""
    if kpi.decimals is not None:
        return kpi.decimals
    if kpi.unit == "%" and target is not None and abs(target) >= 99:
        return 2
    return 1


def _value(value: float, kpi: Kpi, target: float | None) -> str:
    return format_value(value, kpi, decimals=_places(kpi, target))


def _interval(point: ForecastPoint, kpi: Kpi, target: float | None) -> str:
    places = _places(kpi, target)
    upper = format_value(point.upper, kpi, decimals=places)
    if kpi.unit.startswith(_PREFIX_UNITS):
        lower = format_value(point.lower, kpi, decimals=places)  # '£40.1k': both ends carry £
    else:
        lower = format_number(point.lower, kpi, decimals=places)  # '91.2': unit at the end
    # Why ' to ' with a negative bound: a minus sign before an en dash range is hard to read.
    return f"{lower} to {upper}" if point.lower < 0 else f"{lower}\u2013{upper}"


def _target_words(kpi: Kpi, target: float) -> str:
    if kpi.unit == "%":
        return f"its {format_value(target, kpi)} target"
    if not kpi.unit or kpi.unit == "count":
        return f"its monthly target of {format_value(target, kpi)}"
    return f"its target of {format_value(target, kpi)}"


def _months(count: int) -> str:
    return "1 month" if count == 1 else f"{count} months"


# --- the quarterly outlook -----------------------------------------------------------------------


@dataclass(frozen=True)
class QuarterFigure:
    """One calendar quarter of the outlook: its value and interval by the KPI's own rule."""

    period: Period
    mean: float
    lower: float
    upper: float
    actual_months: int  # months of it already measured (their values, not projections)
    #: The quarter the pack reports, as its scorecard states it: its status (None: projected),
    #: whether it is still in progress, and the target it is judged against (pro-rated).
    status: str | None = None
    to_date: bool = False
    target: float | None = None
    amber: float | None = None

    @property
    def measured(self) -> bool:
        """The pack's own quarter (the scorecard's figure), not a projection."""
        return self.status is not None


@dataclass(frozen=True)
class QuarterOutlook:
    """The outlook in quarters, as the quarterly pack shows it: the quarter in progress (its
    measured months with the projection of the rest) and the four whole quarters after it,
    judged against the quarterly target at the precision they are printed."""

    quarters: list[QuarterFigure]
    target: float | None
    decimals: int  # digits the pack prints the quarters and the target with
    reach: Period | None  # the first quarter that meets the target
    misses_from: Period | None  # the first quarter that misses it once met
    sentence: str


def quarterly_target(kpi: Kpi) -> float | None:
    """The target a quarter is judged against: the catalog's quarterly one for a KPI with a
    target per cadence, else its only target."""
    if isinstance(kpi.target, dict):
        found = kpi.target.get("quarterly")
        return None if found is None else float(found)
    return float(kpi.target)


def quarter_outlook(kpi: Kpi, forecast: Forecast,
                    history: Sequence[tuple[Period, float | None]],
                    now: PeriodValue | None = None,
                    as_of: dt.date | None = None) -> QuarterOutlook:
    """The forecast rolled up into quarters, with a verdict and a sentence in quarters.

    With ``now`` (the quarter the pack reports, as its scorecard evaluated it, with the data to
    ``as_of``), the outlook starts with that quarter exactly as the scorecard states it (its
    value to date, status and pro-rated target), and projects the four quarters after it: what
    the outlook says of the current quarter is what the scorecard says. Without it, the quarter
    holding the first projected month counts the months of it already measured at their values
    (the bounds of a measured month are its value). A projection meets the target when it does
    at the precision the pack prints (a projected 99.8996% against a 99.90% target prints, and
    counts, as 99.90%).
    """
    target = quarterly_target(kpi)
    if not forecast.points:
        return QuarterOutlook([], target, 0, None, None, forecast.sentence)
    if now is not None:
        return _outlook_from_now(kpi, forecast, target, now, as_of)
    measured = {period: value for period, value in history if value is not None}
    first = period_containing("quarterly", forecast.points[0].period.end)
    quarters: list[QuarterFigure] = []
    groups: dict[Period, list[ForecastPoint]] = {}
    for point in forecast.points:
        groups.setdefault(period_containing("quarterly", point.period.end), []).append(point)
    for quarter, points in groups.items():
        months = [quarter.start.replace(month=quarter.start.month + i) for i in range(3)]
        known = [(p, v) for p, v in measured.items() if p.start in months]
        if len(known) + len(points) != 3:
            continue  # a quarter cut short by the horizon
        actual = [v for _, v in sorted(known)]
        mean = aggregate(actual + [p.mean for p in points], kpi.aggregation)
        lower = aggregate(actual + [p.lower for p in points], kpi.aggregation)
        upper = aggregate(actual + [p.upper for p in points], kpi.aggregation)
        assert mean is not None and lower is not None and upper is not None
        quarters.append(QuarterFigure(quarter, mean, lower, upper, len(actual)))
    quarters = [q for q in quarters if q.period >= first][:5]
    places = shared_decimals(kpi, [q.mean for q in quarters], [target], separate=False)
    reach = misses = None
    if target is not None:
        met = [_meets(kpi, round(q.mean, places), round(target, places)) for q in quarters]
        if True in met:
            start = met.index(True)
            reach = quarters[start].period
            misses = next((q.period for q, ok in zip(quarters[start:], met[start:], strict=True)
                           if not ok), None)
    outlook = QuarterOutlook(quarters, target, places, reach, misses, "")
    return replace(outlook, sentence=_quarter_sentence(kpi, forecast, outlook))


def _outlook_from_now(kpi: Kpi, forecast: Forecast, target: float | None, now: PeriodValue,
                      as_of: dt.date | None) -> QuarterOutlook:
    """The outlook of :func:`quarter_outlook` when the pack's own quarter is known."""
    value = now.value
    first = QuarterFigure(now.period, value if value is not None else math.nan,
                          value if value is not None else math.nan,
                          value if value is not None else math.nan, 0, status=now.status,
                          to_date=as_of is not None and as_of < now.period.end,
                          target=now.target, amber=now.amber)
    groups: dict[Period, list[ForecastPoint]] = {}
    for point in forecast.points:
        groups.setdefault(period_containing("quarterly", point.period.end), []).append(point)
    ahead = []
    for quarter, points in sorted(groups.items()):
        if quarter <= now.period or len(points) != 3:
            continue
        mean = aggregate([p.mean for p in points], kpi.aggregation)
        lower = aggregate([p.lower for p in points], kpi.aggregation)
        upper = aggregate([p.upper for p in points], kpi.aggregation)
        assert mean is not None and lower is not None and upper is not None
        ahead.append(QuarterFigure(quarter, mean, lower, upper, 0))
    ahead = ahead[:4]
    places = shared_decimals(kpi, [q.mean for q in ahead], [target], separate=False)
    reach = misses = None
    if now.status == "green":
        reach = now.period
    if target is not None:
        met = [_meets(kpi, round(q.mean, places), round(target, places)) for q in ahead]
        if reach is None and True in met:
            reach = ahead[met.index(True)].period
        if reach is not None:
            later = [(q, ok) for q, ok in zip(ahead, met, strict=True) if q.period > reach]
            misses = next((q.period for q, ok in later if not ok), None)
    outlook = QuarterOutlook([first, *ahead], target, places, reach, misses, "")
    return replace(outlook, sentence=_now_sentence(kpi, forecast, outlook))


@dataclass(frozen=True)
class _OutlookWords:
    """How the outlook's sentences write a KPI's quarters: at the precision the pack prints
    them, an interval as 'low-high' with an en dash (or 'low to high' below zero), the target
    by its kind."""

    kpi: Kpi
    outlook: QuarterOutlook

    def value(self, number: float) -> str:
        return format_value(number, self.kpi, decimals=self.outlook.decimals)

    def bounds(self, q: QuarterFigure) -> str:
        upper = self.value(q.upper)
        lower = (self.value(q.lower) if self.kpi.unit.startswith(_PREFIX_UNITS)
                 else format_number(q.lower, self.kpi, decimals=self.outlook.decimals))
        return f"{lower} to {upper}" if q.lower < 0 else f"{lower}\u2013{upper}"

    def target(self, target: float) -> str:
        if self.kpi.unit == "%":
            return f"its {self.value(target)} target"
        if self.kpi.aggregation == "sum":
            return f"its quarterly target of {self.value(target)}"
        return f"its target of {self.value(target)}"


def _now_sentence(kpi: Kpi, forecast: Forecast, outlook: QuarterOutlook) -> str:
    """The outlook's sentence, starting from the pack's quarter exactly as the scorecard states
    it (its figures, status and target to date), then the projection of the quarters after."""
    now, ahead = outlook.quarters[0], outlook.quarters[1:]
    interval = f"{forecast.level * 100:g}% interval"
    words = _OutlookWords(kpi, outlook)
    bounds = words.bounds

    when = now.period.long_label + (" to date" if now.to_date else "")
    status = now.status or "no_data"
    if status == "no_data" or now.target is None:
        start = f"{isolated(kpi.name)} has no data for {when}"
    else:
        # The scorecard's own figures, at its precision (5 against 7.4, 93.96% against 94.00%).
        figures = shown(kpi, now.mean, now.target, now.amber)
        pro_rated = outlook.target is not None and now.target != outlook.target
        note = ", the target pro-rated to date" if pro_rated else ""
        start = (f"{isolated(kpi.name)} is {STATUS_WORDS[status].lower()} in {when} "
                 f"({figures.value} against {figures.target}{note})")
    if outlook.target is None or not ahead:
        return f"{start}."
    target = words.target(outlook.target)
    final = ahead[-1]
    if status == "green":
        if outlook.misses_from is None:
            return (f"{start}, and is projected to stay on {target} through "
                    f"{final.period.long_label} ({interval} {bounds(final)} by then).")
        slip = next(q for q in ahead if q.period == outlook.misses_from)
        return (f"{start}, but on the current trajectory it falls short of {target} from "
                f"{slip.period.long_label} ({interval} {bounds(slip)} by then).")
    if outlook.reach is not None:
        reach = next(q for q in ahead if q.period == outlook.reach)
        again = (f" but falls short again from {outlook.misses_from.long_label}"
                 if outlook.misses_from is not None else "")
        return (f"{start}; on the current trajectory it reaches {target} in "
                f"{reach.period.long_label}{again} ({interval} {bounds(reach)} then).")
    return (f"{start}; on the current trajectory it is not projected to reach {target} by "
            f"{final.period.long_label} ({interval} {bounds(final)} by then).")


def _quarter_sentence(kpi: Kpi, forecast: Forecast, outlook: QuarterOutlook) -> str:
    quarters = outlook.quarters
    if not quarters:
        return forecast.sentence
    final = quarters[-1]
    interval = f"{forecast.level * 100:g}% interval"
    words = _OutlookWords(kpi, outlook)
    value, bounds = words.value, words.bounds

    name = isolated(_lower_first(kpi.name))
    if outlook.target is None:
        return (f"On the current trajectory, {name} is projected at {value(final.mean)} in "
                f"{final.period.long_label} ({interval} {bounds(final)}).")
    target = words.target(outlook.target)
    now = quarters[0]
    if outlook.reach == now.period:
        if outlook.misses_from is None:
            return (f"{isolated(kpi.name)} is on {target} in {now.period.long_label} and "
                    f"projected to stay there through {final.period.long_label} ({interval} "
                    f"{bounds(final)} by then).")
        slip = next(q for q in quarters if q.period == outlook.misses_from)
        return (f"{isolated(kpi.name)} is on {target} in {now.period.long_label}, but on the "
                f"current trajectory it falls short from {slip.period.long_label} ({interval} "
                f"{bounds(slip)} by then).")
    if outlook.reach is not None:
        reach = next(q for q in quarters if q.period == outlook.reach)
        again = (f" but falls short again from {outlook.misses_from.long_label}"
                 if outlook.misses_from is not None else "")
        return (f"On the current trajectory, {name} reaches {target} in "
                f"{reach.period.long_label}{again} ({interval} {bounds(reach)} then).")
    return (f"On the current trajectory, {name} is not projected to reach {target} by "
            f"{final.period.long_label} ({interval} {bounds(final)} by then).")
