"""The review cycle's commands on the command line: serve, round and people (parsers only;
:mod:`reviewkit.cli.serve` runs them, imported when one is asked for)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reviewkit import cadences
from reviewkit.cli.actions import _words

SERVE_COMMANDS = ("serve", "round", "people")


def add_serve_parsers(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the review cycle's web application "
                                              "(pip install 'reviewkit[serve]')")
    serve.add_argument("--params", required=True, type=Path, action="append", metavar="FILE",
                       help="a pack definition to serve (repeat for several; one store)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="the address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="default 8000")
    serve.add_argument("--threads", type=int, default=16,
                       help="requests served at once (default 16)")
    serve.add_argument("--packs", type=Path, metavar="DIR",
                       help="the packs folder (default: serve: packs: in the params file, "
                            "else outputs/)")

    round_ = commands.add_parser("round", help="update rounds: open, list, close")
    rsub = round_.add_subparsers(dest="round_command", required=True, metavar="COMMAND")
    opened = rsub.add_parser("open", help="open the update round of a period")
    opened.add_argument("cadence", help="the pack: " + ", ".join(cadences.BUILT_IN))
    opened.add_argument("--params", required=True, type=Path, metavar="FILE")
    opened.add_argument("--period", metavar="YYYY-MM-DD",
                        help="a day in the period (default: the latest the pack reports)")
    opened.add_argument("--due", required=True, metavar="YYYY-MM-DD",
                        help="the day owners' updates are due")
    opened.add_argument("--by", type=_words, help="who opens it (default: your user name)")
    listed = rsub.add_parser("list", help="the rounds and each owner's state")
    listed.add_argument("--params", required=True, type=Path, metavar="FILE")
    closed = rsub.add_parser("close", help="close a round (no more saves)")
    closed.add_argument("id", type=int)
    closed.add_argument("--params", required=True, type=Path, metavar="FILE")
    closed.add_argument("--by", type=_words, help="who closes it (default: your user name)")

    people = commands.add_parser(
        "people", help="the review cycle's people: add, import, deactivate, list")
    psub = people.add_subparsers(dest="people_command", required=True, metavar="COMMAND")
    add = psub.add_parser("add", help="add a person (or change their details)")
    add.add_argument("email")
    add.add_argument("--params", required=True, type=Path, metavar="FILE")
    add.add_argument("--name", required=True, type=_words)
    add.add_argument("--role", required=True, choices=("office", "analyst", "owner", "reader"))
    add.add_argument("--owns", action="append", default=[], metavar="OWNER",
                     help="an owner name they answer for, as the catalog writes it (repeat)")
    add.add_argument("--units", default="", metavar="IDS",
                     help="units they update or read, comma-separated ('group', 'all')")
    add.add_argument("--password-stdin", action="store_true",
                     help="read a password from standard input (else invite them by e-mail "
                          "from the People page, or they ask for a sign-in link)")
    add.add_argument("--by", type=_words, help="who adds them (default: your user name)")
    imported = psub.add_parser("import", help="add or update everyone in a people file")
    imported.add_argument("file", type=Path)
    imported.add_argument("--params", required=True, type=Path, metavar="FILE")
    imported.add_argument("--by", type=_words, help="who imports it (default: your user name)")
    leaver = psub.add_parser("deactivate", help="someone who left: no more sign-in, sessions "
                             "end, history kept ('people add' brings them back)")
    leaver.add_argument("email")
    leaver.add_argument("--params", required=True, type=Path, metavar="FILE")
    leaver.add_argument("--by", type=_words, help="who deactivates them (default: your user name)")
    listed_people = psub.add_parser("list", help="everyone, with their role and units")
    listed_people.add_argument("--params", required=True, type=Path, metavar="FILE")
