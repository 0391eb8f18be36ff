"""The KPI catalog: every rule of the contract, each broken on purpose, with clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, REPO

from reviewkit.errors import InputError
from reviewkit.inputs.catalog import Catalog, load_catalog

Write = Callable[[str, str], Path]

BASE: dict[str, Any] = {
    "id": "availability",
    "name": "Service availability",
    "perspective": "Reliability",
    "direction": "higher_is_better",
    "target": 99.9,
    "amber": 99.5,
    "owner": "Head of Infrastructure",
    "cadences": ["weekly", "monthly"],
}
REQUIRED = ("id", "name", "perspective", "direction", "target", "owner", "cadences")


def kpi(**changes: Any) -> dict[str, Any]:
    """BASE with fields changed; a value of ``...`` removes the field."""
    item = {**BASE, **changes}
    return {key: value for key, value in item.items() if value is not ...}


@pytest.fixture
def catalog_file(write: Write) -> Callable[..., Path]:
    """Write ``kpis:`` as block YAML, one field a line (values as JSON, which is YAML too).

    So line 1 is ``kpis:``, the first KPI starts on line 2 and each field is on its own line.
    """

    def _catalog(*kpis: dict[str, Any]) -> Path:
        lines = ["kpis:"]
        for item in kpis:
            for index, (key, value) in enumerate(item.items()):
                lead = "  - " if index == 0 else "    "
                lines.append(f"{lead}{key}: {json.dumps(value, ensure_ascii=False)}")
        return write("kpis.yaml", "\n".join(lines) + "\n")

    return _catalog


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line containing ``needle``."""
    hits = [n for n, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    return hits[nth - 1]


def rejected(path: Path, *, field: str, line: int | None) -> InputError:
    """Load ``path`` expecting an InputError that names the file, the field and the line."""
    with pytest.raises(InputError) as info:
        load_catalog(path)
    error = info.value
    message = str(error)
    assert error.exit_code == 2
    assert error.file == str(path)
    assert message.startswith(str(path))
    assert error.field == field
    assert f"field '{field}'" in message
    if line is not None:
        assert error.line == line
        assert f"line {line}" in message
    return error


# --- valid catalogs and defaults ---------------------------------------------------------------


def test_the_demo_catalog_is_valid() -> None:
    catalog = load_catalog(REPO / "data" / "demo" / "kpis.yaml")

    assert len(catalog.kpis) == 16
    assert len(catalog.for_cadence("weekly")) == 13
    assert len(catalog.for_cadence("monthly")) == 16
    assert sum(k.headline for k in catalog.kpis) == 6
    p1 = catalog.by_id()["p1_incidents"]
    assert (p1.target_for("weekly"), p1.target_for("monthly"), p1.target_for("quarterly")) == (
        1, 4, 12
    )
    assert p1.amber_for("quarterly") == 24
    assert p1.aggregation == "sum"


def test_optional_fields_take_their_documented_defaults(catalog_file: Callable[..., Path]) -> None:
    catalog = load_catalog(catalog_file(kpi(amber=...)))
    (item,) = catalog.kpis

    assert item.kind == "lagging"
    assert item.aggregation == "mean"
    assert item.amber is None
    assert item.amber_for("weekly") is None
    assert item.unit == ""
    assert item.headline is False
    assert item.definition == item.why_it_matters == item.action_if_off_track == ""


def test_catalog_keeps_file_order_and_filters_by_cadence(
    catalog_file: Callable[..., Path],
) -> None:
    catalog = load_catalog(
        catalog_file(
            kpi(id="zeta", cadences=["monthly"]),
            kpi(id="alpha", cadences=["weekly", "quarterly"]),
        )
    )
    assert isinstance(catalog, Catalog)
    assert [k.id for k in catalog.kpis] == ["zeta", "alpha"]
    assert [k.id for k in catalog.for_cadence("weekly")] == ["alpha"]
    assert [k.id for k in catalog.for_cadence("monthly")] == ["zeta"]
    assert set(catalog.by_id()) == {"zeta", "alpha"}


def test_integer_and_per_cadence_targets_are_accepted(catalog_file: Callable[..., Path]) -> None:
    catalog = load_catalog(
        catalog_file(
            kpi(id="incidents", direction="lower_is_better", aggregation="sum",
                target={"weekly": 2, "monthly": 8}, amber={"weekly": 3, "monthly": 12}),
            kpi(id="count", target=5, amber=4),
        )
    )
    incidents, count = catalog.kpis
    assert incidents.target_for("monthly") == 8.0
    assert incidents.amber_for("weekly") == 3.0
    assert count.target_for("weekly") == 5.0
    assert count.target_for("quarterly") == 5.0  # a plain number applies to every cadence


def test_scalar_amber_applies_to_every_per_cadence_target(
    catalog_file: Callable[..., Path],
) -> None:
    catalog = load_catalog(
        catalog_file(kpi(direction="lower_is_better", target={"weekly": 2, "monthly": 8},
                         amber=10))
    )
    assert catalog.kpis[0].amber_for("weekly") == catalog.kpis[0].amber_for("monthly") == 10.0


@pytest.mark.parametrize(
    ("direction", "target", "amber"),
    [("higher_is_better", 95, 90), ("lower_is_better", 5, 8)],
)
def test_amber_on_the_bad_side_of_target_is_accepted(
    catalog_file: Callable[..., Path], direction: str, target: float, amber: float
) -> None:
    (item,) = load_catalog(catalog_file(kpi(direction=direction, target=target,
                                             amber=amber))).kpis
    assert item.amber_for("weekly") == amber


def test_free_text_that_looks_like_an_impossible_date_stays_text(
    catalog_file: Callable[..., Path], write: Write
) -> None:
    path = write(
        "kpis.yaml",
        """
        kpis:
          - id: availability
            name: Service availability
            perspective: Reliability
            direction: higher_is_better
            target: 99.9
            owner: Head of Infrastructure
            cadences: [weekly]
            definition: 2026-13-01
        """,
    )
    assert load_catalog(path).kpis[0].definition == "2026-13-01"


# --- ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["Availability", "avail-ability", "two words", "né", 42,
                                    "availability\n"])
def test_id_outside_lowercase_letters_digits_and_underscores_is_rejected(
    catalog_file: Callable[..., Path], bad_id: object
) -> None:
    path = catalog_file(kpi(id=bad_id))
    error = rejected(path, field="id", line=2)
    assert "lower-case letters, digits and underscores" in str(error)


def test_an_id_longer_than_64_characters_is_rejected_on_every_store(
    catalog_file: Callable[..., Path],
) -> None:
    # SQLite would keep a 140-character id; PostgreSQL's columns would refuse it mid-build.
    assert load_catalog(catalog_file(kpi(id="k" * 64))).kpis[0].id == "k" * 64
    error = rejected(catalog_file(kpi(id="k" * 140)), field="id", line=2)
    assert "140 characters" in str(error) and "at most 64" in str(error)


def test_duplicate_id_names_both_lines() -> None:
    path = FIXTURES / "catalog_duplicate_id.yaml"
    error = rejected(path, field="id", line=9)
    assert "duplicate KPI id 'availability'" in str(error)
    assert "first defined on line 2" in str(error)


# --- required fields -------------------------------------------------------------------------


@pytest.mark.parametrize("field", REQUIRED)
def test_each_missing_required_field_is_named(
    catalog_file: Callable[..., Path], field: str
) -> None:
    path = catalog_file(kpi(id="first"), kpi(**{field: ...}))
    second_kpi_line = line_of(path, "  - ", nth=2)
    error = rejected(path, field=field, line=second_kpi_line)
    assert "required field" in str(error)
    assert "missing" in str(error)


@pytest.mark.parametrize("field", ["name", "owner", "perspective"])
def test_empty_required_text_is_missing(catalog_file: Callable[..., Path], field: str) -> None:
    rejected(catalog_file(kpi(**{field: ""})), field=field, line=2)


def test_missing_or_empty_kpis_list_is_rejected(write: Write) -> None:
    rejected(write("kpis.yaml", "kpis: []\n"), field="kpis", line=1)
    rejected(write("kpis.yaml", "# nothing yet\nkpis:\n"), field="kpis", line=2)


def test_a_kpi_that_is_not_a_mapping_names_its_line(write: Write) -> None:
    path = write("kpis.yaml", "kpis:\n  - availability\n")
    with pytest.raises(InputError) as info:
        load_catalog(path)
    assert info.value.line == 2
    assert "mapping" in str(info.value)


# --- enums -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "suggestion"),
    [
        ("direction", "higher_is_beter", "higher_is_better"),
        ("direction", "up", None),
        ("aggregation", "average", None),
        ("aggregation", "maxx", "max"),
        ("kind", "lead", "leading"),
    ],
)
def test_values_outside_the_enums_are_rejected_with_the_allowed_values(
    catalog_file: Callable[..., Path], field: str, value: str, suggestion: str | None
) -> None:
    path = catalog_file(kpi(**{field: value}))
    error = rejected(path, field=field, line=line_of(path, f"  {field}:"))
    assert f"'{value}' is not allowed" in str(error)
    assert "KPI 'availability'" in str(error)
    if suggestion:
        assert f"did you mean '{suggestion}'" in str(error)


def test_enum_values_are_accepted(catalog_file: Callable[..., Path]) -> None:
    (item,) = load_catalog(
        catalog_file(kpi(direction="lower_is_better", target=5, amber=8, kind="leading",
                         aggregation="last"))
    ).kpis
    assert (item.direction, item.kind, item.aggregation) == ("lower_is_better", "leading", "last")
    assert not item.higher_is_better


# --- cadences --------------------------------------------------------------------------------


@pytest.mark.parametrize("cadences", [["weekly", "daily"], "weekly", ["Weekly"]])
def test_cadences_outside_weekly_monthly_quarterly_are_rejected(
    catalog_file: Callable[..., Path], cadences: object
) -> None:
    path = catalog_file(kpi(cadences=cadences))
    with pytest.raises(InputError) as info:
        load_catalog(path)
    error = info.value
    assert error.field is not None and error.field.startswith("cadences")
    assert error.line == line_of(path, "  cadences:")
    assert "weekly, monthly, quarterly" in str(error)


def test_empty_cadences_is_rejected(catalog_file: Callable[..., Path]) -> None:
    rejected(catalog_file(kpi(cadences=[])), field="cadences", line=2)


# --- targets and amber -----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["target", "amber"])
@pytest.mark.parametrize("value", ["high", [1, 2], True])
def test_threshold_that_is_not_a_number_or_mapping_is_rejected(
    catalog_file: Callable[..., Path], field: str, value: object
) -> None:
    path = catalog_file(kpi(**{field: value}))
    error = rejected(path, field=field, line=line_of(path, f"  {field}:"))
    assert "not a number" in str(error)


@pytest.mark.parametrize(("field", "value"), [
    ("target", 1e30), ("target", "1e30"), ("target", {"weekly": 95, "monthly": -2e15}),
    ("amber", 1.5e300),
])
def test_a_threshold_beyond_the_largest_figure_is_rejected(
    catalog_file: Callable[..., Path], field: str, value: object
) -> None:
    # Finite, but no KPI means it, and a pack could not print it (a build failed on 1e30).
    path = catalog_file(kpi(**{field: value}))
    error = rejected(path, field=field, line=line_of(path, f"  {field}:"))
    assert "is beyond the largest figure reviewkit reads, 1e15" in str(error)


def test_a_unit_target_beyond_the_largest_figure_is_rejected(
    catalog_file: Callable[..., Path],
) -> None:
    path = catalog_file(kpi(unit_targets={"north": 1e20}))
    with pytest.raises(InputError) as info:
        load_catalog(path)
    assert info.value.field == "unit_targets.north.target"
    assert "beyond the largest figure" in str(info.value)


def test_threshold_mapping_with_an_unknown_cadence_is_rejected(
    catalog_file: Callable[..., Path],
) -> None:
    path = catalog_file(kpi(target={"weekly": 2, "daily": 1}, amber=...))
    rejected(path, field="target", line=line_of(path, "  target:"))


def test_per_cadence_target_missing_a_reported_cadence_names_kpi_and_cadence() -> None:
    path = FIXTURES / "catalog_per_cadence_target_missing_monthly.yaml"
    error = rejected(path, field="target", line=7)
    assert "KPI 'p1_incidents'" in str(error)
    assert "'monthly'" in str(error)


def test_per_cadence_target_for_unreported_cadences_only_is_fine(
    catalog_file: Callable[..., Path],
) -> None:
    path = catalog_file(kpi(cadences=["weekly"], target={"weekly": 2}, amber=...,
                            direction="lower_is_better"))
    assert load_catalog(path).kpis[0].target_for("weekly") == 2


def test_per_cadence_amber_missing_a_reported_cadence_names_kpi_and_cadence(
    catalog_file: Callable[..., Path],
) -> None:
    path = catalog_file(
        kpi(id="p1_incidents", direction="lower_is_better", aggregation="sum",
            target={"weekly": 1, "monthly": 4}, amber={"weekly": 2})
    )
    error = rejected(path, field="amber", line=line_of(path, "  amber:"))
    assert "KPI 'p1_incidents'" in str(error)
    assert "'monthly'" in str(error)


def test_amber_above_target_for_higher_is_better_is_rejected() -> None:
    path = FIXTURES / "catalog_amber_wrong_side.yaml"
    error = rejected(path, field="amber", line=8)
    assert "bad side" in str(error)
    assert "below" in str(error)


def test_amber_below_target_for_lower_is_better_is_rejected(
    catalog_file: Callable[..., Path],
) -> None:
    path = catalog_file(kpi(direction="lower_is_better", target=5, amber=4))
    error = rejected(path, field="amber", line=line_of(path, "  amber:"))
    assert "amber 4 must be on the bad side of target 5" in str(error)
    assert "above" in str(error)


def test_per_cadence_amber_on_the_wrong_side_for_one_cadence_is_rejected(
    catalog_file: Callable[..., Path],
) -> None:
    path = catalog_file(
        kpi(direction="lower_is_better", aggregation="sum",
            target={"weekly": 2, "monthly": 8}, amber={"weekly": 3, "monthly": 7})
    )
    error = rejected(path, field="amber", line=line_of(path, "  amber:"))
    assert "amber 7" in str(error)
    assert "target 8" in str(error)


# --- unknown keys ----------------------------------------------------------------------------


def test_unknown_kpi_key_is_named_with_did_you_mean(catalog_file: Callable[..., Path]) -> None:
    item = kpi(perspective=...)
    item["perspectve"] = "Reliability"
    path = catalog_file(item)
    error = rejected(path, field="perspectve", line=line_of(path, "perspectve"))
    assert "did you mean 'perspective'" in str(error)
    assert "KPI 'availability'" in str(error)


def test_unknown_kpi_key_without_a_close_match_lists_allowed_keys(
    catalog_file: Callable[..., Path],
) -> None:
    path = catalog_file(kpi(sponsor="CIO"))
    error = rejected(path, field="sponsor", line=line_of(path, "sponsor"))
    assert "allowed keys" in str(error)


def test_unknown_top_level_key_is_named(write: Write) -> None:
    error = rejected(write("kpis.yaml", "kpi: []\n"), field="kpi", line=1)
    assert "did you mean 'kpis'" in str(error)


def test_invalid_yaml_in_the_catalog_names_the_line(write: Write) -> None:
    path = write("kpis.yaml", "kpis:\n  - id: a\n    name: [oops\n  - id: b\n")
    with pytest.raises(InputError) as info:
        load_catalog(path)
    assert "invalid YAML" in str(info.value)
    assert info.value.line is not None
    assert info.value.exit_code == 2


def test_missing_catalog_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_catalog(tmp_path / "kpis.yaml")


# --- targets per unit, relative amber, counts of events, breakdowns ----------------------------


def test_an_amber_relative_to_the_target_is_that_share_on_its_bad_side(
    catalog_file: Callable[..., Path],
) -> None:
    path = catalog_file(kpi(amber="5%", target=60),
                        kpi(id="waits", direction="lower_is_better", target=25, amber="10%"))
    rises, waits = load_catalog(path).kpis
    assert rises.amber_for("weekly") == pytest.approx(57.0)
    assert waits.amber_for("monthly") == pytest.approx(27.5)


def test_a_units_own_target_and_amber_judge_it_in_its_pack(
    catalog_file: Callable[..., Path],
) -> None:
    path = catalog_file(kpi(id="revenue", aggregation="sum", target={"weekly": 55, "monthly": 235},
                            amber={"weekly": 50, "monthly": 220},
                            unit_targets={"north": {"weekly": 22, "monthly": 100},
                                          "south": {"target": {"weekly": 20, "monthly": 90},
                                                    "amber": "5%"}}))
    (revenue,) = load_catalog(path).kpis
    north, south = revenue.for_unit("north", "N"), revenue.for_unit("south", "S")
    assert (north.target_for("weekly"), south.target_for("monthly")) == (22, 90)
    # no amber of its own: the group's band in proportion, for a KPI summed over the units
    assert north.amber_for("weekly") == pytest.approx(22 * 50 / 55)
    assert south.amber_for("weekly") == pytest.approx(19.0)
    # a unit without an entry keeps the KPI as it is (the pack then shows its share)
    assert revenue.for_unit("east", "E").target_for("weekly") == 55


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"amber": "5 percent"}, "amber", "not a number, a share of the target such as '5%'"),
    ({"unit_targets": {"north": 99.95, "south": {"target": 99, "amber": 99.5}}},
     "unit_targets.south.amber", "amber for unit 'south' 99.5 must be on the bad side"),
    ({"unit_targets": {"north": {"weekly": 99.5}}}, "unit_targets.north.target",
     "its target for unit 'north' has no 'monthly' entry"),
    ({"unit_targets": {"north": "high"}}, "unit_targets.north.target",
     "unit 'north': 'high' is not a number"),
    ({"absent": "zero"}, "absent", "right only for a count summed over time"),
    ({"data_from": "2026-01-05"}, "data_from", "it needs absent: zero"),
    ({"breakdown": "segment"}, "breakdown", "must name a column of the KPI's rows other than"),
])
def test_units_targets_counts_and_breakdowns_are_checked_with_their_line(
    catalog_file: Callable[..., Path], changes: dict[str, Any], field: str, message: str,
) -> None:
    path = catalog_file(kpi(**changes))
    error = rejected(path, field=field, line=None)
    assert message in str(error)
