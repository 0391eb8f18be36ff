"""Reissues: what a pack published again says differently, and the earlier versions it keeps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reviewkit.layout.view import Difference
from reviewkit.run import publish
from reviewkit.run.reissue import differences, published_versions
from reviewkit.store.records import PackVersion, summary_snapshot


def _snapshot(value: float = 88.1, status: str = "red", text: str = "Releases fail.",
              due: str = "27 Nov 2026", extra_action: bool = False) -> dict[str, Any]:
    actions = [{"id": "A-0005", "title": "Root-cause the failures", "owner": "Change Manager",
                "due": due, "status": "open"}]
    if extra_action:
        actions.append({"id": "A-0009", "title": "Freeze releases", "owner": "CIO",
                        "due": "4 Dec 2026", "status": "open"})
    return {
        "kpis": [{"id": "change_success_rate", "name": "Change success rate", "value": value,
                  "value_text": f"{value}%", "status": status},
                 {"id": "p1_incidents", "name": "P1 incidents", "value": 1, "value_text": "1",
                  "status": "green"}],
        "narrative": [{"key": "summary", "title": "Summary", "text": text}],
        "actions": actions,
    }


def test_a_pack_that_says_the_same_has_no_differences() -> None:
    assert differences(_snapshot(), _snapshot()) == ()


def test_differences_list_each_value_status_narrative_and_action_that_changed() -> None:
    before = _snapshot()
    after = _snapshot(value=91.5, status="amber", text="Releases recover.", due="4 Dec 2026",
                      extra_action=True)
    assert differences(before, after) == (
        Difference("value", "Change success rate", "88.1%", "91.5%"),
        Difference("status", "Change success rate", "Off track", "At risk"),
        Difference("narrative", "Summary", "Releases fail.", "Releases recover."),
        Difference("action", "A-0005 Root-cause the failures", "due 27 Nov 2026",
                   "due 4 Dec 2026"),
        Difference("action", "A-0009 Freeze releases", "not in the log", "open, due 4 Dec 2026"),
    )


def test_a_value_changed_in_a_digit_the_page_does_not_show_still_counts() -> None:
    found = differences(_snapshot(value=88.1), _snapshot(value=88.1000001))
    assert [d.kind for d in found] == ["value"]


def test_a_kpi_or_action_dropped_from_the_pack_is_listed_as_gone() -> None:
    before = _snapshot(extra_action=True)
    after = _snapshot()
    after["kpis"] = after["kpis"][:1]
    assert differences(before, after) == (
        Difference("value", "P1 incidents", "1", "not in the pack"),
        Difference("action", "A-0009 Freeze releases", "open, due 4 Dec 2026", "not in the log"),
    )


def _pack(folder: Path, state: str, version: int, marker: str) -> None:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"state": state, "version": version}))
    (folder / "pack.pdf").write_text(marker)


def test_commit_over_a_published_pack_keeps_it_under_versions(tmp_path: Path) -> None:
    final = tmp_path / "weekly" / "2026-11-20"
    _pack(final, "final", 1, "version 1")
    staging = publish.staging_dir(final)
    (staging / "pack.pdf").write_text("version 2")
    (staging / "manifest.json").write_text(json.dumps({"state": "final", "version": 2}))
    publish.commit(staging, final)
    assert (final / "pack.pdf").read_text() == "version 2"
    assert (final / "versions" / "1" / "pack.pdf").read_text() == "version 1"
    assert not (final / "versions" / "1" / "versions").exists()


def test_commit_over_a_draft_keeps_the_versions_it_carries_and_not_the_draft(
    tmp_path: Path,
) -> None:
    final = tmp_path / "weekly" / "2026-11-20"
    _pack(final, "draft", 2, "draft of version 2")
    _pack(final / "versions" / "1", "final", 1, "version 1")
    staging = publish.staging_dir(final)
    (staging / "pack.pdf").write_text("another draft")
    publish.commit(staging, final)
    assert sorted(p.name for p in (final / "versions").iterdir()) == ["1"]
    assert (final / "versions" / "1" / "pack.pdf").read_text() == "version 1"


def test_a_pack_from_before_versions_were_counted_is_kept_as_version_1(tmp_path: Path) -> None:
    final = tmp_path / "weekly" / "2026-11-20"
    final.mkdir(parents=True)
    (final / "manifest.json").write_text(json.dumps({"state": "final"}))
    assert publish.published_version(final) == 1
    (final / "manifest.json").write_text("{not json")
    assert publish.published_version(final) is None


# -- versions continue when the store does not know the published one ------------------------

SUMMARY_V1 = {"cadence": "weekly", "label": "2026-11-20", "state": "final", "version": 1,
              "approver": "Dana Whitfield", "published_at": "2026-11-23T09:00:00+00:00",
              "generated_at": "2026-11-23T08:59:00+00:00",
              "kpis": [{"id": "change_success_rate", "name": "Change success rate",
                        "value": 88.1, "status": "red", "unit": "%"}]}


def test_a_snapshot_from_a_summary_compares_kpis_only() -> None:
    before = summary_snapshot(SUMMARY_V1)
    assert before == {"kpis": [{"id": "change_success_rate", "name": "Change success rate",
                                "value": 88.1, "status": "red"}]}
    before["kpis"][0]["value_text"] = "88.1%"
    after = _snapshot(value=91.5, status="amber", text="Anything", extra_action=True)
    assert differences(before, after) == (
        Difference("value", "Change success rate", "88.1%", "91.5%"),
        Difference("status", "Change success rate", "Off track", "At risk"),
        Difference("value", "P1 incidents", "not in the pack", "1"),
    )


def test_the_version_a_pack_folder_holds_counts_when_the_store_has_none(tmp_path: Path) -> None:
    folder = tmp_path / "weekly" / "2026-11-20"
    _pack(folder, "final", 1, "version 1")
    (folder / "summary.json").write_text(json.dumps(SUMMARY_V1), encoding="utf-8")
    (found,) = published_versions([], folder, "weekly", "2026-11-20", "")
    assert (found.version, found.approver, found.published_at) == (
        1, "Dana Whitfield", "2026-11-23T09:00:00+00:00")
    assert found.snapshot == summary_snapshot(SUMMARY_V1)
    recorded = [PackVersion("weekly", "2026-11-20", 1, "2026-11-23T09:00:00+00:00", "D", {})]
    assert published_versions(recorded, folder, "weekly", "2026-11-20", "") == recorded
    draft = tmp_path / "draft"
    _pack(draft, "draft", 2, "a draft")
    assert published_versions([], draft, "weekly", "2026-11-20", "") == []
    assert published_versions([], tmp_path / "nowhere", "weekly", "2026-11-20", "") == []


def test_a_reissue_of_a_version_known_from_its_summary_says_only_kpis_were_compared(
    demo_params: Path,
) -> None:
    from conftest import prepare_view

    from reviewkit.layout.view import Publication
    from reviewkit.run.reissue import reissue_of

    view = prepare_view("weekly", demo_params)
    kpi = view.evaluation.results[0]
    summary = {**SUMMARY_V1, "kpis": [{"id": kpi.kpi.id, "name": kpi.kpi.name,
                                       "value": kpi.value, "status": kpi.status}]}
    version = PackVersion("weekly", view.period.label, 1, "2026-11-23T09:00:00+00:00", "Dana",
                          summary_snapshot(summary))
    publication = reissue_of([version], view, Publication(state="final"))
    assert publication.version == 2
    assert publication.reissue is not None and publication.reissue.kpis_only
    # Every other KPI is new to that version; this one is unchanged.
    assert kpi.kpi.name not in {d.subject for d in publication.reissue.differences}
    assert {d.kind for d in publication.reissue.differences} == {"value"}
