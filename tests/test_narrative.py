"""Narrative units: placeholders, drafts, planning cells, collecting notebook edits, the Markdown
round trip, safe HTML for analysts' Markdown, and the publish gate's rules.

Fast: one weekly pack context (2026-11-20, demo data, demo minutes imported) shared by the
module; every test that writes narrative uses a store of its own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import BOARD_MEETS, REPO, prepare_view
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from reviewkit.cadences import MONTHLY, WEEKLY, Narrative
from reviewkit.errors import InputError, UsageError
from reviewkit.evaluation.evaluate import OwnerStatus
from reviewkit.evaluation.owners import with_owner_statuses
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.inputs.catalog import load_catalog
from reviewkit.layout.document import pack_document
from reviewkit.layout.notebooks import make_notebook
from reviewkit.layout.view import PackView, Publication
from reviewkit.narrative.cells import NarrativeCell, plan_cells
from reviewkit.narrative.drafts import draft_for_kpi, draft_for_section
from reviewkit.narrative.edits import edits_from_markdown, parse_markdown, to_markdown
from reviewkit.narrative.notebook import (
    ACCEPT_FLAG,
    apply_to_notebook,
    edits_in,
    record_written,
    slots_of,
)
from reviewkit.narrative.placeholders import NarrativeError, check_placeholders, fill
from reviewkit.narrative.service import NarrativeService
from reviewkit.outputs.html import narrative_html, to_html
from reviewkit.run import gate
from reviewkit.store.database import Action, Store, StoredNarrative
from reviewkit.store.minutes import import_minutes, load_minutes

DEMO = REPO / "data" / "demo"
SECTIONS = [Narrative("summary", "Summary", ""), Narrative("kpis", "KPIs by perspective", ""),
            Narrative("actions", "Action log", "")]
NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class Demo:
    view: PackView
    actions_now: list[Action]

    @property
    def context(self) -> PackEvaluation:
        return self.view.evaluated


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("narrative")
    params = root / "weekly.yaml"
    params.write_text(
        "organisation: Northwind IT\n"
        f"catalog: {DEMO / 'kpis.yaml'}\n"
        f"measurements: {DEMO / 'measurements.csv'}\n",
        encoding="utf-8",
    )
    known = {kpi.id for kpi in load_catalog(DEMO / "kpis.yaml").kpis}
    store = Store.open(str(root / "reviewkit.sqlite"))
    try:
        for minutes in sorted((DEMO / "minutes").glob("weekly-*.yaml")):
            import_minutes(store, load_minutes(minutes, known), by="secretary")
        actions = store.actions()
    finally:
        store.dispose()
    return Demo(prepare_view("weekly", params, "2026-11-20", now=NOW), actions)


@pytest.fixture
def context(demo: Demo) -> PackEvaluation:
    return demo.context


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty store for narrative of this test only."""
    opened = Store.open(str(tmp_path / "narrative.sqlite"))
    yield opened
    opened.dispose()


def stored(key: str, text: str, basis: dict[str, dict[str, object]], revision: int = 1,
           kpi_id: str | None = None) -> StoredNarrative:
    return StoredNarrative(key=key, kpi_id=kpi_id, text=text, basis=basis, revision=revision,
                           updated_at="2026-11-21T09:00:00+00:00", updated_by="analyst")


def collect_edits(path: Path, store: Store, context: PackEvaluation, *, by: str,
                  prefer: str | None = None) -> list[str]:
    """Save the edits of an earlier pack.ipynb as a build does; the keys saved."""
    choice = {"notebook": "edit", "store": "store", None: None}[prefer]
    return NarrativeService(store, context).save(edits_in(path), by=by, prefer=choice)


def markdown_of(context: PackEvaluation, cells: Sequence[NarrativeCell]) -> str:
    return to_markdown("Weekly Operational Review", context.period.long_label, "weekly",
                       context.period.label, cells)


def section_title(key: str) -> str:
    return {slot.key: slot.title for slot in SECTIONS}[key]


# -- placeholders ----------------------------------------------------------------------------

def test_fill_replaces_kpi_placeholders_with_formatted_values(context: PackEvaluation) -> None:
    text = ("{{ kpi.change_success_rate.value }} vs {{kpi.change_success_rate.target}} "
            "({{ kpi.change_success_rate.status }}, {{ kpi.change_success_rate.status_word }}); "
            "change {{ kpi.change_success_rate.change }}, "
            "variance {{ kpi.change_success_rate.variance }}; "
            "streak {{ kpi.change_success_rate.streak }}; "
            "owner {{ kpi.change_success_rate.owner }}; "
            "{{ kpi.change_success_rate.name }} in {{ kpi.change_success_rate.unit }}; "
            "amber {{ kpi.change_success_rate.amber }}; {{ kpi.cloud_spend.value }}")
    assert fill(text, context) == (
        "88.1% vs 95.0% (red, Off track); change \u22123.2\u00a0pts, variance "
        "\u22126.9\u00a0pts; streak 1; owner Change Manager; Change success rate in %; "
        "amber 90.0%; £44.6k"
    )


def test_a_figure_filled_into_text_holding_a_direction_override_reads_forwards(
    context: PackEvaluation,
) -> None:
    """An analyst's text "abc U+202E evil {{ kpi.energy_cost.value }} after" printed the figure
    backwards in the PDF ("k7.423€"): an isolate around the filled figure sets its direction
    afresh, whatever the text around it does."""
    from bidi import left_open

    filled = fill("abc \u202eevil {{ kpi.cloud_spend.value }} after", context)
    assert "\u2068£44.6k\u2069" in filled
    assert left_open(filled[:filled.index("\u2068")]) == ["\u202e"]
    assert fill("{{ kpi.cloud_spend.value }} after", context) == "£44.6k after"


def test_a_name_filled_into_code_reads_as_written(context: PackEvaluation) -> None:
    """A placeholder inside a code block or span printed the Markdown escaping meant for
    running text: "Finance \\& Ops" where the catalog says "Finance & Ops"."""
    from reviewkit.narrative.placeholders import fill_rendered

    first = context.results[0]
    named = dataclasses.replace(first, kpi=first.kpi.model_copy(
        update={"owner": "Finance & Ops <IT>", "name": "R&D *spend*"}))
    pack = dataclasses.replace(context, evaluation=dataclasses.replace(
        context.evaluation, results=(named, *context.results[1:])))
    kpi = first.kpi.id
    text = (f"Owner:\n\n    {{{{ kpi.{kpi}.owner }}}}\n\nand `{{{{ kpi.{kpi}.name }}}}`, "
            f"*{{{{ kpi.{kpi}.name }}}}* in {{{{ period.label }}}}; braces \\{{\\{{ stay.")
    page = fill_rendered(text, pack, narrative_html)
    assert "<pre><code>Finance &amp; Ops &lt;IT&gt;</code></pre>" in page
    assert "<code>R&amp;D *spend*</code>" in page and "<em>R&amp;D *spend*</em>" in page
    assert "2026-11-20" in page and "\\" not in page and "\ue000" not in page
    assert "{{ stay." in page


def test_fill_replaces_period_placeholders(context: PackEvaluation) -> None:
    text = "{{ period.label }} | {{ period.long_label }} | {{ period.start }} | {{ period.end }}"
    assert fill(text, context) == "2026-11-20 | week ending 20 Nov 2026 | 14 Nov 2026 | 20 Nov 2026"


def test_fill_leaves_text_without_placeholders_alone(context: PackEvaluation) -> None:
    text = "Plain words, a {single} brace and **bold**."
    assert fill(text, context) == text


def test_check_placeholders_returns_the_kpis_a_text_discusses(context: PackEvaluation) -> None:
    text = "{{ kpi.mttr_p1.value }} and {{ kpi.cloud_spend.status }} in {{ period.long_label }}"
    assert check_placeholders(text, context, "summary") == {"mttr_p1", "cloud_spend"}
    assert check_placeholders("no numbers", context, "summary") == set()


@pytest.mark.parametrize(
    ("placeholder", "hint"),
    [
        ("kpi.phishing_click_rate.value", "KPI 'phishing_click_rate' is not in this pack"),
        ("kpi.no_such_kpi.value", "KPI 'no_such_kpi' is not in this pack"),
        ("kpi.mttr_p1.colour", "use kpi.<id>.<value|"),
        ("period.quarter", "period.<label|start|end|long_label>"),
        ("period", "use kpi.<id>"),
        ("organisation", "use kpi.<id>"),
    ],
)
def test_unknown_placeholder_is_an_error_naming_it_and_the_cell(
    context: PackEvaluation, placeholder: str, hint: str
) -> None:
    text = f"Fine {{{{ kpi.mttr_p1.value }}}} then {{{{ {placeholder} }}}}."
    with pytest.raises(NarrativeError) as caught:
        check_placeholders(text, context, "kpi-mttr_p1")
    message = str(caught.value)
    assert "narrative cell 'kpi-mttr_p1'" in message
    assert f"'{{{{ {placeholder} }}}}'" in message
    assert hint in message
    assert caught.value.exit_code == 2


def test_an_unknown_placeholder_spanning_many_lines_is_quoted_cut_on_one_line(
    context: PackEvaluation,
) -> None:
    """'{{' written by mistake and '}}' 2,000 lines on made a 24 KB error line."""
    text = "Costs {{ rose\n" + "and more words\n" * 2000 + "}} in total."
    with pytest.raises(NarrativeError) as caught:
        check_placeholders(text, context, "summary")
    message = caught.value.one_line()
    assert "\n" not in message and len(message) < 400
    assert "'{{ rose\\nand more words" in message and "characters)" in message


# -- drafts ----------------------------------------------------------------------------------

def test_draft_for_red_kpi_names_the_change_the_streak_and_open_actions(
    context: PackEvaluation,
) -> None:
    """Off track for the first week, but below its target (at risk) for four weeks before: the
    streak the sentence names is the one it counts."""
    text = draft_for_kpi(context.evaluation.result("change_success_rate"), context)
    assert text.startswith(
        "Change success rate fell to 88.1% since last week (at risk → off track), the 5th week "
        "below target "
        "(target 95.0%); owner: Change Manager. Open actions: A-0005 Root-cause the failed "
        "integration-engine releases (due 27 Nov 2026). Expected action: Require Change "
        "Advisory Board sign-off"
    )


def test_draft_for_red_kpi_without_an_open_action_says_so(context: PackEvaluation) -> None:
    text = draft_for_kpi(context.evaluation.result("open_critical_vulns"), context)
    assert text.startswith("Open critical vulnerabilities rose to 29 since last week, the 6th week "
                           "above target "
                           "(target 15); owner: CISO. No open action is linked to it.")
    assert "Expected action: Give each open critical vulnerability a named owner" in text


def test_draft_for_amber_kpi_says_below_or_above_target_and_expected_action(
    context: PackEvaluation,
) -> None:
    ehr = draft_for_kpi(context.evaluation.result("ehr_availability"), context)
    # Up this week, down over six: the sentence says both, with their spans.
    assert ehr.startswith("EHR availability rose to 99.78% since last week, the 3rd week below "
                          "target (target 99.90%), though over 6 weeks the trend is worsening; "
                          "owner: Head of Infrastructure.")
    assert "Expected action: Freeze non-urgent EHR changes" in ehr
    cloud = draft_for_kpi(context.evaluation.result("cloud_spend"), context)
    assert cloud.startswith("Cloud spend run-rate rose to £44.6k since last week (on track → "
                            "at risk), the 1st week above target (target £42.0k); owner: Finance "
                            "Business Partner. "
                            "Open actions: A-0006 Switch off idle non-production cloud workloads "
                            "(due 18 Nov 2026).")


def test_draft_for_green_kpi_counts_weeks_on_target_without_expected_action(
    context: PackEvaluation,
) -> None:
    result = context.evaluation.result("critical_patch_compliance")
    text = draft_for_kpi(result, context)
    assert text == (f"Critical patch compliance rose to 96.1% since last week, on target for the "
                    f"{result.streak}nd week in a row (target 95.0%); owner: CISO.")
    assert result.streak == 2
    assert "Expected action" not in text


def test_draft_streak_counts_every_week_in_the_status_not_only_the_charted_ones(
    context: PackEvaluation,
) -> None:
    """Security incidents were last above target on 2026-02-27 (4 against 3); the 38 weeks
    from 6 Mar to 20 Nov 2026 are all on target. docs/evaluation.md: the streak is how many
    periods in a row, ending now, the KPI has had its status - not capped at the 26 weeks the
    weekly charts show."""
    result = context.evaluation.result("security_incidents")
    assert result.status == "green"
    text = draft_for_kpi(result, context)
    assert "on target for the 38th week in a row" in text
    assert result.streak == 38


def test_draft_for_kpi_without_data_says_when_it_was_last_measured(
    context: PackEvaluation,
) -> None:
    text = draft_for_kpi(context.evaluation.result("backup_success_rate"), context)
    assert text == ("Backup success rate has no data this week (last measured 30 Oct 2026); "
                    "owner: Head of Infrastructure. Open actions: A-0004 Restore the backup "
                    "reporting feed after the platform migration (due 13 Nov 2026).")


def test_section_drafts_summarise_counts_status_changes_and_overdue_actions(
    context: PackEvaluation,
) -> None:
    assert draft_for_section("summary", section_title("summary"), context) == (
        "This week: 3 KPIs off track (Change success rate, Mean time to restore (P1/P2), "
        "Open critical vulnerabilities), 3 at risk, 6 on track. Worse than last week: Change "
        "success rate, Cloud spend run-rate. 3 actions are overdue."
    )
    assert draft_for_section("kpis", section_title("kpis"), context) == (
        "Status changes since last week: Change success rate at risk → off track; "
        "Cloud spend run-rate on track → at risk."
    )
    actions = draft_for_section("actions", section_title("actions"), context)
    assert actions.startswith("Overdue: A-0004 Restore the backup reporting feed")
    assert actions.index("A-0004") < actions.index("A-0002") < actions.index("A-0006")


def test_the_overdue_draft_counts_one_day_as_a_day() -> None:
    from types import SimpleNamespace

    from reviewkit.narrative.drafts import _actions

    def overdue(id: str, days: int) -> SimpleNamespace:
        return SimpleNamespace(id=id, days_overdue=days,
                               action=SimpleNamespace(title="Fix it", owner="Sam"))

    pack = SimpleNamespace(action_log=SimpleNamespace(
        overdue=[overdue("A-0001", 1), overdue("A-0002", 3)], group_actions=()))
    text = _actions(pack)  # type: ignore[arg-type]
    assert "(Sam, 1 day)" in text and "(Sam, 3 days)" in text


def test_a_units_overdue_draft_names_the_groups_overdue_actions_on_its_kpis() -> None:
    """A unit's page listed the group's actions on its KPIs, three overdue, and its draft
    beneath said "No action is overdue."."""
    from types import SimpleNamespace

    from reviewkit.narrative.drafts import _actions

    def view(id: str, days: int) -> SimpleNamespace:
        return SimpleNamespace(id=id, days_overdue=days, overdue=days > 0,
                               action=SimpleNamespace(title="Fix it", owner="Sam"))

    own_none = SimpleNamespace(action_log=SimpleNamespace(
        overdue=[], group_actions=(view("A-0002", 2), view("A-0003", 0))))
    text = _actions(own_none)  # type: ignore[arg-type]
    assert "No action is overdue" not in text
    assert "A-0002" in text and "A-0003" not in text and "the group's actions" in text
    none_at_all = SimpleNamespace(action_log=SimpleNamespace(overdue=[], group_actions=()))
    assert _actions(none_at_all) == "No action is overdue."  # type: ignore[arg-type]


# -- planning cells --------------------------------------------------------------------------

def test_plan_cells_drafts_every_cell_when_nothing_is_stored(context: PackEvaluation) -> None:
    cells = plan_cells(context, SECTIONS, {})
    keys = [cell.key for cell in cells]
    assert keys[:3] == ["summary", "kpis", "actions"]
    # A cell per headline KPI and per KPI with an exception, in catalog order.
    assert keys[3:] == [f"kpi-{k}" for k in (
        "change_success_rate", "ehr_availability", "p1_incidents", "mttr_p1",
        "backup_success_rate", "critical_patch_compliance", "open_critical_vulns",
        "cloud_spend", "service_desk_csat")]
    assert all(cell.draft and cell.revision == 0 and not cell.stale for cell in cells)
    mttr = cells[keys.index("kpi-mttr_p1")]
    assert mttr.kpi_id == "mttr_p1"
    assert mttr.values == {"mttr_p1": {"value": 7.2, "status": "red"}}
    assert mttr.text == draft_for_kpi(context.evaluation.result("mttr_p1"), context)
    assert mttr.metadata()["draft"] is True and mttr.metadata()["kpi"] == "mttr_p1"


def test_plan_cells_stored_text_wins_over_the_draft(context: PackEvaluation) -> None:
    saved = {
        "summary": stored("summary", "Restores: {{ kpi.mttr_p1.value }}.",
                          {"mttr_p1": {"value": 7.2, "status": "red"}}, revision=3),
        "kpi-cloud_spend": stored("kpi-cloud_spend", "The imaging archive reservation lapsed.",
                                  {"cloud_spend": {"value": 44.6, "status": "amber"}},
                                  kpi_id="cloud_spend"),
    }
    cells = {cell.key: cell for cell in plan_cells(context, SECTIONS, saved)}
    summary = cells["summary"]
    assert (summary.text, summary.draft, summary.revision) == ("Restores: {{ kpi.mttr_p1.value }}.",
                                                               False, 3)
    assert summary.values == {"mttr_p1": {"value": 7.2, "status": "red"}}
    assert not summary.stale and summary.stale_detail == ""
    cloud = cells["kpi-cloud_spend"]
    assert (cloud.text, cloud.draft, cloud.stale) == ("The imaging archive reservation lapsed.",
                                                      False, False)
    assert cells["kpis"].draft and cells["kpi-mttr_p1"].draft


def test_commentary_on_a_kpi_no_longer_an_exception_keeps_its_cell_and_reads_stale(
    context: PackEvaluation,
) -> None:
    """An analyst wrote about a KPI while it was an exception; a corrected row put it back on
    target, and the rebuild left their words out of the pack without a word. They stay, under
    the KPI, flagged stale (the figures they discuss moved), so the publish gate asks again."""
    planned = {r.kpi.id for r in context.results} & {
        key.removeprefix("kpi-") for key in (c.key for c in plan_cells(context, SECTIONS, {}))}
    quiet = next(r for r in context.results if r.kpi.id not in planned)
    key = f"kpi-{quiet.kpi.id}"
    saved = {key: stored(key, "Restores were slow; the supplier has added staff.",
                         {quiet.kpi.id: {"value": -1.0, "status": "red"}},
                         kpi_id=quiet.kpi.id)}
    cells = {cell.key: cell for cell in plan_cells(context, SECTIONS, saved)}
    assert cells[key].text == "Restores were slow; the supplier has added staff."
    assert not cells[key].draft and cells[key].stale
    assert cells[key].title == quiet.kpi.name
    emptied = {key: stored(key, "", {}, kpi_id=quiet.kpi.id)}
    assert key not in {cell.key for cell in plan_cells(context, SECTIONS, emptied)}


def test_plan_cells_flags_stored_text_stale_when_its_number_changed(
    context: PackEvaluation,
) -> None:
    saved = {"kpi-change_success_rate": stored(
        "kpi-change_success_rate", "Releases keep failing.",
        {"change_success_rate": {"value": 91.3, "status": "amber"}}, kpi_id="change_success_rate",
    )}
    cells = {cell.key: cell for cell in plan_cells(context, SECTIONS, saved)}
    cell = cells["kpi-change_success_rate"]
    assert cell.stale and not cell.draft
    assert cell.stale_detail == ("Change success rate was 91.3% when this was written; it is now "
                                 "88.1%")
    assert cell.metadata()["stale"] is True
    assert cell.values == {"change_success_rate": {"value": 88.1, "status": "red"}}


def test_plan_cells_flags_stale_when_a_placeholder_kpi_changed(context: PackEvaluation) -> None:
    saved = {"summary": stored("summary", "Spend at {{ kpi.cloud_spend.value }}.",
                               {"cloud_spend": {"value": 41.2, "status": "green"}})}
    [summary] = [c for c in plan_cells(context, SECTIONS, saved) if c.key == "summary"]
    assert summary.stale
    assert summary.stale_detail.startswith("Cloud spend run-rate was £41.2k")


def test_plan_cells_refuses_stored_text_with_an_unknown_placeholder(
    context: PackEvaluation,
) -> None:
    saved = {"kpis": stored("kpis", "See {{ kpi.legacy_backup_jobs.value }}", {})}
    with pytest.raises(NarrativeError, match=r"narrative cell 'kpis'.*legacy_backup_jobs"):
        plan_cells(context, SECTIONS, saved)


def test_a_build_refusing_stored_text_with_an_unknown_placeholder_says_how_to_fix_it(
    context: PackEvaluation,
) -> None:
    saved = {"kpis": stored("kpis", "See {{ kpi.legacy_backup_jobs.value }}", {})}
    with pytest.raises(NarrativeError) as refused:
        plan_cells(context, SECTIONS, saved)
    assert "narrative export" in str(refused.value) and "narrative import" in str(refused.value)


def test_plan_cells_not_strict_keeps_stored_text_with_an_unknown_placeholder_as_written(
    context: PackEvaluation,
) -> None:
    """As an export plans them: the text of a KPI since removed from the catalog, to be fixed
    in the exported file; the KPIs it names that are still there are still watched."""
    text = "See {{ kpi.legacy_backup_jobs.value }} and {{ kpi.cloud_spend.value }}."
    saved = {"kpis": stored("kpis", text, {"cloud_spend": {"value": 41.2, "status": "green"}})}
    [kpis] = [c for c in plan_cells(context, SECTIONS, saved, strict=False) if c.key == "kpis"]
    assert (kpis.text, kpis.draft, list(kpis.values)) == (text, False, ["cloud_spend"])
    assert kpis.stale


# -- collecting notebook edits ---------------------------------------------------------------

def write_pack_notebook(path: Path, context: PackEvaluation,
                        saved: dict[str, StoredNarrative]) -> list[NarrativeCell]:
    """A pack.ipynb with the narrative cells a build would put there (and its own notes, a
    section's code), recording what it wrote as a build does."""
    notebook = new_notebook()
    intro = new_markdown_cell("# Weekly Operational Review\n\nThe pack's own notes.")
    intro.metadata["tags"] = ["remove-cell"]
    notebook.cells.append(intro)
    for key in (slot.key for slot in SECTIONS):
        notebook.cells.append(new_code_cell(f'pack.section("{key}")'))
        cell = new_markdown_cell("*No commentary yet.*")
        cell.metadata["tags"] = ["narrative"]
        cell.metadata["reviewkit"] = {"key": key}
        notebook.cells.append(cell)
    cells = list(plan_cells(context, slots_of(notebook, WEEKLY), saved))
    apply_to_notebook(notebook, cells, WEEKLY)
    record_written(notebook)
    nbformat.write(notebook, path)
    return cells


def edit_notebook(path: Path, texts: dict[str, str], accept: tuple[str, ...] = ()) -> None:
    """Change cells as Jupyter does on save."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if "narrative" not in cell.metadata.get("tags", []):
            continue
        key = cell.metadata["reviewkit"]["key"]
        if key in texts:
            cell.source = texts[key]
        if key in accept:
            cell.metadata["reviewkit"]["draft"] = False
    nbformat.write(notebook, path)


def test_apply_to_notebook_puts_kpi_cells_after_the_summary_with_labels(
    context: PackEvaluation, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})
    notebook = nbformat.read(path, as_version=4)
    narrative = [c.metadata["reviewkit"]["key"] for c in notebook.cells
                 if "narrative" in c.metadata.get("tags", [])]
    assert narrative[0] == "summary" and narrative[1] == "kpi-change_success_rate"
    assert narrative[-2:] == ["kpis", "actions"]
    labels = [c for c in notebook.cells if "narrative-label" in c.metadata.get("tags", [])]
    assert len(labels) == len(narrative)
    assert all("remove-cell" in c.metadata["tags"] for c in labels)


def test_collect_edits_saves_edited_cells_and_skips_untouched_ones(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})
    edit_notebook(path, {"kpi-mttr_p1": "Supplier restores are slow; {{ kpi.mttr_p1.value }}.\n"})
    result = collect_edits(path, store, context, by="analyst")
    assert result == ["kpi-mttr_p1"]
    saved = store.narratives("weekly", "2026-11-20")
    assert set(saved) == {"kpi-mttr_p1"}
    entry = saved["kpi-mttr_p1"]
    assert entry.text == "Supplier restores are slow; {{ kpi.mttr_p1.value }}."
    assert (entry.revision, entry.kpi_id, entry.updated_by) == (1, "mttr_p1", "analyst")
    assert entry.basis == {"mttr_p1": {"value": 7.2, "status": "red"}}


def test_a_cell_that_opens_with_an_indented_code_block_keeps_its_indentation(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    """Saving stripped the first line's four spaces, and the code block became a paragraph."""
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})
    text = "    SELECT count(*) FROM incidents\n    WHERE priority <= 2\n\nThe query behind it."
    edit_notebook(path, {"summary": f"\n{text}\n\n"})
    assert collect_edits(path, store, context, by="analyst") == ["summary"]
    assert store.narratives("weekly", "2026-11-20")["summary"].text == text


def test_collect_edits_saves_a_draft_accepted_through_its_metadata(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    cells = {c.key: c for c in write_pack_notebook(path, context, {})}
    edit_notebook(path, {}, accept=("kpis",))
    assert collect_edits(path, store, context, by="analyst") == ["kpis"]
    assert store.narratives("weekly", "2026-11-20")["kpis"].text == cells["kpis"].text
    replanned = {c.key: c for c in plan_cells(context, SECTIONS,
                                              store.narratives("weekly", "2026-11-20"))}
    assert not replanned["kpis"].draft and replanned["summary"].draft


def test_collect_edits_without_a_notebook_saves_nothing(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    assert collect_edits(tmp_path / "pack.ipynb", store, context, by="analyst") == []
    assert store.narratives("weekly", "2026-11-20") == {}


def test_collect_edits_refuses_an_edit_with_an_unknown_placeholder(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})
    edit_notebook(path, {"summary": "{{ kpi.mttr_p1.valeu }}"})
    with pytest.raises(NarrativeError, match=r"narrative cell 'summary'.*valeu"):
        collect_edits(path, store, context, by="analyst")
    assert store.narratives("weekly", "2026-11-20") == {}


def _conflict_setup(context: PackEvaluation, store: Store, path: Path) -> None:
    """The notebook was written from revision 0; since then a colleague's Markdown import
    stored revision 1 of 'summary'; now the analyst edits 'summary' in the notebook too."""
    write_pack_notebook(path, context, {})
    store.save_narrative(cadence="weekly", label="2026-11-20", key="summary", kpi_id=None,
                         text="Colleague's words.", basis={}, expected_revision=0,
                         by="colleague", source="markdown narrative.md")
    edit_notebook(path, {"summary": "Analyst's words."})


def test_collect_edits_stops_on_a_conflict_naming_the_cell_and_keeps_both(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    _conflict_setup(context, store, path)
    with pytest.raises(NarrativeError) as caught:
        collect_edits(path, store, context, by="analyst")
    message = str(caught.value)
    assert "narrative cell 'summary'" in message
    assert "--prefer notebook" in message and "--prefer store" in message
    assert store.narratives("weekly", "2026-11-20")["summary"].text == "Colleague's words."
    assert "Analyst's words." in path.read_text(encoding="utf-8")


def test_collect_edits_prefer_notebook_saves_over_the_store(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    _conflict_setup(context, store, path)
    result = collect_edits(path, store, context, by="analyst", prefer="notebook")
    assert result == ["summary"]
    entry = store.narratives("weekly", "2026-11-20")["summary"]
    assert (entry.text, entry.revision) == ("Analyst's words.", 2)
    history = store.narrative_history("weekly", "2026-11-20", "summary")
    assert [h.text for h in history] == ["Colleague's words.", "Analyst's words."]


def test_collect_edits_prefer_store_keeps_the_stored_text(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    _conflict_setup(context, store, path)
    assert collect_edits(path, store, context, by="analyst", prefer="store") == []
    entry = store.narratives("weekly", "2026-11-20")["summary"]
    assert (entry.text, entry.revision) == ("Colleague's words.", 1)


def test_collect_edits_prefer_store_keeps_the_notebooks_words_in_the_history(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    """The conflict's message says both texts are kept: the one not chosen is recorded in the
    narrative's history, by whom and from where, and the stored text stays current."""
    path = tmp_path / "pack.ipynb"
    _conflict_setup(context, store, path)
    collect_edits(path, store, context, by="analyst", prefer="store")
    history = store.narrative_history("weekly", "2026-11-20", "summary")
    assert [(h.text, h.updated_by) for h in history] == [
        ("Colleague's words.", "colleague"), ("Analyst's words.", "analyst")]
    assert "not chosen" in history[-1].source and "pack.ipynb" in history[-1].source
    assert store.narratives("weekly", "2026-11-20")["summary"].text == "Colleague's words."


def test_words_not_chosen_can_still_be_saved_from_a_copy_made_later(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    """Kept in the history as not chosen, the words are not taken for saved already: written
    again in a notebook made from the store's revision, they are saved."""
    path = tmp_path / "pack.ipynb"
    _conflict_setup(context, store, path)
    collect_edits(path, store, context, by="analyst", prefer="store")
    again = tmp_path / "again" / "pack.ipynb"
    again.parent.mkdir()
    write_pack_notebook(again, context, store.narratives("weekly", "2026-11-20"))
    edit_notebook(again, {"summary": "Analyst's words."})
    assert collect_edits(again, store, context, by="analyst") == ["summary"]
    assert store.narratives("weekly", "2026-11-20")["summary"].text == "Analyst's words."


def test_collect_edits_detects_a_conflict_when_the_store_revision_moved_on(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    store.save_narrative(cadence="weekly", label="2026-11-20", key="kpis", kpi_id=None,
                         text="First words.", basis={}, expected_revision=0, by="analyst",
                         source="test")
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, store.narratives("weekly", "2026-11-20"))
    store.save_narrative(cadence="weekly", label="2026-11-20", key="kpis", kpi_id=None,
                         text="Colleague's second words.", basis={}, expected_revision=1,
                         by="colleague", source="markdown")
    edit_notebook(path, {"kpis": "Analyst's second words."})
    with pytest.raises(NarrativeError, match=r"'kpis'.*revision 1 → 2"):
        collect_edits(path, store, context, by="analyst")


def test_collecting_the_same_edits_again_is_not_a_conflict(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    """A build saves the notebook's edits first; when it then stops (the publish gate refuses,
    the PDF fails) pack.ipynb is left as it was, so the next build collects the same edits
    again. The store holds exactly that text: nothing to save and nothing in conflict."""
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})
    edit_notebook(path, {"kpi-mttr_p1": "Supplier restores are slow."})
    assert collect_edits(path, store, context, by="analyst") == ["kpi-mttr_p1"]
    assert collect_edits(path, store, context, by="analyst") == []
    assert store.narratives("weekly", "2026-11-20")["kpi-mttr_p1"].revision == 1


def _two_copies(context: PackEvaluation, tmp_path: Path, published: str, draft: str
                ) -> list[Any]:
    """The edits of a published pack's notebook and of the draft's beside it, as a build
    collects them (the same cell edited in both)."""
    copies = [tmp_path / "pack" / "pack.ipynb", tmp_path / "pack.draft" / "pack.ipynb"]
    for path, text in zip(copies, (published, draft), strict=True):
        path.parent.mkdir()
        write_pack_notebook(path, context, {})
        edit_notebook(path, {"summary": text})
    return [edit for path in copies for edit in edits_in(path)]


def test_the_same_edit_in_a_published_pack_and_its_draft_is_saved_once(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    """It was refused as 'changed in the store since this copy was made': the second copy's
    edit met the first one's, just saved, and nothing told the analyst which files to mend."""
    edits = _two_copies(context, tmp_path, "Three reds.", "Three reds.")
    assert NarrativeService(store, context).save(edits, by="analyst") == ["summary"]
    assert store.narratives("weekly", "2026-11-20")["summary"].revision == 1


def test_an_edit_in_a_draft_after_the_published_copys_edit_was_saved_is_saved(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    """The published pack's notebook keeps the edit a build saved long ago (it is rewritten
    only by the next publication); the draft beside it, built from the store, was edited
    again. Every build then stopped with "edited differently in … and in …", and the only way
    on was to undo the old edit in the published notebook."""
    published = tmp_path / "pack" / "pack.ipynb"
    published.parent.mkdir()
    write_pack_notebook(published, context, {})
    edit_notebook(published, {"summary": "Kpis v1."})
    assert NarrativeService(store, context).save(edits_in(published), by="analyst") == [
        "summary"]
    draft = tmp_path / "pack.draft" / "pack.ipynb"
    draft.parent.mkdir()
    write_pack_notebook(draft, context, store.narratives("weekly", "2026-11-20"))
    edit_notebook(draft, {"summary": "Kpis v2."})
    edits = [*edits_in(published), *edits_in(draft)]
    assert NarrativeService(store, context).save(edits, by="analyst") == ["summary"]
    saved = store.narratives("weekly", "2026-11-20")["summary"]
    assert (saved.text, saved.revision) == ("Kpis v2.", 2)


def test_different_edits_of_one_cell_in_a_published_pack_and_its_draft_name_both(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    edits = _two_copies(context, tmp_path, "Three reds.", "Two reds after the fix.")
    with pytest.raises(NarrativeError) as caught:
        NarrativeService(store, context).save(edits, by="analyst", prefer="edit")
    message = caught.value.one_line()
    assert "'summary'" in message and "differently" in message
    assert str(tmp_path / "pack" / "pack.ipynb") in message
    assert str(tmp_path / "pack.draft" / "pack.ipynb") in message
    assert store.narratives("weekly", "2026-11-20") == {}, "nothing may be saved"


# -- every cell an analyst adds or changes is kept or refused -----------------------------------

def _notebook_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _cell_of(data: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
    """The 1-based number and the JSON of the narrative cell ``key``."""
    for number, cell in enumerate(data["cells"], start=1):
        meta = cell.get("metadata", {}).get("reviewkit")
        if isinstance(meta, dict) and meta.get("key") == key:
            return number, cell
    raise AssertionError(f"no narrative cell {key}")


def _rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the notebook's JSON as an analyst's Jupyter (or editor) would save it."""
    data = _notebook_json(path)
    change(data)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def test_a_narrative_cell_whose_tags_were_removed_keeps_the_analysts_text(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})

    def untag(data: dict[str, Any]) -> None:
        _, cell = _cell_of(data, "kpis")
        cell["metadata"]["tags"] = []
        cell["source"] = "Patching is behind; the CISO has a plan."

    _rewrite(path, untag)
    assert collect_edits(path, store, context, by="analyst") == ["kpis"]
    assert store.narratives("weekly", "2026-11-20")["kpis"].text == (
        "Patching is behind; the CISO has a plan.")


def test_a_narrative_cell_turned_into_a_code_cell_keeps_the_analysts_text(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})

    def to_code(data: dict[str, Any]) -> None:
        _, cell = _cell_of(data, "summary")
        cell.update(cell_type="code", execution_count=None, outputs=[],
                    source=["Three reds this week.\n", "All have owners."])

    _rewrite(path, to_code)
    assert collect_edits(path, store, context, by="analyst") == ["summary"]
    assert store.narratives("weekly", "2026-11-20")["summary"].text == (
        "Three reds this week.\nAll have owners.")


def _refused(path: Path, store: Store, context: PackEvaluation) -> str:
    with pytest.raises(InputError) as caught:
        collect_edits(path, store, context, by="analyst")
    assert store.narratives("weekly", "2026-11-20") == {}, "nothing may be saved"
    line = caught.value.one_line()
    assert line.startswith(f"{path}, cell ")
    return line


def test_an_image_pasted_into_a_narrative_cell_is_refused_naming_the_cell(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    """JupyterLab keeps a pasted image as the cell's attachment; the rebuild kept the words
    and dropped the image without a word."""
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})

    def paste(data: dict[str, Any]) -> None:
        _, cell = _cell_of(data, "summary")
        cell["source"] = "The outage, as the monitor saw it:\n![image.png](attachment:image.png)"
        cell["attachments"] = {"image.png": {"image/png": "iVBORw0KGgo="}}

    _rewrite(path, paste)
    number = _cell_of(_notebook_json(path), "summary")[0]
    line = _refused(path, store, context)
    assert line.startswith(f"{path}, cell {number}: ") and "'image.png'" in line


@pytest.mark.parametrize("where", ["narrative", "added"])
def test_a_cell_holding_an_unpaired_surrogate_is_refused_naming_it(
    context: PackEvaluation, store: Store, tmp_path: Path, where: str
) -> None:
    """JupyterLab can save text no UTF-8 file or database can hold (an unpaired surrogate,
    written "\\ud800" in the notebook's JSON): the build stopped with a traceback (exit 1)."""
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})

    def spoil(data: dict[str, Any]) -> None:
        number, cell = _cell_of(data, "summary")
        if where == "narrative":
            cell["source"] = "Three reds \ud800 this week."
        else:
            data["cells"].insert(number, {"cell_type": "markdown", "metadata": {},
                                          "source": "Note \ud800"})

    _rewrite(path, spoil)
    number = _cell_of(_notebook_json(path), "summary")[0] + (where == "added")
    line = _refused(path, store, context)
    assert line.startswith(f"{path}, cell {number}: ")
    assert "U+D800" in line


@pytest.mark.parametrize(("char", "code"), [("\x00", "U+0000"), ("\x1b", "U+001B"),
                                            ("\x9b", "U+009B"), ("\x80", "U+0080")])
def test_a_cell_holding_a_control_character_is_refused_naming_it(
    context: PackEvaluation, store: Store, tmp_path: Path, char: str, code: str
) -> None:
    """A NUL pasted into a cell reached pack.html, where a browser shows it as a box or drops
    it: the page no longer said what the analyst saw in the notebook."""
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})

    def spoil(data: dict[str, Any]) -> None:
        _, cell = _cell_of(data, "summary")
        cell["source"] = f"Three reds{char} this week.\n\tTabs,\x0bbreaks\x0cand feeds stay."

    _rewrite(path, spoil)
    number = _cell_of(_notebook_json(path), "summary")[0]
    line = _refused(path, store, context)
    assert line.startswith(f"{path}, cell {number}: ") and code in line
    assert store.narratives("weekly", "2026-11-20") == {}


@pytest.mark.parametrize("kind", ["markdown", "raw", "code"])
def test_a_cell_the_analyst_added_is_refused_naming_it_before_anything_is_saved(
    context: PackEvaluation, store: Store, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})

    def add(data: dict[str, Any]) -> None:
        number, _ = _cell_of(data, "summary")
        cell: dict[str, Any] = {"cell_type": kind, "metadata": {},
                                "source": "Supplier restores are slow this week."}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        data["cells"].insert(number, cell)  # right after the summary's cell
        # an edit elsewhere in the same save must not be saved either
        _cell_of(data, "kpis")[1]["source"] = "Edited too."

    _rewrite(path, add)
    number = _cell_of(_notebook_json(path), "summary")[0] + 1
    line = _refused(path, store, context)
    assert line.startswith(f"{path}, cell {number}: a ")
    assert "'Supplier restores are slow this week.'" in line
    assert "the build did not write" in line and "narrative cell" in line


def test_an_empty_cell_or_a_changed_section_cell_of_the_build_is_refused_only_with_text(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})
    _rewrite(path, lambda data: data["cells"].insert(0, {"cell_type": "markdown",
                                                         "metadata": {}, "source": "  \n"}))
    assert collect_edits(path, store, context, by="analyst") == []

    def change_intro(data: dict[str, Any]) -> None:
        data["cells"][1]["source"] = "# Weekly Operational Review\n\nMy own notes."

    _rewrite(path, change_intro)
    assert "cell 2: a Markdown cell the build did not write ('# Weekly Operational Review " \
        "My own note…')" in _refused(path, store, context)


def test_a_changed_label_cell_is_refused_pointing_at_the_narrative_cell(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})

    def write_in_label(data: dict[str, Any]) -> None:
        number, _ = _cell_of(data, "summary")
        data["cells"][number - 2]["source"] = "My commentary, typed in the wrong cell."

    _rewrite(path, write_in_label)
    assert "the label above a narrative cell was changed" in _refused(path, store, context)


def test_a_cell_tagged_narrative_by_the_analyst_is_refused_not_silently_skipped(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})
    _rewrite(path, lambda data: data["cells"].append({
        "cell_type": "markdown", "metadata": {"tags": ["narrative"]},
        "source": "A closing note for the board."}))
    line = _refused(path, store, context)
    assert "tagged 'narrative' that is not one of the pack's narrative cells" in line


def test_a_narrative_cell_whose_key_was_changed_is_refused_naming_the_key(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})

    def rekey(data: dict[str, Any]) -> None:
        _, cell = _cell_of(data, "summary")
        cell["metadata"]["reviewkit"]["key"] = "sumary"
        cell["source"] = "Three reds."

    _rewrite(path, rekey)
    line = _refused(path, store, context)
    assert "narrative key 'sumary' is not a cell of this pack (did you mean 'summary'?)" in line


def test_a_key_changed_in_a_notebook_from_before_the_record_is_checked_against_the_pack(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    keys = [cell.key for cell in write_pack_notebook(path, context, {})]

    def older(data: dict[str, Any]) -> None:
        del data["metadata"]["reviewkit"]["written"]
        _, cell = _cell_of(data, "kpis")
        cell["metadata"]["reviewkit"]["key"] = "kpi-nonsense"

    _rewrite(path, older)
    with pytest.raises(InputError, match=r"narrative key 'kpi-nonsense' is not a cell"):
        edits_in(path, keys=keys)
    assert edits_in(path) == []  # without the keys nothing can be checked, and nothing changed


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("revision", "x", "is 'x', not a whole number"),
    ("revision", None, "is null, not a whole number"),
    ("revision", [1], "is a list, not a whole number"),
    ("revision", -1, "is -1, not a whole number"),
    ("revision", True, "is True, not a whole number"),
    ("origin", None, "is null, not text"),
    ("values", "x", "is 'x', not a mapping"),
    ("draft", "no", "is 'no', not true or false"),
])
def test_malformed_narrative_metadata_is_one_line_naming_the_cell_and_field(
    context: PackEvaluation, store: Store, tmp_path: Path, field: str, value: Any, shown: str
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})
    _rewrite(path, lambda data: _cell_of(data, "summary")[1]["metadata"]["reviewkit"].update(
        {field: value}))
    line = _refused(path, store, context)
    assert f"narrative cell 'summary': metadata 'reviewkit.{field}' {shown}" in line


@pytest.mark.parametrize(("value", "shown"), [(None, "null"), ("x", "'x'"), ([1], "a list")])
def test_narrative_metadata_that_is_not_a_mapping_is_one_line(
    context: PackEvaluation, store: Store, tmp_path: Path, value: Any, shown: str
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})
    _rewrite(path, lambda data: _cell_of(data, "kpis")[1]["metadata"].update(reviewkit=value))
    line = _refused(path, store, context)
    assert f"the narrative cell's metadata 'reviewkit' is {shown}, not the mapping" in line


def test_two_cells_with_one_key_and_different_text_are_refused_with_a_true_message(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})

    def copy_cell(data: dict[str, Any]) -> None:
        number, cell = _cell_of(data, "summary")
        copied = json.loads(json.dumps(cell))
        copied["source"] = "A second thought."
        data["cells"].insert(number, copied)

    _rewrite(path, copy_cell)
    first = _cell_of(_notebook_json(path), "summary")[0]
    line = _refused(path, store, context)
    assert f"cell {first + 1}: this cell and cell {first} are both narrative cell 'summary'" \
        in line
    assert "changed in the store" not in line


def test_two_cells_with_one_key_and_the_same_text_are_one_edit(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})

    def copy_cell(data: dict[str, Any]) -> None:
        number, cell = _cell_of(data, "summary")
        cell["source"] = "Same words."
        data["cells"].insert(number, json.loads(json.dumps(cell)))

    _rewrite(path, copy_cell)
    assert collect_edits(path, store, context, by="analyst") == ["summary"]


def test_an_edit_read_again_from_an_older_copy_after_later_revisions_is_not_a_conflict(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    """The same edit collected twice, with a later revision saved in between (the notebook of
    a published pack and the draft beside it both hold it): saved once, no conflict."""
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, context, {})
    edit_notebook(path, {"summary": "First words."})
    assert collect_edits(path, store, context, by="analyst") == ["summary"]
    store.save_narrative(cadence="weekly", label="2026-11-20", key="summary", kpi_id=None,
                         text="Second words.", basis={}, expected_revision=1, by="analyst",
                         source="notebook")
    assert collect_edits(path, store, context, by="analyst") == []
    assert store.narratives("weekly", "2026-11-20")["summary"].text == "Second words."


# -- Markdown round trip ---------------------------------------------------------------------

def test_markdown_export_and_parse_round_trip(context: PackEvaluation, tmp_path: Path) -> None:
    saved = {
        "summary": stored("summary", "Three reds:\n\n- change success\n- **MTTR**\n\n"
                                     "| KPI | now |\n|---|---|\n| MTTR | {{ kpi.mttr_p1.value }} |",
                          {"mttr_p1": {"value": 7.2, "status": "red"}}, revision=4),
        "kpi-change_success_rate": stored("kpi-change_success_rate", "Stale words.",
                                          {"change_success_rate": {"value": 91.3,
                                                                   "status": "amber"}},
                                          kpi_id="change_success_rate"),
    }
    cells = plan_cells(context, SECTIONS, saved)
    text = markdown_of(context, cells)
    assert text.startswith("# Narrative: Weekly Operational Review, week ending 20 Nov 2026")
    assert "## summary — Summary\n<!-- reviewkit: revision 4 -->" in text
    assert "<!-- reviewkit: revision 0, draft -->" in text
    assert "<!-- reviewkit: revision 1, stale -->" in text
    sections = parse_markdown(text, tmp_path / "narrative.md")
    assert [(s.key, s.revision, s.text, s.draft) for s in sections] == [
        (c.key, c.revision, c.text.strip(), c.draft) for c in cells
    ]


def test_markdown_export_then_import_changes_nothing(
    context: PackEvaluation, tmp_path: Path
) -> None:
    """A heading of the analyst's own read as a section, a form feed or line separator came
    back as a line break, and a code block lost its indentation: importing an exported file
    changed the narrative it was exported from."""
    texts = {
        "summary": "Three reds.\n\n## Risks\n\nSupplier restores are slow.",
        "kpis": "    SELECT 1\n\nBelow the query.",
        "actions": "One\u2028two\x0cthree\x85four",
    }
    cells = [dataclasses.replace(cell, text=texts.get(cell.key, cell.text), draft=False, revision=2)
             for cell in plan_cells(context, SECTIONS, {})]
    path = tmp_path / "narrative.md"
    sections = parse_markdown(markdown_of(context, cells), path)
    assert {s.key: s.text for s in sections if s.key in texts} == texts
    assert edits_from_markdown(sections, cells, path, "weekly pack") == []


def test_markdown_without_the_draft_marker_accepts_the_draft(
    context: PackEvaluation, tmp_path: Path
) -> None:
    cells = plan_cells(context, SECTIONS, {})
    text = markdown_of(context, cells).replace(
        "## kpis — KPIs by perspective\n<!-- reviewkit: revision 0, draft -->",
        "## kpis — KPIs by perspective\n<!-- reviewkit: revision 0 -->",
    )
    sections = {s.key: s for s in parse_markdown(text, tmp_path / "narrative.md")}
    assert not sections["kpis"].draft
    assert sections["summary"].draft


def test_markdown_with_a_key_twice_is_an_error_naming_the_line(tmp_path: Path) -> None:
    text = ("# Narrative\n\n## summary — Summary\n<!-- reviewkit: revision 0 -->\n\nOne.\n\n"
            "## summary — Summary\n<!-- reviewkit: revision 0 -->\n\nTwo.\n")
    with pytest.raises(InputError) as caught:
        parse_markdown(text, tmp_path / "narrative.md")
    assert caught.value.line == 8
    assert "narrative 'summary' appears twice" in str(caught.value)
    assert "narrative.md" in str(caught.value)


def test_markdown_holding_a_control_character_is_an_error_naming_the_line(
    tmp_path: Path,
) -> None:
    text = ("# Narrative\n\n## summary — Summary\n<!-- reviewkit: revision 0 -->\n\n"
            "One\tfine line.\nA NUL\x00 here.\n")
    with pytest.raises(InputError) as caught:
        parse_markdown(text, tmp_path / "narrative.md")
    assert caught.value.line == 7
    assert "U+0000" in str(caught.value) and "narrative.md" in str(caught.value)


def test_markdown_without_sections_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no '## key' sections found"):
        parse_markdown("# Narrative\n\nJust some text.\n", tmp_path / "narrative.md")


# -- analysts' Markdown as HTML --------------------------------------------------------------

def test_narrative_html_shows_scripts_and_raw_html_as_text() -> None:
    html = narrative_html("Hi <script>alert(1)</script> <img src=x onerror=alert(1)> "
                          "<b onclick=steal()>x</b>")
    assert "<script" not in html and "<img" not in html and "<b " not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_an_html_comment_is_left_out_of_the_page_as_jupyter_leaves_it_out() -> None:
    """An analyst's note to self ("<!-- check with the CFO -->") is hidden in the notebook, and
    was printed in the board's pack as text. Code showing a comment keeps it."""
    html = narrative_html("Spend is on plan <!-- check with the CFO --> this month.\n\n"
                          "<!-- a whole\nblock -->\n\n`<!-- in code -->`\n\n"
                          "    <!-- in a code block -->\n\n<!-- not closed")
    assert "CFO" not in html and "a whole" not in html
    assert "<p>Spend is on plan  this month.</p>" in html
    assert "<code>&lt;!-- in code --&gt;</code>" in html
    assert "&lt;!-- in a code block --&gt;" in html
    assert "&lt;!-- not closed" in html  # not a comment in Markdown: shown as written
    between = narrative_html("<!-- a --> shown <!-- b -->")
    assert "shown" in between and "&lt;!-- a --&gt;" not in between


def test_catalog_text_filled_into_a_narrative_shows_as_written(
    context: PackEvaluation,
) -> None:
    """A KPI's name or owner is data: filled into the analyst's Markdown it rendered as
    Markdown ('*star*' in italics, a link), where the drafts show the same text literally."""
    first = context.results[0]
    named = first.kpi.model_copy(update={"name": "P1 *star* [l](javascript:alert(1))",
                                         "owner": "Ops <b>Mgr</b> **bold**"})
    pack = dataclasses.replace(context, evaluation=dataclasses.replace(
        context.evaluation, results=(dataclasses.replace(first, kpi=named),
                                     *context.results[1:])))
    text = f"{{{{ kpi.{named.id}.name }}}} / {{{{ kpi.{named.id}.owner }}}}"
    html = narrative_html(fill(text, pack))
    assert "<em>" not in html and "<strong>" not in html and "<a " not in html
    assert "P1 *star* [l](javascript:alert(1))" in html
    assert "Ops &lt;b&gt;Mgr&lt;/b&gt; **bold**" in html


def test_the_label_above_a_kpis_commentary_shows_its_name_as_written(
    context: PackEvaluation, tmp_path: Path,
) -> None:
    """The heading the notebook shows the analyst above a KPI's cell put the catalog's name in
    as Markdown (and Jupyter renders some HTML)."""
    results = tuple(dataclasses.replace(r, kpi=r.kpi.model_copy(
        update={"name": f"{r.kpi.name} *star* <img src=x onerror=alert(1)>"}))
        for r in context.results)
    pack = dataclasses.replace(context, evaluation=dataclasses.replace(
        context.evaluation, results=results))
    path = tmp_path / "pack.ipynb"
    write_pack_notebook(path, pack, {})
    labels = ["".join(cell["source"]) for cell in _notebook_json(path)["cells"]
              if "narrative-label" in cell.get("metadata", {}).get("tags", [])]
    labels = [label for label in labels if "star" in label]
    assert labels
    for label in labels:
        assert not re.search(r"(?<!\\)[<*]", label.split("\n")[0].split(": ", 1)[1]), label
        assert r"\*star\* \<img src=x onerror=alert(1)\>" in label


@pytest.mark.parametrize("link", [
    "[click](javascript:alert(1))",
    "[click](JavaScript:alert(1))",
    "[click](java&#x73;cript:alert(1))",
    "<javascript:alert(1)>",
    "[click][ref]\n\n[ref]: javascript:alert(1)",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
])
def test_narrative_html_neutralises_script_links(link: str) -> None:
    html = narrative_html(link)
    targets = re.findall(r'(?:href|src)\s*=\s*"([^"]*)"', html, flags=re.I)
    assert targets == ["#harmful-link"]
    assert "<script" not in html.lower()


def test_narrative_html_shows_a_script_image_as_text_not_an_image() -> None:
    html = narrative_html("![chart](javascript:alert(1))")
    assert "<img" not in html and "javascript" not in html.lower().replace("[", "")
    assert "[image not shown: chart]" in html


def test_narrative_html_renders_lists_bold_links_and_tables() -> None:
    html = narrative_html("**Bold** and *italic* and [docs](https://example.org/x).\n\n"
                          "- one\n- two\n\n1. first\n\n"
                          "| KPI | now |\n|---|---|\n| MTTR | 7.2 h |\n")
    assert "<strong>Bold</strong>" in html and "<em>italic</em>" in html
    assert '<a href="https://example.org/x">docs</a>' in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "<ol>" in html
    assert "<table>" in html and "<th>KPI</th>" in html and "<td>7.2 h</td>" in html


# -- the publish gate ------------------------------------------------------------------------

def written(cells: list[NarrativeCell], *keys: str) -> list[NarrativeCell]:
    """The cells with the given keys accepted (no longer drafts)."""
    return [dataclasses.replace(c, draft=False) if c.key in keys or "*" in keys else c
            for c in cells]


def test_gate_lists_every_reason_in_rule_order(demo: Demo) -> None:
    context = demo.context
    cells = plan_cells(context, SECTIONS, {})
    reasons = gate.check(context, cells, demo.actions_now, {})
    drafts = [r for r in reasons if "is still the generated draft" in r]
    assert len(drafts) == len(cells)
    assert drafts[0].startswith("narrative 'summary' (Summary) is still the generated draft")
    others = reasons[len(drafts):]
    assert others == [
        "red KPI 'open_critical_vulns' (Open critical vulnerabilities) has neither commentary "
        "nor an open action",
        *[r for r in others if r.startswith("action ")],
    ]
    overdue = [r for r in others if r.startswith("action ")]
    assert [r.split()[1] for r in overdue] == ["A-0004", "A-0002", "A-0006"]
    assert "is 7 days overdue with no new due date" in overdue[0]


def test_gate_narrative_rule_refuses_stale_text(demo: Demo) -> None:
    saved = {"kpi-change_success_rate": stored(
        "kpi-change_success_rate", "Releases keep failing.",
        {"change_success_rate": {"value": 91.3, "status": "amber"}}, kpi_id="change_success_rate",
    )}
    cells = written(plan_cells(demo.context, SECTIONS, saved), "*")
    reasons = gate.check(demo.context, cells, demo.actions_now,
                         {"overdue_actions_rescheduled": False})
    assert reasons == [
        "narrative 'kpi-change_success_rate' (Change success rate) is stale: Change success rate "
        "was 91.3% when this was written; it is now 88.1%; edit it, or accept it if it is still "
        "right (reviewkit narrative accept weekly … kpi-change_success_rate)"
    ]


def test_gate_red_rule_is_satisfied_by_commentary_or_an_open_action(demo: Demo) -> None:
    cells = plan_cells(demo.context, SECTIONS, {})
    rules = {"narrative_final": False, "overdue_actions_rescheduled": False}
    assert gate.check(demo.context, cells, demo.actions_now, rules) == [
        "red KPI 'open_critical_vulns' (Open critical vulnerabilities) has neither commentary "
        "nor an open action"
    ]
    explained = written(cells, "kpi-open_critical_vulns")
    assert gate.check(demo.context, explained, demo.actions_now, rules) == []


def test_gate_overdue_rule_accepts_a_new_due_date_set_after_the_period_end(demo: Demo) -> None:
    cells = written(plan_cells(demo.context, SECTIONS, {}), "*")
    moved = [dataclasses.replace(a, due=dt.date(2026, 12, 4)) if a.id == "A-0002" else a
             for a in demo.actions_now]
    closed = [dataclasses.replace(a, status="done") if a.id == "A-0004" else a for a in moved]
    reasons = gate.check(demo.context, cells, closed, {})
    assert [r.split()[1] for r in reasons] == ["A-0006"]


def test_gate_headline_rule_refuses_a_headline_kpi_without_data(demo: Demo) -> None:
    context = dataclasses.replace(demo.context,
                                  headline=(*demo.context.headline, "backup_success_rate"))
    cells = written(plan_cells(context, SECTIONS, {}), "*")
    rules = {"overdue_actions_rescheduled": False, "red_kpis_explained": False}
    assert gate.check(context, cells, demo.actions_now, rules) == [
        "headline KPI 'backup_success_rate' (Backup success rate) has no data for 2026-11-20"
    ]
    assert gate.check(context, cells, demo.actions_now,
                      {**rules, "headline_data_current": False}) == []


@pytest.mark.parametrize("rule", sorted(gate.RULES))
def test_gate_rule_turned_off_drops_only_its_reasons(demo: Demo, rule: str) -> None:
    # An owner set a status in the review round, which the office has not approved.
    evaluation = with_owner_statuses(demo.context.evaluation, {"change_success_rate": OwnerStatus(
        "amber", "a one-off migration weekend", "Chris Moyo", "2026-11-21T09:00:00+00:00",
        approved=False)})
    context = dataclasses.replace(demo.context, evaluation=evaluation,
                                  headline=(*demo.context.headline, "backup_success_rate"))
    view = dataclasses.replace(demo.view, evaluated=context)
    cells = [dataclasses.replace(cell, text="Change success rate is on target this week.")
             if cell.key == "kpi-change_success_rate" else cell
             for cell in plan_cells(context, SECTIONS, {})]
    document = pack_document(view, Publication(narrative=tuple(cells)))
    every = gate.check(context, cells, demo.actions_now, {}, document=document)
    markers = {
        "narrative_final": "is still the generated draft",
        "red_kpis_explained": "has neither commentary nor an open action",
        "overdue_actions_rescheduled": "overdue with no new due date",
        "headline_data_current": "has no data for",
        "owner_status_approved": "the office has not approved it",
        "figures_agree": "contradicts itself",
    }
    assert set(markers) == set(gate.RULES)
    assert all(any(marker in r for r in every) for marker in markers.values())
    without = gate.check(context, cells, demo.actions_now, {rule: False}, document=document)
    assert without == [r for r in every if markers[rule] not in r]
    assert gate.check(context, cells, demo.actions_now, dict.fromkeys(gate.RULES, False),
                      document=document) == []


def test_section_drafts_for_the_board_sections_summarise_portfolio_spend_and_priorities(
    tmp_path: Path,
) -> None:
    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    params = tmp_path / "quarterly.yaml"
    params.write_text(
        "organisation: Northwind IT\n"
        f"catalog: {demo / 'kpis.yaml'}\nmeasurements: {demo / 'measurements.csv'}\n"
        f"initiatives: {demo / 'initiatives.csv'}\nspend: {demo / 'spend.csv'}\n"
        f"priorities: {demo / 'priorities.yaml'}\nperiod_end: 2026-11-20\n",
        encoding="utf-8",
    )
    context = prepare_view("quarterly", params, now=BOARD_MEETS).evaluated
    delivery = draft_for_section("delivery", "Delivery", context)
    # EHR upgrade 2025 finished late and over budget: history, not one of the live late ones.
    assert delivery.startswith("3 initiatives late (")
    assert "Network supplier transition" in delivery and "2 at risk" in delivery
    assert "EHR upgrade 2025" not in delivery
    cost = draft_for_section("cost", "Cost discipline", context)
    assert cost.startswith("Year to date £") and "Over budget to date: Hardware" in cost
    priorities = draft_for_section("priorities", "Strategic priorities", context)
    assert priorities.startswith("Progress: Reliable clinical systems ")
    assert priorities.count("%") == 4
    # A priority that went backwards has a true minus, as every number in the pack.
    assert "Reliable clinical systems \u221245%" in priorities and "-" not in priorities


# -- accepting text as it stands ------------------------------------------------------------

ONLY_NARRATIVE_RULE = {"red_kpis_explained": False, "overdue_actions_rescheduled": False,
                       "headline_data_current": False}


def _save_stale(store: Store) -> None:
    """The change success rate's commentary, written when the rate was 91.3% (it is 88.1%)."""
    store.save_narrative(cadence="weekly", label="2026-11-20", key="kpi-change_success_rate",
                         kpi_id="change_success_rate", text="Releases keep failing.",
                         basis={"change_success_rate": {"value": 91.3, "status": "amber"}},
                         expected_revision=0, by="analyst", source="test")


def test_accept_confirms_a_stale_text_against_todays_numbers_and_the_gate_passes_it(
    context: PackEvaluation, store: Store
) -> None:
    _save_stale(store)
    service = NarrativeService(store, context)
    cells = service.plan(SECTIONS)
    key = "kpi-change_success_rate"
    assert any(key in reason and "stale" in reason
               for reason in gate.check(context, cells, [], ONLY_NARRATIVE_RULE))
    assert service.accept(cells, [key], by="Ana Lyst", source="accepted in a test") == [key]
    replanned = {cell.key: cell for cell in service.plan(SECTIONS)}
    assert not replanned[key].stale and not replanned[key].draft
    assert replanned[key].text == "Releases keep failing."
    assert not any(key in reason
                   for reason in gate.check(context, tuple(replanned.values()), [],
                                            ONLY_NARRATIVE_RULE))
    latest = store.narrative_history("weekly", "2026-11-20", key)[-1]
    assert (latest.revision, latest.updated_by, latest.text) == (2, "Ana Lyst",
                                                                 "Releases keep failing.")


def test_accept_all_accepts_every_draft_and_stale_cell_and_nothing_twice(
    context: PackEvaluation, store: Store
) -> None:
    _save_stale(store)
    service = NarrativeService(store, context)
    cells = service.plan(SECTIONS)
    waiting = [cell.key for cell in cells if cell.draft or cell.stale]
    assert service.accept(cells, None, by="Ana Lyst", source="test") == waiting
    again = service.plan(SECTIONS)
    assert not any(cell.draft or cell.stale for cell in again)
    assert service.accept(again, None, by="Ana Lyst", source="test") == []
    assert gate.check(context, again, [], ONLY_NARRATIVE_RULE) == []


def test_accept_of_an_unknown_cell_names_it_and_the_known_ones(
    context: PackEvaluation, store: Store
) -> None:
    service = NarrativeService(store, context)
    with pytest.raises(UsageError, match=r"no narrative cell 'nope' in the weekly pack "
                                         r"2026-11-20; its cells: summary, kpis, actions"):
        service.accept(service.plan(SECTIONS), ["summary", "nope"], by="a", source="test")
    assert store.narratives("weekly", "2026-11-20") == {}


def test_collect_edits_saves_a_stale_text_accepted_through_its_metadata_flag(
    context: PackEvaluation, store: Store, tmp_path: Path
) -> None:
    _save_stale(store)
    path = tmp_path / "pack.ipynb"
    key = "kpi-change_success_rate"
    cells = {c.key: c for c in write_pack_notebook(path, context, store.narratives(
        "weekly", "2026-11-20"))}
    assert cells[key].stale
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("reviewkit", {}).get("key") == key:
            cell.metadata["reviewkit"][ACCEPT_FLAG] = True
    nbformat.write(notebook, path)
    assert collect_edits(path, store, context, by="Ana Lyst") == [key]
    replanned = {c.key: c for c in plan_cells(context, SECTIONS,
                                              store.narratives("weekly", "2026-11-20"))}
    assert not replanned[key].stale
    assert store.narrative_history("weekly", "2026-11-20", key)[-1].updated_by == "Ana Lyst"


@pytest.mark.parametrize(("state", "label"), [("draft", "Draft text, generated from the data"),
                                              ("final", "Generated from the data")])
def test_a_final_pack_never_labels_generated_text_as_draft(
    demo_params: Path, state: str, label: str
) -> None:
    """Published with --force, a pack may keep generated text: it says so, but not "draft"."""
    cell = new_markdown_cell("Change success rate fell to 88.1%.")
    cell.metadata["tags"] = ["narrative"]
    cell.metadata["reviewkit"] = {"key": "summary"}
    planned = NarrativeCell(key="summary", kpi_id=None, title="Summary",
                            text="Change success rate fell to 88.1%.", draft=True, revision=0)
    view = prepare_view("weekly", demo_params, "2026-11-20", now=NOW)
    document = pack_document(view, Publication(narrative=(planned,), state=state))  # type: ignore[arg-type]
    html = to_html(document, new_notebook(cells=[cell]))
    assert label in html
    assert ("Draft text" in html) == (state == "draft")
    dotted = re.search(r'<aside class="[^"]*rk-narrative-draft', html) is not None
    assert dotted == (state == "draft")


@pytest.mark.parametrize("text", ["   ", "[ref]: https://example.org/a-link-definition",
                                  "<!-- a note to self -->", "<b>"])
def test_a_cell_that_shows_nothing_leaves_no_empty_commentary_box(
    demo_params: Path, text: str
) -> None:
    """An analyst's cell holding only white space, or Markdown that renders to nothing, left
    an empty "Commentary" box on the page."""
    cell = new_markdown_cell(text)
    cell.metadata["tags"] = ["narrative"]
    cell.metadata["reviewkit"] = {"key": "summary"}
    planned = NarrativeCell(key="summary", kpi_id=None, title="Summary", text=text,
                            draft=False, revision=1)
    view = prepare_view("weekly", demo_params, "2026-11-20", now=NOW)
    html = to_html(pack_document(view, Publication(narrative=(planned,))),
                   new_notebook(cells=[cell]))
    shown = text == "<b>"  # raw HTML is shown as text, so it is something to read
    assert ('class="rk-narrative' in html) == shown


def test_kpi_commentary_follows_the_section_that_asks_for_it(context: PackEvaluation) -> None:
    """In the monthly notebook the KPIs' own cells follow the KPI detail appendix, not the
    summary; in the weekly one they follow the summary's commentary."""
    for cadence, after in ((MONTHLY, "kpi_details"), (WEEKLY, "summary")):
        notebook = make_notebook(cadence)
        cells = list(plan_cells(context, slots_of(notebook, cadence), {}))
        apply_to_notebook(notebook, cells, cadence)
        kpi_cells = [i for i, c in enumerate(notebook.cells)
                     if c.metadata.get("reviewkit", {}).get("kpi")]
        sections = [(i, c.metadata["reviewkit"]["section"]["id"]) for i, c in
                    enumerate(notebook.cells) if "section" in c.metadata.get("reviewkit", {})]
        before = [sid for i, sid in sections if i < kpi_cells[0]]
        assert before[-1] == after
        assert kpi_cells == list(range(kpi_cells[0], kpi_cells[0] + len(kpi_cells) * 2, 2))


@pytest.mark.parametrize("command", ["export", "import"])
def test_a_narrative_command_refuses_a_bad_period_before_reading_any_input(
        tmp_path: Path, command: str) -> None:
    """As ``build`` does: the period is the command line's own, checked first, so the user
    hears of it at once and in its own words, whatever the inputs hold."""
    from conftest import copy_demo, run_cli_in_process

    params = copy_demo(tmp_path)
    (tmp_path / "data" / "demo" / "kpis.yaml").write_text("kpis: [1, 2]\n", encoding="utf-8")
    markdown = tmp_path / "narrative.md"
    markdown.write_text("", encoding="utf-8")
    where = ["--output", str(markdown)] if command == "export" else [str(markdown)]
    code, _, err = run_cli_in_process(["narrative", command, "weekly", "--params", str(params),
                                       "--period", "9999-12-31", *where])
    assert code == 2
    assert err.startswith("reviewkit: error: --period: 9999-12-31 is outside the dates"), err


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Path]:
    """The demo's params in a folder of their own, and its 20 November narrative exported."""
    from conftest import copy_demo, run_cli_in_process

    params = copy_demo(tmp_path)
    markdown = tmp_path / "narrative.md"
    code, _, err = run_cli_in_process(["narrative", "export", "weekly", "--params", str(params),
                                       "--period", "2026-11-20", "--output", str(markdown)])
    assert code == 0, err
    return params, markdown


def _import(params: Path, markdown: Path, *extra: str) -> tuple[int, str, str]:
    from conftest import run_cli_in_process

    return run_cli_in_process(["narrative", "import", "weekly", "--params", str(params),
                               str(markdown), "--by", "analyst", *extra])


def test_a_narrative_exported_for_one_period_is_not_imported_into_another(
        exported: tuple[Path, Path]) -> None:
    """A file exported for 20 November, imported without --period on a later day, put every
    one of its texts into that day's pack as the analyst's own."""
    params, markdown = exported
    text = markdown.read_text(encoding="utf-8")
    assert "<!-- reviewkit narrative weekly 2026-11-20." in text
    markdown.write_text(text.replace("weekly 2026-11-20.", "weekly 2026-11-13."),
                        encoding="utf-8")
    code, out, err = _import(params, markdown, "--period", "2026-11-20")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"{markdown}, line 3:" in err and "2026-11-13" in err and "--period 2026-11-13" in err


def test_an_imported_file_with_a_byte_order_mark_keeps_its_first_section(
        exported: tuple[Path, Path]) -> None:
    """A file saved with a byte order mark lost its first section without a word: the mark
    hid its heading."""
    params, markdown = exported
    text = markdown.read_text(encoding="utf-8")
    text = text[text.index("## summary — Summary"):]  # a file opening on its first section
    text = re.sub(r"(## summary — Summary\n<!-- [^\n]* -->\n\n)[^#]*", r"\1New words.\n\n",
                  text)
    markdown.write_bytes(("\ufeff" + text).encode("utf-8"))
    code, out, err = _import(params, markdown, "--period", "2026-11-20")
    assert code == 0, err
    assert "summary" in out.strip().split("saved ", 1)[1].split(", ")


def test_a_lone_carriage_return_survives_export_and_import(
        exported: tuple[Path, Path]) -> None:
    """Text holding a lone CR came back with a line feed in its place: importing the file just
    exported changed it."""
    params, markdown = exported
    with markdown.open(encoding="utf-8", newline="") as handle:
        text = handle.read()
    text = re.sub(r"(## summary — Summary\n<!-- [^\n]* -->\n\n)[^#]*", "\\1one\\rtwo\n\n", text)
    with markdown.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    code, out, err = _import(params, markdown, "--period", "2026-11-20")
    assert code == 0, err
    assert out.strip().endswith("saved summary")
    again = markdown.with_name("again.md")
    from conftest import run_cli_in_process

    code, _, err = run_cli_in_process(["narrative", "export", "weekly", "--params", str(params),
                                       "--period", "2026-11-20", "--output", str(again)])
    assert code == 0, err
    with again.open(encoding="utf-8", newline="") as handle:
        assert "one\rtwo" in handle.read()
    code, out, err = _import(params, again, "--period", "2026-11-20")
    assert (code, out.strip()) == (0, f"{again}: nothing changed"), err


def _summaries(params: Path) -> dict[str, str | None]:
    """The stored summary of the group ('') and of units ngh and sah, 20 November."""
    store = Store.open(str(params.parent / "reviewkit.sqlite"))
    try:
        found = {unit: store.narratives("weekly", "2026-11-20", unit).get("summary")
                 for unit in ("", "ngh", "sah")}
    finally:
        store.dispose()
    return {unit: saved.text if saved else None for unit, saved in found.items()}


def _rewrite_summary(markdown: Path, words: str) -> None:
    text = markdown.read_text(encoding="utf-8")
    markdown.write_text(re.sub(r"(## summary — Summary\n<!-- [^\n]* -->\n\n)[^#]*",
                               rf"\g<1>{words}\n\n", text), encoding="utf-8")


@pytest.fixture
def exported_for_ngh(tmp_path: Path) -> tuple[Path, Path]:
    """The demo's params, and unit ngh's 20 November narrative exported, its summary
    rewritten."""
    from conftest import copy_demo, run_cli_in_process

    params = copy_demo(tmp_path)
    markdown = tmp_path / "ngh.md"
    code, _, err = run_cli_in_process(["narrative", "export", "weekly", "--params", str(params),
                                       "--period", "2026-11-20", "--unit", "ngh",
                                       "--output", str(markdown)])
    assert code == 0, err
    _rewrite_summary(markdown, "North General's words.")
    return params, markdown


def test_a_units_narrative_is_not_imported_into_the_group(
        exported_for_ngh: tuple[Path, Path]) -> None:
    """Imported without --unit, a unit's file saved the unit's words as the group's."""
    params, markdown = exported_for_ngh
    code, out, err = _import(params, markdown, "--period", "2026-11-20")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"{markdown}, line 3:" in err and "--unit ngh" in err, err
    assert _summaries(params) == {"": None, "ngh": None, "sah": None}


def test_a_units_narrative_is_not_imported_into_another_unit(
        exported_for_ngh: tuple[Path, Path]) -> None:
    """Imported with another unit's --unit, a unit's file saved its words as that unit's."""
    params, markdown = exported_for_ngh
    code, out, err = _import(params, markdown, "--period", "2026-11-20", "--unit", "sah")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"{markdown}, line 3:" in err and "unit ngh" in err and "--unit ngh" in err, err
    assert _summaries(params) == {"": None, "ngh": None, "sah": None}


def test_a_units_narrative_imports_into_that_unit(exported_for_ngh: tuple[Path, Path]) -> None:
    params, markdown = exported_for_ngh
    code, out, err = _import(params, markdown, "--period", "2026-11-20", "--unit", "ngh")
    assert code == 0, err
    assert "summary" in out.strip().split("saved ", 1)[1].split(", ")
    assert _summaries(params) == {"": None, "ngh": "North General's words.", "sah": None}


def test_a_file_naming_no_unit_is_the_groups_as_every_older_export_is(
        exported: tuple[Path, Path]) -> None:
    """The group's file names no unit, as no file exported before units were recorded does:
    such a file still imports into the group, and is refused for a unit, whose words it may
    not hold."""
    params, markdown = exported
    assert "<!-- reviewkit narrative weekly 2026-11-20. Edit" in markdown.read_text("utf-8")
    _rewrite_summary(markdown, "The group's words.")
    code, out, err = _import(params, markdown, "--period", "2026-11-20", "--unit", "ngh")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"{markdown}, line 3:" in err and "without --unit" in err, err
    code, out, err = _import(params, markdown, "--period", "2026-11-20")
    assert code == 0, err
    assert _summaries(params) == {"": "The group's words.", "ngh": None, "sah": None}


def test_stored_text_with_an_unknown_placeholder_is_exported_as_written_and_fixed_by_import(
        tmp_path: Path) -> None:
    """A KPI removed from the catalog left a placeholder the build refuses; the export refused
    it too and wrote no file, so the Markdown route to fix the text was shut."""
    from conftest import copy_demo, run_cli_in_process

    params = copy_demo(tmp_path)
    store = Store.open(str(params.parent / "reviewkit.sqlite"))
    try:
        store.save_narrative(cadence="weekly", label="2026-11-20", key="kpis", kpi_id=None,
                             text="Rate at {{ kpi.csr.value }}.", basis={},
                             expected_revision=0, by="analyst", source="test")
    finally:
        store.dispose()
    markdown = tmp_path / "narrative.md"
    code, _, err = run_cli_in_process(["narrative", "export", "weekly", "--params", str(params),
                                       "--period", "2026-11-20", "--output", str(markdown)])
    assert code == 0, err
    text = markdown.read_text(encoding="utf-8")
    assert "\nRate at {{ kpi.csr.value }}.\n" in text
    line = text.split("\n").index("Rate at {{ kpi.csr.value }}.") + 1
    heading = text.split("\n").index("## kpis — KPIs by perspective") + 1
    assert line > heading
    code, out, err = _import(params, markdown, "--period", "2026-11-20")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"{markdown}, line {heading}:" in err and "{{ kpi.csr.value }}" in err, err
    markdown.write_text(text.replace("{{ kpi.csr.value }}",
                                     "{{ kpi.change_success_rate.value }}"), encoding="utf-8")
    code, out, err = _import(params, markdown, "--period", "2026-11-20")
    assert code == 0, err
    assert "kpis" in out.strip().split("saved ", 1)[1].split(", ")
