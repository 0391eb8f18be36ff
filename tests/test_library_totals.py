"""The library page's totals: per cadence and period, never summed across them."""

from __future__ import annotations

from reviewkit.run.library import LibraryPack, period_totals


def pack(cadence: str, label: str, unit: str, counts: dict[str, int],
         group: bool = False) -> LibraryPack:
    return LibraryPack(cadence=cadence, label=label, period_end=label[:10], title="t",
                       organisation="o", unit=unit, is_group=group, state="draft",
                       approver="", counts=counts, links={}, generated_at="")


def test_each_cadence_shows_its_newest_period_as_the_group_pack_counts_it() -> None:
    """The page said "227 On track · 69 At risk · 42 Off track" for the group and seven units
    of three cadences added up: every KPI counted up to 24 times."""
    packs = [
        pack("weekly", "2026-11-20", "", {"red": 3, "amber": 3, "green": 6}, group=True),
        pack("weekly", "2026-11-20", "North", {"red": 1, "amber": 2, "green": 9}),
        pack("weekly", "2026-11-20", "South", {"red": 2, "amber": 1, "green": 9}),
        pack("weekly", "2026-11-13", "", {"red": 9, "amber": 0, "green": 3}, group=True),
        pack("monthly", "2026-10", "North", {"red": 1}),
        pack("monthly", "2026-10", "South", {"red": 2}),
        pack("quarterly", "2026-Q4", "", {"green": 16}),
    ]
    totals = period_totals(packs)
    assert totals["weekly"].label == "2026-11-20"
    assert totals["weekly"].counts == {"red": 3, "amber": 3, "green": 6}
    assert totals["weekly"].source == "the group's pack"
    assert totals["monthly"].counts["red"] == 3 and totals["monthly"].source == "across 2 packs"
    assert totals["quarterly"].source == "its pack"
