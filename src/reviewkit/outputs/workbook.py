"""The pack's data as a workbook, ``pack.xlsx`` (openpyxl): the scorecard, each KPI's history
in the pack's window with its targets and statuses, the actions and the decisions, and where
the pack shows them a unit's share of the group's figures, the KPIs' breakdowns and the
group's actions on a unit's KPIs.

Every figure is the pack's (:mod:`reviewkit.evaluation.figures`): a number is stored as the
number the pack states and shown at the precision the PDF prints it with (88.1 shows as
"88.1%", 42000 in £k as "£42.0k"), a status as the pack's word.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reviewkit.evaluation.actions import ActionView
from reviewkit.evaluation.evaluate import FIGURE_DECIMALS, PeriodValue
from reviewkit.evaluation.figures import (
    PackFigures,
    breakdown_subjects,
    group_subject,
    unit_subject,
)
from reviewkit.evaluation.rollup import year_ago
from reviewkit.formatting import BARE_UNITS, row_decimals, shown, whole_numbers
from reviewkit.inputs.catalog import Kpi
from reviewkit.layout.document import PackDocument
from reviewkit.outputs.base import Staging
from reviewkit.outputs.data import ACTION_COLUMNS, DECISION_COLUMNS, action_row
from reviewkit.outputs.files import WORKBOOK_FILE

if TYPE_CHECKING:
    from nbformat import NotebookNode

#: The sheets every workbook has, in order.
SHEETS = ("Pack", "Scorecard", "History", "Actions", "Decisions")
#: The sheets a workbook adds when its pack shows them: a unit's share of the group's
#: figures, the KPIs' breakdowns, the group's open actions on a unit's KPIs.
OPTIONAL_SHEETS = ("Shares", "Breakdowns", "Group actions")

_CURRENCY_PREFIXES = ("£", "$", "€")


#: A figure's number: the first run of digits (with thousands separators and a decimal part).
_NUMBER = re.compile(r"\d[\d,]*(?:\.(\d+))?")


def places_of(text: str) -> int:
    """Decimals a figure's text prints its number with ('88.1%' → 1, '£42.0k' → 1, '5' → 0);
    a unit's own digits and dots ('2.1 per 100 km', '3.5 sq. km') are not the number's."""
    found = _NUMBER.search(text)
    return len(found[1]) if found is not None and found[1] else 0


def number_format(kpi: Kpi, places: int) -> str:
    """An Excel number format that shows a KPI's number as the pack prints it."""
    digits = "#,##0" + ("." + "0" * places if places else "")
    prefix, suffix = _affixes(kpi.unit)
    return f"{prefix}{digits}{suffix}"


def change_format(kpi: Kpi, places: int, zero: str = "no change") -> str:
    """The format of a change or a variance: signed, a percentage's in points, and a zero as
    the pack words it."""
    digits = "#,##0" + ("." + "0" * places if places else "")
    prefix, suffix = ("", format_literal(" pts")) if kpi.unit == "%" else _affixes(kpi.unit)
    return f"+{prefix}{digits}{suffix};-{prefix}{digits}{suffix};{format_literal(zero)}"


#: The characters a number format's quoted literal cannot hold as they are: the quote ends
#: the literal, and a backslash is written escaped so no spreadsheet can read it otherwise.
_UNQUOTABLE = re.compile(r'(["\\])')


def format_literal(text: str) -> str:
    """Text shown as it is by an Excel number format: in quotes, each '"' and '\\' outside
    them, escaped by a backslash. A unit is the catalog's text: pasted into the format, its
    quote ended the literal and its ";" began a section of the format's own, so a unit could
    restyle or hide the number ('";;;')."""
    return "".join(f"\\{part}" if _UNQUOTABLE.fullmatch(part) else f'"{part}"'
                   for part in _UNQUOTABLE.split(text) if part)


def _affixes(unit: str) -> tuple[str, str]:
    if unit in BARE_UNITS:  # "count", "score": the number alone, as the pack prints it
        return "", ""
    if unit == "%":
        return "", format_literal("%")
    for prefix in _CURRENCY_PREFIXES:
        if unit.startswith(prefix):
            return format_literal(prefix), format_literal(unit[len(prefix):])
    return "", format_literal(f" {unit}")


#: The first characters that make a spreadsheet read typed text as a formula (OWASP's list for
#: CSV injection): text starting with one is marked as text for when a reviewer edits it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Sheet:
    """A write-only sheet whose numbers carry their format and whose text is text."""

    def __init__(self, workbook: Any, title: str, header: Sequence[str]) -> None:
        from openpyxl.cell import WriteOnlyCell  # deferred: preload() imports it early
        from openpyxl.styles import Font

        self._cell = WriteOnlyCell
        self.sheet = workbook.create_sheet(title)
        bold = Font(bold=True)
        row = []
        for name in header:
            cell = self.text(name)
            cell.font = bold
            row.append(cell)
        self.sheet.append(row)

    def text(self, value: str) -> Any:
        """The one way text reaches a cell. openpyxl makes a string starting with "=" a
        formula and one spelling an error code ("#N/A") an error value; names, owners, titles
        and notes come from the catalog, the params and the action log, so a cell of them is a
        string cell whatever it starts with, and reads back as written."""
        cell = self._cell(self.sheet, value=value)
        cell.data_type = "s"  # after the value: setting it makes openpyxl guess the type
        # Excel reads a cell's text again as typed when a reviewer edits it: the quote prefix
        # (the apostrophe Excel shows, never part of the value) keeps it text then too.
        cell.quotePrefix = value.startswith(FORMULA_STARTS)
        return cell

    def number(self, value: Any, fmt: str) -> Any:
        if not isinstance(value, int | float):
            return None
        # Differences of decimals carry binary noise (-1.5999999999999943): not a figure.
        cell = self._cell(self.sheet, value=round(value, FIGURE_DECIMALS))
        cell.number_format = fmt
        return cell

    def append(self, row: Sequence[Any]) -> None:
        """A row of cells, numbers (with their format), None and text (through :meth:`text`)."""
        self.sheet.append([self.text(value) if isinstance(value, str) else value
                           for value in row])


#: Figures that are a difference, written signed, and how the pack words a zero one.
SIGNED = {"change": "no change", "variance": "on target"}
#: A figure whose number is zero, whatever its unit ("0.00%", "€0.0k", "0 h").
_ZERO = re.compile(r"\D*0(?:\.0+)?(?:[^\d.].*)?", re.DOTALL)


def _kpi_number(sheet: _Sheet, figures: PackFigures, kpi: Kpi, kind: str,
                period: str | None = None) -> Any:
    found = figures.get(figures.identity(kpi.id, kind, period))
    if found is None:
        return None
    places = places_of(found.text)
    fmt = (change_format(kpi, places, SIGNED[kind]) if kind in SIGNED
           else number_format(kpi, places))
    # A figure the pack prints as zero ("0.00%" for -0.004) or words as nothing ("no
    # change": too small to show at the KPI's precision) is zero in its cell too, never
    # "-0.00%" or "+0 h": a spreadsheet keeps the sign of a number that rounds to zero.
    nothing = found.text in SIGNED.values() or _ZERO.fullmatch(found.text) is not None
    return sheet.number(0 if nothing else found.value, fmt)


def _number(sheet: _Sheet, figures: PackFigures, kpi: Kpi, subject: str, kind: str) -> Any:
    """A figure of another subject than the KPI's own (a unit's share, the group's figure, a
    part of a breakdown), in the KPI's unit at the precision the pack prints it with."""
    found = figures.get(figures.identity(subject, kind))
    if found is None:
        return None
    return sheet.number(found.value, number_format(kpi, places_of(found.text)))


def _threshold_places(kpi: Kpi, pv: PeriodValue, value_places: int) -> tuple[int, int]:
    """Decimals of a History row's target and amber: the value's, as the pack prints it at
    the KPI's one precision (never more digits only to stand apart from the unrounded value:
    "18.0 ML/d" beside "18.00 ML/d"), or more where a threshold needs them to be written at
    all (99.95%). Beside a whole count or no value, each at its own (a pro-rated 6.65 beside
    5 incidents is "6.7", not "7")."""
    if pv.value is None or whole_numbers(kpi, pv.value):
        printed = shown(kpi, pv.value, pv.target, pv.amber, at_least=value_places)
        return places_of(printed.target), places_of(printed.amber)
    places = max(value_places, row_decimals(kpi, (None, pv.target, pv.amber)))
    return places, places


def _action_rows(sheet: _Sheet, figures: PackFigures, views: Sequence[ActionView]) -> None:
    """Actions in the columns of ``actions.csv``, their figures as the pack states them."""
    for item in views:
        sheet.append(action_row(figures, item,
                                _word(figures, f"action:{item.action.id}", "kpi-status")))


def _word(figures: PackFigures, subject: str, kind: str, period: str | None = None) -> str:
    found = figures.get(figures.identity(subject, kind, period))
    return found.text if found is not None else ""


def workbook_bytes(document: PackDocument) -> bytes:
    """The workbook of a pack (see the module)."""
    from openpyxl import Workbook  # deferred: preload() imports it while the kernel runs

    view = document.view
    evaluated = view.evaluated
    figures = evaluated.figures
    period = view.period
    workbook = Workbook(write_only=True)
    workbook.properties.creator = "reviewkit"
    workbook.properties.title = document.title_line
    workbook.properties.created = view.generated_at.replace(tzinfo=None)

    about = _Sheet(workbook, "Pack", ("Field", "Value"))
    for field, value in (
        ("Organisation", view.organisation), ("Unit", view.unit.name if view.unit else ""),
        ("Title", view.title), ("Cadence", view.cadence.name), ("Period", period.label),
        ("From", period.start.isoformat()), ("To", period.end.isoformat()),
        ("Data to", evaluated.as_of.isoformat()), ("State", document.state),
        ("Version", str(document.publication.version)),
        ("Generated", view.generated_at.isoformat()),
        ("Classification", view.classification),
    ):
        about.append([field, value])

    longer = view.cadence.wants("year_to_date")
    header = ["Perspective", "KPI id", "KPI", "Kind", "Unit", "Value", "Target", "Status",
              "Trend", "Since last", "Variance", "Streak", "Owner"]
    if longer:
        header[10:10] = ["Year to date", "Year-to-date status", "A year ago"]
    scorecard = _Sheet(workbook, "Scorecard", header)
    for result in evaluated.results:
        kpi = result.kpi
        row = [kpi.perspective, kpi.id, kpi.name, kpi.kind, kpi.unit,
               _kpi_number(scorecard, figures, kpi, "value"),
               _kpi_number(scorecard, figures, kpi, "target"),
               _word(figures, kpi.id, "status"), _word(figures, kpi.id, "trend"),
               _kpi_number(scorecard, figures, kpi, "change"),
               _kpi_number(scorecard, figures, kpi, "variance"),
               _word(figures, kpi.id, "streak"), kpi.owner]
        if longer:
            ago = year_ago(result)
            row[10:10] = [_kpi_number(scorecard, figures, kpi, "ytd"),
                          _word(figures, kpi.id, "ytd-status"),
                          _kpi_number(scorecard, figures, kpi, "value", ago.period.label)
                          if ago else None]
        scorecard.append(row)

    history = _Sheet(workbook, "History", ("KPI id", "KPI", "Period", "From", "To", "Value",
                                           "Target", "Amber", "Status", "Share of period"))
    for result in evaluated.results:
        kpi = result.kpi
        for pv in result.history:
            label = pv.period.label
            target_places, amber_places = _threshold_places(
                kpi, pv, places_of(figures.text(kpi.id, "value", label)))
            history.append([
                kpi.id, kpi.name, label, pv.period.start.isoformat(), pv.period.end.isoformat(),
                _kpi_number(history, figures, kpi, "value", label),
                history.number(pv.target, number_format(kpi, target_places)),
                history.number(pv.amber, number_format(kpi, amber_places)),
                _word(figures, kpi.id, "status", label),
                history.number(pv.share, "0%") if pv.pro_rated else None,
            ])

    log = view.action_log
    actions = _Sheet(workbook, "Actions", ACTION_COLUMNS)
    decisions = _Sheet(workbook, "Decisions", DECISION_COLUMNS)
    if log is not None:
        _action_rows(actions, figures, log.actions)
        for d in log.decisions:
            decisions.append([d.id, d.decided_on.isoformat(), d.review or "", d.text,
                              d.rationale, " ".join(d.kpis), " ".join(d.actions)])

    if evaluated.shares and view.unit is not None:
        shares = _Sheet(workbook, "Shares", (
            "KPI id", "KPI", "Unit", "This unit", "Group", "Share", "Group status",
            "Group target", "Trend"))
        for share in evaluated.shares:
            kpi = share.kpi
            mine, group = unit_subject(kpi.id, view.unit.id), group_subject(kpi.id)
            shares.append([
                kpi.id, kpi.name, kpi.unit, _number(shares, figures, kpi, mine, "value"),
                _number(shares, figures, kpi, group, "value"),
                shares.number(figures.value(mine, "share"), "0%"),
                _word(figures, group, "status"),
                _number(shares, figures, kpi, group, "target"), _word(figures, mine, "trend"),
            ])

    if evaluated.breakdowns:
        parts = _Sheet(workbook, "Breakdowns", (
            "KPI id", "KPI", "Column", "Part", "Value", "Status", "Share of the figure"))
        for kpi_id, table in evaluated.breakdowns.items():
            kpi = evaluated.result(kpi_id).kpi
            for subject, part in zip(breakdown_subjects(kpi_id, table), table.parts,
                                     strict=True):
                parts.append([kpi_id, kpi.name, table.column, part.name,
                              _number(parts, figures, kpi, subject, "value"),
                              _word(figures, subject, "status"),
                              parts.number(figures.value(subject, "share"), "0%")])

    if log is not None and log.group_actions:
        _action_rows(_Sheet(workbook, "Group actions", ACTION_COLUMNS), figures,
                     log.group_actions)

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class WorkbookOutput:
    """``pack.xlsx``: the pack's figures for a spreadsheet."""

    name: str = "workbook"
    files: tuple[str, ...] = (WORKBOOK_FILE,)
    attached: bool = False
    link: str = "workbook"

    def write(self, document: PackDocument, executed: NotebookNode, staging: Staging) -> None:
        staging.put(WORKBOOK_FILE, workbook_bytes(document))
