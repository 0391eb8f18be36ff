"""Helpers the pack notebooks call: each returns one section of the pack as displayable HTML.

A notebook cell is one call, e.g. ``pack.summary()``; the layout lives in the templates under
``templates/pack``, the logic in the tested modules.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from reviewkit.inputs.catalog import Kpi
from reviewkit.layout.charts import sparkline
from reviewkit.run.context import PackContext, prepare_context
from reviewkit.errors import ReviewkitError
from reviewkit.evaluation.evaluate import KpiResult, PeriodValue
from reviewkit.layout.render import render


class SectionError(ReviewkitError):
    """A pack section could not be laid out (a template or data problem)."""


class Fragment:
    """An HTML section of the pack; Jupyter shows it through ``_repr_html_``."""

    def __init__(self, name: str, html: str) -> None:
        self.name = name
        self.html = html

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<reviewkit {self.name}>"


@dataclass(frozen=True)
class BoardAsk:
    kpi: Kpi
    result: KpiResult
    reasons: list[str]
    recommendation: str
    from_narrative: bool


class Pack:
    """One pack's sections, built from a :class:`PackContext`."""

    def __init__(self, context: PackContext) -> None:
        self.context = context

    # -- sections, in reading order -------------------------------------------------------
    def cover(self) -> Fragment:
        return self._fragment("cover")

    def summary(self) -> Fragment:
        return self._fragment("summary")

    def changes(self) -> Fragment:
        return self._fragment("changes")

    def actions(self) -> Fragment:
        return self._fragment("actions")

    def portfolio(self) -> Fragment:
        return self._fragment("portfolio")

    def spend(self) -> Fragment:
        return self._fragment("spend")

    def benefits(self) -> Fragment:
        return self._fragment("benefits")

    def leading_lagging(self) -> Fragment:
        return self._fragment("leading_lagging")

    def balanced_scorecard(self) -> Fragment:
        return self._fragment("balanced_scorecard")

    def priorities(self) -> Fragment:
        return self._fragment("priorities")

    def outlook(self) -> Fragment:
        return self._fragment("outlook")

    def board_decisions(self) -> Fragment:
        return self._fragment("board_decisions")

    def perspectives(self) -> Fragment:
        return self._fragment("perspectives")

    def data_quality(self) -> Fragment:
        return self._fragment("data_quality")

    def provenance(self) -> Fragment:
        return self._fragment("provenance")

    # -- data the templates use -----------------------------------------------------------
    def headline_results(self) -> list[KpiResult]:
        evaluation = self.context.evaluation
        return [evaluation.result(kpi_id) for kpi_id in self.context.headline]

    def by_perspective(self) -> OrderedDict[str, list[KpiResult]]:
        groups: OrderedDict[str, list[KpiResult]] = OrderedDict()
        for result in self.context.evaluation.results:
            groups.setdefault(result.kpi.perspective, []).append(result)
        return groups

    def exceptions_by_kpi(self) -> OrderedDict[str, list[str]]:
        grouped: OrderedDict[str, list[str]] = OrderedDict()
        for item in self.context.evaluation.exceptions:
            grouped.setdefault(item.kpi_id, []).append(item.reason)
        return grouped

    @staticmethod
    def perspective_status(results: list[KpiResult]) -> str:
        from reviewkit.evaluation.rollup import perspective_status

        return perspective_status(results)

    def year_ago(self, result: KpiResult) -> PeriodValue | None:
        from reviewkit.evaluation.rollup import year_ago

        return year_ago(result)

    def board_asks(self) -> list[BoardAsk]:
        """KPIs that need a decision, with the owner's recommendation: the commentary an
        analyst wrote for the KPI when there is one, else the catalog's expected action."""
        from reviewkit.narrative.cells import fill

        reasons = self.exceptions_by_kpi()
        written = {cell.kpi_id: cell for cell in self.context.narrative
                   if cell.kpi_id and not cell.draft}
        asks = []
        for kpi_id, kpi_reasons in reasons.items():
            decisive = [r for r in kpi_reasons if r in ("red", "red_no_action", "worsened")]
            if not decisive:
                continue
            result = self.context.evaluation.result(kpi_id)
            cell = written.get(kpi_id)
            if cell is not None:
                text, from_narrative = fill(cell.text, self.context), True
            else:
                text = result.kpi.action_if_off_track or "No recommendation recorded."
                from_narrative = False
            asks.append(BoardAsk(result.kpi, result, decisive, text, from_narrative))
        return asks

    @staticmethod
    def perspective_anchor(name: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        return f"persp-{slug or 'other'}"

    def _fragment(self, name: str) -> Fragment:
        context = self.context
        try:
            html = render(
                f"{name}.html.j2",
                pack=self,
                ctx=context,
                evaluation=context.evaluation,
                period=context.period,
                sparkline=sparkline,
            )
        except Exception as exc:
            # Re-raised without the template frames: IPython cannot format Jinja's compiled
            # frames and would otherwise print "Unexpected exception formatting exception".
            raise SectionError(f"the {name} section failed: {type(exc).__name__}: {exc}") from None
        return Fragment(name, html)


def warm_up() -> None:
    """Compile every section template (the build runs this in the kernel while it starts)."""
    from importlib import resources

    from reviewkit.layout.render import environment

    folder = resources.files("reviewkit.layout") / "templates" / "pack"
    for entry in folder.iterdir():
        if entry.name.endswith(".html.j2"):
            environment().get_template(entry.name)


def open_pack(
    cadence: str,
    params_file: str | Path,
    period_end: str | dt.date | None = None,
    context_file: str | Path | None = None,
) -> Pack:
    """The notebook's entry point: the prepared context when given, else prepare it here."""
    if context_file:
        return Pack(PackContext.load(context_file))
    return Pack(prepare_context(cadence, params_file, period_end))
