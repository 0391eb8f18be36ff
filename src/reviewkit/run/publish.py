"""Writing a pack folder whole or not at all.

A pack is built in a private staging folder beside its final place and swapped in with one
atomic rename, under a lock, so readers see either the previous good pack or the new one, never
a mix, and two builds of the same pack cannot interleave.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import errno
import fcntl
import getpass
import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from reviewkit.errors import EnvironmentFailure, ReviewkitError, UsageError
from reviewkit.outputs.files import MANIFEST_FILE, NOTEBOOK_FILE, PDF_FILE

log = logging.getLogger(__name__)

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


def unwritable(folder: Path, exc: OSError, what: str = "the pack") -> ReviewkitError:
    """An output folder that cannot be written: a path through a file is a bad --out (exit 2);
    a read-only or full disk, or no permission, is the machine's (exit 4)."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, NotADirectoryError | FileExistsError) or exc.errno in (
            errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG):
        return UsageError(f"cannot write {what} under {folder}: {reason}; choose another "
                          "output folder (--out)")
    return EnvironmentFailure(f"cannot write {what} under {folder}: {reason}; free space or "
                              "make the folder writable, then run the command again")


def clean_abandoned(final: Path) -> None:
    """Remove staging and retired folders left by builds that were killed (their process is
    gone). A build killed between the two renames of a swap (where folders cannot be exchanged
    at once: NFS, SMB) left no pack at ``final`` and the previous pack retired: that pack is
    put back, never removed (the new pack's record in the store was never committed)."""
    staging = _abandoned(final, f".{final.name}.staging-")
    retired = sorted(_abandoned(final, f".{final.name}.previous-"), key=_modified,
                     reverse=True)
    if retired and not final.exists():
        # Under the pack's lock, which a swap holds: a live build between its own two renames
        # is never mistaken for a killed one.
        try:
            with locked(final, wait=False):
                if not final.exists():
                    retired[0].rename(final)
                    log.warning("put back the pack %s that a killed build had moved aside",
                                final)
        except (PackBusy, OSError):  # another build has the pack, or put it back already
            pass
        retired = retired[1:]
    for entry in (*staging, *retired):
        shutil.rmtree(entry, ignore_errors=True)


def _modified(folder: Path) -> int:
    try:
        return folder.stat().st_mtime_ns
    except OSError:  # removed by another build meanwhile
        return 0


def _abandoned(final: Path, prefix: str) -> list[Path]:
    """The folders beside ``final`` named ``prefix<pid>-…`` whose process is gone."""
    found = []
    for entry in final.parent.glob(f"{prefix}*"):
        try:
            pid = int(entry.name[len(prefix):].split("-")[0])
        except ValueError:
            continue
        if not _alive(pid):
            found.append(entry)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_path(final: Path) -> Path:
    return final.parent / f".{final.name}.lock"


#: The pack locks this process holds, by (folder, thread): a build holds its pack's lock from
#: reading the analyst's edits to the swap, and the swap inside it takes the same lock again.
_HELD: dict[tuple[Path, int], int] = {}
_HELD_GUARD = threading.Lock()


class PackBusy(EnvironmentFailure):
    """Another reviewkit process is building or publishing the same pack."""


@contextlib.contextmanager
def locked(final: Path, *, wait: bool = True,
           waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """An exclusive lock per pack, held by a build (or publish) from reading the analyst's
    edits to the swap, so builds and publishes of one pack happen one after another.

    Re-entrant within a thread. Without ``wait`` a lock held elsewhere raises
    :class:`PackBusy` naming the holder; with it, ``waiting`` is told who is waited for. The
    operating system releases the lock however its holder ends.
    """
    key = (final.resolve(), threading.get_ident())
    with _HELD_GUARD:
        if key in _HELD:
            _HELD[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
        return
    path = lock_path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+", encoding="utf-8")
    except OSError as exc:
        raise unwritable(final.parent, exc) from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another reviewkit process"
            if not wait:
                raise PackBusy(f"the pack {final} is being built by {holder}; run again once "
                               "it has finished") from None
            if waiting is not None:
                waiting(f"waiting for {holder}, which is building the same pack …")
            fcntl.flock(handle, fcntl.LOCK_EX)
        with contextlib.suppress(OSError):  # who holds it is a courtesy; a full disk is not
            handle.seek(0)
            handle.truncate()
            handle.write(f"reviewkit (pid {os.getpid()} on {socket.gethostname()}, user "
                         f"{_user()}, since {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC)\n")
            handle.flush()
        with _HELD_GUARD:
            _HELD[key] = 1
        try:
            yield
        finally:
            with _HELD_GUARD:
                del _HELD[key]
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_locked(final: Path) -> bool:
    """Whether some process holds the pack's lock now (a build of it is under way)."""
    path = lock_path(final)
    try:
        with path.open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


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


#: Where a draft goes while a published pack is in the pack's folder: beside it, as
#: ``<folder>.draft``; the next publication replaces the published pack and removes the draft.
DRAFT_SUFFIX = ".draft"


def draft_beside(final: Path) -> Path:
    return final.with_name(final.name + DRAFT_SUFFIX)


class PublishedMeanwhile(EnvironmentFailure):
    """The pack was published while this build was being made: it would be out of date."""


def place_for(final: Path, *, publishing: bool, found_published: int | None) -> Path:
    """Where a finished pack goes, decided under the pack's lock: a publication replaces the
    pack in ``final``; a draft replaces a draft, and goes beside a published pack, never over
    it. ``found_published`` is the version published in ``final`` when the build began (None:
    not checked); a later one means the pack was published meanwhile, and this build stops."""
    now = published_version(final) or 0
    if found_published is not None and now > found_published:
        raise PublishedMeanwhile(
            f"version {now} of the pack in {final} was published while this "
            f"{'publication' if publishing else 'draft'} was being made, so it would be out of "
            f"date; nothing was replaced: run the command again")
    if publishing or now == 0:
        return final
    return draft_beside(final)


#: What tells that a file was saved again: its inode (Jupyter saves by writing a new file and
#: renaming it over the old one), size and modification time in nanoseconds; None: no file.
Signature = tuple[int, int, int] | None


def signature(path: Path) -> Signature:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


class SavedMeanwhile(EnvironmentFailure):
    """An analyst saved the pack's notebook after the build had read its edits."""


def _refuse_if_saved(read: Sequence[tuple[str, Signature]]) -> None:
    """The notebooks whose edits a build read must be as it read them when the folders holding
    them are replaced, or hold no analyst's text: an analyst who saved one since would lose
    that text with the folder. (A notebook another build put there since, with no edits in
    it yet, loses nothing.)"""
    for path, seen in read:
        if signature(Path(path)) == seen or not _holds_text(Path(path)):
            continue
        raise SavedMeanwhile(
            f"{path} was saved after this build read its edits; nothing was replaced, so the "
            "text in it is still there: run the command again to keep it")


def _holds_text(path: Path) -> bool:
    """Whether an analyst's work is in a pack's notebook: an edit of its narrative, or a
    change a build would refuse to drop (a cell the build did not write, say)."""
    # Deferred for start-up time: nbformat's import costs seconds (jsonschema's grammar), and
    # only a notebook saved during a build is ever read here.
    from reviewkit.narrative.notebook import edits_in

    try:
        return bool(edits_in(path))
    except ReviewkitError:
        return True


def commit(staging: Path, final: Path) -> None:
    """Put the finished ``staging`` folder at ``final``, replacing any previous pack atomically.

    Earlier published versions of the pack are kept inside the new one (``versions/<n>/``):
    a published pack is never overwritten, only succeeded.
    """
    with swapped_in(staging, final):
        pass


@contextlib.contextmanager
def swapped_in(staging: Path, final: Path, *, publishing: bool = True,
               found_published: int | None = None,
               notebooks_read: Sequence[tuple[str, Signature]] = ()) -> Iterator[Path]:
    """Swap the finished ``staging`` folder in for the body of the ``with`` (it is given the
    folder it went to: ``final``, or beside a published pack for a draft, see
    :func:`place_for`); if the body fails (e.g. recording the pack in the store), swap the
    previous pack back, so the swap and what goes with it are one outcome. The pack's lock is
    held throughout, and the pack's earlier published versions are copied into ``staging``
    under it (:func:`keep_versions`), so two builds cannot both think they succeed the same
    version. A publication that succeeds removes the draft beside it: it supersedes it.
    ``notebooks_read``: the analyst's notebooks whose edits the build read, and their
    :func:`signature` then; one saved since stops the swap (:class:`SavedMeanwhile`)."""
    with locked(final):
        place = place_for(final, publishing=publishing, found_published=found_published)
        _refuse_if_saved(notebooks_read)
        try:
            if place == final:
                keep_versions(final, staging)
            for path in staging.rglob("*"):
                if path.is_file():
                    with path.open("rb") as handle:
                        os.fsync(handle.fileno())
        except OSError as exc:
            raise EnvironmentFailure(f"cannot write the pack under {final.parent}: "
                                     f"{exc.strerror or exc}") from exc
        retired = _swap(staging, place)
        try:
            yield place
        except BaseException:
            _swap_back(staging, place, retired)
            raise
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
        if publishing and place == final:
            shutil.rmtree(draft_beside(final), ignore_errors=True)


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


#: The pack's own notebook is the analyst's working copy: edited in Jupyter, so its hash in the
#: manifest is not expected to hold (its edits are collected before a pack is compared).
WORKING_COPY = NOTEBOOK_FILE


def whole_pack(folder: Path) -> bool:
    """Whether ``folder`` holds a whole pack: its manifest readable, and every output the
    manifest lists present with the hash it lists (the working-copy notebook present)."""
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        outputs = manifest["outputs"]
        if not isinstance(outputs, dict) or not outputs:
            return False
        for name, digest in outputs.items():
            path = folder / str(name)
            if not path.is_file() or (name != WORKING_COPY and _sha256(path) != digest):
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return (folder / WORKING_COPY).is_file() and (folder / PDF_FILE).is_file()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
