"""The pack as a tagged PDF/A-3 (``pack.pdf``), printed from its HTML page by WeasyPrint with
the print stylesheet and outline, carrying the pack's data files and manifest."""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewkit import _speedups
from reviewkit.errors import ExportError
from reviewkit.layout.document import PackDocument
from reviewkit.layout.styles import structure_css
from reviewkit.outputs.base import ManifestOf, Staging
from reviewkit.outputs.data import json_bytes
from reviewkit.outputs.files import HTML_FILE, MANIFEST_FILE, PDF_FILE

if TYPE_CHECKING:
    from nbformat import NotebookNode

_TEMPLATES = resources.files("reviewkit.layout") / "templates"

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


@contextlib.contextmanager
def _font_configuration() -> Iterator[Any]:
    """WeasyPrint's font configuration for one document, its folder removed afterwards.

    It copies the bundled fonts into a temporary folder of its own (about 3 MB) and removes
    the folder only when it is garbage-collected, which in a build (the collector frozen at
    exit, :mod:`reviewkit._speedups`) never came: every pack left one behind.
    """
    import weasyprint  # deferred: preload() imports it while the kernel runs

    fonts = weasyprint.text.fonts.FontConfiguration()
    try:
        yield fonts
    finally:
        folder = getattr(fonts, "_folder", None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
            fonts._folder = None


def _render(html: str, base_url: Path, fetcher: Any, attachments: Sequence[Attachment],
            fonts: Any) -> tuple[Any, dict[str, Any]]:
    """The laid-out document and the options to write it with (as ``HTML.write_pdf`` would)."""
    import weasyprint  # deferred: preload() imports it while the kernel runs

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
    with _font_configuration() as fonts:
        document, _ = _render(html, base_url, _own_files_fetcher(), (), fonts)
    return document


class _MissingGlyphs(logging.Handler):
    """The characters WeasyPrint drew as an empty box (a ``.notdef`` glyph): no font on the
    machine has them. WeasyPrint only logs each one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.found: dict[str, None] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if ".notdef" in str(record.msg) and record.args and isinstance(record.args, tuple):
            self.found.setdefault(str(record.args[0]), None)


def to_pdf(html: str, target: Path, *, base_url: Path,
           attachments: Sequence[Attachment] = ()) -> tuple[str, ...]:
    """Render the pack HTML to a tagged PDF/A-3 with its print stylesheet and outline, the
    ``attachments`` embedded; nothing is fetched remotely. Returns the characters no font had
    (each once, in the order met), which the PDF shows as empty boxes."""
    import weasyprint  # deferred: preload() imports it while the kernel runs

    _speedups.pass_png_through()
    fetcher = _own_files_fetcher()
    missing = _MissingGlyphs()
    weasyprint_log = logging.getLogger("weasyprint")
    weasyprint_log.addHandler(missing)
    try:
        with _font_configuration() as fonts:
            document, options = _render(html, base_url, fetcher, attachments, fonts)
            document.write_pdf(target, **options)
        return tuple(missing.found)
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
    finally:
        weasyprint_log.removeHandler(missing)


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


#: What the copy of the manifest embedded in the PDF says about the PDF's own hash.
MANIFEST_ATTACHED = ("The manifest as it stood before pack.pdf was rendered: manifest.json beside "
                     "the PDF adds the PDF's own SHA-256 and the last stages' timings.")


class PdfOutput:
    """``pack.pdf``: the pack as leaders read it, with the data files of the outputs that are
    ``attached`` and the manifest as it stands embedded."""

    name: str = "PDF"
    files: tuple[str, ...] = (PDF_FILE,)
    attached: bool = False
    link: str = "PDF"

    def __init__(self, carried: Sequence[str], manifest: ManifestOf) -> None:
        self.carried = tuple(carried)
        self.manifest = manifest

    def write(self, document: PackDocument, executed: NotebookNode, staging: Staging) -> None:
        # A file cannot hold its own hash: the manifest attached is the one before the PDF.
        manifest = self.manifest(document, staging)
        attachments = [Attachment(name, staging.files[name]) for name in self.carried
                       if name in staging.files]
        attachments.append(Attachment(MANIFEST_FILE, json_bytes(manifest), "Supplement",
                                      MANIFEST_ATTACHED))
        html = staging.files[HTML_FILE].decode("utf-8")
        missing = to_pdf(html, staging.folder / PDF_FILE,
                         base_url=staging.facts.notebook.parent, attachments=attachments)
        staging.adopt(PDF_FILE)
        if missing:
            shown = ", ".join(f"{char!r} (U+{ord(char):04X})" for char in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            staging.warnings.append(
                f"the PDF shows an empty box for {shown}{more}: no font on this machine has "
                "it; the HTML page shows it, or choose other words")

