"""Run ``reviewkit build`` with a fault injected at one point: the process kills itself with
SIGKILL there (as the OOM killer or a power cut would), or a store write fails.

    python tests/fault_build.py MODE PARAMS OUT KERNEL_PID_FILE [build args…]

Used by tests/test_faults.py (:func:`faulted_build`, in a forked child: tests/forked.py) and by
the failing build of tests/conftest_build.py (:func:`pdf_fails_in_process`); nothing here is
part of reviewkit.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from reviewkit.cli import main
from reviewkit.outputs import pdf
from reviewkit.run import build, execute, publish
from reviewkit.store import database

MODES = ("charts", "execute", "pdf", "before-swap", "after-swap", "after-record",
         "record-fails", "disk-full", "published-meanwhile", "saved-meanwhile")
#: What the analyst's save during the "saved-meanwhile" build adds to the pack's notebook.
SAVED_MEANWHILE = "the analyst's words, saved in Jupyter while the pack was being built"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def inject(mode: str, pid_file: Path) -> None:
    real_init = execute.Kernel.__init__

    def init(self: execute.Kernel, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        pid = self.manager.provisioner.pid
        parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        pid_file.write_text(f"{pid} {parent}")

    execute.Kernel.__init__ = init  # type: ignore[method-assign]
    if mode == "execute":  # this build's kernel starts afresh, as a single build's does
        from reviewkit.run import _kernel_fork  # deferred: only this mode changes it

        _kernel_fork._server = lambda: None  # type: ignore[assignment]

    if mode == "charts":  # while the kernel boots
        build.render_charts = lambda *a, **k: die()  # type: ignore[assignment]
    elif mode == "execute":
        from papermill.clientwrap import PapermillNotebookClient

        real_cell = PapermillNotebookClient.execute_cell

        def cell_or_die(self: Any, cell: Any, index: int, *args: Any, **kwargs: Any) -> Any:
            if index >= 3:  # the kernel has run the parameters and opened the pack
                die()
            return real_cell(self, cell, index, *args, **kwargs)

        PapermillNotebookClient.execute_cell = cell_or_die  # type: ignore[method-assign]
    elif mode == "pdf":
        def half_pdf(html: str, target: Path, **kwargs: Any) -> None:
            target.write_bytes(b"%PDF-1.7 half written")
            die()

        pdf.to_pdf = half_pdf  # type: ignore[assignment]
    elif mode == "before-swap":
        publish.swapped_in = lambda *a, **k: die()  # type: ignore[assignment]
    elif mode == "after-swap":
        real_swap = publish._swap

        def swap_then_die(staging: Path, final: Path) -> Path | None:
            real_swap(staging, final)
            die()
            return None

        publish._swap = swap_then_die  # type: ignore[assignment]
    elif mode == "after-record":
        real_record = database.Transaction.record_pack

        def record_then_die(self: database.Transaction, *args: Any) -> None:
            real_record(self, *args)
            die()  # recorded in the transaction, not yet committed

        database.Transaction.record_pack = record_then_die  # type: ignore[method-assign]
    elif mode == "disk-full":
        def full(html: str, target: Path, **kwargs: Any) -> None:
            target.write_bytes(b"%PDF-1.7 part")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

        pdf.to_pdf = full  # type: ignore[assignment]
    elif mode == "record-fails":
        def locked(self: database.Transaction, *args: Any) -> None:
            raise sa.exc.OperationalError("INSERT INTO packs", {},
                                          sqlite3.OperationalError("database is locked"))

        database.Transaction.record_pack = locked  # type: ignore[method-assign]
    elif mode == "published-meanwhile":
        real_swapped_in = publish.swapped_in

        def published_first(staging: Path, final: Path, **kwargs: Any) -> Any:
            # Another process published the pack (version 1) while this draft was being made.
            manifest = final / "manifest.json"
            data = json.loads(manifest.read_text(encoding="utf-8"))
            manifest.write_text(json.dumps({**data, "state": "final", "version": 1}),
                                encoding="utf-8")
            return real_swapped_in(staging, final, **kwargs)

        publish.swapped_in = published_first  # type: ignore[assignment]
    elif mode == "saved-meanwhile":
        real_swapped_in = publish.swapped_in

        def saved_first(staging: Path, final: Path, **kwargs: Any) -> Any:
            # The analyst saved the pack's notebook after the build had read its edits, as
            # Jupyter saves: a new file renamed over the old one.
            notebook = final / "pack.ipynb"
            data = json.loads(notebook.read_text(encoding="utf-8"))
            data["cells"].append({"cell_type": "markdown", "metadata": {}, "id": "saved",
                                  "source": SAVED_MEANWHILE})
            saving = notebook.with_name(".~pack.ipynb")
            saving.write_text(json.dumps(data), encoding="utf-8")
            saving.replace(notebook)
            return real_swapped_in(staging, final, **kwargs)

        publish.swapped_in = saved_first  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown mode {mode}; use one of {', '.join(MODES)}")


def faulted_build(mode: str, params: str, out: str, pid_file: str, *rest: str) -> int:
    """``reviewkit build weekly`` of ``params`` into ``out`` with the fault ``mode``."""
    inject(mode, Path(pid_file))
    return main(["build", "weekly", "--params", params, "--out", out, "-q", *rest])


def pdf_fails_in_process(params: str, out: str) -> int:
    """A build (through the API, as draft, publish and API users run one) that fails while
    rendering the PDF; it records every warning the build raises (the suite turns warnings
    into errors) and prints a JSON report as its last line."""
    import gc
    import warnings

    from reviewkit.errors import ExportError

    pdf_targets: list[str] = []

    def broken_pdf(html: str, target: Path, **kwargs: Any) -> None:
        pdf_targets.append(str(target))
        Path(target).write_bytes(b"%PDF-1.7 half written")
        raise ExportError("PDF rendering failed: simulated")

    pdf.to_pdf = broken_pdf  # type: ignore[assignment]
    error = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            build.build_pack("weekly", params, out_dir=out)
        except ExportError as exc:
            error = str(exc)
        gc.collect()  # so what the build left open reports now, while recorded
        found = [f"{item.category.__name__}: {item.message}" for item in caught]
    print(json.dumps({"error": error, "pdf_targets": pdf_targets, "warnings": found}))
    return 0


if __name__ == "__main__":
    sys.exit(faulted_build(*sys.argv[1:]))
