"""A throw-away PostgreSQL server for the store tests.

``postgres_url`` is a session-scoped fixture: it runs ``initdb`` in a temporary folder, starts
the server on a free localhost TCP port with trust authentication, creates the database
``reviewkit_test`` and yields its SQLAlchemy URL; the server is stopped (``pg_ctl stop -m fast``)
and the folder removed when the session ends. Without the server binaries the tests that use it
are skipped with a hint how to install them. tests/conftest.py registers the fixture, once for
every module (a module importing it by name would start a server of its own).

``create_database`` makes a further, empty database on the same server, so each test can have
its own.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Where Debian/Ubuntu's ``postgresql`` package puts the server binaries; newest version first.
PG_ROOTS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found; install them with "
    "`apt-get install postgresql` (or put initdb and pg_ctl on PATH) to run the PostgreSQL "
    "store tests"
)
SERVER_USER = "postgres"
_database_numbers = itertools.count(1)


def _bin_dir() -> Path | None:
    for folder in PG_ROOTS:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its binaries as the ``postgres`` user then."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVER_USER, "--", *command]


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(
        _as_server_user(command), capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _server_url(port: int, database: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"


def create_database(server_url: str, name: str | None = None) -> str:
    """Create an empty database on the server of ``server_url``; return its URL."""
    import psycopg  # the driver the store uses for PostgreSQL

    name = name or f"test_{next(_database_numbers)}"
    base, _, _ = server_url.rpartition("/")
    conninfo = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def drop_database(database_url: str) -> None:
    """Drop a database made by :func:`create_database`, closing any sessions still on it."""
    import psycopg

    base, _, name = database_url.rpartition("/")
    conninfo = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of the database ``reviewkit_test`` on a fresh PostgreSQL server for this session."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip(INSTALL_HINT)
    if os.geteuid() == 0:
        try:
            server_user = pwd.getpwnam(SERVER_USER)
        except KeyError:
            pytest.skip(
                f"running as root and there is no '{SERVER_USER}' system user to run the "
                "PostgreSQL server as (it refuses to run as root); create one "
                f"(`useradd --system {SERVER_USER}`) or run the tests as an unprivileged user"
            )
        if shutil.which("runuser") is None:
            pytest.skip("running as root and `runuser` is missing, so PostgreSQL cannot start")

    root = Path(tempfile.mkdtemp(prefix="reviewkit-pg-"))
    root.chmod(0o755)  # the server user must be able to reach its data folder
    data = root / "data"
    data.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(data, server_user.pw_uid, server_user.pw_gid)
        os.chown(root, server_user.pw_uid, server_user.pw_gid)  # for the log file
    port = _free_port()
    log = root / "server.log"
    started = False
    try:
        _run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C"],
            "initdb",
        )
        # Localhost TCP only, no Unix socket; durability is irrelevant for a throw-away server.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100"
        )
        _run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
             "-w", "-t", "60", "start"],
            "pg_ctl start",
        )
        started = True
        url = _server_url(port, "reviewkit_test")
        create_database(url, "reviewkit_test")
        yield url
    finally:
        if started:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                 "pg_ctl stop")
        shutil.rmtree(root, ignore_errors=True)
