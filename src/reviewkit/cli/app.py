"""The command line: parses arguments, calls the library, prints results and maps errors to exits.

Only this module prints and exits; everything else raises :class:`ReviewkitError`.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from reviewkit import __version__, _speedups, cadences, redact
from reviewkit._speedups import apply as _apply_speedups
from reviewkit.cli.actions import (
    _words,
    add_parsers,
    run_actions,
    run_asks,
    run_decisions,
    run_minutes,
)
from reviewkit.cli.batch_args import add_batch_parsers
from reviewkit.cli.serve_args import SERVE_COMMANDS, add_serve_parsers
from reviewkit.errors import ReviewkitError, UsageError
from reviewkit.inputs.loaded import load_inputs
from reviewkit.periods import parse_period

if TYPE_CHECKING:  # the narrative service is imported with the build, not at start-up
    from reviewkit.narrative.service import Prefer

#: --prefer's words on the command line → the narrative service's.
PREFER: dict[str, Prefer] = {"notebook": "edit", "store": "store"}

#: Help for the cadence argument; the names come from the cadence definitions.
CADENCE_HELP = "the pack: " + ", ".join(cadences.BUILT_IN)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line like every other error (not usage plus error)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"reviewkit: error: {message}; see '{self.prog} --help'\n")


# Made once per process: parsing leaves the parser as it was, and building it costs thousands of
# gettext lookups (each a search of the locale folders) that the server, the tests and anything
# else calling main() more than once would pay again on every call.
@functools.cache
def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reviewkit",
        description="Build weekly, monthly and quarterly review packs from KPI data.",
    )
    parser.add_argument("--version", action="version", version=f"reviewkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="build a pack (PDF, HTML, notebook, summary)")
    build.add_argument("cadence", help=CADENCE_HELP)
    build.add_argument("--params", required=True, type=Path, metavar="FILE",
                       help="the pack's params file (YAML)")
    build.add_argument("--period", metavar="YYYY-MM-DD",
                       help="any date in the period to report (default: latest in the data)")
    build.add_argument("--out", type=Path, default=Path("outputs"), metavar="DIR",
                       help="output folder (default: outputs/)")
    build.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    build.add_argument("--prefer", choices=("notebook", "store"),
                       help="which narrative wins when a cell was edited in both places")
    build.add_argument("--unit", metavar="ID",
                       help="build this unit's pack (OUT/<cadence>/<label>/<unit>/); 'group' "
                            "for the group pack of a definition with units")

    draft = commands.add_parser(
        "draft", help="build a draft pack and print its notebook for the analyst to edit"
    )
    draft.add_argument("cadence", help=CADENCE_HELP)
    draft.add_argument("--params", required=True, type=Path, metavar="FILE")
    draft.add_argument("--period", metavar="YYYY-MM-DD")
    draft.add_argument("--out", type=Path, default=Path("outputs"), metavar="DIR")
    draft.add_argument("-q", "--quiet", action="store_true")
    draft.add_argument("--prefer", choices=("notebook", "store"))
    draft.add_argument("--unit", metavar="ID", help="a unit's pack ('group': the group's)")
    publish = commands.add_parser("publish", help="apply the publish gate and write the final pack")
    publish.add_argument("cadence", help=CADENCE_HELP)
    publish.add_argument("--params", required=True, type=Path, metavar="FILE")
    publish.add_argument("--period", metavar="YYYY-MM-DD")
    publish.add_argument("--out", type=Path, default=Path("outputs"), metavar="DIR")
    publish.add_argument("--approver", required=True, metavar="NAME",
                         help="who approves the pack (printed on the cover)")
    publish.add_argument("--force", action="store_true",
                         help="publish despite the gate; the reasons are recorded in the pack")
    publish.add_argument("-q", "--quiet", action="store_true")
    publish.add_argument("--prefer", choices=("notebook", "store"))
    publish.add_argument("--unit", metavar="ID", help="a unit's pack ('group': the group's)")

    narrative = commands.add_parser("narrative", help="narrative as a Markdown file")
    nsub = narrative.add_subparsers(dest="narrative_command", required=True, metavar="COMMAND")
    for verb, text in (("export", "write the narrative of a pack as Markdown"),
                       ("import", "read an edited Markdown file back into the store")):
        sub = nsub.add_parser(verb, help=text)
        sub.add_argument("cadence", help=CADENCE_HELP)
        sub.add_argument("--params", required=True, type=Path, metavar="FILE")
        sub.add_argument("--period", metavar="YYYY-MM-DD")
        # A name, or none: the history records who wrote each revision, and an empty --by must
        # not fall back to the user name without a word.
        sub.add_argument("--by", type=_words, help="who edits (default: your user name)")
        sub.add_argument("--unit", metavar="ID", help="a unit's narrative (default: the group's)")
        if verb == "export":
            sub.add_argument("--output", type=Path, metavar="FILE", help="default: stdout")
        else:
            sub.add_argument("file", type=Path)
    accept = nsub.add_parser(
        "accept", help="accept draft or stale text as it stands (recorded with who and when)")
    accept.add_argument("cadence", help=CADENCE_HELP)
    accept.add_argument("--params", required=True, type=Path, metavar="FILE")
    accept.add_argument("--period", metavar="YYYY-MM-DD")
    accept.add_argument("--by", type=_words, help="who accepts (default: your user name)")
    accept.add_argument("--unit", metavar="ID", help="a unit's narrative (default: the group's)")
    accept.add_argument("keys", nargs="*", metavar="KEY",
                        help="the narrative cells to accept (e.g. summary kpi-change_success_rate)")
    accept.add_argument("--all", action="store_true", help="every draft or stale cell")
    history = nsub.add_parser(
        "history", help="every saved revision of a pack's narrative, and words not chosen")
    history.add_argument("cadence", help=CADENCE_HELP)
    history.add_argument("--params", required=True, type=Path, metavar="FILE")
    history.add_argument("--period", metavar="YYYY-MM-DD")
    history.add_argument("--unit", metavar="ID", help="a unit's narrative (default: the group's)")
    history.add_argument("keys", nargs="*", metavar="KEY",
                         help="the narrative cells (default: every cell with a history)")

    validate = commands.add_parser("validate", help="check all inputs; build nothing")
    validate.add_argument("--params", required=True, type=Path, metavar="FILE")

    add_parsers(commands)
    add_batch_parsers(commands)
    add_serve_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "narrative_command", None) in ("accept", "history") and not any(
            item.startswith("-") for item in extra):
        # argparse gives a list positional only the words before the first option, so the keys
        # of `narrative accept weekly --params FILE KEY …` arrive here.
        args.keys = [*args.keys, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    debug = args.debug or bool(os.environ.get("REVIEWKIT_DEBUG"))
    try:
        if args.command in ("build", "draft", "publish"):
            return _build(args)
        if args.command == "narrative":
            _apply_speedups()  # before nbformat is imported, as for build
            # Deferred for start-up time: it imports the whole pipeline (nbformat, matplotlib).
            from reviewkit.cli.narrative import run_narrative

            return run_narrative(args)
        if args.command == "validate":
            return _validate(args)
        if args.command in ("batch", "index"):
            _apply_speedups()
            # Deferred for start-up time: the batch imports the whole pipeline.
            from reviewkit.cli.batch import run_batch_command, run_index

            _speedups.settle()
            return run_batch_command(args) if args.command == "batch" else run_index(args)
        if args.command == "actions":
            return run_actions(args)
        if args.command == "decisions":
            return run_decisions(args)
        if args.command == "asks":
            return run_asks(args)
        if args.command == "minutes":
            return run_minutes(args)
        if args.command in SERVE_COMMANDS:
            return _serve(args)
    except ReviewkitError as exc:
        if debug:
            raise
        # Masked here too: no message may show a database password, whoever wrote it.
        print(f"reviewkit: error: {redact.text(exc.one_line())}", file=sys.stderr)
        for reason in getattr(exc, "reasons", []):
            print(redact.text(reason), file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away; that is not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("reviewkit: interrupted; nothing was published", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")
    return 2  # pragma: no cover - parser.error exits


def _build(args: argparse.Namespace) -> int:
    _apply_speedups()
    cadence = cadences.get(args.cadence)
    parse_period(args.period)  # checked before a kernel starts, not after
    # Deferred for start-up time: the build imports nbformat, papermill and matplotlib, which
    # the other commands never need.
    from reviewkit.run.build import build_pack

    _speedups.settle()

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    publishing = args.command == "publish"
    result = build_pack(
        cadence,
        args.params,
        period=args.period,
        out_dir=args.out,
        progress=None if args.quiet else progress,
        approver=args.approver if publishing else None,
        force=publishing and args.force,
        prefer=PREFER[args.prefer] if args.prefer else None,
        unit=args.unit,
    )
    if not args.quiet:
        total = result.timings.get("total", 0.0)
        counts = result.view.evaluation.status_counts()
        print(
            f"built {args.cadence} pack {result.view.period.label} in {total:.1f} s: "
            f"{counts['red']} off track, {counts['amber']} at risk, {counts['green']} on track, "
            f"{counts['no_data']} no data",
            file=sys.stderr,
        )
    if result.beside_published is not None and not args.quiet:
        print(f"the published pack (version {result.beside_published}) stays in "
              f"{result.folder.with_name(result.folder.name.removesuffix('.draft'))}; this draft "
              f"is beside it, in {result.folder}, until the next publication replaces both",
              file=sys.stderr)
    overrides = result.publication.overrides
    if publishing and overrides and not args.quiet:
        print(f"published with {len(overrides)} gate reasons overridden "
              "(recorded in the pack):", file=sys.stderr)
        for reason in overrides:
            print(f"  {reason}", file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for finding in result.findings:
        print(f"warning: the pack contradicts itself: {finding.describe()}", file=sys.stderr)
    print(result.notebook if args.command == "draft" else result.pdf)
    return 0


def _serve(args: argparse.Namespace) -> int:
    _apply_speedups()  # before nbformat is imported: the server builds and swaps packs
    try:
        # Deferred: the review cycle is an optional extra (Flask and friends), and only these
        # commands need it.
        from reviewkit.cli.serve import run_serve_command
    except ModuleNotFoundError as exc:
        raise UsageError(f"'reviewkit {args.command}' needs the review cycle's extra (missing "
                         f"{exc.name}): pip install 'reviewkit[serve]'") from None
    return run_serve_command(args)


def _validate(args: argparse.Namespace) -> int:
    inputs = load_inputs(args.params)
    catalog, measurements = inputs.catalog, inputs.measurements
    known = cadences.names()
    used = sorted({c for kpi in catalog.kpis for c in kpi.cadences}, key=known.index)
    optional = inputs.describe_optional()
    extra = "; " + ", ".join(optional) if optional else ""
    print(
        f"ok: {inputs.params.path.name}: catalog {catalog.path.name} ({len(catalog.kpis)} KPIs; "
        f"{', '.join(used)}), measurements {measurements.path.name} "
        f"({measurements.row_count} rows){extra}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
