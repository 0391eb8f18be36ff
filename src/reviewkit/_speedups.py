"""Start-up and run-time speed-ups for the command line, each with the reason it is safe: the
commands that build, publish or serve packs apply them (cli/app.py). The build's other
processes take them too: the batch's fork server (run/_preload.py) and every pack's kernel (its
warm-up, run/build.py).

jsonschema imports ``rfc3987_syntax`` when it is installed (Jupyter's event schemas pull it
in), and that package compiles a grammar at import: about two seconds on every command that
touches nbformat. nbformat's notebook schema uses no ``iri`` formats, so the build blocks the
import and jsonschema skips those format checkers.

The garbage collector: a build allocates millions of short-lived objects (WeasyPrint's boxes,
matplotlib's artists), and with Python's default thresholds the collector walks the whole heap
again and again, the hundreds of thousands of objects the imports made included. Once the
pipeline is imported (:func:`settle`), those objects are frozen out of collection and the
collector runs less often; and at exit the collector no longer walks the whole heap once more
before the process ends (measured: 1-4 s on a busy 2-core machine, 0.1 s frozen). Reference
counting still frees almost everything as soon as it is unused; only cycles wait longer.

The section templates, compiled once, are kept in Jinja's own per-user cache folder
(:mod:`reviewkit.layout.render`), keyed by each template's source: every pack's kernel would
otherwise compile all of them again.

scipy (1.17) parses the docstring of every one of several hundred functions as statsmodels
imports it, only to append a note on array-API support to each: about 0.6 s of CPU before the
quarterly pack's first forecast, on its critical path. A build never shows a scipy docstring,
so before the forecasts import statsmodels (:func:`lighten_scipy`) those docstrings are left as
they are. Nothing else of scipy changes; where scipy no longer does this, nothing is done.

WeasyPrint (70) decodes every PNG image and compresses its pixels again to put them in the PDF,
even when the file's own compressed data (its IDAT chunks) is exactly what the PDF stores for
it: 8-bit grey or RGB, not interlaced, as the charts are. Those are passed as they are
(:func:`pass_png_through`): the pack's 24 quarterly charts took about 0.7 s of CPU to decode and
compress again, at the end of the build. Any other image still goes WeasyPrint's way.

papermill (2.7) imports every storage back-end it knows that is installed, to register its
handlers; with pyarrow installed (reviewkit reads Parquet with it) that includes
``pyarrow.fs`` for HDFS: about 0.14 s of a single build's critical path, between the charts and
the first cell. A build only ever has papermill write to a local file, so papermill is imported
without it (:func:`import_papermill`): its HDFS handler reports pyarrow missing, as where
pyarrow is not installed. ``pyarrow.fs`` is blocked only while papermill imports, and only
when nothing has imported it yet; the Parquet reader imports it as before.

Set ``REVIEWKIT_NO_SPEEDUPS=1`` to disable all of them.
"""

from __future__ import annotations

import atexit
import gc
import io
import os
import struct
import sys
from typing import Any

#: Allocations between young collections (Python's default is 700), and how many young and
#: middle collections make the next older one (default 10 and 10).
GC_THRESHOLDS = (50_000, 20, 20)


def enabled() -> bool:
    return not os.environ.get("REVIEWKIT_NO_SPEEDUPS")


def apply() -> None:
    """Before the pipeline is imported."""
    if not enabled():
        return
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    # Registered first, so it runs last: after every other exit handler, just before the
    # interpreter's final collection, which then has nothing tracked to walk.
    atexit.register(gc.freeze)


def settle() -> None:
    """Once the pipeline is imported: its objects live as long as the process."""
    if not enabled():
        return
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class _DocAsIs:
    """Stands in for scipy's docstring parser where scipy only appends a note: the note is
    dropped and the docstring kept as written (what scipy does under ``python -OO``)."""

    def __init__(self, function: object) -> None:
        self._doc = getattr(function, "__doc__", None) or ""
        self._notes: list[str] = []

    def __getitem__(self, section: str) -> list[str]:
        return self._notes

    def __str__(self) -> str:
        return "\n" + self._doc  # scipy drops the first line (the signature it would print)


def lighten_scipy() -> None:
    """Before statsmodels is imported: scipy's docstring notes left out (see above)."""
    if not enabled() or "scipy.stats" in sys.modules:
        return
    try:  # deferred: only the forecasts import scipy, and this is where they do
        from scipy._lib import _array_api  # type: ignore[import-untyped]
    except ImportError:
        return
    if isinstance(getattr(_array_api, "FunctionDoc", None), type):
        _array_api.FunctionDoc = _DocAsIs


#: PNG colour types whose IDAT data is what a PDF image with the PNG predictors holds as it is.
_GREY, _RGB = 0, 2


def png_data_as_is(png: bytes) -> bytes | None:
    """The compressed pixels (IDAT data) of an 8-bit grey or RGB PNG that is not interlaced,
    as a PDF image stream holds them (``/FlateDecode``, ``/Predictor 15``); ``None`` for any
    other PNG, or bytes that are not one."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or png[12:16] != b"IHDR" or len(png) < 33:
        return None
    depth, colour, _, _, interlace = struct.unpack("!BBBBB", png[24:29])
    if depth != 8 or colour not in (_GREY, _RGB) or interlace:
        return None
    found, position = [], 8
    while position + 8 <= len(png):
        length, kind = struct.unpack("!I4s", png[position:position + 8])
        if kind == b"IDAT":
            found.append(png[position + 8:position + 8 + length])
        elif kind == b"tRNS":
            return None  # a transparent colour: WeasyPrint makes an alpha mask of it
        position += 12 + length
    return b"".join(found) or None


def pass_png_through() -> None:
    """Before WeasyPrint writes a PDF: PNG images whose data the PDF can hold as it is are not
    decoded and compressed again (see above)."""
    if not enabled():
        return
    from weasyprint import images  # deferred: only the PDF step needs it

    original = images.RasterImage.__dict__.get("_get_png_data")
    if not isinstance(original, staticmethod) or getattr(original.__func__, "as_is", False):
        return  # not WeasyPrint's method as we know it, or already replaced

    def _get_png_data(pillow_image: Any) -> bytes:
        source = getattr(pillow_image, "fp", None)
        # Only an image opened from a PNG's bytes: one Pillow converted has no ``fp``.
        if pillow_image.format == "PNG" and isinstance(source, io.BytesIO):
            data = png_data_as_is(source.getvalue())
            if data is not None:
                return data
        return original.__func__(pillow_image)  # type: ignore[no-any-return]

    _get_png_data.as_is = True  # type: ignore[attr-defined]
    images.RasterImage._get_png_data = staticmethod(_get_png_data)


def import_papermill() -> None:
    """Import papermill (once), without its HDFS handler's pyarrow import (see above)."""
    if "papermill" in sys.modules:
        return
    blocking = enabled() and "pyarrow.fs" not in sys.modules
    if blocking:
        sys.modules["pyarrow.fs"] = None  # type: ignore[assignment]
    try:
        import papermill  # noqa: F401 - deferred: the import is the work
    finally:
        if blocking and "pyarrow.fs" in sys.modules and sys.modules["pyarrow.fs"] is None:
            del sys.modules["pyarrow.fs"]
