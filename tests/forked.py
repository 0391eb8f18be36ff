"""reviewkit in a child process forked from a fork server that imported the pipeline once.

Many tests need a process of their own for a command: to kill it half-way, to run it beside
other work, to give it a clock of its own. A console script pays for importing the pipeline
again each time (about 1.3 s of CPU; the suite ran some forty such children). These children
are forked instead from the fork server a batch forks its workers from
(:mod:`reviewkit.run._spawned`, preloading :mod:`reviewkit.run._preload`): the same start as a
batch worker's, with the folder, the environment, stdout and stderr of a process started now.

What is about the console script itself (its entry point, its start-up, resource limits set
before it starts) is tested with the real one: tests/test_cli.py, the bad-input sweep's cases
under a limit, ``make demo``.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reviewkit.run._spawned import worker_context

REPO = Path(__file__).resolve().parents[1]


def _child(target: str, args: Sequence[Any], cwd: str, env: Mapping[str, str],
           stdout: str, stderr: str) -> None:
    """In the forked child: become a process started now in ``cwd`` with ``env``, its output
    in the two files, then run ``module:function(*args)`` and exit with what it returns."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # chosen again from this environment's TMPDIR, as at a start
    for fd, path in ((1, stdout), (2, stderr)):
        opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    module, _, function = target.partition(":")
    code: Any = 1
    try:
        code = getattr(importlib.import_module(module), function)(*args)
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


def cli(argv: Sequence[str]) -> int:
    """``reviewkit ARGV``, as the console script runs it."""
    from reviewkit.cli import main

    return main(list(argv))


class Child:
    """A forked child running ``target`` (``module:function``) with ``args``; its stdout and
    stderr go to files in ``logs`` (a temporary folder when not given), never to a pipe a
    chatty child could fill."""

    def __init__(self, target: str, args: Sequence[Any], *, cwd: Path | str = REPO,
                 env: Mapping[str, str] | None = None, logs: Path | None = None) -> None:
        self._own_logs = logs is None
        self.logs = Path(tempfile.mkdtemp(prefix="forked-")) if logs is None else logs
        self.logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = self.logs / "stdout.txt", self.logs / "stderr.txt"
        self._process = worker_context().Process(  # type: ignore[attr-defined]
            target=_child, args=(target, tuple(args), str(cwd),
                                 dict(os.environ if env is None else env),
                                 str(self.stdout_path), str(self.stderr_path)))
        self._process.start()

    @property
    def pid(self) -> int:
        return int(self._process.pid)

    def poll(self) -> int | None:
        code: int | None = self._process.exitcode
        return code

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: the signal that ended it), as ``subprocess`` gives it."""
        self._process.join(timeout)
        if self._process.exitcode is None:
            self.kill()
            raise subprocess.TimeoutExpired(f"forked {self._process}", timeout or 0)
        code: int = self._process.exitcode
        return code

    def kill(self) -> None:
        if self._process.exitcode is None:
            self._process.kill()
            self._process.join()

    def send_signal(self, signal: int) -> None:
        os.kill(self.pid, signal)

    def output(self) -> tuple[str, str]:
        return (self.stdout_path.read_text(encoding="utf-8", errors="replace"),
                self.stderr_path.read_text(encoding="utf-8", errors="replace"))

    def finished(self, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Wait, and what it did as ``subprocess.run`` reports it."""
        returncode = self.wait(timeout)
        stdout, stderr = self.output()
        if self._own_logs:
            shutil.rmtree(self.logs, ignore_errors=True)
        return subprocess.CompletedProcess(self._process.name, returncode, stdout, stderr)


def run(argv: Sequence[str | Path], *, cwd: Path | str = REPO,
        env: Mapping[str, str] | None = None,
        timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``reviewkit ARGV`` in a forked child, waited for, as ``subprocess.run`` reports it."""
    return Child("forked:cli", [[str(arg) for arg in argv]], cwd=cwd,
                 env=env).finished(timeout)


def start(argv: Sequence[str | Path], *, cwd: Path | str = REPO,
          env: Mapping[str, str] | None = None, logs: Path | None = None) -> Child:
    """``reviewkit ARGV`` started in a forked child."""
    return Child("forked:cli", [[str(arg) for arg in argv]], cwd=cwd, env=env, logs=logs)
