"""`tacotron evaluate`: intelligibility of a checkpoint on held-out sentences (tacotron.evaluation.report)."""

from __future__ import annotations

from pathlib import Path

from tacotron.cli.arguments import VOCODER_HELP, Default, HelpText, only_given
from tacotron.errors import UserError


def add_command(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="intelligibility: synthesize held-out sentences, "
                                   "transcribe them with Whisper, score them against the source voice")
    evaluate.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT", help="checkpoint file or run folder")
    evaluate.add_argument("--data", help="corpus folder: its held-out test_sentences.csv and test_wavs/")
    evaluate.add_argument("--sentences", help="UTF-8 file of sentences, one per line (no source audio)")
    evaluate.add_argument("--asr-model", help="faster-whisper model name or CTranslate2 folder "
                          "(default: the offline Whisper base of the [asr] extra)")
    evaluate.add_argument("--out", help="report folder (default RUN/evaluation)")
    evaluate.add_argument("--vocoder", help=VOCODER_HELP)
    evaluate.add_argument("--limit", type=int, help="evaluate only the first N sentences")
    evaluate.add_argument("--threads", type=int, help=HelpText(
        "recognizer CPU threads (default {})",
        Default("tacotron.evaluation.report", "evaluate_checkpoint", "asr_threads")))
    evaluate.add_argument("overrides", nargs="*", metavar="key=value",
                          help="inference.* and postprocess.* settings, e.g. inference.max_retries=0")
    evaluate.set_defaults(run=run)


def run(args) -> None:
    from tacotron.evaluation.report import evaluate_checkpoint, summary_line

    if args.data is None and args.sentences is None:
        raise UserError("evaluate needs the corpus (--data DIR) or a sentences file (--sentences FILE)")
    report = evaluate_checkpoint(args.checkpoint, args.data, args.sentences, args.asr_model, args.out,
                                 limit=args.limit, overrides=args.overrides,
                                 **only_given(vocoder=args.vocoder, asr_threads=args.threads))
    for sentence in report["sentences"]:
        source = f"  | source: {sentence['source']['normalized']}" if sentence["source"] else ""
        print(f"{sentence['id']}  WER {sentence['voice']['wer']:.2f}  ref: {sentence['reference']}\n"
              f"    heard: {sentence['voice']['normalized']}{source}")
    print(summary_line(report["summary"]))
    out = Path(report["report_dir"])
    print(f"wrote {out / 'evaluation.json'} and {out / 'evaluation.html'}")
