"""One error hierarchy for reviewkit; the command line maps each class to an exit code."""

from __future__ import annotations

from pathlib import Path

#: How much of a value a message quotes: enough to find it, never a whole damaged line.
QUOTED_CHARS = 40


def quoted(text: str) -> str:
    """A value as a message quotes it: in quotes with control characters escaped (``'8_8.1'``),
    and cut, with its length, when it is long (``'xxxx…' (20,781 characters)``)."""
    if len(text) <= QUOTED_CHARS:
        return repr(text)
    return f"{text[:QUOTED_CHARS]!r}… ({len(text):,} characters)"


class ReviewkitError(Exception):
    """Root of every error reviewkit raises on purpose.

    ``exit_code`` is what the command line exits with; the message is printed as one line.
    """

    exit_code = 1

    def one_line(self) -> str:
        """The message as the command line prints it: one line, no traceback."""
        return " ".join(str(self).split())


class InputError(ReviewkitError):
    """An input file (params, catalog, measurements, minutes …) is missing or breaks the contract.

    Carries the file and, where known, the line or row and the field, so the message can point
    the user at the exact place to fix.
    """

    exit_code = 2

    def __init__(
        self,
        file: str | Path | None,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        row_label: str = "line",
    ) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.message = message
        self.row_label = row_label
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f", {self.row_label} {self.line}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


class UsageError(ReviewkitError):
    """The command line was called with arguments that cannot work together."""

    exit_code = 2


class EnvironmentFailure(ReviewkitError):
    """The machine failed, not the input: a store that is damaged, cannot be written or cannot
    be reached, a full disk. Fix the environment and run the same command again."""

    exit_code = 4


class ExecutionError(ReviewkitError):
    """The pack notebook failed while executing; the failed notebook is kept for inspection."""

    exit_code = 1

    def __init__(self, message: str, *, notebook: Path | None = None) -> None:
        self.notebook = notebook
        if notebook is not None:
            message = f"{message} (the failed notebook is kept at {notebook})"
        super().__init__(message)


class ExportError(ReviewkitError):
    """Turning the executed notebook into HTML or PDF failed."""

    exit_code = 1
