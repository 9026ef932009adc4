"""`tacotron corpus make`: the built-in synthetic speech corpus (tacotron.data.corpus)."""

from __future__ import annotations

import json

from tacotron.cli.arguments import Default, HelpText, only_given

MAKE_CORPUS = "tacotron.data.corpus"


def add_command(commands) -> None:
    corpus = commands.add_parser("corpus", help="the built-in synthetic speech corpus")
    corpus_commands = corpus.add_subparsers(dest="corpus_command", required=True)
    make = corpus_commands.add_parser("make", help="synthesize a corpus in LJSpeech layout")
    make.add_argument("--lang", choices=["en", "ru"],
                      help="default: the language of --voice (en for eSpeak, which speaks both)")
    make.add_argument("--voice", help="who speaks it: espeak (default), joe (en, Piper), slt (en, Festival), "
                      "nsh (ru, Festival); several, comma-separated, make a multi-speaker corpus")
    make.add_argument("--out", required=True)
    make.add_argument("--count", type=int, help=HelpText(
        "training utterances (default: {}, DEFAULT_COUNT of tacotron.data.corpus)",
        Default(MAKE_CORPUS, "DEFAULT_COUNT")))
    make.add_argument("--seed", type=int,
                      help=HelpText("default {}", Default(MAKE_CORPUS, "make_corpus", "seed")))
    make.add_argument("--speakers", type=int, help=HelpText(
        "N > 1: a multi-speaker corpus, each utterance spoken by one of N eSpeak voices (default {})",
        Default(MAKE_CORPUS, "make_corpus", "speakers")))
    make.set_defaults(run=run)


def run(args) -> None:
    from tacotron.audio.source_voices import SOURCE_VOICES
    from tacotron.data.corpus import make_corpus

    # No --voice: make_corpus's own (eSpeak).
    voices = [name.strip() for name in args.voice.split(",") if name.strip()] if args.voice else None
    # A voice that speaks one language sets it; eSpeak speaks both and defaults to English.
    language = args.lang or next((SOURCE_VOICES[name].languages[0] for name in voices or []
                                  if name in SOURCE_VOICES and len(SOURCE_VOICES[name].languages) == 1),
                                 "en")
    out = make_corpus(language, args.out, **only_given(count=args.count, seed=args.seed,
                                                       speakers=args.speakers, voices=voices))
    summary = json.loads((out / "corpus.json").read_text(encoding="utf-8"))
    if "speakers" in summary:
        described = {name: voice.get("description") or "eSpeak NG {variant}, pitch {pitch}".format(**voice)
                     for name, voice in summary["speakers"].items()}
        print("speakers: " + ", ".join(f"{name} ({text})" for name, text in described.items()))
    print(f"corpus ready: {out}: {summary['count']} utterances by {'+'.join(summary['voices'])}, "
          f"{summary['total_seconds'] / 60:.1f} min, "
          f"{summary['distinct_words']} distinct words; held-out words unseen in training: "
          f"{summary['held_out_unseen_tokens']:.1%} of tokens, {summary['held_out_unseen_types']:.1%} of types; "
          f"its words make {summary['running_text_coverage']:.1%} of ordinary text")
