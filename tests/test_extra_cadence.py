"""A fourth cadence is one definition plus a template: a fortnightly service review, declared
here, with a section of its own, builds its pack end to end (notebook, HTML, PDF, summary)."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader

from reviewkit import cadences
from reviewkit.cadences import Cadence, Narrative, PeriodRule, Section
from reviewkit.layout.notebooks import make_notebook
from reviewkit.run.build import build_pack

pytestmark = pytest.mark.slow


def fortnightly(template_dir: Path) -> Cadence:
    return Cadence(
        name="fortnightly",
        title="Fortnightly Service Review",
        notebook="fortnightly_service.ipynb",
        period=PeriodRule("days", 14, "fortnight"),
        history=8,
        trend_window=4,
        sections=(
            Section("cover", "Cover", in_contents=False),
            Section("summary", "Summary",
                    Narrative("summary", "Summary", "The fortnight for the service owners.")),
            Section("service_levels", "Service levels against the contract"),
            Section("perspectives", "KPIs by perspective"),
            Section("provenance", "Appendix: provenance"),
        ),
        template_dirs=(str(template_dir),),
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cadence, Path]]:
    root = tmp_path_factory.mktemp("fortnightly")
    templates = root / "templates"
    templates.mkdir()
    # The new section's template: any data of the view, escaped by Jinja like every section.
    (templates / "service_levels.html.j2").write_text(textwrap.dedent("""\
        <section class="rk-service-levels">
          <h2>Service levels against the contract</h2>
          <p>{{ evaluation.results|length }} service levels for the {{ period.noun }} ending
          {{ period.end|date }}; {{ evaluation.status_counts().red }} breached.</p>
        </section>
        """), encoding="utf-8")
    cadence = cadences.register(fortnightly(templates))
    (root / "kpis.yaml").write_text(textwrap.dedent("""\
        kpis:
          - id: first_time_fix
            name: First-time fix rate
            perspective: Service
            direction: higher_is_better
            target: 80
            amber: 75
            owner: Service Desk Lead
            cadences: [fortnightly]
            unit: '%'
            headline: true
          - id: breaches
            name: SLA breaches
            perspective: Service
            direction: lower_is_better
            target: 2
            amber: 4
            owner: Service Delivery Manager
            cadences: [fortnightly]
            unit: count
            aggregation: sum
            headline: true
        """), encoding="utf-8")
    rows = ["kpi_id,period_end,value"]
    for week in range(12):
        day = dt.date(2026, 9, 4) + dt.timedelta(days=7 * week)
        rows.append(f"first_time_fix,{day},{70 + week}")
        rows.append(f"breaches,{day},{week % 3}")
    (root / "measurements.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    notebook = root / cadence.notebook
    nbformat.write(make_notebook(cadence, params_file="service.yaml"), notebook)
    params = root / "service.yaml"
    params.write_text(
        "organisation: Harbour Services\ncatalog: kpis.yaml\nmeasurements: measurements.csv\n"
        f"notebook: {notebook.name}\nperiod_end: 2026-11-20\n", encoding="utf-8")
    result = build_pack(cadence, params, out_dir=root / "out", progress=None)
    yield cadence, result.folder
    cadences.unregister("fortnightly")


def test_the_extra_cadence_builds_a_whole_pack_named_by_its_period(
    built: tuple[Cadence, Path],
) -> None:
    _, folder = built
    assert folder.name == "2026-11-20"
    assert folder.parent.name == "fortnightly"
    for name in ("pack.pdf", "pack.html", "pack.ipynb", "summary.json", "manifest.json"):
        assert (folder / name).is_file(), name
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["cadence"] == "fortnightly"
    assert (summary["period_start"], summary["period_end"]) == ("2026-11-07", "2026-11-20")
    assert summary["title"] == "Fortnightly Service Review"
    breaches = {kpi["id"]: kpi for kpi in summary["kpis"]}["breaches"]
    # Summed over the fortnight's two weeks (week 10: 1, week 11: 2).
    assert breaches["value"] == 3.0 and breaches["status"] == "amber"


def test_the_extra_cadence_pack_shows_its_own_section_and_contents(
    built: tuple[Cadence, Path],
) -> None:
    _, folder = built
    html = (folder / "pack.html").read_text(encoding="utf-8")
    assert 'id="sec-service_levels"' in html
    assert "Service levels against the contract" in html
    pages = [" ".join((page.extract_text() or "").split())
             for page in PdfReader(folder / "pack.pdf").pages]
    text = " ".join(pages)
    assert "Fortnightly Service Review" in pages[0]
    assert "Fortnight ending 20 Nov 2026" in pages[0]
    assert "2 service levels for the fortnight ending 20 Nov 2026; 0 breached." in text
    # The cover's contents lists its sections, from the definition.
    contents = pages[0].split("Contents", 1)[1]
    assert contents.index("Summary") < contents.index("Service levels against the contract") \
        < contents.index("KPIs by perspective") < contents.index("Appendix: provenance")


def test_the_extra_cadence_notebook_calls_its_sections(built: tuple[Cadence, Path]) -> None:
    cadence, folder = built
    notebook = nbformat.read(folder / "pack.ipynb", as_version=4)
    calls = [cell.source for cell in notebook.cells if cell.cell_type == "code"
             and cell.source.startswith("pack.section")]
    assert calls == [f'pack.section("{section.id}")' for section in cadence.sections]
