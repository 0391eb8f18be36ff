"""The printed page, checked box by box: the layout checks find what a typographer would
(text out of its card, text over text, a heading stranded at a page's foot, a page holding a
spill), and a pack of an organisation unlike the demo (long names, euros, mg/L and ML/d, US
letter, two months of history) passes them; its text writes every number and date one way.

The demo's packs get the same checks in tests/test_pdf_structure.py (weekly) and
tests/test_cadences.py (monthly and quarterly).
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pdf_layout import Layout, number_and_date_slips, visible_text

from reviewkit.cli.app import main
from reviewkit.layout.styles import pack_css

REPO = Path(__file__).resolve().parents[1]
KESTREL = REPO / "data" / "examples" / "kestrel"


def _layout(tmp_path: Path, body: str) -> Layout:
    page = tmp_path / "pack.html"
    page.write_text(f"<!DOCTYPE html><html><head><style>{pack_css()}</style></head>"
                    f"<body><main class='rk-main'>{body}</main></body></html>", encoding="utf-8")
    return Layout.of(page)


def test_a_pill_wider_than_its_card_is_found(tmp_path: Path) -> None:
    layout = _layout(tmp_path, '<div class="rk-bsc-box" style="width: 30mm">'
                     '<span class="rk-badge rk-s-red" style="font-size: 14pt">Off track, very'
                     '</span></div>')
    assert any("runs" in problem and "rk-bsc-box" in problem for problem in layout.overflows())


def test_a_caption_that_cannot_wrap_in_its_column_is_found(tmp_path: Path) -> None:
    layout = _layout(tmp_path, '<table class="rk-table" style="table-layout: fixed">'
                     '<tr><td class="rk-num" style="width: 15mm">6.7<br>'
                     '<span style="white-space: nowrap">to date, target pro-rated</span></td>'
                     '<td>On track</td></tr></table>')
    assert any("to date, target pro-rated" in problem for problem in layout.overflows())


def test_text_printed_over_text_is_found(tmp_path: Path) -> None:
    layout = _layout(tmp_path, '<p style="height: 0; margin: 0">Cancelled</p>'
                     '<p style="margin: 0">30 Sep 2026</p>')
    assert layout.collisions()


def test_a_heading_and_its_introduction_alone_at_a_page_foot_are_found(tmp_path: Path) -> None:
    layout = _layout(tmp_path, '<div style="height: 245mm"></div><section>'
                     '<h2 style="break-after: auto">What changed</h2>'
                     '<p style="break-after: auto">Compared with the previous quarter.</p>'
                     '<table class="rk-table">' + "<tr><td>row</td></tr>" * 8 +
                     "</table></section>")
    assert any("heading" in problem for problem in layout.stranded_headings())


def test_the_packs_own_styles_keep_a_section_introduction_with_its_content(
    tmp_path: Path,
) -> None:
    layout = _layout(tmp_path, '<div style="height: 245mm"></div><section>'
                     "<h2>What changed</h2><p class=\"rk-lede\">Compared with the previous "
                     'quarter.</p><table class="rk-table">' + "<tr><td>row</td></tr>" * 8 +
                     "</table></section>")
    assert layout.stranded_headings() == []


def test_a_column_of_numbers_has_its_heading_over_the_numbers(tmp_path: Path) -> None:
    """"VALUE" sat at the left of its column, away from the figures ranged right under it."""
    layout = _layout(tmp_path, '<table class="rk-table"><thead><tr><th>KPI</th>'
                     '<th class="rk-num">Value</th></tr></thead><tbody><tr><td>Change success'
                     ' rate, a long name</td><td class="rk-num">87.4%</td></tr></tbody></table>')
    marks = {mark.text.strip().lower(): mark for mark in layout.marks()}
    assert abs(marks["value"].right - marks["87.4%"].right) < 1


def test_a_page_holding_only_a_spill_is_found(tmp_path: Path) -> None:
    layout = _layout(tmp_path, '<div style="height: 258mm"></div><p>one line too many</p>'
                     "<p>and another</p>")
    assert any("spilled" in problem for problem in layout.spills())


# -- an organisation unlike the demo ----------------------------------------------------------


#: The period each Kestrel pack reports (its params files' period_end, or the latest week).
KESTREL_LABELS = {"weekly": "2026-11-20", "quarterly": "2026-Q4"}


def _build(cadence: str, params: Path, out: Path) -> Path:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["build", cadence, "--params", str(params), "--out", str(out), "-q"])
    if code != 0:
        pytest.fail(f"the Kestrel {cadence} build failed ({code}):\n{stderr.getvalue()}")
    return out / cadence / KESTREL_LABELS[cadence]


@pytest.fixture(scope="module")
def kestrel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Kestrel's weekly (US letter) and quarterly packs, built from a copy of its folder with
    its two meetings' minutes imported (actions and a decision)."""
    root = tmp_path_factory.mktemp("kestrel")
    shutil.copytree(KESTREL, root / "kestrel", ignore=shutil.ignore_patterns("*.sqlite*"))
    params = root / "kestrel" / "params"
    for minutes in sorted((root / "kestrel" / "minutes").glob("weekly-*.yaml")):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert main(["minutes", "import", str(minutes), "--params",
                         str(params / "weekly.yaml"), "--by", "test"]) == 0
    yield {cadence: _build(cadence, params / f"{cadence}.yaml", root / "out")
           for cadence in ("weekly", "quarterly")}


@pytest.mark.parametrize("cadence", ["weekly", "quarterly"])
def test_an_organisation_with_long_names_and_other_units_lays_out_cleanly(
    kestrel: dict[str, Path], cadence: str,
) -> None:
    assert Layout.of(kestrel[cadence] / "pack.html").problems() == []


def test_the_checker_of_numbers_and_dates_finds_each_slip() -> None:
    text = ("YTD -0.1% · due 2026-11-27 · +0.0 pts · A-0001 · 3 of 1.7 · \u22123.2 pts · "
            "inside 2024-Q4 · inside 2026-04 · weekly-2026-11 · FY 2025-26")
    assert [slip.split(":")[0] for slip in number_and_date_slips(text)] == [
        "hyphen for a minus", "ISO date", "period label", "period label", "zero change"]


@pytest.mark.parametrize("cadence", ["weekly", "quarterly"])
def test_an_organisations_pack_writes_numbers_and_dates_one_way(
    kestrel: dict[str, Path], cadence: str,
) -> None:
    html = (kestrel[cadence] / "pack.html").read_text(encoding="utf-8")
    assert number_and_date_slips(visible_text(html)) == []


LONG_WORD = "https://intranet.example.org/" + "x" * 280


def test_an_analysts_long_url_wide_table_and_long_code_line_stay_on_the_page(
        tmp_path: Path) -> None:
    """Nothing an analyst writes is cut off at the page's edge: a long address breaks, a wide
    Markdown table shares the width, a long code line wraps."""
    columns = range(12)
    table = ("<table><thead><tr>" + "".join(f"<th>column heading {i}</th>" for i in columns)
             + "</tr></thead><tbody><tr>" + "".join("<td>valuevaluevalue</td>" for _ in columns)
             + "</tr></tbody></table>")
    layout = _layout(tmp_path, '<aside class="rk-narrative"><div class="rk-narrative-label">'
                     f"Commentary</div><p>See {LONG_WORD}</p>{table}"
                     f"<pre><code>{'very_long_code_line_' * 20}</code></pre></aside>")
    assert layout.overflows() == []


def test_a_long_word_in_whats_changed_since_the_last_version_stays_in_its_column(
        tmp_path: Path) -> None:
    layout = _layout(tmp_path, '<section class="rk-reissue"><table class="rk-table '
                     'rk-reissue-table"><thead><tr><th scope="col">What</th><th scope="col">Of'
                     '</th><th scope="col">In version 2</th><th scope="col">Now</th></tr>'
                     '</thead><tbody><tr><td>Commentary</td><td>Summary</td><td>Short.</td>'
                     f"<td>{LONG_WORD} and more words after it</td></tr></tbody></table>"
                     "</section>")
    assert layout.overflows() == []


def test_chinese_japanese_and_korean_commentary_prints_every_character(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An analyst writing in Chinese, Japanese or Korean sees their words in the PDF, not
    empty boxes: WeasyPrint says so for each character no font has (a .notdef glyph)."""
    from reviewkit.outputs import pdf as export

    text = "こんにちは世界。你好\uff0c世界。안녕하세요. <b>안녕 你好</b>"  # a full-width comma
    page = (f"<!DOCTYPE html><html><head><style>{pack_css()}</style></head><body>"
            f"<main class='rk-main'><aside class='rk-narrative'><p>{text}</p></aside></main>"
            "</body></html>")
    with caplog.at_level("WARNING", logger="weasyprint"):
        export.to_pdf(page, tmp_path / "pack.pdf", base_url=tmp_path)
    missing = [record.getMessage() for record in caplog.records if ".notdef" in record.getMessage()]
    assert missing == []


def test_a_character_no_font_has_is_named_once_in_the_pdf_steps_warnings(
        tmp_path: Path) -> None:
    """An emoji no font here has (a chart; DejaVu has the smiley) prints as an empty box: the
    build says which character, once, so the analyst can choose other words; the HTML page
    still shows it."""
    from reviewkit.outputs import pdf as export

    page = (f"<!DOCTYPE html><html><head><style>{pack_css()}</style></head><body>"
            "<main class='rk-main'><aside class='rk-narrative'><p>Good week \U0001F4C8 and "
            "\U0001F4C8 again, 你好 \U0001F600</p></aside></main></body></html>")
    missing = export.to_pdf(page, tmp_path / "pack.pdf", base_url=tmp_path)
    assert missing == ("\U0001F4C8",)
