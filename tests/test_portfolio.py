"""Initiatives and benefits: every row rule names file, line and column; schedule and benefit
rules; the demo portfolio tells the README's story."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO

from reviewkit.errors import InputError
from reviewkit.evaluation.benefits import (
    assess_benefit,
    is_at_risk,
    planned_fraction,
    planned_value,
    realized_fraction,
)
from reviewkit.inputs.catalog import load_catalog
from reviewkit.inputs.params import load_params
from reviewkit.inputs.portfolio import (
    Benefit,
    Initiative,
    check_benefits,
    check_initiatives,
    load_benefits,
    load_initiatives,
)

Write = Callable[[str, str], Path]
DEMO = REPO / "data" / "demo"

INITIATIVES_HEADER = (
    "id,name,owner,priority,status,start,planned_finish,forecast_finish,budget,cost_to_date,"
    "percent_complete,strategic_priority,kpis,description"
)
ENGINE = (
    "engine,Integration engine upgrade,Head of Apps,high,at_risk,2026-03-02,2026-12-18,"
    "2027-02-26,850,705,72,reliable,\"change_success_rate, ehr_availability\",Move interfaces"
)
KB = "kb,Knowledge base,Service Desk Lead,Medium,On track,,2026-10-30,2026-10-23,120,112,90,,,"

BENEFITS_HEADER = (
    "id,initiative_id,description,kpi_id,measure,unit,baseline,target,baseline_date,"
    "target_date,realized,realized_date"
)
KPI_BENEFIT = (
    "fewer_failures,engine,Fewer failed changes,change_success_rate,,%,96,98,2026-06-30,"
    "2027-06-30,,"
)
MANUAL_BENEFIT = (
    "wards,engine,Wards live,,Wards live,wards,0,32,2026-01-01,2027-01-01,16,2026-07-02"
)


def _initiatives(write: Write, *rows: str, header: str = INITIATIVES_HEADER) -> Path:
    return write("initiatives.csv", "\n".join([header, *rows]) + "\n")


def _benefits(write: Write, *rows: str, header: str = BENEFITS_HEADER) -> Path:
    return write("benefits.csv", "\n".join([header, *rows]) + "\n")


def _error(load: Callable[[Path], object], path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.exit_code == 2
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)
    return info.value


def _initiative(**fields: object) -> Initiative:
    values: dict[str, object] = {
        "id": "x",
        "name": "X",
        "owner": "O",
        "priority": "high",
        "status": "on_track",
        "planned_finish": dt.date(2026, 12, 31),
        "forecast_finish": dt.date(2026, 12, 31),
        "budget": 100,
        "cost_to_date": 50,
        "percent_complete": 50,
    }
    values.update(fields)
    return Initiative.model_validate(values)


def _benefit(**fields: object) -> Benefit:
    values: dict[str, object] = {
        "id": "b",
        "initiative_id": "x",
        "description": "D",
        "measure": "M",
        "baseline": 0,
        "target": 100,
        "baseline_date": dt.date(2026, 1, 1),
        "target_date": dt.date(2026, 12, 31),
    }
    values.update(fields)
    return Benefit.model_validate(values)


# --------------------------------------------------------------------------------------------
# Loading initiatives
# --------------------------------------------------------------------------------------------


def test_initiatives_load_with_types_lists_and_forgiving_enums(write: Write) -> None:
    engine, kb = load_initiatives(_initiatives(write, ENGINE, "", KB))

    assert engine.id == "engine"
    assert engine.priority == "high"
    assert engine.start == dt.date(2026, 3, 2)
    assert engine.planned_finish == dt.date(2026, 12, 18)
    assert engine.budget == 850.0
    assert engine.kpis == ("change_success_rate", "ehr_availability")
    assert engine.strategic_priority == "reliable"
    assert engine.source is not None and engine.source.line == 2
    # Spreadsheet spellings are accepted: case, spaces.
    assert (kb.priority, kb.status) == ("medium", "on_track")
    assert kb.start is None and kb.strategic_priority is None and kb.kpis == ()
    assert kb.source is not None and kb.source.line == 4  # the blank line 3 is skipped


def test_initiatives_load_from_excel_with_date_cells(tmp_path: Path) -> None:
    path = tmp_path / "initiatives.xlsx"
    pd.DataFrame(
        {
            "ID": ["engine", "kb"],
            "name": ["Engine", "KB"],
            "owner": ["A", "B"],
            "priority": ["high", "low"],
            "status": ["late", "done"],
            "planned_finish": [dt.datetime(2026, 12, 18), dt.datetime(2026, 10, 30)],
            "forecast_finish": [dt.datetime(2027, 2, 26), "2026-13-01"],
            "budget": [850, 120],
            "cost_to_date": [705.5, 112],
            "percent_complete": [72, 100],
            "RAG comment": ["red", "green"],  # an extra column unlike any known one: ignored
        }
    ).to_excel(path, index=False)

    error = _error(load_initiatives, path)

    assert ", row 3, field 'forecast_finish': '2026-13-01' is not a date" in str(error)


def test_excel_rows_load_like_csv_rows(tmp_path: Path, write: Write) -> None:
    path = tmp_path / "initiatives.xlsx"
    frame = pd.read_csv(_initiatives(write, ENGINE), dtype=str, keep_default_na=False)
    frame["planned_finish"] = [dt.datetime(2026, 12, 18)]
    frame["budget"] = [850.0]
    frame.to_excel(path, index=False)

    (from_excel,) = load_initiatives(path)
    (from_csv,) = load_initiatives(_initiatives(write, ENGINE))

    assert from_excel.model_dump() == from_csv.model_dump()
    assert from_excel.source is not None and from_excel.source.row_label == "row"


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("2026-12-18", "18/12/2026", "planned_finish", "'18/12/2026' is not a date; write it as "
         "YYYY-MM-DD"),
        (",850,", ",lots,", "budget", "'lots' is not a number"),
        (",850,", ",-5,", "budget", "-5 is below the minimum of 0"),
        (",705,", ",,", "cost_to_date", "required value is empty"),
        (",72,", ",120,", "percent_complete", "120 is above the maximum of 100"),
        (",at_risk,", ",at risc,", "status", "'at risc' is not allowed; use one of not_started, "
         "on_track, at_risk, late, done, cancelled (did you mean 'at_risk'?)"),
        (",high,", ",hihg,", "priority", "'hihg' is not allowed; use one of high, medium, low "
         "(did you mean 'high'?)"),
        ("engine,", "Engine 1,", "id", "initiative id 'Engine 1' must use only lower-case"),
        (",Head of Apps,", ",,", "owner", "required value is empty"),
        ("2026-03-02", "2027-01-01", "planned_finish", "2026-12-18 is before the start date "
         "2027-01-01"),
        ("\"change_success_rate, ehr_availability\"", "Change-Success", "kpis",
         "'Change-Success' is not a KPI id"),
        (",at_risk,", ",done,", "percent_complete", "status is 'done' but percent_complete is 72"),
    ],
)
def test_a_bad_initiative_cell_names_file_line_and_column(
    write: Write, old: str, new: str, field: str, message: str
) -> None:
    assert old in ENGINE
    path = _initiatives(write, KB, ENGINE.replace(old, new, 1))

    error = _error(load_initiatives, path)

    assert f", line 3, field '{field}': {message}" in str(error)
    assert (error.line, error.field) == (3, field)


def test_a_duplicate_initiative_id_names_both_lines(write: Write) -> None:
    path = _initiatives(write, ENGINE, KB, ENGINE.replace("Integration", "Second"))

    error = _error(load_initiatives, path)

    assert ", line 4, field 'id': duplicate initiative id 'engine' (also on line 2)" in str(error)


def test_a_missing_required_column_is_named(write: Write) -> None:
    header = INITIATIVES_HEADER.replace("forecast_finish,", "")
    path = _initiatives(write, header=header)

    error = _error(load_initiatives, path)

    assert ", line 1, field 'forecast_finish': required column 'forecast_finish' is missing" in (
        str(error)
    )


def test_a_misspelt_column_is_an_error_with_a_suggestion(write: Write) -> None:
    path = _initiatives(write, ENGINE, header=INITIATIVES_HEADER.replace("kpis", "kpi_ids"))

    error = _error(load_initiatives, path)

    assert ", line 1, field 'kpi_ids': unknown column (did you mean 'kpis'?)" in str(error)


def test_an_unreadable_or_unsupported_file_is_an_input_error(write: Write, tmp_path: Path) -> None:
    assert "not found" in str(_error(load_initiatives, tmp_path / "missing.csv"))
    json = write("initiatives.json", "[]")
    assert "unsupported initiatives format '.json'" in str(_error(load_initiatives, json))
    empty = write("empty.csv", "")
    assert "empty.csv, line 1: the file is empty" in str(_error(load_initiatives, empty))


# --------------------------------------------------------------------------------------------
# Schedule rules
# --------------------------------------------------------------------------------------------


def test_slip_days_is_forecast_minus_planned() -> None:
    assert _initiative(forecast_finish=dt.date(2027, 1, 14)).slip_days == 14
    assert _initiative(forecast_finish=dt.date(2026, 12, 21)).slip_days == -10


@pytest.mark.parametrize(
    ("status", "slip", "state"),
    [
        ("on_track", 0, "on_time"),
        ("on_track", -30, "on_time"),
        ("not_started", 0, "on_time"),
        ("on_track", 1, "at_risk"),
        ("on_track", 14, "at_risk"),
        ("on_track", 15, "late"),
        ("at_risk", 0, "at_risk"),
        ("at_risk", 40, "late"),
        ("late", 0, "late"),
        ("late", -5, "late"),
        ("done", 0, "finished"),
        ("done", -7, "finished"),
        ("done", 3, "finished"),
        ("cancelled", 90, "cancelled"),
    ],
)
def test_schedule_state_rule(status: str, slip: int, state: str) -> None:
    planned = dt.date(2026, 12, 31)
    initiative = _initiative(
        status=status,
        forecast_finish=planned + dt.timedelta(days=slip),
        percent_complete=100 if status == "done" else 50,
    )

    assert initiative.schedule_state == state
    assert initiative.schedule_state_on(dt.date(2026, 11, 20)) == state


def test_an_unfinished_initiative_past_its_planned_finish_is_late_as_of_that_date() -> None:
    stale = _initiative(planned_finish=dt.date(2026, 10, 30), forecast_finish=dt.date(2026, 10, 30))
    done = _initiative(planned_finish=dt.date(2026, 10, 30), forecast_finish=dt.date(2026, 10, 30),
                       status="done", percent_complete=100)

    assert stale.schedule_state == "on_time"
    assert stale.schedule_state_on(dt.date(2026, 10, 30)) == "on_time"
    assert stale.schedule_state_on(dt.date(2026, 11, 20)) == "late"
    assert done.schedule_state_on(dt.date(2026, 11, 20)) == "finished"


def test_a_finished_initiative_is_never_live_late_or_over_budget() -> None:
    """EHR upgrade 2025 finished on 27 Jun 2025, 14 days after plan and over budget: history,
    not live delivery risk ("4 late" counted it)."""
    finished = _initiative(status="done", percent_complete=100, planned_finish=dt.date(2025, 6, 13),
                           forecast_finish=dt.date(2025, 6, 27), budget=100, cost_to_date=120)
    assert finished.schedule_state_on(dt.date(2026, 11, 20)) == "finished"
    assert finished.finished_late_days == 14
    assert finished.over_budget and not finished.live_over_budget


def test_budget_used_and_over_budget() -> None:
    assert _initiative(budget=200, cost_to_date=50).budget_used == 0.25
    assert not _initiative(budget=200, cost_to_date=200).over_budget
    assert _initiative(budget=200, cost_to_date=201).over_budget
    assert _initiative(budget=0, cost_to_date=0).budget_used is None


def test_check_initiatives_names_unknown_kpis_and_priorities(write: Write) -> None:
    path = _initiatives(write, KB, ENGINE)
    initiatives = load_initiatives(path)
    check_initiatives(initiatives, ["change_success_rate", "ehr_availability"], ["reliable"])
    check_initiatives(initiatives)  # nothing to check against

    with pytest.raises(InputError) as info:
        check_initiatives(initiatives, ["change_success_rates", "ehr_availability"])
    assert str(info.value) == (
        f"{path}, line 3, field 'kpis': unknown KPI 'change_success_rate' (did you mean "
        "'change_success_rates'?); it must be an id in the KPI catalog"
    )
    with pytest.raises(InputError) as info:
        check_initiatives(initiatives, None, ["reliability", "cyber"])
    assert str(info.value).startswith(
        f"{path}, line 3, field 'strategic_priority': unknown strategic priority 'reliable' "
        "(did you mean 'reliability'?)"
    )


# --------------------------------------------------------------------------------------------
# Loading benefits
# --------------------------------------------------------------------------------------------


def test_benefits_load_kpi_and_described_measures(write: Write) -> None:
    kpi, manual = load_benefits(_benefits(write, KPI_BENEFIT, MANUAL_BENEFIT))

    assert kpi.kpi_id == "change_success_rate"
    assert kpi.label == "change_success_rate"
    assert kpi.realized is None
    assert (kpi.baseline, kpi.target, kpi.unit) == (96.0, 98.0, "%")
    assert manual.kpi_id is None
    assert manual.label == "Wards live"
    assert (manual.realized, manual.realized_date) == (16.0, dt.date(2026, 7, 2))
    assert manual.higher_is_better


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (KPI_BENEFIT.replace(",96,", ",ninety,"), "baseline", "'ninety' is not a number"),
        (KPI_BENEFIT.replace("2027-06-30", "2027-02-30"), "target_date",
         "'2027-02-30' is not a date"),
        (KPI_BENEFIT.replace("2027-06-30", "2026-06-30"), "target_date",
         "2026-06-30 is not after the baseline date 2026-06-30"),
        (KPI_BENEFIT.replace(",98,", ",96,"), "target", "target equals the baseline (96)"),
        (KPI_BENEFIT.replace("change_success_rate,", ","), "kpi_id",
         "give the measure: a catalog KPI id in 'kpi_id' or a description in 'measure'"),
        (KPI_BENEFIT.replace("2027-06-30,,", "2027-06-30,97,"), "realized",
         "leave realized empty for a KPI benefit"),
        (MANUAL_BENEFIT.replace(",16,", ",,"), "realized_date",
         "realized_date is set but realized is empty"),
        (MANUAL_BENEFIT.replace(",engine,", ",,"), "initiative_id", "required value is empty"),
    ],
)
def test_a_bad_benefit_cell_names_file_line_and_column(
    write: Write, row: str, field: str, message: str
) -> None:
    path = _benefits(write, MANUAL_BENEFIT.replace("wards,", "first,"), row)

    error = _error(load_benefits, path)

    assert f", line 3, field '{field}': {message}" in str(error)


def test_a_duplicate_benefit_id_names_both_lines(write: Write) -> None:
    path = _benefits(write, MANUAL_BENEFIT, KPI_BENEFIT, MANUAL_BENEFIT)

    error = _error(load_benefits, path)

    assert ", line 4, field 'id': duplicate benefit id 'wards' (also on line 2)" in str(error)


def test_benefits_need_a_kpi_id_or_measure_column(write: Write) -> None:
    header = BENEFITS_HEADER.replace("kpi_id,measure,", "")
    path = _benefits(write, header=header)

    error = _error(load_benefits, path)

    assert "line 1, field 'kpi_id': the header needs a 'kpi_id' or a 'measure' column" in str(
        error)


def test_check_benefits_names_unknown_initiatives_and_kpis(write: Write) -> None:
    path = _benefits(write, MANUAL_BENEFIT, KPI_BENEFIT)
    benefits = load_benefits(path)
    engine = load_initiatives(_initiatives(write, ENGINE))
    check_benefits(benefits, engine, ["change_success_rate"])
    check_benefits(benefits, None, None)  # no initiatives file, no catalog check

    other = [_initiative(id="engines")]
    with pytest.raises(InputError) as info:
        check_benefits(benefits, other, None)
    assert info.value.exit_code == 2
    assert str(info.value) == (
        f"{path}, line 2, field 'initiative_id': unknown initiative 'engine' (did you mean "
        "'engines'?); it must be an id in the initiatives file"
    )
    with pytest.raises(InputError) as info:
        check_benefits(benefits, engine, ["change_lead_time"])
    assert str(info.value).startswith(
        f"{path}, line 3, field 'kpi_id': unknown KPI 'change_success_rate'"
    )


# --------------------------------------------------------------------------------------------
# Benefit plan and at-risk rule
# --------------------------------------------------------------------------------------------


def test_planned_path_is_linear_from_baseline_to_target() -> None:
    benefit = _benefit(baseline=10, target=30, baseline_date=dt.date(2026, 1, 1),
                       target_date=dt.date(2026, 1, 11))

    assert planned_fraction(benefit, dt.date(2025, 12, 1)) == 0
    assert planned_fraction(benefit, dt.date(2026, 1, 1)) == 0
    assert planned_fraction(benefit, dt.date(2026, 1, 6)) == 0.5
    assert planned_value(benefit, dt.date(2026, 1, 6)) == 20
    assert planned_value(benefit, dt.date(2026, 1, 11)) == 30
    assert planned_value(benefit, dt.date(2027, 1, 1)) == 30


def test_planned_path_and_progress_for_a_falling_measure() -> None:
    benefit = _benefit(baseline=40, target=20, baseline_date=dt.date(2026, 1, 1),
                       target_date=dt.date(2026, 1, 11))

    assert planned_value(benefit, dt.date(2026, 1, 6)) == 30
    assert realized_fraction(benefit, 25) == 0.75
    assert realized_fraction(benefit, 44) == pytest.approx(-0.2)
    assert not benefit.higher_is_better


def test_at_risk_rule() -> None:
    assert not is_at_risk(0.5, 0.45)  # a tenth short of the plan to date is within tolerance
    assert is_at_risk(0.5, 0.44)
    assert is_at_risk(0.0, -0.01)  # moving the wrong way
    assert not is_at_risk(0.2, 0.9)
    assert not is_at_risk(0.005, 0.0)  # the plan's first days: a shortfall of noise


def test_half_the_planned_value_is_never_on_track() -> None:
    """"Planned now £58k, realized £29k → On track (8% of the way)": 8 points behind a
    back-loaded plan was inside a ten-point tolerance."""
    assert is_at_risk(0.16, 0.08)


@pytest.mark.parametrize(
    ("realized", "state"),
    [(None, "no_data"), (100, "achieved"), (120, "achieved"), (46, "on_track"),
     (45, "on_track"), (44, "at_risk"), (-1, "at_risk")],
)
def test_assess_a_described_benefit(realized: float | None, state: str) -> None:
    # Half-way through the plan on 2026-01-06; realized values are read on their own date.
    benefit = _benefit(baseline=0, target=100, baseline_date=dt.date(2026, 1, 1),
                       target_date=dt.date(2026, 1, 11), realized=realized,
                       realized_date=None if realized is None else dt.date(2026, 1, 6))

    assessment = assess_benefit(benefit, dt.date(2026, 3, 1))

    assert assessment.state == state
    if realized is not None:
        assert assessment.as_of == dt.date(2026, 1, 6)
        assert assessment.planned_value == 50
        assert assessment.gap_points == pytest.approx(50 - realized)
    else:
        assert assessment.gap_points is None


def test_assess_a_kpi_benefit_uses_the_kpi_value_and_its_date() -> None:
    benefit = _benefit(kpi_id="mttr_p1", measure="", baseline=4, target=3,
                       baseline_date=dt.date(2026, 1, 1), target_date=dt.date(2026, 1, 11))

    assert assess_benefit(benefit, dt.date(2026, 1, 6)).state == "no_data"
    assert assess_benefit(benefit, dt.date(2026, 1, 6), 3.5).state == "on_track"
    assert assess_benefit(benefit, dt.date(2026, 1, 6), 4.2).state == "at_risk"  # wrong way
    assert assess_benefit(benefit, dt.date(2026, 1, 11), 3.5).state == "at_risk"  # 100 vs 50
    early = assess_benefit(benefit, dt.date(2026, 1, 11), 3.5, dt.date(2026, 1, 6))
    assert (early.state, early.as_of) == ("on_track", dt.date(2026, 1, 6))
    assert assess_benefit(benefit, dt.date(2025, 12, 1), 3.8).state == "not_started"


# --------------------------------------------------------------------------------------------
# Params and the demo portfolio
# --------------------------------------------------------------------------------------------


def test_params_resolve_the_optional_portfolio_files(write: Write, tmp_path: Path) -> None:
    write("kpis.yaml", "kpis: []\n")
    write("m.csv", "kpi_id,period_end,value\n")
    for name in ("inputs/initiatives.csv", "inputs/benefits.csv", "inputs/spend.xlsx",
                 "inputs/priorities.yaml"):
        write(name, "")
    params = """
    organisation: Northwind IT
    catalog: kpis.yaml
    measurements: m.csv
    initiatives: inputs/initiatives.csv
    benefits: inputs/benefits.csv
    spend: inputs/spend.xlsx
    priorities: inputs/priorities.yaml
    """
    values = load_params(write("params.yaml", params)).values

    assert values.initiatives == (tmp_path / "inputs" / "initiatives.csv").resolve()
    assert values.priorities == (tmp_path / "inputs" / "priorities.yaml").resolve()
    bare = load_params(write("bare.yaml", "\n".join(params.splitlines()[:4]))).values
    assert (bare.initiatives, bare.benefits, bare.spend, bare.priorities) == (None,) * 4

    missing = write("missing.yaml", params.replace("inputs/spend.xlsx", "spend.xlsx"))
    with pytest.raises(InputError) as info:
        load_params(missing)
    assert info.value.field == "spend"
    assert "line 6, field 'spend': file not found" in str(info.value)

    # A path that is there but is no file (a folder, a device) is not "not found".
    for other in ("inputs", "/dev/null"):
        odd = write("odd.yaml", params.replace("inputs/spend.xlsx", other))
        with pytest.raises(InputError) as info:
            load_params(odd)
        assert "field 'spend': not a file (a folder, a device or a pipe)" in str(info.value)


def test_the_demo_portfolio_is_valid_and_tells_the_story() -> None:
    kpi_ids = [kpi.id for kpi in load_catalog(DEMO / "kpis.yaml").kpis]
    initiatives = load_initiatives(DEMO / "initiatives.csv")
    benefits = load_benefits(DEMO / "benefits.csv")
    check_initiatives(initiatives, kpi_ids)
    check_benefits(benefits, initiatives, kpi_ids)
    end = dt.date(2026, 11, 20)

    assert 8 <= len(initiatives) <= 10
    states = [i.schedule_state_on(end) for i in initiatives]
    assert {"on_time", "late", "at_risk"} <= set(states)
    engine = next(i for i in initiatives if i.id == "integration_engine_upgrade")
    assert (engine.status, engine.schedule_state_on(end)) == ("at_risk", "late")
    assert 8 <= len(benefits) <= 12
    assert sum(b.kpi_id is not None for b in benefits) * 2 >= len(benefits) - 1
    described = {b.id: assess_benefit(b, end).state for b in benefits if b.kpi_id is None}
    assert described["faster_ehr_login"] == "achieved"
    assert described["network_saving"] == "at_risk"  # £29k realized of £58k planned by now
    assert set(described.values()) <= {"achieved", "on_track", "at_risk"}
