"""Where a local batch worker starts.

The workers are forked from multiprocessing's fork server, a fresh single-threaded process that
imports the pipeline once (:mod:`reviewkit.run._preload`, with the speed-ups first and one BLAS
thread): two workers cost one import instead of two, and a worker replaced after a time limit
starts at once. Forking the batch process itself would not be safe: it has threads (progress,
SQLAlchemy pools) whose locks a child can inherit held.

A forked worker starts with the server's folder and environment, fixed when the server started;
it takes the batch's own, sent with it, so a worker sees what a process started now would see.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Mapping
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext

from reviewkit import _speedups

#: What the fork server imports before it forks any worker.
PRELOAD = "reviewkit.run._preload"


def worker_context() -> BaseContext:
    """The context local workers are started in: the fork server, preloading the pipeline,
    started now (it imports while the batch prepares its first pack), on Linux; spawn
    elsewhere (Windows has no fork, and on macOS a process that loaded system frameworks, as
    the PDF and chart libraries do, must not fork without exec)."""
    if (not sys.platform.startswith("linux")
            or "forkserver" not in multiprocessing.get_all_start_methods()):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])
    from multiprocessing import forkserver  # deferred: only where there is one

    try:
        forkserver.ensure_running()
    except OSError:  # no socket for it (a full or read-only temporary folder): start each
        return multiprocessing.get_context("spawn")
    return context


def worker_main(tasks: Connection, memory: int | None, cwd: str,
                environment: Mapping[str, str]) -> None:
    # One BLAS thread per worker, set before numpy loads (a worker spawned where there is no
    # fork server loads it here): the batch's parallelism is its workers (N workers of N BLAS
    # threads each would oversubscribe the cores), and each BLAS thread's buffer is address
    # space a --memory-limit must hold. A value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _speedups.apply()
    # Deferred for start-up time: the worker's module imports the whole pipeline, nbformat
    # included, which must come after the speed-ups (already imported in a forked worker).
    from reviewkit.run.workers import _worker_main

    _worker_main(tasks, memory, cwd, environment)
