"""`tacotron status`: where a run stands (tacotron.monitoring.status)."""

from __future__ import annotations

import json

from tacotron.cli.arguments import Default, HelpText, only_given


def add_command(commands) -> None:
    status = commands.add_parser("status", help="where a run stands (works while it trains)")
    status.add_argument("run_dir", metavar="RUN_DIR", help="run folder, e.g. runs/NAME")
    status.add_argument("--events", type=int, help=HelpText(
        "how many recent events to show (default {})",
        Default("tacotron.monitoring.status", "read_status", "last_events")))
    status.add_argument("--json", action="store_true", help="print the summary as JSON")
    status.set_defaults(run=run)


def run(args) -> None:
    from tacotron.monitoring.status import format_status, read_status

    status = read_status(args.run_dir, **only_given(last_events=args.events))
    print(json.dumps(status, indent=2) if args.json else format_status(status))
