"""A batch on a Dask distributed cluster: an existing one (``--scheduler tcp://HOST:8786``) or a
``LocalCluster`` of worker processes on this machine.

Each pack is one task. A worker that dies mid-pack (killed, out of memory, its machine gone)
loses nothing that was published: its pack is retried on another worker, and the atomic
publish means a half-made pack never appears. Every worker needs reviewkit installed (the same
version), the system libraries WeasyPrint needs, and the batch's input and output folders at
the same paths (a shared file system); see docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from reviewkit.errors import EnvironmentFailure, UsageError
from reviewkit.run._spawned import worker_context
from reviewkit.run.build import PackJob
from reviewkit.run.workers import Event, Limits, Outcome, timed_make_one

#: Times Dask re-runs a pack whose worker was lost before it gives up on it.
RETRIES = 2
#: How often the batch asks the scheduler which packs are running, in seconds.
POLL_SECONDS = 0.5


class ClusterError(EnvironmentFailure):
    """The Dask scheduler cannot be reached or the cluster cannot start (the machine's
    failure: exit code 4)."""


#: The schemes of the addresses a Dask scheduler listens on.
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def check_scheduler(address: str) -> str:
    """A ``--scheduler`` address as Dask takes it (``tcp://HOST:PORT``), or a usage error."""
    parsed = urlsplit(address.strip())
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme not in SCHEDULER_SCHEMES or not parsed.hostname or port is None or (
            parsed.path not in ("", "/")) or parsed.query or parsed.fragment:
        raise UsageError(f"--scheduler {address!r} is not a Dask scheduler address; give "
                         "tcp://HOST:PORT (the address `dask scheduler` prints, port 8786 by "
                         "default)")
    return address.strip()


def cluster_failure(exc: BaseException, limits: Limits) -> str:
    """Why a pack failed on the cluster, in our words: a lost worker (Dask's KilledWorker) on
    every try means the pack ran past its time limit, or its worker ran out of memory or
    died."""
    if type(exc).__name__ == "KilledWorker":
        memory = f" or over the memory limit of {limits.memory >> 20} MB" if limits.memory else ""
        return (f"its worker was lost on each of {RETRIES + 1} tries: the pack ran past the "
                f"time limit of {limits.seconds:g} s (--time-limit){memory}, or the worker "
                "died; nothing was published")
    return f"failed on the cluster after {RETRIES} retries: {type(exc).__name__}: {exc}"


class DaskPool:
    """Packs as tasks on a Dask cluster; started on first use, closed by :meth:`close`."""

    def __init__(self, workers: int, limits: Limits, scheduler: str | None = None) -> None:
        self.size = max(1, workers)
        self.limits = limits
        self.scheduler = scheduler
        self._client: Any = None
        self._cluster: Any = None
        self._settings = contextlib.ExitStack()

    def start(self) -> Any:
        try:
            # Deferred for start-up time: distributed imports tornado, msgpack and more, which
            # only a batch on Dask needs.
            from distributed import Client, LocalCluster
        except ModuleNotFoundError as exc:
            raise UsageError(f"--executor dask needs '{exc.name}'; pip install 'dask[distributed]'"
                             ) from exc
        try:
            if self.scheduler:
                self._client = Client(self.scheduler, timeout="20s")  # type: ignore[no-untyped-call]
            else:
                self._settings.enter_context(_forked_workers())
                # One thread per worker process: each pack runs its own kernel and PDF render,
                # which want a core each. No dashboard is wanted, but the scheduler serves HTTP
                # anyway: on a free port (":0"), never the usual 8787, which another cluster
                # may hold (distributed then warns the user about it); workers serve none.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                        n_workers=self.size, threads_per_worker=1, processes=True,
                        dashboard_address=":0", worker_dashboard_address=None,
                        memory_limit=self.limits.memory or 0,
                        # Its workers' and scheduler's chatter (a task cancelled on close, a
                        # worker restarted) is not the user's business; errors still show.
                        silence_logs=logging.ERROR)
                    self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            self.close()
            where = self.scheduler or "a local cluster"
            raise ClusterError(f"cannot reach the Dask scheduler at {where}: {exc}; start it, "
                               "or check the address") from exc
        except ValueError as exc:  # an address Dask cannot parse
            self.close()
            raise UsageError(f"--scheduler {self.scheduler!r}: {exc}") from exc
        return self._client

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else self.start()

    def worker_pids(self) -> dict[str, int]:
        """Each worker's process id (the tests kill one mid-batch)."""
        pids: dict[str, int] = self.client.run(os.getpid)
        return pids

    def run(self, jobs: Iterator[tuple[int, PackJob]]) -> Iterator[Event]:
        """Submit every job, then yield events as packs start and finish. A pack has started
        when a worker is running it (a worker holds more tasks than it runs at once: only as
        many as it has threads count), not when it was handed to the scheduler."""
        from distributed import wait  # deferred with the rest of distributed

        client = self.client
        pending: dict[str, tuple[int, Any]] = {}
        for index, job in jobs:
            future = client.submit(timed_make_one, index, job, self.limits, pure=False,
                                   retries=RETRIES, key=f"reviewkit-pack-{index}-{os.getpid()}")
            pending[future.key] = (index, future)
        started: set[str] = set()
        while pending:
            for key in sorted(self._running(client) - started, key=lambda k: pending.get(
                    k, (0, None))[0]):
                if key in pending:
                    started.add(key)
                    yield ("started", pending[key][0])
            try:
                done = wait(  # type: ignore[no-untyped-call]
                    [future for _, future in pending.values()], timeout=POLL_SECONDS,
                    return_when="FIRST_COMPLETED").done
            except TimeoutError:  # none finished yet: ask again which are running
                done = set()
            for future in sorted(done, key=lambda f: pending[f.key][0]):
                index, _ = pending.pop(future.key)
                if future.key not in started:
                    yield ("started", index)
                try:
                    outcome: Outcome = future.result()
                except Exception as exc:  # the task's worker was lost on every try, or it raised
                    outcome = Outcome(index, "failed", 0.0, cluster_failure(exc, self.limits))
                yield ("finished", outcome)

    @staticmethod
    def _running(client: Any) -> set[str]:
        """The tasks workers are running now: of those each worker holds, as many as it has
        threads (the scheduler hands a worker a few more to keep it busy)."""
        try:
            threads = client.nthreads()
            held = client.processing()
        except Exception:  # a worker lost mid-call: the next poll asks again
            return set()
        return {key for worker, keys in held.items() for key in list(keys)[:threads.get(worker, 1)]}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        self._settings.close()


def _forked_workers() -> contextlib.AbstractContextManager[Any]:
    """While the local cluster lives: its worker processes (and a worker started again after
    one was lost) are forked from the fork server of the local batch, which imported the
    pipeline once, instead of each starting Python afresh and importing it again (Dask's
    default, spawn). Where there is no fork server, Dask's default stays."""
    import dask  # deferred with the rest of distributed

    if worker_context().get_start_method() != "forkserver":
        return contextlib.nullcontext()
    setting: contextlib.AbstractContextManager[Any] = dask.config.set(
        {"distributed.worker.multiprocessing-method": "forkserver"})
    return setting
