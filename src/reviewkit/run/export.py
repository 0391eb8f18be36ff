"""Export: the executed notebook to self-contained HTML (nbconvert), then to PDF (WeasyPrint)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewkit.errors import ExportError
from reviewkit.layout.styles import notebook_style, pack_css, structure_css

if TYPE_CHECKING:
    from nbformat import NotebookNode

_TEMPLATES = resources.files("reviewkit.layout") / "templates"


def preload() -> None:
    """Import the exporters ahead of use (from a thread, while the kernel runs the notebook)."""
    # Deferred by design: this is the function that imports them early, on a thread.
    import nbconvert  # noqa: F401
    import weasyprint  # noqa: F401


def css_string(text: object) -> str:
    """Escape text for a CSS string literal (running headers come from user-supplied names)."""
    value = str(text)
    return (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")
    )


@functools.cache
def _safe_markdown() -> Any:
    import mistune  # deferred: only the HTML export renders Markdown

    # escape=True turns raw HTML (and so <script>) into text; mistune also refuses
    # javascript:/vbscript:/data: links. Lists, emphasis, links and tables still render.
    return mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


def narrative_html(text: str) -> str:
    """Analysts' Markdown as HTML with any raw HTML neutralised."""
    return str(_safe_markdown()(text))


def without_notebook_style(html: str) -> str:
    """A section output without the styles it carries for Jupyter: the page has them once."""
    return html.replace(notebook_style(), "")


def to_html(notebook: NotebookNode) -> str:
    """The pack as one HTML page: outputs and narrative only, styles inline, no code."""
    from nbconvert import HTMLExporter  # deferred: preload() imports it while the kernel runs

    try:
        exporter = HTMLExporter(  # type: ignore[no-untyped-call]
            template_name="reviewkit",
            extra_template_basedirs=[str(_TEMPLATES / "nbconvert")],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            filters={"css_string": css_string, "narrative_html": narrative_html,
                     "without_notebook_style": without_notebook_style},
        )
        body, _ = exporter.from_notebook_node(notebook, resources={"reviewkit_css": pack_css()})
    except Exception as exc:  # nbconvert and Jinja raise many types
        raise ExportError(f"HTML export failed: {type(exc).__name__}: {exc}") from exc
    return str(body)


@functools.cache
def _font_css() -> str:
    """Bundled fonts for the PDF, so every machine prints the same glyphs without a network.

    matplotlib ships DejaVu Sans (it needs it for charts), so we reuse those files.
    """
    import matplotlib  # deferred for start-up time, as in the chart module

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    faces = [
        ("DejaVu Sans", "DejaVuSans.ttf", "normal", "normal"),
        ("DejaVu Sans", "DejaVuSans-Bold.ttf", "bold", "normal"),
        ("DejaVu Sans", "DejaVuSans-Oblique.ttf", "normal", "italic"),
        ("DejaVu Sans", "DejaVuSans-BoldOblique.ttf", "bold", "italic"),
        ("DejaVu Sans Mono", "DejaVuSansMono.ttf", "normal", "normal"),
    ]
    rules = []
    for family, filename, weight, style in faces:
        path = fonts / filename
        if path.is_file():
            rules.append(
                f'@font-face {{ font-family: "{family}"; src: url("{path.as_uri()}"); '
                f"font-weight: {weight}; font-style: {style}; }}"
            )
    return "\n".join(rules)


#: The PDF's variant: PDF/A-3 (archival, and it may carry the pack's data as embedded files),
#: level b (the pages look the same everywhere). Tags come on top (``pdf_tags``): WeasyPrint
#: combines them with PDF/A-3b, and PDF/UA-1 would not allow the attachments' archival promise.
PDF_VARIANT = "pdf/a-3b"


#: The colour profile PDF/A declares the pages are meant for (sRGB), by its name in
#: :func:`_output_intent_css`.
OUTPUT_INTENT = "--rk-srgb"


@functools.cache
def _output_intent_css() -> str:
    """sRGB, the profile WeasyPrint ships, declared in CSS: WeasyPrint's own ``srgb`` shortcut
    leaves the profile's file open (a ResourceWarning on every PDF); read through a stylesheet,
    the file is closed."""
    import weasyprint  # deferred: preload() imports it while the kernel runs

    profile = Path(weasyprint.__file__).parent / "pdf" / "sRGB2014.icc"
    return (f'@color-profile {OUTPUT_INTENT} {{ src: url("{profile.as_uri()}"); '
            'components: r g b; }')


@dataclass(frozen=True)
class Attachment:
    """A file embedded in the PDF: its name there, its bytes, and how it relates to the pack
    (PDF/A-3's AFRelationship: ``Data`` for the data shown, ``Supplement`` for the rest)."""

    name: str
    content: bytes
    relationship: str = "Data"
    description: str = ""


def to_pdf(html: str, target: Path, *, base_url: Path,
           attachments: Sequence[Attachment] = ()) -> None:
    """Render the pack HTML to a tagged PDF/A-3 with its print stylesheet and outline, the
    ``attachments`` embedded; nothing is fetched remotely."""
    import weasyprint  # deferred: preload() imports it while the kernel runs

    try:
        fonts = weasyprint.text.fonts.FontConfiguration()
        profiles: dict[str, object] = {}
        document = weasyprint.HTML(
            string=html, base_url=str(base_url), url_fetcher=_local_only_fetcher(),
            media_type="print",
        )
        document.write_pdf(
            target,
            stylesheets=[weasyprint.CSS(string=_font_css(), font_config=fonts),
                         weasyprint.CSS(string=structure_css()),
                         weasyprint.CSS(string=_output_intent_css(),
                                        color_profiles=profiles)],
            font_config=fonts,
            color_profiles=profiles,
            pdf_variant=PDF_VARIANT,
            output_intent=OUTPUT_INTENT,
            pdf_tags=True,
            attachments=[
                # From bytes, not paths: nothing outside the pack's HTML is fetched.
                weasyprint.Attachment(string=item.content, name=item.name,
                                      description=item.description or None,
                                      relationship=item.relationship)
                for item in attachments
            ],
        )
    except Exception as exc:  # WeasyPrint raises many types
        raise ExportError(f"PDF rendering failed: {type(exc).__name__}: {exc}") from exc


def _local_only_fetcher() -> object:
    """A URL fetcher that refuses anything but files and data URLs: no network at run time."""
    import weasyprint.urls  # deferred: preload() imports it while the kernel runs

    fetcher_class = getattr(weasyprint.urls, "URLFetcher", None)
    if fetcher_class is not None:  # WeasyPrint 68 and later
        return fetcher_class(allowed_protocols={"file", "data"}, fail_on_errors=True)

    def fetch(url: str, timeout: int = 10, ssl_context: object = None) -> object:
        if not url.startswith(("file:", "data:")):
            raise ExportError(f"the pack refers to a remote resource, which is not allowed: {url}")
        return weasyprint.urls.default_url_fetcher(url, timeout, ssl_context)

    return fetch
