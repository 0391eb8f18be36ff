"""The publish gate: the reasons a pack is not ready to be the one that goes to the meeting.

Each rule can be turned off in the params file (``publish_gate: {rule: false}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reviewkit.errors import ReviewkitError
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.formatting import STATUS_WORDS, format_date
from reviewkit.inputs.params import GATE_RULES
from reviewkit.layout.document import PackDocument
from reviewkit.narrative.cells import NarrativeCell
from reviewkit.outputs.audit import check_document
from reviewkit.store.records import Action

#: Rule name → what it checks (declared with the params that switch them).
RULES = GATE_RULES


class PublishRefused(ReviewkitError):
    """The gate found reasons not to publish; ``--force`` publishes anyway and records them."""

    exit_code = 3

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__(f"publishing refused for {len(self.reasons)} reasons; fix them or "
                         "use --force to publish anyway (the reasons are recorded)")


def check(
    pack: PackEvaluation,
    cells: Sequence[NarrativeCell],
    actions_now: Sequence[Action],
    enabled: Mapping[str, bool],
    *,
    document: PackDocument | None = None,
) -> list[str]:
    """Every reason the gate refuses, one sentence each, in a stable order. With the pack's
    ``document``, what it says is audited too (``figures_agree``); the pages the build makes
    from it are audited again once written."""
    on = {rule: enabled.get(rule, True) for rule in RULES}
    reasons: list[str] = []
    if on["narrative_final"]:
        for cell in cells:
            if cell.draft:
                reasons.append(f"narrative '{cell.key}' ({cell.title}) is still the generated "
                               "draft: edit it, or accept it as it stands (reviewkit narrative "
                               f"accept {pack.cadence.name} … {cell.key})")
            elif cell.stale:
                reasons.append(f"narrative '{cell.key}' ({cell.title}) is stale: "
                               f"{cell.stale_detail}; edit it, or accept it if it is still "
                               f"right (reviewkit narrative accept {pack.cadence.name} … "
                               f"{cell.key})")
    if on["red_kpis_explained"]:
        written = {cell.kpi_id for cell in cells if cell.kpi_id and not cell.draft}
        log = pack.action_log
        for result in pack.results:
            if result.status != "red":
                continue
            has_action = bool(log and log.open_for(result.kpi.id))
            if result.kpi.id not in written and not has_action:
                reasons.append(f"red KPI '{result.kpi.id}' ({result.kpi.name}) has neither "
                               "commentary nor an open action")
    if on["overdue_actions_rescheduled"] and pack.action_log:
        now = {action.id: action for action in actions_now}
        for view in pack.action_log.overdue:
            current = now.get(view.id)
            # Changes made after the period end (e.g. at Monday's preparation) count here.
            if current is None or not current.is_open or current.due > pack.period.end:
                continue
            reasons.append(f"action {view.id} ({view.action.title}) is {view.days_overdue} days "
                           f"overdue with no new due date (due {format_date(current.due)})")
    if on["owner_status_approved"]:
        for result in pack.results:
            chosen = result.owner_status
            if chosen is not None and not chosen.approved:
                reasons.append(
                    f"KPI '{result.kpi.id}' ({result.kpi.name}): {chosen.by} set its status to "
                    f"{STATUS_WORDS[chosen.status].lower()} (the data say "
                    f"{STATUS_WORDS[chosen.data_status].lower()}) and the office has not "
                    "approved it; approve it on the round's tracker (reviewkit serve)")
    if on["headline_data_current"]:
        for kpi_id in pack.headline:
            result = pack.evaluation.result(kpi_id)
            if result.status == "no_data" or result.stale:
                reasons.append(f"headline KPI '{kpi_id}' ({result.kpi.name}) has no data for "
                               f"{pack.period.label}")
    if on["figures_agree"] and document is not None:
        reasons += [f"the pack contradicts itself: {finding.describe()}"
                    for finding in check_document(document)]
    return reasons
