"""How `reviewkit build weekly` grows with the data: raw incident rows behind query KPIs, rows in
the measurements table, and KPIs in the catalog.

Three series, each against the demo weekly pack (``params/weekly.yaml``, 2026-11-20) built the
same way in the same run:

* **incidents** — the demo pack with two KPIs (``mttr_p1``, ``p1_incidents``) computed by queries
  over N raw incident rows (a CSV written on the fly), N = 10k, 100k, 1M, 10M;
* **measurements** — the demo catalog (without its two ``rollup`` overrides) over a measurements
  CSV of N rows (the 16 KPIs, daily, in as many units as it takes), N = 10k, 100k, 1M, 10M;
* **kpis** — a weekly catalog of K KPIs (the demo's 13 weekly ones and copies), 104 weeks each,
  K = 13, 100, 500.

Each build is one ``reviewkit build`` process, timed on the wall clock. Its peak memory is the
largest sum of the resident set sizes of the whole process tree (the build, its notebook kernel
and any other child), sampled from /proc every 20 ms. Stage times come from the pack's
``manifest.json``. Goals (issue 9): with 10M rows, at most 3x the demo pack's time and under
2 GiB; cost per KPI flat.

Usage::

    .venv/bin/python bench/scale.py [--series incidents,measurements,kpis] [--sizes 10k,100k,1M,10M]
                                    [--kpis 13,100,500] [--json results.json] [--keep DIR]

The data is generated with DuckDB (a reviewkit dependency) into a temporary folder, or DIR with
``--keep`` (reused when present: the 10M-row files take a minute to write).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO = ROOT / "data" / "demo"
# The demo's generator writes the catalog with queries; the incident series reuses its writer.
sys.path.insert(0, str(DEMO))
from generate_operational import with_queries  # noqa: E402

PERIOD = "2026-11-20"
TIME_GOAL = 3.0
MEMORY_GOAL = 2 * 1024**3
TIMEOUT = 1800


@dataclass
class Build:
    series: str
    size: int
    seconds: float
    peak_rss: int
    pages: int
    stages: dict[str, float] = field(default_factory=dict)
    input_bytes: int = 0


# -- measuring one build -----------------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _tree_rss(root: int) -> int:
    tree = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def build(series: str, size: int, params: Path, out: Path, input_bytes: int = 0) -> Build:
    """Build the weekly pack of ``params`` once, measuring time and the tree's peak RSS."""
    argv = [str(BIN / "reviewkit"), "build", "weekly", "--params", str(params), "--period",
            PERIOD, "--out", str(out), "-q"]
    env = {key: value for key, value in os.environ.items()
           if key not in ("REVIEWKIT_DEBUG", "REVIEWKIT_NO_SPEEDUPS")}
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{series} {size}: build failed ({process.returncode}): "
                         f"{stderr.strip()[-2000:]}")
    pack = out / "weekly" / PERIOD
    manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    stages = {str(k): float(v) for k, v in manifest.get("timings_seconds", {}).items()}
    return Build(series, size, seconds, peak, _pages(pack / "pack.pdf"), stages, input_bytes)


def _pages(pdf: Path) -> int:
    from pypdf import PdfReader  # the test extra; the bench runs in the project's environment

    return len(PdfReader(pdf).pages)


# -- the data ----------------------------------------------------------------------------------

def _params(folder: Path, name: str, catalog: Path, measurements: Path,
            sources: dict[str, Path] | None = None) -> Path:
    lines = [
        "organisation: Northwind IT",
        "title: Weekly Operational Review",
        f"catalog: {catalog}",
        f"measurements: {measurements}",
        "classification: Internal · Northwind IT leadership team",
        f"store: {folder / (name + '.sqlite')}",
    ]
    if sources:
        lines.append("sources:")
        lines.extend(f"  {key}: {path}" for key, path in sources.items())
        # Sources read only inside the params file's folder and those allowed (--keep's).
        folders = sorted({str(path.parent) for path in sources.values()})
        lines.append(f"allowed: [{', '.join(folders)}]")
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


INCIDENT_QUERIES = {
    "mttr_p1": """\
SELECT period_of(restored_at) AS period_end,
       round(avg(date_diff('minute', opened_at, restored_at)) / 60, 2) AS value
FROM incidents
WHERE priority IN ('P1', 'P2')
  AND restored_at >= $window_start AND restored_at < $window_end + INTERVAL 1 DAY
GROUP BY ALL""",
    "p1_incidents": """\
SELECT period_of(opened_at) AS period_end, count(*) AS value
FROM incidents
WHERE priority = 'P1'
  AND opened_at >= $window_start AND opened_at < $window_end + INTERVAL 1 DAY
GROUP BY ALL""",
}


def incidents_data(folder: Path, rows: int) -> tuple[Path, int]:
    """``rows`` incidents over the demo's two years; P1s a few per week whatever ``rows`` is."""
    path = folder / f"incidents-{rows}.csv"
    if not path.exists():
        con = duckdb.connect()
        con.execute(f"""
            COPY (
              SELECT 'INC' || lpad(CAST(i AS VARCHAR), 8, '0') AS incident_id,
                     CASE WHEN random() < 3 * 104 / {rows} THEN 'P1'
                          WHEN random() < 0.02 THEN 'P2'
                          WHEN random() < 0.5 THEN 'P3' ELSE 'P4' END AS priority,
                     TIMESTAMP '2024-11-23 00:00:00'
                       + INTERVAL (CAST(floor(random() * 728 * 24 * 60) AS BIGINT)) MINUTE
                       AS opened_at,
                     ['EHR', 'PACS', 'Network', 'Email', 'Service desk'][1 + (i % 5)] AS service
              FROM range({rows}) t(i)
            ) TO '{path}.tmp' (HEADER, FORMAT csv)""")
        # restored_at after opened_at: 20 minutes to 8 hours later
        con.execute(f"""
            COPY (SELECT incident_id, priority, opened_at,
                         opened_at + INTERVAL (20 + CAST(floor(random() * 460) AS BIGINT)) MINUTE
                           AS restored_at, service
                  FROM read_csv('{path}.tmp')) TO '{path}' (HEADER, FORMAT csv)""")
        os.remove(f"{path}.tmp")
        con.close()
    return path, path.stat().st_size


def incidents_catalog(folder: Path) -> Path:
    path = folder / "kpis-incidents.yaml"
    path.write_text(with_queries((DEMO / "kpis.yaml").read_text(encoding="utf-8"),
                                 INCIDENT_QUERIES), encoding="utf-8")
    return path


def measurements_data(folder: Path, rows: int) -> tuple[Path, int]:
    """A measurements CSV of ``rows`` rows: each demo KPI daily over two years, in as many units
    (segments) as it takes, values around the KPI's demo mean (spread over the units for sums)."""
    path = folder / f"measurements-{rows}.csv"
    if not path.exists():
        con = duckdb.connect()
        con.execute(f"""
            CREATE TABLE kpis AS
            SELECT kpi_id, avg(value) AS mean, row_number() OVER () - 1 AS k
            FROM read_csv('{DEMO / 'measurements.csv'}') WHERE value IS NOT NULL
              AND kpi_id IN (SELECT unnest($ids)) GROUP BY kpi_id""",
                    {"ids": _catalog_ids()})
        sums = [kpi for kpi, rule in _catalog_rules().items() if rule == "sum"]
        kpi_count = con.execute("SELECT count(*) FROM kpis").fetchone()[0]  # type: ignore[index]
        units = max(1, rows // (kpi_count * 728))
        days = rows // (kpi_count * units)
        con.execute(f"""
            COPY (
              SELECT kpi_id, DATE '{PERIOD}' - CAST(d AS INTEGER) AS period_end,
                     round(CASE WHEN kpi_id IN (SELECT unnest($sums))
                                THEN mean / (7 * {units}) ELSE mean END
                           * (0.97 + 0.06 * random()), 2) AS value,
                     CASE WHEN {units} > 1 THEN 'unit-' || lpad(CAST(u AS VARCHAR), 4, '0')
                          ELSE '' END AS segment
              FROM kpis, range({days}) d(d), range({units}) s(u)
              ORDER BY period_end, kpi_id, segment
            ) TO '{path}' (HEADER, FORMAT csv)""", {"sums": sums})
        con.close()
    return path, path.stat().st_size


def default_rollups(folder: Path) -> Path:
    """The demo catalog without its ``rollup`` overrides: with them, a table with units is read
    row by row (docs/data-contract.md, "Large tables"); this series measures the column-wise
    path."""
    lines = (DEMO / "kpis.yaml").read_text(encoding="utf-8").splitlines()
    path = folder / "kpis-default-rollups.yaml"
    path.write_text("\n".join(line for line in lines if not line.strip().startswith("rollup:"))
                    + "\n", encoding="utf-8")
    return path


def _catalog_rules() -> dict[str, str]:
    rules: dict[str, str] = {}
    current = None
    for line in (DEMO / "kpis.yaml").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("- id:"):
            current = stripped.split(":", 1)[1].strip()
            rules[current] = "mean"
        elif stripped.startswith("aggregation:") and current:
            rules[current] = stripped.split(":", 1)[1].strip()
    return rules


def _catalog_ids() -> list[str]:
    return list(_catalog_rules())


def kpi_catalog(folder: Path, count: int) -> tuple[Path, Path]:
    """A weekly catalog of ``count`` KPIs (the demo's weekly ones, then numbered copies) and its
    measurements: the demo's 104 weeks of each copied KPI."""
    import yaml  # the bench runs in the project's environment

    demo = yaml.safe_load((DEMO / "kpis.yaml").read_text(encoding="utf-8"))["kpis"]
    weekly = [kpi for kpi in demo if "weekly" in kpi["cadences"]]
    kpis = []
    for index in range(count):
        base = dict(weekly[index % len(weekly)])
        if index >= len(weekly):
            base["id"] = f"{base['id']}_{index}"
            base["name"] = f"{base['name']} ({index})"
            base["headline"] = False
        kpis.append(base)
    catalog = folder / f"kpis-{count}.yaml"
    catalog.write_text(yaml.safe_dump({"kpis": kpis}, sort_keys=False, allow_unicode=True),
                       encoding="utf-8")
    # The demo's own header: its rows are one per KPI, date and unit (segment, count), and a
    # copied KPI keeps all of them (a shorter header would drop the segments and leave
    # duplicate rows).
    header, *demo_rows = (DEMO / "measurements.csv").read_text(encoding="utf-8").splitlines()
    assert header.startswith("kpi_id,"), header
    rows = [header]
    by_kpi: dict[str, list[str]] = {}
    for row in demo_rows:
        kpi_id, rest = row.split(",", 1)
        by_kpi.setdefault(kpi_id, []).append(rest)
    for kpi, index in zip(kpis, range(count), strict=True):
        source = weekly[index % len(weekly)]["id"]
        rows.extend(f"{kpi['id']},{rest}" for rest in by_kpi.get(source, []))
    measurements = folder / f"measurements-kpis-{count}.csv"
    measurements.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return catalog, measurements


# -- the run -------------------------------------------------------------------------------------

def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def human(size: int) -> str:
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


def report(builds: list[Build], baseline: Build) -> None:
    stage_names: list[str] = []
    for item in builds:
        stage_names.extend(name for name in item.stages if name not in stage_names)
    short = {name: name.split(" ")[0][:9] for name in stage_names}
    print()
    header = (f"{'series':<13}{'size':>6}{'input MB':>10}{'seconds':>9}{'x demo':>8}"
              f"{'peak MiB':>10}{'pages':>7}  " + " ".join(f"{short[n]:>9}" for n in stage_names))
    print(header)
    print("-" * len(header))
    for item in builds:
        stages = " ".join(f"{item.stages.get(n, 0.0):>9.2f}" for n in stage_names)
        print(f"{item.series:<13}{human(item.size):>6}{item.input_bytes / 1e6:>10.1f}"
              f"{item.seconds:>9.2f}{item.seconds / baseline.seconds:>8.2f}"
              f"{item.peak_rss / 2**20:>10.0f}{item.pages:>7}  {stages}")
    print("\nstages: " + "; ".join(f"{short[n]} = {n}" for n in stage_names))
    for item in builds:
        if item.series in ("incidents", "measurements") and item.size >= 10_000_000:
            time_ok = item.seconds <= TIME_GOAL * baseline.seconds
            memory_ok = item.peak_rss < MEMORY_GOAL
            ratio = item.seconds / baseline.seconds
            print(f"goal {item.series} {human(item.size)}: time {ratio:.2f}x demo "
                  f"({'met' if time_ok else 'NOT met'}, <= {TIME_GOAL}x), peak "
                  f"{item.peak_rss / 2**30:.2f} GiB "
                  f"({'met' if memory_ok else 'NOT met'}, < 2 GiB)")
    kpi_builds = [item for item in builds if item.series == "kpis"]
    if len(kpi_builds) > 1:
        first = kpi_builds[0]
        print(f"seconds per KPI above the {first.size}-KPI pack: " + ", ".join(
            f"{item.size}: {(item.seconds - first.seconds) / max(1, item.size - first.size):.3f}"
            for item in kpi_builds[1:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", default="incidents,measurements,kpis")
    parser.add_argument("--sizes", default="10k,100k,1M,10M")
    parser.add_argument("--kpis", default="13,100,500")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="folder for the generated data (reused)")
    args = parser.parse_args(argv)
    series = [name.strip() for name in args.series.split(",") if name.strip()]
    sizes = [parse_size(text) for text in args.sizes.split(",")]
    kpi_counts = [int(text) for text in args.kpis.split(",")]
    with tempfile.TemporaryDirectory(prefix="reviewkit-scale-") as scratch:
        data = args.keep or Path(scratch) / "data"
        data.mkdir(parents=True, exist_ok=True)
        work = Path(scratch)
        print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, load "
              f"{os.getloadavg()[0]:.2f}; data in {data}", flush=True)
        measurements = DEMO / "measurements.csv"
        demo = _params(work, "demo", DEMO / "kpis.yaml", measurements)
        build("demo", 0, demo, work / "warm-up")  # untimed: fills the disk cache
        baseline = build("demo", 0, demo, work / "out-demo", measurements.stat().st_size)
        print(f"demo: {baseline.seconds:.2f} s, {baseline.peak_rss / 2**20:.0f} MiB", flush=True)
        builds = [baseline]
        for name in series:
            for size in (kpi_counts if name == "kpis" else sizes):
                if name == "incidents":
                    source, nbytes = incidents_data(data, size)
                    params = _params(work, f"incidents-{size}", incidents_catalog(data),
                                     measurements, {"incidents": source})
                elif name == "measurements":
                    table, nbytes = measurements_data(data, size)
                    params = _params(work, f"measurements-{size}", default_rollups(data), table)
                else:
                    catalog, table = kpi_catalog(data, size)
                    nbytes = table.stat().st_size
                    params = _params(work, f"kpis-{size}", catalog, table)
                item = build(name, size, params, work / f"out-{name}-{size}", nbytes)
                print(f"{name} {human(size)}: {item.seconds:.2f} s, "
                      f"{item.peak_rss / 2**20:.0f} MiB, {item.pages} pages", flush=True)
                builds.append(item)
        report(builds, baseline)
        if args.json:
            args.json.write_text(json.dumps([asdict(item) for item in builds], indent=2),
                                 encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

