"""The kernel a build runs its notebook on starts whatever else runs on the machine: it talks
to the build over socket files in a private folder, not TCP ports picked, released and bound
again later (the race in which another program, or another build, takes the port first)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from reviewkit.errors import ExecutionError
from reviewkit.layout.view import PackView
from reviewkit.run import _kernel_fork
from reviewkit.run.execute import Kernel, execute_notebook


def _run_on(kernel: Kernel, folder: Path) -> str:
    """Run a one-cell notebook on ``kernel``; the text it printed."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("print(6 * 7)")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    executed = execute_notebook(notebook, {}, cwd=folder, output_path=folder / "out.ipynb",
                                kernel=kernel)
    return "".join(output.get("text", "") for output in executed.cells[0].outputs)


#: Forked kernels exist where reviewkit.run._kernel_fork supports them (Linux, Python < 3.14).
FORKED_ONLY = pytest.mark.skipif(not _kernel_fork.SUPPORTED,
                                 reason="kernels are forked on Linux before Python 3.14 only")


@pytest.fixture(params=["afresh", pytest.param("forked", marks=FORKED_ONLY)])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """How the kernel starts: afresh (a build with no fork server near it, as a single
    ``reviewkit build``), or forked from the fork server (reviewkit.run._kernel_fork, as in a
    batch); the test's kernel is checked to have started that way."""
    from reviewkit.run._spawned import worker_context

    started: list[int] = []
    real_init = Kernel.__init__

    def init(self: Kernel, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        started.append(_parent(self.manager.provisioner.pid))  # type: ignore[union-attr]

    monkeypatch.setattr(Kernel, "__init__", init)
    if request.param == "afresh":
        monkeypatch.setattr(_kernel_fork, "_server", lambda: None)
    else:
        worker_context()
    yield request.param
    assert started, "no kernel was started"
    assert all((parent == os.getpid()) == (request.param == "afresh") for parent in started)


@pytest.fixture
def taken_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A TCP port held by someone else, handed out as free by jupyter_client's port picker:
    what happens when another process binds the port between the pick and the kernel's bind."""
    from jupyter_client.connect import LocalPortCache

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port: int = holder.getsockname()[1]
    monkeypatch.setattr(LocalPortCache, "find_available_port", lambda self, ip: port)
    try:
        yield port
    finally:
        holder.close()


def test_a_kernel_starts_when_the_port_it_would_be_given_is_taken(
    tmp_path: Path, taken_port: int, way: str
) -> None:
    with Kernel(cwd=tmp_path) as kernel:
        assert _run_on(kernel, tmp_path) == "42\n"


def test_the_kernels_sockets_are_in_a_private_folder_removed_at_shutdown(
    tmp_path: Path, way: str
) -> None:
    kernel = Kernel(cwd=tmp_path)
    try:
        info = kernel.manager.get_connection_info()
        assert info["transport"] == "ipc"
        folder = Path(str(info["ip"])).parent
        # Private: only this user (jupyter_client adds the sticky bit beside its connection file).
        assert stat.S_IMODE(folder.stat().st_mode) & 0o777 == 0o700
        assert _run_on(kernel, tmp_path) == "42\n"
        assert any(path.is_socket() for path in folder.iterdir())
    finally:
        kernel.shutdown()
    assert not folder.exists()


def test_a_kernel_starts_under_a_temporary_folder_too_long_for_a_socket_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    # A socket's path holds at most 107 bytes on Linux; TMPDIR may be deeper than that.
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert len(os.fsencode(tempfile.gettempdir())) > 107
    with Kernel(cwd=tmp_path) as kernel:
        assert len(os.fsencode(str(kernel.manager.get_connection_info()["ip"]))) < 100
        assert _run_on(kernel, tmp_path) == "42\n"


def test_the_kernels_warm_up_compiles_the_templates_the_sections_are_rendered_with() -> None:
    """The build runs the warm-up while the kernel waits for its notebook, so that the cells
    find every section template compiled: it must fill the very environment a section of a
    built-in cadence renders with, not one of its own."""
    from reviewkit import cadences
    from reviewkit.layout import render
    from reviewkit.layout.sections import warm_up

    render.environment.cache_clear()
    warm_up()
    rendering = render.environment(cadences.get("weekly").template_dirs)
    compiled = {name for _, name in rendering.cache}  # type: ignore[union-attr]
    assert {"cover.html.j2", "summary.html.j2", "scorecard.html.j2",
            "_macros.html.j2"} <= compiled


def test_a_compiled_template_cache_that_cannot_be_read_or_written_only_costs_a_compile(
        tmp_path: Path) -> None:
    """Each kernel finds the templates compiled by the previous one in Jinja's cache folder;
    a cache file cut short, or a folder that is gone, must never fail a pack."""
    import jinja2

    from reviewkit.layout.render import _QuietBytecodeCache

    def rendered(cache: jinja2.BytecodeCache) -> str:
        env = jinja2.Environment(loader=jinja2.DictLoader({"t": "{{ 6 * 7 }}"}),
                                 bytecode_cache=cache)
        return env.get_template("t").render()

    folder = tmp_path / "cache"
    folder.mkdir()
    assert rendered(_QuietBytecodeCache(str(folder))) == "42"
    [written] = list(folder.iterdir())
    written.write_bytes(written.read_bytes()[:20])  # cut short after its header
    assert rendered(_QuietBytecodeCache(str(folder))) == "42"
    assert rendered(_QuietBytecodeCache(str(tmp_path / "gone"))) == "42"


def test_a_template_compiled_with_other_settings_is_compiled_again(tmp_path: Path) -> None:
    """The cache reused a template compiled by an environment set up otherwise (an earlier
    version of reviewkit, say, without the isolation of user text), since its source had not
    changed: the new setting never reached the page."""
    import jinja2

    from reviewkit.layout.render import _QuietBytecodeCache, compile_options

    source = {"t": "{{ name }} 88.1%"}
    plain = jinja2.Environment(loader=jinja2.DictLoader(source), autoescape=True,
                               bytecode_cache=jinja2.FileSystemBytecodeCache(str(tmp_path)))
    assert plain.get_template("t").render(name="\u202e") == "\u202e 88.1%"
    assert list(tmp_path.iterdir())

    isolating = jinja2.Environment(loader=jinja2.DictLoader(source), autoescape=True,
                                   finalize=lambda value: f"[{value}]")
    isolating.bytecode_cache = _QuietBytecodeCache(str(tmp_path),
                                                   options=compile_options(isolating))
    assert isolating.get_template("t").render(name="x") == "[x] 88.1%"


def test_a_failed_notebook_that_cannot_be_kept_is_a_logged_warning_not_a_second_failure(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from reviewkit.run.execute import _keep_failed

    written = tmp_path / "out.ipynb"
    written.write_text("{}", encoding="utf-8")
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    with caplog.at_level("WARNING", logger="reviewkit.run.execute"):
        assert _keep_failed(written, blocked / "failed.ipynb") is None
    assert "could not keep the failed notebook" in caplog.text


# -- a kernel forked from the fork server (reviewkit.run._kernel_fork) --------------------------


@pytest.fixture
def fork_server() -> int:
    """The fork server of this process, started as a batch starts it (again, if a test killed
    it): its pid."""
    from multiprocessing import forkserver

    from reviewkit.run._spawned import worker_context

    worker_context()
    pid = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    assert isinstance(pid, int), "this process did not start the fork server"
    return pid


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _outputs(kernel: Kernel, folder: Path, source: str) -> list[Any]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    executed = execute_notebook(notebook, {}, cwd=folder, output_path=folder / "out.ipynb",
                                kernel=kernel)
    return list(executed.cells[0].outputs)


@FORKED_ONLY
def test_a_kernel_beside_a_fork_server_is_forked_from_it_in_the_builds_folder_and_environment(
        tmp_path: Path, fork_server: int) -> None:
    folder = tmp_path / "a folder"
    folder.mkdir()
    with Kernel(cwd=folder, env={"REVIEWKIT_PROBE": "the build's"}) as kernel:
        pid = kernel.manager.provisioner.pid  # type: ignore[union-attr]
        assert _parent(pid) == fork_server
        assert os.getsid(pid) == pid  # a session of its own, as jupyter_client starts one
        [printed] = _outputs(kernel, folder, "import os, sys\n"
                                             "print(os.getcwd(), os.environ['REVIEWKIT_PROBE'],"
                                             " sys.path[0] in ('', os.getcwd()))")
        # Once running (not before: the kernel is started ahead, and the child lets go of it
        # as it starts), it does not hold the server's "alive" pipe: the server, whose end ends
        # the kernel, would otherwise live as long as the kernel.
        from multiprocessing import forkserver

        alive = os.fstat(forkserver._forkserver._forkserver_alive_fd)  # type: ignore[attr-defined]
        held = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                found = fd.stat()
                held.add((found.st_dev, found.st_ino))
        assert (alive.st_dev, alive.st_ino) not in held
    assert printed["text"] == f"{folder} the build's True\n"
    assert not _alive(pid)


@FORKED_ONLY
def test_a_figure_a_cell_draws_in_a_forked_kernel_shows_in_the_notebook(
        tmp_path: Path, fork_server: int) -> None:
    """The fork server imported matplotlib (for the charts) before the kernel chose its inline
    backend: a cell's figure must still show, as in a kernel started afresh."""
    with Kernel(cwd=tmp_path) as kernel:
        assert _parent(kernel.manager.provisioner.pid) == fork_server  # type: ignore[union-attr]
        outputs = _outputs(kernel, tmp_path, "import matplotlib.pyplot as plt\n"
                                             "plt.plot([1, 3, 2])\nplt.show()")
    assert any("image/png" in output.get("data", {}) for output in outputs), outputs


@FORKED_ONLY
def test_a_forked_kernel_is_held_to_the_batchs_memory_limit(
        tmp_path: Path, fork_server: int) -> None:
    limit = 3 * 2**30
    with Kernel(cwd=tmp_path, memory_limit=limit) as kernel:
        pid = kernel.manager.provisioner.pid  # type: ignore[union-attr]
        assert _parent(pid) == fork_server
        with pytest.raises(ExecutionError, match="MemoryError"):
            _outputs(kernel, tmp_path, "x = bytearray(4 * 2**30)")
        # Read once the kernel has run a cell: the child sets its limit as it starts, which
        # can be after the kernel's process is handed back.
        [line] = [line for line in Path(f"/proc/{pid}/limits").read_text().splitlines()
                  if line.startswith("Max address space")]
        assert line.split()[3:5] == [str(limit), str(limit)]


def test_a_kernel_starts_afresh_when_the_fork_server_is_gone(
        tmp_path: Path, fork_server: int) -> None:
    """The server killed (out of memory, say): the build's kernel costs a second more, never
    the pack."""
    import signal

    from reviewkit.run._spawned import worker_context

    os.kill(fork_server, signal.SIGKILL)
    try:
        with Kernel(cwd=tmp_path) as kernel:
            assert _parent(kernel.manager.provisioner.pid) == os.getpid()  # type: ignore[union-attr]
            assert _run_on(kernel, tmp_path) == "42\n"
    finally:
        worker_context()  # a new server for the tests after this one, as a batch would start


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_client_of_the_kernel_is_ready_once_the_kernel_answers_without_waiting_out_silence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client nbclient runs the notebook with is ready when its kernel_info request has
    been answered and ended on IOPub; it does not wait for IOPub to fall silent (jupyter_client's
    closing wait, 0.2 s on every build's critical path), and until IOPub is connected it asks
    again after a short wait (each wait that ran out is counted). No message of that exchange
    is left for the notebook's run to read."""
    from jupyter_client.channels import AsyncZMQSocketChannel
    from jupyter_client.utils import run_sync  # type: ignore[attr-defined]

    silences: list[float | None] = []
    real_get = AsyncZMQSocketChannel.get_msg

    async def get_msg(self: Any, timeout: float | None = None) -> Any:
        try:
            return await real_get(self, timeout)
        except Exception:
            silences.append(timeout)
            raise

    with Kernel(cwd=tmp_path) as kernel:
        kernel.wait_warm()
        client = kernel.manager.client()
        monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", get_msg)
        client.start_channels()
        run_sync(client.wait_for_ready)(timeout=60)
        monkeypatch.undo()
        assert all(waited is not None and waited < 0.2 for waited in silences), silences
        assert not run_sync(client.iopub_channel.msg_ready)()
        assert _run_on(kernel, tmp_path) == "42\n"


_PAPERMILL_IN_A_CHILD = """
import json, sys
from reviewkit import _speedups
_speedups.import_papermill()
imported = "pyarrow.fs" in sys.modules
import pyarrow.parquet  # needs pyarrow.fs: the Parquet reader imports it as before
from papermill.iorw import HadoopFileSystem
print(json.dumps({"imported": imported, "parquet": "pyarrow.fs" in sys.modules,
                  "hdfs": getattr(HadoopFileSystem, "__name__", "")}))
"""


def test_papermill_is_imported_without_pyarrows_file_systems_which_still_import_after() -> None:
    """papermill imports ``pyarrow.fs`` for an HDFS handler a build never uses (about 0.14 s
    between the charts and the first cell); with the speed-ups it is left out while papermill
    imports, and Parquet inputs, which need it, import it as before."""
    import importlib.util
    import json
    import subprocess
    import sys

    spec = importlib.util.find_spec("papermill.iorw")
    assert spec is not None and spec.origin is not None
    assert "from pyarrow.fs import" in Path(spec.origin).read_text(encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if k != "REVIEWKIT_NO_SPEEDUPS"}
    proc = subprocess.run([sys.executable, "-c", _PAPERMILL_IN_A_CHILD], capture_output=True,
                          text=True, env=environment, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    quick = json.loads(proc.stdout.strip().splitlines()[-1])
    assert quick["imported"] is False and quick["parquet"] is True
    assert quick["hdfs"] != "HadoopFileSystem"  # papermill's stand-in: "install pyarrow"


def test_a_kernel_shut_down_is_seen_to_end_without_waiting_out_a_tenth_of_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    """A killed kernel ends within milliseconds: the build sees it gone at once, instead of at
    jupyter_client's next look a tenth of a second later (each pause is counted)."""
    import asyncio

    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, *args: Any, **kwargs: Any) -> Any:
        pauses.append(delay)
        return await real_sleep(delay, *args, **kwargs)

    kernel = Kernel(cwd=tmp_path)
    assert _run_on(kernel, tmp_path) == "42\n"
    process = kernel.manager.provisioner.process  # type: ignore[union-attr]
    monkeypatch.setattr(asyncio, "sleep", sleep)
    kernel.shutdown()
    monkeypatch.undo()
    assert process.poll() is not None
    assert all(pause < 0.1 for pause in pauses), pauses


@FORKED_ONLY
def test_what_a_kernel_and_the_outputs_compile_on_first_use_the_fork_server_has_done_already(
        tmp_path: Path, fork_server: int, lumen_weekly: PackView) -> None:
    """Each pack's kernel is forked from the server, and so is each batch worker: what they
    would otherwise import or compile for every pack (the kernel's debugger and pdb; the CSS
    selectors of nbconvert's HTML export and nbformat's notebook validators, on the critical
    path after the notebook has run) is done once, in the server, as a single build does it
    while its kernel runs (reviewkit.outputs.pack.preload)."""
    import pickle

    import forked

    view_file, result_file = tmp_path / "view.pickle", tmp_path / "left.json"
    view_file.write_bytes(pickle.dumps(lumen_weekly))
    child = forked.Child("warm_probe:what_is_left", [str(view_file), str(result_file)],
                         logs=tmp_path / "logs")
    assert child.wait(timeout=120) == 0, child.output()
    left = json.loads(result_file.read_text(encoding="utf-8"))
    assert left == {"modules": [], "patterns": [], "validators": 0}
