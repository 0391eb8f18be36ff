"""Write the built-in pack notebooks from the cadence definitions (reviewkit.cadences).

Run after changing a cadence: ``python tools/make_notebooks.py`` (``make notebooks``). The
notebooks are committed; tests/test_architecture.py checks they are what this writes.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from reviewkit import cadences
from reviewkit.layout.notebooks import make_notebook

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    for name in cadences.BUILT_IN:
        cadence = cadences.get(name)
        notebook = make_notebook(cadence)
        nbformat.validate(notebook)
        path = ROOT / "notebooks" / cadence.notebook
        nbformat.write(notebook, path)
        print(path)


if __name__ == "__main__":
    main()
