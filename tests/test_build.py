"""What a build writes: the pack folder, summary.json, manifest.json, the HTML and the PDF.

Most tests read the demo pack built once per session (see tests/conftest_build.py). The last
tests rebuild a copy of it, or fail a build half-way, and check the pack is replaced whole or
left alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest_build import (
    DEMO_DATA,
    DEMO_LABEL,
    PACK_FILES,
    BuiltPack,
    FailedBuild,
    Rebuild,
    demo_temporary_folder,
    snapshot,
    staging_leftovers,
)
from pypdf import PdfReader

pytest_plugins = ["conftest_build"]

ORGANISATION = "Northwind IT"
TITLE = "Weekly Operational Review"
CONTRACT_REASONS = {"red", "worsened", "no_data", "stale", "red_no_action"}
TRENDS = {"improving", "worsening", "flat", "unknown"}
STATUSES = {"green", "amber", "red", "no_data"}

#: The weekly story at 2026-11-20 from data/demo/README.md: status and value of each KPI.
STORY: dict[str, tuple[str, float | None]] = {
    "change_success_rate": ("red", 88.1),
    "mttr_p1": ("red", 7.2),
    "open_critical_vulns": ("red", 29),
    "ehr_availability": ("amber", 99.78),
    "service_desk_csat": ("amber", 87.2),
    "cloud_spend": ("amber", 44.6),
    "critical_patch_compliance": ("green", 96.1),
    "backup_success_rate": ("no_data", None),
    "change_lead_time": ("green", 4.2),
    "milestones_on_time": ("green", None),  # README and data disagree on the value; see report
    "p1_incidents": ("green", 1),
    "peak_storage_utilisation": ("green", 78.9),
    "security_incidents": ("green", 2),
}


def _demo_catalog() -> list[dict[str, Any]]:
    data = yaml.safe_load((DEMO_DATA / "kpis.yaml").read_text(encoding="utf-8"))
    kpis: list[dict[str, Any]] = data["kpis"]
    return kpis


def _weekly_kpis() -> list[dict[str, Any]]:
    return [kpi for kpi in _demo_catalog() if "weekly" in kpi["cadences"]]


@pytest.fixture(scope="module")
def summary(demo_pack: BuiltPack) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((demo_pack.folder / "summary.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def manifest(demo_pack: BuiltPack) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((demo_pack.folder / "manifest.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def html(demo_pack: BuiltPack) -> str:
    return (demo_pack.folder / "pack.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pdf(demo_pack: BuiltPack) -> PdfReader:
    return PdfReader(demo_pack.folder / "pack.pdf")


@pytest.fixture(scope="module")
def pdf_pages(pdf: PdfReader) -> list[str]:
    return [page.extract_text() for page in pdf.pages]


def _squeeze(text: str) -> str:
    """Text without whitespace, so names wrapped across lines in the PDF still match."""
    return re.sub(r"\s+", "", text)


# --- the pack folder --------------------------------------------------------------------------


def test_pack_folder_holds_pdf_html_notebook_summary_and_manifest(demo_pack: BuiltPack) -> None:
    assert demo_pack.folder == demo_pack.out / "weekly" / "2026-11-20"
    names = {path.name for path in demo_pack.folder.iterdir()}
    assert set(PACK_FILES) <= names  # "at least" these; e.g. actions.csv may join them
    assert not [name for name in names if name.startswith(".")]
    for name in PACK_FILES:
        assert (demo_pack.folder / name).stat().st_size > 0
    assert (demo_pack.folder / "pack.pdf").read_bytes().startswith(b"%PDF-")
    assert staging_leftovers(demo_pack.out) == []


def test_pack_notebook_is_executed_without_errors(demo_pack: BuiltPack) -> None:
    notebook = json.loads((demo_pack.folder / "pack.ipynb").read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code
    assert all(cell["execution_count"] is not None for cell in code)
    outputs = [output for cell in code for output in cell["outputs"]]
    assert outputs
    assert not [output for output in outputs if output["output_type"] == "error"]


def test_every_output_wrote_its_files_and_the_manifest_hashes_them(
    demo_pack: BuiltPack, manifest: dict[str, Any]
) -> None:
    from reviewkit.outputs.pack import PACK_FILES as DECLARED

    names = {path.name for path in demo_pack.folder.iterdir()}
    assert set(DECLARED) <= names
    assert set(manifest["outputs"]) == set(DECLARED) - {"manifest.json"}
    assert manifest["embedded_files"] == ["summary.json", "actions.csv", "decisions.csv",
                                          "manifest.json"]


def test_the_demo_pack_audits_clean(manifest: dict[str, Any]) -> None:
    assert manifest["audit"] == []


def test_the_workbook_shows_the_figures_the_pdf_prints(
    demo_pack: BuiltPack, pdf_pages: list[str]
) -> None:
    from openpyxl import load_workbook
    from test_workbook import shown_as

    book = load_workbook(demo_pack.folder / "pack.xlsx")
    rows = list(book["Scorecard"].iter_rows(min_row=2))
    text = " ".join(" ".join(pdf_pages).split()).replace("\u2212", "-").replace("\u00a0", " ")
    shown = [shown_as(row[5].value, row[5].number_format) for row in rows
             if row[5].value is not None]
    assert len(shown) == len(rows) - 1  # one KPI without data this week
    missing = [figure for figure in shown if figure not in text]
    assert missing == []


# --- summary.json -----------------------------------------------------------------------------


def test_summary_has_contract_fields(summary: dict[str, Any]) -> None:
    assert summary["cadence"] == "weekly"
    assert summary["period_end"] == "2026-11-20"
    assert summary["label"] == DEMO_LABEL
    assert summary["organisation"] == ORGANISATION
    assert isinstance(summary["kpis"], list)
    assert isinstance(summary["exceptions"], list)
    for kpi in summary["kpis"]:
        assert {"id", "name", "value", "target", "status", "direction", "owner",
                "trend"} <= kpi.keys()
        assert kpi["status"] in STATUSES
        assert kpi["trend"] in TRENDS
        assert kpi["direction"] in {"higher_is_better", "lower_is_better"}
        assert kpi["value"] is None or isinstance(kpi["value"], int | float)
        assert isinstance(kpi["target"], int | float)
    for item in summary["exceptions"]:
        assert {"kpi_id", "reason"} <= item.keys()


def test_summary_lists_exactly_the_weekly_kpis_in_catalog_order(summary: dict[str, Any]) -> None:
    weekly = _weekly_kpis()
    assert [kpi["id"] for kpi in summary["kpis"]] == [kpi["id"] for kpi in weekly]
    catalog = {kpi["id"]: kpi for kpi in weekly}
    for kpi in summary["kpis"]:
        assert kpi["name"] == catalog[kpi["id"]]["name"]
        assert kpi["owner"] == catalog[kpi["id"]]["owner"]
        assert kpi["direction"] == catalog[kpi["id"]]["direction"]


def test_summary_value_is_null_exactly_when_no_data(summary: dict[str, Any]) -> None:
    for kpi in summary["kpis"]:
        assert (kpi["value"] is None) == (kpi["status"] == "no_data"), kpi["id"]


def test_summary_statuses_and_values_tell_the_demo_story(summary: dict[str, Any]) -> None:
    by_id = {kpi["id"]: kpi for kpi in summary["kpis"]}
    assert set(by_id) == set(STORY)
    for kpi_id, (status, value) in STORY.items():
        assert by_id[kpi_id]["status"] == status, kpi_id
        if value is not None:
            assert by_id[kpi_id]["value"] == pytest.approx(value), kpi_id
    statuses = [kpi["status"] for kpi in summary["kpis"]]
    counts = {status: statuses.count(status) for status in STATUSES}
    assert counts == {"red": 3, "amber": 3, "green": 6, "no_data": 1}


def test_summary_trends_tell_the_demo_story(summary: dict[str, Any]) -> None:
    trend = {kpi["id"]: kpi["trend"] for kpi in summary["kpis"]}
    assert trend["change_success_rate"] == "worsening"
    assert trend["service_desk_csat"] == "worsening"
    assert trend["critical_patch_compliance"] == "improving"
    assert trend["mttr_p1"] == "flat"  # a long red streak, not a trend
    assert trend["backup_success_rate"] == "unknown"


def test_summary_exceptions_use_contract_reasons_and_match_the_story(
    summary: dict[str, Any],
) -> None:
    reasons = {(item["kpi_id"], item["reason"]) for item in summary["exceptions"]}
    assert {reason for _, reason in reasons} <= CONTRACT_REASONS
    assert {
        ("change_success_rate", "red"),
        ("change_success_rate", "worsened"),  # amber a week ago, red now
        ("mttr_p1", "red"),
        ("open_critical_vulns", "red"),
        ("cloud_spend", "worsened"),  # green a week ago, amber now
        ("backup_success_rate", "no_data"),
        ("backup_success_rate", "stale"),  # feed stopped after 2026-10-30
    } <= reasons
    # Nothing green and unchanged is an exception.
    assert not {kpi_id for kpi_id, _ in reasons} & {
        "change_lead_time", "p1_incidents", "security_incidents", "critical_patch_compliance",
    }
    weekly_ids = {kpi["id"] for kpi in summary["kpis"]}
    assert {kpi_id for kpi_id, _ in reasons} <= weekly_ids


# --- manifest.json ----------------------------------------------------------------------------


def test_manifest_records_parameters(manifest: dict[str, Any]) -> None:
    parameters = manifest["parameters"]
    assert parameters["organisation"] == ORGANISATION
    assert parameters["cadence"] == "weekly"
    assert parameters["period_end"] == "2026-11-20"
    assert parameters["catalog"] == "../data/demo/kpis.yaml"


def test_manifest_input_hashes_equal_sha256_of_the_files(
    manifest: dict[str, Any], demo_pack: BuiltPack
) -> None:
    data = demo_pack.params.parent.parent / "data" / "demo"
    expected = {
        "params": demo_pack.params,
        "catalog": data / "kpis.yaml",
        "measurements": data / "measurements.csv",
    }
    inputs = {item["role"]: item for item in manifest["inputs"]}
    assert set(inputs) == {*expected, "notebook", "templates", "store"}
    # Files are named relative to the params file; the built-in notebook by its package name.
    assert inputs["notebook"]["path"] == "reviewkit/notebooks/weekly_operational.ipynb"
    assert manifest["notebook"] == inputs["notebook"]["path"]
    expected["notebook"] = Path(str(resources.files("reviewkit"))) / "notebooks" / \
        "weekly_operational.ipynb"
    assert inputs["store"]["path"] == "reviewkit.sqlite"
    for role, path in expected.items():
        if role != "notebook":
            assert (demo_pack.params.parent / inputs[role]["path"]).resolve() == path.resolve()
        assert inputs[role]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), role
        assert inputs[role]["size_bytes"] == path.stat().st_size


def test_no_pack_file_names_a_folder_of_the_machine_that_built_it(demo_pack: BuiltPack) -> None:
    """The pack names its inputs relative to the params file: neither the folder the inputs
    were in, nor the checkout, nor the output folder appear in any of its files."""
    machine = [str(demo_pack.params.parent.parent), str(demo_pack.out),
               str(Path(str(resources.files("reviewkit"))).parent)]
    pdf_text = "\n".join(page.extract_text() or ""
                         for page in PdfReader(demo_pack.folder / "pack.pdf").pages)
    texts = {"pack.pdf (text)": pdf_text, **{
        path.name: path.read_bytes().decode("utf-8", "replace")
        for path in demo_pack.folder.iterdir() if path.is_file()}}
    found = {name: folder for name, text in texts.items() for folder in machine
             if folder in text}
    assert found == {}


def test_a_build_leaves_nothing_in_the_temporary_folder(demo_pack: BuiltPack) -> None:
    """Every scratch folder a build makes (its kernel's, the PDF renderer's copies of the
    fonts, about 3 MB) is gone when the command ends: an office building packs every day
    would otherwise fill the machine's temporary folder."""
    assert sorted(path.name for path in demo_temporary_folder(demo_pack.out.parent).iterdir()) \
        == []


def test_manifest_output_hashes_equal_sha256_of_the_pack_files(
    manifest: dict[str, Any], demo_pack: BuiltPack
) -> None:
    outputs = manifest["outputs"]
    assert {"pack.pdf", "pack.html", "pack.ipynb", "summary.json"} <= outputs.keys()
    for name, digest in outputs.items():
        assert hashlib.sha256((demo_pack.folder / name).read_bytes()).hexdigest() == digest, name


def test_manifest_records_versions(manifest: dict[str, Any]) -> None:
    from reviewkit import __version__

    versions = manifest["versions"]
    assert versions["reviewkit"] == __version__
    assert versions["python"]
    for package in ("papermill", "nbconvert", "weasyprint", "pandas"):
        assert versions[package] and versions[package] != "not installed", package


def test_manifest_records_timing_of_every_stage(manifest: dict[str, Any]) -> None:
    timings = manifest["timings_seconds"]
    assert "total" in timings
    stage_names = [stage.casefold() for stage in timings if stage != "total"]
    assert len(stage_names) >= 4
    for word in ("load", "notebook", "html", "pdf"):  # stage names may change; these stay
        assert any(word in stage for stage in stage_names), word
    for stage, seconds in timings.items():
        assert isinstance(seconds, int | float), stage
        assert seconds >= 0, stage
    stages = sum(seconds for stage, seconds in timings.items() if stage != "total")
    assert timings["total"] >= stages - 0.01


# --- pack.html --------------------------------------------------------------------------------


def test_html_is_self_contained(html: str) -> None:
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    assert not re.search(r"<link[^>]*stylesheet", html, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"@import", html, re.I)


def test_html_shows_no_code(html: str) -> None:
    for code in ("open_pack(", "import reviewkit", "context_file", "pack.summary()"):
        assert code not in html, code


def test_html_has_contents_nav_linking_to_sections(html: str) -> None:
    nav = re.search(r"<nav\b[^>]*>(.*?)</nav>", html, re.S | re.I)
    assert nav is not None
    assert "Contents" in nav.group(0)
    targets = re.findall(r'href="#([^"]+)"', nav.group(1))
    assert len(targets) >= 4
    for target in targets:
        assert re.search(rf"""\bid=["']{re.escape(target)}["']""", html), target


# --- pack.pdf ---------------------------------------------------------------------------------


def test_pdf_first_page_shows_organisation_and_title(pdf_pages: list[str]) -> None:
    first = pdf_pages[0]
    # The cover sets the organisation in capitals (CSS), so compare case-insensitively.
    assert ORGANISATION.casefold() in first.casefold()
    assert TITLE in first
    assert "20 Nov 2026" in first


def test_pdf_running_header_on_page_two(pdf_pages: list[str]) -> None:
    assert f"{ORGANISATION} · {TITLE}" in pdf_pages[1]


def test_pdf_numbers_pages_with_total(pdf_pages: list[str]) -> None:
    total = len(pdf_pages)
    assert total > 2
    assert f"Page 1 of {total}" in pdf_pages[0]
    assert f"Page 2 of {total}" in pdf_pages[1]


def test_pdf_names_every_weekly_kpi(pdf_pages: list[str]) -> None:
    text = _squeeze("\n".join(pdf_pages))
    missing = [kpi["name"] for kpi in _weekly_kpis() if _squeeze(kpi["name"]) not in text]
    assert missing == []


def test_pdf_shows_no_code(pdf_pages: list[str]) -> None:
    text = "\n".join(pdf_pages)
    for code in ("import ", "open_pack", "context_file", "params_file"):
        assert code not in text, code


def test_pdf_pages_are_a4(pdf: PdfReader) -> None:
    for page in pdf.pages:
        box = page.mediabox
        assert float(box.width) == pytest.approx(595, abs=1)
        assert float(box.height) == pytest.approx(842, abs=1)


# --- replacing and failing ---------------------------------------------------------------------


def test_rebuild_of_same_period_replaces_the_pack_whole(demo_rebuild: Rebuild) -> None:
    built = demo_rebuild.built
    assert built.returncode == 0, built.stderr
    folder = built.folder
    old_names = set(demo_rebuild.before_files) - {"left-from-old-pack.txt"}
    assert {path.name for path in folder.iterdir()} == old_names
    assert not (folder / "left-from-old-pack.txt").exists()  # no file of the old pack survives
    assert folder.stat().st_ino != demo_rebuild.before_inode  # the folder was swapped in
    old = json.loads(demo_rebuild.before_files["summary.json"])
    new = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert new["generated_at"] != old["generated_at"]
    for name in PACK_FILES:
        assert (folder / name).stat().st_mtime_ns != demo_rebuild.before_mtimes[name], name
    assert staging_leftovers(built.out) == []
    assert sorted(path.name for path in folder.parent.iterdir()) == [
        f".{DEMO_LABEL}.lock", DEMO_LABEL,
    ]


def test_build_failing_midway_leaves_previous_pack_byte_identical(
    failed_build: FailedBuild,
) -> None:
    report = failed_build.report()
    assert "simulated" in report["error"]
    assert report["pdf_targets"], "the build did not get as far as rendering the PDF"
    assert not Path(report["pdf_targets"][0]).parent.exists()  # its staging folder is gone
    assert snapshot(failed_build.out / "weekly" / DEMO_LABEL) == failed_build.before
    assert staging_leftovers(failed_build.out) == []


def test_build_in_process_raises_no_warnings_and_leaks_no_sockets(
    failed_build: FailedBuild,
) -> None:
    # The suite turns warnings into errors; a build run in-process (API users, draft/publish,
    # tests) must close what it opens, e.g. the kernel client's zmq sockets.
    assert failed_build.report()["warnings"] == []


@pytest.mark.parametrize("breakage", ["catalog", "notebook", "store", "pack notebook"])
def test_bad_input_is_refused_before_any_kernel_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breakage: str) -> None:
    """A kernel costs a process and a second of CPU: a build whose inputs, notebook or store
    are bad, or whose previous pack's notebook an analyst left with a cell the build would
    drop, stops before it starts one."""
    from conftest import copy_demo

    from reviewkit.errors import ReviewkitError
    from reviewkit.run import build

    params = copy_demo(tmp_path)
    if breakage == "catalog":
        (tmp_path / "data" / "demo" / "kpis.yaml").write_text("kpis: [1, 2]\n", encoding="utf-8")
    elif breakage == "notebook":
        params.write_text(params.read_text(encoding="utf-8")
                          + "notebook: ../data/demo/priorities.yaml\n", encoding="utf-8")
    elif breakage == "store":
        (params.parent / "reviewkit.sqlite").write_bytes(b"not a database" * 100)
    else:
        folder = tmp_path / "out" / "weekly" / DEMO_LABEL
        folder.mkdir(parents=True)
        (folder / "pack.ipynb").write_text(
            json.dumps({"cells": ["Supplier restores are slow"], "metadata": {}}),
            encoding="utf-8")
    started: list[Path] = []
    monkeypatch.setattr(build, "start_kernel", lambda path, *a, **k: started.append(path))
    with pytest.raises(ReviewkitError):
        build.build_pack("weekly", params, out_dir=tmp_path / "out")
    assert started == []


def _two_weeks(write: Any, organisation: str) -> Path:
    """An organisation of one KPI and two weeks of data: a two-page pack, too short for a
    chart (a chart needs three values)."""
    write("kpis.yaml", """
        kpis:
          - id: tickets
            name: Tickets resolved
            perspective: Service
            direction: higher_is_better
            target: 100
            amber: 90
            owner: Service Desk Lead
            cadences: [weekly]
            unit: count
            headline: true
        """)
    write("measurements.csv", "kpi_id,period_end,value\ntickets,2026-11-13,95\n"
                              "tickets,2026-11-20,101\n")
    path: Path = write("org.yaml", f"organisation: {organisation}\ncatalog: kpis.yaml\n"
                                   "measurements: measurements.csv\n")
    return path


def test_a_pack_without_charts_counts_its_build_stages_up_to_their_total(
        write: Any, tmp_path: Path) -> None:
    """Two weeks of data draw no chart (a chart needs three values); the build's progress still
    counts each stage once, the last as the total ("[11/10]" was printed)."""
    from reviewkit.run.build import build_pack

    params = _two_weeks(write, "Two Weeks Ltd")
    said: list[str] = []
    result = build_pack("weekly", params, period="2026-11-20", out_dir=tmp_path / "out",
                        progress=said.append)
    assert result.pdf.is_file()
    counted = [re.match(r"\[(\d+)/(\d+)\] ", line) for line in said]
    steps = [(int(m[1]), int(m[2])) for m in counted if m]
    assert steps, said
    total = steps[0][1]
    assert [done for done, _ in steps] == list(range(1, total + 1)), said
    assert {of for _, of in steps} == {total}


def test_a_build_names_the_characters_its_pdf_cannot_show(write: Any, tmp_path: Path) -> None:
    """An organisation's name holding a character no font here has (a chart emoji): the PDF
    prints an empty box, and the build says so once, naming the character."""
    from conftest import run_cli_in_process

    params = _two_weeks(write, "Growth \U0001F4C8 Ltd")
    code, _, err = run_cli_in_process(["build", "weekly", "--params", str(params), "--period",
                                       "2026-11-20", "--out", str(tmp_path / "out"), "-q"])
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, err
    assert "U+1F4C8" in warnings[0] and "empty box" in warnings[0]


def test_a_batch_names_the_characters_its_pdfs_cannot_show_pack_by_pack(
        write: Any, tmp_path: Path) -> None:
    """What a single build warns of, a batch says too, naming the pack, and keeps in its
    report."""
    import json

    from conftest import run_cli_in_process

    params = _two_weeks(write, "Growth \U0001F4C8 Ltd")
    out = tmp_path / "out"
    code, _, err = run_cli_in_process(["batch", "--params", str(params), "--out", str(out),
                                       "--workers", "1", "-q"])
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, err
    assert warnings[0].startswith("warning: weekly 2026-11-20: the PDF shows an empty box")
    assert "U+1F4C8" in warnings[0]
    report = json.loads((out / "batch.json").read_text(encoding="utf-8"))
    weekly = [pack for pack in report["packs"] if pack["cadence"] == "weekly"]
    assert len(weekly) == 1 and "U+1F4C8" in weekly[0]["warnings"][0]
