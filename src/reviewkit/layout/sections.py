"""The notebook helper: each call lays out one section of the pack as displayable HTML.

A notebook cell is one call, ``pack.section("summary")``; which sections a pack has, in which
order, is its cadence's definition (:mod:`reviewkit.cadences`); the layout lives in the
templates under ``layout/templates/pack``, the logic in the tested modules.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from reviewkit.cadences import Section
from reviewkit.errors import ReviewkitError
from reviewkit.evaluation.evaluate import KpiResult, PeriodValue
from reviewkit.evaluation.priorities import KeyResultProgress
from reviewkit.evaluation.rollup import perspective_status, year_ago
from reviewkit.evaluation.strategy import BenefitView
from reviewkit.evaluation.units import reported_by_units
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.units import Unit
from reviewkit.layout.charts import SPARKLINE_PERIODS, chart_history, sparkline
from reviewkit.layout.describe import (
    kpi_chart_alt,
    outlook_chart_alt,
    spend_chart_alt,
    timeline_alt,
)
from reviewkit.layout.figures import (
    MeasureFigures,
    benefit_figures,
    key_result_figures,
    shown_of,
)
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
    """An HTML section of the pack; Jupyter shows it through ``_repr_html_``, with the pack's
    styles scoped to it so the notebook looks like the pack (the export takes them out)."""

    def __init__(self, name: str, html: str) -> None:
        self.name = name
        self.html = html

    def _repr_html_(self) -> str:
        return f'<div class="{NOTEBOOK_SCOPE}">{notebook_style()}{self.html}</div>'

    def __repr__(self) -> str:
        return f"<reviewkit {self.name}>"


@dataclass(frozen=True)
class SpendMonths:
    """How the spend section names the months it counts."""

    title: str  # "October 2026", "Q4 2026 to date (October and November)"
    heading: str  # the column group: "October 2026", "Q4 2026 to date"
    year_start: str  # "1 July 2026"


def perspective_anchor(name: str) -> str:
    """The HTML id of a perspective's heading (the contents links to it)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return f"persp-{slug or 'other'}"


class Pack:
    """One pack's sections, laid out from its :class:`PackView` and :class:`Publication`."""

    def __init__(self, view: PackView, publication: Publication | None = None) -> None:
        self.view = view
        self.publication = publication or Publication()

    def section(self, section_id: str) -> Fragment:
        """One section of the pack, by its id in the cadence's definition (empty when the
        section is not for this pack, e.g. the units page outside a group pack)."""
        try:
            section = self.view.cadence.section(section_id)
        except KeyError:
            known = ", ".join(section.id for section in self.view.cadence.sections)
            raise SectionError(f"the {self.view.cadence.name} pack has no section "
                               f"'{section_id}'; its sections: {known}") from None
        if section not in self._sections():
            return Fragment(section_id, "")
        return self._fragment(section_id)

    def sections(self) -> list[Fragment]:
        """Every section of this pack in reading order (what the notebook shows cell by cell)."""
        return [self._fragment(section.id) for section in self._sections()]

    def _sections(self) -> tuple[Section, ...]:
        """This pack's sections: a group's units page only in a group pack, the group's own
        sections (portfolio, spend, …) not in a unit's, and only those whose input the pack
        has (:attr:`PackEvaluation.sections`)."""
        return self.view.evaluated.sections

    # -- data the templates use -----------------------------------------------------------
    @property
    def section_ids(self) -> frozenset[str]:
        """The sections of this pack (a group pack's included)."""
        return frozenset(section.id for section in self._sections())

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
    def perspective_status(results: list[KpiResult]) -> str:
        return perspective_status(results)

    @staticmethod
    def chart_periods(result: KpiResult) -> int:
        """How many periods the KPI's chart shows (its data's span, at least a few)."""
        return len(chart_history(result))

    def year_ago(self, result: KpiResult) -> PeriodValue | None:
        return year_ago(result)

    def any_year_ago(self) -> bool:
        """Whether some KPI has a value a year ago (else the scorecard leaves the column out)."""
        return any((ago := year_ago(result)) is not None and ago.value is not None
                   for result in self.view.evaluation.results)

    def benefit_figures(self, benefit: BenefitView) -> MeasureFigures:
        return benefit_figures(benefit, self.view.catalog.by_id().get(benefit.benefit.kpi_id or ""))

    def key_result_figures(self, kr: KeyResultProgress) -> MeasureFigures:
        return key_result_figures(kr, self.view.catalog.by_id().get(kr.kpi or ""))

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
        """The alternative text of a chart in ``view.charts``, written from its data."""
        view = self.view
        strategy = view.strategy
        if chart_id == "timeline" and strategy.initiatives:
            return timeline_alt(strategy)
        if chart_id == "spend" and strategy.spend is not None:
            return spend_chart_alt(strategy.spend, strategy.currency)
        if chart_id.startswith("outlook-"):
            kpi_id = chart_id.removeprefix("outlook-")
            for outlook in strategy.outlooks:
                if outlook.forecast.kpi_id == kpi_id:
                    return outlook_chart_alt(view.catalog.by_id()[kpi_id], outlook)
        return kpi_chart_alt(view.result(chart_id), as_of=view.as_of)

    def sparkline_alt(self, result: KpiResult) -> str:
        """The alternative text of a summary tile's sparkline (its last periods only)."""
        return kpi_chart_alt(result, last=SPARKLINE_PERIODS, as_of=self.view.as_of)

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

    @staticmethod
    def row_decimals(group: KpiResult,
                     rows: Sequence[tuple[Unit, dict[str, KpiResult]]]) -> int:
        """One precision for a KPI's row on the units page: the most any of its figures needs
        on its own (to stand apart from its target; none for a count), so the unit's and the
        group's figures print alike (93.0% beside 92.7%, never 93%)."""
        results = [group, *(cells[group.kpi.id] for _, cells in rows if group.kpi.id in cells)]
        return max(shown_of(result).decimals for result in results)

    @staticmethod
    def share(unit: KpiResult, group: KpiResult) -> str:
        """A unit's share of a group figure that is the sum of its units' ('12%')."""
        if unit.value is None or not group.value:
            return "—"
        return f"{100 * unit.value / group.value:.0f}%"

    def rollup_words(self, kpi: Kpi) -> str:
        """How the group's figure of a KPI is made from its units', in a few words; a KPI no
        unit reports is the group's own figure, not a roll-up."""
        if not reported_by_units(kpi.id, self.view.evaluated.units):
            return "the group's own figure"
        return ROLLUP_WORDS[kpi.rollup_rule]

    def _fragment(self, name: str) -> Fragment:
        view = self.view
        values: dict[str, Any] = {
            "pack": self, "view": view, "publication": self.publication,
            "evaluation": view.evaluation, "period": view.period, "sparkline": sparkline,
        }
        try:
            html = render(f"{name}.html.j2", view.cadence.template_dirs, **values)
        except Exception as exc:
            # Re-raised without the template frames: IPython cannot format Jinja's compiled
            # frames and would otherwise print "Unexpected exception formatting exception".
            raise SectionError(f"the {name} section failed: {type(exc).__name__}: {exc}") from None
        return Fragment(name, html)


def _month(label: str) -> dt.date:
    return dt.date(int(label[:4]), int(label[5:7]), 1)


def warm_up() -> None:
    """Compile every section template (the build runs this in the kernel while it starts)."""
    folder = resources.files("reviewkit.layout") / "templates" / "pack"
    for entry in folder.iterdir():
        if entry.name.endswith(".html.j2"):
            environment().get_template(entry.name)
