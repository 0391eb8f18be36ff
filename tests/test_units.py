"""Units and the group pack: figures rolled up by each KPI's rule, a unit's own rows, owners,
actions and narrative, the store's migration to units, and the consistency check."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from html import unescape as html_unescape
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from old_stores import V2_SCHEMA, write_store

from reviewkit import cadences
from reviewkit.errors import InputError
from reviewkit.evaluation.evaluate import combine, period_value
from reviewkit.evaluation.units import disagreements
from reviewkit.inputs.catalog import Kpi
from reviewkit.inputs.loaded import load_inputs
from reviewkit.inputs.measurements import Observation
from reviewkit.inputs.params import load_params
from reviewkit.inputs.units import slug
from reviewkit.layout.figures import figure_for_page
from reviewkit.layout.sections import Pack
from reviewkit.layout.view import Publication, make_view
from reviewkit.outputs.data import summary_of
from reviewkit.periods import period_containing
from reviewkit.run.prepare import evaluate, load_for
from reviewkit.store import database as store_module
from reviewkit.store.database import Store
from reviewkit.store.minutes import import_minutes, load_minutes

DAY = dt.date(2026, 11, 20)


def _obs(value: float, segment: str, count: float | None = None,
         day: dt.date = DAY) -> Observation:
    return Observation(day, value, segment=segment, count=count)


def test_a_mean_kpi_weighs_each_unit_by_its_count(make_kpi: Callable[..., Kpi]) -> None:
    kpi = make_kpi(aggregation="mean")
    rows = [_obs(90.0, "a", 30), _obs(100.0, "b", 10)]
    assert combine(kpi, rows).value == pytest.approx(92.5)
    assert combine(kpi, rows).weight == 40


def test_a_summed_kpi_adds_its_units_and_a_peak_takes_the_highest(
        make_kpi: Callable[..., Kpi]) -> None:
    rows = [_obs(3.0, "a"), _obs(4.0, "b")]
    assert combine(make_kpi(aggregation="sum"), rows).value == 7.0
    assert combine(make_kpi(aggregation="max"), rows).value == 4.0


def test_a_stock_kept_with_last_can_roll_up_as_a_sum_of_each_units_latest(
        make_kpi: Callable[..., Kpi]) -> None:
    earlier = DAY - dt.timedelta(days=3)
    rows = [_obs(5.0, "a", day=earlier), _obs(6.0, "a"), _obs(10.0, "b", day=earlier)]
    assert combine(make_kpi(aggregation="last", rollup="sum"), rows).value == 16.0
    # by default `last` takes the most recent figure of any unit, as before units existed
    assert combine(make_kpi(aggregation="last"), rows).value == 6.0


def test_a_figure_on_a_threshold_is_not_pushed_off_it_by_binary_noise(
        make_kpi: Callable[..., Kpi]) -> None:
    kpi = make_kpi(aggregation="mean", target=99.9)
    rows = [_obs(v, s) for v, s in ((99.89, "a"), (99.9, "b"), (99.91, "c"), (99.9, "d"),
                                    (99.9, "e"), (99.9, "f"), (99.9, "g"))]
    assert combine(kpi, rows).value == 99.9


@pytest.fixture
def two_units(write: Callable[[str, str], Path]) -> Path:
    write("kpis.yaml", """
        kpis:
          - id: uptime
            name: Uptime
            perspective: Reliability
            direction: higher_is_better
            target: 99
            amber: 98
            owner: Head of Operations
            owners: {north: North site lead}
            cadences: [weekly]
            headline: true
          - id: incidents
            name: Incidents
            perspective: Reliability
            direction: lower_is_better
            target: 4
            owner: Head of Operations
            cadences: [weekly]
            aggregation: sum
            headline: true
          - id: budget
            name: Budget variance
            perspective: Cost
            direction: lower_is_better
            target: 1
            owner: Finance
            cadences: [weekly]
        """)
    rows = ["kpi_id,period_end,value,segment,count"]
    for week in range(6):
        day = (DAY - dt.timedelta(weeks=5 - week)).isoformat()
        rows += [f"uptime,{day},{98.5 + week * 0.1:.1f},N1,30",
                 f"uptime,{day},{99.5:.1f},S1,10",
                 f"incidents,{day},{week % 3},N1,", f"incidents,{day},1,S1,",
                 f"budget,{day},0.5,,"]
    write("measurements.csv", "\n".join(rows) + "\n")
    return write("params.yaml", """
        organisation: Two Sites <Ltd>
        catalog: kpis.yaml
        measurements: measurements.csv
        cadences: [weekly]
        units:
          - {id: north, segment: N1, name: "North & Co", owner: Ann}
          - {id: south, segment: S1, name: South}
        """)


def test_a_units_pack_shows_only_its_rows_its_owners_and_not_the_groups_own_kpis(
        two_units: Path) -> None:
    inputs = load_inputs(two_units)
    north = inputs.for_unit(inputs.unit_named("north"))
    assert {obs.segment for rows in north.measurements.series.values() for obs in rows} == {"N1"}
    assert [kpi.id for kpi in north.catalog.kpis] == ["uptime"]
    # incidents add up to the group's: without a target of its own a unit shows its share
    assert [kpi.id for kpi in north.shares] == ["incidents"]
    assert north.catalog.by_id()["uptime"].owner == "North site lead"
    south = inputs.for_unit(inputs.unit_named("south"))
    assert south.catalog.by_id()["uptime"].owner == "Head of Operations"


def test_a_units_provenance_counts_the_catalog_file_it_fingerprints(two_units: Path) -> None:
    """The provenance names the catalog file with its SHA-256: its count is that file's KPIs,
    the same in every unit's pack and the group's (a unit judged on 1 of 3 printed 1)."""
    inputs = load_inputs(two_units)
    group = {f.role: f for f in inputs.files()}
    north = {f.role: f for f in inputs.for_unit(inputs.unit_named("north")).files()}
    assert north["catalog"].sha256 == group["catalog"].sha256
    assert north["catalog"].rows == group["catalog"].rows == len(inputs.catalog.kpis) == 3


def test_the_group_pack_rolls_its_units_up_and_its_figures_pass_the_consistency_check(
        two_units: Path) -> None:
    inputs = load_for(load_params(two_units))
    store = Store.open(inputs.params.store_location)
    try:
        weekly = cadences.get("weekly")
        group = evaluate(weekly, inputs, store)
        units = [evaluate(weekly, inputs, store, unit=unit) for unit in ("north", "south")]
    finally:
        store.dispose()
    assert group.is_group and [f.unit.id for f in group.units] == ["north", "south"]
    assert group.result("uptime").value == pytest.approx((99.0 * 30 + 99.5 * 10) / 40)
    assert group.result("incidents").value == 2 + 1
    summaries = [summary_of(make_view(e, inputs), Publication()) for e in (group, *units)]
    kpis = inputs.catalog.by_id()
    assert disagreements(kpis, summaries[0], summaries[1:]) == []
    # incidents add up over the units, which have no target of their own: shares, not judged
    assert [(entry["id"], entry["value"], entry["share"]) for entry in summaries[1]["shares"]] \
        == [("incidents", 2, pytest.approx(2 / 3))]
    # a unit's figure that changed after the group was built is reported
    stale = json.loads(json.dumps(summaries[1]))
    stale["shares"][0]["value"] = 7
    found = disagreements(kpis, summaries[0], [stale, summaries[2]])
    assert [item.kpi_id for item in found] == ["incidents"]
    assert "group 3" in found[0].describe() and "sum 8" in found[0].describe()


def test_rows_of_a_segment_that_is_no_unit_are_named_in_the_groups_data_quality(
        two_units: Path) -> None:
    """A row written under the unit's name ("North & Co") instead of its segment ("N1") was
    left out of the group without a word, while unknown KPIs and columns are listed."""
    table = two_units.parent / "measurements.csv"
    day = DAY.isoformat()
    table.write_text(table.read_text(encoding="utf-8")
                     + f"incidents,{day},7,North & Co,\nuptime,{day},90,North & Co,5\n",
                     encoding="utf-8")
    inputs = load_for(load_params(two_units))
    store = Store.open(inputs.params.store_location)
    try:
        weekly = cadences.get("weekly")
        group = evaluate(weekly, inputs, store)
        north = evaluate(weekly, inputs, store, unit="north")
    finally:
        store.dispose()
    assert group.evaluation.data_quality.other_segments == {"North & Co": 2}
    assert group.evaluation.data_quality.issue_count >= 1
    assert north.evaluation.data_quality.other_segments == {}
    fragment = Pack(make_view(group, inputs)).section("data_quality")
    assert fragment is not None
    page = fragment.html
    assert "<code>North &amp; Co</code>" in page and "2 rows of this segment left out" in page


def test_a_units_last_week_counts_the_groups_actions_on_its_kpis_as_this_week_does(
        two_units: Path) -> None:
    """With no pack recorded for last week, its exceptions are worked out from its data: they
    left out the group's actions, so a unit's red KPI with the group's open action on it was
    "red, no action" last week and "cleared" this week, though nothing had changed."""
    table = two_units.parent / "measurements.csv"
    table.write_text(re.sub(r"uptime,([0-9-]+),[0-9.]+,N1,30", r"uptime,\1,90.0,N1,30",
                            table.read_text(encoding="utf-8")), encoding="utf-8")
    inputs = load_for(load_params(two_units))
    store = Store.open(inputs.params.store_location)
    try:
        store.add_action(title="Fix the north links", owner="Ann", due=DAY,
                         kpi_id="uptime", raised_in=None, note="", unit="",
                         effective=DAY - dt.timedelta(weeks=4), by="t", source="test")
        north = evaluate(cadences.get("weekly"), inputs, store, unit="north")
    finally:
        store.dispose()
    assert north.result("uptime").status == "red"
    assert ("uptime", "red_no_action") not in {(e.kpi_id, e.reason)
                                               for e in north.evaluation.exceptions}
    assert [(c.kpi_id, c.reason) for c in north.changes.cleared] == []


def test_the_consistency_check_finds_a_target_or_a_status_the_catalog_does_not_give(
        two_units: Path) -> None:
    inputs = load_for(load_params(two_units))
    store = Store.open(inputs.params.store_location)
    try:
        weekly = cadences.get("weekly")
        packs = [evaluate(weekly, inputs, store, unit=unit) for unit in (None, "north", "south")]
    finally:
        store.dispose()
    group, north, south = (summary_of(make_view(e, inputs), Publication()) for e in packs)
    kpis = inputs.catalog.by_id()
    assert disagreements(kpis, group, [north, south]) == []

    def changed(summary: dict[str, Any], kpi_id: str, **fields: Any) -> dict[str, Any]:
        copy = json.loads(json.dumps(summary))
        entry = next(item for item in copy["kpis"] if item["id"] == kpi_id)
        entry.update(fields)
        return copy

    # the group judged against a unit's target (the last store's row target)
    found = disagreements(kpis, changed(group, "incidents", target=1, status="red"),
                          [north, south])
    assert [item.describe() for item in found] == [
        "incidents: target 1, but the catalog gives the group 4"]
    # a status its value and target do not give
    found = disagreements(kpis, changed(group, "uptime", status="red"), [north, south])
    assert [item.kpi_id for item in found] == ["uptime"] and "is green" in found[0].detail
    # a unit judged against the group's target for a summed KPI
    judged = json.loads(json.dumps(north))
    judged["kpis"].append({**judged["shares"][0], "target": 4.0, "amber": None,
                           "status": "green", "target_from": "catalog"})
    judged["shares"] = []
    found = disagreements(kpis, group, [judged, south])
    assert [(item.kpi_id, item.pack) for item in found] == [("incidents", "north")]
    assert "no target of its own" in found[0].detail


def test_a_status_an_owner_set_in_a_review_round_is_told_apart_and_not_a_disagreement(
        two_units: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit's pack whose status its owner set (approved by the office) says so in its
    summary, with what the data gave; the consistency check judges the data's status, so the
    owner's is no disagreement, and a data status that does not follow still is."""
    from reviewkit.run import prepare
    from reviewkit.store.records import APPROVAL_FIELD, FieldValue, KpiUpdate

    inputs = load_for(load_params(two_units))
    store = Store.open(inputs.params.store_location)
    weekly = cadences.get("weekly")
    try:
        data_status = evaluate(weekly, inputs, store, unit="north").result("uptime").status
        status = "red" if data_status != "red" else "green"

        def saved(name: str, text: str) -> FieldValue:
            return FieldValue("uptime", "north", name, text, 1, "2026-11-21T09:00:00+00:00",
                              "Ira Fraser")

        # What the round's owner saved and the office approved (the store's cycle tables).
        update = KpiUpdate("uptime", "north", {
            "status": saved("status", status), "status_reason": saved(
                "status_reason", "a <planned> outage"), APPROVAL_FIELD: saved(APPROVAL_FIELD, "1")})
        monkeypatch.setattr(prepare, "round_updates", lambda *args: (update,))
        packs = [evaluate(weekly, inputs, store, unit=unit) for unit in (None, "north", "south")]
    finally:
        store.dispose()
    group, north, south = (summary_of(make_view(e, inputs), Publication()) for e in packs)
    entry = next(item for item in north["kpis"] if item["id"] == "uptime")
    assert entry["status"] == status
    assert entry["status_set_by_owner"] == {
        "data_status": data_status, "reason": "a <planned> outage", "by": "Ira Fraser",
        "approved": True}
    kpis = inputs.catalog.by_id()
    assert disagreements(kpis, group, [north, south]) == []
    entry["status_set_by_owner"]["data_status"] = status
    found = disagreements(kpis, group, [north, south])
    assert [(item.kpi_id, item.pack) for item in found] == [("uptime", "north")]


def test_a_kpi_with_both_unit_rows_and_group_rows_is_an_error_naming_the_line(
        two_units: Path) -> None:
    csv = two_units.parent / "measurements.csv"
    csv.write_text(csv.read_text() + f"uptime,{DAY},99.0,,\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 32, field 'segment': KPI 'uptime' has rows "
                                         r"for units and rows without a segment"):
        load_inputs(two_units)


@pytest.mark.parametrize(("units", "message"), [
    ("[{id: North}]", "unit id 'North' must start with a lower-case letter or a digit, then "
                      "lower-case letters, digits, '-' and '_', at most 64 characters"),
    ("[{id: -north}]", "unit id '-north' must start with a lower-case letter or a digit"),
    ("[{id: " + "n" * 65 + "}]", "at most 64 characters in all"),
    ("[{id: group}]", "'group' names the group pack's folder"),
    ("[{id: a, segment: N1}, {id: b, segment: N1}]", "two units have the segment 'N1'"),
    ("[{id: west}]", "unit 'west': no measurement row has the segment 'west'"),
])
def test_bad_units_in_a_params_file_are_input_errors(two_units: Path, units: str,
                                                     message: str) -> None:
    text = two_units.read_text().split("units:")[0] + f"units: {units}\n"
    two_units.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        load_inputs(two_units)
    assert caught.value.field is not None and caught.value.field.startswith("units")


def test_minutes_of_a_units_review_keep_its_actions_apart(two_units: Path) -> None:
    store = Store.open(str(two_units.parent / "store.sqlite"))
    try:
        minutes = two_units.parent / "north.yaml"
        minutes.write_text("review: weekly 2026-11-13\nunit: north\nactions:\n"
                           "  - {title: Fix the UPS, owner: Ann, due: 2026-12-01, kpi: uptime}\n",
                           encoding="utf-8")
        import_minutes(store, load_minutes(minutes, {"uptime"}, {"north", "south"}), by="t")
        assert [a.unit for a in store.actions()] == ["north"]
        assert store.actions(unit="") == []
        assert len(store.history("weekly", "north").events) == 1
        assert store.history("weekly").events == ()
        other = two_units.parent / "south.yaml"
        other.write_text("review: weekly 2026-11-20\nunit: south\nupdates:\n"
                         "  - {id: A-0001, status: done}\n", encoding="utf-8")
        with pytest.raises(InputError, match="action A-0001 belongs to unit 'north', not "
                                             "unit 'south'"):
            import_minutes(store, load_minutes(other, {"uptime"}, {"north", "south"}), by="t")
        with pytest.raises(InputError, match="unknown unit 'east'"):
            other.write_text("review: weekly 2026-11-20\nunit: east\n", encoding="utf-8")
            load_minutes(other, {"uptime"}, {"north", "south"})
    finally:
        store.dispose()


#: What a version 2 store of the demo held (see old_stores.V2_SCHEMA for its tables).
_V2_ROWS = """
INSERT INTO counters VALUES ('action', 1), ('decision', 0);
INSERT INTO actions VALUES ('A-0001', 'Old action', 'Ann', '2026-12-01', 'open', NULL, NULL,
  '2026-11-01', NULL, '');
INSERT INTO packs VALUES ('weekly', '2026-11-13', '2026-11-13', 't', '{}');
INSERT INTO narratives VALUES ('weekly', '2026-11-13', 'summary', NULL, 'Kept words', '{}', 1,
  't', 'Ann');
"""


def test_a_version_2_store_migrates_to_units_keeping_everything_as_the_groups(
        tmp_path: Path) -> None:
    path = write_store(tmp_path / "old.sqlite", V2_SCHEMA, _V2_ROWS)
    store = Store.open(str(path))
    try:
        assert store.schema_version() == store_module.SCHEMA_VERSION
        assert [(a.id, a.unit) for a in store.actions()] == [("A-0001", "")]
        assert store.narratives("weekly", "2026-11-13")["summary"].text == "Kept words"
        assert [p.label for p in store.packs("weekly")] == ["2026-11-13"]
        # the same cell and pack of a unit are now separate records
        store.save_narrative(cadence="weekly", label="2026-11-13", unit="north", key="summary",
                             kpi_id=None, text="North's words", basis={}, expected_revision=0,
                             by="t", source="test")
        store.record_pack("weekly", "2026-11-13", dt.date(2026, 11, 13), {}, unit="north")
        assert store.narratives("weekly", "2026-11-13")["summary"].text == "Kept words"
        assert store.narratives("weekly", "2026-11-13", "north")["summary"].revision == 1
        assert len(store.packs("weekly")) == len(store.packs("weekly", "north")) == 1
    finally:
        store.dispose()


def test_the_demos_seven_units_roll_up_to_its_group_figures(tmp_path: Path) -> None:
    params = load_params(REPO / "params" / "units" / "weekly.yaml")
    inputs = load_for(params)
    assert len(inputs.units) == 7
    # A store of its own (":memory:" is a file name to reviewkit: it left one in the checkout).
    store = Store.open(str(tmp_path / "store.db"))
    try:
        for name in ("weekly", "monthly", "quarterly"):
            cadence = cadences.get(name)
            period = "2026-10-31" if name == "monthly" else None
            group = evaluate(cadence, inputs, store, period)
            units = [evaluate(cadence, inputs, store, period, unit.id) for unit in inputs.units]
            summaries = [summary_of(make_view(e, inputs), Publication())
                         for e in (group, *units)]
            assert disagreements(inputs.catalog.by_id(), summaries[0], summaries[1:]) == []
    finally:
        store.dispose()


def test_the_units_page_prints_each_kpis_row_at_one_precision(tmp_path: Path) -> None:
    # St Anne's change success rate of 93.0% printed "93%" beside its neighbours' "92.7%"; and
    # the group's cloud spend "£41.02k" beside "£41.0k" on its scorecard, because a unit's
    # share of it carried a target scaled to many digits.
    params = load_params(REPO / "params" / "units" / "quarterly.yaml")
    inputs = load_for(params)
    store = Store.open(str(tmp_path / "store.db"))
    try:
        group = evaluate(cadences.get("quarterly"), inputs, store)
        section = Pack(make_view(group, inputs)).section("units")
        assert section is not None
        html = section.html
    finally:
        store.dispose()
    by_name = {result.kpi.name: result for result in group.results}
    rows = re.findall(r"<tr>\s*<td><b>(.*?)</b>(.*?)</tr>", html, re.S)
    assert rows
    for name, row in rows:
        figures = re.findall(r'class="rk-num[^"]*">(?:<b>)?(?:<span[^>]*>)?([^<]*?[0-9][^<]*?)'
                             r'(?:</span>)?(?:</b>)?<br>', row)
        # The group's figure reads as on the pack's other pages.
        name = html_unescape(name).replace("\u2060", "").replace("\u00a0", " ")
        kpi_id = by_name[name].kpi.id
        assert html_unescape(figures[-1]) == figure_for_page(group.figures.text(kpi_id, "value"))
        digits = [re.sub(r"[^0-9.]", "", figure) for figure in figures]
        places = {len(d.split(".")[1]) if "." in d else 0 for d in digits}
        assert len(places) <= 1, (name, figures)
        if name == "P1 incidents":  # a count is a whole number, whatever its pro-rated target
            assert places == {0}, figures
        if name == "Cloud spend run-rate":
            assert places == {1}, figures


@pytest.mark.parametrize(("segment", "message"), [
    ("???", "the segment '???' makes the unit id '' (an id keeps only the segment's letters a-z "
            "and digits, with '-' between them), which is no unit id"),
    ("Group", "the segment 'Group' makes the unit id 'group', which names the group pack's "
              "folder"),
    ("n1", "the segment 'n1' makes the unit id 'n1', as does 'N1'"),
])
def test_a_segment_that_makes_no_unit_id_says_why(two_units: Path, segment: str,
                                                   message: str) -> None:
    csv = two_units.parent / "measurements.csv"
    csv.write_text(csv.read_text() + f"uptime,{DAY},99.0,{segment},\n", encoding="utf-8")
    two_units.write_text(two_units.read_text().split("units:")[0] + "units: all\n",
                         encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_inputs(two_units)
    assert message in caught.value.message


def test_a_group_takes_its_units_figures_from_their_own_packs_unevaluated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A batch hands each unit's figures from its own pack to the group's units page: the page
    # reads as if the group had evaluated every unit itself, and no unit is evaluated twice.
    from reviewkit.evaluation import units as units_module
    from reviewkit.run.batch import remember_unit

    params = load_params(REPO / "params" / "units" / "weekly.yaml")
    inputs = load_for(params)
    store = Store.open(str(tmp_path / "store.db"))
    real = units_module.evaluate
    evaluated: list[object] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        evaluated.append(args)
        return real(*args, **kwargs)

    try:
        for name, period in (("weekly", "2026-11-20"), ("monthly", "2026-10-31")):
            cadence = cadences.get(name)
            monkeypatch.setattr(units_module, "evaluate", counted)
            evaluated.clear()
            expected = evaluate(cadence, inputs, store, period).units
            alone = len(evaluated)
            monkeypatch.setattr(units_module, "evaluate", real)
            known: dict[str, units_module.UnitFigures] = {}
            for unit in inputs.units:
                remember_unit(known, evaluate(cadence, inputs, store, period, unit.id))
            assert sorted(known) == sorted(unit.id for unit in inputs.units)
            monkeypatch.setattr(units_module, "evaluate", counted)
            evaluated.clear()
            got = evaluate(cadence, inputs, store, period, units_known=known).units
            monkeypatch.setattr(units_module, "evaluate", real)
            assert got == expected
            # The group's page evaluates no unit again (what it still evaluates is the
            # group's own figure of the KPIs its units' shares are shares of).
            assert alone - len(evaluated) == len(inputs.units)
    finally:
        store.dispose()
@pytest.mark.parametrize(("segment", "unit_id"), [
    ("Ünit Três", "unit-tres"), ("São Brás", "sao-bras"), ("Søndre Straße", "sondre-strasse"),
    ("North General (site 2)", "north-general-site-2"),
])
def test_a_unit_id_made_from_a_segment_keeps_its_letters_without_accents(
        segment: str, unit_id: str) -> None:
    assert slug(segment) == unit_id


def test_the_group_is_judged_against_its_own_target_never_a_units_row_target(
        make_kpi: Callable[..., Kpi]) -> None:
    summed = make_kpi(direction="lower_is_better", target={"weekly": 40}, amber=None,
                      aggregation="sum", cadences=["weekly"])
    period = period_containing("weekly", DAY)
    rows = [Observation(DAY, 20.0, 8.0, "a"), Observation(DAY, 21.0, 18.0, "b")]
    group = period_value(summed, period, rows)
    assert (group.value, group.target, group.status) == (41.0, 40.0, "red")
    # one unit's rows are judged by its own target
    unit = period_value(summed, period, rows[:1])
    assert (unit.target, unit.status, unit.target_from) == (8.0, "red", "rows")
    # a level whose units all give the same plan takes it; differing plans do not
    level = make_kpi(target=95.0, amber=90.0, cadences=["weekly"])
    same = [Observation(DAY, 96.0, 97.0, "a"), Observation(DAY, 98.0, 97.0, "b")]
    assert period_value(level, period, same).target == 97.0
    differ = [Observation(DAY, 96.0, 97.0, "a"), Observation(DAY, 98.0, 99.0, "b")]
    assert period_value(level, period, differ).target == 95.0


def test_a_count_of_events_is_zero_in_a_period_without_rows_from_the_day_its_data_begins(
        make_kpi: Callable[..., Kpi]) -> None:
    kpi = make_kpi(direction="lower_is_better", target={"weekly": 3}, amber=None,
                   aggregation="sum", cadences=["weekly"], absent="zero",
                   data_from=DAY - dt.timedelta(weeks=2))
    period = period_containing("weekly", DAY)
    assert (period_value(kpi, period, []).value, period_value(kpi, period, []).zero) == (0.0, True)
    before = period.shift(-3)
    assert period_value(kpi, before, []).value is None  # before its data began: no data
    # a row with an empty value is still a missing value
    assert period_value(kpi, period, [Observation(DAY, None)]).value is None


def test_the_groups_own_row_is_its_figure_for_a_kpi_that_rolls_up_as_own(
        make_kpi: Callable[..., Kpi]) -> None:
    kpi = make_kpi(rollup="own", direction="lower_is_better", target=25.0, amber=None)
    rows = [_obs(18.0, "a", 40), _obs(40.7, "b", 30), _obs(28.0, "", 70)]
    assert combine(kpi, rows).value == 28.0
    assert combine(kpi, rows[:1]).value == 18.0  # a unit's pack: its own row


def test_a_query_that_returns_group_rows_beside_units_needs_rollup_own(
        two_units: Path, write: Callable[[str, str], Path]) -> None:
    write("waits.csv", "day,site,minutes\n2026-11-17,N1,10\n2026-11-18,S1,30\n")
    catalog = two_units.parent / "kpis.yaml"
    catalog.write_text(catalog.read_text() + """  - id: wait_p90
    name: Wait
    perspective: Reliability
    direction: lower_is_better
    target: 25
    owner: Ops
    cadences: [weekly]
    query: |
      SELECT period_of(day) AS period_end, site AS segment,
             quantile_cont(minutes, 0.9) AS value
      FROM waits GROUP BY GROUPING SETS ((period_of(day), site), (period_of(day)))
""", encoding="utf-8")
    two_units.write_text(two_units.read_text() + "period_end: 2026-11-20\nsources: {waits: "
                         "waits.csv}\n", encoding="utf-8")
    inputs = load_for(load_params(two_units))
    store = Store.open(inputs.params.store_location)
    try:
        with pytest.raises(InputError, match="give the KPI rollup: own"):
            evaluate(cadences.get("weekly"), inputs, store)
        catalog.write_text(catalog.read_text().replace("    target: 25\n",
                                                       "    target: 25\n    rollup: own\n"))
        inputs = load_for(load_params(two_units))
        group = evaluate(cadences.get("weekly"), inputs, store)
        north = evaluate(cadences.get("weekly"), inputs, store, unit="north")
    finally:
        store.dispose()
    assert group.result("wait_p90").value == pytest.approx(28.0)  # of 10 and 30
    assert north.result("wait_p90").value == 10.0


def test_unit_targets_must_name_units_of_the_params_file(two_units: Path) -> None:
    catalog = two_units.parent / "kpis.yaml"
    catalog.write_text(catalog.read_text().replace(
        "    owners: {north: North site lead}\n",
        "    owners: {north: North site lead}\n    unit_targets: {nort: 99.5}\n"))
    with pytest.raises(InputError, match=r"unit_targets names 'nort', which is no unit's id or "
                                         r"segment; units: north, south \(did you mean "
                                         r"'north'\?\)"):
        load_inputs(two_units)
