"""What a cadence is, declared once: its periods, its sections in order and what they need.

Everything else is derived from these definitions: the notebooks (``tools/make_notebooks.py``),
the command line's choices, the contents list, the narrative cells, the period arithmetic and
which strategy parts and charts a build prepares. Adding a cadence is one :class:`Cadence` here
(or passed to :func:`register`) plus, for a new section, one template in
``layout/templates/pack``.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from reviewkit.errors import UsageError

#: How a cadence's periods are cut from the calendar: a run of days ending on the chosen date
#: (weekly, fortnightly), or calendar months (1 for monthly, 3 for quarterly).
PeriodUnit = Literal["days", "months"]

#: Parts of the strategy view a cadence can ask for.
StrategyPart = Literal["initiatives", "benefits", "spend", "priorities", "year_to_date",
                       "outlook"]
#: Charts a cadence can ask for besides each KPI's history chart.
ChartKind = Literal["timeline", "spend", "outlook"]


@dataclass(frozen=True)
class PeriodRule:
    """How the periods of a cadence are cut and named."""

    unit: PeriodUnit
    length: int  # days in a period (unit "days") or months in a period (unit "months")
    noun: str  # "week", "month", "quarter": "this week", "3 weeks off track"

    @property
    def per_year(self) -> int:
        """Periods in a year, for "a year ago" (52 weeks, 12 months, 4 quarters)."""
        return 364 // self.length if self.unit == "days" else 12 // self.length


@dataclass(frozen=True)
class Narrative:
    """A commentary cell an analyst writes, placed after its section."""

    key: str  # stable key in the store and in the notebook's cell metadata
    title: str  # how the cell is named to the analyst and in the Markdown export
    prompt: str  # what to write about


@dataclass(frozen=True)
class Section:
    """One section of a pack: a template, its title in the contents, and its commentary."""

    id: str  # template ``<id>.html.j2`` and the HTML anchor ``sec-<id>``
    title: str  # the entry in the contents
    narrative: Narrative | None = None
    in_contents: bool = True
    #: An appendix, lettered A, B, … in order behind the body of the pack.
    appendix: bool = False
    #: The commentary cell of each headline or exceptional KPI follows this section.
    kpi_commentary: bool = False
    #: Its entry in the contents lists the perspectives, each linked to its KPIs.
    lists_perspectives: bool = False
    #: It starts a new page in print; False: it follows on from the section before it (a short
    #: section would otherwise leave most of a page empty).
    new_page: bool = True
    #: Shown only in the group pack of a definition with units (it compares the units).
    group_only: bool = False
    #: Its data is the group's (the portfolio, spend, priorities, board asks): left out of a
    #: unit's pack, with its commentary, instead of standing there as an empty stub.
    group_level: bool = False
    #: The input it shows (the portfolio shows the initiatives): a pack whose params file
    #: names none leaves the section out, and its data-quality appendix says so in a line.
    needs: StrategyPart | None = None


@dataclass(frozen=True)
class Cadence:
    """A pack definition: everything that differs between the weekly, monthly and quarterly
    packs."""

    name: str  # "weekly": the command-line choice and the catalog's cadence name
    title: str  # the pack's default title
    notebook: str  # file name of its notebook under notebooks/
    period: PeriodRule
    history: int  # periods of history in charts (a params file may override)
    trend_window: int  # periods the trend line is fitted over, current included
    sections: tuple[Section, ...]
    strategy: frozenset[StrategyPart] = frozenset()
    charts: frozenset[ChartKind] = frozenset()
    #: Folders searched for section templates before reviewkit's own (a cadence defined
    #: outside reviewkit brings its new sections' templates here).
    template_dirs: tuple[str, ...] = ()

    @property
    def noun(self) -> str:
        return self.period.noun

    @property
    def narratives(self) -> tuple[Narrative, ...]:
        """The commentary cells of its sections, in reading order."""
        return tuple(section.narrative for section in self.sections if section.narrative)

    def sections_for(self, group: bool, unit: bool = False,
                     present: Collection[StrategyPart] | None = None) -> tuple[Section, ...]:
        """The sections of one pack: the group-only ones only in a group pack, the group-level
        ones in every pack but a unit's; given the inputs ``present``, only the sections whose
        input is there."""
        return tuple(s for s in self.sections
                     if (group or not s.group_only) and not (unit and s.group_level)
                     and (present is None or s.needs is None or s.needs in present))

    def narratives_for(self, group: bool, unit: bool = False,
                       present: Collection[StrategyPart] | None = None,
                       ) -> tuple[Narrative, ...]:
        """The commentary cells of one pack's sections (:meth:`sections_for`)."""
        return tuple(s.narrative for s in self.sections_for(group, unit, present)
                     if s.narrative)

    def section(self, section_id: str) -> Section:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)

    def wants(self, part: StrategyPart) -> bool:
        return part in self.strategy

    def heading(self, section_id: str) -> str:
        """A section's title as the contents and its page show it: an appendix with its
        letter ('Appendix A — KPI detail'), every other section as declared."""
        section = self.section(section_id)
        if not section.appendix:
            return section.title
        appendices = [s.id for s in self.sections if s.appendix]
        return f"Appendix {chr(ord('A') + appendices.index(section_id))} — {section.title}"



def _summary(prompt: str) -> Narrative:
    return Narrative("summary", "Summary", prompt)


_KPIS = Narrative("kpis", "KPIs by perspective",
                  "What moved, why, and what the owners are doing about it.")
_ACTIONS = Narrative("actions", "Action log",
                     "Which actions need a decision: re-plan, escalate or close.")
_COVER = Section("cover", "Cover", in_contents=False)
_SUMMARY_TITLE = "Summary: headline KPIs and what needs attention"
_CHANGES = Section("changes", "What changed since the last review", new_page=False)
# Follows on: the summary's commentary before it would otherwise sit alone on a page.
_UNITS = Section("units", "Units side by side", group_only=True, new_page=False)
_DATA_QUALITY = Section("data_quality", "Data quality", appendix=True, new_page=False)
_PROVENANCE = Section("provenance", "Provenance", appendix=True)
#: The longer packs keep their body short: the scorecard stays in it, linked to each KPI's
#: card in an appendix (with the KPIs' own commentary).
_SCORECARD = Section("scorecard", "Scorecard", _KPIS)
_KPI_DETAILS = Section("kpi_details", "KPI detail by perspective", appendix=True,
                       kpi_commentary=True, lists_perspectives=True)

WEEKLY = Cadence(
    name="weekly",
    title="Weekly Operational Review",
    notebook="weekly_operational.ipynb",
    period=PeriodRule("days", 7, "week"),
    history=26,
    trend_window=6,
    sections=(
        _COVER,
        Section("summary", _SUMMARY_TITLE,
                _summary("What happened this week, why, and what you ask of leaders."),
                kpi_commentary=True),
        _UNITS,
        _CHANGES,
        # The scorecard's commentary (what moved) sits under the scorecard, before the cards.
        _SCORECARD,
        Section("perspectives", "KPIs by perspective", lists_perspectives=True, new_page=False),
        # Follows on: the KPIs' commentary before it would otherwise sit on a page of its own.
        Section("actions", "Action log and decisions", _ACTIONS, new_page=False),
        _DATA_QUALITY,
        _PROVENANCE,
    ),
)

MONTHLY = Cadence(
    name="monthly",
    title="Monthly Business Review",
    notebook="monthly_business.ipynb",
    period=PeriodRule("months", 1, "month"),
    history=24,
    trend_window=6,
    sections=(
        _COVER,
        Section("summary", _SUMMARY_TITLE,
                _summary("What happened this month, why, and what you ask of leaders.")),
        _UNITS,
        _CHANGES,
        Section("portfolio", "Delivery: the initiative portfolio",
                Narrative("delivery", "Delivery",
                          "Which initiatives need help, and what you ask for."),
                group_level=True, needs="initiatives"),
        # Spend and the action log follow on: the commentary before each often spills
        # onto a page of its own otherwise.
        Section("spend", "Cost discipline: spend against budget",
                Narrative("cost", "Cost discipline",
                          "Where spend is off plan, why, and the recovery."), new_page=False,
                group_level=True, needs="spend"),
        Section("benefits", "Benefits realization", group_level=True, needs="benefits"),
        Section("leading_lagging", "Leading and lagging indicators"),
        _SCORECARD,
        Section("actions", "Action log and decisions", _ACTIONS, new_page=False),
        _KPI_DETAILS,
        _DATA_QUALITY,
        _PROVENANCE,
    ),
    strategy=frozenset({"initiatives", "benefits", "spend", "year_to_date"}),
    charts=frozenset({"timeline", "spend"}),
)

QUARTERLY = Cadence(
    name="quarterly",
    title="Quarterly Strategic Review",
    notebook="quarterly_strategic.ipynb",
    period=PeriodRule("months", 3, "quarter"),
    history=12,
    trend_window=4,
    sections=(
        _COVER,
        Section("balanced_scorecard", "Balanced scorecard",
                _summary("The quarter in three sentences for the board.")),
        _UNITS,
        Section("board_decisions", "Decisions requested of the board", group_level=True),
        # Follows on: a board has a few asks, so the decisions page is short.
        Section("priorities", "Strategic priorities",
                Narrative("priorities", "Strategic priorities",
                          "Which priorities are behind, and what would bring them back."),
                group_level=True, new_page=False, needs="priorities"),
        # Follows on: without the history for charts it is a paragraph, not a page.
        Section("outlook", "Outlook: the next four quarters", new_page=False),
        Section("benefits", "Benefits realization", group_level=True, needs="benefits"),
        Section("portfolio", "The initiative portfolio", group_level=True, needs="initiatives"),
        Section("spend", "Spend against budget", group_level=True, needs="spend"),
        _CHANGES,
        # The board reads the balanced scorecard, the decisions asked of it and what changed;
        # the operational action log and the full scorecard are appendices (the body stays
        # within a board's dozen pages).
        Section("actions", "Action log and decisions", appendix=True),
        Section("kpi_details", "Scorecard and KPI detail", appendix=True, kpi_commentary=True,
                lists_perspectives=True),
        _DATA_QUALITY,
        _PROVENANCE,
    ),
    strategy=frozenset({"initiatives", "benefits", "spend", "priorities", "year_to_date",
                        "outlook"}),
    charts=frozenset({"timeline", "spend", "outlook"}),
)

_REGISTRY: dict[str, Cadence] = {c.name: c for c in (WEEKLY, MONTHLY, QUARTERLY)}

#: The built-in cadences' names, in order of length (the command line's choices).
BUILT_IN: tuple[str, ...] = tuple(_REGISTRY)


def register(cadence: Cadence) -> Cadence:
    """Make a cadence known by name (a built-in one cannot be redefined differently)."""
    known = _REGISTRY.get(cadence.name)
    if known is not None and known != cadence:
        raise ValueError(f"a different cadence named {cadence.name!r} is already registered")
    _REGISTRY[cadence.name] = cadence
    return cadence


def unregister(name: str) -> None:
    """Forget a cadence registered with :func:`register` (built-in ones stay)."""
    if name in BUILT_IN:
        raise ValueError(f"the built-in cadence {name!r} cannot be removed")
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """Every known cadence, built-in ones first."""
    return tuple(_REGISTRY)


def get(name: str) -> Cadence:
    """The cadence called ``name``; a usage error with a suggestion when there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UsageError(
            f"unknown cadence {name!r}{hint}; use one of {', '.join(_REGISTRY)}"
        ) from None


def rule_of(name: str) -> PeriodRule:
    return get(name).period
