"""Strategic priorities: the board's few goals, their objectives and measurable key results.

The file (params key ``priorities``, YAML) looks like::

    priorities:                       # at most 5
      - id: cyber_resilience          # required, unique, [a-z0-9_-]+
        title: Cyber resilience       # required
        owner: CISO                   # required
        description: ...              # optional
        objectives:                   # required, non-empty
          - id: close_the_doors       # optional, unique in the file
            text: Close the doors attackers use      # required
            key_results:              # required, non-empty
              - text: Critical patch compliance at 98%
                kpi: critical_patch_compliance       # optional: a catalog KPI id
                baseline: 93          # required with kpi (and with current)
                target: 98            # required
                weight: 2             # optional, > 0, default 1
              - text: Restore-test every tier-1 system
                target: 24
                progress: 40          # 0-100: for a key result without kpi, or give
                current: 9            #   baseline and current and it is computed
                unit: count           # optional, for a key result without kpi
                per: monthly          # optional, with kpi: the grain of its target (a
                                      #   summed KPI is read as a rate per month)
                baseline_date: 2026-07-01   # optional (or on the priority): when the
                due: 2027-06-30             #   baseline held and when the target is due,
                                            #   for the expected-by-now mark

A key result's progress (:func:`progress_from_value`) is the share of the way from baseline to
target that the value has travelled, in percent (negative when it moved the wrong way); the sign of
``target - baseline`` says which way is better, so it works for lower-is-better measures too.
A priority's progress (:func:`priority_progress`) is the weighted mean over all its key results
whose progress is known.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reviewkit import cadences as cadence_registry
from reviewkit.errors import InputError
from reviewkit.inputs._yaml import (
    LineDict,
    LineList,
    check_known_keys,
    did_you_mean,
    load_yaml_mapping,
)
from reviewkit.inputs.table import magnitude_problem
from reviewkit.periods import check_date, parse_date

#: A board can steer a handful of priorities; more is an error.
MAX_PRIORITIES = 5

_ID_PATTERN = re.compile(r"[a-z0-9_-]+")

PRIORITY_KEYS = ("id", "title", "owner", "description", "objectives", "baseline_date", "due")
OBJECTIVE_KEYS = ("id", "text", "key_results")
KEY_RESULT_KEYS = ("text", "kpi", "baseline", "target", "weight", "progress", "current",
                   "unit", "per", "baseline_date", "due")


class KeyResult(BaseModel):
    """A measurable result: a catalog KPI moved from baseline to target, or a manual measure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1)
    kpi: str | None = None
    baseline: float | None = None
    target: float
    weight: float = Field(default=1.0, gt=0)
    progress: float | None = Field(default=None, ge=0, le=100)
    current: float | None = None
    unit: str = ""  # a key result without a KPI: its measure's unit (a KPI's is the catalog's)
    #: The cadence the target is written for ("under 40 a month": monthly); a key result with a
    #: KPI reads the KPI at that grain. None: the KPI's own shortest cadence.
    per: str | None = None
    baseline_date: dt.date | None = None  # when the baseline held
    due: dt.date | None = None  # when the target is due
    line: int = Field(default=0, exclude=True, repr=False)


class Objective(BaseModel):
    """What the priority sets out to achieve, measured by its key results."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = None
    text: str = Field(min_length=1)
    key_results: list[KeyResult] = Field(min_length=1)
    line: int = Field(default=0, exclude=True, repr=False)


class StrategicPriority(BaseModel):
    """One of the board's priorities."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    description: str = ""
    objectives: list[Objective] = Field(min_length=1)
    line: int = Field(default=0, exclude=True, repr=False)

    @property
    def kpi_ids(self) -> list[str]:
        """The catalog KPIs its key results use, in file order, without repeats."""
        return list(dict.fromkeys(
            kr.kpi for objective in self.objectives for kr in objective.key_results if kr.kpi
        ))


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_priorities(path: str | Path, kpi_ids: Collection[str]) -> list[StrategicPriority]:
    """Read and validate a priorities file; errors name the file, line and field.

    ``kpi_ids`` are the catalog's KPI ids: a key result's ``kpi`` must be one of them.
    """
    path = Path(path)
    data = load_yaml_mapping(path, "priorities")
    check_known_keys(path, data, ["priorities"])
    items = data.get("priorities")
    if not isinstance(items, LineList) or not items:
        raise InputError(path, "the file needs a non-empty 'priorities' list",
                         line=data.line_of("priorities"), field="priorities")
    if len(items) > MAX_PRIORITIES:
        raise InputError(
            path,
            f"{len(items)} priorities; at most {MAX_PRIORITIES} are allowed (this is number "
            f"{MAX_PRIORITIES + 1}): merge or drop some",
            line=items.item_lines[MAX_PRIORITIES],
            field="priorities",
        )
    reader = _Reader(path, kpi_ids)
    return [reader.priority(item, items.item_lines[index]) for index, item in enumerate(items)]


class _Reader:
    def __init__(self, path: Path, kpi_ids: Collection[str]) -> None:
        self.path = path
        self.kpi_ids = kpi_ids
        self.priority_ids: dict[str, int] = {}
        self.objective_ids: dict[str, int] = {}

    def error(self, message: str, line: int, field: str | None = None) -> InputError:
        return InputError(self.path, message, line=line, field=field)

    def mapping(self, item: Any, line: int, what: str) -> LineDict:
        if not isinstance(item, LineDict):
            raise self.error(f"each {what} must be a mapping of fields", line)
        return item

    def items(self, mapping: LineDict, key: str, where: str) -> list[tuple[Any, int]]:
        value = mapping.get(key)
        if value is None or value == []:
            raise self.error(f"{where} needs a non-empty '{key}' list", mapping.line_of(key), key)
        if not isinstance(value, LineList):
            raise self.error(f"{where}: '{key}' must be a list", mapping.line_of(key), key)
        return list(zip(value, value.item_lines, strict=True))

    def text(self, mapping: LineDict, key: str, where: str, *, required: bool = True) -> str:
        value = mapping.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.error(f"required field of {where} is missing", mapping.line, key)
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(f"{where}: {value!r} is not text", mapping.line_of(key), key)
        return str(value).strip()

    def ident(self, mapping: LineDict, where: str, seen: dict[str, int], *,
              required: bool) -> str | None:
        text = self.text(mapping, "id", where, required=required)
        if text == "":
            return None
        line = mapping.line_of("id")
        if not _ID_PATTERN.fullmatch(text):
            raise self.error(
                f"id {text!r} must use only lower-case letters, digits, '_' and '-'", line, "id"
            )
        if text in seen:
            raise self.error(f"duplicate id '{text}' (also on line {seen[text]})", line, "id")
        seen[text] = line
        return text

    def number(self, mapping: LineDict, key: str, where: str) -> float | None:
        value = mapping.get(key)
        if value is None:
            return None
        # Why: YAML reads yes/no/true/false as booleans, which would pass as 1 and 0.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"{where}: {value!r} is not a number", mapping.line_of(key), key)
        if not math.isfinite(value):
            raise self.error(f"{where}: {value!r} is not a finite number", mapping.line_of(key),
                             key)
        beyond = magnitude_problem(float(value))
        if beyond is not None:  # as every table's figures: one the pack could not print
            raise self.error(f"{where}: {float(value)!r} {beyond}", mapping.line_of(key), key)
        return float(value)

    def priority(self, item: Any, line: int) -> StrategicPriority:
        mapping = self.mapping(item, line, "priority")
        raw_id = mapping.get("id")
        where = f"priority '{raw_id}'" if isinstance(raw_id, str) else "the priority"
        check_known_keys(self.path, mapping, PRIORITY_KEYS, where=f" of {where}")
        priority_id = self.ident(mapping, where, self.priority_ids, required=True)
        assert priority_id is not None  # required=True
        title = self.text(mapping, "title", where)
        owner = self.text(mapping, "owner", where)
        description = self.text(mapping, "description", where, required=False)
        dates = self.dates(mapping, where, (None, None))
        objectives = [
            self.objective(child, child_line, where, index + 1, dates)
            for index, (child, child_line) in enumerate(self.items(mapping, "objectives", where))
        ]
        return StrategicPriority(id=priority_id, title=title, owner=owner,
                                 description=description, objectives=objectives,
                                 line=mapping.line)

    def date(self, mapping: LineDict, key: str, where: str) -> dt.date | None:
        value = mapping.get(key)
        if value is None or value == "":
            return None
        try:
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                return check_date(value)
            return parse_date(str(value))
        except ValueError as exc:
            raise self.error(f"{where}: {exc}", mapping.line_of(key), key) from None

    def dates(self, mapping: LineDict, where: str,
              default: tuple[dt.date | None, dt.date | None]
              ) -> tuple[dt.date | None, dt.date | None]:
        """``baseline_date`` and ``due``, each defaulting to the enclosing priority's."""
        start = self.date(mapping, "baseline_date", where) or default[0]
        due = self.date(mapping, "due", where) or default[1]
        if start is not None and due is not None and due <= start:
            line = mapping.line_of("due") if "due" in mapping else mapping.line
            raise self.error(f"{where}: due {due.isoformat()} is not after the baseline date "
                             f"{start.isoformat()}", line, "due")
        return start, due

    def objective(self, item: Any, line: int, parent: str, number: int,
                  dates: tuple[dt.date | None, dt.date | None] = (None, None)) -> Objective:
        mapping = self.mapping(item, line, "objective")
        where = f"objective {number} of {parent}"
        check_known_keys(self.path, mapping, OBJECTIVE_KEYS, where=f" of {where}")
        objective_id = self.ident(mapping, where, self.objective_ids, required=False)
        text = self.text(mapping, "text", where)
        key_results = [
            self.key_result(child, child_line, where, index + 1, dates)
            for index, (child, child_line) in enumerate(self.items(mapping, "key_results", where))
        ]
        return Objective(id=objective_id, text=text, key_results=key_results, line=mapping.line)

    def key_result(self, item: Any, line: int, parent: str, number: int,
                   dates: tuple[dt.date | None, dt.date | None] = (None, None)) -> KeyResult:
        mapping = self.mapping(item, line, "key result")
        where = f"key result {number} of {parent}"
        check_known_keys(self.path, mapping, KEY_RESULT_KEYS, where=f" of {where}")
        text = self.text(mapping, "text", where)
        kpi = self.text(mapping, "kpi", where, required=False) or None
        baseline = self.number(mapping, "baseline", where)
        target = self.number(mapping, "target", where)
        weight = self.number(mapping, "weight", where)
        progress = self.number(mapping, "progress", where)
        current = self.number(mapping, "current", where)
        unit = self.text(mapping, "unit", where, required=False)
        per = self.text(mapping, "per", where, required=False) or None
        baseline_date, due = self.dates(mapping, where, dates)
        if per is not None:
            known = cadence_registry.names()
            if per not in known:
                raise self.error(f"{where}: per '{per}' is not a cadence; use "
                                 f"{', '.join(known)}{did_you_mean(per, known)}",
                                 mapping.line_of("per"), "per")
            if kpi is None:
                raise self.error(f"{where}: 'per' reads a KPI at a cadence; a key result "
                                 "without a KPI has none", mapping.line_of("per"), "per")
        if target is None:
            raise self.error(f"required field of {where} is missing", mapping.line, "target")
        if weight is not None and weight <= 0:
            raise self.error(f"{where}: weight must be above 0", mapping.line_of("weight"),
                             "weight")
        if progress is not None and not 0 <= progress <= 100:
            raise self.error(f"{where}: progress must be between 0 and 100",
                             mapping.line_of("progress"), "progress")
        if kpi is not None:
            if kpi not in self.kpi_ids:
                raise self.error(
                    f"unknown KPI '{kpi}'{did_you_mean(kpi, self.kpi_ids)}; it must be an id in "
                    "the KPI catalog",
                    mapping.line_of("kpi"),
                    "kpi",
                )
            for key, value in (("progress", progress), ("current", current),
                               ("unit", unit or None)):
                if value is not None:
                    raise self.error(
                        f"{where}: leave out '{key}' for a key result with a KPI; it comes from "
                        f"the measurements of '{kpi}'",
                        mapping.line_of(key),
                        key,
                    )
            if baseline is None:
                raise self.error(f"{where} names a KPI, so it needs a baseline", mapping.line,
                                 "baseline")
        elif progress is None and (baseline is None or current is None):
            raise self.error(
                f"{where} has no KPI, so give 'progress' (0-100), or 'baseline' and 'current'",
                mapping.line,
                "progress",
            )
        if baseline is not None and baseline == target and progress is None:
            raise self.error(f"{where}: target equals the baseline ({target:g})",
                             mapping.line_of("target"), "target")
        return KeyResult(text=text, kpi=kpi, baseline=baseline, target=target,
                         weight=1.0 if weight is None else weight, progress=progress,
                         current=current, unit=unit, per=per, baseline_date=baseline_date,
                         due=due, line=mapping.line)
