"""The portfolio: initiatives and the benefits they promise, loaded from CSV or Excel.

Both files are optional inputs of the monthly and quarterly packs (the params keys
``initiatives`` and ``benefits``). They are validated row by row, so every error names the file,
the line (CSV, the header is line 1) or row (Excel) and the column to fix.

Rows are read by the shared reader (:mod:`reviewkit.inputs.table`); how far a benefit has come
is :mod:`reviewkit.evaluation.benefits`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reviewkit.errors import InputError
from reviewkit.inputs._yaml import did_you_mean
from reviewkit.inputs.table import (
    SourceRow,
    Table,
    TableRow,
    parse_choice,
    parse_date,
    parse_id,
    parse_number,
    parse_text,
    read_table,
)

Priority = Literal["high", "medium", "low"]
Status = Literal["not_started", "on_track", "at_risk", "late", "done", "cancelled"]
ScheduleState = Literal["on_time", "at_risk", "late", "finished", "cancelled"]

PRIORITIES: tuple[Priority, ...] = ("high", "medium", "low")
STATUSES: tuple[Status, ...] = ("not_started", "on_track", "at_risk", "late", "done", "cancelled")

#: A forecast finish up to this many days after the planned finish is "at risk"; more is "late".
SLIP_TOLERANCE_DAYS = 14

_M = TypeVar("_M", bound=BaseModel)

_KPI_ID_PATTERN = re.compile(r"[a-z0-9_]+")
_LIST_SEPARATOR = re.compile(r"[,\s]+")

INITIATIVE_COLUMNS = (
    "id",
    "name",
    "owner",
    "priority",
    "status",
    "planned_finish",
    "forecast_finish",
    "budget",
    "cost_to_date",
    "percent_complete",
)
INITIATIVE_OPTIONAL = ("start", "strategic_priority", "description", "kpis")
BENEFIT_COLUMNS = (
    "id",
    "initiative_id",
    "description",
    "baseline",
    "target",
    "baseline_date",
    "target_date",
)
BENEFIT_OPTIONAL = ("kpi_id", "measure", "realized", "realized_date", "unit", "owner")


def _model(model: type[_M], table: Table, row: TableRow, values: dict[str, object]) -> _M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:  # the checks above should have caught it; name it anyway
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or None
        raise table.error(row, error["msg"], field) from None


# --------------------------------------------------------------------------------------------
# Initiatives
# --------------------------------------------------------------------------------------------


class Initiative(BaseModel):
    """One project or programme of the portfolio.

    Schedule state (:meth:`schedule_state_on`), first rule that applies:

    1. status ``cancelled``: ``cancelled``;
    2. status ``done``: ``finished`` (never live "late": how late it finished is history,
       :attr:`finished_late_days`; ``forecast_finish`` is the actual finish);
    3. ``late`` if the status is ``late``, or the forecast finish is more than
       :data:`SLIP_TOLERANCE_DAYS` (14) days after the planned finish, or (given an as-of date)
       the planned finish has passed and the initiative is not done;
    4. ``at_risk`` if the status is ``at_risk``, or the forecast slips by 1 to 14 days;
    5. otherwise ``on_time``.

    So the dates can only make the reported status worse, never better: an initiative reported
    ``on_track`` whose forecast slipped by a month shows as late.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    priority: Priority
    status: Status
    planned_finish: dt.date
    forecast_finish: dt.date
    budget: float = Field(ge=0)
    cost_to_date: float = Field(ge=0)
    percent_complete: float = Field(ge=0, le=100)
    start: dt.date | None = None
    strategic_priority: str | None = None
    description: str = ""
    kpis: tuple[str, ...] = ()
    source: SourceRow | None = Field(default=None, exclude=True, repr=False)

    @property
    def slip_days(self) -> int:
        """Forecast finish minus planned finish, in days (negative: ahead of plan)."""
        return (self.forecast_finish - self.planned_finish).days

    @property
    def schedule_state(self) -> ScheduleState:
        """The schedule state from the file alone (no as-of date; see the class docstring)."""
        return self.schedule_state_on(None)

    def schedule_state_on(self, as_of: dt.date | None) -> ScheduleState:
        """The schedule state as of a date (the pack's period end); rules in the class docstring."""
        if self.status == "cancelled":
            return "cancelled"
        if self.status == "done":
            return "finished"
        overdue = as_of is not None and self.planned_finish < as_of
        if self.status == "late" or self.slip_days > SLIP_TOLERANCE_DAYS or overdue:
            return "late"
        if self.status == "at_risk" or self.slip_days > 0:
            return "at_risk"
        return "on_time"

    @property
    def budget_used(self) -> float | None:
        """Cost to date as a fraction of budget (None when the budget is 0)."""
        return self.cost_to_date / self.budget if self.budget else None

    @property
    def over_budget(self) -> bool:
        """Spent more than its budget (a finished initiative: its final cost did)."""
        return self.cost_to_date > self.budget

    @property
    def live(self) -> bool:
        """Still being delivered: not finished, not cancelled."""
        return self.status not in ("done", "cancelled")

    @property
    def live_over_budget(self) -> bool:
        """Over budget and still spending: what delivery commentary warns about."""
        return self.live and self.over_budget

    @property
    def finished_late_days(self) -> int:
        """Days a finished initiative finished after its planned finish (0: on time)."""
        return max(0, self.slip_days) if self.status == "done" else 0


def load_initiatives(path: str | Path) -> list[Initiative]:
    """Read and validate an initiatives table; errors name the file, line and column."""
    table = read_table(path, "initiatives", INITIATIVE_COLUMNS, INITIATIVE_OPTIONAL)
    seen: dict[str, int] = {}
    initiatives: list[Initiative] = []
    for row in table.rows:
        initiatives.append(_initiative(table, row, seen))
    return initiatives


def _initiative(table: Table, row: TableRow, seen: dict[str, int]) -> Initiative:
    initiative_id = parse_id(table, row, "id", seen, "initiative")
    status = parse_choice(table, row, "status", STATUSES)
    start = parse_date(table, row, "start", required=False)
    planned = parse_date(table, row, "planned_finish")
    forecast = parse_date(table, row, "forecast_finish")
    assert planned is not None and forecast is not None  # required=True
    if start is not None:
        for column, finish in (("planned_finish", planned), ("forecast_finish", forecast)):
            if finish < start:
                raise table.error(
                    row, f"{finish} is before the start date {start}", column
                )
    percent = parse_number(table, row, "percent_complete", minimum=0, maximum=100)
    if status == "done" and percent != 100:
        raise table.error(
            row,
            f"status is 'done' but percent_complete is {percent:g}; a finished initiative is "
            "100 complete",
            "percent_complete",
        )
    kpis = tuple(k for k in _LIST_SEPARATOR.split(parse_text(table, row, "kpis", required=False))
                 if k)
    for kpi_id in kpis:
        if not _KPI_ID_PATTERN.fullmatch(kpi_id):
            raise table.error(
                row,
                f"{kpi_id!r} is not a KPI id; list KPI ids separated by spaces or commas",
                "kpis",
            )
    values: dict[str, object] = {
        "id": initiative_id,
        "name": parse_text(table, row, "name"),
        "owner": parse_text(table, row, "owner"),
        "priority": parse_choice(table, row, "priority", PRIORITIES),
        "status": status,
        "planned_finish": planned,
        "forecast_finish": forecast,
        "budget": parse_number(table, row, "budget", minimum=0),
        "cost_to_date": parse_number(table, row, "cost_to_date", minimum=0),
        "percent_complete": percent,
        "start": start,
        "strategic_priority": parse_text(table, row, "strategic_priority", required=False)
        or None,
        "description": parse_text(table, row, "description", required=False),
        "kpis": kpis,
        "source": table.source(row),
    }
    return _model(Initiative, table, row, values)


def check_initiatives(
    initiatives: Iterable[Initiative],
    kpi_ids: Collection[str] | None = None,
    priority_ids: Collection[str] | None = None,
) -> None:
    """Check the references of initiatives: KPI ids against the catalog and ``strategic_priority``
    against the priorities file. ``None`` skips a check (that input was not given)."""
    for initiative in initiatives:
        if kpi_ids is not None:
            for kpi_id in initiative.kpis:
                if kpi_id not in kpi_ids:
                    raise _reference_error(initiative.source, "kpis", "KPI", kpi_id, kpi_ids,
                                           "the KPI catalog")
        goal = initiative.strategic_priority
        if priority_ids is not None and goal is not None and goal not in priority_ids:
            raise _reference_error(initiative.source, "strategic_priority",
                                   "strategic priority", goal, priority_ids, "the priorities file")


def _reference_error(
    source: SourceRow | None,
    field: str,
    what: str,
    value: str,
    known: Collection[str],
    where: str,
) -> InputError:
    message = f"unknown {what} '{value}'{did_you_mean(value, known)}; it must be an id in {where}"
    if source is None:
        return InputError(None, message, field=field)
    return source.error(message, field)


# --------------------------------------------------------------------------------------------
# Benefits
# --------------------------------------------------------------------------------------------


class Benefit(BaseModel):
    """An improvement an initiative promises, from ``baseline`` (on ``baseline_date``) to
    ``target`` (by ``target_date``).

    The measure is a catalog KPI (``kpi_id``: its value comes from the measurements) or a
    described measure (``measure``) whose latest value is given as ``realized`` on
    ``realized_date``. The plan is a straight line from baseline to target.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    initiative_id: str
    description: str = Field(min_length=1)
    kpi_id: str | None = None
    measure: str = ""
    baseline: float
    target: float
    baseline_date: dt.date
    target_date: dt.date
    realized: float | None = None
    realized_date: dt.date | None = None
    unit: str = ""
    owner: str = ""
    source: SourceRow | None = Field(default=None, exclude=True, repr=False)

    @property
    def label(self) -> str:
        """What is measured: the described measure, else the KPI id."""
        return self.measure or self.kpi_id or ""

    @property
    def higher_is_better(self) -> bool:
        return self.target > self.baseline


def load_benefits(path: str | Path) -> list[Benefit]:
    """Read and validate a benefits table; errors name the file, line and column.

    References (initiative ids, KPI ids) are checked by :func:`check_benefits`.
    """
    table = read_table(path, "benefits", BENEFIT_COLUMNS, BENEFIT_OPTIONAL)
    if "kpi_id" not in table.columns and "measure" not in table.columns:
        raise InputError(
            table.path,
            "the header needs a 'kpi_id' or a 'measure' column (or both)",
            line=1,
            field="kpi_id",
            row_label=table.row_label,
        )
    seen: dict[str, int] = {}
    return [_benefit(table, row, seen) for row in table.rows]


def _benefit(table: Table, row: TableRow, seen: dict[str, int]) -> Benefit:
    benefit_id = parse_id(table, row, "id", seen, "benefit")
    initiative_id = parse_text(table, row, "initiative_id")
    kpi_id = parse_text(table, row, "kpi_id", required=False)
    measure = parse_text(table, row, "measure", required=False)
    if kpi_id == "" and measure == "":
        raise table.error(
            row, "give the measure: a catalog KPI id in 'kpi_id' or a description in 'measure'",
            "kpi_id" if "kpi_id" in table.columns else "measure",
        )
    if kpi_id and not _KPI_ID_PATTERN.fullmatch(kpi_id):
        raise table.error(row, f"{kpi_id!r} is not a KPI id", "kpi_id")
    baseline = parse_number(table, row, "baseline")
    target = parse_number(table, row, "target")
    if baseline == target:
        raise table.error(
            row, f"target equals the baseline ({target:g}); a benefit must change something",
            "target",
        )
    baseline_date = parse_date(table, row, "baseline_date")
    target_date = parse_date(table, row, "target_date")
    assert baseline_date is not None and target_date is not None  # required=True
    if target_date <= baseline_date:
        raise table.error(
            row, f"{target_date} is not after the baseline date {baseline_date}", "target_date"
        )
    realized = parse_number(table, row, "realized", required=False)
    realized_date = parse_date(table, row, "realized_date", required=False)
    if kpi_id and realized is not None:
        raise table.error(
            row,
            f"leave realized empty for a KPI benefit: the value of '{kpi_id}' comes from the "
            "measurements",
            "realized",
        )
    if realized_date is not None and realized is None:
        raise table.error(row, "realized_date is set but realized is empty", "realized_date")
    if realized_date is not None and realized_date < baseline_date:
        raise table.error(
            row, f"{realized_date} is before the baseline date {baseline_date}", "realized_date"
        )
    values: dict[str, object] = {
        "id": benefit_id,
        "initiative_id": initiative_id,
        "description": parse_text(table, row, "description"),
        "kpi_id": kpi_id or None,
        "measure": measure,
        "baseline": baseline,
        "target": target,
        "baseline_date": baseline_date,
        "target_date": target_date,
        "realized": realized,
        "realized_date": realized_date,
        "unit": parse_text(table, row, "unit", required=False),
        "owner": parse_text(table, row, "owner", required=False),
        "source": table.source(row),
    }
    return _model(Benefit, table, row, values)


def check_benefits(
    benefits: Iterable[Benefit],
    initiatives: Iterable[Initiative] | None,
    kpi_ids: Collection[str] | None,
) -> None:
    """Check that each benefit's initiative exists (when initiatives are given) and its KPI is in
    the catalog (when KPI ids are given); the error names the benefits file, line and field."""
    initiative_ids = None if initiatives is None else [i.id for i in initiatives]
    for benefit in benefits:
        if initiative_ids is not None and benefit.initiative_id not in initiative_ids:
            raise _reference_error(benefit.source, "initiative_id", "initiative",
                                   benefit.initiative_id, initiative_ids, "the initiatives file")
        if kpi_ids is not None and benefit.kpi_id is not None and benefit.kpi_id not in kpi_ids:
            raise _reference_error(benefit.source, "kpi_id", "KPI", benefit.kpi_id, kpi_ids,
                                   "the KPI catalog")
