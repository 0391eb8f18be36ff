"""A store file that is not a reviewkit store is an error naming it, never silently replaced;
a store that fails underneath (damaged, unwritable, full, unreachable) is one line with the
"environment failed" exit code, and nothing half-applied."""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import REPO, run_cli_in_process
from old_stores import V2_SCHEMA, write_store

from reviewkit.cli import main
from reviewkit.errors import EnvironmentFailure
from reviewkit.store import database as store_module
from reviewkit.store.database import SCHEMA_VERSION, Store, StoreFault

DEMO = REPO / "data" / "demo"
MINUTES = DEMO / "minutes" / "weekly-2026-10-30.yaml"
ENVIRONMENT_FAILED = EnvironmentFailure.exit_code


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def params(tmp_path: Path) -> Path:
    path = tmp_path / "weekly.yaml"
    path.write_text(f"organisation: N\ncatalog: {DEMO / 'kpis.yaml'}\n"
                    f"measurements: {DEMO / 'measurements.csv'}\nstore: store.sqlite\n",
                    encoding="utf-8")
    return path


def _valid_store(path: Path) -> None:
    Store.open(str(path)).dispose()


def _bytes(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def test_the_environment_failed_exit_code_is_neither_input_nor_generic() -> None:
    assert ENVIRONMENT_FAILED not in (0, 1, 2, 3)


@pytest.mark.parametrize("content, says", [
    (b"", "is empty"),
    (b"\x8f\x13random bytes\x00" * 40, "not an SQLite database"),
    (b"name,title\nA-1,Fix it\n", "not an SQLite database"),
])
def test_a_store_file_that_is_not_a_store_is_refused_and_left_as_it_was(
    params: Path, content: bytes, says: str
) -> None:
    store = params.parent / "store.sqlite"
    store.write_bytes(content)
    code, out, err = run(["actions", "list", "--params", params])
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("reviewkit: error: ")
    assert str(store) in err and says in err and "not a reviewkit store" in err
    assert store.read_bytes() == content


def test_an_sqlite_file_of_another_program_is_refused(params: Path) -> None:
    store = params.parent / "store.sqlite"
    with contextlib.closing(sqlite3.connect(store)) as db:
        db.execute("create table customers (id integer)")
        db.commit()
    before = store.read_bytes()
    code, _, err = run(["actions", "list", "--params", params])
    assert code == 2
    assert "an SQLite database but not a reviewkit store (tables: customers)" in err
    assert store.read_bytes() == before


@pytest.mark.parametrize("version, says", [
    ("banana", "schema version 'banana' is not a number"),
    (str(SCHEMA_VERSION + 5), "newer than this reviewkit understands"),
])
def test_a_store_with_a_nonsense_or_newer_schema_version_is_refused(
    params: Path, version: str, says: str
) -> None:
    store = params.parent / "store.sqlite"
    _valid_store(store)
    with contextlib.closing(sqlite3.connect(store)) as db:
        db.execute("update reviewkit_meta set value = ? where key = 'schema_version'",
                   (version,))
        db.commit()
    before = store.read_bytes()
    code, _, err = run(["actions", "list", "--params", params])
    assert code == 2 and says in err and str(store) in err
    assert err.count("\n") == 1
    assert store.read_bytes() == before


def test_a_missing_store_file_is_created(params: Path) -> None:
    code, out, _ = run(["actions", "list", "--params", params])
    assert code == 0 and out == "(none)\n"
    assert (params.parent / "store.sqlite").stat().st_size > 0


def test_a_damaged_store_is_an_environment_failure_naming_the_file(params: Path) -> None:
    store = params.parent / "store.sqlite"
    _valid_store(store)
    assert run(["minutes", "import", MINUTES, "--params", params, "--by", "t"])[0] == 0
    data = bytearray(store.read_bytes())
    for offset in range(4096, len(data), 4096):  # trash every page after the first
        data[offset:offset + 200] = b"\xff" * 200
    store.write_bytes(bytes(data))
    code, _, err = run(["actions", "list", "--params", params])
    assert code == ENVIRONMENT_FAILED, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(store) in err and "damaged" in err


@pytest.mark.parametrize("reason", ["attempt to write a readonly database",
                                    "database or disk is full"])
def test_a_store_that_cannot_be_written_fails_the_import_whole(
    params: Path, monkeypatch: pytest.MonkeyPatch, reason: str
) -> None:
    store = params.parent / "store.sqlite"
    _valid_store(store)
    before = store.read_bytes()
    real_execute = sa.engine.Connection.execute
    calls = {"n": 0}

    def failing(self: sa.engine.Connection, statement: object, *args: object,
                **kwargs: object) -> object:
        # Fail half-way through the import, after some rows were written in the transaction.
        if isinstance(statement, sa.sql.dml.Insert):
            calls["n"] += 1
            if calls["n"] == 5:
                raise sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError(reason))
        return real_execute(self, statement, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sa.engine.Connection, "execute", failing)
    code, out, err = run(["minutes", "import", MINUTES, "--params", params, "--by", "t"])
    assert code == ENVIRONMENT_FAILED, err
    assert out == "" and err.count("\n") == 1 and reason in err and str(store) in err
    monkeypatch.undo()
    assert store.read_bytes() == before  # nothing half-applied
    assert run(["actions", "list", "--params", params])[1] == "(none)\n"


@pytest.mark.parametrize("url, shown", [
    ("postgresql://rk:s3cr3t-pw@127.0.0.1:{port}/reviews", "postgresql://rk:***@127.0.0.1"),
    ("postgresql://:s3cr3t-pw@127.0.0.1:{port}/reviews", "postgresql://:***@127.0.0.1"),
    ("postgresql://rk@127.0.0.1:{port}/reviews?password=s3cr3t-pw", "?password=***"),
    ("postgresql://rk@127.0.0.1:{port}/reviews?sslmode=disable&sslpassword=s3cr3t-pw",
     "&sslpassword=***"),
    ("postgresql://rk@127.0.0.1:{port}/reviews?pass%77ord=s3cr3t%2Dpw", "?pass%77ord=***"),
])
def test_an_unreachable_database_is_an_environment_failure_without_the_password(
    tmp_path: Path, url: str, shown: str,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    params = tmp_path / "weekly.yaml"
    params.write_text(f"organisation: N\ncatalog: {DEMO / 'kpis.yaml'}\n"
                      f"measurements: {DEMO / 'measurements.csv'}\n"
                      f"store: {url.format(port=port)}\n",
                      encoding="utf-8")
    code, _, err = run(["actions", "list", "--params", params])
    assert code == ENVIRONMENT_FAILED, err
    assert err.count("\n") == 1 and "s3cr3t" not in err
    assert shown in err and "cannot be reached" in err


def test_a_store_on_a_read_only_folder_is_reported_not_recreated(
    params: Path, tmp_path: Path
) -> None:
    # A store path that is a folder, not a file: refused, nothing created in its place.
    (params.parent / "store.sqlite").mkdir()
    code, _, err = run(["actions", "list", "--params", params])
    assert code == 2 and "is a folder, not a store file" in err
    shutil.rmtree(params.parent / "store.sqlite")


# -- migrations are checked, not assumed -----------------------------------------------------

#: A store from another line of reviewkit's history: its version 3 kept minutes entries, and
#: it never had units.
OTHER_LINE_V3 = V2_SCHEMA.replace("VALUES ('schema_version', '2')",
                                  "VALUES ('schema_version', '3')") + """
CREATE TABLE minutes_entries (review VARCHAR(64), unit VARCHAR(64), entry VARCHAR(64),
  kind VARCHAR(16) NOT NULL, entity_id VARCHAR(16) NOT NULL, content TEXT NOT NULL,
  PRIMARY KEY (review, unit, entry));
INSERT INTO counters VALUES ('action', 0), ('decision', 0);
"""


def _dump(path: Path) -> list[str]:
    """An SQLite database's content as SQL (a copy has other header bytes, the same content)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return list(db.iterdump())


def _one_environment_line(code: int, out: str, err: str) -> str:
    assert code == ENVIRONMENT_FAILED, err
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("reviewkit: error: ")
    return err


def test_a_store_of_another_line_of_history_is_refused_before_anything_changes(
    params: Path,
) -> None:
    store = write_store(params.parent / "store.sqlite", OTHER_LINE_V3)
    before = store.read_bytes()
    for command in (["actions", "list"], ["minutes", "import", MINUTES, "--by", "t"]):
        err = _one_environment_line(*run([*command, "--params", params]))
        assert str(store) in err and "schema version 3" in err
        assert "table 'actions' has no column 'unit'" in err
        assert store.read_bytes() == before
    assert sorted(path.name for path in params.parent.iterdir()) == ["store.sqlite",
                                                                      "weekly.yaml"]


@pytest.mark.parametrize("statement, says", [
    ("ALTER TABLE actions ADD COLUMN priority INTEGER",
     "table 'actions' has a column reviewkit does not know ('priority')"),
    ("CREATE TABLE scratch_notes (id INTEGER)",
     "a table reviewkit does not know ('scratch_notes')"),
    ("DROP TABLE minutes_entries", "table 'minutes_entries' is missing"),
])
def test_a_current_store_whose_tables_are_not_its_schemas_is_refused(
    params: Path, statement: str, says: str,
) -> None:
    store = params.parent / "store.sqlite"
    _valid_store(store)
    with contextlib.closing(sqlite3.connect(store)) as db:
        db.execute(statement)
        db.commit()
    before = store.read_bytes()
    err = _one_environment_line(*run(["actions", "list", "--params", params]))
    assert says in err and f"schema version {SCHEMA_VERSION}" in err
    assert store.read_bytes() == before


def test_a_migration_keeps_a_copy_of_the_store_as_it_was(params: Path) -> None:
    store = write_store(params.parent / "store.sqlite", V2_SCHEMA,
                        "INSERT INTO counters VALUES ('action', 1), ('decision', 0);"
                        "INSERT INTO actions VALUES ('A-0001', 'Old', 'Ann', '2026-12-01', "
                        "'open', NULL, NULL, '2026-11-01', NULL, '');")
    before = _dump(store)
    code, out, err = run(["actions", "list", "--params", params, "--format", "csv"])
    assert code == 0, err
    assert "A-0001,Old,Ann" in out
    backup = params.parent / "store.sqlite.v2.backup"
    assert _dump(backup) == before
    assert Store.open(str(store)).schema_version() == SCHEMA_VERSION


def test_a_migration_that_does_not_come_out_right_is_undone_naming_the_copy(
    params: Path,
) -> None:
    # Version 4 of another line already had a table of published versions, keyed differently.
    store = write_store(params.parent / "store.sqlite", V2_SCHEMA, """
        UPDATE reviewkit_meta SET value = '4';
        INSERT INTO counters VALUES ('action', 0), ('decision', 0);
        ALTER TABLE actions ADD COLUMN unit VARCHAR(64) NOT NULL DEFAULT '';
        ALTER TABLE decisions ADD COLUMN unit VARCHAR(64) NOT NULL DEFAULT '';
        ALTER TABLE narrative_history ADD COLUMN unit VARCHAR(64) NOT NULL DEFAULT '';
        DROP TABLE narratives;
        CREATE TABLE narratives (cadence VARCHAR(16), label VARCHAR(16), unit VARCHAR(64),
          key VARCHAR(128), kpi_id VARCHAR(128), text TEXT NOT NULL,
          basis TEXT DEFAULT '{}' NOT NULL, revision INTEGER NOT NULL,
          updated_at VARCHAR(32) NOT NULL, updated_by TEXT NOT NULL,
          PRIMARY KEY (cadence, label, unit, key));
        DROP TABLE packs;
        CREATE TABLE packs (cadence VARCHAR(16), label VARCHAR(16), unit VARCHAR(64),
          period_end VARCHAR(10) NOT NULL, built_at VARCHAR(32) NOT NULL,
          summary TEXT NOT NULL, PRIMARY KEY (cadence, label, unit));
        CREATE TABLE minutes_entries (review VARCHAR(64), unit VARCHAR(64), entry VARCHAR(64),
          kind VARCHAR(16) NOT NULL, entity_id VARCHAR(16) NOT NULL, content TEXT NOT NULL,
          PRIMARY KEY (review, unit, entry));
        CREATE TABLE pack_versions (cadence VARCHAR(16), label VARCHAR(16), version INTEGER,
          published_at VARCHAR(32) NOT NULL, approver TEXT NOT NULL, snapshot TEXT NOT NULL,
          PRIMARY KEY (cadence, label, version));
        """)
    before = store.read_bytes()
    err = _one_environment_line(*run(["actions", "list", "--params", params]))
    backup = params.parent / "store.sqlite.v4.backup"
    assert "table 'pack_versions' has no column 'unit'" in err
    assert "migration was undone" in err and str(backup) in err
    assert store.read_bytes() == before
    assert _dump(backup) == _dump(store)


@pytest.mark.parametrize("store", [
    "host=127.0.0.1 user=rk password=Dsn-s3cret dbname=reviews",
    "dbname=reviews password = 'Dsn-s3cret with spaces'",
])
def test_a_libpq_connection_string_is_refused_not_taken_for_a_file(
    tmp_path: Path, store: str,
) -> None:
    params = tmp_path / "weekly.yaml"
    params.write_text(f"organisation: N\ncatalog: {DEMO / 'kpis.yaml'}\n"
                      f"measurements: {DEMO / 'measurements.csv'}\nstore: \"{store}\"\n",
                      encoding="utf-8")
    code, out, err = run(["actions", "list", "--params", params])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "libpq connection string" in err and "postgresql://" in err
    assert "Dsn-s3cret" not in err and "password=***" in err.replace(" = ", "=")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["weekly.yaml"]


# -- every store failure is exit 4 and one line, and a batch stops asking a store that failed ---

def _unit_params(tmp_path: Path, store: str) -> Path:
    params = tmp_path / "weekly.yaml"
    params.write_text(f"organisation: N\ncatalog: {DEMO / 'kpis.yaml'}\n"
                      f"measurements: {DEMO / 'measurements.csv'}\nstore: {store}\n"
                      "cadences: [weekly]\nunits:\n" + "".join(
                          f"  - {{id: {unit.lower()}, segment: {unit}}}\n"
                          for unit in ("NGH", "SAH", "RCH", "EWC")), encoding="utf-8")
    return params


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed once the block ended: nothing listens there


def test_a_batch_on_an_unreachable_store_asks_it_once_and_exits_4_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    params = _unit_params(tmp_path, f"postgresql://rk:pw-s3cret@127.0.0.1:{_closed_port()}/r")
    opened: list[str] = []
    real_open = Store.open.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Store], location: str) -> Store:
        opened.append(location)
        return real_open(cls, location)  # type: ignore[no-any-return]

    monkeypatch.setattr(Store, "open", classmethod(counting))
    code, out, err = run_cli_in_process(["batch", "--params", str(params), "--out",
                                         str(tmp_path / "out"),
                                         "-q", "--workers", "1"])
    assert code == ENVIRONMENT_FAILED, err
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert "cannot be reached" in err and "pw-s3cret" not in err
    assert "5 packs" in err  # four units and the group
    assert len(opened) == 1  # not once per pack (each waited for the store before failing)


@pytest.fixture
def impatient_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wait half a second, not a minute, for a locked SQLite store."""
    monkeypatch.setattr(store_module, "LOCK_WAIT_SECONDS", 0.5)


@pytest.mark.usefixtures("impatient_store")
def test_a_locked_store_is_exit_4_saying_it_is_locked(params: Path) -> None:
    store = params.parent / "store.sqlite"
    _valid_store(store)
    with contextlib.closing(sqlite3.connect(store, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")  # another program holds the store
        for command in (["actions", "list"], ["minutes", "import", MINUTES, "--by", "t"]):
            err = _one_environment_line(*run([*command, "--params", params]))
            assert str(store) in err and "is locked by another program" in err
        other.execute("ROLLBACK")
    assert run(["actions", "list", "--params", params])[0] == 0


def test_a_read_that_fails_while_listing_versions_is_a_store_fault(
    params: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = Store.open(str(params.parent / "store.sqlite"))
    real_execute = sa.engine.Connection.execute

    def failing(self: sa.engine.Connection, statement: object, *args: object,
                **kwargs: object) -> object:
        if "pack_versions" in str(statement):
            raise sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("disk I/O error"))
        return real_execute(self, statement, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sa.engine.Connection, "execute", failing)
    try:
        with pytest.raises(StoreFault, match=r"store\.sqlite failed \(disk I/O error\)"):
            store.versions("weekly", "2026-11-20")
    finally:
        store.dispose()


#: Another process's last use of a store: a pack's build in a batch or review-round worker
#: records the pack, then closes its connection.
_WORKER_RECORDS_AND_CLOSES = """\
import contextlib, sqlite3, sys
with contextlib.closing(sqlite3.connect(sys.argv[1], isolation_level=None)) as db:
    db.execute("insert into reviewkit_meta (key, value) values ('worker', 'was here')")
"""


def test_opening_a_store_again_leaves_the_store_this_process_holds_to_it(tmp_path: Path) -> None:
    """The review-cycle server keeps its store open (write-ahead log on, as ``Site.open`` sets
    it) while a publication in one of its threads opens the store again, and the workers that
    build the packs write to it and close it. Opening must not cancel the locks by which the
    server holds the file (closing any descriptor of the file does, for the whole process:
    SQLite's "How To Corrupt An SQLite Database File", 2.2). Otherwise a worker's last close
    takes the file for its own, checkpoints the log and deletes it and its index from under the
    server, whose next requests fail with "database disk image is malformed"."""
    path = tmp_path / "review.sqlite"
    served = Store.open(str(path))
    try:
        raw = served.engine.raw_connection()  # as Site.open sets it
        try:
            raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]
        finally:
            raw.close()  # back to the pool, open
        with served.engine.begin() as connection:  # a request read it
            connection.exec_driver_sql("select count(*) from reviewkit_meta").all()
        Store.open(str(path)).dispose()  # the publication's thread
        subprocess.run([sys.executable, "-c", _WORKER_RECORDS_AND_CLOSES, str(path)],
                       check=True, timeout=60)
        assert path.with_name(path.name + "-wal").exists()
        assert path.with_name(path.name + "-shm").exists()
        with served.engine.begin() as connection:
            assert connection.exec_driver_sql(
                "select value from reviewkit_meta where key = 'worker'").scalar() == "was here"
    finally:
        served.dispose()
