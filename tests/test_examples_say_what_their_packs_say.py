"""The example organisations' READMEs state their packs' status counts: they must be what the
packs say."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO, prepare_view

KESTREL = REPO / "data" / "examples" / "kestrel"


@pytest.mark.parametrize(("cadence", "pattern"), [
    ("weekly", r"Weekly pack, 20 Nov: (\d+) red, (\d+) amber, (\d+) green, (\d+) no data"),
    ("monthly", r"Monthly pack, October 2026: (\d+) red .*?, (\d+) amber, (\d+) green"),
    ("quarterly", r"Quarterly pack, Q4 2026 to 20 Nov: (\d+) red, (\d+) amber, (\d+) green"),
])
def test_the_kestrel_readme_states_each_packs_counts(tmp_path: Path, cadence: str,
                                                     pattern: str) -> None:
    """The README said the quarter's counts were October's (1/6/3); the pack said 1/7/2."""
    folder = tmp_path / "kestrel"
    shutil.copytree(KESTREL, folder, ignore=shutil.ignore_patterns("*.sqlite"))
    readme = re.sub(r"\s+", " ", (KESTREL / "README.md").read_text(encoding="utf-8"))
    found = re.search(pattern, readme, re.S)
    assert found, f"the README no longer states the {cadence} counts"
    counts = prepare_view(cadence, folder / "params" / f"{cadence}.yaml").evaluation.status_counts()
    stated = [int(n) for n in found.groups()]
    assert stated == [counts["red"], counts["amber"], counts["green"], counts["no_data"]][
        :len(stated)]
