"""A KPI's figures as a page prints them: the pack's figures
(:mod:`reviewkit.evaluation.figures`) with no line break inside a unit, and the row of one
result at one precision (:func:`reviewkit.formatting.shown`) for templates of a cadence's own."""

from __future__ import annotations

from dataclasses import replace

from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.rollup import YearToDate
from reviewkit.formatting import Shown, shown
from reviewkit.inputs.catalog import Kpi

#: After a slash in a unit ("mg/L", "ML/d"): a word joiner, so no line breaks inside the unit.
WORD_JOINER = "\u2060"


def nobreak(text: str) -> str:
    """Text with no line-break opportunity after a slash (the no-break space before a unit
    is already in it)."""
    return text.replace("/", "/" + WORD_JOINER)


def shown_of(result: KpiResult) -> Shown:
    """The KPI's figures this period at the precision that keeps value and target apart."""
    current = result.current
    return shown(result.kpi, current.value, current.target, current.amber, result.change)


def shown_ytd(ytd: YearToDate, kpi: Kpi) -> Shown:
    """The KPI's year to date against its year-to-date target."""
    return shown(kpi, ytd.value, ytd.target, ytd.amber)


def for_page(figures: Shown) -> Shown:
    """The figures with no break inside a unit, for HTML and PDF."""
    return replace(figures, value=nobreak(figures.value), target=nobreak(figures.target),
                   amber=nobreak(figures.amber), variance=nobreak(figures.variance),
                   change=nobreak(figures.change))
