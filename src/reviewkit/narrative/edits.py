"""Narrative edits, wherever they were made (a pack's notebook, a Markdown file), as one kind of
value, and the Markdown round trip."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewkit.errors import InputError
from reviewkit.narrative.cells import NarrativeCell


@dataclass(frozen=True)
class NarrativeEdit:
    """A person's new text for one narrative cell, and the store revision it was made from."""

    key: str
    kpi_id: str | None
    text: str
    revision: int  # the stored revision the writer started from (0: a draft)
    source: str  # recorded in the history: "notebook pack.ipynb", "markdown narrative.md"
    where: str  # for messages: the file (and line) the edit came from
    conflict_hint: str  # what to do when the store changed since
    basis: dict[str, Any] = field(default_factory=dict)  # the values the writer saw
    #: The writer confirms the text as it stands (a draft or a stale text still right): it is
    #: saved against ``basis`` even when the words are those already stored.
    accepted: bool = False


def normalise(text: str) -> str:
    return text.strip().replace("\r\n", "\n")


# -- Markdown round trip -----------------------------------------------------------------

_HEADING = re.compile(r"^## (\S+)(?: — .*)?$")
_REVISION = re.compile(r"^<!-- reviewkit: revision (\d+)(?P<draft>, draft)?(?:, stale)? -->$")


def to_markdown(title: str, long_label: str, cadence: str, label: str,
                cells: Sequence[NarrativeCell]) -> str:
    lines = [
        f"# Narrative: {title}, {long_label}",
        "",
        f"<!-- reviewkit narrative {cadence} {label}. Edit the text under "
        "each '## key' heading and import the file with `reviewkit narrative import`. Keep the "
        "headings and the revision comments. Placeholders such as {{ kpi.<id>.value }} are "
        "filled at build time. -->",
        "",
    ]
    for cell in cells:
        flags = ", draft" if cell.draft else ""
        flags += ", stale" if cell.stale else ""
        lines += [f"## {cell.key} — {cell.title}", f"<!-- reviewkit: revision {cell.revision}"
                  f"{flags} -->", "", cell.text.strip(), ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class MarkdownSection:
    key: str
    revision: int
    text: str
    line: int
    draft: bool = False  # the ", draft" marker is still there (remove it to accept the draft)


def parse_markdown(text: str, path: Path) -> list[MarkdownSection]:
    sections: list[MarkdownSection] = []
    key: str | None = None
    revision = 0
    start = 0
    draft = False
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        heading = _HEADING.match(line)
        if heading:
            if key is not None:
                sections.append(MarkdownSection(key, revision, "\n".join(body).strip(), start,
                                                draft))
            key, revision, start, body, draft = heading[1], 0, number, [], False
            continue
        if key is None:
            continue
        marker = _REVISION.match(line.strip())
        if marker and not body:
            revision, draft = int(marker[1]), bool(marker["draft"])
            continue
        body.append(line)
    if key is not None:
        sections.append(MarkdownSection(key, revision, "\n".join(body).strip(), start, draft))
    seen: set[str] = set()
    for section in sections:
        if section.key in seen:
            raise InputError(path, f"narrative '{section.key}' appears twice", line=section.line)
        seen.add(section.key)
    if not sections:
        raise InputError(path, "no '## key' sections found; export the narrative with "
                         "`reviewkit narrative export` to get the expected layout")
    return sections


def edits_from_markdown(
    sections: Sequence[MarkdownSection], cells: Sequence[NarrativeCell], path: Path,
    pack_name: str,
) -> list[NarrativeEdit]:
    """The sections whose text differs from the pack's cells (or that accept a draft)."""
    known = {cell.key: cell for cell in cells}
    edits = []
    for section in sections:
        cell = known.get(section.key)
        if cell is None:
            raise InputError(path, f"no narrative cell '{section.key}' in the {pack_name}",
                             line=section.line)
        accepted = cell.draft and not section.draft
        if section.text == cell.text.strip() and not accepted:
            continue
        edits.append(NarrativeEdit(
            key=section.key, kpi_id=cell.kpi_id, text=section.text, revision=section.revision,
            source=f"markdown {path.name}", where=f"{path}, line {section.line}",
            conflict_hint="export again and redo the edit", basis=dict(cell.values),
        ))
    return edits
