"""The notebook's entry point in the kernel: ``open_pack(cadence, params_file, period_end)``.

During ``reviewkit build`` the orchestrator has already prepared the pack (inputs, evaluation,
charts, narrative, publication state) and hands it to the kernel with :func:`receive` before
the notebook runs, so the kernel only lays it out. Opened by hand in Jupyter, the notebook
prepares the same pack itself from its parameters.
"""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

from reviewkit import cadences
from reviewkit.inputs.loaded import load_inputs
from reviewkit.layout.sections import Pack
from reviewkit.layout.sections import warm_up as _compile_templates
from reviewkit.periods import period_containing
from reviewkit.run.prepare import Prepared, parse_period, prepare
from reviewkit.store.database import Store

_received: Prepared | None = None


def warm_up() -> None:
    """Import the helpers and compile the templates (run while the kernel waits for work)."""
    _compile_templates()


def receive(path: str) -> None:
    """Take the pack the build prepared (a file it wrote moments ago in its private folder)."""
    global _received
    prepared = pickle.loads(Path(path).read_bytes())
    if not isinstance(prepared, Prepared):
        raise TypeError(f"{path} does not hold a prepared pack")
    # A cadence defined by the caller (not built in) must be known here too: periods look up
    # their rules by the cadence's name.
    cadences.register(prepared.view.cadence)
    _received = prepared


def open_pack(cadence: str, params_file: str | Path,
              period_end: str | dt.date | None = None) -> Pack:
    """The pack to lay out: the one the build handed over, else prepared here."""
    received = _received
    if received is not None and received.view.cadence.name == cadence:
        day = parse_period(period_end)
        period = received.view.period
        if day is None or period_containing(cadence, day) == period:
            return Pack(received.view, received.publication)
    definition = cadences.get(cadence)
    inputs = load_inputs(params_file)
    store = Store.open(inputs.params.store_location)
    try:
        prepared = prepare(definition, inputs, store, period_end)
    finally:
        store.dispose()
    return Pack(prepared.view, prepared.publication)
