"""Jinja rendering of pack fragments: templates are files, values are escaped by Jinja."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import pickle
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from reviewkit import _speedups, formatting, redact
from reviewkit.evaluation.evaluate import KpiResult
from reviewkit.evaluation.priorities import FLOOR_IN_PRIORITY
from reviewkit.evaluation.rollup import YearToDate
from reviewkit.formatting import NBSP, STATUS_SHAPES, STATUS_WORDS, Shown, shown
from reviewkit.inputs.catalog import Kpi
from reviewkit.layout.figures import (
    figure_for_page,
    for_page,
    name_for_page,
    shown_of,
)

REASON_WORDS = {
    "red": "Off track",
    "worsened": "Worsened",
    "no_data": "No data",
    "stale": "Stale data",
    "red_no_action": "Red, no action",
}


@functools.cache
def environment(extra_dirs: tuple[str, ...], /) -> jinja2.Environment:
    """The section templates' environment; ``extra_dirs`` are searched first (a cadence's own
    sections). Always passed, and by position: the cache then holds one environment per
    folder list, and the kernel's warm-up compiles into the one the sections render with."""
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
        finalize=formatting.text_for_page,
    )
    if _speedups.enabled():
        # Compiled templates kept between processes (Jinja's own per-user cache folder, keyed
        # by each template's source and these settings): every pack's kernel otherwise
        # compiles all of them again.
        env.bytecode_cache = _compiled_templates(env)
    env.filters.update(
        value=_value,
        change=_change,
        shown=_shown,
        shown_ytd=_shown_ytd,
        plural=formatting.plural,
        date=_date,
        timestamp=formatting.format_timestamp,
        name=name_for_page,
        percent=formatting.percent,
        signed=formatting.signed,
        period_words=_period_words,
        review_words=formatting.review_words,
        arrow=formatting.trend_arrow,
        status_word=lambda status: STATUS_WORDS.get(status, status),
        status_shape=lambda status: STATUS_SHAPES.get(status, ""),
        trend_word=lambda trend: formatting.TREND_WORDS.get(trend, trend),
        reason_word=lambda reason: REASON_WORDS.get(reason, reason.replace("_", " ")),
        redact=lambda value: redact.text(str(value)),
        plain=_plain,
    )
    env.globals["floor_in_priority"] = FLOOR_IN_PRIORITY
    return env


class _QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's per-user cache folder, where a file that cannot be read or written only means
    compiling again: a cache never fails a pack (a full disk, a file cut short).

    A template is compiled again when the environment's settings differ from those it was
    compiled with (``options``, :func:`compile_options`), not only when its source does: Jinja
    keys compiled code by the source alone, and an upgrade that changed a setting (isolating
    user text) would otherwise lay out pages with the old one.
    """

    def __init__(self, directory: str | None = None, *, options: str = "") -> None:
        super().__init__(directory)
        self.options = options

    def get_source_checksum(self, source: str) -> str:
        return super().get_source_checksum(self.options + "\0" + source)

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def compile_options(env: jinja2.Environment) -> str:
    """The settings of ``env`` that its compiled templates depend on, as one string."""
    finalize = getattr(env.finalize, "__qualname__", None) if env.finalize else None
    return repr((env.autoescape, env.trim_blocks, env.lstrip_blocks, finalize,
                 env.undefined.__qualname__, sorted(env.extensions), env.newline_sequence,
                 env.keep_trailing_newline, env.block_start_string, env.variable_start_string,
                 env.comment_start_string, env.line_statement_prefix))


def _compiled_templates(env: jinja2.Environment) -> jinja2.BytecodeCache | None:
    """The cache of compiled templates for ``env``, or None where the machine gives no safe
    folder for it (Jinja refuses one another user could write)."""
    try:
        return _QuietBytecodeCache(options=compile_options(env))
    except (OSError, RuntimeError):
        return None


def templates_fingerprint(extra_dirs: tuple[str, ...] = ()) -> tuple[str, int, int]:
    """(SHA-256, files, bytes) of every template and stylesheet a pack is laid out with:
    reviewkit's own and a cadence's ``extra_dirs``. It names the templates' version in a
    pack's provenance (two packs with the same fingerprint were laid out alike)."""
    digest = hashlib.sha256()
    count = size = 0
    roots = [Path(str(resources.files("reviewkit.layout") / "templates")),
             *(Path(folder) for folder in extra_dirs)]
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and
                           "__pycache__" not in p.parts):
            content = path.read_bytes()
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(content).digest())
            count, size = count + 1, size + len(content)
    return digest.hexdigest(), count, size


def _plain(value: Any) -> str:
    """A parameter as the params file writes it, on one line and with secrets hidden: a
    mapping as ``key: value, key: value``, a list as its items (never a Python repr)."""
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {_plain(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(item) for item in value)
    return redact.text(str(value))


def _value(value: float | None, kpi: Kpi, decimals: int | None = None) -> str:
    return figure_for_page(formatting.format_value(value, kpi, decimals=decimals))


def _change(change: float | None, kpi: Kpi, decimals: int | None = None) -> str:
    return figure_for_page(formatting.format_change(change, kpi, decimals=decimals))


@jinja2.pass_context
def _shown(context: jinja2.runtime.Context, result: KpiResult) -> Shown:
    """The KPI's figures for the period as the pack states them (its figures,
    :mod:`reviewkit.evaluation.figures`), for a cadence's own templates."""
    figures = getattr(getattr(context.get("view"), "evaluated", None), "figures", None)
    if figures is None or result.kpi.id not in figures.decimals:
        return for_page(shown_of(result))
    return for_page(figures.shown(result.kpi.id))


@jinja2.pass_context
def _shown_ytd(context: jinja2.runtime.Context, ytd: YearToDate, kpi: Kpi) -> Shown:
    """A KPI's year to date, at least at the pack's precision for the KPI."""
    figures = getattr(getattr(context.get("view"), "evaluated", None), "figures", None)
    places = figures.decimals.get(kpi.id, 0) if figures is not None else 0
    return for_page(shown(kpi, ytd.value, ytd.target, ytd.amber, at_least=places))


def _date(day: dt.date | None) -> str:
    """A day as the pack writes it, never broken across lines: '27 Nov 2026'."""
    return formatting.format_date(day).replace(" ", NBSP)


def _period_words(label: str) -> str:
    """A period's label in words, never broken across lines: '9 Oct 2026', 'Q4 2026'."""
    return formatting.label_words(label).replace(" ", NBSP)


def render(template: str, extra_dirs: tuple[str, ...] = (), **values: Any) -> str:
    return environment(extra_dirs).get_template(template).render(**values)
