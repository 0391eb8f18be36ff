"""Set up the demo's review cycle (make serve-demo): the people of
params/review-cycle-people.yaml with demo passwords, and the weekly round of the latest week,
then print how to sign in. Safe to run again: people are updated, the round is kept."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from reviewkit.inputs.params import load_params
from reviewkit.periods import today
from reviewkit.serve import rounds
from reviewkit.serve.people import hash_password, read_people, save_people
from reviewkit.store.cycle import CycleStore
from reviewkit.store.database import Store

REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "params" / "review-cycle.yaml"
#: Demo passwords only: a real office invites people, who choose their own.
PASSWORDS = {"office": "northwind-office-demo", "owner": "northwind-owner-demo",
             "reader": "northwind-reader-demo", "analyst": "northwind-analyst-demo"}


def main() -> int:
    params = load_params(PARAMS)
    assert params.values.serve is not None and params.values.serve.people is not None
    store = Store.open(params.store_location)
    try:
        cycle = CycleStore(store)
        people = save_people(cycle, read_people(PARAMS.parent / params.values.serve.people),
                             by="serve-demo")
        for person in people:
            cycle.set_password(person.id, hash_password(PASSWORDS[person.role]), by="serve-demo")
        found = [r for r in cycle.rounds() if r.cadence == "weekly" and r.params == str(
            params.path)]
        opened = found[0] if found else rounds.open_round(
            store, PARAMS, "weekly", period=None,
            due=(today() + dt.timedelta(days=7)).isoformat(), by="Dana Whitfield")
    finally:
        store.dispose()
    url = params.values.serve.url
    lines = [f"The review cycle of the demo: {url}/  (round {opened.name}, due "
             f"{opened.due.isoformat()})", "", f"{'role':8}  {'name':15}  {'e-mail':34}  password"]
    for person in people:
        lines.append(f"{person.role:8}  {person.name:15}  {person.email:34}  "
                     f"{PASSWORDS[person.role]}")
    lines += ["", "E-mail (invitations, sign-in links, reminders, packs) is printed below by the "
              "demo's SMTP server.", "Ctrl-C stops the demo."]
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
