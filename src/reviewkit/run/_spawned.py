"""Where a spawned batch worker starts: the speed-ups first (blocking an import must come before
nbformat is imported, see :mod:`reviewkit._speedups`), then the worker itself."""

from __future__ import annotations

from multiprocessing.connection import Connection

from reviewkit import _speedups


def worker_main(tasks: Connection, memory: int | None) -> None:
    _speedups.apply()
    # Deferred for start-up time: the worker's module imports the whole pipeline, nbformat
    # included, which must come after the speed-ups.
    from reviewkit.run.workers import _worker_main

    _worker_main(tasks, memory)
