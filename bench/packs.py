"""Benchmark `reviewkit build` against building the same packs by hand, for every cadence.

"By hand" is what a user does without reviewkit: the same notebook and parameters,
run as three commands in sequence, each with its defaults:

1. ``papermill`` executes the notebook (no context file, so the kernel loads the data,
   evaluates the measures and draws the charts itself),
2. ``jupyter nbconvert --to html --no-input`` renders it with the default template,
3. ``weasyprint`` prints the HTML to PDF.

Each cadence builds its demo pack (weekly, monthly, quarterly), with the executables of
the virtual environment this script runs in.  Both sides read the same inputs through a
temporary copy of the params file whose relative data paths are made absolute, so the
action store that reviewkit keeps beside the params file (and that a built pack records
itself in) is a snapshot in the temporary folder: the repository's store is only read,
once, and never written.

After one untimed warm-up of each side, every round times reviewkit and by-hand back to
back, alternating which goes first, and takes the ratio reviewkit / by-hand.  The figure
of merit is the median of those ratios, per cadence; the goals are at most 0.45 weekly and
0.55 monthly and quarterly (:data:`GOALS`).  For the
weekly cadence (and for all with ``--no-speedups-too``) every round also times reviewkit
with ``REVIEWKIT_NO_SPEEDUPS=1``, to show what the start-up speed-ups contribute.

Usage::

    .venv/bin/python bench/packs.py [--rounds 5] [--cadence all] [--json results.json]

Standard library only, so it measures the project rather than depending on it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The executables next to the running interpreter: both sides must use the same
# installation, or the comparison measures two environments instead of two methods.
BIN = Path(sys.executable).parent

#: The most each cadence's median ratio may be (issue #16: weekly 0.45, quarterly 0.55; the
#: monthly pack, between the two in size, is held to the quarterly's).
GOALS = {"weekly": 0.45, "monthly": 0.55, "quarterly": 0.55}
# Generous: a round takes well under a minute; this only stops a hung kernel from
# hanging the benchmark forever.
TIMEOUT_S = 900
STDERR_TAIL = 40  # weasyprint writes thousands of CSS warnings; the end is what matters

RK = "reviewkit"
RK_NOSPD = "reviewkit, no speed-ups"
HAND = "by hand"
HAND_STEPS = ("papermill", "nbconvert", "weasyprint")


@dataclass(frozen=True)
class Cadence:
    """One demo pack: what both sides build."""

    name: str
    notebook: str  # relative to ROOT
    params: str  # relative to ROOT
    period: str


CADENCES: dict[str, Cadence] = {
    c.name: c
    for c in (
        Cadence("weekly", "notebooks/weekly_operational.ipynb", "params/weekly.yaml",
                "2026-11-20"),
        Cadence("monthly", "notebooks/monthly_business.ipynb", "params/monthly.yaml",
                "2026-10-31"),
        Cadence("quarterly", "notebooks/quarterly_strategic.ipynb", "params/quarterly.yaml",
                "2026-11-20"),
    )
}

# Keys of a params file that name files, resolved relative to the params file.  Mirrors
# reviewkit.inputs.params._PATH_FIELDS; a key missing here shows up loudly, as reviewkit's own
# "file not found" error, because the copy lives in another folder.
PATH_KEYS = ("catalog", "measurements", "notebook", "initiatives", "benefits", "spend",
             "priorities")
STORE_FILE = "reviewkit.sqlite"  # the default store, beside the params file

# A top-level `key: value  # comment` line; values are plain or simply quoted scalars.
_TOP_LEVEL = re.compile(
    r"""^(?P<key>[A-Za-z_][\w-]*):[ \t]*
        (?P<value>"[^"]*"|'[^']*'|[^#\s][^#]*?)?
        [ \t]*(?P<comment>\#.*)?$""",
    re.VERBOSE,
)


class CommandFailed(Exception):
    """A benchmarked command exited non-zero, timed out or left no output."""


class SetupFailed(Exception):
    """The temporary inputs could not be prepared."""


@dataclass
class Round:
    """One timed round of one cadence: every side back to back."""

    round: int
    order: list[str]  # the sides in the order they ran
    reviewkit_s: float
    by_hand_s: float
    by_hand_steps: dict[str, float]
    # reviewkit's own stage timings (from the pack's manifest.json), plus "start-up and
    # exit": wall time outside build_pack (interpreter start, imports, teardown)
    reviewkit_stages: dict[str, float]
    no_speedups_s: float | None = None
    no_speedups_stages: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.reviewkit_s / self.by_hand_s

    @property
    def ratio_no_speedups(self) -> float | None:
        if self.no_speedups_s is None:
            return None
        return self.no_speedups_s / self.by_hand_s


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # As if the venv were activated, for both sides alike: anything either side spawns
    # by name (the kernel, a helper) then resolves to this same installation.
    env = dict(os.environ)
    env.pop("REVIEWKIT_NO_SPEEDUPS", None)  # only the no-speed-ups column sets it
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(BIN.parent)
    env.update(extra or {})
    return env


def _run(argv: list[str], label: str, env: dict[str, str] | None = None) -> float:
    """Run one command from the project root and return its wall time in seconds."""
    start = time.perf_counter()
    try:
        # Output is captured, not shown: printing weasyprint's warnings to a terminal
        # would add time that neither side needs, and hide the table.
        proc = subprocess.run(
            argv,
            cwd=ROOT,
            env=env or _env(),
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


# --- the temporary inputs -------------------------------------------------------------


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _store_source(params: Path) -> tuple[Path | None, str]:
    """Where the params file keeps its store, if it is a SQLite file; and a note why not."""
    for line in params.read_text(encoding="utf-8").splitlines():
        m = _TOP_LEVEL.match(line)
        if m and m["key"] == "store" and m["value"]:
            store = _unquote(m["value"].strip())
            if "://" in store:
                return None, f"the store is a database URL ({store}); starting from an empty one"
            return (params.parent / store).resolve(), ""
    return params.parent / STORE_FILE, ""


def snapshot_store(source: Path | None, dest: Path) -> str:
    """Copy the store consistently, opening the source read-only; return what was done."""
    if source is None or not source.is_file():
        return "no store yet; both sides start from an empty one"
    src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)  # consistent even if someone writes the store meanwhile
        finally:
            dst.close()
    finally:
        src.close()
    return f"snapshot of {source}"


def copy_params(params: Path, dest_dir: Path) -> Path:
    """Write a copy of ``params`` into ``dest_dir`` with every data path made absolute.

    Any ``store:`` line is dropped, so the copy's store is the default one beside it.
    """
    out: list[str] = []
    for number, line in enumerate(params.read_text(encoding="utf-8").splitlines(), 1):
        m = _TOP_LEVEL.match(line)
        if m is None or m["key"] not in (*PATH_KEYS, "store"):
            out.append(line)
            continue
        if m["key"] == "store":
            out.append(f"# {line}  (dropped by the benchmark: store beside this copy)")
            continue
        if not m["value"]:
            raise SetupFailed(f"{params}:{number}: cannot rewrite '{m['key']}' "
                              "(not a one-line value)")
        target = (params.parent / _unquote(m["value"].strip())).resolve()
        if not target.is_file():
            raise SetupFailed(f"{params}:{number}: {m['key']} names {target}, which is missing")
        comment = f"  {m['comment']}" if m["comment"] else ""
        out.append(f"{m['key']}: {json.dumps(str(target))}{comment}")
    copy = dest_dir / params.name
    copy.write_text("\n".join(out) + "\n", encoding="utf-8")
    return copy


# --- the two sides ----------------------------------------------------------------------


def run_reviewkit(cadence: Cadence, params: Path, *, no_speedups: bool = False
                  ) -> tuple[float, dict[str, float]]:
    """Time `reviewkit build` into a fresh folder; return wall time and its stages."""
    label = "reviewkit build" + (" (REVIEWKIT_NO_SPEEDUPS=1)" if no_speedups else "")
    with tempfile.TemporaryDirectory(prefix="bench-rk-") as tmp:
        out = Path(tmp)
        argv = [
            str(BIN / "reviewkit"), "build", cadence.name,
            "--params", str(params),
            "--period", cadence.period,
            "--out", str(out),
            "-q",
        ]
        env = _env({"REVIEWKIT_NO_SPEEDUPS": "1"} if no_speedups else None)
        elapsed = _run(argv, label, env)
        # The folder layout under --out is reviewkit's business; one pack.pdf is expected.
        pdfs = sorted(out.rglob("pack.pdf"))
        if len(pdfs) != 1:
            raise CommandFailed(f"{label}: expected one pack.pdf under {out}, found {len(pdfs)}")
        _require_file(pdfs[0], label)
        return elapsed, _stages(pdfs[0].parent / "manifest.json", elapsed)


def _stages(manifest: Path, wall: float) -> dict[str, float]:
    """reviewkit's own stage timings, if its manifest has them; never fails the run."""
    try:
        timings = json.loads(manifest.read_text(encoding="utf-8"))["timings_seconds"]
        stages = {str(k): float(v) for k, v in timings.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    if "total" in stages:
        stages["start-up and exit"] = wall - stages.pop("total")
    return stages


def run_by_hand(cadence: Cadence, params: Path) -> dict[str, float]:
    """Time the three by-hand commands, in sequence, into a fresh folder."""
    with tempfile.TemporaryDirectory(prefix="bench-hand-") as tmp:
        out = Path(tmp)
        ipynb, html, pdf = out / "pack.ipynb", out / "pack.html", out / "pack.pdf"
        papermill = _run(
            [
                str(BIN / "papermill"), cadence.notebook, str(ipynb),
                "-p", "cadence", cadence.name,
                "-p", "params_file", str(params),
                "-p", "period_end", cadence.period,
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
        return {"papermill": papermill, "nbconvert": nbconvert, "weasyprint": weasyprint}


def run_by_hand_unit(cadence: str, params: Path, period: str,
                     unit: str | None) -> dict[str, float]:
    """The by-hand pipeline for one pack of a definition with units (a unit's, or the group's
    when ``unit`` is None): papermill gets the unit as a parameter."""
    notebook = {c.name: c.notebook for c in CADENCES.values()}[cadence]
    with tempfile.TemporaryDirectory(prefix="bench-hand-") as tmp:
        out = Path(tmp)
        ipynb, html, pdf = out / "pack.ipynb", out / "pack.html", out / "pack.pdf"
        extra = ["-p", "unit", unit] if unit else []
        papermill = _run([str(BIN / "papermill"), notebook, str(ipynb), "-p", "cadence", cadence,
                          "-p", "params_file", str(params), "-p", "period_end", period, *extra,
                          "--cwd", "notebooks"], "by hand: papermill")
        nbconvert = _run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input",
                          str(ipynb), "--output-dir", str(out)], "by hand: nbconvert")
        weasyprint = _run([str(BIN / "weasyprint"), str(html), str(pdf)], "by hand: weasyprint")
        _require_file(pdf, "by hand: weasyprint")
        return {"papermill": papermill, "nbconvert": nbconvert, "weasyprint": weasyprint}


def run_cadence(cadence: Cadence, params: Path, rounds: int, no_speedups: bool
                ) -> tuple[dict[str, Any], list[Round]]:
    """Warm up, then time ``rounds`` rounds of one cadence; print progress as it goes."""
    # Untimed warm-up of each side: the first run pays for cold disk caches and first-time
    # compilation (.pyc, font caches), which no side should be charged for.  It also makes
    # reviewkit record this period's pack in the temporary store once, so every timed
    # reviewkit run finds the store in the same state.
    print("  warm-up (untimed) ...", flush=True)
    warm_rk, _ = run_reviewkit(cadence, params)
    warm_nospd = run_reviewkit(cadence, params, no_speedups=True)[0] if no_speedups else None
    warm_hand = run_by_hand(cadence, params)
    shown = f"  reviewkit {warm_rk:.2f} s"
    if warm_nospd is not None:
        shown += f", reviewkit without speed-ups {warm_nospd:.2f} s"
    print(f"{shown}, by hand {sum(warm_hand.values()):.2f} s", flush=True)
    warmup = {"reviewkit_s": warm_rk, "no_speedups_s": warm_nospd, "by_hand_steps": warm_hand}

    results: list[Round] = []
    for i in range(1, rounds + 1):
        # Alternate the order so that neither side always runs on the warmer (or more
        # loaded) part of the round; the no-speed-ups run, if any, always sits between.
        order = [RK, RK_NOSPD, HAND] if no_speedups else [RK, HAND]
        if i % 2 == 0:
            order.reverse()
        rk = rk_stages = hand = None
        nospd: float | None = None
        nospd_stages: dict[str, float] = {}
        for side in order:
            if side == RK:
                rk, rk_stages = run_reviewkit(cadence, params)
            elif side == RK_NOSPD:
                nospd, nospd_stages = run_reviewkit(cadence, params, no_speedups=True)
            else:
                hand = run_by_hand(cadence, params)
        assert rk is not None and rk_stages is not None and hand is not None
        r = Round(
            round=i, order=order, reviewkit_s=rk, by_hand_s=sum(hand.values()),
            by_hand_steps=hand, reviewkit_stages=rk_stages,
            no_speedups_s=nospd, no_speedups_stages=nospd_stages,
        )
        results.append(r)
        line = (f"  round {i}/{rounds} ({order[0]} first): reviewkit {rk:.2f} s, "
                f"by hand {r.by_hand_s:.2f} s, ratio {r.ratio:.3f}")
        if r.no_speedups_s is not None:
            line += (f"; without speed-ups {r.no_speedups_s:.2f} s, "
                     f"ratio {r.ratio_no_speedups:.3f}")
        print(line, flush=True)
    return warmup, results


# --- reporting -------------------------------------------------------------------------


def medians(rounds: list[Round]) -> dict[str, Any]:
    # The ratio's median is taken over per-round ratios, not as a ratio of medians:
    # each round's sides ran under the same load, which is the point of pairing them.
    med: dict[str, Any] = {
        "reviewkit_s": statistics.median(r.reviewkit_s for r in rounds),
        "by_hand_s": statistics.median(r.by_hand_s for r in rounds),
        "ratio": statistics.median(r.ratio for r in rounds),
        "ratio_min": min(r.ratio for r in rounds),
        "ratio_max": max(r.ratio for r in rounds),
        "by_hand_steps": {
            step: statistics.median(r.by_hand_steps[step] for r in rounds) for step in HAND_STEPS
        },
        "reviewkit_stages": _stage_medians([r.reviewkit_stages for r in rounds]),
    }
    nospd = [r for r in rounds if r.no_speedups_s is not None]
    if nospd:
        med["no_speedups_s"] = statistics.median(r.no_speedups_s or 0.0 for r in nospd)
        med["ratio_no_speedups"] = statistics.median(r.ratio_no_speedups or 0.0 for r in nospd)
        med["no_speedups_stages"] = _stage_medians([r.no_speedups_stages for r in nospd])
    return med


def _stage_medians(per_round: list[dict[str, float]]) -> dict[str, float]:
    """Median of each stage that every round reported, in the order reviewkit ran them."""
    if not per_round or not all(per_round):
        return {}
    names = [n for n in per_round[0] if all(n in s for s in per_round)]
    return {n: statistics.median(s[n] for s in per_round) for n in names}


def print_table(rounds: list[Round]) -> None:
    nospd = any(r.no_speedups_s is not None for r in rounds)
    extra_head = f"  {'rk no-spd':>9}  {'ratio':>6}" if nospd else ""
    head = (
        f"{'round':>5}  {'first':<9}  {'reviewkit':>9}  {'by hand':>9}  "
        f"{'papermill':>9}  {'nbconvert':>9}  {'weasyprint':>10}  {'ratio':>6}{extra_head}"
    )
    print(head)
    print("-" * len(head))

    def extra(s: float | None, ratio: float | None) -> str:
        if not nospd or s is None or ratio is None:
            return ""
        return f"  {s:>9.2f}  {ratio:>6.3f}"

    for r in rounds:
        s = r.by_hand_steps
        first = "reviewkit" if r.order[0] == RK else "by hand"
        print(
            f"{r.round:>5}  {first:<9}  {r.reviewkit_s:>9.2f}  {r.by_hand_s:>9.2f}  "
            f"{s['papermill']:>9.2f}  {s['nbconvert']:>9.2f}  {s['weasyprint']:>10.2f}  "
            f"{r.ratio:>6.3f}{extra(r.no_speedups_s, r.ratio_no_speedups)}"
        )
    print("-" * len(head))
    med = medians(rounds)
    s = med["by_hand_steps"]
    print(
        f"{'median':>5}  {'':<9}  {med['reviewkit_s']:>9.2f}  {med['by_hand_s']:>9.2f}  "
        f"{s['papermill']:>9.2f}  {s['nbconvert']:>9.2f}  {s['weasyprint']:>10.2f}  "
        f"{med['ratio']:>6.3f}{extra(med.get('no_speedups_s'), med.get('ratio_no_speedups'))}"
    )
    print("(seconds; ratio = reviewkit / by hand, per round; medians per column)")
    for key, label in (("reviewkit_stages", "reviewkit"),
                       ("no_speedups_stages", "reviewkit without speed-ups")):
        stages = med.get(key)
        if stages:
            print(f"median stages of {label}: "
                  + ", ".join(f"{name} {sec:.2f}" for name, sec in stages.items()))


def _source_fingerprint() -> str:
    """A short hash of what reviewkit builds from, to tell whether it changed mid-run.

    Others may edit the build while the benchmark runs; a changed fingerprint between
    start and end means the rounds did not all measure the same code.  The action store
    is data, not code, and is left out (the benchmark works on a snapshot of it anyway).
    """
    digest = hashlib.sha256()
    tracked = [ROOT / "src" / "reviewkit", ROOT / "notebooks", ROOT / "params"]
    for base in tracked:
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts or ".sqlite" in path.name:
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=5, help="timed rounds after the warm-up (default: 5)"
    )
    parser.add_argument(
        "--cadence", choices=(*CADENCES, "all"), default="all",
        help="which demo pack to benchmark (default: all three, one after the other)",
    )
    parser.add_argument(
        "--no-speedups-too", action="store_true",
        help="also time reviewkit with REVIEWKIT_NO_SPEEDUPS=1 for monthly and quarterly "
             "(weekly always includes it)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write raw results here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    chosen = list(CADENCES.values()) if args.cadence == "all" else [CADENCES[args.cadence]]

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
    print("reviewkit benchmark: `reviewkit build` vs papermill + nbconvert + weasyprint by hand")
    print(f"  cadences: {', '.join(c.name for c in chosen)}; {args.rounds} timed rounds each "
          "after one warm-up")
    print(f"  started {machine['started']} on {machine['host']} ({machine['platform']})")
    print(f"  nproc {machine['nproc']}, Python {machine['python']} ({sys.executable})")
    print(f"  git HEAD {machine['git_head']}, source fingerprint "
          f"{machine['source_fingerprint_start']}")
    print(f"  load average at start (1/5/15 min): {_fmt_load(machine['load_start'])}")
    print("  goals: median ratio reviewkit / by hand <= "
          + ", ".join(f"{name} {goal}" for name, goal in GOALS.items()))

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-inputs-") as tmp:
        work = Path(tmp)
        try:
            # One snapshot of the store for the whole run, taken before anything is built,
            # so every cadence starts from the same state whatever happens to the original.
            sources = {_store_source(ROOT / c.params) for c in chosen}
            if len(sources) != 1:
                raise SetupFailed("the params files name different stores: "
                                  + "; ".join(str(s[0]) for s in sources))
            (store_source, note) = sources.pop()
            snapshot = work / STORE_FILE
            store_note = note or snapshot_store(store_source, snapshot)
            print(f"  action store: {store_note}; the repository's store is not written")
        except (SetupFailed, OSError, sqlite3.Error) as exc:
            print(f"\nFAILED: preparing inputs: {exc}", file=sys.stderr)
            return 1

        for cadence in chosen:
            no_speedups = cadence.name == "weekly" or args.no_speedups_too
            print()
            print(f"== {cadence.name}: {cadence.notebook}, {cadence.params}, "
                  f"period {cadence.period}")
            try:
                folder = work / cadence.name
                folder.mkdir()
                params = copy_params(ROOT / cadence.params, folder)
                if snapshot.is_file():
                    shutil.copyfile(snapshot, folder / STORE_FILE)
                load = _load()
                print(f"  params copy: {params}; load average now: {_fmt_load(load)}")
                warmup, rounds = run_cadence(cadence, params, args.rounds, no_speedups)
            except (CommandFailed, SetupFailed, OSError) as exc:
                print(f"\nFAILED ({cadence.name}): {exc}", file=sys.stderr)
                return 1
            print()
            print_table(rounds)
            results[cadence.name] = {
                "config": {**asdict(cadence), "rounds": args.rounds},
                "load_at_start": load,
                "warmup": warmup,
                "rounds": [
                    {**asdict(r), "ratio": r.ratio, "ratio_no_speedups": r.ratio_no_speedups}
                    for r in rounds
                ],
                "medians": medians(rounds),
            }

    machine["finished"] = _now()
    machine["load_end"] = _load()
    machine["source_fingerprint_end"] = _source_fingerprint()

    print()
    print("== summary: median ratio reviewkit / by hand")
    for name, res in results.items():
        med = res["medians"]
        met = med["ratio"] <= GOALS[name]
        line = (f"  {name:<9} {med['ratio']:.3f}  (min {med['ratio_min']:.3f}, "
                f"max {med['ratio_max']:.3f}; {med['reviewkit_s']:.2f} s vs "
                f"{med['by_hand_s']:.2f} s; goal <= {GOALS[name]})  "
                f"{'MET' if met else 'NOT MET'}")
        print(line)
        if "ratio_no_speedups" in med:
            print(f"  {'':<9} {med['ratio_no_speedups']:.3f}  with REVIEWKIT_NO_SPEEDUPS=1 "
                  f"({med['no_speedups_s']:.2f} s)")
    print(f"finished {machine['finished']}; load average at end (1/5/15 min): "
          f"{_fmt_load(machine['load_end'])}")
    if machine["source_fingerprint_end"] != machine["source_fingerprint_start"]:
        # Not an error (the benchmark itself worked), but the rounds may mix two builds.
        print(f"WARNING: the sources changed during the run (fingerprint "
              f"{machine['source_fingerprint_start']} -> {machine['source_fingerprint_end']}); "
              "rounds may have measured different code")

    if args.json:
        document = {
            "machine": machine,
            "goal_ratio": GOALS,
            "store": store_note,
            "cadences": results,
            "goal_met": {n: r["medians"]["ratio"] <= GOALS[n] for n, r in results.items()},
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"raw results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
