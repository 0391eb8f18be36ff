"""Charts for the pack: a history chart per KPI (matplotlib, SVG) and pure-SVG sparklines.

Charts must read in grey-scale: the status of each point is told by marker shape as well as
colour, the target is a dashed line and the amber band is hatched.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from .evaluate import KpiResult, PeriodValue

STATUS_COLOURS = {"green": "#2e7d32", "amber": "#e69f00", "red": "#c62828", "no_data": "#8a939c"}
STATUS_MARKERS = {"green": "o", "amber": "^", "red": "s"}
LINE_COLOUR = "#1f3a5f"

_STYLE = resources.files("reviewkit") / "templates" / "charts.mplstyle"


#: Resolution of chart images: sharp when printed at full page width.
CHART_DPI = 200


def kpi_chart_png(result: KpiResult, *, width_in: float = 6.6, height_in: float = 1.9) -> str:
    """History of one KPI with its target line and amber band, as a PNG data URL.

    PNG rather than SVG: WeasyPrint draws a dozen matplotlib SVGs in seconds but places
    images in milliseconds, and inline SVGs from several figures would share element ids.
    """
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
    period = pv.period
    if period.cadence == "weekly":
        return f"{period.end.day} {period.end:%b}"
    if period.cadence == "monthly":
        return f"{period.end:%b %y}"
    return period.label


def _fmt(value: float, result: KpiResult) -> str:
    from .formatting import format_value

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


def sparkline(
    result: KpiResult, *, periods: int = 13, width: int = 120, height: int = 28
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
