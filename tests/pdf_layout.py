"""Reading a pack's print layout box by box (WeasyPrint's layout, as the PDF is written from it):
text that runs out of its card or table cell, text printed over other text, headings left
alone at the foot of a page, and pages holding only a few lines spilled from the page before;
and its visible text, for numbers and dates written another way than the pack's.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weasyprint.formatting_structure import boxes

from reviewkit.outputs import pdf as export

#: Boxes that hold their text: a table cell, or one of the pack's cards and panels.
CONTAINER_CLASSES = frozenset({
    "rk-bsc-box", "rk-tile", "rk-kpi", "rk-glance-box", "rk-outlook-box", "rk-priority",
    "rk-narrative", "rk-callout", "rk-toc",
})
#: Half a point: what anti-aliasing and rounding make of an exact fit.
TOLERANCE = 0.5
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
#: A page whose text fills less than this share of its height, after a page it continues, is a
#: spill.
SPILL_SHARE = 0.25


@dataclass(frozen=True)
class Mark:
    """A piece of printed content: a run of text, an inline block (a status pill) or an image."""

    page: int
    text: str
    left: float
    top: float
    right: float
    bottom: float
    box: Any
    ancestors: tuple[Any, ...]


def _classes(box: Any) -> set[str]:
    element = getattr(box, "element", None)
    if element is None or not hasattr(element, "get"):
        return set()
    return set((element.get("class") or "").split())


def _is_container(box: Any) -> bool:
    if isinstance(box, (boxes.TableCellBox,)):
        return True
    return bool(_classes(box) & CONTAINER_CLASSES) and not isinstance(box, boxes.InlineBox)


def _describe(box: Any) -> str:
    element = getattr(box, "element", None)
    tag = getattr(box, "element_tag", "?")
    names = ".".join(sorted(_classes(box)))
    text = ""
    if element is not None and hasattr(element, "itertext"):
        text = " ".join("".join(element.itertext()).split())[:60]
    return f"<{tag}{'.' + names if names else ''}> {text!r}"


def _walk(box: Any, ancestors: tuple[Any, ...], page: int) -> Iterator[Mark]:
    if isinstance(box, boxes.TextBox):
        if box.text.strip():
            yield Mark(page, box.text, box.position_x, box.position_y,
                       box.position_x + box.width, box.position_y + box.height, box, ancestors)
        return
    if isinstance(box, (boxes.InlineBlockBox, boxes.InlineReplacedBox, boxes.BlockReplacedBox)):
        left, top = box.border_box_x(), box.border_box_y()
        yield Mark(page, box.element_tag, left, top, left + box.border_width(),
                   top + box.border_height(), box, ancestors)
    if isinstance(box, boxes.ParentBox):
        inner = (*ancestors, box)
        for child in box.children:
            yield from _walk(child, inner, page)


@dataclass
class Layout:
    """A pack's pages as laid out for print."""

    document: Any

    @classmethod
    def of(cls, html_file: Path) -> Layout:
        html = html_file.read_text(encoding="utf-8")
        return cls(export.layout(html, base_url=html_file.parent))

    def marks(self) -> Iterator[Mark]:
        for number, page in enumerate(self.document.pages, start=1):
            yield from _walk(page._page_box, (), number)

    def overflows(self) -> list[str]:
        """Text or pills that run past the border of their table cell or card, or the page's
        text area."""
        found = []
        for number, page in enumerate(self.document.pages, start=1):
            area = page._page_box
            area_left = area.content_box_x()
            area_right = area_left + area.width
            for mark in _walk(area, (), number):
                if any(isinstance(a, boxes.MarginBox) for a in mark.ancestors):
                    continue
                if mark.left < area_left - TOLERANCE or mark.right > area_right + TOLERANCE:
                    found.append(f"p{number}: {mark.text!r} runs into the page margin")
                    continue
                for holder in mark.ancestors:
                    if not _is_container(holder):
                        continue
                    left = holder.border_box_x()
                    right = left + holder.border_width()
                    if mark.left < left - TOLERANCE or mark.right > right + TOLERANCE:
                        by = max(left - mark.left, mark.right - right)
                        found.append(f"p{number}: {mark.text!r} runs {by:.1f}pt out of "
                                     f"{_describe(holder)}")
                        break
        return found

    def collisions(self) -> list[str]:
        """Runs of text (or pills) printed over each other."""
        found = []
        for number, page in enumerate(self.document.pages, start=1):
            marks = sorted((m for m in _walk(page._page_box, (), number)
                            if m.right - m.left > TOLERANCE and m.bottom - m.top > TOLERANCE),
                           key=lambda m: m.top)
            for i, first in enumerate(marks):
                for second in marks[i + 1:]:
                    if second.top >= first.bottom - 1.5:
                        break
                    if first.box in second.ancestors or second.box in first.ancestors:
                        continue  # a pill and its own text
                    overlap_x = min(first.right, second.right) - max(first.left, second.left)
                    overlap_y = min(first.bottom, second.bottom) - max(first.top, second.top)
                    # A run's box includes its font's ascent and descent, more than the ink of
                    # a line set tight (a 19 pt figure on a 1.1 line): a fifth of the shorter
                    # run must overlap before it is ink over ink.
                    shorter = min(first.bottom - first.top, second.bottom - second.top)
                    if overlap_x > 1.0 and overlap_y > max(1.5, 0.2 * shorter):
                        found.append(f"p{number}: {first.text!r} and {second.text!r} overlap")
        return found

    def _siblings(self, element: Any) -> tuple[Any, Any]:
        """The elements before and after ``element`` in its parent (ElementTree keeps no links
        between siblings)."""
        if not hasattr(self, "_parents"):
            root = self.document.pages[0]._page_box.children[0].element
            self._parents = {child: parent for parent in root.iter() for child in parent}
        parent = self._parents.get(element)
        if parent is None:
            return None, None
        children = list(parent)
        index = children.index(element)
        return (children[index - 1] if index else None,
                children[index + 1] if index + 1 < len(children) else None)

    def _last_text(self, page_box: Any, number: int) -> Mark | None:
        marks = [m for m in _walk(page_box, (), number)
                 if not any(isinstance(a, boxes.MarginBox) for a in m.ancestors)]
        return max(marks, key=lambda m: (m.bottom, m.left), default=None)

    def stranded_headings(self) -> list[str]:
        """Pages that end with a heading, or with a heading and its introduction, whose
        content starts on the next page."""
        found = []
        pages = self.document.pages
        for number, page in enumerate(pages[:-1], start=1):
            last = self._last_text(page._page_box, number)
            if last is None:
                continue
            blocks = [a for a in last.ancestors if isinstance(a, boxes.BlockBox)]
            if not blocks:
                continue
            block = blocks[-1]
            element = block.element
            if block.element_tag in HEADINGS:
                found.append(f"p{number} ends with the heading {_describe(block)}")
                continue
            previous, following = self._siblings(element)
            introduces = previous is not None and (
                previous.tag == "h2" or (previous.tag in HEADINGS and following is not None
                                         and following.tag not in HEADINGS))
            if introduces and following is not None and block.element_tag == "p":
                found.append(f"p{number} ends with a heading and its introduction "
                             f"{_describe(block)}")
        return found

    def spills(self) -> list[str]:
        """Pages that hold only a few lines carried over from the page before (no heading
        of their own)."""
        found = []
        pages = self.document.pages
        for number, page in enumerate(pages, start=1):
            if number == 1:
                continue
            area = page._page_box
            marks = [m for m in _walk(area, (), number)
                     if not any(isinstance(a, boxes.MarginBox) for a in m.ancestors)]
            if not marks:
                found.append(f"p{number} is empty")
                continue
            top = area.content_box_y()
            used = max(m.bottom for m in marks) - top
            starts_anew = any(a.element_tag in HEADINGS for m in marks for a in m.ancestors
                              if isinstance(a, boxes.BlockBox))
            if not starts_anew and used < SPILL_SHARE * area.height:
                found.append(f"p{number} holds only {used:.0f}pt spilled from p{number - 1}")
        return found

    def problems(self) -> list[str]:
        return [*self.overflows(), *self.collisions(), *self.stranded_headings(),
                *self.spills()]


def visible_text(html: str) -> str:
    """The words a reader sees on the pack's pages (no styles, images, attributes or the
    provenance appendix, which records files and times as machines write them)."""
    html = html.split("<body", 1)[-1]  # not the document's title and metadata
    html = re.sub(r"<(style|svg|script)\b.*?</\1>", " ", html, flags=re.S)
    html = html.split('id="sec-provenance"')[0]
    text = re.sub(r"<[^>]+>", " ", html)
    for entity, char in (("&nbsp;", " "), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"),
                         ("&#39;", "'"), ("&quot;", '"')):
        text = text.replace(entity, char)
    return " ".join(text.replace("\u00a0", " ").replace("\u2060", "").split())


def number_and_date_slips(text: str) -> list[str]:
    """Numbers and dates written another way than the pack's: a hyphen for a minus sign, an
    ISO date or a period's label ('2026-04', '2024-Q4') in a sentence or table, a change of
    '+0.0' (a percentage with and without its decimal side by side is left to the formatting
    tests)."""
    slips = [f"hyphen for a minus: {m.group(0)!r}"
             for m in re.finditer(r"(?<![\w-])-\d[\d,.]*", text)]
    slips += [f"ISO date: {m.group(0)!r}"
              for m in re.finditer(r"(?<![\w-])\d{4}-\d\d-\d\d(?![\w-])", text)]
    slips += [f"period label: {m.group(0)!r}"
              for m in re.finditer(r"(?<![\w-])\d{4}-(?:0[1-9]|1[0-2]|Q[1-4])(?![\w-])", text)]
    slips += [f"zero change: {m.group(0)!r}"
              for m in re.finditer("[+\u2212]0(\\.0+)?(?!\\.?\\d)", text)]
    return slips
