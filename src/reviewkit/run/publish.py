"""Writing a pack folder whole or not at all.

A pack is built in a private staging folder beside its final place and swapped in with one
atomic rename, under a lock, so readers see either the previous good pack or the new one, never
a mix, and two builds of the same pack cannot interleave.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from reviewkit.errors import EnvironmentFailure, UsageError
from reviewkit.outputs.data import MANIFEST_FILE

_RENAME_EXCHANGE = 2  # linux/fs.h


def staging_dir(final: Path) -> Path:
    """A fresh folder next to ``final`` (same filesystem, so the final rename is atomic)."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        clean_abandoned(final)
        staging = final.parent / f".{final.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
    except OSError as exc:
        # Why: an output folder that cannot be created (a path through a file, no permission, a
        # read-only disk) is a bad --out, not a crash: it used to end in a raw traceback.
        raise UsageError(
            f"cannot write the pack under {final.parent}: {exc.strerror or exc}; "
            "choose another output folder (--out)"
        ) from exc
    return staging


def clean_abandoned(final: Path) -> None:
    """Remove staging and retired folders left by builds that were killed (their process is
    gone)."""
    for prefix in (f".{final.name}.staging-", f".{final.name}.previous-"):
        for entry in final.parent.glob(f"{prefix}*"):
            try:
                pid = int(entry.name[len(prefix):].split("-")[0])
            except ValueError:
                continue
            if not _alive(pid):
                shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def locked(final: Path) -> Iterator[None]:
    """An exclusive lock per pack folder, held while it is swapped."""
    lock_path = final.parent / f".{final.name}.lock"
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


#: The folder inside a pack that keeps its earlier published versions: ``versions/<n>/``.
VERSIONS = "versions"


def published_version(folder: Path) -> int | None:
    """The version number of the published (final) pack in ``folder``; None for a draft, a
    missing or an unreadable manifest."""
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("state") != "final":
        return None
    version = manifest.get("version", 1)  # packs from before versions were counted
    return version if isinstance(version, int) and version >= 1 else None


def keep_versions(final: Path, staging: Path) -> None:
    """Copy the earlier published versions of the pack at ``final`` into ``staging``: its
    ``versions/`` folder, and the pack itself when it is a published one, as
    ``versions/<n>/``. Copies, so the pack at ``final`` stays whole until the swap."""
    if not final.is_dir():
        return
    kept = staging / VERSIONS
    earlier = final / VERSIONS
    if earlier.is_dir():
        shutil.copytree(earlier, kept, dirs_exist_ok=True)
    version = published_version(final)
    if version is not None and not (kept / str(version)).exists():
        shutil.copytree(final, kept / str(version), ignore=shutil.ignore_patterns(VERSIONS))


def commit(staging: Path, final: Path) -> None:
    """Put the finished ``staging`` folder at ``final``, replacing any previous pack atomically.

    Earlier published versions of the pack are kept inside the new one (``versions/<n>/``):
    a published pack is never overwritten, only succeeded.
    """
    with swapped_in(staging, final):
        pass


@contextlib.contextmanager
def swapped_in(staging: Path, final: Path) -> Iterator[None]:
    """Swap the finished ``staging`` folder in at ``final`` for the body of the ``with``; if the
    body fails (e.g. recording the pack in the store), swap the previous pack back, so the
    swap and what goes with it are one outcome. The pack's lock is held throughout, and the
    pack's earlier published versions are copied into ``staging`` under it (:func:`keep_versions`),
    so two builds cannot both think they succeed the same version."""
    with locked(final):
        try:
            keep_versions(final, staging)
            for path in staging.rglob("*"):
                if path.is_file():
                    with path.open("rb") as handle:
                        os.fsync(handle.fileno())
        except OSError as exc:
            raise EnvironmentFailure(f"cannot write the pack under {final.parent}: "
                                     f"{exc.strerror or exc}") from exc
        retired = _swap(staging, final)
        try:
            yield
        except BaseException:
            _swap_back(staging, final, retired)
            raise
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)


def _swap(staging: Path, final: Path) -> Path | None:
    """Put ``staging`` at ``final``; the path now holding the previous pack, or None."""
    if not final.exists():
        staging.rename(final)
        return None
    if _exchange(staging, final):
        return staging  # it now holds the previous pack
    # Fallback: two renames; the previous pack stays on disk until the new one is in place.
    retired = final.parent / f".{final.name}.previous-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    final.rename(retired)
    staging.rename(final)
    return retired


def _swap_back(staging: Path, final: Path, retired: Path | None) -> None:
    """Undo :func:`_swap`: the previous pack (if any) back at ``final``, the new one discarded."""
    if retired is None:
        final.rename(staging)
    elif retired == staging:
        _exchange(staging, final)
    else:
        final.rename(staging)
        retired.rename(final)
    shutil.rmtree(staging, ignore_errors=True)


def refuse_over_unit_packs(final: Path) -> None:
    """Refuse to replace a folder that holds other packs (a batch's units and group under a
    period): swapping it whole would throw them away."""
    if not final.is_dir():
        return
    inside = sorted(entry.name for entry in final.iterdir()
                    if entry.is_dir() and (entry / MANIFEST_FILE).is_file())
    if inside:
        raise UsageError(
            f"{final} holds the packs of units ({', '.join(inside)}), which replacing it would "
            "delete; build this definition with units (e.g. reviewkit batch --units all) so "
            "its group pack goes to group/, or choose another --out"
        )


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
