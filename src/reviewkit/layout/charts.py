"""Charts for the pack: a history chart per KPI (matplotlib, SVG) and pure-SVG sparklines.

Charts must read in grey-scale: the status of each point is told by marker shape as well as
colour, the target is a dashed line and the amber band is hatched.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from reviewkit.evaluation.evaluate import KpiResult, PeriodValue
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.formatting import format_value

STATUS_COLOURS = {"green": "#2e7d32", "amber": "#e69f00", "red": "#c62828", "no_data": "#8a939c"}
STATUS_MARKERS = {"green": "o", "amber": "^", "red": "s"}
LINE_COLOUR = "#1f3a5f"

_STYLE = resources.files("reviewkit.layout") / "templates" / "charts.mplstyle"


#: Resolution of chart images: sharp when printed at full page width.
CHART_DPI = 200


def kpi_chart_png(result: KpiResult, *, width_in: float = 6.6, height_in: float = 1.9) -> str:
    """History of one KPI with its target line and amber band, as a PNG data URL.

    PNG rather than SVG: WeasyPrint draws a dozen matplotlib SVGs in seconds but places
    images in milliseconds, and inline SVGs from several figures would share element ids.
    """
    # Deferred for start-up time: matplotlib takes ~0.5 s to import and only charts need it.
    import matplotlib as mpl
    from matplotlib.figure import Figure

    history = result.history
    xs = list(range(len(history)))
    ys = [pv.value if pv.value is not None else math.nan for pv in history]
    with mpl.rc_context(fname=str(_STYLE)):
        fig = Figure(figsize=(width_in, height_in))
        # Fixed margins instead of bbox="tight": tight bounding boxes draw every chart twice.
        fig.subplots_adjust(left=0.075, right=0.905, top=0.96, bottom=0.14)
        ax = fig.add_subplot()
        _band(ax, xs, history)
        ax.step(
            [x for x in xs] + [xs[-1] + 0.5],
            [pv.target for pv in history] + [history[-1].target],
            where="mid",
            color="#111111",
            linestyle=(0, (4, 2)),
            linewidth=1.0,
        )
        ax.plot(xs, ys, color=LINE_COLOUR, linewidth=1.4)
        for status, marker in STATUS_MARKERS.items():
            points = [
                (x, pv.value)
                for x, pv in zip(xs, history, strict=True)
                if pv.status == status and pv.value is not None
            ]
            if points:
                ax.scatter(
                    [point[0] for point in points],
                    [point[1] for point in points],
                    marker=marker,
                    s=18 if status == "green" else 26,
                    color=STATUS_COLOURS[status],
                    edgecolors="#222222",
                    linewidths=0.5,
                    zorder=3,
                )
        current = history[-1]
        if current.value is not None:
            ax.annotate(
                _fmt(current.value, result),
                (xs[-1], current.value),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                fontweight="bold",
                color="#111111",
                annotation_clip=False,  # the label sits in the right margin, outside the axes
            )
        ticks = _tick_positions(len(history))
        ax.set_xticks(ticks, [_tick_label(history[i]) for i in ticks])
        ax.set_xlim(-0.5, xs[-1] + 0.5)
        if result.kpi.unit:
            ax.set_ylabel(result.kpi.unit)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _band(ax: object, xs: Sequence[int], history: Sequence[PeriodValue]) -> None:
    """Hatched amber band between target and amber (only where the KPI has one)."""
    if all(pv.amber is None for pv in history):
        return
    lower = [min(pv.target, pv.amber) if pv.amber is not None else pv.target for pv in history]
    upper = [max(pv.target, pv.amber) if pv.amber is not None else pv.target for pv in history]
    ax.fill_between(  # type: ignore[attr-defined]
        [*xs, xs[-1] + 0.5],
        [*lower, lower[-1]],
        [*upper, upper[-1]],
        step="mid",
        facecolor="#fbe3b0",
        edgecolor="#c58a00",
        hatch="////",
        linewidth=0.0,
        alpha=0.8,
    )


def _tick_positions(count: int) -> list[int]:
    step = max(1, math.ceil(count / 7))
    last = count - 1
    ticks = list(range(last, -1, -step))
    return sorted(ticks)


def _tick_label(pv: PeriodValue) -> str:
    return pv.period.short_label


def _fmt(value: float, result: KpiResult) -> str:
    return format_value(value, result.kpi)


@dataclass(frozen=True)
class Sparkline:
    """Points of a sparkline in a 0..width x 0..height box, ready for the SVG template."""

    width: int
    height: int
    segments: list[str]  # polyline point lists, split at gaps
    last_x: float
    last_y: float
    target_y: float | None
    status: str


#: Periods a summary tile's sparkline draws.
SPARKLINE_PERIODS = 13


def sparkline(
    result: KpiResult, *, periods: int = SPARKLINE_PERIODS, width: int = 120, height: int = 28
) -> Sparkline:
    """Geometry of a small line of the last ``periods`` values, with the target as a rule."""
    recent = result.history[-periods:]
    values = [pv.value for pv in recent]
    known = [v for v in values if v is not None]
    target = recent[-1].target
    if not known:
        return Sparkline(width, height, [], 0, 0, None, result.status)
    low = min([*known, target])
    high = max([*known, target])
    span = high - low or 1.0
    pad = 3.0

    def y_of(value: float) -> float:
        return round(height - pad - (value - low) / span * (height - 2 * pad), 2)

    step = (width - 2 * pad) / max(1, len(recent) - 1)
    segments: list[str] = []
    current: list[str] = []
    last_x = last_y = 0.0
    for i, value in enumerate(values):
        if value is None:
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        x = round(pad + i * step, 2)
        y = y_of(value)
        current.append(f"{x},{y}")
        last_x, last_y = x, y
    if current:
        segments.append(" ".join(current))
    return Sparkline(width, height, segments, last_x, last_y, y_of(target), result.status)


def _png(fig: object) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})  # type: ignore[attr-defined]
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


SCHEDULE_COLOURS = {"on_time": STATUS_COLOURS["green"], "at_risk": STATUS_COLOURS["amber"],
                    "late": STATUS_COLOURS["red"], "cancelled": STATUS_COLOURS["no_data"]}
SCHEDULE_HATCH = {"on_time": "", "at_risk": "////", "late": "xxxx", "cancelled": "...."}


def timeline_png(initiatives: Sequence[Any], as_of: Any) -> str:
    """Initiatives as bars from start to planned finish, with the slip to the forecast hatched."""
    # Deferred for start-up time: matplotlib takes ~0.5 s to import and only charts need it.
    import matplotlib as mpl
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure

    def to_num(day: dt.date) -> float:
        value: float = date2num(day)  # type: ignore[no-untyped-call]
        return value

    rows = list(reversed(initiatives))
    with mpl.rc_context(fname=str(_STYLE)):
        fig = Figure(figsize=(6.6, 0.32 * len(rows) + 0.8))
        fig.subplots_adjust(left=0.3, right=0.97, top=0.95, bottom=0.35 / (0.32 * len(rows) + 0.8))
        ax = fig.add_subplot()
        for y, initiative in enumerate(rows):
            state = initiative.schedule_state_on(as_of)
            start = initiative.start or (initiative.planned_finish - dt.timedelta(days=180))
            planned = to_num(initiative.planned_finish)
            forecast = to_num(initiative.forecast_finish)
            ax.barh(y, planned - to_num(start), left=to_num(start), height=0.55,
                    color=SCHEDULE_COLOURS[state], edgecolor="#222222", linewidth=0.5)
            if forecast > planned:
                ax.barh(y, forecast - planned, left=planned, height=0.55, color="white",
                        edgecolor=SCHEDULE_COLOURS[state], hatch="////", linewidth=0.8)
            ax.plot([forecast], [y], marker="|", color="#111111", markersize=9)
        ax.axvline(to_num(as_of), color="#111111", linestyle=(0, (3, 2)), linewidth=0.9)
        ax.text(to_num(as_of), len(rows) - 0.4, " today", fontsize=7, va="bottom")
        ax.set_yticks(range(len(rows)), [i.name for i in rows], fontsize=7)
        ax.xaxis.set_major_formatter(DateFormatter("%b %y"))  # type: ignore[no-untyped-call]
        ax.grid(axis="x", color="#dde1e6", linewidth=0.5)
        ax.grid(axis="y", visible=False)
        return _png(fig)


def spend_png(summary: Any) -> str:
    """Year-to-date budget against actual per category, with the full-year forecast beside."""
    # Deferred for start-up time: matplotlib takes ~0.5 s to import and only charts need it.
    import matplotlib as mpl
    from matplotlib.figure import Figure

    cats = summary.categories
    names = [c.category for c in cats]
    with mpl.rc_context(fname=str(_STYLE)):
        fig = Figure(figsize=(6.6, 2.2))
        fig.subplots_adjust(left=0.09, right=0.99, top=0.88, bottom=0.14)
        ax = fig.add_subplot()
        xs = list(range(len(cats)))
        ax.bar([x - 0.2 for x in xs], [c.ytd.budget or 0 for c in cats], width=0.38,
               color="#dfe5ec", edgecolor="#4a5561", linewidth=0.6, label="Budget to date")
        ax.bar([x + 0.2 for x in xs], [c.ytd.actual or 0 for c in cats], width=0.38,
               color=[STATUS_COLOURS.get(c.ytd.status, "#8a939c") for c in cats],
               edgecolor="#222222", linewidth=0.6, label="Actual to date",
               hatch=["" if c.ytd.status == "green" else "////" for c in cats])
        ax.set_xticks(xs, names, fontsize=7)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, borderaxespad=0.2)
        return _png(fig)


def outlook_png(kpi: Any, series: Sequence[Any], forecast: Any) -> str:
    """Monthly history, the forecast with its interval, and the target line."""
    # Deferred for start-up time: matplotlib takes ~0.5 s to import and only charts need it.
    import matplotlib as mpl
    from matplotlib.figure import Figure

    history = [(p, v) for p, v in series if v is not None][-24:]
    with mpl.rc_context(fname=str(_STYLE)):
        fig = Figure(figsize=(3.2, 1.55))
        fig.subplots_adjust(left=0.15, right=0.98, top=0.95, bottom=0.2)
        ax = fig.add_subplot()
        n = len(history)
        ax.plot(range(n), [v for _, v in history], color=LINE_COLOUR, linewidth=1.3)
        if forecast.points:
            xs = list(range(n - 1, n + len(forecast.points)))
            last = history[-1][1] if history else forecast.points[0].mean
            ax.fill_between(xs, [last] + [p.lower for p in forecast.points],
                            [last] + [p.upper for p in forecast.points],
                            color="#c9d6e6", edgecolor="#7d93b0", hatch="....", linewidth=0.4)
            ax.plot(xs, [last] + [p.mean for p in forecast.points], color=LINE_COLOUR,
                    linestyle=(0, (2, 1.5)), linewidth=1.3)
        if forecast.target is not None:
            ax.axhline(forecast.target, color="#111111", linestyle=(0, (4, 2)), linewidth=0.9)
        labels = [p.label for p, _ in history] + [p.period.label for p in forecast.points]
        ticks = list(range(0, len(labels), 6))
        ax.set_xticks(ticks, [labels[i] for i in ticks], fontsize=6)
        if kpi.unit:
            ax.set_ylabel(kpi.unit, fontsize=7)
        return _png(fig)


def render_charts(pack: PackEvaluation) -> dict[str, str]:
    """Every chart a pack of this cadence shows, by id: one per KPI (its id), and the
    timeline, spend and outlook charts when the cadence asks for them and the data is there."""
    charts = {result.kpi.id: kpi_chart_png(result) for result in pack.results}
    wanted = pack.cadence.charts
    strategy = pack.strategy
    if "timeline" in wanted and strategy.initiatives:
        charts["timeline"] = timeline_png(strategy.initiatives, pack.period.end)
    if "spend" in wanted and strategy.spend is not None and strategy.spend.categories:
        charts["spend"] = spend_png(strategy.spend)
    if "outlook" in wanted:
        kpis = pack.catalog.by_id()
        for outlook in strategy.outlooks:
            kpi = kpis[outlook.forecast.kpi_id]
            charts[f"outlook-{kpi.id}"] = outlook_png(kpi, outlook.history, outlook.forecast)
    return charts


def warm_up() -> None:
    """Import matplotlib and its Agg backend ahead of the first chart (a batch worker does this
    once, not once per pack)."""
    # Deferred like every chart import here: only drawing needs matplotlib (and the import is
    # the work this function does).
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401
