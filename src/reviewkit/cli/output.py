"""Files the command line writes where the user says (``--output``)."""

from __future__ import annotations

from pathlib import Path

from reviewkit.errors import UsageError


def write_output(path: Path, text: str) -> None:
    """Write ``text`` to the file ``--output`` names; a place that cannot take it (a missing
    folder, a folder, no permission) is the user's to fix, said on one line."""
    if path.is_dir():
        raise UsageError(f"--output {path}: is a folder; name the file to write")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        hint = ("; create the folder first" if isinstance(exc, FileNotFoundError) else "")
        raise UsageError(f"--output {path}: cannot write it ({exc.strerror or exc}){hint}"
                         ) from None
