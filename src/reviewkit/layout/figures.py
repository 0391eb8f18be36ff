"""A KPI's figures as a page prints them: the pack's figures
(:mod:`reviewkit.evaluation.figures`) with no line break inside a unit, and the row of one
result at one precision (:func:`reviewkit.formatting.shown`) for templates of a cadence's own."""

from __future__ import annotations

import re
from dataclasses import replace

from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.rollup import YearToDate
from reviewkit.formatting import NBSP, Shown, shown
from reviewkit.inputs.catalog import Kpi

#: After a slash in a unit ("mg/L", "ML/d"): a word joiner, so no line breaks inside the unit.
WORD_JOINER = "\u2060"


def nobreak(text: str) -> str:
    """Text with no line-break opportunity after a slash (the no-break space before a unit
    is already in it)."""
    return text.replace("/", "/" + WORD_JOINER)


#: "P1/P2", "CO₂e/km": a slash between two words with no space around it.
_JOINED_BY_SLASH = re.compile(r"(?<=\w)/(?=\w)")
#: "E. coli", "J. Smith": a one-letter abbreviation and the word it belongs to.
_INITIAL = re.compile(r"(?<![\w.])(\w\.) (?=\w)")


def name_for_page(text: str) -> str:
    """A name (a KPI's, a unit's) with no line break where a reader would trip: after the
    slash of "P1/P2", between "E." and "coli", or between "&" and the word before it."""
    text = _JOINED_BY_SLASH.sub("/" + WORD_JOINER, text)
    text = _INITIAL.sub("\\1" + NBSP, text)
    return text.replace(" & ", NBSP + "& ")


def shown_of(result: KpiResult) -> Shown:
    """The KPI's figures this period at the precision that keeps value and target apart."""
    current = result.current
    return shown(result.kpi, current.value, current.target, current.amber,
                 since=result.compared.value)


def shown_ytd(ytd: YearToDate, kpi: Kpi) -> Shown:
    """The KPI's year to date against its year-to-date target."""
    return shown(kpi, ytd.value, ytd.target, ytd.amber)


#: A unit longer than this may wrap onto the line under its number in a narrow column, and so
#: may the unit of a figure this long ("165,000 km").
SHORT_UNIT = 5
LONG_FIGURE = 9


#: A day as the pack writes it ("27 Nov 2026"), which a line never breaks.
_DAY = re.compile(r"\d{1,2} [A-Z][a-z]{2} \d{4}")


def figure_for_page(text: str) -> str:
    """A figure as the page prints it: never broken inside its unit ("g CO₂e/km", "ML/d") or
    a day ("30 Oct 2026"), and a short unit never apart from its number ("7.2 h"); a long
    unit may go to the line under its number, where a narrow column has no room for both."""
    if _DAY.fullmatch(text):
        return text.replace(" ", NBSP)
    number, joined, unit = text.partition(NBSP)
    if not joined or not unit:
        return nobreak(text)
    between = " " if len(unit) > SHORT_UNIT or len(number) + len(unit) >= LONG_FIGURE else NBSP
    return f"{number}{between}{nobreak(unit.replace(' ', NBSP))}"


def for_page(figures: Shown) -> Shown:
    """The figures with no break inside a unit, for HTML and PDF."""
    return replace(figures, value=figure_for_page(figures.value),
                   target=figure_for_page(figures.target),
                   amber=figure_for_page(figures.amber),
                   variance=figure_for_page(figures.variance),
                   change=figure_for_page(figures.change))
