"""Where a batch's packs are made: a pool of local worker processes, or a Dask cluster.

Each worker process imports the pipeline once (matplotlib, nbconvert, WeasyPrint and its
fonts) and then makes pack after pack, each on a kernel of its own. A pack has a time limit and
a memory limit: the local pool kills a worker whose pack runs over its time (its kernel dies
with it, PR_SET_PDEATHSIG) and starts a fresh one, so one runaway pack cannot take the batch
down; the memory limit caps the address space of the worker and of every kernel it starts.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal

from reviewkit import _speedups
from reviewkit.errors import EnvironmentFailure, ReviewkitError
from reviewkit.layout import charts
from reviewkit.outputs.pack import preload
from reviewkit.run import _process
from reviewkit.run.build import PackJob, produce
from reviewkit.run.gate import PublishRefused

Status = Literal["built", "skipped", "failed"]


@dataclass(frozen=True)
class Limits:
    """What one pack may use: wall-clock seconds, and bytes of address space (None: no cap)."""

    seconds: float = 900.0
    memory: int | None = 6 << 30


@dataclass(frozen=True)
class Outcome:
    """What became of one pack."""

    index: int
    status: Status
    seconds: float = 0.0
    error: str = ""
    worker: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    environment: bool = False  # failed because the machine failed (the store, the disk)
    #: Why publishing it was refused (the pack contradicts itself), each reason in full.
    refused: tuple[str, ...] = ()
    #: What the person running the batch should know of a pack built (one line each, as a
    #: single build prints them): characters its PDF cannot show, what its audit found.
    warnings: tuple[str, ...] = ()


#: A progress event: ("started", index) when a worker takes a pack, ("finished", outcome).
Event = tuple[Literal["started"], int] | tuple[Literal["finished"], Outcome]


def one_line_of(exc: BaseException) -> str:
    """An unexpected exception as one line: its type and message."""
    return " ".join(traceback.format_exception_only(type(exc), exc)[-1].split())


#: What a process says when it runs out of address space under RLIMIT_AS: Python's
#: MemoryError, a thread it cannot start, a C library's failed allocation.
_OUT_OF_MEMORY = ("MemoryError", "can't start new thread", "Resource temporarily unavailable",
                  "Cannot allocate memory", "std::bad_alloc", "out of memory",
                  "failed to map segment")


def memory_too_small(detail: str, memory: int | None, what: str = "the pack's kernel") -> str:
    """``detail`` in our words when it is an allocation that failed under the memory limit."""
    if memory is None or not any(word in detail for word in _OUT_OF_MEMORY):
        return detail
    return (f"{what} ran out of memory under the memory limit of {memory >> 20} MB; raise "
            "--memory-limit (a pack's worker and its kernel each need about 1 GB of address "
            "space), or 0 for no limit; nothing was published")


def make_one(index: int, job: PackJob, memory: int | None) -> Outcome:
    """Make one pack in this process; any error becomes a failed outcome naming it."""
    started = time.perf_counter()
    worker = f"{os.uname().nodename}:{os.getpid()}"
    try:
        result = produce(job, memory_limit=memory)
    except PublishRefused as exc:
        return Outcome(index, "failed", time.perf_counter() - started, exc.one_line(), worker,
                       refused=tuple(exc.reasons))
    except ReviewkitError as exc:
        return Outcome(index, "failed", time.perf_counter() - started,
                       memory_too_small(exc.one_line(), memory), worker,
                       environment=isinstance(exc, EnvironmentFailure))
    except Exception as exc:  # a bug or an environment problem: still only this pack's failure
        return Outcome(index, "failed", time.perf_counter() - started,
                       memory_too_small(one_line_of(exc), memory, "the pack's worker"), worker)
    return Outcome(index, "built", time.perf_counter() - started, "", worker,
                   dict(result.timings), warnings=(
                       *result.warnings,
                       *(f"the pack contradicts itself: {finding.describe()}"
                         for finding in result.findings)))


def warm_up() -> None:
    """Import what every pack needs once per worker, not once per pack."""
    charts.warm_up()
    preload()
    _speedups.import_papermill()
    _speedups.settle()


def _worker_main(tasks: Connection, memory: int | None, cwd: str,
                 environment: Mapping[str, str]) -> None:
    """A local worker: in the batch's folder and environment, capped, warmed up, then one pack
    per message until told to stop."""
    # A worker forked from the fork server starts in the server's folder and environment, as
    # they were when it started: the batch's own are sent with the worker.
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environment)
    # One BLAS thread for the pack's kernel too (reviewkit.run._spawned); a user's value is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch decides; Ctrl-C goes to it
    _die_with_parent()
    # Measured before the limit is set: forked with the pipeline loaded, a worker can be over
    # the limit before any pack, and under it even reading /proc can fail (an import in the
    # middle of it, with no memory left, ends in a SystemError instead of a MemoryError).
    held = _address_space()
    if memory is not None and held is not None and held > memory:
        unfit = memory_too_small(f"MemoryError: the pipeline alone holds {held >> 20} MB",
                                 memory, "the pack's worker")
    else:
        _process.cap_address_space(memory)
        try:
            warm_up()
            unfit = ""
        except Exception as exc:
            # Too little memory to even load the pipeline: each pack it is given says so, and
            # it stops. Under a limit a failed allocation inside an import can surface as any
            # exception (a SystemError, a RuntimeError), so under one every failure here is
            # taken for the limit, its own words kept.
            detail = one_line_of(exc)
            unfit = memory_too_small(detail if memory is None else f"MemoryError ({detail})",
                                     memory, "the pack's worker")
    while True:
        message = tasks.recv()
        if message is None:
            return
        index, job = message
        if unfit:
            tasks.send(Outcome(index, "failed", 0.0, unfit, f"{os.uname().nodename}:"
                               f"{os.getpid()}"))
            return
        tasks.send(make_one(index, job, memory))


def _address_space() -> int | None:
    """This process's address space in bytes (what RLIMIT_AS caps), where Linux tells."""
    try:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize()


def _die_with_parent() -> None:
    """A worker dies with its batch (even one killed with SIGKILL), and its kernel with it."""
    _process.die_with_parent()
    if sys.platform.startswith("linux") and os.getppid() == 1:
        os._exit(1)  # the batch died before the call took effect


#: How a worker process ends when an allocation fails in C code under its memory limit:
#: SIGABRT (an abort), SIGSEGV or SIGBUS, or exit code 1: OpenBLAS calls exit(1) when it cannot
#: allocate its buffers ("Memory allocation still failed after 10 retries, giving up"). The
#: worker itself never exits with 1: it reports every failure of a pack as an outcome.
_DIED_OF_MEMORY = (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS, 1)


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    index: int | None = None
    started: float = 0.0


class LocalPool:
    """``workers`` processes on this machine, each making one pack at a time."""

    def __init__(self, workers: int, limits: Limits, *,
                 target: Callable[[Connection, int | None, str, Mapping[str, str]], None]
                 | None = None,
                 context: BaseContext | None = None) -> None:
        self.size = max(1, workers)
        self.limits = limits
        # What a worker process runs, and how it is started: a batch passes those of
        # reviewkit.run._spawned (forked from a server that imported the pipeline once).
        self._target = target or _worker_main
        self._context = context or multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []

    def _start(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(  # type: ignore[attr-defined]
            target=self._target, args=(theirs, self.limits.memory, os.getcwd(), dict(os.environ)),
            name="reviewkit-worker", daemon=True)
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self._workers.append(worker)
        return worker

    def run(self, jobs: Iterator[tuple[int, PackJob]]) -> Iterator[Event]:
        """Make every job; yield events as packs start and finish, in the order they do."""
        pending = iter(jobs)
        exhausted = False
        busy = 0
        try:
            while True:
                for worker in list(self._workers) + [None] * (self.size - len(self._workers)):
                    if exhausted:
                        break
                    if worker is not None and worker.index is not None:
                        continue
                    try:
                        index, job = next(pending)
                    except StopIteration:
                        exhausted = True
                        break
                    worker = worker or self._start()
                    worker.conn.send((index, job))
                    worker.index, worker.started = index, time.perf_counter()
                    busy += 1
                    yield ("started", index)
                if exhausted and busy == 0:
                    return
                ready = wait([w.conn for w in self._workers if w.index is not None]
                             + [w.process.sentinel for w in self._workers if w.index is not None],
                             timeout=0.5)
                for worker in list(self._workers):
                    if worker.index is None:
                        continue
                    outcome = self._collect(worker, ready)
                    if outcome is not None:
                        busy -= 1
                        yield ("finished", outcome)
        finally:
            self.close()

    def _collect(self, worker: _Worker, ready: Sequence[Any]) -> Outcome | None:
        index = worker.index
        assert index is not None
        elapsed = time.perf_counter() - worker.started
        if worker.conn in ready:
            try:
                outcome: Outcome = worker.conn.recv()
            except (EOFError, OSError):
                outcome = None  # type: ignore[assignment]
            if outcome is not None:
                worker.index = None
                return outcome
        name = f"{os.uname().nodename}:{worker.process.pid}"
        if not worker.process.is_alive():
            self._retire(worker)
            code = worker.process.exitcode
            why = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            if self.limits.memory is not None and code in _DIED_OF_MEMORY:
                # Under RLIMIT_AS a failed allocation inside a C library aborts the process
                # (libzmq: "Resource temporarily unavailable") or exits it (OpenBLAS); nothing
                # else ends a worker so.
                return Outcome(index, "failed", elapsed, memory_too_small(
                    f"MemoryError ({why})", self.limits.memory, "the pack's worker"), name)
            return Outcome(index, "failed", elapsed, f"its worker process died ({why}); the "
                           "pack was not published", name)
        if elapsed > self.limits.seconds:
            self._retire(worker, kill=True)
            return Outcome(index, "failed", elapsed, f"took longer than the time limit of "
                           f"{self.limits.seconds:g} s and was stopped; nothing was published",
                           name)
        return None

    def _retire(self, worker: _Worker, kill: bool = False) -> None:
        if kill and worker.process.is_alive():
            worker.process.kill()  # its kernel dies with it (PR_SET_PDEATHSIG)
        worker.process.join(timeout=30)
        worker.conn.close()
        self._workers.remove(worker)

    def close(self) -> None:
        for worker in list(self._workers):
            if worker.index is None and worker.process.is_alive():
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        deadline = time.monotonic() + 10
        for worker in list(self._workers):
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=10)
            worker.conn.close()
        self._workers.clear()


def timed_make_one(index: int, job: PackJob, limits: Limits) -> Outcome:
    """:func:`make_one` on a Dask worker: a watchdog ends the whole worker process when the
    pack runs over its time limit (its kernel dies with it), since a thread cannot be stopped;
    Dask then reports the pack as failed once its retries are spent."""
    finished = threading.Event()

    def watch() -> None:
        if not finished.wait(limits.seconds):
            os._exit(70)  # EX_SOFTWARE: the scheduler sees a lost worker, the nanny restarts it

    threading.Thread(target=watch, daemon=True, name="reviewkit-time-limit").start()
    try:
        return make_one(index, job, limits.memory)
    finally:
        finished.set()


#: How the batch runs its packs: events as they start and finish.
Executor = Callable[[Iterator[tuple[int, PackJob]]], Iterator[Event]]
