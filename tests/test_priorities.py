"""Strategic priorities: YAML validation naming file, line and field; key-result progress in
both directions and weighted progress per priority."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO

from reviewkit.errors import InputError
from reviewkit.evaluation.figures import key_result_texts
from reviewkit.evaluation.priorities import (
    KeyResultProgress,
    expected_progress,
    key_result_progress,
    objective_progress,
    priority_progress,
    progress_from_value,
    weighted_progress,
)
from reviewkit.inputs.catalog import Kpi, load_catalog
from reviewkit.inputs.portfolio import check_initiatives, load_initiatives
from reviewkit.inputs.priorities import KeyResult, Objective, StrategicPriority, load_priorities
from reviewkit.layout.view import PackView

Write = Callable[[str, str], Path]
KPIS = ["critical_patch_compliance", "open_critical_vulns", "phishing_click_rate"]

VALID = """
priorities:
  - id: cyber_resilience
    title: Cyber resilience
    owner: CISO
    objectives:
      - id: close_the_doors
        text: Close the doors attackers use
        key_results:
          - text: Patch compliance at 98%
            kpi: critical_patch_compliance
            baseline: 93
            target: 98
            weight: 2
          - text: At most 5 open critical vulnerabilities
            kpi: open_critical_vulns
            baseline: 10
            target: 5
      - text: A workforce that spots phishing
        key_results:
          - text: Staff trained
            target: 95
            progress: 70
          - text: Simulations run
            baseline: 0
            target: 12
            current: 3
"""


def _error(path: Path, kpi_ids: list[str] = KPIS) -> InputError:
    with pytest.raises(InputError) as info:
        load_priorities(path, kpi_ids)
    assert info.value.exit_code == 2
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)
    return info.value


def _priority(*key_results: KeyResult) -> StrategicPriority:
    return StrategicPriority(
        id="p", title="P", owner="O",
        objectives=[Objective(text="O", key_results=list(key_results))],
    )


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def test_priorities_load_with_defaults_and_lines(write: Write) -> None:
    (priority,) = load_priorities(write("priorities.yaml", VALID), KPIS)

    assert (priority.id, priority.title, priority.owner) == (
        "cyber_resilience", "Cyber resilience", "CISO")
    doors, phishing = priority.objectives
    assert doors.id == "close_the_doors" and phishing.id is None
    patch, vulns = doors.key_results
    assert (patch.kpi, patch.baseline, patch.target, patch.weight) == (
        "critical_patch_compliance", 93.0, 98.0, 2.0)
    assert vulns.weight == 1.0
    assert patch.line == 9
    assert phishing.key_results[0].progress == 70
    assert phishing.key_results[1].current == 3
    assert priority.kpi_ids == ["critical_patch_compliance", "open_critical_vulns"]


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("            kpi: critical_patch_compliance\n",
         "            kpi: critical_patch_complience\n", 10, "kpi",
         "unknown KPI 'critical_patch_complience' (did you mean 'critical_patch_compliance'?)"),
        ("            baseline: 93\n", "", 9, "baseline", "names a KPI, so it needs a baseline"),
        ("            target: 98\n", "", 9, "target", "required field of key result 1 of "
         "objective 1 of priority 'cyber_resilience' is missing"),
        ("            target: 98\n", "            target: ninety\n", 12, "target",
         "'ninety' is not a number"),
        ("            target: 98\n", "            target: 1.0e+16\n", 12, "target",
         "1e+16 is beyond the largest figure reviewkit reads, 1e15"),
        ("            weight: 2\n", "            weight: 0\n", 13, "weight",
         "weight must be above 0"),
        ("            weight: 2\n", "            weight: yes\n", 13, "weight",
         "True is not a number"),
        ("            weight: 2\n", "            wieght: 2\n", 13, "wieght",
         "unknown key of key result 1 of objective 1 of priority 'cyber_resilience' "
         "(did you mean 'weight'?)"),
        ("            weight: 2\n", "            progress: 50\n", 13, "progress",
         "leave out 'progress' for a key result with a KPI"),
        ("            progress: 70\n", "            progress: 170\n", 22, "progress",
         "progress must be between 0 and 100"),
        ("            progress: 70\n", "", 20, "progress",
         "has no KPI, so give 'progress' (0-100), or 'baseline' and 'current'"),
        ("            baseline: 10\n", "            baseline: 5\n", 17, "target",
         "target equals the baseline (5)"),
        ("    owner: CISO\n", "", 2, "owner", "required field of priority 'cyber_resilience' is "
         "missing"),
        ("    owner: CISO\n", "    owners: CISO\n", 4, "owners", "(did you mean 'owner'?)"),
        ("  - id: cyber_resilience\n", "  - id: Cyber Resilience\n", 2, "id",
         "id 'Cyber Resilience' must use only lower-case letters"),
        ("        text: Close the doors attackers use\n", "", 6, "text",
         "required field of objective 1 of priority 'cyber_resilience' is missing"),
        ("      - text: A workforce that spots phishing\n        key_results:\n",
         "      - text: A workforce that spots phishing\n        key_results: []\n", 19,
         "key_results", "needs a non-empty 'key_results' list"),
    ],
)
def test_a_bad_priority_field_names_file_line_and_field(
    write: Write, old: str, new: str, line: int, field: str, message: str
) -> None:
    assert old in VALID
    text = VALID.replace(old, new, 1)
    if new.endswith("key_results: []\n"):
        text = text.split("      - text: A workforce")[0] + new
    path = write("priorities.yaml", text)

    error = _error(path)

    assert (error.line, error.field) == (line, field), str(error)
    assert message in str(error)


def test_more_than_five_priorities_is_an_error_naming_the_sixth(write: Write) -> None:
    block = VALID.split("priorities:\n")[1]
    items = [block.replace("cyber_resilience", f"p{n}").replace("close_the_doors", f"o{n}")
             for n in range(1, 7)]
    text = "priorities:\n" + "".join(items)
    path = write("priorities.yaml", text)
    sixth = text.splitlines().index("  - id: p6") + 1

    error = _error(path)

    assert error.line == sixth
    assert "6 priorities; at most 5 are allowed" in str(error)
    five = write("five.yaml", "priorities:\n" + "".join(items[:5]))
    assert len(load_priorities(five, KPIS)) == 5


def test_duplicate_ids_name_both_lines(write: Write) -> None:
    block = VALID.split("priorities:\n")[1]
    path = write("priorities.yaml", "priorities:\n" + block + block.replace(
        "close_the_doors", "other"))

    error = _error(path)

    assert "duplicate id 'cyber_resilience' (also on line 2)" in str(error)
    assert error.line == 27


def test_the_file_needs_a_priorities_list(write: Write) -> None:
    assert "needs a non-empty 'priorities' list" in str(
        _error(write("priorities.yaml", "priorities: []\n")))
    assert "unknown key (did you mean 'priorities'?)" in str(
        _error(write("priorities.yaml", "priority: []\n")))
    assert "not found" in str(_error(Path("no/such/priorities.yaml")))


# --------------------------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "target", "value", "progress"),
    [
        (90, 100, 95, 50.0),  # higher is better
        (90, 100, 100, 100.0),
        (90, 100, 104, 100.0),  # beyond the target: clipped
        (90, 100, 85, -50.0),  # the wrong way: negative, never floored at 0
        (10, 5, 6, 80.0),  # lower is better: falling is progress
        (10, 5, 12, -40.0),
        (10, 5, 2, 100.0),
        (5, 5, 5, 100.0),
        (5, 5, 6, 0.0),
    ],
)
def test_key_result_progress_from_a_kpi_value_in_both_directions(
    baseline: float, target: float, value: float, progress: float
) -> None:
    assert progress_from_value(baseline, target, value) == pytest.approx(progress)


def test_key_result_progress_sources() -> None:
    with_kpi = KeyResult(text="k", kpi="k1", baseline=10, target=5)
    manual = KeyResult(text="m", target=95, progress=70, current=66)
    from_current = KeyResult(text="c", baseline=0, target=12, current=3)

    assert key_result_progress(with_kpi, {"k1": 7.5}) == 50
    assert key_result_progress(with_kpi, {"k1": None}) is None
    assert key_result_progress(with_kpi, {}) is None
    assert key_result_progress(manual, {}) == 70  # explicit progress wins over current
    assert key_result_progress(from_current, {}) == 25


def test_weighted_progress_leaves_out_unknown_parts() -> None:
    assert weighted_progress([(2, 50), (1, 80)]) == 60
    assert weighted_progress([(2, 50), (1, None)]) == 50
    assert weighted_progress([(1, None)]) is None
    assert weighted_progress([]) is None


def test_priority_progress_weights_all_key_results_of_the_priority(write: Write) -> None:
    (priority,) = load_priorities(write("priorities.yaml", VALID), KPIS)
    values = {"critical_patch_compliance": 95.5, "open_critical_vulns": 12.0}

    progress = priority_progress(priority, values)

    # Patch 50% (weight 2), vulns -40% (the wrong way), training 70%, simulations 25%:
    # (100-40+70+25)/5.
    assert [kr.progress for kr in progress.key_results] == [50, -40, 70, 25]
    assert progress.progress == pytest.approx(31.0)
    assert progress.unknown == 0
    assert progress.key_results[0].value == 95.5
    assert progress.key_results[3].value == 3
    assert objective_progress(priority.objectives[0], values) == pytest.approx(60 / 3)

    partial = priority_progress(priority, {"critical_patch_compliance": 98})
    assert partial.unknown == 1
    assert partial.progress == pytest.approx((2 * 100 + 70 + 25) / 4)


def test_priority_progress_is_none_without_any_value() -> None:
    priority = _priority(KeyResult(text="k", kpi="k1", baseline=1, target=2))

    assert priority_progress(priority, {}).progress is None


# --------------------------------------------------------------------------------------------
# The demo priorities
# --------------------------------------------------------------------------------------------


def test_the_demo_priorities_are_valid_and_link_to_the_catalog_and_initiatives() -> None:
    demo = REPO / "data" / "demo"
    kpi_ids = [kpi.id for kpi in load_catalog(demo / "kpis.yaml").kpis]

    priorities = load_priorities(demo / "priorities.yaml", kpi_ids)

    assert len(priorities) == 4
    for priority in priorities:
        assert 1 <= len(priority.objectives) <= 2
        assert all(2 <= len(o.key_results) <= 3 for o in priority.objectives)
    key_results = [kr for p in priorities for o in p.objectives for kr in o.key_results]
    assert any(kr.kpi for kr in key_results)
    assert any(kr.kpi is None and kr.progress is not None for kr in key_results)
    check_initiatives(load_initiatives(demo / "initiatives.csv"), kpi_ids,
                      [p.id for p in priorities])


# -- key results in their own grain, with the progress expected by now ---------------------------

def test_a_key_result_on_a_summed_kpi_reads_it_per_its_own_cadence(
        lumen_quarterly: PackView) -> None:
    """"Complaints under 40 a month" against a quarter to date (105 in 8 of Q4's 13 weeks) read
    60 → 105 → 40, 0%; a monthly rate it is about 57, 15% of the way."""
    priorities = lumen_quarterly.strategy.priorities
    assert priorities is not None
    (_, progress), = priorities
    complaints = progress.key_results[0]
    assert complaints.value == pytest.approx(105 / (8 / 13) * 30.44 / 92)
    assert complaints.note == "a month, pro rata over Q4 2026 to date"
    assert complaints.progress == pytest.approx(100 * (complaints.value - 60) / (40 - 60))


def test_the_progress_expected_by_now_is_the_share_of_the_time_gone(
        lumen_quarterly: PackView) -> None:
    priorities = lumen_quarterly.strategy.priorities
    assert priorities is not None
    (_, progress), = priorities
    gone = 100 * (dt.date(2026, 11, 20) - dt.date(2026, 7, 1)).days / (
        dt.date(2027, 6, 30) - dt.date(2026, 7, 1)).days
    assert [kr.expected for kr in progress.key_results] == [pytest.approx(gone)] * 2
    assert progress.expected == pytest.approx(gone)
    assert expected_progress(None, dt.date(2027, 1, 1), dt.date(2026, 1, 1)) is None


def test_a_key_result_that_moved_the_wrong_way_drags_its_priority_but_not_below_minus_100(
) -> None:
    assert weighted_progress([(1, -740.0), (1, 60.0)]) == pytest.approx(-20.0)


def test_a_key_results_level_prints_apart_from_its_kpis_target(
        make_kpi: Callable[..., Kpi]) -> None:
    """On-time delivery printed "NOW 94.0%" where the scorecard printed 93.96% against its
    94.00% target (at risk)."""
    kpi = make_kpi(target=94.0, amber=90.0, unit="%")
    kr = KeyResultProgress(objective_id=None, objective="o", text="On time at 96%", kpi=kpi.id,
                           baseline=92.0, target=96.0, value=93.96, weight=1, progress=49.0)
    assert key_result_texts(kr, kpi).value == "93.96%"
