"""The notebook's entry point in the kernel: ``open_pack(cadence, params_file, period_end)``.

During ``reviewkit build`` the orchestrator has already made the pack's document (inputs,
evaluation and figures, charts, narrative, publication state, section plan) and leaves it in a
file of its private folder, named in the kernel's environment (:data:`PREPARED_ENV`), so the
kernel only lays it out. Opened by hand in Jupyter, the notebook prepares the same pack itself
from its parameters.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from reviewkit import cadences
from reviewkit.inputs.params import load_params
from reviewkit.layout.document import PackDocument
from reviewkit.layout.sections import Pack
from reviewkit.layout.sections import warm_up as _compile_templates
from reviewkit.layout.view import Publication
from reviewkit.outputs.files import MANIFEST_FILE
from reviewkit.periods import parse_period, period_containing
from reviewkit.run.reissue import reissue_of

if TYPE_CHECKING:
    from reviewkit.store.records import PackVersion

#: The environment variable through which a build tells its kernel where the prepared pack is.
PREPARED_ENV = "REVIEWKIT_PREPARED"


def warm_up() -> None:
    """Import the helpers and compile the templates (run while the kernel waits for work)."""
    _compile_templates()


def received() -> PackDocument | None:
    """The pack's document the build made for this kernel, if it was started by a build."""
    path = os.environ.get(PREPARED_ENV)
    if not path or not Path(path).is_file():
        return None
    # The file is one the build wrote moments ago into its private folder.
    document = pickle.loads(Path(path).read_bytes())
    if not isinstance(document, PackDocument):
        raise TypeError(f"{path} does not hold a pack's document")
    # A cadence defined by the caller (not built in) must be known here too: periods look up
    # their rules by the cadence's name.
    cadences.register(document.view.cadence)
    return document


def open_pack(cadence: str, params_file: str | Path,
              period_end: str | dt.date | None = None, unit: str | None = None) -> Pack:
    """The pack to lay out: the one the build handed over, else prepared here (a unit's pack
    when ``unit`` names one)."""
    handed = received()
    if (handed is not None and handed.view.cadence.name == cadence
            and handed.view.evaluated.unit_key == (unit or "")):
        day = parse_period(period_end)
        if day is None or period_containing(cadence, day) == handed.view.period:
            # The pack.ipynb output adds the notebook's styles where Jupyter shows it.
            return Pack(handed, styled=False)
    # Opened by hand: the pack is prepared here. Deferred, so that a build's kernel, which
    # only lays out what it was handed, never imports the database library.
    from reviewkit.run.prepare import load_for, prepare
    from reviewkit.store.database import Store

    definition = cadences.get(cadence)
    inputs = load_for(load_params(params_file), unit)
    store = Store.open(inputs.params.store_location)
    try:
        prepared = prepare(definition, inputs, store, period_end, unit=unit)
        versions = store.versions(cadence, prepared.view.period.label,
                                  prepared.view.evaluated.unit_key)
    finally:
        store.dispose()
    return Pack(replace(prepared, publication=as_built(prepared, versions,
                                                       Path(MANIFEST_FILE))))


def as_built(prepared: PackDocument, versions: list[PackVersion],
             manifest_file: Path) -> Publication:
    """The publication state of the pack whose folder holds ``manifest_file`` (a pack's own
    notebook run again in its folder shows the pack as it was published: final, approved by
    whom, which version); a draft of the next version anywhere else."""
    view = prepared.view
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not (isinstance(manifest, dict) and manifest.get("cadence") == view.cadence.name
            and manifest.get("label") == view.period.label):
        return reissue_of(versions, view, prepared.publication)
    version = int(manifest.get("version") or 1)
    publication = reissue_of([v for v in versions if v.version < version], view,
                             prepared.publication)
    if manifest.get("state") != "final":
        return publication
    published = manifest.get("published_at")
    return replace(
        publication, state="final", approver=manifest.get("approver"),
        published_at=dt.datetime.fromisoformat(published) if published else None,
        overrides=tuple(manifest.get("gate_overrides") or ()),
    )
