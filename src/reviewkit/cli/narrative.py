"""`reviewkit narrative export|import`: the narrative of a pack as one Markdown file."""

from __future__ import annotations

import argparse
import getpass
import sys

from reviewkit.run.context import prepare_context
from reviewkit.errors import InputError
from reviewkit.narrative.cells import (
    NarrativeError,
    check_placeholders,
    parse_markdown,
    plan_cells,
    section_keys,
    to_markdown,
)
from reviewkit.store.database import NarrativeConflict, Store


def run_narrative(args: argparse.Namespace) -> int:
    from reviewkit.run.build import notebook_for
    from reviewkit.run.execute import read_notebook

    context = prepare_context(args.cadence, args.params, args.period, with_charts=False)
    notebook = read_notebook(notebook_for(args.cadence, None))
    store = Store.open(context.store_location)
    try:
        stored = store.narratives(context.cadence, context.period.label)
        cells = plan_cells(context, section_keys(notebook), stored)
        if args.narrative_command == "export":
            text = to_markdown(context, cells)
            if args.output:
                args.output.write_text(text, encoding="utf-8")
                print(args.output)
            else:
                sys.stdout.write(text)
            return 0
        by = args.by or getpass.getuser()
        known = {cell.key: cell for cell in cells}
        sections = parse_markdown(args.file.read_text(encoding="utf-8"), args.file)
        for section in sections:
            if section.key not in known:
                raise InputError(args.file, f"no narrative cell '{section.key}' in the "
                                 f"{context.cadence} pack {context.period.label}",
                                 line=section.line)
            check_placeholders(section.text, context, section.key)
        saved = []
        with store.transaction() as tx:  # all sections or none
            for section in sections:
                cell = known[section.key]
                accepted = cell.draft and not section.draft
                if section.text == cell.text.strip() and not accepted:
                    continue
                try:
                    tx.save_narrative(
                        cadence=context.cadence, label=context.period.label, key=section.key,
                        kpi_id=cell.kpi_id, text=section.text, basis=cell.values,
                        expected_revision=section.revision, by=by,
                        source=f"markdown {args.file.name}",
                    )
                except NarrativeConflict as exc:
                    raise NarrativeError(f"{args.file}, line {section.line}: {exc}; export "
                                         "again and redo the edit") from exc
                saved.append(section.key)
    finally:
        store.dispose()
    print(f"{args.file}: " + (f"saved {', '.join(saved)}" if saved else "nothing changed"))
    return 0
