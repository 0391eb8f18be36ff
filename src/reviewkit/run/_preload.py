"""Imported by the batch's fork server, once, before it forks any worker
(:mod:`reviewkit.run._spawned`): the pipeline every pack needs, imported the way a worker
would import it. Never imported anywhere else: importing it is the work."""

from __future__ import annotations

import contextlib
import os

# Before numpy loads: one BLAS thread (and no BLAS thread at all to be forked with).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from reviewkit import _speedups

_speedups.apply()

# A failure here (too little memory, a missing library) is each worker's to report: the
# worker warms up again, and what failed here fails there with its own words.
with contextlib.suppress(Exception):
    from reviewkit.run import workers

    workers.warm_up()


# What a pack's kernel imports and compiles before its first cell, for the kernels forked from
# here (reviewkit.run._kernel_fork); a kernel that fails to, fails in its own words.
with contextlib.suppress(Exception):
    # Each import is the work (and its kernel's).
    import ipykernel.kernelapp

    # What IPKernelApp imports as it starts: its kernel's debugger (debugpy, a tenth of a
    # second of CPU in every kernel) and pdb with IPython's debugger (its exception hook).
    # debugpy's import warns on stderr (here a batch's terminal, not a kernel's log) that a
    # debugger may miss breakpoints in frozen modules: no pack's kernel is debugged. The
    # server's environment reaches neither its workers nor their kernels (each is given the
    # batch's own).
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    import ipykernel.debugger
    import ipykernel.ipkernel  # noqa: F401
    import IPython.core.debugger  # noqa: F401

    from reviewkit.run import notebook

    notebook.warm_up()
