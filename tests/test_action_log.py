"""The action log across three weekly reviews, as docs/meetings.md describes it.

The weekly pack logic runs for 6, 13 and 20 November 2026 on the demo data, with the demo
minutes imported between the packs, without full builds: ``prepare_view`` evaluates a pack
and ``Store.record_pack`` records its summary, as ``reviewkit build`` does once a pack is in
place. A change counts for the pack of period end E when it takes effect before E, so:

- pack 2026-11-06 (empty store), then minutes of 30 Oct and 6 Nov are imported;
- pack 2026-11-13, then minutes of 13 Nov are imported;
- pack 2026-11-20: the one most tests read.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from bidi import left_open
from conftest import REPO, prepare_view

from reviewkit.cli.app import main
from reviewkit.errors import InputError
from reviewkit.evaluation.actions import point_at
from reviewkit.inputs.catalog import Kpi, load_catalog
from reviewkit.inputs.measurements import Observation
from reviewkit.layout.sections import Pack
from reviewkit.layout.view import PackView, Publication
from reviewkit.outputs.data import summary_of, write_action_csvs
from reviewkit.store.database import Store
from reviewkit.store.minutes import ImportResult, import_minutes, load_minutes

DEMO = REPO / "data" / "demo"
MINUTES = DEMO / "minutes"
NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
CONTRACT_ACTION_COLUMNS = ("id", "title", "owner", "due", "status", "kpi_id", "raised_in",
                           "days_overdue", "due_date_changes")


def write_params(root: Path) -> Path:
    """A weekly params file in ``root`` (so its store is ``root/reviewkit.sqlite``)."""
    root.mkdir(parents=True, exist_ok=True)
    params = root / "weekly.yaml"
    params.write_text(
        "organisation: Northwind IT\n"
        "title: Weekly Operational Review\n"
        f"catalog: {DEMO / 'kpis.yaml'}\n"
        f"measurements: {DEMO / 'measurements.csv'}\n"
        "classification: Internal\n",
        encoding="utf-8",
    )
    return params


def store_of(params: Path) -> Store:
    return Store.open(str(params.parent / "reviewkit.sqlite"))


def import_file(params: Path, minutes: Path) -> ImportResult:
    known = {kpi.id for kpi in load_catalog(DEMO / "kpis.yaml").kpis}
    loaded = load_minutes(minutes, known)
    store = store_of(params)
    try:
        return import_minutes(store, loaded, by="secretary")
    finally:
        store.dispose()


def pack(params: Path, period_end: str, *, record: bool) -> PackView:
    """Prepare one weekly pack and, like a finished build, record its summary in the store."""
    context = prepare_view("weekly", params, period_end, now=NOW)
    if record:
        store = store_of(params)
        try:
            store.record_pack(context.cadence.name, context.period.label, context.period.end,
                              summary_of(context, Publication()))
        finally:
            store.dispose()
    return context


def counts(params: Path) -> tuple[int, int, int]:
    """Events, actions and decisions in the store."""
    store = store_of(params)
    try:
        return len(store.events()), len(store.actions()), len(store.decisions())
    finally:
        store.dispose()


@dataclass(frozen=True)
class Replay:
    root: Path
    params: Path
    first: PackView  # 2026-11-06
    second: PackView  # 2026-11-13
    third: PackView  # 2026-11-20 (not recorded)


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    root = tmp_path_factory.mktemp("action-log")
    params = write_params(root / "ws")
    first = pack(params, "2026-11-06", record=True)
    import_file(params, MINUTES / "weekly-2026-10-30.yaml")
    import_file(params, MINUTES / "weekly-2026-11-06.yaml")
    second = pack(params, "2026-11-13", record=True)
    import_file(params, MINUTES / "weekly-2026-11-13.yaml")
    third = pack(params, "2026-11-20", record=False)
    return Replay(root / "ws", params, first, second, third)


@pytest.fixture
def own_copy(replay: Replay, tmp_path: Path) -> Path:
    """The replayed workspace (params and store) copied for a test that changes the store."""
    shutil.copytree(replay.root, tmp_path / "ws")
    return tmp_path / "ws" / "weekly.yaml"


# -- the third pack ---------------------------------------------------------------------------

def test_third_pack_lists_open_actions_as_of_its_period_end(replay: Replay) -> None:
    log = replay.third.action_log
    assert log is not None
    assert log.as_of == dt.date(2026, 11, 20)
    assert [view.id for view in log.open] == ["A-0002", "A-0004", "A-0005", "A-0006"]
    statuses = {view.id: view.action.status for view in log.actions}
    assert statuses == {"A-0001": "done", "A-0002": "open", "A-0003": "done",
                        "A-0004": "in_progress", "A-0005": "open", "A-0006": "open"}


def test_third_pack_orders_overdue_actions_by_days_overdue(replay: Replay) -> None:
    log = replay.third.action_log
    assert log is not None
    assert [(view.id, view.days_overdue) for view in log.overdue] == [
        ("A-0004", 7), ("A-0002", 2), ("A-0006", 2)
    ]
    ages = {view.id: view.age_days for view in log.actions}
    assert ages == {"A-0001": 21, "A-0002": 21, "A-0003": 21, "A-0004": 14, "A-0005": 7,
                    "A-0006": 7}


def test_third_pack_shows_actions_closed_and_opened_since_the_last_review(
    replay: Replay,
) -> None:
    log = replay.third.action_log
    assert log is not None
    assert log.since == dt.date(2026, 11, 13)
    assert log.previous_label == "2026-11-13"
    assert [view.id for view in log.closed_since] == ["A-0003"]
    assert [view.id for view in log.opened_since] == ["A-0005", "A-0006"]
    assert [view.id for view in log.carried_forward] == ["A-0002", "A-0004"]


def test_a_moved_due_date_counts_as_one_slip(replay: Replay) -> None:
    log = replay.third.action_log
    assert log is not None
    views = {view.id: view for view in log.actions}
    assert views["A-0002"].due_changes == 1
    assert views["A-0002"].action.due == dt.date(2026, 11, 18)
    assert [view.id for view in log.slipped] == ["A-0002"]
    assert all(view.due_changes == 0 for key, view in views.items() if key != "A-0002")


def test_decisions_since_the_last_review_carry_the_actions_they_created(
    replay: Replay,
) -> None:
    log = replay.third.action_log
    assert log is not None
    assert [d.id for d in log.decisions] == ["D-0001", "D-0002"]
    [decision] = log.decisions_since
    assert decision.id == "D-0002"
    assert decision.text == "Freeze non-urgent EHR changes for two weeks"
    assert decision.actions == ["A-0005"]
    assert decision.kpis == ["ehr_availability", "change_success_rate"]
    assert decision.decided_on == dt.date(2026, 11, 13)
    views = {view.id: view for view in log.actions}
    assert views["A-0005"].action.decision_id == "D-0002"
    assert views["A-0001"].action.decision_id == "D-0001"


def test_closed_actions_are_judged_by_their_kpi_then_and_now(replay: Replay) -> None:
    """A-0001 (patch sprint) was raised on 30 Oct at 92.6% and the KPI is 96.1% now;
    A-0003 (owners for open vulnerabilities) was raised at 29 and the count is still 29."""
    log = replay.third.action_log
    assert log is not None
    effects = {effect.view.id: effect for effect in log.effects}
    assert set(effects) == {"A-0001", "A-0003"}
    patch, vulns = effects["A-0001"], effects["A-0003"]
    assert patch.kpi_id == "critical_patch_compliance"
    assert patch.then is not None and patch.now is not None
    assert patch.then.day == dt.date(2026, 10, 30) and patch.then.noun == "week"
    assert patch.now.day == dt.date(2026, 11, 20)
    assert (patch.then.value, patch.now.value) == (92.6, 96.1)
    assert patch.verdict == "improved"
    assert vulns.kpi_id == "open_critical_vulns"
    assert vulns.then is not None and vulns.now is not None
    assert (vulns.then.value, vulns.now.value) == (29, 29)
    assert vulns.verdict == "no_better"


def test_a_closed_actions_figures_keep_the_decimals_they_need_beside_a_whole_kpi(
        replay: Replay) -> None:
    """A pack whose KPI is whole this week (21.0 ML/d, so printed "21") printed the 22.3 the
    meeting saw when it raised the action as "22"."""
    from reviewkit.evaluation.figures import _actions, _Book

    view = replay.third
    log = view.action_log
    assert log is not None
    results = {result.kpi.id: result for result in view.evaluated.results}
    book = _Book(view.period.label)
    _actions(book, log, results, {kpi_id: 0 for kpi_id in results})  # every KPI printed whole
    figures = book.done({})
    patch = figures.text("action:A-0001", "then-value")
    assert patch.startswith("92.6"), patch  # never "93%"
    assert figures.text("action:A-0001", "now-value").startswith("96.1")
    assert figures.text("action:A-0003", "then-value") == "29"  # a whole count stays whole


@pytest.mark.parametrize("cadence", ["monthly", "quarterly"])
def test_every_cadence_built_from_the_same_data_gives_the_same_verdicts(
        own_copy: Path, cadence: str) -> None:
    """The board pack once compared the quarter's value with itself ("91.8% → 91.8%, no better
    yet") where the weekly pack said 92.6% → 96.1%, moved the right way."""
    longer = own_copy.with_name(f"{cadence}.yaml")
    longer.write_text(own_copy.read_text(encoding="utf-8"), encoding="utf-8")
    weekly = prepare_view("weekly", own_copy, "2026-11-20", now=NOW).action_log
    other = prepare_view(cadence, longer, "2026-11-20", now=NOW).action_log
    assert weekly is not None and other is not None
    assert [(e.view.id, e.then, e.now, e.verdict) for e in other.effects] == [
        (e.view.id, e.then, e.now, e.verdict) for e in weekly.effects]


def test_the_kpi_when_an_action_was_raised_is_the_latest_data_the_meeting_had(
        make_kpi: Callable[..., Kpi]) -> None:
    """Raised at a Monday meeting: the week that ended the Friday before, not the week the
    meeting falls in (whose data nobody had yet)."""
    kpi = make_kpi(target=95.0, amber=90.0)
    rows = [Observation(dt.date(2026, 10, 30), 92.3), Observation(dt.date(2026, 11, 6), 92.6),
            Observation(dt.date(2026, 11, 13), 94.0)]
    then = point_at(kpi, rows, dt.date(2026, 11, 9))
    assert (then.day, then.value, then.status, then.noun) == (
        dt.date(2026, 11, 6), 92.6, "amber", "week")
    assert then.label == "week to 6 Nov 2026"


def test_a_days_figure_at_its_share_of_the_weeks_target_is_on_target(
        make_kpi: Callable[..., Kpi]) -> None:
    """A weekly sum measured daily is judged against a seventh of the week's target: 0.7 / 7 is
    0.09999999999999999 in binary, and a day at 0.1 was judged above it."""
    kpi = make_kpi(direction="lower_is_better", aggregation="sum", unit="t", target=0.7,
                   amber=1.4, cadences=["weekly"])
    rows = [Observation(dt.date(2026, 11, day), 0.1) for day in (17, 18, 19)]
    assert point_at(kpi, rows, dt.date(2026, 11, 20)).status == "green"


def test_the_demo_decision_quotes_the_kpi_as_the_action_found_it(replay: Replay) -> None:
    log = replay.third.action_log
    assert log is not None
    patch = next(e for e in log.effects if e.view.id == "A-0001")
    decision = next(d for d in log.decisions if d.id == patch.view.action.decision_id)
    assert f"{patch.then.value:.1f}%" in decision.rationale


def test_red_kpi_without_an_open_action_is_an_exception_of_its_own(replay: Replay) -> None:
    """Three KPIs are red; change success and MTTR have open actions (A-0005, A-0002), the
    vulnerabilities' only action (A-0003) was closed at the last meeting."""
    exceptions = replay.third.evaluation.exceptions
    reds = sorted(item.kpi_id for item in exceptions if item.reason == "red")
    assert reds == ["change_success_rate", "mttr_p1", "open_critical_vulns"]
    escalated = [item.kpi_id for item in exceptions if item.reason == "red_no_action"]
    assert escalated == ["open_critical_vulns"]
    reasons = [item.reason for item in exceptions]
    assert reasons.index("red_no_action") == reasons.index("red") + 3  # right after the reds


def test_changes_compare_the_third_pack_with_the_one_recorded_before_it(
    replay: Replay,
) -> None:
    changes = replay.third.changes
    assert changes is not None
    assert changes.previous_label == "2026-11-13"
    assert [(c.kpi_id, c.before, c.after, c.worse) for c in changes.status_changes] == [
        ("change_success_rate", "amber", "red", True),
        ("cloud_spend", "green", "amber", True),
    ]
    # Worked out from the three packs' exceptions: 6 Nov had mttr/vulns red (both without an
    # action: the store was empty), EHR worsened and backup no data; 13 Nov had mttr/vulns red
    # (A-0002/A-0003 open) and backup no data and stale.
    assert {(e.kpi_id, e.reason, e.reviews) for e in changes.new} == {
        ("change_success_rate", "red", 1),
        ("open_critical_vulns", "red_no_action", 1),
        ("change_success_rate", "worsened", 1),
        ("cloud_spend", "worsened", 1),
    }
    assert {(e.kpi_id, e.reason, e.reviews) for e in changes.persisting} == {
        ("mttr_p1", "red", 3),
        ("open_critical_vulns", "red", 3),
        ("backup_success_rate", "no_data", 3),
        ("backup_success_rate", "stale", 2),
    }
    assert changes.cleared == ()


def test_second_pack_clears_the_escalations_the_first_meeting_answered(
    replay: Replay,
) -> None:
    changes = replay.second.changes
    assert changes is not None
    assert changes.previous_label == "2026-11-06"
    assert {(e.kpi_id, e.reason) for e in changes.cleared} == {
        ("mttr_p1", "red_no_action"),
        ("open_critical_vulns", "red_no_action"),
        ("ehr_availability", "worsened"),
    }
    assert changes.from_pack
    first = replay.first
    assert first.action_log is not None and first.action_log.actions == ()


def test_first_pack_compares_with_the_previous_week_from_its_data(replay: Replay) -> None:
    """No pack was recorded before 6 Nov: what changed is measured against the week ending
    30 Oct, the same week the scorecard's "since last week" and "was …" use."""
    first = replay.first
    changes = first.changes
    assert (changes.previous_label, changes.from_pack) == ("2026-10-30", False)
    assert [(c.kpi_id, c.before) for c in changes.status_changes] == [
        (r.kpi.id, r.previous.status) for r in first.evaluation.results
        if r.previous.status != r.status
    ]
    assert changes.status_changes  # the demo's 6 Nov week did move
    then = {(e.kpi_id, e.reason) for e in (*changes.persisting, *changes.cleared)}
    assert ("mttr_p1", "red") in then  # red the week before as well


def test_summary_actions_block_of_the_third_pack(replay: Replay) -> None:
    summary = summary_of(replay.third, Publication())
    assert summary["actions"] == {
        "open": 4,
        "overdue": ["A-0004", "A-0002", "A-0006"],
        "closed_since_last": ["A-0003"],
        "opened_since_last": ["A-0005", "A-0006"],
        "decisions_since_last": ["D-0002"],
        "since": "2026-11-13",
        "previous_pack": "2026-11-13",
    }
    assert {"kpi_id": "open_critical_vulns", "reason": "red_no_action",
            "detail": "no open action is linked to this KPI"} in summary["exceptions"]


def test_rebuilding_an_earlier_pack_shows_the_log_as_it_was_then(replay: Replay) -> None:
    """The 13 Nov meeting's changes take effect on 13 Nov, so they are not in that pack even
    when it is prepared again after the minutes were imported."""
    again = pack(replay.params, "2026-11-13", record=False)
    assert again.action_log is not None
    draft = Publication()
    assert summary_of(again, draft)["actions"] == summary_of(replay.second, draft)["actions"] == {
        "open": 3,
        "overdue": [],
        "closed_since_last": ["A-0001"],
        "opened_since_last": ["A-0004"],
        "decisions_since_last": [],
        "since": "2026-11-06",
        "previous_pack": "2026-11-06",
    }
    assert [view.id for view in again.action_log.open] == ["A-0002", "A-0003", "A-0004"]
    assert [view.due_changes for view in again.action_log.actions] == [0, 0, 0, 0]


# -- importing minutes -----------------------------------------------------------------------

def test_importing_the_same_minutes_twice_changes_nothing(own_copy: Path) -> None:
    before = counts(own_copy)
    for name in ("weekly-2026-10-30.yaml", "weekly-2026-11-06.yaml", "weekly-2026-11-13.yaml"):
        result = import_file(own_copy, MINUTES / name)
        assert result.already_imported
        assert result.changes == 0
    assert counts(own_copy) == before


def test_reimporting_an_edited_minutes_file_changes_nothing_for_entries_already_in(
    own_copy: Path,
) -> None:
    edited = own_copy.parent / "weekly-2026-11-13.yaml"
    edited.write_text((MINUTES / "weekly-2026-11-13.yaml").read_text(encoding="utf-8")
                      + "# typo fixed in a comment after the meeting\n", encoding="utf-8")
    before = counts(own_copy)
    result = import_file(own_copy, edited)
    assert not result.already_imported
    assert (result.created_actions, result.created_decisions, result.updated) == ([], [], {})
    assert counts(own_copy) == before


def test_reimporting_edited_minutes_does_not_undo_a_later_change(own_copy: Path) -> None:
    """docs/meetings.md: re-importing an edited file changes nothing for the entries already
    in. The 13 Nov minutes moved A-0002 to 18 Nov (already applied); the owner later moved it
    to 4 Dec. Re-importing the corrected minutes must not put 18 Nov back."""
    store = store_of(own_copy)
    try:
        store.update_action("A-0002", {"due": dt.date(2026, 12, 4)},
                            effective=dt.date(2026, 11, 23), by="owner", source="cli")
    finally:
        store.dispose()
    edited = own_copy.parent / "weekly-2026-11-13.yaml"
    edited.write_text((MINUTES / "weekly-2026-11-13.yaml").read_text(encoding="utf-8")
                      + "# attendee list corrected\n", encoding="utf-8")
    before = counts(own_copy)
    result = import_file(own_copy, edited)
    store = store_of(own_copy)
    try:
        due_now = store.action("A-0002").due
    finally:
        store.dispose()
    assert result.updated == {}
    assert due_now == dt.date(2026, 12, 4)
    assert counts(own_copy) == before


def test_a_meeting_held_after_the_period_end_counts_from_its_own_date(own_copy: Path) -> None:
    """The minutes' optional ``date`` is the day of the meeting and the day its changes take
    effect: a meeting on Monday 23 Nov about the 20 Nov pack is not in that pack."""
    minutes = own_copy.parent / "weekly-2026-11-20.yaml"
    minutes.write_text(
        "review: weekly 2026-11-20\n"
        "date: 2026-11-23\n"
        "actions:\n"
        "  - title: Book the VPN appliance patch window\n"
        "    owner: CISO\n"
        "    due: 2026-12-04\n"
        "    kpi: open_critical_vulns\n"
        "updates:\n"
        "  - id: A-0004\n"
        "    status: done\n",
        encoding="utf-8",
    )
    result = import_file(own_copy, minutes)
    assert result.created_actions == ["A-0007"]
    store = store_of(own_copy)
    try:
        assert store.action("A-0007").raised_on == dt.date(2026, 11, 23)
        assert store.action("A-0007").raised_in == "weekly 2026-11-20"
    finally:
        store.dispose()
    context = pack(own_copy, "2026-11-20", record=False)
    log = context.action_log
    assert log is not None
    assert [view.id for view in log.open] == ["A-0002", "A-0004", "A-0005", "A-0006"]
    assert log.overdue[0].id == "A-0004" and log.overdue[0].days_overdue == 7
    assert any(e.reason == "red_no_action" for e in context.evaluation.exceptions)


#: Malformed minutes: (case, YAML text, line, field, words in the message). Each file starts
#: with valid entries, so "nothing applied" means those too.
MALFORMED = [
    ("unknown-action-id", """\
        review: weekly 2026-11-20
        actions:
          - title: Book the VPN appliance patch window
            owner: CISO
            due: 2026-12-04
            kpi: open_critical_vulns
        updates:
          - id: A-0002
            status: done
          - id: A-0099
            status: done
        """, 10, "id", "unknown action id 'A-0099'"),
    ("bad-due-date", """\
        review: weekly 2026-11-20
        actions:
          - title: Book the VPN appliance patch window
            owner: CISO
            due: 2026-12-04
        updates:
          - id: A-0002
            due: next Friday
        """, 8, "due", "'next Friday' is not a date"),
    ("impossible-due-date", """\
        review: weekly 2026-11-20
        decisions:
          - text: Patch the VPN appliances this month
            actions:
              - title: Book the VPN appliance patch window
                owner: CISO
                due: 2026-13-40
        """, 7, "due", "is not a date"),
    ("unknown-kpi", """\
        review: weekly 2026-11-20
        actions:
          - title: Book the VPN appliance patch window
            owner: CISO
            due: 2026-12-04
          - title: Chase the storage vendor
            owner: Head of Infrastructure
            due: 2026-12-04
            kpi: storage_utilisation
        """, 9, "kpi", "unknown KPI 'storage_utilisation'"),
    ("unknown-kpi-in-decision", """\
        review: weekly 2026-11-20
        decisions:
          - text: Patch the VPN appliances this month
            kpis: [open_critical_vulns, vpn_uptime]
        """, 4, "kpis", "unknown KPI 'vpn_uptime'"),
    ("unknown-key", """\
        review: weekly 2026-11-20
        actions:
          - title: Book the VPN appliance patch window
            ownr: CISO
            due: 2026-12-04
        """, 4, "ownr", "did you mean 'owner'"),
    ("unknown-top-level-key", """\
        review: weekly 2026-11-20
        action:
          - title: Book the VPN appliance patch window
            owner: CISO
            due: 2026-12-04
        """, 2, "action", "did you mean 'actions'"),
]


@pytest.mark.parametrize(("text", "line", "field", "words"),
                         [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_minutes_name_file_line_and_field_and_apply_nothing(
    own_copy: Path, text: str, line: int, field: str, words: str
) -> None:
    path = own_copy.parent / "minutes-bad.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    before = counts(own_copy)
    with pytest.raises(InputError) as caught:
        import_file(own_copy, path)
    error = caught.value
    assert error.file is not None and Path(error.file).name == "minutes-bad.yaml"
    assert (error.line, error.field) == (line, field)
    assert words in str(error)
    assert f"line {line}, field '{field}'" in str(error)
    assert counts(own_copy) == before
    # Nor is the file recorded as imported: once corrected, it can be imported in full.
    store = store_of(own_copy)
    try:
        with store.transaction() as tx:
            assert not tx.imported(hashlib.sha256(path.read_bytes()).hexdigest())
    finally:
        store.dispose()


def test_minutes_import_command_reports_a_bad_file_in_one_line_with_exit_2(
    own_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = own_copy.parent / "weekly-2026-11-20.yaml"
    path.write_text("review: weekly 2026-11-20\nupdates:\n  - id: A-0002\n    due: soon\n",
                    encoding="utf-8")
    before = counts(own_copy)
    assert main(["minutes", "import", str(path), "--params", str(own_copy), "--by", "t"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert str(path.name) in lines[0]
    assert "line 4" in lines[0] and "'due'" in lines[0]
    assert "Traceback" not in captured.err
    assert counts(own_copy) == before


# -- what a pack writes and shows -------------------------------------------------------------

def test_actions_csv_has_the_contract_columns_as_of_the_pack(
    replay: Replay, tmp_path: Path
) -> None:
    actions_csv, decisions_csv = write_action_csvs(replay.third, tmp_path)
    assert actions_csv.name == "actions.csv" and decisions_csv.name == "decisions.csv"
    with actions_csv.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames is not None
        assert tuple(reader.fieldnames[:len(CONTRACT_ACTION_COLUMNS)]) == CONTRACT_ACTION_COLUMNS
        rows = {row["id"]: row for row in reader}
    assert list(rows) == ["A-0001", "A-0002", "A-0003", "A-0004", "A-0005", "A-0006"]
    assert rows["A-0004"]["days_overdue"] == "7"
    assert rows["A-0004"]["status"] == "in_progress"
    assert rows["A-0002"]["due"] == "2026-11-18"
    assert rows["A-0002"]["due_date_changes"] == "1"
    assert rows["A-0005"]["raised_in"] == "weekly 2026-11-13"
    assert rows["A-0005"]["kpi_id"] == "change_success_rate"
    assert rows["A-0003"]["days_overdue"] == "0"  # closed actions are never overdue
    with decisions_csv.open(encoding="utf-8", newline="") as handle:
        decisions = list(csv.DictReader(handle))
    assert [(d["id"], d["actions"]) for d in decisions] == [("D-0001", "A-0001"),
                                                            ("D-0002", "A-0005")]


def test_user_text_in_an_action_is_escaped_in_the_actions_section(own_copy: Path) -> None:
    title = "<script>alert('x')</script> Patch & <b>reboot</b>"
    store = store_of(own_copy)
    try:
        action_id = store.add_action(
            title=title, owner="<i>CISO</i>", due=dt.date(2026, 11, 16),
            kpi_id="open_critical_vulns", raised_in="weekly 2026-11-13",
            note="<img src=x onerror=alert(1)>", effective=dt.date(2026, 11, 13), by="t",
            source="test",
        )
    finally:
        store.dispose()
    context = pack(own_copy, "2026-11-20", record=False)
    html = Pack(context).section("actions").html
    assert action_id in html
    assert "<script>" not in html and "<b>reboot</b>" not in html and "<img" not in html
    assert "<i>CISO</i>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Patch &amp; &lt;b&gt;reboot" in html
    assert "&lt;i&gt;CISO&lt;/i&gt;" in html
    # The new open action answers the escalation.
    assert not any(item.reason == "red_no_action" for item in context.evaluation.exceptions)


def test_a_direction_override_in_an_action_ends_with_its_text(own_copy: Path) -> None:
    """An owner or title holding U+202E (right-to-left override) reversed everything printed
    after it in its paragraph: the due date and days overdue read backwards."""
    store = store_of(own_copy)
    try:
        store.add_action(
            title="Patch \u202egnitroper", owner="\u2069\u202eCISO",
            due=dt.date(2026, 11, 16), kpi_id="open_critical_vulns",
            raised_in="weekly 2026-11-13", effective=dt.date(2026, 11, 13), by="t",
            source="test")
    finally:
        store.dispose()
    view = pack(own_copy, "2026-11-20", record=False)
    for section in ("actions", "summary"):
        html = Pack(view).section(section).html
        assert "\u202e" in html, section
        assert left_open(html) == [], section


def test_a_quarter_in_progress_takes_its_action_log_as_of_its_data_not_its_end(
    replay: Replay,
) -> None:
    """The quarter runs to 31 Dec but its data to 20 Nov: A-0005, due 27 Nov, is not overdue
    (as of 31 Dec it would be 34 days overdue), and A-0006, due 18 Nov, is 2 days overdue."""
    view = prepare_view("quarterly", replay.params, "2026-11-20", now=NOW)
    log = view.action_log
    assert log.as_of == dt.date(2026, 11, 20)
    overdue = {v.id: v.days_overdue for v in log.overdue}
    assert "A-0005" not in overdue
    assert overdue["A-0006"] == 2


def test_the_clock_limits_the_action_log_of_a_period_in_progress(replay: Replay) -> None:
    """Built on 19 Nov, the rows of 20 Nov are in the future and left out: the data, and so the
    action log, run to 13 Nov, when A-0006 (due 18 Nov) was not yet overdue."""
    earlier = dt.datetime(2026, 11, 19, 9, 0, tzinfo=dt.UTC)
    view = prepare_view("quarterly", replay.params, "2026-11-19", now=earlier)
    assert view.action_log.as_of == dt.date(2026, 11, 13)
    assert "A-0006" not in {v.id for v in view.action_log.overdue}
