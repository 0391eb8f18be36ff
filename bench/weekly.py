"""Benchmark `reviewkit build weekly` against the same pack built by hand.

A thin wrapper kept for ``make bench`` and old habits: it runs ``bench/packs.py`` for the
weekly cadence only.  Any option of ``packs.py`` works here too, and a ``--cadence`` given
on the command line wins (``--cadence all`` runs every cadence).

Usage::

    .venv/bin/python bench/weekly.py [--rounds 5] [--json results.json]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from packs import main  # bench/ is not a package: import it from beside this file

if __name__ == "__main__":
    # argparse keeps the last value of a repeated option, so the caller's --cadence wins.
    sys.exit(main(["--cadence", "weekly", *sys.argv[1:]]))
