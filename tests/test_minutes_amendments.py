"""A corrected minutes file is never a duplicate and never silently dropped: importing it again
lists every difference from what was recorded and changes nothing, until ``--amend`` records
the differences as amendments of that meeting."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import REPO

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


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path]:
    params = tmp_path / "weekly.yaml"
    params.write_text(f"organisation: N\ncatalog: {DEMO / 'kpis.yaml'}\n"
                      f"measurements: {DEMO / 'measurements.csv'}\n", encoding="utf-8")
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


def test_minutes_imported_before_entries_were_kept_match_by_title(
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
    assert "decisions[0].actions[0]" in err and "not among the actions this review raised" in err
    assert len(actions(params)) == before
