"""The notebook's copy of the pack's styles: scoped to the section outputs, never JupyterLab's
own page; added only where Jupyter shows a section, never to the page."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from reviewkit.layout.sections import SECTION_METADATA, Fragment
from reviewkit.layout.styles import notebook_style, pack_css, scoped_css
from reviewkit.outputs.notebook import for_jupyter

CSS = """
/* a comment { with braces } */
:root { --ink: #111; }
html { font-family: serif; }
body { margin: 0; }
h2, .rk-table th { color: var(--ink); }
@media screen { body { background: grey; } .rk-main { margin: 4px; } }
@media print { .rk-main { padding: 0; } }
@page { size: A4; @top-left { content: "x"; } }
"""


def test_scoped_css_puts_every_rule_under_the_scope() -> None:
    scoped = scoped_css(CSS, ".rk-nb")
    assert ".rk-nb { --ink: #111; }" in scoped
    assert ".rk-nb { font-family: serif; }" in scoped
    assert ".rk-nb { margin: 0; }" in scoped
    assert ".rk-nb h2, .rk-nb .rk-table th { color: var(--ink); }" in scoped
    assert "@media screen {\n.rk-nb { background: grey; }\n.rk-nb .rk-main { margin: 4px; }" in (
        scoped)


def test_scoped_css_leaves_out_print_rules_and_comments() -> None:
    scoped = scoped_css(CSS, ".rk-nb")
    assert "@page" not in scoped and "print" not in scoped and "padding: 0" not in scoped
    assert "comment" not in scoped


def test_every_rule_of_the_pack_stylesheet_is_scoped_in_the_notebook() -> None:
    scoped = scoped_css(pack_css(), ".rk-nb")
    selectors = [line.split("{")[0] for line in scoped.splitlines()
                 if "{" in line and not line.startswith("@")]
    assert len(selectors) > 100
    assert all(part.strip().startswith(".rk-nb") for line in selectors
               for part in line.split(","))


def test_a_section_shown_by_hand_carries_its_styles_and_one_run_by_a_build_does_not() -> None:
    by_hand = Fragment("summary", "<section><h2>Summary</h2></section>")
    data, metadata = by_hand._repr_mimebundle_()
    assert data["text/html"].startswith('<div class="rk-nb"><style>')
    assert data["text/html"].count(notebook_style()) == 1
    assert metadata == {SECTION_METADATA: {"section": "summary"}}
    built = Fragment("summary", "<section><h2>Summary</h2></section>", styled=False)
    assert built._repr_mimebundle_()[0] == {"text/html": "<section><h2>Summary</h2></section>"}


def test_the_pack_notebook_styles_each_section_output_and_leaves_the_executed_one_alone() -> None:
    section = new_code_cell('pack.section("summary")')
    section.outputs = [new_output("display_data", data={"text/html": "<section>S</section>"},
                                  metadata={SECTION_METADATA: {"section": "summary"}})]
    other = new_code_cell("display(HTML('<p>mine</p>'))")
    other.outputs = [new_output("display_data", data={"text/html": "<p>mine</p>"})]
    executed: nbformat.NotebookNode = new_notebook(cells=[section, other])
    shown = for_jupyter(executed, "weekly_operational.ipynb")
    assert shown.cells[0].outputs[0].data["text/html"] == (
        f'<div class="rk-nb">{notebook_style()}<section>S</section></div>')
    assert shown.cells[1].outputs[0].data["text/html"] == "<p>mine</p>"
    assert executed.cells[0].outputs[0].data["text/html"] == "<section>S</section>"
