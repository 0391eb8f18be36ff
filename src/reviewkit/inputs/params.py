"""The params file: one typed, validated model for every setting of a pack definition."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reviewkit.cadences import Cadence
from reviewkit.errors import InputError
from reviewkit.formatting import Currency
from reviewkit.inputs._yaml import LineDict, check_known_keys, load_yaml_mapping

#: The publish gate's rules (name → what it checks), all on by default; a params file may turn
#: any off with ``publish_gate: {rule: false}``. Each is checked in :mod:`reviewkit.run.gate`.
GATE_RULES: dict[str, str] = {
    "narrative_final": "every narrative cell has been written or accepted by a person and is "
                       "not stale",
    "red_kpis_explained": "every red KPI has commentary or an open action",
    "overdue_actions_rescheduled": "every overdue action has a new due date (or is closed)",
    "headline_data_current": "every headline KPI has data for the period",
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
        default=None, description="Action/decision store: a path or a database URL."
    )
    classification: str = Field(
        default="Internal", description="Classification line printed in every page footer."
    )
    page_size: str = Field(default="A4", description="Paper size for the PDF, e.g. A4, letter.")
    headline: list[str] | None = Field(
        default=None,
        description="KPI ids shown as summary tiles (5-7 is right); default: catalog `headline`.",
    )
    history: int | None = Field(
        default=None, ge=4, le=520, description="Periods of history in charts; default per cadence."
    )
    stale_after: int = Field(
        default=2,
        ge=1,
        le=52,
        description="A KPI with no measurement for this many periods in a row is stale.",
    )
    notebook: Path | None = Field(
        default=None, description="A custom notebook to run instead of the built-in one."
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
    year_start_month: int = Field(
        default=1, ge=1, le=12,
        description="First month of the (financial) year: year to date and full year.",
    )
    publish_gate: dict[str, bool] = Field(
        default_factory=dict,
        description="Publish-gate rules to turn on or off, e.g. {narrative_final: false}.",
    )

    @field_validator("publish_gate")
    @classmethod
    def _known_gate_rules(cls, value: dict[str, bool]) -> dict[str, bool]:
        for name in value:
            if name not in GATE_RULES:
                raise ValueError(
                    f"unknown publish-gate rule '{name}'; rules: {', '.join(GATE_RULES)}"
                )
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
    raw: dict[str, Any]

    def title_for(self, cadence: Cadence) -> str:
        return self.values.title or cadence.title

    @property
    def store_location(self) -> str:
        """The store as a URL or an absolute path (default: reviewkit.sqlite beside the params)."""
        store = self.values.store or "reviewkit.sqlite"
        if "://" in store:
            return store
        return str((self.path.parent / store).resolve())


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
            resolved[name] = (path.parent / value).resolve()
    values = values.model_copy(update=resolved)
    for name in _PATH_FIELDS:
        target = getattr(values, name)
        if target is not None and not target.is_file():
            raise InputError(
                path,
                f"file not found: {target}; paths are relative to the params file",
                field=name,
                line=data.line_of(name),
            )
    return LoadedParams(path=path.resolve(), values=values, raw=_plain(data))


def _plain(data: LineDict) -> dict[str, Any]:
    return {
        key: (str(value) if isinstance(value, dt.date) else value)
        for key, value in data.items()
    }


def _as_input_error(path: Path, data: LineDict, exc: ValidationError) -> InputError:
    error = exc.errors()[0]
    location = [str(part) for part in error["loc"]]
    field = location[0] if location else None
    message = error["msg"]
    if error["type"] in ("date_from_datetime_parsing", "date_parsing", "date_type"):
        message = "not a date; write it as YYYY-MM-DD"
    elif error["type"] == "extra_forbidden" and field == "currency":
        message = f"unknown key; allowed keys: {', '.join(CurrencyParams.model_fields)}"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    line = data.line_of(field) if field else data.line
    nested = data.get(field) if field else None
    if len(location) > 1 and isinstance(nested, LineDict):
        line = nested.line_of(location[1])  # e.g. currency.scale: the line of `scale:`
    return InputError(path, message, field=".".join(location) or None, line=line)
