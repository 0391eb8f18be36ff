"""The KPI catalog: what each indicator means, who owns it and what good looks like."""

from __future__ import annotations

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

Direction = Literal["higher_is_better", "lower_is_better"]
Aggregation = Literal["mean", "sum", "last", "min", "max"]
#: How a group's figure is made from its units' figures for one period.
Rollup = Literal["sum", "mean", "latest", "min", "max"]
Kind = Literal["leading", "lagging"]

_ID_PATTERN = re.compile(r"^[a-z0-9_]+$")
#: The longest KPI id, as for unit ids: an id names the KPI in the action store (whose
#: PostgreSQL columns keep 128 characters, narrative keys ``kpi-<id>`` included), in narrative
#: placeholders and in file names; checked here so every store agrees.
ID_MAX_LENGTH = 64

Threshold = float | dict[str, float]


class Kpi(BaseModel):
    """One indicator as the catalog defines it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = Field(min_length=1)
    perspective: str = Field(min_length=1)
    direction: Direction
    target: Threshold
    amber: Threshold | None = None
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
    #: The spend file's line this KPI is (a category, or ``Total``): its value for a month is
    #: that line's variance to budget in percent, from the spend file, so the KPI and the spend
    #: table state one variance and one status.
    spend_line: str | None = Field(default=None, min_length=1)

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
    def _known_threshold_cadences(cls, value: Threshold | None) -> Threshold | None:
        if isinstance(value, dict):
            known = cadence_registry.names()
            for name in value:
                if name not in known:
                    raise ValueError(f"unknown cadence {name!r}")
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
        return _threshold_for(self.amber, cadence)


#: The roll-up across units that matches each aggregation over time: a sum of sums, a mean of
#: every measurement (weighted by its count), the extreme of the extremes, and the most recent
#: figure of any unit for ``last``.
DEFAULT_ROLLUP: dict[str, Rollup] = {
    "sum": "sum", "mean": "mean", "min": "min", "max": "max", "last": "latest",
}


def _threshold_for(threshold: Threshold | None, cadence: str) -> float | None:
    if threshold is None:
        return None
    if isinstance(threshold, dict):
        return threshold.get(cadence)
    return float(threshold)


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
        return [KpiQuery(kpi.id, kpi.query, self.path, self.query_lines.get(kpi.id, 0))
                for kpi in kpis if kpi.query]

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
    for name in ("target", "amber"):
        # Why: pydantic's lax float accepts booleans, so `target: yes` (YAML for true) silently
        # became a target of 1.0; the contract asks for a number.
        value = item.get(name)
        parts = value.values() if isinstance(value, dict) else [value]
        if any(isinstance(part, bool) for part in parts):
            raise InputError(
                path,
                f"KPI '{kpi_id}': {value!r} is not a number (YAML reads yes/no/true/false as "
                "booleans)",
                line=item.line_of(name),
                field=name,
            )
        # YAML's .nan, .inf and 1e999 are floats, but no status can be judged against them.
        if any(isinstance(part, float) and not math.isfinite(part) for part in parts):
            raise InputError(path, f"KPI '{kpi_id}': {value!r} is not a finite number",
                             line=item.line_of(name), field=name)
    try:
        kpi = Kpi.model_validate(dict(item))
    except ValidationError as exc:
        raise _as_input_error(path, item, kpi_id, exc) from None
    for name in ("target", "amber"):
        value = getattr(kpi, name)
        parts = value.values() if isinstance(value, dict) else [value]
        if any(part is not None and not math.isfinite(part) for part in parts):
            raise InputError(path, f"KPI '{kpi.id}': {item.get(name)!r} is not a finite number",
                             line=item.line_of(name), field=name)
    _check_thresholds(path, item, kpi)
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


def _check_thresholds(path: Path, item: LineDict, kpi: Kpi) -> None:
    if kpi.aggregation == "sum" and len(kpi.cadences) > 1:
        for name in ("target", "amber"):
            if isinstance(getattr(kpi, name), float | int):
                # A sum grows with the period: 1 incident a week is not 1 a month.
                raise InputError(
                    path,
                    f"KPI '{kpi.id}' is a sum reported {', '.join(kpi.cadences)}, so its {name} "
                    f"needs a value per cadence, e.g. {{weekly: 2, monthly: 8, quarterly: 24}}",
                    line=item.line_of(name), field=name,
                )
    for cadence in kpi.cadences:
        target = _threshold_for(kpi.target, cadence)
        if target is None:
            raise InputError(
                path,
                f"KPI '{kpi.id}' is reported {cadence} but its target has no '{cadence}' entry",
                line=item.line_of("target"),
                field="target",
            )
        if kpi.amber is None:
            continue
        amber = _threshold_for(kpi.amber, cadence)
        if amber is None:
            raise InputError(
                path,
                f"KPI '{kpi.id}' is reported {cadence} but its amber has no '{cadence}' entry",
                line=item.line_of("amber"),
                field="amber",
            )
        wrong_side = amber > target if kpi.higher_is_better else amber < target
        if wrong_side:
            side = "below" if kpi.higher_is_better else "above"
            raise InputError(
                path,
                f"KPI '{kpi.id}': amber {amber:g} must be on the bad side of target {target:g} "
                f"({side} it, since the KPI is {kpi.direction})",
                line=item.line_of("amber"),
                field="amber",
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
        "rollup": "sum, mean, latest, min or max",
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
        message = (
            f"{label}{value!r} is not a number or a mapping of cadence to number "
            "(e.g. {weekly: 2, monthly: 8, quarterly: 24})"
        )
    else:
        message = f"{label}{error['msg']}"
    # Why: for the float-or-mapping union pydantic appends the member tried ('target.float'),
    # which is noise to a user; name the catalog field itself.
    name = field if field in ("target", "amber") else ".".join(location)
    return InputError(path, message, line=item.line_of(field), field=name)
