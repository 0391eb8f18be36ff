"""The evaluation stage of one pack: which period, its KPI results and exceptions, the action log
as of the period, what changed since the last pack, and the strategy view. One frozen value,
computed from the loaded inputs and what the store remembers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from reviewkit.cadences import Cadence
from reviewkit.errors import InputError, UsageError
from reviewkit.evaluation.actions import ActionLog, action_log, red_without_action
from reviewkit.evaluation.changes import ChangeReport, compare
from reviewkit.evaluation.evaluate import Evaluation, ExceptionItem, KpiResult, evaluate
from reviewkit.evaluation.strategy import Strategy, prepare_strategy
from reviewkit.evaluation.units import UnitFigures, unit_figures
from reviewkit.inputs.catalog import Catalog, Kpi
from reviewkit.inputs.loaded import Inputs
from reviewkit.inputs.units import Unit
from reviewkit.periods import Period, period_containing
from reviewkit.store.records import PackRecord, StoreHistory

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

    @property
    def is_group(self) -> bool:
        return bool(self.units)

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

    The period holds :func:`reference_day`. The data runs to that day or the latest data,
    whichever is earlier: before the period's end, the period is still in progress.
    """
    day = reference_day(cadence, inputs, requested, today)
    period = period_containing(cadence.name, day)
    ends = [d for d in (period.end, day, _latest(cadence, inputs, today)) if d is not None]
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
    evaluation = evaluate(
        inputs.catalog.kpis,
        measurements.series,
        period,
        history_length=params.history,
        stale_after=params.stale_after,
        ignored_columns=measurements.ignored_columns,
        as_of=as_of,
        today=today,
        unseen=measurements.unseen,
    )
    earlier = [pack for pack in history.packs if pack.period_end < period.end]
    previous = earlier[-1] if earlier else None
    since = previous.period_end if previous else period.previous().end
    log = action_log(
        history.events, period, since=since,
        previous_label=previous.label if previous else None,
        results=evaluation.results, series=measurements.series,
        as_of=min(as_of, today),
    )
    evaluation = evaluation.with_exceptions(red_without_action(evaluation.results, log))
    changes = compare(evaluation.results, evaluation.exceptions, earlier,
                      previous_period=period.previous(),
                      previous_exceptions=_previous_exceptions(inputs, history, period, earlier))
    strategy = prepare_strategy(cadence, inputs, evaluation, period, headline, as_of)
    return PackEvaluation(cadence=cadence, period=period, as_of=as_of, catalog=inputs.catalog,
                          headline=headline, evaluation=evaluation, action_log=log,
                          changes=changes, strategy=strategy, unit=inputs.unit,
                          units=unit_figures(inputs, period, units_known)
                          if inputs.is_group else ())


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
    return then.with_exceptions(red_without_action(then.results, log)).exceptions
