"""Charts for the pack: a history chart per KPI (matplotlib, PNG) and pure-SVG sparklines.

Charts must read in grey-scale: the status of each point is told by marker shape as well as
colour, the target is a dashed line and the amber band is hatched.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
import textwrap
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from reviewkit.evaluation.evaluate import KpiResult, PeriodValue
from reviewkit.evaluation.pack import PackEvaluation
from reviewkit.formatting import Currency, format_date, format_value, label_words
from reviewkit.layout.figures import shown_of
from reviewkit.periods import Period

STATUS_COLOURS = {"green": "#2e7d32", "amber": "#e69f00", "red": "#c62828", "no_data": "#8a939c"}
STATUS_MARKERS = {"green": "o", "amber": "^", "red": "s"}
LINE_COLOUR = "#1f3a5f"

_STYLE = resources.files("reviewkit.layout") / "templates" / "charts.mplstyle"


#: Rough width of one character of the 8 pt bold end-of-line label, in inches.
_LABEL_CHAR_IN = 0.075

#: Resolution of chart images: sharp when printed at full page width.
CHART_DPI = 200


#: A KPI gets a history chart (and a sparkline) once it has values for this many periods: two
#: points say little, and drawn across an axis of empty periods they say less. With fewer, its
#: card lists the values instead.
MIN_CHART_POINTS = 3
#: A history chart spans at least this many periods.
MIN_CHART_PERIODS = MIN_CHART_POINTS


def chart_history(result: KpiResult, *, most: int | None = None) -> list[PeriodValue]:
    """The periods a KPI's chart shows: its history from the first period with data (at least
    :data:`MIN_CHART_PERIODS`, at most ``most``), so nine weeks of data are not drawn across a
    26-week axis that is two thirds empty."""
    history = result.history if most is None else result.history[-most:]
    first = next((i for i, pv in enumerate(history) if pv.value is not None), len(history))
    return list(history[min(first, max(0, len(history) - MIN_CHART_PERIODS)):])


def data_points(result: KpiResult, *, most: int | None = None) -> int:
    """How many of the periods a chart (or, with ``most``, a sparkline) would draw have a
    value."""
    return sum(pv.value is not None for pv in chart_history(result, most=most))


def chartable(result: KpiResult, *, most: int | None = None) -> bool:
    """Whether the KPI has enough history for a chart (:data:`MIN_CHART_POINTS`)."""
    return data_points(result, most=most) >= MIN_CHART_POINTS


def partly_covered(pv: PeriodValue) -> bool:
    """A period the chart marks: its data starts inside it, or (a sum) only part of it is in."""
    return pv.partial or pv.pro_rated


def counts_only(result: KpiResult) -> bool:
    """Whether the KPI counts things, so its axis needs whole-number ticks (no 7.5 complaints):
    its unit is ``count``, or it sums whole numbers."""
    values = [pv.value for pv in result.history if pv.value is not None]
    return result.kpi.unit == "count" or (
        result.kpi.aggregation == "sum" and all(float(v).is_integer() for v in values))


def kpi_figure(result: KpiResult, *, width_in: float = 6.6, height_in: float = 1.65,
               label: str | None = None) -> Any:
    """History of one KPI with its target line and amber band (a matplotlib Figure); the
    latest value is labelled ``label`` (the pack's figure; default: written here)."""
    # Deferred for start-up time: matplotlib takes ~0.5 s to import and only charts need it.
    import matplotlib as mpl
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    history = chart_history(result)
    xs = list(range(len(history)))
    ys = [pv.value if pv.value is not None else math.nan for pv in history]
    current = history[-1]
    if label is None:
        label = (format_value(current.value, result.kpi, decimals=shown_of(result).decimals)
                 if current.value is not None else "")
    with mpl.rc_context(fname=str(_STYLE)):
        fig = Figure(figsize=(width_in, height_in))
        # Fixed margins instead of bbox="tight": tight bounding boxes draw every chart twice.
        # The latest value is labelled in the right margin, outside the plot (never on the
        # last marker or the target line): the margin fits the label.
        right = 1 - (len(label) * _LABEL_CHAR_IN + 0.14) / width_in
        fig.subplots_adjust(left=0.075, right=min(0.9, right), top=0.95, bottom=0.16)
        ax = fig.add_subplot()
        _band(ax, xs, history)
        # The target is drawn from the first period with data: before it there is nothing to
        # judge, and a plan drawn over empty periods reads as a target the data missed.
        first = next((i for i, pv in enumerate(history) if pv.value is not None), 0)
        targets = [pv.target if i >= first else math.nan for i, pv in enumerate(history)]
        ax.step(
            [x for x in xs] + [xs[-1] + 0.5],
            [*targets, history[-1].target],
            where="mid",
            color="#111111",
            linestyle=(0, (4, 2)),
            linewidth=1.0,
        )
        ax.plot(xs, ys, color=LINE_COLOUR, linewidth=1.4)
        for status, marker in STATUS_MARKERS.items():
            for partial in (False, True):
                # A period the data only partly covers (in progress, or the first the data
                # reaches) is drawn hollow: its figure is not a whole period's.
                points = [
                    (x, pv.value)
                    for x, pv in zip(xs, history, strict=True)
                    if pv.status == status and pv.value is not None
                    and partly_covered(pv) == partial
                ]
                if not points:
                    continue
                ax.scatter(
                    [point[0] for point in points],
                    [point[1] for point in points],
                    marker=marker,
                    s=18 if status == "green" else 26,
                    facecolors="white" if partial else STATUS_COLOURS[status],
                    edgecolors=STATUS_COLOURS[status] if partial else "#222222",
                    linewidths=1.1 if partial else 0.5,
                    zorder=3,
                    clip_on=False,
                )
        if current.value is not None:
            ax.annotate(
                label,
                (1.0, current.value),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                fontweight="bold",
                color="#111111",
                annotation_clip=False,  # the label sits in the right margin, outside the axes
            )
        ticks = _tick_positions(len(history))
        ax.set_xticks(ticks, tick_labels([history[i].period for i in ticks]))
        ax.set_xlim(-0.5, xs[-1] + 0.5)
        if counts_only(result):
            ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
        if result.kpi.unit and result.kpi.unit != "count":
            ax.set_ylabel(result.kpi.unit)
        drawn = [v for pv in history for v in (pv.value, pv.target, pv.amber)
                 if v is not None and not math.isnan(v)]
        if drawn and min(drawn) >= 0 and ax.get_ylim()[0] < 0:
            # Rounding the axis out to a tick must not draw room for figures that cannot be
            # (minus 1 complaints); markers on zero sit on the axis, unclipped.
            ax.set_ylim(bottom=0)
    return fig


def kpi_chart_png(result: KpiResult, *, width_in: float = 6.6, height_in: float = 1.65,
                  label: str | None = None) -> bytes:
    """History of one KPI with its target line and amber band, as a PNG image.

    PNG rather than SVG: WeasyPrint draws a dozen matplotlib SVGs in seconds but places
    images in milliseconds, and inline SVGs from several figures would share element ids.
    """
    # Deferred for start-up time: matplotlib takes ~0.5 s to import and only charts need it.
    import matplotlib as mpl

    # Encoded under the style too: ticks made while drawing read the style's sizes.
    with mpl.rc_context(fname=str(_STYLE)):
        return _png(kpi_figure(result, width_in=width_in, height_in=height_in, label=label))


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


def _tick_positions(count: int, most: int = 7) -> list[int]:
    """At most ``most`` evenly spaced ticks, the last one on the latest period."""
    step = max(1, math.ceil(count / most))
    last = count - 1
    ticks = list(range(last, -1, -step))
    return sorted(ticks)


def tick_labels(periods: Sequence[Period]) -> list[str]:
    """Axis labels in the pack's one date style: 'Oct 2026', 'Q4 2026' for months and quarters
    (never 'Dec 26', which reads as a day); '20 Nov' for weeks, with the year on the first
    tick and wherever a new year starts ('5 Jun 2026 … 1 Jan 2027')."""
    labels = []
    year = None
    for period in periods:
        if period.rule.unit != "days":
            labels.append(label_words(period.label))
            continue
        words = format_date(period.end)
        labels.append(words if period.end.year != year else words.rsplit(" ", 1)[0])
        year = period.end.year
    return labels


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
    """Geometry of a small line of the last ``periods`` values (from the first with data, at
    least :data:`MIN_CHART_PERIODS`), with the target as a rule."""
    recent = chart_history(result, most=periods)
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


#: zlib level of the chart PNGs. The PDF step takes each chart's compressed pixels as they are
#: (:func:`reviewkit._speedups.pass_png_through`), so they are compressed once, here.
PNG_COMPRESSION = 6

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(fig: Any) -> bytes:
    """The figure as an opaque RGB PNG image (bytes: a data URL is a third larger, and the
    pack hands its charts to the notebook kernel).

    Drawn on an Agg canvas and written without an alpha channel: the charts are opaque, and an
    RGBA image costs WeasyPrint a second encode (its soft mask) and the PDF a second stream.
    """
    # Deferred for start-up time, as every matplotlib import in this module.
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(CHART_DPI)
    canvas.draw()  # type: ignore[no-untyped-call]
    return _png_of(canvas.buffer_rgba())  # type: ignore[no-untyped-call]


def _png_of(rgba: Any) -> bytes:
    """An 8-bit RGB PNG of an RGBA pixel buffer (its alpha dropped), every row unfiltered.

    Written here rather than by Pillow: Pillow tries every PNG row filter on every row, which
    suits photographs; a chart's flat colours compress better with none (the demo's weekly
    charts: 387 KB against 496 KB) and in 0.13 s of CPU against 0.22 s, on the charts' side
    of the build, which the notebook waits for."""
    import numpy as np  # deferred with the charts' other imports (matplotlib brings numpy)

    pixels = np.asarray(rgba)
    height, width = pixels.shape[:2]
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # filter byte 0: none
    rows[:, 1:] = pixels[:, :, :3].reshape(height, 3 * width)
    header = struct.pack("!IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, not interlaced
    return b"".join((_PNG_SIGNATURE, _chunk(b"IHDR", header),
                     _chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_COMPRESSION)),
                     _chunk(b"IEND", b"")))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack("!I", len(data)) + kind + data
            + struct.pack("!I", zlib.crc32(kind + data)))


SCHEDULE_COLOURS = {"on_time": STATUS_COLOURS["green"], "at_risk": STATUS_COLOURS["amber"],
                    "finished": "#b9c3cc",
                    "late": STATUS_COLOURS["red"], "cancelled": STATUS_COLOURS["no_data"]}
SCHEDULE_HATCH = {"on_time": "", "at_risk": "////", "late": "xxxx", "finished": "",
                  "cancelled": "...."}


#: Axis labels longer than this wrap onto another line (at most three).
LABEL_CHARS = 30
#: Rough width of one character of a 7 pt axis label, in inches, to size the label margin.
_CHAR_IN = 0.056


def wrap_label(text: str, width: int = LABEL_CHARS, lines: int = 3) -> str:
    """A long axis label wrapped into at most ``lines`` lines, the last cut with '…'."""
    parts = textwrap.wrap(text, width) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1].rstrip() + "…"
    return "\n".join(parts)


def _label_margin(labels: Sequence[str], figure_width: float) -> float:
    """The left margin (a share of the figure) that fits the widest wrapped label."""
    widest = max((len(line) for label in labels for line in label.split("\n")), default=0)
    return min(0.45, (widest * _CHAR_IN + 0.15) / figure_width)


def timeline_png(initiatives: Sequence[Any], as_of: dt.date,
                 state_of: Callable[[Any], str] | None = None) -> bytes:
    """Initiatives as bars from start to planned finish, with the slip to the forecast hatched,
    and a dashed line on the day the data runs to (labelled with that date)."""
    # Deferred for start-up time: matplotlib takes ~0.5 s to import and only charts need it.
    import matplotlib as mpl
    from matplotlib.dates import DateFormatter, MonthLocator, date2num
    from matplotlib.figure import Figure

    def to_num(day: dt.date) -> float:
        value: float = date2num(day)  # type: ignore[no-untyped-call]
        return value

    rows = list(reversed(initiatives))
    labels = [wrap_label(i.name) for i in rows]
    lines = sum(label.count("\n") + 1 for label in labels)
    width = 6.6
    height = 0.22 * len(rows) + 0.12 * (lines - len(rows)) + 0.6
    with mpl.rc_context(fname=str(_STYLE)):
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(left=_label_margin(labels, width), right=0.97,
                            top=1 - 0.22 / height, bottom=0.35 / height)
        ax = fig.add_subplot()
        for y, initiative in enumerate(rows):
            state = (state_of(initiative) if state_of is not None
                     else initiative.schedule_state_on(as_of))
            start = initiative.start or (initiative.planned_finish - dt.timedelta(days=180))
            planned = to_num(initiative.planned_finish)
            forecast = to_num(initiative.forecast_finish)
            ax.barh(y, planned - to_num(start), left=to_num(start), height=0.55,
                    color=SCHEDULE_COLOURS[state], edgecolor="#222222", linewidth=0.5)
            if forecast > planned:
                ax.barh(y, forecast - planned, left=planned, height=0.55, color="white",
                        edgecolor=SCHEDULE_COLOURS[state], hatch="////", linewidth=0.8)
            ax.plot([forecast], [y], marker="|", color="#111111", markersize=9)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.axvline(to_num(as_of), color="#111111", linestyle=(0, (3, 2)), linewidth=0.9)
        # Above the plot, inside the figure: the day the data runs to, not "today".
        ax.annotate(f"{as_of.day} {as_of:%b %Y}", (to_num(as_of), 1.0),
                    xycoords=("data", "axes fraction"), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=6.5)
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
        # Ticks on the first of a month at one regular interval (every 3, 6 or 12 months,
        # from January), named 'Jan 2026' as every date in the pack.
        low, high = ax.get_xlim()
        months = (high - low) / 30.4
        step = 3 if months <= 24 else 6 if months <= 48 else 12
        ax.xaxis.set_major_locator(MonthLocator(bymonth=range(1, 13, step)))  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(DateFormatter("%b %Y"))  # type: ignore[no-untyped-call]
        ax.set_xlim(low, high)
        ax.grid(axis="x", color="#dde1e6", linewidth=0.5)
        ax.grid(axis="y", visible=False)
        return _png(fig)


def spend_png(summary: Any, currency: Currency) -> bytes:
    """Year-to-date budget against actual per category (horizontal bars, so long category
    names read), in the params file's currency."""
    # Deferred for start-up time: matplotlib takes ~0.5 s to import and only charts need it.
    import matplotlib as mpl
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    cats = list(reversed(summary.categories))
    labels = [wrap_label(c.category, 26, 2) for c in cats]
    width = 6.6
    # Compact (0.3 in a category): the table above it has the figures, the chart the shape.
    height = 0.3 * len(cats) + 0.1 * sum(label.count("\n") for label in labels) + 0.75
    with mpl.rc_context(fname=str(_STYLE)):
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(left=_label_margin(labels, width), right=0.94,
                            top=1 - 0.3 / height, bottom=0.38 / height)
        ax = fig.add_subplot()
        ys = list(range(len(cats)))
        ax.barh([y + 0.2 for y in ys], [c.ytd.budget or 0 for c in cats], height=0.38,
                color="#dfe5ec", edgecolor="#4a5561", linewidth=0.6, label="Budget to date")
        ax.barh([y - 0.2 for y in ys], [c.ytd.actual or 0 for c in cats], height=0.38,
                color=[STATUS_COLOURS.get(c.ytd.status, "#8a939c") for c in cats],
                edgecolor="#222222", linewidth=0.6, label="Actual to date",
                hatch=["" if c.ytd.status == "green" else "////" for c in cats])
        ax.set_yticks(ys, labels, fontsize=7)
        ax.grid(axis="x", color="#dde1e6", linewidth=0.5)
        ax.grid(axis="y", visible=False)
        # Amounts alone, as in the spend table: the axis title names the currency.
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: currency.amount(x)))
        ax.set_xlabel(f"Year to date, {currency.unit}")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, borderaxespad=0.2)
        return _png(fig)


#: An outlook chart needs at least this many months of history to be worth printing.
MIN_OUTLOOK_MONTHS = 6


def outlook_png(kpi: Any, series: Sequence[Any], forecast: Any,
                partial: bool = False) -> bytes | None:
    """Monthly history, the forecast with its interval, and the target line; None when there
    is too little history to forecast (a two-point line is not a chart worth printing). With
    ``partial``, the last month is in progress and its point is drawn hollow."""
    # Deferred for start-up time: matplotlib takes ~0.5 s to import and only charts need it.
    import matplotlib as mpl
    from matplotlib.figure import Figure

    history = [(p, v) for p, v in series if v is not None][-24:]
    if not forecast.points or len(history) < MIN_OUTLOOK_MONTHS:
        return None
    with mpl.rc_context(fname=str(_STYLE)):
        fig = Figure(figsize=(3.2, 1.3))
        fig.subplots_adjust(left=0.15, right=0.98, top=0.95, bottom=0.17)
        ax = fig.add_subplot()
        n = len(history)
        ax.plot(range(n), [v for _, v in history], color=LINE_COLOUR, linewidth=1.3)
        xs = list(range(n - 1, n + len(forecast.points)))
        last = history[-1][1]
        # A figure that cannot be negative (every value and the target at or above zero) has
        # no interval below zero: the band is cut there and the axis starts at zero.
        floor = 0.0 if min([*(v for _, v in history), forecast.target or 0.0]) >= 0 else None
        lowers = [p.lower if floor is None else max(p.lower, floor) for p in forecast.points]
        ax.fill_between(xs, [last, *lowers],
                        [last] + [p.upper for p in forecast.points],
                        color="#c9d6e6", edgecolor="#7d93b0", linewidth=0.4)
        ax.plot(xs, [last] + [p.mean for p in forecast.points], color=LINE_COLOUR,
                linestyle=(0, (2, 1.5)), linewidth=1.3)
        if partial:
            ax.scatter([n - 1], [last], s=16, facecolors="white", edgecolors=LINE_COLOUR,
                       linewidths=1.0, zorder=3)
        if forecast.target is not None:
            ax.axhline(forecast.target, color="#111111", linestyle=(0, (4, 2)), linewidth=0.9)
        months = [p for p, _ in history] + [p.period for p in forecast.points]
        ticks = _tick_positions(len(months), most=4)
        ax.set_xticks(ticks, tick_labels([months[i] for i in ticks]), fontsize=6)
        if kpi.unit and kpi.unit != "count":
            ax.set_ylabel(kpi.unit, fontsize=7)
        if floor is not None and ax.get_ylim()[0] < floor:
            ax.set_ylim(bottom=floor)
        return _png(fig)


def render_charts(pack: PackEvaluation) -> dict[str, bytes]:
    """Every chart a pack of this cadence shows, by id: one per KPI (its id), and the
    timeline, spend and outlook charts when the cadence asks for them and the data is there."""
    figures = pack.figures
    # A KPI with fewer values than a chart needs lists them on its card instead.
    charts = {result.kpi.id: kpi_chart_png(result, label=figures.text(result.kpi.id, "value"))
              for result in pack.results if chartable(result)}
    wanted = pack.cadence.charts
    strategy = pack.strategy
    if "timeline" in wanted and strategy.initiatives:
        charts["timeline"] = timeline_png(strategy.initiatives, strategy.as_of,
                                          strategy.schedule_of)
    if "spend" in wanted and strategy.spend is not None and strategy.spend.categories:
        charts["spend"] = spend_png(strategy.spend, strategy.currency)
    if "outlook" in wanted:
        kpis = pack.catalog.by_id()
        for outlook in strategy.outlooks:
            kpi = kpis[outlook.forecast.kpi_id]
            chart = outlook_png(kpi, outlook.history, outlook.forecast, outlook.partial_month)
            if chart is not None:
                charts[f"outlook-{kpi.id}"] = chart
    return charts


def warm_up() -> None:
    """Import matplotlib and its Agg backend ahead of the first chart (a batch worker does this
    once, not once per pack)."""
    # Deferred like every chart import here: only drawing needs matplotlib (and the import is
    # the work this function does).
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401
