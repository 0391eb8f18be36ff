"""The pack audits itself: every figure a page prints is the pack's figure for it, every
alternative text is written from the same figures, and no sentence contradicts a status.

The audit runs over the demo's and the Kestrel example's packs laid out in this process (the
full builds of the demo, in the snapshot and build tests, are audited as every build is, and
the suite makes any finding fail them), and a test per contradiction class of the December
review shows the audit catches it and names the place.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import REPO
from conftest_build import harbour_with_minutes
from pack_pages import document_of, page_of

from reviewkit.evaluation.changes import ChangeReport, StatusChange
from reviewkit.evaluation.figures import pack_figures
from reviewkit.layout.document import PackDocument
from reviewkit.layout.view import Publication
from reviewkit.narrative.cells import NarrativeCell
from reviewkit.outputs.audit import (
    STRICT_ENV,
    AuditFailed,
    Finding,
    audit,
    check_document,
    check_html,
    check_pdf,
    pdf_alt_texts,
    read_page,
)
from reviewkit.outputs.pdf import to_pdf

DEMO = REPO / "data" / "demo"
KESTREL = REPO / "data" / "examples" / "kestrel"
TODAY = dt.date(2026, 11, 23)


def _copy(folder: Path, into: Path) -> Path:
    """An organisation's folder copied (without any store), so a pack's store is private."""
    target = into / folder.name
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns("*.sqlite", "outputs"))
    return target


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's params folder beside a copy of its data (paths as in the repository)."""
    root = tmp_path_factory.mktemp("audit-demo")
    shutil.copytree(REPO / "params", root / "params",
                    ignore=shutil.ignore_patterns("*.sqlite"))
    (root / "data").mkdir()
    shutil.copytree(DEMO, root / "data" / "demo")
    return root / "params"


@pytest.fixture(scope="module")
def weekly(demo: Path) -> tuple[PackDocument, str]:
    document = document_of("weekly", demo / "weekly.yaml", today=TODAY)
    return document, page_of(document)


def _described(findings: list[Finding]) -> list[str]:
    return [finding.describe() for finding in findings]


# -- the packs agree with themselves ---------------------------------------------------------

@pytest.mark.parametrize("cadence", ["weekly", "monthly", "quarterly"])
def test_the_demo_packs_pages_state_only_their_figures(demo: Path, cadence: str) -> None:
    document = document_of(cadence, demo / f"{cadence}.yaml", today=TODAY)
    page = page_of(document)
    assert _described(audit(document, page)) == []
    stated = read_page(page).figures
    assert len(stated) > 100  # the scorecard, tiles and cards print their figures with identity


@pytest.mark.parametrize("cadence", ["weekly", "monthly", "quarterly"])
def test_the_kestrel_packs_pages_state_only_their_figures(
    tmp_path_factory: pytest.TempPathFactory, cadence: str
) -> None:
    kestrel = _copy(KESTREL, tmp_path_factory.mktemp("kestrel"))
    document = document_of(cadence, kestrel / "params" / f"{cadence}.yaml", today=TODAY)
    assert _described(audit(document, page_of(document))) == []


def test_a_group_pack_and_a_units_pack_agree_with_themselves(demo: Path) -> None:
    """The units page states each unit's figures and the group's at one precision a row."""
    params = demo / "units" / "quarterly.yaml"
    group = document_of("quarterly", params, "2026-09-30", today=TODAY, unit="group")
    unit = document_of("quarterly", params, "2026-09-30", today=TODAY, unit="st-annes")
    for document in (group, unit):
        assert _described(audit(document, page_of(document))) == []
    page = page_of(group)
    assert any("@st-annes/" in stated.identity for stated in read_page(page).figures)


def test_a_units_shares_breakdowns_and_the_groups_actions_are_figures_it_states(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A unit's pack of the Harbourside stores: its share of each group figure it is not
    judged on, the group's figure and status beside it, each department of a breakdown and
    the group's open actions on its KPIs all print with their identity, and agree."""
    harbour = tmp_path_factory.mktemp("harbour") / "harbour"
    harbour_with_minutes(harbour)
    document = document_of("weekly", harbour / "weekly.yaml", "2026-10-30", today=TODAY,
                           unit="quayside")
    page = page_of(document)
    assert _described(audit(document, page)) == []
    stated = {figure.identity for figure in read_page(page).figures}
    evaluated = document.view.evaluated
    assert evaluated.shares and evaluated.breakdowns and evaluated.action_log.group_actions
    for share in evaluated.shares:
        for identity in (f"{share.kpi.id}@quayside/2026-10-30/value",
                         f"{share.kpi.id}@quayside/2026-10-30/share",
                         f"{share.kpi.id}@group/2026-10-30/value",
                         f"{share.kpi.id}@group/2026-10-30/status"):
            assert identity in stated
    parts = [identity for identity in stated if identity.startswith("on_shelf#")]
    assert len(parts) == 2 * len(evaluated.breakdowns["on_shelf"].parts)
    for view in evaluated.action_log.group_actions:
        assert f"action:{view.id}/2026-10-30/age" in stated
    # Beside the unit's own counts ("0 open, 0 overdue"), the group's actions it lists are
    # counted too, on the summary page and in the action log.
    group_open = evaluated.action_log.group_actions
    figures = document.figures.figures
    assert figures["actions/2026-10-30/group-open"].value == len(group_open)
    assert figures["actions/2026-10-30/group-overdue"].value == sum(
        1 for view in group_open if view.overdue)
    assert [f.identity for f in read_page(page).figures].count(
        "actions/2026-10-30/group-overdue") == 2
    # A part's status printed otherwise is caught like a KPI's.
    part = sorted(i for i in parts if i.endswith("/status"))[0]
    wrong = "On track" if document.figures.figures[part].text != "On track" else "Off track"
    found = check_html(document, _retext(page, part, wrong))
    assert [f.rule for f in found] == ["status-differs"]


def test_every_figure_printed_twice_reads_the_same(weekly: tuple[PackDocument, str]) -> None:
    """A KPI has one value and one status per period on every page that prints it."""
    _, page = weekly
    texts: dict[str, set[str]] = {}
    for stated in read_page(page).figures:
        texts.setdefault(stated.identity, set()).add(" ".join(stated.text.split()).lower())
    assert texts["change_success_rate/2026-11-20/value"] == {"88.1%"}
    assert len(texts["change_success_rate/2026-11-20/status"]) == 1
    assert {identity for identity, seen in texts.items() if len(seen) > 1} == set()


# -- each contradiction class is caught, and named where it is -----------------------------------

def _retext(page: str, identity: str, text: str, count: int = 1) -> str:
    pattern = re.compile(rf'(<span data-fig="{re.escape(identity)}">)[^<]*(</span>)')
    changed, made = pattern.subn(rf"\g<1>{text}\g<2>", page, count=count)
    assert made == count, identity
    return changed


def test_a_value_that_differs_from_the_model_is_caught_with_its_section(
    weekly: tuple[PackDocument, str],
) -> None:
    document, page = weekly
    wrong = _retext(page, "change_success_rate/2026-11-20/value", "93.1%")
    found = check_html(document, wrong)
    assert [f.rule for f in found] == ["value-differs"]
    assert found[0].place == "pack.html, section 'Cover'"  # its off-track list, first
    assert "'93.1%'" in found[0].message and "'88.1%'" in found[0].message


def test_a_status_that_differs_from_the_model_is_caught(
    weekly: tuple[PackDocument, str],
) -> None:
    document, page = weekly
    wrong = _retext(page, "change_success_rate/2026-11-20/status", "On track")
    found = check_html(document, wrong)
    assert [f.rule for f in found] == ["status-differs"]
    assert "change_success_rate/2026-11-20/status" in found[0].message


def test_a_figure_without_a_figure_behind_it_is_caught(weekly: tuple[PackDocument, str]) -> None:
    document, page = weekly
    wrong = page.replace('data-fig="pack/2026-11-20/red"', 'data-fig="pack/2026-11-20/reds"', 1)
    assert [f.rule for f in check_html(document, wrong)] == ["unknown-figure"]


def test_a_sentence_that_contradicts_a_status_is_caught_in_the_commentary(
    weekly: tuple[PackDocument, str],
) -> None:
    """'On target this week' beside Off track for the week, written by an analyst."""
    document, _ = weekly
    cells = tuple(
        dataclasses.replace(cell, text="Change success rate is on target this week, as "
                                        "the CAB sign-off took hold.", draft=False)
        if cell.key == "kpi-change_success_rate" else cell
        for cell in document.publication.narrative)
    said = dataclasses.replace(document, publication=Publication(narrative=cells))
    found = check_document(said)
    assert [f.rule for f in found] == ["sentence-contradicts-status"]
    assert found[0].place == "commentary 'Change success rate'"
    assert "Off track" in found[0].message
    on_page = check_html(said, page_of(said))
    assert [f.rule for f in on_page] == ["sentence-contradicts-status"]
    assert "section 'Summary" in on_page[0].place


def test_a_note_to_self_in_an_html_comment_is_not_checked(
    weekly: tuple[PackDocument, str],
) -> None:
    """The page leaves an HTML comment out, as Jupyter does: a stale note in one is not a
    sentence of the pack, and must not stop its publication."""
    document, _ = weekly
    cells = tuple(
        dataclasses.replace(cell, text="Patching is behind.\n\n<!-- Change success rate is "
                                        "on target this week, as the CAB sign-off took hold. "
                                        "-->", draft=False)
        if cell.key == "kpi-change_success_rate" else cell
        for cell in document.publication.narrative)
    said = dataclasses.replace(document, publication=Publication(narrative=cells))
    assert check_document(said) == []


def test_a_sentence_naming_another_period_is_judged_against_that_period(
    weekly: tuple[PackDocument, str],
) -> None:
    document, _ = weekly
    result = document.view.result("change_success_rate")
    before = result.previous.period
    text = f"Change success rate was off track in the {before.long_label}."
    cell = NarrativeCell(key="summary", kpi_id=None, title="Summary", text=text, draft=False,
                         revision=1)
    said = dataclasses.replace(document, publication=Publication(narrative=(cell,)))
    assert result.previous.status != "red"
    assert [f.rule for f in check_document(said)] == ["sentence-contradicts-status"]
    agreeing = dataclasses.replace(cell, text=text.replace("off track", "at risk"))
    assert result.previous.status == "amber"
    assert check_document(dataclasses.replace(
        document, publication=Publication(narrative=(agreeing,)))) == []


def _saying(document: PackDocument, texts: Sequence[str]) -> PackDocument:
    """The pack with ``texts`` as its analyst's words, a summary cell each."""
    cells = tuple(NarrativeCell(key=f"k{i}", kpi_id=None, title="Summary", text=text,
                                draft=False, revision=1) for i, text in enumerate(texts))
    return dataclasses.replace(document, publication=Publication(narrative=cells))


def test_counts_arrows_and_forecasts_are_not_read_as_a_kpis_status(
    weekly: tuple[PackDocument, str],
) -> None:
    """'1 KPI off track (X), 3 at risk', 'at risk → off track' and 'will be on target' say
    nothing against X's status."""
    document, _ = weekly
    texts = [
        "This week: 1 KPI off track (Change success rate), 3 at risk, 6 on track.",
        "Change success rate fell to 88.1% (at risk → off track), the 1st week below target.",
        "Change success rate is expected to be on target again by January.",
    ]
    said = _saying(document, texts)
    assert _described(check_document(said)) == []


def test_what_the_data_say_beside_an_owners_status_is_not_read_as_the_kpis_status(
    weekly: tuple[PackDocument, str],
) -> None:
    """A gate reason published over says the owner's status and the data's: "set its status
    to off track (the data say at risk)" gives the KPI no second status."""
    document, _ = weekly
    assert document.view.result("change_success_rate").status == "red"
    texts = [
        "KPI 'change_success_rate' (Change success rate): Sam Okafor set its status to off "
        "track (the data say at risk) and the office has not approved it",
        "Change success rate: off track, set by its owner; the data say at risk.",
    ]
    said = _saying(document, texts)
    assert _described(check_document(said)) == []
    wrong = _saying(document, ["Change success rate is at risk, the data say."])
    assert [f.rule for f in check_document(wrong)] == ["sentence-contradicts-status"]


def test_above_and_below_target_read_by_the_kpis_direction(
    weekly: tuple[PackDocument, str],
) -> None:
    """'Above target' is on track for a KPI where higher is better and off track where lower
    is; 'below target' the other way round."""
    document, _ = weekly
    results = document.view.evaluation.results
    higher = next(r.kpi.name for r in results if r.status == "green" and r.kpi.higher_is_better)
    lower = next(r.kpi.name for r in results
                 if r.status == "green" and not r.kpi.higher_is_better)

    def said(text: str) -> list[str]:
        cell = NarrativeCell(key="summary", kpi_id=None, title="Summary", text=text,
                             draft=False, revision=1)
        return [f.rule for f in check_document(dataclasses.replace(
            document, publication=Publication(narrative=(cell,))))]

    assert said(f"{higher} is back above target.") == []
    assert said(f"{lower} is below target.") == []
    assert said(f"{higher} is below target.") == ["sentence-contradicts-status"]
    assert said(f"{lower} is above target.") == ["sentence-contradicts-status"]


def test_a_list_introduced_as_no_longer_holding_states_no_status(
    weekly: tuple[PackDocument, str],
) -> None:
    """'Cleared (no longer raised): A (off track); B (off track).' lists what no longer holds,
    item by item; the same list introduced as holding now is judged item by item."""
    document, _ = weekly
    green = [r.kpi.name for r in document.view.evaluation.results if r.status == "green"][:2]
    assert len(green) == 2
    items = f"{green[0]} (off track); {green[1]} (off track)."

    def said(text: str) -> list[Finding]:
        cell = NarrativeCell(key="summary", kpi_id=None, title="Summary", text=text,
                             draft=False, revision=1)
        return check_document(dataclasses.replace(
            document, publication=Publication(narrative=(cell,))))

    assert said(f"Cleared ✔ (no longer raised): {items}") == []
    now = said(f"Raised this week: {items}")
    assert [f.rule for f in now] == ["sentence-contradicts-status"] * 2


def test_an_alt_text_that_differs_from_the_page_is_caught(
    weekly: tuple[PackDocument, str],
) -> None:
    """A screen reader told other figures than the page ("5 late" against "4 late")."""
    document, page = weekly
    alt = document.alt("change_success_rate").text
    wrong = page.replace(f'alt="{alt}"', f'alt="{alt.replace("88.1%", "91.3%")}"', 1)
    found = check_html(document, wrong)
    assert [f.rule for f in found] == ["alt-text-differs"]
    assert "chart 'change_success_rate'" in found[0].place


def test_an_alt_text_written_from_other_figures_is_caught_in_the_model(
    weekly: tuple[PackDocument, str],
) -> None:
    document, _ = weekly
    alt = document.alts["cloud_spend"]
    wrong = dataclasses.replace(alt, text=alt.text.replace("at risk", "on track"))
    said = dataclasses.replace(document, alts={**document.alts, "cloud_spend": wrong})
    rules = sorted(f.rule for f in check_document(said))
    assert rules == ["alt-text-differs", "sentence-contradicts-status"]


def test_the_pdfs_alt_texts_are_read_and_checked_against_the_page(tmp_path: Path,
                                                                  weekly: tuple[PackDocument,
                                                                                str]) -> None:
    document, _ = weekly
    alt = document.alt("change_success_rate").text
    page = (f'<html><body><img data-chart="change_success_rate" alt="{alt}" '
            f'src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADU'
            f'lEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="></body></html>')
    to_pdf(page, tmp_path / "right.pdf", base_url=tmp_path)
    right = (tmp_path / "right.pdf").read_bytes()
    assert pdf_alt_texts(right) == [(1, alt)]
    assert check_pdf(document, page, right) == []
    wrong = page.replace("88.1%", "91.3%")
    to_pdf(wrong, tmp_path / "wrong.pdf", base_url=tmp_path)
    found = check_pdf(document, page, (tmp_path / "wrong.pdf").read_bytes())
    assert [f.rule for f in found] == ["alt-text-differs", "alt-text-differs"]
    assert found[0].place == "pack.pdf, page 1"


def test_an_image_of_the_commentary_keeps_the_analysts_alt_text_in_the_pdf(
        tmp_path: Path, weekly: tuple[PackDocument, str]) -> None:
    """An image the analyst put in the commentary is no chart: its alternative text is the
    analyst's, and the PDF carries it as the page does."""
    document, _ = weekly
    dot = ('src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADU'
           'lEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="')
    page = f'<html><body><aside class="rk-narrative"><img alt="trend" {dot}></aside></body></html>'
    to_pdf(page, tmp_path / "image.pdf", base_url=tmp_path)
    pdf = (tmp_path / "image.pdf").read_bytes()
    assert pdf_alt_texts(pdf) == [(1, "trend")]
    assert check_pdf(document, page, pdf) == []
    # The PDF saying what the page does not is still caught.
    other = page.replace('alt="trend"', 'alt="Uptime 99.9%"')
    to_pdf(other, tmp_path / "other.pdf", base_url=tmp_path)
    found = check_pdf(document, page, (tmp_path / "other.pdf").read_bytes())
    assert [f.rule for f in found] == ["alt-text-differs", "alt-text-differs"]


def test_one_identity_stated_twice_with_two_statuses_is_a_conflict(
    weekly: tuple[PackDocument, str],
) -> None:
    """"What changed" says a KPI was on track last week (from the pack recorded then) while
    the scorecard's own history says at risk for that week: one week, two statuses."""
    document, _ = weekly
    evaluated = document.view.evaluated
    result = evaluated.result("change_success_rate")
    before = result.previous.period.label
    assert result.previous.status != "green"
    changes = ChangeReport(before, status_changes=(StatusChange(
        "change_success_rate", "Change success rate", "green", result.status),))
    figures = pack_figures(period=evaluated.period, evaluation=evaluated.evaluation,
                           action_log=evaluated.action_log, changes=changes,
                           strategy=evaluated.strategy, kpis=evaluated.catalog.by_id(),
                           units=evaluated.units)
    conflicted = dataclasses.replace(document, view=dataclasses.replace(
        document.view, evaluated=dataclasses.replace(evaluated, figures=figures)))
    found = check_document(conflicted)
    assert [f.rule for f in found] == ["status-differs"]
    assert found[0].place == "what changed since the last review"
    assert f"change_success_rate/{before}/status" in found[0].message
    assert "'On track'" in found[0].message


# -- what a finding does to a build -----------------------------------------------------------

def test_a_strict_audit_fails_the_build_naming_the_place(monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewkit.run.build import PackJob, _judge

    finding = Finding("value-differs", "pack.html, section 'Scorecard'", "prints '1' for x")
    job = dataclasses.make_dataclass("Job", [("name", str), ("refuse_contradictions", bool)])
    monkeypatch.setenv(STRICT_ENV, "strict")
    with pytest.raises(AuditFailed, match="section 'Scorecard'") as raised:
        _judge((finding,), job("weekly", False))  # type: ignore[arg-type]
    assert raised.value.exit_code == 3
    monkeypatch.setenv(STRICT_ENV, "")
    _judge((finding,), job("weekly", False))  # type: ignore[arg-type]  (a draft: recorded)
    from reviewkit.run.gate import PublishRefused

    with pytest.raises(PublishRefused) as refused:
        _judge((finding,), job("weekly", True))  # type: ignore[arg-type]
    assert refused.value.reasons == [
        "the pack contradicts itself: pack.html, section 'Scorecard': prints '1' for x"]
    assert PackJob.__dataclass_fields__["refuse_contradictions"].default is False




def test_a_key_result_measured_by_a_kpi_states_the_kpis_figure(demo: Path) -> None:
    """One value, one text: a key result's "now" is its KPI's figure for the period, as the
    scorecard prints it (a 93.96% is never "94.0%" on the priorities page)."""
    document = document_of("quarterly", demo / "quarterly.yaml", today=TODAY)
    figures = document.figures
    strategy = document.view.strategy
    assert strategy.priorities
    linked = 0
    for priority, progress in strategy.priorities:
        for index, kr in enumerate(progress.key_results, start=1):
            if not kr.kpi or figures.value(kr.kpi, "value") != kr.value:
                continue
            linked += 1
            assert figures.text(f"kr:{priority.id}:{index}", "value") == figures.text(
                kr.kpi, "value")
    assert linked >= 3
