"""The analyst's loop end to end: draft → edit in the notebook → rebuild with changed data →
edits back, the changed one stale → publish refused with reasons → fix → published.

One long test on purpose: each step depends on the pack the previous one wrote.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml
from pypdf import PdfReader

from reviewkit.cli.app import main
from reviewkit.store.database import Store

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
LABEL = "2026-11-20"


#: The KPIs the demo's weekly minutes name (decisions, actions): the loop needs no others, and
#: each KPI left out is a chart, a page section and narrative fewer in each of its five builds.
KPIS = ("change_success_rate", "critical_patch_compliance", "backup_success_rate", "cloud_spend",
        "mttr_p1", "open_critical_vulns", "ehr_availability")


def _keep_only(data: Path, kpis: tuple[str, ...]) -> None:
    """The catalog and the measurements cut to ``kpis``."""
    catalog = yaml.safe_load((data / "kpis.yaml").read_text(encoding="utf-8"))
    catalog["kpis"] = [kpi for kpi in catalog["kpis"] if kpi["id"] in kpis]
    (data / "kpis.yaml").write_text(yaml.safe_dump(catalog, sort_keys=False, allow_unicode=True),
                                    encoding="utf-8")
    measurements = data / "measurements.csv"
    with measurements.open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["kpi_id"] in kpis]
    with measurements.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The demo inputs copied so the test can change data and keep its own store; only the KPIs
    the minutes name."""
    data = tmp_path / "data"
    shutil.copytree(REPO / "data" / "demo", data, ignore=shutil.ignore_patterns("*.xlsx",
                                                                                 "*.parquet"))
    _keep_only(data, KPIS)
    params = tmp_path / "weekly.yaml"
    params.write_text(
        "organisation: Northwind IT\n"
        "catalog: data/kpis.yaml\n"
        "measurements: data/measurements.csv\n"
        "classification: Internal\n",
        encoding="utf-8",
    )
    for minutes in sorted((data / "minutes").glob("weekly-*.yaml")):
        assert main(["minutes", "import", str(minutes), "--params", str(params),
                     "--by", "test"]) == 0
    return tmp_path


def _cells(notebook: Path) -> dict[str, nbformat.NotebookNode]:
    nb = nbformat.read(notebook, as_version=4)
    return {
        cell.metadata["reviewkit"]["key"]: cell
        for cell in nb.cells
        if "narrative" in cell.metadata.get("tags", [])
    }


def _edit(notebook: Path, texts: dict[str, str], accept_rest: bool) -> None:
    """Change cells as Jupyter would on save: new sources, flags edited in the metadata."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if "narrative" not in cell.metadata.get("tags", []):
            continue
        key = cell.metadata["reviewkit"]["key"]
        if key in texts:
            cell.source = texts[key]
        elif accept_rest:
            cell.metadata["reviewkit"]["draft"] = False
    nbformat.write(nb, notebook)


def _set_value(measurements: Path, kpi_id: str, day: str, value: str) -> None:
    """Change a KPI's value on one date in the demo data."""
    with measurements.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # Every unit's row of that date: the group's figure (their weighted mean) is then ``value``.
    hits = [row for row in rows if row["kpi_id"] == kpi_id and row["period_end"] == day]
    assert len(hits) == 7
    for hit in hits:
        hit["value"] = value
    with measurements.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _pdf_text(pdf: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)


def test_narrative_survives_rebuilds_goes_stale_and_gates_publishing(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = str(workspace / "weekly.yaml")
    out = workspace / "out"
    common = ["--params", params, "--out", str(out), "-q"]

    # 1. draft: the notebook path is the last line; narrative cells hold generated drafts.
    assert main(["draft", "weekly", *common]) == 0
    notebook = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert notebook == out / "weekly" / LABEL / "pack.ipynb"
    cells = _cells(notebook)
    assert {"summary", "kpis", "actions", "kpi-change_success_rate",
            "kpi-open_critical_vulns"} <= set(cells)
    draft = cells["kpi-change_success_rate"]
    assert draft.metadata["reviewkit"]["draft"] is True
    assert draft.metadata["reviewkit"]["kpi"] == "change_success_rate"
    assert "Change success rate fell to 88.1%" in draft.source

    # 2. the analyst edits three cells (one with placeholders and a script) and accepts the rest.
    summary = ("Change success is **{{ kpi.change_success_rate.value }}** "
               "({{ kpi.change_success_rate.status_word }}). <script>alert(1)</script>")
    change = "Integration-engine releases keep failing; the freeze holds until the fix lands."
    vulns = "Vendor fixes need downtime; the CISO will bring a plan next week."
    _edit(notebook, {"summary": summary, "kpi-change_success_rate": change,
                     "kpi-open_critical_vulns": vulns}, accept_rest=True)

    # 3. a late correction to the data, then a rebuild: the words come back, one is stale.
    _set_value(workspace / "data" / "measurements.csv", "change_success_rate", LABEL, "86.5")
    assert main(["build", "weekly", *common]) == 0
    cells = _cells(notebook)
    assert cells["summary"].source == summary
    assert cells["kpi-change_success_rate"].source == change
    assert cells["kpi-open_critical_vulns"].source == vulns
    assert cells["kpi-change_success_rate"].metadata["reviewkit"]["stale"] is True
    assert cells["kpi-open_critical_vulns"].metadata["reviewkit"]["stale"] is False
    assert all(cell.metadata["reviewkit"]["draft"] is False for cell in cells.values())
    html = (out / "weekly" / LABEL / "pack.html").read_text(encoding="utf-8")
    assert "Change success is <strong>86.5%</strong> (Off track)" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "Stale: Change success rate was 88.1% when this was written; it is now 86.5%" in html

    # 4. publishing is refused, with every reason on its own line, and nothing final is written.
    capsys.readouterr()
    assert main(["publish", "weekly", *common, "--approver", "Dana Whitfield"]) == 3
    reasons = capsys.readouterr().err.strip().splitlines()[1:]
    assert any("narrative 'kpi-change_success_rate'" in r and "stale" in r for r in reasons)
    assert any("action A-0004" in r and "overdue" in r for r in reasons)
    assert not any("open_critical_vulns" in r for r in reasons)  # it has commentary now
    summary_json = json.loads((out / "weekly" / LABEL / "summary.json").read_text())
    assert summary_json["state"] == "draft"

    # 5. fix: rewrite the stale cell, give overdue actions new dates; then publish.
    _edit(notebook, {"kpi-change_success_rate": change + " Now 86.5% after the correction."},
          accept_rest=False)
    for action_id in ("A-0002", "A-0004", "A-0006"):
        assert main(["actions", "update", action_id, "--params", params, "--due", "2026-12-04",
                     "--by", "test"]) == 0
    capsys.readouterr()
    assert main(["publish", "weekly", *common, "--approver", "Dana Whitfield"]) == 0
    pdf = out / "weekly" / LABEL / "pack.pdf"
    assert Path(capsys.readouterr().out.strip().splitlines()[-1]) == pdf
    text = _pdf_text(pdf)
    assert "DRAFT" not in text.upper().replace("DRAFTS", "")
    assert "Approved by Dana Whitfield" in text
    summary_json = json.loads((out / "weekly" / LABEL / "summary.json").read_text())
    assert summary_json["state"] == "final"
    assert summary_json["approver"] == "Dana Whitfield"
    manifest = json.loads((out / "weekly" / LABEL / "manifest.json").read_text())
    assert manifest["approver"] == "Dana Whitfield"
    assert manifest["gate_overrides"] == []

    # 6. a late correction after publishing: the stale text is still right, so it is accepted
    #    as it stands (recorded with who and when); published again, the pack is version 2.
    version_1 = {path.name: path.read_bytes() for path in (out / "weekly" / LABEL).iterdir()
                 if path.is_file()}
    _set_value(workspace / "data" / "measurements.csv", "change_success_rate", LABEL, "87.3")
    assert main(["narrative", "accept", "weekly", "--params", params,
                 "kpi-change_success_rate", "--by", "Ana Lyst"]) == 0
    store = Store.open(str(workspace / "reviewkit.sqlite"))
    try:
        accepted = store.narrative_history("weekly", LABEL, "kpi-change_success_rate")[-1]
        versions = store.versions("weekly", LABEL)
    finally:
        store.dispose()
    assert (accepted.updated_by, accepted.text) == ("Ana Lyst", change + " Now 86.5% after the "
                                                    "correction.")
    assert [v.version for v in versions] == [1]
    capsys.readouterr()
    assert main(["publish", "weekly", *common, "--approver", "Sam Okafor"]) == 0, (
        capsys.readouterr().err)
    folder = out / "weekly" / LABEL
    assert {name: (folder / "versions" / "1" / name).read_bytes()
            for name in version_1} == version_1, "version 1 must be kept as it was"
    pages = [page.extract_text() or "" for page in PdfReader(folder / "pack.pdf").pages]
    assert "Version 2 — replaces version 1 of" in pages[0]
    assert all("Version 2" in page for page in pages), "the footer names the version"
    changed = next(page for page in pages if "Changed since version 1" in page)
    assert "by Dana Whitfield" in " ".join(changed.split())
    assert re.search(r"Value\s+Change success rate\s+86\.5%\s+87\.3%", changed)
    summary_json = json.loads((folder / "summary.json").read_text())
    assert (summary_json["version"], summary_json["approver"]) == (2, "Sam Okafor")
    assert json.loads((folder / "manifest.json").read_text())["reissue_of"] == 1
