"""Cells of spreadsheet-like inputs (pandas frames from Excel or Parquet) as plain text."""

from __future__ import annotations

import datetime as dt
import math


def cell_text(value: object) -> str:
    """A cell as trimmed text; Excel dates become ISO dates and missing cells ''."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return "" if text in ("NaT", "nan", "None", "<NA>") else text
