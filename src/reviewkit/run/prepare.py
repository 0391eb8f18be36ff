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
from reviewkit.evaluation.pack import PackEvaluation, evaluate_pack
from reviewkit.inputs.loaded import Inputs
from reviewkit.layout.charts import render_charts
from reviewkit.layout.view import PackView, Publication, make_view
from reviewkit.narrative.service import NarrativeService
from reviewkit.store.database import Store


def parse_period(text: str | dt.date | None) -> dt.date | None:
    """A ``--period`` value as a date; a clear usage error when it is not one."""
    if text is None or isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise UsageError(f"--period {text!r} is not a date; write it as YYYY-MM-DD") from None


@dataclass(frozen=True)
class Prepared:
    """A pack ready to lay out: what it shows and its narrative (a draft publication)."""

    view: PackView
    publication: Publication


def evaluate(cadence: Cadence, inputs: Inputs, store: Store,
             period: str | dt.date | None = None, *,
             today: dt.date | None = None) -> PackEvaluation:
    """Evaluate a pack of ``cadence`` with the history the store holds; ``today`` (default: the
    system clock) limits the action log of a period in progress."""
    return evaluate_pack(cadence, inputs, store.history(cadence.name), parse_period(period),
                         today=today or dt.date.today())


def prepare(
    cadence: Cadence,
    inputs: Inputs,
    store: Store,
    period: str | dt.date | None = None,
    *,
    slots: Sequence[Narrative] | None = None,
    now: dt.datetime | None = None,
) -> Prepared:
    """Everything up to the narrative, for one pack (charts included); ``now`` is the clock."""
    evaluated = evaluate(cadence, inputs, store, period, today=now.date() if now else None)
    view = make_view(evaluated, inputs, charts=render_charts(evaluated), now=now)
    cells = NarrativeService(store, evaluated).plan(
        cadence.narratives if slots is None else slots)
    return Prepared(view, Publication(narrative=cells))
