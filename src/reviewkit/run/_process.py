"""What a process reviewkit starts (a batch worker, a kernel, forked or started afresh) asks
of Linux before it works: to die with its parent, and to stay within the memory limit."""

from __future__ import annotations

import ctypes
import resource
import signal
import sys

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent ends, however it ends (SIGKILL
    included); elsewhere the parent's own shutdown does it."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def cap_address_space(limit: int | None) -> None:
    """Hold this process (and what it starts) to ``limit`` bytes of address space, so a runaway
    pack fails with MemoryError instead of exhausting the machine."""
    if limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
