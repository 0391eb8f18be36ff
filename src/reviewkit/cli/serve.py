"""The review cycle's commands: ``serve``, ``round`` and ``people``."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys

from reviewkit.errors import UsageError
from reviewkit.inputs.params import load_params
from reviewkit.periods import today
from reviewkit.serve import rounds
from reviewkit.serve.app import create_app
from reviewkit.serve.people import (
    check_person,
    declared_units,
    hash_password,
    read_people,
    save_people,
)
from reviewkit.store.cycle import CycleStore
from reviewkit.store.database import Store


def run_serve_command(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(args)
    store = Store.open(load_params(args.params).store_location)
    try:
        if args.command == "round":
            return _round(args, store)
        return _people(args, store)
    finally:
        store.dispose()


def _serve(args: argparse.Namespace) -> int:
    # Deferred for start-up time: the server is only needed here.
    import waitress

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app(args.params, packs=args.packs)
    print(f"reviewkit serve: http://{args.host}:{args.port}/ (Ctrl-C stops it)",
          file=sys.stderr, flush=True)
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads,
                   ident="reviewkit", max_request_body_size=1024 * 1024)
    return 0


def _round(args: argparse.Namespace, store: Store) -> int:
    cycle = CycleStore(store)
    by = getattr(args, "by", None) or getpass.getuser()
    if args.round_command == "open":
        opened = rounds.open_round(store, args.params, args.cadence, period=args.period,
                                   due=args.due, by=by)
        owners = len(opened.tasks)
        kpis = sum(len(entry["kpis"]) for entry in opened.tasks.values())
        print(f"round {opened.id}: {opened.name}, due {opened.due.isoformat()}: {owners} "
              f"owners, {kpis} KPI updates asked for")
        return 0
    if args.round_command == "close":
        if cycle.round(args.id) is None:
            raise UsageError(f"no round {args.id}; see `reviewkit round list`")
        cycle.close_round(args.id, by=by)
        print(f"round {args.id} closed")
        return 0
    users = cycle.users()
    for found in cycle.rounds():
        state = "open" if found.is_open else "closed"
        print(f"{found.id}\t{found.name}\tdue {found.due.isoformat()}\t{state}")
        for row in rounds.tracker(cycle, found, users, today()):
            print(f"\t{row.owner}: {row.state} ({row.updated} of {row.kpis} KPIs)")
    return 0


def _people(args: argparse.Namespace, store: Store) -> int:
    cycle = CycleStore(store)
    by = getattr(args, "by", None) or getpass.getuser()
    if args.people_command == "add":
        try:
            person = check_person(args.email, args.name, args.role, args.owns,
                                  args.units.split(","),
                                  known_units=declared_units([load_params(args.params)]))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        password = None
        if args.password_stdin:
            password = hash_password(sys.stdin.readline().rstrip("\n"))
        user = cycle.add_user(email=person.email, name=person.name, role=person.role,
                              owns=person.owns, units=person.units, password_hash=password,
                              by=by)
        print(f"{user.email}: {user.role}")
        return 0
    if args.people_command == "import":
        added = save_people(
            cycle, read_people(args.file, declared_units([load_params(args.params)])), by=by)
        print(f"{len(added)} people from {args.file}")
        for user in added:
            if not user.active:
                print(f"{user.email} stays deactivated ('people add' brings them back)")
        return 0
    if args.people_command == "deactivate":
        left = cycle.deactivate(args.email, by=by)
        if left is None:
            raise UsageError(f"no one has the address {args.email.strip().lower()}; "
                             "'people list' shows everyone")
        print(f"{left.email}: deactivated")
        return 0
    for user in cycle.users():
        print(f"{user.email}\t{user.name}\t{user.role}\t{'; '.join(user.owns)}\t"
              f"{','.join(user.units)}\t{'active' if user.active else 'deactivated'}")
    return 0
