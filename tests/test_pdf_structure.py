"""Every reader can use the demo pack, and it proves where it came from: the PDF's tags,
outline, links and embedded data; the manifest; and the analyst's notebook, run again.

Reads the demo weekly pack built once per session (tests/conftest_build.py); the monthly and
quarterly packs get the same structure checks in tests/test_cadences.py.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import shutil
import struct
import zlib
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
from reviewkit.outputs import pdf as export

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


def _png_chunks(png: bytes, kind: bytes) -> bytes:
    """The data of every chunk of ``kind`` in a PNG file, joined."""
    found, position = [], 8
    while position < len(png):
        length, = struct.unpack("!I", png[position:position + 4])
        if png[position + 4:position + 8] == kind:
            found.append(png[position + 8:position + 8 + length])
        position += 12 + length
    return b"".join(found)


def test_the_pdf_holds_every_chart_exactly_as_drawn(demo_pack: BuiltPack) -> None:
    """Every chart's compressed pixels are in the PDF byte for byte: not scaled down, not
    turned into a JPEG, not a pixel changed."""
    html = (demo_pack.folder / "pack.html").read_text(encoding="utf-8")
    charts = [base64.b64decode(data)
              for data in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)]
    pdf = (demo_pack.folder / "pack.pdf").read_bytes()
    assert len(charts) >= 10
    assert [n for n, png in enumerate(charts) if _png_chunks(png, b"IDAT") not in pdf] == []


def _image(mode: str, **options: Any) -> tuple[bytes, bytes]:
    """A small PNG with every pixel different, and its pixels as RGB(A) bytes."""
    from PIL import Image

    image = Image.new("RGBA" if mode == "P" else mode, (37, 11))
    bands = len(image.getbands())
    image.putdata([tuple((x * 7 + y * 23 + c * 50) % 256 for c in range(bands))
                   if bands > 1 else (x * 7 + y * 23) % 256
                   for y in range(11) for x in range(37)])
    if mode == "P":
        image = image.convert("RGB").quantize(64)
    if options.get("interlace"):
        return _interlaced_png(image), image.tobytes()
    buffer = io.BytesIO()
    image.save(buffer, format="png", **options)
    return buffer.getvalue(), image.tobytes()


#: Adam7's seven passes: first column and row, then the step between columns and rows.
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2))


def _interlaced_png(image: Any) -> bytes:
    """An 8-bit RGB image as an interlaced PNG (Pillow writes none)."""
    width, height = image.size
    rows = bytearray()
    for left, top, across, down in ADAM7:
        for y in range(top, height, down):
            rows.append(0)  # no filter
            for x in range(left, width, across):
                rows += bytes(image.getpixel((x, y)))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack("!I", len(data)) + kind + data
                + struct.pack("!I", zlib.crc32(kind + data)))

    header = struct.pack("!IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("mode", "options", "as_is"), [
    # What the charts are: 8-bit RGB (or grey), not interlaced; whatever their compression.
    ("RGB", {}, True), ("RGB", {"compress_level": 1}, True), ("L", {}, True),
    # Encoded again by WeasyPrint, as without reviewkit: interlaced, a palette, alpha.
    ("RGB", {"interlace": 1}, False), ("P", {}, False), ("RGBA", {}, False),
])
def test_an_image_prints_with_its_own_pixels_and_a_chart_is_not_compressed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, options: dict[str, Any],
    as_is: bool,
) -> None:
    """The PDF step takes a chart-like PNG's compressed pixels as they are (no PNG encoded
    while the PDF is written) and any other PNG WeasyPrint's way; each prints its own
    pixels."""
    from PIL import Image

    png, pixels = _image(mode, **options)
    data = base64.b64encode(png).decode("ascii")
    target = tmp_path / "page.pdf"
    monkeypatch.delenv("REVIEWKIT_NO_SPEEDUPS", raising=False)
    encoded: list[object] = []
    save = Image.SAVE["PNG"]
    monkeypatch.setitem(Image.SAVE, "PNG", lambda *args: (encoded.append(args), save(*args)))
    export.to_pdf(f'<html lang="en"><body><img alt="test" src="data:image/png;base64,{data}">'
                  "</body></html>", target, base_url=tmp_path)
    assert (encoded == []) is as_is
    printed = [image.image for image in PdfReader(target).pages[0].images]
    assert len(printed) == 1
    expected = Image.open(io.BytesIO(png))
    if mode in ("P", "RGBA"):  # printed as RGB (with a soft mask for the alpha)
        assert printed[0].convert("RGB").tobytes() == expected.convert("RGB").tobytes()
    else:
        assert printed[0].convert(mode).tobytes() == pixels


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
