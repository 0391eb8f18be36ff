"""A build from the command line draws its charts in a process forked as it starts
(reviewkit.run.chart_process): the same charts as drawn in the build's own process, and the
build's own process draws them when that process dies."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from reviewkit.layout.charts import render_charts
from reviewkit.layout.view import PackView

# A fresh process, as the command line starts: no matplotlib yet and one thread.
_BUILD_PROCESS = textwrap.dedent("""
    import os, pickle, signal, sys
    from reviewkit.run.chart_process import ChartProcess

    os.cpu_count = lambda: 2  # as on a machine with a second core, whatever this one has
    with open(sys.argv[1], "rb") as file:
        pack = pickle.load(file)
    seen = {}
    drawing = ChartProcess.start()
    seen["forked"] = drawing is not None
    def meanwhile():
        seen["matplotlib here while drawn beside"] = "matplotlib.figure" in sys.modules
        import nbconvert  # what the build imports meanwhile

    seen["beside"] = drawing.draw(pack, meanwhile=meanwhile) if drawing else None
    seen["matplotlib here after drawing beside"] = "matplotlib.figure" in sys.modules
    seen["nbconvert here after drawing beside"] = "nbconvert" in sys.modules
    dying = ChartProcess.start()
    os.kill(dying._process.pid, signal.SIGKILL)
    dying._process.join()
    seen["after its death"] = dying.draw(pack)
    seen["forked with matplotlib here"] = ChartProcess.start() is not None
    with open(sys.argv[2], "wb") as file:
        pickle.dump(seen, file)
""")


@pytest.fixture(scope="module")
def drawn(lumen_weekly: PackView, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("charts")
    pack, seen = folder / "pack.pickle", folder / "seen.pickle"
    pack.write_bytes(pickle.dumps(lumen_weekly.evaluated))
    env = {k: v for k, v in os.environ.items() if k != "REVIEWKIT_NO_SPEEDUPS"}
    subprocess.run([sys.executable, "-c", _BUILD_PROCESS, str(pack), str(seen)],
                   check=True, env=env, timeout=300)
    result: dict[str, Any] = pickle.loads(seen.read_bytes())
    return result


def test_charts_drawn_beside_the_build_are_the_charts_it_would_draw(
        drawn: dict[str, Any], lumen_weekly: PackView) -> None:
    assert drawn["forked"]
    expected = render_charts(lumen_weekly.evaluated)
    assert len(expected) >= 3
    assert drawn["beside"] == expected
    assert not drawn["matplotlib here after drawing beside"]


def test_the_build_imports_what_comes_next_while_its_charts_are_drawn_beside(
        drawn: dict[str, Any]) -> None:
    assert drawn["matplotlib here while drawn beside"] is False
    assert drawn["nbconvert here after drawing beside"]


def test_the_build_draws_its_charts_itself_when_the_chart_process_dies(
        drawn: dict[str, Any], lumen_weekly: PackView) -> None:
    assert drawn["after its death"] == render_charts(lumen_weekly.evaluated)
    assert not drawn["forked with matplotlib here"]


def test_the_chart_process_ends_when_the_build_ends_before_its_charts(
        tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import os, sys
        from reviewkit.run.chart_process import ChartProcess
        os.cpu_count = lambda: 2
        drawing = ChartProcess.start()
        print(drawing._process.pid, flush=True)
        drawing.close()
        print(drawing._process.exitcode, flush=True)
    """)
    env = {k: v for k, v in os.environ.items() if k != "REVIEWKIT_NO_SPEEDUPS"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, env=env, timeout=120)
    pid, exitcode = done.stdout.split()
    assert exitcode != "None"
    assert not Path(f"/proc/{pid}").exists()
    assert done.stderr == ""
