"""What owners wrote in the review round, as the pack shows it: each KPI's commentary (analysis
and recommendation, with who and when), and a status an owner set instead of the data's, with
its reason and whether the office approved it. Pure: the caller reads the round from the store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from reviewkit.evaluation.evaluate import (
    Evaluation,
    KpiResult,
    OwnerStatus,
    exceptions_for,
    saved_day,
    sort_exceptions,
)
from reviewkit.store.records import KpiUpdate


@dataclass(frozen=True)
class OwnerNote:
    """An owner's commentary on one KPI for the period."""

    kpi_id: str
    analysis: str
    recommendation: str
    by: str
    at: str  # ISO time of the latest save

    @property
    def day(self) -> str:
        """The day of the latest save, as a pack writes every day ('23 Nov 2026')."""
        return saved_day(self.at)


def owner_notes(updates: Sequence[KpiUpdate]) -> dict[str, OwnerNote]:
    notes = {}
    for update in updates:
        fields = [update.fields[name] for name in ("analysis", "recommendation")
                  if name in update.fields and update.fields[name].text]
        if not fields:
            continue
        latest = max(fields, key=lambda f: f.updated_at)
        notes[update.kpi_id] = OwnerNote(update.kpi_id, update.text("analysis"),
                                         update.text("recommendation"), latest.updated_by,
                                         latest.updated_at)
    return notes


def owner_statuses(updates: Sequence[KpiUpdate]) -> dict[str, OwnerStatus]:
    found = {}
    for update in updates:
        status = update.fields.get("status")
        if status is None or not status.text:
            continue
        found[update.kpi_id] = OwnerStatus(status=status.text,  # type: ignore[arg-type]
                                           reason=update.text("status_reason"),
                                           by=status.updated_by, at=status.updated_at,
                                           approved=update.status_approved)
    return found


def with_owner_statuses(evaluation: Evaluation,
                        statuses: Mapping[str, OwnerStatus]) -> Evaluation:
    """The evaluation with each owner's status in place of the data's (kept beside it), and
    the exceptions that follow from the statuses now shown."""
    if not statuses:
        return evaluation
    results: list[KpiResult] = []
    for result in evaluation.results:
        chosen = statuses.get(result.kpi.id)
        if chosen is not None and chosen.status != result.status:
            chosen = replace(chosen, data_status=result.status)
            result = replace(result, current=replace(result.current, status=chosen.status),
                             owner_status=chosen,
                             history=[*result.history[:-1],
                                      replace(result.current, status=chosen.status)])
        results.append(result)
    exceptions = sort_exceptions((item for result in results for item in exceptions_for(result)),
                                 [result.kpi.id for result in results])
    return replace(evaluation, results=tuple(results), exceptions=tuple(exceptions))


#: A number with its thousands grouped by commas: one to three digits, then groups of exactly
#: three ('1,234.5', '12,345'). Any other comma is most likely a decimal comma ('87,5'), which
#: dropping the comma would read as a value ten or a hundred times too large.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)
#: A number as people write one: digits, a point for decimals, a sign. Not the programming
#: language's other forms ('1_000', '1e3', 'nan', 'inf'), which ``float`` would take.
_DIGITS = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)


class DecimalComma(ValueError):
    """A comma in a typed number that does not group thousands ('87,5', '1,23')."""


def entered_number(text: str) -> float:
    """The number an owner typed for a value measured by hand: digits with a point for
    decimals, thousands optionally grouped by commas. ValueError when it is not a number so
    written; :class:`DecimalComma` when a comma does not group thousands."""
    text = text.strip()
    if "," in text:
        if not _GROUPED.fullmatch(text):
            raise DecimalComma(text)
        text = text.replace(",", "")
    if not _DIGITS.fullmatch(text):
        raise ValueError(f"not a number written in digits: {text!r}")
    return float(text)


@dataclass(frozen=True)
class EnteredValue:
    """A value an owner entered by hand for the period (a KPI measured by hand)."""

    kpi_id: str
    value: float
    by: str
    at: str

    @property
    def day(self) -> str:
        """The day it was entered, as a pack writes every day ('23 Nov 2026')."""
        return saved_day(self.at)


def entered_values(updates: Sequence[KpiUpdate]) -> dict[str, EnteredValue]:
    found = {}
    for update in updates:
        saved = update.fields.get("value")
        if saved is None or not saved.text:
            continue
        try:
            number = entered_number(saved.text)
        except ValueError:
            continue  # checked when saved; an old row that is not a number is left out
        found[update.kpi_id] = EnteredValue(update.kpi_id, number, saved.updated_by,
                                            saved.updated_at)
    return found
