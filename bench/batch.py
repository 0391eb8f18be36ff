"""Benchmark `reviewkit batch` against building the same packs one after another by hand.

The packs are the demo's units and group for each cadence (7 units + the group, x 3 cadences:
24 packs, from params/units/). "By hand" is bench/packs.py's: per pack, papermill runs the
notebook (the kernel loads, evaluates and draws everything itself), nbconvert makes the HTML
and weasyprint the PDF, as three commands in sequence. The batch side is one
`reviewkit batch --force` (every pack rebuilt) with the local process pool and, with
``--cluster``, again with ``--executor dask`` (a LocalCluster of as many workers).

Goals: the 24-pack demo batch takes at most 0.25 of the by-hand time on this 2-core machine,
and a small batch (``--units north-general,st-annes,riverside --cadence weekly``: 3 units and
the group, 4 packs) at most 0.3: its fixed costs weigh most. ``--rounds`` repeats both sides
(alternating which goes first) and reports the median ratio.

``--plan-units 1000,10000`` times ``reviewkit batch --plan`` instead, for a generated definition
of that many units (two KPIs, eight weeks each): planning should grow with the packs, not with
units x rows.

Usage::

    .venv/bin/python bench/batch.py [--cadence weekly] [--units a,b,c] [--workers 2] [--rounds 3]
                                    [--cluster] [--json out.json]
    .venv/bin/python bench/batch.py --plan-units 1000,10000

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

GOAL = 0.25  # the 24-pack demo batch
SMALL_GOAL = 0.3  # a batch of a few packs
CADENCES = ("weekly", "monthly", "quarterly")


def plan(params: list[Path], out: Path) -> list[dict[str, object]]:
    argv = [str(BIN / "reviewkit"), "batch", *[arg for p in params for arg in ("--params", str(p))],
            "--out", str(out), "--plan"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), check=True,
                          cwd=ROOT)
    entries: list[dict[str, object]] = json.loads(proc.stdout)
    return entries


def run_batch(params: list[Path], out: Path, workers: int, executor: str,
              units: str | None = None) -> float:
    argv = [str(BIN / "reviewkit"), "batch", *[arg for p in params for arg in ("--params", str(p))],
            "--out", str(out), "--force", "-q", "--workers", str(workers),
            "--executor", executor, *(["--units", units] if units else [])]
    return _run(argv, f"reviewkit batch ({executor})")


def plan_units(counts: list[int]) -> int:
    """Time ``reviewkit batch --plan`` for definitions of ``counts`` units."""
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, load "
          f"{os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        for count in counts:
            folder = Path(tmp) / str(count)
            folder.mkdir()
            (folder / "kpis.yaml").write_text(
                "kpis:\n"
                "  - {id: uptime, name: Uptime, perspective: Reliability, direction: "
                "higher_is_better, target: 99, amber: 98, owner: Ops, cadences: [weekly]}\n"
                "  - {id: incidents, name: Incidents, perspective: Reliability, direction: "
                "lower_is_better, target: 4, owner: Ops, cadences: [weekly], aggregation: sum}\n",
                encoding="utf-8")
            weeks = [f"2026-{month:02d}-{day:02d}" for month, day in
                     ((10, 2), (10, 9), (10, 16), (10, 23), (10, 30), (11, 6), (11, 13), (11, 20))]
            with (folder / "measurements.csv").open("w", encoding="utf-8") as handle:
                handle.write("kpi_id,period_end,value,segment\n")
                for unit in range(count):
                    for week in weeks:
                        handle.write(f"uptime,{week},{98 + unit % 20 / 10:.1f},u{unit:05d}\n"
                                     f"incidents,{week},{unit % 5},u{unit:05d}\n")
            (folder / "params.yaml").write_text(
                "organisation: Many Units\ncatalog: kpis.yaml\nmeasurements: measurements.csv\n"
                "cadences: [weekly]\nunits: all\n", encoding="utf-8")
            argv = [str(BIN / "reviewkit"), "batch", "--params", str(folder / "params.yaml"),
                    "--out", str(folder / "out"), "--plan"]
            start = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), check=False)
            seconds = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"batch --plan failed: {proc.stderr[-2000:]}")
            packs = len(json.loads(proc.stdout))
            print(f"{count:>7} units, {16 * count:>8} rows: {packs:>6} packs planned in "
                  f"{seconds:6.2f} s ({1000 * seconds / packs:.2f} ms a pack)", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cadence", action="append", choices=CADENCES)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cluster", action="store_true", help="also time --executor dask")
    parser.add_argument("--units", help="only these units (reviewkit batch --units)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--plan-units", help="time --plan for generated definitions of these "
                        "many units, e.g. 1000,10000")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.plan_units:
        return plan_units([int(text) for text in args.plan_units.split(",")])
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
        if args.units:
            wanted = set(args.units.split(","))
            entries = [e for e in entries if e["unit"] in wanted or e["unit"] == "group"]
        print(f"{len(entries)} packs: {', '.join(str(e['name']) for e in entries)}", flush=True)
        # Warm-up (untimed): disk caches, .pyc files, font caches; the batch records the packs.
        run_batch(params, folder / "warm", args.workers, "process", args.units)
        rounds: list[dict[str, float]] = []
        for number in range(1, args.rounds + 1):
            timings: dict[str, float] = {}

            def batch_side(timings: dict[str, float] = timings) -> None:
                start = time.perf_counter()
                run_batch(params, folder / "out", args.workers, "process", args.units)
                timings["batch"] = time.perf_counter() - start
                if args.cluster:
                    start = time.perf_counter()
                    run_batch(params, folder / "dask", args.workers, "dask", args.units)
                    timings["dask"] = time.perf_counter() - start

            def by_hand_side(timings: dict[str, float] = timings) -> None:
                start = time.perf_counter()
                for entry in entries:
                    unit = str(entry["unit"]) if entry["unit"] not in (None, "group") else None
                    run_by_hand_unit(str(entry["cadence"]), Path(str(entry["params"])),
                                     str(entry["period"]), unit)
                timings["by_hand"] = time.perf_counter() - start

            # Both sides in each round, alternating which goes first (the load moves).
            sides = [batch_side, by_hand_side] if number % 2 else [by_hand_side, batch_side]
            for side in sides:
                side()
            ratio = timings["batch"] / timings["by_hand"]
            print(f"round {number}: " + ", ".join(f"{side} {seconds:.1f} s"
                                                 for side, seconds in timings.items())
                  + f"; ratio {ratio:.3f}; load {os.getloadavg()[0]:.2f}", flush=True)
            rounds.append({**timings, "ratio": ratio})
    count = len(entries)
    ratios = sorted(item["ratio"] for item in rounds)
    ratio = ratios[len(ratios) // 2]
    goal = GOAL if count >= 24 else SMALL_GOAL
    print(f"\nmedian ratio batch / by hand over {len(rounds)} round(s): {ratio:.3f} "
          f"(min {ratios[0]:.3f}, max {ratios[-1]:.3f}; goal ≤ {goal}: "
          f"{'met' if ratio <= goal else 'not met'})")
    for side in rounds[0]:
        if side == "ratio":
            continue
        seconds = sorted(item[side] for item in rounds)[len(rounds) // 2]
        print(f"  {side:8} {seconds:7.1f} s  {60 * count / seconds:5.1f} packs per minute")
    if args.cluster:
        print("Dask / process pool: "
              f"{sorted(r['dask'] / r['batch'] for r in rounds)[len(rounds) // 2]:.2f}")
    results.update(packs=count, rounds=rounds, ratio=ratio, load_at_end=os.getloadavg())
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
