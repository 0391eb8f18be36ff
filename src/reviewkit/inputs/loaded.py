"""Every input of a pack definition, loaded and cross-checked once: the first stage's result."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from reviewkit.errors import InputError
from reviewkit.inputs._yaml import did_you_mean
from reviewkit.inputs.catalog import DEFAULT_ROLLUP, Catalog, load_catalog
from reviewkit.inputs.measurements import Measurements, Observation, load_measurements
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
from reviewkit.inputs.spend import TOTAL, SpendLine, load_spend, with_spend_kpis
from reviewkit.inputs.units import Unit, group_rows, resolve_units


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


def shown_path(path: Path, base: Path) -> str:
    """``path`` as a pack names it: relative to ``base`` (the params file's folder), so that no
    pack shows where the machine that built it keeps its files."""
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def input_file(role: str, path: Path, rows: int | None, *, base: Path | None = None) -> InputFile:
    """An input file with its fingerprint, named relative to ``base`` when given."""
    shown = shown_path(path, base) if base is not None else str(path)
    return InputFile(role, shown, sha256_of(path), path.stat().st_size, rows)


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
    #: The pack definition's units (empty: it has none, and its one pack covers everything).
    units: tuple[Unit, ...] = ()
    #: The unit these inputs are cut for; None for the group (or the only) pack.
    unit: Unit | None = None

    @property
    def kpi_ids(self) -> set[str]:
        return {kpi.id for kpi in self.catalog.kpis}

    @property
    def is_group(self) -> bool:
        """The group pack of a definition with units (it rolls them up)."""
        return bool(self.units) and self.unit is None

    def unit_named(self, unit_id: str) -> Unit:
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        known = ", ".join(unit.id for unit in self.units) or "none"
        raise InputError(self.params.path, f"unknown unit '{unit_id}'; units: {known}",
                         field="units")

    def with_units(self, units: tuple[Unit, ...]) -> Inputs:
        """These inputs as the group of ``units``: only their rows (and the group's own)."""
        if not units:
            return replace(self, units=(), unit=None)
        measurements = replace(self.measurements,
                               series=group_rows(self.measurements, units))
        return replace(self, measurements=measurements, units=units, unit=None)

    @functools.cached_property
    def _by_segment(self) -> dict[str, dict[str, list[Observation]]]:
        """The series split by segment, in one pass over the rows (each in date order): a
        batch cuts every unit's inputs from it instead of scanning every row once per unit."""
        split: dict[str, dict[str, list[Observation]]] = {}
        for kpi_id, rows in self.measurements.series.items():
            for obs in rows:
                split.setdefault(obs.segment, {}).setdefault(kpi_id, []).append(obs)
        return split

    def for_unit(self, unit: Unit) -> Inputs:
        """One unit's inputs: its rows only, the KPIs it reports with its own owners, and none
        of the group's portfolio, spend or priorities (those are the group pack's)."""
        series = {kpi_id: list(rows)
                  for kpi_id, rows in self._by_segment.get(unit.segment, {}).items()}
        reported = [kpi for kpi in self.catalog.kpis if kpi.id in series]
        catalog = self.catalog.model_copy(update={"kpis": [
            kpi.model_copy(update={"owner": kpi.owner_for(unit.id, unit.segment)})
            for kpi in reported]})
        measurements = replace(self.measurements, series=series,
                               row_count=sum(len(rows) for rows in series.values()))
        return replace(self, catalog=catalog, measurements=measurements, initiatives=None,
                       benefits=None, spend=None, priorities=None, unit=unit)

    def files(self) -> tuple[InputFile, ...]:
        """Every input a pack records in its provenance, with its SHA-256: the params file,
        the catalog, the measurements, each optional input the params file names and each
        source its queries read; each named relative to the params file's folder."""
        values = self.params.values
        base = self.params.path.parent
        files = [
            input_file("params", self.params.path, None, base=base),
            input_file("catalog", self.catalog.path, len(self.catalog.kpis), base=base),
            input_file("measurements", self.measurements.path, self.measurements.row_count,
                       base=base),
        ]
        optional: tuple[tuple[str, Path | None, tuple[object, ...] | None], ...] = (
            ("initiatives", values.initiatives, self.initiatives),
            ("benefits", values.benefits, self.benefits),
            ("spend", values.spend, self.spend),
            ("priorities", values.priorities, self.priorities),
        )
        files += [input_file(role, path, len(items), base=base) for role, path, items in optional
                  if path is not None and items is not None]
        for source in self.params.sources:
            role = f"source {source.name}"
            if source.kind == "database":
                files.append(InputFile(role, f"{source.shown} table {source.table}", "", 0))
            files.extend(input_file(role, path, None, base=base) for path in source.files)
        return tuple(files)

    def for_pack(self, cadence: str, window: Window, today: dt.date) -> Inputs:
        """These inputs as one pack of ``cadence`` over ``window`` needs them: a large table's
        rows of the catalog's KPIs up to the window's end (each date's rows combined), and the
        cadence's query KPIs from their queries (replacing any rows the table has for them)."""
        rules = {kpi.id: kpi.aggregation for kpi in self.catalog.kpis}
        measurements = self.measurements.for_pack(rules, window.end, today)
        queries = self.catalog.queries(cadence)
        if queries:
            queried = run_queries(queries, self.params.sources, window,
                                  self.params.values.query_time_limit)
            measurements = replace(measurements, series={**measurements.series, **queried})
        return replace(self, measurements=measurements).with_spend_kpis()

    def with_spend_kpis(self) -> Inputs:
        """These inputs with each spend KPI's values from the spend file (one variance and one
        status for a line, in the KPI and in the spend table); unchanged without a spend file."""
        if self.spend is None or not any(kpi.spend_line for kpi in self.catalog.kpis):
            return self
        series = with_spend_kpis(self.measurements.series, self.catalog.kpis, self.spend)
        return replace(self, measurements=replace(self.measurements, series=series))

    def describe_optional(self) -> list[str]:
        """'initiatives (6)', … for each optional input given."""
        return [f"{name} ({len(items)})" for name, items in (
            ("initiatives", self.initiatives), ("benefits", self.benefits),
            ("spend rows", self.spend), ("priorities", self.priorities)) if items is not None]


def load_inputs(params_file: str | Path) -> Inputs:
    """Load and validate every input a pack definition names (``validate`` stops here)."""
    return load_named_inputs(load_params(params_file))


def load_named_inputs(params: LoadedParams, *, every_segment: bool = False) -> Inputs:
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
    # A large table is read column-wise unless units are asked for (they are found in the rows)
    # or it has units and a KPI rolls them up by a rule of its own (the engine combines a
    # date's rows across units by the KPI's aggregation, which is the default rollup's figure).
    measurements = load_measurements(values.measurements,
                                     column_wise=values.units is None and not every_segment)
    if (measurements.scan is not None and measurements.scan.has_segments
            and any(kpi.rollup_rule != DEFAULT_ROLLUP[kpi.aggregation]
                    for kpi in catalog.kpis)):
        measurements = load_measurements(values.measurements, column_wise=False)
    queries = catalog.queries()
    if queries and not params.sources:
        raise InputError(params.path, f"KPI '{queries[0].kpi_id}' in the catalog has a query, "
                         "but this params file declares no sources; add a sources: mapping",
                         field="sources")
    check_queries(queries, params.sources, values.query_time_limit)
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
    if spend is not None:
        _check_spend_lines(catalog, spend)
    units = resolve_units(params, measurements, every_segment=every_segment)
    _check_owners(catalog, units)
    inputs = Inputs(params=params, catalog=catalog, measurements=measurements,
                    initiatives=initiatives, benefits=benefits, spend=spend,
                    priorities=priorities).with_spend_kpis()
    return inputs.with_units(units) if units else inputs


def _check_spend_lines(catalog: Catalog, spend: tuple[SpendLine, ...]) -> None:
    """A KPI's ``spend_line`` must name a category of the spend file, or its total."""
    lines = {line.category for line in spend} | {TOTAL}
    for kpi in catalog.kpis:
        if kpi.spend_line and kpi.spend_line not in lines:
            raise InputError(
                catalog.path,
                f"KPI '{kpi.id}': spend_line '{kpi.spend_line}' is no category of the spend file"
                f"{did_you_mean(kpi.spend_line, lines)}; use a category or '{TOTAL}'",
                field="spend_line")


def _check_owners(catalog: Catalog, units: tuple[Unit, ...]) -> None:
    """Per-unit owners must name units of the pack definition (a typo would hide an owner)."""
    if not units:
        return
    known = {unit.id for unit in units} | {unit.segment for unit in units}
    for kpi in catalog.kpis:
        for key in kpi.owners:
            if key not in known:
                raise InputError(
                    catalog.path,
                    f"KPI '{kpi.id}': owners names '{key}', which is no unit's id or segment; "
                    f"units: {', '.join(sorted(unit.id for unit in units))}",
                    field="owners",
                )
