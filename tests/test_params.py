"""The params file: required fields, unknown keys, relative paths and clear errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from reviewkit import cadences
from reviewkit.errors import InputError
from reviewkit.inputs.params import load_params

Write = Callable[[str, str], Path]

VALID = """
organisation: Northwind IT
catalog: kpis.yaml
measurements: data/measurements.csv
"""


@pytest.fixture
def inputs(write: Write) -> None:
    """The catalog and measurements files the params point at (their content is not read)."""
    write("kpis.yaml", "kpis: []\n")
    write("data/measurements.csv", "kpi_id,period_end,value\n")


def _error(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_params(path)
    return info.value


@pytest.mark.usefixtures("inputs")
def test_minimal_params_load_with_defaults(write: Write) -> None:
    loaded = load_params(write("params.yaml", VALID))

    assert loaded.values.organisation == "Northwind IT"
    assert loaded.values.period_end is None
    assert loaded.values.page_size == "A4"
    assert loaded.values.stale_after == 2
    assert loaded.title_for(cadences.WEEKLY) == "Weekly Operational Review"
    assert loaded.title_for(cadences.QUARTERLY) == "Quarterly Strategic Review"


@pytest.mark.usefixtures("inputs")
def test_paths_are_resolved_relative_to_the_params_file_not_the_working_dir(
    write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("packs/params.yaml", VALID.replace("kpis.yaml", "../kpis.yaml").replace(
        "data/", "../data/"))
    monkeypatch.chdir(tmp_path / "packs")

    loaded = load_params("params.yaml")

    assert loaded.values.catalog == (tmp_path / "kpis.yaml").resolve()
    assert loaded.values.measurements == (tmp_path / "data" / "measurements.csv").resolve()
    assert loaded.path == (tmp_path / "packs" / "params.yaml").resolve()


@pytest.mark.usefixtures("inputs")
def test_store_defaults_to_sqlite_beside_the_params_file_and_keeps_urls(write: Write) -> None:
    loaded = load_params(write("params.yaml", VALID))
    assert loaded.store_location == str((loaded.path.parent / "reviewkit.sqlite").resolve())

    url = load_params(write("url.yaml", VALID + "store: postgresql://db/reviews\n"))
    assert url.store_location == "postgresql://db/reviews"


@pytest.mark.usefixtures("inputs")
def test_a_relative_sqlite_store_url_is_relative_to_the_params_file(
        write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    """As every path of the file is (and a source's sqlite URL): a relative one read against
    the working folder would be another store in each folder a command runs from."""
    loaded = load_params(write("params.yaml", VALID + "store: sqlite:///stores/team.sqlite\n"))
    monkeypatch.chdir(loaded.path.parent.parent)
    expected = (loaded.path.parent / "stores" / "team.sqlite").resolve()
    assert make_url(loaded.store_location).database == str(expected)
    absolute = load_params(write("absolute.yaml", VALID + f"store: sqlite:///{expected}\n"))
    assert make_url(absolute.store_location).database == str(expected)


@pytest.mark.usefixtures("inputs")
def test_title_and_period_end_are_read(write: Write) -> None:
    loaded = load_params(
        write("params.yaml", VALID + "title: Ops review\nperiod_end: 2026-11-20\n")
    )
    assert loaded.title_for(cadences.WEEKLY) == "Ops review"
    assert loaded.values.period_end == dt.date(2026, 11, 20)
    assert loaded.raw["period_end"] == "2026-11-20"


@pytest.mark.usefixtures("inputs")
@pytest.mark.parametrize("field", ["organisation", "catalog", "measurements"])
def test_each_required_field_missing_is_named(write: Write, field: str) -> None:
    text = "\n".join(line for line in VALID.splitlines() if not line.startswith(field))
    error = _error(write("params.yaml", text))

    assert error.field == field
    assert "params.yaml" in str(error)
    assert f"field '{field}'" in str(error)
    assert "missing" in str(error)
    assert error.exit_code == 2


@pytest.mark.usefixtures("inputs")
def test_blank_required_field_is_treated_as_missing(write: Write) -> None:
    error = _error(write("params.yaml", VALID.replace("Northwind IT", '""')))
    assert error.field == "organisation"


@pytest.mark.usefixtures("inputs")
def test_whitespace_only_organisation_is_rejected(write: Write) -> None:
    error = _error(write("params.yaml", VALID.replace("Northwind IT", '"   "')))
    assert error.field == "organisation"
    assert "blank" in str(error)


@pytest.mark.usefixtures("inputs")
def test_unknown_key_is_named_with_did_you_mean(write: Write) -> None:
    text = VALID.replace("organisation:", "organization:") + "organisation: X\n"
    error = _error(write("params.yaml", text))

    assert error.field == "organization"
    assert error.line == 1
    assert "did you mean 'organisation'" in str(error)
    assert "params.yaml, line 1, field 'organization'" in str(error)


@pytest.mark.usefixtures("inputs")
def test_unknown_key_without_a_close_match_lists_the_allowed_keys(write: Write) -> None:
    error = _error(write("params.yaml", VALID + "colour_scheme: blue\n"))

    assert error.field == "colour_scheme"
    assert error.line == 4
    assert "did you mean" not in str(error)
    assert "allowed keys" in str(error)


@pytest.mark.usefixtures("inputs")
@pytest.mark.parametrize(
    ("field", "line", "text"),
    [
        ("catalog", 2, VALID.replace("kpis.yaml", "nope.yaml")),
        ("measurements", 3, VALID.replace("data/measurements.csv", "data/nope.csv")),
    ],
)
def test_missing_input_file_names_the_field_and_the_path(
    write: Write, field: str, line: int, text: str
) -> None:
    error = _error(write("params.yaml", text))

    assert error.field == field
    assert error.line == line
    assert "not found" in str(error)
    assert "nope" in str(error)
    assert "relative to the params file" in str(error)


@pytest.mark.usefixtures("inputs")
@pytest.mark.parametrize(("text", "field", "line"), [
    (VALID.replace("catalog: kpis.yaml", 'catalog: "kpis\\0.yaml"'), "catalog", 2),
    (VALID + 'notebook: "nb\\0.ipynb"\n', "notebook", 4),
    (VALID + 'assets: "assets\\0"\n', "assets", 4),
    (VALID + 'store: "a\\0.sqlite"\n', "store", 4),
    (VALID + 'serve:\n  packs: "packs\\0"\n', "serve.packs", 5),
    (VALID + 'serve:\n  people: "people\\0.yaml"\n', "serve.people", 5),
])
def test_a_path_holding_a_nul_character_is_refused_naming_the_field(
    write: Write, text: str, field: str, line: int
) -> None:
    # YAML writes NUL as "\0" in a double-quoted string; no file name can hold it.
    error = _error(write("params.yaml", text))

    assert error.field == field
    assert error.line == line
    assert "NUL" in str(error)
    assert error.exit_code == 2


@pytest.mark.usefixtures("inputs")
@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "20/11/2026", "next friday"])
def test_bad_period_end_names_the_field_and_line(write: Write, value: str) -> None:
    error = _error(write("params.yaml", VALID + f"period_end: {value}\n"))

    assert error.field == "period_end"
    assert error.line == 4
    assert "YYYY-MM-DD" in str(error)
    assert error.exit_code == 2


@pytest.mark.usefixtures("inputs")
def test_bad_page_size_names_the_field(write: Write) -> None:
    error = _error(write("params.yaml", VALID + "page_size: A11\n"))

    assert error.field == "page_size"
    assert error.line == 4
    assert "unknown page size 'A11'" in str(error)


@pytest.mark.usefixtures("inputs")
def test_page_size_is_case_insensitive(write: Write) -> None:
    assert load_params(write("params.yaml", VALID + "page_size: Letter\n")).values.page_size == (
        "Letter"
    )


@pytest.mark.usefixtures("inputs")
@pytest.mark.parametrize(("extra", "field"), [("history: 2", "history"),
                                               ("stale_after: 0", "stale_after"),
                                               ("headline: kpi_a", "headline")])
def test_out_of_range_or_wrongly_typed_optional_fields_are_named(
    write: Write, extra: str, field: str
) -> None:
    error = _error(write("params.yaml", VALID + extra + "\n"))
    assert error.field is not None
    assert error.field.split(".")[0] == field
    assert error.line == 4


def test_invalid_yaml_names_the_line(write: Write) -> None:
    path = write(
        "params.yaml",
        """
        organisation: Northwind IT
        catalog: kpis.yaml
          measurements: data/measurements.csv
        title: x
        """,
    )
    error = _error(path)

    assert error.line == 3
    assert str(error).startswith(f"{path}, line 3: invalid YAML")


def test_duplicate_key_names_the_line_of_the_second(write: Write) -> None:
    error = _error(write("params.yaml", VALID + "organisation: Again\n"))
    assert error.line == 4
    assert "duplicate key 'organisation'" in str(error)


@pytest.mark.parametrize("text", ["- organisation: X\n", "just text\n", ""])
def test_a_file_that_is_not_a_mapping_is_rejected(write: Write, text: str) -> None:
    path = write("params.yaml", "placeholder")
    path.write_text(text, encoding="utf-8")
    error = _error(path)

    assert "must be a YAML mapping" in str(error)
    assert "params.yaml" in str(error)


def test_missing_params_file_is_an_input_error(tmp_path: Path) -> None:
    error = _error(tmp_path / "absent.yaml")
    assert "not found" in str(error)
    assert error.exit_code == 2


@pytest.mark.usefixtures("inputs")
def test_currency_and_year_start_default_to_pounds_in_thousands_and_january(
    write: Write,
) -> None:
    values = load_params(write("params.yaml", VALID)).values
    assert (values.currency.symbol, values.currency.scale, values.year_start_month) == (
        "£", "k", 1)


@pytest.mark.usefixtures("inputs")
def test_currency_and_year_start_are_read(write: Write) -> None:
    text = VALID + "currency: {symbol: \"€\", scale: m}\nyear_start_month: 7\n"
    values = load_params(write("params.yaml", text)).values
    assert values.currency.currency.format(12.5) == "€12.5m"
    assert values.year_start_month == 7


@pytest.mark.usefixtures("inputs")
@pytest.mark.parametrize(
    ("extra", "field", "line", "words"),
    [
        ("currency:\n  symbol: €\n  scale: thousands\n", "currency.scale", 6, "unknown scale"),
        ("currency:\n  symbol: '12'\n", "currency.symbol", 5, "without digits"),
        ("currency:\n  symbol: €\n  scael: k\n", "currency.scael", 6,
         "allowed keys: symbol, scale"),
        ("year_start_month: 13\n", "year_start_month", 4, "less than or equal to 12"),
    ],
)
def test_bad_currency_or_year_start_names_the_field_and_its_line(
    write: Write, extra: str, field: str, line: int, words: str,
) -> None:
    error = _error(write("params.yaml", VALID + extra))
    assert (error.field, error.line) == (field, line)
    assert words in str(error)
