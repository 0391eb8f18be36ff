"""Stores as earlier versions of reviewkit wrote them, for the migration tests: the schema
of each version as created then, written with plain SQL (not today's table definitions)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

#: The version 2 schema, as reviewkit 0.1 created it (before units and minutes entries).
V2_SCHEMA = """
CREATE TABLE reviewkit_meta (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE counters (name VARCHAR(32) PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE actions (id VARCHAR(16) PRIMARY KEY, title TEXT NOT NULL, owner TEXT NOT NULL,
  due VARCHAR(10) NOT NULL, status VARCHAR(16) NOT NULL, kpi_id VARCHAR(128),
  raised_in VARCHAR(64), raised_on VARCHAR(10) NOT NULL, decision_id VARCHAR(16),
  note TEXT DEFAULT '' NOT NULL);
CREATE TABLE decisions (id VARCHAR(16) PRIMARY KEY, text TEXT NOT NULL,
  rationale TEXT DEFAULT '' NOT NULL, review VARCHAR(64), decided_on VARCHAR(10) NOT NULL,
  kpis TEXT DEFAULT '[]' NOT NULL, actions TEXT DEFAULT '[]' NOT NULL);
CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, entity VARCHAR(16) NOT NULL,
  entity_id VARCHAR(16) NOT NULL, field VARCHAR(32) NOT NULL, old TEXT, new TEXT,
  effective VARCHAR(10) NOT NULL, recorded_at VARCHAR(32) NOT NULL, by TEXT NOT NULL,
  source TEXT NOT NULL);
CREATE TABLE minutes_imports (sha256 VARCHAR(64) PRIMARY KEY, file TEXT NOT NULL,
  review VARCHAR(64) NOT NULL, imported_at VARCHAR(32) NOT NULL, by TEXT NOT NULL,
  changes INTEGER NOT NULL);
CREATE TABLE packs (cadence VARCHAR(16), label VARCHAR(16), period_end VARCHAR(10) NOT NULL,
  built_at VARCHAR(32) NOT NULL, summary TEXT NOT NULL, PRIMARY KEY (cadence, label));
CREATE TABLE narratives (cadence VARCHAR(16), label VARCHAR(16), key VARCHAR(128),
  kpi_id VARCHAR(128), text TEXT NOT NULL, basis TEXT DEFAULT '{}' NOT NULL,
  revision INTEGER NOT NULL, updated_at VARCHAR(32) NOT NULL, updated_by TEXT NOT NULL,
  PRIMARY KEY (cadence, label, key));
CREATE TABLE narrative_history (seq INTEGER PRIMARY KEY AUTOINCREMENT,
  cadence VARCHAR(16) NOT NULL, label VARCHAR(16) NOT NULL, key VARCHAR(128) NOT NULL,
  revision INTEGER NOT NULL, text TEXT NOT NULL, basis TEXT NOT NULL,
  updated_at VARCHAR(32) NOT NULL, updated_by TEXT NOT NULL, source TEXT NOT NULL);
INSERT INTO reviewkit_meta VALUES ('schema_version', '2');
"""


def write_store(path: Path, *scripts: str) -> Path:
    """An SQLite store at ``path`` made by running SQL scripts (statements end with ';')."""
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            for script in scripts:
                for statement in script.split(";"):
                    if statement.strip():
                        connection.exec_driver_sql(statement)
    finally:
        engine.dispose()
    return path
