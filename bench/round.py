"""Benchmark publishing a review round: every pack of a definition with units, side by side in
the batch's workers (what `reviewkit serve` does, ``reviewkit.run.parallel.publish_packs``),
against publishing the same packs one after another in one process (``build_pack`` per pack,
with the fork server running, as the round published them before).

Each side runs in a child process of its own, on its own copy of the demo's params and data
with an empty store, forced through the publish gate; the sides alternate over ``--rounds``.
Reports wall seconds and the whole machine's CPU seconds for each run, and the median ratio
of wall times (side by side / one after another).

Usage::

    .venv/bin/python bench/round.py [--cadence weekly] [--rounds 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: A day in the period each cadence publishes (the demo's last week of data).
PERIODS = {"weekly": "2026-11-20"}


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()[1:]
    ticks = sum(int(fields[i]) for i in (0, 1, 2, 5, 6, 7))
    return ticks / 100


def publish(way: str, root: Path, cadence: str) -> None:
    """One side, run in this (child) process."""
    from reviewkit import _speedups

    _speedups.apply()
    params = root / "params" / "units" / f"{cadence}.yaml"
    period = dt.date.fromisoformat(PERIODS[cadence])
    out = root / "out"
    if way == "side-by-side":
        from reviewkit.run.parallel import publish_packs

        made = publish_packs(params, cadence, period=period, out_dir=out, approver="Bench",
                             force=True, by="bench")
        failed = [m.unit for m in made if m.result is None]
    else:
        from reviewkit.inputs.params import GROUP_FOLDER, load_params
        from reviewkit.run import _spawned
        from reviewkit.run.build import build_pack
        from reviewkit.run.prepare import load_for

        _spawned.worker_context()
        units = [unit.id for unit in load_for(load_params(params)).units]
        failed = []
        for unit in [GROUP_FOLDER, *units]:
            build_pack(cadence, params, period=period.isoformat(), out_dir=out,
                       approver="Bench", force=True, by="bench", unit=unit)
    if failed:
        raise SystemExit(f"not published: {failed}")


def run_side(way: str, cadence: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="rk-round-") as folder:
        root = Path(folder)
        for name in ("params", "data"):
            shutil.copytree(REPO / name, root / name,
                            ignore=shutil.ignore_patterns("*.sqlite*"))
        cpu, start = machine_cpu(), time.perf_counter()
        subprocess.run([sys.executable, __file__, "--side", way, "--root", str(root),
                        "--cadence", cadence], check=True,
                       env={**os.environ, "REVIEWKIT_TODAY": "2026-12-01"})
        return time.perf_counter() - start, machine_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cadence", default="weekly", choices=sorted(PERIODS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        publish(args.side, args.root, args.cadence)
        return
    runs: list[dict[str, object]] = []
    for index in range(args.rounds):
        ways = ["one-after-another", "side-by-side"]
        for way in ways if index % 2 == 0 else ways[::-1]:
            wall, cpu = run_side(way, args.cadence)
            runs.append({"round": index + 1, "way": way, "wall": round(wall, 2),
                         "cpu": round(cpu, 2)})
            print(f"round {index + 1} {way:18} wall {wall:6.1f} s  cpu {cpu:6.1f} s",
                  flush=True)
    ratios = []
    for index in range(args.rounds):
        walls = {r["way"]: r["wall"] for r in runs if r["round"] == index + 1}
        ratios.append(float(walls["side-by-side"]) / float(walls["one-after-another"]))
    print(f"median ratio (side by side / one after another): {statistics.median(ratios):.3f} "
          f"({', '.join(f'{r:.3f}' for r in ratios)})")
    if args.json:
        args.json.write_text(json.dumps({"cadence": args.cadence, "runs": runs,
                                         "ratios": ratios}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
