"""`tacotron demo`: fine-tune a base voice on ten minutes of another, speak, report (tacotron.demo)."""

from __future__ import annotations

import json
from pathlib import Path

from tacotron.cli.arguments import VOCODER_HELP, Default, HelpText, default_of, only_given

DEMO = "tacotron.demo"


def base_voices() -> str:
    """The base voice the demo fine-tunes (one name when every language starts from the same)."""
    from tacotron.demo import BASE_VOICES

    if len(set(BASE_VOICES.values())) == 1:
        return next(iter(BASE_VOICES.values()))
    return "by --lang: " + ", ".join(f"{language}: {voice}" for language, voice in BASE_VOICES.items())


def add_command(commands) -> None:
    demo = commands.add_parser("demo", help="fine-tune a base voice on ten minutes of another voice "
                               "(or train one from scratch), speak held-out sentences, report")
    demo.add_argument("--lang", choices=["en", "ru"],
                      help=HelpText("default {}", Default(DEMO, "run_demo", "language")))
    demo.add_argument("--minutes", type=float, help=HelpText(
        "training budget (wall-clock minutes; default {})", Default(DEMO, "run_demo", "minutes")))
    demo.add_argument("--out", help=HelpText("default {}", Default(DEMO, "run_demo", "out")))
    demo.add_argument("--data", help=HelpText(
        "corpus folder (default: about 10 minutes of {voices[en]} (en, {counts[en]} sentences) or "
        "{voices[ru]} (ru, {counts[ru]}) in data/VOICE-LANG-COUNT; with --from-scratch the eSpeak corpus "
        "data/espeak-LANG)", voices=Default(DEMO, "TARGET_VOICES"), counts=Default(DEMO, "TARGET_COUNTS")))
    demo.add_argument("--base", help=HelpText("the voice fine-tuned: a base voice's name, run folder or "
                                              "checkpoint (default {})", base_voices))
    demo.add_argument("--from-scratch", action="store_true", help=HelpText(
        "train from random weights on the {}-utterance eSpeak corpus",
        Default("tacotron.data.corpus", "DEFAULT_COUNT")))
    demo.add_argument("--vocoder", help=VOCODER_HELP)
    demo.add_argument("overrides", nargs="*", metavar="key=value")
    demo.set_defaults(run=run)


def run(args) -> None:
    from tacotron.demo import run_demo

    report = run_demo(data_dir=args.data, overrides=args.overrides, base=args.base,
                      from_scratch=args.from_scratch, **only_given(
                          language=args.lang, minutes=args.minutes, out=args.out, vocoder=args.vocoder))
    out = Path(args.out or default_of(run_demo, "out"))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"listen: {out / 'sample.wav'}   look: {out / 'alignment.png'}")
