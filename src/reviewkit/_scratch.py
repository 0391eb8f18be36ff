"""Private temporary folders that a process killed outright does not leave behind for good.

A build makes a few folders in the temporary folder: the prepared pack its kernel reads (the
pack's figures), the kernel's socket files and log, DuckDB's spill. Each is removed when the
build ends. A build killed outright runs no clean-up: SIGKILL, the kernel's out-of-memory
killer, a batch's time limit ending its worker. So each folder holds a file locked (``flock``)
by the process that made it, for as long as that process lives; Linux releases the lock when its
holder dies, however it dies. Making a folder first sweeps away every folder of ours whose lock
is free. A folder whose lock cannot be taken (alive, or another user's) is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

#: The names this module gives its folders start with one of these.
PREFIXES = ("reviewkit-", "rk-kernel-")
#: The locked file in each folder.
OWNER = ".owner"

#: The folders this process made and still holds: folder -> the locked file's descriptor.
_held: dict[str, int] = {}


def make(prefix: str, parent: str | Path | None = None) -> Path:
    """A new private folder (mode 0700) named ``prefix`` and eight random characters, under
    ``parent`` (default: the temporary folder), held by this process until :func:`remove`."""
    if not prefix.startswith(PREFIXES):
        raise ValueError(f"a scratch folder's name starts with one of {PREFIXES}")
    sweep(parent)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    # Locked under another name, then renamed: a sweep only ever sees a held OWNER file.
    taking = folder / f"{OWNER}.new"
    descriptor = os.open(taking, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.rename(taking, folder / OWNER)
    except BaseException:
        os.close(descriptor)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _held[str(folder)] = descriptor
    return folder


def remove(folder: Path) -> None:
    """Remove a folder :func:`make` gave, and let go of it."""
    shutil.rmtree(folder, ignore_errors=True)
    descriptor = _held.pop(str(folder), None)
    if descriptor is not None:
        os.close(descriptor)


def sweep(parent: str | Path | None = None) -> list[Path]:
    """Remove the folders of ours under ``parent`` (default: the temporary folder) whose
    process is gone; returns them."""
    root = Path(parent if parent is not None else tempfile.gettempdir())
    try:
        names = [entry.name for entry in os.scandir(root)
                 if entry.name.startswith(PREFIXES) and entry.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    removed = []
    for name in names:
        folder = root / name
        if str(folder) in _held:
            continue
        try:
            descriptor = os.open(folder / OWNER, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # being made, made by an older reviewkit, or not ours to read
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            continue  # its process is alive
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(descriptor)
        removed.append(folder)
    if removed:
        log.info("removed %d temporary folder(s) left by killed builds", len(removed))
    return removed


@contextlib.contextmanager
def folder(prefix: str) -> Iterator[Path]:
    """A scratch folder for the ``with`` block."""
    made = make(prefix)
    try:
        yield made
    finally:
        remove(made)
