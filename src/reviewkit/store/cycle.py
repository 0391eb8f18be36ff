"""The review cycle in the store: people, sign-in links, update rounds, owners' saved fields and
the audit log. Every change is one transaction that also writes its audit entry, so a change
and its record commit together or not at all.

A saved field carries a revision; a save names the revision it was made from, and a save made
from an older revision than the stored one is refused (:class:`FieldConflict`), never applied
over the other person's text: the same rule as the narrative store's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reviewkit import periods
from reviewkit.store.cycle_schema import (
    audit_table,
    round_history_table,
    round_owners_table,
    round_values_table,
    rounds_table,
    sign_in_links_table,
    users_table,
)
from reviewkit.store.database import Store, meta_table
from reviewkit.store.records import APPROVAL_FIELD, FieldValue, KpiUpdate, StoreError

ROLES = ("office", "analyst", "owner", "reader")
#: The fields of an owner's update of one KPI, in the order the page shows them.
KPI_FIELDS = ("value", "analysis", "recommendation", "status", "status_reason")
#: A status an owner may set instead of the one the data give.
OVERRIDE_STATUSES = ("green", "amber", "red")


def now() -> str:
    """The moment the review cycle records (UTC, whole seconds): reviewkit's one clock."""
    return periods.now().isoformat()


def same_owner(one: str, other: str) -> bool:
    """Whether two owner names are one owner: compared without case or surrounding spaces, as
    the catalog, the action log and the people file may write them differently."""
    return one.strip().casefold() == other.strip().casefold()


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: str
    owns: tuple[str, ...]
    units: tuple[str, ...]
    password_hash: str | None
    session_token: str
    active: bool
    library_seen_at: str | None

    def answers_for(self, owner: str) -> bool:
        """Whether this person answers for the owner named ``owner`` (names as the catalog and
        the action log write them: :func:`same_owner`)."""
        return any(same_owner(name, owner) for name in self.owns)

    def may_read(self, unit: str) -> bool:
        """Whether this person may read the packs of ``unit`` ('' or 'group': the group's, or
        the only, pack). The office and analysts read every pack."""
        if self.role in ("office", "analyst") or "all" in self.units:
            return True
        return (unit or "group") in self.units


@dataclass(frozen=True)
class Round:
    id: int
    cadence: str
    label: str
    period_end: dt.date
    params: str
    due: dt.date
    opened_at: str
    opened_by: str
    closed_at: str | None
    closed_by: str | None
    tasks: Mapping[str, Any]  # owner name -> {"kpis": [...]} as taken at opening

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def name(self) -> str:
        return f"{self.cadence} {self.label}"


@dataclass(frozen=True)
class OwnerProgress:
    owner: str
    started_at: str | None
    done_at: str | None
    done_by: str | None
    reminded_at: str | None

    def state(self, today: dt.date, due: dt.date) -> str:
        """done, late (past the due date and not done), started or not started."""
        if self.done_at:
            return "done"
        if today > due:
            return "late"
        return "started" if self.started_at else "not started"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    by: str
    what: str
    target: str
    detail: dict[str, Any]


class FieldConflict(StoreError):
    """Someone else saved a field since the copy being saved was made; nothing was saved."""

    def __init__(self, conflicts: Sequence[FieldValue]) -> None:
        self.conflicts = tuple(conflicts)
        names = ", ".join(f"{c.field} of {c.kpi_id}" for c in conflicts)
        super().__init__(f"{names} changed since you opened the page; nothing was saved")


class RoundClosed(StoreError):
    """A change to a round that was closed when the change reached the store; nothing was
    changed."""

    def __init__(self, round_id: int) -> None:
        self.round_id = round_id
        super().__init__(f"round {round_id} is closed; nothing was changed")


class PersonExists(StoreError):
    """A person added anew whose e-mail address an active account has; nothing was changed."""

    def __init__(self, user: User) -> None:
        self.user = user
        super().__init__(f"{user.email} already has an account ({user.name}, {user.role}); "
                         "nothing was changed")


def _refuse_closed(connection: Any, round_id: int) -> None:
    """Raise :class:`RoundClosed` when the round is closed (as this transaction sees it)."""
    closed = connection.execute(sa.select(rounds_table.c.closed_at).where(
        rounds_table.c.id == round_id)).scalar()
    if closed is not None:
        raise RoundClosed(round_id)


def _user(row: Any) -> User:
    return User(id=int(row["id"]), email=row["email"], name=row["name"], role=row["role"],
                owns=tuple(json.loads(row["owns"] or "[]")),
                units=tuple(json.loads(row["units"] or "[]")),
                password_hash=row["password_hash"], session_token=row["session_token"],
                active=bool(row["active"]), library_seen_at=row["library_seen_at"])


def _round(row: Any) -> Round:
    return Round(id=int(row["id"]), cadence=row["cadence"], label=row["label"],
                 period_end=dt.date.fromisoformat(row["period_end"]), params=row["params"],
                 due=dt.date.fromisoformat(row["due"]), opened_at=row["opened_at"],
                 opened_by=row["opened_by"], closed_at=row["closed_at"],
                 closed_by=row["closed_by"], tasks=json.loads(row["tasks"]))


def _value(row: Any) -> FieldValue:
    return FieldValue(kpi_id=row["kpi_id"], unit=row["unit"], field=row["field"],
                      text=row["text"], revision=int(row["revision"]),
                      updated_at=row["updated_at"], updated_by=row["updated_by"])


class CycleStore:
    """The review cycle's reads and writes on a :class:`Store` (which owns the connections)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.store.transaction() as tx:
            yield tx.connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.store._reading() as connection:
            yield connection

    # -- the audit log -----------------------------------------------------------------------
    @staticmethod
    def _audit(connection: Connection, by: str, what: str, target: str,
               detail: Mapping[str, Any] | None = None) -> None:
        connection.execute(audit_table.insert().values(
            at=now(), by=by, what=what, target=target,
            detail=json.dumps(dict(detail or {}), sort_keys=True, ensure_ascii=False)))

    def audit(self, by: str, what: str, target: str,
              detail: Mapping[str, Any] | None = None) -> None:
        with self._write() as connection:
            self._audit(connection, by, what, target, detail)

    def audit_entries(self, limit: int = 500) -> list[AuditEntry]:
        with self._read() as connection:
            rows = connection.execute(sa.select(audit_table).order_by(
                audit_table.c.seq.desc()).limit(limit)).mappings()
            return [AuditEntry(int(r["seq"]), r["at"], r["by"], r["what"], r["target"],
                               json.loads(r["detail"])) for r in rows]

    # -- the application's secret ------------------------------------------------------------
    def secret_key(self) -> str:
        """The key that signs session cookies and sign-in links, made once and kept in the
        store, so a restarted server keeps everyone signed in."""
        with self._write() as connection:
            row = connection.execute(sa.select(meta_table.c.value).where(
                meta_table.c.key == "serve_secret_key")).first()
            if row is not None:
                return str(row[0])
            key = secrets.token_hex(32)
            connection.execute(meta_table.insert().values(key="serve_secret_key", value=key))
            return key

    # -- people ------------------------------------------------------------------------------
    def add_user(self, *, email: str, name: str, role: str, owns: Sequence[str] = (),
                 units: Sequence[str] = (), password_hash: str | None = None,
                 by: str, reactivate: bool = True, replace: bool = True) -> User:
        """A new person, or the same person's details replaced (their password is kept unless
        a new one is given). A deactivated person becomes active again only with
        ``reactivate``: a people file read again must not bring back someone who left.
        Without ``replace``, an active person with that address is :class:`PersonExists`
        (checked in the same transaction, so two people adding at once cannot both write)."""
        email = email.strip().lower()
        if role not in ROLES:
            raise StoreError(f"role '{role}' is not one of {', '.join(ROLES)}")
        values: dict[str, Any] = {"name": name, "role": role, "owns": json.dumps(list(owns)),
                                  "units": json.dumps(list(units))}
        with self._write() as connection:
            row = connection.execute(sa.select(users_table).where(
                users_table.c.email == email)).mappings().first()
            if row is None:
                connection.execute(users_table.insert().values(
                    email=email, password_hash=password_hash, created_at=now(),
                    session_token=secrets.token_hex(16), active=True, **values))
                what = "person added"
            else:
                if not replace and row["active"]:
                    raise PersonExists(_user(row))
                if password_hash is not None:
                    values.update(password_hash=password_hash,
                                  session_token=secrets.token_hex(16))
                if reactivate:
                    values["active"] = True
                connection.execute(sa.update(users_table).where(
                    users_table.c.email == email).values(**values))
                what = "person changed"
            self._audit(connection, by, what, email, {"role": role, "owns": list(owns),
                                                      "units": list(units)})
            user = connection.execute(sa.select(users_table).where(
                users_table.c.email == email)).mappings().one()
            return _user(user)

    def users(self) -> list[User]:
        with self._read() as connection:
            rows = connection.execute(sa.select(users_table).order_by(
                users_table.c.role, users_table.c.name)).mappings()
            return [_user(row) for row in rows]

    def user(self, user_id: int) -> User | None:
        with self._read() as connection:
            row = connection.execute(sa.select(users_table).where(
                users_table.c.id == user_id)).mappings().first()
            return _user(row) if row else None

    def user_by_email(self, email: str) -> User | None:
        with self._read() as connection:
            row = connection.execute(sa.select(users_table).where(
                users_table.c.email == email.strip().lower())).mappings().first()
            return _user(row) if row else None

    def set_password(self, user_id: int, password_hash: str, *, by: str) -> None:
        """A new password; every session signed in before it ends."""
        with self._write() as connection:
            connection.execute(sa.update(users_table).where(users_table.c.id == user_id).values(
                password_hash=password_hash, session_token=secrets.token_hex(16)))
            self._audit(connection, by, "password set", str(user_id))

    def rehash_password(self, user_id: int, password_hash: str) -> None:
        """The same password, hashed with today's parameters (sessions stay)."""
        with self._write() as connection:
            connection.execute(sa.update(users_table).where(users_table.c.id == user_id).values(
                password_hash=password_hash))

    def end_sessions(self, user_id: int) -> None:
        with self._write() as connection:
            connection.execute(sa.update(users_table).where(users_table.c.id == user_id).values(
                session_token=secrets.token_hex(16)))

    def deactivate(self, email: str, *, by: str) -> User | None:
        """Someone who left: they can no longer sign in and every session of theirs ends; their
        history (audit entries, values they saved) stays. None when no one has that address.
        Adding them again makes them active."""
        email = email.strip().lower()
        with self._write() as connection:
            changed = connection.execute(sa.update(users_table).where(
                users_table.c.email == email).values(
                    active=False, session_token=secrets.token_hex(16))).rowcount
            if not changed:
                return None
            self._audit(connection, by, "person deactivated", email)
            row = connection.execute(sa.select(users_table).where(
                users_table.c.email == email)).mappings().one()
            return _user(row)

    def library_seen(self, user_id: int, at: str) -> None:
        with self._write() as connection:
            connection.execute(sa.update(users_table).where(users_table.c.id == user_id).values(
                library_seen_at=at))

    # -- one-time sign-in links --------------------------------------------------------------
    def record_link(self, user_id: int, purpose: str) -> str:
        nonce = secrets.token_urlsafe(24)
        with self._write() as connection:
            connection.execute(sign_in_links_table.insert().values(
                nonce=nonce, user_id=user_id, purpose=purpose, created_at=now()))
        return nonce

    def use_link(self, nonce: str, user_id: int) -> bool:
        """Mark a link used; False when it was used before (or never made). One statement, so
        two clicks at once sign in once."""
        with self._write() as connection:
            result = connection.execute(sa.update(sign_in_links_table).where(
                (sign_in_links_table.c.nonce == nonce)
                & (sign_in_links_table.c.user_id == user_id)
                & sign_in_links_table.c.used_at.is_(None)).values(used_at=now()))
            used = result.rowcount == 1
            if used:
                self._audit(connection, str(user_id), "sign-in link used", str(user_id))
            return used

    # -- rounds ------------------------------------------------------------------------------
    def open_round(self, *, cadence: str, label: str, period_end: dt.date, params: str,
                   due: dt.date, tasks: Mapping[str, Any], by: str) -> Round:
        with self._write() as connection:
            taken = connection.execute(sa.select(rounds_table.c.id).where(
                (rounds_table.c.cadence == cadence) & (rounds_table.c.label == label)
                & (rounds_table.c.params == params))).first()
            if taken is not None:
                raise StoreError(f"a {cadence} round for {label} is open already (round "
                                 f"{taken[0]}); change its due date or close it")
            result = connection.execute(rounds_table.insert().values(
                cadence=cadence, label=label, period_end=period_end.isoformat(), params=params,
                due=due.isoformat(), opened_at=now(), opened_by=by,
                tasks=json.dumps(dict(tasks), sort_keys=True, ensure_ascii=False)))
            round_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            for owner in tasks:
                connection.execute(round_owners_table.insert().values(round_id=round_id,
                                                                      owner=owner))
            self._audit(connection, by, "round opened", f"{cadence} {label}",
                        {"round": round_id, "due": due.isoformat(), "params": params})
            row = connection.execute(sa.select(rounds_table).where(
                rounds_table.c.id == round_id)).mappings().one()
            return _round(row)

    def rounds(self) -> list[Round]:
        with self._read() as connection:
            rows = connection.execute(sa.select(rounds_table).order_by(
                rounds_table.c.period_end.desc(), rounds_table.c.id.desc())).mappings()
            return [_round(row) for row in rows]

    def round(self, round_id: int) -> Round | None:
        with self._read() as connection:
            row = connection.execute(sa.select(rounds_table).where(
                rounds_table.c.id == round_id)).mappings().first()
            return _round(row) if row else None

    def round_for(self, cadence: str, label: str, params: str) -> Round | None:
        with self._read() as connection:
            row = connection.execute(sa.select(rounds_table).where(
                (rounds_table.c.cadence == cadence) & (rounds_table.c.label == label)
                & (rounds_table.c.params == params))).mappings().first()
            return _round(row) if row else None

    def close_round(self, round_id: int, *, by: str, reopen: bool = False) -> None:
        with self._write() as connection:
            connection.execute(sa.update(rounds_table).where(rounds_table.c.id == round_id)
                               .values(closed_at=None if reopen else now(),
                                       closed_by=None if reopen else by))
            self._audit(connection, by, "round reopened" if reopen else "round closed",
                        str(round_id))

    def set_due(self, round_id: int, due: dt.date, *, by: str) -> None:
        with self._write() as connection:
            connection.execute(sa.update(rounds_table).where(rounds_table.c.id == round_id)
                               .values(due=due.isoformat()))
            self._audit(connection, by, "round due date", str(round_id),
                        {"due": due.isoformat()})

    def progress(self, round_id: int) -> dict[str, OwnerProgress]:
        with self._read() as connection:
            rows = connection.execute(sa.select(round_owners_table).where(
                round_owners_table.c.round_id == round_id).order_by(
                round_owners_table.c.owner)).mappings()
            return {row["owner"]: OwnerProgress(row["owner"], row["started_at"], row["done_at"],
                                                row["done_by"], row["reminded_at"])
                    for row in rows}

    @staticmethod
    def _started(connection: Connection, round_id: int, owners: Sequence[str]) -> None:
        connection.execute(sa.update(round_owners_table).where(
            (round_owners_table.c.round_id == round_id)
            & round_owners_table.c.owner.in_(list(owners))
            & round_owners_table.c.started_at.is_(None)).values(started_at=now()))

    def set_started(self, round_id: int, owners: Sequence[str]) -> None:
        with self._write() as connection:
            self._started(connection, round_id, owners)

    def set_done(self, round_id: int, owners: Sequence[str], done: bool, *, by: str) -> None:
        """Tick (or untick) the owners' pages of a round as done."""
        with self._write() as connection:
            _refuse_closed(connection, round_id)
            self._started(connection, round_id, owners)
            connection.execute(sa.update(round_owners_table).where(
                (round_owners_table.c.round_id == round_id)
                & round_owners_table.c.owner.in_(list(owners))).values(
                done_at=now() if done else None, done_by=by if done else None))
            self._audit(connection, by, "owner done" if done else "owner not done",
                        str(round_id), {"owners": list(owners)})

    def reminded(self, round_id: int, owners: Sequence[str], *, by: str) -> None:
        with self._write() as connection:
            connection.execute(sa.update(round_owners_table).where(
                (round_owners_table.c.round_id == round_id)
                & round_owners_table.c.owner.in_(list(owners))).values(reminded_at=now()))
            self._audit(connection, by, "reminder sent", str(round_id),
                        {"owners": list(owners)})

    # -- owners' updates of KPIs -------------------------------------------------------------
    def values(self, round_id: int) -> dict[tuple[str, str], KpiUpdate]:
        """Every KPI update of a round, by (KPI id, unit)."""
        with self._read() as connection:
            rows = connection.execute(sa.select(round_values_table).where(
                round_values_table.c.round_id == round_id)).mappings()
            found: dict[tuple[str, str], dict[str, FieldValue]] = {}
            for row in rows:
                value = _value(row)
                found.setdefault((value.kpi_id, value.unit), {})[value.field] = value
        return {key: KpiUpdate(key[0], key[1], fields) for key, fields in found.items()}

    def save_fields(self, round_id: int, kpi_id: str, unit: str,
                    changes: Mapping[str, tuple[str, int]], *, by: str,
                    owners: Sequence[str] = ()) -> list[str]:
        """Save ``changes`` (field -> (text, the revision it was made from)) of one KPI's
        update, all or none; the fields whose text really changed.

        A field saved by someone else since its revision was read is a :class:`FieldConflict`
        naming every such field, and nothing is saved. ``owners`` are the owner names the
        saver answers for: their pages count as started. A status or reason changed after the
        office approved it clears the approval in the same transaction (in the history too).
        """
        saved: list[str] = []
        with self._write() as connection:
            # In the transaction that saves: a close that reached the store first wins.
            _refuse_closed(connection, round_id)
            rows = connection.execute(sa.select(round_values_table).where(
                (round_values_table.c.round_id == round_id)
                & (round_values_table.c.kpi_id == kpi_id)
                & (round_values_table.c.unit == unit))).mappings()
            stored = {row["field"]: _value(row) for row in rows}
            conflicts = [stored[name] for name, (_, revision) in changes.items()
                         if name in stored and stored[name].revision != revision]
            conflicts += [FieldValue(kpi_id, unit, name, "", 0, "", "")
                          for name, (_, revision) in changes.items()
                          if name not in stored and revision != 0]
            if conflicts:
                raise FieldConflict(conflicts)
            at = now()

            def put(name: str, current: FieldValue | None, text: str) -> None:
                """The field's new revision, and the same in the round's history."""
                values = {"text": text, "revision": (current.revision if current else 0) + 1,
                          "updated_at": at, "updated_by": by}
                if current is None:
                    connection.execute(round_values_table.insert().values(
                        round_id=round_id, kpi_id=kpi_id, unit=unit, field=name, **values))
                else:
                    connection.execute(sa.update(round_values_table).where(
                        (round_values_table.c.round_id == round_id)
                        & (round_values_table.c.kpi_id == kpi_id)
                        & (round_values_table.c.unit == unit)
                        & (round_values_table.c.field == name)).values(**values))
                connection.execute(round_history_table.insert().values(
                    round_id=round_id, kpi_id=kpi_id, unit=unit, field=name, **values))

            for name, (text, _) in changes.items():
                current = stored.get(name)
                if current is not None and current.text == text:
                    continue
                if current is None and not text:
                    continue
                put(name, current, text)
                saved.append(name)
            approval = stored.get(APPROVAL_FIELD)
            reworded = [name for name in saved if name in ("status", "status_reason")]
            if reworded and approval is not None and approval.text \
                    and APPROVAL_FIELD not in changes:
                # The office approved a statement that no longer stands as written: it
                # approves the new one, and the history says whose save took the approval away.
                put(APPROVAL_FIELD, approval, "")
                self._audit(connection, by, "status approval withdrawn",
                            f"{kpi_id}@{unit or 'group'}",
                            {"round": round_id, "changed": reworded})
            if saved:
                if owners:
                    self._started(connection, round_id, owners)
                self._audit(connection, by, "KPI update saved", f"{kpi_id}@{unit or 'group'}",
                            {"round": round_id, "fields": saved})
        return saved

    def texts_at(self, round_id: int, kpi_id: str, unit: str,
                 revisions: Mapping[str, int]) -> dict[str, str]:
        """The text each field had at the given revision (what a page showed); '' for 0."""
        texts = {name: "" for name in revisions}
        wanted = {name: rev for name, rev in revisions.items() if rev > 0}
        if not wanted:
            return texts
        with self._read() as connection:
            rows = connection.execute(sa.select(
                round_history_table.c.field, round_history_table.c.revision,
                round_history_table.c.text).where(
                (round_history_table.c.round_id == round_id)
                & (round_history_table.c.kpi_id == kpi_id)
                & (round_history_table.c.unit == unit)
                & round_history_table.c.field.in_(list(wanted)))).all()
        for name, revision, text in rows:
            if wanted.get(name) == int(revision):
                texts[name] = text
        return texts

    def history(self, round_id: int, kpi_id: str | None = None) -> list[FieldValue]:
        with self._read() as connection:
            query = sa.select(round_history_table).where(
                round_history_table.c.round_id == round_id)
            if kpi_id is not None:
                query = query.where(round_history_table.c.kpi_id == kpi_id)
            rows = connection.execute(query.order_by(round_history_table.c.seq)).mappings()
            return [_value(row) for row in rows]

    def fingerprint(self, cadence: str, label: str, unit: str,
                    params: str) -> tuple[str, int] | None:
        """SHA-256 of every field owners saved for this pack (of the definition ``params``) in
        its period's round, and how many; None when no round was opened for it."""
        with self._read() as connection:
            ids = [row[0] for row in connection.execute(sa.select(rounds_table.c.id).where(
                (rounds_table.c.cadence == cadence) & (rounds_table.c.label == label)
                & (rounds_table.c.params == params)))]
            if not ids:
                return None
            rows = connection.execute(sa.select(
                round_values_table.c.round_id, round_values_table.c.kpi_id,
                round_values_table.c.field, round_values_table.c.revision,
                round_values_table.c.text).where(
                round_values_table.c.round_id.in_(ids) & (round_values_table.c.unit == unit))
                .order_by(round_values_table.c.round_id, round_values_table.c.kpi_id,
                          round_values_table.c.field)).all()
        content = json.dumps([list(row) for row in rows], ensure_ascii=False)
        return hashlib.sha256(content.encode()).hexdigest(), len(rows)

    def updates_for_pack(self, cadence: str, label: str, params: str,
                         unit: str | None = None) -> tuple[KpiUpdate, ...]:
        """What owners wrote in the round of a pack (its cadence, period and params file; one
        unit's, or None: every unit's), for the build; none when no round was opened for it."""
        found = self.round_for(cadence, label, params)
        if found is None:
            return ()
        return tuple(update for (_, owner_unit), update in sorted(self.values(found.id).items())
                     if unit is None or owner_unit == unit)
