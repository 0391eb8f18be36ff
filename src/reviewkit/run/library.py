"""``OUT/index.html``: a self-contained library page of every pack in an output folder.

Packs are found by their ``manifest.json`` (``OUT/<cadence>/<label>/`` for a definition
without units, ``OUT/<cadence>/<label>/<unit>/`` with them), grouped by cadence, newest
period first, group before units, each with its status counts, state and links.
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
    pdf: str
    html: str
    generated_at: str


def find_packs(out: Path) -> list[LibraryPack]:
    """Every whole pack under ``out`` (one with its summary and PDF), in library order."""
    packs = []
    for manifest in sorted(out.glob("*/*/manifest.json")) + sorted(
            out.glob("*/*/*/manifest.json")):
        folder = manifest.parent
        if any(part.startswith(".") for part in folder.relative_to(out).parts):
            continue  # a staging folder: not a pack yet
        try:
            summary: dict[str, Any] = json.loads(
                (folder / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not (folder / "pack.pdf").is_file() or not isinstance(summary, dict):
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
            pdf=_link(out, folder / "pack.pdf"),
            html=_link(out, folder / "pack.html"),
            generated_at=str(summary.get("generated_at", "")),
        ))
    order = {name: index for index, name in enumerate(cadences.names())}
    packs.sort(key=lambda p: (p.organisation, p.title))
    packs.sort(key=lambda p: (not p.is_group and bool(p.unit), p.unit.casefold()))
    packs.sort(key=lambda p: p.period_end, reverse=True)
    packs.sort(key=lambda p: order.get(p.cadence, len(order)))
    return packs


@dataclass(frozen=True)
class PeriodTotal:
    """The status counts that stand for one cadence's period on the library page: the group's
    pack (a roll-up of its units), else the one pack of that period, else the sum over the
    packs of that period (each KPI of each pack counted once, said so)."""

    cadence: str
    label: str
    counts: dict[str, int]
    source: str  # "the group's pack", "its pack", "across 3 packs"


def period_totals(packs: list[LibraryPack]) -> dict[str, PeriodTotal]:
    """Each cadence's newest period with its status counts (never summed across cadences or
    periods, nor a group with its own units: that counts each KPI several times)."""
    totals: dict[str, PeriodTotal] = {}
    for cadence in dict.fromkeys(pack.cadence for pack in packs):
        mine = [pack for pack in packs if pack.cadence == cadence]
        newest = max(pack.period_end for pack in mine)
        latest = [pack for pack in mine if pack.period_end == newest]
        group = next((pack for pack in latest if pack.is_group), None)
        if group is not None:
            totals[cadence] = PeriodTotal(cadence, group.label, group.counts, "the group's pack")
        elif len(latest) == 1:
            totals[cadence] = PeriodTotal(cadence, latest[0].label, latest[0].counts, "its pack")
        else:
            counts = {status: sum(pack.counts.get(status, 0) for pack in latest)
                      for status in STATUS_WORDS}
            totals[cadence] = PeriodTotal(cadence, latest[0].label, counts,
                                          f"across {len(latest)} packs")
    return totals


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
    return environment.get_template("index.html.j2").render(
        packs=packs, sections=sections, status_words=STATUS_WORDS,
        totals=period_totals(packs),
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
