"""`tacotron diagnose`: an HTML report of a checkpoint's alignments (tacotron.monitoring.alignment_report)."""

from __future__ import annotations

from tacotron.cli.arguments import Default, HelpText, only_given


def add_command(commands) -> None:
    diagnose = commands.add_parser("diagnose", help="HTML report: alignments, metrics, failures, events")
    diagnose.add_argument("checkpoint", help="checkpoint file or run folder")
    diagnose.add_argument("--data", help="data set folder: check its validation and held-out sentences")
    diagnose.add_argument("--out", help="report folder (default RUN/diagnosis)")
    diagnose.add_argument("--sentences", type=int, help=HelpText(
        "validation and (longest) held-out sentences to check, each (default {} validation, {} held-out)",
        Default("tacotron.monitoring.alignment_report", "diagnose", "max_validation"),
        Default("tacotron.monitoring.alignment_report", "diagnose", "max_held_out")))
    diagnose.add_argument("overrides", nargs="*", metavar="key=value",
                          help="inference.* settings of the free-running pass")
    diagnose.set_defaults(run=run)


def run(args) -> None:
    from tacotron.monitoring.alignment_report import diagnose

    report = diagnose(args.checkpoint, args.data, args.out, overrides=args.overrides,
                      **only_given(max_validation=args.sentences, max_held_out=args.sentences))
    print(f"wrote {report}")
