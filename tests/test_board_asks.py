"""The register of board asks: matters tabled for the board to decide, recorded through the
minutes and the command line, and what the board pack's "Decisions requested of the board"
shows (never the catalog's operational text)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import prepare_view, run_cli_in_process

from reviewkit.errors import InputError
from reviewkit.layout.sections import Pack
from reviewkit.store import database
from reviewkit.store.database import Store
from reviewkit.store.minutes import load_minutes


@pytest.fixture
def lumen_store(lumen: Path, tmp_path: Path) -> Path:
    """The Lumen organisation in a folder of its own, its Q3 board minutes imported."""
    folder = tmp_path / "lumen"
    shutil.copytree(lumen, folder, ignore=shutil.ignore_patterns("*.sqlite"))
    params = folder / "params" / "quarterly.yaml"
    code, out, err = run_cli_in_process(["minutes", "import",
                                         str(folder / "minutes" / "quarterly-2026-Q3.yaml"),
                                         "--params", str(params), "--by", "secretary"])
    assert code == 0, err
    assert "board asks B-0001" in out
    return params


def board_page(params: Path) -> tuple[Pack, str]:
    pack = Pack(prepare_view("quarterly", params))
    # A day is printed unbreakable ("10\u00a0Dec\u00a02026"): read as the page reads.
    return pack, pack.section("board_decisions").html.replace("\u00a0", " ")


def test_a_tabled_ask_is_what_the_board_is_asked(lumen_store: Path) -> None:
    pack, html = board_page(lumen_store)
    log = pack.view.action_log
    assert log is not None
    [ask] = log.tabled
    assert ask.id == "B-0001" and ask.owner == "Fleet Engineer"
    assert ask.options == ["Approve the refit now, for delivery in 2028",
                           "Defer the decision until MV Kotuku's refit has run a winter"]
    assert "Approve a second hybrid refit, of MV Toroa" in html
    assert "Recommended:</b> Approve now; the yard slot lapses in January" in html
    assert "10 Dec 2026" in html and "Fleet Engineer" in html
    # The KPI it concerns, with the scorecard's figure and status (a stale feed here).
    assert "Fuel burn per crossing" in html
    # Catalog text is never presented as a board decision.
    for kpi in pack.view.kpis:
        if kpi.action_if_off_track:
            assert kpi.action_if_off_track not in html
    assert "from the KPI catalog" not in html


def test_with_none_tabled_one_line_says_so(lumen: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bare"
    shutil.copytree(lumen, folder, ignore=shutil.ignore_patterns("*.sqlite"))
    _, html = board_page(folder / "params" / "quarterly.yaml")
    assert "No decision is tabled for the board this quarter." in html
    assert "<table" not in html


def test_a_decision_that_answers_an_ask_takes_it_off_the_table(lumen_store: Path) -> None:
    minutes = lumen_store.parent.parent / "minutes" / "quarterly-2026-Q4-board.yaml"
    minutes.write_text(
        "review: quarterly 2026-Q3\ndate: 2026-11-12\n"
        "decisions:\n  - text: Approve the refit of MV Toroa for 2028\n"
        "    answers: B-0001\n", encoding="utf-8")
    code, _, err = run_cli_in_process(["minutes", "import", str(minutes), "--params",
                                         str(lumen_store), "--by", "secretary", "--amend"])
    assert code == 0, err
    pack, html = board_page(lumen_store)
    assert pack.view.action_log is not None and not pack.view.action_log.tabled
    assert "No decision is tabled" in html
    assert "B-0001</span> decided (D-0001)" in html


def test_asks_are_recorded_and_listed_on_the_command_line(lumen_store: Path) -> None:
    params = str(lumen_store)
    code, out, err = run_cli_in_process([
        "asks", "add", "--params", params, "--ask", "Note the fuel-burn telemetry outage",
        "--owner", "Fleet Engineer", "--deadline", "2026-12-10", "--kpi", "fuel_burn",
        "--option", "Note it", "--recommend", "Note it", "--by", "secretary",
        "--date", "2026-11-16"])
    assert (code, out.strip()) == (0, "B-0002"), err
    code, out, _ = run_cli_in_process(["asks", "list", "--params", params, "--format", "json"])
    listed = json.loads(out)
    assert [row["id"] for row in listed] == ["B-0001", "B-0002"]
    assert listed[1]["kpis"] == "fuel_burn" and listed[1]["status"] == "tabled"
    code, out, _ = run_cli_in_process(["asks", "update", "B-0002", "--params", params,
                                       "--status", "withdrawn", "--date", "2026-11-17"])
    assert code == 0 and "status changed" in out
    code, _, err = run_cli_in_process(["asks", "add", "--params", params, "--ask", "x",
                                       "--owner", "y", "--deadline", "2026-12-10",
                                       "--kpi", "no_such_kpi"])
    assert code == 2 and "no_such_kpi" in err and "Traceback" not in err


def test_board_asks_in_a_units_minutes_are_refused(tmp_path: Path) -> None:
    minutes = tmp_path / "unit.yaml"
    minutes.write_text("review: quarterly 2026-Q3\nunit: north\nboard_asks:\n"
                       "  - ask: x\n    owner: y\n    deadline: 2026-12-10\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_minutes(minutes, set(), {"north"})
    assert caught.value.field == "board_asks" and "the group's minutes" in str(caught.value)


def test_a_store_from_before_board_asks_migrates_and_keeps_its_records(tmp_path: Path) -> None:
    """A store at the schema before board asks (version 5) opens, gains the register and its
    id counter, and keeps its actions."""
    path = tmp_path / "old.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        for step in database.MIGRATIONS[:5]:
            step(connection)
        connection.execute(database.meta_table.insert().values(key="schema_version", value="5"))
        connection.execute(database.counters.update().where(
            database.counters.c.name == "action").values(value=7))
    engine.dispose()
    store = Store.open(str(path))
    try:
        assert store.schema_version() == database.SCHEMA_VERSION >= 6  # board asks: 6
        assert store.asks() == []
        with store.transaction() as tx:
            ask = tx.add_ask(ask="Approve", owner="CFO", deadline=dt.date(2026, 12, 1),
                             effective=dt.date(2026, 11, 1), by="t", source="test")
            action = tx.add_action(title="t", owner="o", due=dt.date(2026, 12, 1),
                                   effective=dt.date(2026, 11, 1), by="t", source="test")
        assert (ask, action) == ("B-0001", "A-0008")
    finally:
        store.dispose()
