"""Property tests of the input loaders, through ``reviewkit validate`` in this process.

Random measurement tables (random headers; cells of text, numbers, dates, unicode, quotes and
newlines, quoted properly or not) and random YAML documents (near-valid catalogs and params
files, and arbitrary ones) are written over one input of a copy of the demo inputs. Whatever
the input, only two outcomes are allowed: success, or exit code 2 with exactly one line on
stderr, ``reviewkit: error: …``, naming the file. Never another exception, never a traceback.

Only the command line is used (``reviewkit.cli.main``): the package's modules are being
reorganised, so nothing here imports reviewkit's internals.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import run_cli_in_process
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "data" / "demo"

#: Fast enough for the whole module to stay well under a minute; no example database is
#: written (the suite must not write into the repository).
PROPERTY_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KPI_IDS = ["change_success_rate", "ehr_availability", "p1_incidents", "mttr_p1", "cloud_spend"]
COLUMNS = ["kpi_id", "period_end", "value", "target", "segment"]


# -- running validate ---------------------------------------------------------------------------


def validate(params: Path) -> tuple[int, str, str]:
    """``reviewkit validate --params PARAMS``: exit code, stdout, stderr."""
    return run_cli_in_process(["validate", "--params", str(params)])


def assert_clean(params: Path, written: Path, *also_named: str) -> None:
    """Success, or exit 2 with one ``reviewkit: error:`` line naming the written file."""
    code, stdout, stderr = validate(params)
    shown = f"exit {code}\nstderr: {stderr[-2000:]!r}\nstdout: {stdout[:300]!r}"
    assert "Traceback" not in stderr, shown
    if code == 0:
        assert stdout.startswith("ok: "), shown
        assert stderr == "", shown
        return
    assert code == 2, shown
    lines = stderr.splitlines()
    assert len(lines) == 1, shown
    assert lines[0].startswith("reviewkit: error: "), shown
    assert any(name in lines[0] for name in (written.name, *also_named)), shown


# -- the demo inputs ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo params, catalog and measurements; returns the weekly params file.

    Each example writes over one input; the property restores it afterwards.
    """
    root = tmp_path_factory.mktemp("properties")
    (root / "params").mkdir()
    shutil.copy2(REPO / "params" / "weekly.yaml", root / "params" / "weekly.yaml")
    (root / "data" / "demo").mkdir(parents=True)
    for name in ("kpis.yaml", "measurements.csv"):
        shutil.copy2(DEMO_DATA / name, root / "data" / "demo" / name)
    return root / "params" / "weekly.yaml"


@contextlib.contextmanager
def written_over(path: Path, data: bytes) -> Iterator[Path]:
    original = path.read_bytes()
    path.write_bytes(data)
    try:
        yield path
    finally:
        path.write_bytes(original)


# -- strategies: cells and tables ---------------------------------------------------------------

dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
date_texts = st.one_of(
    dates.map(dt.date.isoformat),
    dates.map(lambda d: d.strftime("%Y%m%d")),
    dates.map(lambda d: d.strftime("%d/%m/%Y")),
    dates.map(lambda d: d.isoformat() + "T00:00"),
    st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", st.integers(0, 9999),
              st.integers(0, 19), st.integers(0, 39)),
)
number_texts = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**12, 10**12).map(str),
    st.sampled_from(["nan", "NaN", "inf", "-Infinity", "8_8.1", "1e999", "0x1A", "1,5", "١٢",
                     "n/a", "N/A", "", " ", "-", "+.5", "5.", "1e-400"]),
)
wild_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20
)
awkward_text = st.text(alphabet='",\n\r\t ;\'\\\x00\ufeffaé€😀', max_size=8)
cells = st.one_of(st.sampled_from(KPI_IDS), date_texts, number_texts, wild_text, awkward_text)
headers = st.lists(
    st.one_of(st.sampled_from(COLUMNS), st.sampled_from([c.upper() for c in COLUMNS]),
              wild_text, awkward_text),
    min_size=0, max_size=7,
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A measurements file: mostly the right columns, rows of mixed cells, various encodings."""
    if draw(st.booleans()):
        header = draw(st.permutations(COLUMNS[: draw(st.integers(2, 5))]).map(list))
        header += draw(st.lists(st.one_of(st.sampled_from(COLUMNS), wild_text), max_size=2))
    else:
        header = draw(headers)
    width = max(1, len(header))
    rows = draw(st.lists(
        st.lists(cells, min_size=0, max_size=width + 2), min_size=0, max_size=8
    ))
    if draw(st.booleans()):  # written by a CSV writer: quoting right
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writerow(header)
        writer.writerows(rows)
        text = buffer.getvalue()
    else:  # joined by hand: quotes and newlines wherever they fall
        newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        text = newline.join(",".join(row) for row in [header, *rows])
    data = text.encode("utf-8")
    prefix = draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"\xff\xfe"]))
    return prefix + data


# -- strategies: YAML documents ------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**20),
    st.floats(allow_nan=True, allow_infinity=True), wild_text, awkward_text, dates,
    st.sampled_from(["weekly", "monthly", "quarterly", "higher_is_better", "lower_is_better",
                     "sum", "mean", "yes", "no", "~", "2026-13-01", "20261120", "2026-W47-5"]),
)
yaml_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(wild_text, st.sampled_from(["weekly", "monthly", "id"])),
                        children, max_size=4),
    ),
    max_leaves=12,
)

VALID_KPI: dict[str, Any] = {
    "id": "change_success_rate", "name": "Change success rate", "perspective": "Delivery",
    "direction": "higher_is_better", "target": 95, "amber": 90, "owner": "Change Manager",
    "cadences": ["weekly", "monthly", "quarterly"], "unit": "%", "kind": "leading",
    "aggregation": "mean", "headline": True, "decimals": 1,
}
KPI_FIELDS = [*VALID_KPI, "definition", "why_it_matters", "action_if_off_track", "contributors"]


@st.composite
def near_valid_kpis(draw: st.DrawFn) -> dict[str, Any]:
    kpi = dict(VALID_KPI)
    kpi["id"] = draw(st.sampled_from(KPI_IDS))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["set", "drop", "add"]))
        if action == "set":
            kpi[draw(st.sampled_from(KPI_FIELDS))] = draw(yaml_values)
        elif action == "drop" and kpi:
            kpi.pop(draw(st.sampled_from(sorted(kpi))))
        else:
            kpi[draw(wild_text)] = draw(yaml_values)
    return kpi


def _dump(document: Any) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode("utf-8")


@st.composite
def catalog_files(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["near", "near", "any", "text"]))
    if kind == "near":
        return _dump({"kpis": draw(st.lists(near_valid_kpis(), max_size=4))})
    if kind == "any":
        return _dump(draw(yaml_values))
    return draw(st.text(max_size=200)).encode("utf-8")


PARAMS: dict[str, Any] = {
    "organisation": "Northwind IT",
    "title": "Weekly Operational Review",
    "catalog": "../data/demo/kpis.yaml",
    "measurements": "../data/demo/measurements.csv",
}
PARAM_KEYS = [*PARAMS, "period_end", "store", "classification", "page_size", "headline",
              "history", "stale_after", "notebook", "initiatives", "benefits", "spend",
              "priorities", "publish_gate"]


@st.composite
def params_files(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["near", "near", "near", "any", "text"]))
    if kind == "near":
        params = dict(PARAMS)
        for _ in range(draw(st.integers(1, 3))):
            action = draw(st.sampled_from(["set", "set", "drop", "add"]))
            if action == "set":
                params[draw(st.sampled_from(PARAM_KEYS))] = draw(yaml_values)
            elif action == "drop" and params:
                params.pop(draw(st.sampled_from(sorted(params))))
            else:
                params[draw(wild_text)] = draw(yaml_values)
        return _dump(params)
    if kind == "any":
        return _dump(draw(yaml_values))
    return draw(st.text(max_size=200)).encode("utf-8")


# -- the properties -----------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(data=csv_files())
# Found by this property on its first run (a header naming a column twice); kept so every run
# tries it, since examples are drawn afresh each run (no example database).
@example(data=b"kpi_id,period_end,value,kpi_id\n\n")
def test_any_measurements_csv_validates_or_fails_in_one_line(demo: Path, data: bytes) -> None:
    measurements = demo.parent.parent / "data" / "demo" / "measurements.csv"
    with written_over(measurements, data) as written:
        assert_clean(demo, written)


@PROPERTY_SETTINGS
@given(data=catalog_files())
def test_any_catalog_yaml_validates_or_fails_in_one_line(demo: Path, data: bytes) -> None:
    catalog = demo.parent.parent / "data" / "demo" / "kpis.yaml"
    with written_over(catalog, data) as written:
        assert_clean(demo, written)


@PROPERTY_SETTINGS
@given(data=params_files())
def test_any_params_yaml_validates_or_fails_in_one_line(demo: Path, data: bytes) -> None:
    with written_over(demo, data) as written:
        # A params file that passes its own checks may still point at a catalog or
        # measurements file (the demo's, which are valid) or name a KPI the catalog lacks.
        assert_clean(demo, written, "kpis.yaml", "measurements.csv")
