"""The action/decision store on SQLite and on a real PostgreSQL server.

Every behaviour test runs on both backends through ``store_location``: a fresh SQLite file in
``tmp_path``, or a fresh database per test on the session's PostgreSQL server (see ``pg.py``;
skipped with an install hint when the server binaries are missing).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import store_race
from pg import create_database, drop_database

from reviewkit.errors import ReviewkitError
from reviewkit.store import database as store_module
from reviewkit.store.database import (
    Action,
    PackRecord,
    PackVersion,
    Store,
    StoreError,
    StoreFault,
    UnknownRecord,
    meta_table,
    store_url,
)

REPO = Path(__file__).resolve().parents[1]
MONDAY = dt.date(2025, 1, 6)
LATER = dt.date(2025, 1, 13)
CONTEXT: dict[str, Any] = {"effective": MONDAY, "by": "alice", "source": "minutes/2025-01-06.md"}

OpenStore = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a fresh, not yet created store lives: a SQLite path or an empty PG database."""
    if request.param == "sqlite":
        yield str(tmp_path / "reviewkit.sqlite")
        return
    server_url: str = request.getfixturevalue("postgres_url")
    url = create_database(server_url)
    yield url
    drop_database(url)


@pytest.fixture
def open_store(store_location: str) -> Iterator[OpenStore]:
    """Open the test's store (as often as a test likes); every engine is disposed afterwards."""
    opened: list[Store] = []

    def _open() -> Store:
        store = Store.open(store_location)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.dispose()


@pytest.fixture
def store(open_store: OpenStore) -> Store:
    return open_store()


def add(store: Store, title: str = "Fix the flaky deploy", **values: Any) -> str:
    fields: dict[str, Any] = {"title": title, "owner": "Alice", "due": LATER, **CONTEXT}
    fields.update(values)
    return store.add_action(**fields)


# -- schema and migrations ------------------------------------------------------------------

def test_store_is_created_on_first_use_at_the_current_schema_version(
    store_location: str, open_store: OpenStore
) -> None:
    if "://" not in store_location:
        assert not Path(store_location).exists()
    store = open_store()
    assert store.schema_version() == store_module.SCHEMA_VERSION
    assert store.actions() == []
    assert store.decisions() == []
    assert store.events() == []
    if "://" not in store_location:
        assert Path(store_location).is_file()


def test_reopening_keeps_data_and_does_not_rerun_migrations(
    open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = open_store()
    assert add(first) == "A-0001"
    first.dispose()

    def must_not_run(_connection: sa.Connection) -> None:
        raise AssertionError("migration re-run on an up-to-date store")

    monkeypatch.setattr(store_module, "MIGRATIONS", (must_not_run,))
    again = open_store()
    assert again.schema_version() == store_module.SCHEMA_VERSION
    assert [action.id for action in again.actions()] == ["A-0001"]
    # The counters survived too: no reset, no gap.
    assert add(again, "Second") == "A-0002"


def test_store_with_a_newer_schema_version_is_refused(open_store: OpenStore) -> None:
    store = open_store()
    with store.engine.begin() as connection:
        connection.execute(
            sa.update(meta_table).where(meta_table.c.key == "schema_version")
            .values(value=str(store_module.SCHEMA_VERSION + 1))
        )
    store.dispose()
    newer, current = store_module.SCHEMA_VERSION + 1, store_module.SCHEMA_VERSION
    with pytest.raises(
        StoreError, match=rf"schema version {newer}, newer than .*\({current}\); upgrade"
    ):
        open_store()


def test_a_version_1_store_is_migrated_to_the_current_schema_keeping_its_actions(
    open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(store_module, "SCHEMA_VERSION", 1)
        patch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
        old = open_store()
        assert old.schema_version() == 1
        assert add(old) == "A-0001"
        assert not sa.inspect(old.engine).has_table("narratives")
        old.dispose()
    store = open_store()
    assert store.schema_version() == store_module.SCHEMA_VERSION
    assert sa.inspect(store.engine).has_table("narratives")
    assert [a.id for a in store.actions()] == ["A-0001"]
    assert add(store, "after the upgrade") == "A-0002"


def test_a_store_before_pack_versions_is_migrated_to_keep_them_keeping_its_narrative(
    open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store_module.MIGRATIONS.index(store_module._add_pack_versions)
    with monkeypatch.context() as patch:
        patch.setattr(store_module, "SCHEMA_VERSION", before)
        patch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:before])
        old = open_store()
        assert old.schema_version() == before
        old.save_narrative(cadence="weekly", label="2026-11-20", key="summary", kpi_id=None,
                           text="Kept.", basis={}, expected_revision=0, by="a", source="test")
        assert not sa.inspect(old.engine).has_table("pack_versions")
        old.dispose()
    store = open_store()
    assert store.schema_version() == store_module.SCHEMA_VERSION
    assert store.narratives("weekly", "2026-11-20")["summary"].text == "Kept."
    assert store.versions("weekly", "2026-11-20") == []
    store.record_version(PackVersion("weekly", "2026-11-20", 1, "2026-11-23T09:00:00+00:00",
                                     "Dana Whitfield", {"kpis": []}))
    assert [(v.version, v.approver) for v in store.versions("weekly", "2026-11-20")] == [
        (1, "Dana Whitfield")]


def test_what_each_migration_adds_adds_up_to_todays_tables() -> None:
    declared: dict[str, set[str]] = {}
    for adds in store_module.SCHEMA_ADDS:
        for name, columns in adds.items():
            declared.setdefault(name, set()).update(columns)
    assert len(store_module.SCHEMA_ADDS) == len(store_module.MIGRATIONS)
    assert declared == {name: set(table.columns.keys())
                        for name, table in store_module.metadata.tables.items()}


def test_a_store_missing_a_column_of_its_schema_is_refused_unchanged(
    open_store: OpenStore,
) -> None:
    store = open_store()
    add(store)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE decisions DROP COLUMN unit")
    store.dispose()
    with pytest.raises(StoreFault, match=r"does not hold what schema version \d+ holds: table "
                                         r"'decisions' has no column 'unit'.*nothing was changed"):
        open_store()
    engine = sa.create_engine(store.engine.url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT id FROM actions").all() == [("A-0001",)]
            assert "unit" not in {c["name"] for c in sa.inspect(connection).get_columns(
                "decisions")}
    finally:
        engine.dispose()


def test_a_pack_published_before_versions_were_kept_is_version_1_after_the_migration(
    open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store_module.MIGRATIONS.index(store_module._add_pack_versions)
    published = {"state": "final", "version": 1, "approver": "Dana Whitfield",
                 "published_at": "2026-11-23T09:00:00+00:00",
                 "kpis": [{"id": "uptime", "name": "Uptime", "value": 99.1, "status": "green",
                           "unit": "%"}]}
    with monkeypatch.context() as patch:
        patch.setattr(store_module, "SCHEMA_VERSION", before)
        patch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:before])
        old = open_store()
        old.record_pack("weekly", "2026-11-20", dt.date(2026, 11, 20), published)
        old.record_pack("weekly", "2026-11-27", dt.date(2026, 11, 27), {"state": "draft"})
        old.dispose()
    store = open_store()
    assert store.versions("weekly", "2026-11-20") == [PackVersion(
        "weekly", "2026-11-20", 1, "2026-11-23T09:00:00+00:00", "Dana Whitfield",
        {"kpis": [{"id": "uptime", "name": "Uptime", "value": 99.1, "status": "green"}]})]
    assert store.versions("weekly", "2026-11-27") == []


def test_a_published_version_is_recorded_once(store: Store) -> None:
    version = PackVersion("weekly", "2026-11-20", 1, "2026-11-23T09:00:00+00:00", "D", {})
    store.record_version(version)
    with pytest.raises(StoreError, match=r"version 1 of the weekly pack 2026-11-20 was "
                                         r"published meanwhile; publish again to make version 2"):
        store.record_version(version)
    assert len(store.versions("weekly", "2026-11-20")) == 1


def test_store_url_accepts_paths_and_urls(tmp_path: Path) -> None:
    assert store_url(str(tmp_path / "x.sqlite")) == f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert store_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert store_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert store_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert store_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize("name", ["reviews?2026", "reviews%202026", "team #2", "équipe 2"])
def test_a_store_path_with_url_characters_is_the_file_it_names(tmp_path: Path,
                                                                name: str) -> None:
    """A path is not a URL: '?' would start a query, '%20' would be read as a space, and the
    store would be another file (created empty, the actions recorded in it, or not found)."""
    folder = tmp_path / name
    folder.mkdir()
    path = folder / f"{name}.sqlite"
    store = Store.open(str(path))
    try:
        assert add(store) == "A-0001"
    finally:
        store.dispose()
    assert sorted(entry.name for entry in folder.iterdir()) == [path.name]
    again = Store.open(str(path))
    try:
        assert [action.id for action in again.actions()] == ["A-0001"]
    finally:
        again.dispose()


def test_missing_sqlite_folder_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(str(tmp_path / "nope" / "reviewkit.sqlite"))


@pytest.mark.parametrize("location", ["postgresql://u:s3cret@h1:1,h2:2/db",
                                      "postgresql://u:s3cret@127.0.0.1:abc/db"])
def test_a_store_url_whose_port_is_not_a_number_is_a_store_error_without_its_password(
        location: str) -> None:
    with pytest.raises(StoreError, match="is not a usable database URL") as caught:
        Store.open(location)
    assert "s3cret" not in str(caught.value)


def test_plain_postgresql_scheme_uses_psycopg(postgres_url: str) -> None:
    url = create_database(postgres_url)
    try:
        store = Store.open(url.replace("postgresql+psycopg://", "postgresql://"))
        try:
            assert store.engine.dialect.driver == "psycopg"
            assert store.schema_version() == store_module.SCHEMA_VERSION
        finally:
            store.dispose()
    finally:
        drop_database(url)


# -- ids ------------------------------------------------------------------------------------

def test_add_action_hands_out_sequential_ids_and_stores_the_fields(store: Store) -> None:
    assert add(store, "One") == "A-0001"
    assert add(store, "Two", kpi_id="availability", raised_in="weekly-2025-W02",
               note="see incident 42") == "A-0002"
    assert add(store, "Three") == "A-0003"
    assert store.action("A-0002") == Action(
        id="A-0002", title="Two", owner="Alice", due=LATER, status="open",
        kpi_id="availability", raised_in="weekly-2025-W02", raised_on=MONDAY,
        decision_id=None, note="see incident 42",
    )
    assert [action.id for action in store.actions()] == ["A-0001", "A-0002", "A-0003"]
    assert all(action.is_open for action in store.actions())


def test_decisions_get_their_own_sequence(store: Store) -> None:
    add(store)
    assert store.add_decision(text="Freeze deploys on Fridays", rationale="two outages",
                              kpis=["availability"], review="weekly-2025-W02",
                              action_ids=["A-0001"], **CONTEXT) == "D-0001"
    assert store.add_decision(text="Hire an SRE", **CONTEXT) == "D-0002"
    first, second = store.decisions()
    assert (first.id, first.text, first.rationale, first.review, first.decided_on) == (
        "D-0001", "Freeze deploys on Fridays", "two outages", "weekly-2025-W02", MONDAY)
    assert (first.kpis, first.actions) == (["availability"], ["A-0001"])
    assert (second.id, second.kpis, second.actions, second.rationale) == ("D-0002", [], [], "")
    created = [event for event in store.events() if event.entity == "decision"]
    assert [(event.entity_id, event.field) for event in created] == [
        ("D-0001", "created"), ("D-0002", "created")]
    # Actions and decisions count independently.
    assert add(store, "Next") == "A-0002"


# -- updates and history --------------------------------------------------------------------

def test_update_action_records_one_event_per_changed_field(store: Store) -> None:
    action_id = add(store, "Fix the flaky deploy")
    changed = store.update_action(
        action_id,
        {"status": "in_progress", "title": "Fix the flaky deploy", "owner": "Bob",
         "due": dt.date(2025, 2, 1), "note": None},
        effective=LATER, by="bob", source="minutes/2025-01-13.md",
    )
    assert changed == ["status", "owner", "due"]
    action = store.action(action_id)
    assert (action.status, action.owner, action.due, action.title) == (
        "in_progress", "Bob", dt.date(2025, 2, 1), "Fix the flaky deploy")
    updates = store.events(action_id)[1:]
    assert [(e.field, e.old, e.new) for e in updates] == [
        ("status", "open", "in_progress"),
        ("owner", "Alice", "Bob"),
        ("due", LATER.isoformat(), "2025-02-01"),
    ]
    for event in updates:
        assert (event.entity, event.entity_id) == ("action", action_id)
        assert (event.by, event.effective, event.source) == ("bob", LATER, "minutes/2025-01-13.md")
        assert dt.datetime.fromisoformat(event.recorded_at).tzinfo is not None


def test_updating_with_the_same_values_changes_nothing(store: Store) -> None:
    action_id = add(store, "Same", kpi_id="availability")
    before = store.action(action_id)
    events_before = store.events()
    changed = store.update_action(
        action_id,
        {"title": "Same", "owner": "Alice", "due": LATER, "status": "open",
         "kpi_id": "availability", "note": ""},
        **CONTEXT,
    )
    assert changed == []
    assert store.action(action_id) == before
    assert store.events() == events_before


def test_unknown_id_raises_unknown_record(store: Store) -> None:
    add(store)
    with pytest.raises(UnknownRecord, match="unknown action id 'A-0099'"):
        store.update_action("A-0099", {"status": "done"}, **CONTEXT)
    with pytest.raises(UnknownRecord):
        store.action("A-0099")
    assert issubclass(UnknownRecord, StoreError)
    assert issubclass(StoreError, ReviewkitError)
    assert StoreError.exit_code == 2


def test_invalid_status_or_field_raises_store_error_and_changes_nothing(store: Store) -> None:
    action_id = add(store)
    with pytest.raises(StoreError, match="status 'finished' is not one of open, in_progress"):
        # owner comes first and is valid; the whole update must still roll back.
        store.update_action(action_id, {"owner": "Bob", "status": "finished"}, **CONTEXT)
    with pytest.raises(StoreError, match="actions have no field 'priority'"):
        store.update_action(action_id, {"priority": "high"}, **CONTEXT)
    assert store.action(action_id).owner == "Alice"
    assert [event.field for event in store.events()] == ["created"]


def test_a_change_dated_before_the_fields_last_change_is_refused_and_changes_nothing(
        store: Store) -> None:
    """A pack replays an action's history in date order and the store keeps the last change
    made: a change dated earlier than one already recorded (a back-dated close after a later
    "in progress") would leave the two saying different things for good."""
    action_id = add(store, "Fix the flaky deploy")  # raised MONDAY
    store.update_action(action_id, {"status": "in_progress"}, effective=LATER, by="bob",
                        source="command line")
    with pytest.raises(StoreError, match=(
            f"{action_id}'s status was last changed on {LATER.isoformat()}; a change dated "
            f"{MONDAY.isoformat()} would come before it")):
        store.update_action(action_id, {"note": "backdated", "status": "done"},
                            effective=MONDAY, by="bob", source="command line")
    before_raised = MONDAY - dt.timedelta(days=3)
    with pytest.raises(StoreError, match=f"{action_id} was raised on {MONDAY.isoformat()}"):
        store.update_action(action_id, {"owner": "Carol"}, effective=before_raised, by="bob",
                            source="command line")
    assert store.action(action_id).status == "in_progress"
    assert store.action(action_id).note == ""
    assert [e.field for e in store.events(action_id)] == ["created", "status"]
    # Another field, or the same day as the last change, is fine.
    assert store.update_action(action_id, {"owner": "Bob"}, effective=MONDAY, by="bob",
                               source="command line") == ["owner"]
    assert store.update_action(action_id, {"status": "done"}, effective=LATER, by="bob",
                               source="command line") == ["status"]


def test_events_are_never_deleted_history_is_in_order(store: Store) -> None:
    action_id = add(store)
    other = add(store, "Other")
    store.update_action(action_id, {"status": "in_progress"}, **CONTEXT)
    store.update_action(other, {"owner": "Carol"}, **CONTEXT)
    store.update_action(action_id, {"status": "done"}, effective=LATER, by="bob", source="cli")
    store.update_action(action_id, {"status": "open"}, effective=LATER, by="bob", source="cli")
    history = store.events(action_id)
    assert [(e.field, e.old, e.new) for e in history] == [
        ("created", None, history[0].new),
        ("status", "open", "in_progress"),
        ("status", "in_progress", "done"),
        ("status", "done", "open"),
    ]
    created = json.loads(history[0].new or "")
    assert (created["id"], created["title"], created["status"], created["raised_on"]) == (
        action_id, "Fix the flaky deploy", "open", MONDAY.isoformat())
    everything = store.events()
    assert len(everything) == 6
    assert [e.seq for e in everything] == sorted({e.seq for e in everything})
    assert [e.entity_id for e in everything] == [action_id, other, action_id, other,
                                                 action_id, action_id]
    assert store.action(action_id).status == "open"


# -- transactions ---------------------------------------------------------------------------

def test_transaction_is_all_or_nothing(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction() as tx:
        assert tx.add_action(title="One", owner="A", due=LATER, **CONTEXT) == "A-0001"
        assert tx.add_action(title="Two", owner="B", due=LATER, **CONTEXT) == "A-0002"
        assert len(tx.actions()) == 2
        raise Boom
    assert store.actions() == []
    assert store.events() == []
    assert add(store) == "A-0001"  # the counter was rolled back too


def test_transaction_commits_several_changes_together(store: Store) -> None:
    with store.transaction() as tx:
        first = tx.add_action(title="One", owner="A", due=LATER, **CONTEXT)
        second = tx.add_action(title="Two", owner="B", due=LATER, **CONTEXT)
        decision = tx.add_decision(text="Do both", action_ids=[first, second], **CONTEXT)
        tx.update_action(first, {"status": "done"}, **CONTEXT)
    assert (first, second, decision) == ("A-0001", "A-0002", "D-0001")
    assert [a.status for a in store.actions()] == ["done", "open"]
    assert store.actions(status="done")[0].id == "A-0001"
    assert not store.actions(status="done")[0].is_open
    assert len(store.events()) == 4


# -- packs ----------------------------------------------------------------------------------

def test_record_pack_round_trips_in_period_order_and_replaces_a_label(store: Store) -> None:
    store.record_pack("weekly", "2025-W03", dt.date(2025, 1, 19), {"red": 1})
    store.record_pack("weekly", "2025-W01", dt.date(2025, 1, 5), {"red": 3, "kpis": ["a"]})
    store.record_pack("weekly", "2025-W02", dt.date(2025, 1, 12), {"red": 2})
    store.record_pack("monthly", "2025-01", dt.date(2025, 1, 31), {"green": 9})

    weekly = store.packs("weekly")
    assert [(p.label, p.period_end) for p in weekly] == [
        ("2025-W01", dt.date(2025, 1, 5)),
        ("2025-W02", dt.date(2025, 1, 12)),
        ("2025-W03", dt.date(2025, 1, 19)),
    ]
    assert weekly[0].summary == {"red": 3, "kpis": ["a"]}
    assert weekly[0].cadence == "weekly"
    assert dt.datetime.fromisoformat(weekly[0].built_at).tzinfo is not None
    assert [p.label for p in store.packs("monthly")] == ["2025-01"]
    assert store.packs("quarterly") == []

    store.record_pack("weekly", "2025-W01", dt.date(2025, 1, 26), {"red": 0})
    weekly = store.packs("weekly")
    assert [p.label for p in weekly] == ["2025-W02", "2025-W03", "2025-W01"]
    assert weekly[-1] == PackRecord("weekly", "2025-W01", dt.date(2025, 1, 26),
                                    weekly[-1].built_at, {"red": 0})


# -- lookups, links, imports ----------------------------------------------------------------

def test_created_by_minutes_gives_the_values_minutes_created_a_record_with(
    store: Store,
) -> None:
    minutes = {**CONTEXT, "source": "minutes weekly.yaml sha256:0123456789ab"}
    add(store, "As the minutes said", raised_in="weekly 2025-01-03", **minutes)
    add(store, "From the command line")
    store.add_decision(text="Freeze Fridays", review="weekly 2025-01-03", **minutes)
    store.update_action("A-0001", {"title": "Renamed later"}, **CONTEXT)
    with store.transaction() as tx:
        created = tx.created_by_minutes("A-0001")
        assert created is not None and created["title"] == "As the minutes said"
        assert tx.created_by_minutes("A-0002") is None  # not made by minutes
        decision = tx.created_by_minutes("D-0001")
        assert decision is not None and decision["text"] == "Freeze Fridays"
        assert tx.has_action("A-0002")
        assert not tx.has_action("A-0003")


def test_link_actions_ties_a_decision_to_its_actions(store: Store) -> None:
    first, second, third = add(store, "One"), add(store, "Two"), add(store, "Three")
    decision_id = store.add_decision(text="Do it", **CONTEXT)
    with store.transaction() as tx:
        tx.link_actions(decision_id, [first, third], effective=LATER, by="bob", source="cli")
    (decision,) = store.decisions()
    assert decision.actions == [first, third]
    assert [(a.id, a.decision_id) for a in store.actions()] == [
        (first, decision_id), (second, None), (third, decision_id)]
    link = store.events(decision_id)[-1]
    assert (link.field, json.loads(link.old or ""), json.loads(link.new or "")) == (
        "actions", [], [first, third])
    assert (link.effective, link.by, link.source) == (LATER, "bob", "cli")
    with pytest.raises(UnknownRecord, match="unknown decision id 'D-0099'"), \
            store.transaction() as tx:
        tx.link_actions("D-0099", [second], **CONTEXT)
    assert store.action(second).decision_id is None


def test_imported_and_record_import(store: Store) -> None:
    sha = "ab" * 32
    with store.transaction() as tx:
        assert not tx.imported(sha)
        tx.record_import(sha256=sha, file="minutes/2025-01-06.md", review="weekly-2025-W02",
                         by="alice", changes=3)
        assert tx.imported(sha)
    with store.transaction() as tx:
        assert tx.imported(sha)
        assert not tx.imported("cd" * 32)
    # An import recorded in a transaction that fails is not remembered.
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.record_import(sha256="ef" * 32, file="m.md", review="r", by="a", changes=0)
        raise RuntimeError("minutes broke half-way")
    with store.transaction() as tx:
        assert not tx.imported("ef" * 32)


# -- concurrency ----------------------------------------------------------------------------

def together(target: str, argss: list[list[Any]]) -> list[str]:
    """Run ``store_race:<target>`` in one process per argument list, forked from the fork
    server (tests/forked.py, so none imports the store's code again), release them together
    once each is ready, and return what each printed (failing if any failed)."""
    import forked

    from reviewkit.run._spawned import worker_context

    start = worker_context().Barrier(len(argss) + 1)  # type: ignore[attr-defined]
    racers = [forked.Child(f"store_race:{target}", [start, *args]) for args in argss]
    # A racer that failed before the start breaks the barrier: its exit code and stderr say
    # why, below.
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait(store_race.READY_TIMEOUT_S)
    finished = [racer.finished(timeout=60) for racer in racers]
    for proc in finished:
        assert proc.returncode == 0, proc.stderr
    return [proc.stdout.strip() for proc in finished]


def run_workers(location: str, workers: int, each: int, *, open_first: bool = True) -> None:
    """Start ``workers`` processes on one store, release them together, wait for all.

    Each adds ``each`` actions; with ``open_first`` they open the store before the common
    start, else right after it (so they race to create it).
    """
    outputs = together("add_actions", [[location, f"w{index}", each, open_first]
                                       for index in range(workers)])
    assert outputs == ["done"] * workers, outputs


def test_concurrent_writers_get_distinct_gap_free_ids(
    open_store: OpenStore, store_location: str
) -> None:
    workers, each = 4, 25
    open_store().dispose()  # create the schema first; the race under test is the writes
    run_workers(store_location, workers, each)

    store = open_store()
    total = workers * each
    ids = [action.id for action in store.actions()]
    assert ids == [f"A-{number:04d}" for number in range(1, total + 1)]
    created = [event for event in store.events() if event.field == "created"]
    assert len(created) == total
    assert sorted(event.entity_id for event in created) == ids
    # Each worker's own actions are all there, and in the order it wrote them.
    for index in range(workers):
        mine = [a for a in store.actions() if a.owner == f"w{index}"]
        assert [a.title for a in sorted(mine, key=lambda a: a.id)] == [
            f"w{index}-{number}" for number in range(each)]
    assert add(store, "after the rush") == f"A-{total + 1:04d}"


def test_a_new_sqlite_store_appears_whole_never_as_the_empty_file_sqlite_starts_with(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a new store's tables are being made, its path holds nothing another process
    could open (an empty file there is refused as not a store: a second build starting at the
    same moment failed so); when open returns, it holds the whole store."""
    path = tmp_path / "new.sqlite"
    seen: list[bool] = []
    migrate = Store._migrate

    def watched(self: Store) -> None:
        # Once the migration's transaction has begun, SQLite's file exists where it is made.
        sa.event.listen(self.engine, "begin", lambda _: seen.append(path.exists()))
        migrate(self)

    monkeypatch.setattr(Store, "_migrate", watched)
    Store.open(str(path)).dispose()
    assert seen[0] is False  # the tables were made elsewhere
    assert path.read_bytes().startswith(b"SQLite format 3\x00")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.sqlite"]  # no leftovers


def test_concurrent_first_use_creates_the_schema_once(
    open_store: OpenStore, store_location: str
) -> None:
    """Several processes opening a store that does not exist yet all succeed."""
    run_workers(store_location, 4, 2, open_first=False)
    store = open_store()
    assert store.schema_version() == store_module.SCHEMA_VERSION
    assert [a.id for a in store.actions()] == [f"A-{n:04d}" for n in range(1, 9)]


def test_the_same_minutes_imported_four_times_at_once_are_imported_once(
    open_store: OpenStore, store_location: str, tmp_path: Path
) -> None:
    minutes = tmp_path / "minutes.yaml"
    minutes.write_text("review: weekly 2026-11-13\ndecisions:\n  - text: Freeze changes\n"
                       "actions:\n" + "".join(f"  - {{title: Task {n}, owner: Ann, due: "
                                               "2026-11-27, kpi: uptime}\n" for n in range(20)),
                       encoding="utf-8")
    open_store().dispose()
    outcomes = together("import_minutes", [[store_location, str(minutes)]] * 4)
    assert sorted(outcomes) == ["already", "already", "already", "imported"]
    store = open_store()
    assert len(store.actions()) == 20 and len(store.decisions()) == 1


def test_the_longest_ids_the_contract_allows_are_kept_on_both_backends(store: Store) -> None:
    """A KPI id may have 64 characters and a unit id 64 (the data contract): every column that
    holds one, alone or in a narrative key, keeps them on PostgreSQL as on SQLite."""
    kpi, unit = "k" * 64, "u" * 64
    action_id = add(store, kpi_id=kpi, unit=unit, raised_in="weekly 2026-11-20")
    store.save_narrative(cadence="weekly", label="2026-11-20", unit=unit, key=f"kpi-{kpi}",
                         kpi_id=kpi, text="Kept.", basis={}, expected_revision=0, by="a",
                         source="test")
    store.add_decision(text="Decided", kpis=[kpi], unit=unit, **CONTEXT)
    assert store.action(action_id).kpi_id == kpi
    assert store.narratives("weekly", "2026-11-20", unit)[f"kpi-{kpi}"].kpi_id == kpi
