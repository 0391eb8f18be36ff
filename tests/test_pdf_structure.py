"""Every reader can use the demo pack, and it proves where it came from: the PDF's tags,
outline, links and embedded data; the manifest; and the analyst's notebook, run again.

Reads the demo weekly pack built once per session (tests/conftest_build.py); the monthly and
quarterly packs get the same structure checks in tests/test_cadences.py.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest_build import BuiltPack, Rebuild
from pdf_layout import Layout, number_and_date_slips, visible_text
from pdf_structure import (
    check_outline,
    check_tagged_with_alternative_text,
    internal_link_targets,
    outline_titles,
)
from pypdf import PdfReader

from reviewkit import cadences
from reviewkit.layout.styles import notebook_style, pack_css

pytest_plugins = ["conftest_build"]

#: The files a pack carries inside its PDF, as PDF/A-3 embedded files.
EMBEDDED = ("summary.json", "actions.csv", "decisions.csv")


@pytest.fixture(scope="module")
def reader(demo_pack: BuiltPack) -> PdfReader:
    return PdfReader(demo_pack.folder / "pack.pdf")


@pytest.fixture(scope="module")
def summary(demo_pack: BuiltPack) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((demo_pack.folder / "summary.json").read_text("utf-8"))
    return data


def test_pdf_is_tagged_with_the_language_and_the_pack_title(reader: PdfReader) -> None:
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en"
    assert str(root["/ViewerPreferences"]["/DisplayDocTitle"]).lower() == "true"
    assert reader.metadata is not None
    assert reader.metadata.title == (
        "Northwind IT · Weekly Operational Review · 2026-11-20")


def test_every_figure_has_alternative_text_written_from_its_data(reader: PdfReader) -> None:
    texts = check_tagged_with_alternative_text(reader)
    assert ("Change success rate, 26 weeks to 20 Nov 2026: fell from 94.6% to 88.1%; over the "
            "last 6 weeks worsening; target 95.0%; off track") in texts
    assert any(text.startswith("Change success rate, 13 weeks to 20 Nov 2026") for text in texts)


def test_outline_lists_every_section_perspective_and_kpi(
    reader: PdfReader, summary: dict[str, Any]
) -> None:
    check_outline(reader, "weekly", [kpi["name"] for kpi in summary["kpis"]])
    perspectives = {kpi["perspective"] for kpi in summary["kpis"]}
    assert perspectives <= {title for depth, title in outline_titles(reader) if depth == 1}


def test_contents_and_scorecard_link_to_their_sections_and_kpi_cards(
    reader: PdfReader, summary: dict[str, Any]
) -> None:
    targets = set(internal_link_targets(reader))
    sections = [s.id for s in cadences.WEEKLY.sections_for(False) if s.in_contents]
    assert {f"sec-{section}" for section in sections} <= targets
    assert {f"kpi-{kpi['id']}" for kpi in summary["kpis"]} <= targets
    assert targets <= set(reader.named_destinations)


def test_every_page_lays_out_cleanly(demo_pack: BuiltPack) -> None:
    """No text out of its card or column, no text over text, no heading stranded at a page's
    foot, no page holding only a spill (tests/pdf_layout.py)."""
    assert Layout.of(demo_pack.folder / "pack.html").problems() == []


def test_numbers_and_dates_are_written_one_way(demo_pack: BuiltPack) -> None:
    """A true minus sign, days as '27 Nov 2026', never '+0.0'."""
    html = (demo_pack.folder / "pack.html").read_text(encoding="utf-8")
    assert number_and_date_slips(visible_text(html)) == []


def test_every_table_header_cell_has_a_scope(demo_pack: BuiltPack) -> None:
    html = (demo_pack.folder / "pack.html").read_text(encoding="utf-8")
    headers = re.findall(r"<th\b[^>]*>", html)
    assert len(headers) > 30
    assert [h for h in headers if not re.search(r'scope="(col|row|colgroup|rowgroup)"', h)] == []


def test_pdf_is_pdf_a_3_and_carries_the_packs_data_byte_for_byte(
    reader: PdfReader, demo_pack: BuiltPack
) -> None:
    assert reader.xmp_metadata is not None
    xmp = reader.xmp_metadata.rdf_root.toxml()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    attached = {name: contents[0] for name, contents in reader.attachments.items()}
    assert set(attached) == {*EMBEDDED, "manifest.json"}
    for name in EMBEDDED:
        assert attached[name] == (demo_pack.folder / name).read_bytes(), name


def test_attached_manifest_is_the_one_beside_the_pack_but_for_the_pdfs_own_hash(
    reader: PdfReader, demo_pack: BuiltPack
) -> None:
    attached = json.loads(reader.attachments["manifest.json"][0])
    beside = json.loads((demo_pack.folder / "manifest.json").read_text(encoding="utf-8"))
    assert "pack.pdf" not in attached["outputs"] and "pack.pdf" in beside["outputs"]
    assert set(attached["timings_seconds"]) < set(beside["timings_seconds"])
    expected = copy.deepcopy(beside)
    del expected["outputs"]["pack.pdf"]
    expected["timings_seconds"] = attached["timings_seconds"]
    assert attached == expected


def test_html_page_carries_the_pack_styles_once_and_no_notebook_copy(
    demo_pack: BuiltPack,
) -> None:
    html = (demo_pack.folder / "pack.html").read_text(encoding="utf-8")
    assert html.count(pack_css()) == 1
    assert ".rk-nb" not in html


def test_pack_notebook_sections_carry_their_styles_for_jupyter(demo_pack: BuiltPack) -> None:
    notebook = nbformat.read(demo_pack.folder / "pack.ipynb", as_version=4)
    sections = [cell for cell in notebook.cells
                if cell.metadata.get("reviewkit", {}).get("section") and cell.outputs]
    assert len(sections) >= 6
    for cell in sections:
        html = "".join(output["data"]["text/html"] for output in cell.outputs
                       if "text/html" in output.get("data", {}))
        assert html.startswith(f'<div class="rk-nb">{notebook_style()}')


def test_pack_notebook_names_no_path_of_the_machine_that_built_it(
    demo_pack: BuiltPack,
) -> None:
    text = (demo_pack.folder / "pack.ipynb").read_text(encoding="utf-8")
    assert str(demo_pack.out) not in text
    assert str(demo_pack.params.parent) not in text
    assert "staging" not in text and "reviewkit-" not in text and "prepared.pickle" not in text
    papermill = json.loads(text)["metadata"]["papermill"]
    assert papermill["input_path"] == "weekly_operational.ipynb"
    assert papermill["output_path"] == "pack.ipynb"


def _sections_text(notebook: nbformat.NotebookNode) -> list[str]:
    """The text of each section output, with the build time left out."""
    texts = []
    for cell in notebook.cells:
        if not cell.metadata.get("reviewkit", {}).get("section"):
            continue
        html = "".join(output["data"]["text/html"] for output in cell.outputs
                       if "text/html" in output.get("data", {}))
        text = re.sub(r"<[^>]+>", " ", html)
        text = re.sub(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC|\d{4}-\d\d-\d\dT[\d:+]+", "",
                      text)
        texts.append(" ".join(text.split()))
    return texts


def test_pack_notebook_run_again_in_its_own_folder_shows_the_same_pack(
    demo_pack: BuiltPack, tmp_path: Path
) -> None:
    from nbclient import NotebookClient  # deferred: only this test runs a notebook itself

    # A copy of the pack and its inputs laid out as built (the same relative path to the
    # params file; the shared demo pack is left alone), run as Jupyter's "Run All" runs it:
    # from its folder, with no build around it.
    root = demo_pack.out.parent
    shutil.copytree(demo_pack.params.parent.parent, tmp_path / demo_pack.params.parent.parent
                    .relative_to(root))
    folder = tmp_path / demo_pack.folder.relative_to(root)
    shutil.copytree(demo_pack.folder, folder)
    built = nbformat.read(folder / "pack.ipynb", as_version=4)
    rerun = copy.deepcopy(built)
    NotebookClient(rerun, timeout=240, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    errors = [output for cell in rerun.cells for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert errors == []
    assert _sections_text(rerun) == _sections_text(built)


def test_a_rebuild_from_the_same_inputs_has_the_same_fingerprints_and_pages(
    demo_pack: BuiltPack, demo_rebuild: Rebuild
) -> None:
    rebuilt = demo_rebuild.built
    assert rebuilt.returncode == 0, rebuilt.stderr

    def fingerprints(folder: Path) -> dict[str, str]:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return {item["role"]: item["sha256"] for item in manifest["inputs"]}

    def pages(folder: Path) -> list[str]:
        times = r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC|\d{4}-\d\d-\d\dT[\d:+]+"
        return [re.sub(times, "<time>", page.extract_text() or "")
                for page in PdfReader(folder / "pack.pdf").pages]

    assert fingerprints(rebuilt.folder) == fingerprints(demo_pack.folder)
    assert set(fingerprints(demo_pack.folder)) >= {"params", "catalog", "measurements",
                                                    "notebook", "templates", "store"}
    assert pages(rebuilt.folder) == pages(demo_pack.folder)
