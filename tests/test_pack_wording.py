"""What the pages say, read as a company secretary would: each count names its population,
each streak and trend its span, and a unit's pack carries only its own sections."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO, prepare_view, run_cli_in_process

from reviewkit import cadences
from reviewkit.evaluation.evaluate import ExceptionItem
from reviewkit.formatting import format_value
from reviewkit.layout.sections import Pack
from reviewkit.layout.view import PackView


def params_copy(cadence: str, folder: Path, name: str = "") -> Path:
    text = (REPO / "params" / f"{cadence}.yaml").read_text(encoding="utf-8")
    path = folder / (name or f"{cadence}.yaml")
    path.write_text(text.replace("../data/demo/", f"{REPO / 'data' / 'demo'}/"),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's params files in one folder, with its three weeks of minutes imported."""
    folder = tmp_path_factory.mktemp("demo")
    weekly = params_copy("weekly", folder)
    params_copy("quarterly", folder)
    for minutes in sorted((REPO / "data" / "demo" / "minutes").glob("weekly-*.yaml")):
        code, _, err = run_cli_in_process(["minutes", "import", str(minutes), "--params",
                                           str(weekly), "--by", "test"])
        assert code == 0, err
    return folder


@pytest.fixture(scope="module")
def board(demo_folder: Path) -> Pack:
    return Pack(prepare_view("quarterly", demo_folder / "quarterly.yaml"))


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" ,", ",")


def test_the_cover_names_each_population_of_actions(board: Pack) -> None:
    """"1 closed, 4 open / 1 of 2 closed actions…" mixed "since the last review" with "the
    last 90 days", and said "last time's" when there was no last time."""
    cover = text_of(board.section("cover").html)
    log = board.view.action_log
    assert log is not None and not log.has_previous_review
    assert "Last time's actions" not in cover
    assert f"since {log.since.day} {log.since:%b %Y}" in cover
    assert "Of the KPI-linked actions closed in the last 90 days" in cover


def test_agree_one_is_plural_when_there_are_several(board: Pack) -> None:
    cover = text_of(board.section("cover").html)
    unowned = [e for e in board.view.evaluation.exceptions if e.reason == "red_no_action"]
    if len(unowned) > 1:
        assert "agree an action for each" in cover and "agree one" not in cover


def test_an_action_opened_and_closed_since_says_it_is_done(board: Pack) -> None:
    """Q4 listed A-0001 and A-0003 (done) under "Opened since the last review" with no status:
    they read as open."""
    log = board.view.action_log
    assert log is not None
    done = [v for v in log.opened_since if v.action.status == "done"]
    assert done
    page = text_of(board.section("actions").html)
    for view in done:
        assert re.search(rf"{view.id} .*?\(done", page)


def test_an_empty_action_log_says_so_in_one_paragraph(tmp_path: Path) -> None:
    """A heading and "None" for each part of an empty log filled a page with headings and
    spilled its last line onto a page of its own."""
    html = Pack(prepare_view("weekly", params_copy("weekly", tmp_path))).section("actions").html
    assert "<h3>" not in html
    text = text_of(html)
    assert re.search(r"No action was raised before \d+ \w+ \d{4}; no action was opened or "
                     r"closed since \d+ \w+ \d{4}; no action linked to a KPI was closed in the "
                     r"last 90 days; no decision was recorded since \d+ \w+ \d{4}\.", text), text


def test_a_log_lists_what_it_has_and_says_what_it_has_not(board: Pack) -> None:
    log = board.view.action_log
    assert log is not None and log.opened_since and log.effects
    text = text_of(board.section("actions").html)
    assert "Opened since" in text and "Did closed actions work?" in text
    if not log.decisions_since:
        assert "no decision was recorded since" in text and "Decisions since" not in text


def test_red_without_an_action_and_its_detail_do_not_run_together(demo_folder: Path) -> None:
    """"Red, no action no open action is linked to this KPI" (weekly p2)."""
    summary = Pack(prepare_view("weekly", demo_folder / "weekly.yaml")).section("summary")
    page = text_of(summary.html)
    assert "Red, no action — no open action is linked to this KPI" in page


def test_persisting_counts_what_the_detail_counts(make_kpi: object) -> None:
    from reviewkit.evaluation.changes import _periods  # the one rule both counts come from

    class Result:
        streak = 10
        periods_without_data = 0

    item = ExceptionItem("k", "red", "10th week in a row")
    assert _periods(item, Result()) == 10  # type: ignore[arg-type]


def test_a_units_pack_leaves_out_the_groups_sections_and_their_commentary() -> None:
    """St Anne's board pack carried the portfolio, spend, priorities and decisions pages as
    stubs ("see the group pack") and "Commentary on Delivery." drafted "from the data"."""
    quarterly = cadences.get("quarterly")
    unit_sections = {s.id for s in quarterly.sections_for(group=False, unit=True)}
    assert not unit_sections & {"portfolio", "spend", "benefits", "priorities",
                                "board_decisions"}
    assert {"balanced_scorecard", "outlook", "kpi_details"} <= unit_sections
    keys = {n.key for n in cadences.get("monthly").narratives_for(group=False, unit=True)}
    assert "delivery" not in keys and "cost" not in keys and "summary" in keys


def test_the_board_packs_operational_log_is_an_appendix() -> None:
    quarterly = cadences.get("quarterly")
    assert quarterly.section("actions").appendix
    assert quarterly.heading("actions").startswith("Appendix A")


def test_a_card_names_the_targets_its_data_set(tmp_path: Path) -> None:
    """Project milestones' target "dips to 70 for one month" with nothing saying why."""
    view: PackView = prepare_view("monthly", params_copy("monthly", tmp_path))
    changes = view.result("milestones_on_time").target_changes
    assert [(p.label, t) for p, t in changes] == [("2025-06", 70.0)]
    html = Pack(view).section("kpi_details").html
    assert "Target set by the data" in html and "June 2025" in html


def test_the_targets_a_cards_data_set_print_at_the_cards_precision(tmp_path: Path) -> None:
    """Kestrel's capital works card printed its target "€52.0m", then "the catalog's is €52m"
    and "€30m; €35.5m; €41m" in the note under it."""
    kestrel = tmp_path / "kestrel"
    shutil.copytree(REPO / "data" / "examples" / "kestrel", kestrel,
                    ignore=shutil.ignore_patterns("*.sqlite"))
    view: PackView = prepare_view("monthly", kestrel / "params" / "monthly.yaml")
    noted = [r for r in view.evaluated.results if r.target_changes and r.kpi.unit != "%"]
    assert noted
    text = html.unescape(Pack(view).section("kpi_details").html)
    for result in noted:
        places = view.evaluated.figures.decimals[result.kpi.id]
        for _, target in result.target_changes:
            assert format_value(target, result.kpi, decimals=places) in text, target
        catalog = format_value(result.kpi.target_for("monthly"), result.kpi, decimals=places)
        assert f"(the catalog's is {catalog})" in text, (result.kpi.id, catalog)


def test_the_units_page_says_which_figures_are_not_a_roll_up(tmp_path: Path) -> None:
    """"Opex variance to budget — weighted mean — not reported (7 units) — Group 2.3%" under a
    heading that says the group's figure is its units' rolled up; the group's P1 incidents
    "5 On track" beside "5 of 7.4" on the page before."""
    text = (REPO / "params" / "units" / "quarterly.yaml").read_text(encoding="utf-8")
    params = tmp_path / "units.yaml"
    params.write_text(text.replace("../../data/demo/", f"{REPO / 'data' / 'demo'}/")
                      .replace("../reviewkit.sqlite", "reviewkit.sqlite"), encoding="utf-8")
    pack = Pack(prepare_view("quarterly", params))
    opex = pack.view.result("opex_variance")
    assert pack.rollup_words(opex.kpi) == "the group's own figure"
    assert pack.rollup_words(pack.view.result("p1_incidents").kpi) == "sum of units"
    html = text_of(pack.section("units").html)
    assert "to date, target pro-rated" in html


def test_a_benefit_reads_the_same_in_every_cadence_built_from_the_same_data(
        demo_folder: Path) -> None:
    """Kestrel's E. coli benefit read "Achieved 112%" in the monthly pack and "On track 91%" in
    the quarterly: each judged it on its own period's value."""
    monthly = params_copy("monthly", demo_folder)
    views = [prepare_view(cadence, path, "2026-11-20") for cadence, path in
             (("monthly", monthly), ("quarterly", demo_folder / "quarterly.yaml"))]
    states = []
    for view in views:
        assert view.strategy.benefits is not None
        states.append({b.benefit.id: (b.assessment.value, b.assessment.state, b.measured)
                       for b in view.strategy.benefits if b.benefit.kpi_id})
    assert states[0] == states[1]
    assert states[0]["patch_compliance"][2] == "week to 20 Nov 2026"


def test_a_benefit_measured_by_a_kpi_prints_at_the_kpis_precision_in_the_pack(
        tmp_path: Path) -> None:
    """Kestrel's quarterly pack printed the week's leakage "23.4 ML/d" in its benefits table
    and "23.40 ML/d" in its action table, and E. coli compliance "100.0%" beside key results
    at two decimals: one KPI's values at two precisions."""
    from reviewkit.outputs.workbook import places_of

    kestrel = tmp_path / "kestrel"
    shutil.copytree(REPO / "data" / "examples" / "kestrel", kestrel,
                    ignore=shutil.ignore_patterns("*.sqlite"))
    view: PackView = prepare_view("quarterly", kestrel / "params" / "quarterly.yaml")
    figures = view.evaluated.figures
    linked = [b for b in view.strategy.benefits or () if b.benefit.kpi_id]
    assert linked
    for benefit in linked:
        places = figures.decimals[str(benefit.benefit.kpi_id)]
        for kind in ("baseline", "target", "planned", "value"):
            text = figures.text(f"benefit:{benefit.benefit.id}", kind)
            assert text == "—" or places_of(text) >= places, (benefit.benefit.id, kind, text)


def test_the_priorities_note_says_how_far_a_key_result_counts_below_its_baseline(
        board: Pack) -> None:
    """Kestrel's resilient-network priority showed -68% beside key results at -117%, -273%
    and 27% (a weighted mean of -120%), under a note calling it their weighted mean: each
    counts no lower than -100%, which the page did not say."""
    from reviewkit.evaluation.priorities import FLOOR_IN_PRIORITY
    from reviewkit.formatting import percent

    note = text_of(board.section("priorities").html)
    assert (f"weighted mean of its key results, each counted no lower than "
            f"{percent(FLOOR_IN_PRIORITY)}") in html.unescape(note)
