"""`tacotron vocoder train`: train or fine-tune a HiFi-GAN (tacotron.training.vocoder_training)."""

from __future__ import annotations

import json

from tacotron.cli.arguments import PRESET_HELP, Default, HelpText, only_given


def add_command(commands) -> None:
    vocoder = commands.add_parser("vocoder", help="HiFi-GAN vocoder training")
    vocoder_commands = vocoder.add_subparsers(dest="vocoder_command", required=True)
    train = vocoder_commands.add_parser(
        "train", help="train or fine-tune a HiFi-GAN (resumes from the newest checkpoint)")
    train.add_argument("--data", required=True)
    train.add_argument("--out", required=True, help="run folder, e.g. runs/voc")
    train.add_argument("--size", choices=["v1", "v2", "v3"], help=HelpText(
        "generator size (Kong et al. 2020; default {})",
        Default("tacotron.training.vocoder_training", "vocoder_config", "generator")))
    train.add_argument("--finetune-from", metavar="ACOUSTIC_CK",
                       help="train on this Tacotron 2's teacher-forced mels")
    train.add_argument("--init", help="universal | ljspeech | PATH: starting weights "
                       "(default with --finetune-from and v1: universal when installed)")
    train.add_argument("--preset", help=PRESET_HELP)
    train.add_argument("overrides", nargs="*", metavar="key=value",
                       help="e.g. train.batch_size=4 vocoder.segment_size=4096")
    train.set_defaults(run=run)


def run(args) -> None:
    from tacotron.monitoring.sinks import build_callbacks
    from tacotron.training.vocoder_training import train_vocoder, vocoder_config

    config = vocoder_config(finetune_from=args.finetune_from, init=args.init, preset=args.preset,
                            overrides=args.overrides, **only_given(generator=args.size))
    trainer = train_vocoder(args.data, args.out, config, callbacks=build_callbacks(config))
    print(json.dumps({"step": trainer.step, "stopped": trainer.finished_reason,
                      "init": trainer.task.init_source or "random", "val": trainer.last_val_metrics},
                     indent=2))
