"""``OUT/index.html``: a self-contained library page of every pack in an output folder.

Packs are found by their manifest (``OUT/<cadence>/<label>/`` for a definition without units,
``OUT/<cadence>/<label>/<unit>/`` with them), grouped by cadence, newest period first, group
before units, each with its status counts, state and a link to each of its outputs a reader
opens (:data:`reviewkit.outputs.pack.LINKS`). A pack is listed once it holds every file its
manifest lists (a pack of an older version lists fewer outputs than a build writes today).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

import jinja2

from reviewkit import cadences, periods
from reviewkit.errors import EnvironmentFailure
from reviewkit.formatting import (
    STATUS_ORDER,
    STATUS_SHAPES,
    STATUS_WORDS,
    format_timestamp,
    label_words,
    text_for_page,
)
from reviewkit.inputs.params import GROUP_FOLDER, UNIT_ID
from reviewkit.outputs.files import MANIFEST_FILE, SUMMARY_FILE
from reviewkit.outputs.pack import LINKS
from reviewkit.run import publish

INDEX_NAME = "index.html"


@dataclass(frozen=True)
class LibraryPack:
    """One pack on the library page (links are relative to the page, URL-quoted)."""

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
    links: dict[str, str]  # label → link, one per output a reader opens ("PDF", "web page")
    generated_at: str
    version: int = 1
    #: The draft beside a published pack (``<folder>.draft``): its links, and the version it
    #: is a draft of; none and 0 when there is none.
    draft_links: dict[str, str] = field(default_factory=dict)
    draft_version: int = 0


#: The folders a pack lives in, as reviewkit names them: a cadence, a period label
#: ('2026-11-20', '2026-11', '2026-Q4', '2026-H2', '2026'), a unit id or 'group'. Anything else
#: in an output folder (a folder named 'javascript:…', say) is not a pack of ours and is
#: never linked.
_CADENCE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_LABEL = re.compile(r"^[0-9]{4}(-([0-9]{2}-[0-9]{2}|[0-9]{2}|[QHP][0-9]{1,2}))?$")


def _recognised(parts: tuple[str, ...]) -> bool:
    *folders, last = parts
    parts = (*folders, last.removesuffix(publish.DRAFT_SUFFIX))
    if len(parts) not in (2, 3) or not _CADENCE.fullmatch(parts[0]):
        return False
    if not _LABEL.fullmatch(parts[1]):
        return False
    return len(parts) == 2 or parts[2] == GROUP_FOLDER or bool(UNIT_ID.fullmatch(parts[2]))


@dataclass(frozen=True)
class Library:
    """The packs of an output folder, and the pack folders left off the page (and why)."""

    packs: list[LibraryPack]
    left_off: list[tuple[str, str]]


def find_packs(out: Path) -> list[LibraryPack]:
    """Every whole pack under ``out`` (one with its summary and PDF), in library order."""
    return read_library(out).packs


def read_library(out: Path) -> Library:
    """Every pack under ``out`` in library order, each draft beside a published pack on that
    pack's line; a pack folder whose summary cannot be read is left off, and said so."""
    packs: dict[Path, LibraryPack] = {}
    drafts: dict[Path, LibraryPack] = {}
    left_off: list[tuple[str, str]] = []
    for manifest in sorted(out.glob(f"*/*/{MANIFEST_FILE}")) + sorted(
            out.glob(f"*/*/*/{MANIFEST_FILE}")):
        folder = manifest.parent
        parts = folder.relative_to(out).parts
        if not _recognised(parts) or not _whole(folder):
            continue  # a staging folder, a half-made pack, or not a pack of ours
        try:
            found = _pack_of(out, folder)
        except (OSError, ValueError, TypeError, AttributeError):
            left_off.append(("/".join(parts), "its summary.json is damaged; rebuild the pack"))
            continue
        if folder.name.endswith(publish.DRAFT_SUFFIX):
            drafts[folder.with_name(folder.name.removesuffix(publish.DRAFT_SUFFIX))] = found
        else:
            packs[folder] = found
    for folder, draft in drafts.items():
        published = packs.get(folder)
        if published is not None and published.state == "final":
            packs[folder] = replace(published, draft_links=draft.links,
                                    draft_version=draft.version)
        else:
            packs[folder.with_name(folder.name + publish.DRAFT_SUFFIX)] = draft
    order = {name: index for index, name in enumerate(cadences.names())}
    listed = list(packs.values())
    listed.sort(key=lambda p: (p.organisation, p.title))
    listed.sort(key=lambda p: (not p.is_group and bool(p.unit), p.unit.casefold()))
    listed.sort(key=lambda p: p.period_end, reverse=True)
    listed.sort(key=lambda p: order.get(p.cadence, len(order)))
    return Library(listed, left_off)


def _written(folder: Path) -> list[str]:
    """The files a pack's manifest says it wrote (none, when it cannot be read)."""
    try:
        outputs = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8")).get("outputs")
    except (OSError, ValueError, AttributeError):
        return []
    return [str(name) for name in outputs] if isinstance(outputs, dict) else []


def _whole(folder: Path) -> bool:
    """Whether every file the pack's manifest lists is there."""
    written = _written(folder)
    return bool(written) and all((folder / name).is_file() for name in written)


def _pack_of(out: Path, folder: Path) -> LibraryPack:
    """A pack's line from its summary.json; a summary that is not what a build writes raises
    (ValueError, TypeError, AttributeError)."""
    summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    if not isinstance(summary, dict):
        raise TypeError("summary.json is not an object")
    unit = summary.get("unit") or {}
    counts = summary.get("status_counts") or {}
    if not isinstance(unit, dict) or not isinstance(counts, dict):
        raise TypeError("summary.json has a damaged unit or status_counts")
    version = summary.get("version", 1)
    return LibraryPack(
        cadence=str(summary.get("cadence", folder.relative_to(out).parts[0])),
        label=str(summary.get("label", "")),
        period_end=str(summary.get("period_end", "")),
        title=str(summary.get("title", "")),
        organisation=str(summary.get("organisation", "")),
        unit=str(unit.get("name", "")),
        is_group=bool(summary.get("units")),
        state="final" if summary.get("state") == "final" else "draft",
        approver=str(summary.get("approver") or ""),
        counts={str(key): int(value) for key, value in counts.items()},
        links={label: _link(out, folder / name) for label, name in LINKS.items()
               if name in _written(folder)},
        generated_at=str(summary.get("generated_at", "")),
        version=version if isinstance(version, int) and not isinstance(version, bool) else 1,
    )


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
    # A relative URL, so the folder can be moved or served anywhere. Each folder name is
    # URL-quoted (a ':' can never make it a scheme), and the template escapes it as HTML.
    return "./" + "/".join(quote(part, safe="") for part in path.relative_to(out).parts)


def render_index(out: Path) -> str:
    library = read_library(out)
    packs = library.packs
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("reviewkit.layout", "templates/library"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined, finalize=text_for_page)
    environment.filters["period_words"] = label_words
    sections: dict[str, list[LibraryPack]] = {}
    for pack in packs:
        sections.setdefault(pack.cadence, []).append(pack)
    return environment.get_template("index.html.j2").render(
        packs=packs, sections=sections,
        status_words={status: STATUS_WORDS[status] for status in STATUS_ORDER},
        shapes=STATUS_SHAPES, totals=period_totals(packs),
        generated=format_timestamp(periods.now()),
        titles={name: cadences.get(name).title for name in sections
                if name in cadences.names()},
        folder=out.name, left_off=library.left_off)


def write_index(out: Path) -> Path:
    """(Re)write ``out/index.html`` whole; a folder that cannot be written (read-only, full)
    is the machine's failure, and the previous page stays."""
    path = out / INDEX_NAME
    partial = out / f".{INDEX_NAME}.{os.getpid()}.partial"
    page = render_index(out)
    try:
        partial.write_text(page, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise EnvironmentFailure(f"cannot write the library page {path}: "
                                 f"{exc.strerror or exc}; free space or make the folder "
                                 "writable, then run `reviewkit index` again") from exc
    return path
