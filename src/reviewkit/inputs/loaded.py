"""Every input of a pack definition, loaded and cross-checked once: the first stage's result."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from reviewkit.errors import InputError
from reviewkit.inputs._yaml import did_you_mean
from reviewkit.inputs.catalog import Catalog, load_catalog
from reviewkit.inputs.measurements import Measurements, load_measurements
from reviewkit.inputs.params import LoadedParams, load_params
from reviewkit.inputs.portfolio import (
    Benefit,
    Initiative,
    check_benefits,
    check_initiatives,
    load_benefits,
    load_initiatives,
)
from reviewkit.inputs.priorities import StrategicPriority, load_priorities
from reviewkit.inputs.sources import Window, check_queries, run_queries
from reviewkit.inputs.spend import SpendLine, load_spend


@dataclass(frozen=True)
class InputFile:
    """An input file as used for a pack, with its fingerprint for provenance."""

    role: str
    path: str
    sha256: str
    size_bytes: int
    rows: int | None = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_file(role: str, path: Path, rows: int | None) -> InputFile:
    return InputFile(role, str(path), sha256_of(path), path.stat().st_size, rows)


@dataclass(frozen=True)
class Inputs:
    """The params file and everything it names, validated; optional inputs are None when the
    params file does not name them."""

    params: LoadedParams
    catalog: Catalog
    measurements: Measurements
    initiatives: tuple[Initiative, ...] | None = None
    benefits: tuple[Benefit, ...] | None = None
    spend: tuple[SpendLine, ...] | None = None
    priorities: tuple[StrategicPriority, ...] | None = None

    @property
    def kpi_ids(self) -> set[str]:
        return {kpi.id for kpi in self.catalog.kpis}

    def files(self) -> tuple[InputFile, ...]:
        """The inputs a pack records in its provenance, with their SHA-256."""
        files = [
            input_file("params", self.params.path, None),
            input_file("catalog", self.catalog.path, len(self.catalog.kpis)),
            input_file("measurements", self.measurements.path, self.measurements.row_count),
        ]
        for source in self.params.sources:
            role = f"source {source.name}"
            if source.kind == "database":
                files.append(InputFile(role, f"{source.shown} table {source.table}", "", 0))
            files.extend(input_file(role, path, None) for path in source.files)
        return tuple(files)

    def for_pack(self, cadence: str, window: Window, keep_from: dt.date,
                 today: dt.date) -> Inputs:
        """These inputs as one pack of ``cadence`` over ``window`` needs them: a large table's
        rows of the catalog's KPIs (row by row from ``keep_from``), and the cadence's query
        KPIs from their queries (replacing any rows the table has for them)."""
        rules = {kpi.id: kpi.aggregation for kpi in self.catalog.kpis}
        measurements = self.measurements.for_pack(rules, keep_from, window.end, window.rule,
                                                  today)
        queries = self.catalog.queries(cadence)
        if queries:
            queried = run_queries(queries, self.params.sources, window)
            measurements = replace(measurements, series={**measurements.series, **queried})
        return replace(self, measurements=measurements)

    def describe_optional(self) -> list[str]:
        """'initiatives (6)', … for each optional input given."""
        return [f"{name} ({len(items)})" for name, items in (
            ("initiatives", self.initiatives), ("benefits", self.benefits),
            ("spend rows", self.spend), ("priorities", self.priorities)) if items is not None]


def load_inputs(params_file: str | Path) -> Inputs:
    """Load and validate every input a pack definition names (``validate`` stops here)."""
    return load_named_inputs(load_params(params_file))


def load_named_inputs(params: LoadedParams) -> Inputs:
    """Load and validate every input a loaded params file names.

    Optional inputs are checked against the catalog and each other: an initiative's KPIs and
    strategic priority, a benefit's initiative and KPI.
    """
    values = params.values
    catalog = load_catalog(values.catalog)
    for kpi_id in values.headline or ():
        if kpi_id not in catalog.by_id():
            raise params.error(f"unknown KPI id '{kpi_id}' in the headline list"
                               f"{did_you_mean(kpi_id, catalog.by_id())}", "headline")
    measurements = load_measurements(values.measurements)
    queries = catalog.queries()
    if queries and not params.sources:
        raise InputError(params.path, f"KPI '{queries[0].kpi_id}' in the catalog has a query, "
                         "but this params file declares no sources; add a sources: mapping",
                         field="sources")
    check_queries(queries, params.sources)
    kpi_ids = {kpi.id for kpi in catalog.kpis}
    priorities = (tuple(load_priorities(values.priorities, kpi_ids))
                  if values.priorities is not None else None)
    initiatives = None
    if values.initiatives is not None:
        initiatives = tuple(load_initiatives(values.initiatives))
        priority_ids = {p.id for p in priorities} if priorities is not None else None
        check_initiatives(initiatives, kpi_ids, priority_ids)
    benefits = None
    if values.benefits is not None:
        benefits = tuple(load_benefits(values.benefits))
        check_benefits(benefits, initiatives, kpi_ids)
    spend = tuple(load_spend(values.spend)) if values.spend is not None else None
    return Inputs(params=params, catalog=catalog, measurements=measurements,
                  initiatives=initiatives, benefits=benefits, spend=spend,
                  priorities=priorities)
