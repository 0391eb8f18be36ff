"""How many times one build (or one small batch) does each costly thing: a count, not a timing,
so it reads the same on a busy machine.

Counts, in the build's own process: the period resolved (``reference_day``), whole KPI
evaluations (``evaluate``), units' inputs cut (``Inputs.for_unit``), files hashed
(``sha256_of``), store history reads, and files opened for reading or writing by name
(``summary.json``, ``pack.ipynb``, the params file, ``kpis.yaml``, ``measurements.csv``).

Usage::

    .venv/bin/python bench/counts.py                 # the demo weekly pack
    .venv/bin/python bench/counts.py --batch         # a batch: one unit (north-general) + group
    .venv/bin/python bench/counts.py --batch --units all   # the 7 demo units + the group

The demo's params, data and store are copied to a temporary folder first; nothing under
``params/`` is written.
"""

from __future__ import annotations

import argparse
import builtins
import collections
import io
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2026-11-20"
WATCHED_FILES = ("summary.json", "pack.ipynb", "weekly.yaml", "kpis.yaml", "measurements.csv")


def _copy_demo(folder: Path, units: bool) -> Path:
    shutil.copytree(ROOT / "data" / "demo", folder / "data" / "demo")
    params = folder / "params"
    params.mkdir()
    if units:
        shutil.copytree(ROOT / "params" / "units", params / "units")
        source = params / "units" / "weekly.yaml"
    else:
        shutil.copy(ROOT / "params" / "weekly.yaml", params / "weekly.yaml")
        source = params / "weekly.yaml"
    store = ROOT / "params" / "reviewkit.sqlite"
    if store.exists():
        import sqlite3

        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as src, \
                sqlite3.connect(params / "reviewkit.sqlite") as dst:
            src.backup(dst)
    return source


class Counter:
    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[label] += 1
            return original(*args, **kwargs)

        setattr(owner, name, counted)

    def watch_files(self) -> None:
        real_open = builtins.open
        real_io_open = io.open

        def opened(opener: Callable[..., Any]) -> Callable[..., Any]:
            def watched(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
                name = Path(str(file)).name if isinstance(file, str | Path) else ""
                if name in WATCHED_FILES:
                    self.calls[f"{'write' if any(c in mode for c in 'wax') else 'read'} "
                                f"{name}"] += 1
                return opener(file, mode, *args, **kwargs)
            return watched

        builtins.open = opened(real_open)
        io.open = opened(real_io_open)  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--units", default="north-general",
                        help="the batch's units (comma-separated, or 'all')")
    args = parser.parse_args(argv)
    # Imported here: the counters wrap these modules' functions before the build runs.
    from reviewkit.evaluation import evaluate as evaluate_module
    from reviewkit.evaluation import pack as pack_module
    from reviewkit.evaluation import units as units_module
    from reviewkit.inputs import loaded, measurements
    from reviewkit.run import build, fingerprint, prepare
    from reviewkit.store import database

    counter = Counter()
    for owner in (pack_module, prepare):
        if hasattr(owner, "reference_day"):
            counter.wrap(owner, "reference_day", "reference_day")
    for owner in (evaluate_module, pack_module, units_module):
        if hasattr(owner, "evaluate"):
            counter.wrap(owner, "evaluate", "evaluate()")
    counter.wrap(loaded.Inputs, "for_unit", "Inputs.for_unit")
    for owner in (loaded, build, fingerprint, prepare):
        if hasattr(owner, "sha256_of"):
            counter.wrap(owner, "sha256_of", "sha256_of")
    counter.wrap(database.Store, "history", "Store.history")
    counter.wrap(measurements.Measurements, "latest_date", "latest date scanned")
    with tempfile.TemporaryDirectory(prefix="reviewkit-counts-") as scratch:
        folder = Path(scratch)
        params = _copy_demo(folder, args.batch)
        counter.watch_files()
        if args.batch:
            from reviewkit.run.batch import BatchOptions, run_batch

            run_batch(BatchOptions((params,), folder / "out",
                                   units=None if args.units == "all" else args.units,
                                   cadences=("weekly",), period=PERIOD, workers=1))
        else:
            build.build_pack("weekly", params, period=PERIOD, out_dir=folder / "out", by="bench")
    what = f"batch ({args.units} + group)" if args.batch else "build weekly"
    print(f"{what}, counted in the build's own process:")
    for label, count in sorted(counter.calls.items()):
        print(f"  {label:<24}{count:>4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
