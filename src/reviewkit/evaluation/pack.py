"""The evaluation stage of one pack: which period, its KPI results and exceptions, the action log
as of the period, what changed since the last pack, and the strategy view. One frozen value,
computed from the loaded inputs and what the store remembers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reviewkit.cadences import Cadence, Section, StrategyPart
from reviewkit.errors import InputError, UsageError
from reviewkit.evaluation.actions import ActionLog, action_log, red_without_action
from reviewkit.evaluation.breakdown import Breakdown, breakdowns
from reviewkit.evaluation.changes import ChangeReport, compare
from reviewkit.evaluation.evaluate import Evaluation, ExceptionItem, KpiResult, evaluate
from reviewkit.evaluation.figures import PackFigures, pack_figures
from reviewkit.evaluation.owners import (
    EnteredValue,
    OwnerNote,
    entered_values,
    owner_notes,
    owner_statuses,
    with_owner_statuses,
)
from reviewkit.evaluation.strategy import Strategy, prepare_strategy
from reviewkit.evaluation.units import ShareOfGroup, UnitFigures, shares_of, unit_figures
from reviewkit.inputs.catalog import Catalog, Kpi
from reviewkit.inputs.loaded import Inputs
from reviewkit.inputs.sources import SourceRead
from reviewkit.inputs.units import Unit
from reviewkit.periods import Period, period_containing
from reviewkit.store.records import KpiUpdate, PackRecord, StoreHistory

#: Headline KPIs when neither the params file nor the catalog names any: the first few.
DEFAULT_HEADLINE_COUNT = 6


@dataclass(frozen=True)
class PackEvaluation:
    """Everything a pack says about its period, before any layout or narrative."""

    cadence: Cadence
    period: Period
    as_of: dt.date  # the day the data runs to (before the period's end: in progress)
    catalog: Catalog
    headline: tuple[str, ...]
    evaluation: Evaluation
    action_log: ActionLog
    changes: ChangeReport
    strategy: Strategy
    #: The unit this pack is for; None for the group (or the only) pack.
    unit: Unit | None = None
    #: A group pack's units, each with its figures for the period ("units side by side").
    units: tuple[UnitFigures, ...] = ()
    #: A unit pack's KPIs summed over the units without a target of the unit's own: its share
    #: of the group's figure, not judged.
    shares: tuple[ShareOfGroup, ...] = ()
    #: KPIs broken down by a column finer than the unit (a depot): their period by its parts,
    #: by KPI id (not in a group pack, whose units page breaks it down by unit).
    breakdowns: Mapping[str, Breakdown] = field(default_factory=dict)
    #: What its queries read from database sources (for the provenance).
    source_reads: tuple[SourceRead, ...] = ()
    #: The optional inputs the params file names (a unit's pack has none of them itself).
    configured: frozenset[StrategyPart] = frozenset()
    #: What the KPIs' owners wrote in the review round, by KPI id (see evaluation/owners.py).
    owner_notes: Mapping[str, OwnerNote] = field(default_factory=dict)
    #: Values owners entered by hand for the period, by KPI id.
    entered: Mapping[str, EnteredValue] = field(default_factory=dict)
    #: Every figure the pack states, written once (:mod:`reviewkit.evaluation.figures`).
    figures: PackFigures = field(default_factory=lambda: PackFigures(""))

    @property
    def is_group(self) -> bool:
        return bool(self.units)

    @property
    def inputs_present(self) -> frozenset[StrategyPart]:
        """The optional inputs this pack has (initiatives, benefits, spend, priorities)."""
        strategy = self.strategy
        given: tuple[tuple[StrategyPart, object], ...] = (
            ("initiatives", strategy.initiatives), ("benefits", strategy.benefits),
            ("spend", strategy.spend), ("priorities", strategy.priorities))
        return frozenset(part for part, value in given if value is not None)

    @property
    def inputs_missing(self) -> tuple[StrategyPart, ...]:
        """The inputs the cadence's sections show that this pack does not have: those
        sections are left out (the data-quality appendix names them)."""
        present = self.inputs_present
        return tuple(dict.fromkeys(section.needs for section in self.cadence.sections
                                   if section.needs is not None
                                   and section.needs not in present))

    @property
    def inputs_not_configured(self) -> tuple[StrategyPart, ...]:
        """Of :attr:`inputs_missing`, those the params file does not name."""
        return tuple(part for part in self.inputs_missing if part not in self.configured)

    @property
    def inputs_of_group(self) -> tuple[StrategyPart, ...]:
        """Of :attr:`inputs_missing`, those the params file names: a unit's pack leaves the
        group's portfolio, spend and priorities to the group's pack."""
        return tuple(part for part in self.inputs_missing if part in self.configured)

    @property
    def sections(self) -> tuple[Section, ...]:
        """The sections of this pack: the units page only in a group pack, the group's own
        sections not in a unit's, and only the sections whose input it has."""
        return self.cadence.sections_for(self.is_group, self.unit is not None,
                                         self.inputs_present)

    @property
    def unit_key(self) -> str:
        """The unit's key in the store: its id, or '' for the group (or the only) pack."""
        return self.unit.id if self.unit else ""

    @property
    def results(self) -> tuple[KpiResult, ...]:
        return self.evaluation.results

    @property
    def kpis(self) -> list[Kpi]:
        return [result.kpi for result in self.evaluation.results]

    def result(self, kpi_id: str) -> KpiResult:
        return self.evaluation.result(kpi_id)

    @property
    def in_progress(self) -> bool:
        return self.as_of < self.period.end


def reference_day(cadence: Cadence, inputs: Inputs, requested: dt.date | None,
                  today: dt.date) -> dt.date:
    """The day whose period a pack reports: ``--period``, else the params file's
    ``period_end``, else the end of the latest complete period with data (rows dated after
    ``today`` do not count, and a period still running today gives way to the one before it).
    A period that has not started by ``today`` is refused. A batch takes the day from the
    group's inputs and passes it to every unit, so they all report the same period."""
    chosen = requested or inputs.params.values.period_end
    if chosen is not None:
        if period_containing(cadence.name, chosen).start > today:
            message = (f"the {cadence.noun} of {chosen.isoformat()} has not started yet "
                       f"(today is {today.isoformat()})")
            if requested is None:
                raise inputs.params.error(message, "period_end")
            raise UsageError(f"--period: {message}")
        return chosen
    latest = _latest(cadence, inputs, today)
    if latest is None:
        raise InputError(
            inputs.measurements.path,
            f"no measurements for any {cadence.name} KPI up to today, so there is no latest "
            "period; add data or set period_end in the params file",
        )
    period = period_containing(cadence.name, latest)
    return period.previous().end if period.end > today else latest


def _latest(cadence: Cadence, inputs: Inputs, today: dt.date) -> dt.date | None:
    return inputs.measurements.latest_date(
        {kpi.id for kpi in inputs.catalog.for_cadence(cadence.name)}, not_after=today)


def resolve_period(cadence: Cadence, inputs: Inputs, requested: dt.date | None,
                   today: dt.date) -> tuple[Period, dt.date]:
    """The pack's period and the day the data runs to.

    The period holds :func:`reference_day`. The data runs to the period's end or the latest
    data, whichever is earlier: before the period's end, the period is still in progress. The
    day named only picks the period: its figures take every row inside it, so any day of a
    month gives the same pack (its pro-rated targets and action log included).
    """
    day = reference_day(cadence, inputs, requested, today)
    period = period_containing(cadence.name, day)
    ends = [d for d in (period.end, _latest(cadence, inputs, today)) if d is not None]
    return period, max(period.start, min(ends))


def history_length(cadence: Cadence, inputs: Inputs) -> int:
    """Periods of history the pack evaluates and charts, the current one included."""
    return max(inputs.params.values.history or cadence.history, cadence.trend_window, 2)


def choose_headline(cadence: Cadence, inputs: Inputs) -> tuple[str, ...]:
    """Headline KPIs: the params file's list, else the catalog's ``headline: true`` ones, else
    the first few in catalog order."""
    catalog = inputs.catalog
    in_cadence = [kpi.id for kpi in catalog.for_cadence(cadence.name)]
    chosen = inputs.params.values.headline
    if chosen is not None:
        for kpi_id in chosen:
            if kpi_id not in catalog.by_id():
                raise InputError(
                    inputs.params.path, f"unknown KPI id '{kpi_id}' in the headline list",
                    field="headline",
                )
        return tuple(kpi_id for kpi_id in chosen if kpi_id in in_cadence)
    flagged = [kpi.id for kpi in catalog.for_cadence(cadence.name) if kpi.headline]
    return tuple(flagged or in_cadence[:DEFAULT_HEADLINE_COUNT])


def evaluate_pack(
    cadence: Cadence,
    inputs: Inputs,
    history: StoreHistory,
    requested: dt.date | None = None,
    *,
    today: dt.date,
    owner_updates: Sequence[KpiUpdate] = (),
    units_known: Mapping[str, UnitFigures] | None = None,
    resolved: tuple[Period, dt.date] | None = None,
) -> PackEvaluation:
    """Evaluate one pack of ``cadence`` for the period ``requested`` falls in (default: the
    params file's ``period_end``, else the latest complete period in the data). A group's
    units page takes the figures in ``units_known`` (by unit id) as they are. ``resolved``:
    the period and the day its data runs to, when the caller has resolved them already from
    these inputs (:func:`resolve_period`).

    ``today`` is the clock (the caller reads it, so this stays pure): the action log of a
    period in progress is taken as of the day the data runs to, or today if that is earlier.
    """
    period, as_of = resolved or resolve_period(cadence, inputs, requested, today)
    measurements = inputs.measurements
    params = inputs.params.values
    headline = choose_headline(cadence, inputs)
    # A unit's shares of the group's figures are evaluated apart (their rows are not rows of
    # KPIs missing from the catalog).
    shared = {kpi.id for kpi in inputs.shares}
    evaluation = evaluate(
        inputs.catalog.kpis,
        {kpi_id: rows for kpi_id, rows in measurements.series.items() if kpi_id not in shared},
        period,
        history_length=params.history,
        stale_after=params.stale_after,
        ignored_columns=measurements.ignored_columns,
        as_of=as_of,
        today=today,
        unseen=measurements.unseen,
    )
    evaluation = with_owner_statuses(evaluation, owner_statuses(owner_updates))
    earlier = [pack for pack in history.packs if pack.period_end < period.end]
    previous = earlier[-1] if earlier else None
    since = previous.period_end if previous else period.previous().end
    log = action_log(
        history.events, period, since=since,
        previous_label=previous.label if previous else None,
        results=evaluation.results, series=measurements.series,
        as_of=min(as_of, today),
    )
    shares = shares_of(inputs, period, as_of)
    # The group's actions name the unit's KPI and its status; a KPI the unit shows as its
    # share of the group, the group's status (the unit has none of its own there).
    log = _with_group_actions(log, inputs, history, period, since,
                              [*evaluation.results, *(s.group for s in shares)],
                              as_of=min(as_of, today))
    evaluation = evaluation.with_exceptions(red_without_action(evaluation.results, log))
    changes = compare(evaluation.results, evaluation.exceptions, earlier,
                      previous_period=period.previous(),
                      previous_exceptions=_previous_exceptions(inputs, history, period, earlier))
    strategy = prepare_strategy(cadence, inputs, evaluation, period, headline, as_of)
    units = unit_figures(inputs, period, as_of, units_known) if inputs.is_group else ()
    parts = {} if inputs.is_group else breakdowns(evaluation.results, measurements.series)
    figures = pack_figures(period=period, evaluation=evaluation, action_log=log,
                           changes=changes, strategy=strategy, kpis=inputs.catalog.by_id(),
                           units=units, shares=shares,
                           unit_id=inputs.unit.id if inputs.unit else None,
                           breakdowns=parts, as_of=as_of)
    return PackEvaluation(cadence=cadence, period=period, as_of=as_of, catalog=inputs.catalog,
                          headline=headline, evaluation=evaluation, action_log=log,
                          changes=changes, strategy=strategy, unit=inputs.unit,
                          units=units, figures=figures, shares=shares, breakdowns=parts,
                          source_reads=inputs.source_reads,
                          configured=_configured(inputs),
                          owner_notes=owner_notes(owner_updates),
                          entered=entered_values(owner_updates))


def _configured(inputs: Inputs) -> frozenset[StrategyPart]:
    values = inputs.params.values
    named: tuple[tuple[StrategyPart, object], ...] = (
        ("initiatives", values.initiatives), ("benefits", values.benefits),
        ("spend", values.spend), ("priorities", values.priorities))
    return frozenset(part for part, path in named if path is not None)


def _previous_exceptions(inputs: Inputs, history: StoreHistory, period: Period,
                         earlier: list[PackRecord]) -> tuple[ExceptionItem, ...]:
    """The previous period's exceptions from its data, when no pack was recorded for it (what
    changed is then measured against the same previous period the scorecard shows)."""
    previous = period.previous()
    if earlier and earlier[-1].label == previous.label:
        return ()
    params = inputs.params.values
    series = inputs.measurements.series
    then = evaluate(inputs.catalog.kpis, series, previous, history_length=params.history,
                    stale_after=params.stale_after)
    log = action_log(history.events, previous, since=previous.previous().end,
                     previous_label=None, results=then.results, series=series)
    # As this period's log: the group's actions on the unit's KPIs count as its own (else a
    # red KPI with the group's action on it reads "red, no action" last period only).
    log = _with_group_actions(log, inputs, history, previous, previous.previous().end,
                              then.results)
    return then.with_exceptions(red_without_action(then.results, log)).exceptions


def _with_group_actions(log: ActionLog, inputs: Inputs, history: StoreHistory, period: Period,
                        since: dt.date, results: Sequence[KpiResult],
                        as_of: dt.date | None = None) -> ActionLog:
    """A unit's action log with the group's open actions on its KPIs (and on those it shows
    as its share of the group); the group's log, or the only pack's, as it is."""
    if inputs.unit is None:
        return log
    group_log = action_log(history.group_events, period, since=since, previous_label=None,
                           results=results, series=inputs.measurements.series, as_of=as_of)
    return log.with_group_actions(group_log, {kpi.id for kpi in inputs.catalog.kpis}
                                  | {kpi.id for kpi in inputs.shares})
