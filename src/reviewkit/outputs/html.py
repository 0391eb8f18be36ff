"""The pack as one self-contained HTML page (``pack.html``), through nbconvert.

The page's chrome (its title, running header, draft mark, version note, paper size) comes from
the pack's document, and so does each narrative cell's text and labels; the executed notebook
gives the section outputs (each already placed by the document's section plan: its anchor,
its page break, its entry in the PDF's outline) and any cell a custom notebook adds.
"""

from __future__ import annotations

import base64
import functools
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewkit.errors import ExportError
from reviewkit.formatting import text_for_page
from reviewkit.layout.document import PackDocument
from reviewkit.layout.styles import pack_css
from reviewkit.narrative.placeholders import fill_rendered
from reviewkit.outputs.base import Staging
from reviewkit.outputs.files import HTML_FILE

if TYPE_CHECKING:
    from nbformat import NotebookNode

_TEMPLATES = resources.files("reviewkit.layout") / "templates"


def css_string(text: object) -> str:
    """Escape text for a CSS string literal inside a <style> element (running headers come from
    user-supplied names): quotes and backslashes cannot end the string, and ``<`` and ``>``
    become CSS escapes so ``</style>`` cannot end the element."""
    value = str(text)
    return (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")
        .replace("<", "\\3c ").replace(">", "\\3e ")
    )


#: One HTML comment.
_COMMENT = re.compile(r"<!--(?:(?!-->).)*-->", re.DOTALL)


def without_comments(text: str) -> str:
    """An analyst's Markdown without its HTML comments, which the page leaves out."""
    return _COMMENT.sub("", text)

#: Images the narrative may show, from the params file's assets folder, and their size limit.
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024
#: How each image type's bytes begin: a file named as an image but holding anything else (a
#: text file renamed, an SVG with a script) is not shown.
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"), "image/webp": (b"RIFF",)}


def _is_image(kind: str, content: bytes) -> bool:
    if kind == "image/webp" and content[8:12] != b"WEBP":
        return False
    return content.startswith(_SIGNATURES[kind])


@functools.cache
def _safe_markdown(assets: Path | None) -> Any:
    import mistune  # deferred: only the HTML export renders Markdown

    class Renderer(mistune.HTMLRenderer):
        """escape=True turns raw HTML (and so <script>) into text, and mistune refuses
        javascript:/vbscript:/data: links; images are inlined from the assets folder only,
        so no other file can reach the pack."""

        def image(self, text: str, url: str, title: str | None = None) -> str:
            source = _asset_data_url(assets, url)
            if source is None:
                return (f'<span class="rk-image-refused">[image not shown: '
                        f"{mistune.escape(text or url)}]</span>")
            return f'<img src="{source}" alt="{mistune.escape(text)}">'

        # An HTML comment is the analyst's note to self: Jupyter hides it, and so does the
        # page (any other raw HTML is shown as text).
        def inline_html(self, html: str) -> str:
            return "" if _COMMENT.fullmatch(html) else str(super().inline_html(html))

        def block_html(self, html: str) -> str:
            rest = without_comments(html).strip()  # "<!-- a --> shown": "shown" is text
            return str(super().block_html(rest)) if rest else ""

    return mistune.create_markdown(renderer=Renderer(escape=True),
                                   plugins=["table", "strikethrough"])


def _asset_data_url(assets: Path | None, url: str) -> str | None:
    """A narrative image as a data URL, if it is a file of the assets folder; else None."""
    if assets is None or not url or "://" in url or url.startswith(("/", "\\", "data:")):
        return None
    try:
        path = (assets / url).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    if not path.is_relative_to(assets.resolve()) or not path.is_file():
        return None
    kind = IMAGE_TYPES.get(path.suffix.lower())
    if kind is None or path.stat().st_size > MAX_IMAGE_BYTES:
        return None
    content = path.read_bytes()
    if not _is_image(kind, content):
        return None
    return f"data:{kind};base64," + base64.b64encode(content).decode("ascii")


def narrative_html(text: str, assets: Path | None = None) -> str:
    """Analysts' Markdown as HTML with any raw HTML neutralised; images only from ``assets``."""
    return str(_safe_markdown(assets)(text))


def to_html(document: PackDocument, notebook: NotebookNode, *,
            assets: Path | None = None) -> str:
    """The pack as one HTML page: outputs and narrative only, styles inline, no code."""
    from nbconvert import HTMLExporter  # deferred: preload() imports it while the kernel runs

    evaluated = document.view.evaluated

    def narrative(text: str) -> str:
        # Placeholders are filled here, for the page only: pack.ipynb keeps them as written.
        return fill_rendered(text, evaluated, functools.partial(narrative_html, assets=assets))

    try:
        exporter = HTMLExporter(  # type: ignore[no-untyped-call]
            template_name="reviewkit",
            extra_template_basedirs=[str(_TEMPLATES / "nbconvert")],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            # Text from users as the pack's own templates print it (formatting.isolated).
            filters={"css_string": css_string, "narrative_html": narrative,
                     "isolated": text_for_page},
        )
        body, _ = exporter.from_notebook_node(
            notebook, resources={"reviewkit_css": pack_css(), "pack": document})
    except Exception as exc:  # nbconvert and Jinja raise many types
        raise ExportError(f"HTML export failed: {type(exc).__name__}: {exc}") from exc
    return str(body)


#: The CSS selectors nbconvert's HTML export looks for in every page it makes (its accessibility
#: pass, ``HTMLExporter.from_notebook_node``).
_EXPORT_SELECTORS = ("img:not([alt])", ".jp-Notebook div.jp-Cell-inputWrapper",
                     ".jp-Notebook div.jp-OutputArea-output")


@functools.cache
def warm_up() -> None:
    """Compile ahead of need what the export compiles on first use in a process, after the
    notebook has run: soupsieve's selector grammar (about 0.09 s) and nbformat's notebook
    validators, the one nbconvert checks the notebook with and the one ``pack.ipynb`` is
    written with (0.03 s each). Once per process: a build preloads twice (beside the charts,
    then beside the kernel), and a forked worker inherits the server's."""
    import nbformat  # deferred: imported with nbconvert, ahead of need (preload)
    import soupsieve

    for selector in _EXPORT_SELECTORS:
        soupsieve.compile(selector)
    for relaxed in (True, False):
        nbformat.validate(nbformat.v4.new_notebook(),  # type: ignore[no-untyped-call]
                          relax_add_props=relaxed)


class HtmlOutput:
    """``pack.html``: the pack to read in a browser, and the page the PDF is printed from."""

    name: str = "HTML page"
    files: tuple[str, ...] = (HTML_FILE,)
    attached: bool = False
    link: str = "web page"

    def write(self, document: PackDocument, executed: NotebookNode, staging: Staging) -> None:
        page = to_html(document, executed, assets=staging.facts.assets)
        staging.put(HTML_FILE, page.encode("utf-8"))
