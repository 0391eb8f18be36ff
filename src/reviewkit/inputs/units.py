"""Units: the segments of the measurements that each get a pack of their own, under the group.

A params file names its units (``units: all``, or a list with ids, display names and owners);
each is a ``segment`` value of the measurements. A unit's pack reads only its rows; the group
pack rolls the units up with each KPI's ``rollup`` rule.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from reviewkit.errors import InputError, quoted
from reviewkit.inputs.measurements import Measurements, Observation
from reviewkit.inputs.params import GROUP_FOLDER, UNIT_ID, LoadedParams


@dataclass(frozen=True)
class Unit:
    """A unit with a pack of its own: its id (folder and store key), its segment in the
    measurements, the name its pack shows and who answers for it."""

    id: str
    segment: str
    name: str
    owner: str = ""


#: Latin letters that Unicode does not decompose into a plain letter and a mark.
_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d",
                          "ð": "d", "þ": "th", "\u0131": "i", "ŀ": "l", "ħ": "h"})


def slug(text: str) -> str:
    """A unit id made from a segment value, its letters without their accents: 'North General
    (site 2)' → 'north-general-site-2', 'Ünit Três' → 'unit-tres', 'Søndre Straße' →
    'sondre-strasse'."""
    plain = unicodedata.normalize("NFKD", text.lower().translate(_LETTERS))
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:64].strip("-")


def segments_of(measurements: Measurements) -> list[str]:
    """Every non-empty segment value in the measurements, sorted."""
    return sorted({obs.segment for rows in measurements.series.values() for obs in rows}
                  - {""})


def resolve_units(params: LoadedParams, measurements: Measurements, *,
                  every_segment: bool = False) -> tuple[Unit, ...]:
    """The units of a pack definition: the params file's list, or every segment in the data
    (``units: all``, or ``every_segment`` when the params file names none). Empty: no units."""
    spec = params.values.units
    if spec is None and not every_segment:
        return ()
    if isinstance(spec, list):
        listed = tuple(Unit(item.id, item.segment or item.id, item.name or item.segment or item.id,
                           item.owner or "") for item in spec)
        present = set(segments_of(measurements))
        for unit in listed:
            if unit.segment not in present:
                raise InputError(
                    params.path,
                    f"unit '{unit.id}': no measurement row has the segment {unit.segment!r}; "
                    f"segments in {measurements.path.name}: "
                    f"{', '.join(sorted(present)) or 'none'}",
                    field="units", line=_line(params, "units"),
                )
        return listed
    segments = segments_of(measurements)
    if not segments:
        raise InputError(measurements.path, "no row has a segment, so there are no units; fill "
                         "the 'segment' column or drop 'units' from the params file",
                         field="segment")
    units: list[Unit] = []
    seen: dict[str, str] = {}
    for segment in segments:
        unit_id = slug(segment)
        if not UNIT_ID.fullmatch(unit_id) or unit_id == GROUP_FOLDER or unit_id in seen:
            if unit_id in seen:
                why = f", as does {quoted(seen[unit_id])}"
            elif unit_id == GROUP_FOLDER:
                why = ", which names the group pack's folder"
            else:
                why = (" (an id keeps only the segment's letters a-z and digits, with '-' "
                       "between them), which is no unit id")
            raise InputError(
                params.path,
                f"the segment {quoted(segment)} makes the unit id {unit_id!r}{why}; list the "
                "units with an id each (units: [{id: ..., segment: ...}])",
                field="units", line=_line(params, "units"),
            )
        seen[unit_id] = segment
        units.append(Unit(unit_id, segment, segment))
    return tuple(units)


def _line(params: LoadedParams, key: str) -> int | None:
    return params.lines.get(key)


def rows_of(series: dict[str, list[Observation]],
            segments: set[str]) -> dict[str, list[Observation]]:
    """The series with only the rows of ``segments``; KPIs left without rows are dropped."""
    kept = {kpi_id: [obs for obs in rows if obs.segment in segments]
            for kpi_id, rows in series.items()}
    return {kpi_id: rows for kpi_id, rows in kept.items() if rows}


def group_rows(measurements: Measurements, units: tuple[Unit, ...],
               own_figures: frozenset[str] = frozenset()) -> dict[str, list[Observation]]:
    """What the group pack reads: its units' rows, and the group's own rows (no segment) for
    KPIs no unit reports. A KPI with both is an error (its group figure would be ambiguous),
    unless it is one of ``own_figures`` (``rollup: own``): its group figure is its own rows, and
    its units' rows are kept for the units' figures."""
    segments = {unit.segment for unit in units}
    series: dict[str, list[Observation]] = {}
    for kpi_id, rows in measurements.series.items():
        own = [obs for obs in rows if obs.segment == ""]
        of_units = [obs for obs in rows if obs.segment in segments]
        if own and of_units and kpi_id not in own_figures:
            raise InputError(
                measurements.path,
                f"KPI '{kpi_id}' has rows for units and rows without a segment; the group pack "
                "rolls the units up, so give the group's own rows only for KPIs no unit reports, "
                "or give the KPI rollup: own to take the group's figure from its own rows",
                line=own[0].line, field="segment",
            )
        if own or of_units:
            series[kpi_id] = sorted([*own, *of_units], key=lambda obs: (obs.period_end,
                                                                       obs.segment))
    return series
