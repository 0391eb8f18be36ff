"""A KPI's figures as a pack prints them: value, target, amber, variance and change at one
precision (:func:`reviewkit.formatting.shown`), for its period or its year to date."""

from __future__ import annotations

from dataclasses import dataclass, replace

from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.priorities import KeyResultProgress
from reviewkit.evaluation.rollup import YearToDate
from reviewkit.evaluation.strategy import BenefitView
from reviewkit.formatting import NBSP, Measure, Shown, format_value, shared_decimals, shown
from reviewkit.formatting import Kpi as Formattable
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


#: A unit longer than this may wrap onto the line under its number in a narrow column.
SHORT_UNIT = 5


def _measure_text(value: float | None, measure: Formattable, places: int) -> str:
    text = nobreak(format_value(value, measure, decimals=places))
    if len(measure.unit) > SHORT_UNIT:
        text = text.replace(NBSP, " ")
    return text


@dataclass(frozen=True)
class MeasureFigures:
    """A benefit's or key result's numbers, at one precision and with the unit of its measure."""

    baseline: str
    target: str
    planned: str
    value: str


def _measure(kpi: Kpi | None, unit: str, baseline: float | None,
             target: float) -> Formattable:
    if kpi is not None:
        return kpi
    return Measure(unit, higher_is_better=baseline is None or target >= baseline)


def benefit_figures(view: BenefitView, kpi: Kpi | None) -> MeasureFigures:
    """Baseline, target, the planned value now and the realized value of a benefit, in the
    unit of its KPI (or its own ``unit``), kept apart where they differ."""
    benefit, assessment = view.benefit, view.assessment
    measure = _measure(kpi, benefit.unit, benefit.baseline, benefit.target)
    # The planned value is a point on a straight line: not a threshold to print exactly.
    places = shared_decimals(measure, [assessment.value], [benefit.baseline, benefit.target])

    def text(value: float | None) -> str:
        return _measure_text(value, measure, places)

    return MeasureFigures(text(benefit.baseline), text(benefit.target),
                          text(assessment.planned_value), text(assessment.value))


def key_result_figures(kr: KeyResultProgress, kpi: Kpi | None) -> MeasureFigures:
    """Baseline, target and the value now of a key result, in its KPI's unit (or its own), at
    a precision that also keeps a level apart from its KPI's own target and amber (93.96%
    beside a 94.00% target prints as 93.96%, never "94.0%")."""
    measure = _measure(kpi, kr.unit, kr.baseline, kr.target)
    thresholds = [kr.baseline, kr.target]
    if kpi is not None and kpi.aggregation != "sum":
        cadence = kpi.cadences[0]
        thresholds += [kpi.target_for(cadence), kpi.amber_for(cadence)]
    places = shared_decimals(measure, [kr.value], thresholds)

    def text(value: float | None) -> str:
        return _measure_text(value, measure, places)

    return MeasureFigures(text(kr.baseline), text(kr.target), "", text(kr.value))
