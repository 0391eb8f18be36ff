"""The monthly and quarterly packs of the demo, built once each through the command line.

They are the session's demo packs (tests/pack_snapshots.py: the snapshot tests read the same
packs), built on a copy of the demo's params and data so their action store stays in a
temporary folder. A third build, a quarterly pack without the optional inputs, shows each
strategy section says it is left out. Bad optional inputs fail before any notebook runs, so
those tests are fast.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import hashlib
import io
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, copy_demo
from pack_snapshots import BuiltPack
from pdf_layout import Layout, number_and_date_slips, visible_text
from pdf_structure import check_outline, check_tagged_with_alternative_text
from pypdf import PdfReader

from reviewkit.cli.app import main

pytest_plugins = ["conftest_build"]
pytestmark = pytest.mark.slow

DEMO = REPO / "data" / "demo"
OPTIONAL_INPUTS = ("initiatives", "benefits", "spend", "priorities")
PACK_FILES = ("pack.pdf", "pack.html", "pack.ipynb", "summary.json")
#: Text that would only be in a pack if notebook code leaked into it.
CODE_MARKERS = ("open_pack", "pack.cover()", "import reviewkit", "context_file", "params_file",
                "rk.open_pack", "In [")


@dataclass(frozen=True)
class Built:
    params: Path
    out: Path
    folder: Path
    code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / "summary.json").read_text("utf-8"))
        return data

    @functools.cached_property
    def _pages(self) -> tuple[str, ...]:
        reader = PdfReader(self.folder / "pack.pdf")
        return tuple(page.extract_text() or "" for page in reader.pages)

    def pages(self) -> list[str]:
        return list(self._pages)

    def text(self) -> str:
        """The PDF's text with whitespace (including line wraps) collapsed to single spaces."""
        return " ".join(" ".join(self._pages).split())


def run(args: list[str]) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(args)
    return code, stdout.getvalue(), stderr.getvalue()


def build(cadence: str, params: Path, out: Path, label: str) -> Built:
    code, stdout, stderr = run(["build", cadence, "--params", str(params), "--out", str(out),
                                "-q"])
    if code != 0:
        pytest.fail(f"the {cadence} build failed ({code}):\n{stderr}")
    return Built(params, out, out / cadence / label, code, stdout, stderr)


def _shared(pack: BuiltPack) -> Built:
    return Built(pack.params, pack.out, pack.folder, pack.returncode, pack.stdout, pack.stderr)


@pytest.fixture(scope="module")
def monthly(demo_packs: dict[str, BuiltPack]) -> Built:
    return _shared(demo_packs["monthly-2026-10"])


@pytest.fixture(scope="module")
def quarterly(demo_packs: dict[str, BuiltPack]) -> Built:
    return _shared(demo_packs["quarterly-2026-Q4"])


@pytest.fixture(scope="module")
def bare_quarterly(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The quarterly pack from a params file without initiatives, benefits, spend, priorities."""
    root = tmp_path_factory.mktemp("bare")
    params = copy_demo(root, "quarterly")
    kept = [line for line in params.read_text(encoding="utf-8").splitlines()
            if not line.startswith(OPTIONAL_INPUTS)]
    params.write_text("\n".join(kept) + "\n", encoding="utf-8")
    assert not any(f"{key}:" in params.read_text(encoding="utf-8") for key in OPTIONAL_INPUTS)
    return build("quarterly", params, root / "out", "2026-Q4")


def demo_catalog() -> list[dict[str, Any]]:
    data = yaml.safe_load((DEMO / "kpis.yaml").read_text(encoding="utf-8"))
    kpis: list[dict[str, Any]] = data["kpis"]
    return kpis


def spend_variance(start: dt.date, end: dt.date) -> float | None:
    """The spend file's total variance to budget over [start, end], in percent of the budget:
    the months with an actual."""
    with (DEMO / "spend.csv").open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["actual"].strip()
                and start <= dt.date.fromisoformat(row["period"] + "-01") <= end]
    budget = math.fsum(float(row["budget"]) for row in rows)
    actual = math.fsum(float(row["actual"]) for row in rows)
    return 100 * (actual - budget) / budget if budget else None


def rollup(kpi: dict[str, Any], start: dt.date, end: dt.date) -> float | None:
    """A KPI's value over [start, end] worked out from measurements.csv by its rules: the
    units' rows of each date rolled up into the group's figure (a mean weighted by each
    unit's count, a sum, the highest …), then those figures by the KPI's aggregation. A KPI
    that is a spend line (``spend_line``) is the spend file's variance over the months."""
    if kpi.get("spend_line") == "Total":
        return spend_variance(start, end)
    with (DEMO / "measurements.csv").open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle)
                if row["kpi_id"] == kpi["id"] and row["value"].strip()
                and start <= dt.date.fromisoformat(row["period_end"]) <= end]
    rule = kpi.get("aggregation", "mean")
    across = kpi.get("rollup") or {"last": "latest"}.get(rule, rule)
    by_date: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_date.setdefault(row["period_end"], []).append(row)
    reducers: dict[str, Callable[[list[float]], float]] = {
        "mean": lambda v: math.fsum(v) / len(v), "sum": math.fsum, "last": lambda v: v[-1],
        "min": min, "max": max,
    }
    group: list[float] = []
    for date in sorted(by_date):
        units = by_date[date]
        values = [float(row["value"]) for row in units]
        if across == "mean":
            weights = [float(row.get("count") or 1) for row in units]
            group.append(math.fsum(v * w for v, w in zip(values, weights, strict=True))
                         / math.fsum(weights))
        else:
            group.append(reducers["last" if across == "latest" else across](values))
    return reducers[rule](group) if group else None


def expected_status(kpi: dict[str, Any], cadence: str, value: float | None,
                    share: float = 1.0) -> str:
    """The RAG rule, with a summed KPI's thresholds pro-rated to ``share`` of the period."""
    def pick(threshold: Any) -> float | None:
        found = threshold.get(cadence) if isinstance(threshold, dict) else threshold
        if found is not None and kpi.get("aggregation") == "sum":
            found *= share
        return found  # type: ignore[no-any-return]

    if value is None:
        return "no_data"
    target, amber = pick(kpi["target"]), pick(kpi.get("amber"))
    assert target is not None
    sign = 1 if kpi["direction"] == "higher_is_better" else -1
    if sign * value >= sign * target:
        return "green"
    return "amber" if amber is not None and sign * value >= sign * amber else "red"


# -- folders and summary.json ---------------------------------------------------------------

@pytest.mark.parametrize(("fixture", "cadence", "label", "period_end"), [
    ("monthly", "monthly", "2026-10", "2026-10-31"),
    ("quarterly", "quarterly", "2026-Q4", "2026-12-31"),
])
def test_pack_folder_is_named_by_the_period_label(
    request: pytest.FixtureRequest, fixture: str, cadence: str, label: str, period_end: str
) -> None:
    built: Built = request.getfixturevalue(fixture)
    assert re.fullmatch(r"\d{4}-(\d{2}|Q[1-4])", label)
    assert built.folder == built.out / cadence / label
    # Only the pack (and the build's hidden lock file) in the cadence folder.
    assert [p.name for p in (built.out / cadence).iterdir() if not p.name.startswith(".")] == [
        label
    ]
    for name in PACK_FILES:
        assert (built.folder / name).is_file(), name
    assert built.stdout.strip().splitlines()[-1] == str(built.folder / "pack.pdf")
    summary = built.summary
    assert (summary["cadence"], summary["label"], summary["period_end"]) == (
        cadence, label, period_end
    )
    assert summary["organisation"] == "Northwind IT"


@pytest.mark.parametrize(("fixture", "cadence", "start", "end", "share"), [
    ("monthly", "monthly", dt.date(2026, 10, 1), dt.date(2026, 10, 31), 1.0),
    # The quarter is in progress: its weekly data runs to Friday 20 Nov, 8 of the quarter's 13
    # weekly rows (the first covers the last days of September; 51 of its 92 days have gone).
    ("quarterly", "quarterly", dt.date(2026, 10, 1), dt.date(2026, 12, 31), 8 / 13),
])
def test_summary_lists_the_cadence_kpis_with_values_rolled_up_from_the_data(
    request: pytest.FixtureRequest, fixture: str, cadence: str, start: dt.date, end: dt.date,
    share: float,
) -> None:
    built: Built = request.getfixturevalue(fixture)
    catalog = demo_catalog()
    kpis = {k["id"]: k for k in built.summary["kpis"]}
    assert list(kpis) == [k["id"] for k in catalog if cadence in k["cadences"]]
    assert {"phishing_click_rate", "opex_variance", "clinician_satisfaction"} <= set(kpis)
    for kpi in catalog:
        value = rollup(kpi, start, end)
        entry = kpis[kpi["id"]]
        if value is None:
            assert entry["value"] is None, kpi["id"]
        else:
            assert math.isclose(entry["value"], value, rel_tol=1e-9, abs_tol=1e-6), kpi["id"]
        assert entry["status"] == expected_status(kpi, cadence, value, share), kpi["id"]
        target = kpi["target"]
        full = target[cadence] if isinstance(target, dict) else target
        summed = kpi.get("aggregation") == "sum" and share < 1
        assert entry["target"] == pytest.approx(full * share if summed else full)
        assert entry.get("target_share") == (pytest.approx(share) if summed else None)


def test_monthly_summary_tells_the_october_story(monthly: Built) -> None:
    """data/demo/README.md: in October 2026 opex variance is red at 2.3%, phishing green at
    4.4% and clinician satisfaction green at 7.7; P1 incidents sum to the month's count."""
    kpis = {k["id"]: k for k in monthly.summary["kpis"]}
    assert kpis["opex_variance"]["status"] == "red"
    assert kpis["opex_variance"]["value"] == pytest.approx(2.3, abs=0.005)  # the spend file's
    assert (kpis["phishing_click_rate"]["status"], kpis["phishing_click_rate"]["value"]) == (
        "green", 4.4)
    assert (kpis["clinician_satisfaction"]["status"],
            kpis["clinician_satisfaction"]["value"]) == ("green", 7.7)
    assert kpis["p1_incidents"]["target"] == 4


# -- the PDFs --------------------------------------------------------------------------------

@pytest.mark.parametrize(("fixture", "header"), [
    ("monthly", "Northwind IT · Monthly Business Review · October 2026"),
    ("quarterly", "Northwind IT · Quarterly Strategic Review · Q4 2026"),
])
def test_pdf_pages_carry_the_running_header_and_page_numbers(
    request: pytest.FixtureRequest, fixture: str, header: str
) -> None:
    built: Built = request.getfixturevalue(fixture)
    pages = built.pages()
    count = len(pages)
    assert count > 5
    assert all(header in page for page in pages[1:]), "running header missing after the cover"
    assert "Page 1 of" in pages[0]
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {count}" in page


def test_monthly_pdf_has_its_sections(monthly: Built) -> None:
    text = monthly.text()
    for title in ("Delivery: the initiative portfolio", "Cost discipline",
                  "Benefits realization", "Leading and lagging"):
        assert title in text, title


def test_quarterly_pdf_has_its_sections(quarterly: Built) -> None:
    text = quarterly.text()
    for title in ("Balanced scorecard", "Decisions requested of the board",
                  "Strategic priorities", "Outlook"):
        assert title in text, title


def test_monthly_pdf_names_every_initiative(monthly: Built) -> None:
    text = monthly.text()
    with (DEMO / "initiatives.csv").open(encoding="utf-8", newline="") as handle:
        names = [row["name"] for row in csv.DictReader(handle)]
    assert len(names) == 10
    assert [name for name in names if name not in text] == []


@pytest.mark.parametrize("fixture", ["monthly", "quarterly"])
def test_pack_shows_no_code(request: pytest.FixtureRequest, fixture: str) -> None:
    built: Built = request.getfixturevalue(fixture)
    text = built.text()
    html = (built.folder / "pack.html").read_text(encoding="utf-8")
    assert [marker for marker in CODE_MARKERS if marker in text] == []
    assert [marker for marker in CODE_MARKERS if marker in html] == []


def test_pack_without_optional_inputs_leaves_their_sections_out_and_says_so_once(
    bare_quarterly: Built,
) -> None:
    text = " ".join(bare_quarterly.text().split())
    for title in ("Strategic priorities", "Benefits realization", "The initiative portfolio",
                  "Spend against budget", "Commentary on"):
        assert title not in text, title
    line = text.split("Not configured, so left out of this pack:", 1)[1].split(".")[0]
    for key in ("initiatives", "benefits", "spend", "priorities"):
        assert f"{key} ({key}: in the params file)" in line, line
    assert "Balanced scorecard" in text
    summary = bare_quarterly.summary
    assert summary["label"] == "2026-Q4"
    assert len(summary["kpis"]) == 16


# -- bad optional inputs ----------------------------------------------------------------------

#: (file, how to break it, line, field): each a mistake a user makes in one of the inputs.
BAD_INPUTS = {
    "initiative-finish-not-a-date": (
        "initiatives.csv", ("2026-03-02,2026-12-18,", "2026-03-02,end of Q4,"), 2,
        "planned_finish"),
    "initiative-unknown-kpi": (
        "initiatives.csv", ("change_success_rate ehr_availability",
                            "change_success_rate ehr_uptime"), 2, "kpis"),
    "benefit-unknown-initiative": (
        "benefits.csv", ("faster_restores,network_supplier_transition",
                         "faster_restores,network_supplier_move"), 3, "initiative_id"),
    "spend-not-a-number": (
        "spend.csv", ("2026-01,Cloud,177.1,176.1", "2026-01,Cloud,177.1,lots"), 3, "actual"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_optional_input_exits_2_naming_file_line_and_field_without_a_pack(
    tmp_path: Path, case: str
) -> None:
    name, (old, new), line, field = BAD_INPUTS[case]
    params = copy_demo(tmp_path, "monthly")
    broken = tmp_path / "data" / "demo" / name
    text = broken.read_text(encoding="utf-8")
    assert text.count(old) == 1
    broken.write_text(text.replace(old, new), encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, stderr = run(["build", "monthly", "--params", str(params), "--out", str(out),
                                "-q"])
    assert code == 2
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert str(broken.resolve()) in lines[0]
    assert f"line {line}, field '{field}'" in lines[0]
    assert "Traceback" not in stderr
    assert not (out / "monthly" / "2026-10").exists()
    leftovers = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert leftovers == []


@pytest.mark.parametrize(("fixture", "cadence"), [("monthly", "monthly"),
                                                  ("quarterly", "quarterly")])
def test_pdf_is_tagged_outlined_and_every_chart_has_alternative_text(
    request: pytest.FixtureRequest, fixture: str, cadence: str
) -> None:
    built: Built = request.getfixturevalue(fixture)
    reader = PdfReader(built.folder / "pack.pdf")
    texts = check_tagged_with_alternative_text(reader)
    check_outline(reader, cadence, [kpi["name"] for kpi in built.summary["kpis"]])
    assert any(text.startswith("Timeline of 10 initiatives as of") for text in texts)
    assert any(text.startswith("Spend against budget by category, year to date") for text in texts)


@pytest.mark.parametrize("fixture", ["monthly", "quarterly"])
def test_every_page_lays_out_cleanly(request: pytest.FixtureRequest, fixture: str) -> None:
    """No text out of its card or column, no text over text, no heading stranded at a page's
    foot, no page holding only a spill (tests/pdf_layout.py)."""
    built: Built = request.getfixturevalue(fixture)
    assert Layout.of(built.folder / "pack.html").problems() == []


@pytest.mark.parametrize("fixture", ["monthly", "quarterly"])
def test_numbers_and_dates_are_written_one_way(request: pytest.FixtureRequest,
                                               fixture: str) -> None:
    """A true minus sign, days as '27 Nov 2026', never '+0.0'."""
    built: Built = request.getfixturevalue(fixture)
    html = (built.folder / "pack.html").read_text(encoding="utf-8")
    assert number_and_date_slips(visible_text(html)) == []


def test_provenance_lists_every_input_of_the_board_pack(quarterly: Built) -> None:
    manifest = json.loads((quarterly.folder / "manifest.json").read_text(encoding="utf-8"))
    roles = [item["role"] for item in manifest["inputs"]]
    assert roles == ["params", "catalog", "measurements", "initiatives", "benefits", "spend",
                     "priorities", "notebook", "templates", "store"]
    for item in manifest["inputs"]:
        if item["role"] in OPTIONAL_INPUTS:
            path = quarterly.params.parent / item["path"]  # named relative to the params file
            assert item["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    text = quarterly.text()
    assert all(role in text for role in roles)
    assert "quarterly_strategic.ipynb" in text
