"""The one workbook reader: the first sheet of an ``.xlsx``, row by row, for every table that may
be a workbook (the measurements, initiatives, benefits and spend, and the query sources).

Its rules hold wherever a workbook is read:

* Only the first worksheet is read; row 1 is the header.
* A merged range is refused. Only its first cell holds the value; the others read as empty, so
  a row would lose its date or its value without a word.
* A formula whose value was never saved (a workbook written by a program that does not
  calculate) is refused: its value is unknown, not empty. The rows come back with a
  :class:`UncachedFormula` in such a cell, so the caller names the column.
* The sheet's XML may be at most :data:`MAX_SHEET_BYTES` once unpacked: a workbook of a few
  kilobytes can unpack to gigabytes.

openpyxl reads the sheet as a stream (``read_only``), so a large sheet is never held whole. The
formulas are read in a second pass only when the sheet has any (a data export has none).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from reviewkit.errors import InputError

#: The largest sheet we read, as unpacked XML: about two million rows of six cells.
MAX_SHEET_BYTES = 512 << 20
#: ``<mergeCell ref="A2:A3"/>``, with or without a namespace prefix.
_MERGE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref=\""
                    rb"([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)\"")
#: A cell's formula element, ``<f>`` or ``<f t="shared" …/>``, with or without a prefix.
_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_RELATIONSHIP = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


@dataclass(frozen=True)
class UncachedFormula:
    """A cell holding a formula whose value was never saved: its value is unknown, not empty."""

    formula: str


def formula_error(path: Path, cell: UncachedFormula, row: int, column: str,
                  prefix: str = "") -> InputError:
    """The one message for a formula without a saved value."""
    return InputError(path, f"{prefix}the cell holds a formula ({cell.formula}) whose value was "
                      "never saved; open the workbook in Excel (or LibreOffice) and save it",
                      line=row, field=column, row_label="row")


def rows(path: Path, what: str) -> Iterator[tuple[int, list[object]]]:
    """(row number, cells) for each row of the first sheet, row 1 first; cells as stored (dates
    as dates), an :class:`UncachedFormula` where a formula has no saved value.

    Raises :class:`InputError` naming the file for a file that is not a workbook, a sheet too
    large to read, or merged cells (naming the first range and its row).
    """
    import openpyxl  # deferred: only spreadsheet inputs need it

    has_formulas = _check_sheet(path, what)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        # The formulas too: a formula without a saved value reads as an empty cell above.
        formulas = (openpyxl.load_workbook(path, read_only=True, data_only=False)
                    if has_formulas else None)
    except Exception as exc:  # openpyxl raises many types for files that are not workbooks
        raise not_a_workbook(path, what, exc) from None
    try:
        values_sheet = book.worksheets[0]
        # Why: a sheet's stated size can be wrong (or hostile: A1:XFD1048576), and read-only
        # sheets pad every row to it. Without it, rows are as long as the file makes them.
        values_sheet.reset_dimensions()
        if formulas is None:
            for number, values in enumerate(values_sheet.iter_rows(values_only=True), start=1):
                yield number, list(values)
            return
        formula_sheet = formulas.worksheets[0]
        formula_sheet.reset_dimensions()
        pairs = zip(values_sheet.iter_rows(values_only=True),
                    formula_sheet.iter_rows(values_only=True), strict=False)
        for number, (values, written) in enumerate(pairs, start=1):
            cells: list[object] = list(values)
            for index, cell in enumerate(written):
                if (index < len(cells) and cells[index] is None and isinstance(cell, str)
                        and cell.startswith("=")):
                    cells[index] = UncachedFormula(cell)
            yield number, cells
    finally:
        book.close()
        if formulas is not None:
            formulas.close()


def not_a_workbook(path: Path, what: str, exc: BaseException) -> InputError:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return InputError(path, f"cannot read {what}: not an Excel workbook ({reason})")


def sheet_names(path: Path) -> list[str]:
    """The workbook's sheet names, in order ([] if it cannot be read: for hints only)."""
    try:
        import openpyxl  # deferred: only spreadsheet inputs need it

        book = openpyxl.load_workbook(path, read_only=True)
        names = list(book.sheetnames)
        book.close()
    except Exception:  # a hint only
        return []
    return names


def _check_sheet(path: Path, what: str) -> bool:
    """Refuse a first sheet that unpacks to more than MAX_SHEET_BYTES or has merged cells;
    whether the sheet holds any formula (True where it cannot tell)."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = _first_sheet(archive)
            if member is None:
                return True  # openpyxl says what is wrong with it
            size = archive.getinfo(member).file_size
            if size > MAX_SHEET_BYTES:
                raise InputError(path, f"cannot read {what}: its first sheet unpacks to "
                                 f"{size / (1 << 20):,.0f} MiB, over the {MAX_SHEET_BYTES >> 20} "
                                 "MiB a table may have; export the data as CSV or Parquet")
            merged, has_formulas = _scan(archive, member)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError) as exc:
        raise not_a_workbook(path, what, exc) from None
    if merged is not None:
        first_row = int(re.sub(r"[A-Z]+", "", merged.split(":")[0]))
        raise InputError(path, f"cells {merged} are merged: only the first holds a value and "
                         "the others would read as empty; unmerge them and fill every cell",
                         line=first_row, row_label="row")
    return has_formulas


def _first_sheet(archive: zipfile.ZipFile) -> str | None:
    """The archive member of the workbook's first worksheet, as openpyxl orders them."""
    names = set(archive.namelist())
    book = _office_document(archive) or "xl/workbook.xml"
    if book not in names:
        return None
    folder = posixpath.dirname(book)
    rels_name = posixpath.join(folder, "_rels", posixpath.basename(book) + ".rels")
    if rels_name not in names:
        return None
    targets = {}
    for rel in ElementTree.fromstring(archive.read(rels_name)):
        if rel.get("Type", "").endswith("/worksheet"):
            targets[rel.get("Id")] = rel.get("Target", "")
    for element in ElementTree.fromstring(archive.read(book)).iter():
        if element.tag.rsplit("}", 1)[-1] == "sheet" and element.get(_RELATIONSHIP) in targets:
            target = targets[element.get(_RELATIONSHIP)]
            member = (target.lstrip("/") if target.startswith("/")
                      else posixpath.normpath(posixpath.join(folder, target)))
            return member if member in names else None
    return None


def _office_document(archive: zipfile.ZipFile) -> str | None:
    try:
        package = ElementTree.fromstring(archive.read("_rels/.rels"))
    except KeyError:
        return None
    for rel in package:
        if rel.get("Type", "").endswith("/officeDocument"):
            return rel.get("Target", "").lstrip("/")
    return None


def _scan(archive: zipfile.ZipFile, member: str) -> tuple[str | None, bool]:
    """The first ``ref`` of a ``<mergeCell>`` in the sheet, and whether any cell holds a
    formula, read as a stream of bytes (the list of merged ranges comes after every row;
    parsing the XML again would cost a second read)."""
    tail = b""
    has_formulas = False
    with archive.open(member) as stream:
        while chunk := stream.read(1 << 20):
            window = tail + chunk
            found = _MERGE.search(window)
            if found:
                return found.group(1).decode("ascii"), True
            has_formulas = has_formulas or _FORMULA.search(window) is not None
            tail = window[-512:]
    return None, has_formulas
