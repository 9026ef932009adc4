"""Robust synthesis on the held-out test list of the eSpeak corpus (short and 20-60-word sentences).

    python benchmarks/robustness.py --run runs/demo-en --data data/espeak-en [--wer]
    python benchmarks/robustness.py ... --plain     # no splitting, no retries, fixed gate threshold

Prints one JSON line: utterances, cap hits, failed-then-recovered, still failed, mean focus rate,
real-time factor (synthesis seconds / audio seconds) on --threads threads, and with --wer the
word error rate of Whisper (tacotron.audio.recognizer) on the synthesized audio next to its WER on
the original audio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from tacotron.audio.io import save_wav
from tacotron.data.corpus import read_test_sentences
from tacotron.inference import Synthesizer

# The paper-free baseline: what synthesis did before robust inference existed.
PLAIN = ["inference.max_segment_chars=100000", "inference.max_retries=0",
         "inference.attention_constraint=off", "inference.gate_threshold_start=null"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/demo-en", help="run folder or checkpoint")
    parser.add_argument("--data", default="data/espeak-en", help="corpus with test_sentences.csv")
    parser.add_argument("--out", help="folder for the synthesized wavs (default RUN/robustness)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plain", action="store_true", help="switch robust inference off")
    parser.add_argument("--wer", action="store_true", help="also measure Whisper's WER")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    overrides = [*(PLAIN if args.plain else []), *args.overrides]
    synthesizer = Synthesizer.from_checkpoint(args.run, overrides=overrides)
    out = Path(args.out or Path(args.run) / ("robustness-plain" if args.plain else "robustness"))
    out.mkdir(parents=True, exist_ok=True)
    sentences = read_test_sentences(args.data)
    synthesizer.synthesize("Warm up.")  # first-call costs are not the model's speed

    rows, synthesis_seconds, audio_seconds = [], 0.0, 0.0
    for sentence in sentences:
        sentence_id, text = sentence.id, sentence.text
        started = time.perf_counter()
        result = synthesizer.synthesize(text)
        synthesis_seconds += time.perf_counter() - started
        audio_seconds += len(result.waveform) / result.sample_rate
        save_wav(out / f"{sentence_id}.wav", result.waveform, result.sample_rate)
        rows.append({"id": sentence_id, "words": len(text.split()),
                     "segments": len(result.segments),
                     "cap_hits": sum(not s.stopped_by_gate for s in result.segments),
                     "retried": result.retried, "failed": result.failed,
                     "focus_rate": [round(s.scores.focus_rate, 3) for s in result.segments],
                     "coverage": [round(s.scores.coverage, 3) for s in result.segments],
                     "failures": [f for s in result.segments for f in s.failures]})
        print(json.dumps(rows[-1]), file=sys.stderr)

    focus = [value for row in rows for value in row["focus_rate"]]
    report = {
        "run": str(args.run), "mode": "plain" if args.plain else "robust",
        "utterances": len(rows),
        "long_utterances": sum(row["words"] >= 20 for row in rows),
        "segments": sum(row["segments"] for row in rows),
        "cap_hits": sum(row["cap_hits"] for row in rows),
        "failed_then_recovered": sum(row["retried"] and not row["failed"] for row in rows),
        "still_failed": sum(row["failed"] for row in rows),
        "mean_focus_rate": round(sum(focus) / len(focus), 4),
        "real_time_factor": round(synthesis_seconds / audio_seconds, 3),
        "threads": args.threads,
        "audio_seconds": round(audio_seconds, 1),
    }
    if args.wer:
        report.update(measure_wer(args.data, out, sentences, args.threads))
    print(json.dumps(report))


def measure_wer(data: str, synthesized: Path, sentences, threads: int) -> dict:
    """Whisper's WER on the synthesized audio and on the original eSpeak audio of the same sentences
    (tacotron.audio.recognizer, scored by tacotron.text.error_rate)."""
    from tacotron.audio.io import load_audio
    from tacotron.audio.recognizer import WHISPER_SAMPLE_RATE, Recognizer
    from tacotron.text import detect_language
    from tacotron.text.error_rate import word_error_rate

    language = detect_language(sentence.text for sentence in sentences)
    recognizer = Recognizer(language=language, threads=threads)

    def heard(path: Path) -> str:
        return recognizer.transcribe(load_audio(path, WHISPER_SAMPLE_RATE)[0], WHISPER_SAMPLE_RATE).text

    references = [sentence.text for sentence in sentences]
    original = [heard(Path(data) / "test_wavs" / f"{sentence.id}.wav") for sentence in sentences]
    spoken = [heard(synthesized / f"{sentence.id}.wav") for sentence in sentences]
    return {"wer_synthesized": round(word_error_rate(references, spoken, language), 4),
            "wer_original": round(word_error_rate(references, original, language), 4)}


if __name__ == "__main__":
    main()
