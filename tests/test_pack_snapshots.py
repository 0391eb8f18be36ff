"""The demo packs say what their committed snapshots say, page for page.

A change meant to alter a pack updates tests/snapshots/ on purpose
(``.venv/bin/python tests/pack_snapshots.py --update``) and the diff shows what changed.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from pack_snapshots import SNAPSHOTS, snapshots


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    root = tmp_path_factory.mktemp("snapshots").resolve()
    return {name: (text, summary) for name, text, summary in snapshots(root)}


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


def test_snapshots_cover_every_cadence() -> None:
    names = sorted(path.name for path in Path(SNAPSHOTS).glob("*.txt"))
    assert [name.split("-")[0] for name in names] == ["monthly", "quarterly", "weekly"]
