"""`tacotron prepare`: validate a data set and cache its features (tacotron.data.prepare)."""

from __future__ import annotations

from tacotron.cli.arguments import add_config_arguments, config_from_args


def add_command(commands) -> None:
    prepare = commands.add_parser("prepare", help="validate a data set and cache its features")
    prepare.add_argument("data", help="LJSpeech folder (metadata.csv) or a path|text filelist")
    prepare.add_argument("--lang", choices=["en", "ru"], help="default: detected from the text")
    add_config_arguments(prepare)
    prepare.set_defaults(run=run)


def run(args) -> None:
    from tacotron.data.prepare import prepare

    extra = [f"text.language={args.lang}"] if args.lang else []
    prepared = prepare(args.data, config_from_args(args, extra))
    print(prepared.summary())
