"""A pack's fingerprint: one digest of everything it shows, so a batch can skip a pack whose
inputs have not changed since it was last built.

The digest covers the evaluated pack (the unit's rows as they enter every figure, chart and
table, the catalog, the action log and what changed since the previous pack, all of which come
from the unit's rows and its store history), the narrative and publication state, the pack's
identity (organisation, title, classification, paper), the params file, the notebook as it will
run and the reviewkit version. Not the time it was generated, nor the hashes of whole input
files: a change to another unit's rows changes the measurements file but not this pack.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nbformat import NotebookNode
from pydantic import BaseModel

from reviewkit import __version__
from reviewkit.inputs.loaded import sha256_of
from reviewkit.layout.view import PackView, Publication

#: Bumped when what the digest covers changes, so older fingerprints never match.
FORMAT = 1


def canonical(value: Any) -> Any:
    """A JSON-ready form of a stage value that is the same in every process and run: fields
    by name, mappings by sorted key, sets sorted, dates as ISO text, floats exactly."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"@": type(value).__name__, **{
            field.name: canonical(getattr(value, field.name))
            for field in dataclasses.fields(value)}}
    if isinstance(value, BaseModel):
        return {"@": type(value).__name__, **{
            name: canonical(getattr(value, name)) for name in type(value).model_fields}}
    if isinstance(value, Mapping):
        return {str(key): canonical(item) for key, item in sorted(value.items(),
                                                                  key=lambda kv: str(kv[0]))}
    if isinstance(value, set | frozenset):
        return sorted((canonical(item) for item in value), key=lambda item: json.dumps(item))
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"cannot fingerprint a {type(value).__name__}")


def pack_fingerprint(view: PackView, publication: Publication, notebook: NotebookNode) -> str:
    """The digest of everything a pack shows but the time it was made (see the module)."""
    identity = {
        "format": FORMAT,
        "reviewkit": __version__,
        "organisation": view.organisation,
        "title": view.title,
        "classification": view.classification,
        "page_size": view.page_size,
        "params": sha256_of(Path(view.provenance.params_path)),
        "parameters": canonical(view.provenance.parameters),
    }
    cells = [{key: cell.get(key) for key in ("cell_type", "source", "metadata")}
             for cell in notebook.cells]
    payload = json.dumps([identity, canonical(view.evaluated), canonical(publication), cells],
                         sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
