"""Where a spawned batch worker starts: the speed-ups first (blocking an import must come before
nbformat is imported, see :mod:`reviewkit._speedups`), then the worker itself."""

from __future__ import annotations

import os
from multiprocessing.connection import Connection

from reviewkit import _speedups


def worker_main(tasks: Connection, memory: int | None) -> None:
    # One BLAS thread per worker, set before numpy loads: the batch's parallelism is its
    # workers (N workers of N BLAS threads each would oversubscribe the cores), and each BLAS
    # thread's buffer is address space a --memory-limit must hold. The pack's kernel inherits
    # it; a value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _speedups.apply()
    # Deferred for start-up time: the worker's module imports the whole pipeline, nbformat
    # included, which must come after the speed-ups.
    from reviewkit.run.workers import _worker_main

    _worker_main(tasks, memory)
