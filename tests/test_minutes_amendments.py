"""A corrected minutes file is never a duplicate and never silently dropped: importing it again
lists every difference from what was recorded and changes nothing, until ``--amend`` records
the differences as amendments of that meeting."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import REPO
from old_stores import V2_SCHEMA, write_store

from reviewkit.cli import main

DEMO = REPO / "data" / "demo"
FIRST = (DEMO / "minutes" / "weekly-2026-10-30.yaml").read_text(encoding="utf-8")
MINUTES = """\
review: weekly 2026-11-13
decisions:
  - text: Freeze non-urgent EHR changes for two weeks
    rationale: Availability amber two weeks running
    kpis: [ehr_availability]
    actions:
      - title: Root-cause the failed integration-engine releses
        owner: Change Manager
        due: 2026-11-27
        kpi: change_success_rate
actions:
  - title: Switch off idle non-production cloud workloads
    owner: Finance Business Partner
    due: 2026-11-18
    kpi: cloud_spend
  - title: Publish the patching calendar
    owner: CISO
    due: 2026-11-25
updates:
  - id: A-0002
    due: 2026-11-18
    note: Supplier's report slipped
"""


def run(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


def write_params(folder: Path, more: str = "") -> Path:
    """A params file on the demo data, its store beside it."""
    params = folder / "weekly.yaml"
    params.write_text(f"organisation: N\ncatalog: {DEMO / 'kpis.yaml'}\n"
                      f"measurements: {DEMO / 'measurements.csv'}\n{more}", encoding="utf-8")
    return params


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path]:
    params = write_params(tmp_path)
    first = tmp_path / "first.yaml"
    first.write_text(FIRST, encoding="utf-8")
    assert run("minutes", "import", first, "--params", params, "--by", "t")[0] == 0
    minutes = tmp_path / "minutes.yaml"
    minutes.write_text(MINUTES, encoding="utf-8")
    code, _out, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 0, err
    return params, minutes


def actions(params: Path) -> list[dict[str, str]]:
    code, out, _ = run("actions", "list", "--params", params, "--format", "json")
    assert code == 0
    rows: list[dict[str, str]] = json.loads(out)
    return rows


def store_bytes(params: Path) -> bytes:
    return (params.parent / "reviewkit.sqlite").read_bytes()


def correct(minutes: Path, old: str, new: str) -> None:
    text = minutes.read_text(encoding="utf-8")
    assert old in text
    minutes.write_text(text.replace(old, new), encoding="utf-8")


def test_a_fixed_typo_is_listed_and_nothing_changes_until_amend(
    workspace: tuple[Path, Path],
) -> None:
    params, minutes = workspace
    before, titles = store_bytes(params), [a["title"] for a in actions(params)]
    correct(minutes, "releses", "releases")
    code, out, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("reviewkit: error: ") and "--amend" in lines[0]
    assert str(minutes) in lines[0] and "weekly 2026-11-13" in lines[0]
    assert any("decisions[0].actions[0]" in line and "title" in line
               and "'Root-cause the failed integration-engine releses'" in line
               and "'Root-cause the failed integration-engine releases'" in line
               for line in lines[1:])
    assert store_bytes(params) == before
    assert [a["title"] for a in actions(params)] == titles


def test_amend_records_the_fix_on_the_same_action_not_a_new_one(
    workspace: tuple[Path, Path],
) -> None:
    params, minutes = workspace
    count = len(actions(params))
    correct(minutes, "releses", "releases")
    code, out, err = run("minutes", "import", minutes, "--params", params, "--by", "clerk",
                         "--amend")
    assert code == 0, err
    assert "amended" in out
    after = actions(params)
    assert len(after) == count
    fixed = [a for a in after if a["title"] == "Root-cause the failed integration-engine releases"]
    assert len(fixed) == 1
    code, shown, _ = run("actions", "show", fixed[0]["id"], "--params", params)
    assert "title: Root-cause the failed integration-engine releses → Root-cause the failed " \
           "integration-engine releases" in shown
    assert "minutes amendment" in shown and "by clerk" in shown


def test_a_changed_due_date_is_not_dropped(workspace: tuple[Path, Path]) -> None:
    params, minutes = workspace
    correct(minutes, "  - id: A-0002\n    due: 2026-11-18", "  - id: A-0002\n    due: 2026-11-20")
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 2
    assert "updates[0] (A-0002): due 2026-11-18 → 2026-11-20" in err
    assert run("minutes", "import", minutes, "--params", params, "--by", "t", "--amend")[0] == 0
    assert {a["id"]: a["due"] for a in actions(params)}["A-0002"] == "2026-11-20"


def test_an_amended_due_date_corrects_the_meeting_and_is_no_slip(
        workspace: tuple[Path, Path]) -> None:
    """A typo in the due date of an action the meeting raised, and in a re-plan it agreed: the
    packs counted each correction as one more slip (due moved twice)."""
    from reviewkit.evaluation.actions import replay
    from reviewkit.store.database import Store

    params, minutes = workspace
    correct(minutes, "    due: 2026-11-18\n    kpi: cloud_spend",
            "    due: 2026-11-19\n    kpi: cloud_spend")
    correct(minutes, "  - id: A-0002\n    due: 2026-11-18", "  - id: A-0002\n    due: 2026-11-20")
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t", "--amend")
    assert code == 0, err
    store = Store.open(str(params.parent / "reviewkit.sqlite"))
    try:
        events = store.events()
    finally:
        store.dispose()
    state, _, due_changes, _ = replay(events, before=dt.date(2026, 12, 1))
    cloud = next(a for a in state.values() if a.title.startswith("Switch off idle"))
    assert cloud.due == dt.date(2026, 11, 19) and due_changes.get(cloud.id, 0) == 0
    assert state["A-0002"].due == dt.date(2026, 11, 20)
    assert due_changes["A-0002"] == 1  # the meeting's re-plan, once


def test_amending_a_field_a_later_meeting_changed_is_refused_and_keeps_the_later_change(
        workspace: tuple[Path, Path], tmp_path: Path) -> None:
    """A-0002 was raised on 30 Oct due 13 Nov and re-planned to 18 Nov on 13 Nov: amending the
    first minutes to 14 Nov overwrote the re-plan in the store while packs kept it."""
    params, _ = workspace
    first = tmp_path / "first.yaml"
    correct(first, "    kpi: mttr_p1", "    kpi: mttr_p1")  # the file as imported
    correct(first, "    due: 2026-11-13\n    kpi: mttr_p1", "    due: 2026-11-14\n    kpi: mttr_p1")
    code, _, err = run("minutes", "import", first, "--params", params, "--by", "t", "--amend")
    assert code == 2
    assert "A-0002's due was last changed on 2026-11-13" in err and err.count("\n") == 1
    assert {a["id"]: a["due"] for a in actions(params)}["A-0002"] == "2026-11-18"


def test_an_added_and_a_removed_action_are_listed_and_amended(
    workspace: tuple[Path, Path],
) -> None:
    params, minutes = workspace
    correct(minutes, "  - title: Publish the patching calendar\n    owner: CISO\n"
                     "    due: 2026-11-25\n",
            "  - title: Brief the clinical safety officer\n    owner: CMIO\n"
            "    due: 2026-11-26\n  - title: Publish the patching calendar\n    owner: CISO\n"
            "    due: 2026-11-25\n")
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 2
    assert "actions[1]" in err and "'Brief the clinical safety officer'" in err
    code, _out, err = run("minutes", "import", minutes, "--params", params, "--by", "t",
                         "--amend")
    assert code == 0, err
    titles = [a["title"] for a in actions(params)]
    assert titles.count("Brief the clinical safety officer") == 1
    assert titles.count("Publish the patching calendar") == 1
    # Now the calendar action is taken out of the minutes: it is dropped, not deleted.
    correct(minutes, "  - title: Publish the patching calendar\n    owner: CISO\n"
                     "    due: 2026-11-25\n", "")
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 2 and "no longer in the minutes" in err
    assert run("minutes", "import", minutes, "--params", params, "--by", "t", "--amend")[0] == 0
    status = {a["title"]: a["status"] for a in actions(params)}
    assert status["Publish the patching calendar"] == "dropped"


def test_a_file_that_differs_only_in_comments_changes_nothing(
    workspace: tuple[Path, Path],
) -> None:
    params, minutes = workspace
    minutes.write_text("# typed up again after the meeting\n" + MINUTES, encoding="utf-8")
    before = len(actions(params))
    code, out, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 0, err
    assert "nothing new" in out
    assert len(actions(params)) == before


def test_minutes_imported_before_entries_were_kept_match_by_what_they_said(
    workspace: tuple[Path, Path],
) -> None:
    # A store from before this version knows no entries: forget them to stand in for one.
    params, minutes = workspace
    with contextlib.closing(sqlite3.connect(params.parent / "reviewkit.sqlite")) as db:
        db.execute("delete from minutes_entries")
        db.commit()
    before = len(actions(params))
    correct(minutes, "releses", "releases")
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 2
    # Matched by the fields it did not change (owner, due date, KPI), not taken for a new one.
    assert err.splitlines()[1:] == [
        "decisions[0].actions[0] (A-0004): title 'Root-cause the failed integration-engine "
        "releses' → 'Root-cause the failed integration-engine releases'"]
    assert len(actions(params)) == before
    assert run("minutes", "import", minutes, "--params", params, "--by", "t", "--amend")[0] == 0
    titles = {a["id"]: a["title"] for a in actions(params)}
    assert len(titles) == before
    assert titles["A-0004"] == "Root-cause the failed integration-engine releases"


# -- entries are matched by identity, never by their place in the file ---------------------------

THREE = """\
review: weekly 2026-11-13
actions:
  - title: Alpha
    owner: Ann
    due: 2026-11-20
    kpi: mttr_p1
  - title: Bravo
    owner: Bob
    due: 2026-11-27
    kpi: cloud_spend
  - title: Charlie
    owner: Cat
    due: 2026-12-04
    kpi: change_success_rate
"""
ALPHA, BRAVO, CHARLIE = (THREE.split("  - ")[i] for i in (1, 2, 3))


@pytest.fixture
def three(tmp_path: Path) -> tuple[Path, Path]:
    """Minutes of three actions imported (A-0001 Alpha, A-0002 Bravo, A-0003 Charlie)."""
    params = write_params(tmp_path)
    minutes = tmp_path / "minutes.yaml"
    minutes.write_text(THREE, encoding="utf-8")
    code, _out, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 0, err
    assert [(a["id"], a["title"]) for a in actions(params)] == [
        ("A-0001", "Alpha"), ("A-0002", "Bravo"), ("A-0003", "Charlie")]
    return params, minutes


def fields(params: Path) -> dict[str, tuple[str, str, str, str, str]]:
    return {a["id"]: (a["title"], a["owner"], a["due"], a["kpi_id"], a["status"])
            for a in actions(params)}


def test_deleting_a_middle_action_drops_that_action_and_moves_no_title(
    three: tuple[Path, Path],
) -> None:
    params, minutes = three
    assert run("actions", "close", "A-0003", "--params", params, "--by", "t")[0] == 0
    before = fields(params)
    correct(minutes, "  - " + BRAVO, "")
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 2
    assert err.splitlines()[1:] == [
        "actions[1] (A-0002): no longer in the minutes (the action is dropped)"]
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t", "--amend")
    assert code == 0, err
    after = fields(params)
    assert after["A-0001"] == before["A-0001"]
    assert after["A-0003"] == before["A-0003"]  # still Charlie, still done
    assert after["A-0002"][:4] == before["A-0002"][:4] and after["A-0002"][4] == "dropped"


def test_reordered_actions_keep_their_titles_owners_and_kpis(three: tuple[Path, Path]) -> None:
    params, minutes = three
    before = fields(params)
    minutes.write_text("review: weekly 2026-11-13\nactions:\n  - " + CHARLIE + "  - " + BRAVO
                       + "  - " + ALPHA, encoding="utf-8")
    code, out, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 0, err
    assert "nothing new" in out
    assert fields(params) == before
    # Back in the first order, with a corrected due date: one difference, on the right action.
    minutes.write_text(THREE.replace("due: 2026-12-04", "due: 2026-12-11"), encoding="utf-8")
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 2
    assert err.splitlines()[1:] == [
        "actions[2] (A-0003, was actions[0]): due 2026-12-04 → 2026-12-11"]
    assert run("minutes", "import", minutes, "--params", params, "--by", "t", "--amend")[0] == 0
    assert fields(params) == {**before, "A-0003": ("Charlie", "Cat", "2026-12-11",
                                                   "change_success_rate", "open")}


def test_an_entry_changed_in_two_fields_is_listed_unmatched_until_given_its_id(
    three: tuple[Path, Path],
) -> None:
    params, minutes = three
    before, stored = fields(params), store_bytes(params)
    correct(minutes, "  - title: Bravo\n    owner: Bob\n",
            "  - title: Bravo, corrected\n    owner: Bea\n")
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 2
    listed = err.splitlines()[1:]
    assert len(listed) == 2
    assert listed[0].startswith("actions[1]: a new action 'Bravo, corrected'")
    assert "id: A-0002" in listed[0]
    assert listed[1] == "actions[1] (A-0002): no longer in the minutes (the action is dropped)"
    assert store_bytes(params) == stored
    # Told which action it is, the entry is that action corrected.
    correct(minutes, "  - title: Bravo, corrected\n",
            "  - id: A-0002\n    title: Bravo, corrected\n")
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 2
    assert err.splitlines()[1:] == [
        "actions[1] (A-0002): title Bravo → 'Bravo, corrected'",
        "actions[1] (A-0002): owner Bob → Bea"]
    assert store_bytes(params) == stored
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t", "--amend")
    assert code == 0, err
    assert fields(params) == {**before, "A-0002": ("Bravo, corrected", "Bea", "2026-11-27",
                                                   "cloud_spend", "open")}


def test_an_entry_id_that_is_not_one_of_these_minutes_actions_is_refused(
    three: tuple[Path, Path],
) -> None:
    params, minutes = three
    assert run("actions", "add", "--params", params, "--title", "Elsewhere", "--owner", "X",
               "--due", "2026-12-01", "--by", "t")[0] == 0  # A-0004, not from these minutes
    stored = store_bytes(params)
    correct(minutes, "  - title: Bravo\n", "  - id: A-0004\n    title: Bravo\n")
    code, out, err = run("minutes", "import", minutes, "--params", params, "--by", "t",
                         "--amend")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert f"{minutes}, line 7, field 'id'" in err and "A-0004" in err
    assert store_bytes(params) == stored


def test_a_units_first_minutes_are_accepted_after_another_units_of_the_same_review(
    tmp_path: Path,
) -> None:
    params = write_params(tmp_path, "units:\n  - {id: north, segment: NGH}\n"
                                    "  - {id: south, segment: SAH}\n")
    for unit, title in (("north", "Replace the UPS"), ("south", "Patch the VPN")):
        minutes = tmp_path / f"{unit}.yaml"
        minutes.write_text(f"review: weekly 2026-11-13\nunit: {unit}\nactions:\n"
                           f"  - {{title: {title}, owner: Ann, due: 2026-11-27}}\n",
                           encoding="utf-8")
        code, out, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
        assert code == 0, err
        assert "new actions" in out
    # The group's own first minutes of that review too.
    group = tmp_path / "group.yaml"
    group.write_text("review: weekly 2026-11-13\nactions:\n"
                     "  - {title: Brief the board, owner: CIO, due: 2026-11-27}\n",
                     encoding="utf-8")
    code, _, err = run("minutes", "import", group, "--params", params, "--by", "t")
    assert code == 0, err
    assert sorted((a["unit"], a["title"]) for a in actions(params)) == [
        ("", "Brief the board"), ("north", "Replace the UPS"), ("south", "Patch the VPN")]


OLD_MINUTES = """\
review: weekly 2026-11-13
decisions:
  - text: Freeze non-urgent EHR changes
    kpis: [change_success_rate]
    actions:
      - title: Root-cause the releses
        owner: Change Manager
        due: 2026-11-27
        kpi: change_success_rate
actions:
  - title: Publish the patching calendar
    owner: CISO
    due: 2026-11-25
"""


def _v2_import(sha256: str) -> str:
    """The rows reviewkit 0.1 (schema 2) wrote when it imported OLD_MINUTES."""
    source = f"minutes minutes.yaml sha256:{sha256[:12]}"
    decision = {"id": "D-0001", "text": "Freeze non-urgent EHR changes", "rationale": "",
                "review": "weekly 2026-11-13", "decided_on": "2026-11-13",
                "kpis": '["change_success_rate"]', "actions": "[]"}
    first = {"id": "A-0001", "title": "Root-cause the releses", "owner": "Change Manager",
             "due": "2026-11-27", "status": "open", "kpi_id": "change_success_rate",
             "raised_in": "weekly 2026-11-13", "raised_on": "2026-11-13",
             "decision_id": "D-0001", "note": ""}
    second = {**first, "id": "A-0002", "title": "Publish the patching calendar",
              "owner": "CISO", "due": "2026-11-25", "kpi_id": None, "decision_id": None}

    def created(entity: str, values: dict[str, object]) -> str:
        return (f"INSERT INTO events (entity, entity_id, field, old, new, effective, "
                f"recorded_at, by, source) VALUES ('{entity}', '{values['id']}', 'created', "
                f"NULL, '{json.dumps(values, sort_keys=True)}', '2026-11-13', "
                f"'2026-11-16T09:00:00+00:00', 't', '{source}');\n")

    return (
        "INSERT INTO counters VALUES ('action', 2), ('decision', 1);\n"
        "INSERT INTO decisions VALUES ('D-0001', 'Freeze non-urgent EHR changes', '', "
        "'weekly 2026-11-13', '2026-11-13', '[\"change_success_rate\"]', '[\"A-0001\"]');\n"
        "INSERT INTO actions VALUES ('A-0001', 'Root-cause the releses', 'Change Manager', "
        "'2026-11-27', 'open', 'change_success_rate', 'weekly 2026-11-13', '2026-11-13', "
        "'D-0001', '');\n"
        "INSERT INTO actions VALUES ('A-0002', 'Publish the patching calendar', 'CISO', "
        "'2026-11-25', 'open', NULL, 'weekly 2026-11-13', '2026-11-13', NULL, '');\n"
        + created("decision", decision) + created("action", first) + created("action", second)
        + f"INSERT INTO minutes_imports VALUES ('{sha256}', 'minutes.yaml', 'weekly 2026-11-13', "
        "'2026-11-16T09:00:00+00:00', 't', 4);\n")


def test_an_amended_title_on_a_store_migrated_from_schema_2_makes_no_duplicate(
    tmp_path: Path,
) -> None:
    minutes = tmp_path / "minutes.yaml"
    minutes.write_text(OLD_MINUTES, encoding="utf-8")
    sha256 = hashlib.sha256(minutes.read_bytes()).hexdigest()
    write_store(tmp_path / "reviewkit.sqlite", V2_SCHEMA, _v2_import(sha256))
    params = write_params(tmp_path)
    code, out, _ = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert (code, out) == (0, f"{minutes}: already imported; nothing changed\n")
    correct(minutes, "releses", "releases")
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 2, err
    assert err.splitlines()[1:] == [
        "decisions[0].actions[0] (A-0001): title 'Root-cause the releses' → "
        "'Root-cause the releases'"]
    code, _, err = run("minutes", "import", minutes, "--params", params, "--by", "t", "--amend")
    assert code == 0, err
    assert [(a["id"], a["title"], a["decision_id"]) for a in actions(params)] == [
        ("A-0001", "Root-cause the releases", "D-0001"),
        ("A-0002", "Publish the patching calendar", "")]
    # From now on the entries are kept: the same correction again changes nothing.
    code, out, _ = run("minutes", "import", minutes, "--params", params, "--by", "t")
    assert code == 0 and "already imported" in out


def test_a_minutes_error_names_the_file_as_it_was_given(
        workspace: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every other error names the file as typed; an unknown action id printed its absolute
    path (the build machine's folders)."""
    params, minutes = workspace
    correct(minutes, "  - id: A-0002\n", "  - id: A-0999\n")
    monkeypatch.chdir(minutes.parent)
    code, _, err = run("minutes", "import", minutes.name, "--params", params, "--by", "t")
    assert code == 2
    assert err.startswith(f"reviewkit: error: {minutes.name}, line "), err
    assert str(minutes.parent) not in err
