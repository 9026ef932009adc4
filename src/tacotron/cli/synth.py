"""`tacotron synth`: speak text with a trained model, in PyTorch or from an ONNX export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tacotron.cli.arguments import VOCODER_HELP, only_given
from tacotron.errors import UserError


def add_command(commands) -> None:
    synth = commands.add_parser("synth", help="speak text with a trained model")
    synth.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    group = synth.add_mutually_exclusive_group(required=True)
    group.add_argument("--text")
    group.add_argument("--text-file", help="UTF-8 file; each line is spoken as a paragraph")
    synth.add_argument("--out", required=True, help="output .wav")
    synth.add_argument("--speaker", help="who speaks, for a multi-speaker model (default: its first speaker)")
    synth.add_argument("--speed", type=float,
                       help="speaking speed from 0.25 to 4.0 (default 1.0: the voice's own pace; 2.0: twice "
                            "as fast), same pitch (inference.speed_method says how)")
    synth.add_argument("--timings", help="also write when each word is spoken to this .json file "
                       "(seconds of the output audio)")
    synth.add_argument("--captions", help="also write captions of the words to this .srt or .vtt file "
                       "(the suffix says which)")
    synth.add_argument("--report", help="also write per-segment scores to this .json file (with "
                       "DistillMOS installed, the 'naturalness' extra: each segment's predicted MOS)")
    synth.add_argument("--vocoder", help=VOCODER_HELP + "; with --runtime onnx: the exported one")
    synth.add_argument("--runtime", choices=["torch", "onnx"], default="torch",
                       help="onnx: --checkpoint is a folder written by `tacotron export`")
    synth.add_argument("overrides", nargs="*", metavar="key=value",
                       help="inference.* and postprocess.* settings, e.g. inference.seed=3")
    synth.set_defaults(run=run)


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


def synthesis_report(result, text: str, seconds: float) -> dict:
    """What --report writes: the text, the synthesis seconds, the audio seconds and each segment's
    report; with DistillMOS installed also the predicted MOS of each segment ("mos") and of the whole
    text (evaluation.naturalness.text_naturalness), null without it."""
    from tacotron.evaluation.naturalness import naturalness_available, text_naturalness

    segments = [segment.report() for segment in result.segments]
    naturalness = (text_naturalness(result.segment_audio, result.sample_rate)
                   if naturalness_available() else None)
    for number, segment in enumerate(segments):
        segment["mos"] = naturalness.segment_mos[number] if naturalness else None
        # When each of the segment's words is spoken, in seconds of the output audio; null without them.
        segment["words"] = ([word.as_dict() for word in result.segment_words[number]]
                            if result.segment_words is not None else None)
    return {"text": text, "seconds": round(seconds, 2),
            "audio_seconds": round(len(result.waveform) / result.sample_rate, 2),
            "mos": naturalness.mos if naturalness else None, "segments": segments}


def run(args) -> None:
    import time

    from tacotron.audio.io import save_wav
    from tacotron.files import atomic_write_text
    from tacotron.inference import Synthesizer
    from tacotron.inference.captions import caption_format, write_captions, write_timings
    from tacotron.inference.speed import check_speed

    # Mistakes in the arguments are told before the model loads.
    speed = check_speed(args.speed) if args.speed is not None else None
    if args.captions:
        caption_format(args.captions)
    text = args.text if args.text else read_text_file(args.text_file)
    if args.runtime == "onnx":
        from tacotron.inference.onnx_runtime import onnx_synthesizer

        synthesizer = onnx_synthesizer(args.checkpoint, args.overrides, args.vocoder)
    else:
        synthesizer = Synthesizer.from_checkpoint(args.checkpoint, overrides=args.overrides,
                                                  **only_given(vocoder=args.vocoder))
    print(f"vocoder: {synthesizer.vocoder.name}", file=sys.stderr)
    started = time.monotonic()
    result = synthesizer.synthesize(text, progress=True, speaker=args.speaker, **only_given(speed=speed))
    seconds = time.monotonic() - started
    for number, segment in enumerate(result.segments, 1):
        status = "FAILED" if segment.failed else "retried" if segment.retried else "ok"
        print(f"[{number}/{len(result.segments)}] {status} frames={segment.frames} "
              f"focus={segment.scores.focus_rate:.2f} coverage={segment.scores.coverage:.2f}"
              f"{' attempts=' + str(segment.attempts) if segment.retried else ''}: "
              f"{segment.normalized}")
        for failure in segment.failures:
            print(f"    {failure}")
    audio_seconds = len(result.waveform) / result.sample_rate
    # Asked before any file is written: audio without its timings is not what was asked for.
    words = result.words if args.timings or args.captions else None
    save_wav(args.out, result.waveform, result.sample_rate)
    if args.timings:
        write_timings(args.timings, text, words, audio_seconds)
        print(f"wrote {args.timings}: {len(words)} words", file=sys.stderr)
    if args.captions:
        write_captions(args.captions, words)
        print(f"wrote {args.captions}", file=sys.stderr)
    failed = sum(segment.failed for segment in result.segments)
    print(f"wrote {args.out}: {audio_seconds:.1f} s of audio in {seconds:.1f} s; "
          f"{len(result.segments)} segments, {sum(s.retried for s in result.segments)} retried, "
          f"{failed} failed")
    if args.report:
        atomic_write_text(Path(args.report), json.dumps(synthesis_report(result, text, seconds),
                                                        indent=2, ensure_ascii=False))
    if failed:
        print(f"warning: {failed} segment(s) still fail quality control after retries (see above)",
              file=sys.stderr)
