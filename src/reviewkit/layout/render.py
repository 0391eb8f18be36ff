"""Jinja rendering of pack fragments: templates are files, values are escaped by Jinja."""

from __future__ import annotations

import functools
from typing import Any

import jinja2

from reviewkit import formatting, redact
from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.rollup import YearToDate
from reviewkit.formatting import STATUS_WORDS, Shown
from reviewkit.inputs.catalog import Kpi
from reviewkit.layout.figures import for_page, nobreak, shown_of, shown_ytd

REASON_WORDS = {
    "red": "Off track",
    "worsened": "Worsened",
    "no_data": "No data",
    "stale": "Stale data",
    "red_no_action": "Red, no action",
}


@functools.cache
def environment(extra_dirs: tuple[str, ...] = ()) -> jinja2.Environment:
    """The section templates' environment; ``extra_dirs`` are searched first (a cadence's own
    sections)."""
    own = jinja2.PackageLoader("reviewkit.layout", "templates/pack")
    loader: jinja2.BaseLoader = (
        jinja2.ChoiceLoader([jinja2.FileSystemLoader(list(extra_dirs)), own]) if extra_dirs
        else own
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        value=_value,
        change=_change,
        shown=_shown,
        shown_ytd=_shown_ytd,
        plural=formatting.plural,
        date=formatting.format_date,
        arrow=formatting.trend_arrow,
        status_word=lambda status: STATUS_WORDS.get(status, status),
        trend_word=lambda trend: formatting.TREND_WORDS.get(trend, trend),
        reason_word=lambda reason: REASON_WORDS.get(reason, reason.replace("_", " ")),
        redact=lambda value: redact.text(str(value)),
    )
    return env


def _value(value: float | None, kpi: Kpi, decimals: int | None = None) -> str:
    return nobreak(formatting.format_value(value, kpi, decimals=decimals))


def _change(change: float | None, kpi: Kpi, decimals: int | None = None) -> str:
    return nobreak(formatting.format_change(change, kpi, decimals=decimals))


def _shown(result: KpiResult) -> Shown:
    return for_page(shown_of(result))


def _shown_ytd(ytd: YearToDate, kpi: Kpi) -> Shown:
    return for_page(shown_ytd(ytd, kpi))


def render(template: str, extra_dirs: tuple[str, ...] = (), **values: Any) -> str:
    return environment(extra_dirs).get_template(template).render(**values)
