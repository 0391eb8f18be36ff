"""What the store holds, as plain frozen values: actions, decisions, their events, narrative
and the packs recorded so far. Everything above the store reads these, never its tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reviewkit.errors import EnvironmentFailure, ReviewkitError

ACTION_STATUSES = ("open", "in_progress", "done", "dropped")
OPEN_STATUSES = ("open", "in_progress")
ACTION_FIELDS = ("title", "owner", "due", "status", "kpi_id", "note")
#: A board ask is tabled until the board decides it, or it is withdrawn or deferred.
ASK_STATUSES = ("tabled", "decided", "deferred", "withdrawn")
#: The fields of an ask that change after it is tabled.
ASK_FIELDS = ("ask", "options", "recommendation", "owner", "deadline", "kpis", "actions",
              "status", "decision_id")


#: How the events of an amended minutes file begin their source: a correction of what that
#: meeting recorded, not a change agreed since (an amended due date is no slip).
AMENDMENT_SOURCE = "minutes amendment"


class StoreError(ReviewkitError):
    """The store cannot be opened or a change cannot be applied."""

    exit_code = 2


class StoreFault(EnvironmentFailure):
    """The store's database failed underneath: damaged, not writable, full or unreachable."""


class UnknownRecord(StoreError):
    """An action or decision id that is not in the store."""


@dataclass(frozen=True)
class Action:
    id: str
    title: str
    owner: str
    due: dt.date
    status: str
    kpi_id: str | None
    raised_in: str | None
    raised_on: dt.date
    decision_id: str | None = None
    note: str = ""
    unit: str = ""  # the unit whose review raised it; '' for the group (or the only) pack

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class Decision:
    id: str
    text: str
    rationale: str
    review: str | None
    decided_on: dt.date
    kpis: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    unit: str = ""


@dataclass(frozen=True)
class BoardAsk:
    """A matter put to the board for a decision: what is asked, the options and the owner's
    recommendation, who owns it, by when, and the KPIs and actions it concerns. Tabled until
    the board decides it (``decision_id``), or it is withdrawn or deferred."""

    id: str
    ask: str
    options: list[str]
    recommendation: str
    owner: str
    deadline: dt.date
    status: str
    review: str | None
    raised_on: dt.date
    kpis: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    decision_id: str | None = None
    unit: str = ""

    @property
    def tabled(self) -> bool:
        return self.status == "tabled"


@dataclass(frozen=True)
class Event:
    seq: int
    entity: str
    entity_id: str
    field: str
    old: str | None
    new: str | None
    effective: dt.date
    recorded_at: str
    by: str
    source: str


@dataclass(frozen=True)
class StoredNarrative:
    """An analyst's text for one narrative cell, and the values it was written against."""

    key: str
    kpi_id: str | None
    text: str
    basis: dict[str, Any]
    revision: int
    updated_at: str
    updated_by: str
    #: Where the text came from (the history's; the current text has none).
    source: str = ""


class NarrativeConflict(StoreError):
    """The stored text changed since the copy being saved was made."""


@dataclass(frozen=True)
class PackRecord:
    cadence: str
    label: str
    period_end: dt.date
    built_at: str
    summary: dict[str, Any]


@dataclass(frozen=True)
class PackVersion:
    """A published version of one pack: who published it, when, and what it said (its KPI
    values and statuses, narrative and actions, to compare a reissue with)."""

    cadence: str
    label: str
    version: int  # 1, 2, …
    published_at: str  # ISO time
    approver: str
    snapshot: dict[str, Any]
    unit: str = ""  # '' for the group's (or the only) pack


def summary_snapshot(summary: dict[str, Any]) -> dict[str, Any]:
    """What a published pack said, as far as its ``summary.json`` tells: its KPI values and
    statuses (a snapshot without narrative or actions: those are not compared). For a pack
    published before reviewkit kept each version's snapshot."""
    kpis = summary.get("kpis")
    return {"kpis": [{name: item.get(name) for name in ("id", "name", "value", "status")}
                     for item in kpis if isinstance(item, dict)]
            if isinstance(kpis, list) else []}


@dataclass(frozen=True)
class MinutesEntry:
    """One entry of a review's minutes as it was imported, and the record it made."""

    entry: str  # where it sits in the file: "actions[1]", "decisions[0].actions[0]", …
    kind: str  # action | decision | update
    entity_id: str  # the action or decision it made (an update: the action it changed)
    content: dict[str, Any]  # its fields as written


@dataclass(frozen=True)
class StoreHistory:
    """What an evaluation reads from the store: every event, and the earlier packs of the
    cadence (oldest first)."""

    events: tuple[Event, ...] = ()
    packs: tuple[PackRecord, ...] = ()
    #: For a unit: the events of the group's actions and decisions (a unit's pack lists the
    #: group's open actions on its KPIs).
    group_events: tuple[Event, ...] = ()

    @property
    def previous(self) -> PackRecord | None:
        return self.packs[-1] if self.packs else None


#: The office's approval of an owner's status (a review round's field): the status field's
#: revision it approves.
APPROVAL_FIELD = "status_approved"


@dataclass(frozen=True)
class FieldValue:
    """One saved field of an owner's update of a KPI, with who saved it and when."""

    kpi_id: str
    unit: str
    field: str
    text: str
    revision: int
    updated_at: str
    updated_by: str


@dataclass(frozen=True)
class KpiUpdate:
    """What owners wrote about one KPI of one pack in a round: each field as last saved."""

    kpi_id: str
    unit: str
    fields: Mapping[str, FieldValue] = field(default_factory=dict)

    def text(self, name: str) -> str:
        value = self.fields.get(name)
        return value.text if value is not None else ""

    @property
    def status_approved(self) -> bool:
        status = self.fields.get("status")
        approval = self.fields.get(APPROVAL_FIELD)
        return bool(status and status.text and approval
                    and approval.text == str(status.revision))
