"""Normalised snapshots of the demo packs: the text of every PDF page and every summary.json.

A change to the code that is not meant to change what a pack says must leave these equal; a
change that is meant to (a new figure, a reworded sentence) updates them on purpose::

    .venv/bin/python tests/pack_snapshots.py --update

The demo is built as ``make demo`` and ``make demo-all`` build it: the three weeks of minutes
replayed into a fresh store, the previous week's pack, then this week's, the monthly and the
quarterly pack. What differs from run to run (times, the temporary folder, file hashes and
package versions) is replaced by a placeholder.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import forked
from conftest import copy_demo, once_per_run, pin_the_clock

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"

#: (cadence, period, label) of every snapshot, in build order; the first weekly pack only
#: gives the second one something to compare with.
PACKS = (
    ("weekly", "2026-11-13", None),
    ("weekly", "2026-11-20", "2026-11-20"),
    ("monthly", "2026-10-31", "2026-10"),
    ("quarterly", "2026-11-20", "2026-Q4"),
)
RECORDED_PACKAGES = ("python", "reviewkit", "papermill", "nbconvert", "nbformat", "weasyprint",
                     "matplotlib", "pandas", "pydantic", "jinja2")

_TIMES = (
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:\+00:00|Z)?"), "<time>"),
    (re.compile(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC"), "<time>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"),
    (re.compile(r"\b[0-9a-f]{16,63}\b"), "<hex>"),
)


def normalise(text: str, root: Path) -> str:
    """Text with the run's folder, the checkout's folder, times, hashes and versions replaced
    by placeholders (the data paths name the checkout, which differs from clone to clone)."""
    text = text.replace(str(root), "<root>").replace(str(REPO), "<repo>")
    for pattern, placeholder in _TIMES:
        text = pattern.sub(placeholder, text)
    names = "|".join(RECORDED_PACKAGES)
    text = re.sub(rf"(?m)^({names}) ?\S+$", r"\1 <version>", text)
    # The software table's row of versions under its row of names: what the machine installed
    # (a newer pandas on a fresh clone) is no change to the pack.
    return _VERSION_ROW.sub("<versions>", text)


#: A line of version numbers only, two of them at least with three parts ("3.11.7 0.1.0 70.0"):
#: never a row of figures, whose numbers have one point at most.
_VERSION_ROW = re.compile(r"(?m)^(?=(?:.*?\b\d+\.\d+\.\d+){2})"
                          r"(?:\d+(?:\.\d+)+[\w.+-]*[ \t]+){3,}\d+(?:\.\d+)+[\w.+-]*$")


def _normalise_json(value: Any, root: Path) -> Any:
    if isinstance(value, dict):
        return {key: _normalise_json(item, root) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise_json(item, root) for item in value]
    if isinstance(value, str):
        return normalise(value, root)
    return value


@dataclass(frozen=True)
class BuiltPack:
    """A pack built by the command line (``-q``), with what the command printed."""

    params: Path
    out: Path
    folder: Path
    returncode: int
    stdout: str
    stderr: str


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    proc = forked.run(args, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"reviewkit {' '.join(args)} failed:\n{proc.stderr}")
    return proc


class DemoBuild:
    """Every snapshot pack built under ``root`` by child processes, started at once and awaited
    when first needed (the test suite starts it first thing and reads the packs from several
    modules): the demo's data and params copied to ``root`` as laid out in the repository, the
    minutes replayed, then two chains side by side (one per core): the weekly packs in order,
    and the others. Each cadence reads only its own earlier packs from the shared store, so the
    order between the chains does not show in any pack."""

    def __init__(self, root: Path, *, shared: bool = False) -> None:
        self.root = root
        #: Built once for the whole test run, by whichever worker (pytest-xdist) comes first.
        self.shared = shared
        self._future: Future[dict[str, BuiltPack]] | None = None
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="demo-build")

    def start(self) -> DemoBuild:
        if self._future is None:
            self._future = self._pool.submit(self._build)
        return self

    def wait(self) -> dict[str, BuiltPack]:
        """Each snapshot's pack by name (``weekly-2026-11-20``), once all are built."""
        return self.start()._future.result()  # type: ignore[union-attr]

    def _build(self) -> dict[str, BuiltPack]:
        if not self.shared:
            return self._make(self.root)
        made = once_per_run(self.root, lambda root: {
            name: {field: str(value) if isinstance(value, Path) else value
                   for field, value in asdict(pack).items()}
            for name, pack in self._make(root).items()})
        return {name: BuiltPack(Path(pack["params"]), Path(pack["out"]), Path(pack["folder"]),
                                pack["returncode"], pack["stdout"], pack["stderr"])
                for name, pack in made.items()}

    def _make(self, root: Path) -> dict[str, BuiltPack]:
        params = {cadence: copy_demo(root, cadence)
                  for cadence in ("weekly", "monthly", "quarterly")}
        for minutes in sorted((DEMO / "minutes").glob("weekly-*.yaml")):
            _run(["minutes", "import", str(minutes), "--params", str(params["weekly"]),
                  "--by", "demo"])

        def chain(packs: tuple[tuple[str, str, str | None], ...]
                  ) -> dict[tuple[str, str], BuiltPack]:
            built = {}
            for cadence, period, label in packs:
                out = root / "out"
                proc = _run(["build", cadence, "--params", str(params[cadence]),
                             "--period", period, "--out", str(out), "-q"])
                built[cadence, period] = BuiltPack(params[cadence], out,
                                                   out / cadence / (label or period),
                                                   proc.returncode, proc.stdout, proc.stderr)
            return built

        weekly = tuple(pack for pack in PACKS if pack[0] == "weekly")
        others = tuple(pack for pack in PACKS if pack[0] != "weekly")
        built: dict[tuple[str, str], BuiltPack] = {}
        for done in [self._pool.submit(chain, weekly), self._pool.submit(chain, others)]:
            built.update(done.result())
        return {f"{cadence}-{label}": built[cadence, period]
                for cadence, period, label in PACKS if label is not None}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def build_demo(root: Path) -> dict[str, Path]:
    """Build every snapshot pack under ``root``; return each label's pack folder."""
    demo = DemoBuild(root)
    try:
        return {name: pack.folder for name, pack in demo.wait().items()}
    finally:
        demo.close()


def pdf_pages(pdf: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(pdf).pages]


def snapshot_of(folder: Path, root: Path) -> tuple[str, str]:
    """The normalised page text (pages separated by a marker) and summary.json of a pack."""
    pages = pdf_pages(folder / "pack.pdf")
    text = "".join(
        f"===== page {number} of {len(pages)} =====\n"
        + "\n".join(line.rstrip() for line in normalise(page, root).splitlines()) + "\n"
        for number, page in enumerate(pages, start=1)
    )
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return text, json.dumps(_normalise_json(summary, root), indent=2, ensure_ascii=False) + "\n"


def snapshots(root: Path) -> Iterator[tuple[str, str, str]]:
    """(name, page text, summary) of each snapshot pack, built under ``root``."""
    for name, folder in build_demo(root).items():
        text, summary = snapshot_of(folder, root)
        yield name, text, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="rewrite tests/snapshots/")
    parser.add_argument("--keep", type=Path, help="build into this folder and keep it")
    args = parser.parse_args()
    pin_the_clock()
    root = args.keep or Path(tempfile.mkdtemp(prefix="reviewkit-snapshots-"))
    changed = 0
    try:
        for name, text, summary in snapshots(root.resolve()):
            for suffix, content in ((".txt", text), (".summary.json", summary)):
                path = SNAPSHOTS / f"{name}{suffix}"
                old = path.read_text(encoding="utf-8") if path.is_file() else None
                if old != content:
                    changed += 1
                    print(f"{'updated' if args.update else 'differs'}: {path.name}")
                    if args.update:
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(content, encoding="utf-8")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{changed} snapshot file(s) {'updated' if args.update else 'differ'}")
    return 1 if changed and not args.update else 0


if __name__ == "__main__":
    sys.exit(main())
