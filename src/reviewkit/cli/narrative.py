"""`reviewkit narrative export|import`: the narrative of a pack as one Markdown file."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path

from reviewkit import cadences
from reviewkit.cli.output import write_output
from reviewkit.errors import InputError, UsageError
from reviewkit.formatting import format_timestamp
from reviewkit.inputs.params import load_params
from reviewkit.narrative.cells import NarrativeCell
from reviewkit.narrative.edits import (
    check_exported_for,
    check_section_placeholders,
    edits_from_markdown,
    parse_markdown,
    to_markdown,
)
from reviewkit.narrative.notebook import slots_of
from reviewkit.narrative.service import NOT_CHOSEN, NarrativeService
from reviewkit.periods import parse_period
from reviewkit.run.execute import read_notebook
from reviewkit.run.prepare import evaluate, load_for, notebook_for
from reviewkit.store.database import Store


def _read(path: Path) -> str:
    """The Markdown file to import; a file that cannot be read is the user's to fix."""
    if path.is_dir():
        raise InputError(path, "is a folder; give the Markdown file to import")
    try:
        # A byte order mark (some editors write one) is not text; line ends are kept as they
        # are, so a carriage return inside a text comes back as it went out.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InputError(path, "file not found; export the narrative first with "
                         "`reviewkit narrative export`") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from None


def _print_history(service: NarrativeService, cells: Sequence[NarrativeCell],
                   keys: Sequence[str], pack: str) -> None:
    """Each cell's saved revisions, oldest first, with who, when and where from; a text that
    lost a conflict to the store (``--prefer store``) is listed as not chosen."""
    known = [cell.key for cell in cells]
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise UsageError(f"no narrative cell {', '.join(repr(k) for k in unknown)} in the "
                         f"{pack}; its cells: {', '.join(known)}")
    shown = 0
    for key in keys or known:
        entries = service.history(key)
        if not entries:
            continue
        shown += 1
        print(f"{pack}, narrative cell '{key}':")
        for entry in entries:
            when = format_timestamp(dt.datetime.fromisoformat(entry.updated_at))
            source = entry.source.removesuffix(NOT_CHOSEN)
            what = (f"not chosen over revision {entry.revision}"
                    if entry.source.endswith(NOT_CHOSEN) else f"revision {entry.revision}")
            print(f"  {what}, {when}, by {entry.updated_by} ({source})")
            for line in entry.text.splitlines() or [""]:
                print(f"    {line}")
    if not shown:
        print(f"{pack}: no narrative saved" + (f" for {', '.join(keys)}" if keys else ""))


def run_narrative(args: argparse.Namespace) -> int:
    cadence = cadences.get(args.cadence)
    if args.narrative_command == "accept" and bool(args.keys) == bool(args.all):
        raise UsageError("narrative accept: name the cells to accept (KEY …) or give --all, "
                         "not both")
    # The command line's own argument, checked before any input is read (as build does).
    period = parse_period(args.period)
    inputs = load_for(load_params(args.params), args.unit)
    notebook = read_notebook(notebook_for(cadence, inputs.params.values.notebook))
    store = Store.open(inputs.params.store_location)
    try:
        evaluated = evaluate(cadence, inputs, store, period, args.unit)
        service = NarrativeService(store, evaluated)
        # Export and import take stored text with an unknown placeholder as it is: they are
        # the way to fix it (the import refuses the file until it is fixed).
        cells = service.plan(slots_of(notebook, cadence),
                             strict=args.narrative_command == "accept")
        if args.narrative_command == "history":
            _print_history(service, cells, args.keys,
                           f"{cadence.name} pack {evaluated.period.label}")
            return 0
        if args.narrative_command == "accept":
            keys = None if args.all else list(args.keys)
            saved = service.accept(cells, keys, by=args.by or getpass.getuser(),
                                   source="accepted with reviewkit narrative accept")
            label = f"{cadence.name} pack {evaluated.period.label}"
            print(f"{label}: accepted {', '.join(saved)}" if saved
                  else f"{label}: nothing to accept (no draft or stale text)")
            return 0
        if args.narrative_command == "export":
            text = to_markdown(inputs.params.title_for(cadence), evaluated.period.long_label,
                               cadence.name, evaluated.period.label, cells,
                               unit=evaluated.unit_key)
            if args.output:
                write_output(args.output, text)
                print(args.output)
            else:
                sys.stdout.write(text)
            return 0
        text = _read(args.file)
        check_exported_for(text, args.file, cadence.name, evaluated.period.label,
                           evaluated.unit_key)
        sections = parse_markdown(text, args.file)
        check_section_placeholders(sections, evaluated, args.file)
        edits = edits_from_markdown(sections, cells, args.file,
                                    f"{cadence.name} pack {evaluated.period.label}")
        saved = service.save(edits, by=args.by or getpass.getuser())
    finally:
        store.dispose()
    print(f"{args.file}: " + (f"saved {', '.join(saved)}" if saved else "nothing changed"))
    return 0
