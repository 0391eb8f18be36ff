"""reviewkit: weekly, monthly and quarterly review packs from parameterized notebooks."""

from __future__ import annotations

from importlib import metadata

from reviewkit.errors import ExecutionError, ExportError, InputError, ReviewkitError, UsageError

try:
    __version__ = metadata.version("reviewkit")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ExecutionError",
    "ExportError",
    "InputError",
    "ReviewkitError",
    "UsageError",
    "__version__",
]
