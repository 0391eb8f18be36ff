"""A single build's charts, drawn in a process forked as the build starts.

A build from the command line starts without matplotlib, and without the libraries of the
notebook's run and of the outputs (papermill, nbconvert, WeasyPrint, openpyxl, pypdf). On the
weekly demo pack, importing matplotlib and drawing the charts takes about 1 s of CPU, importing
the others about 0.9 s, and both stood between the publish gate and the first output, one after
the other in this process. A process forked as the build starts imports matplotlib on the
other core while this one reads the inputs and plans the narrative, then draws the charts once
the pack's evaluation is sent to it and hands back their PNG bytes; meanwhile this process
imports the others (``meanwhile``). The kernel boots beside them.

The charts are the same wherever they are drawn: the same function draws them from the same
evaluation. Anything going wrong in the process (it dies, it raises, it cannot be started)
leaves the charts to this process, as before: the same charts, later, and the same error if
drawing them fails.

It forks only where that is safe and worth it: on Linux, from a process with no other thread
(a forked child can inherit another thread's lock, held), that has not imported matplotlib
(a batch worker and a test process have: they draw at once), with a second core, and with
the speed-ups on (``REVIEWKIT_NO_SPEEDUPS=1`` draws here, as before).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from reviewkit import _speedups
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.layout.charts import render_charts, warm_up
from reviewkit.run._process import die_with_parent

logger = logging.getLogger(__name__)

#: How often a build waiting for its charts looks whether the process drawing them still runs.
_POLL_SECONDS = 0.5


def _draw_when_asked(connection: Connection) -> None:
    """In the forked process: import matplotlib, wait for the pack's evaluation, draw its
    charts and send them back (``None`` if drawing failed: the build draws them again and
    reports the failure in its own words)."""
    die_with_parent()
    # An interrupt is the build's to handle (it ends this process); left to this process, it
    # would print a traceback of its own under the build's one-line message.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        warm_up()
    except Exception:  # the build imports matplotlib itself and reports what fails
        return
    try:
        pack = connection.recv()
    except (EOFError, OSError):  # the build ended before its charts: nothing to draw
        return
    try:
        charts: dict[str, bytes] | None = render_charts(pack)
    except Exception:
        charts = None
    with contextlib.suppress(OSError):
        connection.send(charts)


def _worth_forking() -> bool:
    return (_speedups.enabled()
            and sys.platform.startswith("linux")
            and "matplotlib.figure" not in sys.modules
            and threading.active_count() == 1
            and (os.cpu_count() or 1) > 1)


class ChartProcess:
    """The process drawing one build's charts: :meth:`draw` hands it the evaluation."""

    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self._process = process
        self._connection = connection

    @classmethod
    def start(cls) -> ChartProcess | None:
        """The process, forked now, or ``None`` where drawing here is as quick or forking is
        not safe (see the module's notes)."""
        if not _worth_forking():
            return None
        context = multiprocessing.get_context("fork")
        mine, theirs = context.Pipe()
        process = context.Process(target=_draw_when_asked, args=(theirs,), daemon=True,
                                  name="reviewkit-charts")
        try:
            process.start()
        except OSError as exc:  # no process to be had (a limit on processes, no memory)
            logger.debug("charts drawn in the build's process: %s", exc)
            mine.close()
            return None
        finally:
            theirs.close()
        return cls(process, mine)

    def draw(self, pack: PackEvaluation,
             meanwhile: Callable[[], None] | None = None) -> dict[str, bytes]:
        """The pack's charts, by id, as :func:`render_charts` draws them; this process runs
        ``meanwhile`` while they are drawn."""
        charts = None
        try:
            self._connection.send(pack)
            if meanwhile is not None:
                meanwhile()
            while not self._connection.poll(_POLL_SECONDS):
                if not self._process.is_alive():
                    break
            else:
                charts = self._connection.recv()
        except (EOFError, OSError) as exc:
            logger.debug("the chart process ended early: %s", exc)
        finally:
            self.close()
        if charts is None:
            return render_charts(pack)
        return dict(charts)

    def close(self) -> None:
        """End the process (at once if it is still importing or drawing)."""
        self._connection.close()
        if self._process.is_alive():
            self._process.kill()
        self._process.join()

