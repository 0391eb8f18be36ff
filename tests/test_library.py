"""The library page (``reviewkit index``): it links only to pack folders reviewkit makes, each
link URL-quoted, lists the draft beside a published pack on that pack's line, and leaves off
(saying so) a pack whose summary is damaged.

Fast: small fake pack folders (a manifest listing a PDF and a web page, a summary, and those
files); no build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli_in_process

from reviewkit.run import library


def _pack(folder: Path, *, unit: str | None = None, state: str = "draft", version: int = 1,
          summary: Any = None) -> None:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({
        "state": state, "version": version,
        "outputs": {"pack.pdf": "0" * 64, "pack.html": "0" * 64, "summary.json": "0" * 64}}))
    (folder / "pack.pdf").write_bytes(b"%PDF-1.7\n")
    (folder / "pack.html").write_text("<html></html>")
    if summary is None:
        summary = {"cadence": "weekly", "label": "2026-11-20", "period_end": "2026-11-20",
                   "title": "Weekly", "organisation": "Two Sites", "state": state,
                   "version": version, "status_counts": {"red": 1, "amber": 0, "green": 2,
                                                         "no_data": 0},
                   **({"unit": {"id": unit, "name": unit.title()}} if unit else {})}
    (folder / "summary.json").write_text(summary if isinstance(summary, str)
                                         else json.dumps(summary))


def _hrefs(page: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', page)


def test_a_folder_named_like_a_script_url_never_becomes_a_link(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _pack(out / "weekly" / "2026-11-20" / "north", unit="north")
    _pack(out / "javascript:alert(document.domain)" / "2026-11-20" / "north", unit="north")
    _pack(out / "weekly" / "javascript:alert(1)" / "north", unit="north")
    _pack(out / "weekly" / "2026-11-20" / "javascript:alert(1)", unit="north")
    _pack(out / "weekly" / "2026-11-20" / 'x"><script>alert(1)<', unit="north")
    code, _, stderr = run_cli_in_process(["index", str(out)])
    assert code == 0, stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    assert _hrefs(page) == ["./weekly/2026-11-20/north/pack.pdf",
                            "./weekly/2026-11-20/north/pack.html"]
    assert "javascript" not in page and "<script>" not in page


def test_every_link_is_url_quoted_and_relative_to_the_page(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _pack(out / "weekly" / "2026-11-20" / "north_1", unit="north_1")
    assert [p.links["PDF"] for p in library.find_packs(out)] == [
        "./weekly/2026-11-20/north_1/pack.pdf"]
    assert library._link(out, out / "a b" / "x:y" / "pack.pdf") == "./a%20b/x%3Ay/pack.pdf"


@pytest.mark.parametrize("summary", [
    "{not json", "[1, 2]", json.dumps({"status_counts": [1, 2]}),
    json.dumps({"status_counts": {"red": "many"}}), json.dumps({"unit": "north"}),
], ids=["not-json", "a-list", "counts-a-list", "counts-not-numbers", "unit-a-string"])
def test_a_damaged_summary_is_left_off_the_page_and_said_so(tmp_path: Path, summary: str
                                                           ) -> None:
    out = tmp_path / "out"
    _pack(out / "weekly" / "2026-11-20" / "north", unit="north")
    _pack(out / "weekly" / "2026-11-20" / "south", summary=summary)
    code, _, stderr = run_cli_in_process(["index", str(out)])
    assert (code, stderr) == (0, "")
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "./weekly/2026-11-20/north/pack.pdf" in page
    assert "south/pack.pdf" not in page
    assert ("Not listed: weekly/2026-11-20/south (its summary.json is damaged; rebuild the "
            "pack).") in page


def test_the_draft_beside_a_published_pack_is_on_that_packs_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    week = out / "weekly" / "2026-11-20"
    _pack(week / "north", unit="north", state="final")
    _pack(week / "north.draft", unit="north", version=2)
    _pack(week / "south.draft", unit="south", version=1)  # no published pack beside it
    [north, south] = library.find_packs(out)
    assert (north.state, north.links["PDF"], north.draft_links["PDF"], north.draft_version) == (
        "final", "./weekly/2026-11-20/north/pack.pdf",
        "./weekly/2026-11-20/north.draft/pack.pdf", 2)
    assert (south.state, south.links["PDF"]) == (
        "draft", "./weekly/2026-11-20/south.draft/pack.pdf")
    page = library.render_index(out)
    assert 'draft of version 2:</span> <a href="./weekly/2026-11-20/north.draft/pack.pdf">' \
        in page


def test_the_library_names_periods_as_the_packs_do(tmp_path: Path) -> None:
    """'20 Nov 2026', not the folder's '2026-11-20' (and 'Q4 2026' for a quarter)."""
    out = tmp_path / "out"
    _pack(out / "weekly" / "2026-11-20" / "north", unit="north")
    page = library.render_index(out)
    assert "<b>20 Nov 2026</b>" in page and "KPIs in 20 Nov 2026" in page
    assert "<b>2026-11-20</b>" not in page


def test_a_pack_links_each_output_its_manifest_lists_and_a_half_pack_is_not_listed(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    week = out / "weekly" / "2026-11-20"
    _pack(week / "north", unit="north")
    manifest = json.loads((week / "north" / "manifest.json").read_text())
    manifest["outputs"]["pack.xlsx"] = "0" * 64
    (week / "north" / "manifest.json").write_text(json.dumps(manifest))
    assert library.find_packs(out) == []  # the workbook it lists is not there
    (week / "north" / "pack.xlsx").write_bytes(b"PK")
    [north] = library.find_packs(out)
    assert north.links == {"web page": "./weekly/2026-11-20/north/pack.html",
                           "workbook": "./weekly/2026-11-20/north/pack.xlsx",
                           "PDF": "./weekly/2026-11-20/north/pack.pdf"}
