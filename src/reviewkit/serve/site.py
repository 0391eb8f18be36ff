"""What the web application works on: the pack definitions it serves, their one store, the
settings of the params files' ``serve:`` section, the packs folder, and the cached inputs a
narrative page evaluates. No Flask here, so the command line shares it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from reviewkit import cadences
from reviewkit.errors import UsageError
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.inputs.loaded import Inputs
from reviewkit.inputs.params import GROUP_FOLDER, LoadedParams, load_params
from reviewkit.inputs.serve_params import ServeParams
from reviewkit.run.library import LibraryPack, find_packs
from reviewkit.run.prepare import evaluate, load_for
from reviewkit.serve.people import declared_units, read_people, save_people
from reviewkit.store.cycle import CycleStore, Round, User
from reviewkit.store.database import Store


@dataclass
class Site:
    """The served definitions and their store (opened once; the connection pool is shared by
    the server's threads)."""

    definitions: tuple[LoadedParams, ...]
    settings: ServeParams
    store: Store
    packs: Path
    _inputs: dict[str, tuple[float, Inputs]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, params_files: Sequence[str | Path], *, packs: Path | None = None) -> Site:
        if not params_files:
            raise UsageError("give at least one --params file: the pack definitions to serve")
        definitions = tuple(load_params(path) for path in params_files)
        stores = {d.store_location for d in definitions}
        if len(stores) > 1:
            raise UsageError("the params files name different stores; the review cycle keeps "
                             "one store: make their 'store' the same")
        configured = [d for d in definitions if d.values.serve is not None]
        settings = configured[0].values.serve if configured else ServeParams()
        assert settings is not None
        folder = packs or (settings.packs and (configured[0].path.parent / settings.packs)
                           ) or Path("outputs")
        store = Store.open(stores.pop())
        if store.engine.dialect.name == "sqlite":
            # Many people save at once: with a write-ahead log a commit is one append and
            # readers never wait for a writer. Kept in the file, so builds share it.
            raw = store.engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]
            finally:
                raw.close()
        site = cls(definitions, settings, store, Path(folder).resolve())
        if configured and settings.people is not None:
            people = read_people(configured[0].path.parent / settings.people,
                                 declared_units(definitions))
            save_people(site.cycle, people, by="people file")
        return site

    @property
    def cycle(self) -> CycleStore:
        return CycleStore(self.store)

    def definition(self, params: str) -> LoadedParams:
        for definition in self.definitions:
            if str(definition.path) == params:
                return definition
        raise LookupError(f"{params} is not served here")

    def inputs(self, params: str) -> Inputs:
        """A definition's inputs, loaded again only when its params file changed."""
        definition = self.definition(params)
        stamp = definition.path.stat().st_mtime
        with self._lock:
            cached = self._inputs.get(params)
            if cached is None or cached[0] != stamp:
                cached = (stamp, load_for(load_params(definition.path)))
                self._inputs[params] = cached
            return cached[1]

    def evaluate(self, round_: Round, unit: str) -> PackEvaluation:
        return evaluate(cadences.get(round_.cadence), self.inputs(round_.params), self.store,
                        round_.period_end, unit or None)

    def units_of(self, params: str) -> list[tuple[str, str]]:
        """The packs of a definition as (unit key, name): the group's first."""
        inputs = self.inputs(params)
        if not inputs.units:
            return [("", "")]
        return [("", "Group"), *((unit.id, unit.name) for unit in inputs.units)]

    def library(self, user: User) -> list[tuple[LibraryPack, str]]:
        """The packs ``user`` may read, with their unit ids ('group' for the group's or the
        only pack). Readers and owners see published packs only; drafts are the office's and
        the analysts' work in progress."""
        if not self.packs.is_dir():
            return []
        drafts = user.role in ("office", "analyst")
        return [(pack, unit) for pack, unit, _ in self._packs()
                if user.may_read(unit) and (drafts or pack.state == "final")]

    def _packs(self) -> list[tuple[LibraryPack, str, Path]]:
        """Every pack of the packs folder, its unit id and its folder."""
        found = []
        for pack in find_packs(self.packs):
            parts = [unquote(part) for part in pack.links["PDF"].removeprefix("./").split("/")]
            unit = parts[2] if len(parts) == 4 else GROUP_FOLDER
            found.append((pack, unit, self.packs.joinpath(*parts[:-1])))
        return found

    def pack_file(self, user: User, cadence: str, label: str, unit: str,
                  name: str) -> Path | None:
        """A pack's PDF or HTML by its place in the library, if ``user`` may read it (never a
        path a request names)."""
        for pack, pack_unit in self.library(user):
            if (pack.cadence, pack.label, pack_unit) == (cadence, label, unit):
                for _, _, folder in (p for p in self._packs() if p[0] == pack):
                    return folder / name
        return None
