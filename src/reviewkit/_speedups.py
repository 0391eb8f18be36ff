"""Start-up and run-time speed-ups for the command line, each with the reason it is safe. The
build's other processes take them too: the batch's fork server (run/_preload.py) and every pack's
kernel (its warm-up, run/build.py).

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

Set ``REVIEWKIT_NO_SPEEDUPS=1`` to disable all of them.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

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
