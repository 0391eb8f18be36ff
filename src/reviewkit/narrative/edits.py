"""Narrative edits, wherever they were made (a pack's notebook, a Markdown file), as one kind of
value, and the Markdown round trip."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewkit.errors import InputError
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.narrative.cells import NarrativeCell
from reviewkit.narrative.placeholders import NarrativeError, check_placeholders


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


#: A control character no page shows (NUL, escape, a C1 control such as U+009B): a browser
#: drops it or draws a box, so the pack would not say what its writer wrote. Tab, line breaks
#: (NEL among them), the vertical tab of a pasted slide and the form feed are text.
CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
CONTROL_IS = "a control character no page can show"

#: Lines holding only white space at the start of a text.
_LEADING_BLANK_LINES = re.compile(r"\A(?:[^\S\n]*\n)+")


def normalise(text: str) -> str:
    """A narrative's text as it is stored and compared: Windows line ends as Unix ones, without
    blank lines before it or white space after it. The first line keeps its indentation: four
    spaces there open a code block."""
    return _LEADING_BLANK_LINES.sub("", text.replace("\r\n", "\n")).rstrip()


# -- Markdown round trip -----------------------------------------------------------------

_HEADING = re.compile(r"^## (\S+)(?: — .*)?$")
#: A level-2 heading inside a text, indented by any spaces: written to the file one space
#: further in (still a heading in Markdown), so it is not read back as a section of its own,
#: and taken back out when the file is read.
_INNER_HEADING = re.compile(r"^( *)(?=## )", re.MULTILINE)
_INDENTED_INNER_HEADING = re.compile(r"^ ( *)(?=## )", re.MULTILINE)
_REVISION = re.compile(r"^<!-- reviewkit: revision (\d+)(?P<draft>, draft)?(?:, stale)? -->$")


def to_markdown(title: str, long_label: str, cadence: str, label: str,
                cells: Sequence[NarrativeCell], unit: str = "") -> str:
    """The narrative of a pack as one Markdown file. ``unit``: the unit's id, '' for the group
    (or the only) pack, whose header names no unit, as every file exported before units were
    recorded: such a file stays the group's."""
    named = f" unit {unit}" if unit else ""
    lines = [
        f"# Narrative: {title}, {long_label}",
        "",
        f"<!-- reviewkit narrative {cadence} {label}{named}. Edit the text under "
        "each '## key' heading and import the file with `reviewkit narrative import`. Keep the "
        "headings and the revision comments. Placeholders such as {{ kpi.<id>.value }} are "
        "filled at build time. -->",
        "",
    ]
    for cell in cells:
        flags = ", draft" if cell.draft else ""
        flags += ", stale" if cell.stale else ""
        lines += [f"## {cell.key} — {cell.title}", f"<!-- reviewkit: revision {cell.revision}"
                  f"{flags} -->", "", _INNER_HEADING.sub(r" \1", normalise(cell.text)), ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class MarkdownSection:
    key: str
    revision: int
    text: str
    line: int
    draft: bool = False  # the ", draft" marker is still there (remove it to accept the draft)


#: The comment an exported file opens with, naming the pack it was exported from: its cadence,
#: period and unit (none: the group's, or a file from before units were recorded).
_EXPORTED_FOR = re.compile(r"^<!-- reviewkit narrative (\S+) (\S+?)(?: unit (\S+))?\. ",
                           re.MULTILINE)


def check_exported_for(text: str, path: Path, cadence: str, label: str, unit: str = "") -> None:
    """Refuse a file exported from another pack than the one it is imported into: its texts
    were written about other figures (a file from 13 November imported on the 20th), or about
    another unit (or the group). ``unit``: '' for the group (or the only) pack."""
    found = _EXPORTED_FOR.search(text)
    if found is None:
        return
    their_unit = found[3] or ""
    if (found[1], found[2], their_unit) == (cadence, label, unit):
        return
    line = text.count("\n", 0, found.start()) + 1
    if found[1] != cadence:
        fix = f"import it with `reviewkit narrative import {found[1]} …`"
    else:
        options = [f"--period {found[2]}"] if found[2] != label else []
        if their_unit:
            options += [f"--unit {their_unit}"] if their_unit != unit else []
        fix = "import it" + (f" with {' '.join(options)}" if options else "")
        if their_unit != unit and not their_unit:
            fix += " and without --unit" if options else " without --unit"
    units_differ = their_unit != unit
    theirs = _pack_named(found[1], found[2], their_unit, units_differ)
    if units_differ and not their_unit:
        # A file naming no unit may come from a unit's pack, exported before files named
        # their unit: the group's is all it can be said to be.
        theirs += " (or a unit's, exported before files named their unit)"
    raise InputError(path, f"exported from {theirs}, not "
                     f"{_pack_named(cadence, label, unit, units_differ)}; {fix}, or export "
                     "this pack's narrative", line=line)


def _pack_named(cadence: str, label: str, unit: str, units_differ: bool) -> str:
    """A pack as a message names it: the group's or a unit's only when that is the difference."""
    if not units_differ:
        return f"the {cadence} pack {label}"
    whose = f"unit {unit}'s" if unit else "the group's"
    return f"{whose} {cadence} pack {label}"


def parse_markdown(text: str, path: Path) -> list[MarkdownSection]:
    sections: list[MarkdownSection] = []
    key: str | None = None
    revision = 0
    start = 0
    draft = False
    body: list[str] = []
    # Split at line breaks only: a form feed or a line separator is part of a text.
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        control = CONTROL.search(line)
        if control is not None:
            raise InputError(path, f"U+{ord(control.group()):04X} at column "
                             f"{control.start() + 1}, {CONTROL_IS}; delete it", line=number)
        heading = _HEADING.match(line)
        if heading:
            if key is not None:
                sections.append(MarkdownSection(key, revision, _section_text(body), start,
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
        sections.append(MarkdownSection(key, revision, _section_text(body), start, draft))
    seen: set[str] = set()
    for section in sections:
        if section.key in seen:
            raise InputError(path, f"narrative '{section.key}' appears twice", line=section.line)
        seen.add(section.key)
    if not sections:
        raise InputError(path, "no '## key' sections found; export the narrative with "
                         "`reviewkit narrative export` to get the expected layout")
    return sections


def check_section_placeholders(sections: Sequence[MarkdownSection], pack: PackEvaluation,
                               path: Path) -> None:
    """Refuse a file any of whose texts holds an unknown placeholder, naming its line: also a
    text left as exported (stored before its KPI left the catalog), which no build can show."""
    for section in sections:
        try:
            check_placeholders(section.text, pack, section.key)
        except NarrativeError as exc:
            raise NarrativeError(f"{path}, line {section.line}: {exc}") from None


def _section_text(body: Sequence[str]) -> str:
    return normalise(_INDENTED_INNER_HEADING.sub(r"\1", "\n".join(body)))


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
        if section.text == normalise(cell.text) and not accepted:
            continue
        edits.append(NarrativeEdit(
            key=section.key, kpi_id=cell.kpi_id, text=section.text, revision=section.revision,
            source=f"markdown {path.name}", where=f"{path}, line {section.line}",
            conflict_hint="export again and redo the edit", basis=dict(cell.values),
        ))
    return edits
