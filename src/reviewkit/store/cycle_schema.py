"""The review cycle's tables: people and their sign-in links, update rounds with each owner's
progress, every saved field of an owner's update (with its history), and the audit log.

Kept apart from the action store's tables so :mod:`reviewkit.store.database` only names the
migration that creates them; :mod:`reviewkit.store.cycle` reads and writes them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

metadata = sa.MetaData()

users_table = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),  # lower case
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # office | analyst | owner | reader
    sa.Column("owns", sa.Text, nullable=False, server_default="[]"),  # owner names (JSON)
    sa.Column("units", sa.Text, nullable=False, server_default="[]"),  # unit ids, "group" (JSON)
    sa.Column("password_hash", sa.Text),
    # Rotated at sign-out and on a new password: a session cookie naming an old one is void.
    sa.Column("session_token", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("library_seen_at", sa.String(32)),
    sa.Column("created_at", sa.String(32), nullable=False),
)
sign_in_links_table = sa.Table(
    "sign_in_links", metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),  # sign-in | invitation
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("used_at", sa.String(32)),
)
rounds_table = sa.Table(
    "rounds", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cadence", sa.String(16), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("period_end", sa.String(10), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # the params file the round is for
    sa.Column("due", sa.String(10), nullable=False),
    sa.Column("opened_at", sa.String(32), nullable=False),
    sa.Column("opened_by", sa.Text, nullable=False),
    sa.Column("closed_at", sa.String(32)),
    sa.Column("closed_by", sa.Text),
    # What each owner updates, taken when the round opened (JSON): KPIs with their figures.
    sa.Column("tasks", sa.Text, nullable=False),
    sa.UniqueConstraint("cadence", "label", "params", name="rounds_one_per_period"),
)
round_owners_table = sa.Table(
    "round_owners", metadata,
    sa.Column("round_id", sa.Integer, primary_key=True),
    sa.Column("owner", sa.String(200), primary_key=True),
    sa.Column("started_at", sa.String(32)),
    sa.Column("done_at", sa.String(32)),
    sa.Column("done_by", sa.Text),
    sa.Column("reminded_at", sa.String(32)),
)
round_values_table = sa.Table(
    "round_values", metadata,
    sa.Column("round_id", sa.Integer, primary_key=True),
    sa.Column("kpi_id", sa.String(128), primary_key=True),
    sa.Column("unit", sa.String(64), primary_key=True),
    sa.Column("field", sa.String(32), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
)
round_history_table = sa.Table(
    "round_history", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("round_id", sa.Integer, nullable=False, index=True),
    sa.Column("kpi_id", sa.String(128), nullable=False),
    sa.Column("unit", sa.String(64), nullable=False),
    sa.Column("field", sa.String(32), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
)
audit_table = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("by", sa.Text, nullable=False),
    sa.Column("what", sa.String(64), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
)

TABLES = (users_table, sign_in_links_table, rounds_table, round_owners_table,
          round_values_table, round_history_table, audit_table)

#: The tables and columns the review-cycle migration adds (the store's schema check reads it;
#: written out, as what this version was, not read from the definitions above).
ADDS: dict[str, tuple[str, ...]] = {
    "users": ("id", "email", "name", "role", "owns", "units", "password_hash", "session_token",
              "active", "library_seen_at", "created_at"),
    "sign_in_links": ("nonce", "user_id", "purpose", "created_at", "used_at"),
    "rounds": ("id", "cadence", "label", "period_end", "params", "due", "opened_at",
               "opened_by", "closed_at", "closed_by", "tasks"),
    "round_owners": ("round_id", "owner", "started_at", "done_at", "done_by", "reminded_at"),
    "round_values": ("round_id", "kpi_id", "unit", "field", "text", "revision", "updated_at",
                     "updated_by"),
    "round_history": ("seq", "round_id", "kpi_id", "unit", "field", "revision", "text",
                      "updated_at", "updated_by"),
    "audit_log": ("seq", "at", "by", "what", "target", "detail"),
}


def migrate_add_review_cycle(connection: Connection) -> None:
    """The review cycle: people, rounds, owners' updates and the audit log."""
    metadata.create_all(connection, tables=list(TABLES))
