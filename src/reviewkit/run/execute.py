"""Notebook execution through papermill, on a kernel started early so it boots while we work."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import queue
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from nbformat import NotebookNode

from reviewkit import _scratch, _speedups
from reviewkit.errors import ExecutionError
from reviewkit.run import _kernel_fork, _process

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager

log = logging.getLogger(__name__)

KERNEL_NAME = "python3"
#: How long the warm-up client waits at a time, so a shutdown is noticed at once.
_STEP = 0.2


def read_notebook(path: Path) -> NotebookNode:
    try:
        notebook: NotebookNode = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
        return notebook
    except Exception as exc:  # nbformat raises several types for broken files
        raise ExecutionError(f"cannot read notebook {path}: {exc}") from exc


class Kernel:
    """A kernel started ahead of execution; start it, do other work, then run the notebook.

    Starting a kernel takes about a second, mostly the child process importing IPython; doing
    it in parallel with chart rendering takes that second off the build.
    """

    def __init__(self, cwd: Path, warm_up: str | None = None,
                 env: dict[str, str] | None = None, memory_limit: int | None = None) -> None:
        # Deferred for start-up time, like every jupyter_client and papermill import here: the
        # command line loads this module before it knows it will start a kernel.
        from jupyter_client.utils import run_sync  # type: ignore[attr-defined]

        self._run_sync = run_sync
        # The kernel's sockets are files in a private folder: over TCP, jupyter_client picks
        # free ports, releases them and the kernel binds them a moment later, and another
        # program (or another build of a batch) can take one in between ("Address already in
        # use"); a folder only this build can reach cannot be raced, nor connected to by
        # other users of the machine.
        self._sockets = _socket_folder()
        transport = ({"transport": "ipc", "ip": str(self._sockets / "kernel")}
                     if self._sockets is not None else {})
        # The kernel's own chatter (e.g. its TCP notice) goes to a log, not the user's terminal;
        # ExecutionError quotes its tail when the kernel dies. It is kept beside the sockets
        # (or in a folder of its own), which a later build removes if this one is killed.
        self._folder = self._sockets or _scratch.make("reviewkit-kernel-")
        self.log = open(self._folder / "kernel.log", "w+b")  # noqa: SIM115 - closed in shutdown()
        # Its connection file (the kernel's key) beside them too, not in a temporary file of
        # jupyter_client's own that a killed build would leave behind.
        self.manager: AsyncKernelManager = _tracking_manager()(
            kernel_name=KERNEL_NAME, connection_file=str(self._folder / "kernel.json"),
            **transport)
        self.manager.memory_limit = memory_limit  # type: ignore[attr-defined]
        try:
            run_sync(self.manager.start_kernel)(
                cwd=str(cwd), stderr=self.log, stdout=self.log,
                env={**os.environ, **(env or {})},
                preexec_fn=functools.partial(_prepare_kernel_process, memory_limit),
            )
        except BaseException:
            self.log.close()
            _scratch.remove(self._folder)
            raise
        self._warm: threading.Thread | None = None
        self._stopping = threading.Event()
        if warm_up:
            self._warm = threading.Thread(target=self._warm_up, args=(warm_up,), daemon=True)
            self._warm.start()

    def _warm_up(self, code: str) -> None:
        error = self._run_silently(code)
        if error:  # a failed warm-up only costs time; the run will show errors
            with contextlib.suppress(ValueError, OSError):
                self.log.write(f"reviewkit: kernel warm-up failed: {error}\n".encode())
                self.log.flush()

    def _run_silently(self, code: str, timeout: float = 60) -> str | None:
        """Run ``code`` on a client of our own (no trace in the notebook); the error or None.

        Waits in short steps, so :meth:`shutdown` (a refused publish, a failed input) never
        waits for it: it stops as soon as the kernel is being shut down.
        """
        client = _ready_client(blocking=True)()
        deadline = time.monotonic() + timeout
        try:
            client.load_connection_info(self.manager.get_connection_info())
            # No heartbeat channel: its thread reopens its socket when the kernel stops beating,
            # which races with stop_channels() closing the context during a shutdown (a ZMQError
            # in a stray thread). The deadline and the stop event do the heartbeat's job here.
            client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
            while True:
                if self._stopping.is_set() or time.monotonic() > deadline:
                    return "stopped before the kernel was ready"
                try:
                    client.wait_for_ready(timeout=_STEP)
                    break
                except RuntimeError:
                    continue
            msg_id = client.execute(code, silent=True, store_history=False)
            while not self._stopping.is_set() and time.monotonic() < deadline:
                try:
                    reply = client.get_shell_msg(timeout=_STEP)
                except queue.Empty:
                    continue
                if reply.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                content = reply.get("content", {})
                if content.get("status") != "ok":
                    return f"{content.get('ename', 'error')}: {content.get('evalue', '')}"
                return None
            return "stopped before the code finished"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            client.stop_channels()
            _close_thread_loop()

    def wait_warm(self) -> None:
        if self._warm is not None:
            self._warm.join(timeout=120)

    def log_tail(self, lines: int = 5) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(encoding="utf-8", errors="replace")
        return " | ".join(text.strip().splitlines()[-lines:])

    def shutdown(self) -> None:
        self._stopping.set()
        try:
            # nbclient leaves the client of a kernel it does not own connected; close it.
            for client in getattr(self.manager, "clients", []):
                client.stop_channels()
            if self.manager.has_kernel:
                self._run_sync(self.manager.shutdown_kernel)(now=True)
        finally:
            # The warm-up thread ends once the kernel is gone; wait for it before closing the
            # log it may still write to.
            if self._warm is not None:
                self._warm.join(timeout=10)
            self.log.close()
            _scratch.remove(self._folder)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _prepare_kernel_process(memory_limit: int | None) -> None:
    """In the kernel's process before it starts: ask Linux to kill it when the build dies, so a
    build killed with SIGKILL leaves no kernel running (elsewhere the build's own shutdown and
    jupyter_client's parent check do it); and cap its address space when a batch asks, so a
    runaway notebook fails with MemoryError instead of exhausting the machine."""
    _process.die_with_parent()
    _process.cap_address_space(memory_limit)

#: The longest path of a Unix socket (Linux: sun_path holds 108 bytes with the final NUL).
_SOCKET_PATH_MAX = 107
#: What jupyter_client adds to the prefix to name a channel's socket ("-1" … "-5", room to spare).
_SOCKET_SUFFIX = len("kernel-99")


def _socket_folder() -> Path | None:
    """A new private folder (mode 0700) for a kernel's socket files, short enough for a socket
    path: under the temporary folder, or under /tmp where that is too deep; None (TCP on the
    loopback address) where sockets are not files (Windows) or no folder is short enough."""
    if os.name != "posix":
        return None
    for parent in dict.fromkeys((tempfile.gettempdir(), "/tmp")):
        if len(os.fsencode(parent)) + len("/rk-kernel-12345678/") + _SOCKET_SUFFIX \
                > _SOCKET_PATH_MAX:
            continue
        try:
            return _scratch.make("rk-kernel-", parent)
        except OSError:
            continue
    return None


def _close_thread_loop() -> None:
    """Close the event loop jupyter_client's blocking wrappers left on this thread."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            return
    if not loop.is_running():
        loop.close()


@functools.cache
def _tracking_manager() -> type[AsyncKernelManager]:
    # Deferred for start-up time: jupyter_client is imported once a kernel is wanted.
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner
    from traitlets import default

    class ForkingProvisioner(LocalProvisioner):
        """Starts the kernel forked from the fork server near this process where there is one
        (reviewkit.run._kernel_fork), else as jupyter_client does."""

        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            if _kernel_fork.forkable(cmd):
                stdout = kwargs.get("stdout")
                process = _kernel_fork.fork_kernel(
                    cmd, cwd=str(kwargs.get("cwd") or os.getcwd()),
                    env=kwargs.get("env") or os.environ,
                    log_file=getattr(stdout, "name", None),
                    memory_limit=getattr(self.parent, "memory_limit", None))
                if process is not None:
                    # The kernel makes itself the leader of a session of its own.
                    self.process = process  # type: ignore[assignment]
                    self.pid = self.pgid = process.pid
                    self.cwd = kwargs.get("cwd")
                    return self.connection_info
            return await super().launch_kernel(cmd, **kwargs)

    class TrackingKernelManager(AsyncKernelManager):
        """Remembers the clients it hands out, so they can be closed with the kernel; forks
        the kernel where it can, under ``memory_limit`` as a kernel started afresh; its clients
        are ready as soon as the kernel has answered (:func:`_ready_client`), and it sees a
        kernel it killed end as soon as it has."""

        clients: list[Any]
        memory_limit: int | None = None

        async def _async_wait(self, pollinterval: float = 0.1) -> None:
            # jupyter_client looks every 0.1 s whether a kernel it killed has ended, and a
            # killed kernel ends within milliseconds: every build waited about 0.1 s for it
            # after its last cell.
            await super()._async_wait(pollinterval=min(pollinterval, _ENDED_POLL))

        @default("client_factory")
        def _ready_client_factory(self) -> type[Any]:
            return _ready_client()

        def client(self, **kwargs: Any) -> Any:
            client = super().client(**kwargs)
            self.__dict__.setdefault("clients", []).append(client)
            return client

        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            if self.provisioner is None:
                self.kernel_id = self.kernel_id or str(uuid.uuid4())
                self.provisioner = ForkingProvisioner(
                    kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
            return await super()._async_pre_start_kernel(**kw)

    return TrackingKernelManager


#: How often a kernel being shut down is looked at to see whether it has ended.
_ENDED_POLL = 0.005

#: How long a client waits for IOPub to end one of its requests before asking the kernel
#: again: until the subscription takes, what the kernel publishes is lost ("slow joiner"), and
#: each new request is another chance to see its end arrive.
_IOPUB_RETRY = 0.05


@functools.cache
def _ready_client(blocking: bool = False) -> type[Any]:
    """jupyter_client's asynchronous client (the one nbclient runs the notebook with), or its
    blocking one (the warm-up's), ready once the kernel has answered a ``kernel_info`` request
    of this client on the shell channel and ended one on IOPub (its ``idle`` status).

    jupyter_client's own wait takes the first IOPub message as proof the channel is connected,
    then drops messages until none has come for 0.2 s: every build waited out that silence
    twice, the warm-up's and then before its first cell; and while IOPub was not yet connected
    it asked again only every 0.2 s. The end of one of the client's own requests proves the
    same (the channel is connected, and that exchange is over) without the wait. Messages of
    other requests that may still come are the caller's to ignore, as nbclient and the warm-up
    do: each reads only those answering its own requests.
    """
    # Deferred for start-up time, as every jupyter_client import here.
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.blocking.client import BlockingKernelClient
    from jupyter_core.utils import ensure_async, run_sync

    class QuickReady:
        shell_channel: Any
        iopub_channel: Any
        session: Any

        async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
            while True:
                reply = await self._reply_to(self.kernel_info())  # type: ignore[attr-defined]
                if reply is not None and await self._one_ended(deadline):
                    self._handle_kernel_info_reply(reply)  # type: ignore[attr-defined]
                    return
                if not await self._async_is_alive():  # type: ignore[attr-defined]
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.1f} seconds")

        async def _reply_to(self, request: str) -> dict[str, Any] | None:
            """The shell's reply to ``request`` (earlier requests' replies skipped), or None
            when none comes within a second."""
            while True:
                try:
                    reply: dict[str, Any] = await ensure_async(
                        self.shell_channel.get_msg(timeout=1))
                except queue.Empty:
                    return None
                if reply["parent_header"].get("msg_id") == request:
                    return reply

        async def _one_ended(self, deadline: float) -> bool:
            """Whether IOPub has ended one of this client's requests; False when nothing more
            comes for a moment (not subscribed yet, or the end was published before: ask
            again)."""
            while time.monotonic() <= deadline:
                try:
                    message = await ensure_async(
                        self.iopub_channel.get_msg(timeout=_IOPUB_RETRY))
                except queue.Empty:
                    return False
                if message["msg_type"] == "status" \
                        and message["content"].get("execution_state") == "idle" \
                        and message["parent_header"].get("session") == self.session.session:
                    return True
            return False

    if blocking:
        class ReadyBlockingClient(QuickReady, BlockingKernelClient):
            wait_for_ready = run_sync(QuickReady._async_wait_for_ready)

        return ReadyBlockingClient

    class ReadyClient(QuickReady, AsyncKernelClient):
        wait_for_ready = QuickReady._async_wait_for_ready

    return ReadyClient


#: Seconds to wait for a finished cell's output to arrive (nbclient's default is 4).
IOPUB_TIMEOUT = 120


def execute_notebook(
    notebook: NotebookNode,
    parameters: dict[str, Any],
    *,
    cwd: Path,
    output_path: Path,
    kernel: Kernel | None = None,
    failed_copy: Path | None = None,
) -> NotebookNode:
    """Parameterize and execute ``notebook`` with papermill, writing it to ``output_path``.

    On a failing cell papermill writes the notebook with its error banner; we move it to
    ``failed_copy`` so the user can open it, and raise an :class:`ExecutionError` naming the cell.
    """
    _speedups.import_papermill()
    # Deferred for start-up time: papermill imports ~0.5 s of modules the kernel start need not
    # wait for (imported just above, in its lighter way, unless the build already did).
    import papermill
    from papermill.exceptions import PapermillExecutionError

    engine_kwargs: dict[str, Any] = {}
    if kernel is not None:
        kernel.wait_warm()
        engine_kwargs["km"] = kernel.manager
    try:
        executed: NotebookNode = papermill.execute_notebook(
            notebook,
            str(output_path),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            request_save_on_cell_execute=False,
            cwd=str(cwd),
            # Why: papermill fails a cell whose output takes nbclient's default 4 s to arrive,
            # and the KPI pages of a 500-KPI pack (500 chart images, tens of MB) take longer
            # on a busy machine. The cell has already run; its output is only in transit.
            iopub_timeout=IOPUB_TIMEOUT,
            **engine_kwargs,
        )
    except PapermillExecutionError as exc:
        saved = _keep_failed(output_path, failed_copy)
        raise ExecutionError(
            f"notebook cell {exc.exec_count} failed: {exc.ename}: {exc.evalue}", notebook=saved
        ) from exc
    except Exception as exc:
        detail = f" (kernel said: {kernel.log_tail()})" if kernel is not None else ""
        raise ExecutionError(
            f"could not execute the notebook: {type(exc).__name__}: {exc}{detail}"
        ) from exc
    return executed


def _keep_failed(written: Path, keep_at: Path | None) -> Path | None:
    if keep_at is None or not written.is_file():
        return None
    try:
        keep_at.parent.mkdir(parents=True, exist_ok=True)
        written.replace(keep_at)
    except OSError as exc:  # keep the original failure as the one the user sees
        # A warning, printed as the command line's own line where no handler is configured.
        log.warning("reviewkit: could not keep the failed notebook: %s", exc)
        return None
    return keep_at
