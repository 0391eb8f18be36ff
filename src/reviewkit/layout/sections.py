"""The notebook helper: each call lays out one section of the pack as displayable HTML.

A notebook cell is one call, ``pack.section("summary")``; which sections a pack has, in which
order, is its cadence's definition (:mod:`reviewkit.cadences`); the layout lives in the
templates under ``layout/templates/pack``, the logic in the tested modules.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass
from importlib import resources
from typing import Any

from markupsafe import Markup

from reviewkit.errors import ReviewkitError
from reviewkit.evaluation.breakdown import Breakdown, Part
from reviewkit.evaluation.evaluate import KpiResult, PeriodValue
from reviewkit.evaluation.figures import (
    breakdown_subjects,
    group_subject,
    spend_subjects,
    unit_subject,
)
from reviewkit.evaluation.forecast import INSUFFICIENT, MIN_POINTS
from reviewkit.evaluation.rollup import year_ago
from reviewkit.evaluation.spend import CategorySpend
from reviewkit.evaluation.units import reported_by_units
from reviewkit.formatting import NBSP
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.units import Unit
from reviewkit.layout.charts import (
    SPARKLINE_PERIODS,
    chart_history,
    chartable,
    data_points,
    sparkline,
)
from reviewkit.layout.document import (
    SPARKLINE_PREFIX,
    ContentsEntry,
    PackDocument,
    PlannedSection,
    pack_document,
    perspective_anchor,
)
from reviewkit.layout.figures import figure_for_page
from reviewkit.layout.render import environment, render
from reviewkit.layout.styles import NOTEBOOK_SCOPE, notebook_style
from reviewkit.layout.view import PackView, Publication

#: How a group figure is made from its units' figures, as the units page says it.
ROLLUP_WORDS = {"sum": "sum of units", "mean": "weighted mean", "min": "lowest unit",
                "max": "highest unit", "latest": "latest of units",
                "own": "the group's own figure"}


class SectionError(ReviewkitError):
    """A pack section could not be laid out (a template or data problem)."""


class Fragment:
    """An HTML section of the pack.

    Jupyter shows it through ``_repr_html_``. Shown by hand (a notebook opened in Jupyter),
    it carries the pack's styles scoped to it, so the notebook looks like the pack; run by a
    build, it is the section alone: the pack's notebook output adds the styles where Jupyter
    shows it (``pack.ipynb``), and the page has them once.
    """

    def __init__(self, name: str, html: str, *, styled: bool = True) -> None:
        self.name = name
        self.html = html
        self.styled = styled

    def _repr_mimebundle_(self, include: Any = None,
                          exclude: Any = None) -> tuple[dict[str, str], dict[str, Any]]:
        html = in_notebook_style(self.html) if self.styled else self.html
        return {"text/html": html}, {SECTION_METADATA: {"section": self.name}}

    def __repr__(self) -> str:
        return f"<reviewkit {self.name}>"


#: The output metadata key that marks a section's output (the notebook output styles it).
SECTION_METADATA = "reviewkit"


def in_notebook_style(html: str) -> str:
    """A section's HTML as Jupyter shows it: inside the scope of the pack's styles."""
    return f'<div class="{NOTEBOOK_SCOPE}">{notebook_style()}{html}</div>'


@dataclass(frozen=True)
class SpendMonths:
    """How the spend section names the months it counts."""

    title: str  # "October 2026", "Q4 2026 to date (October and November)"
    heading: str  # the column group: "October 2026", "Q4 2026 to date"
    year_start: str  # "1 July 2026"


class Pack:
    """One pack's sections, laid out from its :class:`PackDocument` (``styled``: each section
    carries the notebook's styles, as Jupyter shows it)."""

    def __init__(self, document: PackDocument | PackView,
                 publication: Publication | None = None, *, styled: bool = True) -> None:
        if isinstance(document, PackView):  # a view alone: its document, drafted
            document = pack_document(document, publication)
        self.document = document
        self.view = document.view
        self.publication = document.publication
        self.figures = document.figures
        self.styled = styled

    def section(self, section_id: str) -> Fragment | None:
        """One section of the pack, by its id in the cadence's definition (None when the
        section is not for this pack, e.g. the units page outside a group pack)."""
        try:
            self.view.cadence.section(section_id)
        except KeyError:
            known = ", ".join(section.id for section in self.view.cadence.sections)
            raise SectionError(f"the {self.view.cadence.name} pack has no section "
                               f"'{section_id}'; its sections: {known}") from None
        planned = self.document.section(section_id)
        return None if planned is None else self._fragment(planned)

    def sections(self) -> list[Fragment]:
        """Every section of this pack in reading order (what the notebook shows cell by cell)."""
        return [self._fragment(planned) for planned in self.document.sections]

    # -- data the templates use -----------------------------------------------------------
    @property
    def section_ids(self) -> frozenset[str]:
        """The sections of this pack (a group pack's included)."""
        return frozenset(planned.id for planned in self.document.sections)

    # -- figures, each printed with its identity ----------------------------------------------
    def fid(self, subject: str, kind: str, period: str | None = None) -> str:
        """A figure's identity (``data-fig``)."""
        return self.figures.identity(subject, kind, period)

    def fig(self, subject: str, kind: str, period: str | None = None, *,
            lower: bool = False) -> Markup:
        """A figure as the page prints it, with its identity: the text the pack's figures
        give it (never broken inside its unit, a long unit free to go under its number:
        :func:`~reviewkit.layout.figures.figure_for_page`; ``lower``: in lower case, inside a
        sentence)."""
        identity = self.fid(subject, kind, period)
        found = self.figures.get(identity)
        text = figure_for_page(found.text if found is not None else "—")
        if lower:
            text = text.lower()
        return Markup('<span data-fig="{}">{}</span>').format(identity, text)

    def amount(self, subject: str, kind: str, period: str | None = None) -> Markup:
        """A money figure in a table whose heading names the currency ("amounts in £k"): the
        number alone is printed, so a column of amounts fits its width. The symbol and scale
        stay in the markup, hidden (the element still holds the figure's whole text, which the
        audit compares)."""
        identity = self.fid(subject, kind, period)
        found = self.figures.get(identity)
        text = found.text if found is not None else "—"
        currency = self.view.currency
        symbol = f"{currency.symbol}{NBSP}" if currency.symbol[-1:].isalpha() else currency.symbol
        sign = text[:1] if text[:1] in ("+", "\u2212") else ""
        rest = text[len(sign):]
        if not rest.startswith(symbol) or not rest.endswith(currency.scale):
            return self.fig(subject, kind, period)
        number = rest[len(symbol):len(rest) - len(currency.scale)]
        return Markup('<span data-fig="{}">{}<span class="rk-cur">{}</span>{}'
                      '<span class="rk-cur">{}</span></span>').format(
            identity, sign, symbol, number, currency.scale)

    def spend_lines(self) -> list[tuple[str, CategorySpend]]:
        """Each spend category, then the total, with the subject of its figures."""
        spend = self.view.strategy.spend
        if spend is None:
            return []
        lines = [*spend.categories, spend.total]
        return list(zip(spend_subjects(spend), lines, strict=True))

    @staticmethod
    def unit_subject(kpi_id: str, unit: Unit) -> str:
        return unit_subject(kpi_id, unit.id)

    @staticmethod
    def group_subject(kpi_id: str) -> str:
        """The subject of the group's figure for a KPI in a unit's pack."""
        return group_subject(kpi_id)

    def breakdown(self, kpi_id: str) -> tuple[Breakdown | None, list[tuple[str, Part]]]:
        """A KPI's breakdown for the period, and each part with the subject of its figures."""
        table = self.view.evaluated.breakdowns.get(kpi_id)
        if table is None:
            return None, []
        return table, list(zip(breakdown_subjects(kpi_id, table), table.parts, strict=True))

    def status_of(self, subject: str, period: str | None = None) -> str:
        """A figure's status ('green', …) for a badge's colour."""
        return str(self.figures.value(subject, "status", period) or "no_data")

    def has_chart(self, chart_id: str) -> bool:
        """Whether the chart was drawn (a KPI with too few values has none: its card lists
        them)."""
        return chart_id in self.document.charts

    def chart(self, chart_id: str) -> Markup:
        """A chart's image with its alternative text (nothing when it was not drawn)."""
        if chart_id not in self.document.charts:
            return Markup("")
        return Markup('<img src="{}" alt="{}" data-chart="{}">').format(
            self.document.chart_src(chart_id), self.document.alt(chart_id).text, chart_id)

    @property
    def contents(self) -> tuple[ContentsEntry, ...]:
        return self.document.contents

    @property
    def kpi_ids(self) -> frozenset[str]:
        """The KPIs this pack reports (each has a card to link to)."""
        return frozenset(result.kpi.id for result in self.view.evaluation.results)

    def headline_results(self) -> list[KpiResult]:
        return [self.view.result(kpi_id) for kpi_id in self.view.headline]

    def by_perspective(self) -> OrderedDict[str, list[KpiResult]]:
        groups: OrderedDict[str, list[KpiResult]] = OrderedDict()
        for result in self.view.evaluation.results:
            groups.setdefault(result.kpi.perspective, []).append(result)
        return groups

    def exceptions_by_kpi(self) -> OrderedDict[str, list[str]]:
        grouped: OrderedDict[str, list[str]] = OrderedDict()
        for item in self.view.evaluation.exceptions:
            grouped.setdefault(item.kpi_id, []).append(item.reason)
        return grouped

    @staticmethod
    def chart_periods(result: KpiResult) -> int:
        """How many periods the KPI's chart shows (its data's span, at least a few)."""
        return len(chart_history(result))

    #: How the outlook names a KPI with too little history to fit a forecast, and the months
    #: a forecast needs.
    unfitted_method = INSUFFICIENT
    forecast_months = MIN_POINTS

    @staticmethod
    def chartable(result: KpiResult) -> bool:
        """Whether the KPI's tile draws a sparkline (enough values in its last periods)."""
        return chartable(result, most=SPARKLINE_PERIODS)

    @staticmethod
    def data_periods(result: KpiResult) -> int:
        """How many periods of the tile's span have a value."""
        return data_points(result, most=SPARKLINE_PERIODS)

    @staticmethod
    def short_history(result: KpiResult) -> list[PeriodValue]:
        """The periods with a value, for a card with too little history for a chart."""
        return [pv for pv in chart_history(result) if pv.value is not None]

    def year_ago(self, result: KpiResult) -> PeriodValue | None:
        return year_ago(result)

    def any_year_ago(self) -> bool:
        """Whether some KPI has a value a year ago (else the scorecard leaves the column out)."""
        return any((ago := year_ago(result)) is not None and ago.value is not None
                   for result in self.view.evaluation.results)

    def spend_months(self) -> SpendMonths:
        """The months the spend figures count, named as they are: the pack's month, or the
        months of its quarter that have actuals ("Q4 2026 to date (October)" when November's
        actuals are not in, though the data runs to 20 November)."""
        spend = self.view.strategy.spend
        assert spend is not None
        months = [_month(label) for label in spend.months]
        year = _month(spend.year_start)
        start = f"1 {year:%B %Y}"
        period = self.view.period
        if period.rule.unit == "months" and period.rule.length == 1:
            name = f"{months[-1]:%B %Y}"
            return SpendMonths(name, name, start)
        whole = len(months) == period.rule.length and self.view.as_of >= period.end
        label = period.long_label + ("" if whole else " to date")
        if len(months) == 1:
            counted = f"{months[0]:%B}"
        elif len(months) == 2:
            counted = f"{months[0]:%B} and {months[1]:%B}"
        else:
            counted = f"{months[0]:%B} to {months[-1]:%B}"
        return SpendMonths(f"{label} ({counted})", label, start)

    @staticmethod
    def perspective_anchor(name: str) -> str:
        return perspective_anchor(name)

    def chart_alt(self, chart_id: str) -> str:
        """The alternative text of a chart, written from the pack's figures."""
        return self.document.alt(chart_id).text

    def sparkline_alt(self, result: KpiResult) -> str:
        """The alternative text of a summary tile's sparkline (its last periods only)."""
        return self.document.alt(SPARKLINE_PREFIX + result.kpi.id).text

    def units_side_by_side(self) -> tuple[list[KpiResult],
                                          list[tuple[Unit, dict[str, KpiResult]]]]:
        """The group's KPIs the units page compares (the headline ones, then every other KPI
        off track for the group) and each unit's results for them."""
        evaluated = self.view.evaluated
        shown = [self.view.result(kpi_id) for kpi_id in self.view.headline]
        shown += [result for result in evaluated.results
                  if result.status == "red" and result.kpi.id not in self.view.headline]
        # A unit's figure for a KPI it shows as its share of the group is its own series too.
        rows = [(figures.unit, {**{kpi_id: share.unit for kpi_id, share in figures.shares.items()},
                                **figures.results})
                for figures in evaluated.units]
        return shown, rows

    def judged(self, unit: Unit, kpi_id: str) -> bool:
        """Whether a unit is judged on a KPI (against a target of its own, or the KPI's for a
        level), or shows its share of the group's figure."""
        return not any(figures.unit == unit and kpi_id in figures.shares
                       for figures in self.view.evaluated.units)

    def rollup_words(self, kpi: Kpi) -> str:
        """How the group's figure of a KPI is made from its units', in a few words; a KPI no
        unit reports is the group's own figure, not a roll-up."""
        if not reported_by_units(kpi.id, self.view.evaluated.units):
            return "the group's own figure"
        return ROLLUP_WORDS[kpi.rollup_rule]

    def _fragment(self, planned: PlannedSection) -> Fragment:
        view = self.view
        values: dict[str, Any] = {
            "pack": self, "view": view, "publication": self.publication,
            "document": self.document, "evaluation": view.evaluation, "period": view.period,
            "sparkline": sparkline,
        }
        name = planned.id
        try:
            html = render(f"{name}.html.j2", view.cadence.template_dirs, **values)
        except Exception as exc:
            # Re-raised without the template frames: IPython cannot format Jinja's compiled
            # frames and would otherwise print "Unexpected exception formatting exception".
            raise SectionError(f"the {name} section failed: {type(exc).__name__}: {exc}") from None
        # The section's place in the page, from the plan: its anchor (the contents links to
        # it), its entry in the PDF's outline and whether it starts a new page in print.
        opening = Markup('<div class="rk-section{}" id="{}" data-bookmark="{}">').format(
            " rk-new-page" if planned.new_page else "", planned.anchor, planned.heading)
        return Fragment(name, f"{opening}\n{html}\n</div>", styled=self.styled)


def _month(label: str) -> dt.date:
    return dt.date(int(label[:4]), int(label[5:7]), 1)


def warm_up() -> None:
    """Compile every section template (the build runs this in the kernel while it starts)."""
    folder = resources.files("reviewkit.layout") / "templates" / "pack"
    for entry in folder.iterdir():
        if entry.name.endswith(".html.j2"):
            environment(()).get_template(entry.name)
