"""Reading a pack PDF's structure with pypdf: the tag tree, the outline, links and attachments.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject

from reviewkit import cadences


def structure_elements(reader: PdfReader) -> Iterator[DictionaryObject]:
    """Every element of the PDF's structure tree, in reading order."""
    root = reader.trailer["/Root"]["/StructTreeRoot"].get_object()
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        node = node.get_object() if hasattr(node, "get_object") else node
        if not isinstance(node, DictionaryObject):
            continue  # a marked-content id
        if node.get("/Type") == "/StructElem":
            yield node
        kids = node.get("/K")
        if kids is None:
            continue
        kids = kids.get_object()
        children = list(kids) if isinstance(kids, ArrayObject) else [kids]
        stack.extend(reversed(children))


def outline_titles(reader: PdfReader) -> list[tuple[int, str]]:
    """The outline (bookmarks) as (depth, title), depth 0 for the top level."""
    found: list[tuple[int, str]] = []

    def walk(items: list[Any], depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                found.append((depth, str(item.title)))

    walk(reader.outline, 0)
    return found


def internal_link_targets(reader: PdfReader) -> list[str]:
    """The named destinations that link annotations on all pages point to."""
    targets = []
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if annotation.get("/Subtype") != "/Link":
                continue
            destination = annotation.get("/Dest")
            if destination is None and "/A" in annotation:
                destination = annotation["/A"].get("/D")
            if destination is not None:
                targets.append(str(destination))
    return targets


def check_tagged_with_alternative_text(reader: PdfReader) -> list[str]:
    """Assert the PDF is tagged and every figure has alternative text; return the texts."""
    root = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"])
    elements = list(structure_elements(reader))
    assert {"/H2", "/Table", "/TH", "/TD", "/Figure", "/Link"} <= {str(e["/S"]) for e in elements}
    figures = [e for e in elements if e["/S"] == "/Figure"]
    assert figures
    texts = [str(figure.get("/Alt", "")) for figure in figures]
    assert all(len(text) > 20 for text in texts), texts
    return texts


def check_outline(reader: PdfReader, cadence: str, kpi_names: list[str]) -> None:
    """Assert the outline lists every section (as the contents names it) and every KPI."""
    outline = outline_titles(reader)
    top = [title for depth, title in outline if depth == 0]
    # A pack without units has no units page (group packs only).
    definition = cadences.get(cadence)
    # As the contents names them: an appendix with its letter.
    expected = [definition.heading(section.id) for section in definition.sections_for(False)]
    assert top == expected, (top, expected)
    deeper = {title for depth, title in outline if depth > 0}
    assert set(kpi_names) <= deeper
    assert "Scorecard" in deeper
