"""A pack's kernel forked from the batch's fork server instead of started afresh.

A kernel started as ``python -m ipykernel_launcher`` imports IPython, ipykernel, jupyter_client
and the notebook helpers, then compiles the section templates: about a second of CPU, in every
pack's kernel. The fork server a batch forks its workers from (:mod:`reviewkit.run._spawned`)
imported all of that once (:mod:`reviewkit.run._preload`), so a kernel forked from it starts
with nothing left to import: a fifth of the CPU. Where a build runs beside such a server (a
batch worker, forked from it; a process that started one), its kernel is forked there.

The forked kernel is the same program a fresh one is (``IPKernelApp`` on the connection file
jupyter_client wrote), in a session of its own, in the build's folder and environment, its
output in the build's kernel log. It dies with the build: its parent is the fork server, so it
also watches the build's process and ends its own session when the build is gone.

A batch's memory limit holds a forked kernel as it holds a worker forked from the same server:
its address space, the server's (about 250 MB) included. A kernel is started afresh, as before,
wherever forking is not possible: no fork server near this process, another interpreter or
kernel named by the kernel spec, or any failure to fork one (a later Python's fork server
speaking another protocol, say): it costs a second, never the pack.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from reviewkit.run import _process

log = logging.getLogger(__name__)

#: One request to the fork server at a time from this process (the builds of a server's
#: threads), as multiprocessing itself holds its lock while it asks.
_FORKING = threading.Lock()
#: The module a kernel spec's command runs (``python -m ipykernel_launcher -f <file>``).
_LAUNCHER = "ipykernel_launcher"
#: Where kernels are forked: Linux (a fork server), before Python 3.14, whose fork server
#: authenticates every request and passes more to its children (this module was checked
#: against 3.11's). Elsewhere every kernel starts afresh.
SUPPORTED = sys.platform.startswith("linux") and sys.version_info < (3, 14)


def _server() -> Any | None:
    """multiprocessing's fork server of this process, if one is running that this process may
    ask for a child: one it started, or the one it was forked from."""
    if not SUPPORTED:
        return None
    from multiprocessing import forkserver  # deferred: only where a kernel is started

    server: Any = forkserver._forkserver
    if server._forkserver_address is None or server._forkserver_alive_fd is None:
        return None
    # A server that has died is found when it is asked (the request fails and the kernel is
    # started afresh); reaping it here would hide its end from multiprocessing's own check.
    return server


def forkable(cmd: Sequence[str]) -> bool:
    """Whether the kernel ``cmd`` names is the one the fork server has loaded: this
    interpreter, running ipykernel's launcher."""
    return (len(cmd) >= 3 and list(cmd[1:3]) == ["-m", _LAUNCHER]
            and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable)
            and _server() is not None)


class ForkedKernel:
    """The handle jupyter_client keeps of a kernel process (what ``subprocess.Popen`` offers):
    its pid, whether it ended and how, signals. The fork server, its parent, reports how it
    ended."""

    stdin = stdout = stderr = None

    def __init__(self, popen: Any) -> None:
        self._popen = popen
        self.pid: int = popen.pid

    @property
    def returncode(self) -> int | None:
        code: int | None = self._popen.returncode
        return code

    def poll(self) -> int | None:
        code: int | None = self._popen.poll()
        return code

    def wait(self, timeout: float | None = None) -> int | None:
        code: int | None = self._popen.wait(timeout)
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork_kernel(cmd: Sequence[str], *, cwd: str, env: Mapping[str, str],
                log_file: str | None, memory_limit: int | None = None) -> ForkedKernel | None:
    """Ask the fork server for a kernel running ``cmd``'s arguments; None where it cannot (the
    caller starts one afresh)."""
    server = _server()
    if server is None:
        return None
    try:
        from multiprocessing import context  # deferred, as above

        process = context.ForkServerProcess(
            target=_kernel_main, name="reviewkit-kernel", daemon=True,
            args=(list(cmd[3:]), cwd, dict(env), log_file, os.getpid(), memory_limit))
        # A process forked from the fork server knows the server's address but did not start
        # it: asking it through multiprocessing's own path would start a second server.
        with _FORKING, _no_new_server(server):
            popen = _popen_class()(process)
    except Exception as exc:  # the fork server's protocol is not ours: start one afresh
        log.debug("reviewkit: could not fork the kernel (%s: %s); starting it afresh",
                  type(exc).__name__, exc)
        return None
    return ForkedKernel(popen)


def _popen_class() -> Any:
    # Deferred: popen_forkserver refuses to import where fds cannot be sent (Windows).
    from multiprocessing import forkserver, popen_forkserver, reduction, util
    from multiprocessing.context import set_spawning_popen

    class KernelPopen(popen_forkserver.Popen):
        """multiprocessing's own launch through the fork server, without the preparation a
        worker gets: the program asking for the kernel is not run again in it (its main
        module, its folder and path), the kernel sets up its own."""

        def _launch(self, process_obj: Any) -> None:
            prepared = {"name": process_obj.name, "authkey": bytes(process_obj.authkey)}
            buffer = io.BytesIO()
            set_spawning_popen(self)
            try:
                reduction.dump(prepared, buffer)
                reduction.dump(process_obj, buffer)
            finally:
                set_spawning_popen(None)
            self.sentinel, data = forkserver.connect_to_new_process(
                self._fds)  # type: ignore[attr-defined]
            # As multiprocessing does: the child sees the parent gone when this copy closes.
            parent_end = os.dup(data)
            self.finalizer = util.Finalize(
                self, util.close_fds, (parent_end, self.sentinel))  # type: ignore[attr-defined]
            with open(data, "wb", closefd=True) as pipe:
                pipe.write(buffer.getbuffer())
            self.pid = forkserver.read_signed(self.sentinel)

    return KernelPopen


@contextlib.contextmanager
def _no_new_server(server: Any) -> Any:
    own = server.__dict__.get("ensure_running")
    server.ensure_running = lambda: None
    try:
        yield
    finally:
        if own is None:
            del server.ensure_running
        else:
            server.ensure_running = own


def _kernel_main(argv: list[str], cwd: str, env: dict[str, str], log_file: str | None,
                 build: int, memory_limit: int | None) -> None:
    """In the forked child: become the kernel a fresh ``python -m ipykernel_launcher`` would
    be, for the build ``build``."""
    os.setsid()  # as jupyter_client starts a kernel: signals reach the kernel's own group
    # Every holder of the server's "alive" pipe keeps the server running, and a kernel holding
    # it would keep alive the server whose end is to end the kernel.
    from multiprocessing import forkserver  # loaded already: the server imported it

    server: Any = forkserver._forkserver
    if server._forkserver_alive_fd is not None:
        with contextlib.suppress(OSError):
            os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None
    _process.die_with_parent()  # the server gone (its batch killed): so is the kernel
    _end_with(build)
    # As for a worker forked from the same server, the limit holds the address space the
    # kernel was forked with (the server's, about 250 MB) as well as the notebook's.
    _process.cap_address_space(memory_limit)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # The build's kernel log (its private file, which the build removes once the kernel has
    # ended): never created here, so a kernel cannot leave one behind.
    try:
        out = os.open(log_file or os.devnull, os.O_WRONLY | os.O_APPEND)
    except OSError:
        out = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(out, fd)
    os.close(out)
    # Loaded already where the server preloaded them (reviewkit.run._preload).
    import ipykernel_launcher  # type: ignore[import-untyped]
    from ipykernel.kernelapp import IPKernelApp

    # What `python -m ipykernel_launcher` in ``cwd`` would have: its folder first (IPython adds
    # the working folder again as ''), not the folder of the program that asked for the kernel.
    sys.path[0] = cwd
    sys.argv = [ipykernel_launcher.__file__, *argv]
    app = IPKernelApp.instance()
    app.initialize(argv)  # type: ignore[no-untyped-call]
    _inline_figures()
    app.start()  # type: ignore[no-untyped-call]


def _end_with(build: int) -> None:
    """End this kernel's session (the kernel and what it started) once the build ``build``
    has ended, however it ended."""
    try:
        watched = os.pidfd_open(build)
    except ProcessLookupError:
        os.killpg(0, signal.SIGKILL)
        return
    except (AttributeError, OSError):  # no pidfd (an old kernel): the server's death suffices
        return

    def watch() -> None:
        select.select([watched], [], [])
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="reviewkit-build-watch", daemon=True).start()


def _inline_figures() -> None:
    """A figure a notebook cell draws shows in the notebook, as in a fresh kernel: ipykernel
    names its inline backend in ``MPLBACKEND``, which matplotlib reads once, at import, and the
    server imported matplotlib before the kernel named it (the charts draw without pyplot, so
    no backend was chosen yet)."""
    backend = os.environ.get("MPLBACKEND")
    if backend and "matplotlib" in sys.modules and "matplotlib.pyplot" not in sys.modules:
        import matplotlib  # loaded already (the test above)

        matplotlib.rcParams["backend"] = backend
