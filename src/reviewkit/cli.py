"""The command line: parses arguments, calls the library, prints results and maps errors to exits.

Only this module prints and exits; everything else raises :class:`ReviewkitError`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from ._speedups import apply as _apply_speedups
from .errors import ReviewkitError

CADENCE_CHOICES = ("weekly", "monthly", "quarterly")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reviewkit",
        description="Build weekly, monthly and quarterly review packs from KPI data.",
    )
    parser.add_argument("--version", action="version", version=f"reviewkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="build a pack (PDF, HTML, notebook, summary)")
    build.add_argument("cadence", choices=CADENCE_CHOICES)
    build.add_argument("--params", required=True, type=Path, metavar="FILE",
                       help="the pack's params file (YAML)")
    build.add_argument("--period", metavar="YYYY-MM-DD",
                       help="any date in the period to report (default: latest in the data)")
    build.add_argument("--out", type=Path, default=Path("outputs"), metavar="DIR",
                       help="output folder (default: outputs/)")
    build.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    validate = commands.add_parser("validate", help="check all inputs; build nothing")
    validate.add_argument("--params", required=True, type=Path, metavar="FILE")

    from .cli_actions import add_parsers

    add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    debug = args.debug or bool(os.environ.get("REVIEWKIT_DEBUG"))
    try:
        if args.command == "build":
            return _build(args)
        if args.command == "validate":
            return _validate(args)
        from . import cli_actions

        if args.command == "actions":
            return cli_actions.run_actions(args)
        if args.command == "decisions":
            return cli_actions.run_decisions(args)
        if args.command == "minutes":
            return cli_actions.run_minutes(args)
    except ReviewkitError as exc:
        if debug:
            raise
        print(f"reviewkit: error: {exc.one_line()}", file=sys.stderr)
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
    from .build import build_pack

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    result = build_pack(
        args.cadence,
        args.params,
        period=args.period,
        out_dir=args.out,
        progress=None if args.quiet else progress,
    )
    if not args.quiet:
        total = result.timings.get("total", 0.0)
        counts = result.context.evaluation.status_counts()
        print(
            f"built {args.cadence} pack {result.context.period.label} in {total:.1f} s: "
            f"{counts['red']} off track, {counts['amber']} at risk, {counts['green']} on track, "
            f"{counts['no_data']} no data",
            file=sys.stderr,
        )
    print(result.pdf)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .context import load_inputs

    params, catalog, measurements = load_inputs(args.params)
    cadences = sorted({c for kpi in catalog.kpis for c in kpi.cadences},
                      key=CADENCE_CHOICES.index)
    print(
        f"ok: {params.path.name}: catalog {catalog.path.name} ({len(catalog.kpis)} KPIs; "
        f"{', '.join(cadences)}), measurements {measurements.path.name} "
        f"({measurements.row_count} rows)"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
