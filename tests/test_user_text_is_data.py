"""User text is data: escaped in every context, never a template, never a path the pack embeds,
and no secret reaches a pack or a message."""

from __future__ import annotations

import dataclasses
import html.parser
import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import prepare_view
from nbformat.v4 import new_code_cell, new_notebook
from pg import create_database

from reviewkit import redact
from reviewkit.errors import ExportError
from reviewkit.layout.document import pack_document
from reviewkit.layout.sections import Pack
from reviewkit.layout.view import PackView, Publication
from reviewkit.narrative.cells import plan_cells
from reviewkit.narrative.drafts import draft_for_kpi
from reviewkit.narrative.placeholders import fill
from reviewkit.outputs import html as export
from reviewkit.outputs import pdf
from reviewkit.store.database import Store

HOSTILE = '</style><script>alert("org")</script><img src=x onerror=alert(1)>'
DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


class _Elements(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(name for name, _ in attrs)
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _page(view: PackView, cells: list[nbformat.NotebookNode]) -> str:
    return export.to_html(pack_document(view, Publication()), new_notebook(cells=cells))


def _params(tmp_path: Path, **extra: str) -> Path:
    lines = [f"catalog: {DEMO / 'kpis.yaml'}", f"measurements: {DEMO / 'measurements.csv'}"]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    path = tmp_path / "weekly.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_organisation_and_title_are_text_in_the_title_and_the_page_header_css(
    tmp_path: Path,
) -> None:
    params = _params(tmp_path, organisation=json.dumps(HOSTILE),
                     title=json.dumps('<script>alert("t")</script>'))
    view = prepare_view("weekly", params)
    page = _page(view, [])
    parser = _Elements()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert HOSTILE in parser.title
    # In the running header (a CSS string) the text cannot end the <style> element.
    style = page.split("<style>", 2)[2].split("</style>", 1)[0]
    assert "</" not in style and "<script" not in style.lower()


def test_css_strings_cannot_break_out_of_the_string_or_the_style_element() -> None:
    escaped = export.css_string('a"b\\c</style>\n<x>')
    assert '"' not in escaped.replace('\\"', "")
    assert "<" not in escaped and ">" not in escaped and "\n" not in escaped


def test_narrative_keys_from_the_notebook_are_escaped(tmp_path: Path) -> None:
    """Section headings come from the cadence, never the notebook; what a notebook's cell
    metadata does carry (a narrative cell's key) is text."""
    cell = nbformat.v4.new_markdown_cell("Our words.")
    cell.metadata["tags"] = ["narrative"]
    cell.metadata["reviewkit"] = {"key": f'x" onclick="alert(1)" {HOSTILE}'}
    section = new_code_cell("pack.section('summary')")
    section.metadata["reviewkit"] = {"section": {"id": 'x" onclick="alert(1)', "title": HOSTILE}}
    section.outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<p>ok</p>"})]
    parser = _Elements()
    page = _page(prepare_view("weekly", _params(tmp_path, organisation="Org")), [section, cell])
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert "onclick" not in parser.attributes and HOSTILE not in page


# -- placeholders belong to narrative only ---------------------------------------------------

@pytest.fixture(scope="module")
def braced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo catalog with template-looking text in a KPI's name and owner."""
    root = tmp_path_factory.mktemp("braces")
    text = (DEMO / "kpis.yaml").read_text(encoding="utf-8")
    text = text.replace("name: Mean time to restore (P1/P2)",
                        "name: \"Restore {{ 7*7 }} ![x](/etc/passwd)\"")
    text = text.replace("owner: CISO", "owner: \"{{ period.__class__ }} <b>CISO</b>\"")
    (root / "kpis.yaml").write_text(text, encoding="utf-8")
    params = root / "weekly.yaml"
    params.write_text(f"organisation: Braces\ncatalog: {root / 'kpis.yaml'}\n"
                      f"measurements: {DEMO / 'measurements.csv'}\n", encoding="utf-8")
    return params


def test_catalog_text_in_a_draft_is_shown_literally_not_filled(braced: Path) -> None:
    pack = prepare_view("weekly", braced).evaluated
    vulns = draft_for_kpi(pack.result("open_critical_vulns"), pack)
    mttr = draft_for_kpi(pack.result("mttr_p1"), pack)
    assert "{{ period.__class__ }} <b>CISO</b>" in export.narrative_html(fill(vulns, pack)) \
        .replace("&lt;", "<").replace("&gt;", ">")
    rendered = export.narrative_html(fill(mttr, pack))
    assert "Restore {{ 7*7 }}" in rendered
    assert "<img" not in rendered and "/etc/passwd" in rendered


def test_every_drafted_cell_of_a_pack_fills_without_error(braced: Path) -> None:
    pack = prepare_view("weekly", braced).evaluated
    from reviewkit import cadences

    cells = plan_cells(pack, cadences.WEEKLY.narratives, {})
    for cell in cells:
        fill(cell.text, pack)  # must not raise, whatever the catalog says


def test_catalog_text_in_sections_is_escaped(braced: Path) -> None:
    view = prepare_view("weekly", braced)
    page = "".join(fragment.html for fragment in Pack(view).sections())
    assert "{{ period.__class__ }} &lt;b&gt;CISO&lt;/b&gt;" in page
    assert "Restore {{ 7*7 }}" in page
    assert "<b>CISO</b>" not in page


# -- no file outside reviewkit's own assets reaches a pack -----------------------------------

@pytest.mark.parametrize("markdown", [
    "![leak](/etc/passwd)",
    "![leak](../../../../etc/hostname)",
    "![leak](file:///etc/hostname)",
    '<img src="/etc/hostname">',
    "[link](/etc/passwd)",
])
def test_narrative_images_outside_the_assets_folder_are_not_embedded(markdown: str) -> None:
    rendered = export.narrative_html(markdown)
    sources = re.findall(r'src="([^"]*)"', rendered)
    assert all(src.startswith("data:") for src in sources), rendered


@pytest.mark.parametrize("name, content, shown", [
    ("chart.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 16, True),
    ("photo.JPG", b"\xff\xd8\xff\xe0" + b"\0" * 16, True),
    ("host.png", b"vm\n", False),  # any file renamed: shown as an image it is not
    ("notes.gif", b"<svg onload=alert(1)>", False),
    ("fake.webp", b"RIFF\0\0\0\0WAVE", False),
])
def test_a_narrative_image_is_embedded_only_if_its_bytes_are_the_image_its_name_says(
        tmp_path: Path, name: str, content: bytes, shown: bool) -> None:
    (tmp_path / name).write_bytes(content)
    rendered = export.narrative_html(f"![figure]({name})", tmp_path)
    assert ('src="data:image/' in rendered) is shown, rendered
    assert ("[image not shown: figure]" in rendered) is not shown


def test_the_pdf_fetcher_refuses_files_outside_reviewkits_assets(tmp_path: Path) -> None:
    secret = tmp_path / "secret.svg"
    secret.write_text('<svg xmlns="http://www.w3.org/2000/svg"><text>secret</text></svg>')
    page = f'<html><body><p>x</p><img src="{secret.as_uri()}"></body></html>'
    with pytest.raises(ExportError, match="not one of reviewkit's own files"):
        pdf.to_pdf(page, tmp_path / "out.pdf", base_url=tmp_path)
    assert not (tmp_path / "out.pdf").exists()


# -- secrets -----------------------------------------------------------------------------

@pytest.mark.parametrize("url, shown", [
    ("postgresql://rk:s3cr3t@db.example:5432/reviews",
     "postgresql://rk:***@db.example:5432/reviews"),
    ("postgresql+psycopg://rk:p%40ss@db/reviews", "postgresql+psycopg://rk:***@db/reviews"),
    ("postgresql://db/reviews", "postgresql://db/reviews"),
    ("/srv/reviewkit.sqlite", "/srv/reviewkit.sqlite"),
])
def test_store_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert redact.url(url) == shown
    assert redact.text(f"cannot open store '{url}': refused") == (
        f"cannot open store '{shown}': refused")


def test_a_store_url_with_a_password_is_recorded_redacted_in_the_provenance(
    tmp_path: Path,
) -> None:
    params = _params(tmp_path, organisation="Northwind IT", store="reviewkit.sqlite")
    view = prepare_view("weekly", params)
    dirty = dataclasses.replace(view.provenance, parameters={
        **view.provenance.parameters, "store": "postgresql://rk:s3cr3t@db/reviews"})
    page = "".join(f.html for f in Pack(dataclasses.replace(view, provenance=dirty)).sections())
    assert "s3cr3t" not in page


def test_store_url_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reviewkit.inputs.params import load_params

    target = tmp_path / "elsewhere.sqlite"
    monkeypatch.setenv("REVIEWKIT_TEST_STORE", str(target))
    params = load_params(_params(tmp_path, organisation="N", store="${REVIEWKIT_TEST_STORE}"))
    assert params.store_location == str(target)
    assert params.raw["store"] == "${REVIEWKIT_TEST_STORE}"  # the recorded value names the variable
    Store.open(params.store_location).dispose()
    assert target.is_file()


#: The passwords of the store and of a database source in the pack test below, each in another
#: form a driver accepts.
SECRETS = ("Sup3r-s3cret", "Qu3ry-s3cret", "Ssl-s3cret", "Enc0ded-s3cret")
#: The demo KPIs of that pack.
DEMO_KPIS = ("change_success_rate", "ehr_availability", "cloud_spend")


def test_no_pack_file_shows_a_password_in_any_url_form(
    postgres_url: str, tmp_path: Path
) -> None:
    """A build against a PostgreSQL store and a PostgreSQL source whose URLs carry passwords in
    the user information, the query string (``password``, ``sslpassword``) and a
    percent-encoded key (the test server trusts local connections, so any password opens it):
    no file of the pack holds a password, and neither does anything the command printed."""
    import psycopg
    from forked import run as run_cli  # what the command prints, from a process of its own

    database = create_database(postgres_url)
    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as connection:
        connection.execute("CREATE TABLE incidents (restored_at DATE, hours REAL)")
        connection.execute("INSERT INTO incidents VALUES ('2026-11-17', 1), ('2026-11-19', 3)")
    store = (database.replace("://postgres@", "://postgres:Sup3r-s3cret@", 1)
             + "?password=Qu3ry-s3cret&sslpassword=Ssl-s3cret&application_name=reviewkit")
    source = database + "?application_name=reviewkit&pass%77ord=Enc0ded-s3cret"
    # Three of the demo's KPIs (a pack of every section with a chart, a fraction of the
    # demo's pages to search) and one read from the source.
    demo = yaml.safe_load((DEMO / "kpis.yaml").read_text(encoding="utf-8"))
    kept = [kpi for kpi in demo["kpis"] if kpi["id"] in DEMO_KPIS]
    measurements = tmp_path / "measurements.csv"
    with (DEMO / "measurements.csv").open(encoding="utf-8") as handle:
        lines = [line for number, line in enumerate(handle)
                 if number == 0 or line.split(",", 1)[0] in DEMO_KPIS]
    measurements.write_text("".join(lines), encoding="utf-8")
    restore_hours = yaml.safe_load("""\
id: restore_hours
name: Mean time to restore
perspective: Reliability
direction: lower_is_better
target: 4
owner: Service Operations Manager
cadences: [weekly]
unit: h
query: SELECT period_of(restored_at) AS period_end, avg(hours) AS value FROM incidents
  GROUP BY ALL
""")
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(yaml.safe_dump({"kpis": [*kept, restore_hours]}, sort_keys=False,
                                      allow_unicode=True), encoding="utf-8")
    params = tmp_path / "weekly.yaml"
    params.write_text(f"organisation: Northwind IT\ncatalog: {catalog}\n"
                      f"measurements: {measurements}\nstore: {json.dumps(store)}\n"
                      f"sources:\n  incidents: {{url: {json.dumps(source)}, table: incidents}}\n",
                      encoding="utf-8")
    proc = run_cli(["build", "weekly", "--params", params, "--out", tmp_path / "out", "-q"])
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "out" / "weekly" / "2026-11-20"
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {"pack.pdf", "pack.html", "pack.ipynb",
                                             "manifest.json", "summary.json"}
    # The PDF's text too (its streams are compressed, so read them as text).
    from pypdf import PdfReader

    text = "".join(page.extract_text() or "" for page in PdfReader(folder / "pack.pdf").pages)
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr + text
        for path in files:
            assert secret.encode() not in path.read_bytes(), (secret, path.name)
    assert "postgres:***@" in text and "password=***" in text
    assert "Mean time to restore" in text  # the source was read
    # Failures name the store and the source without their passwords too (the database is
    # gone): the source's, and the store's once the pack reads no source.
    from pg import drop_database

    drop_database(database)
    proc = run_cli(["build", "weekly", "--params", params, "--out", tmp_path / "out", "-q"])
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1, proc.stderr
    assert "source 'incidents'" in proc.stderr
    params.write_text(f"organisation: Northwind IT\ncatalog: {DEMO / 'kpis.yaml'}\n"
                      f"measurements: {DEMO / 'measurements.csv'}\nstore: {json.dumps(store)}\n",
                      encoding="utf-8")
    failed = run_cli(["build", "weekly", "--params", params, "--out", tmp_path / "out", "-q"])
    assert failed.returncode == 4 and failed.stderr.count("\n") == 1, failed.stderr
    assert "password=***" in failed.stderr
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr + failed.stdout + failed.stderr


def test_a_direction_override_in_a_name_ends_with_the_name_on_the_page(tmp_path: Path) -> None:
    """A KPI named with U+202E (right-to-left override) turned the label above its commentary
    around ("Draft text, generated from the data" read backwards in pack.html), and a title
    holding one did the same to the period in the running header."""
    from bidi import left_open

    text = (DEMO / "kpis.yaml").read_text(encoding="utf-8").replace(
        "name: Mean time to restore (P1/P2)", "name: \"Mean time \u202eto restore\"")
    (tmp_path / "kpis.yaml").write_text(text, encoding="utf-8")
    params = tmp_path / "weekly.yaml"
    params.write_text(f"organisation: Org\ntitle: \"Weekly \u202ereview\"\n"
                      f"catalog: {tmp_path / 'kpis.yaml'}\n"
                      f"measurements: {DEMO / 'measurements.csv'}\n", encoding="utf-8")
    from reviewkit import cadences

    view = prepare_view("weekly", params)
    planned = plan_cells(view.evaluated, cadences.WEEKLY.narratives, {})
    assert "kpi-mttr_p1" in {cell.key for cell in planned}
    cell = nbformat.v4.new_markdown_cell("Our words.")
    cell.metadata["tags"] = ["narrative"]
    cell.metadata["reviewkit"] = {"key": "kpi-mttr_p1"}
    page = export.to_html(pack_document(view, Publication(narrative=tuple(planned))),
                          new_notebook(cells=[cell]))
    label = re.search(r'<div class="rk-narrative-label">(.*?)</div>', page, re.S)
    assert label is not None and "\u202e" in label[1]
    assert left_open(label[1]) == []
    header = re.search(r'@top-left \{ content: "(.*?)"; \}', page)
    assert header is not None and "\u202e" in header[1]
    assert left_open(header[1]) == []
