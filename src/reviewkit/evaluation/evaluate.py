"""KPI evaluation: pure functions from catalog + measurements + period to statuses and exceptions.

Nothing here reads files or imports pandas, so it is fast, deterministic and easy to test.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from reviewkit import cadences
from reviewkit.evaluation.grain import (
    Coverage,
    Grain,
    Silence,
    coverage_of,
    dates_with_values,
    missing_points,
    silence_of,
)
from reviewkit.formatting import STATUS_WORDS, format_date, ordinal
from reviewkit.inputs.catalog import DEFAULT_ROLLUP, Kpi, as_written
from reviewkit.inputs.measurements import Observation, Unseen, exact_mean, exact_sum
from reviewkit.periods import Period

Status = Literal["green", "amber", "red", "no_data"]
Trend = Literal["improving", "worsening", "flat", "unknown"]
TargetSource = Literal["catalog", "rows"]
#: How a trend reads beside its KPI's status: good (green), bad (red), a warning (amber: a
#: worsening KPI still on track), mixed (amber: improving over the span but worse this period),
#: or neutral (flat, unknown).
TrendTone = Literal["good", "bad", "warning", "mixed", "neutral"]

_SEVERITY = {"green": 0, "amber": 1, "red": 2}

#: Without an amber band, a fitted change smaller than this share of the target is "flat".
FLAT_SHARE_OF_TARGET = 0.05
#: With an amber band, a fitted change smaller than this share of the band is "flat".
FLAT_SHARE_OF_BAND = 0.5

EXCEPTION_ORDER = ("red", "red_no_action", "worsened", "no_data", "stale")


def aggregate(values: Sequence[float], rule: str) -> float | None:
    """Apply a catalog aggregation rule to the values of one period (in date order)."""
    if not values:
        return None
    if rule == "mean":
        return math.fsum(values) / len(values)
    if rule == "sum":
        return math.fsum(values)
    if rule == "last":
        return values[-1]
    if rule == "min":
        return min(values)
    if rule == "max":
        return max(values)
    raise ValueError(f"unknown aggregation rule {rule!r}")


@dataclass(frozen=True)
class Combined:
    """A KPI's figure for one period from its measurements there, and what it stands on."""

    value: float | None
    count: int  # measurements with a value
    weight: float  # the sum of their counts (a row without a count weighs 1)


def _weight(obs: Observation) -> float:
    # An observation standing for several rows (a large table's date) weighs as many.
    return float(obs.rows) if obs.count is None else obs.count


def _over_time(rows: Sequence[Observation], rule: str) -> float | None:
    """One unit's figure: the aggregation rule over its rows in date order; a mean weighs each
    row by its count. Means and sums without counts add the values up exactly, as decimals:
    a large table's dates come summed by the engine, and the two must agree to the last bit."""
    valued = [obs for obs in rows if obs.value is not None]
    if rule == "mean" and any(obs.count is not None for obs in rows):
        return math.fsum(_weight(o) * o.value for o in valued) / math.fsum(  # type: ignore[operator]
            _weight(o) for o in rows)
    if rule == "mean":
        return exact_mean(valued)
    if rule == "sum":
        return exact_sum(valued) if valued else None
    return aggregate([obs.value for obs in valued if obs.value is not None], rule)


#: Figures made by arithmetic (means, sums across units) are rounded to this many decimal
#: places: the data are decimals, and binary noise in the last bit (99.89999999999999 for a
#: mean of 99.9s) must never decide a status against a 99.9 target.
FIGURE_DECIMALS = 9


def _figure(value: float | None) -> float | None:
    return None if value is None else round(value, FIGURE_DECIMALS)


def combine(kpi: Kpi, observations: Iterable[Observation]) -> Combined:
    """The figure of the measurements of one period: each segment (unit) aggregated over time
    by the KPI's ``aggregation``, then the units rolled up by its ``rollup`` rule.

    A mean of means is the count-weighted mean of every measurement, so that case is computed
    in one pass (the same arithmetic as a single unit's mean). Rows without a value are left out.
    """
    rows = sorted((obs for obs in observations if obs.value is not None),
                  key=lambda o: (o.period_end, o.segment, o.part))
    rollup = kpi.rollup_rule
    if rollup == "own" and len({obs.segment for obs in rows}) > 1:
        # The group's own figure (a median over every record): its rows without a segment,
        # never a roll-up of the units' figures.
        rows = [obs for obs in rows if obs.segment == ""]
    if rollup == "own":
        rollup = "latest"  # one figure: the group's, or a unit's, own
    if not rows:
        return Combined(None, 0, 0.0)
    weight = math.fsum(_weight(obs) for obs in rows)
    count = sum(obs.rows for obs in rows)
    # Each unit's rows, and inside a unit each part of its breakdown (a depot): aggregated over
    # time, then combined by the roll-up rule (a sum of sums, a mean of every measurement, …).
    segments: dict[tuple[str, str], list[Observation]] = {}
    for obs in rows:
        segments.setdefault((obs.segment, obs.part), []).append(obs)
    # The default rollup over units' figures is the aggregation over every row in (date, unit,
    # part) order (a sum of sums, the latest of the latest, a count-weighted mean of means …):
    # one pass, exact.
    if len(segments) == 1 or rollup == DEFAULT_ROLLUP[kpi.aggregation]:
        return Combined(_figure(_over_time(rows, kpi.aggregation)), count, weight)
    parts = [(_over_time(part, kpi.aggregation), math.fsum(_weight(o) for o in part),
              (part[-1].period_end, *key)) for key, part in segments.items()]
    values = [value for value, _, _ in parts if value is not None]
    if rollup == "mean":
        value: float | None = math.fsum(w * v for v, w, _ in parts if v is not None) / math.fsum(
            w for v, w, _ in parts if v is not None)
    elif rollup == "latest":
        value = max(parts, key=lambda part: part[2])[0]
    else:
        value = aggregate(values, rollup)
    return Combined(_figure(value), count, weight)


def rag_status(value: float | None, target: float, amber: float | None, direction: str) -> Status:
    """The contract's RAG rule: green at or better than target, amber within the band, else red."""
    if value is None:
        return "no_data"
    if direction == "higher_is_better":
        if value >= target:
            return "green"
        return "amber" if amber is not None and value >= amber else "red"
    if value <= target:
        return "green"
    return "amber" if amber is not None and value <= amber else "red"


def is_worse(status: str, than: str) -> bool:
    """True when ``status`` is a worse RAG colour than ``than`` (no_data compares as neither)."""
    if status not in _SEVERITY or than not in _SEVERITY:
        return False
    return _SEVERITY[status] > _SEVERITY[than]


@dataclass(frozen=True)
class PeriodValue:
    """A KPI's value, thresholds and status for one period."""

    period: Period
    value: float | None
    target: float
    amber: float | None
    status: Status
    count: int  # measurements with a value inside the period
    weight: float = 0.0  # the sum of their counts: the period's weight in a group's mean
    #: Share of the period the target is judged over: below 1 for a summed KPI in a period
    #: still in progress, or in the first period its data only partly covers (its target and
    #: amber are pro-rated to the days covered).
    share: float = 1.0
    #: Where the target comes from: the catalog (the KPI's, or a unit's own), or the rows of
    #: the period (a ``target`` column).
    target_from: TargetSource = "catalog"
    #: A count of events with no rows in the period: 0 (``absent: zero``), not a measurement.
    zero: bool = False
    #: The day the KPI's data starts, when that is inside this period: the first period is
    #: only partly covered (flagged wherever it is shown, whatever the aggregation).
    partial_from: dt.date | None = None

    @property
    def pro_rated(self) -> bool:
        return self.share < 1.0

    @property
    def partial(self) -> bool:
        """The data covers only part of this period (it starts inside it)."""
        return self.partial_from is not None


def elapsed_share(period: Period, as_of: dt.date | None,
                  coverage: Coverage | None = None) -> float:
    """The share of ``period`` the data covers from its start (when that is inside the period)
    up to ``as_of``: 1 when the period is over and the data covers all of it. With the data's
    ``coverage``, counted in its own rows where they come more often than the period
    (:meth:`Coverage.share`), else in days."""
    return (coverage or Coverage(None, None, None)).share(period.start, period.end, as_of)


def pro_rate(kpi: Kpi, pv: PeriodValue, as_of: dt.date | None,
             coverage: Coverage | None = None) -> PeriodValue:
    """A summed KPI's period in progress (or its first period, when the data starts inside
    it), judged against the target for the share of it covered.

    Eleven P1 incidents in the 8 weekly rows of a quarter of 13 that have come by 20 November
    are off track against a quarter's target of 12 pro-rated to 8/13 (7.4); a mean, last, min
    or max is a level and keeps its target. Either way a period the data starts inside is
    marked :attr:`PeriodValue.partial`.
    """
    start = coverage.start if coverage is not None else None
    if start is not None and pv.period.start < start <= pv.period.end:
        pv = replace(pv, partial_from=start)
    elif coverage is not None:
        coverage = replace(coverage, start=None, first=None)
    share = elapsed_share(pv.period, as_of, coverage)
    if kpi.aggregation != "sum" or share >= 1.0 or share <= 0.0:
        return pv
    target = as_written(pv.target * share)
    amber = as_written(pv.amber * share) if pv.amber is not None else None
    return replace(pv, target=target, amber=amber, share=share,
                   status=rag_status(pv.value, target, amber, kpi.direction))


def like_for_like(kpi: Kpi, earlier: PeriodValue, share: float) -> PeriodValue:
    """An earlier period of a summed KPI, scaled to compare with a period of which ``share``
    is covered: its value, target and amber times ``share / earlier.share`` (a quarter in
    progress for 51 of its 92 days is compared with 51/92 of the last quarter; a first quarter
    covered for 39 days, scaled up to the whole). A level is compared as it is."""
    if kpi.aggregation != "sum" or earlier.share <= 0 or share == earlier.share:
        return earlier
    factor = share / earlier.share
    return replace(earlier,
                   value=None if earlier.value is None else earlier.value * factor,
                   target=earlier.target * factor,
                   amber=None if earlier.amber is None else earlier.amber * factor,
                   share=share)


@dataclass(frozen=True)
class OwnerStatus:
    """A status the KPI's owner set in the review round instead of the data's, and why."""

    status: Status
    reason: str
    by: str
    at: str  # ISO time it was saved
    approved: bool  # by the office (the publish gate may require it)
    data_status: Status = "no_data"  # what the data gave

    @property
    def day(self) -> str:
        """The day it was saved, as a pack writes every day ('23 Nov 2026')."""
        return saved_day(self.at)


def saved_day(at: str) -> str:
    """The day of an ISO moment of a save, as a pack writes every day ('23 Nov 2026')."""
    return format_date(dt.date.fromisoformat(at[:10]))


@dataclass(frozen=True)
class KpiResult:
    """Everything a pack says about one KPI for one period."""

    kpi: Kpi
    current: PeriodValue
    previous: PeriodValue
    history: list[PeriodValue]  # oldest first, ending with ``current``
    trend: Trend
    streak: int  # periods in a row, ending now, in the current status
    last_seen: dt.date | None  # date of the latest measurement with a value, up to period end
    periods_without_data: int  # consecutive periods, ending now, with no value
    stale: bool
    #: Periods in a row, ending now, on the current side of the target: meeting it (green), or
    #: missing it (amber or red). "The 3rd week below target" counts these, not the status.
    target_streak: int = 0
    #: How long the feed has been silent at the day the data runs to, at its own grain.
    silence: Silence = field(default_factory=lambda: Silence(None, None, 0))
    #: The owner's status in place of the data's (see evaluation/owners.py), if they set one.
    owner_status: OwnerStatus | None = None

    @property
    def status(self) -> Status:
        return self.current.status

    @property
    def value(self) -> float | None:
        return self.current.value

    @property
    def grain(self) -> Grain | None:
        """How often the KPI's rows come (a week, a month), from their dates."""
        return self.silence.grain

    @property
    def compared(self) -> PeriodValue:
        """The previous period as this one is compared with it: for a summed KPI whose
        periods are covered in different shares (a period in progress, a partial first
        period), scaled like for like (:func:`like_for_like`)."""
        return like_for_like(self.kpi, self.previous, self.current.share)

    @property
    def change_pro_rata(self) -> bool:
        """Whether "since last" compares pro rata (a summed KPI over unequal shares)."""
        return self.compared is not self.previous

    @property
    def change(self) -> float | None:
        """Change in value since the previous period, like for like (:attr:`compared`)."""
        compared = self.compared
        if self.current.value is None or compared.value is None:
            return None
        return self.current.value - compared.value

    @property
    def data_to(self) -> dt.date | None:
        """The last day with data, when the feed is stale (its status stands on old data)."""
        return self.last_seen if self.stale else None

    @property
    def on_target(self) -> bool:
        return self.current.status == "green"

    @property
    def target_changes(self) -> list[tuple[Period, float]]:
        """The periods whose target the data set (row-level targets), where it differs from
        the catalog's: each with that target, so a chart's step is explained."""
        cadence = self.current.period.cadence
        usual = self.kpi.target_for(cadence)
        return [(pv.period, pv.target / pv.share if pv.share > 0 else pv.target)
                for pv in self.history
                if pv.share > 0 and abs(pv.target / pv.share - usual) > 1e-9]

    @property
    def reading(self) -> TrendReading:
        """The trend as the pack says it (:func:`trend_reading`)."""
        return trend_reading(self)

    @property
    def variance(self) -> float | None:
        """Value minus target (signed as the numbers are; direction tells good from bad)."""
        if self.current.value is None:
            return None
        return self.current.value - self.current.target

    @property
    def variance_pct(self) -> float | None:
        if self.variance is None or self.current.target == 0:
            return None
        return 100.0 * self.variance / abs(self.current.target)

    @property
    def status_changed(self) -> bool:
        return self.current.status != self.previous.status


@dataclass(frozen=True)
class TrendReading:
    """A KPI's trend as every page says it: the direction over its span (the last
    ``periods`` periods), its tone beside the status, and the caveat when this period went the
    other way. A KPI that got worse this period is never a plain green "improving"."""

    trend: Trend
    tone: TrendTone
    periods: int  # the trend window: the span the line is fitted over
    noun: str  # "week"
    caveat: str = ""  # "worse this week": improving over the span, but not this period

    @property
    def span(self) -> str:
        """'6 weeks'."""
        return f"{self.periods} {self.noun}{'s' if self.periods != 1 else ''}"


def trend_reading(result: KpiResult) -> TrendReading:
    """How :attr:`KpiResult.trend` reads beside the KPI's status and its change this period."""
    current = result.current
    noun = current.period.noun
    periods = cadences.get(current.period.cadence).trend_window
    trend = result.trend
    if trend == "improving":
        if is_worse(current.status, result.previous.status):
            return TrendReading(trend, "mixed", periods, noun, f"worse this {noun}")
        return TrendReading(trend, "good", periods, noun)
    if trend == "worsening":
        return TrendReading(trend, "warning" if current.status == "green" else "bad", periods,
                            noun)
    return TrendReading(trend, "neutral", periods, noun)


@dataclass(frozen=True)
class ExceptionItem:
    """A reason a KPI needs attention in this review."""

    kpi_id: str
    reason: str
    detail: str


@dataclass(frozen=True)
class DataQuality:
    """What is wrong or odd about the data, for the appendix."""

    unknown_kpis: dict[str, int] = field(default_factory=dict)  # kpi_id -> row count
    missing_values: dict[str, list[dt.date]] = field(default_factory=dict)  # dates of empty cells
    missing_rows: dict[str, int] = field(default_factory=dict)  # how many empty cells (units)
    gaps: dict[str, list[str]] = field(default_factory=dict)  # period labels with no data
    stale: dict[str, dt.date | None] = field(default_factory=dict)  # kpi_id -> last seen
    never_reported: list[str] = field(default_factory=list)
    rows_after_period: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    target_overrides: dict[str, int] = field(default_factory=dict)
    rows_in_future: int = 0  # rows dated after today: a feed or a typo to look at
    #: Counts of events whose periods without rows read 0 (``absent: zero``): kpi_id -> the
    #: periods shown that had no rows, and the day the data begins (zeros count from it).
    zero_counted: dict[str, tuple[int, dt.date]] = field(default_factory=dict)
    #: Rows missing at the data's own grain inside the pack's window, where that grain is finer
    #: than the pack's periods (a week missing from a month): kpi_id -> the dates due.
    missing_points: dict[str, list[dt.date]] = field(default_factory=dict)
    #: The noun of each KPI's grain, for ``missing_points`` ("week").
    grain_nouns: dict[str, str] = field(default_factory=dict)
    #: KPIs whose data starts inside a period the pack shows: kpi_id -> (the day it starts,
    #: that period's label). The period is only partly covered.
    partial_first: dict[str, tuple[dt.date, str]] = field(default_factory=dict)
    #: Rows of segments that are none of the group's units, left out of it: segment -> rows.
    other_segments: dict[str, int] = field(default_factory=dict)

    @property
    def issue_count(self) -> int:
        return (
            (1 if self.rows_in_future else 0) +
            len(self.unknown_kpis)
            + len(self.missing_values)
            + len(self.gaps)
            + len(self.missing_points)
            + len(set(self.partial_first.values()))
            + len(self.stale)
            + len(self.never_reported)
            + (1 if self.rows_after_period else 0)
            + len(self.ignored_columns)
            + len(self.other_segments)
        )


def period_target(
    kpi: Kpi, cadence: str, rows: Sequence[Observation]
) -> tuple[float, float | None, TargetSource]:
    """Target and amber for a period, and where they come from: the latest row's target when
    the rows set one for the figure, keeping the band's width; else the catalog's.

    Rows set the target of the figure they make: the group's own rows (no segment), or the
    rows of one unit. A figure made of several units' rows takes their target only when every
    unit gives the same one and the figure is a level, not a sum: units' targets never add up
    to the group's, and one unit's target is never the group's (the catalog's is)."""
    target = kpi.target_for(cadence)
    amber = kpi.amber_for(cadence)
    given = [obs for obs in rows if obs.target is not None]
    if not given:
        return target, amber, "catalog"
    own = [obs for obs in given if obs.segment == ""]
    units = {obs.segment for obs in rows} - {""}
    if own:
        override = own[-1].target
    elif len(units) == 1 or (not kpi.sums_units and {obs.segment for obs in given} == units
          and len({obs.target for obs in given}) == 1):
        override = given[-1].target
    else:
        return target, amber, "catalog"
    assert override is not None
    if amber is None:
        return override, None, "rows"
    return override, as_written(override - (target - amber)), "rows"


def period_value(kpi: Kpi, period: Period, rows: Sequence[Observation]) -> PeriodValue:
    """Aggregate the rows dated inside ``period`` and rate the result. A count of events with
    no rows in a period from the day its data begins is 0 (``absent: zero``)."""
    combined = combine(kpi, rows)
    zero = (not rows and kpi.counts_absent_as_zero and kpi.data_from is not None
            and period.end >= kpi.data_from)
    if zero:
        combined = Combined(0.0, 0, 0.0)
    target, amber, source = period_target(kpi, period.cadence, rows)
    status = rag_status(combined.value, target, amber, kpi.direction)
    return PeriodValue(period, combined.value, target, amber, status, combined.count,
                       combined.weight, target_from=source, zero=zero)


def trend_of(kpi: Kpi, history: Sequence[PeriodValue]) -> Trend:
    """Direction of travel: a least-squares line through the last few periods' values.

    The fitted change across the window counts as movement only when it is large next to the
    KPI's amber band (or, without a band, next to its target); otherwise the trend is flat.
    At least three values, the current one included, are needed; else the trend is unknown.
    When the target moves inside the window (a plan per period, or a target pro-rated to a
    period in progress), the line is fitted to the variance (value minus target): being
    further behind a rising plan is worsening even while the value grows. A KPI on target at
    the best value of its window is not called worsening.
    """
    if not history or history[-1].value is None:
        return "unknown"
    window = cadences.get(history[-1].period.cadence).trend_window
    recent = list(history)[-window:]
    known = [(i, pv) for i, pv in enumerate(recent) if pv.value is not None]
    if len(known) < 3:
        return "unknown"
    # A summed KPI's partly covered period (in progress, or the data's first) counts at its
    # rate for the whole period, so eleven incidents in half a quarter read as twenty-two.
    scaled = [(i, _whole(kpi, pv)) for i, pv in known]
    moving = len({round(target, 9) for _, (_, target) in scaled}) > 1
    points = [(i, value - target if moving else value) for i, (value, target) in scaled]
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    change = slope * (points[-1][0] - points[0][0])
    current = history[-1]
    target, amber = _whole_thresholds(kpi, current)
    if amber is not None and amber != target:
        tolerance = FLAT_SHARE_OF_BAND * abs(target - amber)
    else:
        scale = abs(target) or abs(mean_y) or 1.0
        tolerance = FLAT_SHARE_OF_TARGET * scale
    # Why <=: docs/evaluation.md says movement must *exceed* the tolerance; a change exactly at
    # half the band (or 5% of target) is flat.
    if abs(change) <= tolerance:
        return "flat"
    better = change > 0 if kpi.higher_is_better else change < 0
    if not better and current.status == "green" and _best_of(kpi, points):
        return "flat"  # the latest period undid the slide: "0 incidents, worsening" misleads
    return "improving" if better else "worsening"


def _whole(kpi: Kpi, pv: PeriodValue) -> tuple[float, float]:
    """A period's value and target at the rate of a whole period (a summed KPI's partly
    covered period scaled up; anything else as it is)."""
    assert pv.value is not None
    if kpi.aggregation == "sum" and 0 < pv.share < 1:
        return pv.value / pv.share, pv.target / pv.share
    return pv.value, pv.target


def _whole_thresholds(kpi: Kpi, pv: PeriodValue) -> tuple[float, float | None]:
    if kpi.aggregation == "sum" and 0 < pv.share < 1:
        return pv.target / pv.share, None if pv.amber is None else pv.amber / pv.share
    return pv.target, pv.amber


def _best_of(kpi: Kpi, points: Sequence[tuple[int, float]]) -> bool:
    """Whether the last point is at least as good as every other one."""
    last = points[-1][1]
    others = [y for _, y in points[:-1]]
    return last >= max(others) if kpi.higher_is_better else last <= min(others)


def streak_of(history: Sequence[PeriodValue], key: Callable[[str], str] = str) -> int:
    """How many periods in a row, ending with the current one, share its status (or, with
    ``key``, what ``key`` makes of it: :func:`side_of_target`)."""
    if not history:
        return 0
    status = key(history[-1].status)
    count = 0
    for pv in reversed(history):
        if key(pv.status) != status:
            break
        count += 1
    return count


def side_of_target(status: str) -> str:
    """Which side of its target a status is: meeting it (green), missing it (amber or red),
    or unknown (no data)."""
    return {"green": "meets", "amber": "misses", "red": "misses"}.get(status, status)


def _full_streak(
    kpi: Kpi, period: Period, observations: Sequence[Observation], history: Sequence[PeriodValue],
    key: Callable[[str], str] = str,
) -> int:
    """The streak, counted past the charted history when it runs that far back."""
    streak = streak_of(history, key)
    if streak < len(history) or not observations:
        return streak
    # Rows grouped by how many periods back they fall, once: walking back period by period
    # and scanning every row each time cost seconds for a long history.
    by_offset: dict[int, list[Observation]] = {}
    for obs in sorted(observations, key=lambda o: (o.period_end, o.segment)):
        by_offset.setdefault(period.offset_of(obs.period_end), []).append(obs)
    oldest = max(by_offset)
    status = key(history[-1].status)
    offset = len(history)
    earlier = period.shift(-offset)
    while offset <= oldest:
        if key(period_value(kpi, earlier, by_offset.get(offset, [])).status) != status:
            break
        streak += 1
        offset += 1
        earlier = earlier.previous()
    return streak


def evaluate_kpi(
    kpi: Kpi,
    period: Period,
    observations: Sequence[Observation],
    *,
    history_length: int,
    stale_after: int = 2,
    as_of: dt.date | None = None,
) -> KpiResult:
    """Evaluate one KPI for ``period`` from its observations (any order, any dates).

    ``as_of`` is the day the data runs to; before the period's end, a summed KPI's current
    target is pro-rated (:func:`pro_rate`).
    """
    history_length = max(history_length, cadences.get(period.cadence).trend_window, 2)
    buckets: list[list[Observation]] = [[] for _ in range(history_length)]
    last_seen: dt.date | None = None
    for obs in sorted(observations, key=lambda o: (o.period_end, o.segment)):
        offset = period.offset_of(obs.period_end)
        if offset < 0:
            continue  # after the period: ignored
        if obs.value is not None and (last_seen is None or obs.period_end > last_seen):
            last_seen = obs.period_end
        if offset < history_length:
            buckets[history_length - 1 - offset].append(obs)
    periods = period.history(history_length)
    # A count of events whose absence is zero has rows only when something happened: their
    # dates tell neither how often the data comes nor where it starts (its data_from does).
    zero = kpi.counts_absent_as_zero
    coverage = Coverage(None, None, None) if zero else coverage_of(observations)
    history = [pro_rate(kpi, period_value(kpi, p, rows), as_of if p == period else None,
                        coverage)
               for p, rows in zip(periods, buckets, strict=True)]
    without = 0
    for pv in reversed(history):
        if pv.value is not None:
            break
        without += 1
    if last_seen is not None and without == history_length:
        without = max(without, period.offset_of(last_seen))
    # Silent for ``stale_after`` of its own rows (three weeks of a weekly feed is stale in a
    # quarterly pack too), or for as many of the pack's periods.
    silence = (Silence(None, last_seen, 0) if zero else
               silence_of(observations, min(as_of, period.end) if as_of else period.end))
    stale = last_seen is not None and (without >= stale_after or silence.stale(stale_after))
    return KpiResult(
        kpi=kpi,
        current=history[-1],
        previous=history[-2],
        history=history,
        trend=trend_of(kpi, history),
        streak=_full_streak(kpi, period, observations, history),
        last_seen=last_seen,
        periods_without_data=without,
        stale=stale,
        target_streak=_full_streak(kpi, period, observations, history, side_of_target),
        silence=silence,
    )


def exceptions_for(result: KpiResult) -> list[ExceptionItem]:
    """The contract's exception reasons for one KPI (several may apply)."""
    kpi, current = result.kpi, result.current
    items: list[ExceptionItem] = []
    if current.status == "red":
        nth = f"{ordinal(result.streak)} {current.period.noun} in a row"
        items.append(ExceptionItem(kpi.id, "red", nth))
    if is_worse(current.status, result.previous.status):
        items.append(
            ExceptionItem(
                kpi.id,
                "worsened",
                f"{STATUS_WORDS[result.previous.status]} → {STATUS_WORDS[current.status]}",
            )
        )
    if current.status == "no_data":
        detail = (
            f"last measured {format_date(result.last_seen)}"
            if result.last_seen
            else "never measured"
        )
        items.append(ExceptionItem(kpi.id, "no_data", detail))
    if result.stale:
        items.append(ExceptionItem(kpi.id, "stale", f"no data for {_silent_for(result)}"))
    return items


def _silent_for(result: KpiResult) -> str:
    """How long a stale feed has been silent: in its own rows when they come more often than
    the pack's periods (three weeks, in a quarterly pack), else in periods."""
    silence, noun = result.silence, result.current.period.noun
    count = result.periods_without_data
    periods = f"{count} {noun}{'s' if count != 1 else ''}"
    if silence.grain is None or silence.missed <= result.periods_without_data:
        return periods
    return silence.grain.plural(silence.missed)


def sort_exceptions(
    items: Iterable[ExceptionItem], kpi_order: Sequence[str]
) -> list[ExceptionItem]:
    """Reasons in order of urgency, then KPIs in catalog order."""
    position = {kpi_id: i for i, kpi_id in enumerate(kpi_order)}
    return sorted(
        items,
        key=lambda e: (
            (
                EXCEPTION_ORDER.index(e.reason)
                if e.reason in EXCEPTION_ORDER
                else len(EXCEPTION_ORDER)
            ),
            position.get(e.kpi_id, len(position)),
        ),
    )


@dataclass(frozen=True)
class Evaluation:
    """All KPI results for one pack, with its exceptions and data-quality findings."""

    period: Period
    results: tuple[KpiResult, ...]
    exceptions: tuple[ExceptionItem, ...]
    data_quality: DataQuality

    def with_exceptions(self, extra: Iterable[ExceptionItem]) -> Evaluation:
        """A copy with more exceptions (e.g. the action log's escalations), re-sorted."""
        merged = sort_exceptions([*self.exceptions, *extra],
                                 [result.kpi.id for result in self.results])
        return replace(self, exceptions=tuple(merged))

    def result(self, kpi_id: str) -> KpiResult:
        for result in self.results:
            if result.kpi.id == kpi_id:
                return result
        raise KeyError(kpi_id)

    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUS_WORDS, 0)
        for result in self.results:
            counts[result.status] += 1
        return counts


def evaluate(
    kpis: Sequence[Kpi],
    series: dict[str, list[Observation]],
    period: Period,
    *,
    history_length: int | None = None,
    stale_after: int = 2,
    ignored_columns: Sequence[str] = (),
    unseen: Unseen | None = None,
    as_of: dt.date | None = None,
    today: dt.date | None = None,
) -> Evaluation:
    """Evaluate every KPI reported at ``period.cadence`` and collect exceptions and data quality
    (``as_of``: the day the data runs to, for a period in progress).

    ``unseen`` counts the rows of a large table that ``series`` leaves out (rows of unknown KPIs
    or after the period, and target rows in summarised earlier periods)."""
    length = history_length or cadences.get(period.cadence).history
    in_cadence = [kpi for kpi in kpis if period.cadence in kpi.cadences]
    results = [
        evaluate_kpi(kpi, period, series.get(kpi.id, []), history_length=length,
                     stale_after=stale_after, as_of=as_of)
        for kpi in in_cadence
    ]
    exceptions = sort_exceptions(
        (item for result in results for item in exceptions_for(result)),
        [kpi.id for kpi in in_cadence],
    )
    quality = _data_quality(kpis, results, series, period, ignored_columns, today,
                            unseen or Unseen(), as_of)
    return Evaluation(period, tuple(results), tuple(exceptions), quality)


def _data_quality(
    kpis: Sequence[Kpi],
    results: Sequence[KpiResult],
    series: dict[str, list[Observation]],
    period: Period,
    ignored_columns: Sequence[str],
    today: dt.date | None,
    unseen: Unseen,
    as_of: dt.date | None = None,
) -> DataQuality:
    known = {kpi.id for kpi in kpis}
    future = unseen.rows_in_future + sum(1 for rows in series.values() for obs in rows
                                         if today is not None and obs.period_end > today)
    unknown: dict[str, int] = dict(unseen.unknown_kpis)
    missing_values: dict[str, list[dt.date]] = {}
    missing_rows: dict[str, int] = {}
    gaps: dict[str, list[str]] = {}
    stale: dict[str, dt.date | None] = {}
    never: list[str] = []
    after = unseen.rows_after_period
    overrides: dict[str, int] = {}
    points: dict[str, list[dt.date]] = {}
    nouns: dict[str, str] = {}
    partial: dict[str, tuple[dt.date, str]] = {}
    end = min(period.end, as_of) if as_of is not None else period.end
    for kpi_id, rows in sorted(series.items()):
        if kpi_id not in known:
            unknown[kpi_id] = len(rows)
    unknown = dict(sorted(unknown.items()))
    for rows in series.values():
        after += sum(1 for obs in rows if obs.period_end > period.end)
    zeros: dict[str, tuple[int, dt.date]] = {}
    for result in results:
        kpi_id = result.kpi.id
        rows = series.get(kpi_id, [])
        if result.kpi.counts_absent_as_zero and result.kpi.data_from is not None:
            zeros[kpi_id] = (sum(1 for pv in result.history if pv.zero), result.kpi.data_from)
        missing = [
            obs.period_end for obs in rows if obs.value is None and obs.period_end <= period.end
        ]
        if missing:
            missing_values[kpi_id] = sorted(set(missing))
            missing_rows[kpi_id] = len(missing)
        count = sum(
            1 for obs in rows if obs.target is not None and obs.period_end <= period.end
        ) + unseen.extra_target_rows.get(kpi_id, 0)
        if count:
            overrides[kpi_id] = count
        if kpi_id in zeros and any(pv.value is not None for pv in result.history):
            continue  # no rows is a count of 0 here: no gap, no silence, no missing week
        if result.last_seen is None:
            never.append(kpi_id)
            continue
        first_seen = min(obs.period_end for obs in rows if obs.value is not None)
        holes = [
            pv.period.label
            for pv in result.history
            if pv.value is None and pv.period.end >= first_seen
        ]
        if holes:
            gaps[kpi_id] = holes
        if result.stale:
            stale[kpi_id] = result.last_seen
        first_partial = next((pv for pv in result.history if pv.partial), None)
        if first_partial is not None and first_partial.partial_from is not None:
            partial[kpi_id] = (first_partial.partial_from, first_partial.period.label)
        grain = result.grain
        if grain is not None and _finer(grain, period):
            due = missing_points(grain, dates_with_values(rows, until=end),
                                 result.history[0].period.start, end)
            if due:
                points[kpi_id] = due
                nouns[kpi_id] = grain.noun
    return DataQuality(unknown_kpis=unknown, missing_values=missing_values,
                       missing_rows=missing_rows, gaps=gaps,
                       stale=stale, never_reported=never, rows_after_period=after,
                       ignored_columns=list(ignored_columns), target_overrides=overrides,
                       rows_in_future=future, missing_points=points, grain_nouns=nouns,
                       partial_first=partial, zero_counted=zeros,
                       other_segments=dict(unseen.other_segments))


def _finer(grain: Grain, period: Period) -> bool:
    """Whether rows at ``grain`` come more often than ``period``'s cadence (a missing week
    inside a month is not a missing month, so it is listed on its own)."""
    rule = period.rule
    if rule.unit == "days":
        return not grain.months and grain.days < rule.length
    return not grain.months or grain.months < rule.length
