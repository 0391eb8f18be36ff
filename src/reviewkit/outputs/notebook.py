"""The analyst's notebook, ``pack.ipynb``: the executed notebook as Jupyter will show it.

Run by a build, the sections' outputs are the sections alone; here, where Jupyter shows them,
each gets the pack's styles scoped to it, so the notebook looks like the pack. papermill's
record names the built-in notebook and the pack's own copy, not the build's folders, and the
notebook is signed as trusted for the user who built it.
"""

from __future__ import annotations

import contextlib
import copy

import nbformat
from nbformat import NotebookNode
from nbformat.sign import NotebookNotary

from reviewkit.layout.document import PackDocument
from reviewkit.layout.sections import SECTION_METADATA, in_notebook_style
from reviewkit.outputs.base import Staging
from reviewkit.outputs.files import NOTEBOOK_FILE


def for_jupyter(executed: NotebookNode, source: str) -> NotebookNode:
    """A copy of the executed notebook as the analyst opens it: each section output styled,
    and papermill's paths named as the pack sees them (the notebook's file name, and itself),
    so it carries no path of the machine that built it."""
    notebook: NotebookNode = copy.deepcopy(executed)
    for cell in notebook.cells:
        for output in cell.get("outputs", ()):
            if (output.get("output_type") in ("display_data", "execute_result")
                    and SECTION_METADATA in output.get("metadata", {})
                    and "text/html" in output.get("data", {})):
                output.data["text/html"] = in_notebook_style(output.data["text/html"])
    record = notebook.metadata.get("papermill")
    if record is not None:
        record["input_path"] = source
        record["output_path"] = NOTEBOOK_FILE
    return notebook


class NotebookOutput:
    """``pack.ipynb``: where the analyst writes the narrative; the next build reads it back.

    It is signed as trusted for the user who built it, as Jupyter signs a notebook that user
    ran: JupyterLab otherwise strips the sections' styles and charts from outputs it did not
    see made (they are ours, with every user text escaped)."""

    name: str = "notebook"
    files: tuple[str, ...] = (NOTEBOOK_FILE,)
    attached: bool = False
    link: str = ""

    def write(self, document: PackDocument, executed: NotebookNode, staging: Staging) -> None:
        notebook = for_jupyter(executed, staging.facts.notebook.name)
        text = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
        staging.put(NOTEBOOK_FILE, (text if text.endswith("\n") else text + "\n").encode())
        # A notebook left untrusted (e.g. the signature database is locked) still opens,
        # unstyled.
        with contextlib.suppress(Exception):
            NotebookNotary().sign(notebook)  # type: ignore[no-untyped-call]

