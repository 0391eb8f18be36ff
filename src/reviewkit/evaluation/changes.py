"""What changed since the last review: KPI statuses and exceptions against the previous pack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reviewkit.evaluation.evaluate import ExceptionItem, KpiResult, is_worse
from reviewkit.store.records import PackRecord


@dataclass(frozen=True)
class StatusChange:
    kpi_id: str
    name: str
    before: str
    after: str

    @property
    def worse(self) -> bool:
        return is_worse(self.after, self.before) or (
            self.after == "no_data" and self.before != "no_data"
        )


@dataclass(frozen=True)
class ExceptionChange:
    kpi_id: str
    name: str
    reason: str
    detail: str
    reviews: int  # reviews in a row the exception has been raised, this one included


@dataclass(frozen=True)
class ChangeReport:
    previous_label: str | None
    status_changes: tuple[StatusChange, ...] = ()
    new: tuple[ExceptionChange, ...] = ()
    persisting: tuple[ExceptionChange, ...] = ()
    cleared: tuple[ExceptionChange, ...] = ()


def _keys(pack: PackRecord) -> set[tuple[str, str]]:
    return {(str(e["kpi_id"]), str(e["reason"])) for e in pack.summary.get("exceptions", [])}


def compare(
    results: Sequence[KpiResult],
    exceptions: Sequence[ExceptionItem],
    previous_packs: Sequence[PackRecord],
) -> ChangeReport:
    """Compare this pack with the previous ones of its cadence (oldest first, all earlier)."""
    if not previous_packs:
        return ChangeReport(previous_label=None)
    previous = previous_packs[-1]
    names = {r.kpi.id: r.kpi.name for r in results}
    before = {str(k["id"]): str(k["status"]) for k in previous.summary.get("kpis", [])}
    status_changes: list[StatusChange] = []
    new: list[ExceptionChange] = []
    persisting: list[ExceptionChange] = []
    cleared: list[ExceptionChange] = []
    for result in results:
        old = before.get(result.kpi.id)
        if old is not None and old != result.status:
            status_changes.append(
                StatusChange(result.kpi.id, result.kpi.name, old, result.status)
            )
    history = [_keys(pack) for pack in reversed(previous_packs)]  # newest first
    for item in exceptions:
        key = (item.kpi_id, item.reason)
        streak = 1
        for keys in history:
            if key not in keys:
                break
            streak += 1
        change = ExceptionChange(item.kpi_id, names.get(item.kpi_id, item.kpi_id), item.reason,
                                 item.detail, streak)
        (persisting if streak > 1 else new).append(change)
    current = {(item.kpi_id, item.reason) for item in exceptions}
    for entry in previous.summary.get("exceptions", []):
        key = (str(entry["kpi_id"]), str(entry["reason"]))
        if key not in current:
            cleared.append(ExceptionChange(key[0], names.get(key[0], key[0]), key[1],
                                           str(entry.get("detail", "")), 0))
    return ChangeReport(previous.label, tuple(status_changes), tuple(new), tuple(persisting),
                        tuple(cleared))
