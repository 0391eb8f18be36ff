"""Bad-input sweep: every input reviewkit reads, broken in small ways, through the command line.

The promise under test (README, docs/data-contract.md): bad input stops the command with exit
code 2 and exactly one line on stderr, ``reviewkit: error: <file>, line N, field 'x': …``, naming
the file and, where the contract allows, the line or field, with no traceback; a failed command
leaves the action store (``reviewkit.sqlite`` beside the params file) and any existing pack
folder byte-for-byte as they were. Faults of the environment (a read-only store, a full disk)
get one line and an exit code other than 2.

Each case is one small mutation of a copy of the demo inputs, a command and the expected
outcome. Most run in this process through ``reviewkit.cli.main`` (milliseconds each); the few
that need a process of their own run ``python -m reviewkit`` where a limit is set before it
starts (memory and size bombs under a resource limit, a store the process may not write, a
full disk), and a handful of builds run in a child forked from the suite's fork server
(tests/forked.py).

Only the command line is used: the package's modules are being reorganised, so nothing below
imports from reviewkit except ``reviewkit.cli.main``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import io
import itertools
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli_in_process

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "data" / "demo"
DEMO_PARAMS = REPO / "params"
DEMO_LABEL = "2026-11-20"
MB = 1024 * 1024

# -- the demo inputs, copied --------------------------------------------------------------------

#: Minutes of the meeting on the 20 November pack: valid, and not yet in the store.
NEW_MINUTES = """\
# Minutes of the weekly operational review on the pack for the week ending 20 Nov 2026.
review: weekly 2026-11-20
decisions:
  - text: Hold a change freeze review with the EHR vendor
    rationale: Change success rate off track
    kpis: [change_success_rate]
actions:
  - title: Confirm the integration-engine fix in production
    owner: Change Manager
    due: 2026-12-04
    kpi: change_success_rate
updates:
  - id: A-0005
    status: in_progress
    note: Fix in test
"""

#: The demo's minutes of 13 November (in the store), corrected: the cloud action is given the
#: id of an action raised on 30 October, not by this meeting.
_MINUTES_1113 = (DEMO_DATA / "minutes" / "weekly-2026-11-13.yaml").read_text(encoding="utf-8")
CORRECTED_1113 = _MINUTES_1113.replace("  - title: Switch off idle",
                                       "  - id: A-0001\n    title: Switch off idle")
CORRECTED_1113_LINE = CORRECTED_1113.splitlines().index("  - id: A-0001") + 1
#: …and with two actions given one id, of the decision's action (the second names the line).
CORRECTED_1113_TWICE = _MINUTES_1113.replace(
    "      - title: Root-cause", "      - id: A-0005\n        title: Root-cause").replace(
    "  - title: Switch off idle", "  - id: A-0005\n    title: Switch off idle")
CORRECTED_1113_TWICE_LINE = CORRECTED_1113_TWICE.splitlines().index("  - id: A-0005") + 1


@dataclasses.dataclass(frozen=True)
class Demo:
    """A copy of the demo inputs laid out as in the repository, plus a store and a pack.

    ``params/`` holds the three params files (relative paths ``../data/demo/…`` as shipped) and
    the store, seeded with the three demo minutes; ``out/weekly/2026-11-20/`` stands for the
    previous good pack; ``minutes/weekly-2026-11-20.yaml`` is the next meeting's minutes and
    ``narrative.md`` the exported narrative of the 20 November pack.
    """

    root: Path

    def path(self, relative: str) -> Path:
        return self.root / relative

    @property
    def store(self) -> Path:
        return self.root / "params" / "reviewkit.sqlite"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def pack(self) -> Path:
        return self.out / "weekly" / DEMO_LABEL

    def placeholders(self) -> dict[str, str]:
        return {
            "weekly": str(self.path("params/weekly.yaml")),
            "monthly": str(self.path("params/monthly.yaml")),
            "quarterly": str(self.path("params/quarterly.yaml")),
            "out": str(self.out),
            "minutes": str(self.path("minutes/weekly-2026-11-20.yaml")),
            "md": str(self.path("narrative.md")),
            "root": str(self.root),
        }


class HarnessError(AssertionError):
    """A mutation did not find what it meant to change: the sweep itself is out of date."""


# -- running the command line -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    code: int | None  # None: killed by the timeout
    stdout: str
    stderr: str
    seconds: float


def run_in_process(args: Sequence[str]) -> Outcome:
    """``reviewkit ARGS`` in this process; an escaping exception is printed as Python would."""
    start = time.perf_counter()
    code, stdout, stderr = run_cli_in_process(args)
    return Outcome(code, stdout, stderr, time.perf_counter() - start)


def _child_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("REVIEWKIT_DEBUG", "REVIEWKIT_NO_SPEEDUPS", "PYTHONWARNINGS")}
    env["HOME"] = str(home)
    env.setdefault("USER", "sweep")
    env["MPLCONFIGDIR"] = str(home / ".mpl")
    return env


def run_in_child(
    args: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    cpu: float | None = None,
    memory: int | None = None,
    file_size: int | None = None,
    obey_modes: bool = False,
) -> Outcome:
    """``python -m reviewkit ARGS`` in a child process, with resource limits if asked.

    ``cpu`` caps the child's CPU seconds (SIGXCPU then ends it: unlike a wall-clock timeout
    this does not depend on how busy the machine is); ``memory`` caps the address space (a
    bomb then fails inside the child, not the machine);
    ``file_size`` caps the size of any file the child writes (a full disk, as SQLite sees it);
    ``obey_modes`` takes away root's power to override file modes (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH, from the capability bounding set, so it holds across exec), so a
    read-only store is read-only for a child run by root too.
    """

    def limits() -> None:  # runs in the child between fork and exec
        if cpu is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 5))
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
        if obey_modes and os.geteuid() == 0:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
                if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                    raise OSError(ctypes.get_errno(), "sweep harness: cannot drop "
                                  "CAP_DAC_OVERRIDE, so root would write a read-only store")

    env = _child_env(cwd)
    start = time.perf_counter()
    # Pipes, not files: RLIMIT_FSIZE would cap files the child writes its stderr to.
    with subprocess.Popen(
        [sys.executable, "-m", "reviewkit", *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=cwd, env=env, preexec_fn=limits, text=True,
        errors="replace",
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            code = None
    return Outcome(code, stdout, stderr, time.perf_counter() - start)


def run_forked(args: Sequence[str], *, cwd: Path, timeout: float, logs: Path) -> Outcome:
    """``reviewkit ARGS`` in a child forked from the suite's fork server (tests/forked.py): a
    process of its own, in ``cwd`` with the environment :func:`run_in_child` gives, without
    starting Python and importing the pipeline again. For the child cases that set no limit
    before the command starts (the builds)."""
    import forked

    start = time.perf_counter()
    child = forked.start(args, cwd=cwd, env=_child_env(cwd), logs=logs)
    code: int | None
    try:
        code = child.wait(timeout)
    except subprocess.TimeoutExpired:
        code = None
    stdout, stderr = child.output()
    return Outcome(code, stdout, stderr, time.perf_counter() - start)


# -- mutations ----------------------------------------------------------------------------------

Found = dict[str, Any]
Mutation = Callable[[Demo], Found | None]


def _read(demo: Demo, relative: str) -> str:
    return demo.path(relative).read_text(encoding="utf-8")


def _write(demo: Demo, relative: str, text: str) -> None:
    demo.path(relative).write_text(text, encoding="utf-8")


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def replace(relative: str, old: str, new: str) -> Mutation:
    """Replace the first ``old`` by ``new``; ``line`` is where ``new`` starts."""

    def mutate(demo: Demo) -> Found:
        text = _read(demo, relative)
        index = text.find(old)
        if index < 0:
            raise HarnessError(f"{relative} no longer contains {old!r}")
        _write(demo, relative, text[:index] + new + text[index + len(old):])
        return {"line": _line_of(text, index)}

    return mutate


def set_key(relative: str, key: str, value: str) -> Mutation:
    """Set a top-level ``key: value`` in a YAML file (in place, or appended)."""

    def mutate(demo: Demo) -> Found:
        lines = _read(demo, relative).splitlines()
        for number, line in enumerate(lines, start=1):
            if line.startswith(f"{key}:"):
                lines[number - 1] = f"{key}: {value}"
                break
        else:
            lines.append(f"{key}: {value}")
            number = len(lines)
        _write(demo, relative, "\n".join(lines) + "\n")
        return {"line": number}

    return mutate


def drop_key(relative: str, key: str) -> Mutation:
    def mutate(demo: Demo) -> Found:
        lines = _read(demo, relative).splitlines()
        kept = [line for line in lines if not line.startswith(f"{key}:")]
        if len(kept) == len(lines):
            raise HarnessError(f"{relative} has no key {key!r}")
        _write(demo, relative, "\n".join(kept) + "\n")
        return {}

    return mutate


def write_text(relative: str, text: str) -> Mutation:
    def mutate(demo: Demo) -> Found:
        path = demo.path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return {}

    return mutate


def write_bytes(relative: str, data: bytes | Callable[[bytes], bytes]) -> Mutation:
    """Write bytes, or transform the file's bytes with a function."""

    def mutate(demo: Demo) -> Found:
        path = demo.path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_bytes() if path.exists() else b""
        path.write_bytes(data(old) if callable(data) else data)
        return {}

    return mutate


def remove(relative: str) -> Mutation:
    def mutate(demo: Demo) -> Found:
        demo.path(relative).unlink()
        return {}

    return mutate


def make_dir(relative: str) -> Mutation:
    def mutate(demo: Demo) -> Found:
        demo.path(relative).mkdir(parents=True)
        return {}

    return mutate


def append_lines(relative: str, *lines: str) -> Mutation:
    """Append physical lines to a text file; ``line`` is the first appended line's number."""

    def mutate(demo: Demo) -> Found:
        text = _read(demo, relative)
        if not text.endswith("\n"):
            text += "\n"
        first = text.count("\n") + 1
        _write(demo, relative, text + "".join(line + "\n" for line in lines))
        return {"line": first, "last": first + sum(line.count("\n") + 1 for line in lines) - 1}

    return mutate


def add_column(relative: str, name: str) -> Mutation:
    """A column added to a CSV: its name at the end of the header and an empty field at the
    end of every other line (every line has as many fields as the header)."""

    def mutate(demo: Demo) -> Found:
        header, *rows = _read(demo, relative).splitlines()
        _write(demo, relative, "".join(f"{line}\n" for line in
                                       [f"{header},{name}", *(f"{row}," for row in rows)]))
        return {}

    return mutate


def csv_cell(relative: str, line: int, column: str, value: str) -> Mutation:
    """Set one cell of a one-line CSV record at physical ``line`` (header on line 1)."""

    def mutate(demo: Demo) -> Found:
        text = _read(demo, relative)
        lines = text.split("\n")
        header = next(csv.reader([lines[0]]))
        record = next(csv.reader([lines[line - 1]]))
        record[header.index(column)] = value
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(record)  # quotes a cell with a newline
        lines[line - 1] = buffer.getvalue().removesuffix("\n")
        _write(demo, relative, "\n".join(lines))
        return {"line": line}

    return mutate


def chain(*mutations: Mutation) -> Mutation:
    """Apply several mutations; the found values of later ones win."""

    def mutate(demo: Demo) -> Found:
        found: Found = {}
        for mutation in mutations:
            found.update(mutation(demo) or {})
        return found

    return mutate


def keep(name: str, mutation: Mutation) -> Mutation:
    """Keep what a mutation found under another name (e.g. the line of an earlier edit)."""

    def mutate(demo: Demo) -> Found:
        found = mutation(demo) or {}
        return {name: found.get("line")}

    return mutate


KPIS = "data/demo/kpis.yaml"
MEAS = "data/demo/measurements.csv"
#: A measurement row of a unit, up to the note column the cases that need one add.
NOTE_ROW = "change_success_rate,2026-11-27,88.1,,NGH,24,"
WEEKLY = "params/weekly.yaml"
MONTHLY = "params/monthly.yaml"
QUARTERLY = "params/quarterly.yaml"
INITIATIVES = "data/demo/initiatives.csv"
BENEFITS = "data/demo/benefits.csv"
SPEND = "data/demo/spend.csv"
PRIORITIES = "data/demo/priorities.yaml"
MINUTES = "minutes/weekly-2026-11-20.yaml"
NARRATIVE = "narrative.md"


def kpi_set(kpi_id: str, field: str, value: str | None) -> Mutation:
    """Set (or with None remove) one field of one KPI in the catalog; ``line`` is the field's."""

    def mutate(demo: Demo) -> Found:
        lines = _read(demo, KPIS).split("\n")
        start = lines.index(f"  - id: {kpi_id}")
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("  - ")),
                   len(lines))
        prefix = "id" if field == "id" else f"    {field}:"
        for index in range(start, end):
            if (field == "id" and index == start) or lines[index].startswith(prefix):
                stop = index + 1
                while stop < end and lines[stop].startswith("      "):
                    stop += 1  # continuation lines of a folded value
                if value is None:
                    del lines[index:stop]
                elif field == "id":
                    lines[index:stop] = [f"  - id: {value}"]
                else:
                    lines[index:stop] = [f"    {field}: {value}"]
                break
        else:
            if value is None:
                raise HarnessError(f"KPI {kpi_id} has no field {field}")
            index = start + 1
            lines.insert(index, f"    {field}: {value}")
        _write(demo, KPIS, "\n".join(lines))
        return {"line": index + 1, "kpi_line": start + 1}

    return mutate


def use_measurements(name: str, params: str = WEEKLY) -> Mutation:
    return set_key(params, "measurements", f"../data/demo/{name}")


def xlsx(edit: Callable[[Any], Found | None]) -> Mutation:
    """Point the weekly params at measurements.xlsx and edit its workbook (openpyxl)."""

    def mutate(demo: Demo) -> Found:
        import openpyxl

        use_measurements("measurements.xlsx")(demo)
        path = demo.path("data/demo/measurements.xlsx")
        workbook = openpyxl.load_workbook(path)
        found = edit(workbook) or {}
        workbook.save(path)
        return found

    return mutate


def xlsx_cell(row: int, column: int, value: Any) -> Mutation:
    def edit(workbook: Any) -> Found:
        workbook.worksheets[0].cell(row=row, column=column).value = value  # None clears it
        return {"row": row}

    return xlsx(edit)


def parquet(edit: Callable[[dict[str, list[Any]]], Found | None]) -> Mutation:
    """Point the weekly params at measurements.parquet and rewrite its columns (pyarrow)."""

    def mutate(demo: Demo) -> Found:
        import pyarrow as pa
        import pyarrow.parquet as pq

        use_measurements("measurements.parquet")(demo)
        path = demo.path("data/demo/measurements.parquet")
        columns = pq.read_table(path).to_pydict()
        found = edit(columns) or {}
        pq.write_table(pa.table(columns), path)
        return found

    return mutate


def parquet_cell(index: int, column: str, value: Any) -> Mutation:
    """Set one value (0-based record ``index``; the contract's row numbers start at 1)."""

    def edit(columns: dict[str, list[Any]]) -> Found:
        columns[column][index] = value
        return {"row": index + 1}

    return parquet(edit)


def store_bytes(data: bytes | Callable[[bytes], bytes]) -> Mutation:
    return write_bytes("params/reviewkit.sqlite", data)


def store_sql(script: str) -> Mutation:
    """Run SQL statements (separated by ';') on the store."""

    def mutate(demo: Demo) -> Found:
        with contextlib.closing(sqlite3.connect(demo.store)) as connection:
            connection.executescript(script)
            connection.commit()
        return {}

    return mutate


def symlink(relative: str, target: str) -> Mutation:
    """Make ``relative`` a symbolic link to ``target`` (relative to the link's folder)."""

    def mutate(demo: Demo) -> Found:
        link = demo.path(relative)
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(target)
        return {}

    return mutate


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A flow sequence defining anchors a..i, each ``width`` aliases of the one before: about
    1 KB of YAML that expands to width**levels leaves if anything walks it as a tree."""
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    parts = [f"&{names[0]} [" + ", ".join(["lol"] * width) + "]"]
    for previous, name in itertools.pairwise(names):
        parts.append(f"&{name} [" + ", ".join([f"*{previous}"] * width) + "]")
    return "[" + ", ".join(parts) + "]"


BOMB = alias_bomb()
#: A bomb has this much address space and time to be refused in; a tool that walks it as a
#: tree runs out of one or the other (and only its own process goes down).
BOMB_MEMORY = 512 * MB
BOMB_SECONDS = 20


# -- cases --------------------------------------------------------------------------------------

#: Expected exit: an int, or "env" (an environment fault: neither 0 nor 2), "nonzero", or
#: "0|2" / "0|env" where either outcome is right (success, or the clean failure).
Exit = int | str


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    mutation: str  # what was broken, in words
    mutate: Mutation | None
    command: tuple[str, ...]  # with {weekly}, {monthly}, {quarterly}, {out}, {minutes}, {md}
    exit: Exit = 2
    names: tuple[str, ...] = ()  # any of these basenames must appear in the error line
    where: str | None = None  # a regex the error line must match, formatted with found values
    # A process of its own: ``python -m reviewkit`` where a limit is set before it starts,
    # else forked (tests/forked.py).
    child: bool = False
    timeout: float = 600.0  # wall-clock seconds: a safety net only
    cpu: float | None = None  # CPU seconds the child may use (see run_in_child)
    memory: int | None = None
    file_size: int | None = None
    read_only_store: bool = False  # the store file and its folder read-only while it runs
    read_only_out: bool = False  # the output folder read-only while it runs
    absent: tuple[str, ...] = ()  # text that must appear nowhere in the output (a secret)
    max_chars: int | None = None  # the longest the error line may be

    def __str__(self) -> str:
        return self.id


def _cmd(text: str) -> tuple[str, ...]:
    return tuple(text.split())


VALIDATE_W = _cmd("validate --params {weekly}")
VALIDATE_M = _cmd("validate --params {monthly}")
VALIDATE_Q = _cmd("validate --params {quarterly}")
MINUTES_IMPORT = _cmd("minutes import {minutes} --params {weekly} --by sweep")
NARRATIVE_IMPORT = _cmd("narrative import weekly --params {weekly} {md} --by sweep")
ACTIONS_LIST = _cmd("actions list --params {weekly}")


def at(field: str | None = None, line: str | int | None = None, row: str | int | None = None
       ) -> str:
    """A regex for the place an error names: ``line N`` / ``row N`` and ``field 'x'``."""
    parts = []
    if line is not None:
        parts.append(rf"line {line}(?![0-9])")
    if row is not None:
        parts.append(rf"row {row}(?![0-9])")
    if field is not None:
        parts.append(rf"field '{re.escape(field)}(\.[^']*)?'")  # or a part of it: 'x.1'
    return ".*".join(parts)


def case(id: str, mutation: str, mutate: Mutation | None, command: tuple[str, ...] = VALIDATE_W,
         *, names: str | tuple[str, ...] = "weekly.yaml", **expect: Any) -> Case:
    if isinstance(names, str):
        names = (names,)
    return Case(id, mutation, mutate, command, names=names, **expect)


def _params_cases() -> list[Case]:
    p = "weekly.yaml"
    return [
        case("params-missing-organisation", "organisation: line deleted",
             drop_key(WEEKLY, "organisation"), where=at("organisation")),
        case("params-blank-organisation", 'organisation: ""',
             set_key(WEEKLY, "organisation", '""'), where=at("organisation", line=2)),
        case("params-whitespace-organisation", 'organisation: "   "',
             set_key(WEEKLY, "organisation", '"   "'), where=at("organisation", line=2)),
        case("params-missing-catalog", "catalog: line deleted", drop_key(WEEKLY, "catalog"),
             where=at("catalog")),
        case("params-empty-catalog", "catalog: (no value)", set_key(WEEKLY, "catalog", ""),
             where=at("catalog")),
        case("params-missing-measurements", "measurements: line deleted",
             drop_key(WEEKLY, "measurements"), where=at("measurements")),
        case("params-misspelt-organisation", "organization: instead of organisation",
             replace(WEEKLY, "organisation:", "organization:"),
             where=at("organization", line="{line}") + ".*did you mean 'organisation'"),
        case("params-misspelt-measurements", "measurments: instead of measurements",
             replace(WEEKLY, "measurements:", "measurments:"),
             where=at("measurments", line="{line}") + ".*did you mean 'measurements'"),
        case("params-misspelt-period-end", "period-end: 2026-11-20 (hyphen)",
             set_key(WEEKLY, "period-end", "2026-11-20"),
             where=at("period-end", line="{line}") + ".*did you mean 'period_end'"),
        case("params-organisation-list", "organisation: [a, b]",
             set_key(WEEKLY, "organisation", "[Northwind, IT]"),
             where=at("organisation", line="{line}")),
        case("params-title-mapping", "title: {text: x}", set_key(WEEKLY, "title", "{text: x}"),
             where=at("title", line="{line}")),
        case("params-catalog-number", "catalog: 42", set_key(WEEKLY, "catalog", "42"),
             where=at("catalog", line="{line}")),
        case("params-history-text", "history: lots", set_key(WEEKLY, "history", "lots"),
             where=at("history", line="{line}")),
        case("params-history-too-small", "history: 2 (minimum 4)",
             set_key(WEEKLY, "history", "2"), where=at("history", line="{line}")),
        case("params-stale-after-zero", "stale_after: 0", set_key(WEEKLY, "stale_after", "0"),
             where=at("stale_after", line="{line}")),
        case("params-stale-after-yes", "stale_after: yes (a YAML boolean, not a number)",
             set_key(WEEKLY, "stale_after", "yes"), where=at("stale_after", line="{line}")),
        case("params-history-float", "history: 12.5", set_key(WEEKLY, "history", "12.5"),
             where=at("history", line="{line}")),
        case("params-page-size", "page_size: A6", set_key(WEEKLY, "page_size", "A6"),
             where=at("page_size", line="{line}")),
        case("params-headline-string", "headline: change_success_rate (not a list)",
             set_key(WEEKLY, "headline", "change_success_rate"),
             where=at("headline", line="{line}")),
        case("params-headline-unknown-kpi", "headline: [change_sucess_rate] (misspelt KPI id)",
             set_key(WEEKLY, "headline", "[change_sucess_rate]"), where=at("headline")),
        case("params-period-end-month-13", "period_end: 2026-13-01",
             set_key(WEEKLY, "period_end", "2026-13-01"), where=at("period_end", line="{line}")),
        case("params-period-end-compact", "period_end: 20261120 (YAML reads an integer)",
             set_key(WEEKLY, "period_end", "20261120"), where=at("period_end", line="{line}")),
        case("params-period-end-iso-week", "period_end: 2026-W47-5",
             set_key(WEEKLY, "period_end", "2026-W47-5"), where=at("period_end", line="{line}")),
        case("params-period-end-feb-30", "period_end: 2026-02-30",
             set_key(WEEKLY, "period_end", "2026-02-30"), where=at("period_end", line="{line}")),
        case("params-period-end-with-time", "period_end: 2026-11-20 10:30:00",
             set_key(WEEKLY, "period_end", "2026-11-20 10:30:00"),
             where=at("period_end", line="{line}")),
        case("params-period-end-words", "period_end: last friday",
             set_key(WEEKLY, "period_end", "last friday"), where=at("period_end", line="{line}")),
        case("params-catalog-missing-file", "catalog: ../data/demo/kpi.yaml (no such file)",
             set_key(WEEKLY, "catalog", "../data/demo/kpi.yaml"),
             where=at("catalog", line="{line}")),
        case("params-measurements-missing-file", "measurements: ../data/demo/nope.csv",
             use_measurements("nope.csv"), where=at("measurements", line="{line}")),
        case("params-catalog-is-directory", "catalog: ../data/demo (a folder)",
             set_key(WEEKLY, "catalog", "../data/demo"), where=at("catalog", line="{line}")),
        case("params-measurements-symlink-loop", "measurements: loop.csv, a link to itself",
             chain(symlink("data/demo/loop.csv", "loop.csv"), use_measurements("loop.csv")),
             where=at("measurements", line="{line}")),
        case("params-catalog-is-csv", "catalog: ../data/demo/measurements.csv",
             set_key(WEEKLY, "catalog", "../data/demo/measurements.csv"),
             names=("measurements.csv", p)),
        case("params-measurements-is-yaml", "measurements: ../data/demo/kpis.yaml",
             use_measurements("kpis.yaml"), names=("kpis.yaml", p)),
        case("params-measurements-txt", "measurements: measurements.txt (a copy of the CSV)",
             chain(write_bytes("data/demo/measurements.txt",
                               lambda _: (DEMO_DATA / "measurements.csv").read_bytes()),
                   use_measurements("measurements.txt")),
             names=("measurements.txt", p)),
        case("params-notebook-is-yaml", "notebook: ../data/demo/priorities.yaml",
             set_key(WEEKLY, "notebook", "../data/demo/priorities.yaml"),
             names=(p, "priorities.yaml"), where=at("notebook")),
        case("params-notebook-missing", "notebook: ../notebooks/nope.ipynb",
             set_key(WEEKLY, "notebook", "../notebooks/nope.ipynb"),
             where=at("notebook", line="{line}")),
        case("params-publish-gate-unknown-rule", "publish_gate: {red_kpis_explaned: false}",
             set_key(WEEKLY, "publish_gate", "{red_kpis_explaned: false}"),
             where=at("publish_gate", line="{line}")),
        case("params-publish-gate-list", "publish_gate: [narrative_final]",
             set_key(WEEKLY, "publish_gate", "[narrative_final]"),
             where=at("publish_gate", line="{line}")),
        case("params-publish-gate-maybe", "publish_gate: {narrative_final: maybe}",
             set_key(WEEKLY, "publish_gate", "{narrative_final: maybe}"),
             where=at("publish_gate", line="{line}")),
        case("params-duplicate-key", "organisation: given twice",
             append_lines(WEEKLY, "organisation: Southwind IT"), where=at(line="{line}")),
        case("params-tab-indent", "a tab-indented line under publish_gate",
             append_lines(WEEKLY, "publish_gate:", "\tnarrative_final: false"),
             where=at(line="{last}")),
        case("params-unclosed-quote", 'title: "Weekly review (no closing quote)',
             set_key(WEEKLY, "title", '"Weekly review'), where=r"line \d+"),
        case("params-empty-file", "an empty params file", write_text(WEEKLY, "")),
        case("params-comments-only", "only comments", write_text(WEEKLY, "# nothing here\n")),
        case("params-top-level-list", "a list at top level",
             write_text(WEEKLY, "- organisation: Northwind IT\n- catalog: x.yaml\n")),
        case("params-scalar", "a bare word", write_text(WEEKLY, "weekly\n")),
        case("params-latin1", "organisation: Nörthwind in Latin-1 bytes",
             write_bytes(WEEKLY, lambda data: data.replace(b"Northwind IT\n",
                                                           "Nörthwind IT\n".encode("latin-1")))),
        case("params-utf16", "the params file saved as UTF-16",
             write_bytes(WEEKLY, lambda data: data.decode().encode("utf-16"))),
        case("params-nul-bytes", "NUL bytes in the title",
             write_bytes(WEEKLY, lambda data: data.replace(b"Weekly Operational", b"Weekly\0\0"))),
        case("params-file-missing", "--params names a file that does not exist", None,
             _cmd("validate --params {root}/params/nope.yaml"), names="nope.yaml"),
        case("params-is-directory", "--params names a folder", None,
             _cmd("validate --params {root}/params"), names="params"),
        case("params-symlink-loop", "--params is a link to itself",
             symlink("params/loop.yaml", "loop.yaml"),
             _cmd("validate --params {root}/params/loop.yaml"), names="loop.yaml"),
        case("params-alias-bomb", "a ~1 KB YAML alias bomb as the classification",
             set_key(WEEKLY, "classification", BOMB),
             child=True, memory=BOMB_MEMORY, cpu=BOMB_SECONDS,
             where=at("classification", line="{line}")),
        case("params-50mb", "--params names a 50 MB file (a measurements CSV written as YAML)",
             write_bytes("params/big.yaml", lambda _: _fifty_mb()),
             _cmd("validate --params {root}/params/big.yaml"), names="big.yaml",
             child=True, memory=2048 * MB, cpu=60),
        case("params-store-folder-missing", "store: nope/reviewkit.sqlite (no such folder)",
             set_key(WEEKLY, "store", "nope/reviewkit.sqlite"), ACTIONS_LIST,
             names=(p, "nope")),
        case("params-store-bad-url", "store: nosuchdb://x (no such database driver)",
             set_key(WEEKLY, "store", "nosuchdb://x"), ACTIONS_LIST, names=(p, "nosuchdb")),
    ]


def _fifty_mb() -> bytes:
    chunk = (DEMO_DATA / "measurements.csv").read_bytes()
    return chunk * (50 * MB // len(chunk) + 1)


def _catalog_cases() -> list[Case]:
    k = "kpis.yaml"
    return [
        case("catalog-bad-id", "id: Change-Success (upper case and a hyphen)",
             kpi_set("change_success_rate", "id", "Change-Success"), names=k,
             where=at("id", line="{line}")),
        case("catalog-id-trailing-space", "id: 'change_success_rate ' (trailing space)",
             kpi_set("change_success_rate", "id", "'change_success_rate '"), names=k,
             where=at("id", line="{line}")),
        case("catalog-id-140-characters", "an id of 140 characters (PostgreSQL keeps 128)",
             kpi_set("change_success_rate", "id", "change_success_rate_" * 7), names=k,
             where=at("id", line="{line}")),
        case("catalog-id-number", "id: 42", kpi_set("change_success_rate", "id", "42"), names=k,
             where=at("id", line="{line}")),
        case("catalog-duplicate-id", "the second KPI given the first one's id",
             kpi_set("change_lead_time", "id", "change_success_rate"), names=k,
             where=at("id", line="{line}")),
        case("catalog-missing-id", "a KPI without id",
             replace(KPIS, "  - id: change_lead_time\n    name:", "  - name:"), names=k,
             where=at("id")),
        case("catalog-missing-name", "name: removed", kpi_set("change_lead_time", "name", None),
             names=k, where=at("name")),
        case("catalog-blank-owner", 'owner: ""', kpi_set("change_lead_time", "owner", '""'),
             names=k, where=at("owner")),
        case("catalog-direction-near-miss", "direction: higher_is_beter",
             kpi_set("change_success_rate", "direction", "higher_is_beter"), names=k,
             where=at("direction", line="{line}") + ".*did you mean 'higher_is_better'"),
        case("catalog-direction-hyphens", "direction: lower-is-better",
             kpi_set("change_lead_time", "direction", "lower-is-better"), names=k,
             where=at("direction", line="{line}") + ".*lower_is_better"),
        case("catalog-direction-missing", "direction: removed",
             kpi_set("change_lead_time", "direction", None), names=k, where=at("direction")),
        case("catalog-target-nan", "target: .nan",
             kpi_set("change_success_rate", "target", ".nan"), names=k,
             where=at("target", line="{line}")),
        case("catalog-target-inf", "target: .inf",
             kpi_set("change_success_rate", "target", ".inf"), names=k,
             where=at("target", line="{line}")),
        case("catalog-target-minus-inf", "target: -.inf",
             kpi_set("change_lead_time", "target", "-.inf"), names=k,
             where=at("target", line="{line}")),
        case("catalog-target-overflow", "target: 1e999 (YAML reads infinity)",
             kpi_set("change_success_rate", "target", "1e999"), names=k,
             where=at("target", line="{line}")),
        case("catalog-target-1e30", "target: 1.0e30 (finite, but no KPI's figure)",
             kpi_set("change_success_rate", "target", "1.0e30"), names=k,
             where=at("target", line="{line}") + ".*beyond the largest figure"),
        case("catalog-target-yes", "target: yes", kpi_set("change_success_rate", "target", "yes"),
             names=k, where=at("target", line="{line}")),
        case("catalog-target-percent", "target: 95%",
             kpi_set("change_success_rate", "target", "95%"), names=k,
             where=at("target", line="{line}")),
        case("catalog-target-list", "target: [95, 90]",
             kpi_set("change_success_rate", "target", "[95, 90]"), names=k,
             where=at("target", line="{line}")),
        case("catalog-amber-nan", "amber: .nan", kpi_set("change_success_rate", "amber", ".nan"),
             names=k, where=at("amber", line="{line}")),
        case("catalog-amber-wrong-side-higher", "amber 97 above target 95 (higher_is_better)",
             kpi_set("change_success_rate", "amber", "97"), names=k,
             where=at("amber", line="{line}")),
        case("catalog-amber-wrong-side-lower", "amber 3 below target 5 (lower_is_better)",
             kpi_set("change_lead_time", "amber", "3"), names=k,
             where=at("amber", line="{line}")),
        case("catalog-amber-wrong-side-per-cadence", "amber monthly 2 below target 4 (lower)",
             kpi_set("p1_incidents", "amber", "{weekly: 2, monthly: 2, quarterly: 24}"),
             names=k, where=at("amber", line="{line}")),
        case("catalog-target-missing-cadence", "target: {weekly: 1, quarterly: 12} (no monthly)",
             kpi_set("p1_incidents", "target", "{weekly: 1, quarterly: 12}"), names=k,
             where=at("target", line="{line}") + ".*monthly"),
        case("catalog-amber-missing-cadence", "amber: {weekly: 2, monthly: 8} (no quarterly)",
             kpi_set("p1_incidents", "amber", "{weekly: 2, monthly: 8}"), names=k,
             where=at("amber", line="{line}") + ".*quarterly"),
        case("catalog-target-misspelt-cadence", "target: {weekly: 1, montly: 4, quarterly: 12}",
             kpi_set("p1_incidents", "target", "{weekly: 1, montly: 4, quarterly: 12}"),
             names=k, where=at("target", line="{line}")),
        case("catalog-sum-single-target", "a summed KPI (p1_incidents) with target: 1, amber: 2",
             chain(kpi_set("p1_incidents", "amber", "2"), kpi_set("p1_incidents", "target", "1")),
             names=k, where=at("target", line="{line}")),
        case("catalog-unknown-field", "ownr: instead of owner",
             replace(KPIS, "    owner: Head of Delivery", "    ownr: Head of Delivery"),
             names=k, where=at("ownr", line="{line}") + ".*did you mean 'owner'"),
        case("catalog-unknown-field-far", "colour: red", kpi_set("change_lead_time", "colour",
                                                                 "red"),
             names=k, where=at("colour", line="{line}")),
        case("catalog-cadence-misspelt", "cadences: [weekly, montly]",
             kpi_set("change_lead_time", "cadences", "[weekly, montly]"), names=k,
             where=at("cadences", line="{line}")),
        case("catalog-cadences-empty", "cadences: []",
             kpi_set("change_lead_time", "cadences", "[]"), names=k, where=at("cadences")),
        case("catalog-cadences-string", "cadences: weekly (not a list)",
             kpi_set("change_lead_time", "cadences", "weekly"), names=k,
             where=at("cadences", line="{line}")),
        case("catalog-aggregation", "aggregation: average",
             kpi_set("change_lead_time", "aggregation", "average"), names=k,
             where=at("aggregation", line="{line}")),
        case("catalog-kind-near-miss", "kind: leadng", kpi_set("change_lead_time", "kind",
                                                                 "leadng"),
             names=k, where=at("kind", line="{line}") + ".*did you mean 'leading'"),
        case("catalog-decimals-too-many", "decimals: 9",
             kpi_set("change_lead_time", "decimals", "9"), names=k,
             where=at("decimals", line="{line}")),
        case("catalog-headline-maybe", "headline: maybe",
             kpi_set("change_lead_time", "headline", "maybe"), names=k,
             where=at("headline", line="{line}")),
        case("catalog-contributors-string", "contributors: Service Desk (not a list)",
             kpi_set("change_lead_time", "contributors", "Service Desk"), names=k,
             where=at("contributors", line="{line}")),
        case("catalog-empty-list", "kpis: []", write_text(KPIS, "kpis: []\n"), names=k,
             where=at("kpis")),
        case("catalog-no-kpis-key", "kpi: instead of kpis",
             replace(KPIS, "\nkpis:\n", "\nkpi:\n"), names=k,
             where=at("kpi", line=r"\d+") + ".*did you mean 'kpis'"),
        case("catalog-item-not-mapping", "a KPI entry that is a bare word",
             replace(KPIS, "\nkpis:\n", "\nkpis:\n  - change_success_rate\n"), names=k,
             where=r"line \d+"),
        case("catalog-top-level-list", "the KPI list without the kpis: key",
             write_text(KPIS, "- id: a\n  name: A\n"), names=k),
        case("catalog-empty-file", "an empty catalog", write_text(KPIS, ""), names=k),
        case("catalog-duplicate-field", "target: given twice in one KPI",
             replace(KPIS, "    target: 95\n", "    target: 95\n    target: 96\n"), names=k,
             where=r"line \d+"),
        case("catalog-tab-indent", "a tab before a KPI field",
             replace(KPIS, "    target: 95\n", "\ttarget: 95\n"), names=k,
             where=r"line \d+"),
        case("catalog-latin1", "a definition in Latin-1 bytes",
             write_bytes(KPIS, lambda data: data.replace(
                 b"Share of production", "Part des déploiements".encode("latin-1"))),
             names=k),
        case("catalog-alias-bomb-direction", "a ~1 KB alias bomb as a KPI's direction",
             kpi_set("change_lead_time", "direction", BOMB), names=k,
             where=at("direction", line="{line}"), child=True, memory=BOMB_MEMORY,
             cpu=BOMB_SECONDS),
    ]


def _measurement_cases() -> list[Case]:
    m = "measurements.csv"
    bad_row = "change_success_rate,2026-11-27,{},,,"  # the header's six fields

    def row(value: str) -> Mutation:
        return append_lines(MEAS, bad_row.format(value))

    def dated(date: str) -> Mutation:
        return append_lines(MEAS, f"change_success_rate,{date},88.1,,,")

    return [
        case("csv-missing-value-column", "header: value renamed val",
             replace(MEAS, "kpi_id,period_end,value,target", "kpi_id,period_end,val,target"),
             names=m, where=at("val", line=1) + ".*did you mean 'value'"),
        case("csv-missing-kpi-id-column", "header: kpi_id column missing",
             replace(MEAS, "kpi_id,period_end,value,target", "kpi,period_end,value,target"),
             names=m, where=at("kpi", line=1) + ".*did you mean 'kpi_id'"),
        case("csv-missing-value-column-unlike", "header: value renamed reading",
             replace(MEAS, "kpi_id,period_end,value,target", "kpi_id,period_end,reading,target"),
             names=m, where=at("value", line=1)),
        case("csv-header-capitalised", "header: Value instead of value (names are case-blind)",
             replace(MEAS, "kpi_id,period_end,value,target", "kpi_id,period_end,Value,target"),
             exit=0),
        case("csv-semicolons", "a semicolon-separated file",
             write_bytes(MEAS, lambda data: data.replace(b",", b";")), names=m,
             where=at(line=1)),
        case("csv-repeated-header-column", "header: kpi_id,period_end,value,value",
             replace(MEAS, "kpi_id,period_end,value,target", "kpi_id,period_end,value,value"),
             names=m, where=at("value", line=1)),
        case("csv-date-month-13", "period_end 2026-13-01", dated("2026-13-01"), names=m,
             where=at("period_end", line="{line}")),
        case("csv-date-compact", "period_end 20261127", dated("20261127"), names=m,
             where=at("period_end", line="{line}")),
        case("csv-date-iso-week", "period_end 2026-W48-5", dated("2026-W48-5"), names=m,
             where=at("period_end", line="{line}")),
        case("csv-date-with-time", "period_end 2026-11-27T00:00", dated("2026-11-27T00:00"),
             names=m, where=at("period_end", line="{line}")),
        case("csv-date-slashes", "period_end 27/11/2026", dated("27/11/2026"), names=m,
             where=at("period_end", line="{line}")),
        case("csv-date-empty", "period_end empty", dated(""), names=m,
             where=at("period_end", line="{line}")),
        case("csv-value-nan", "value nan", row("nan"), names=m, where=at("value", line="{line}")),
        case("csv-value-inf", "value inf", row("inf"), names=m, where=at("value", line="{line}")),
        case("csv-value-minus-infinity", "value -Infinity", row("-Infinity"), names=m,
             where=at("value", line="{line}")),
        case("csv-value-underscore", "value 8_8.1 (Python's digit separator)", row("8_8.1"),
             names=m, where=at("value", line="{line}")),
        case("csv-value-n-a", "value n/a", row("n/a"), names=m, where=at("value", line="{line}")),
        case("csv-value-thousands", 'value "1,234.5"', row('"1,234.5"'), names=m,
             where=at("value", line="{line}")),
        case("csv-value-percent", "value 88.1%", row("88.1%"), names=m,
             where=at("value", line="{line}")),
        case("csv-value-hex", "value 0x58", row("0x58"), names=m,
             where=at("value", line="{line}")),
        case("csv-value-overflow", "value 1e999", row("1e999"), names=m,
             where=at("value", line="{line}")),
        case("csv-value-1e30", "value 1e30 (finite, but no KPI's figure)", row("1e30"),
             names=m, where=at("value", line="{line}") + ".*beyond the largest figure"),
        case("csv-value-minus-1e300", "value -1e300", row("-1e300"), names=m,
             where=at("value", line="{line}") + ".*beyond the largest figure"),
        case("csv-target-1e30", "target column: 1e30",
             append_lines(MEAS, "change_success_rate,2026-11-27,88.1,1e30,,"), names=m,
             where=at("target", line="{line}") + ".*beyond the largest figure"),
        case("csv-target-text", "target column: abc",
             append_lines(MEAS, "change_success_rate,2026-11-27,88.1,abc,,"), names=m,
             where=at("target", line="{line}")),
        case("csv-target-nan", "target column: NaN",
             append_lines(MEAS, "change_success_rate,2026-11-27,88.1,NaN,,"), names=m,
             where=at("target", line="{line}")),
        case("csv-empty-kpi-id", "kpi_id empty", append_lines(MEAS, ",2026-11-27,88.1,,,"),
             names=m, where=at("kpi_id", line="{line}")),
        case("csv-value-unquoted-thousands", "value 1,234.5 unquoted: seven fields, not six",
             row("1,234.5"), names=m, where=at(line="{line}") + ".*7 fields, the header 6"),
        case("csv-too-few-fields", "a row of kpi_id and period_end only",
             append_lines(MEAS, "change_success_rate,2026-11-27"), names=m,
             where=at(line="{line}") + ".*2 fields, the header 6"),
        case("csv-trailing-comma", "a trailing comma on a row (an empty seventh field)",
             append_lines(MEAS, "change_success_rate,2026-11-27,88.1,,NGH,24,"), names=m,
             where=at(line="{line}") + ".*7 fields, the header 6"),
        case("csv-duplicate-row", "the last row repeated",
             append_lines(MEAS, "legacy_backup_jobs,2026-11-20,1405,,DCN,"), names=m,
             where=at(line="{line}")),
        case("csv-quoted-newline-before-bad-line",
             "a quoted two-line note on one row, then value n/a on the next row",
             chain(add_column(MEAS, "note"),
                   append_lines(MEAS, 'change_success_rate,2026-11-27,88.1,,NGH,24,"two\nlines"',
                                "change_success_rate,2026-12-04,n/a,,,,")),
             names=m, where=at("value", line="{last}")),
        case("csv-unclosed-quote", 'a note opening a quote that never closes, on one row',
             chain(add_column(MEAS, "note"),
                   keep("line", replace(MEAS, "change_success_rate,2024-11-29,95.6,,NGH,24,\n",
                                        'change_success_rate,2024-11-29,95.6,,NGH,24,"oops\n'))),
             names=m, where=at(line="{line}")),
        case("csv-field-over-128kb", "a 200 KB note on one row (read: notes may be long)",
             chain(add_column(MEAS, "note"),
                   append_lines(MEAS, NOTE_ROW + "x" * 200_000)),
             exit=0),
        case("csv-field-over-1mb", "a 1.1 MB note on one row",
             chain(add_column(MEAS, "note"),
                   append_lines(MEAS, NOTE_ROW + "x" * 1_100_000)),
             names=m, where=at(line="{line}")),
        case("csv-latin1-line", "one row with Latin-1 bytes",
             chain(add_column(MEAS, "note"),
                   append_lines(MEAS, "change_success_rate,2026-11-27,88.1,,NGH,24,r\x00sum\x00"),
                   write_bytes(MEAS, lambda data: data.replace(b"r\x00sum\x00", b"r\xe9sum\xe9"))),
             names=m, where=at(line="{line}")),
        case("csv-nul-byte", "a NUL byte in a row",
             chain(append_lines(MEAS, "change_success_rate,2026-11-27,88.1,"),
                   write_bytes(MEAS, lambda data: data[:-3] + b"\x001,\n")),
             names=m, where=at(line="{line}")),
        case("csv-utf16", "the file saved as UTF-16",
             write_bytes(MEAS, lambda data: data.decode().encode("utf-16")), names=m),
        case("csv-not-text", "a PNG saved as measurements.csv",
             write_bytes(MEAS, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8), names=m),
        case("csv-empty-file", "an empty file", write_text(MEAS, ""), names=m),
        case("csv-year-one", "a row dated 0001-01-07 (then every KPI evaluated)",
             dated("0001-01-07"),
             _cmd("narrative export weekly --params {weekly} --output {root}/n.md"), exit="0|2",
             names=m, where=at("period_end", line="{line}")),
        # Right answers that are success.
        case("csv-bom-ok", "a UTF-8 byte-order mark",
             write_bytes(MEAS, lambda d: b"\xef\xbb\xbf" + d), exit=0),
        case("csv-crlf-ok", "CRLF line endings",
             write_bytes(MEAS, lambda d: d.replace(b"\n", b"\r\n")), exit=0),
        case("csv-bom-crlf-ok", "a byte-order mark and CRLF line endings",
             write_bytes(MEAS, lambda d: b"\xef\xbb\xbf" + d.replace(b"\n", b"\r\n")), exit=0),
        case("csv-extra-column-ok", "an extra column 'comment' (ignored, listed in the appendix)",
             add_column(MEAS, "comment"), exit=0),
    ]


def _xlsx_rows(edit: Callable[[Any], None]) -> Mutation:
    return xlsx(lambda workbook: edit(workbook) or None)


def _second_sheet(workbook: Any) -> None:
    data = workbook.worksheets[0]
    data.title = "data"
    cover = workbook.create_sheet("Cover", 0)
    cover["A1"] = "Northwind IT measurements (data on the next sheet)"


def _formula_cell(workbook: Any) -> Found:
    workbook.worksheets[0]["C40"] = "=B40*1"  # openpyxl stores no cached value
    return {"row": 40}


def _copy_row_2_to_3(workbook: Any) -> Found:
    sheet = workbook.worksheets[0]
    for column in range(1, sheet.max_column + 1):
        sheet.cell(row=3, column=column).value = sheet.cell(row=2, column=column).value
    return {"row": 3}


def _repeat_header(workbook: Any) -> None:
    workbook.worksheets[0]["D1"] = "value"


def _xlsx_cases() -> list[Case]:
    x = "measurements.xlsx"
    return [
        case("xlsx-ok", "the demo workbook's first rows", use_measurements("measurements.xlsx"),
             exit=0),
        case("xlsx-value-n-a", "value cell 'n/a'", xlsx_cell(30, 3, "n/a"), names=x,
             where=at("value", row="{row}")),
        case("xlsx-value-N-A", "value cell 'N/A'", xlsx_cell(31, 3, "N/A"), names=x,
             where=at("value", row="{row}")),
        case("xlsx-value-text-nan", "value cell the text 'nan'", xlsx_cell(32, 3, "nan"),
             names=x, where=at("value", row="{row}")),
        case("xlsx-value-text-none", "value cell the text 'None'", xlsx_cell(33, 3, "None"),
             names=x, where=at("value", row="{row}")),
        case("xlsx-value-error-cell", "value cell '#N/A'", xlsx_cell(34, 3, "#N/A"), names=x,
             where=at("value", row="{row}")),
        case("xlsx-date-text-month-13", "period_end cell the text 2026-13-01",
             xlsx_cell(35, 2, "2026-13-01"), names=x, where=at("period_end", row="{row}")),
        case("xlsx-date-with-time", "period_end cell 2026-11-20 14:30",
             xlsx_cell(36, 2, dt.datetime(2026, 11, 20, 14, 30)), names=x,
             where=at("period_end", row="{row}")),
        case("xlsx-empty-kpi-id", "kpi_id cell emptied", xlsx_cell(37, 1, None), names=x,
             where=at("kpi_id", row="{row}")),
        case("xlsx-duplicate-row", "row 3 a copy of row 2", xlsx(_copy_row_2_to_3),
             names=x, where=at(row="{row}")),
        case("xlsx-missing-column", "header cell 'value' renamed 'val'", xlsx_cell(1, 3, "val"),
             names=x, where=at("val") + ".*did you mean 'value'"),
        case("xlsx-repeated-header", "header: a second 'value' column (D1)",
             _xlsx_rows(_repeat_header), names=x, where=at("value")),
        case("xlsx-data-on-second-sheet", "a cover sheet first, the data on sheet 2",
             _xlsx_rows(_second_sheet), names=x),
        case("xlsx-formula-no-cached-value", "value cell a formula with no cached value",
             xlsx(_formula_cell), names=x, where=at("value", row="{row}")),
        case("xlsx-not-a-spreadsheet", "a CSV renamed .xlsx",
             chain(use_measurements("measurements.xlsx"),
                   write_bytes("data/demo/measurements.xlsx",
                               lambda _: (DEMO_DATA / "measurements.csv").read_bytes())),
             names=x),
        case("xlsx-truncated", "the workbook cut in half",
             chain(use_measurements("measurements.xlsx"),
                   write_bytes("data/demo/measurements.xlsx", lambda d: d[: len(d) // 2])),
             names=x),
    ]


def _parquet_cases() -> list[Case]:
    q = "measurements.parquet"

    def drop_value(columns: dict[str, list[Any]]) -> None:
        del columns["value"]

    def date_as_text(columns: dict[str, list[Any]]) -> Found:
        columns["period_end"] = [d.isoformat() for d in columns["period_end"]]
        columns["period_end"][9] = "2026-13-01"
        return {"row": 10}

    def duplicate(columns: dict[str, list[Any]]) -> Found:
        for name in columns:
            columns[name][4] = columns[name][3]
        return {"row": 5}

    return [
        case("parquet-ok", "the demo Parquet file", use_measurements("measurements.parquet"),
             exit=0),
        case("parquet-value-nan", "a NaN value (not null)", parquet_cell(19, "value",
                                                                         float("nan")),
             names=q, where=at("value", row="{row}")),
        case("parquet-value-inf", "an infinite value", parquet_cell(20, "value", float("inf")),
             names=q, where=at("value", row="{row}")),
        case("parquet-value-1e30", "a value of 1e30", parquet_cell(22, "value", 1e30),
             names=q, where=at("value", row="{row}") + ".*beyond the largest figure"),
        case("parquet-target-nan", "a NaN target", parquet_cell(21, "target", float("nan")),
             names=q, where=at("target", row="{row}")),
        case("parquet-missing-column", "no value column", parquet(drop_value), names=q,
             where=at("value")),
        case("parquet-date-text-month-13", "period_end as text, one 2026-13-01",
             parquet(date_as_text), names=q, where=at("period_end", row="{row}")),
        case("parquet-empty-kpi-id", "an empty kpi_id", parquet_cell(22, "kpi_id", ""),
             names=q, where=at("kpi_id", row="{row}")),
        case("parquet-duplicate-row", "record 5 a copy of record 4", parquet(duplicate),
             names=q, where=at(row="{row}")),
        case("parquet-year-one", "a period_end of 0001-01-07 (then every KPI evaluated)",
             parquet_cell(23, "period_end", dt.date(1, 1, 7)),
             _cmd("narrative export weekly --params {weekly} --output {root}/n.md"), exit="0|2",
             names=q, where=at("period_end", row="{row}")),
        case("parquet-not-parquet", "a CSV renamed .parquet",
             chain(use_measurements("measurements.parquet"),
                   write_bytes("data/demo/measurements.parquet",
                               lambda _: (DEMO_DATA / "measurements.csv").read_bytes())),
             names=q),
    ]


def _portfolio_cases() -> list[Case]:
    i, b, s, pr = "initiatives.csv", "benefits.csv", "spend.csv", "priorities.yaml"
    return [
        case("initiatives-missing-column", "owner column renamed lead",
             replace(INITIATIVES, ",owner,priority,", ",lead,priority,"), VALIDATE_M, names=i,
             where=at(line=1)),
        case("initiatives-misspelt-column", "percent_complete spelt percent_compete",
             replace(INITIATIVES, "percent_complete", "percent_compete"), VALIDATE_M, names=i,
             where=at("percent_compete", line=1) + ".*did you mean 'percent_complete'"),
        case("initiatives-bad-priority", "priority: hgh", csv_cell(INITIATIVES, 3, "priority",
                                                                   "hgh"),
             VALIDATE_M, names=i, where=at("priority", line="{line}")),
        case("initiatives-bad-status", "status: finished",
             csv_cell(INITIATIVES, 4, "status", "finished"), VALIDATE_M, names=i,
             where=at("status", line="{line}")),
        case("initiatives-bad-date", "planned_finish 2026-13-01",
             csv_cell(INITIATIVES, 2, "planned_finish", "2026-13-01"), VALIDATE_M, names=i,
             where=at("planned_finish", line="{line}")),
        case("initiatives-compact-date", "forecast_finish 20270226",
             csv_cell(INITIATIVES, 2, "forecast_finish", "20270226"), VALIDATE_M, names=i,
             where=at("forecast_finish", line="{line}")),
        case("initiatives-negative-budget", "budget -5",
             csv_cell(INITIATIVES, 5, "budget", "-5"), VALIDATE_M, names=i,
             where=at("budget", line="{line}")),
        case("initiatives-percent-150", "percent_complete 150",
             csv_cell(INITIATIVES, 6, "percent_complete", "150"), VALIDATE_M, names=i,
             where=at("percent_complete", line="{line}")),
        case("initiatives-budget-nan", "budget nan", csv_cell(INITIATIVES, 7, "budget", "nan"),
             VALIDATE_M, names=i, where=at("budget", line="{line}")),
        case("initiatives-budget-underscore", "budget 1_200",
             csv_cell(INITIATIVES, 3, "budget", "1_200"), VALIDATE_M, names=i,
             where=at("budget", line="{line}")),
        case("initiatives-duplicate-id", "row 4 given row 3's id",
             csv_cell(INITIATIVES, 4, "id", "network_supplier_transition"), VALIDATE_M, names=i,
             where=at("id", line="{line}")),
        case("initiatives-quoted-newline-before-bad-line",
             "a two-line description on line 2, then priority hgh on the next row",
             chain(csv_cell(INITIATIVES, 2, "description", "First line\nsecond line"),
                   keep("bad", csv_cell(INITIATIVES, 4, "priority", "hgh"))),
             VALIDATE_M, names=i, where=at("priority", line="{bad}")),
        case("initiatives-unknown-kpi", "kpis: change_sucess_rate",
             csv_cell(INITIATIVES, 2, "kpis", "change_sucess_rate"), VALIDATE_M, names=i,
             where=at("kpis", line="{line}")),
        case("initiatives-unknown-priority", "strategic_priority: cyber (quarterly)",
             csv_cell(INITIATIVES, 5, "strategic_priority", "cyber"), VALIDATE_Q, names=i,
             where=at("strategic_priority", line="{line}")),
        case("initiatives-empty-file", "an empty initiatives file", write_text(INITIATIVES, ""),
             VALIDATE_M, names=i),
        case("benefits-unknown-initiative", "initiative_id: integration_engine",
             csv_cell(BENEFITS, 2, "initiative_id", "integration_engine"), VALIDATE_M, names=b,
             where=at("initiative_id", line="{line}")),
        case("benefits-baseline-text", "baseline: about 96",
             csv_cell(BENEFITS, 3, "baseline", "about 96"), VALIDATE_M, names=b,
             where=at("baseline", line="{line}")),
        case("benefits-unknown-kpi", "kpi_id: mttr", csv_cell(BENEFITS, 3, "kpi_id", "mttr"),
             VALIDATE_M, names=b, where=at("kpi_id", line="{line}")),
        case("benefits-target-date", "target_date: 2027-02-30",
             csv_cell(BENEFITS, 4, "target_date", "2027-02-30"), VALIDATE_M, names=b,
             where=at("target_date", line="{line}")),
        case("benefits-target-inf", "target: inf", csv_cell(BENEFITS, 4, "target", "inf"),
             VALIDATE_M, names=b, where=at("target", line="{line}")),
        case("spend-budget-nan", "budget: nan (text) in spend.csv",
             csv_cell(SPEND, 5, "budget", "nan"), VALIDATE_M, names=s,
             where=at("budget", line="{line}")),
        case("spend-actual-nan", "actual: nan (text)", csv_cell(SPEND, 6, "actual", "nan"),
             VALIDATE_M, names=s, where=at("actual", line="{line}")),
        case("spend-actual-NaN", "actual: NaN", csv_cell(SPEND, 9, "actual", "NaN"), VALIDATE_M,
             names=s, where=at("actual", line="{line}")),
        case("spend-forecast-nan", "forecast: nan (text)", csv_cell(SPEND, 10, "forecast", "nan"),
             VALIDATE_M, names=s, where=at("forecast", line="{line}")),
        case("spend-actual-underscore", "actual: 8_8.1", csv_cell(SPEND, 7, "actual", "8_8.1"),
             VALIDATE_M, names=s, where=at("actual", line="{line}")),
        case("spend-period-13", "period: 2026-13", csv_cell(SPEND, 8, "period", "2026-13"),
             VALIDATE_M, names=s, where=at("period", line="{line}")),
        case("spend-period-day", "period: 2026-01-15", csv_cell(SPEND, 2, "period",
                                                                "2026-01-15"),
             VALIDATE_M, names=s, where=at("period", line="{line}")),
        case("spend-duplicate", "line 3 given line 2's category",
             csv_cell(SPEND, 3, "category", "Staff"), VALIDATE_M, names=s,
             where=at(line="{line}")),
        case("spend-missing-column", "actual column missing",
             replace(SPEND, "period,category,budget,actual,", "period,category,budget,spent,"),
             VALIDATE_M, names=s, where=at(line=1)),
        case("spend-quoted-newline-before-bad-line",
             "a two-line note on line 2, then budget nan on line 5",
             chain(csv_cell(SPEND, 2, "note", "Pay rise\nbackdated"),
                   keep("bad", csv_cell(SPEND, 5, "budget", "nan"))),
             VALIDATE_M, names=s, where=at("budget", line="{bad}")),
        case("priorities-six", "a sixth priority",
             append_lines(PRIORITIES, *_extra_priorities(2)), VALIDATE_Q, names=pr,
             where=at("priorities")),
        case("priorities-missing-title", "title: removed from the first priority",
             replace(PRIORITIES, "    title: Reliable clinical systems\n", ""), VALIDATE_Q,
             names=pr, where=at("title")),
        case("priorities-misspelt-key", "titel: instead of title",
             replace(PRIORITIES, "    title: Reliable", "    titel: Reliable"), VALIDATE_Q,
             names=pr, where=at("titel", line="{line}") + ".*did you mean 'title'"),
        case("priorities-unknown-kpi", "key result kpi: ehr_availabilty",
             replace(PRIORITIES, "kpi: ehr_availability", "kpi: ehr_availabilty"), VALIDATE_Q,
             names=pr, where=at("kpi", line="{line}")),
        case("priorities-weight-text", "weight: heavy",
             replace(PRIORITIES, "weight: 2", "weight: heavy"), VALIDATE_Q, names=pr,
             where=at("weight", line="{line}")),
        case("priorities-target-nan", "key result target: .nan",
             replace(PRIORITIES, "target: 99.95", "target: .nan"), VALIDATE_Q, names=pr,
             where=at("target", line="{line}")),
        case("priorities-baseline-inf", "key result baseline: .inf",
             replace(PRIORITIES, "baseline: 99.88", "baseline: .inf"), VALIDATE_Q, names=pr,
             where=at("baseline", line="{line}")),
        case("priorities-duplicate-id", "the second priority given the first one's id",
             replace(PRIORITIES, "  - id: cyber_resilience", "  - id: reliable_clinical_systems"),
             VALIDATE_Q, names=pr, where=at("id", line="{line}")),
        case("priorities-not-mapping", "priorities: a bare word",
             write_text(PRIORITIES, "priorities: later\n"), VALIDATE_Q, names=pr,
             where=at("priorities")),
    ]


def _extra_priorities(count: int) -> list[str]:
    lines = []
    for number in range(count):
        lines += [f"  - id: extra_{number}", f"    title: Extra {number}", "    owner: CIO",
                  "    objectives:", "      - text: Do more", "        key_results:",
                  "          - text: More", "            target: 1", "            progress: 5"]
    return lines


def _minutes_cases() -> list[Case]:
    n = "weekly-2026-11-20.yaml"

    def minutes(id: str, mutation: str, mutate: Mutation | None, **expect: Any) -> Case:
        return case(id, mutation, mutate, MINUTES_IMPORT, names=n, **expect)

    return [
        minutes("minutes-review-month-13", "review: monthly 2026-13",
                replace(MINUTES, "review: weekly 2026-11-20", "review: monthly 2026-13"),
                where=at("review", line="{line}")),
        minutes("minutes-review-misspelt-cadence", "review: montly 2026-10",
                replace(MINUTES, "review: weekly 2026-11-20", "review: montly 2026-10"),
                where=at("review", line="{line}")),
        minutes("minutes-review-cadence-mismatch", "review: weekly 2026-11",
                replace(MINUTES, "review: weekly 2026-11-20", "review: weekly 2026-11"),
                where=at("review", line="{line}")),
        minutes("minutes-review-year-one", "review: weekly 0001-01-01",
                replace(MINUTES, "review: weekly 2026-11-20", "review: weekly 0001-01-01"),
                where=at("review", line="{line}")),
        minutes("minutes-review-missing", "review: removed",
                replace(MINUTES, "review: weekly 2026-11-20\n", ""), where=at("review")),
        minutes("minutes-review-list", "review: [weekly, 2026-11-20]",
                replace(MINUTES, "review: weekly 2026-11-20", "review: [weekly, 2026-11-20]"),
                where=at("review", line="{line}")),
        minutes("minutes-unknown-action-id", "update of A-0999 (after a valid new action)",
                replace(MINUTES, "id: A-0005", "id: A-0999"), where=at("id", line="{line}")),
        minutes("minutes-due-feb-30", "due: 2026-02-30",
                replace(MINUTES, "due: 2026-12-04", "due: 2026-02-30"),
                where=at("due", line="{line}")),
        minutes("minutes-due-words", "due: next friday",
                replace(MINUTES, "due: 2026-12-04", "due: next friday"),
                where=at("due", line="{line}")),
        minutes("minutes-due-compact", "due: 20261204 (YAML reads an integer)",
                replace(MINUTES, "due: 2026-12-04", "due: 20261204"),
                where=at("due", line="{line}")),
        minutes("minutes-due-missing", "due: removed from the new action",
                replace(MINUTES, "    due: 2026-12-04\n", ""), where=at("due")),
        minutes("minutes-date-bad", "date: 2026-11-31",
                replace(MINUTES, "review: weekly 2026-11-20\n",
                        "review: weekly 2026-11-20\ndate: 2026-11-31\n"),
                where=at("date", line=r"\d+")),
        minutes("minutes-date-before-its-period", "date: 2026-11-02 (a typo for 12-02)",
                replace(MINUTES, "review: weekly 2026-11-20\n",
                        "review: weekly 2026-11-20\ndate: 2026-11-02\n"),
                where=at("date", line=r"\d+") + ".*before the week it reviews begins"),
        minutes("minutes-update-twice", "A-0005 updated twice, to two statuses",
                replace(MINUTES, "    note: Fix in test\n",
                        "    note: Fix in test\n  - id: A-0005\n    status: open\n"),
                where=at("id", line=r"\d+") + ".*A-0005 is updated twice"),
        minutes("minutes-update-due-bad", "an update with due: soon",
                replace(MINUTES, "    status: in_progress", "    due: soon"),
                where=at("due", line="{line}")),
        minutes("minutes-status-bad", "status: finished",
                replace(MINUTES, "status: in_progress", "status: finished"),
                where=at("status", line="{line}")),
        minutes("minutes-unknown-kpi", "kpi: change_sucess_rate in the new action",
                replace(MINUTES, "    kpi: change_success_rate", "    kpi: change_sucess_rate"),
                where=at("kpi", line="{line}")),
        minutes("minutes-decision-unknown-kpi", "decision kpis: [ehr_uptime]",
                replace(MINUTES, "kpis: [change_success_rate]", "kpis: [ehr_uptime]"),
                where=at("kpis", line="{line}")),
        minutes("minutes-misspelt-field", "owne: instead of owner in the new action",
                replace(MINUTES, "    owner: Change Manager", "    owne: Change Manager"),
                where=at("owne", line="{line}") + ".*did you mean 'owner'"),
        minutes("minutes-unknown-top-key", "action: instead of actions",
                replace(MINUTES, "actions:\n", "action:\n"),
                where=at("action", line="{line}") + ".*did you mean 'actions'"),
        minutes("minutes-actions-mapping", "actions: a mapping, not a list",
                replace(MINUTES, "actions:\n  - title:", "actions:\n    title:"),
                where=at("actions", line=r"\d+")),
        minutes("minutes-update-changes-nothing", "an update with only its id",
                replace(MINUTES, "    status: in_progress\n    note: Fix in test\n", ""),
                where=at("id", line=r"\d+")),
        minutes("minutes-file-missing", "the minutes file does not exist",
                remove(MINUTES)),
        minutes("minutes-empty-file", "an empty minutes file", write_text(MINUTES, "")),
        minutes("minutes-latin1", "a note in Latin-1 bytes",
                write_bytes(MINUTES, lambda d: d.replace(b"Fix in test",
                                                         "Corrigé".encode("latin-1")))),
        minutes("minutes-tab", "a tab-indented update field",
                replace(MINUTES, "    note: Fix in test", "\tnote: Fix in test"),
                where=r"line \d+"),
        minutes("minutes-alias-bomb", "a ~1 KB alias bomb as a decision's kpis",
                replace(MINUTES, "kpis: [change_success_rate]", f"kpis: [{BOMB}]"),
                where=at("kpis", line="{line}"), child=True, memory=BOMB_MEMORY,
                cpu=BOMB_SECONDS),
        minutes("minutes-new-entry-with-id", "an action of new minutes names A-0001 as itself",
                replace(MINUTES, "  - title: Confirm", "  - id: A-0001\n    title: Confirm"),
                where=at("id", line="{line}")),
        minutes("minutes-entry-id-of-a-decision", "an action entry with id: D-0001",
                replace(MINUTES, "  - title: Confirm", "  - id: D-0001\n    title: Confirm"),
                where=at("id", line="{line}")),
        minutes("minutes-corrected-entry-id-elsewhere",
                "corrected minutes of 13 Nov give an action the id of one raised on 30 Oct",
                write_text(MINUTES, CORRECTED_1113), where=at("id", line=CORRECTED_1113_LINE)),
        minutes("minutes-corrected-entry-id-twice",
                "corrected minutes of 13 Nov give two actions the same id",
                write_text(MINUTES, CORRECTED_1113_TWICE),
                where=at("id", line=CORRECTED_1113_TWICE_LINE)),
        case("minutes-valid-ok", "the next meeting's minutes, valid", None, MINUTES_IMPORT,
             exit=0),
    ]


def _narrative_cases() -> list[Case]:
    n = "narrative.md"
    summary = "## summary — Summary\n<!-- reviewkit: revision 0, draft -->\n\n"

    def narrative(id: str, mutation: str, mutate: Mutation | None, **expect: Any) -> Case:
        return case(id, mutation, mutate, NARRATIVE_IMPORT, names=n, **expect)

    return [
        narrative("narrative-placeholder-expression", "summary text {{ 7*7 }}",
                  keep("line", replace(NARRATIVE, summary, summary + "Up {{ 7*7 }} points.\n")),
                  where=r"line (5|8)(?![0-9])"),
        narrative("narrative-placeholder-unknown-kpi", "{{ kpi.ehr_uptime.value }}",
                  replace(NARRATIVE, summary, summary + "EHR {{ kpi.ehr_uptime.value }}.\n"),
                  where=r"line (5|8)(?![0-9])"),
        narrative("narrative-placeholder-unknown-field", "{{ kpi.change_success_rate.colour }}",
                  replace(NARRATIVE, summary,
                          summary + "Now {{ kpi.change_success_rate.colour }}.\n"),
                  where=r"line (5|8)(?![0-9])"),
        narrative("narrative-placeholder-attribute", "{{ kpi.__class__ }}",
                  replace(NARRATIVE, summary, summary + "{{ kpi.__class__ }}\n"),
                  where=r"line (5|8)(?![0-9])"),
        narrative("narrative-duplicate-section", "the summary section given twice",
                  append_lines(NARRATIVE, "## summary — Summary", "Again."),
                  where=at(line="{line}")),
        narrative("narrative-unknown-section", "## sumary instead of ## summary",
                  replace(NARRATIVE, "## summary — Summary", "## sumary — Summary"),
                  where=at(line="{line}")),
        narrative("narrative-unknown-kpi-section", "## kpi-ehr_uptime",
                  append_lines(NARRATIVE, "## kpi-ehr_uptime — EHR uptime", "Text."),
                  where=at(line="{line}")),
        narrative("narrative-no-sections", "no ## headings", write_text(NARRATIVE, "Just text.\n")),
        narrative("narrative-stale-revision", "revision 0 changed to 7, text edited",
                  replace(NARRATIVE, summary, "## summary — Summary\n"
                          "<!-- reviewkit: revision 7 -->\n\nEdited.\n"),
                  where=at(line="{line}")),
        narrative("narrative-file-missing", "the Markdown file does not exist",
                  remove(NARRATIVE)),
        narrative("narrative-file-is-directory", "the Markdown path is a folder",
                  chain(remove(NARRATIVE), make_dir(NARRATIVE))),
        narrative("narrative-latin1", "a summary in Latin-1 bytes",
                  write_bytes(NARRATIVE, lambda d: d.replace(
                      b"This week", "Cette semaine, déjà".encode("latin-1")))),
        case("narrative-unchanged-ok", "the exported narrative imported as it is", None,
             NARRATIVE_IMPORT, exit=0),
    ]


#: The pack.ipynb ``reviewkit draft`` writes for the demo's 20 November pack (outputs stripped;
#: named .json so nbval does not run it): the analyst's working copy whose edits the next build
#: collects.
PACK_NOTEBOOK = REPO / "tests" / "fixtures" / "packs" / "weekly-2026-11-20.ipynb.json"
BUILD_W = _cmd("build weekly --params {weekly} --out {out} -q")


def pack_notebook(change: Callable[[dict[str, Any]], Found | None]) -> Mutation:
    """Put the demo pack's notebook in the previous pack and change its JSON as an analyst's
    Jupyter would save it; ``cell`` is the 1-based number of the cell the change is about."""

    def mutate(demo: Demo) -> Found:
        data = json.loads(PACK_NOTEBOOK.read_text(encoding="utf-8"))
        found = change(data) or {}
        (demo.pack / "pack.ipynb").write_text(json.dumps(data, indent=1), encoding="utf-8")
        return found

    return mutate


def _narrative_cell(data: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
    for number, cell in enumerate(data["cells"], start=1):
        meta = cell["metadata"].get("reviewkit")
        if isinstance(meta, dict) and meta.get("key") == key:
            return number, cell
    raise HarnessError(f"the pack notebook has no narrative cell {key!r}")


def _add_markdown(data: dict[str, Any]) -> Found:
    number, _ = _narrative_cell(data, "summary")
    data["cells"].insert(number, {"cell_type": "markdown", "metadata": {},
                                  "source": "Supplier restores are slow this week."})
    return {"cell": number + 1}


def _set_meta(key: str, field: str | None, value: Any) -> Callable[[dict[str, Any]], Found]:
    def change(data: dict[str, Any]) -> Found:
        number, cell = _narrative_cell(data, key)
        if field is None:
            cell["metadata"]["reviewkit"] = value
        else:
            cell["metadata"]["reviewkit"][field] = value
        return {"cell": number}

    return change


def _copy_cell(data: dict[str, Any]) -> Found:
    number, cell = _narrative_cell(data, "summary")
    copied = json.loads(json.dumps(cell))
    copied["source"] = "A second thought on the summary."
    data["cells"].insert(number, copied)
    return {"cell": number + 1, "first": number}


def _pack_notebook_cases() -> list[Case]:
    """The analyst's pack.ipynb: a cell the rebuild would drop is refused before anything is
    saved or built, naming the notebook and the cell."""
    nb = "pack.ipynb"

    def notebook(id: str, mutation: str, change: Callable[[dict[str, Any]], Found | None],
                 where: str) -> Case:
        return case(id, mutation, pack_notebook(change), BUILD_W, names=nb,
                    where=r"cell {cell}: " + where)

    return [
        notebook("pack-notebook-markdown-cell-added", "a Markdown cell added after the summary "
                 "(not tagged narrative)", _add_markdown,
                 r"a Markdown cell the build did not write \('Supplier restores"),
        notebook("pack-notebook-key-changed", "the summary cell's key changed to 'sumary'",
                 _set_meta("summary", "key", "sumary"),
                 r"narrative key 'sumary' is not a cell of this pack \(did you mean 'summary'"),
        notebook("pack-notebook-revision-text", "revision: 'x' in a narrative cell's metadata",
                 _set_meta("kpis", "revision", "x"), r".*'reviewkit.revision' is 'x'"),
        notebook("pack-notebook-revision-null", "revision: null",
                 _set_meta("kpis", "revision", None), r".*'reviewkit.revision' is null"),
        notebook("pack-notebook-revision-list", "revision: [1]",
                 _set_meta("kpis", "revision", [1]), r".*'reviewkit.revision' is a list"),
        notebook("pack-notebook-metadata-null", "a narrative cell's reviewkit metadata: null",
                 _set_meta("actions", None, None), r".*metadata 'reviewkit' is null"),
        notebook("pack-notebook-metadata-string", "reviewkit metadata: a string",
                 _set_meta("actions", None, "summary"), r".*metadata 'reviewkit' is 'summary'"),
        notebook("pack-notebook-metadata-list", "reviewkit metadata: a list",
                 _set_meta("actions", None, ["summary"]), r".*metadata 'reviewkit' is a list"),
        notebook("pack-notebook-duplicate-key", "the summary cell copied, the copy edited",
                 _copy_cell, r"this cell and cell {first} are both narrative cell 'summary'"),
    ]


def _argument_cases() -> list[Case]:
    export = ("narrative export {cadence} --params {{{params}}} --period {period} "
              "--output {{root}}/n.md")

    def period(cadence: str, params: str, value: str, **expect: Any) -> Case:
        command = _cmd(export.format(cadence=cadence, params=params, period=value))
        return case(f"args-period-{cadence}-{value}", f"--period {value} ({cadence})", None,
                    command, names="--period", **expect)

    # A week with no data at all, 8,000 years after the last: either a clean refusal or an
    # empty pack, in seconds (the demo's own week takes about one).
    far_future = {"exit": "0|2", "child": True, "cpu": 15}

    return [
        period("weekly", "weekly", "0001-01-01"),
        period("monthly", "monthly", "0001-01-01"),
        period("quarterly", "quarterly", "0001-01-01"),
        period("weekly", "weekly", "9999-12-31", **far_future),
        period("weekly", "weekly", "notadate"),
        period("weekly", "weekly", "2026-02-30"),
        case("args-cadence-misspelt", "build montly", None,
             _cmd("build montly --params {monthly} --out {out}"), names="montly",
             where="did you mean 'monthly'"),
        case("args-validate-no-params", "validate without --params", None, ("validate",),
             names="--params"),
        case("args-params-misspelt", "validate --parms FILE", None,
             _cmd("validate --parms {weekly}"), names=("--parms", "--params")),
        case("args-actions-status", "actions list --status closed", None,
             _cmd("actions list --params {weekly} --status closed"), names="closed"),
        case("args-actions-add-due", "actions add --due 2026-13-01", None,
             ("actions", "add", "--params", "{weekly}", "--title", "T", "--owner", "O",
              "--due", "2026-13-01"), names="--due"),
        case("args-actions-add-unknown-kpi", "actions add --kpi ehr_uptime", None,
             ("actions", "add", "--params", "{weekly}", "--title", "T", "--owner", "O",
              "--due", "2026-12-04", "--kpi", "ehr_uptime"), names=("weekly.yaml", "--kpi"),
             where="ehr_uptime"),
        case("args-actions-add-bad-review", "actions add --review 'weekly 2026-13-01'", None,
             ("actions", "add", "--params", "{weekly}", "--title", "T", "--owner", "O",
              "--due", "2026-12-04", "--review", "weekly 2026-13-01"), names="--review"),
        case("args-actions-update-unknown-id", "actions update A-0999", None,
             _cmd("actions update A-0999 --params {weekly} --status done"), names="A-0999"),
        case("args-actions-show-unknown-id", "actions show A-9999", None,
             _cmd("actions show A-9999 --params {weekly}"), names="A-9999"),
    ]


def _batch_cases() -> list[Case]:
    """`reviewkit batch` and `reviewkit index`: every bad argument is refused before anything
    runs; a disk that cannot take the lock or the library page is the machine's fault."""
    batch = ("batch", "--params", "{weekly}", "--out", "{out}", "-q")

    def arg(id: str, *extra: str, names: str | tuple[str, ...], **expect: Any) -> Case:
        return case(f"batch-{id}", "batch " + " ".join(extra), None, (*batch, *extra),
                    names=names, **expect)

    return [
        arg("units-comma", "--units", ",", names="--units", where="names no unit"),
        arg("units-empty-id", "--units", "north,,south", names="--units",
            where="an empty id between commas"),
        arg("units-twice", "--units", "north,north", names="--units",
            where="'north' more than once"),
        arg("time-limit-negative", "--time-limit", "-1", names="--time-limit"),
        arg("time-limit-nan", "--time-limit", "nan", names="--time-limit"),
        arg("time-limit-infinite", "--time-limit", "inf", names="--time-limit"),
        arg("memory-limit-negative", "--memory-limit", "-5", names="--memory-limit"),
        arg("memory-limit-too-small", "--memory-limit", "300", names="--memory-limit",
            where="1024 or more"),
        arg("scheduler-not-a-url", "--executor", "dask", "--scheduler", "not a url",
            names="--scheduler", where="tcp://HOST:PORT"),
        arg("scheduler-http", "--executor", "dask", "--scheduler", "http://127.0.0.1:8786",
            names="--scheduler"),
        arg("scheduler-no-port", "--executor", "dask", "--scheduler", "tcp://127.0.0.1",
            names="--scheduler"),
        case("batch-cadence-not-made", "batch --cadence monthly on a weekly-only params file",
             set_key(WEEKLY, "cadences", "[weekly]"), (*batch, "--cadence", "monthly"),
             names="--cadence", where="weekly.yaml makes weekly"),
        case("batch-read-only-out", "batch into a read-only output folder", None, batch,
             names="batch's lock", exit=4, child=True, read_only_out=True),
        case("batch-disk-full", "batch with no room to write its lock (RLIMIT_FSIZE)", None,
             batch, names="batch's lock", exit=4, child=True, file_size=1),
        case("index-read-only-out", "index of a read-only output folder", None,
             ("index", "{out}"), names="index.html", exit=4, child=True, read_only_out=True),
        case("index-disk-full", "index with no room for the page (RLIMIT_FSIZE)", None,
             ("index", "{out}"), names="index.html", exit=4, child=True, file_size=1),
    ]


def _store_cases() -> list[Case]:
    st = ("reviewkit.sqlite",)

    def truncated(data: bytes) -> bytes:
        return data[: max(4096, len(data) // 3)]

    return [
        case("store-zero-bytes", "a 0-byte store file", store_bytes(b""), ACTIONS_LIST,
             names=st, exit="0|2"),
        case("store-random-bytes", "64 KB of random bytes", store_bytes(os.urandom(65536)),
             ACTIONS_LIST, names=st),
        case("store-random-bytes-minutes", "random bytes, then a minutes import",
             store_bytes(os.urandom(65536)), MINUTES_IMPORT, names=st),
        case("store-text-file", "a text file where the store should be",
             store_bytes(b"kpi_id,period_end,value\n"), ACTIONS_LIST, names=st),
        case("store-truncated", "the SQLite file cut to a third", store_bytes(truncated),
             ACTIONS_LIST, names=st, exit="env"),
        case("store-truncated-minutes", "the SQLite file cut to a third, minutes import",
             store_bytes(truncated), MINUTES_IMPORT, names=st, exit="env"),
        case("store-schema-banana", "schema_version 'banana'",
             store_sql("UPDATE reviewkit_meta SET value='banana' WHERE key='schema_version'"),
             ACTIONS_LIST, names=st),
        case("store-schema-negative", "schema_version -1",
             store_sql("UPDATE reviewkit_meta SET value='-1' WHERE key='schema_version'"),
             ACTIONS_LIST, names=st),
        case("store-schema-future", "schema_version 999",
             store_sql("UPDATE reviewkit_meta SET value='999' WHERE key='schema_version'"),
             ACTIONS_LIST, names=st),
        case("store-table-missing", "the actions table dropped",
             store_sql("DROP TABLE actions"), ACTIONS_LIST, names=st, exit="env"),
        case("store-other-line-schema-3", "stamped schema 3 by another line of history, "
             "without the units columns", store_sql(
                 "UPDATE reviewkit_meta SET value='3' WHERE key='schema_version';"
                 "ALTER TABLE actions DROP COLUMN unit; ALTER TABLE decisions DROP COLUMN unit"),
             MINUTES_IMPORT, names=st, exit="env", where="schema version 3"),
        case("store-unknown-column", "a column reviewkit does not know in the actions table",
             store_sql("ALTER TABLE actions ADD COLUMN priority INTEGER NOT NULL DEFAULT 0"),
             MINUTES_IMPORT, names=st, exit="env", where="priority"),
        case("store-unknown-table", "a table reviewkit does not know in the store",
             store_sql("CREATE TABLE scratch_notes (id TEXT)"), ACTIONS_LIST, names=st,
             exit="env", where="scratch_notes"),
        case("store-is-directory", "store: a folder",
             set_key(WEEKLY, "store", "../data"), ACTIONS_LIST, names=("weekly.yaml", "data")),
        case("store-read-only-minutes", "a read-only store, then a minutes import", None,
             MINUTES_IMPORT, names=st, exit="env", child=True, read_only_store=True),
        case("store-read-only-list", "a read-only store, then actions list", None, ACTIONS_LIST,
             names=st, exit="0|env", child=True, read_only_store=True),
        case("store-disk-full-minutes", "no room to write (RLIMIT_FSIZE), then a minutes import",
             None, MINUTES_IMPORT, names=st, exit="env", child=True, file_size=1),
    ]


def _build_cases() -> list[Case]:
    build = "build weekly --params {weekly} --out {out} -q"
    return [
        case("build-bom-crlf-ok", "measurements with a byte-order mark and CRLF line endings",
             write_bytes(MEAS, lambda d: b"\xef\xbb\xbf" + d.replace(b"\n", b"\r\n")),
             _cmd(build), exit=0, child=True),
        case("build-period-year-one", "build weekly --period 0001-01-01 over a previous pack",
             None, _cmd(build + " --period 0001-01-01"), names="--period", child=True),
        case("build-notebook-is-yaml", "notebook: a YAML file, over a previous pack",
             set_key(WEEKLY, "notebook", "../data/demo/priorities.yaml"), _cmd(build),
             names=("weekly.yaml", "priorities.yaml"), where=at("notebook"), child=True),
        case("build-out-is-a-file", "--out names an existing file", None,
             _cmd("build weekly --params {weekly} --out {root}/data/demo/spend.csv -q"),
             names="spend.csv", exit="nonzero", child=True),
        case("build-store-random-bytes", "a store of random bytes, build over a previous pack",
             store_bytes(os.urandom(65536)), _cmd(build), names="reviewkit.sqlite",
             child=True),
    ]


OPS = "params/ops.yaml"
OPERATIONAL = "data/demo/operational"
VALIDATE_OPS = _cmd("validate --params {root}/params/ops.yaml")
#: Queries run when a pack is evaluated (validate only binds them, reading a sample).
EVALUATE_OPS = _cmd("narrative export weekly --params {root}/params/ops.yaml --output "
                    "{root}/n.md")
#: A line only the file outside the allowed folders holds: it must never be printed.
SECRET_LINE = "password,Tr0ub4dor&3"


def operational(*mutations: Mutation) -> Mutation:
    """params/ops.yaml: the demo's pack with two KPIs computed from its operational records
    (params/weekly-operational-data.yaml as shipped), then ``mutations``."""

    def mutate(demo: Demo) -> Found:
        text = (DEMO_PARAMS / "weekly-operational-data.yaml").read_text(encoding="utf-8")
        # The demo's store (which the sweep watches), not a store of its own made on first use.
        _write(demo, OPS, text.replace("store: reviewkit-operational.sqlite",
                                       "store: reviewkit.sqlite"))
        return chain(*mutations)(demo)

    return mutate


def one_query_source(source: str, make: Callable[[Path], None],
                     query: str = "SELECT period_of(day) AS period_end, sum(n) AS value "
                                  "FROM work GROUP BY ALL",
                     extra: str = "") -> Mutation:
    """params/src.yaml: one KPI computed by ``query`` over the source ``work: <source>``, whose
    file ``make`` writes into data/src/."""

    def mutate(demo: Demo) -> Found:
        folder = demo.path("data/src")
        folder.mkdir(parents=True, exist_ok=True)
        make(folder)
        _write(demo, "data/src/kpis.yaml", (
            "kpis:\n  - id: weekly_total\n    name: Weekly total\n    perspective: Delivery\n"
            "    direction: higher_is_better\n    target: {weekly: 70}\n    owner: Someone\n"
            "    cadences: [weekly]\n    aggregation: sum\n"
            f"    query: \"{query}\"\n"))
        _write(demo, "params/src.yaml", (
            "organisation: Sources\ncatalog: ../data/src/kpis.yaml\n"
            "measurements: ../data/demo/measurements.csv\nperiod_end: 2026-11-20\n"
            "allowed: ../data/src\n" + extra + f"sources:\n  work: {source}\n"))
        return {}

    return mutate


def _week_workbook(edit: Callable[[Any], None]) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(["day", "n"])
        for day, n in ((16, 10), (17, 20), (18, 30), (19, 10)):
            sheet.append([dt.date(2026, 11, day), n])
        edit(sheet)
        book.save(folder / "work.xlsx")

    return make


def _unsaved_formula(sheet: Any) -> None:
    sheet["B5"] = "=B2"  # openpyxl saves no value: read as empty, the week sums to 60, not 70


def _merged_dates(sheet: Any) -> None:
    sheet["A4"] = None
    sheet.merge_cells("A3:A4")


def _sqlite_itsm(folder: Path) -> None:
    with contextlib.closing(sqlite3.connect(folder / "itsm.db")) as connection:
        connection.execute("CREATE TABLE work (day TEXT, n REAL)")
        connection.execute("INSERT INTO work VALUES ('2026-11-18', 70)")
        connection.commit()


SRC_VALIDATE = _cmd("validate --params {root}/params/src.yaml")
SRC_EVALUATE = _cmd("narrative export weekly --params {root}/params/src.yaml "
                    "--output {root}/n.md")
SLOW_SQL = ("SELECT DATE '2026-11-20' AS period_end, sum(hash(a.range + b.range)) % 7 AS value "
            "FROM range(100000000) a, range(100000000) b")


def _source_cases() -> list[Case]:
    ops, src = "ops.yaml", "src.yaml"
    return [
        case("sources-ok", "the demo's operational pack (two KPIs from queries)",
             operational(), VALIDATE_OPS, exit=0),
        case("sources-link-outside", "a link in the incidents' folder to a file outside it",
             operational(write_text("secret.csv", SECRET_LINE + "\n1,2\n"),
                         symlink(f"{OPERATIONAL}/incidents-2099.csv", "../../../secret.csv")),
             VALIDATE_OPS, names=ops, where=at("sources.incidents") + ".*incidents-2099.csv"
             ".*outside", absent=(SECRET_LINE, "Tr0ub4dor")),
        case("sources-outside-without-allowed", "the allowed: line taken out",
             operational(replace(OPS, "allowed: ../data/demo/operational\n", "")),
             VALIDATE_OPS, names=ops, where=at("sources.incidents") + ".*outside"),
        case("sources-allowed-missing", "allowed: a folder that does not exist",
             operational(replace(OPS, "allowed: ../data/demo/operational",
                                 "allowed: ../data/demo/exports")),
             VALIDATE_OPS, names=ops, where=at("allowed")),
        case("sources-csv-extra-fields", "a line of an incidents file with two fields too many",
             operational(append_lines(f"{OPERATIONAL}/incidents-2025.csv",
                                      "INC999999,DCN,P1,PACS,2025-12-30 01:00:00,2025-12-30 "
                                      "02:00:00,extra,fields")),
             EVALUATE_OPS, names="incidents-2025.csv", where=at(line="{line}"),
             max_chars=400),
        case("sources-csv-nul-line", "20,781 NUL bytes as a line of an incidents file",
             operational(append_lines(f"{OPERATIONAL}/incidents-2026.csv", "\0" * 20_781)),
             EVALUATE_OPS, names="incidents-2026.csv", where=at(line="{line}") + ".*NUL bytes",
             max_chars=400),
        case("sources-csv-sparse-nul-tail", "an incidents file grown to 1 GB by NUL bytes "
             "the file system does not store", operational(sparse_tail(
                 f"{OPERATIONAL}/incidents-2025.csv", 1 << 30)),
             VALIDATE_OPS, names="incidents-2025.csv", where=at(line="{line}") + ".*NUL bytes",
             max_chars=400),
        case("sources-csv-unclosed-quote", "a quote that never closes in an incidents file",
             operational(append_lines(f"{OPERATIONAL}/incidents-2024.csv",
                                      'INC999998,DCN,P1,"PACS,2024-12-30 01:00:00,2024-12-30')),
             VALIDATE_OPS, names="incidents-2024.csv", where=at(line="{line}"),
             max_chars=400),
        case("sources-unknown-table", "a query naming a table that is no source",
             operational(replace("data/demo/kpis-operational.yaml", "FROM billing",
                                 "FROM bililng")),
             VALIDATE_OPS, names="kpis-operational.yaml",
             where=at("query") + ".*bililng.*did you mean 'billing'.*sources: incidents, billing"),
        case("sources-xlsx-unsaved-formula", "an .xlsx source with a formula never calculated",
             one_query_source("../data/src/work.xlsx", _week_workbook(_unsaved_formula)),
             SRC_VALIDATE, names="work.xlsx", where=at("n", row=5)),
        case("sources-xlsx-merged-cells", "an .xlsx source with two date cells merged",
             one_query_source("../data/src/work.xlsx", _week_workbook(_merged_dates)),
             SRC_VALIDATE, names="work.xlsx", where=at(row=3) + ".*A3:A4 are merged"),
        case("sources-sqlite-relative-ok", "sqlite:///itsm.db beside the catalog, relative",
             one_query_source("{url: 'sqlite:///../data/src/itsm.db', table: work}",
                              _sqlite_itsm,
                              "SELECT period_of(CAST(day AS DATE)) AS period_end, sum(n) AS "
                              "value FROM work GROUP BY ALL"),
             SRC_VALIDATE, exit=0),
        case("sources-sqlite-missing", "sqlite:///nope.db: no such file (it must not be made)",
             one_query_source("{url: 'sqlite:///nope.db', table: work}", lambda _: None),
             SRC_VALIDATE, names=src, where=at("sources.work.url") + ".*nope.db"),
        case("sources-table-missing", "a database source naming a table it does not have",
             one_query_source("{url: 'sqlite:///../data/src/itsm.db', table: wrok}",
                              _sqlite_itsm),
             SRC_VALIDATE, names=src,
             where=at("sources.work.table") + ".*no table 'wrok'.*tables: work"),
        case("sources-database-unreachable", "a PostgreSQL source where no server listens",
             one_query_source("{url: 'postgresql://reports:Tr0ub4dor@127.0.0.1:9/itsm', "
                              "table: work}", lambda _: None),
             SRC_VALIDATE, exit="env", names="127.0.0.1:9", absent=("Tr0ub4dor",)),
        case("sources-query-time-limit", "a query that runs for hours, query_time_limit: 1",
             one_query_source("../data/src/work.csv",
                              lambda folder: (folder / "work.csv").write_text("day,n\n"),
                              SLOW_SQL, extra="query_time_limit: 1\n"),
             SRC_EVALUATE, names="kpis.yaml", where=at("query") + ".*did not finish within 1 s",
             child=True, cpu=60),
    ]


def _tabular_rule_cases() -> list[Case]:
    m, x = "measurements.csv", "measurements.xlsx"
    return [
        case("csv-nul-line-20781", "20,781 NUL bytes as a line after the good rows",
             chain(keep("nul", append_lines(MEAS, "\0" * 20_781)),
                   append_lines(MEAS, "change_success_rate,2026-11-27,88.1,")),
             names=m, where=at(line="{nul}") + ".*NUL bytes", max_chars=400),
        case("csv-sparse-nul-4gb", "a 4 GB sparse tail of NUL bytes after the good rows",
             sparse_tail(MEAS, 4 << 30), names=m, where=at(line="{line}") + ".*NUL bytes",
             child=True, memory=1024 * MB, cpu=60, max_chars=400),
        case("csv-line-without-end-64mb", "64 MB without a line end after the good rows",
             sparse_tail(MEAS, 64 * MB, fill=b"x"), names=m, where=at(line="{line}"),
             child=True, memory=1024 * MB, cpu=60, max_chars=400),
        case("csv-value-long-text", "a 5,000-character value", csv_cell(MEAS, 40, "value",
                                                                         "9" * 5000),
             names=m, where=at("value", line="{line}") + r".*\(5,000 characters\)",
             max_chars=400),
        case("xlsx-merged-value-cells", "two value cells merged (the second read as empty)",
             xlsx(_merge_values), names=x, where=at(row="{row}") + ".*merged"),
        case("parquet-float32-ok", "values and targets stored as float32",
             parquet_float32(), exit=0),
        case("params-query-time-limit-yes", "query_time_limit: yes (a YAML boolean)",
             set_key(WEEKLY, "query_time_limit", "yes"),
             where=at("query_time_limit", line="{line}")),
        case("params-query-time-limit-zero", "query_time_limit: 0",
             set_key(WEEKLY, "query_time_limit", "0"),
             where=at("query_time_limit", line="{line}")),
        case("params-query-time-limit-nan", "query_time_limit: .nan",
             set_key(WEEKLY, "query_time_limit", ".nan"),
             where=at("query_time_limit", line="{line}")),
        case("params-allowed-mapping", "allowed: {root: ..}",
             set_key(WEEKLY, "allowed", "{root: ..}"), where=at("allowed", line="{line}")),
        case("params-unit-id-leading-dash", "units: [{id: -north}]",
             set_key(WEEKLY, "units", "[{id: -north, segment: NGH}]"),
             where=at("units") + ".*must start with a lower-case letter or a digit"),
    ]


def sparse_tail(relative: str, size: int, fill: bytes = b"") -> Mutation:
    """Grow a file to ``size`` bytes after its last line: NUL bytes the file system does not
    store (a sparse file, as a copy cut short leaves), or ``fill`` written out."""

    def mutate(demo: Demo) -> Found:
        path = demo.path(relative)
        line = _read(demo, relative).count("\n") + 1
        with path.open("r+b") as handle:
            if fill:
                handle.seek(0, os.SEEK_END)
                chunk = fill * (1 << 20)
                while handle.tell() < size:
                    handle.write(chunk)
            else:
                handle.truncate(size)
        return {"line": line}

    return mutate


def _merge_values(workbook: Any) -> Found:
    sheet = workbook.worksheets[0]
    sheet["C41"] = None
    sheet.merge_cells("C40:C41")
    return {"row": 40}


def parquet_float32() -> Mutation:
    def edit(columns: dict[str, list[Any]]) -> None:
        import pyarrow as pa

        columns["value"] = pa.array(columns["value"], pa.float32())  # type: ignore[assignment]

    return parquet(edit)


CASES: list[Case] = [
    *_params_cases(), *_catalog_cases(), *_measurement_cases(), *_xlsx_cases(),
    *_parquet_cases(), *_portfolio_cases(), *_minutes_cases(), *_narrative_cases(),
    *_pack_notebook_cases(), *_argument_cases(), *_batch_cases(), *_store_cases(),
    *_build_cases(), *_source_cases(), *_tabular_rule_cases(),
]


def test_the_sweep_is_big_enough_and_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    assert len([c for c in CASES if c.exit != 0]) >= 110
    # A build refused before its notebook runs costs a second; a finished one about 15 s.
    builds = [c for c in CASES if c.command[:1] == ("build",) and c.command[1] in
              ("weekly", "monthly", "quarterly") and c.exit != 2]
    assert len(builds) <= 5, "a build takes about 15 s: keep to five"


# -- fixtures -----------------------------------------------------------------------------------


#: The rows of the demo workbook the sweep keeps (the header and the first data rows): its cases
#: edit rows 1 to 41, and openpyxl reads and writes every row of the 9,807 in each case.
WORKBOOK_ROWS = 120


def _first_rows_only(path: Path, rows: int) -> None:
    import openpyxl

    source = openpyxl.load_workbook(path, read_only=True)
    shorter = openpyxl.Workbook()
    sheet = shorter.active
    for values in source.worksheets[0].iter_rows(max_row=rows, values_only=True):
        sheet.append(list(values))
    source.close()
    shorter.save(path)


def _seed(root: Path) -> None:
    """Copy the demo inputs, fill the store with the demo minutes, fake a previous pack."""
    (root / "params").mkdir(parents=True)
    for name in ("weekly.yaml", "monthly.yaml", "quarterly.yaml"):
        shutil.copy2(DEMO_PARAMS / name, root / "params" / name)
    shutil.copytree(DEMO_DATA, root / "data" / "demo",
                    ignore=shutil.ignore_patterns("*.py", "README.md", "__pycache__"))
    _first_rows_only(root / "data" / "demo" / "measurements.xlsx", WORKBOOK_ROWS)
    params = str(root / "params" / "weekly.yaml")
    for minutes in sorted((DEMO_DATA / "minutes").glob("weekly-*.yaml")):
        outcome = run_in_process(["minutes", "import", str(minutes), "--params", params,
                                  "--by", "demo"])
        assert outcome.code == 0, outcome.stderr
    (root / "minutes").mkdir()
    (root / "minutes" / "weekly-2026-11-20.yaml").write_text(NEW_MINUTES, encoding="utf-8")
    outcome = run_in_process(["narrative", "export", "weekly", "--params", params,
                              "--output", str(root / "narrative.md")])
    assert outcome.code == 0, outcome.stderr
    pack = root / "out" / "weekly" / DEMO_LABEL
    pack.mkdir(parents=True)
    for name, data in (("pack.pdf", b"%PDF-1.7 the previous good pack\n"),
                       ("pack.html", b"<html>previous</html>\n"),
                       ("summary.json", b'{"label": "2026-11-20"}\n'),
                       ("manifest.json", b"{}\n")):
        (pack / name).write_bytes(data)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep-template") / "demo"
    _seed(root)
    return root


@pytest.fixture(autouse=True)
def _as_a_user(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REVIEWKIT_DEBUG", "REVIEWKIT_NO_SPEEDUPS"):
        monkeypatch.delenv(name, raising=False)


def snapshot(*paths: Path) -> dict[str, bytes | str]:
    """Bytes of every file at or below ``paths`` (and the mode of the store, for read-only).

    A pack's lock file (``.<pack>.lock`` beside it) is left out while it is empty: a build takes
    the lock before it reads the analyst's edits, and a free lock is an empty file, not a change
    to anything a user keeps."""
    found: dict[str, bytes | str] = {}
    for path in paths:
        if path.is_file():
            found[str(path)] = path.read_bytes()
        elif path.is_dir():
            for item in sorted(path.rglob("*")):
                if item.is_file() and item.name.endswith(".lock") and item.name.startswith(
                        ".") and item.stat().st_size == 0:
                    continue
                if item.is_file():
                    found[str(item)] = item.read_bytes()
                elif item.is_dir():
                    found[str(item)] = "<dir>"
        else:
            found[str(path)] = "<absent>"
    return found


@contextlib.contextmanager
def read_only(demo: Demo) -> Iterator[None]:
    """The store and its folder read-only (a child run by root is made to obey modes)."""
    folder = demo.store.parent
    modes = folder.stat().st_mode, demo.store.stat().st_mode
    demo.store.chmod(0o444)
    folder.chmod(0o555)
    try:
        yield
    finally:
        folder.chmod(modes[0])
        demo.store.chmod(modes[1])


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    """A folder read-only while the child runs (one run by root is made to obey modes)."""
    mode = folder.stat().st_mode
    folder.chmod(0o555)
    try:
        yield
    finally:
        folder.chmod(mode)


# -- the test -----------------------------------------------------------------------------------


def _exit_ok(expected: Exit, code: int | None) -> bool:
    if isinstance(expected, int):
        return code == expected
    env = code is not None and code not in (0, 2)
    return {
        "env": env,
        "nonzero": code not in (None, 0),
        "0|2": code in (0, 2),
        "0|env": code == 0 or env,
    }[expected]


def problems(c: Case, ran: Ran) -> list[str]:
    """Every way the outcome breaks the promise (all of them, so a report is complete)."""
    outcome = ran.outcome
    if outcome.code is None:
        return [f"no answer within {c.timeout:.0f} s (wall clock)"]
    if outcome.code == -signal.SIGXCPU:
        return [f"still running after {c.cpu} CPU seconds (ended by SIGXCPU)"]
    found: list[str] = []
    if "Traceback" in outcome.stderr:
        found.append("a traceback")
    found += [f"the output shows {text!r}" for text in c.absent
              if text in outcome.stderr + outcome.stdout]
    if c.max_chars is not None and len(outcome.stderr.strip()) > c.max_chars:
        found.append(f"an error of {len(outcome.stderr.strip()):,} characters, over "
                     f"{c.max_chars}")
    if not _exit_ok(c.exit, outcome.code):
        found.append(f"exit code {outcome.code}, expected {c.exit}")
    if outcome.code == 0:
        if "error" in outcome.stderr.lower():
            found.append("succeeded, but with an error on stderr")
        return found
    lines = outcome.stderr.splitlines()
    line = lines[0] if lines else ""
    if len(lines) != 1:
        found.append(f"{len(lines)} lines on stderr, not one")
    if not line.startswith("reviewkit: error: "):
        found.append("the first line is not 'reviewkit: error: …'")
    elif c.names and not any(name in line for name in c.names):
        found.append(f"the error names none of {', '.join(c.names)}")
    elif c.where and not re.search(c.where.format(**ran.found), line):
        found.append(f"the error does not match {c.where.format(**ran.found)!r}")
    changed = sorted(name for name in ran.before.keys() | ran.after.keys()
                     if ran.before.get(name) != ran.after.get(name))
    if changed:
        found.append(f"a failed command changed {', '.join(changed)}")
    return found


@dataclasses.dataclass(frozen=True)
class Ran:
    """A case run: what the command did, what the mutation found, and the watched files."""

    outcome: Outcome
    found: Found
    before: dict[str, bytes | str]
    after: dict[str, bytes | str]


def run_case(c: Case, template: Path, folder: Path) -> Ran:
    """Copy the template, apply the mutation, run the command, and snapshot the store folder
    and the output folder before and after."""
    demo = Demo(folder / "demo")
    shutil.copytree(template, demo.root, symlinks=True)
    found = (c.mutate(demo) if c.mutate else None) or {}
    args = [part.format(**demo.placeholders()) for part in c.command]
    watched = (demo.store.parent, demo.out)
    before = snapshot(*watched)
    if c.child and not (c.cpu or c.memory or c.file_size or c.read_only_store
                        or c.read_only_out):
        outcome = run_forked(args, cwd=demo.root, timeout=c.timeout, logs=folder / "logs")
    elif c.child:
        with (read_only(demo) if c.read_only_store else contextlib.nullcontext(),
              read_only_folder(demo.out) if c.read_only_out else contextlib.nullcontext()):
            outcome = run_in_child(args, cwd=demo.root, timeout=c.timeout, cpu=c.cpu,
                                   memory=c.memory, file_size=c.file_size,
                                   obey_modes=c.read_only_store or c.read_only_out)
    else:
        outcome = run_in_process(args)
    return Ran(outcome, found, before, snapshot(*watched))


@pytest.fixture(scope="module", autouse=True)
def children(template: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, Future[Ran]]]:
    """The cases that run in a child process, started at once, two at a time, from background
    threads: their seconds (bombs, a 50 MB file, builds) overlap the in-process cases instead
    of adding to them. The slowest start first; builds last."""
    root = tmp_path_factory.mktemp("sweep-children")
    slow_first = sorted((c for c in CASES if c.child),
                        key=lambda c: (c.command[0] == "build", -(c.cpu or 0)))
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="sweep-child") as pool:
        futures = {c.id: pool.submit(run_case, c, template, root / c.id) for c in slow_first}
        yield futures
        for future in futures.values():
            future.cancel()


#: In-process cases first: the child cases run meanwhile in the background (``children``).
@pytest.mark.parametrize("c", sorted(CASES, key=lambda c: c.child), ids=str)
def test_bad_input(c: Case, template: Path, tmp_path: Path,
                   children: dict[str, Future[Ran]]) -> None:
    ran = children[c.id].result() if c.child else run_case(c, template, tmp_path)
    outcome = ran.outcome
    found = problems(c, ran)
    assert not found, (
        f"{c.id} ({c.mutation}): " + "; ".join(found)
        + f"\n  command: reviewkit {' '.join(c.command)}\n  exit: {outcome.code}"
        f" after {outcome.seconds:.1f} s\n  stderr: {outcome.stderr[-3000:]!r}"
        f"\n  stdout: {outcome.stdout[:300]!r}"
    )
