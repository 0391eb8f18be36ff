"""The outputs of a pack, in the order a build writes them, and the files they make.

The manifest, a batch's check that a pack is whole and the library page ask these outputs which
files a pack has; none of them spells a file name of its own.
"""

from __future__ import annotations

from reviewkit.outputs.base import Output, files_of, links_of
from reviewkit.outputs.data import DataOutput, ManifestOutput
from reviewkit.outputs.html import HtmlOutput
from reviewkit.outputs.html import warm_up as warm_up_html
from reviewkit.outputs.notebook import NotebookOutput
from reviewkit.outputs.pdf import PdfOutput
from reviewkit.outputs.workbook import WorkbookOutput

_DATA = DataOutput()
#: The files the PDF carries as attachments (besides the manifest).
CARRIED: tuple[str, ...] = _DATA.files
#: The manifest, written after every other output and the audit.
MANIFEST = ManifestOutput(CARRIED)
#: Every output but the manifest, in the order a build writes them (the PDF is printed from
#: the HTML page and carries the data files).
OUTPUTS: tuple[Output, ...] = (NotebookOutput(), HtmlOutput(), _DATA, WorkbookOutput(),
                               PdfOutput(CARRIED, MANIFEST.draft))
#: Every file of a whole pack.
PACK_FILES: tuple[str, ...] = files_of((*OUTPUTS, MANIFEST))
#: The library page's links to a pack's files, the PDF first: label → file name.
LINKS = links_of(tuple(sorted(OUTPUTS, key=lambda output: output.link != "PDF")))


def file_of(name: str) -> str:
    """The (first) file of the output called ``name`` ("PDF" → "pack.pdf")."""
    for output in (*OUTPUTS, MANIFEST):
        if output.name == name:
            return output.files[0]
    raise KeyError(name)


def preload() -> None:
    """Import what the outputs use, and compile what they compile on first use, ahead of use
    (from a thread, while the kernel runs the notebook; once, in a batch's fork server)."""
    # Deferred by design: this is the function that imports them early, on a thread.
    import nbconvert  # noqa: F401
    import openpyxl  # noqa: F401
    import pypdf  # noqa: F401
    import weasyprint  # noqa: F401
    from openpyxl.cell import WriteOnlyCell  # noqa: F401

    warm_up_html()

