"""What a pack shows on the demo data: the story told in data/demo/README.md, end to end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, copy_demo, prepare_view

from reviewkit.errors import InputError, UsageError
from reviewkit.inputs.params import load_params
from reviewkit.layout.view import PackView
from reviewkit.periods import parse_period

Write = Callable[[str, str], Path]
DEMO = REPO / "data" / "demo"
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)

#: data/demo/README.md, "The story at Friday 2026-11-20": weekly status on 13 and 20 November.
STORY = {
    "change_success_rate": ("amber", "red"),
    "mttr_p1": ("red", "red"),
    "open_critical_vulns": ("red", "red"),
    "ehr_availability": ("amber", "amber"),
    "service_desk_csat": ("amber", "amber"),
    "cloud_spend": ("green", "amber"),
    "critical_patch_compliance": ("green", "green"),
    "backup_success_rate": ("no_data", "no_data"),
    "change_lead_time": ("green", "green"),
    "milestones_on_time": ("green", "green"),
    "p1_incidents": ("green", "green"),
    "peak_storage_utilisation": ("green", "green"),
    "security_incidents": ("green", "green"),
}
#: Values the README quotes for 20 November.
VALUES = {
    "change_success_rate": 88.1,
    "mttr_p1": 7.2,
    "open_critical_vulns": 29,
    "ehr_availability": 99.78,
    "service_desk_csat": 87.2,
    "cloud_spend": 44.6,
    "critical_patch_compliance": 96.1,
    "change_lead_time": 4.2,
    "p1_incidents": 1,
    "peak_storage_utilisation": 78.9,
    "security_incidents": 2,
}
#: The demo's units: every group row of the story is split into one row per unit.
UNITS = 7
HEADLINE = ["change_success_rate", "ehr_availability", "p1_incidents",
            "critical_patch_compliance", "cloud_spend", "service_desk_csat"]


@pytest.fixture(scope="module")
def weekly(demo_params: Path) -> PackView:
    return prepare_view("weekly", demo_params, now=NOW)


def test_the_demo_params_file_points_at_the_demo_data() -> None:
    params = load_params(REPO / "params" / "weekly.yaml")
    assert params.values.catalog == (DEMO / "kpis.yaml").resolve()
    assert params.values.measurements == (DEMO / "measurements.csv").resolve()
    assert params.values.period_end is None  # the latest week in the data


def test_weekly_demo_pack_is_for_the_latest_week(weekly: PackView) -> None:
    assert weekly.period.end == dt.date(2026, 11, 20)
    assert weekly.period.label == "2026-11-20"
    assert weekly.cadence.name == "weekly"
    assert weekly.organisation == "Northwind IT"
    assert weekly.title == "Weekly Operational Review"
    assert weekly.provenance.parameters["period_end"] == "2026-11-20"
    assert weekly.provenance.parameters["cadence"] == "weekly"
    assert weekly.generated_at == NOW



def test_weekly_demo_pack_has_the_thirteen_weekly_kpis_in_catalog_order(
    weekly: PackView,
) -> None:
    assert len(weekly.kpis) == 13
    catalog_order = [k.id for k in weekly.catalog.kpis if "weekly" in k.cadences]
    assert [k.id for k in weekly.kpis] == catalog_order
    assert set(catalog_order) == set(STORY)


def test_headline_comes_from_the_catalog_flags(weekly: PackView) -> None:
    assert list(weekly.headline) == HEADLINE


def test_statuses_match_the_demo_story(weekly: PackView) -> None:
    statuses = {r.kpi.id: r.status for r in weekly.evaluation.results}
    assert statuses == {kpi_id: now for kpi_id, (_, now) in STORY.items()}
    assert weekly.evaluation.status_counts() == {"green": 6, "amber": 3, "red": 3, "no_data": 1}
    previous = {r.kpi.id: r.previous.status for r in weekly.evaluation.results}
    assert previous == {kpi_id: before for kpi_id, (before, _) in STORY.items()}


def test_values_match_the_demo_story(weekly: PackView) -> None:
    values = {r.kpi.id: r.value for r in weekly.evaluation.results}
    for kpi_id, value in VALUES.items():
        assert values[kpi_id] == pytest.approx(value), kpi_id
    assert values["backup_success_rate"] is None


def test_trends_and_streaks_match_the_demo_story(weekly: PackView) -> None:
    result = weekly.evaluation.result
    assert result("change_success_rate").trend == "worsening"
    assert result("service_desk_csat").trend == "worsening"
    assert result("critical_patch_compliance").trend == "improving"
    assert result("mttr_p1").streak == 10  # red every week since 18 Sep
    assert result("open_critical_vulns").streak == 6  # red since 16 Oct
    assert result("ehr_availability").streak == 3  # third amber week in a row
    assert result("service_desk_csat").streak == 4  # amber since 30 Oct
    assert result("critical_patch_compliance").streak == 2  # green from 13 Nov


def test_exceptions_match_the_demo_story(weekly: PackView) -> None:
    # The store beside the copied params is empty, so no red KPI has an open action yet.
    assert [(e.reason, e.kpi_id) for e in weekly.evaluation.exceptions] == [
        ("red", "change_success_rate"),
        ("red", "mttr_p1"),
        ("red", "open_critical_vulns"),
        ("red_no_action", "change_success_rate"),
        ("red_no_action", "mttr_p1"),
        ("red_no_action", "open_critical_vulns"),
        ("worsened", "change_success_rate"),
        ("worsened", "cloud_spend"),
        ("no_data", "backup_success_rate"),
        ("stale", "backup_success_rate"),
    ]


def test_data_quality_finds_the_planted_problems(weekly: PackView) -> None:
    quality = weekly.evaluation.data_quality
    assert quality.unknown_kpis == {"legacy_backup_jobs": 3}
    assert quality.stale == {"backup_success_rate": dt.date(2026, 10, 30)}
    assert quality.missing_values == {
        "change_lead_time": [dt.date(2025, 3, 14), dt.date(2025, 8, 1), dt.date(2026, 2, 20)]
    }
    # Four dates with a row-level target, each on the rows of the seven units.
    assert quality.target_overrides == {"milestones_on_time": 4 * UNITS}
    assert quality.never_reported == []
    assert quality.rows_after_period == 0


def test_inputs_are_fingerprinted_for_provenance(weekly: PackView) -> None:
    roles = {f.role: f for f in weekly.provenance.inputs}
    assert set(roles) == {"params", "catalog", "measurements"}
    assert roles["catalog"].rows == 16
    assert all(len(f.sha256) == 64 and f.size_bytes > 0 for f in weekly.provenance.inputs)
    from importlib.metadata import version

    # The versions this machine installed (the snapshots leave them out: they vary by machine).
    assert weekly.provenance.versions["pandas"] == version("pandas")
    assert weekly.provenance.versions["weasyprint"] == version("weasyprint")


def test_inputs_written_with_absolute_paths_are_named_relative_to_the_params_file(
    tmp_path: Path,
) -> None:
    """A pack never shows where the machine that built it keeps its files: the parameters and
    the input files are named relative to the params file, whatever the params file wrote."""
    params = copy_demo(tmp_path / "a" / "long" / "way" / "down")
    data = params.parent.parent / "data" / "demo"
    params.write_text(params.read_text(encoding="utf-8").replace("../data/demo/", f"{data}/")
                      + f"store: {params.parent / 'actions.sqlite'}\n", encoding="utf-8")
    view = prepare_view("weekly", params, now=NOW)
    assert view.provenance.parameters["catalog"] == "../data/demo/kpis.yaml"
    assert view.provenance.parameters["measurements"] == "../data/demo/measurements.csv"
    assert view.provenance.parameters["store"] == "actions.sqlite"
    assert {item.role: item.path for item in view.provenance.inputs} == {
        "params": "weekly.yaml", "catalog": "../data/demo/kpis.yaml",
        "measurements": "../data/demo/measurements.csv"}


def test_the_week_before_matches_the_demo_story(demo_params: Path) -> None:
    context = prepare_view("weekly", demo_params, "2026-11-13")
    statuses = {r.kpi.id: r.status for r in context.evaluation.results}
    assert statuses == {kpi_id: before for kpi_id, (before, _) in STORY.items()}
    assert context.evaluation.status_counts() == {"green": 7, "amber": 3, "red": 2, "no_data": 1}
    assert context.evaluation.data_quality.rows_after_period > 0


def test_october_monthly_pack_rates_the_monthly_only_kpis(demo_params: Path) -> None:
    context = prepare_view("monthly", demo_params, dt.date(2026, 10, 31))
    assert context.period.label == "2026-10"
    assert context.title == "Weekly Operational Review"  # the params file sets one title
    result = context.evaluation.result
    assert (result("opex_variance").status, result("opex_variance").value) == ("red", 2.3)
    assert result("phishing_click_rate").status == "green"
    assert result("phishing_click_rate").value == pytest.approx(4.4)
    assert result("clinician_satisfaction").status == "green"
    assert result("clinician_satisfaction").value == pytest.approx(7.7)
    assert len(context.kpis) == 16


@pytest.mark.parametrize("text", ["2026-13-01", "20/11/2026", "last week", ""])
def test_parse_period_rejects_a_bad_date_with_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="YYYY-MM-DD") as info:
        parse_period(text)
    assert info.value.exit_code == 2


def test_parse_period_accepts_iso_dates_dates_and_none() -> None:
    assert parse_period("2026-11-20") == dt.date(2026, 11, 20)
    assert parse_period(dt.date(2026, 11, 20)) == dt.date(2026, 11, 20)
    assert parse_period(None) is None


def test_preparing_a_pack_rejects_a_bad_period_and_an_unknown_cadence(demo_params: Path) -> None:
    with pytest.raises(UsageError, match="--period"):
        prepare_view("weekly", demo_params, "2026-11-31")
    with pytest.raises(UsageError, match="daily"):
        prepare_view("daily", demo_params)


def _params(write: Write, extra: str) -> Path:
    lines = ["organisation: Northwind IT", f"catalog: {DEMO / 'kpis.yaml'}",
             f"measurements: {DEMO / 'measurements.csv'}", extra]
    return write("params.yaml", "\n".join(lines) + "\n")


def test_headline_list_in_params_with_an_unknown_id_names_the_field(write: Write) -> None:
    path = _params(write, "headline: [cloud_spend, cloud_spending]")
    with pytest.raises(InputError) as info:
        prepare_view("weekly", path)
    error = info.value
    assert error.field == "headline"
    assert "cloud_spending" in str(error)
    assert str(path.resolve()) in str(error)
    assert error.exit_code == 2


def test_headline_list_in_params_wins_and_drops_kpis_not_in_the_cadence(write: Write) -> None:
    path = _params(write, "headline: [cloud_spend, opex_variance, mttr_p1]\nperiod_end: 2026-11-13")
    context = prepare_view("weekly", path)
    assert context.headline == ("cloud_spend", "mttr_p1")
    assert context.period.label == "2026-11-13"
