"""Start-up speed-ups for the command line, each with the reason it is safe.

jsonschema imports ``rfc3987_syntax`` when it is installed (Jupyter's event schemas pull it
in), and that package compiles a grammar at import: about two seconds on every command that
touches nbformat. nbformat's notebook schema uses no ``iri`` formats, so the build blocks the
import and jsonschema skips those format checkers. Set ``REVIEWKIT_NO_SPEEDUPS=1`` to disable.
"""

from __future__ import annotations

import os
import sys


def apply() -> None:
    if os.environ.get("REVIEWKIT_NO_SPEEDUPS"):
        return
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
