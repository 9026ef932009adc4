"""`tacotron dataset make`: a data set from long recordings (tacotron.data.recordings)."""

from __future__ import annotations

from tacotron.cli.arguments import add_config_arguments, config_from_args


def add_command(commands) -> None:
    dataset = commands.add_parser("dataset", help="make a data set from long recordings")
    dataset_commands = dataset.add_subparsers(dest="dataset_command", required=True)
    make = dataset_commands.add_parser(
        "make", help="cut recordings at pauses, transcribe, score; writes metadata.csv, wavs/, report.html "
        "(resumable: a second run only processes new or changed files)")
    make.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files or folders "
                      "(wav, flac, mp3, ogg, m4a, ...)")
    make.add_argument("--lang", choices=["en", "ru"], required=True)
    make.add_argument("--out", required=True, help="data set folder, e.g. data/NAME")
    make.add_argument("--transcript", help="the text that was read (UTF-8): it replaces the "
                      "recognized text, aligned to the clips")
    make.add_argument("--stress", action="store_true", help="Russian: add stress marks (+) with "
                      "silero-stress")
    make.add_argument("--asr-model", help="faster-whisper model name or CTranslate2 folder "
                      "(default: the offline Whisper base)")
    add_config_arguments(make)
    make.set_defaults(run=run)


def run(args) -> None:
    from tacotron.data.recordings.maker import DatasetMaker

    extra = [f"dataset.asr_model={args.asr_model}"] if args.asr_model else []
    maker = DatasetMaker(args.out, args.lang, config_from_args(args, extra), transcript=args.transcript,
                         stress=args.stress, say=lambda line: print(line, flush=True))
    print(maker.make(args.audio).summary())
