"""The arguments of `reviewkit batch` and `reviewkit index` (registered without importing the
pipeline, which only running them needs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: A pack's default limits (reviewkit.run.workers.Limits has the same).
TIME_LIMIT = 900.0
MEMORY_LIMIT_MB = 6144
#: Below this a pack's worker or kernel cannot even load (each maps about 1 GB of address
#: space with matplotlib, nbconvert and WeasyPrint loaded).
MIN_MEMORY_LIMIT_MB = 1024


def add_batch_parsers(commands: Any) -> None:
    batch = commands.add_parser(
        "batch", help="build every unit's and the group's packs of one or more params files")
    batch.add_argument("--params", required=True, type=Path, metavar="FILE", action="append",
                       help="a params file (repeat for several)")
    batch.add_argument("--units", metavar="all|A,B",
                       help="the units to build: all, or ids separated by commas (default: the "
                            "params file's units; with no units, its one pack)")
    batch.add_argument("--cadence", action="append", metavar="NAME",
                       help="only this cadence (repeat for several; default: each params "
                            "file's cadences)")
    batch.add_argument("--period", metavar="YYYY-MM-DD",
                       help="any date in the period to report (default: latest in the data)")
    batch.add_argument("--out", type=Path, default=Path("outputs"), metavar="DIR",
                       help="output folder (default: outputs/)")
    batch.add_argument("--workers", type=int, default=0, metavar="N",
                       help="packs made at once (default: one per core)")
    batch.add_argument("--force", action="store_true",
                       help="rebuild every pack, even those whose inputs did not change")
    batch.add_argument("--plan", action="store_true",
                       help="print the packs as JSON (one `reviewkit build` each); build nothing")
    batch.add_argument("--executor", choices=("process", "dask"), default="process",
                       help="local worker processes, or a Dask cluster")
    batch.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="an existing Dask scheduler (default: a local cluster)")
    batch.add_argument("--time-limit", type=float, default=TIME_LIMIT, metavar="SECONDS",
                       help=f"stop a pack that takes longer (default: {TIME_LIMIT:g})")
    batch.add_argument("--memory-limit", type=int, default=MEMORY_LIMIT_MB,
                       metavar="MB", help="address space a pack's worker and kernel may use "
                                          "(default: %(default)s; 0: no limit)")
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    index = commands.add_parser("index", help="rewrite OUT/index.html, the library of its packs")
    index.add_argument("out", type=Path, metavar="OUT", help="an output folder")
