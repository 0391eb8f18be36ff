"""The narrative of one pack and its store session: read what is stored, plan the cells, and save
edits from any source with one conflict rule, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from reviewkit.cadences import Narrative
from reviewkit.errors import UsageError
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.narrative.cells import NarrativeCell, plan_cells
from reviewkit.narrative.edits import NarrativeEdit, normalise
from reviewkit.narrative.placeholders import NarrativeError, check_placeholders
from reviewkit.store.database import Store, Transaction
from reviewkit.store.records import StoredNarrative

#: Which side wins when a cell was edited and the store changed since: the edit, or the store.
Prefer = Literal["edit", "store"]

#: How the narrative's history marks an edit that lost a conflict to the store (kept, never
#: current): after the edit's own source.
NOT_CHOSEN = "; not chosen (--prefer store)"


@dataclass(frozen=True)
class NarrativeService:
    """The narrative of the pack ``pack`` in ``store`` (the caller owns the store session)."""

    store: Store
    pack: PackEvaluation

    @property
    def cadence(self) -> str:
        return self.pack.cadence.name

    @property
    def label(self) -> str:
        return self.pack.period.label

    @property
    def unit(self) -> str:
        return self.pack.unit_key

    def stored(self) -> dict[str, StoredNarrative]:
        return self.store.narratives(self.cadence, self.label, self.unit)

    def history(self, key: str) -> list[StoredNarrative]:
        """Every revision saved of a cell, oldest first, and the texts that lost a conflict to
        the store (marked :data:`NOT_CHOSEN` in their source)."""
        return self.store.narrative_history(self.cadence, self.label, key, self.unit)

    def plan(self, slots: Sequence[Narrative], *,
             strict: bool = True) -> tuple[NarrativeCell, ...]:
        """Every cell of the pack, stored words first, else drafts (``strict``: see
        :func:`plan_cells`)."""
        return plan_cells(self.pack, slots, self.stored(), strict=strict)

    def save(self, edits: Sequence[NarrativeEdit], *, by: str,
             prefer: Prefer | None = None) -> list[str]:
        """Save ``edits`` in one transaction; returns the keys saved.

        An edit whose text is already stored is skipped. When the store changed since the
        revision an edit was made from (someone else saved that cell meanwhile), ``prefer``
        decides; without it nothing is saved and the error says how to choose.
        """
        saved: list[str] = []
        with self.store.transaction() as tx:
            stored = tx.narratives(self.cadence, self.label, self.unit)
            # A copy whose text is saved already drops out first: a published pack's
            # notebook keeps the edit a build saved long ago while its draft is edited again.
            pending = _one_per_cell([edit for edit in edits
                                     if not _saved_already(tx, self, stored.get(edit.key),
                                                           edit)])
            for edit in pending:  # every placeholder is checked before anything is written
                try:
                    check_placeholders(edit.text, self.pack, edit.key)
                except NarrativeError as exc:
                    raise NarrativeError(f"{edit.where}: {exc}") from None
            for edit in pending:
                current = stored.get(edit.key)
                revision = edit.revision
                stored_revision = current.revision if current is not None else 0
                if stored_revision != revision:
                    if prefer == "store":
                        # The analyst's words are never dropped: they go into the history.
                        tx.keep_narrative_not_chosen(
                            cadence=self.cadence, label=self.label, key=edit.key,
                            text=edit.text, basis=edit.basis, revision=stored_revision, by=by,
                            source=edit.source + NOT_CHOSEN, unit=self.unit)
                        continue
                    if prefer != "edit":
                        raise NarrativeError(
                            f"narrative cell '{edit.key}' was edited in {edit.where} and changed "
                            f"in the store since (revision {revision} → {stored_revision}); "
                            f"both are kept. To choose, {edit.conflict_hint}"
                        )
                    revision = stored_revision
                tx.save_narrative(
                    cadence=self.cadence, label=self.label, key=edit.key, kpi_id=edit.kpi_id,
                    text=edit.text, basis=edit.basis, expected_revision=revision, by=by,
                    source=edit.source, unit=self.unit,
                )
                saved.append(edit.key)
        return saved

    def accept(self, cells: Sequence[NarrativeCell], keys: Sequence[str] | None, *,
               by: str, source: str) -> list[str]:
        """Accept the text of cells as it stands: a draft becomes the analyst's text, a stale
        text is confirmed against today's numbers. ``keys`` None: every draft or stale cell.
        Recorded in the narrative history with ``by``, the time and ``source``."""
        known = {cell.key: cell for cell in cells}
        unknown = [key for key in keys or () if key not in known]
        if unknown:
            raise UsageError(f"no narrative cell {', '.join(repr(k) for k in unknown)} in the "
                             f"{self.cadence} pack {self.label}; its cells: {', '.join(known)}")
        chosen = [known[key] for key in keys] if keys is not None else list(cells)
        return self.save([
            NarrativeEdit(key=cell.key, kpi_id=cell.kpi_id, text=cell.text,
                          revision=cell.revision, source=source, where=source,
                          conflict_hint="run the command again", basis=dict(cell.values),
                          accepted=True)
            for cell in chosen if cell.draft or cell.stale
        ], by=by)


def _saved_already(tx: Transaction, service: NarrativeService, current: StoredNarrative | None,
                   edit: NarrativeEdit) -> bool:
    """Whether ``edit`` is in the store already: its text is the stored one (saved, e.g., by
    a publish the gate then refused), or was saved after the revision it was made from (the
    same edit read again from a copy made before it was saved)."""
    if (current is not None and normalise(current.text) == normalise(edit.text)
            and (not edit.accepted or current.basis == edit.basis)):
        return True
    stored_revision = current.revision if current is not None else 0
    return stored_revision != edit.revision and _saved_since(tx, service, edit)


def _saved_since(tx: Transaction, service: NarrativeService, edit: NarrativeEdit) -> bool:
    """Whether exactly this text was saved already, in a revision after the one the edit was
    made from: the same edit read again from a copy made before it was saved."""
    return any(
        entry.revision > edit.revision and normalise(entry.text) == normalise(edit.text)
        and not entry.source.endswith(NOT_CHOSEN)
        for entry in tx.narrative_history(service.cadence, service.label, edit.key,
                                          service.unit))


def _one_per_cell(edits: Sequence[NarrativeEdit]) -> list[NarrativeEdit]:
    """The edits with each cell once: copies of one cell edited alike (a published pack's
    notebook and its draft's) are one edit, the newer copy's (the later one); edited
    differently, they are refused, naming every copy, as no store revision can choose."""
    by_key: dict[str, list[NarrativeEdit]] = {}
    for edit in edits:
        by_key.setdefault(edit.key, []).append(edit)
    for key, copies in by_key.items():
        if len({normalise(edit.text) for edit in copies}) > 1:
            raise NarrativeError(
                f"narrative cell '{key}' was edited differently in "
                f"{' and in '.join(edit.where for edit in copies)}; make the copies the same "
                "(or undo the edit in one of them), then build again")
    return [copies[-1] for copies in by_key.values()]

