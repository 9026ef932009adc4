"""The `tacotron` command line. Every command is a thin shell over the Python API."""

# One module per command, its arguments (`add_command`) beside its handler (`run`); arguments.py holds
# what they share. This package sits on top of the layering: it may import any package, none imports it.

from __future__ import annotations

import argparse
import sys

from tacotron.cli import (corpus, dataset, demo, diagnose, evaluate, export, monitor, plan, prepare, serve,
                          status, synth, train, tune, vocoder)
from tacotron.cli.arguments import Parser
from tacotron.errors import UserError

# In the order `tacotron --help` lists them.
COMMANDS = (corpus, dataset, prepare, train, synth, plan, diagnose, evaluate, tune, demo, status, monitor,
            vocoder, export, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="tacotron", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_command(commands)
    return parser


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """argparse stops filling a positional list once an option follows it, so `key=value`
    words after options (`prepare DIR --lang en data.val_size=8`) are collected here."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    overrides = [word for word in unknown if "=" in word and not word.startswith("-")]
    rest = [word for word in unknown if word not in overrides]
    if rest or (overrides and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(rest or overrides)}")
    if overrides:
        args.overrides = [*args.overrides, *overrides]
    return args


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user's mistake (UserError) ends with one line on stderr and exit code 2,
    Ctrl-C with exit code 130, neither with a traceback."""
    args = parse_arguments(argv)
    try:
        args.run(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
