"""The stages every way of making a pack shares, up to what it shows: inputs → evaluation →
view → the narrative's planned cells → the pack's document (with charts). ``reviewkit build``,
the ``narrative`` commands and a notebook run by hand in Jupyter all go through here, so they
agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path

from reviewkit import redact
from reviewkit.cadences import MONTHLY, Cadence, Narrative
from reviewkit.errors import ReviewkitError
from reviewkit.evaluation.forecast import HISTORY_MONTHS
from reviewkit.evaluation.owners import entered_values
from reviewkit.evaluation.pack import (
    PackEvaluation,
    evaluate_pack,
    history_length,
    reference_day,
    resolve_period,
)
from reviewkit.evaluation.strategy import outlook_month
from reviewkit.evaluation.units import UnitFigures
from reviewkit.inputs.loaded import InputFile, Inputs, input_file, load_named_inputs, shown_path
from reviewkit.inputs.measurements import Observation
from reviewkit.inputs.params import GROUP_FOLDER, LoadedParams
from reviewkit.inputs.sources import Window, window_for
from reviewkit.layout.charts import render_charts
from reviewkit.layout.document import PackDocument, pack_document
from reviewkit.layout.render import templates_fingerprint
from reviewkit.layout.view import Publication, make_view
from reviewkit.narrative.service import NarrativeService
from reviewkit.periods import Period, parse_period, period_containing
from reviewkit.periods import today as clock
from reviewkit.store.cycle import CycleStore
from reviewkit.store.database import Store
from reviewkit.store.records import KpiUpdate


def notebook_for(cadence: Cadence, custom: Path | None = None) -> Path:
    """The built-in notebook of a cadence, unless the params file names its own."""
    if custom is not None:
        return custom
    path = Path(str(resources.files("reviewkit") / "notebooks" / cadence.notebook))
    if not path.is_file():
        raise ReviewkitError(f"the {cadence.name} notebook is not installed at {path}")
    return path


def sources(cadence: Cadence, notebook: Path, store: Store, label: str,
            unit: str = "", *, base: Path | None = None,
            params: str = "") -> tuple[InputFile, ...]:
    """What a pack is made from besides its input files: the notebook, the templates and
    stylesheets (their version, as one hash), and the store's content the pack reads (actions,
    decisions, earlier packs, narrative; named without any password). Files are named relative
    to ``base`` (the params file's folder), the built-in notebooks by their name in the package."""
    digest, _, size = templates_fingerprint(cadence.template_dirs)
    notebook_file = input_file("notebook", notebook, None, base=base)
    builtin = Path(str(resources.files("reviewkit") / "notebooks"))
    if notebook.resolve().parent == builtin.resolve():
        notebook_file = replace(notebook_file, path=f"reviewkit/notebooks/{notebook.name}")
    location = store.location
    if base is not None and "://" not in location:
        location = shown_path(Path(location), base)
    found = (
        notebook_file,
        InputFile("templates", "reviewkit layout templates", digest, size),
        InputFile("store", redact.url(location), store.fingerprint(cadence.name, label, unit), 0),
    )
    # What owners wrote in the period's review round, when one was opened.
    written = CycleStore(store).fingerprint(cadence.name, label, unit, params)
    if written is None:
        return found
    return (*found, InputFile("review round", f"review round {cadence.name} {label}",
                              written[0], 0, written[1]))


def load_for(params: LoadedParams, unit: str | None = None) -> Inputs:
    """A pack definition's inputs; asking for a unit turns on units (every segment of the data
    is one) when the params file names none."""
    return load_named_inputs(params, every_segment=unit is not None)


def unit_key(unit: str | None) -> str:
    """A requested unit as the store keys it: '' for the group ('group', or none asked for)."""
    return "" if unit in (None, GROUP_FOLDER) else str(unit)


def unit_inputs(inputs: Inputs, unit: str | None) -> Inputs:
    """The inputs of one pack of a definition: a unit's, or the group's (or the only) one."""
    key = unit_key(unit)
    return inputs.for_unit(inputs.unit_named(key)) if key else inputs


def evaluate(cadence: Cadence, inputs: Inputs, store: Store,
             period: str | dt.date | None = None, unit: str | None = None, *,
             today: dt.date | None = None,
             units_known: Mapping[str, UnitFigures] | None = None) -> PackEvaluation:
    """Evaluate a pack of ``cadence`` (of ``unit``, when given) with the history the store
    holds. ``inputs`` are the whole definition's: a unit reports the group's period.
    ``today`` is the clock (default :func:`reviewkit.periods.today`): it limits the latest
    period and the action log of a period in progress.

    Once the period is known, KPIs computed by queries are queried over the pack's window
    (the periods its charts show), and a large measurements table gives up its catalog KPIs'
    dates up to the period's end, each date's rows combined (before a unit's rows are picked
    from them). ``units_known``: units' figures for a group's units page (see
    :func:`~reviewkit.evaluation.pack.evaluate_pack`).
    """
    now = today or clock()
    day = reference_day(cadence, inputs, parse_period(period), now)
    # Resolved once from the definition's inputs: the period and, for the group's (or the
    # only) pack, the day its data runs to; a unit's pack takes that day from its own rows.
    windowed = bool(inputs.catalog.queries(cadence.name)) or inputs.measurements.scan is not None
    own_pack = not unit_key(unit)
    resolved = resolve_period(cadence, inputs, day, now) if windowed or own_pack else None
    if windowed and resolved is not None:
        window = window_for(resolved[0], history_length(cadence, inputs))
        inputs = inputs.for_pack(cadence.name, window, now,
                                 outlook=outlook_window(cadence, *resolved))
    updates = round_updates(cadence, inputs, store, day)
    entered = with_entered_values(inputs, updates, period_containing(cadence.name, day))
    if entered is not inputs:
        resolved = None  # a value entered by hand may move the day the data runs to
    inputs = entered
    own = unit_inputs(inputs, unit)
    return evaluate_pack(cadence, own, store.history(cadence.name, unit_key(unit)), day,
                         today=now, owner_updates=[u for u in updates if u.unit == unit_key(unit)],
                         units_known=units_known, resolved=resolved if own_pack else None)


def round_updates(cadence: Cadence, inputs: Inputs, store: Store,
                  day: dt.date) -> tuple[KpiUpdate, ...]:
    """What owners wrote in the review round of this pack's period (every unit's)."""
    label = period_containing(cadence.name, day).label
    return CycleStore(store).updates_for_pack(cadence.name, label, str(inputs.params.path))


def with_entered_values(inputs: Inputs, updates: Sequence[KpiUpdate],
                        period: Period) -> Inputs:
    """The inputs with each value an owner entered by hand for ``period`` (a KPI the catalog
    marks ``manual``) as that period's measurement of its unit, in place of any row the data
    has there."""
    manual = {kpi.id for kpi in inputs.catalog.kpis if kpi.manual}
    entered = entered_values([u for u in updates if u.kpi_id in manual])
    if not entered:
        return inputs
    segments = {unit.id: unit.segment for unit in inputs.units}
    series = dict(inputs.measurements.series)
    for update in updates:
        value = entered_values([update]).get(update.kpi_id)
        if value is None or update.kpi_id not in manual:
            continue
        segment = segments.get(update.unit, "") if update.unit else ""
        kept = [obs for obs in series.get(update.kpi_id, [])
                if not (period.start <= obs.period_end <= period.end and obs.segment == segment)]
        series[update.kpi_id] = sorted(
            [*kept, Observation(period_end=period.end, value=value.value, segment=segment)],
            key=lambda obs: (obs.period_end, obs.segment))
    return replace(inputs, measurements=replace(inputs.measurements, series=series))


def outlook_window(cadence: Cadence, period: Period, as_of: dt.date) -> Window | None:
    """The months a pack's outlook is fitted on, when the cadence has an outlook: its KPI
    queries run again by month over them (a pack's own periods may be quarters)."""
    if not cadence.wants("outlook"):
        return None
    first = outlook_month(as_of).shift(-(HISTORY_MONTHS - 1))
    return Window(first.start, period.end, MONTHLY.name, MONTHLY.period)


def prepare(
    cadence: Cadence,
    inputs: Inputs,
    store: Store,
    period: str | dt.date | None = None,
    *,
    slots: Sequence[Narrative] | None = None,
    now: dt.datetime | None = None,
    unit: str | None = None,
) -> PackDocument:
    """Everything up to the narrative, for one pack (a draft, charts included); ``now`` is
    the clock."""
    evaluated = evaluate(cadence, inputs, store, period, unit,
                         today=now.date() if now else None)
    cells = NarrativeService(store, evaluated).plan(
        tuple(section.narrative for section in evaluated.sections if section.narrative)
        if slots is None else slots)
    notebook = notebook_for(cadence, inputs.params.values.notebook)
    view = make_view(evaluated, unit_inputs(inputs, unit), now=now,
                     sources=sources(cadence, notebook, store, evaluated.period.label,
                                     unit_key(unit), base=inputs.params.path.parent,
                                     params=str(inputs.params.path)))
    return pack_document(view, Publication(narrative=cells), render_charts(evaluated))
