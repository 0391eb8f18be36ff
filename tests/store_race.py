"""Processes racing on one action store (tests/test_store.py): each is forked from the fork
server (tests/forked.py), which imported the store's code once, opens the store, waits at a
barrier until every other one has too, then writes; it prints what it did.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from threading import BrokenBarrierError
from typing import Any

#: How long a racer waits for the others to be ready before giving up.
READY_TIMEOUT_S = 60


def add_actions(start: Any, location: str, name: str, count: int, open_first: bool) -> int:
    """Add ``count`` actions owned by ``name``; with ``open_first`` the store is opened before
    the start, else right after it (so the racers race to create it)."""
    from reviewkit.store.database import Store

    store = Store.open(location) if open_first else None
    if not _ready(start):
        return 3
    store = store or Store.open(location)
    for number in range(count):
        store.add_action(title=f"{name}-{number}", owner=name, due=dt.date(2025, 2, 1),
                         effective=dt.date(2025, 1, 6), by=name, source="concurrency test")
    store.dispose()
    print("done", flush=True)
    return 0


def import_minutes(start: Any, location: str, path: str) -> int:
    """Import the minutes file at ``path``; print whether this process imported it."""
    from reviewkit.store.database import Store
    from reviewkit.store.minutes import import_minutes as import_them
    from reviewkit.store.minutes import load_minutes

    store = Store.open(location)
    minutes = load_minutes(Path(path), {"uptime"})
    if not _ready(start):
        return 3
    result = import_them(store, minutes, by="w")
    store.dispose()
    print("already" if result.already_imported else "imported", flush=True)
    return 0


def _ready(start: Any) -> bool:
    """Wait at the barrier ``start`` for the others; False (said on stderr) if they never come."""
    try:
        start.wait(READY_TIMEOUT_S)
    except BrokenBarrierError:
        print("the other racers never got ready", file=sys.stderr, flush=True)
        return False
    return True
