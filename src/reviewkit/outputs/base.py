"""What every output of a pack is: a name, the files it writes into the pack's folder, and a
``write`` that makes them from the pack's document and its executed notebook.

A build writes each output in turn into the pack's staging folder (:class:`Staging`), which
keeps what is written in memory too, so a later output (the PDF carries the data files, the
manifest hashes every file) never reads a file back. The folder is then published whole
(:mod:`reviewkit.run.publish`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reviewkit.layout.document import PackDocument

if TYPE_CHECKING:
    from nbformat import NotebookNode


@dataclass(frozen=True)
class BuildFacts:
    """What the outputs need to know of the build besides the document: the notebook it ran,
    the params file's folder of narrative images, the pack's fingerprint, and (as the build
    goes) the stages' timings and the audit's findings."""

    notebook: Path
    assets: Path | None = None
    fingerprint: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    audit: list[dict[str, str]] = field(default_factory=list)


class Staging:
    """The pack's staging folder and the files written into it so far (name → bytes)."""

    def __init__(self, folder: Path, facts: BuildFacts) -> None:
        self.folder = folder
        self.facts = facts
        self.files: dict[str, bytes] = {}
        #: What the person building should know of the files written (one line each).
        self.warnings: list[str] = []

    def put(self, name: str, content: bytes) -> Path:
        """Write one file of the pack (whole: the folder is private until it is published)."""
        path = self.folder / name
        path.write_bytes(content)
        self.files[name] = content
        return path

    def adopt(self, name: str) -> bytes:
        """A file a library wrote into the folder itself (WeasyPrint, papermill): read once."""
        content = (self.folder / name).read_bytes()
        self.files[name] = content
        return content

    def hashes(self, *, leave_out: tuple[str, ...] = ()) -> dict[str, str]:
        """SHA-256 of every file written so far, by name."""
        return {name: hashlib.sha256(content).hexdigest()
                for name, content in self.files.items() if name not in leave_out}


class Output(Protocol):
    """One kind of file of a pack (HTML, PDF, data files, workbook, notebook, manifest)."""

    #: Its name in progress lines, timings and the library page ("PDF", "workbook").
    name: str
    #: The files it writes into the pack's folder.
    files: tuple[str, ...]
    #: Whether the PDF carries its files as attachments.
    attached: bool
    #: How the library page links to it ('' for no link).
    link: str

    def write(self, document: PackDocument, executed: NotebookNode,
              staging: Staging) -> None: ...


#: A manifest as it stands: the pack's provenance with the hash of each file written so far.
ManifestOf = Callable[[PackDocument, Staging], dict[str, Any]]


def files_of(outputs: tuple[Output, ...]) -> tuple[str, ...]:
    """Every file a pack of these outputs has (a pack is whole when it holds them all)."""
    return tuple(name for output in outputs for name in output.files)


def links_of(outputs: tuple[Output, ...]) -> Mapping[str, str]:
    """The library page's links: label → the output's first file."""
    return {output.link: output.files[0] for output in outputs if output.link}
