"""What changed since the last review: KPI statuses and exceptions against the previous pack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reviewkit.evaluation.evaluate import ExceptionItem, KpiResult, is_worse
from reviewkit.periods import Period
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
    #: Periods in a row the data raises it, this one included, where the data says (a red
    #: KPI's streak, a feed's periods without data): the count the detail also gives.
    periods: int | None = None


@dataclass(frozen=True)
class ChangeReport:
    """What changed since the previous period: the one the scorecard's "since last" compares
    with. Its exceptions come from the pack recorded for it, else from its data."""

    previous_label: str | None
    status_changes: tuple[StatusChange, ...] = ()
    new: tuple[ExceptionChange, ...] = ()
    persisting: tuple[ExceptionChange, ...] = ()
    cleared: tuple[ExceptionChange, ...] = ()
    #: True when a pack was recorded for the previous period; False: compared with its data.
    from_pack: bool = False


def _keys(pack: PackRecord) -> set[tuple[str, str]]:
    return {(str(e["kpi_id"]), str(e["reason"])) for e in pack.summary.get("exceptions", [])}


def _periods(item: ExceptionItem, result: KpiResult | None) -> int | None:
    """How many periods in a row the data has raised an exception (None where only the recorded
    reviews can tell): "Persisting" then says the same count as "10th week in a row"."""
    if result is None:
        return None
    if item.reason == "red":
        return result.streak
    if item.reason == "no_data":
        return result.periods_without_data
    return None


def compare(
    results: Sequence[KpiResult],
    exceptions: Sequence[ExceptionItem],
    previous_packs: Sequence[PackRecord],
    *,
    previous_period: Period,
    previous_exceptions: Sequence[ExceptionItem] = (),
) -> ChangeReport:
    """Compare this pack with its previous period.

    Statuses then are the previous period's from the data (as the scorecard shows them).
    Exceptions then are those of the pack recorded for the previous period (``previous_packs``:
    this cadence's earlier packs, oldest first) when there is one, else
    ``previous_exceptions``, worked out from the previous period's data.
    """
    names = {r.kpi.id: r.kpi.name for r in results}
    by_id = {r.kpi.id: r for r in results}
    status_changes = tuple(
        StatusChange(r.kpi.id, r.kpi.name, r.previous.status, r.status)
        for r in results if r.previous.status != r.status
    )
    recorded = (previous_packs[-1] if previous_packs
                and previous_packs[-1].label == previous_period.label else None)
    if recorded is not None:
        then = {(str(e["kpi_id"]), str(e["reason"])): str(e.get("detail", ""))
                for e in recorded.summary.get("exceptions", [])}
        # Reviews in a row: the recorded packs, newest first, while each raised it.
        history = [_keys(pack) for pack in reversed(previous_packs)]
    else:
        then = {(e.kpi_id, e.reason): e.detail for e in previous_exceptions}
        history = [set(then)]
    new: list[ExceptionChange] = []
    persisting: list[ExceptionChange] = []
    for item in exceptions:
        key = (item.kpi_id, item.reason)
        streak = 1
        for keys in history:
            if key not in keys:
                break
            streak += 1
        change = ExceptionChange(item.kpi_id, names.get(item.kpi_id, item.kpi_id), item.reason,
                                 item.detail, streak, _periods(item, by_id.get(item.kpi_id)))
        (persisting if streak > 1 else new).append(change)
    current = {(item.kpi_id, item.reason) for item in exceptions}
    cleared = tuple(ExceptionChange(kpi_id, names.get(kpi_id, kpi_id), reason, detail, 0)
                    for (kpi_id, reason), detail in then.items() if (kpi_id, reason) not in current)
    return ChangeReport(previous_period.label, status_changes, tuple(new), tuple(persisting),
                        cleared, from_pack=recorded is not None)
