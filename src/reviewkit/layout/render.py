"""Jinja rendering of pack fragments: templates are files, values are escaped by Jinja."""

from __future__ import annotations

import functools
from typing import Any

import jinja2

from reviewkit import formatting
from reviewkit.formatting import STATUS_WORDS

REASON_WORDS = {
    "red": "Off track",
    "worsened": "Worsened",
    "no_data": "No data",
    "stale": "Stale data",
    "red_no_action": "Red, no action",
}


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reviewkit.layout", "templates/pack"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        value=formatting.format_value,
        change=formatting.format_change,
        date=formatting.format_date,
        arrow=formatting.trend_arrow,
        status_word=lambda status: STATUS_WORDS.get(status, status),
        trend_word=lambda trend: formatting.TREND_WORDS.get(trend, trend),
        reason_word=lambda reason: REASON_WORDS.get(reason, reason.replace("_", " ")),
    )
    return env


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)
