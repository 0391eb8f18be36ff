"""The pack notebooks, written from the cadence definitions so every cadence shares one layout.

``tools/make_notebooks.py`` writes the built-in ones into ``notebooks/``; a test checks the
committed files are what this module writes. A notebook is thin: a parameters cell, one cell
that opens the pack, then one ``pack.section(...)`` call per section, each followed by its
commentary cell when the section has one.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from reviewkit.cadences import Cadence, Narrative, Section

#: What an empty commentary cell says until a build fills it.
NARRATIVE_PLACEHOLDER = "*No commentary yet.*"
#: The cell metadata key reviewkit owns.
METADATA_KEY = "reviewkit"


def section_cell(section: Section) -> NotebookNode:
    """A section's cell: one call, and the section's id (everything else about the section,
    its heading, page break and place in the contents, is the cadence's)."""
    cell: NotebookNode = new_code_cell(f'pack.section("{section.id}")')  # type: ignore[no-untyped-call]
    cell.metadata[METADATA_KEY] = {"section": {"id": section.id}}
    return cell


def narrative_cell(narrative: Narrative) -> NotebookNode:
    cell: NotebookNode = new_markdown_cell(NARRATIVE_PLACEHOLDER)  # type: ignore[no-untyped-call]
    cell.metadata["tags"] = ["narrative"]
    cell.metadata[METADATA_KEY] = {"key": narrative.key, "prompt": narrative.prompt}
    return cell


def make_notebook(cadence: Cadence, params_file: str | None = None) -> NotebookNode:
    """The notebook of a cadence; ``params_file`` is the default the parameters cell names
    (the demo's ``../params/<cadence>.yaml`` unless given)."""
    intro = new_markdown_cell(  # type: ignore[no-untyped-call]
        f"# {cadence.title}\n\n"
        "This notebook lays out the pack. `reviewkit build` runs it with papermill and turns it "
        "into PDF and HTML; run it here to preview.\n\n"
        "* Write your commentary in the cells marked **Commentary** (tagged `narrative`).\n"
        "* Each code cell calls one `reviewkit` helper; the numbers come from the data, "
        "not from this notebook."
    )
    intro.metadata["tags"] = ["remove-cell"]
    default = params_file or f"../params/{cadence.name}.yaml"
    params = new_code_cell(  # type: ignore[no-untyped-call]
        "# Parameters: `reviewkit build` passes these; the defaults build the demo pack.\n"
        f'cadence = "{cadence.name}"\n'
        f"params_file = {default!r}  # relative to this notebook's folder\n"
        "period_end = None  # any date in the period; None: the latest in the data\n"
        "unit = None  # a unit's id for its pack; None: the group's (or the only) pack"
    )
    params.metadata["tags"] = ["parameters"]
    setup = new_code_cell(  # type: ignore[no-untyped-call]
        "from reviewkit.run.notebook import open_pack\n\n"
        "pack = open_pack(cadence, params_file, period_end, unit)"
    )
    cells = [intro, params, setup]
    for section in cadence.sections:
        cells.append(section_cell(section))
        if section.narrative is not None:
            cells.append(narrative_cell(section.narrative))
    for index, cell in enumerate(cells):
        cell.id = f"{cadence.name}-{index:02d}"  # stable ids keep the committed notebooks diff-free
    notebook: NotebookNode = new_notebook(cells=cells)  # type: ignore[no-untyped-call]
    notebook.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python"
    }
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook
