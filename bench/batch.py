"""Benchmark `reviewkit batch` against building the same packs one after another by hand.

The packs are the demo's units and group for each cadence (7 units + the group, x 3 cadences:
24 packs, from params/units/). "By hand" is bench/packs.py's: per pack, papermill runs the
notebook (the kernel loads, evaluates and draws everything itself), nbconvert makes the HTML
and weasyprint the PDF, as three commands in sequence. The batch side is one
`reviewkit batch --force` (every pack rebuilt) with the local process pool and, with
``--cluster``, again with ``--executor dask`` (a LocalCluster of as many workers).

Goal: the batch takes at most 0.3 of the by-hand time on this 2-core machine.

Usage::

    .venv/bin/python bench/batch.py [--cadence weekly] [--workers 2] [--cluster] [--json out.json]

Standard library only (plus bench/packs.py beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from packs import BIN, ROOT, _env, _run, copy_params, run_by_hand_unit, snapshot_store

GOAL = 0.3
CADENCES = ("weekly", "monthly", "quarterly")


def plan(params: list[Path], out: Path) -> list[dict[str, object]]:
    argv = [str(BIN / "reviewkit"), "batch", *[arg for p in params for arg in ("--params", str(p))],
            "--out", str(out), "--plan"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), check=True,
                          cwd=ROOT)
    entries: list[dict[str, object]] = json.loads(proc.stdout)
    return entries


def run_batch(params: list[Path], out: Path, workers: int, executor: str) -> float:
    argv = [str(BIN / "reviewkit"), "batch", *[arg for p in params for arg in ("--params", str(p))],
            "--out", str(out), "--force", "-q", "--workers", str(workers),
            "--executor", executor]
    return _run(argv, f"reviewkit batch ({executor})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cadence", action="append", choices=CADENCES)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cluster", action="store_true", help="also time --executor dask")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cadences = args.cadence or list(CADENCES)
    results: dict[str, object] = {"machine": {"nproc": os.cpu_count(),
                                              "python": platform.python_version(),
                                              "load_at_start": os.getloadavg()},
                                  "cadences": cadences, "workers": args.workers}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        folder = Path(tmp)
        inputs = folder / "inputs"
        inputs.mkdir()
        params = [copy_params(ROOT / "params" / "units" / f"{c}.yaml", inputs) for c in cadences]
        print(snapshot_store(ROOT / "params" / "reviewkit.sqlite", inputs / "reviewkit.sqlite"))
        entries = plan(params, folder / "out")
        print(f"{len(entries)} packs: {', '.join(str(e['name']) for e in entries)}", flush=True)
        # Warm-up (untimed): disk caches, .pyc files, font caches; the batch records the packs.
        run_batch(params, folder / "warm", args.workers, "process")
        timings: dict[str, float] = {}
        start = time.perf_counter()
        run_batch(params, folder / "out", args.workers, "process")
        timings["batch"] = time.perf_counter() - start
        print(f"batch ({args.workers} process workers): {timings['batch']:.1f} s", flush=True)
        if args.cluster:
            start = time.perf_counter()
            run_batch(params, folder / "dask", args.workers, "dask")
            timings["dask"] = time.perf_counter() - start
            print(f"batch (Dask LocalCluster, {args.workers} workers): {timings['dask']:.1f} s",
                  flush=True)
        start = time.perf_counter()
        for entry in entries:
            unit = str(entry["unit"]) if entry["unit"] not in (None, "group") else None
            run_by_hand_unit(str(entry["cadence"]), Path(str(entry["params"])),
                             str(entry["period"]), unit)
        timings["by_hand"] = time.perf_counter() - start
        print(f"by hand, one after another: {timings['by_hand']:.1f} s", flush=True)
    count = len(entries)
    ratio = timings["batch"] / timings["by_hand"]
    print(f"\nratio batch / by hand: {ratio:.2f} (goal ≤ {GOAL}: "
          f"{'met' if ratio <= GOAL else 'not met'})")
    for side, seconds in timings.items():
        print(f"  {side:8} {seconds:7.1f} s  {60 * count / seconds:5.1f} packs per minute")
    if "dask" in timings:
        print(f"Dask / process pool: {timings['dask'] / timings['batch']:.2f}")
    results.update(packs=count, seconds=timings, ratio=ratio,
                   load_at_end=os.getloadavg())
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
