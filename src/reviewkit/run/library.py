"""``OUT/index.html``: a self-contained library page of every pack in an output folder.

Packs are found by their manifest (``OUT/<cadence>/<label>/`` for a definition without units,
``OUT/<cadence>/<label>/<unit>/`` with them), grouped by cadence, newest period first, group
before units, each with its status counts, state and a link to each of its outputs that a
reader opens (:data:`reviewkit.outputs.pack.LINKS`). A pack is listed once it is whole: it
holds every file its outputs write.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from reviewkit import cadences
from reviewkit.formatting import STATUS_WORDS
from reviewkit.outputs.data import MANIFEST_FILE, SUMMARY_FILE
from reviewkit.outputs.pack import LINKS

INDEX_NAME = "index.html"


@dataclass(frozen=True)
class LibraryPack:
    """One pack on the library page (links are relative to the page)."""

    cadence: str
    label: str
    period_end: str
    title: str
    organisation: str
    unit: str  # the unit's name; '' for the group (or the only) pack
    is_group: bool
    state: str
    approver: str
    counts: dict[str, int]
    links: dict[str, str]  # label → link, one per output a reader opens
    generated_at: str


def find_packs(out: Path) -> list[LibraryPack]:
    """Every whole pack under ``out`` (one holding every file its manifest lists, and its
    summary), in library order."""
    packs = []
    for manifest in sorted(out.glob(f"*/*/{MANIFEST_FILE}")) + sorted(
            out.glob(f"*/*/*/{MANIFEST_FILE}")):
        folder = manifest.parent
        if any(part.startswith(".") for part in folder.relative_to(out).parts):
            continue  # a staging folder: not a pack yet
        try:
            summary: dict[str, Any] = json.loads(
                (folder / SUMMARY_FILE).read_text(encoding="utf-8"))
            written = json.loads(manifest.read_text(encoding="utf-8")).get("outputs")
        except (OSError, ValueError, AttributeError):
            continue
        # Whole: every file the manifest lists is there (a pack of an older version lists
        # fewer outputs than a build writes today, and is still whole).
        if not (isinstance(summary, dict) and isinstance(written, dict) and written
                and all((folder / str(name)).is_file() for name in written)):
            continue
        unit = summary.get("unit") or {}
        packs.append(LibraryPack(
            cadence=str(summary.get("cadence", folder.relative_to(out).parts[0])),
            label=str(summary.get("label", "")),
            period_end=str(summary.get("period_end", "")),
            title=str(summary.get("title", "")),
            organisation=str(summary.get("organisation", "")),
            unit=str(unit.get("name", "")) if isinstance(unit, dict) else "",
            is_group=bool(summary.get("units")),
            state=str(summary.get("state", "draft")),
            approver=str(summary.get("approver", "")),
            counts={key: int(value) for key, value in
                    dict(summary.get("status_counts") or {}).items()},
            links={label: _link(out, folder / name) for label, name in LINKS.items()
                   if name in written},
            generated_at=str(summary.get("generated_at", "")),
        ))
    order = {name: index for index, name in enumerate(cadences.names())}
    packs.sort(key=lambda p: (p.organisation, p.title))
    packs.sort(key=lambda p: (not p.is_group and bool(p.unit), p.unit.casefold()))
    packs.sort(key=lambda p: p.period_end, reverse=True)
    packs.sort(key=lambda p: order.get(p.cadence, len(order)))
    return packs


def _link(out: Path, path: Path) -> str:
    # A relative URL, so the folder can be moved or served anywhere; quoted by the template.
    return os.path.relpath(path, out).replace(os.sep, "/")


def render_index(out: Path) -> str:
    packs = find_packs(out)
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("reviewkit.layout", "templates/library"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined)
    sections: dict[str, list[LibraryPack]] = {}
    for pack in packs:
        sections.setdefault(pack.cadence, []).append(pack)
    totals = {status: sum(pack.counts.get(status, 0) for pack in packs)
              for status in STATUS_WORDS}
    return environment.get_template("index.html.j2").render(
        packs=packs, sections=sections, status_words=STATUS_WORDS, totals=totals,
        generated=dt.datetime.now(dt.UTC).strftime("%d %b %Y, %H:%M UTC"),
        titles={name: cadences.get(name).title for name in sections
                if name in cadences.names()},
        folder=out.name)


def write_index(out: Path) -> Path:
    """(Re)write ``out/index.html`` whole."""
    path = out / INDEX_NAME
    partial = out / f".{INDEX_NAME}.{os.getpid()}.partial"
    partial.write_text(render_index(out), encoding="utf-8")
    partial.replace(path)
    return path
