"""Generate the demo's operational records: the raw data behind three of its KPIs.

Writes, under ``operational/`` next to this script:

* ``incidents-YYYY.csv`` - one file per year (a glob reads them all), one row per incident (P1
  to P4) with its site and its opened and restored times: behind **mean time to restore**
  (``mttr_p1``: per site and week, the mean hours to restore the P1 and P2 incidents restored in
  the week, and how many there were);
* ``cloud-billing.parquet`` - one row per day, site, account and service with its cost in
  pounds: behind **cloud spend** (``cloud_spend``: per site, the week's cost in £k);

and ``kpis-operational.yaml``: the demo catalog (``kpis.yaml``) with a ``query`` on those two
KPIs. ``params/weekly-operational-data.yaml`` builds the weekly pack from it.

The records are made *from* the prepared table (``measurements.csv``), site by site and week by
week, so that each query gives back exactly the table's figures; a test checks both routes
agree. The prepared table stays the demo's source of truth: its packs do not change.

Change success rate stays in the prepared table: its rows give a rate and a count of changes per
site (95.6 % of 24 changes) that no whole number of successful changes makes, so no change
records can give them back exactly.

Usage: ``python data/demo/generate_operational.py`` (standard library and pyarrow only). The
output is deterministic (seeded); the Parquet bytes can change only with the pyarrow version.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
OUT = HERE / "operational"
SEED = 20261120

SERVICES = ("EHR", "PACS", "Pharmacy", "Lab results", "Patient portal", "Email", "Network",
            "Service desk", "Theatres", "Finance")
ACCOUNTS = ("prod-clinical", "prod-corporate", "shared-platform", "dev-test")
CLOUD_SERVICES = ("compute", "storage", "database", "network egress", "backup", "monitoring")

#: The KPIs' queries, as the catalog carries them. Each returns one row per period and site
#: (``period_of`` cuts the pack's periods); the window comes in as parameters.
QUERIES = {
    "mttr_p1": """\
SELECT period_of(restored_at) AS period_end, site AS segment,
       round(avg(date_diff('second', opened_at, restored_at)) / 3600, 3) AS value,
       count(*) AS count
FROM incidents
WHERE priority IN ('P1', 'P2')
  AND restored_at >= $window_start
  AND restored_at < $window_end + INTERVAL 1 DAY
GROUP BY ALL
""",
    "cloud_spend": """\
SELECT period_of(usage_date) AS period_end, site AS segment,
       round(sum(cost_gbp) / 1000, 1) AS value
FROM billing
WHERE usage_date BETWEEN $window_start AND $window_end
GROUP BY ALL
""",
}


def weekly_values(kpi_id: str) -> dict[tuple[dt.date, str], tuple[Decimal, int | None]]:
    """The prepared table's (value, count) of ``kpi_id`` for each week and site with a value."""
    with (HERE / "measurements.csv").open(encoding="utf-8", newline="") as handle:
        return {(dt.date.fromisoformat(row["period_end"]), row["segment"]):
                (Decimal(row["value"]), int(row["count"]) if row["count"] else None)
                for row in csv.DictReader(handle)
                if row["kpi_id"] == kpi_id and row["value"] != ""}


def split_total(rng: random.Random, total: int, parts: int, minimum: int) -> list[int]:
    """``parts`` whole numbers, each at least ``minimum``, that add up to ``total``."""
    spare = total - parts * minimum
    assert spare >= 0, (total, parts, minimum)
    cuts = sorted(rng.randint(0, spare) for _ in range(parts - 1))
    return [minimum + high - low for low, high in zip([0, *cuts], [*cuts, spare], strict=True)]


def week_minutes(rng: random.Random) -> int:
    """A random minute inside a week (minutes since midnight of its first day)."""
    return rng.randint(0, 7 * 24 * 60 - 1)


def at(week_end: dt.date, minute: int) -> dt.datetime:
    start = dt.datetime.combine(week_end - dt.timedelta(days=6), dt.time())
    return start + dt.timedelta(minutes=minute)


def incidents(rng: random.Random) -> list[dict[str, str]]:
    """Per site and week, as many P1/P2 restores as the table counts, with the table's mean
    restore time, among P3/P4 noise."""
    rows = []
    for (week_end, site), (hours, count) in sorted(weekly_values("mttr_p1").items()):
        mean_seconds = hours * 3600
        assert mean_seconds == int(mean_seconds), "MTTR is written in whole seconds"
        assert count, "every MTTR row counts its incidents"
        durations = split_total(rng, int(mean_seconds) * count, count, minimum=1)
        for duration in durations:
            restored = at(week_end, week_minutes(rng))
            rows.append(_incident(rng, site, rng.choice(("P1", "P2", "P2")), restored, duration))
        for _ in range(rng.randint(10, 20)):
            restored = at(week_end, week_minutes(rng))
            rows.append(_incident(rng, site, rng.choice(("P3", "P4")), restored,
                                  rng.randint(1800, 5 * 24 * 3600)))
    rows.sort(key=lambda row: (row["opened_at"], row["site"], row["priority"]))
    for number, row in enumerate(rows, start=1):
        row["incident_id"] = f"INC{number:06d}"
    return rows


def _incident(rng: random.Random, site: str, priority: str, restored: dt.datetime,
              seconds: int) -> dict[str, str]:
    opened = restored - dt.timedelta(seconds=seconds)
    return {"incident_id": "", "site": site, "priority": priority,
            "service": rng.choice(SERVICES), "opened_at": opened.isoformat(sep=" "),
            "restored_at": restored.isoformat(sep=" ")}


def billing(rng: random.Random) -> pa.Table:
    """Daily cost lines per site, account and service whose weekly total per site is the
    table's £k."""
    dates, sites, accounts, services, pence = [], [], [], [], []
    for (week_end, site), (thousands, _) in sorted(weekly_values("cloud_spend").items()):
        total = int(thousands * 1000 * 100)
        lines = [(week_end - dt.timedelta(days=day), account, service)
                 for day in range(6, -1, -1) for account in ACCOUNTS
                 for service in rng.sample(CLOUD_SERVICES, 2)]
        for (day, account, service), cost in zip(
                lines, split_total(rng, total, len(lines), minimum=100), strict=True):
            dates.append(day)
            sites.append(site)
            accounts.append(account)
            services.append(service)
            pence.append(cost)
    return pa.table({
        "usage_date": pa.array(dates, pa.date32()),
        "site": sites,
        "account": accounts,
        "service": services,
        "cost_gbp": pa.array([Decimal(p) / 100 for p in pence], pa.decimal128(12, 2)),
    })


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def with_queries(catalog: str, queries: dict[str, str]) -> str:
    """A catalog's text with a ``query`` block after the ``aggregation`` line of each KPI in
    ``queries`` (by id); every one of them must be found."""
    out: list[str] = []
    current = None
    done = set()
    for line in catalog.splitlines():
        out.append(line)
        stripped = line.strip()
        if stripped.startswith("- id:"):
            current = stripped.split(":", 1)[1].strip()
        if current in queries and stripped.startswith("aggregation:"):
            out.append("    query: |")
            out.extend(f"      {sql}" for sql in queries[current].splitlines())
            done.add(current)
    assert done == set(queries), f"no aggregation line for {set(queries) - done}"
    return "\n".join(out) + "\n"


def catalog_with_queries() -> str:
    """``kpis.yaml`` with a ``query`` block after the ``aggregation`` line of the three KPIs."""
    header = (
        "# The demo catalog (kpis.yaml) with two KPIs computed from operational records by\n"
        "# queries over the sources in params/weekly-operational-data.yaml.\n"
        "# Written by data/demo/generate_operational.py; edit kpis.yaml and re-run it.\n"
    )
    return header + with_queries((HERE / "kpis.yaml").read_text(encoding="utf-8"), QUERIES)


def main() -> None:
    rng = random.Random(SEED)
    OUT.mkdir(exist_ok=True)
    by_year: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in incidents(rng):
        by_year[row["restored_at"][:4]].append(row)
    for old in [*OUT.glob("incidents*.csv"), *OUT.glob("changes-*.csv")]:
        old.unlink()
    for year, rows in sorted(by_year.items()):
        write_csv(OUT / f"incidents-{year}.csv", rows)
    pq.write_table(billing(rng), OUT / "cloud-billing.parquet")
    (HERE / "kpis-operational.yaml").write_text(catalog_with_queries(), encoding="utf-8")


if __name__ == "__main__":
    main()
