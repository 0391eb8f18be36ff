"""The pack context: validated inputs plus their evaluation, ready for the notebook to show.

``reviewkit build`` prepares it once in the orchestrator and hands it to the notebook as a file,
so the kernel only lays out results; a notebook run by hand prepares the same context itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pickle
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from reviewkit.evaluation.actions import ActionLog, action_log, red_without_action
from reviewkit.inputs.catalog import Catalog, Kpi, load_catalog
from reviewkit.evaluation.changes import ChangeReport, compare
from reviewkit.errors import InputError, UsageError
from reviewkit.evaluation.evaluate import Evaluation, evaluate, sort_exceptions
from reviewkit.inputs.measurements import Measurements, load_measurements
from reviewkit.inputs.params import CADENCES, LoadedParams, load_params
from reviewkit.periods import Period, period_containing

#: Packages whose versions every pack records in its provenance appendix.
RECORDED_PACKAGES = (
    "reviewkit",
    "papermill",
    "nbconvert",
    "nbformat",
    "weasyprint",
    "matplotlib",
    "pandas",
    "pydantic",
    "jinja2",
)
DEFAULT_HEADLINE_COUNT = 6


@dataclass(frozen=True)
class InputFile:
    """An input file as used for a pack, with its fingerprint for provenance."""

    role: str
    path: str
    sha256: str
    size_bytes: int
    rows: int | None = None


@dataclass
class PackContext:
    """Everything the notebook needs to lay out one pack."""

    cadence: str
    organisation: str
    title: str
    classification: str
    page_size: str
    period: Period
    params_path: str
    parameters: dict[str, Any]
    catalog: Catalog
    evaluation: Evaluation
    headline: list[str]
    inputs: list[InputFile]
    versions: dict[str, str]
    generated_at: dt.datetime
    action_log: ActionLog | None = None
    changes: ChangeReport | None = None
    store_location: str = ""
    charts: dict[str, str] = field(default_factory=dict)
    state: str = "draft"
    approver: str | None = None
    published_at: dt.datetime | None = None
    overrides: list[str] = field(default_factory=list)
    series: dict[str, Any] = field(default_factory=dict)  # measurements by KPI (for charts)
    as_of: dt.date | None = None  # the day the data runs to (before period end: in progress)
    strategy: Any = None  # strategy.Strategy: initiatives, benefits, spend, priorities, outlook
    narrative: list[Any] = field(default_factory=list)  # NarrativeCell, planned by the build
    actions_now: list[Any] = field(default_factory=list)  # store.Action, current state

    @property
    def kpis(self) -> list[Kpi]:
        return [result.kpi for result in self.evaluation.results]

    def save(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))

    @staticmethod
    def load(path: str | Path) -> PackContext:
        # The file is one the orchestrator wrote moments ago into its private build folder.
        context = pickle.loads(Path(path).read_bytes())
        if not isinstance(context, PackContext):
            raise TypeError(f"{path} does not hold a pack context")
        return context


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def parse_period(text: str | dt.date | None) -> dt.date | None:
    """A ``--period`` value as a date; a clear usage error when it is not one."""
    if text is None or isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise UsageError(f"--period {text!r} is not a date; write it as YYYY-MM-DD") from None


def resolve_period(
    cadence: str, params: LoadedParams, catalog: Catalog, measurements: Measurements,
    period_end: dt.date | None,
) -> Period:
    """``--period`` wins over the params file, which wins over the latest date in the data."""
    day = period_end or params.values.period_end
    if day is None:
        ids = {kpi.id for kpi in catalog.for_cadence(cadence)}
        day = measurements.latest_date(ids)
        if day is None:
            raise InputError(
                measurements.path,
                f"no measurements for any {cadence} KPI, so there is no latest period; "
                "add data or set period_end in the params file",
            )
    return period_containing(cadence, day)


def choose_headline(cadence: str, params: LoadedParams, catalog: Catalog) -> list[str]:
    """Headline KPIs: the params file's list, else the catalog's ``headline: true`` ones, else
    the first few in catalog order."""
    in_cadence = [kpi.id for kpi in catalog.for_cadence(cadence)]
    chosen = params.values.headline
    if chosen is not None:
        for kpi_id in chosen:
            if kpi_id not in catalog.by_id():
                raise InputError(
                    params.path, f"unknown KPI id '{kpi_id}' in the headline list",
                    field="headline",
                )
        return [kpi_id for kpi_id in chosen if kpi_id in in_cadence]
    flagged = [kpi.id for kpi in catalog.for_cadence(cadence) if kpi.headline]
    return flagged or in_cadence[:DEFAULT_HEADLINE_COUNT]


def load_inputs(params_file: str | Path) -> tuple[LoadedParams, Catalog, Measurements]:
    """Load and validate every input a pack needs (the ``validate`` command stops here)."""
    params = load_params(params_file)
    catalog = load_catalog(params.values.catalog)
    measurements = load_measurements(params.values.measurements)
    return params, catalog, measurements


def prepare_context(
    cadence: str,
    params_file: str | Path,
    period_end: str | dt.date | None = None,
    *,
    with_charts: bool = True,
    now: dt.datetime | None = None,
) -> PackContext:
    """Load, validate and evaluate the inputs of one pack; render its charts."""
    if cadence not in CADENCES:
        raise UsageError(f"unknown cadence {cadence!r}; use one of {', '.join(CADENCES)}")
    day = parse_period(period_end)
    params, catalog, measurements = load_inputs(params_file)
    period = resolve_period(cadence, params, catalog, measurements, day)
    # The day the data runs to: a quarter or month may still be in progress.
    latest = measurements.latest_date({kpi.id for kpi in catalog.for_cadence(cadence)})
    as_of = min(d for d in (period.end, day or params.values.period_end or latest, latest) if d)
    headline = choose_headline(cadence, params, catalog)
    evaluation = evaluate(
        catalog.kpis,
        measurements.series,
        period,
        history_length=params.values.history,
        stale_after=params.values.stale_after,
        ignored_columns=measurements.ignored_columns,
    )
    inputs = [
        _input_file("params", params.path, None),
        _input_file("catalog", catalog.path, len(catalog.kpis)),
        _input_file("measurements", measurements.path, measurements.row_count),
    ]
    log, changes = _accountability(cadence, params, evaluation, measurements, period)
    from reviewkit.evaluation.strategy import prepare_strategy

    strategy = prepare_strategy(cadence, params, catalog, measurements, evaluation, period,
                                headline, as_of)
    effective = dict(params.raw)
    effective["cadence"] = cadence
    effective["period_end"] = period.end.isoformat()
    context = PackContext(
        cadence=cadence,
        organisation=params.values.organisation,
        title=params.title_for(cadence),
        classification=params.values.classification,
        page_size=params.values.page_size,
        period=period,
        params_path=str(params.path),
        parameters=effective,
        catalog=catalog,
        evaluation=evaluation,
        headline=headline,
        inputs=inputs,
        versions=package_versions(),
        generated_at=(now or dt.datetime.now(dt.UTC)).replace(microsecond=0),
        action_log=log,
        changes=changes,
        strategy=strategy,
        as_of=as_of,
        series=measurements.series if cadence == "quarterly" else {},
        store_location=params.store_location,
    )
    if with_charts:
        render_charts(context)
    return context


def render_charts(context: PackContext) -> None:
    from reviewkit.layout.charts import kpi_chart_png, outlook_png, spend_png, timeline_png

    for result in context.evaluation.results:
        context.charts[result.kpi.id] = kpi_chart_png(result)
    strategy = context.strategy
    if strategy is None or context.cadence == "weekly":
        return
    if strategy.initiatives:
        context.charts["timeline"] = timeline_png(strategy.initiatives, context.period.end)
    if strategy.spend is not None and strategy.spend.categories:
        context.charts["spend"] = spend_png(strategy.spend)
    if strategy.forecasts:
        from reviewkit.evaluation.forecast import monthly_series
        from reviewkit.evaluation.strategy import last_complete_month

        kpis = context.catalog.by_id()
        start = last_complete_month(context.as_of or context.period.end)
        for forecast in strategy.forecasts:
            kpi = kpis[forecast.kpi_id]
            series = monthly_series(kpi, context.series.get(kpi.id, []), start)
            context.charts[f"outlook-{kpi.id}"] = outlook_png(kpi, series, forecast)


def _input_file(role: str, path: Path, rows: int | None) -> InputFile:
    return InputFile(role, str(path), sha256_of(path), path.stat().st_size, rows)


def _accountability(
    cadence: str,
    params: LoadedParams,
    evaluation: Evaluation,
    measurements: Measurements,
    period: Period,
) -> tuple[ActionLog, ChangeReport]:
    """Action log as of the period end, the escalation rule, and changes since the last pack."""
    from reviewkit.store.database import Store

    store = Store.open(params.store_location)
    try:
        events = store.events()
        earlier = [pack for pack in store.packs(cadence) if pack.period_end < period.end]
    finally:
        store.dispose()
    previous = earlier[-1] if earlier else None
    since = previous.period_end if previous else period.previous().end
    log = action_log(
        events, period, since=since, previous_label=previous.label if previous else None,
        results=evaluation.results, series=measurements.series,
    )
    evaluation.exceptions = sort_exceptions(
        [*evaluation.exceptions, *red_without_action(evaluation.results, log)],
        [result.kpi.id for result in evaluation.results],
    )
    return log, compare(evaluation.results, evaluation.exceptions, earlier)
