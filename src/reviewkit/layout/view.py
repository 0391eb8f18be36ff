"""What a pack shows, as two frozen values (:class:`reviewkit.layout.document.PackDocument`
holds them, with the section plan and the charts, for the notebook kernel and the outputs):

* :class:`PackView`: the evaluated period with its figures, the pack's identity (organisation,
  title, classification, paper) and its provenance;
* :class:`Publication`: the narrative cells and the publication state (draft, or final with the
  approver and any gate reasons overridden).
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from reviewkit import periods, redact
from reviewkit.cadences import Cadence
from reviewkit.evaluation.actions import ActionLog
from reviewkit.evaluation.changes import ChangeReport
from reviewkit.evaluation.evaluate import Evaluation, KpiResult
from reviewkit.evaluation.figures import PackFigures
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.evaluation.strategy import Strategy
from reviewkit.formatting import Currency, isolated
from reviewkit.inputs.catalog import Catalog, Kpi
from reviewkit.inputs.loaded import InputFile, Inputs, shown_path
from reviewkit.inputs.units import Unit
from reviewkit.narrative.cells import NarrativeCell
from reviewkit.periods import Period

#: Packages whose versions every pack records in its provenance appendix.
RECORDED_PACKAGES = (
    "reviewkit",
    "papermill",
    "nbconvert",
    "nbformat",
    "weasyprint",
    "matplotlib",
    "pandas",
    "pydantic",
    "jinja2",
)

State = Literal["draft", "final"]


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass(frozen=True)
class Provenance:
    """What a pack was built from: the effective parameters, input files and software."""

    params_path: str
    parameters: dict[str, Any]
    inputs: tuple[InputFile, ...]
    versions: dict[str, str]


@dataclass(frozen=True)
class PackView:
    """Everything the sections lay out, except the narrative and the publication state."""

    evaluated: PackEvaluation
    organisation: str
    title: str
    classification: str
    page_size: str
    generated_at: dt.datetime
    provenance: Provenance
    year_start_month: int = 1  # first month of the (financial) year

    # -- the evaluation, by the names the templates use ------------------------------------
    @property
    def cadence(self) -> Cadence:
        return self.evaluated.cadence

    @property
    def period(self) -> Period:
        return self.evaluated.period

    @property
    def as_of(self) -> dt.date:
        return self.evaluated.as_of

    @property
    def catalog(self) -> Catalog:
        return self.evaluated.catalog

    @property
    def evaluation(self) -> Evaluation:
        return self.evaluated.evaluation

    @property
    def headline(self) -> tuple[str, ...]:
        return self.evaluated.headline

    @property
    def action_log(self) -> ActionLog:
        return self.evaluated.action_log

    @property
    def changes(self) -> ChangeReport:
        return self.evaluated.changes

    @property
    def strategy(self) -> Strategy:
        return self.evaluated.strategy

    @property
    def kpis(self) -> list[Kpi]:
        return self.evaluated.kpis

    def result(self, kpi_id: str) -> KpiResult:
        return self.evaluated.result(kpi_id)

    @property
    def currency(self) -> Currency:
        """How the pack writes money (the params file's ``currency``)."""
        return self.strategy.currency

    @property
    def year_start_name(self) -> str:
        """The (financial) year's first month: 'January', 'July'."""
        return calendar.month_name[self.year_start_month]

    @property
    def unit(self) -> Unit | None:
        """The unit this pack is for; None for the group (or the only) pack."""
        return self.evaluated.unit

    @property
    def figures(self) -> PackFigures:
        """Every figure the pack states, written once."""
        return self.evaluated.figures

    @property
    def running_header(self) -> str:
        # Each name isolated: a title's direction override cannot turn the period around.
        who = (f"{isolated(self.organisation)} · {isolated(self.unit.name)}" if self.unit
               else isolated(self.organisation))
        return f"{who} · {isolated(self.title)} · {self.period.long_label}"


@dataclass(frozen=True)
class Difference:
    """One thing a reissued pack says differently from the version before it."""

    kind: Literal["value", "status", "narrative", "action"]
    subject: str  # the KPI, narrative cell or action, as the reader knows it
    before: str
    after: str


@dataclass(frozen=True)
class Reissue:
    """What a pack published again (a late correction) changed since the previous version."""

    previous: int  # the version compared with
    published_at: str  # when that version was published (ISO time)
    approver: str  # who published it
    differences: tuple[Difference, ...] = ()
    kpis_only: bool = False  # that version is known from its summary: only KPIs are compared

    @property
    def published_on(self) -> dt.date:
        return dt.datetime.fromisoformat(self.published_at).date()


@dataclass(frozen=True)
class Publication:
    """The narrative and whether the pack is a draft or the approved final pack."""

    narrative: tuple[NarrativeCell, ...] = ()
    state: State = "draft"
    approver: str | None = None
    published_at: dt.datetime | None = None
    overrides: tuple[str, ...] = ()  # the gate's reasons, when published with --force
    #: The version this pack is, or (a draft) will be once published: 1, or 2 and later for a
    #: pack published again after a correction.
    version: int = 1
    reissue: Reissue | None = None  # set from version 2 on

    @property
    def version_note(self) -> str:
        """How the page footer and the cover name the version ('' for a first version)."""
        if self.version == 1:
            return ""
        return (f"Version {self.version}" if self.state == "final"
                else f"Draft of version {self.version}")


#: The params keys whose values are paths (relative to the params file, or absolute).
_PATH_KEYS = ("catalog", "measurements", "notebook", "assets", "initiatives", "benefits", "spend",
              "priorities", "store", "allowed", "sources")


def _relative_paths(raw: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """The params as written, with each absolute path among them made relative to ``base``."""

    def shown(value: Any) -> Any:
        if isinstance(value, str):
            return (shown_path(Path(value), base) if "://" not in value and os.path.isabs(value)
                    else value)
        if isinstance(value, list):
            return [shown(item) for item in value]
        if isinstance(value, dict):
            return {name: shown(item) if name != "url" else item for name, item in value.items()}
        return value

    return {key: shown(value) if key in _PATH_KEYS else value for key, value in raw.items()}


def make_view(
    evaluated: PackEvaluation,
    inputs: Inputs,
    *,
    now: dt.datetime | None = None,
    sources: Sequence[InputFile] = (),
) -> PackView:
    """The view of an evaluated pack: identity and provenance from the inputs (and
    ``sources``: what else the pack was made from, e.g. its notebook and templates)."""
    params = inputs.params
    # A store URL may carry a database password: record it masked. A path written absolute is
    # named relative to the params file: a pack never shows the build machine's folders.
    parameters = {key: redact.text(value) if isinstance(value, str) else value
                  for key, value in _relative_paths(params.raw, params.path.parent).items()}
    parameters["cadence"] = evaluated.cadence.name
    parameters["period_end"] = evaluated.period.end.isoformat()
    return PackView(
        evaluated=evaluated,
        organisation=params.values.organisation,
        title=params.title_for(evaluated.cadence),
        classification=params.values.classification,
        page_size=params.values.page_size,
        generated_at=(now or periods.now()).replace(microsecond=0),
        provenance=Provenance(params_path=str(params.path), parameters=parameters,
                              inputs=(*inputs.files(evaluated.source_reads), *sources),
                              versions=package_versions()),
        year_start_month=params.values.year_start_month,
    )
