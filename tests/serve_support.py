"""A review cycle to test against: the demo's data as a definition with one unit (North
General) under the group, a catalog whose service-desk satisfaction is measured by hand, a real
local SMTP server (aiosmtpd) and the people of each role."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from reviewkit.serve import people, rounds
from reviewkit.serve.app import create_app
from reviewkit.store.cycle import CycleStore, Round, User
from reviewkit.store.database import Store

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
PASSWORD = "correct horse battery staple"
PERIOD = "2026-11-20"
#: Cheap argon2 parameters: the suite hashes dozens of passwords; production keeps the default.
TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Inbox:
    """What the local SMTP server received, as parsed messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage) -> str:
    found = re.search(r"https?://\S+/sign-in/link/\S+", body_of(message))
    assert found, body_of(message)
    return found[0]


@dataclass
class Cycle:
    """The definition, its store, the people by role and the open round."""

    root: Path
    params: Path
    smtp_port: int
    inbox: Inbox
    users: dict[str, User] = field(default_factory=dict)
    round: Round | None = None

    def app(self, **config: Any) -> Flask:
        return create_app([self.params], packs=self.root / "packs",
                          config={"TESTING": True, **config})

    @staticmethod
    def sign_in(app: Flask, user: User) -> FlaskClient:
        """A client signed in as ``user`` (its session as Flask-Login keeps it)."""
        client = app.test_client()
        fresh = CycleStore(app.extensions["reviewkit"].store).user(user.id)
        assert fresh is not None
        with client.session_transaction() as session:
            session["_user_id"] = f"{fresh.id}:{fresh.session_token}"
            session["_fresh"] = True
        return client


def write_definition(root: Path, smtp_port: int, port: int = 8000) -> Path:
    """The demo's data with one unit (its hand-measured KPI included) and the serve settings."""
    catalog = (DEMO / "kpis.yaml").read_text(encoding="utf-8")
    assert "    manual: true\n" in catalog  # the demo's service-desk satisfaction
    # Per-unit owners of the units this definition leaves out would name no unit of it.
    catalog = re.sub(r"(?m)^      (?!NGH:)[A-Z]+: .*\n", "", catalog)
    (root / "kpis.yaml").write_text(catalog, encoding="utf-8")
    params = root / "weekly.yaml"
    params.write_text(
        "organisation: Northwind IT\ntitle: Weekly Operational Review\n"
        f"catalog: kpis.yaml\nmeasurements: {DEMO / 'measurements.csv'}\n"
        "store: review.sqlite\n"
        "units:\n  - id: north-general\n    segment: NGH\n    name: North General Hospital\n"
        f"serve:\n  url: http://127.0.0.1:{port}\n  sign_in_limit: 1000 per minute\n"
        f"  smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: "
        "'Governance Office <office@northwind.example>'}\n",
        encoding="utf-8")
    return params


def cycle_people(store: Store) -> dict[str, User]:
    cycle = CycleStore(store)
    hashed = people.hash_password(PASSWORD)
    made = {
        "office": cycle.add_user(email="olive@northwind.example", name="Olive Ward",
                                 role="office", units=["all"], password_hash=hashed, by="test"),
        "analyst": cycle.add_user(email="ana@northwind.example", name="Ana Lyst",
                                  role="analyst", units=["all"], password_hash=hashed,
                                  by="test"),
        "owner": cycle.add_user(email="chris@northwind.example", name="Chris Moyo",
                                role="owner", owns=["Change Manager"], units=["all"],
                                password_hash=hashed, by="test"),
        "deputy": cycle.add_user(email="dee@northwind.example", name="Dee Puty", role="owner",
                                 owns=["Change Manager"], units=["all"], password_hash=hashed,
                                 by="test"),
        "desk": cycle.add_user(email="sam@northwind.example", name="Sam Desk", role="owner",
                               owns=["Service Desk Lead", "Site IT Lead, North General"],
                               units=["north-general"], password_hash=hashed, by="test"),
        "infra": cycle.add_user(email="ira@northwind.example", name="Ira Fraser", role="owner",
                                owns=["Head of Infrastructure"], units=["north-general"],
                                password_hash=hashed, by="test"),
        "reader": cycle.add_user(email="priya@northwind.example", name="Priya Raman",
                                 role="reader", units=["north-general"], password_hash=hashed,
                                 by="test"),
        "board": cycle.add_user(email="bo@northwind.example", name="Bo Ard", role="reader",
                                units=["group"], password_hash=hashed, by="test"),
    }
    return made


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def make_cycle(root: Path, smtp: tuple[int, Inbox], port: int = 8000) -> Cycle:
    people.set_hasher(TEST_HASHER)
    people.refresh_dummy()
    params = write_definition(root, smtp[0], port)
    store = Store.open(str(root / "review.sqlite"))
    try:
        made = Cycle(root, params, smtp[0], smtp[1], cycle_people(store))
        made.round = rounds.open_round(store, params, "weekly", period=PERIOD,
                                       due="2099-12-31", by="Olive Ward")
    finally:
        store.dispose()
    return made
