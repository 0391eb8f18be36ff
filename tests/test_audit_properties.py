"""Any organisation's packs agree with themselves: Hypothesis makes organisations (catalogs of
summed, averaged and last-value KPIs, units, targets that change, gaps, data that starts part
way through a period, periods still in progress) and every pack of every cadence is laid out in
this process and audited: each figure its page prints is its figure, each alternative text is
written from its figures, no sentence contradicts a status, and no identity is stated twice
with two values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pack_pages import document_of, page_of

from reviewkit.outputs.audit import audit, read_page

UNITS = ("north", "south", "east")
NAMES = ("Availability", "Incidents raised", "Restore time", "Spend run-rate",
         "Satisfaction score", "Backlog age")
UNIT_OF_MEASURE = {"mean": ("%", "h", "score"), "sum": ("count", "£k"), "last": ("%", "count")}


@dataclass(frozen=True)
class Organisation:
    kpis: list[dict[str, object]]
    rows: list[tuple[str, dt.date, float | None, float | None, str]]
    units: tuple[str, ...]
    today: dt.date
    period_end: dt.date | None


@st.composite
def organisations(draw: st.DrawFn) -> Organisation:
    count = draw(st.integers(1, 4))
    units = draw(st.sampled_from([(), UNITS[:2], UNITS]))
    kpis: list[dict[str, object]] = []
    for index in range(count):
        aggregation = draw(st.sampled_from(["mean", "sum", "last"]))
        higher = draw(st.booleans())
        base = draw(st.sampled_from([5.0, 40.0, 95.0, 99.5]))
        band = base * draw(st.sampled_from([0.02, 0.1, 0.3]))
        amber = base - band if higher else base + band
        target: object = base
        if aggregation == "sum":  # a sum needs a target for each cadence's length
            target = {"weekly": base, "monthly": round(base * 4.3, 1),
                      "quarterly": round(base * 13, 1)}
            amber = None if draw(st.booleans()) else amber
        kpi: dict[str, object] = {
            "id": f"k{index}", "name": NAMES[index], "perspective": ["Service", "Cost"][index % 2],
            "direction": "higher_is_better" if higher else "lower_is_better",
            "target": target, "owner": f"Owner {index}",
            "cadences": ["weekly", "monthly", "quarterly"],
            "unit": draw(st.sampled_from(UNIT_OF_MEASURE[aggregation])),
            "aggregation": aggregation, "headline": index < 2,
        }
        if amber is not None and not isinstance(target, dict):
            kpi["amber"] = amber
        if units and aggregation == "mean" and draw(st.booleans()):
            kpi["rollup"] = draw(st.sampled_from(["mean", "min", "max"]))
        kpis.append(kpi)
    # Data from some day of a week in 2026 (a partial first month and quarter) on Fridays.
    start = dt.date(2026, 1, 2) + dt.timedelta(weeks=draw(st.integers(0, 30)))
    weeks = draw(st.integers(3, 40))
    rows: list[tuple[str, dt.date, float | None, float | None, str]] = []
    for kpi in kpis:
        level = draw(st.floats(0.5, 1.5))
        drift = draw(st.floats(-0.02, 0.02))
        gaps = draw(st.sets(st.integers(1, weeks - 2), max_size=3))  # inside the data
        moved = draw(st.one_of(st.none(), st.integers(1, weeks - 1)))  # the target changes
        goal = kpi["target"]
        base = float(goal["weekly"] if isinstance(goal, dict) else goal)  # type: ignore[index, arg-type]
        for week in range(weeks):
            if week in gaps:
                continue
            day = start + dt.timedelta(weeks=week)
            value = round(max(0.0, base * (level + drift * week)), 1)
            if kpi["unit"] == "count":
                value = float(round(value))
            if kpi["unit"] == "%":
                value = min(value, 100.0)
            override = round(base * 1.05, 1) if moved is not None and week >= moved else None
            for unit in units or ("",):
                rows.append((str(kpi["id"]), day, None if week == weeks - 2 and unit
                             == "south" else value, override, unit))
    last = start + dt.timedelta(weeks=weeks - 1)
    today = last + dt.timedelta(days=draw(st.integers(0, 40)))
    period_end = last if draw(st.booleans()) else None  # a period in progress, or the latest
    return Organisation(kpis, rows, units, today, period_end)


def _write(organisation: Organisation, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kpis.yaml").write_text(yaml.safe_dump({"kpis": organisation.kpis}),
                                      encoding="utf-8")
    lines = ["kpi_id,period_end,value,target,segment"]
    lines += [f"{kpi},{day.isoformat()},{'' if value is None else value},"
              f"{'' if target is None else target},{unit}"
              for kpi, day, value, target, unit in organisation.rows]
    (folder / "measurements.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    params: dict[str, object] = {"organisation": "Hypothetical Ltd", "catalog": "kpis.yaml",
                                 "measurements": "measurements.csv"}
    if organisation.period_end is not None:
        params["period_end"] = organisation.period_end.isoformat()
    if organisation.units:
        params["units"] = [{"id": unit, "segment": unit, "name": unit.title()}
                           for unit in organisation.units]
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


@pytest.mark.parametrize("cadence", ["weekly", "monthly", "quarterly"])
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(organisation=organisations())
def test_any_organisations_pack_agrees_with_itself(
    tmp_path: Path, cadence: str, organisation: Organisation
) -> None:
    folder = tmp_path / f"org-{abs(hash(repr(organisation))) % 10**8}"
    params = _write(organisation, folder)
    for unit in (None, *(("group", organisation.units[0]) if organisation.units else ())):
        document = document_of(cadence, params, today=organisation.today, unit=unit)
        page = page_of(document)
        findings = [finding.describe() for finding in audit(document, page)]
        assert findings == [], (cadence, unit)
        # One value and one status per KPI and period on the page, as its figures say.
        stated: dict[str, set[str]] = {}
        for figure in read_page(page).figures:
            stated.setdefault(figure.identity, set()).add(" ".join(figure.text.split()).lower())
        assert all(len(texts) == 1 for texts in stated.values())
        assert document.figures.conflicts == ()
