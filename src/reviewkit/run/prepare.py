"""The stages every way of making a pack shares, up to what it shows: inputs → evaluation →
view (with charts) → the narrative's planned cells. ``reviewkit build``, the ``narrative``
commands and a notebook run by hand in Jupyter all go through here, so they agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from reviewkit.cadences import Cadence, Narrative
from reviewkit.errors import UsageError
from reviewkit.evaluation.pack import (
    PackEvaluation,
    evaluate_pack,
    history_length,
    resolve_period,
    rows_needed_from,
)
from reviewkit.inputs.loaded import Inputs
from reviewkit.inputs.sources import window_for
from reviewkit.layout.charts import render_charts
from reviewkit.layout.view import PackView, Publication, make_view
from reviewkit.narrative.service import NarrativeService
from reviewkit.periods import check_date, parse_date, today
from reviewkit.store.database import Store


def parse_period(text: str | dt.date | None) -> dt.date | None:
    """A ``--period`` value as a date; a clear usage error when it is not one."""
    if text is None:
        return None
    try:
        if isinstance(text, dt.date):
            return check_date(text)
        return parse_date(str(text))
    except ValueError as exc:
        raise UsageError(f"--period: {exc}") from None


@dataclass(frozen=True)
class Prepared:
    """A pack ready to lay out: what it shows and its narrative (a draft publication)."""

    view: PackView
    publication: Publication


def evaluate(cadence: Cadence, inputs: Inputs, store: Store,
             period: str | dt.date | None = None) -> PackEvaluation:
    """Evaluate a pack of ``cadence`` with the history the store holds.

    Once the period is known, KPIs computed by queries are queried over the pack's window
    (the periods its charts show), and a large measurements table gives up the rows the pack
    needs.
    """
    requested = parse_period(period)
    day = today()
    if inputs.catalog.queries(cadence.name) or inputs.measurements.scan is not None:
        resolved, as_of = resolve_period(cadence, inputs, requested, day)
        window = window_for(resolved, history_length(cadence, inputs))
        inputs = inputs.for_pack(cadence.name, window,
                                 rows_needed_from(cadence, inputs, resolved, as_of), day)
        # The period stays the one the measurements chose: query rows later than it must not
        # move an unrequested pack to another period.
        requested = requested or inputs.params.values.period_end or resolved.end
    return evaluate_pack(cadence, inputs, store.history(cadence.name), requested, today=day)


def prepare(
    cadence: Cadence,
    inputs: Inputs,
    store: Store,
    period: str | dt.date | None = None,
    *,
    slots: Sequence[Narrative] | None = None,
    now: dt.datetime | None = None,
) -> Prepared:
    """Everything up to the narrative, for one pack (charts included)."""
    evaluated = evaluate(cadence, inputs, store, period)
    view = make_view(evaluated, inputs, charts=render_charts(evaluated), now=now)
    cells = NarrativeService(store, evaluated).plan(
        cadence.narratives if slots is None else slots)
    return Prepared(view, Publication(narrative=cells))
