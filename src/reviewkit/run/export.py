"""Export: the executed notebook to self-contained HTML (nbconvert), then to PDF (WeasyPrint)."""

from __future__ import annotations

import base64
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
    """Escape text for a CSS string literal inside a <style> element (running headers come from
    user-supplied names): quotes and backslashes cannot end the string, and ``<`` and ``>``
    become CSS escapes so ``</style>`` cannot end the element."""
    value = str(text)
    return (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")
        .replace("<", "\\3c ").replace(">", "\\3e ")
    )


#: Images the narrative may show, from the params file's assets folder, and their size limit.
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024


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
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def narrative_html(text: str, assets: Path | None = None) -> str:
    """Analysts' Markdown as HTML with any raw HTML neutralised; images only from ``assets``."""
    return str(_safe_markdown(assets)(text))


def without_notebook_style(html: str) -> str:
    """A section output without the styles it carries for Jupyter: the page has them once."""
    return html.replace(notebook_style(), "")


def to_html(notebook: NotebookNode, *, assets: Path | None = None) -> str:
    """The pack as one HTML page: outputs and narrative only, styles inline, no code."""
    from nbconvert import HTMLExporter  # deferred: preload() imports it while the kernel runs

    try:
        exporter = HTMLExporter(  # type: ignore[no-untyped-call]
            template_name="reviewkit",
            extra_template_basedirs=[str(_TEMPLATES / "nbconvert")],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            filters={"css_string": css_string,
                     "narrative_html": functools.partial(narrative_html, assets=assets),
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


def _render(html: str, base_url: Path, fetcher: Any,
            attachments: Sequence[Attachment]) -> tuple[Any, dict[str, Any]]:
    """The laid-out document and the options to write it with (as ``HTML.write_pdf`` would)."""
    import weasyprint  # deferred: preload() imports it while the kernel runs

    fonts = weasyprint.text.fonts.FontConfiguration()
    profiles: dict[str, object] = {}
    options = {
        **weasyprint.DEFAULT_OPTIONS,
        "stylesheets": [weasyprint.CSS(string=_font_css(), font_config=fonts),
                        weasyprint.CSS(string=structure_css()),
                        weasyprint.CSS(string=_output_intent_css(), color_profiles=profiles)],
        "pdf_variant": PDF_VARIANT,
        "output_intent": OUTPUT_INTENT,
        "pdf_tags": True,
        "attachments": [
            # From bytes, not paths: nothing outside the pack's HTML is fetched.
            weasyprint.Attachment(string=item.content, name=item.name,
                                  description=item.description or None,
                                  relationship=item.relationship)
            for item in attachments
        ],
    }
    document = weasyprint.HTML(
        string=html, base_url=str(base_url), url_fetcher=fetcher, media_type="print",
    ).render(font_config=fonts, color_profiles=profiles, **options)
    return document, options


def layout(html: str, *, base_url: Path) -> Any:
    """The pack's pages as WeasyPrint lays them out for the PDF (a ``weasyprint.Document``),
    for checks that read the layout box by box."""
    document, _ = _render(html, base_url, _own_files_fetcher(), ())
    return document


def to_pdf(html: str, target: Path, *, base_url: Path,
           attachments: Sequence[Attachment] = ()) -> None:
    """Render the pack HTML to a tagged PDF/A-3 with its print stylesheet and outline, the
    ``attachments`` embedded; nothing is fetched remotely."""
    import weasyprint  # deferred: preload() imports it while the kernel runs

    fetcher = _own_files_fetcher()
    try:
        document, options = _render(html, base_url, fetcher, attachments)
        document.write_pdf(target, **options)
    except weasyprint.urls.FatalURLFetchingError as exc:  # a BaseException, not an Exception
        target.unlink(missing_ok=True)
        refused = getattr(fetcher, "refused", None)
        if refused:
            raise ExportError(f"the pack refers to {refused}, which is not one of reviewkit's "
                              "own files; narrative images must come from the params file's "
                              "assets folder") from None
        raise ExportError(f"PDF rendering failed: {exc}") from None
    except Exception as exc:  # WeasyPrint raises many types
        target.unlink(missing_ok=True)
        raise ExportError(f"PDF rendering failed: {type(exc).__name__}: {exc}") from exc


def allowed_roots() -> tuple[Path, ...]:
    """The folders whose files a pack may embed: reviewkit's templates and the bundled fonts."""
    import matplotlib  # deferred for start-up time, as in the chart module

    return (Path(str(_TEMPLATES)).resolve(),
            (Path(matplotlib.get_data_path()) / "fonts").resolve())


def _own_files_fetcher() -> Any:
    """A URL fetcher for data: URLs and reviewkit's own files only: no network at run time,
    and no file of the machine (``/etc/…``, ``../..``) can be embedded in a pack."""
    import weasyprint.urls  # deferred: preload() imports it while the kernel runs

    roots = allowed_roots()

    class OwnFiles(weasyprint.urls.URLFetcher):  # type: ignore[misc]
        refused: str | None = None

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file:"):
                path = Path(weasyprint.urls.request.url2pathname(
                    url.split("?")[0].removeprefix("file:")))
                try:
                    path = path.resolve()
                except (OSError, RuntimeError):
                    path = Path("/")
                if not any(path.is_relative_to(root) for root in roots):
                    self.refused = url
                    raise weasyprint.urls.FatalURLFetchingError(f"refused {url}")
            return super().fetch(url, headers)

    return OwnFiles(allowed_protocols={"file", "data"}, fail_on_errors=True)
