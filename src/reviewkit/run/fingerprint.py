"""A pack's fingerprint: one digest of everything it shows, so a batch can skip a pack whose
inputs have not changed since it was last built.

The digest covers the evaluated pack (the unit's rows as they enter every figure, chart and
table, the catalog, the action log and what changed since the previous pack, all of which come
from the unit's rows and its store history), the narrative and every image of the assets folder
it shows, the pack's identity (organisation, title, classification, paper), the params file, the
notebook as it will run and the reviewkit version. Not the time it was generated, nor whether
it is a draft or published (a batch never replaces a published pack whose inputs did not
change), nor the hashes of whole input files: a change to another unit's rows changes the
measurements file but not this pack.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nbformat import NotebookNode
from pydantic import BaseModel

from reviewkit import __version__
from reviewkit.inputs.loaded import sha256_of
from reviewkit.layout.view import PackView, Publication

#: Bumped when what the digest covers changes, so older fingerprints never match.
FORMAT = 2


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


#: A Markdown image (``![alt](path)``) or a reference definition (``[ref]: path``) in the
#: narrative: the files of the assets folder a pack may show.
_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)|^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?\s*$",
                    re.MULTILINE)


def assets_shown(assets: Path | None, texts: Iterable[str]) -> dict[str, str]:
    """Each narrative image path and the digest of the file it names in the assets folder
    ('' when there is none): an image changed, added or removed changes the pack."""
    shown: dict[str, str] = {}
    if assets is None:
        return shown
    root = assets.resolve()
    for text in texts:
        for match in _IMAGE.finditer(text):
            url = match[1] or match[2]
            if url in shown:
                continue
            try:
                path = (root / url).resolve()
                shown[url] = (sha256_of(path) if path.is_relative_to(root) and path.is_file()
                              else "")
            except (OSError, RuntimeError, ValueError):
                shown[url] = ""
    return shown


def pack_fingerprint(view: PackView, publication: Publication, notebook: NotebookNode,
                     assets: Path | None = None) -> str:
    """The digest of everything a pack shows but the time it was made and whether it is a
    draft or published (see the module): a published pack whose inputs did not change
    matches the draft a batch would make of it."""
    identity = {
        "format": FORMAT,
        "reviewkit": __version__,
        "organisation": view.organisation,
        "title": view.title,
        "classification": view.classification,
        "page_size": view.page_size,
        # The params file's digest, taken when it was loaded (it is not read again).
        "params": next((item.sha256 for item in view.provenance.inputs if item.role == "params"),
                       ""),
        "parameters": canonical(view.provenance.parameters),
    }
    cells = [{key: cell.get(key) for key in ("cell_type", "source", "metadata")}
             for cell in notebook.cells]
    narrative = canonical(publication.narrative)
    images = assets_shown(assets, (cell.text for cell in publication.narrative))
    payload = json.dumps([identity, canonical(view.evaluated), narrative, images, cells],
                         sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
