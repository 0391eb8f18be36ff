"""The pack's stylesheets: ``pack.css`` for the HTML page and the PDF, ``structure.css`` for the
PDF's navigation, and a copy of ``pack.css`` scoped to the notebook's outputs.

In Jupyter the section outputs sit inside JupyterLab's own page, so their styles must not reach
it: the notebook copy applies only inside ``.rk-nb`` (the page-wide ``:root``, ``html`` and
``body`` rules become rules of that element, print rules are left out). Each section output
carries it (:data:`notebook_style`), so a section looks like the pack even when JupyterLab shows
it alone; the HTML export takes it out again, the page has ``pack.css`` once.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

_TEMPLATES = resources.files("reviewkit.layout") / "templates"

#: The class of the element that wraps each section output in the notebook.
NOTEBOOK_SCOPE = "rk-nb"

_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_PAGE_WIDE = re.compile(r"^(?::root|html|body)(?![\w-])")


@functools.cache
def pack_css() -> str:
    return (_TEMPLATES / "pack.css").read_text(encoding="utf-8")


@functools.cache
def structure_css() -> str:
    return (_TEMPLATES / "structure.css").read_text(encoding="utf-8")


def _blocks(css: str) -> list[tuple[str, str]]:
    """Top-level ``(prelude, body)`` pairs of a stylesheet without comments."""
    blocks: list[tuple[str, str]] = []
    position = 0
    while True:
        opening = css.find("{", position)
        if opening < 0:
            return blocks
        depth, cursor = 1, opening + 1
        while depth and cursor < len(css):
            depth += {"{": 1, "}": -1}.get(css[cursor], 0)
            cursor += 1
        blocks.append((css[position:opening].strip(), css[opening + 1:cursor - 1]))
        position = cursor


def _scope_selector(selector: str, scope: str) -> str:
    selector = selector.strip()
    if _PAGE_WIDE.match(selector):
        return _PAGE_WIDE.sub(scope, selector)
    return f"{scope} {selector}"


def scoped_css(css: str, scope: str) -> str:
    """``css`` applied only inside the element matching ``scope``: each selector is put under
    it, page-wide rules (``:root``, ``html``, ``body``) become the scope's own, screen media
    rules are kept and scoped, and print-only rules (``@page``, ``@media print``) are dropped."""
    rules = []
    for prelude, body in _blocks(_COMMENT.sub("", css)):
        if prelude.startswith("@media") and "print" not in prelude:
            rules.append(f"{prelude} {{\n{scoped_css(body, scope)}\n}}")
        elif prelude.startswith("@"):
            continue  # @page, @media print, @font-face: for the PDF only
        else:
            selectors = ", ".join(_scope_selector(part, scope) for part in prelude.split(","))
            rules.append(f"{selectors} {{{body}}}")
    return "\n".join(rules)


@functools.cache
def notebook_style() -> str:
    """The ``<style>`` element each section output carries in the notebook (one exact string,
    so the HTML export can take it out again)."""
    own = (_TEMPLATES / "notebook.css").read_text(encoding="utf-8")
    return f"<style>{scoped_css(pack_css(), '.' + NOTEBOOK_SCOPE)}\n{own}</style>"
