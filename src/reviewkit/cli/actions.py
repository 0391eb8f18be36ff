"""Command-line handlers for actions, decisions, board asks and minutes (argparse wiring and
printing)."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import io
import json
import sys
from pathlib import Path
from typing import Any

from reviewkit import periods
from reviewkit.cli.output import write_output
from reviewkit.errors import InputError, UsageError
from reviewkit.formatting import format_date
from reviewkit.inputs.catalog import load_catalog
from reviewkit.inputs.measurements import load_measurements
from reviewkit.inputs.params import LoadedParams, load_params
from reviewkit.inputs.units import resolve_units, segments_of
from reviewkit.store.database import (
    ACTION_STATUSES,
    ASK_STATUSES,
    Action,
    BoardAsk,
    Decision,
    Store,
)
from reviewkit.store.minutes import import_minutes, load_minutes
from reviewkit.store.reviews import parse_review

FORMATS = ("table", "csv", "json")


def _words(value: str) -> str:
    """A title, owner, text or name (--by): required words, as a minutes file requires them."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def add_parsers(commands: Any) -> None:
    """Register `actions`, `decisions` and `minutes` on the main parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--params", required=True, type=Path, metavar="FILE",
                        help="params file; its `store` names the action store")
    writer = argparse.ArgumentParser(add_help=False)
    writer.add_argument("--by", type=_words, help="who makes the change (default: your user name)")
    writer.add_argument("--date", metavar="YYYY-MM-DD",
                        help="date the change takes effect (default: the review's period end, "
                             "else today)")
    unit = argparse.ArgumentParser(add_help=False)
    unit.add_argument("--unit", metavar="ID",
                      help="the unit whose review it belongs to (default: the group's)")
    which = argparse.ArgumentParser(add_help=False)
    which.add_argument("--unit", metavar="ID",
                       help="only this unit's ('group' for the group's own; default: all)")

    actions = commands.add_parser("actions", help="record and list actions")
    sub = actions.add_subparsers(dest="action_command", required=True, metavar="COMMAND")
    add = sub.add_parser("add", parents=[common, writer, unit],
                         help="add an action; prints its id")
    add.add_argument("--title", required=True, type=_words)
    add.add_argument("--owner", required=True, type=_words)
    add.add_argument("--due", required=True, metavar="YYYY-MM-DD")
    add.add_argument("--kpi", metavar="ID", help="KPI the action should move")
    add.add_argument("--review", metavar="LABEL", help="review it was raised in, e.g. "
                     "'weekly 2026-11-13'")
    add.add_argument("--note", default="")
    update = sub.add_parser("update", parents=[common, writer], help="change an action")
    update.add_argument("id")
    update.add_argument("--status", choices=ACTION_STATUSES)
    update.add_argument("--due", metavar="YYYY-MM-DD")
    update.add_argument("--owner", type=_words)
    update.add_argument("--note")
    update.add_argument("--review", metavar="LABEL", help="review the change was agreed in")
    close = sub.add_parser("close", parents=[common, writer], help="mark an action done")
    close.add_argument("id")
    close.add_argument("--note")
    close.add_argument("--review", metavar="LABEL", help="review the closure was agreed in")
    listing = sub.add_parser("list", parents=[common, which], help="list actions")
    listing.add_argument("--status", choices=ACTION_STATUSES)
    listing.add_argument("--format", choices=FORMATS, default="table")
    show = sub.add_parser("show", parents=[common], help="one action with its history")
    show.add_argument("id")
    export = sub.add_parser("export", parents=[common, which],
                            help="all actions as CSV or JSON")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--output", type=Path, metavar="FILE", help="default: stdout")

    decisions = commands.add_parser("decisions", help="record and list decisions")
    dsub = decisions.add_subparsers(dest="decision_command", required=True, metavar="COMMAND")
    dadd = dsub.add_parser("add", parents=[common, writer, unit],
                           help="add a decision; prints its id")
    dadd.add_argument("--text", required=True, type=_words)
    dadd.add_argument("--rationale", default="")
    dadd.add_argument("--kpi", action="append", default=[], metavar="ID",
                      help="linked KPI (repeat for several)")
    dadd.add_argument("--review", metavar="LABEL")
    dlist = dsub.add_parser("list", parents=[common, which], help="list decisions")
    dlist.add_argument("--format", choices=FORMATS, default="table")

    asks = commands.add_parser("asks", help="table and list matters for the board to decide")
    asub = asks.add_subparsers(dest="ask_command", required=True, metavar="COMMAND")
    aadd = asub.add_parser("add", parents=[common, writer],
                           help="table an ask for the board; prints its id")
    aadd.add_argument("--ask", required=True, type=_words, help="what the board is asked to decide")
    aadd.add_argument("--option", action="append", default=[], metavar="TEXT",
                      help="an option before the board (repeat for several)")
    aadd.add_argument("--recommend", default="", metavar="TEXT",
                      help="the owner's recommendation")
    aadd.add_argument("--owner", required=True, type=_words)
    aadd.add_argument("--deadline", required=True, metavar="YYYY-MM-DD",
                      help="by when the board must decide")
    aadd.add_argument("--kpi", action="append", default=[], metavar="ID",
                      help="a KPI the ask concerns (repeat for several)")
    aadd.add_argument("--action", action="append", default=[], metavar="ID",
                      help="an action it concerns, e.g. A-0002 (repeat for several)")
    aadd.add_argument("--review", metavar="LABEL", help="review it was tabled in")
    aupdate = asub.add_parser("update", parents=[common, writer],
                              help="record the board's answer, or change an ask")
    aupdate.add_argument("id")
    aupdate.add_argument("--status", choices=ASK_STATUSES)
    aupdate.add_argument("--decision", metavar="ID", help="the decision that answers it")
    aupdate.add_argument("--deadline", metavar="YYYY-MM-DD")
    aupdate.add_argument("--recommend", metavar="TEXT")
    aupdate.add_argument("--review", metavar="LABEL", help="review the change was agreed in")
    alist = asub.add_parser("list", parents=[common, which], help="list board asks")
    alist.add_argument("--status", choices=ASK_STATUSES)
    alist.add_argument("--format", choices=FORMATS, default="table")

    minutes = commands.add_parser("minutes", help="import a meeting's minutes file")
    msub = minutes.add_subparsers(dest="minutes_command", required=True, metavar="COMMAND")
    mimport = msub.add_parser("import", parents=[common], help="apply a minutes file (YAML)")
    mimport.add_argument("file", type=Path)
    mimport.add_argument("--by", type=_words, help="who imports (default: your user name)")
    mimport.add_argument("--amend", action="store_true",
                         help="this file corrects minutes imported before: record its "
                              "differences as amendments of that meeting")


def _open(args: argparse.Namespace) -> tuple[Store, set[str]]:
    params = load_params(args.params)
    catalog = load_catalog(params.values.catalog)
    if getattr(args, "unit", None) not in (None, "group"):
        _check_unit(params, args.unit, "--unit")
    store = Store.open(params.store_location)
    return store, {kpi.id for kpi in catalog.kpis}


def known_units(params: LoadedParams) -> set[str]:
    """The unit ids of a params file: its list, or one per segment in its measurements."""
    listed = params.values.units
    if isinstance(listed, list):
        return {unit.id for unit in listed}
    breakdowns = load_catalog(params.values.catalog).breakdowns()
    measurements = load_measurements(params.values.measurements, breakdowns=breakdowns)
    if not segments_of(measurements):
        return set()
    return {unit.id for unit in resolve_units(params, measurements, every_segment=True)}


def _check_unit(params: LoadedParams, unit: str, option: str) -> None:
    units = known_units(params)
    if unit not in units:
        listed = ", ".join(sorted(units)) or "none (no measurement row has a segment)"
        raise UsageError(f"{option} '{unit}' is not a unit of {params.path.name}; units: "
                         f"{listed}")


def _unit_key(args: argparse.Namespace) -> str | None:
    """--unit as a store key: None for every unit, '' for the group's own."""
    unit: str | None = getattr(args, "unit", None)
    return "" if unit == "group" else unit


def _date_arg(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date; write it as YYYY-MM-DD") from None


def _review_arg(value: str | None) -> tuple[str | None, dt.date | None]:
    if not value:
        return None, None
    try:
        review = parse_review(value)
    except ValueError as exc:
        raise UsageError(f"--review: {exc}") from None
    return str(review), review.period.end


def _kpi_arg(value: str | None, known: set[str], params: Path) -> str | None:
    if value is None:
        return None
    if value not in known:
        raise InputError(params, f"--kpi '{value}' is not in the KPI catalog", field="kpi")
    return value


def _context(args: argparse.Namespace) -> dict[str, Any]:
    _, review_date = _review_arg(getattr(args, "review", None))
    effective = _date_arg(getattr(args, "date", None), "--date") or review_date or periods.today()
    return {"effective": effective, "by": args.by or getpass.getuser(),
            "source": "command line"}


def run_actions(args: argparse.Namespace) -> int:
    store, known = _open(args)
    try:
        command = args.action_command
        if command == "add":
            due = _date_arg(args.due, "--due")
            assert due is not None
            context = _context(args)
            review, _ = _review_arg(args.review)
            action_id = store.add_action(
                title=args.title, owner=args.owner, due=due,
                kpi_id=_kpi_arg(args.kpi, known, args.params), raised_in=review,
                note=args.note, unit=_unit_key(args) or "", **context,
            )
            print(action_id)
            _warn_if_past(action_id, due, context["effective"])
        elif command in ("update", "close"):
            changes: dict[str, Any] = {"note": args.note}
            if command == "close":
                changes["status"] = "done"
            else:
                changes.update(status=args.status, due=_date_arg(args.due, "--due"),
                               owner=args.owner)
            context = _context(args)
            changed = store.update_action(args.id, changes, **context)
            print(f"{args.id}: " + (", ".join(changed) + " changed" if changed else "no change"))
            if "due" in changed and changes["due"] is not None:
                _warn_if_past(args.id, changes["due"], context["effective"])
        elif command == "list":
            _print_rows([_action_row(a) for a in store.actions(args.status, _unit_key(args))],
                        args.format)
        elif command == "show":
            _show(store, args.id)
        elif command == "export":
            text = _render([_action_row(a) for a in store.actions(unit=_unit_key(args))],
                           args.format)
            if args.output:
                write_output(args.output, text)
            else:
                sys.stdout.write(text)
    finally:
        store.dispose()
    return 0


def _warn_if_past(action_id: str, due: dt.date, effective: dt.date) -> None:
    """A due date before the day it is recorded is kept (minutes may record a late action),
    but said: the action is overdue in the very next pack."""
    if due < effective:
        print(f"warning: {action_id} is due {format_date(due)}, before {format_date(effective)} "
              "when it was recorded: it shows as overdue in the next pack", file=sys.stderr)


def run_decisions(args: argparse.Namespace) -> int:
    store, known = _open(args)
    try:
        if args.decision_command == "add":
            kpis = [_kpi_arg(k, known, args.params) for k in args.kpi]
            review, _ = _review_arg(args.review)
            decision_id = store.add_decision(
                text=args.text, rationale=args.rationale, kpis=[k for k in kpis if k],
                review=review, unit=_unit_key(args) or "", **_context(args),
            )
            print(decision_id)
        else:
            _print_rows([_decision_row(d) for d in store.decisions(_unit_key(args))],
                        args.format)
    finally:
        store.dispose()
    return 0


def run_asks(args: argparse.Namespace) -> int:
    store, known = _open(args)
    try:
        if args.ask_command == "add":
            deadline = _date_arg(args.deadline, "--deadline")
            assert deadline is not None
            kpis = [_kpi_arg(k, known, args.params) for k in args.kpi]
            for action_id in args.action:
                store.action(action_id)  # an unknown id is refused, naming it
            review, _ = _review_arg(args.review)
            ask_id = store.add_ask(
                ask=args.ask, owner=args.owner, deadline=deadline, options=args.option,
                recommendation=args.recommend, kpis=[k for k in kpis if k],
                action_ids=args.action, review=review, unit=_unit_key(args) or "",
                **_context(args))
            print(ask_id)
        elif args.ask_command == "update":
            changes: dict[str, Any] = {
                "status": args.status or ("decided" if args.decision else None),
                "decision_id": args.decision,
                "deadline": _date_arg(args.deadline, "--deadline"),
                "recommendation": args.recommend}
            changed = store.update_ask(args.id, changes, **_context(args))
            print(f"{args.id}: " + (", ".join(changed) + " changed" if changed else "no change"))
        else:
            _print_rows([_ask_row(a) for a in store.asks(args.status, _unit_key(args))],
                        args.format)
    finally:
        store.dispose()
    return 0


def _ask_row(ask: BoardAsk) -> dict[str, Any]:
    return {
        "id": ask.id, "ask": ask.ask, "owner": ask.owner, "deadline": ask.deadline.isoformat(),
        "status": ask.status, "recommendation": ask.recommendation,
        "options": " | ".join(ask.options), "kpis": " ".join(ask.kpis),
        "actions": " ".join(ask.actions), "review": ask.review or "",
        "decision_id": ask.decision_id or "", "unit": ask.unit,
    }


def run_minutes(args: argparse.Namespace) -> int:
    store, known = _open(args)
    try:
        minutes = load_minutes(args.file, known,
                               lambda: known_units(load_params(args.params)))
        result = import_minutes(store, minutes, by=args.by or getpass.getuser(),
                                amend=args.amend)
    finally:
        store.dispose()
    if result.already_imported:
        print(f"{args.file}: already imported; nothing changed")
        return 0
    parts = []
    if result.created_decisions:
        parts.append("decisions " + ", ".join(result.created_decisions))
    if result.created_actions:
        parts.append("new actions " + ", ".join(result.created_actions))
    if result.created_asks:
        parts.append("board asks " + ", ".join(result.created_asks))
    if result.updated:
        parts.append("updated " + ", ".join(f"{k} ({', '.join(v)})"
                                            for k, v in result.updated.items()))
    print(f"{args.file}: " + ("; ".join(parts) if parts else "nothing new"))
    if result.amended:
        print(f"amended the minutes of the meeting ({len(result.amended)} difference"
              f"{'s' if len(result.amended) != 1 else ''}):")
        for line in result.amended:
            print(f"  {line}")
    return 0


def _action_row(action: Action) -> dict[str, Any]:
    today = periods.today()
    overdue = max(0, (today - action.due).days) if action.is_open else 0
    return {
        "id": action.id, "title": action.title, "owner": action.owner,
        "due": action.due.isoformat(), "status": action.status, "kpi_id": action.kpi_id or "",
        "raised_in": action.raised_in or "", "raised_on": action.raised_on.isoformat(),
        "days_overdue": overdue, "decision_id": action.decision_id or "", "note": action.note,
        "unit": action.unit,
    }


def _decision_row(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.id, "text": decision.text, "rationale": decision.rationale,
        "review": decision.review or "", "decided_on": decision.decided_on.isoformat(),
        "kpis": " ".join(decision.kpis), "actions": " ".join(decision.actions),
        "unit": decision.unit,
    }


def _render(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return buffer.getvalue()
    if not rows:
        return "(none)\n"
    columns = [c for c in rows[0] if c not in ("note", "rationale", "raised_on", "decision_id",
                                               "recommendation", "options")]
    widths = {c: min(48, max(len(c), *(len(str(r[c])) for r in rows))) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    for row in rows:
        lines.append("  ".join(_clip(str(row[c]), widths[c]).ljust(widths[c]) for c in columns))
    return "\n".join(lines) + "\n"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_rows(rows: list[dict[str, Any]], fmt: str) -> None:
    sys.stdout.write(_render(rows, fmt))


def _show(store: Store, action_id: str) -> None:
    action = store.action(action_id)
    print(f"{action.id}  {action.title}")
    for label, value in (("owner", action.owner), ("due", action.due.isoformat()),
                         ("status", action.status), ("kpi", action.kpi_id or "—"),
                         ("raised in", action.raised_in or "—"),
                         ("raised on", action.raised_on.isoformat()),
                         ("decision", action.decision_id or "—"), ("note", action.note or "—")):
        print(f"  {label:<10} {value}")
    print("history:")
    for event in store.events(action_id):
        if event.field == "created":
            what = "created"
        else:
            what = f"{event.field}: {event.old or '—'} → {event.new or '—'}"
        print(f"  {event.effective.isoformat()}  {what}  (by {event.by}, {event.source}, "
              f"recorded {event.recorded_at})")
