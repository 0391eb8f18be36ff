"""The demo packs say what their committed snapshots say, page for page.

A change meant to alter a pack updates tests/snapshots/ on purpose
(``.venv/bin/python tests/pack_snapshots.py --update``) and the diff shows what changed.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from pack_snapshots import SNAPSHOTS, BuiltPack, normalise, snapshot_of
from pypdf import PdfReader

from reviewkit import cadences

pytest_plugins = ["conftest_build"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_root(demo_packs: dict[str, BuiltPack]) -> Path:
    return next(iter(demo_packs.values())).out.parent


@pytest.fixture(scope="module")
def built(demo_packs: dict[str, BuiltPack], demo_root: Path) -> dict[str, tuple[str, str]]:
    return {name: snapshot_of(pack.folder, demo_root) for name, pack in demo_packs.items()}


def _diff(expected: str, actual: str, name: str) -> str:
    lines = difflib.unified_diff(expected.splitlines(), actual.splitlines(),
                                 f"snapshot {name}", f"built {name}", lineterm="", n=2)
    return "\n".join(list(lines)[:80])


@pytest.mark.parametrize("name", ["weekly-2026-11-20", "monthly-2026-10", "quarterly-2026-Q4"])
def test_demo_pack_reads_as_its_snapshot_page_for_page(
    built: dict[str, tuple[str, str]], name: str
) -> None:
    text, summary = built[name]
    expected_text = (SNAPSHOTS / f"{name}.txt").read_text(encoding="utf-8")
    expected_summary = (SNAPSHOTS / f"{name}.summary.json").read_text(encoding="utf-8")
    assert text == expected_text, _diff(expected_text, text, f"{name}.txt")
    assert summary == expected_summary, _diff(expected_summary, summary, f"{name}.summary.json")


def test_a_snapshot_does_not_hold_the_versions_the_machine_installed(tmp_path: Path) -> None:
    """The provenance page's software table prints its versions on one row under the names:
    a fresh environment that installed pandas 3.1.2 instead of 3.1.1 failed every snapshot."""
    page = ("Software\n"
            "python reviewkit papermill nbconvert nbformat weasyprint matplotlib pandas\n"
            "3.11.7 0.1.0 2.7.0 7.17.2 5.11.1 70.0 3.11.2 3.1.2\n"
            "Generated 2026-12-07.\n")
    shown = normalise(page, tmp_path)
    assert "3.1.2" not in shown and "3.11.7" not in shown
    assert "python reviewkit papermill" in shown and "Generated" in shown
    for figure_row in ("98.1% 97.2% 96.0% 95.5%", "1 2 3 4 5", "Q4 2026 12.5 13.0 11.2 10.4"):
        assert normalise(figure_row, tmp_path) == figure_row  # figures stay as they are


def test_snapshots_cover_every_cadence() -> None:
    names = sorted(path.name for path in Path(SNAPSHOTS).glob("*.txt"))
    assert [name.split("-")[0] for name in names] == ["monthly", "quarterly", "weekly"]


def section_pages(pdf: Path) -> dict[str, int]:
    """The page (1-based) each section starts on, from the PDF's named destinations."""
    reader = PdfReader(pdf)
    return {name.removeprefix("sec-"): reader.get_destination_page_number(target) + 1
            for name, target in reader.named_destinations.items() if name.startswith("sec-")}


@pytest.mark.parametrize(("cadence", "label", "budget"),
                         [("monthly", "2026-10", 14), ("quarterly", "2026-Q4", 12)])
def test_the_body_of_a_longer_pack_fits_its_page_budget(
    built: dict[str, tuple[str, str]], demo_root: Path, cadence: str, label: str, budget: int,
) -> None:
    """Board members read the first pages: the body stays within its budget, and the KPI cards
    (and, in the board pack, the operational action log) sit in the appendices behind it."""
    pages = section_pages(demo_root / "out" / cadence / label / "pack.pdf")
    shown = cadences.get(cadence).sections_for(group=False)
    body = [section.id for section in shown if not section.appendix]
    first_appendix = next(section.id for section in shown if section.appendix)
    assert set(body) <= set(pages)
    assert max(pages[section] for section in body) < pages[first_appendix]
    assert pages[first_appendix] - 1 <= budget, pages
    assert first_appendix in ("kpi_details", "actions")
    assert cadences.get(cadence).section("kpi_details").appendix


@pytest.mark.parametrize("name", ["weekly/2026-11-20", "monthly/2026-10", "quarterly/2026-Q4"])
def test_every_kpi_link_lands_on_its_card(
    built: dict[str, tuple[str, str]], demo_root: Path, name: str,
) -> None:
    html = (demo_root / "out" / name / "pack.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="#(kpi-[a-z0-9_]+)"', html))
    cards = set(re.findall(r'id="(kpi-[a-z0-9_]+)"', html))
    assert links and links <= cards
