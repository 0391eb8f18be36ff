"""The params file: one typed, validated model for every setting of a pack definition."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reviewkit import cadences as cadence_registry
from reviewkit.cadences import Cadence
from reviewkit.errors import InputError
from reviewkit.formatting import Currency
from reviewkit.inputs._yaml import LineDict, check_known_keys, load_yaml_mapping, no_nul_character
from reviewkit.inputs.serve_params import ServeParams
from reviewkit.inputs.sources import Source, database_scheme, resolve_sources
from reviewkit.periods import check_date, parse_date
from reviewkit.redact import url as redact_url

#: The publish gate's rules (name → what it checks), all on by default; a params file may turn
#: any off with ``publish_gate: {rule: false}``. Each is checked in :mod:`reviewkit.run.gate`.
GATE_RULES: dict[str, str] = {
    "narrative_final": "every narrative cell has been written or accepted by a person and is "
                       "not stale",
    "red_kpis_explained": "every red KPI has commentary or an open action",
    "overdue_actions_rescheduled": "every overdue action has a new due date (or is closed)",
    "headline_data_current": "every headline KPI has data for the period",
    "owner_status_approved": "every status an owner set in the review round (instead of the "
                             "data's) has been approved by the office",
    "figures_agree": "the pack states each figure once: every number and status it prints is "
                     "its figure, and no sentence or alternative text contradicts a status",
}


#: Scales money in the portfolio, benefits and spend files may be in: units, thousands,
#: millions, billions.
MONEY_SCALES = ("", "k", "m", "bn")


class CurrencyParams(BaseModel):
    """How money from the initiatives, benefits and spend files is written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = Field(default="£", description="Printed before amounts: £, €, $, CHF …")
    scale: str = Field(default="k", description="The files' amounts are in: '', k, m or bn.")

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        value = value.strip()
        if not 1 <= len(value) <= 4 or any(ch.isdigit() or ch.isspace() for ch in value):
            raise ValueError(f"currency symbol {value!r} must be 1-4 characters without digits "
                             "or spaces, e.g. £, €, $ or CHF")
        return value

    @field_validator("scale")
    @classmethod
    def _scale(cls, value: str) -> str:
        if value not in MONEY_SCALES:
            raise ValueError(f"unknown scale {value!r}; use '' (units), k (thousands), "
                             "m (millions) or bn (billions)")
        return value

    @property
    def currency(self) -> Currency:
        return Currency(self.symbol, self.scale)


class SpendThresholds(BaseModel):
    """When an overspend is at risk or off track, in percent of the line's budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    materiality: float = Field(
        default=0.0, ge=0, le=100,
        description="An overspend up to this % of budget is immaterial: within budget.")
    amber: float = Field(
        default=5.0, gt=0, le=100,
        description="An overspend above materiality and up to this % is at risk; more is "
                    "off track.")

    @field_validator("amber")
    @classmethod
    def _above_materiality(cls, value: float, info: Any) -> float:
        materiality = info.data.get("materiality", 0.0)
        if value <= materiality:
            raise ValueError(f"amber ({value:g}%) must be above materiality ({materiality:g}%)")
        return value


#: A unit id: a folder name, a store key and a command-line word, so plain letters only.
UNIT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: The folder of a group pack beside its units' folders (so no unit may be called that).
GROUP_FOLDER = "group"


class UnitParams(BaseModel):
    """One unit as a params file names it: a segment of the measurements."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Folder name and store key: a lower-case letter or digit, then "
                                "lower-case letters, digits, - and _; at most 64 characters.")
    segment: str | None = Field(default=None, description="Its `segment` value; default: id.")
    name: str | None = Field(default=None, description="Shown in its pack; default: segment.")
    owner: str | None = Field(default=None, description="Who answers for the unit's pack.")

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if not UNIT_ID.fullmatch(value):
            raise ValueError(f"unit id {value!r} must start with a lower-case letter or a "
                             "digit, then lower-case letters, digits, '-' and '_', at most 64 "
                             "characters in all (it names a folder)")
        if value == GROUP_FOLDER:
            raise ValueError(f"'{GROUP_FOLDER}' names the group pack's folder; call the unit "
                             "something else")
        return value


class PackParams(BaseModel):
    """Everything a params file may say. Paths are resolved relative to the params file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organisation: str = Field(min_length=1, description="Shown on every page.")
    title: str | None = Field(default=None, description="Pack title; a default per cadence.")
    catalog: Path = Field(description="KPI catalog (YAML).")
    measurements: Path = Field(description="Measurements: .csv, .parquet or .xlsx.")
    period_end: dt.date | None = Field(
        default=None, description="End of the period; --period overrides; default: latest."
    )
    store: str | None = Field(
        default=None,
        description="Action/decision store: a path or a database URL, or ${VARIABLE} to take "
                    "it from the environment (keeps a database password out of the file).",
    )
    classification: str = Field(
        default="Internal", description="Classification line printed in every page footer."
    )
    page_size: str = Field(default="A4", description="Paper size for the PDF, e.g. A4, letter.")
    headline: list[str] | None = Field(
        default=None,
        description="KPI ids shown as summary tiles (5-7 is right); default: catalog `headline`.",
    )
    # strict: YAML reads yes/no/true/false as booleans, which pydantic would take as 1 and 0.
    history: int | None = Field(
        default=None, ge=4, le=520, strict=True,
        description="Periods of history in charts; default per cadence.",
    )
    stale_after: int = Field(
        default=2,
        ge=1,
        le=52,
        strict=True,
        description="A KPI with no measurement for this many periods in a row is stale.",
    )
    notebook: Path | None = Field(
        default=None, description="A custom notebook to run instead of the built-in one."
    )
    assets: Path | None = Field(
        default=None,
        description="Folder of images the narrative may show (![alt](file.png)); none else.",
    )
    initiatives: Path | None = Field(
        default=None,
        description="Initiatives (.csv or .xlsx) for the monthly and quarterly portfolio sections.",
    )
    benefits: Path | None = Field(
        default=None, description="Benefits the initiatives promise (.csv or .xlsx)."
    )
    spend: Path | None = Field(
        default=None, description="Monthly spend against budget by category (.csv or .xlsx)."
    )
    priorities: Path | None = Field(
        default=None, description="Strategic priorities, objectives and key results (YAML)."
    )
    currency: CurrencyParams = Field(
        default_factory=CurrencyParams,
        description="Money in the initiatives, benefits and spend files, e.g. "
                    "{symbol: €, scale: k}.",
    )
    spend_thresholds: SpendThresholds = Field(
        default_factory=SpendThresholds,
        description="Spend status in percent of budget: an overspend up to `materiality` is "
                    "within budget, up to `amber` at risk, more off track, e.g. "
                    "{materiality: 0.5, amber: 5}.",
    )
    year_start_month: int = Field(
        default=1, ge=1, le=12, strict=True,
        description="First month of the (financial) year: year to date and full year.",
    )
    units: Literal["all"] | list[UnitParams] | None = Field(
        default=None,
        description="The units (segments) with a pack each, under the group pack: `all`, or a "
                    "list of {id, segment, name, owner}.",
    )
    cadences: list[str] | None = Field(
        default=None,
        description="The packs `reviewkit batch` builds from this file; default: every cadence "
                    "the catalog reports.",
    )
    publish_gate: dict[str, bool] = Field(
        default_factory=dict,
        description="Publish-gate rules to turn on or off, e.g. {narrative_final: false}.",
    )
    sources: dict[str, Any] = Field(
        default_factory=dict,
        description="Named operational sources the catalog's KPI queries read: a path or glob "
                    "of .csv, .parquet or .xlsx files, or {url: ..., table: ...}.",
    )
    allowed: str | list[str] | None = Field(
        default=None,
        description="Folders (besides this file's own) that sources may read files from.",
    )
    query_time_limit: float | None = Field(
        default=None, gt=0, le=86_400, allow_inf_nan=False, strict=True,
        description="Seconds one KPI query may run (default 120).",
    )
    serve: ServeParams | None = Field(
        default=None,
        description="The review cycle's web application (reviewkit serve): its address, people "
                    "file, packs folder and SMTP server.",
    )

    @field_validator("allowed", mode="before")
    @classmethod
    def _folders(cls, value: object) -> object:
        if value is None:
            return None
        entries = [value] if isinstance(value, str) else value
        if not isinstance(entries, list) or not entries or not all(
                isinstance(entry, str) and entry.strip() for entry in entries):
            raise ValueError("allowed must be a folder, or a list of folders, that sources may "
                             "read files from (relative to the params file)")
        return value

    @field_validator("publish_gate")
    @classmethod
    def _known_gate_rules(cls, value: dict[str, bool]) -> dict[str, bool]:
        for name in value:
            if name not in GATE_RULES:
                raise ValueError(
                    f"unknown publish-gate rule '{name}'; rules: {', '.join(GATE_RULES)}"
                )
        return value

    _no_nul_character = field_validator(
        "catalog", "measurements", "notebook", "assets", "initiatives", "benefits", "spend",
        "priorities", "store", mode="before")(no_nul_character)

    @field_validator("period_end", mode="before")
    @classmethod
    def _strict_date(cls, value: object) -> object:
        # YAML gives a date for 2026-11-20 and a string or a number for anything else; only a
        # real YYYY-MM-DD date is one (pydantic would read 20261120 as seconds since 1970).
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            raise ValueError("give a date without a time, as YYYY-MM-DD")
        if isinstance(value, dt.date):
            return check_date(value)
        return parse_date(str(value))

    @field_validator("units")
    @classmethod
    def _distinct_units(
        cls, value: Literal["all"] | list[UnitParams] | None
    ) -> Literal["all"] | list[UnitParams] | None:
        if isinstance(value, list):
            if not value:
                raise ValueError("list at least one unit, or write `units: all`")
            for what in ("id", "segment"):
                seen: set[str] = set()
                for unit in value:
                    key = unit.id if what == "id" else (unit.segment or unit.id)
                    if key in seen:
                        raise ValueError(f"two units have the {what} {key!r}")
                    seen.add(key)
        return value

    @field_validator("cadences")
    @classmethod
    def _known_cadences(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("name at least one cadence, or leave the key out")
            known = cadence_registry.names()
            for name in value:
                if name not in known:
                    raise ValueError(f"unknown cadence {name!r}; use {', '.join(known)}")
        return value

    @field_validator("organisation", "classification")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("page_size")
    @classmethod
    def _known_page_size(cls, value: str) -> str:
        sizes = {"a3", "a4", "a5", "letter", "legal"}
        if value.strip().lower() not in sizes:
            raise ValueError(f"unknown page size '{value}'; use one of A3, A4, A5, letter, legal")
        return value.strip()


class LoadedParams(BaseModel):
    """Validated params plus where they came from."""

    model_config = ConfigDict(frozen=True)

    path: Path
    values: PackParams
    raw: dict[str, Any]  # as written, except that database passwords are hidden
    sources: tuple[Source, ...] = ()
    lines: dict[str, int] = Field(default_factory=dict)  # the line of each key in the file

    def error(self, message: str, field: str) -> InputError:
        """An error about one of this file's fields, naming its line."""
        return InputError(self.path, message, field=field, line=self.lines.get(field))

    def title_for(self, cadence: Cadence) -> str:
        return self.values.title or cadence.title

    @property
    def store_location(self) -> str:
        """The store as a URL or an absolute path (default: reviewkit.sqlite beside the params);
        ``${VARIABLE}`` is read from the environment (checked when the params were loaded)."""
        store = self.values.store or "reviewkit.sqlite"
        variable = _ENV_REFERENCE.fullmatch(store)
        if variable:
            store = os.environ[variable[1]]
        if "://" in store:
            return _sqlite_beside(store, self.path.parent)
        return str((self.path.parent / store).resolve())


def _sqlite_beside(url: str, folder: Path) -> str:
    """A database URL; an SQLite one whose file is a relative path has it read against
    ``folder``, as every path of the params file is, not against the working folder (each
    folder a command ran from would have a store of its own)."""
    if database_scheme(url) != "sqlite":
        return url
    from sqlalchemy.engine import make_url  # deferred: only an SQLite URL needs it

    try:
        parsed = make_url(url)
    except Exception:  # the store says what is wrong with the URL when it is opened
        return url
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:") \
            or Path(database).is_absolute():
        return url
    # Quoted: the URL is read again (and unquoted) when the store is opened.
    return str(parsed.set(database=quote(str((folder / database).resolve()), safe="/")))


#: ``${NAME}``: a value taken from the environment.
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

_PATH_FIELDS = (
    "catalog", "measurements", "notebook", "initiatives", "benefits", "spend", "priorities"
)


def load_params(path: str | Path) -> LoadedParams:
    """Read and validate a params file; raise :class:`InputError` naming the file and field."""
    path = Path(path)
    data = load_yaml_mapping(path, "params")
    check_known_keys(path, data, PackParams.model_fields)
    for required in ("organisation", "catalog", "measurements"):
        if data.get(required) in (None, ""):
            raise InputError(path, "required field is missing", field=required, line=data.line)
    try:
        values = PackParams.model_validate(dict(data))
    except ValidationError as exc:
        raise _as_input_error(path, data, exc) from None
    resolved: dict[str, Path] = {}
    for name in _PATH_FIELDS:
        value = getattr(values, name)
        if value is not None:
            try:
                resolved[name] = (path.parent / value).resolve()
            except (RuntimeError, OSError) as exc:  # 3.11 raises RuntimeError on a loop
                raise InputError(path, f"cannot follow {value}: {exc}; fix the symbolic link",
                                 field=name, line=data.line_of(name)) from None
    values = values.model_copy(update=resolved)
    for name in _PATH_FIELDS:
        target = getattr(values, name)
        if target is not None and not target.is_file():
            raise InputError(
                path,
                (f"not a file (a folder, a device or a pipe): {target}; name the data file"
                 if target.exists() else
                 f"file not found: {target}; paths are relative to the params file"),
                field=name,
                line=data.line_of(name),
            )
    if values.notebook is not None and values.notebook.suffix.lower() != ".ipynb":
        raise InputError(path, f"{values.notebook.name} is not a Jupyter notebook (.ipynb)",
                         field="notebook", line=data.line_of("notebook"))
    assets = values.assets
    if assets is not None:
        assets = (path.parent / assets).resolve()
        if not assets.is_dir():
            raise InputError(path, f"assets folder not found: {assets}; paths are relative to "
                             "the params file", field="assets", line=data.line_of("assets"))
        values = values.model_copy(update={"assets": assets})
    variable = _ENV_REFERENCE.fullmatch(values.store or "")
    if variable and variable[1] not in os.environ:
        raise InputError(path, f"the environment variable {variable[1]} is not set; set it to "
                         "the store's path or database URL", field="store",
                         line=data.line_of("store"))
    sources = resolve_sources(path, data)
    raw = _plain(data)
    # Why: the validated values are the other way params reach a pack; keep the password out.
    values = values.model_copy(update={"sources": raw.get("sources") or {}})
    return LoadedParams(path=path.resolve(), values=values, raw=raw, sources=sources,
                        lines=dict(data.key_lines))


def _plain(data: LineDict) -> dict[str, Any]:
    """The params as written, for provenance; the store's and database sources' passwords
    are hidden."""
    plain = {
        key: (str(value) if isinstance(value, dt.date) else value)
        for key, value in data.items()
    }
    if isinstance(plain.get("store"), str):
        plain["store"] = redact_url(plain["store"])
    sources = plain.get("sources")
    if isinstance(sources, dict):
        plain["sources"] = {
            name: ({**spec, "url": redact_url(spec["url"])}
                   if isinstance(spec, dict) and isinstance(spec.get("url"), str) else spec)
            for name, spec in sources.items()
        }
    return plain


def _as_input_error(path: Path, data: LineDict, exc: ValidationError) -> InputError:
    errors = exc.errors()
    # For `units: all | [...]` pydantic reports both branches; the list's error is the useful one.
    error = next((e for e in errors if not any(str(p).startswith("literal[") for p in e["loc"])),
                 errors[0])
    location = [str(part) for part in error["loc"] if not str(part).startswith("list[")]
    field = location[0] if location else None
    message = error["msg"]
    if error["type"] in ("date_from_datetime_parsing", "date_parsing", "date_type",
                         "date_from_datetime_inexact"):
        message = "not a date; write it as YYYY-MM-DD"
    elif error["type"] == "extra_forbidden" and field == "currency":
        message = f"unknown key; allowed keys: {', '.join(CurrencyParams.model_fields)}"
    elif error["type"] == "extra_forbidden" and field == "spend_thresholds":
        message = f"unknown key; allowed keys: {', '.join(SpendThresholds.model_fields)}"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    line = data.line_of(field) if field else data.line
    nested = data.get(field) if field else None
    if len(location) > 1 and isinstance(nested, LineDict):
        line = nested.line_of(location[1])  # e.g. currency.scale: the line of `scale:`
    return InputError(path, message, field=".".join(location) or None, line=line)
