"""The action and decision store: SQLite by default, any SQLAlchemy URL (e.g. PostgreSQL) too.

Every change is an event (what, from, to, when, by whom, effective on which date), so history
is never overwritten; the ``actions`` and ``decisions`` tables hold the current state for quick
reads. Writes are transactions: a minutes file applies whole or not at all, and concurrent
writers each get their own id.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.request import pathname2url

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from reviewkit import periods, redact
from reviewkit.store.cycle_schema import ADDS as review_cycle_adds
from reviewkit.store.cycle_schema import TABLES as review_cycle_tables
from reviewkit.store.cycle_schema import migrate_add_review_cycle
from reviewkit.store.records import (
    ACTION_FIELDS,
    ACTION_STATUSES,
    ASK_FIELDS,
    ASK_STATUSES,
    OPEN_STATUSES,
    Action,
    BoardAsk,
    Decision,
    Event,
    MinutesEntry,
    NarrativeConflict,
    PackRecord,
    PackVersion,
    StoredNarrative,
    StoreError,
    StoreFault,
    StoreHistory,
    UnknownRecord,
    summary_snapshot,
)

__all__ = [
    "ACTION_FIELDS", "ACTION_STATUSES", "ASK_STATUSES", "OPEN_STATUSES", "Action", "BoardAsk",
    "Decision", "Event",
    "NarrativeConflict", "PackRecord", "PackVersion", "Store", "StoreError", "StoreFault",
    "StoreHistory", "StoredNarrative", "Transaction", "UnknownRecord",
]

metadata = sa.MetaData()
# The review cycle's tables (store/cycle_schema.py) are the store's too: its schema checks know
# them.
for _table in review_cycle_tables:
    _table.to_metadata(metadata)

meta_table = sa.Table(
    "reviewkit_meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
counters = sa.Table(
    "counters", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)
actions_table = sa.Table(
    "actions", metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("due", sa.String(10), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("kpi_id", sa.String(128)),
    sa.Column("raised_in", sa.String(64)),
    sa.Column("raised_on", sa.String(10), nullable=False),
    sa.Column("decision_id", sa.String(16)),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("unit", sa.String(64), nullable=False, server_default=""),
)
decisions_table = sa.Table(
    "decisions", metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("rationale", sa.Text, nullable=False, server_default=""),
    sa.Column("review", sa.String(64)),
    sa.Column("decided_on", sa.String(10), nullable=False),
    sa.Column("kpis", sa.Text, nullable=False, server_default="[]"),
    sa.Column("actions", sa.Text, nullable=False, server_default="[]"),
    sa.Column("unit", sa.String(64), nullable=False, server_default=""),
)
board_asks_table = sa.Table(
    "board_asks", metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("ask", sa.Text, nullable=False),
    sa.Column("options", sa.Text, nullable=False, server_default="[]"),
    sa.Column("recommendation", sa.Text, nullable=False, server_default=""),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("deadline", sa.String(10), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("review", sa.String(64)),
    sa.Column("raised_on", sa.String(10), nullable=False),
    sa.Column("kpis", sa.Text, nullable=False, server_default="[]"),
    sa.Column("actions", sa.Text, nullable=False, server_default="[]"),
    sa.Column("decision_id", sa.String(16)),
    sa.Column("unit", sa.String(64), nullable=False, server_default=""),
)
minutes_entries = sa.Table(
    "minutes_entries", metadata,
    sa.Column("review", sa.String(64), primary_key=True),
    sa.Column("unit", sa.String(64), primary_key=True),
    sa.Column("entry", sa.String(64), primary_key=True),  # "actions[1]", "decisions[0].actions[0]"
    sa.Column("kind", sa.String(16), nullable=False),  # action | decision | update
    sa.Column("entity_id", sa.String(16), nullable=False),
    sa.Column("content", sa.Text, nullable=False),  # the entry as last imported (JSON)
)
events_table = sa.Table(
    "events", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(16), nullable=False),
    sa.Column("entity_id", sa.String(16), nullable=False, index=True),
    sa.Column("field", sa.String(32), nullable=False),
    sa.Column("old", sa.Text),
    sa.Column("new", sa.Text),
    sa.Column("effective", sa.String(10), nullable=False),
    sa.Column("recorded_at", sa.String(32), nullable=False),
    sa.Column("by", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
)
imports_table = sa.Table(
    "minutes_imports", metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("review", sa.String(64), nullable=False),
    sa.Column("imported_at", sa.String(32), nullable=False),
    sa.Column("by", sa.Text, nullable=False),
    sa.Column("changes", sa.Integer, nullable=False),
)
narratives_table = sa.Table(
    "narratives", metadata,
    sa.Column("cadence", sa.String(16), primary_key=True),
    sa.Column("label", sa.String(16), primary_key=True),
    sa.Column("unit", sa.String(64), primary_key=True, server_default=""),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("kpi_id", sa.String(128)),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("basis", sa.Text, nullable=False, server_default="{}"),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
)
narrative_history = sa.Table(
    "narrative_history", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cadence", sa.String(16), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("basis", sa.Text, nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("unit", sa.String(64), nullable=False, server_default=""),
)
packs_table = sa.Table(
    "packs", metadata,
    sa.Column("cadence", sa.String(16), primary_key=True),
    sa.Column("label", sa.String(16), primary_key=True),
    sa.Column("unit", sa.String(64), primary_key=True, server_default=""),
    sa.Column("period_end", sa.String(10), nullable=False),
    sa.Column("built_at", sa.String(32), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
)
pack_versions_table = sa.Table(
    "pack_versions", metadata,
    sa.Column("cadence", sa.String(16), primary_key=True),
    sa.Column("label", sa.String(16), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("unit", sa.String(64), primary_key=True, server_default=""),
    sa.Column("published_at", sa.String(32), nullable=False),
    sa.Column("approver", sa.Text, nullable=False),
    sa.Column("snapshot", sa.Text, nullable=False),
)


def _now() -> str:
    return periods.now().isoformat()


def store_url(location: str) -> str:
    """A SQLAlchemy URL for a store location: a database URL, or a path to a SQLite file."""
    if "://" in location:
        if location.startswith("postgresql://") or location.startswith("postgres://"):
            # The driver we ship is psycopg 3; SQLAlchemy's bare scheme means psycopg2.
            return "postgresql+psycopg://" + location.split("://", 1)[1]
        return location
    # Quoted: SQLAlchemy reads the path as part of a URL, where '?' starts a query and '%20'
    # is a space; it unquotes what it reads, so the store is the file the path names.
    return f"sqlite:///{quote(str(Path(location).resolve()), safe='/')}"


#: How long a command waits for an SQLite store another process is writing, in seconds:
#: reviewkit's own writers hold it for milliseconds, so running out means another program holds
#: it (or a write was left hanging).
LOCK_WAIT_SECONDS = 60.0


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": LOCK_WAIT_SECONDS})

        # pysqlite's own transaction handling starts transactions late; take the write lock at
        # BEGIN so two writers queue up instead of failing half-way (SQLAlchemy's recipe).
        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys = ON")

        @sa.event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


#: ``host=db user=rk dbname=reviews``: a libpq connection string (not a path, nor a URL).
_CONNINFO = re.compile(
    r"\s*(?:[a-z_]+\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S*)\s+)+[a-z_]+\s*=.*", re.DOTALL)

def _file_uri(path: Path, mode: str) -> str:
    """SQLite's URI of a file, opened in ``mode`` (``ro``, ``rw``): quoted, since '#', '?' and
    '%' mean something else in a URI."""
    return f"file:{pathname2url(str(path))}?mode={mode}"


def _check_sqlite_file(path: Path) -> None:
    """Refuse a path that is not (or not yet) an SQLite store; only a missing file is created."""
    hint = "give the path of your store, or remove the file to start a new store"
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a store file; {hint}")
    if not path.parent.is_dir():
        raise StoreError(f"store folder {path.parent} does not exist; create it or fix 'store'")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise store_fault(str(path), exc) from exc
    if not size:
        raise StoreError(f"{path} is empty, not a reviewkit store; {hint}")
    # Read through SQLite, never with open(): closing any descriptor of the file cancels every
    # lock this process holds on it (POSIX locks are the process's), those of the store's other
    # connections included, and another process may then write under them or delete the
    # write-ahead log they read (SQLite's "How To Corrupt An SQLite Database File", 2.2).
    # SQLite's own connections share their locks and keep a descriptor open while they are held.
    try:
        with contextlib.closing(sqlite3.connect(_file_uri(path, "rw"), uri=True,
                                                timeout=LOCK_WAIT_SECONDS)) as probe:
            probe.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise StoreError(f"{path} is not a reviewkit store (not an SQLite database); "
                             f"{hint}") from None
        raise store_fault(str(path), exc) from exc


#: What to do about the database failures a user can meet, by words in the driver's message.
_FAULT_HINTS = (
    (("malformed", "not a database", "corrupt"),
     "is damaged", "restore it from a backup"),
    (("readonly", "read-only", "permission denied"),
     "cannot be written", "check the file's or the server's permissions"),
    (("database is locked", "database table is locked", "lock timeout",
      "could not obtain lock", "deadlock detected"),
     "is locked by another program", "let it finish (or close it) and run the command again"),
    (("disk is full", "no space left", "disk full"),
     "cannot be written: the disk is full", "free some space and run the command again"),
    (("connection refused", "could not connect", "connection failed", "server closed",
      "terminating connection", "connection timed out", "no route to host"),
     "cannot be reached", "check that the database server is running and reachable"),
)


def store_fault(location: str, exc: BaseException) -> StoreFault:
    """A database failure as one line naming the store (its password masked) and what to do."""
    original = getattr(exc, "orig", None) or exc
    reason = " ".join(str(original).split()) or type(original).__name__
    lowered = reason.lower()
    state, hint = "failed", "check the store and run the command again"
    for words, what, todo in _FAULT_HINTS:
        if any(word in lowered for word in words):
            state, hint = what, todo
            break
    return StoreFault(redact.text(f"the store {location} {state} ({reason}); {hint}", location))


def _migrate_to_1(connection: Connection) -> None:
    metadata.create_all(connection, tables=[meta_table, counters, actions_table, decisions_table,
                                            events_table, imports_table, packs_table])
    connection.execute(counters.insert(), [{"name": "action", "value": 0},
                                           {"name": "decision", "value": 0}])


#: Key of the PostgreSQL advisory lock held while checking and migrating the schema.
_MIGRATION_LOCK = 0x7265766B  # "revk"
#: Key of the PostgreSQL advisory lock held while importing minutes.
_MINUTES_LOCK = 0x7265766D  # "revm"

def _migrate_to_2(connection: Connection) -> None:
    """Version 2: analysts' narrative, per cadence, period and cell, with its history."""
    metadata.create_all(connection, tables=[narratives_table, narrative_history])


def _migrate_add_units(connection: Connection) -> None:
    """Units: every action, decision, narrative and recorded pack belongs to a unit ('' is the
    group, or the only, pack: what every record made before units stays).

    Self-contained: the earlier steps create tables from today's definitions, so a new store
    has the columns already; only an older store's tables change. Narratives and packs gain the
    unit in their primary key, which SQLite cannot alter, so those two are rebuilt.
    """
    inspector = sa.inspect(connection)
    for table in (actions_table, decisions_table, narrative_history):
        if "unit" not in {column["name"] for column in inspector.get_columns(table.name)}:
            connection.execute(sa.text(
                f"ALTER TABLE {table.name} ADD COLUMN unit VARCHAR(64) NOT NULL DEFAULT ''"))
    for table in (narratives_table, packs_table):
        existing = {column["name"] for column in inspector.get_columns(table.name)}
        if "unit" in existing:
            continue
        old = f"{table.name}_before_units"
        connection.execute(sa.text(f"ALTER TABLE {table.name} RENAME TO {old}"))
        if connection.dialect.name == "postgresql":
            # The primary key's index keeps its name through a rename; free it for the new one.
            connection.execute(sa.text(
                f"ALTER TABLE {old} RENAME CONSTRAINT {table.name}_pkey TO {old}_pkey"))
        table.create(connection)
        names = ", ".join(c.name for c in table.columns if c.name in existing)
        connection.execute(sa.text(
            f"INSERT INTO {table.name} ({names}, unit) SELECT {names}, '' FROM {old}"))
        connection.execute(sa.text(f"DROP TABLE {old}"))


def _migrate_add_minutes_entries(connection: Connection) -> None:
    """Minutes entries: what each entry of a review's minutes was when imported, and the
    action or decision it made, so a corrected file is compared entry by entry (amendments)
    instead of making duplicates. Reviews imported before stay matched by title."""
    metadata.create_all(connection, tables=[minutes_entries])


def _add_pack_versions(connection: Connection) -> None:
    """The published versions of each pack: a reissued pack is compared with the one before.

    A pack whose last recorded build was a publication becomes its version (from its summary),
    so publishing it again after the migration makes the next version, not a second first."""
    metadata.create_all(connection, tables=[pack_versions_table])
    rows = connection.execute(sa.text(
        "SELECT cadence, label, unit, built_at, summary FROM packs")).mappings().all()
    for row in rows:
        try:
            summary = json.loads(row["summary"])
        except ValueError:
            continue
        if not isinstance(summary, dict) or summary.get("state") != "final":
            continue
        version = summary.get("version", 1)
        connection.execute(pack_versions_table.insert().values(
            cadence=row["cadence"], label=row["label"], unit=row["unit"] or "",
            version=version if isinstance(version, int) and version >= 1 else 1,
            published_at=str(summary.get("published_at") or row["built_at"]),
            approver=str(summary.get("approver") or ""),
            snapshot=json.dumps(summary_snapshot(summary), sort_keys=True)))


def _add_board_asks(connection: Connection) -> None:
    """Board asks: the matters put to the board for a decision (the quarterly pack's "Decisions
    requested of the board"), recorded through minutes and the command line, with a counter
    for their ids (B-0001)."""
    metadata.create_all(connection, tables=[board_asks_table])
    known = connection.execute(sa.select(counters.c.name).where(counters.c.name == "ask")).first()
    if known is None:
        connection.execute(counters.insert().values(name="ask", value=0))


#: Schema migrations, in order; entry ``n`` brings a store from version ``n`` to ``n + 1``.
MIGRATIONS: Sequence[Callable[[Connection], None]] = (_migrate_to_1, _migrate_to_2,
                                                      _migrate_add_units,
                                                      _migrate_add_minutes_entries,
                                                      _add_pack_versions, _add_board_asks,
                                                      migrate_add_review_cycle)
#: The schema this reviewkit writes: every migration applied.
SCHEMA_VERSION = len(MIGRATIONS)

#: What each migration adds, in step with :data:`MIGRATIONS`: a store stamped with schema
#: version ``n`` holds at least the tables and columns the first ``n`` entries name. Written
#: out (not read from today's table definitions) because it is what each version was.
SCHEMA_ADDS: Sequence[Mapping[str, tuple[str, ...]]] = (
    {  # 1: the action log
        "reviewkit_meta": ("key", "value"),
        "counters": ("name", "value"),
        "actions": ("id", "title", "owner", "due", "status", "kpi_id", "raised_in",
                    "raised_on", "decision_id", "note"),
        "decisions": ("id", "text", "rationale", "review", "decided_on", "kpis", "actions"),
        "events": ("seq", "entity", "entity_id", "field", "old", "new", "effective",
                   "recorded_at", "by", "source"),
        "minutes_imports": ("sha256", "file", "review", "imported_at", "by", "changes"),
        "packs": ("cadence", "label", "period_end", "built_at", "summary"),
    },
    {  # 2: analysts' narrative
        "narratives": ("cadence", "label", "key", "kpi_id", "text", "basis", "revision",
                       "updated_at", "updated_by"),
        "narrative_history": ("seq", "cadence", "label", "key", "revision", "text", "basis",
                              "updated_at", "updated_by", "source"),
    },
    {  # 3: units
        "actions": ("unit",), "decisions": ("unit",), "narratives": ("unit",),
        "narrative_history": ("unit",), "packs": ("unit",),
    },
    {  # 4: minutes entries
        "minutes_entries": ("review", "unit", "entry", "kind", "entity_id", "content"),
    },
    {  # 5: published versions
        "pack_versions": ("cadence", "label", "version", "unit", "published_at", "approver",
                          "snapshot"),
    },
    {  # 6: the register of board asks
        "board_asks": ("id", "ask", "options", "recommendation", "owner", "deadline",
                       "status", "review", "raised_on", "kpis", "actions", "decision_id",
                       "unit"),
    },
    review_cycle_adds,  # 7: the review cycle (store/cycle_schema.py)
)


def schema_problem(connection: Connection, version: int, *, complete: bool) -> str | None:
    """What in a store's tables does not fit schema ``version``, in a few words; None when
    everything fits. Every table of version ``version`` must be there with its columns, and
    no table of reviewkit's may have a column reviewkit does not know (nor, in an SQLite file,
    may there be a table it does not know). ``complete``: the store is at this reviewkit's
    own version, so every table must also have the primary key reviewkit defines."""
    tables, keys = _tables(connection)
    present = set(tables)
    required: dict[str, set[str]] = {}
    for adds in SCHEMA_ADDS[:version]:
        for name, added in adds.items():
            required.setdefault(name, set()).update(added)
    if connection.dialect.name == "sqlite":  # a PostgreSQL database may be shared
        strangers = sorted(present - set(metadata.tables))
        if strangers:
            return f"it holds a table reviewkit does not know ('{strangers[0]}')"
    absent = sorted(set(required) - present)
    if absent:
        return f"table '{absent[0]}' is missing"
    for name in sorted(present & set(metadata.tables)):
        columns = tables[name]
        missing = sorted(required.get(name, set()) - columns)
        if missing:
            return f"table '{name}' has no column '{missing[0]}'"
        strangers = sorted(columns - set(metadata.tables[name].columns.keys()))
        if strangers:
            return f"table '{name}' has a column reviewkit does not know ('{strangers[0]}')"
        if complete and name in required:
            key = keys.get(name, [])
            wanted = [column.name for column in metadata.tables[name].primary_key]
            if sorted(key) != sorted(wanted):
                return (f"table '{name}' is keyed by ({', '.join(key)}), not by "
                        f"({', '.join(wanted)})")
    return None


def _tables(connection: Connection) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    """Every table of the store's schema with its columns, and each one's primary key."""
    if connection.dialect.name == "postgresql":
        # Two queries instead of the inspector's two per table: every command opens the store.
        tables: dict[str, set[str]] = {}
        for table, column in connection.execute(sa.text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()")):
            tables.setdefault(str(table), set()).add(str(column))
        keys: dict[str, list[str]] = {}
        for table, column in connection.execute(sa.text(
                "SELECT c.table_name, k.column_name FROM information_schema.table_constraints c "
                "JOIN information_schema.key_column_usage k ON k.constraint_name = "
                "c.constraint_name AND k.table_schema = c.table_schema AND k.table_name = "
                "c.table_name WHERE c.constraint_type = 'PRIMARY KEY' "
                "AND c.table_schema = current_schema() ORDER BY k.ordinal_position")):
            keys.setdefault(str(table), []).append(str(column))
        return tables, keys
    inspector = sa.inspect(connection)
    names = inspector.get_table_names()
    return ({name: {column["name"] for column in inspector.get_columns(name)} for name in names},
            {name: list(inspector.get_pk_constraint(name).get("constrained_columns") or [])
             for name in names})


def backup_path(path: Path, version: int) -> Path:
    """Where the copy of an SQLite store taken before migrating it from ``version`` goes."""
    return path.with_name(f"{path.name}.v{version}.backup")


def _backup_sqlite(path: Path, version: int) -> Path:
    """A consistent copy of an SQLite store, beside it, before a migration changes it."""
    target = backup_path(path, version)
    partial = target.with_name(target.name + ".partial")
    try:
        with contextlib.closing(sqlite3.connect(_file_uri(path, "ro"), uri=True)) as source, \
                contextlib.closing(sqlite3.connect(partial)) as copy:
            source.backup(copy)
        os.replace(partial, target)
    except (OSError, sqlite3.Error) as exc:
        partial.unlink(missing_ok=True)
        raise StoreFault(f"the store {path} needs migrating from schema version {version} to "
                         f"{SCHEMA_VERSION}, and a copy of it could not be kept first at "
                         f"{target} ({exc}); free some space or make the folder writable, and "
                         "run the command again (the store was not changed)") from exc
    return target


class Store:
    """Open with :meth:`open`; use :meth:`transaction` to apply several changes atomically."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location

    @classmethod
    def open(cls, location: str) -> Store:
        if "://" not in location and _CONNINFO.fullmatch(Path(location).name):
            raise StoreError(
                f"store '{redact.text(Path(location).name)}' is a libpq connection string, "
                "which reviewkit would take for a file name; write it as a URL, "
                "postgresql://USER@HOST:PORT/DATABASE, and keep the password out of the params "
                "file (store: ${REVIEWKIT_STORE_URL}, or a ~/.pgpass file)")
        url = store_url(location)
        try:
            sa.engine.make_url(url)
        except ValueError as exc:  # a port that is not a number ("h1:1,h2:2", "host:abc")
            raise StoreError(f"store '{redact.url(location)}' is not a usable database URL: "
                             f"{redact.text(str(exc), location)}") from None
        try:
            new_file: Path | None = None
            if url.startswith("sqlite:///"):
                # The file SQLAlchemy will open: the URL's path, unquoted, without its query.
                path = Path(sa.engine.make_url(url).database or "")
                _check_sqlite_file(path)
                new_file = None if path.exists() else path
            if new_file is not None:
                cls._create_whole(new_file)
            engine = _engine(url)
            store = cls(engine, location)
            try:
                store._migrate()
            except BaseException:
                # Nobody gets this store: close its pooled connection now instead of leaving
                # it to the garbage collector (a ResourceWarning, and a server session held).
                engine.dispose()
                raise
        except sa.exc.ArgumentError as exc:
            raise StoreError(f"store '{redact.url(location)}' is not a usable database URL: "
                             f"{redact.text(str(exc))}") from exc
        except (sa.exc.DBAPIError, OSError) as exc:
            raise store_fault(location, exc) from exc
        except ModuleNotFoundError as exc:
            raise StoreError(
                f"store '{redact.url(location)}' needs the database driver '{exc.name}'; "
                "install it (pip install 'reviewkit[postgres]' for PostgreSQL)"
            ) from exc
        return store

    @classmethod
    def _create_whole(cls, path: Path) -> None:
        """Make a new SQLite store that appears whole: built under a temporary name beside it,
        then linked into place. SQLite's first step is an empty file, which another process
        starting at the same moment would refuse as "not a reviewkit store"; a link never
        replaces a store someone else made meanwhile (theirs is used)."""
        partial = path.with_name(f".{path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            engine = _engine(store_url(str(partial)))
            try:
                cls(engine, str(path))._migrate()
            finally:
                engine.dispose()
            with contextlib.suppress(FileExistsError):
                os.link(partial, path)
        finally:
            for leftover in ("", "-journal", "-wal", "-shm"):
                partial.with_name(partial.name + leftover).unlink(missing_ok=True)

    def _migrate(self) -> None:
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two processes opening a new database at once would both see no tables and
                # both CREATE them (the loser fails on a duplicate key); a transaction-scoped
                # advisory lock makes the second wait and then find the schema in place.
                # (SQLite needs nothing: BEGIN IMMEDIATE already serialises migrations.)
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            inspector = sa.inspect(connection)
            version = 0
            if inspector.has_table("reviewkit_meta"):
                row = connection.execute(
                    sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                ).first()
                text = str(row[0]).strip() if row else "0"
                if not text.isdigit():
                    raise StoreError(
                        f"store '{redact.url(self.location)}' is damaged: its schema version "
                        f"{text!r} is not a number; restore the store from a backup"
                    )
                version = int(text)
            elif connection.dialect.name == "sqlite":
                # An SQLite file with tables of its own belongs to another program: adding
                # ours to it (or treating it as empty) would hide that the path is wrong.
                tables = sorted(inspector.get_table_names())
                if tables:
                    raise StoreError(
                        f"{self.location} is an SQLite database but not a reviewkit store "
                        f"(tables: {', '.join(tables[:5])}); check the params file's 'store'"
                    )
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"store '{redact.url(self.location)}' has schema version {version}, newer "
                    f"than this reviewkit understands ({SCHEMA_VERSION}); upgrade reviewkit"
                )
            shown = redact.url(self.location)
            if version > 0:
                problem = schema_problem(connection, version,
                                         complete=version == SCHEMA_VERSION)
                if problem is not None:
                    raise StoreFault(
                        f"the store {shown} does not hold what schema version {version} holds: "
                        f"{problem}. Another version of reviewkit may have written it; nothing "
                        "was changed. Use the reviewkit that wrote it, or restore the store "
                        "from a backup")
            if version == SCHEMA_VERSION:
                return
            backup = None
            if version > 0 and connection.dialect.name == "sqlite":
                backup = _backup_sqlite(Path(self.engine.url.database or ""), version)
            for step in MIGRATIONS[version:]:
                step(connection)
            connection.execute(sa.delete(meta_table).where(meta_table.c.key == "schema_version"))
            connection.execute(
                meta_table.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            problem = schema_problem(connection, SCHEMA_VERSION, complete=True)
            if problem is not None:  # raised inside the transaction: the migration is undone
                kept = f"; a copy taken before migrating is at {backup}" if backup else ""
                raise StoreFault(
                    f"the store {shown} did not come out of its migration from schema version "
                    f"{version} to {SCHEMA_VERSION} as it should ({problem}), so the migration "
                    f"was undone and nothing was changed{kept}. Another version of reviewkit "
                    "may have written it: use that one, or restore the store from a backup")

    def schema_version(self) -> int:
        with self._reading() as connection:
            row = connection.execute(
                sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
            ).first()
        return int(row[0]) if row else 0

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Changes that commit together, or not at all (also when the database fails)."""
        with self._guarded(), self.engine.begin() as connection:
            yield Transaction(connection)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._guarded(), self.engine.connect() as connection:
            yield connection

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """The database's own failures as one clear error naming the store."""
        try:
            yield
        except sa.exc.DBAPIError as exc:
            raise store_fault(self.location, exc) from exc
        except OSError as exc:
            raise store_fault(self.location, exc) from exc

    # -- reads ------------------------------------------------------------------------------
    def actions(self, status: str | None = None, unit: str | None = None) -> list[Action]:
        """Actions, oldest id first; ``unit`` keeps one unit's ('' the group's), None all."""
        with self._reading() as connection:
            return Transaction(connection).actions(status, unit)

    def action(self, action_id: str) -> Action:
        with self._reading() as connection:
            return Transaction(connection).action(action_id)

    def decisions(self, unit: str | None = None) -> list[Decision]:
        with self._reading() as connection:
            return Transaction(connection).decisions(unit)

    def events(self, entity_id: str | None = None, unit: str | None = None) -> list[Event]:
        """Events in order; ``unit`` keeps those of one unit's actions and decisions."""
        with self._reading() as connection:
            query = sa.select(events_table).order_by(events_table.c.seq)
            if entity_id is not None:
                query = query.where(events_table.c.entity_id == entity_id)
            if unit is not None:
                owned = sa.union(
                    sa.select(actions_table.c.id).where(actions_table.c.unit == unit),
                    sa.select(decisions_table.c.id).where(decisions_table.c.unit == unit),
                    sa.select(board_asks_table.c.id).where(board_asks_table.c.unit == unit),
                )
                query = query.where(events_table.c.entity_id.in_(owned))
            return [_event(row) for row in connection.execute(query).mappings()]

    def history(self, cadence: str, unit: str = "") -> StoreHistory:
        """Every event of the unit's actions and decisions and every recorded pack of
        ``cadence`` for the unit ('' the group, or the only, pack): what an evaluation needs
        from the store, read in one go."""
        return StoreHistory(events=tuple(self.events(unit=unit)),
                            packs=tuple(self.packs(cadence, unit)),
                            group_events=tuple(self.events(unit="")) if unit else ())

    def packs(self, cadence: str, unit: str = "") -> list[PackRecord]:
        """Packs of a cadence (and unit) recorded in the store, oldest first."""
        with self._reading() as connection:
            rows = connection.execute(
                sa.select(packs_table)
                .where((packs_table.c.cadence == cadence) & (packs_table.c.unit == unit))
                .order_by(packs_table.c.period_end)
            ).mappings()
            return [
                PackRecord(
                    row["cadence"], row["label"], dt.date.fromisoformat(row["period_end"]),
                    row["built_at"], json.loads(row["summary"]),
                )
                for row in rows
            ]

    # -- writes (each its own transaction) --------------------------------------------------
    def add_action(self, **values: Any) -> str:
        with self.transaction() as tx:
            return tx.add_action(**values)

    def update_action(self, action_id: str, changes: dict[str, Any], **context: Any) -> list[str]:
        with self.transaction() as tx:
            return tx.update_action(action_id, changes, **context)

    def add_decision(self, **values: Any) -> str:
        with self.transaction() as tx:
            return tx.add_decision(**values)

    def asks(self, status: str | None = None, unit: str | None = None) -> list[BoardAsk]:
        """Board asks, oldest id first; ``unit`` keeps one unit's ('' the group's), None all."""
        with self._reading() as connection:
            return Transaction(connection).asks(status, unit)

    def add_ask(self, **values: Any) -> str:
        with self.transaction() as tx:
            return tx.add_ask(**values)

    def update_ask(self, ask_id: str, changes: dict[str, Any], **context: Any) -> list[str]:
        with self.transaction() as tx:
            return tx.update_ask(ask_id, changes, **context)

    def record_pack(self, cadence: str, label: str, period_end: dt.date,
                    summary: dict[str, Any], unit: str = "") -> None:
        with self.transaction() as tx:
            tx.record_pack(cadence, label, period_end, summary, unit)

    def record_version(self, version: PackVersion) -> None:
        with self.transaction() as tx:
            tx.record_version(version)

    def versions(self, cadence: str, label: str, unit: str = "") -> list[PackVersion]:
        """The published versions of one pack (of ``unit``; '' the group or only pack), oldest
        first."""
        with self._reading() as connection:
            rows = connection.execute(
                sa.select(pack_versions_table).where(
                    (pack_versions_table.c.cadence == cadence)
                    & (pack_versions_table.c.label == label)
                    & (pack_versions_table.c.unit == unit)
                ).order_by(pack_versions_table.c.version)
            ).mappings()
            return [PackVersion(row["cadence"], row["label"], int(row["version"]),
                                row["published_at"], row["approver"],
                                json.loads(row["snapshot"]), row["unit"]) for row in rows]

    def narratives(self, cadence: str, label: str, unit: str = "") -> dict[str, StoredNarrative]:
        with self._reading() as connection:
            return Transaction(connection).narratives(cadence, label, unit)

    def save_narrative(self, **values: Any) -> int:
        with self.transaction() as tx:
            return tx.save_narrative(**values)

    def narrative_history(self, cadence: str, label: str, key: str,
                          unit: str = "") -> list[StoredNarrative]:
        with self._reading() as connection:
            return Transaction(connection).narrative_history(cadence, label, key, unit)

    def fingerprint(self, cadence: str, label: str, unit: str = "") -> str:
        """SHA-256 of everything a pack of ``cadence`` for ``label`` (of ``unit``) reads from
        the store: every action and decision event, the earlier packs it compares with, and
        its narrative."""
        history = self.history(cadence, unit)
        content = {
            "events": [[e.seq, e.entity, e.entity_id, e.field, e.old, e.new,
                        e.effective.isoformat(), e.recorded_at]
                       for e in (*history.events, *history.group_events)],
            "packs": [[p.label, p.summary] for p in history.packs if p.label != label],
            "narrative": {key: [n.revision, n.text]
                          for key, n in sorted(self.narratives(cadence, label, unit).items())},
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()
                              ).hexdigest()

    def dispose(self) -> None:
        self.engine.dispose()


class Transaction:
    """Reads and writes on one connection; inside :meth:`Store.transaction` they commit together."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _next(self, name: str) -> int:
        # UPDATE first: it takes the row lock (PostgreSQL) under the write lock (SQLite), so
        # concurrent writers serialise here and never hand out the same number.
        self.connection.execute(
            sa.update(counters).where(counters.c.name == name).values(value=counters.c.value + 1)
        )
        value = self.connection.execute(
            sa.select(counters.c.value).where(counters.c.name == name)
        ).scalar_one()
        return int(value)

    def _event(self, entity: str, entity_id: str, field_name: str, old: str | None,
               new: str | None, *, effective: dt.date, by: str, source: str) -> None:
        self.connection.execute(
            events_table.insert().values(
                entity=entity, entity_id=entity_id, field=field_name, old=old, new=new,
                effective=effective.isoformat(), recorded_at=_now(), by=by, source=source,
            )
        )

    def actions(self, status: str | None = None, unit: str | None = None) -> list[Action]:
        query = sa.select(actions_table).order_by(actions_table.c.id)
        if status is not None:
            query = query.where(actions_table.c.status == status)
        if unit is not None:
            query = query.where(actions_table.c.unit == unit)
        return [_action(row) for row in self.connection.execute(query).mappings()]

    def action(self, action_id: str) -> Action:
        row = self.connection.execute(
            sa.select(actions_table).where(actions_table.c.id == action_id)
        ).mappings().first()
        if row is None:
            raise UnknownRecord(f"unknown action id '{action_id}'; see `reviewkit actions list`")
        return _action(row)

    def has_action(self, action_id: str) -> bool:
        return self.connection.execute(
            sa.select(actions_table.c.id).where(actions_table.c.id == action_id)
        ).first() is not None

    def decisions(self, unit: str | None = None) -> list[Decision]:
        query = sa.select(decisions_table).order_by(decisions_table.c.id)
        if unit is not None:
            query = query.where(decisions_table.c.unit == unit)
        rows = self.connection.execute(query).mappings()
        return [_decision(row) for row in rows]

    def decision(self, decision_id: str) -> Decision:
        row = self.connection.execute(
            sa.select(decisions_table).where(decisions_table.c.id == decision_id)
        ).mappings().first()
        if row is None:
            raise UnknownRecord(f"unknown decision id '{decision_id}'")
        return _decision(row)

    def add_action(self, *, title: str, owner: str, due: dt.date, kpi_id: str | None = None,
                   raised_in: str | None = None, note: str = "", decision_id: str | None = None,
                   unit: str = "", effective: dt.date, by: str, source: str) -> str:
        action_id = f"A-{self._next('action'):04d}"
        values = {
            "id": action_id, "title": title, "owner": owner, "due": due.isoformat(),
            "status": "open", "kpi_id": kpi_id, "raised_in": raised_in,
            "raised_on": effective.isoformat(), "decision_id": decision_id, "note": note,
            **({"unit": unit} if unit else {}),
        }
        self.connection.execute(actions_table.insert().values(**values))
        self._event("action", action_id, "created", None, json.dumps(values, sort_keys=True),
                    effective=effective, by=by, source=source)
        return action_id

    def update_action(self, action_id: str, changes: dict[str, Any], *, effective: dt.date,
                      by: str, source: str) -> list[str]:
        """Apply changes; returns the fields that really changed (an event each).

        A change is dated no earlier than the field's last change (nor the action's raising):
        a pack replays the history in date order, the store keeps the last change made, and a
        change slipped in before a later one would leave the two disagreeing for good."""
        current = self.action(action_id)
        last = self._last_changes(action_id)
        changed: list[str] = []
        updates: dict[str, str | None] = {}
        for name, value in changes.items():
            if name not in ACTION_FIELDS:
                raise StoreError(f"actions have no field '{name}'")
            if value is None:
                continue
            new = value.isoformat() if isinstance(value, dt.date) else str(value)
            old_value = getattr(current, name)
            old = old_value.isoformat() if isinstance(old_value, dt.date) else old_value
            if name == "status" and new not in ACTION_STATUSES:
                raise StoreError(f"status '{new}' is not one of {', '.join(ACTION_STATUSES)}")
            if old == new:
                continue
            _check_order(action_id, name, effective, last)
            updates[name] = new
            changed.append(name)
            self._event("action", action_id, name, old, new, effective=effective, by=by,
                        source=source)
        if updates:
            self.connection.execute(
                sa.update(actions_table).where(actions_table.c.id == action_id).values(**updates)
            )
        return changed

    def add_decision(self, *, text: str, rationale: str = "", kpis: Sequence[str] = (),
                     review: str | None = None, action_ids: Sequence[str] = (),
                     unit: str = "", effective: dt.date, by: str, source: str) -> str:
        decision_id = f"D-{self._next('decision'):04d}"
        values = {
            "id": decision_id, "text": text, "rationale": rationale, "review": review,
            "decided_on": effective.isoformat(), "kpis": json.dumps(list(kpis)),
            "actions": json.dumps(list(action_ids)), **({"unit": unit} if unit else {}),
        }
        self.connection.execute(decisions_table.insert().values(**values))
        self._event("decision", decision_id, "created", None, json.dumps(values, sort_keys=True),
                    effective=effective, by=by, source=source)
        return decision_id

    def asks(self, status: str | None = None, unit: str | None = None) -> list[BoardAsk]:
        query = sa.select(board_asks_table).order_by(board_asks_table.c.id)
        if status is not None:
            query = query.where(board_asks_table.c.status == status)
        if unit is not None:
            query = query.where(board_asks_table.c.unit == unit)
        return [_ask(row) for row in self.connection.execute(query).mappings()]

    def ask(self, ask_id: str) -> BoardAsk:
        row = self.connection.execute(
            sa.select(board_asks_table).where(board_asks_table.c.id == ask_id)
        ).mappings().first()
        if row is None:
            raise UnknownRecord(f"unknown board ask id '{ask_id}'; see `reviewkit asks list`")
        return _ask(row)

    def has_ask(self, ask_id: str) -> bool:
        return self.connection.execute(
            sa.select(board_asks_table.c.id).where(board_asks_table.c.id == ask_id)
        ).first() is not None

    def add_ask(self, *, ask: str, owner: str, deadline: dt.date, options: Sequence[str] = (),
                recommendation: str = "", kpis: Sequence[str] = (),
                action_ids: Sequence[str] = (), review: str | None = None, unit: str = "",
                effective: dt.date, by: str, source: str) -> str:
        """Table an ask for the board; its id (B-0001)."""
        ask_id = f"B-{self._next('ask'):04d}"
        values = {
            "id": ask_id, "ask": ask, "options": json.dumps(list(options)),
            "recommendation": recommendation, "owner": owner, "deadline": deadline.isoformat(),
            "status": "tabled", "review": review, "raised_on": effective.isoformat(),
            "kpis": json.dumps(list(kpis)), "actions": json.dumps(list(action_ids)),
            "decision_id": None, **({"unit": unit} if unit else {}),
        }
        self.connection.execute(board_asks_table.insert().values(**values))
        self._event("ask", ask_id, "created", None, json.dumps(values, sort_keys=True),
                    effective=effective, by=by, source=source)
        return ask_id

    def update_ask(self, ask_id: str, changes: dict[str, Any], *, effective: dt.date, by: str,
                   source: str) -> list[str]:
        """Change an ask (its status when the board decides, defers or withdraws it); the
        fields that really changed, an event each."""
        row = self.connection.execute(
            sa.select(board_asks_table).where(board_asks_table.c.id == ask_id)
        ).mappings().first()
        if row is None:
            raise UnknownRecord(f"unknown board ask id '{ask_id}'; see `reviewkit asks list`")
        changed, updates = [], {}
        for name, value in changes.items():
            if name not in ASK_FIELDS:
                raise StoreError(f"board asks have no field '{name}'")
            if value is None:
                continue
            if name in ("options", "kpis", "actions"):
                new = json.dumps(list(value))
            elif isinstance(value, dt.date):
                new = value.isoformat()
            else:
                new = str(value)
            if name == "status" and new not in ASK_STATUSES:
                raise StoreError(f"status '{new}' is not one of {', '.join(ASK_STATUSES)}")
            if new == row[name]:
                continue
            updates[name] = new
            changed.append(name)
            self._event("ask", ask_id, name, row[name], new, effective=effective, by=by,
                        source=source)
        if updates:
            self.connection.execute(sa.update(board_asks_table).where(
                board_asks_table.c.id == ask_id).values(**updates))
        return changed

    def link_actions(self, decision_id: str, action_ids: Sequence[str], *,
                     effective: dt.date, by: str, source: str) -> None:
        """Record the actions a decision created (an event, like every other change)."""
        row = self.connection.execute(
            sa.select(decisions_table.c.actions).where(decisions_table.c.id == decision_id)
        ).first()
        if row is None:
            raise UnknownRecord(f"unknown decision id '{decision_id}'")
        new = json.dumps(list(action_ids))
        self.connection.execute(
            sa.update(decisions_table).where(decisions_table.c.id == decision_id)
            .values(actions=new)
        )
        self._event("decision", decision_id, "actions", row[0], new, effective=effective, by=by,
                    source=source)
        for action_id in action_ids:
            self.connection.execute(
                sa.update(actions_table).where(actions_table.c.id == action_id)
                .values(decision_id=decision_id)
            )

    def narratives(self, cadence: str, label: str, unit: str = "") -> dict[str, StoredNarrative]:
        rows = self.connection.execute(
            sa.select(narratives_table).where(
                (narratives_table.c.cadence == cadence) & (narratives_table.c.label == label)
                & (narratives_table.c.unit == unit)
            )
        ).mappings()
        return {row["key"]: _narrative(row) for row in rows}

    def narrative_history(self, cadence: str, label: str, key: str,
                          unit: str = "") -> list[StoredNarrative]:
        rows = self.connection.execute(
            sa.select(narrative_history).where(
                (narrative_history.c.cadence == cadence)
                & (narrative_history.c.label == label) & (narrative_history.c.key == key)
                & (narrative_history.c.unit == unit)
            ).order_by(narrative_history.c.seq)
        ).mappings()
        return [_narrative(row) for row in rows]

    def save_narrative(self, *, cadence: str, label: str, key: str, kpi_id: str | None,
                       text: str, basis: dict[str, Any], expected_revision: int, by: str,
                       source: str, unit: str = "") -> int:
        """Store a new revision; refuse when someone else saved since ``expected_revision``."""
        row = self.connection.execute(
            sa.select(narratives_table.c.revision, narratives_table.c.text,
                      narratives_table.c.basis).where(
                (narratives_table.c.cadence == cadence) & (narratives_table.c.label == label)
                & (narratives_table.c.unit == unit) & (narratives_table.c.key == key)
            )
        ).first()
        current = int(row[0]) if row else 0
        if current != expected_revision:
            raise NarrativeConflict(
                f"narrative '{key}' of {cadence} {label}{f' ({unit})' if unit else ''} changed "
                f"in the store since this copy was made (revision {expected_revision} → "
                f"{current})"
            )
        if row is not None and row[1] == text and json.loads(row[2] or "{}") == basis:
            return current  # nothing new (a text confirmed against new numbers is new)
        revision = current + 1
        at = _now()
        values = {"kpi_id": kpi_id, "text": text, "basis": json.dumps(basis, sort_keys=True),
                  "revision": revision, "updated_at": at, "updated_by": by}
        if row is None:
            self.connection.execute(
                narratives_table.insert().values(cadence=cadence, label=label, unit=unit, key=key,
                                                 **values)
            )
        else:
            self.connection.execute(
                sa.update(narratives_table).where(
                    (narratives_table.c.cadence == cadence) & (narratives_table.c.label == label)
                    & (narratives_table.c.unit == unit) & (narratives_table.c.key == key)
                ).values(**values)
            )
        self._narrative_history(cadence=cadence, label=label, unit=unit, key=key,
                                revision=revision, text=text, basis=basis, by=by, source=source,
                                at=at)
        return revision

    def keep_narrative_not_chosen(self, *, cadence: str, label: str, key: str, text: str,
                                  basis: dict[str, Any], revision: int, by: str, source: str,
                                  unit: str = "") -> None:
        """Record in the narrative's history a text that lost a conflict to the stored
        revision ``revision`` (``--prefer store``): the stored text stays current, and the
        words not chosen are kept, by whom and from where."""
        self._narrative_history(cadence=cadence, label=label, unit=unit, key=key,
                                revision=revision, text=text, basis=basis, by=by, source=source,
                                at=_now())

    def _narrative_history(self, *, cadence: str, label: str, unit: str, key: str,
                           revision: int, text: str, basis: dict[str, Any], by: str,
                           source: str, at: str) -> None:
        self.connection.execute(narrative_history.insert().values(
            cadence=cadence, label=label, unit=unit, key=key, revision=revision, text=text,
            basis=json.dumps(basis, sort_keys=True), updated_at=at, updated_by=by,
            source=source))

    def _last_changes(self, entity_id: str) -> dict[str, dt.date]:
        """The day of each field's last recorded change ('created': the day it was raised)."""
        rows = self.connection.execute(
            sa.select(events_table.c.field, sa.func.max(events_table.c.effective))
            .where(events_table.c.entity_id == entity_id).group_by(events_table.c.field))
        return {field: dt.date.fromisoformat(day) for field, day in rows}

    def has_event(self, entity_id: str, field_name: str, new: str, effective: dt.date) -> bool:
        """Whether this exact change (field to value, effective that day) was recorded before."""
        return self.connection.execute(
            sa.select(events_table.c.seq).where(
                (events_table.c.entity_id == entity_id) & (events_table.c.field == field_name)
                & (events_table.c.new == new) & (events_table.c.effective == effective.isoformat())
            )
        ).first() is not None

    def record_pack(self, cadence: str, label: str, period_end: dt.date,
                    summary: dict[str, Any], unit: str = "") -> None:
        """The pack of ``cadence``, ``label`` and ``unit`` ('' the group's) as built (replacing
        an earlier build of it)."""
        self.connection.execute(
            sa.delete(packs_table).where(
                (packs_table.c.cadence == cadence) & (packs_table.c.label == label)
                & (packs_table.c.unit == unit)
            )
        )
        self.connection.execute(
            packs_table.insert().values(
                cadence=cadence, label=label, unit=unit, period_end=period_end.isoformat(),
                built_at=_now(), summary=json.dumps(summary),
            )
        )

    def record_version(self, version: PackVersion) -> None:
        """A published version of a pack (refused if that version is recorded already: two
        publishes of the same pack at once; the second is told to publish again)."""
        taken = self.connection.execute(sa.select(pack_versions_table.c.version).where(
            (pack_versions_table.c.cadence == version.cadence)
            & (pack_versions_table.c.label == version.label)
            & (pack_versions_table.c.version == version.version)
            & (pack_versions_table.c.unit == version.unit))).first()
        if taken is not None:
            raise StoreError(f"version {version.version} of the {version.cadence} pack "
                             f"{version.label} was published meanwhile; publish again to make "
                             f"version {version.version + 1}")
        self.connection.execute(pack_versions_table.insert().values(
            cadence=version.cadence, label=version.label, version=version.version,
            unit=version.unit, published_at=version.published_at, approver=version.approver,
            snapshot=json.dumps(version.snapshot, sort_keys=True),
        ))
    def minutes_entries(self, review: str, unit: str = "") -> dict[str, MinutesEntry]:
        """The entries of a review's minutes as last imported, by entry."""
        rows = self.connection.execute(
            sa.select(minutes_entries).where(
                (minutes_entries.c.review == review) & (minutes_entries.c.unit == unit))
        ).mappings()
        return {row["entry"]: MinutesEntry(row["entry"], row["kind"], row["entity_id"],
                                           json.loads(row["content"])) for row in rows}

    def replace_minutes_entries(self, review: str, unit: str,
                                entries: Sequence[MinutesEntry]) -> None:
        """Remember a meeting's entries as imported now (replacing what they were)."""
        self.connection.execute(sa.delete(minutes_entries).where(
            (minutes_entries.c.review == review) & (minutes_entries.c.unit == unit)))
        if entries:
            self.connection.execute(minutes_entries.insert(), [
                {"review": review, "unit": unit, "entry": entry.entry, "kind": entry.kind,
                 "entity_id": entry.entity_id,
                 "content": json.dumps(entry.content, sort_keys=True)} for entry in entries])

    def lock_minutes(self) -> None:
        """Hold the minutes-import lock until this transaction ends (PostgreSQL; SQLite's
        BEGIN IMMEDIATE serialises every writer already)."""
        if self.connection.dialect.name == "postgresql":
            self.connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MINUTES_LOCK)))

    def created_by_minutes(self, entity_id: str) -> dict[str, Any] | None:
        """The values an action or decision was created with, when a minutes import made it."""
        row = self.connection.execute(
            sa.select(events_table.c.new, events_table.c.source).where(
                (events_table.c.entity_id == entity_id) & (events_table.c.field == "created"))
            .order_by(events_table.c.seq)
        ).first()
        if row is None or not str(row[1]).startswith("minutes ") or not row[0]:
            return None
        values = json.loads(row[0])
        return values if isinstance(values, dict) else None

    def units_of_imports(self, review: str) -> set[str]:
        """The units whose minutes of ``review`` were imported, as the records each import
        made or changed tell (an import that touched nothing counts as the group's: minutes
        of reviews from before units)."""
        units: set[str] = set()
        for (sha256,) in self.connection.execute(
                sa.select(imports_table.c.sha256).where(imports_table.c.review == review)):
            touched = sa.select(events_table.c.entity_id).where(
                events_table.c.source.like(f"minutes %sha256:{str(sha256)[:12]}"))
            found = {str(row[0]) for row in self.connection.execute(sa.union(
                sa.select(actions_table.c.unit).where(actions_table.c.id.in_(touched)),
                sa.select(decisions_table.c.unit).where(decisions_table.c.id.in_(touched))))}
            units |= found or {""}
        return units

    def update_decision(self, decision_id: str, changes: dict[str, Any], *, effective: dt.date,
                        by: str, source: str) -> list[str]:
        """Amend a decision's text, rationale or KPIs; the fields that really changed."""
        row = self.connection.execute(
            sa.select(decisions_table).where(decisions_table.c.id == decision_id)
        ).mappings().first()
        if row is None:
            raise UnknownRecord(f"unknown decision id '{decision_id}'")
        changed, updates = [], {}
        for name, value in changes.items():
            if name not in ("text", "rationale", "kpis"):
                raise StoreError(f"decisions have no field '{name}' to amend")
            new = json.dumps(list(value)) if name == "kpis" else str(value)
            if new == row[name]:
                continue
            updates[name] = new
            changed.append(name)
            self._event("decision", decision_id, name, row[name], new, effective=effective,
                        by=by, source=source)
        if updates:
            self.connection.execute(sa.update(decisions_table).where(
                decisions_table.c.id == decision_id).values(**updates))
        return changed

    def imported(self, sha256: str) -> bool:
        return self.connection.execute(
            sa.select(imports_table.c.sha256).where(imports_table.c.sha256 == sha256)
        ).first() is not None

    def record_import(self, *, sha256: str, file: str, review: str, by: str,
                      changes: int) -> None:
        self.connection.execute(
            imports_table.insert().values(sha256=sha256, file=file, review=review,
                                          imported_at=_now(), by=by, changes=changes)
        )


def _narrative(row: Any) -> StoredNarrative:
    return StoredNarrative(
        key=row["key"], kpi_id=row.get("kpi_id"), text=row["text"],
        basis=json.loads(row["basis"] or "{}"), revision=int(row["revision"]),
        updated_at=row["updated_at"], updated_by=row["updated_by"],
        source=row.get("source") or "",
    )


def _action(row: Any) -> Action:
    return Action(
        unit=row.get("unit") or "",
        id=row["id"], title=row["title"], owner=row["owner"],
        due=dt.date.fromisoformat(row["due"]), status=row["status"], kpi_id=row["kpi_id"],
        raised_in=row["raised_in"], raised_on=dt.date.fromisoformat(row["raised_on"]),
        decision_id=row["decision_id"], note=row["note"] or "",
    )


def _decision(row: Any) -> Decision:
    return Decision(
        unit=row.get("unit") or "",
        id=row["id"], text=row["text"], rationale=row["rationale"] or "", review=row["review"],
        decided_on=dt.date.fromisoformat(row["decided_on"]), kpis=json.loads(row["kpis"]),
        actions=json.loads(row["actions"]),
    )


def _ask(row: Any) -> BoardAsk:
    return BoardAsk(
        id=row["id"], ask=row["ask"], options=json.loads(row["options"] or "[]"),
        recommendation=row["recommendation"] or "", owner=row["owner"],
        deadline=dt.date.fromisoformat(row["deadline"]), status=row["status"],
        review=row["review"], raised_on=dt.date.fromisoformat(row["raised_on"]),
        kpis=json.loads(row["kpis"] or "[]"), actions=json.loads(row["actions"] or "[]"),
        decision_id=row["decision_id"], unit=row.get("unit") or "",
    )


def _check_order(entity_id: str, name: str, effective: dt.date,
                 last: Mapping[str, dt.date]) -> None:
    raised = last.get("created")
    if raised is not None and effective < raised:
        raise StoreError(f"{entity_id} was raised on {raised.isoformat()}; a change dated "
                         f"{effective.isoformat()} would come before it: date it "
                         f"{raised.isoformat()} or later")
    latest = last.get(name)
    if latest is not None and effective < latest:
        raise StoreError(f"{entity_id}'s {name} was last changed on {latest.isoformat()}; a "
                         f"change dated {effective.isoformat()} would come before it: date it "
                         f"{latest.isoformat()} or later")


def _event(row: Any) -> Event:
    return Event(
        seq=row["seq"], entity=row["entity"], entity_id=row["entity_id"], field=row["field"],
        old=row["old"], new=row["new"], effective=dt.date.fromisoformat(row["effective"]),
        recorded_at=row["recorded_at"], by=row["by"], source=row["source"],
    )
