"""Load test of the review cycle: many owners saving their updates at once over the loopback
address, against ``reviewkit serve`` (waitress) on a synthetic organisation with one KPI per
owner. Every save an owner was told succeeded must be in the store exactly once, in order;
none may be lost or doubled.

    python bench/serve_load.py                     # 200 owners for 60 s (docs/benchmarks.md)
    python bench/serve_load.py --owners 20 --seconds 5

Each owner signs in with a password (argon2), then saves their KPI's analysis again and again,
as a browser does: POST the page's form, follow the redirect to the page. The p95 latency of
the saves (POST to its answer) is reported. The suite runs a few seconds of the same
(tests/test_serve_live.py), and kills the server mid-load to check that a restart loses
nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "load test password"
PERIOD = dt.date(2026, 11, 20)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_REV = re.compile(r'name="(k\d+\.group:analysis):rev" value="(\d+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_organisation(root: Path, owners: int) -> Path:
    """A catalog of one KPI per owner, a few weeks of measurements, a params file."""
    root.mkdir(parents=True, exist_ok=True)
    lines = ["kpis:"]
    rows = ["kpi_id,period_end,value"]
    for index in range(owners):
        lines += [f"  - id: k{index:03d}", f"    name: Indicator {index:03d}",
                  "    perspective: Load", "    direction: higher_is_better",
                  "    target: 90", "    amber: 80", f"    owner: Owner {index:03d}",
                  "    cadences: [weekly]", "    unit: '%'"]
        for week in range(4):
            day = PERIOD - dt.timedelta(days=7 * week)
            rows.append(f"k{index:03d},{day.isoformat()},{70 + (index + week) % 30}")
    (root / "kpis.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "measurements.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    params = root / "weekly.yaml"
    params.write_text("organisation: Load Test Ltd\ncatalog: kpis.yaml\n"
                      "measurements: measurements.csv\nstore: cycle.sqlite\n"
                      "serve:\n  sign_in_limit: 100000 per minute\n", encoding="utf-8")
    return params


def prepare(params: Path, owners: int) -> int:
    """The people (one owner each, one password hash shared: hashing 200 times adds nothing)
    and the round; returns the round's id."""
    # Imported here so --help answers without loading reviewkit.
    from reviewkit.serve import rounds
    from reviewkit.serve.people import hash_password
    from reviewkit.store.cycle import CycleStore
    from reviewkit.store.database import Store

    store = Store.open(str(params.parent / "cycle.sqlite"))
    try:
        cycle = CycleStore(store)
        hashed = hash_password(PASSWORD)
        for index in range(owners):
            cycle.add_user(email=f"owner{index:03d}@load.example", name=f"Person {index:03d}",
                           role="owner", owns=[f"Owner {index:03d}"], units=["all"],
                           password_hash=hashed, by="bench")
        opened = rounds.open_round(store, params, "weekly", period=PERIOD.isoformat(),
                                   due="2099-12-31", by="bench")
        return opened.id
    finally:
        store.dispose()


class Server:
    """``reviewkit serve`` in its own process, as an office would run it."""

    def __init__(self, params: Path, port: int, threads: int = 16) -> None:
        self.params, self.port, self.threads = params, port, threads
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        command = [sys.executable, "-m", "reviewkit", "serve", "--params", str(self.params),
                   "--port", str(self.port), "--threads", str(self.threads),
                   "--packs", str(self.params.parent / "packs")]
        with (self.params.parent / "server.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log,
                                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server stopped: "
                                   + (self.params.parent / "server.log").read_text()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        """As a crash would: SIGKILL, no clean-up."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Owner:
    """One owner's browser: a cookie, and every save the server acknowledged."""

    index: int
    port: int
    round_id: int
    cookie: str = ""
    csrf: str = ""
    revision: int = 0
    acknowledged: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def field_name(self) -> str:
        return f"k{self.index:03d}.group:analysis"

    def _request(self, method: str, path: str, body: dict[str, str] | None = None
                 ) -> tuple[int, dict[str, str], str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = {"Cookie": self.cookie} if self.cookie else {}
            data = None
            if body is not None:
                data = urlencode(body)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            connection.request(method, path, body=data, headers=headers)
            answer = connection.getresponse()
            text = answer.read().decode("utf-8", "replace")
            cookie = answer.getheader("Set-Cookie")
            if cookie:
                self.cookie = cookie.split(";", 1)[0]
            return answer.status, dict(answer.getheaders()), text
        finally:
            connection.close()

    def sign_in(self) -> None:
        _, _, page = self._request("GET", "/sign-in")
        self.csrf = _CSRF.search(page)[1]  # type: ignore[index]
        status, _, _ = self._request("POST", "/sign-in", {
            "csrf_token": self.csrf, "email": f"owner{self.index:03d}@load.example",
            "password": PASSWORD})
        if status != 302:
            raise RuntimeError(f"owner {self.index} could not sign in ({status})")
        self.load_page()

    def load_page(self) -> None:
        status, _, page = self._request("GET", f"/my/{self.round_id}")
        if status != 200:
            raise RuntimeError(f"owner {self.index}: page answered {status}")
        self.csrf = _CSRF.search(page)[1]  # type: ignore[index]
        found = dict(_REV.findall(page))
        self.revision = int(found[self.field_name])

    def save(self, text: str) -> bool:
        """One save, as the page's form sends it; True when the server acknowledged it."""
        started = time.perf_counter()
        try:
            status, headers, _ = self._request("POST", f"/my/{self.round_id}", {
                "csrf_token": self.csrf, self.field_name: text,
                f"{self.field_name}:rev": str(self.revision)})
        except (OSError, http.client.HTTPException) as exc:  # a server gone mid-answer
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return False
        self.latencies.append(time.perf_counter() - started)
        # Saved: redirected back to the page. (A redirect to the sign-in page is a refusal.)
        if status == 302 and headers.get("Location", "").endswith(f"/my/{self.round_id}"):
            self.acknowledged.append(text)
            self.revision += 1
            try:
                self.load_page()  # the redirect, as a browser follows it
            except (OSError, http.client.HTTPException, RuntimeError) as exc:
                self.errors.append(str(exc))
            return True
        self.errors.append(f"save answered {status} {headers.get('Location', '')}")
        return False


def sign_in_all(owners: list[Owner], at_once: int = 16) -> None:
    """Every owner signs in, ``at_once`` at a time (argon2 makes each sign-in cost CPU on
    purpose; the load measured is the saving, after)."""
    pending = list(owners)
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not pending:
                    return
                owner = pending.pop()
            owner.sign_in()

    threads = [threading.Thread(target=work) for _ in range(at_once)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_owners(owners: list[Owner], seconds: float, stop: threading.Event | None = None,
               tag: str = "") -> None:
    """Every owner saves again and again for ``seconds`` (or until ``stop``)."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + seconds

    def work(owner: Owner) -> None:
        count = 0
        while time.monotonic() < deadline and not stop.is_set():
            count += 1
            if not owner.save(f"owner {owner.index} save {tag}{count}") and stop.is_set():
                return

    threads = [threading.Thread(target=work, args=(owner,)) for owner in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def stored_history(params: Path, round_id: int) -> dict[int, list[str]]:
    """Each owner's saved texts in the order the store recorded them."""
    from reviewkit.store.cycle import CycleStore
    from reviewkit.store.database import Store

    store = Store.open(str(params.parent / "cycle.sqlite"))
    try:
        found: dict[int, list[str]] = {}
        for entry in CycleStore(store).history(round_id):
            found.setdefault(int(entry.kpi_id[1:]), []).append(entry.text)
        return found
    finally:
        store.dispose()


def check(owners: list[Owner], history: dict[int, list[str]]) -> list[str]:
    """What was lost or doubled: every acknowledged save once, in order; nothing else but an
    unanswered last save (the one in flight when a server died)."""
    problems = []
    for owner in owners:
        saved = history.get(owner.index, [])
        if len(set(saved)) != len(saved):
            problems.append(f"owner {owner.index}: a save is doubled")
        if saved[: len(owner.acknowledged)] != owner.acknowledged:
            problems.append(f"owner {owner.index}: an acknowledged save is missing")
        if len(saved) > len(owner.acknowledged) + 1:
            problems.append(f"owner {owner.index}: saves nobody made")
    return problems


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--owners", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--threads", type=int, default=16, help="the server's threads")
    parser.add_argument("--root", type=Path, default=Path("/tmp/reviewkit-serve-load"))
    args = parser.parse_args()
    if args.root.exists():
        for path in sorted(args.root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    params = make_organisation(args.root, args.owners)
    round_id = prepare(params, args.owners)
    server = Server(params, free_port(), args.threads)
    server.start()
    try:
        owners = [Owner(index, server.port, round_id) for index in range(args.owners)]
        started = time.perf_counter()
        sign_in_all(owners)
        signed = time.perf_counter() - started
        run_owners(owners, args.seconds)
    finally:
        server.stop()
    latencies = [value for owner in owners for value in owner.latencies]
    saves = sum(len(owner.acknowledged) for owner in owners)
    problems = check(owners, stored_history(params, round_id))
    errors = [error for owner in owners for error in owner.errors]
    report = {
        "owners": args.owners, "seconds": args.seconds, "server_threads": args.threads,
        "sign_in_seconds": round(signed, 1), "saves_acknowledged": saves,
        "saves_per_second": round(saves / args.seconds, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
        "errors": len(errors), "lost_or_doubled": problems,
    }
    print(json.dumps(report, indent=2))
    return 1 if problems or errors else 0


if __name__ == "__main__":
    sys.exit(main())
