"""The review cycle in a real browser (Selenium driving Debian's chromium and chromium-driver)
against ``reviewkit serve``: an owner signs in, updates three KPIs and an action and ticks done;
the office sees the tracker and publishes; each reader receives and sees only their packs.

Every page is saved as a screenshot (into REVIEWKIT_SCREENSHOTS when set, else the test's
folder) to be looked at. Skipped, saying why, where chromium cannot be installed.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from serve_support import PASSWORD, PERIOD, Cycle, Inbox, body_of, make_cycle
from serve_support import smtp_server as smtp_server

from reviewkit.store.database import Store

sys.path.insert(0, str(REPO / "bench"))
from serve_load import Server, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="the browser tests need Debian's chromium and chromium-driver: "
           "sh tools/ensure_system_deps.sh installs them (as root with apt-get)")]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory,
           smtp_server: tuple[int, Inbox]) -> Iterator[tuple[Cycle, str]]:
    root = tmp_path_factory.mktemp("browser")
    port = free_port()
    cycle = make_cycle(root, smtp_server, port=port)
    store = Store.open(str(root / "review.sqlite"))
    try:  # an open action of the infrastructure owner's, raised at North General's review
        store.add_action(title="Replace the failing UPS in theatre block B",
                         owner="Head of Infrastructure", due=dt.date(2026, 11, 27),
                         unit="north-general", effective=dt.date(2026, 11, 13), by="test",
                         source="test")
    finally:
        store.dispose()
    server = Server(cycle.params, port, threads=8)
    server.start()
    try:
        yield cycle, f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("REVIEWKIT_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(driver: object, shots: Path, name: str) -> None:
    """The whole page, however long."""
    height = driver.execute_script("return document.body.scrollHeight")  # type: ignore[attr-defined]
    driver.set_window_size(1280, max(900, min(int(height) + 40, 6000)))  # type: ignore[attr-defined]
    driver.save_screenshot(str(shots / f"{name}.png"))  # type: ignore[attr-defined]
    driver.set_window_size(1280, 1000)  # type: ignore[attr-defined]


def wait_for(driver: object, condition: Callable[[Any], object], seconds: float = 120) -> None:
    """Until the page shows what a click led to (a loaded machine answers slowly)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, seconds, poll_frequency=0.2).until(condition)


def click_and_wait(driver: Any, element: Any) -> None:
    """Click, and wait for the page the click loads (the old page gone, the new one loaded)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    html = driver.find_element("tag name", "html")
    element.click()

    def replaced(_: Any) -> bool:
        try:
            html.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            # Asked in the instant the old document is torn down, chromedriver answers with an
            # inspector error instead of "stale element" (seen under load).
            if "does not belong to the document" in str(exc) or "No node with given id" in str(
                    exc):
                return True
            raise
        return False

    wait_for(driver, replaced)
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def sign_in(driver: Any, base: str, email: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}/sign-in")
    form = driver.find_elements(By.CSS_SELECTOR, "form.card")[0]
    form.find_element(By.NAME, "email").send_keys(email)
    form.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_and_wait(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "/sign-in" not in driver.current_url, driver.find_element(By.TAG_NAME, "main").text


def test_an_owner_updates_three_kpis_and_an_action_and_ticks_done(
        served: tuple[Cycle, str], browser: object, shots: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    cycle, base = served
    driver = browser
    driver.get(f"{base}/sign-in")  # type: ignore[attr-defined]
    screenshot(driver, shots, "01-sign-in")
    sign_in(driver, base, cycle.users["infra"].email)
    assert driver.current_url.endswith(f"/my/{cycle.round.id}")  # type: ignore[attr-defined,union-attr]
    cards = driver.find_elements(By.CSS_SELECTOR, "section.kpi")  # type: ignore[attr-defined]
    assert len(cards) == 3
    screenshot(driver, shots, "02-owner-page")
    for number, card in enumerate(cards, 1):
        card.find_element(By.CSS_SELECTOR, "textarea[name$=':analysis']").send_keys(
            f"Analysis {number}: the <weekend> maintenance & a failed disk")
        card.find_element(By.CSS_SELECTOR, "textarea[name$=':recommendation']").send_keys(
            f"Recommendation {number}")
    Select(cards[0].find_element(By.CSS_SELECTOR, "select")).select_by_value("amber")
    cards[0].find_element(By.CSS_SELECTOR, "textarea[name$=':status_reason']").send_keys(
        "the outage was planned and announced")
    action = driver.find_element(By.CSS_SELECTOR, "section.action")  # type: ignore[attr-defined]
    action.find_element(By.CSS_SELECTOR, "textarea").send_keys("UPS ordered; fitting booked")
    action.find_element(By.CSS_SELECTOR, "input[type=date]").send_keys("12112026")
    action.find_element(By.CSS_SELECTOR, "input[name$=':reason']").send_keys(
        "the supplier's first slot")
    screenshot(driver, shots, "03-owner-page-filled")
    click_and_wait(driver, driver.find_element(By.ID, "save"))  # type: ignore[attr-defined]
    assert "Saved." in driver.find_element(By.CSS_SELECTOR, ".flash").text  # type: ignore[attr-defined]
    page = driver.page_source  # type: ignore[attr-defined]
    assert "Saved by Ira Fraser" in page and "&lt;weekend&gt;" in page
    click_and_wait(driver, driver.find_element(By.ID, "mark-done"))  # type: ignore[attr-defined]
    assert "✓ Done" in driver.find_element(By.ID, "done-state").text  # type: ignore[attr-defined]
    screenshot(driver, shots, "04-owner-page-done")


def test_the_office_sees_the_tracker_and_publishes(
        served: tuple[Cycle, str], browser: object, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    cycle, base = served
    driver = browser
    cycle.inbox.clear()
    sign_in(driver, base, cycle.users["office"].email)
    driver.get(f"{base}/rounds/{cycle.round.id}")  # type: ignore[attr-defined,union-attr]
    rows = {row.find_element(By.TAG_NAME, "th").text: row.text for row in
            driver.find_elements(By.CSS_SELECTOR, "table.tracker tbody tr")}  # type: ignore[attr-defined]
    assert "done" in rows["Head of Infrastructure"]
    assert "not started" in rows["CISO"] and "no one signed up" in rows["CISO"]
    assert "the outage was planned and announced" in driver.page_source  # type: ignore[attr-defined]
    screenshot(driver, shots, "05-tracker")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.inline-form button"))  # type: ignore[attr-defined]
    assert "✓ approved" in driver.page_source  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "force").click()  # type: ignore[attr-defined]
    click_and_wait(driver, driver.find_element(By.ID, "publish"))  # type: ignore[attr-defined]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        driver.get(f"{base}/rounds/{cycle.round.id}")  # type: ignore[attr-defined,union-attr]
        heading = driver.find_elements(By.CSS_SELECTOR, "#publishing h2")  # type: ignore[attr-defined]
        # No heading: not the round's page but an error page, which no wait will change.
        if not heading or heading[0].text != "Publishing: running":
            break
        time.sleep(0.5)  # each look is a page load: cheap next to the builds awaited
    page = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert driver.find_elements(By.ID, "publishing"), page  # type: ignore[attr-defined]
    job = driver.find_element(By.ID, "publishing").text  # type: ignore[attr-defined]
    screenshot(driver, shots, "06-tracker-published")
    assert "Publishing: done" in job, job
    assert job.count("published") == 2  # the group's pack and North General's
    assert "Group: published" in job and "North General Hospital: published" in job, job
    # Checked against North General's pack, whose backup status its owner set (approved).
    assert "Its figures agree with the packs of its 1 unit." in job, job
    for page in ("rounds", "people", "audit"):
        driver.get(f"{base}/{page}")  # type: ignore[attr-defined]
        screenshot(driver, shots, f"07-{page}")
    driver.get(f"{base}/rounds/{cycle.round.id}/narrative/group")  # type: ignore[attr-defined,union-attr]
    screenshot(driver, shots, "08-narrative")
    # Each reader was sent their packs, one message each, only theirs.
    priya = cycle.inbox.to(cycle.users["reader"].email)
    board = cycle.inbox.to(cycle.users["board"].email)
    assert len(priya) == 1 and len(board) == 1
    assert f"/packs/weekly/{PERIOD}/north-general/pack.pdf" in body_of(priya[0])
    assert "/group/" not in body_of(priya[0])
    assert f"/packs/weekly/{PERIOD}/group/pack.pdf" in body_of(board[0])
    # The pack shows what the owner wrote: the status and the commentary, with who and when.
    pack = (cycle.root / "packs" / "weekly" / PERIOD / "north-general" / "pack.html").read_text(
        encoding="utf-8")
    assert "Status set by the owner: the outage was planned and announced" in pack
    assert ("Analysis 1: the &lt;weekend&gt; maintenance &amp; a failed disk "
            "<i>Recommendation:</i> Recommendation 1") in pack
    assert "Ira Fraser" in pack


def test_a_reader_sees_and_downloads_only_their_units_pack(
        served: tuple[Cycle, str], browser: object, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    cycle, base = served
    driver = browser
    sign_in(driver, base, cycle.users["reader"].email)
    assert driver.current_url.endswith("/library")  # type: ignore[attr-defined]
    rows = driver.find_elements(By.CSS_SELECTOR, "table.library tbody tr")  # type: ignore[attr-defined]
    assert len(rows) == 1 and "North General Hospital" in rows[0].text
    assert "new" in rows[0].text
    screenshot(driver, shots, "09-reader-library")
    cookie = {c["name"]: c["value"] for c in driver.get_cookies()}  # type: ignore[attr-defined]
    session = f"reviewkit_session={cookie['reviewkit_session']}"

    def fetch(path: str) -> int:
        request = urllib.request.Request(f"{base}{path}", headers={"Cookie": session})
        try:
            with urllib.request.urlopen(request) as answer:
                data = answer.read()
                return 200 if data.startswith(b"%PDF") else -1
        except urllib.error.HTTPError as exc:
            return exc.code

    assert fetch(f"/packs/weekly/{PERIOD}/north-general/pack.pdf") == 200
    assert fetch(f"/packs/weekly/{PERIOD}/group/pack.pdf") == 403
    driver.get(f"{base}/library")  # type: ignore[attr-defined]
    assert "new since your last visit" not in driver.page_source  # type: ignore[attr-defined]


def test_the_office_pages_fit_a_phones_width_a_long_name_included(
        served: tuple[Cycle, str], browser: object, shots: Path) -> None:
    """On a 390-pixel phone the tracker, the rounds, the people and the audit log scroll down,
    never sideways: a wide table scrolls within itself, and a name of one long word breaks."""
    from reviewkit.store.cycle import CycleStore

    cycle, base = served
    store = Store.open(str(cycle.root / "review.sqlite"))
    try:
        CycleStore(store).add_user(email="long@northwind.example", name="Wolfeschlegel" * 8,
                                   role="reader", units=["north-general"], by="test")
    finally:
        store.dispose()
    driver: Any = browser
    sign_in(driver, base, cycle.users["office"].email)
    driver.get(f"{base}/people")
    assert driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")
    driver.set_window_size(390, 900)
    try:
        for page in (f"rounds/{cycle.round.id}", "rounds", "people", "audit"):  # type: ignore[union-attr]
            driver.get(f"{base}/{page}")
            wide = driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]")
            driver.save_screenshot(str(shots / f"09-phone-{page.replace('/', '-')}.png"))
            assert wide[0] <= wide[1], (page, wide)
    finally:
        driver.set_window_size(1280, 1000)


def test_a_person_changes_their_password_in_the_browser_giving_the_current_one(
        served: tuple[Cycle, str], browser: object, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    cycle, base = served
    driver: Any = browser
    desk = cycle.users["desk"]  # no other browser test signs in as this owner
    sign_in(driver, base, desk.email)
    click_and_wait(driver, driver.find_element(By.LINK_TEXT, "Password"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Change your password"
    form = driver.find_element(By.CSS_SELECTOR, "form.card")
    form.find_element(By.NAME, "current").send_keys("a guess that is wrong")
    for name in ("password", "again"):
        form.find_element(By.NAME, name).send_keys("a newer long password")
    click_and_wait(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "Your current password is not right" in driver.find_element(
        By.CSS_SELECTOR, "p.problem").text
    screenshot(driver, shots, "10-password-refused")
    form = driver.find_element(By.CSS_SELECTOR, "form.card")
    form.find_element(By.NAME, "current").send_keys(PASSWORD)
    for name in ("password", "again"):
        form.find_element(By.NAME, name).send_keys("a newer long password")
    click_and_wait(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "Your password is set." in driver.find_element(By.TAG_NAME, "body").text
