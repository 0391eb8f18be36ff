"""The KPI catalog: what each indicator means, who owns it and what good looks like."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reviewkit import cadences as cadence_registry
from reviewkit.errors import InputError
from reviewkit.inputs._yaml import (
    LineDict,
    LineList,
    check_known_keys,
    did_you_mean,
    load_yaml_mapping,
)
from reviewkit.inputs.sources import KpiQuery, check_query_text
from reviewkit.inputs.table import magnitude_problem

Direction = Literal["higher_is_better", "lower_is_better"]
Aggregation = Literal["mean", "sum", "last", "min", "max"]
#: How a group's figure is made from its units' figures for one period; ``own``: it is not made
#: from them at all, but taken from the group's own rows (a median or percentile over every
#: record, which no roll-up of the units' figures gives).
Rollup = Literal["sum", "mean", "latest", "min", "max", "own"]
Kind = Literal["leading", "lagging"]
#: What a period without rows is: missing (no data), or zero (a count of events: a week without
#: complaints had 0 complaints).
Absent = Literal["missing", "zero"]

_ID_PATTERN = re.compile(r"^[a-z0-9_]+$")
#: The longest KPI id, as for unit ids: an id names the KPI in the action store (whose
#: PostgreSQL columns keep 128 characters, narrative keys ``kpi-<id>`` included), in narrative
#: placeholders and in file names; checked here so every store agrees.
ID_MAX_LENGTH = 64

Threshold = float | dict[str, float]
#: An amber threshold: a number, ``"5%"`` (relative to the target, on its bad side), or either
#: per cadence.
AmberThreshold = float | str | dict[str, float | str]
#: An amber written relative to its target: "5%", "2.5 %".
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
#: A column a KPI's rows may be broken down by (depot, region, ward): a plain column name.
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")
#: Columns of the measurements and of a query's result, which no breakdown may be called.
_RESERVED_COLUMNS = ("kpi_id", "period_end", "value", "target", "segment", "count")


def relative_share(amber: object) -> float | None:
    """The share of an amber written relative to its target ("5%" → 0.05), else None."""
    if isinstance(amber, str):
        found = _RELATIVE.match(amber)
        if found:
            return float(found[1]) / 100
    return None


class UnitTarget(BaseModel):
    """A unit's own target (and amber), in the forms of the KPI's: a number, a number per
    cadence, and an amber that may be relative to the target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: Threshold
    amber: AmberThreshold | None = None


class Kpi(BaseModel):
    """One indicator as the catalog defines it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = Field(min_length=1)
    perspective: str = Field(min_length=1)
    direction: Direction
    target: Threshold
    amber: AmberThreshold | None = None
    owner: str = Field(min_length=1)
    cadences: list[str] = Field(min_length=1)
    unit: str = ""
    kind: Kind = "lagging"
    aggregation: Aggregation = "mean"
    #: Across units; default from ``aggregation`` (see :data:`DEFAULT_ROLLUP`).
    rollup: Rollup | None = None
    #: Who answers for this KPI in a unit's pack, by unit id or segment (default: ``owner``).
    owners: dict[str, str] = Field(default_factory=dict)
    definition: str = ""
    why_it_matters: str = ""
    action_if_off_track: str = ""
    headline: bool = False
    contributors: list[str] = Field(default_factory=list)
    decimals: int | None = Field(default=None, ge=0, le=6)
    query: str | None = None  # SQL over the params file's sources, instead of measurement rows
    #: A unit's own target and amber, by unit id or segment: the unit's pack judges it by them.
    unit_targets: dict[str, UnitTarget] = Field(default_factory=dict)
    #: A period without rows: missing (no data), or zero from the day the data begins.
    absent: Absent = "missing"
    #: The day the KPI's data begins, for ``absent: zero`` (default: its first row).
    data_from: dt.date | None = None
    #: A column of the KPI's rows finer than the unit (depot, region, ward): a unit's card
    #: breaks its latest period down by it.
    breakdown: str | None = None

    @field_validator("unit_targets", mode="before")
    @classmethod
    def _unit_target_forms(cls, value: Any) -> Any:
        """A unit's entry may be its target alone (``north: 12``, ``north: {weekly: 3}``) or
        ``{target: ..., amber: ...}``."""
        if not isinstance(value, dict):
            return value
        return {key: entry if isinstance(entry, dict) and "target" in entry
                else {"target": entry} for key, entry in value.items()}

    @field_validator("breakdown")
    @classmethod
    def _breakdown_column(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _COLUMN.fullmatch(value) or value in _RESERVED_COLUMNS:
            raise ValueError(f"breakdown {value!r} must name a column of the KPI's rows other "
                             f"than {', '.join(_RESERVED_COLUMNS)}, in lower-case letters, "
                             "digits and '_' (e.g. depot)")
        return value
    #: The spend file's line this KPI is (a category, or ``Total``): its value for a month is
    #: that line's variance to budget in percent, from the spend file, so the KPI and the spend
    #: table state one variance and one status.
    spend_line: str | None = Field(default=None, min_length=1)
    #: Measured by hand: its owner enters the period's value in the review round (reviewkit
    #: serve), which the pack takes as a measurement, with who entered it and when.
    manual: bool = False

    @field_validator("cadences")
    @classmethod
    def _known_cadences(cls, value: list[str]) -> list[str]:
        known = cadence_registry.names()
        for name in value:
            if name not in known:
                raise ValueError(f"unknown cadence {name!r}")
        return value

    @field_validator("target", "amber")
    @classmethod
    def _known_threshold_cadences(cls, value: Any) -> Any:
        _check_threshold_form(value)
        return value

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher_is_better"

    @property
    def rollup_rule(self) -> Rollup:
        """How units' figures make the group's: the catalog's ``rollup``, else the one that
        matches the KPI's own aggregation."""
        return self.rollup or DEFAULT_ROLLUP[self.aggregation]

    def owner_for(self, unit_id: str, segment: str) -> str:
        """The owner in a unit's pack: the catalog's per-unit owner (keyed by the unit's id or
        its segment value), else the KPI's owner."""
        return self.owners.get(unit_id) or self.owners.get(segment) or self.owner

    def target_for(self, cadence: str) -> float:
        value = _threshold_for(self.target, cadence)
        assert value is not None, "validated at load time"
        return value

    def amber_for(self, cadence: str) -> float | None:
        """The amber threshold for ``cadence``; one written relative to the target ("5%") is
        that share of the target on its bad side."""
        return _amber_for(self.amber, self.target_for(cadence), cadence, self.higher_is_better)

    @property
    def sums_units(self) -> bool:
        """Whether the group's figure is the sum of its units' (incidents, spend): a unit's
        figure is then a part of the group's, not a level to judge against the group's target."""
        return self.rollup_rule == "sum"

    @property
    def counts_absent_as_zero(self) -> bool:
        return self.absent == "zero"

    def unit_target(self, unit_id: str, segment: str) -> UnitTarget | None:
        """The unit's own target (keyed by its id or its segment value), if the catalog gives
        one."""
        return self.unit_targets.get(unit_id) or self.unit_targets.get(segment)

    def for_unit(self, unit_id: str, segment: str) -> Kpi:
        """The KPI as a unit's pack judges it: with the unit's own owner, and its own target
        and amber when the catalog gives them. Without an amber of its own a unit keeps the
        KPI's: one relative to the target stays relative (to the unit's target); an absolute
        one keeps the band's proportion to the target for a KPI summed over units, and its
        width for a level (as a row's target does)."""
        own = self.unit_target(unit_id, segment)
        update: dict[str, Any] = {"owner": self.owner_for(unit_id, segment), "unit_targets": {}}
        if own is not None:
            update["target"] = own.target
            update["amber"] = own.amber if own.amber is not None else self._scaled_amber(
                own.target)
        return self.model_copy(update=update)

    def _scaled_amber(self, target: Threshold) -> AmberThreshold | None:
        if self.amber is None or relative_share(self.amber) is not None:
            return self.amber
        ambers: dict[str, float | str] = {}
        for cadence in self.cadences:
            own = _threshold_for(target, cadence)
            group = self.target_for(cadence)
            amber = self.amber_for(cadence)
            if own is None or amber is None:
                continue
            if self.sums_units and group != 0:
                ambers[cadence] = as_written(own * amber / group)
            else:
                ambers[cadence] = as_written(own - (group - amber))
        return ambers


#: The roll-up across units that matches each aggregation over time: a sum of sums, a mean of
#: every measurement (weighted by its count), the extreme of the extremes, and the most recent
#: figure of any unit for ``last``.
DEFAULT_ROLLUP: dict[str, Rollup] = {
    "sum": "sum", "mean": "mean", "min": "min", "max": "max", "last": "latest",
}


#: Significant digits a computed threshold keeps: far more than any pack prints or any catalog
#: writes, and few enough to drop binary floating point's noise.
THRESHOLD_DIGITS = 12


def as_written(threshold: float) -> float:
    """A threshold computed from written ones (a band moved with a row's target, a target
    pro-rated to the part of a period gone, a relative amber) as the number it reads as:
    0.4 - (0.3 - 0.2) is 0.30000000000000004 in binary, and a value of 0.3, printed equal to
    it, was judged on its wrong side."""
    return float(f"{threshold:.{THRESHOLD_DIGITS}g}")


def _threshold_for(threshold: Threshold | None, cadence: str) -> float | None:
    if threshold is None:
        return None
    if isinstance(threshold, dict):
        found = threshold.get(cadence)
        return None if found is None else float(found)
    return float(threshold)


def _amber_for(amber: AmberThreshold | None, target: float, cadence: str,
               higher_is_better: bool) -> float | None:
    if amber is None:
        return None
    written = amber.get(cadence) if isinstance(amber, dict) else amber
    if written is None:
        return None
    share = relative_share(written)
    if share is None:
        return float(written)
    band = abs(target) * share
    return as_written(target - band if higher_is_better else target + band)


def _check_threshold_form(value: Any) -> None:
    """A threshold's cadences are known ones and its text, if any, is a relative amber."""
    parts = value.values() if isinstance(value, dict) else [value]
    if isinstance(value, dict):
        known = cadence_registry.names()
        for name in value:
            if name not in known:
                raise ValueError(f"unknown cadence {name!r}")
    for part in parts:
        if isinstance(part, str) and relative_share(part) is None:
            raise ValueError(f"{part!r} is not a number or a share of the target such as '5%'")


class Catalog(BaseModel):
    """The validated catalog, in file order."""

    model_config = ConfigDict(frozen=True)

    path: Path
    kpis: list[Kpi]
    query_lines: dict[str, int] = Field(default_factory=dict)  # KPI id -> line of its query

    def by_id(self) -> dict[str, Kpi]:
        return {kpi.id: kpi for kpi in self.kpis}

    def queries(self, cadence: str | None = None) -> list[KpiQuery]:
        """The queries of the KPIs that carry one (of ``cadence``, when given), in catalog
        order."""
        kpis = self.kpis if cadence is None else self.for_cadence(cadence)
        return [KpiQuery(kpi.id, kpi.query, self.path, self.query_lines.get(kpi.id, 0),
                         kpi.breakdown) for kpi in kpis if kpi.query]

    def breakdowns(self) -> dict[str, str]:
        """KPI id → the column its rows are broken down by, for the KPIs that have one."""
        return {kpi.id: kpi.breakdown for kpi in self.kpis if kpi.breakdown}

    def for_cadence(self, cadence: str) -> list[Kpi]:
        return [kpi for kpi in self.kpis if cadence in kpi.cadences]


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate a KPI catalog; every rule of the contract is checked here."""
    path = Path(path)
    data = load_yaml_mapping(path, "KPI catalog")
    check_known_keys(path, data, ["kpis"])
    items = data.get("kpis")
    if not isinstance(items, LineList) or not items:
        raise InputError(
            path, "the catalog needs a non-empty 'kpis' list", field="kpis", line=data.line
        )
    kpis: list[Kpi] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        line = items.item_lines[index]
        if not isinstance(item, LineDict):
            raise InputError(path, "each KPI must be a mapping of fields", line=line)
        kpi = _validate_kpi(path, item)
        if kpi.id in seen:
            raise InputError(
                path,
                f"duplicate KPI id '{kpi.id}' (first defined on line {seen[kpi.id]})",
                line=item.line_of("id"),
                field="id",
            )
        seen[kpi.id] = item.line_of("id")
        kpis.append(kpi)
    query_lines = {kpi.id: item.line_of("query")
                   for kpi, item in zip(kpis, items, strict=True) if kpi.query}
    return Catalog(path=path.resolve(), kpis=kpis, query_lines=query_lines)


def _validate_kpi(path: Path, item: LineDict) -> Kpi:
    kpi_id = item.get("id")
    label = f" of KPI '{kpi_id}'" if isinstance(kpi_id, str) else ""
    check_known_keys(path, item, Kpi.model_fields, where=label)
    targets = item.get("unit_targets")
    if isinstance(targets, LineDict):
        for key, entry in targets.items():
            if isinstance(entry, LineDict) and "target" in entry:
                check_known_keys(path, entry, UnitTarget.model_fields,
                                 where=f" of KPI '{kpi_id}', unit_targets.{key}")
    for required in ("id", "name", "perspective", "direction", "target", "owner", "cadences"):
        if item.get(required) in (None, "", []):
            raise InputError(
                path, f"required field{label} is missing", line=item.line, field=required
            )
    # Why fullmatch: with re.match, '$' also matches before a trailing newline, so an id such as
    # "availability\n" (a YAML block scalar) slipped through the [a-z0-9_]+ rule.
    if not isinstance(kpi_id, str) or not _ID_PATTERN.fullmatch(kpi_id):
        raise InputError(
            path,
            f"KPI id {kpi_id!r} must use only lower-case letters, digits and underscores",
            line=item.line_of("id"),
            field="id",
        )
    if len(kpi_id) > ID_MAX_LENGTH:
        raise InputError(
            path, f"KPI id '{kpi_id[:20]}…' is {len(kpi_id)} characters long; an id may have "
            f"at most {ID_MAX_LENGTH}", line=item.line_of("id"), field="id")
    _check_threshold_values(path, item, kpi_id, item, "")
    targets = item.get("unit_targets")
    if isinstance(targets, LineDict):
        for key, entry in targets.items():
            where = entry if isinstance(entry, LineDict) else None
            values = entry if isinstance(entry, dict) and "target" in entry else {"target": entry}
            _check_threshold_values(path, where or targets, kpi_id, values,
                                    f"unit_targets.{key}.", line=targets.line_of(key))
    try:
        kpi = Kpi.model_validate(dict(item))
    except ValidationError as exc:
        raise _as_input_error(path, item, kpi_id, exc) from None
    for name in ("target", "amber"):
        value = getattr(kpi, name)
        parts = value.values() if isinstance(value, dict) else [value]
        # pydantic reads the text 'inf' as a float: no status can be judged against it
        if any(isinstance(part, float) and not math.isfinite(part) for part in parts):
            raise InputError(path, f"KPI '{kpi.id}': {item.get(name)!r} is not a finite number",
                             line=item.line_of(name), field=name)
        if (problem := _beyond_bound(parts)) is not None:
            raise InputError(path, f"KPI '{kpi.id}': {item.get(name)!r} {problem}",
                             line=item.line_of(name), field=name)
    _check_thresholds(path, item, kpi, kpi.target, kpi.amber, "")
    for key, own in kpi.unit_targets.items():
        entry = item["unit_targets"]
        where = entry[key] if isinstance(entry.get(key), LineDict) else entry
        for name in ("target", "amber"):
            value = getattr(own, name)
            parts = value.values() if isinstance(value, dict) else [value]
            if any(isinstance(part, float) and not math.isfinite(part) for part in parts):
                raise InputError(path, f"KPI '{kpi.id}': unit '{key}': {value!r} is not a "
                                 "finite number", line=entry.line_of(key),
                                 field=f"unit_targets.{key}.{name}")
            if (problem := _beyond_bound(parts)) is not None:
                raise InputError(path, f"KPI '{kpi.id}': unit '{key}': {value!r} {problem}",
                                 line=entry.line_of(key), field=f"unit_targets.{key}.{name}")
        _check_thresholds(path, where, kpi, own.target, own.amber, f"unit_targets.{key}.",
                          line=entry.line_of(key), whose=f" for unit '{key}'")
    _check_absent(path, item, kpi)
    if kpi.spend_line is not None and (kpi.aggregation != "mean" or kpi.unit != "%"
                                       or kpi.query is not None):
        raise InputError(
            path, f"KPI '{kpi.id}' takes its values from the spend file (spend_line), so it is a "
            "percentage averaged over the months by their budget: give it unit '%', "
            "aggregation mean and no query", line=item.line_of("spend_line"), field="spend_line")
    if kpi.query is not None:
        problem = (check_query_text(kpi.query) if kpi.query.strip()
                   else "the query is empty; write SQL or remove the field")
        if problem:
            raise InputError(path, f"KPI '{kpi.id}': {problem}", line=item.line_of("query"),
                             field="query")
    return kpi


def _beyond_bound(parts: Any) -> str | None:
    """Why a target or amber (its numbers, one per cadence) is no figure: beyond the bound
    every table's numbers keep (see table.MAX_MAGNITUDE); None when each is within it. A
    share such as '5%' is checked where it is read."""
    for part in parts:
        if isinstance(part, int | float) and not isinstance(part, bool) and math.isfinite(part):
            problem = magnitude_problem(float(part))
            if problem is not None:
                return problem
    return None


def _check_threshold_values(path: Path, where: LineDict, kpi_id: Any, values: Any,
                            prefix: str, line: int | None = None) -> None:
    """Targets and ambers are numbers (not YAML's booleans) and finite."""
    for name in ("target", "amber"):
        # Why: pydantic's lax float accepts booleans, so `target: yes` (YAML for true) silently
        # became a target of 1.0; the contract asks for a number.
        value = values.get(name)
        parts = value.values() if isinstance(value, dict) else [value]
        at = where.line_of(name) if name in where else line
        if any(isinstance(part, bool) for part in parts):
            raise InputError(
                path,
                f"KPI '{kpi_id}': {value!r} is not a number (YAML reads yes/no/true/false as "
                "booleans)",
                line=at,
                field=prefix + name,
            )
        # YAML's .nan, .inf and 1e999 are floats, but no status can be judged against them.
        if any(isinstance(part, float) and not math.isfinite(part) for part in parts):
            raise InputError(path, f"KPI '{kpi_id}': {value!r} is not a finite number",
                             line=at, field=prefix + name)


def _check_absent(path: Path, item: LineDict, kpi: Kpi) -> None:
    """``absent: zero`` is for counts summed over time, and ``data_from`` only goes with it."""
    if kpi.counts_absent_as_zero and kpi.aggregation != "sum":
        raise InputError(path, f"KPI '{kpi.id}': absent: zero counts a period without rows as "
                         f"0, which is right only for a count summed over time (aggregation "
                         f"sum); this KPI's aggregation is {kpi.aggregation}",
                         line=item.line_of("absent"), field="absent")
    if kpi.data_from is not None and not kpi.counts_absent_as_zero:
        raise InputError(path, f"KPI '{kpi.id}': data_from says from when a period without rows "
                         "is 0; it needs absent: zero", line=item.line_of("data_from"),
                         field="data_from")


def _check_thresholds(path: Path, item: LineDict, kpi: Kpi, target_spec: Threshold,
                      amber_spec: AmberThreshold | None, prefix: str, *,
                      line: int | None = None, whose: str = "") -> None:
    def at(name: str) -> int | None:
        return item.line_of(name) if name in item else line

    if kpi.aggregation == "sum" and len(kpi.cadences) > 1:
        for name, spec in (("target", target_spec), ("amber", amber_spec)):
            if isinstance(spec, float | int):
                # A sum grows with the period: 1 incident a week is not 1 a month.
                raise InputError(
                    path,
                    f"KPI '{kpi.id}' is a sum reported {', '.join(kpi.cadences)}, so its {name}"
                    f"{whose} needs a value per cadence, e.g. "
                    "{weekly: 2, monthly: 8, quarterly: 24}",
                    line=at(name), field=prefix + name,
                )
    for cadence in kpi.cadences:
        target = _threshold_for(target_spec, cadence)
        if target is None:
            raise InputError(
                path,
                f"KPI '{kpi.id}' is reported {cadence} but its target{whose} has no "
                f"'{cadence}' entry",
                line=at("target"),
                field=prefix + "target",
            )
        if amber_spec is None:
            continue
        amber = _amber_for(amber_spec, target, cadence, kpi.higher_is_better)
        if amber is None:
            raise InputError(
                path,
                f"KPI '{kpi.id}' is reported {cadence} but its amber{whose} has no "
                f"'{cadence}' entry",
                line=at("amber"),
                field=prefix + "amber",
            )
        wrong_side = amber > target if kpi.higher_is_better else amber < target
        if wrong_side:
            side = "below" if kpi.higher_is_better else "above"
            raise InputError(
                path,
                f"KPI '{kpi.id}': amber{whose} {amber:g} must be on the bad side of target "
                f"{target:g} ({side} it, since the KPI is {kpi.direction})",
                line=at("amber"),
                field=prefix + "amber",
            )


def _as_input_error(path: Path, item: LineDict, kpi_id: Any, exc: ValidationError) -> InputError:
    error = exc.errors()[0]
    location = [str(part) for part in error["loc"]]
    field = location[0]
    value = item.get(field)
    label = f"KPI '{kpi_id}': " if isinstance(kpi_id, str) else ""
    expected = {
        "direction": "higher_is_better or lower_is_better",
        "aggregation": "mean, sum, last, min or max",
        "rollup": "sum, mean, latest, min, max or own",
        "absent": "missing or zero",
        "kind": "leading or lagging",
    }
    if field in expected:
        message = f"{label}{value!r} is not allowed; use {expected[field]}"
        if isinstance(value, str):
            message += did_you_mean(value, expected[field].replace(" or", ",").split(", "))
    elif field == "cadences":
        message = (f"{label}cadences must be a non-empty list of "
                   f"{', '.join(cadence_registry.names())}")
    elif field in ("target", "amber"):
        message = label + _threshold_message(field, value)
    elif field == "unit_targets" and len(location) >= 3 and location[2] in ("target", "amber"):
        targets = item.get(field)
        entry = targets.get(location[1]) if isinstance(targets, dict) else None
        written = entry.get(location[2]) if isinstance(entry, dict) and "target" in entry \
            else entry
        message = f"{label}unit '{location[1]}': " + _threshold_message(location[2], written)
        line = (entry.line_of(location[2]) if isinstance(entry, LineDict) and location[2] in entry
                else targets.line_of(location[1]) if isinstance(targets, LineDict) else None)
        return InputError(path, message, line=line or item.line_of(field),
                          field=".".join(location[:3]))
    elif field == "unit_targets":
        message = (f"{label}unit_targets maps a unit's id or segment to its target, e.g. "
                   "{north: {weekly: 3, monthly: 12}} or {north: {target: 95, amber: 93}}")
    else:
        message = f"{label}{error['msg'].removeprefix('Value error, ')}"
    # Why: for the float-or-mapping union pydantic appends the member tried ('target.float'),
    # which is noise to a user; name the catalog field itself.
    name = field if field in ("target", "amber") else ".".join(location)
    return InputError(path, message, line=item.line_of(field), field=name)


def _threshold_message(name: str, value: Any) -> str:
    if name == "amber":
        return (f"{value!r} is not a number, a share of the target such as '5%', or a mapping "
                "of cadence to either (e.g. {weekly: 2, monthly: 8, quarterly: 24})")
    return (f"{value!r} is not a number or a mapping of cadence to number "
            "(e.g. {weekly: 2, monthly: 8, quarterly: 24})")
