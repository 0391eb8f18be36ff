"""`reviewkit batch` and `reviewkit index`: many packs at once, and the library page."""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import IO, Any

from reviewkit import cadences
from reviewkit.cli.batch_args import MIN_MEMORY_LIMIT_MB, TIME_LIMIT
from reviewkit.errors import EnvironmentFailure, UsageError
from reviewkit.run import library
from reviewkit.run.batch import (
    BatchOptions,
    BatchReport,
    PackReport,
    parse_units,
    plan,
    plan_json,
    run_batch,
)
from reviewkit.run.cluster import check_scheduler
from reviewkit.run.workers import Limits


def check_arguments(args: argparse.Namespace) -> None:
    """Every argument of `reviewkit batch` that can be checked alone, before anything runs."""
    if args.workers < 0:
        raise UsageError("--workers must be 1 or more (0: one per core)")
    if not math.isfinite(args.time_limit) or args.time_limit <= 0:
        raise UsageError(f"--time-limit {args.time_limit:g}: give the seconds one pack may take, "
                         f"more than 0 (default {TIME_LIMIT:g})")
    if args.memory_limit < 0 or 0 < args.memory_limit < MIN_MEMORY_LIMIT_MB:
        raise UsageError(f"--memory-limit {args.memory_limit}: give the megabytes a pack's "
                         f"worker and its kernel may each use, {MIN_MEMORY_LIMIT_MB} or more (each "
                         f"maps about 1 GB before it makes a pack), or 0 for no limit")
    if args.scheduler is not None:
        if args.executor != "dask":
            raise UsageError("--scheduler needs --executor dask")
        check_scheduler(args.scheduler)
    parse_units(args.units)
    for name in args.cadence or ():
        cadences.get(name)  # a usage error with a suggestion for a typo


def run_batch_command(args: argparse.Namespace) -> int:
    check_arguments(args)
    if args.plan:
        sys.stdout.write(plan_json(plan(args.params, args.out, units=args.units,
                                        cadence_names=args.cadence, period=args.period)))
        return 0
    options = BatchOptions(
        params=tuple(args.params), out=args.out, units=args.units,
        cadences=tuple(args.cadence) if args.cadence else None, period=args.period,
        workers=args.workers, force=args.force, executor=args.executor,
        scheduler=args.scheduler,
        limits=Limits(seconds=args.time_limit,
                      memory=(args.memory_limit << 20) if args.memory_limit else None),
    )
    display = None if args.quiet else Progress(sys.stderr)
    report = run_batch(options, display.update if display else None)
    if display:
        display.close()
    machine = [pack for pack in report.failed if pack.environment]
    if machine and len(machine) == len(report.packs):
        # Nothing could be built for the same kind of reason: say it once, as any command does.
        others = {pack.error for pack in machine} - {machine[0].error}
        raise EnvironmentFailure(
            f"{machine[0].error} (no pack was built: {len(machine)} pack"
            f"{'s' if len(machine) != 1 else ''} need"
            f"{'' if len(machine) != 1 else 's'} it"
            + (f"; {len(others)} other failure{'s' if len(others) != 1 else ''} of the machine "
               f"in {report.out / 'batch.json'}" if others else "") + ")")
    print_table(report, sys.stderr)
    print(report.out / "index.html")
    if machine:
        return EnvironmentFailure.exit_code
    return 1 if report.failed or any(item["kpi"] for item in report.consistency) else 0


def run_index(args: argparse.Namespace) -> int:

    if not args.out.is_dir():
        raise UsageError(f"{args.out} is not a folder; give the output folder of a build or batch")
    print(library.write_index(args.out.resolve()))
    return 0


class Progress:
    """Live progress: a bar on a terminal (tqdm), plain lines otherwise (logs, CI)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.started = time.perf_counter()
        self.bar: Any = None
        self.live = stream.isatty()

    def update(self, report: BatchReport, line: PackReport | None) -> None:
        total = len(report.packs)
        done = sum(1 for p in report.packs if p.status in ("built", "skipped", "failed"))
        running = sum(1 for p in report.packs if p.status == "waiting" and p.worker == "running")
        failed = report.count("failed")
        if line is None:
            return
        if self.live:
            if self.bar is None:
                from tqdm import tqdm  # deferred: only a terminal shows a bar

                self.bar = tqdm(total=total, file=self.stream, unit="pack",
                                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} "
                                           "[{elapsed}<{remaining}] {postfix}")
            self.bar.n = done
            self.bar.set_postfix_str(f"running {running}, failed {failed}", refresh=True)
            if line.status == "failed":
                self.bar.write(f"failed: {line.planned.name}: {line.error}", file=self.stream)
            return
        if line.status == "waiting":
            return  # plain lines: one per finished pack is enough for a log
        elapsed = time.perf_counter() - self.started
        left = elapsed / done * (total - done) if done else 0.0
        detail = f": {line.error}" if line.error else f" in {line.seconds:.1f} s"
        print(f"[{done}/{total}] {line.status} {line.planned.name}{detail} (running {running}, "
              f"failed {failed}, elapsed {_clock(elapsed)}, about {_clock(left)} left)",
              file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def print_table(report: BatchReport, stream: IO[str]) -> None:
    """Every pack with its result and time, then the consistency check."""
    rows = [(p.planned.name, p.status, f"{p.seconds:.1f} s" if p.status != "skipped" else "—",
             p.error) for p in report.packs]
    width = max([len("pack"), *(len(name) for name, *_ in rows)])
    print(f"\n{'pack'.ljust(width)}  result   time     error", file=stream)
    for name, status, seconds, error in rows:
        print(f"{name.ljust(width)}  {status.ljust(7)}  {seconds.rjust(7)}  {error}".rstrip(),
              file=stream)
    print(f"\n{report.count('built')} built, {report.count('skipped')} unchanged (skipped), "
          f"{report.count('failed')} failed in {_clock(report.seconds)} with "
          f"{report.workers} {report.executor} worker{'s' if report.workers != 1 else ''}; "
          f"report: {report.out / 'batch.json'}", file=stream)
    for item in report.consistency:
        mark = "disagrees" if item["kpi"] else "note"
        print(f"consistency {mark}: {item['pack']}: {item['detail']}", file=stream)
    for pack in report.packs:
        for warning in pack.warnings:
            print(f"warning: {pack.planned.name}: {warning}", file=stream)
