"""pack.xlsx: the pack's figures for a spreadsheet, the same ones its pages print.

Each number is stored as the pack's figure and shown, through its cell's number format, as the
PDF prints it; each status is the pack's word. Checked here for the demo's packs laid out in
this process; the demo build's own workbook is checked against its PDF in test_build.py.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, copy_demo
from conftest_build import harbour_with_minutes
from openpyxl import load_workbook
from pack_pages import document_of

from reviewkit.formatting import row_decimals, shown, whole_numbers
from reviewkit.layout.document import PackDocument
from reviewkit.outputs.data import ACTION_COLUMNS, action_csvs
from reviewkit.outputs.workbook import OPTIONAL_SHEETS, SHEETS, places_of, workbook_bytes
from reviewkit.store.database import Store

TODAY = dt.date(2026, 11, 23)
#: The pieces of the number formats the workbook writes: a quoted literal, an escaped
#: character, a sign, the number, or the ";" that starts the next section.
_PIECE = re.compile(r'"(?P<quoted>[^"]*)"|\\(?P<escaped>.)|(?P<sign>[+-])'
                    r"|#,##0(?:\.(?P<zeros>0+))?|(?P<next>;)", re.DOTALL)


def _sections(fmt: str) -> list[list[re.Match[str]]]:
    """A number format's sections, each its pieces; anything else (an unclosed quote, a
    colour, a digit outside the number) is not a format the workbook writes."""
    sections: list[list[re.Match[str]]] = [[]]
    at = 0
    while at < len(fmt):
        piece = _PIECE.match(fmt, at)
        assert piece is not None, f"{fmt!r}: no literal, number or section at {at}"
        if piece["next"]:
            sections.append([])
        else:
            sections[-1].append(piece)
        at = piece.end()
    return sections


def shown_as(value: float, fmt: str) -> str:
    """A number as Excel shows it in a cell of the formats the workbook uses."""
    sections = _sections(fmt)
    assert len(sections) in (1, 3), fmt
    if len(sections) == 3 and value == 0:
        section = sections[2]
    else:
        section = sections[1] if len(sections) > 1 and value < 0 else sections[0]
    shown, numbers = [], 0
    for piece in section:
        literal = (piece["quoted"] if piece["quoted"] is not None
                   else piece["escaped"] or piece["sign"])
        if literal is not None:
            shown.append(literal)
            continue
        numbers += 1
        places = len(piece["zeros"] or "")
        # A spreadsheet rounds the number as written (15 digits), a tie away from zero.
        shown_value = Decimal(repr(abs(value) if len(sections) > 1 else value))
        shown.append(
            f"{shown_value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):,.{places}f}")
    assert numbers <= 1, fmt
    return "".join(shown)


def _plain(text: str) -> str:
    return text.replace("\u2212", "-").replace("\u00a0", " ").replace("\u2060", "")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("workbook")
    shutil.copytree(REPO / "params", root / "params", ignore=shutil.ignore_patterns("*.sqlite"))
    (root / "data").mkdir()
    shutil.copytree(REPO / "data" / "demo", root / "data" / "demo")
    return root / "params"


def _book(document: PackDocument) -> Any:
    return load_workbook(io.BytesIO(workbook_bytes(document)))


@pytest.mark.parametrize("cadence", ["weekly", "quarterly"])
def test_the_scorecard_sheet_shows_each_kpis_figures_as_the_pack_prints_them(
    demo: Path, cadence: str
) -> None:
    document = document_of(cadence, demo / f"{cadence}.yaml", today=TODAY)
    book = _book(document)
    assert book.sheetnames == list(SHEETS)
    rows = list(book["Scorecard"].iter_rows(values_only=False))
    header = [cell.value for cell in rows[0]]
    figures = document.figures
    assert len(rows) - 1 == len(document.view.evaluation.results)
    checked = 0
    for row in rows[1:]:
        cells = dict(zip(header, row, strict=True))
        kpi_id = cells["KPI id"].value
        for column, kind in (("Value", "value"), ("Target", "target"), ("Since last", "change"),
                             ("Variance", "variance")):
            cell, figure = cells[column], figures.of(kpi_id, kind)
            if figure.value is None:
                assert cell.value is None
                continue
            assert cell.value == pytest.approx(figure.value, abs=1e-9), (kpi_id, column)
            assert shown_as(cell.value, cell.number_format) == _plain(figure.text), (kpi_id,
                                                                                   column)
            checked += 1
        assert cells["Status"].value == figures.text(kpi_id, "status")
        assert cells["Trend"].value == figures.text(kpi_id, "trend")
    assert checked >= 3 * len(rows[1:])


def test_the_history_sheet_holds_each_kpis_window_with_targets_and_statuses(demo: Path) -> None:
    document = document_of("weekly", demo / "weekly.yaml", today=TODAY)
    sheet = _book(document)["History"]
    rows = list(sheet.iter_rows(min_row=2))
    results = document.view.evaluation.results
    assert len(rows) == sum(len(result.history) for result in results)
    by_key = {(row[0].value, row[2].value): row for row in rows}
    figures = document.figures
    for result in results:
        for pv in result.history:
            row = by_key[(result.kpi.id, pv.period.label)]
            assert row[8].value == figures.text(result.kpi.id, "status", pv.period.label)
            assert row[6].value == pv.target
            if pv.value is not None:
                assert shown_as(row[5].value, row[5].number_format) == _plain(
                    figures.text(result.kpi.id, "value", pv.period.label))


@pytest.mark.parametrize("cadence", ["weekly", "quarterly"])
def test_the_history_sheet_shows_each_target_and_amber_as_the_pack_prints_them(
        demo: Path, cadence: str) -> None:
    """Beside a whole count or no value, a target is written at its own precision: P1
    incidents' pro-rated quarterly target of 6.65 showed as "7" beside a whole count, where the
    pack prints "6.7"; a week without a value showed a target of 99.5% as "100%"."""
    document = document_of(cadence, demo / f"{cadence}.yaml", today=TODAY)
    rows = list(_book(document)["History"].iter_rows(min_row=2))
    by_key = {(row[0].value, row[2].value): row for row in rows}
    figures = document.figures
    checked = 0
    for result in document.view.evaluation.results:
        kpi, current = result.kpi, result.current
        for pv in result.history:
            if pv.value is not None and not whole_numbers(kpi, pv.value):
                continue  # at the value's precision: the test below
            row = by_key[(kpi.id, pv.period.label)]
            value = figures.text(kpi.id, "value", pv.period.label)
            row_figures = shown(kpi, pv.value, pv.target, pv.amber, at_least=places_of(value))
            for cell, number, text in ((row[6], pv.target, row_figures.target),
                                       (row[7], pv.amber, row_figures.amber)):
                if number is not None:
                    assert shown_as(cell.value, cell.number_format) == _plain(text), (
                        kpi.id, pv.period.label)
                    checked += 1
        label = current.period.label
        assert shown_as(by_key[(kpi.id, label)][6].value, by_key[(kpi.id, label)][6].number_format
                        ) == _plain(figures.text(kpi.id, "target", label)), kpi.id
    assert checked > 0


def test_a_history_row_shows_its_target_at_its_values_precision(demo: Path) -> None:
    """Backup success rate's monthly history read "99.5%" beside a target of "99.00%", and
    Kestrel's leakage "18.0 ML/d" beside "18.00 ML/d": the target took digits to stand apart
    from the unrounded value, which the pack prints at the KPI's one precision."""
    document = document_of("monthly", demo / "monthly.yaml", today=TODAY)
    rows = {(row[0].value, row[2].value): row
            for row in _book(document)["History"].iter_rows(min_row=2)}
    checked = 0
    for result in document.view.evaluation.results:
        kpi = result.kpi
        for pv in result.history:
            if pv.value is None or whole_numbers(kpi, pv.value):
                continue
            row = rows[(kpi.id, pv.period.label)]
            places = max(places_of(document.figures.text(kpi.id, "value", pv.period.label)),
                         row_decimals(kpi, (None, pv.target, pv.amber)))
            assert places_of(shown_as(row[6].value, row[6].number_format)) == places, (
                kpi.id, pv.period.label)
            checked += 1
    assert checked > 50


def test_the_action_and_decision_sheets_are_the_csvs(demo: Path) -> None:
    document = document_of("weekly", demo / "weekly.yaml", today=TODAY)
    book = _book(document)
    assert [cell.value for cell in book["Actions"][1]] == list(ACTION_COLUMNS)
    csvs = action_csvs(document.view)
    assert len(list(book["Actions"].iter_rows())) == csvs["actions.csv"].count(b"\r\n")
    assert len(list(book["Decisions"].iter_rows())) == csvs["decisions.csv"].count(b"\r\n")


def test_a_units_workbook_adds_its_shares_breakdowns_and_the_groups_actions(
    tmp_path: Path,
) -> None:
    """A Harbourside store's pack: its share of each group figure, each department of a
    breakdown and the group's open actions, as the pack prints them."""
    harbour = harbour_with_minutes(tmp_path / "harbour")
    document = document_of("weekly", harbour / "weekly.yaml", "2026-10-30", today=TODAY,
                           unit="quayside")
    book = _book(document)
    assert book.sheetnames == [*SHEETS, *OPTIONAL_SHEETS]
    figures = document.figures
    evaluated = document.view.evaluated

    def same(cell: Any, identity: str) -> None:
        figure = figures.figures[identity]
        assert cell.value == pytest.approx(figure.value, abs=1e-9), identity
        if cell.number_format != "0%":
            assert shown_as(cell.value, cell.number_format) == _plain(figure.text), identity
        else:
            assert f"{100 * cell.value:.0f}%" == figure.text, identity

    shares = list(book["Shares"].iter_rows(min_row=2))
    assert [row[0].value for row in shares] == [share.kpi.id for share in evaluated.shares]
    for row in shares:
        mine, group = f"{row[0].value}@quayside/2026-10-30", f"{row[0].value}@group/2026-10-30"
        same(row[3], f"{mine}/value")
        same(row[4], f"{group}/value")
        same(row[5], f"{mine}/share")
        assert row[6].value == figures.figures[f"{group}/status"].text
        same(row[7], f"{group}/target")
    parts = list(book["Breakdowns"].iter_rows(min_row=2))
    table = evaluated.breakdowns["on_shelf"]
    assert [row[3].value for row in parts] == [part.name for part in table.parts]
    for row, part in zip(parts, table.parts, strict=True):
        subject = f"on_shelf#{part.name.lower().replace(' ', '-')}/2026-10-30"
        same(row[4], f"{subject}/value")
        assert row[5].value == figures.figures[f"{subject}/status"].text
    group_actions = list(book["Group actions"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in group_actions] == [
        view.id for view in evaluated.action_log.group_actions]
    assert group_actions


def _cells(figures: Any, kpi: Any, *kinds: str) -> dict[str, Any]:
    """The cells the workbook writes for the KPI's figures of ``kinds``."""
    from openpyxl import Workbook

    from reviewkit.outputs.workbook import _kpi_number, _Sheet

    book = Workbook(write_only=True)
    sheet = _Sheet(book, "Scorecard", ["x"])
    cells = {kind: _kpi_number(sheet, figures, kpi, kind) for kind in kinds}
    book.save(io.BytesIO())  # a write-only sheet left unsaved complains when collected
    return cells


def _one_figure(kpi: Any, kind: str, value: float, text: str) -> Any:
    from reviewkit.evaluation.figures import Figure, PackFigures, figure_id

    return PackFigures("2026-11-20", {figure_id(kpi.id, "2026-11-20", kind): Figure(value, text)})


@pytest.mark.parametrize(("kind", "value", "text"), [
    ("change", 0.05, "no change"),     # 2.25 h then 2.3 h: too small to show at one decimal
    ("change", -0.04, "no change"),
    ("variance", 0.0, "on target"),
])
def test_a_difference_the_pack_calls_nothing_reads_so_in_the_workbook(
        make_kpi: Any, kind: str, value: float, text: str) -> None:
    """A change the pack prints "no change" showed "+0 h" (or "-0 h") in its cell: the cell's
    format took no decimals from the words, and the number was not zero."""
    kpi = make_kpi(unit="h", target=2.0, amber=3.0, direction="lower_is_better")
    cell = _cells(_one_figure(kpi, kind, value, text), kpi, kind)[kind]
    assert shown_as(cell.value, cell.number_format) == text


@pytest.mark.parametrize(("kind", "value", "text"), [
    ("value", -0.004, "0.00%"), ("target", -0.0001, "0.00%"), ("value", 0.004, "0.00%"),
])
def test_a_figure_the_pack_prints_as_zero_is_zero_in_the_workbook(
        make_kpi: Any, kind: str, value: float, text: str) -> None:
    """A net balance of -0.004% printed "0.00%" in the pack and "-0.00%" in its cell: a
    spreadsheet keeps the minus of a number that rounds to zero."""
    kpi = make_kpi(unit="%", target=0.0, amber=-1.0, decimals=2)
    cell = _cells(_one_figure(kpi, kind, value, text), kpi, kind)[kind]
    assert shown_as(cell.value, cell.number_format) == text


def test_a_difference_is_stored_as_the_number_the_pack_prints(make_kpi: Any) -> None:
    """100.0% against a target of 99.9% printed "+0.1 pts", and its cell held 0.0499… (99.95 -
    99.9 in binary), which a spreadsheet shows as "+0.0 pts"."""
    from reviewkit.evaluation.evaluate import DataQuality, Evaluation, KpiResult, PeriodValue
    from reviewkit.evaluation.figures import pack_figures
    from reviewkit.evaluation.strategy import Strategy
    from reviewkit.periods import period_containing

    kpi = make_kpi(unit="%", target=99.9, amber=None, decimals=1)
    end = dt.date(2026, 11, 20)
    history = [PeriodValue(period_containing("weekly", end - dt.timedelta(weeks=1 - i)),
                           value, 99.9, None, "green", 1)
               for i, value in enumerate((99.84, 99.95))]
    result = KpiResult(kpi=kpi, current=history[-1], previous=history[0], history=history,
                       trend="unknown", streak=1, last_seen=end, periods_without_data=0,
                       stale=False)
    period = result.current.period
    figures = pack_figures(period=period, evaluation=Evaluation(period, (result,), (),
                                                               DataQuality()),
                           action_log=None, changes=None, strategy=Strategy(as_of=end),
                           kpis={kpi.id: kpi})
    cells = _cells(figures, kpi, "variance", "change")
    assert {kind: figures.text(kpi.id, kind) for kind in cells} == {
        "variance": "+0.1\u00a0pts", "change": "+0.2\u00a0pts"}
    assert {kind: (cell.value, _plain(shown_as(cell.value, cell.number_format)))
            for kind, cell in cells.items()} == {"variance": (0.1, "+0.1 pts"),
                                                  "change": (0.2, "+0.2 pts")}


@pytest.mark.parametrize(("text", "places"), [
    ("2.1\u00a0per\u00a0100\u00a0km", 1),   # read as "2.1100": four decimals
    ("3.5\u00a0sq.\u00a0km", 1),
    ("12\u00a0per\u00a01,000", 0),
    ("\u00a342.0k", 1), ("\u22120.45\u00a0h", 2), ("1,234", 0), ("no change", 0),
])
def test_a_figures_decimals_are_its_numbers_not_its_units(text: str, places: int) -> None:
    """A unit with a digit or a dot ("per 100 km") gave its cells four decimals: the PDF's
    "2.1 per 100 km" showed as "2.1000 per 100 km" in the workbook."""
    assert places_of(text) == places


#: Text a spreadsheet would take for a formula, an error or a command if it were not text.
LIKE_FORMULAS = ("=4*5", '=HYPERLINK("http://127.0.0.1:8765/x","click")', "=1+2", "+1",
                 "-1+1", "@SUM(A1)", "\t=1", "\r=1", "#N/A")


@pytest.mark.parametrize("text", LIKE_FORMULAS)
def test_text_like_a_formula_is_a_text_cell(text: str) -> None:
    """A string starting with "=" became a live formula (openpyxl's guess), and "#N/A" an
    error value: text reaches a cell as text, whatever it starts with. Text a spreadsheet
    would read as a formula once a reviewer edits the cell is marked as text too (Excel's
    quote prefix: the apostrophe it shows is not in the value)."""
    from openpyxl import Workbook

    from reviewkit.outputs.workbook import _Sheet

    book = Workbook(write_only=True)
    sheet = _Sheet(book, "Pack", ["Field", "Value"])
    sheet.append(["Organisation", text])
    buffer = io.BytesIO()
    book.save(buffer)
    cell = load_workbook(buffer)["Pack"]["B2"]
    # The sheet's XML reads any line end as a line feed: a carriage return reads as one.
    assert (cell.value, cell.data_type) == (text.replace("\r", "\n"), "s")
    assert cell.quotePrefix == text.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert b"<f>" not in zipfile.ZipFile(buffer).read("xl/worksheets/sheet1.xml")


def test_catalog_params_and_action_log_text_are_text_cells_in_the_workbook(
        tmp_path: Path) -> None:
    """An organisation of '=4*5', a KPI named '=1+2' and owned by '=HYPERLINK(…)', an action
    titled '=2*3': each was a formula in pack.xlsx, live once a reviewer opened it. Every text
    the workbook writes reads back as the user wrote it, and no cell is a formula or an
    error."""
    params = copy_demo(tmp_path)
    text = re.sub(r"(?m)^classification: .*$", "classification: '@Internal'",
                  params.read_text(encoding="utf-8").replace("organisation: Northwind IT",
                                                             "organisation: '=4*5'"))
    params.write_text(text, encoding="utf-8")
    catalog_path = tmp_path / "data" / "demo" / "kpis.yaml"
    catalog = yaml.safe_load(catalog_path.read_text(encoding="utf-8"))
    first, second = catalog["kpis"][:2]
    first.update(name="=1+2", owner='=HYPERLINK("http://127.0.0.1:8765/x","click")')
    second.update(name="+Lead time", owner="#N/A", perspective="-Delivery", unit="@days")
    catalog_path.write_text(yaml.safe_dump(catalog, sort_keys=False, allow_unicode=True),
                            encoding="utf-8")
    store = Store.open(str(params.parent / "reviewkit.sqlite"))
    try:
        action_id = store.add_action(
            title="=2*3", owner="@Change Manager", due=dt.date(2026, 11, 27),
            kpi_id=first["id"], note="-1+1", effective=dt.date(2026, 11, 13), by="t",
            source="test")
        store.add_decision(text="=SUM(1,2)", rationale="\t=because",
                           effective=dt.date(2026, 11, 13), by="t", source="test")
    finally:
        store.dispose()

    written = workbook_bytes(document_of("weekly", params, today=TODAY))
    book = load_workbook(io.BytesIO(written))
    live = [(sheet.title, cell.coordinate, cell.value) for sheet in book
            for row in sheet.iter_rows() for cell in row if cell.data_type in ("f", "e")]
    assert live == []
    with zipfile.ZipFile(io.BytesIO(written)) as archive:
        assert not [name for name in archive.namelist()
                    if name.startswith("xl/worksheets/") and b"<f>" in archive.read(name)]

    def rows(title: str) -> list[dict[str, Any]]:
        values = list(book[title].iter_rows(values_only=True))
        return [dict(zip(values[0], row, strict=True)) for row in values[1:]]

    about = {row["Field"]: row["Value"] for row in rows("Pack")}
    assert (about["Organisation"], about["Classification"]) == ("=4*5", "@Internal")
    scorecard = {row["KPI id"]: row for row in rows("Scorecard")}
    assert {key: scorecard[first["id"]][key] for key in ("KPI", "Owner")} == {
        "KPI": "=1+2", "Owner": '=HYPERLINK("http://127.0.0.1:8765/x","click")'}
    assert {key: scorecard[second["id"]][key] for key in ("Perspective", "KPI", "Unit",
                                                           "Owner")} == {
        "Perspective": "-Delivery", "KPI": "+Lead time", "Unit": "@days", "Owner": "#N/A"}
    assert {row["KPI"] for row in rows("History") if row["KPI id"] == first["id"]} == {"=1+2"}
    action = next(row for row in rows("Actions") if row["id"] == action_id)
    assert (action["title"], action["owner"], action["note"]) == ("=2*3", "@Change Manager",
                                                                  "-1+1")
    assert [(row["text"], row["rationale"]) for row in rows("Decisions")
            if row["text"] == "=SUM(1,2)"] == [("=SUM(1,2)", "\t=because")]


@pytest.mark.parametrize(("unit", "value", "change"), [
    ('in" ;[Red]0', '1.500 in" ;[Red]0', '+0.250 in" ;[Red]0'),
    ('";;;', '1.500 ";;;', '+0.250 ";;;'),     # empty sections: the value hidden
    ('"', '1.500 "', '+0.250 "'),
    ("\\", "1.500 \\", "+0.250 \\"),
    ('say "x"\\@', '1.500 say "x"\\@', '+0.250 say "x"\\@'),
    ('[Red]0.0E+0 %', "1.500 [Red]0.0E+0 %", "+0.250 [Red]0.0E+0 %"),
    ('£"k;', '£1.500"k;', '+£0.250"k;'),
])
def test_a_units_text_is_shown_literally_in_its_cells_number_format(
        make_kpi: Any, unit: str, value: str, change: str) -> None:
    """A unit of 'in" ;[Red]0' was pasted into the cell's number format: its quote closed the
    format's literal and its ";" began a section of its own, so a unit could restyle or hide
    the number. Whatever its text, the cell shows the number and the unit, and the format
    reads back from the file as written."""
    from openpyxl import Workbook

    from reviewkit.outputs.workbook import _kpi_number, _Sheet

    kpi = make_kpi(unit=unit, target=2.0, amber=3.0, direction="lower_is_better")
    figures = _one_figure(kpi, "value", 1.5, value)
    figures.figures.update(_one_figure(kpi, "change", 0.25, change).figures)
    book = Workbook(write_only=True)
    sheet = _Sheet(book, "Scorecard", ["Value", "Since last"])
    cells = [_kpi_number(sheet, figures, kpi, kind) for kind in ("value", "change")]
    sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    read = next(load_workbook(buffer)["Scorecard"].iter_rows(min_row=2))
    assert [cell.number_format for cell in read] == [cell.number_format for cell in cells]
    assert [shown_as(cell.value, cell.number_format) for cell in read] == [value, change]
    assert shown_as(-0.25, read[1].number_format) == "-" + change[1:]
