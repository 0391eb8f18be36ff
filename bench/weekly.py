"""Benchmark `reviewkit build weekly` against building the same pack by hand.

"By hand" is what a user does without reviewkit: the same notebook and parameters,
run as three commands in sequence, each with its defaults:

1. ``papermill`` executes the notebook (no context file, so the kernel loads the data,
   evaluates the measures and draws the charts itself),
2. ``jupyter nbconvert --to html --no-input`` renders it with the default template,
3. ``weasyprint`` prints the HTML to PDF.

Both sides run on the demo data for the same period, with the executables of the
virtual environment this script runs in.  After one untimed warm-up of each side, every
round times reviewkit and by-hand back to back, alternating which goes first, and takes
the ratio reviewkit / by-hand.  The figure of merit is the median of those ratios; the
goal is a median ratio of at most 0.6.

Usage::

    .venv/bin/python bench/weekly.py [--rounds 5] [--json results.json]

Standard library only, so it measures the project rather than depending on it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The executables next to the running interpreter: both sides must use the same
# installation, or the comparison measures two environments instead of two methods.
BIN = Path(sys.executable).parent

NOTEBOOK = "notebooks/weekly_operational.ipynb"
PARAMS = ROOT / "params" / "weekly.yaml"
PERIOD = "2026-11-20"
GOAL = 0.6
# Generous: a round takes well under a minute; this only stops a hung kernel from
# hanging the benchmark forever.
TIMEOUT_S = 900
STDERR_TAIL = 40  # weasyprint writes thousands of CSS warnings; the end is what matters


class CommandFailed(Exception):
    """A benchmarked command exited non-zero, timed out or left no output."""


@dataclass
class ByHand:
    """One by-hand build: the total and each of its three steps, in seconds."""

    papermill: float
    nbconvert: float
    weasyprint: float

    @property
    def total(self) -> float:
        return self.papermill + self.nbconvert + self.weasyprint


@dataclass
class Round:
    """One timed round: both sides back to back."""

    round: int
    first: str  # "reviewkit" or "by-hand": which side ran first this round
    reviewkit_s: float
    by_hand_s: float
    by_hand_steps: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.reviewkit_s / self.by_hand_s


def _env() -> dict[str, str]:
    # As if the venv were activated, for both sides alike: anything either side spawns
    # by name (the kernel, a helper) then resolves to this same installation.
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(BIN.parent)
    return env


def _run(argv: list[str], label: str) -> float:
    """Run one command from the project root and return its wall time in seconds."""
    start = time.perf_counter()
    try:
        # Output is captured, not shown: printing weasyprint's warnings to a terminal
        # would add time that neither side needs, and hide the table.
        proc = subprocess.run(
            argv,
            cwd=ROOT,
            env=_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(
            f"{label}: timed out after {TIMEOUT_S} s\n  $ {shlex.join(argv)}"
        ) from exc
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        lines = proc.stderr.splitlines()
        tail = "\n".join(lines[-STDERR_TAIL:])
        shown = f"last {STDERR_TAIL} of {len(lines)} lines" if len(lines) > STDERR_TAIL else "all"
        raise CommandFailed(
            f"{label}: exit status {proc.returncode}\n  $ {shlex.join(argv)}\n"
            f"--- stderr ({shown}) ---\n{tail}\n--- end stderr ---"
        )
    return elapsed


def _require_file(path: Path, label: str) -> None:
    # A fast run that produced nothing is not a result: check, but outside the timing.
    if not path.is_file() or path.stat().st_size == 0:
        raise CommandFailed(f"{label}: expected a non-empty {path}, found none")


def run_reviewkit() -> float:
    """Time `reviewkit build weekly` into a fresh folder, so nothing is reused."""
    with tempfile.TemporaryDirectory(prefix="bench-rk-") as tmp:
        out = Path(tmp)
        argv = [
            str(BIN / "reviewkit"), "build", "weekly",
            "--params", "params/weekly.yaml",
            "--period", PERIOD,
            "--out", str(out),
            "-q",
        ]
        elapsed = _run(argv, "reviewkit build")
        # The folder layout under --out is reviewkit's business; any pack.pdf will do.
        pdfs = sorted(out.rglob("pack.pdf"))
        if not pdfs:
            raise CommandFailed(f"reviewkit build: no pack.pdf under {out}")
        for pdf in pdfs:
            _require_file(pdf, "reviewkit build")
        return elapsed


def run_by_hand() -> ByHand:
    """Time the three by-hand commands, in sequence, into a fresh folder."""
    with tempfile.TemporaryDirectory(prefix="bench-hand-") as tmp:
        out = Path(tmp)
        ipynb, html, pdf = out / "pack.ipynb", out / "pack.html", out / "pack.pdf"
        papermill = _run(
            [
                str(BIN / "papermill"), NOTEBOOK, str(ipynb),
                "-p", "cadence", "weekly",
                "-p", "params_file", str(PARAMS),
                "-p", "period_end", PERIOD,
                "--cwd", "notebooks",
            ],
            "by hand: papermill",
        )
        _require_file(ipynb, "by hand: papermill")
        nbconvert = _run(
            [
                str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input",
                str(ipynb), "--output-dir", str(out),
            ],
            "by hand: nbconvert",
        )
        _require_file(html, "by hand: nbconvert")
        weasyprint = _run([str(BIN / "weasyprint"), str(html), str(pdf)], "by hand: weasyprint")
        _require_file(pdf, "by hand: weasyprint")
        return ByHand(papermill, nbconvert, weasyprint)


def _source_fingerprint() -> str:
    """A short hash of what reviewkit builds from, to tell whether it changed mid-run.

    Others may edit the build while the benchmark runs; a changed fingerprint between
    start and end means the rounds did not all measure the same code.
    """
    digest = hashlib.sha256()
    tracked = [ROOT / "src" / "reviewkit", ROOT / "notebooks", ROOT / "params"]
    for base in tracked:
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _git_head() -> str:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )
    except OSError:
        return "unknown"
    return proc.stdout.strip() or "unknown"


def _cpus() -> int:
    # What `nproc` reports: the CPUs this process may run on, not all in the machine.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 0


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _fmt_load(load: list[float]) -> str:
    return " ".join(f"{x:.2f}" for x in load) if load else "n/a"


def print_table(rounds: list[Round]) -> None:
    head = (
        f"{'round':>5}  {'first':<9}  {'reviewkit s':>11}  {'by-hand s':>9}  "
        f"{'papermill':>9}  {'nbconvert':>9}  {'weasyprint':>10}  {'ratio':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in rounds:
        s = r.by_hand_steps
        print(
            f"{r.round:>5}  {r.first:<9}  {r.reviewkit_s:>11.2f}  {r.by_hand_s:>9.2f}  "
            f"{s['papermill']:>9.2f}  {s['nbconvert']:>9.2f}  {s['weasyprint']:>10.2f}  "
            f"{r.ratio:>6.3f}"
        )
    print("-" * len(head))
    med = _medians(rounds)
    print(
        f"{'median':>5}  {'':<9}  {med['reviewkit_s']:>11.2f}  {med['by_hand_s']:>9.2f}  "
        f"{med['papermill']:>9.2f}  {med['nbconvert']:>9.2f}  {med['weasyprint']:>10.2f}  "
        f"{med['ratio']:>6.3f}"
    )


def _medians(rounds: list[Round]) -> dict[str, float]:
    # The ratio's median is taken over per-round ratios, not as a ratio of medians:
    # each round's pair ran under the same load, which is the point of pairing them.
    return {
        "reviewkit_s": statistics.median(r.reviewkit_s for r in rounds),
        "by_hand_s": statistics.median(r.by_hand_s for r in rounds),
        "papermill": statistics.median(r.by_hand_steps["papermill"] for r in rounds),
        "nbconvert": statistics.median(r.by_hand_steps["nbconvert"] for r in rounds),
        "weasyprint": statistics.median(r.by_hand_steps["weasyprint"] for r in rounds),
        "ratio": statistics.median(r.ratio for r in rounds),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=5, help="timed rounds after the warm-up (default: 5)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write raw results here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    machine: dict[str, Any] = {
        "started": _now(),
        "host": platform.node(),
        "platform": platform.platform(),
        "nproc": _cpus(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "git_head": _git_head(),
        "source_fingerprint_start": _source_fingerprint(),
        "load_start": _load(),
    }
    print("reviewkit weekly benchmark: `reviewkit build weekly` vs papermill + nbconvert + "
          "weasyprint by hand")
    print(f"  demo: {NOTEBOOK}, params/weekly.yaml, period {PERIOD}")
    print(f"  started {machine['started']} on {machine['host']} ({machine['platform']})")
    print(f"  nproc {machine['nproc']}, Python {machine['python']} ({sys.executable})")
    print(f"  git HEAD {machine['git_head']}, source fingerprint "
          f"{machine['source_fingerprint_start']}")
    print(f"  load average at start (1/5/15 min): {_fmt_load(machine['load_start'])}")
    print(f"  goal: median ratio reviewkit / by-hand <= {GOAL}")
    print()

    rounds: list[Round] = []
    try:
        # Untimed warm-up of each side: the first run pays for cold disk caches and
        # first-time compilation (.pyc, font caches), which neither side should be
        # charged for.
        print("warm-up (untimed) ...", flush=True)
        warm_rk = run_reviewkit()
        warm_hand = run_by_hand()
        print(f"  reviewkit {warm_rk:.2f} s, by hand {warm_hand.total:.2f} s", flush=True)
        print()

        for i in range(1, args.rounds + 1):
            # Alternate the order so that neither side always runs on the warmer (or
            # more loaded) half of the round.
            rk_first = i % 2 == 1
            if rk_first:
                rk = run_reviewkit()
                hand = run_by_hand()
            else:
                hand = run_by_hand()
                rk = run_reviewkit()
            r = Round(
                round=i,
                first="reviewkit" if rk_first else "by-hand",
                reviewkit_s=rk,
                by_hand_s=hand.total,
                by_hand_steps=asdict(hand),
            )
            rounds.append(r)
            print(f"round {i}/{args.rounds}: reviewkit {rk:.2f} s, by hand {hand.total:.2f} s, "
                  f"ratio {r.ratio:.3f}", flush=True)
    except CommandFailed as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1

    machine["finished"] = _now()
    machine["load_end"] = _load()
    machine["source_fingerprint_end"] = _source_fingerprint()
    med = _medians(rounds)
    met = med["ratio"] <= GOAL

    print()
    print_table(rounds)
    print()
    print(f"median ratio (reviewkit / by-hand): {med['ratio']:.3f}  "
          f"goal <= {GOAL}: {'MET' if met else 'NOT MET'}")
    print(f"  min {min(r.ratio for r in rounds):.3f}, max {max(r.ratio for r in rounds):.3f} "
          f"over {len(rounds)} rounds")
    print(f"finished {machine['finished']}; load average at end (1/5/15 min): "
          f"{_fmt_load(machine['load_end'])}")
    if machine["source_fingerprint_end"] != machine["source_fingerprint_start"]:
        # Not an error (the benchmark itself worked), but the rounds may mix two builds.
        print(f"WARNING: the sources changed during the run (fingerprint "
              f"{machine['source_fingerprint_start']} -> {machine['source_fingerprint_end']}); "
              "rounds may have measured different code")

    if args.json:
        result = {
            "machine": machine,
            "config": {
                "notebook": NOTEBOOK,
                "params": str(PARAMS.relative_to(ROOT)),
                "period": PERIOD,
                "rounds": args.rounds,
                "goal_ratio": GOAL,
            },
            "warmup": {"reviewkit_s": warm_rk, "by_hand_steps": asdict(warm_hand)},
            "rounds": [{**asdict(r), "ratio": r.ratio} for r in rounds],
            "medians": med,
            "goal_met": met,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"raw results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
