"""Every input of a pack definition, loaded and cross-checked once: the first stage's result."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from reviewkit.errors import InputError
from reviewkit.inputs._yaml import did_you_mean
from reviewkit.inputs.catalog import DEFAULT_ROLLUP, Catalog, Kpi, load_catalog
from reviewkit.inputs.measurements import Measurements, Observation, Unseen, load_measurements
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
from reviewkit.inputs.sources import (
    KpiQuery,
    SourceRead,
    Window,
    check_queries,
    run_queries,
)
from reviewkit.inputs.spend import TOTAL, SpendLine, load_spend, with_spend_kpis
from reviewkit.inputs.units import Unit, group_rows, resolve_units, rows_of


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
    #: A unit's KPIs summed over the units (incidents, spend) that have no target of the
    #: unit's own: its pack shows them as its share of the group's figure, not judged.
    shares: tuple[Kpi, ...] = ()
    #: A unit's group: the inputs its shares of the group's figures are taken from.
    group: Inputs | None = None
    #: What the pack's queries read from database sources (rows and their hash), by source.
    source_reads: tuple[SourceRead, ...] = ()
    #: Query KPIs' rows by month over the outlook's window, for a pack whose own periods are
    #: longer (a quarter's rows would give the forecast one month in three), by KPI id.
    outlook_rows: dict[str, list[Observation]] | None = None

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
        own = frozenset(kpi.id for kpi in self.catalog.kpis if kpi.rollup == "own")
        segments = {unit.segment for unit in units}
        other = Counter(obs.segment for rows in self.measurements.series.values()
                        for obs in rows if obs.segment and obs.segment not in segments)
        unseen = replace(self.measurements.unseen or Unseen(),
                         other_segments=dict(sorted(other.items())))
        measurements = replace(self.measurements,
                               series=group_rows(self.measurements, units, own), unseen=unseen)
        outlook = self.outlook_rows
        if outlook is not None:
            outlook = group_rows(replace(self.measurements, series=outlook), units, own)
        return replace(self, measurements=measurements, units=units, unit=None,
                       outlook_rows=outlook)

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
        """One unit's inputs: its rows only, the KPIs it reports (a count of events whose
        absence is zero: every KPI the group reports) each with the unit's own owner and target,
        and none of the group's portfolio, spend or priorities (those are the group pack's).

        A KPI summed over the units without a target of the unit's own (in the catalog's
        ``unit_targets`` or on its rows) is one of the unit's :attr:`shares`, not judged: the
        group's target is not the unit's. A unit judged by its rows' targets keeps a row's
        target until a later row gives another."""
        series = {kpi_id: list(rows)
                  for kpi_id, rows in self._by_segment.get(unit.segment, {}).items()}
        reported = [kpi for kpi in self.catalog.kpis if kpi.id in series
                    or (kpi.counts_absent_as_zero and kpi.id in self.measurements.series)]
        judged, shares = [], []
        for kpi in reported:
            own = kpi.for_unit(unit.id, unit.segment)
            rows = series.get(kpi.id, [])
            if kpi.sums_units and kpi.unit_target(unit.id, unit.segment) is None:
                if not any(obs.target is not None for obs in rows):
                    shares.append(own)
                    continue
                series[kpi.id] = _targets_carried(rows)
            judged.append(own)
        catalog = self.catalog.model_copy(update={"kpis": judged})
        # Rows of other segments are the group's to report, not each unit's.
        unseen = (replace(self.measurements.unseen, other_segments={})
                  if self.measurements.unseen is not None else None)
        measurements = replace(self.measurements, series=series, unseen=unseen,
                               row_count=sum(len(rows) for rows in series.values()))
        outlook = (rows_of(self.outlook_rows, {unit.segment})
                   if self.outlook_rows is not None else None)
        return replace(self, catalog=catalog, measurements=measurements, initiatives=None,
                       benefits=None, spend=None, priorities=None, unit=unit,
                       shares=tuple(shares), group=self, outlook_rows=outlook)

    def outlook_rows_of(self, kpi_id: str) -> list[Observation]:
        """A KPI's rows for the outlook's monthly history: a query KPI's monthly rows when the
        pack ran its query by month for it, else its rows."""
        if self.outlook_rows is not None and kpi_id in self.outlook_rows:
            return self.outlook_rows[kpi_id]
        return self.measurements.series.get(kpi_id, [])

    def files(self, reads: Sequence[SourceRead] | None = None) -> tuple[InputFile, ...]:
        """Every input a pack records in its provenance, with its SHA-256: the params file,
        the catalog, the measurements, each optional input the params file names and each
        source its queries read (a database source by the hash of the rows read: ``reads``,
        default :attr:`source_reads`); each named relative to the params file's folder."""
        reads = self.source_reads if reads is None else reads
        values = self.params.values
        base = self.params.path.parent
        files = [
            input_file("params", self.params.path, None, base=base),
            # The file's KPIs, as its hash is the file's: a unit's pack judges only some.
            input_file("catalog", self.catalog.path,
                       len((self.group or self).catalog.kpis), base=base),
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
                # The rows the pack's queries read, hashed: a table has no file to hash, and
                # the rows are what the pack was made from (the URL shows no password).
                read = next((item for item in reads if item.name == source.name), None)
                files.append(InputFile(role, f"{source.shown} table {source.table}",
                                       read.sha256 if read else "", 0,
                                       read.rows if read else None))
            files.extend(input_file(role, path, None, base=base) for path in source.files)
        return tuple(files)

    def for_pack(self, cadence: str, window: Window, today: dt.date,
                 outlook: Window | None = None) -> Inputs:
        """These inputs as one pack of ``cadence`` over ``window`` needs them: a large table's
        rows of the catalog's KPIs up to the window's end (each date's rows combined), and the
        cadence's query
        KPIs from their queries (replacing any rows the table has for them); with an
        ``outlook`` window (by month), the queries run again by month for the outlook."""
        rules = {kpi.id: kpi.aggregation for kpi in self.catalog.kpis}
        measurements = self.measurements.for_pack(rules, window.end, today)
        queries = self.catalog.queries(cadence)
        inputs = replace(self, measurements=measurements)
        if queries:
            reads: dict[str, SourceRead] = {}
            queried = run_queries(queries, self.params.sources, window,
                                  self.params.values.query_time_limit, reads)
            measurements = replace(measurements, series={**measurements.series, **queried})
            monthly = None
            if outlook is not None:
                monthly = run_queries(queries, self.params.sources, outlook,
                                      self.params.values.query_time_limit)
            inputs = replace(self, measurements=measurements, outlook_rows=monthly,
                             source_reads=tuple(reads[name] for name in sorted(reads)))
            if self.units:
                _check_group_rows(queries, queried, self.catalog)
                inputs = inputs.with_units(self.units)
        return inputs.with_spend_kpis().with_data_starts()

    def with_spend_kpis(self) -> Inputs:
        """These inputs with each spend KPI's values from the spend file (one variance and one
        status for a line, in the KPI and in the spend table); unchanged without a spend file."""
        if self.spend is None or not any(kpi.spend_line for kpi in self.catalog.kpis):
            return self
        series = with_spend_kpis(self.measurements.series, self.catalog.kpis, self.spend)
        return replace(self, measurements=replace(self.measurements, series=series))

    def with_data_starts(self) -> Inputs:
        """Each KPI counted as zero where it has no rows (``absent: zero``) with the day its
        data begins: the catalog's ``data_from``, else the first row of the KPI in any unit
        (so a unit without a complaint in its first weeks reads 0 there, as the group does)."""
        update = {}
        for kpi in self.catalog.kpis:
            if not kpi.counts_absent_as_zero or kpi.data_from is not None:
                continue
            rows = self.measurements.series.get(kpi.id, [])
            if rows:
                update[kpi.id] = kpi.model_copy(update={"data_from": min(
                    obs.period_end for obs in rows)})
        if not update:
            return self
        catalog = self.catalog.model_copy(update={"kpis": [
            update.get(kpi.id, kpi) for kpi in self.catalog.kpis]})
        return replace(self, catalog=catalog)

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
    breakdowns = catalog.breakdowns()
    measurements = load_measurements(values.measurements,
                                     column_wise=values.units is None and not every_segment,
                                     breakdowns=breakdowns)
    if (measurements.scan is not None and measurements.scan.has_segments
            and any(kpi.rollup_rule != DEFAULT_ROLLUP[kpi.aggregation]
                    for kpi in catalog.kpis)):
        measurements = load_measurements(values.measurements, column_wise=False,
                                         breakdowns=breakdowns)
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
    _check_unit_keys(catalog, units)
    inputs = Inputs(params=params, catalog=catalog, measurements=measurements,
                    initiatives=initiatives, benefits=benefits, spend=spend,
                    priorities=priorities).with_spend_kpis()
    return (inputs.with_units(units) if units else inputs).with_data_starts()


def _check_group_rows(queries: list[KpiQuery], queried: dict[str, list[Observation]],
                      catalog: Catalog) -> None:
    """A query that returns rows for units and the group's own row (no segment) must say how
    the group's figure is made: ``rollup: own`` takes it from that row."""
    kpis = catalog.by_id()
    for query in queries:
        rows = queried.get(query.kpi_id, [])
        if (kpis[query.kpi_id].rollup != "own" and any(obs.segment == "" for obs in rows)
                and any(obs.segment != "" for obs in rows)):
            raise query.error("the query returns rows for units and rows without a segment "
                              "(the group's own); give the KPI rollup: own to take the group's "
                              "figure from those rows (a median or percentile over every "
                              "record), or return a segment on every row")


def _targets_carried(rows: list[Observation]) -> list[Observation]:
    """A unit's rows with each row's target carried to the rows after it (and the first
    target back to the rows before it), so that every period is judged by a target of the
    unit's own."""
    ordered = sorted(rows, key=lambda obs: (obs.period_end, obs.segment))
    first = next(obs.target for obs in ordered if obs.target is not None)
    carried, current = [], first
    for obs in ordered:
        if obs.target is not None:
            current = obs.target
            carried.append(obs)
        else:
            carried.append(replace(obs, target=current))
    return carried


def _check_unit_keys(catalog: Catalog, units: tuple[Unit, ...]) -> None:
    """A KPI's per-unit ``owners`` and ``unit_targets`` must name units of the pack definition
    (a typo would hide an owner, or judge a unit by the group's target)."""
    if not units:
        return
    known = {unit.id for unit in units} | {unit.segment for unit in units}
    for kpi in catalog.kpis:
        for field, keys in (("owners", kpi.owners), ("unit_targets", kpi.unit_targets)):
            for key in keys:
                if key not in known:
                    raise InputError(
                        catalog.path,
                        f"KPI '{kpi.id}': {field} names '{key}', which is no unit's id or "
                        f"segment; units: {', '.join(sorted(unit.id for unit in units))}"
                        f"{did_you_mean(key, sorted(known))}",
                        field=field,
                    )


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
