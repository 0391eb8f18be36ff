"""The review cycle served for real (``reviewkit serve``, waitress) on the loopback address:
owners saving at once lose and double nothing, and a server killed mid-round and started
again loses nothing either (a few seconds of bench/serve_load.py, which measures the same at
scale)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from serve_load import (
    Owner,
    Server,
    check,
    free_port,
    make_organisation,
    prepare,
    run_owners,
    sign_in_all,
    stored_history,
)

pytestmark = pytest.mark.slow

OWNERS = 8


def test_owners_saving_at_once_lose_nothing_even_when_the_server_is_killed(
        tmp_path: Path) -> None:
    params = make_organisation(tmp_path / "org", OWNERS)
    round_id = prepare(params, OWNERS)
    server = Server(params, free_port(), threads=8)
    server.start()
    try:
        owners = [Owner(index, server.port, round_id) for index in range(OWNERS)]
        sign_in_all(owners)
        # Saving at once; the server is killed (SIGKILL) while saves are in flight.
        killer = threading.Timer(1.0, server.kill)
        killer.start()
        stop = threading.Event()
        threading.Timer(1.1, stop.set).start()
        run_owners(owners, 3.0, stop, tag="a")
        killer.join()
        before = sum(len(owner.acknowledged) for owner in owners)
        assert before > OWNERS  # every owner saved, most more than once
        assert check(owners, stored_history(params, round_id)) == []
        # Started again: the sessions still hold (the signing key is in the store), and the
        # pages show what was saved, a save in flight included when it committed.
        server.start()
        for owner in owners:
            owner.errors.clear()
            owner.load_page()
            saved = stored_history(params, round_id).get(owner.index, [])
            owner.acknowledged = saved  # an answered-or-not save that committed is theirs
            assert owner.revision == len(saved)
        run_owners(owners, 1.5, tag="b")
    finally:
        server.stop()
    assert [error for owner in owners for error in owner.errors] == []
    assert sum(len(owner.acknowledged) for owner in owners) > before
    assert check(owners, stored_history(params, round_id)) == []
