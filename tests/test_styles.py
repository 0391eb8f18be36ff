"""The notebook's copy of the pack's styles: scoped to the section outputs, never JupyterLab's
own page; and taken out again by the HTML export."""

from __future__ import annotations

from reviewkit.layout.sections import Fragment
from reviewkit.layout.styles import notebook_style, pack_css, scoped_css
from reviewkit.run.export import without_notebook_style

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


def test_a_section_output_carries_its_styles_and_the_export_takes_them_out() -> None:
    fragment = Fragment("summary", "<section><h2>Summary</h2></section>")
    shown = fragment._repr_html_()
    assert shown.startswith('<div class="rk-nb"><style>')
    assert shown.count(notebook_style()) == 1
    assert without_notebook_style(shown) == (
        '<div class="rk-nb"><section><h2>Summary</h2></section></div>')
