"""The pack as one document: what it is, whether it is published, what it says and in which
order, assembled once before the notebook runs.

:class:`PackDocument` is the one value the notebook kernel receives and every output is
written from: the view (the evaluated period with its figures, the pack's identity and
provenance), the publication (narrative, draft or final, version), the section plan computed
once from the cadence (headings with their appendix letters, anchors, page breaks, the
contents with its perspectives), the running header, the charts as PNG images and each
chart's alternative text, written from the same figures the page prints.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from reviewkit.cadences import Narrative
from reviewkit.evaluation.figures import PackFigures, perspective_slug
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.formatting import isolated
from reviewkit.layout.describe import (
    AltText,
    kpi_chart_alt,
    outlook_chart_alt,
    spend_chart_alt,
    timeline_alt,
)
from reviewkit.layout.view import PackView, Publication
from reviewkit.narrative.cells import NarrativeCell

#: The alternative text of a summary tile's sparkline is stored under ``spark-<kpi id>``.
SPARKLINE_PREFIX = "spark-"
#: An outlook chart's id: ``outlook-<kpi id>``.
OUTLOOK_PREFIX = "outlook-"


def perspective_anchor(name: str) -> str:
    """The HTML id of a perspective's heading (the contents links to it)."""
    return perspective_slug(name)


@dataclass(frozen=True)
class ContentsEntry:
    """A line of the contents: its title, the anchor it links to, and lines under it."""

    title: str
    anchor: str
    children: tuple[ContentsEntry, ...] = ()


@dataclass(frozen=True)
class PlannedSection:
    """One section of this pack as the page lays it out."""

    id: str
    heading: str  # as the contents and the PDF outline name it ('Appendix A — KPI detail')
    new_page: bool
    in_contents: bool
    lists_perspectives: bool
    kpi_commentary: bool
    narrative: Narrative | None = None

    @property
    def anchor(self) -> str:
        return f"sec-{self.id}"


@dataclass(frozen=True)
class PackDocument:
    """Everything one pack states, as every output writes it (see the module)."""

    view: PackView
    publication: Publication = field(default_factory=Publication)
    sections: tuple[PlannedSection, ...] = ()
    #: Chart id → PNG image (a KPI's id, ``timeline``, ``spend``, ``outlook-<kpi>``); drawn in
    #: the build's process, empty until then.
    charts: Mapping[str, bytes] = field(default_factory=dict)
    #: Chart or sparkline id → its alternative text, from the pack's figures.
    alts: Mapping[str, AltText] = field(default_factory=dict)

    # -- what the pack is ---------------------------------------------------------------------
    @property
    def figures(self) -> PackFigures:
        return self.view.evaluated.figures

    @property
    def state(self) -> str:
        return self.publication.state

    @property
    def draft(self) -> bool:
        return self.publication.state != "final"

    @property
    def running_header(self) -> str:
        return self.view.running_header

    @property
    def title_line(self) -> str:
        """The HTML page's title: organisation, title and period."""
        return (f"{isolated(self.view.organisation)} · {isolated(self.view.title)} · "
                f"{self.view.period.label}")

    @property
    def version_note(self) -> str:
        return self.publication.version_note

    @property
    def software(self) -> str:
        return self.view.provenance.versions.get("reviewkit", "")

    # -- what it says, in order ---------------------------------------------------------------
    def section(self, section_id: str) -> PlannedSection | None:
        """The planned section, or None when this pack does not have it (the units page
        outside a group pack)."""
        for planned in self.sections:
            if planned.id == section_id:
                return planned
        return None

    @property
    def perspectives(self) -> tuple[ContentsEntry, ...]:
        names = dict.fromkeys(result.kpi.perspective for result in self.view.evaluation.results)
        return tuple(ContentsEntry(name, perspective_anchor(name)) for name in names)

    @property
    def contents(self) -> tuple[ContentsEntry, ...]:
        """The contents: every section listed in it, the perspectives under the one that
        lists them; empty when there would be one line only."""
        entries = tuple(
            ContentsEntry(s.heading, s.anchor, self.perspectives if s.lists_perspectives else ())
            for s in self.sections if s.in_contents)
        return entries if len(entries) > 1 else ()

    @property
    def narrative(self) -> Mapping[str, NarrativeCell]:
        """The narrative cells by key."""
        return {cell.key: cell for cell in self.publication.narrative}

    # -- charts --------------------------------------------------------------------------------
    def chart_src(self, chart_id: str) -> str:
        """A chart as a data URL for an ``<img>`` (the page is self-contained)."""
        return "data:image/png;base64," + base64.b64encode(self.charts[chart_id]).decode("ascii")

    def alt(self, chart_id: str) -> AltText:
        return self.alts.get(chart_id) or AltText("")


def plan_sections(evaluated: PackEvaluation) -> tuple[PlannedSection, ...]:
    """This pack's sections in reading order, from its cadence: the group-only ones (the units
    page) in a group pack only, the group-level ones (the portfolio, spend, …) in every pack
    but a unit's, and only those whose input the pack has (:attr:`PackEvaluation.sections`)."""
    cadence = evaluated.cadence
    return tuple(
        PlannedSection(id=section.id, heading=cadence.heading(section.id),
                       new_page=section.new_page, in_contents=section.in_contents,
                       lists_perspectives=section.lists_perspectives,
                       kpi_commentary=section.kpi_commentary, narrative=section.narrative)
        for section in evaluated.sections)


def alt_texts(view: PackView) -> dict[str, AltText]:
    """The alternative text of every chart and sparkline the pack may show, from its
    figures."""
    evaluated = view.evaluated
    figures = evaluated.figures
    alts: dict[str, AltText] = {}
    for result in evaluated.results:
        alts[result.kpi.id] = kpi_chart_alt(result, figures, as_of=evaluated.as_of)
    for kpi_id in evaluated.headline:
        alts[SPARKLINE_PREFIX + kpi_id] = kpi_chart_alt(
            evaluated.result(kpi_id), figures, as_of=evaluated.as_of, sparkline=True)
    strategy = evaluated.strategy
    if strategy.initiatives:
        alts["timeline"] = timeline_alt(figures, strategy.as_of)
    if strategy.spend is not None:
        alts["spend"] = spend_chart_alt(strategy.spend, figures)
    kpis = evaluated.catalog.by_id()
    for outlook in strategy.outlooks:
        kpi = kpis[outlook.forecast.kpi_id]
        alts[OUTLOOK_PREFIX + kpi.id] = outlook_chart_alt(kpi, outlook, figures)
    return alts


def pack_document(view: PackView, publication: Publication | None = None,
                  charts: Mapping[str, bytes] | None = None, *,
                  sections: tuple[PlannedSection, ...] | None = None) -> PackDocument:
    """The document of a pack: its section plan (``sections``, when already made for its
    notebook) and alternative texts computed once."""
    return PackDocument(view=view, publication=publication or Publication(),
                        sections=plan_sections(view.evaluated) if sections is None
                        else sections,
                        charts=dict(charts or {}), alts=alt_texts(view))
