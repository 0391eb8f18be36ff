"""Placeholders in analysts' narrative: ``{{ kpi.<id>.<field> }}`` and ``{{ period.<field> }}``.

A closed grammar: anything else between ``{{`` and ``}}`` is an error naming the cell, so a
placeholder can never reach Python objects. Placeholders belong to narrative only; catalog,
store and minutes text is shown literally.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable

from reviewkit.errors import ReviewkitError, quoted
from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.formatting import STATUS_WORDS, directional, format_date, isolated
from reviewkit.narrative.drafts import literal

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
_KPI_FIELD = re.compile(r"^kpi\.([a-z0-9_]+)\.([a-z_]+)$")
KPI_FIELDS = ("value", "target", "amber", "status", "status_word", "trend", "change", "variance",
              "streak", "owner", "name", "unit")
PERIOD_FIELDS = ("label", "start", "end", "long_label")


class NarrativeError(ReviewkitError):
    """Narrative text cannot be used as written (unknown placeholder, conflicting edits)."""

    exit_code = 2


def _kpi_value(result: KpiResult, name: str, pack: PackEvaluation) -> str:
    kpi, current = result.kpi, result.current
    figures = pack.figures.shown(kpi.id)
    values: dict[str, str] = {
        "value": figures.value,
        "target": figures.target,
        "amber": figures.amber,
        "status": current.status,
        "status_word": STATUS_WORDS[current.status],
        "trend": result.trend,
        "change": figures.change,
        "variance": figures.variance,
        "streak": str(result.streak),
        "owner": kpi.owner,
        "name": kpi.name,
        "unit": kpi.unit,
    }
    return values[name]


def placeholders(text: str) -> list[str]:
    return [match.strip() for match in _PLACEHOLDER.findall(text)]


def check_placeholders(text: str, pack: PackEvaluation, key: str) -> set[str]:
    """The KPI ids a text refers to; an unknown placeholder is an error naming it and the cell."""
    known = {result.kpi.id for result in pack.results}
    kpis: set[str] = set()
    for name in placeholders(text):
        match = _KPI_FIELD.match(name)
        if match and match[1] in known and match[2] in KPI_FIELDS:
            kpis.add(match[1])
            continue
        if name.startswith("period.") and name.removeprefix("period.") in PERIOD_FIELDS:
            continue
        hint = (f"KPI '{match[1]}' is not in this pack" if match and match[1] not in known
                else f"use kpi.<id>.<{'|'.join(KPI_FIELDS)}> or period.<{'|'.join(PERIOD_FIELDS)}>")
        raise NarrativeError(f"narrative cell '{key}': unknown placeholder "
                             f"{quoted(f'{{{{ {name} }}}}')}; {hint}")
    return kpis


def kpis_named(text: str, pack: PackEvaluation) -> set[str]:
    """The KPIs of this pack a text's placeholders name, passing over any placeholder
    :func:`check_placeholders` refuses (text kept as written until it is fixed)."""
    known = {result.kpi.id for result in pack.results}
    return {match[1] for name in placeholders(text)
            if (match := _KPI_FIELD.match(name)) and match[1] in known and match[2] in KPI_FIELDS}


def fill(text: str, pack: PackEvaluation) -> str:
    """Replace placeholders with this pack's numbers (checked beforehand), each as Markdown
    that shows it as written: a KPI's name or owner is data, not Markdown of the analyst's."""
    return _filled(text, pack, literal)


def fill_rendered(text: str, pack: PackEvaluation, render: Callable[[str], str]) -> str:
    """``text`` rendered to HTML by ``render``, its placeholders filled afterwards, each value
    as HTML text. A value filled after rendering needs no Markdown escaping, so it reads as
    written inside code too ("R&D", never "R\\&D"). Each placeholder of the analyst's is held
    by a private-use token while the Markdown renders; braces in catalog text quoted by a draft
    stay text."""
    found: list[str] = []

    def hold(match: re.Match[str]) -> str:
        found.append(match[0])
        return f"{_HOLD}{len(found) - 1}{_HOLD}"

    if _HOLD in text:  # cannot hold them apart: fill the Markdown, as quoted text
        return render(fill(text, pack))
    page = render(_PLACEHOLDER.sub(hold, text))
    values = [_filled(placeholder, pack, functools.partial(html.escape, quote=True),
                      alone=directional(text)) for placeholder in found]
    return re.sub(f"{_HOLD}(\\d+){_HOLD}", lambda match: values[int(match[1])], page)


#: A private-use character (no font draws it, no Markdown reads it) that holds a placeholder's
#: place while the narrative renders.
_HOLD = "\ue000"


def _filled(text: str, pack: PackEvaluation, quote: Callable[[str], str], *,
            alone: bool | None = None) -> str:
    results = {result.kpi.id: result for result in pack.results}
    period = pack.period
    # In text that sets a direction of its own (a right-to-left override), each value is an
    # isolate: "€324.7k" never prints backwards.
    alone = directional(text) if alone is None else alone

    def replace(match: re.Match[str]) -> str:
        name = match[1].strip()
        kpi_match = _KPI_FIELD.match(name)
        if kpi_match and kpi_match[1] in results and kpi_match[2] in KPI_FIELDS:
            value = _kpi_value(results[kpi_match[1]], kpi_match[2], pack)
            return isolated(quote(value), always=alone)
        attr = name.removeprefix("period.")
        if name.startswith("period.") and attr in PERIOD_FIELDS:
            found = getattr(period, attr)
            value = format_date(found) if hasattr(found, "isoformat") else str(found)
            return isolated(quote(value), always=alone)
        # Only the closed grammar is ever filled; anything else was refused when it was saved.
        raise NarrativeError(f"unknown placeholder '{{{{ {name} }}}}'")

    return _PLACEHOLDER.sub(replace, text)
