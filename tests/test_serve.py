"""The review cycle's web application, in process (Flask's test client): who may open what,
CSRF, cookies, sign-in, owners' saves and conflicts, the tracker, e-mail through a real local
SMTP server, the audit log, and what owners write reaching the pack."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SUITE_TODAY
from conftest import run_cli_in_process as run
from conftest_build import BuiltPack
from flask import Flask, url_for
from serve_support import PASSWORD, PERIOD, Cycle, Inbox, body_of, link_in, make_cycle
from serve_support import smtp_server as smtp_server

from reviewkit import cadences
from reviewkit.evaluation.owners import entered_values
from reviewkit.formatting import format_date
from reviewkit.inputs.loaded import load_inputs
from reviewkit.inputs.params import load_params
from reviewkit.layout.document import pack_document
from reviewkit.layout.sections import Pack
from reviewkit.layout.view import Publication, make_view
from reviewkit.narrative.drafts import draft_for_kpi
from reviewkit.run import gate, parallel
from reviewkit.run.build import BuildResult
from reviewkit.run.parallel import Published
from reviewkit.run.prepare import evaluate, load_for, sources
from reviewkit.serve import app as serve_app
from reviewkit.serve import rounds
from reviewkit.store.cycle import CycleStore, RoundClosed
from reviewkit.store.database import Store
from reviewkit.store.records import FieldValue, KpiUpdate

pytest_plugins = ["conftest_build"]

ROLES = ("office", "analyst", "owner", "reader")


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory,
          smtp_server: tuple[int, Inbox]) -> Cycle:
    return make_cycle(tmp_path_factory.mktemp("cycle"), smtp_server)


@pytest.fixture(scope="module")
def matrix_cycle(tmp_path_factory: pytest.TempPathFactory,
                 smtp_server: tuple[int, Inbox]) -> Cycle:
    """A cycle of its own: walking every route closes rounds and ends sessions."""
    return make_cycle(tmp_path_factory.mktemp("matrix"), smtp_server)


@pytest.fixture(scope="module")
def app(cycle: Cycle) -> Iterator[Flask]:
    application = cycle.app()
    yield application
    application.extensions["reviewkit"].store.dispose()


def csrf_of(page: bytes) -> str:
    found = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found[1].decode()


def round_id(cycle: Cycle) -> int:
    assert cycle.round is not None
    return cycle.round.id


# -- who may open what -------------------------------------------------------------------------

#: Every route and the roles that may use it; a route missing here fails the matrix test, so a
#: new page cannot be added without deciding who sees it.
PUBLIC = {"index", "sign_in", "request_link", "link", "static"}
SIGNED_IN = {"sign_out", "password", "library", "pack_file"}
ALLOWED: dict[str, set[str] | dict[str, set[str]]] = {
    "my_rounds": {"owner"}, "my_page": {"owner"}, "my_done": {"owner"},
    "rounds_page": {"GET": {"office", "analyst"}, "POST": {"office"}},
    "tracker_page": {"office", "analyst"},
    "remind": {"office"}, "close_round": {"office"}, "approve": {"office"},
    "publish": {"office"}, "people": {"office"}, "invite": {"office"},
    "deactivate": {"office"}, "audit": {"office"},
    "narrative": {"GET": {"office", "analyst"}, "POST": {"analyst"}},
}


def allowed_roles(endpoint: str, method: str) -> set[str]:
    roles = ALLOWED.get(endpoint, set())
    return roles[method] if isinstance(roles, dict) else roles


def _url(app: Flask, endpoint: str, cycle: Cycle) -> str:
    values: dict[str, Any] = {"round_id": round_id(cycle), "kpi_id": "change_success_rate",
                              "unit": "group", "user_id": cycle.users["board"].id,
                              "cadence": "weekly", "label": PERIOD, "name": "pack.pdf",
                              "token": "not-a-token", "filename": "serve.css"}
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        return url_for(endpoint, **{k: values[k] for k in rule.arguments})


def test_every_route_is_declared_in_the_authorization_matrix(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == PUBLIC | SIGNED_IN | set(ALLOWED)


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_route_answers_each_role_and_the_signed_out_as_declared(
        matrix_cycle: Cycle, role: str | None) -> None:
    cycle = matrix_cycle
    application = cycle.app(WTF_CSRF_ENABLED=False)
    ran: list[Any] = []
    application.extensions["reviewkit_publish_job"] = lambda *args: ran.append(args)
    wrong: list[str] = []
    try:
        for rule in application.url_map.iter_rules():
            if rule.endpoint in PUBLIC:
                continue
            url = _url(application, rule.endpoint, cycle)
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                client = (application.test_client() if role is None
                          else Cycle.sign_in(application, cycle.users[role]))
                answer = client.open(url, method=method)
                allowed = rule.endpoint in SIGNED_IN or role in allowed_roles(rule.endpoint,
                                                                              method)
                if role is None:
                    ok = answer.status_code == 302 and "/sign-in" in answer.location
                elif allowed:
                    ok = answer.status_code not in (401, 403) and answer.status_code < 500
                    if rule.endpoint == "pack_file" and role == "reader":
                        ok = answer.status_code == 403  # the group's pack is not theirs
                else:
                    ok = answer.status_code == 403
                if not ok:
                    wrong.append(f"{method} {url} as {role}: {answer.status_code}")
    finally:
        application.extensions["reviewkit"].store.dispose()
    assert wrong == []


def test_an_owner_cannot_open_a_round_page_of_owners_they_do_not_answer_for(
        app: Flask, cycle: Cycle) -> None:
    store = app.extensions["reviewkit"].store
    stranger = CycleStore(store).add_user(email="zed@northwind.example", name="Zed",
                                          role="owner", owns=["Nobody's title"],
                                          units=["all"], by="test")
    client = Cycle.sign_in(app, stranger)
    assert client.get(f"/my/{round_id(cycle)}").status_code == 403


def test_every_form_refuses_a_post_without_its_csrf_token(app: Flask, cycle: Cycle) -> None:
    posts = [rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or set())]
    assert len(posts) >= 10
    for rule in posts:
        client = Cycle.sign_in(app, cycle.users["office"])
        answer = client.post(_url(app, rule.endpoint, cycle), data={"email": "x@y.z"})
        assert answer.status_code == 400, rule.endpoint
        assert b"The form expired" in answer.data


def test_every_page_form_carries_a_csrf_token(app: Flask, cycle: Cycle) -> None:
    pages = ["/sign-in", f"/rounds/{round_id(cycle)}", "/rounds", "/people"]
    client = Cycle.sign_in(app, cycle.users["office"])
    for page in pages:
        html = client.get(page).data.decode()
        forms = html.count("<form")
        assert forms and html.count('name="csrf_token"') == forms, page


def test_the_session_cookie_is_httponly_and_samesite(app: Flask, cycle: Cycle) -> None:
    client = app.test_client()
    page = client.get("/sign-in").data
    answer = client.post("/sign-in", data={"csrf_token": csrf_of(page),
                                           "email": cycle.users["owner"].email,
                                           "password": PASSWORD})
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "script-src 'none'" in answer.headers["Content-Security-Policy"]


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(
        app: Flask, cycle: Cycle) -> None:
    answers = []
    for email, password in ((cycle.users["owner"].email, "wrong password!!"),
                            ("nobody@northwind.example", PASSWORD)):
        client = app.test_client()
        token = csrf_of(client.get("/sign-in").data)
        answer = client.post("/sign-in", data={"csrf_token": token, "email": email,
                                               "password": password})
        answers.append((answer.status_code, re.sub(rb'value="[^"]+"', b"",
                                                   answer.data)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401 and b"do not match an account" in answers[0][1]


def test_sign_in_attempts_from_one_address_are_limited(cycle: Cycle) -> None:
    application = cycle.app(SIGN_IN_LIMIT="3 per minute")
    try:
        client = application.test_client()
        token = csrf_of(client.get("/sign-in").data)
        codes = [client.post("/sign-in", data={"csrf_token": token, "email": "a@b.example",
                                               "password": "guess number one"}).status_code
                 for _ in range(5)]
    finally:
        application.extensions["reviewkit"].store.dispose()
    assert codes == [401, 401, 401, 429, 429]


def test_a_request_larger_than_the_bound_is_refused(app: Flask, cycle: Cycle) -> None:
    client = Cycle.sign_in(app, cycle.users["owner"])
    answer = client.post(f"/my/{round_id(cycle)}", data={"x": "y" * 400_000})
    assert answer.status_code == 413


# -- sign-in links and e-mail -------------------------------------------------------------------

def test_an_emailed_sign_in_link_works_once(app: Flask, cycle: Cycle) -> None:
    cycle.inbox.clear()
    client = app.test_client()
    token = csrf_of(client.get("/sign-in").data)
    for address in (cycle.users["reader"].email, "nobody@northwind.example"):
        answer = client.post("/sign-in/link", data={"csrf_token": token, "email": address},
                             follow_redirects=True)
        assert b"If that address has an account" in answer.data
    assert len(cycle.inbox.messages) == 1  # none for an address without an account
    link = link_in(cycle.inbox.to(cycle.users["reader"].email)[0])
    path = link.split("127.0.0.1:8000", 1)[1]
    page = client.get(path)
    assert page.status_code == 200 and b"Continue" in page.data
    assert client.get("/library").status_code == 302  # opening the link signs no one in
    used = client.post(path, data={"csrf_token": csrf_of(page.data)})
    assert used.status_code == 302 and client.get("/library").status_code == 200
    again = app.test_client()
    token = csrf_of(again.get(path).data)
    assert b"used already" in again.post(path, data={"csrf_token": token}).data


def test_a_sign_in_link_expires(app: Flask, cycle: Cycle, monkeypatch: pytest.MonkeyPatch
                                ) -> None:
    cycle.inbox.clear()
    client = app.test_client()
    client.post("/sign-in/link", data={"csrf_token": csrf_of(client.get("/sign-in").data),
                                       "email": cycle.users["board"].email})
    path = link_in(cycle.inbox.messages[0]).split("127.0.0.1:8000", 1)[1]
    real = __import__("time").time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real() + 31 * 60)
    answer = client.get(path)
    assert answer.status_code == 400 and b"expired" in answer.data


def test_an_invitation_is_mailed_and_lets_a_new_person_choose_a_password(
        app: Flask, cycle: Cycle) -> None:
    cycle.inbox.clear()
    office = Cycle.sign_in(app, cycle.users["office"])
    token = csrf_of(office.get("/people").data)
    answer = office.post("/people", data={
        "csrf_token": token, "name": "Nia <b>New</b>", "email": "nia@northwind.example",
        "role": "reader", "units": "north-general", "invite": "1"}, follow_redirects=True)
    assert b"Nia &lt;b&gt;New&lt;/b&gt;" in answer.data and b"<b>New</b>" not in answer.data
    message = cycle.inbox.to("nia@northwind.example")[0]
    assert message["Subject"] == "Your invitation to the review cycle"
    assert "Olive Ward invites you" in body_of(message) and "reader" in body_of(message)
    path = link_in(message).split("127.0.0.1:8000", 1)[1]
    client = app.test_client()
    page = client.get(path)
    assert b"You are invited as" in page.data
    assert client.post(path, data={"csrf_token": csrf_of(page.data)}).location.endswith(
        "/account/password")
    form = client.get("/account/password").data
    answer = client.post("/account/password", data={"csrf_token": csrf_of(form),
                                                    "password": "a new long password",
                                                    "again": "a new long password"})
    assert answer.status_code == 302
    fresh = app.test_client()
    signed = fresh.post("/sign-in", data={"csrf_token": csrf_of(fresh.get("/sign-in").data),
                                          "email": "nia@northwind.example",
                                          "password": "a new long password"})
    assert signed.status_code == 302 and signed.location.endswith("/library")



def _password_form(client: Any) -> tuple[bytes, str]:
    page = client.get("/account/password").data
    return page, csrf_of(page)


def _signs_in_with(app: Flask, email: str, password: str) -> bool:
    client = app.test_client()
    answer = client.post("/sign-in", data={"csrf_token": csrf_of(client.get("/sign-in").data),
                                           "email": email, "password": password})
    return answer.status_code == 302


def test_changing_a_password_asks_for_the_current_one(app: Flask, cycle: Cycle) -> None:
    """A session left open (a shared screen, a stolen cookie) cannot take the account over:
    a person who has a password gives it to choose another."""
    reader = cycle.users["reader"]
    client = app.test_client()
    client.post("/sign-in", data={"csrf_token": csrf_of(client.get("/sign-in").data),
                                  "email": reader.email, "password": PASSWORD})
    page, token = _password_form(client)
    assert b'name="current"' in page and b'autocomplete="current-password"' in page
    new = {"password": "another long password", "again": "another long password"}
    for current in ({}, {"current": "not the password at all"}):
        answer = client.post("/account/password", data={"csrf_token": token, **new, **current})
        assert answer.status_code == 400
        assert b"Your current password is not right" in answer.data
    assert _signs_in_with(app, reader.email, PASSWORD)
    answer = client.post("/account/password",
                         data={"csrf_token": token, **new, "current": PASSWORD})
    assert answer.status_code == 302
    assert _signs_in_with(app, reader.email, "another long password")
    assert not _signs_in_with(app, reader.email, PASSWORD)


def test_a_sign_in_link_lets_a_forgotten_password_be_replaced_for_a_while(
        app: Flask, cycle: Cycle, monkeypatch: pytest.MonkeyPatch) -> None:
    """Signing in with a link from one's mailbox proves what the current password would: for
    as long as such a link is valid, the password page asks only for the new one."""
    board = cycle.users["board"]
    cycle.inbox.clear()
    client = app.test_client()
    client.post("/sign-in/link", data={"csrf_token": csrf_of(client.get("/sign-in").data),
                                       "email": board.email})
    path = link_in(cycle.inbox.messages[0]).split("127.0.0.1:8000", 1)[1]
    client.post(path, data={"csrf_token": csrf_of(client.get(path).data)})
    page, token = _password_form(client)
    assert b'name="current"' not in page
    real = __import__("time").time
    monkeypatch.setattr("reviewkit.serve.app.time.time", lambda: real() + 31 * 60)
    late = client.post("/account/password", data={
        "csrf_token": token, "password": "a forgotten one replaced", "again":
        "a forgotten one replaced"})
    assert late.status_code == 400 and b"Your current password is not right" in late.data
    monkeypatch.undo()
    answer = client.post("/account/password", data={
        "csrf_token": token, "password": "a forgotten one replaced",
        "again": "a forgotten one replaced"})
    assert answer.status_code == 302
    assert _signs_in_with(app, board.email, "a forgotten one replaced")

def test_signing_out_ends_the_session_everywhere(app: Flask, cycle: Cycle) -> None:
    first = Cycle.sign_in(app, cycle.users["analyst"])
    second = Cycle.sign_in(app, cycle.users["analyst"])
    assert second.get("/rounds").status_code == 200
    token = csrf_of(first.get("/rounds").data)
    assert first.post("/sign-out", data={"csrf_token": token}).status_code == 302
    assert second.get("/rounds").status_code == 302  # the old cookie is void


# -- owners' pages ----------------------------------------------------------------------------

def _form(page: bytes) -> dict[str, str]:
    """The fields of the owner's update form as the page fills them in."""
    text = page.decode()
    start = text.index('<form method="post" class="updates">')
    form = text[start:text.index("</form>", start)]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    fields.update({name: text for name, text in re.findall(
        r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', form)})
    return {name: html.unescape(text) for name, text in fields.items()}


def test_an_owner_sees_only_their_kpis_and_units(app: Flask, cycle: Cycle) -> None:
    desk = Cycle.sign_in(app, cycle.users["desk"]).get(f"/my/{round_id(cycle)}").data.decode()
    assert "Service desk satisfaction" in desk or "service_desk_csat" in desk
    assert "North General Hospital" in desk
    assert "Change success rate" not in desk
    assert 'id="service_desk_csat.north-general:value"' in desk  # measured by hand
    chris = Cycle.sign_in(app, cycle.users["owner"]).get(f"/my/{round_id(cycle)}").data.decode()
    assert chris.count('class="kpi card"') == 2  # the group's and North General's
    assert 'id="change_success_rate.group:value"' not in chris  # from the data


def test_two_people_editing_one_field_never_lose_each_others_text(
        app: Flask, cycle: Cycle) -> None:
    page_url = f"/my/{round_id(cycle)}"
    chris, dee = (Cycle.sign_in(app, cycle.users[who]) for who in ("owner", "deputy"))
    chris_page, dee_page = chris.get(page_url).data, dee.get(page_url).data
    mine = _form(chris_page)
    mine["change_success_rate.group:analysis"] = "Chris: two failed EHR releases"
    mine["change_success_rate.north-general:recommendation"] = "Chris: freeze NGH changes"
    saved = chris.post(page_url, data=mine)
    assert saved.status_code == 302, re.findall(r'class="problem"[^>]*>([^<]*)', saved.text)
    theirs = _form(dee_page)
    theirs["change_success_rate.group:analysis"] = "Dee: the network change on Tuesday"
    theirs["change_success_rate.group:recommendation"] = "Dee: rollback plans for all"
    answer = dee.post(page_url, data=theirs)
    assert answer.status_code == 400
    text = answer.data.decode()
    assert "Chris Moyo saved this" in text and "Chris: two failed EHR releases" in text
    assert "Dee: the network change on Tuesday" in text  # still in her box
    values = CycleStore(app.extensions["reviewkit"].store).values(round_id(cycle))
    group = values[("change_success_rate", "")]
    assert group.text("analysis") == "Chris: two failed EHR releases"
    assert group.text("recommendation") == ""  # her whole update of that KPI waits for her
    assert values[("change_success_rate", "north-general")].text("recommendation") == (
        "Chris: freeze NGH changes")
    # She merges and saves again from the page as it came back: now it goes through.
    merged = _form(answer.data)
    merged["change_success_rate.group:analysis"] = "Chris + Dee: EHR releases, network change"
    assert dee.post(page_url, data=merged).status_code == 302
    history = CycleStore(app.extensions["reviewkit"].store).history(round_id(cycle),
                                                                     "change_success_rate")
    assert [(h.field, h.revision, h.updated_by) for h in history if h.unit == ""] == [
        ("analysis", 1, "Chris Moyo"), ("analysis", 2, "Dee Puty"),
        ("recommendation", 1, "Dee Puty")]


def test_a_field_someone_else_changed_that_this_page_did_not_touch_is_no_conflict(
        app: Flask, cycle: Cycle) -> None:
    page_url = f"/my/{round_id(cycle)}"
    chris, dee = (Cycle.sign_in(app, cycle.users[who]) for who in ("owner", "deputy"))
    stale = _form(dee.get(page_url).data)
    fresh = _form(chris.get(page_url).data)
    fresh["change_success_rate.north-general:analysis"] = "Chris: NGH releases"
    assert chris.post(page_url, data=fresh).status_code == 302
    stale["change_success_rate.north-general:recommendation"] = "Dee: weekend window"
    assert dee.post(page_url, data=stale).status_code == 302
    update = CycleStore(app.extensions["reviewkit"].store).values(round_id(cycle))[
        ("change_success_rate", "north-general")]
    assert update.text("analysis") == "Chris: NGH releases"
    assert update.text("recommendation") == "Dee: weekend window"


def test_a_value_that_is_no_number_and_an_override_without_reason_are_refused(
        app: Flask, cycle: Cycle) -> None:
    page_url = f"/my/{round_id(cycle)}"
    desk = Cycle.sign_in(app, cycle.users["desk"])
    form = _form(desk.get(page_url).data)
    form["service_desk_csat.north-general:value"] = "about ninety"
    answer = desk.post(page_url, data=form)
    assert answer.status_code == 400 and b"is not a number" in answer.data
    assert b"about ninety" in answer.data  # kept in the form
    form["service_desk_csat.north-general:value"] = "90"
    form["service_desk_csat.north-general:status"] = "green"
    answer = desk.post(page_url, data=form)
    assert answer.status_code == 400 and b"say why you set the status" in answer.data
    assert ("service_desk_csat", "north-general") not in CycleStore(
        app.extensions["reviewkit"].store).values(round_id(cycle))


MANUAL = rounds.KpiTask(kpi_id="service_desk_csat", unit="north-general",
                        unit_name="North General Hospital", name="Service desk satisfaction",
                        owner="Site IT Lead, North General", value="", target="", status="",
                        manual=True)


def _saved_value(typed: str) -> KpiUpdate:
    """The hand-measured KPI's update as the store keeps it, its value as typed."""
    return KpiUpdate(MANUAL.kpi_id, MANUAL.unit, {"value": FieldValue(
        MANUAL.kpi_id, MANUAL.unit, "value", typed, 1, "2026-11-21T09:00:00+00:00", "Sam")})


@pytest.mark.parametrize("typed, number", [("87.5", 87.5), ("1,234.5", 1234.5),
                                           ("12,345", 12345.0), ("-1,234,567", -1234567.0)])
def test_a_value_typed_with_thousands_grouped_by_commas_is_read_as_written(
        typed: str, number: float) -> None:
    assert rounds.check_kpi_update(MANUAL, {"value": typed})["value"] == typed
    saved = _saved_value(typed)
    assert entered_values([saved])[MANUAL.kpi_id].value == number


@pytest.mark.parametrize("typed", ["87,5", "1,23", "1,2345", ",5", "1,,234", "12,34.5"])
def test_a_comma_that_is_not_a_thousands_separator_is_refused_never_read_tenfold(
        typed: str) -> None:
    with pytest.raises(rounds.UpdateRefused) as refused:
        rounds.check_kpi_update(MANUAL, {"value": typed})
    message = str(refused.value)
    assert "Service desk satisfaction" in message and "use a point for decimals" in message
    assert "\n" not in message
    # A value saved before this check is left out of the pack, not read as 875.
    saved = _saved_value(typed)
    assert entered_values([saved]) == {}


@pytest.mark.parametrize("typed", ["1_000", "1e3", "8.75E1", "nan", "inf", "0x10", "87.5%"])
def test_a_value_is_written_in_digits_never_as_a_python_number(typed: str) -> None:
    """What an owner types is a figure as people write one: '1_000', '1e3' or 'nan', which
    the programming language reads, are refused, and a saved one is left out of the pack."""
    with pytest.raises(rounds.UpdateRefused) as refused:
        rounds.check_kpi_update(MANUAL, {"value": typed})
    assert "is not a number; write digits" in str(refused.value)
    saved = _saved_value(typed)
    assert entered_values([saved]) == {}


def test_an_owner_typing_a_decimal_comma_is_told_to_use_a_point_and_nothing_is_saved(
        app: Flask, cycle: Cycle) -> None:
    page_url = f"/my/{round_id(cycle)}"
    desk = Cycle.sign_in(app, cycle.users["desk"])
    form = _form(desk.get(page_url).data)
    form["service_desk_csat.north-general:value"] = "87,5"
    answer = desk.post(page_url, data=form)
    assert answer.status_code == 400 and b"use a point for decimals" in answer.data
    assert ("service_desk_csat", "north-general") not in CycleStore(
        app.extensions["reviewkit"].store).values(round_id(cycle))


def test_an_owner_updates_an_action_and_every_change_is_an_event_with_who(
        app: Flask, cycle: Cycle) -> None:
    store: Store = app.extensions["reviewkit"].store
    action_id = store.add_action(title="Patch the <b>VPN</b>", owner="Change Manager",
                                 due=dt.date(2026, 11, 27), effective=dt.date(2026, 11, 13),
                                 by="test", source="test")
    page_url = f"/my/{round_id(cycle)}"
    chris = Cycle.sign_in(app, cycle.users["owner"])
    page = chris.get(page_url).data
    assert b"Patch the &lt;b&gt;VPN&lt;/b&gt;" in page
    form = _form(page)
    form[f"action.{action_id}:note"] = "Vendor window booked"
    form[f"action.{action_id}:due"] = "2026-12-11"
    assert b"say why" in chris.post(page_url, data=form).data  # a new date needs a reason
    form[f"action.{action_id}:reason"] = "vendor's earliest window"
    assert chris.post(page_url, data=form).status_code == 302
    action = store.action(action_id)
    assert action.due == dt.date(2026, 12, 11)
    assert "Vendor window booked" in action.note and "vendor's earliest window" in action.note
    events = [e for e in store.events(action_id) if e.field != "created"]
    assert {e.field for e in events} == {"note", "due"}
    assert {e.by for e in events} == {"Chris Moyo"}
    assert {e.source for e in events} == {f"review round weekly {PERIOD}"}
    done = _form(chris.get(page_url).data)
    done[f"action.{action_id}:done"] = "1"
    assert chris.post(page_url, data=done).status_code == 302
    assert store.action(action_id).status == "done"


@pytest.fixture
def own_cycle(tmp_path: Path, smtp_server: tuple[int, Inbox]) -> Iterator[tuple[Cycle, Flask]]:
    """A review cycle of this test's own and its application (the store closed after)."""
    own = make_cycle(tmp_path, smtp_server)
    application = own.app()
    yield own, application
    application.extensions["reviewkit"].store.dispose()


def _vpn_action(store: Store) -> str:
    """An open action of the Change Manager's, with a note, raised before the round."""
    return store.add_action(title="Patch the VPN", owner="Change Manager",
                            due=dt.date(2026, 11, 27), note="Vendor contacted",
                            effective=dt.date(2026, 11, 13), by="test", source="test")


def test_after_an_action_note_conflict_the_page_as_returned_saves_the_merged_note(
        own_cycle: tuple[Cycle, Flask]) -> None:
    own, application = own_cycle
    store: Store = application.extensions["reviewkit"].store
    action_id = _vpn_action(store)
    page_url = f"/my/{round_id(own)}"
    note = f"action.{action_id}:note"
    chris, dee = (Cycle.sign_in(application, own.users[who]) for who in ("owner", "deputy"))
    mine, theirs = _form(chris.get(page_url).data), _form(dee.get(page_url).data)
    theirs[note] = "Dee: window booked for Saturday"
    assert dee.post(page_url, data=theirs).status_code == 302
    mine[note] = "Chris: vendor sends the patch Friday"
    answer = chris.post(page_url, data=mine)
    assert answer.status_code == 400 and b"changed by someone else" in answer.data
    returned = _form(answer.data)
    assert returned[note] == "Chris: vendor sends the patch Friday"  # still in his box
    assert returned[f"{note}_was"] == "Dee: window booked for Saturday"  # the new basis
    returned[note] = "Chris + Dee: patch Friday, window Saturday"
    saved = chris.post(page_url, data=returned)
    assert saved.status_code == 302, re.findall(r'class="problem"[^>]*>([^<]*)', saved.text)
    assert store.action(action_id).note == "Chris + Dee: patch Friday, window Saturday"



def _vpn_page(own_cycle: tuple[Cycle, Flask]) -> tuple[Store, str, str, Any, dict[str, str]]:
    """The Change Manager's page with the VPN action on it: the store, the action, the page's
    address, Chris signed in, and the page's form as it came."""
    own, application = own_cycle
    store: Store = application.extensions["reviewkit"].store
    action_id = _vpn_action(store)
    page_url = f"/my/{round_id(own)}"
    chris = Cycle.sign_in(application, own.users["owner"])
    return store, action_id, page_url, chris, _form(chris.get(page_url).data)


def test_an_action_cannot_be_moved_to_a_day_that_has_passed(
        own_cycle: tuple[Cycle, Flask]) -> None:
    """A new due date before today is a slip of the keyboard (2025 for 2026): refused with
    the day it would be, the action left as it was; today or later moves it."""
    store, action_id, page_url, chris, form = _vpn_page(own_cycle)
    form[f"action.{action_id}:due"] = "2025-12-04"
    form[f"action.{action_id}:reason"] = "Vendor slipped a week"
    answer = chris.post(page_url, data=form)
    assert answer.status_code == 400
    assert b"cannot move to 4 Dec 2025: that day has passed" in answer.data, re.findall(
        r'class="problem"[^>]*>([^<]*)', answer.text)
    assert store.action(action_id).due == dt.date(2026, 11, 27)
    form[f"action.{action_id}:due"] = SUITE_TODAY
    saved = chris.post(page_url, data=form)
    assert saved.status_code == 302, re.findall(r'class="problem"[^>]*>([^<]*)', saved.text)
    assert store.action(action_id).due == dt.date.fromisoformat(SUITE_TODAY)


def test_after_a_partly_refused_save_what_was_saved_is_no_conflict_with_the_next_save(
        own_cycle: tuple[Cycle, Flask]) -> None:
    own, _ = own_cycle
    store, action_id, page_url, chris, form = _vpn_page(own_cycle)
    form["change_success_rate.group:analysis"] = "Two failed EHR releases"
    form[f"action.{action_id}:note"] = "Vendor sends the patch Friday"
    form["change_success_rate.north-general:status"] = "amber"  # without its reason
    answer = chris.post(page_url, data=form)
    assert answer.status_code == 400 and b"say why you set the status" in answer.data
    values = CycleStore(store).values(round_id(own))
    assert values[("change_success_rate", "")].text("analysis") == "Two failed EHR releases"
    assert store.action(action_id).note == "Vendor sends the patch Friday"
    returned = _form(answer.data)
    assert returned["change_success_rate.group:analysis:rev"] == "1"
    returned["change_success_rate.group:analysis"] = "Two failed EHR releases, both rolled back"
    returned[f"action.{action_id}:note"] = "Patch installed"
    returned["change_success_rate.north-general:status"] = "amber"  # the select, as typed
    returned["change_success_rate.north-general:status_reason"] = "NGH freeze next week"
    saved = chris.post(page_url, data=returned)
    assert saved.status_code == 302, re.findall(r'class="problem"[^>]*>([^<]*)', saved.text)
    values = CycleStore(store).values(round_id(own))
    assert values[("change_success_rate", "")].text("analysis") == (
        "Two failed EHR releases, both rolled back")
    assert values[("change_success_rate", "north-general")].text("status") == "amber"
    assert store.action(action_id).note == "Patch installed"


#: Direction controls people paste with names and words of right-to-left scripts: an override
#: left open, and an isolate with its closing mark.
RLO, RLI, PDI, FSI = "\u202e", "\u2067", "\u2069", "\u2068"


def test_form_fields_send_back_text_with_direction_controls_as_stored_so_saving_changes_nothing(
        own_cycle: tuple[Cycle, Flask]) -> None:
    own, application = own_cycle
    store: Store = application.extensions["reviewkit"].store
    cycle_store = CycleStore(store)
    rid = round_id(own)
    analysis = f"Releases by {RLO}Omar Haddad: 3 failed"
    cycle_store.save_fields(rid, "change_success_rate", "", {"analysis": (analysis, 0)},
                            by="Dee Puty")
    note = f"Waiting on {RLI}مورد{PDI} for the window"
    action_id = store.add_action(title=f"Patch {RLO}NPV", owner="Change Manager",
                                 due=dt.date(2026, 11, 27), note=note,
                                 effective=dt.date(2026, 11, 13), by="test", source="test")
    page_url = f"/my/{rid}"
    chris = Cycle.sign_in(application, own.users["owner"])
    page = chris.get(page_url).data
    form = _form(page)
    assert form["change_success_rate.group:analysis"] == analysis
    assert form[f"action.{action_id}:note"] == note
    assert form[f"action.{action_id}:note_was"] == note
    assert f"{FSI}Patch {RLO}NPV{PDI}" in page.decode()  # shown as text, isolated
    history = cycle_store.history(rid)
    events = store.events(action_id)
    for _ in range(2):  # saving the page as it came, twice, changes nothing
        answer = chris.post(page_url, data=form)
        assert answer.status_code == 302, re.findall(r'class="problem"[^>]*>([^<]*)',
                                                     answer.text)
        form = _form(chris.get(page_url).data)
    assert cycle_store.history(rid) == history
    assert store.events(action_id) == events
    assert store.action(action_id).note == note
    # The analyst's narrative box sends back what is stored, too.
    url = f"/rounds/{rid}/narrative/north-general"
    analyst = Cycle.sign_in(application, own.users["analyst"])
    summary = f"North General: {RLO}gninrom yadnoM"
    analyst.post(url, data={"csrf_token": csrf_of(analyst.get(url).data), "key": "summary",
                            "revision": "0", "text": summary})
    shown = analyst.get(url).data.decode()
    box = re.search(r'<input type="hidden" name="key" value="summary">.*?'
                    r'<textarea name="text"[^>]*>([^<]*)</textarea>', shown, re.S)
    assert box is not None and html.unescape(box[1]) == summary


def test_the_done_tick_and_the_tracker(app: Flask, cycle: Cycle) -> None:
    client = Cycle.sign_in(app, cycle.users["desk"])
    token = csrf_of(client.get(f"/my/{round_id(cycle)}").data)
    client.post(f"/my/{round_id(cycle)}/done", data={"csrf_token": token, "done": "1"})
    page = client.get(f"/my/{round_id(cycle)}").data
    assert "✓ Done".encode() in page
    tracker = Cycle.sign_in(app, cycle.users["office"]).get(
        f"/rounds/{round_id(cycle)}").data.decode()
    assert re.search(r"Site IT Lead, North General</th>\s*<td><span class=\"state done\">done",
                     tracker)
    # Sam answers for the Service Desk Lead too, but its one KPI is the group's, not his.
    assert not re.search(r"Service Desk Lead</th>\s*<td><span class=\"state done\">", tracker)
    assert re.search(r"Change Manager</th>\s*<td><span class=\"state started\">started",
                     tracker)
    assert re.search(r"CISO</th>\s*<td><span class=\"state not-started\">not started",
                     tracker)
    assert "no one signed up" in tracker  # the CISO has no account
    late = rounds.tracker(CycleStore(app.extensions["reviewkit"].store),
                          dataclasses.replace(cycle.round, due=dt.date(2026, 11, 1)),
                          [], today=dt.date(2026, 11, 25))
    assert {row.owner: row.state for row in late}["CISO"] == "late"
    assert {row.owner: row.state for row in late}["Site IT Lead, North General"] == "done"


def test_the_tracker_counts_and_names_only_what_each_person_can_update_in_their_units(
        own_cycle: tuple[Cycle, Flask]) -> None:
    """Ira answers for the Head of Infrastructure in North General only: the tracker counts
    that unit's KPIs, not the group's. Sam answers for the Service Desk Lead, whose one KPI is
    the group's, which Sam is not granted: his saves and his tick leave that owner as it was,
    and he is neither listed nor reminded for it."""
    own, application = own_cycle
    store: Store = application.extensions["reviewkit"].store
    cycle_store = CycleStore(store)
    assert own.round is not None
    rid = own.round.id
    infra = own.round.tasks["Head of Infrastructure"]["kpis"]
    in_ngh = [k for k in infra if k["unit"] == "north-general"]
    assert 0 < len(in_ngh) < len(infra)

    def rows() -> dict[str, rounds.TrackerRow]:
        return {row.owner: row for row in rounds.tracker(
            cycle_store, own.round, cycle_store.users(), today=dt.date(2026, 11, 21))}

    before = rows()
    assert [p.name for p in before["Head of Infrastructure"].people] == ["Ira Fraser"]
    assert before["Head of Infrastructure"].kpis == len(in_ngh)
    assert before["Service Desk Lead"].people == ()
    assert [p.name for p in before["Service Desk Lead"].ungranted] == ["Sam Desk"]
    page_url = f"/my/{rid}"
    desk = Cycle.sign_in(application, own.users["desk"])
    page = desk.get(page_url).data.decode()
    assert "For Site IT Lead, North General." in page
    form = _form(page.encode())
    form["service_desk_csat.north-general:analysis"] = "Two agents off sick"
    assert desk.post(page_url, data=form).status_code == 302
    desk.post(f"{page_url}/done", data={"csrf_token": csrf_of(page.encode()), "done": "1"})
    after = rows()
    site_lead = after["Site IT Lead, North General"]
    assert (site_lead.state, site_lead.updated, site_lead.kpis) == ("done", 1, 1)
    assert after["Service Desk Lead"].state == "not started"
    tracker = Cycle.sign_in(application, own.users["office"]).get(f"/rounds/{rid}").text
    row = tracker[tracker.index("Service Desk Lead</th>"):]
    assert "not granted their units: Sam Desk" in row[:row.index("</tr>")]
    own.inbox.clear()
    office = Cycle.sign_in(application, own.users["office"])
    office.post(f"/rounds/{rid}/remind",
                data={"csrf_token": csrf_of(office.get(f"/rounds/{rid}").data)})
    assert own.inbox.to("sam@northwind.example") == []
    # An open action of the Service Desk Lead in North General is Sam's to update: he
    # answers for that owner there.
    store.add_action(title="Rota for the desk", owner="Service Desk Lead",
                     unit="north-general", due=dt.date(2026, 11, 27),
                     effective=dt.date(2026, 11, 13), by="test", source="test")
    desk_row = rows()["Service Desk Lead"]
    assert [p.name for p in desk_row.people] == ["Sam Desk"] and desk_row.kpis == 0
    # An owner of an action that has closed since the round opened has nothing in any
    # unit: who answers for them is listed, never said to lack a grant.
    fay = cycle_store.add_user(email="fay@northwind.example", name="Fay Cility",
                               role="owner", owns=["Facilities Lead"],
                               units=["north-general"], by="test")
    moved = store.add_action(title="Move the server room", owner="Facilities Lead",
                             unit="north-general", due=dt.date(2026, 11, 27),
                             effective=dt.date(2026, 11, 6), by="test", source="test")
    earlier = rounds.open_round(store, own.params, "weekly", period="2026-11-13",
                                due="2099-12-31", by="test")
    store.update_action(moved, {"status": "done"}, effective=dt.date(2026, 11, 14),
                        by="test", source="test")
    facilities = {row.owner: row for row in rounds.tracker(
        cycle_store, earlier, cycle_store.users(), today=dt.date(2026, 11, 14))}[
        "Facilities Lead"]
    assert (facilities.people, facilities.ungranted, facilities.kpis) == ((fay,), (), 0)


def test_the_tracker_names_each_published_pack_by_its_unit_and_escapes_what_went_wrong(
        app: Flask, cycle: Cycle, monkeypatch: pytest.MonkeyPatch) -> None:
    """The outcome of publishing lists the packs as people name them: the group's, each unit
    by its name; the gate's reasons and a failure's message are shown as text."""
    office = Cycle.sign_in(app, cycle.users["office"])

    def outcome(*results: Published) -> str:
        monkeypatch.setitem(app.extensions["reviewkit_publishing"], round_id(cycle),
                            {"state": "done", "sent": 1, "results": list(results)})
        page = office.get(f"/rounds/{round_id(cycle)}").data.decode()
        return page[page.index('id="publishing"'):]

    job = outcome(Published("group", refused=("<b>2 red KPIs</b> have no action",)),
                  Published("north-general", error="the kernel <died>"))
    assert re.search(r"<li>Group: <span[^>]*>refused by the gate", job), job
    assert "&lt;b&gt;2 red KPIs&lt;/b&gt; have no action" in job
    assert re.search(r"<li>North General Hospital: <span[^>]*>failed</span> "
                     r"the kernel &lt;died&gt;", job), job
    built = BuildResult(folder=Path("group"), document=None)  # type: ignore[arg-type]
    job = outcome(Published("group", built, agreement=parallel.Agreement(
        compared=("north-general",), disagreements=("incidents: group 7 <> units 9",))))
    assert "Its figures disagree with its units' packs:<ul><li>incidents: group 7 &lt;&gt; " \
        "units 9</li>" in job, job
    job = outcome(Published("group", built, agreement=parallel.Agreement(
        not_checked="no pack for north-general")))
    assert "Not checked against its units' packs: no pack for north-general." in job, job
    job = outcome(Published("group", built, agreement=parallel.Agreement(
        compared=("north-general",))))
    assert "Its figures agree with the packs of its 1 unit." in job, job


def test_reminders_go_to_the_people_of_owners_not_done(app: Flask, cycle: Cycle) -> None:
    cycle.inbox.clear()
    office = Cycle.sign_in(app, cycle.users["office"])
    token = csrf_of(office.get(f"/rounds/{round_id(cycle)}").data)
    CycleStore(app.extensions["reviewkit"].store).set_done(
        round_id(cycle), ["Service Desk Lead", "Site IT Lead, North General"], True,
        by="Sam Desk")
    answer = office.post(f"/rounds/{round_id(cycle)}/remind", data={"csrf_token": token},
                         follow_redirects=True)
    assert b"Reminders sent to 3 people" in answer.data
    received = sorted(str(m["To"]) for m in cycle.inbox.messages)
    assert received == ["Chris Moyo <chris@northwind.example>",
                        "Dee Puty <dee@northwind.example>",
                        "Ira Fraser <ira@northwind.example>"]  # not Sam, who is done
    body = body_of(cycle.inbox.to("chris@northwind.example")[0])
    assert f"/my/{round_id(cycle)}" in body and "Change Manager" in body


def test_a_closed_round_refuses_every_change_and_its_pages_offer_none(
        own_cycle: tuple[Cycle, Flask]) -> None:
    own, application = own_cycle
    cycle_store = CycleStore(application.extensions["reviewkit"].store)
    rid = round_id(own)
    page_url = f"/my/{rid}"
    desk = Cycle.sign_in(application, own.users["desk"])
    form = _form(desk.get(page_url).data)
    cycle_store.set_done(rid, ["Service Desk Lead", "Site IT Lead, North General"], True,
                         by="Sam Desk")
    cycle_store.close_round(rid, by="Olive Ward")
    done_before = cycle_store.progress(rid)
    page = desk.get(page_url).data.decode()
    assert "this round is closed" in page
    for offered in ("Not done yet", "Mark my updates done", "Save my updates"):
        assert offered not in page, offered
    for done in ("0", "1"):
        answer = desk.post(f"{page_url}/done", data={"csrf_token": csrf_of(page.encode()),
                                                     "done": done}, follow_redirects=True)
        assert b"is closed: nothing was changed" in answer.data
        assert b"Marked" not in answer.data
    form["service_desk_csat.north-general:analysis"] = "Written after the close"
    answer = desk.post(page_url, data=form)
    assert answer.status_code == 409 and b"is closed: nothing was changed" in answer.data
    assert cycle_store.progress(rid) == done_before
    assert ("service_desk_csat", "north-general") not in cycle_store.values(rid)
    own.inbox.clear()
    office = Cycle.sign_in(application, own.users["office"])
    tracker = office.get(f"/rounds/{rid}").data
    assert b"Send reminders" not in tracker and b"Reopen the round" in tracker
    answer = office.post(f"/rounds/{rid}/remind", data={"csrf_token": csrf_of(tracker)},
                         follow_redirects=True)
    assert b"is closed: no reminders were sent" in answer.data
    assert own.inbox.messages == []
    assert all(p.reminded_at is None for p in cycle_store.progress(rid).values())



def test_a_closed_round_refuses_the_offices_approval_too(own_cycle: tuple[Cycle, Flask]) -> None:
    """An approval changes what the pack says (the owner's status, approved): a closed round
    takes it no more than an owner's save."""
    own, application = own_cycle
    cycle_store = CycleStore(application.extensions["reviewkit"].store)
    rid = round_id(own)
    cycle_store.save_fields(rid, "change_success_rate", "", {
        "status": ("amber", 0), "status_reason": ("two releases were a one-off", 0)},
        by="Chris Moyo")
    office = Cycle.sign_in(application, own.users["office"])
    token = csrf_of(office.get(f"/rounds/{rid}").data)
    cycle_store.close_round(rid, by="Olive Ward")
    answer = office.post(f"/rounds/{rid}/approve/change_success_rate/group",
                         data={"csrf_token": token, "approve": "1"}, follow_redirects=True)
    assert b"is closed: nothing was changed" in answer.data
    assert b"/approve/" not in office.get(f"/rounds/{rid}").data  # nor offers to
    fields = cycle_store.values(rid)[("change_success_rate", "")].fields
    assert rounds.APPROVAL_FIELD not in fields or not fields[rounds.APPROVAL_FIELD].text


def test_a_round_closed_while_a_save_was_on_its_way_takes_nothing_of_it(
        own_cycle: tuple[Cycle, Flask]) -> None:
    """The round as a request read it (open) is not what decides: the store checks the round
    is open in the transaction that saves, so a close that lands first wins."""
    own, application = own_cycle
    cycle_store = CycleStore(application.extensions["reviewkit"].store)
    rid = round_id(own)
    read_open = cycle_store.round(rid)
    assert read_open is not None and read_open.is_open
    desk = own.users["desk"]
    task = next(t for t in rounds.kpi_tasks(read_open, desk) if t.kpi_id == "service_desk_csat")
    cycle_store.close_round(rid, by="Olive Ward")
    with pytest.raises(rounds.UpdateRefused, match="is closed"):
        rounds.save_kpi_update(cycle_store, read_open, desk, task,
                               {"analysis": "Written as the round closed"}, {})
    assert (task.kpi_id, task.unit) not in cycle_store.values(rid)
    done_before = cycle_store.progress(rid)
    with pytest.raises(RoundClosed):
        cycle_store.set_done(rid, [task.owner], True, by=desk.name)
    assert cycle_store.progress(rid) == done_before

def test_a_reminder_to_one_person_says_person(
        own_cycle: tuple[Cycle, Flask]) -> None:
    own, application = own_cycle
    cycle_store = CycleStore(application.extensions["reviewkit"].store)
    rid = round_id(own)
    others = [owner for owner in cycle_store.progress(rid) if owner != "Change Manager"]
    cycle_store.set_done(rid, others, True, by="test")
    cycle_store.deactivate("dee@northwind.example", by="test")  # Chris alone is left
    own.inbox.clear()
    office = Cycle.sign_in(application, own.users["office"])
    token = csrf_of(office.get(f"/rounds/{rid}").data)
    answer = office.post(f"/rounds/{rid}/remind", data={"csrf_token": token},
                         follow_redirects=True)
    assert b"Reminders sent to 1 person." in answer.data
    assert [str(m["To"]) for m in own.inbox.messages] == [
        "Chris Moyo <chris@northwind.example>"]


def test_a_reminder_gives_its_due_date_as_the_pages_do(own_cycle: tuple[Cycle, Flask]) -> None:
    own, application = own_cycle
    round_ = CycleStore(application.extensions["reviewkit"].store).round(round_id(own))
    assert round_ is not None
    own.inbox.clear()
    office = Cycle.sign_in(application, own.users["office"])
    token = csrf_of(office.get(f"/rounds/{round_.id}").data)
    office.post(f"/rounds/{round_.id}/remind", data={"csrf_token": token})
    assert own.inbox.messages
    day = format_date(round_.due)
    for message in own.inbox.messages:
        assert day in str(message["Subject"]) and day in body_of(message)
        assert round_.due.isoformat() not in str(message["Subject"]) + body_of(message)


def test_commentary_is_escaped_on_every_page_that_shows_it(app: Flask, cycle: Cycle) -> None:
    page_url = f"/my/{round_id(cycle)}"
    chris = Cycle.sign_in(app, cycle.users["owner"])
    form = _form(chris.get(page_url).data)
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    form["change_success_rate.north-general:status"] = "amber"
    form["change_success_rate.north-general:status_reason"] = attack
    assert chris.post(page_url, data=form).status_code == 302
    pages = [chris.get(page_url).data,
             Cycle.sign_in(app, cycle.users["office"]).get(f"/rounds/{round_id(cycle)}").data,
             Cycle.sign_in(app, cycle.users["office"]).get("/audit").data]
    for page in pages[:2]:
        assert b"&lt;script&gt;alert(" in page
    for page in pages:
        assert b"<script" not in page and b"<img src=x" not in page


def test_every_change_is_in_the_audit_log(app: Flask, cycle: Cycle) -> None:
    entries = CycleStore(app.extensions["reviewkit"].store).audit_entries()
    kinds = {entry.what for entry in entries}
    assert {"person added", "round opened", "KPI update saved", "owner done",
            "reminder sent", "action updated"} <= kinds
    saved = [e for e in entries if e.what == "KPI update saved"]
    assert all(e.by and e.at and e.detail["fields"] for e in saved)


# -- what owners write reaches the pack --------------------------------------------------------

def test_what_owners_write_reaches_the_pack(app: Flask, cycle: Cycle) -> None:
    store: Store = app.extensions["reviewkit"].store
    cycle_store = CycleStore(store)
    rid = round_id(cycle)
    cycle_store.save_fields(rid, "service_desk_csat", "north-general",
                            {"value": ("71.5", 0)}, by="Sam Desk")
    analysis = cycle_store.values(rid)[("change_success_rate", "")].fields["analysis"]
    cycle_store.save_fields(rid, "change_success_rate", "", {
        "status": ("amber", 0), "status_reason": ("two releases were a one-off", 0)},
        by="Chris Moyo")
    definition = cadences.get("weekly")
    inputs = load_inputs(cycle.params)
    group = evaluate(definition, inputs, store, PERIOD)
    unit = evaluate(definition, inputs, store, PERIOD, "north-general")
    # The value entered by hand is North General's measurement for the week.
    assert unit.result("service_desk_csat").value == 71.5
    assert unit.entered["service_desk_csat"].by == "Sam Desk"
    # The owner's status is shown with its reason and what the data say.
    result = group.result("change_success_rate")
    assert result.status == "amber" and result.owner_status is not None
    assert result.owner_status.data_status == "red" and not result.owner_status.approved
    assert "change_success_rate" not in {e.kpi_id for e in group.evaluation.exceptions
                                         if e.reason == "red"}
    # The draft the analyst edits carries the owner's words, with who and when.
    draft = draft_for_kpi(result, group)
    # Each day as the pack writes every day ("23 Nov 2026"), never as ISO.
    saved_on = format_date(dt.date.fromisoformat(analysis.updated_at[:10]))
    assert f"Owner's update ({analysis.updated_by}, {saved_on}):" in draft
    status_on = format_date(dt.date.fromisoformat(
        cycle_store.values(rid)[("change_success_rate", "")].fields["status"].updated_at[:10]))
    assert f"Status set by the owner (Chris Moyo, {status_on})" in draft
    # The KPI's card in the pack.
    view = make_view(group, inputs)
    html = "".join(fragment.html for fragment in Pack(view).sections())
    assert "Status set by the owner: two releases were a one-off" in html
    assert "not yet approved by the office" in html and "Owner's update" in html
    assert f"(Chris Moyo, {status_on};" in html and f"{analysis.updated_by}, {saved_on}<" in html
    assert not re.search(r", 20\d\d-\d\d-\d\d[;<)]", html)
    unit_html = "".join(fragment.html for fragment in Pack(make_view(unit, inputs)).sections())
    entered_on = format_date(dt.date.fromisoformat(unit.entered["service_desk_csat"].at[:10]))
    assert f"Value entered by Sam Desk on {entered_on} in the review round" in unit_html
    # The publish gate asks for the office's approval, which the tracker gives.
    reasons = gate.check(group, (), store.actions(), {r: r == "owner_status_approved"
                                                     for r in gate.RULES})
    assert len(reasons) == 1 and "has not approved it" in reasons[0]
    office = Cycle.sign_in(app, cycle.users["office"])
    token = csrf_of(office.get(f"/rounds/{rid}").data)
    office.post(f"/rounds/{rid}/approve/change_success_rate/group",
                data={"csrf_token": token, "approve": "1"})
    approved = evaluate(definition, inputs, store, PERIOD)
    assert approved.result("change_success_rate").owner_status.approved  # type: ignore[union-attr]
    assert gate.check(approved, (), store.actions(), {r: r == "owner_status_approved"
                                                      for r in gate.RULES}) == []
    # A new status from the owner needs a new approval.
    cycle_store.save_fields(rid, "change_success_rate", "", {
        "status": ("green", cycle_store.values(rid)[("change_success_rate", "")]
                   .fields["status"].revision)}, by="Chris Moyo")
    again = evaluate(definition, inputs, store, PERIOD).result("change_success_rate")
    assert again.owner_status is not None and not again.owner_status.approved


def test_changing_an_approved_status_or_its_reason_clears_the_approval_in_the_history(
        own_cycle: tuple[Cycle, Flask]) -> None:
    own, application = own_cycle
    store: Store = application.extensions["reviewkit"].store
    cycle_store = CycleStore(store)
    rid = round_id(own)
    page_url = f"/my/{rid}"
    key = "change_success_rate.north-general"
    chris = Cycle.sign_in(application, own.users["owner"])
    office = Cycle.sign_in(application, own.users["office"])
    approve = f"/rounds/{rid}/approve/change_success_rate/north-general"

    def approved() -> bool:
        return cycle_store.values(rid)[("change_success_rate", "north-general")] \
            .status_approved

    form = _form(chris.get(page_url).data)
    form[f"{key}:status"] = "amber"
    form[f"{key}:status_reason"] = "the NGH freeze ends Friday"
    assert chris.post(page_url, data=form).status_code == 302
    for change in ({f"{key}:status_reason": "a one-off: the EHR release"},
                   {f"{key}:status": "green"}):
        office.post(approve, data={"csrf_token": csrf_of(office.get(f"/rounds/{rid}").data),
                                   "approve": "1"})
        assert approved()
        form = _form(chris.get(page_url).data)
        form[f"{key}:status"] = "amber"  # the select, as the page shows it
        form.update(change)
        saved = chris.post(page_url, data=form)
        assert saved.status_code == 302, re.findall(r'class="problem"[^>]*>([^<]*)',
                                                    saved.text)
        assert not approved(), change
        tracker = office.get(f"/rounds/{rid}").data.decode()
        assert "✓ approved" not in tracker and "awaiting" in tracker
    approvals = [(h.text != "", h.updated_by) for h in cycle_store.history(
        rid, "change_success_rate") if h.field == "status_approved"]
    assert approvals == [(True, "Olive Ward"), (False, "Chris Moyo"),
                         (True, "Olive Ward"), (False, "Chris Moyo")]
    group = evaluate(cadences.get("weekly"), load_inputs(own.params), store, PERIOD,
                     "north-general").result("change_success_rate")
    assert group.owner_status is not None and not group.owner_status.approved


def test_the_pack_provenance_names_the_review_round(app: Flask, cycle: Cycle) -> None:
    store: Store = app.extensions["reviewkit"].store
    params = str(cycle.params.resolve())
    before = CycleStore(store).fingerprint("weekly", PERIOD, "", params)
    assert before is not None
    CycleStore(store).save_fields(round_id(cycle), "p1_incidents", "",
                                  {"analysis": ("one more", 0)}, by="x")
    after = CycleStore(store).fingerprint("weekly", PERIOD, "", params)
    assert after is not None and after[0] != before[0] and after[1] == before[1] + 1
    assert CycleStore(store).fingerprint("weekly", "2026-11-06", "", params) is None
    # Another definition sharing the store has a round of its own, or none.
    assert CycleStore(store).fingerprint("weekly", PERIOD, "", "/elsewhere.yaml") is None
    view = make_view(evaluate(cadences.get("weekly"), load_inputs(cycle.params), store, PERIOD),
                     load_inputs(cycle.params),
                     sources=sources(cadences.get("weekly"), cycle.params, store, PERIOD,
                                     params=params))
    assert [f.path for f in view.provenance.inputs if f.role == "review round"] == [
        f"review round weekly {PERIOD}"]


def test_a_round_for_the_same_period_cannot_be_opened_twice(cycle: Cycle) -> None:
    store = Store.open(str(cycle.root / "review.sqlite"))
    try:
        with pytest.raises(Exception, match="is open already"):
            rounds.open_round(store, cycle.params, "weekly", period=PERIOD, due="2099-01-01",
                              by="x")
    finally:
        store.dispose()


def test_people_file_and_round_commands(tmp_path: Path, cycle: Cycle) -> None:
    people = tmp_path / "people.yaml"
    people.write_text("people:\n  - email: Kim@Northwind.example\n    name: Kim\n"
                      "    role: owner\n    owns: [CISO]\n"
                      "  - email: lee@northwind.example\n    name: Lee\n    role: reader\n",
                      encoding="utf-8")
    code, _, err = run(["people", "import", str(people), "--params", str(cycle.params)])
    assert code == 2 and "people[1]" in err and "a reader needs 'units'" in err
    assert err.count("\n") == 1
    people.write_text(people.read_text(encoding="utf-8") + "    units: [group]\n",
                      encoding="utf-8")
    code, out, _ = run(["people", "import", str(people), "--params", str(cycle.params)])
    assert code == 0 and "2 people" in out
    code, out, _ = run(["people", "list", "--params", str(cycle.params)])
    assert "kim@northwind.example\tKim\towner\tCISO\tall" in out
    code, out, _ = run(["round", "list", "--params", str(cycle.params)])
    assert code == 0 and f"weekly {PERIOD}" in out and "CISO:" in out



def test_a_unit_the_served_packs_do_not_have_is_refused_wherever_a_person_is_added(
        tmp_path: Path, app: Flask, cycle: Cycle) -> None:
    """A typo in a unit id would leave a reader with an empty library and an owner with
    nothing to update, silently: the people file, the command line and the People page each
    refuse it, naming the units there are."""
    people = tmp_path / "people.yaml"
    people.write_text("people:\n  - email: lex@northwind.example\n    name: Lex\n"
                      "    role: reader\n    units: [north-generl]\n", encoding="utf-8")
    code, _, err = run(["people", "import", str(people), "--params", str(cycle.params)])
    assert code == 2 and err.count("\n") == 1
    assert "people[0]" in err and "'north-generl' is not a unit" in err
    assert "north-general" in err
    code, _, err = run(["people", "add", "lex@northwind.example", "--params",
                        str(cycle.params), "--name", "Lex", "--role", "reader",
                        "--units", "group,north-generl"])
    assert code == 2 and "'north-generl' is not a unit" in err
    office = Cycle.sign_in(app, cycle.users["office"])
    answer = office.post("/people", data={
        "csrf_token": csrf_of(office.get("/people").data), "name": "Lex",
        "email": "lex@northwind.example", "role": "reader", "units": "north-generl"})
    assert answer.status_code == 400 and b"&#39;north-generl&#39; is not a unit" in answer.data
    users = CycleStore(app.extensions["reviewkit"].store).users()
    assert "lex@northwind.example" not in {user.email for user in users}
    people.write_text(people.read_text(encoding="utf-8").replace("north-generl", "north-general"),
                      encoding="utf-8")
    code, out, _ = run(["people", "import", str(people), "--params", str(cycle.params)])
    assert code == 0 and "1 people" in out

def test_an_analyst_edits_the_narrative_with_the_notebooks_conflict_rule(
        app: Flask, cycle: Cycle) -> None:
    store: Store = app.extensions["reviewkit"].store
    url = f"/rounds/{round_id(cycle)}/narrative/north-general"
    first, second = (Cycle.sign_in(app, cycle.users["analyst"]) for _ in range(2))
    page = first.get(url).data.decode()
    assert 'name="key" value="summary"' in page
    token = csrf_of(page.encode())
    saved = first.post(url, data={"csrf_token": token, "key": "summary", "revision": "0",
                                  "text": "North General had a <hard> week."})
    assert saved.status_code == 302
    stored = store.narratives("weekly", PERIOD, "north-general")["summary"]
    assert (stored.text, stored.revision, stored.updated_by) == (
        "North General had a <hard> week.", 1, "Ana Lyst")
    late = second.post(url, data={"csrf_token": csrf_of(second.get(url).data), "key": "summary",
                                  "revision": "0",
                                  "text": "My own summary"})
    assert late.status_code == 409
    assert b"My own summary" in late.data and b"&lt;hard&gt;" in late.data
    assert store.narratives("weekly", PERIOD, "north-general")["summary"].revision == 1
    office = Cycle.sign_in(app, cycle.users["office"])
    assert office.post(url, data={"csrf_token": csrf_of(office.get(url).data),
                                  "key": "summary", "revision": "1",
                                  "text": "x"}).status_code == 403


def test_the_office_opens_a_round_from_the_web(app: Flask, cycle: Cycle) -> None:
    office = Cycle.sign_in(app, cycle.users["office"])
    token = csrf_of(office.get("/rounds").data)
    form = {"csrf_token": token, "params": str(cycle.params.resolve()), "cadence": "weekly",
            "period": "2026-11-13", "due": "2099-01-31"}
    opened = office.post("/rounds", data=form, follow_redirects=True)
    assert b"Round weekly 2026-11-13 is open until 31 Jan 2099" in opened.data
    again = office.post("/rounds", data=form)
    assert again.status_code == 400 and b"is open already" in again.data
    bad = office.post("/rounds", data={**form, "period": "2026-11-06", "due": "soon"})
    assert bad.status_code == 400 and b"--due" in bad.data


def test_a_round_is_opened_only_on_a_definition_the_server_serves_and_no_path_is_read(
        app: Flask, cycle: Cycle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = app.extensions["reviewkit"].store
    office = Cycle.sign_in(app, cycle.users["office"])
    page = office.get("/rounds").data.decode()
    served = str(cycle.params.resolve())
    assert re.findall(r'<select name="params">(.*?)</select>', page, re.S)[0].count(
        "<option") == 1 and f'value="{served}"' in page
    secret = tmp_path / "secret.yaml"
    secret.write_text("database_password: hunter2-do-not-echo\n", encoding="utf-8")
    copy = tmp_path / "weekly.yaml"  # the served definition under another path, same store
    copy.write_text(cycle.params.read_text(encoding="utf-8").replace(
        "store: review.sqlite", f"store: {cycle.root / 'review.sqlite'}").replace(
        "catalog: kpis.yaml", f"catalog: {cycle.root / 'kpis.yaml'}"), encoding="utf-8")
    opened: list[str] = []
    monkeypatch.setattr(rounds, "load_params",
                        lambda path: opened.append(str(path)) or load_params(path))
    before = CycleStore(store).rounds()
    for params in ("/etc/passwd", str(secret), str(copy), f"{served}/../weekly.yaml", ""):
        answer = office.post("/rounds", data={"csrf_token": csrf_of(page.encode()),
                                              "params": params, "cadence": "weekly",
                                              "period": PERIOD, "due": "2099-01-31"})
        assert answer.status_code == 400, params
        problem = re.search(r'<p class="problem" role="alert">([^<]*)</p>', answer.text)
        assert problem is not None and problem[1].startswith(
            "Choose one of the pack definitions this server serves"), params
        assert "YAML" not in answer.text and "hunter2" not in answer.text
    assert opened == []  # refused before any path was read
    assert CycleStore(store).rounds() == before


def test_on_publish_each_reader_gets_one_message_with_their_pdfs_attached(
        app: Flask, cycle: Cycle, tmp_path: Path) -> None:
    site = app.extensions["reviewkit"]
    assert cycle.round is not None
    published = []
    for unit in ("", "north-general"):
        evaluated = evaluate(cadences.get("weekly"), load_inputs(cycle.params), site.store,
                             PERIOD, unit or None)
        folder = tmp_path / (unit or "group")
        folder.mkdir()
        (folder / "pack.pdf").write_bytes(b"%PDF-1.7 the pack of " + (unit or "group").encode())
        view = make_view(evaluated, load_inputs(cycle.params))
        published.append(Published(
            unit, BuildResult(folder, pack_document(view, Publication()))))
    attaching = dataclasses.replace(
        site, settings=site.settings.model_copy(update={"attach_pdf": True}))
    cycle.inbox.clear()
    with app.test_request_context(base_url=site.settings.url):
        sent = serve_app._send_packs(attaching, cycle.round, published)
    readers = {user.email: [unit for unit in ("group", "north-general") if user.may_read(unit)]
               for user in site.cycle.users() if user.role == "reader"}
    assert readers["priya@northwind.example"] == ["north-general"]
    assert readers["bo@northwind.example"] == ["group"]
    assert sent == len(cycle.inbox.messages) == len(readers)
    for address, units in readers.items():
        (message,) = cycle.inbox.to(address)
        attached = [part.get_content() for part in message.iter_attachments()]
        assert attached == [f"%PDF-1.7 the pack of {unit}".encode() for unit in units]
        assert "(attached)" in body_of(message)


def test_a_round_of_several_packs_is_refused_pack_by_pack_then_forced_publishes_each_whole(
        tmp_path: Path, smtp_server: tuple[int, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The units' packs and the group's are made side by side by workers
    (reviewkit.run.parallel): each goes through its own gate (a refusal names its own
    reasons and builds nothing), and a forced round publishes every pack as version 1,
    recorded in the store, its lock free again."""
    from reviewkit.run import publish

    sizes: list[int] = []

    class CountedPool(parallel.LocalPool):
        def __init__(self, workers: int, *args: Any, **options: Any) -> None:
            sizes.append(workers)
            super().__init__(workers, *args, **options)

    monkeypatch.setattr(parallel, "LocalPool", CountedPool)
    own = make_cycle(tmp_path, smtp_server)
    assert own.round is not None
    out = tmp_path / "packs"
    refused = rounds.publish_round(own.round, approver="Dana", out_dir=out, by="test",
                                   workers=1)
    assert [p.unit for p in refused] == ["group", "north-general"]
    for item in refused:
        assert item.result is None and item.error == "" and item.refused, item
    assert not list(out.rglob("pack.pdf"))
    done = rounds.publish_round(own.round, approver="Dana", out_dir=out, force=True, by="test")
    assert [(p.unit, p.refused, p.error) for p in done] == [
        ("group", (), ""), ("north-general", (), "")]
    assert sizes == [1, min(2, parallel.default_workers())]  # as asked, then one per core
    # The group's published figures were checked against North General's pack, and agree.
    assert done[0].agreement == parallel.Agreement(compared=("north-general",))
    assert done[1].agreement is None
    week = out / "weekly" / PERIOD
    for item, folder in zip(done, (week / "group", week / "north-general"), strict=True):
        assert item.result is not None and item.result.folder == folder
        assert item.result.pdf.read_bytes().startswith(b"%PDF")
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        assert (summary["state"], summary["version"], summary["approver"]) == (
            "final", 1, "Dana"), summary
        assert publish.whole_pack(folder)
        with publish.locked(folder, wait=False):  # released once the round is published
            pass
    assert done[1].result is not None and done[1].result.view.evaluated.unit is not None
    assert done[1].result.view.evaluated.unit.name == "North General Hospital"
    group_html = (week / "group" / "pack.html").read_text(encoding="utf-8")
    assert "<h2>Units side by side</h2>" in group_html and "North General Hospital" in group_html
    store = Store.open(str(own.root / "review.sqlite"))
    try:
        for unit in ("", "north-general"):  # the group's pack is recorded as unit ""
            assert [(v.version, v.approver) for v in store.versions("weekly", PERIOD, unit)] == [
                (1, "Dana")], unit
    finally:
        store.dispose()
    # A unit's pack whose figures differ from those the group's page printed (one published
    # before a round whose own pack of it was refused) is found, naming the KPI; a unit
    # without a pack for the period leaves the group unchecked, saying so.
    kpis = load_for(load_params(Path(own.round.params))).catalog.by_id()
    unit_summary = week / "north-general" / "summary.json"
    figures = json.loads(unit_summary.read_text(encoding="utf-8"))
    changed = next(entry for entry in figures["kpis"] if entry["value"])
    changed["value"] = changed["value"] * 2 + 1
    unit_summary.write_text(json.dumps(figures), encoding="utf-8")
    found = parallel.group_agreement(week / "group", kpis, ["north-general"])
    assert found.compared == ("north-general",) and found.not_checked == ""
    assert any(item.startswith(changed["id"]) for item in found.disagreements), found
    shutil.rmtree(week / "north-general")
    assert parallel.group_agreement(week / "group", kpis, ["north-general"]) == \
        parallel.Agreement(not_checked="no pack for north-general")


def test_the_serve_settings_say_how_many_packs_a_published_round_builds_at_once(
        app: Flask, cycle: Cycle, monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve: publish_workers`` reaches the round's publication (a server sharing its
    machine leaves cores to its web pages); below one it is refused, naming the field."""
    from pydantic import ValidationError

    from reviewkit.inputs.serve_params import ServeParams

    with pytest.raises(ValidationError, match="publish_workers"):
        ServeParams(publish_workers=0)
    site = app.extensions["reviewkit"]
    monkeypatch.setattr(site, "settings", site.settings.model_copy(update={"publish_workers": 1}))
    asked: list[dict[str, Any]] = []
    monkeypatch.setattr(rounds, "publish_round",
                        lambda round_, **options: asked.append(options) or [])
    assert cycle.round is not None
    office = next(user for user in site.cycle.users() if user.role == "office")
    job: dict[str, Any] = {}
    serve_app._publish_job(app, cycle.round, office, False, job)
    assert job["state"] == "done", job
    assert [options["workers"] for options in asked] == [1]


# -- drafts and people who leave ---------------------------------------------------------------

def test_readers_and_owners_never_see_a_draft_pack_that_the_office_sees(
        tmp_path: Path, smtp_server: tuple[int, Inbox], demo_pack: BuiltPack) -> None:
    """A draft is the office's and the analysts' work in progress: not listed in a reader's or
    an owner's library, and its files are not served to them even by their exact address."""
    own = make_cycle(tmp_path, smtp_server)
    label = demo_pack.folder.name
    shutil.copytree(demo_pack.folder, own.root / "packs" / "weekly" / label)
    summary = json.loads((demo_pack.folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["state"] != "final"  # the demo build is a draft
    application = own.app()
    pdf = f"/packs/weekly/{label}/group/pack.pdf"
    try:
        for role in ("board", "owner"):
            client = Cycle.sign_in(application, own.users[role])
            assert own.users[role].may_read("group")
            page = client.get("/library")
            assert page.status_code == 200
            assert label.encode() not in page.data and b"pack.pdf" not in page.data
            assert client.get(pdf).status_code == 404
        office = Cycle.sign_in(application, own.users["office"])
        page = office.get("/library")
        assert page.status_code == 200 and f"/packs/weekly/{label}/group/".encode() in page.data
        answer = office.get(pdf)
        try:
            assert answer.status_code == 200 and answer.data.startswith(b"%PDF")
        finally:
            answer.close()
    finally:
        application.extensions["reviewkit"].store.dispose()


def test_a_person_the_office_deactivates_is_signed_out_and_cannot_sign_in_again(
        own_cycle: tuple[Cycle, Flask]) -> None:
    own, application = own_cycle
    leaver = Cycle.sign_in(application, own.users["desk"])
    assert leaver.get("/library").status_code == 200
    office = Cycle.sign_in(application, own.users["office"])
    token = csrf_of(office.get("/people").data)
    answer = office.post(f"/people/{own.users['desk'].id}/deactivate",
                         data={"csrf_token": token})
    assert answer.status_code == 302
    ended = leaver.get("/library")  # the session ended at once
    assert ended.status_code == 302 and "/sign-in" in ended.location
    stranger = application.test_client()
    token = csrf_of(stranger.get("/sign-in").data)
    signed = stranger.post("/sign-in", data={"csrf_token": token, "password": PASSWORD,
                                             "email": own.users["desk"].email})
    assert signed.status_code == 401
    assert stranger.get("/library").status_code == 302
    people_page = office.get("/people").data.decode()
    row = people_page[people_page.index("sam@northwind.example"):]
    assert "deactivated" in row[:row.index("</tr>")]
    entries = [(e.what, e.target) for e in
               CycleStore(application.extensions["reviewkit"].store).audit_entries()]
    assert ("person deactivated", "sam@northwind.example") in entries
    # The office cannot lock itself out.
    token = csrf_of(office.get("/people").data)
    office.post(f"/people/{own.users['office'].id}/deactivate", data={"csrf_token": token})
    assert office.get("/people").status_code == 200


def test_adding_a_person_whose_address_has_an_account_is_refused_and_changes_nothing(
        own_cycle: tuple[Cycle, Flask]) -> None:
    own, application = own_cycle
    cycle_store = CycleStore(application.extensions["reviewkit"].store)
    office = Cycle.sign_in(application, own.users["office"])
    before = cycle_store.user_by_email("chris@northwind.example")
    own.inbox.clear()
    answer = office.post("/people", data={
        "csrf_token": csrf_of(office.get("/people").data), "name": "Chris M.",
        "email": "Chris@Northwind.example", "role": "reader", "units": "north-general",
        "invite": "1"})
    assert answer.status_code == 400
    problem = re.search(r'<p class="problem" role="alert">([^<]*)</p>', answer.text)
    assert problem is not None
    assert "chris@northwind.example already has an account" in problem[1]
    assert "reviewkit people add" in problem[1]  # where a role is changed
    assert cycle_store.user_by_email("chris@northwind.example") == before
    assert "person changed" not in {e.what for e in cycle_store.audit_entries()}
    assert own.inbox.to("chris@northwind.example") == []
    # Someone deactivated is brought back by adding them again, as the page says.
    cycle_store.deactivate("priya@northwind.example", by="test")
    added = office.post("/people", data={
        "csrf_token": csrf_of(office.get("/people").data), "name": "Priya Raman",
        "email": "priya@northwind.example", "role": "reader", "units": "north-general"})
    assert added.status_code == 302
    priya = cycle_store.user_by_email("priya@northwind.example")
    assert priya is not None and priya.active


def test_people_deactivate_on_the_command_line_and_add_brings_them_back(
        tmp_path: Path, smtp_server: tuple[int, Inbox]) -> None:
    own = make_cycle(tmp_path, smtp_server)
    code, out, err = run(["people", "deactivate", "Priya@Northwind.example",
                          "--params", str(own.params)])
    assert (code, err) == (0, "") and "priya@northwind.example: deactivated" in out
    code, out, _ = run(["people", "list", "--params", str(own.params)])
    line = next(row for row in out.splitlines() if row.startswith("priya@"))
    assert line.endswith("\tdeactivated")
    people = own.root / "people.yaml"
    people.write_text("people:\n  - email: priya@northwind.example\n    name: Priya R.\n"
                      "    role: reader\n    units: [north-general]\n", encoding="utf-8")
    code, out, _ = run(["people", "import", str(people), "--params", str(own.params)])
    assert code == 0 and "priya@northwind.example stays deactivated" in out
    code, _, err = run(["people", "deactivate", "nobody@northwind.example",
                        "--params", str(own.params)])
    assert code == 2 and "nobody@northwind.example" in err and err.count("\n") == 1
    code, _, _ = run(["people", "add", "priya@northwind.example", "--params", str(own.params),
                      "--name", "Priya Raman", "--role", "reader", "--units", "north-general"])
    assert code == 0
    store = Store.open(str(own.root / "review.sqlite"))
    try:
        user = CycleStore(store).user_by_email("priya@northwind.example")
        assert user is not None and user.active
    finally:
        store.dispose()


def test_pages_print_periods_and_days_in_words_as_the_packs_do(app: Flask, cycle: Cycle) -> None:
    """'Weekly review 20 Nov 2026, due 31 Dec 2099', never a folder's '2026-11-20'."""
    iso = re.compile(r"\b\d{4}-\d{2}(-\d{2}|-Q\d)?\b")
    pages = {"office": ["/rounds", f"/rounds/{round_id(cycle)}"],
             "owner": [f"/my/{round_id(cycle)}"]}
    for role, urls in pages.items():
        client = Cycle.sign_in(app, cycle.users[role])
        for url in urls:
            page = client.get(url)
            assert page.status_code == 200, url
            text = html.unescape(re.sub(r"<[^>]+>", " ", page.data.decode()))
            assert [m.group(0) for m in iso.finditer(text)] == [], url
            assert "20 Nov 2026" in text, url


def test_an_owners_page_names_an_actions_kpi_as_the_pack_does(
        own_cycle: tuple[Cycle, Flask]) -> None:
    """An action linked to a KPI reads "KPI Change success rate" on the owner's page, never
    the catalog's id."""
    own, application = own_cycle
    store: Store = application.extensions["reviewkit"].store
    store.add_action(title="Stabilise the EHR releases", owner="Change Manager",
                     due=dt.date(2026, 11, 27), kpi_id="change_success_rate",
                     effective=dt.date(2026, 11, 13), by="test", source="test")
    chris = Cycle.sign_in(application, own.users["owner"])
    page = html.unescape(chris.get(f"/my/{round_id(own)}").data.decode())
    assert "KPI Change success rate" in page
    assert "change_success_rate" not in re.sub(r'(name|id|for)="[^"]*"', "", page)
