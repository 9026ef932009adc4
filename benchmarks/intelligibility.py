"""Intelligibility as Whisper hears it: the eSpeak source recordings of a corpus's held-out sentences
(the recognizer's ceiling on that voice), and with --run a trained model speaking the same sentences.

    python benchmarks/intelligibility.py --data data/espeak-en [--run runs/demo] [--limit N] [--show]

Prints one JSON line: sentences, source WER/CER, seconds of recognition per sentence, and with --run
the voice's WER/CER, MCD-DTW and duration ratio (tacotron.evaluation; `tacotron evaluate` also writes
the HTML page). The recognizer is tacotron.audio.recognizer (Whisper base offline by default).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tacotron.audio.io import load_audio
from tacotron.audio.recognizer import WHISPER_SAMPLE_RATE, Recognizer
from tacotron.data.corpus import read_test_sentences
from tacotron.evaluation.intelligibility import evaluate_sentences, hear, held_out_sentences
from tacotron.text import detect_language
from tacotron.text.error_rate import character_error_rate, normalize_for_scoring, word_error_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/espeak-en", help="corpus with test_sentences.csv, test_wavs/")
    parser.add_argument("--run", help="also evaluate this run folder or checkpoint")
    parser.add_argument("--asr-model", help="faster-whisper name or CTranslate2 folder (default: offline base)")
    parser.add_argument("--threads", type=int, default=2, help="recognizer CPU threads")
    parser.add_argument("--limit", type=int, help="only the first N held-out sentences")
    parser.add_argument("--vocoder", default="default")
    parser.add_argument("--show", action="store_true", help="print reference / heard pairs to stderr")
    args = parser.parse_args()

    sentences = held_out_sentences(args.data, limit=args.limit)
    language = detect_language(sentence.text for sentence in read_test_sentences(args.data))
    recognizer = Recognizer(args.asr_model, language=language, threads=args.threads)
    started = time.perf_counter()
    references, heard = [], []
    for sentence in sentences:
        reference = normalize_for_scoring(sentence.text, language)
        waveform, _ = load_audio(sentence.source, WHISPER_SAMPLE_RATE)
        result = hear(recognizer, waveform, WHISPER_SAMPLE_RATE, reference, language)
        references.append(reference)
        heard.append(result.normalized)
        if args.show:
            print(f"{sentence.id} REF: {reference}\n{sentence.id} HYP: {result.normalized}", file=sys.stderr)
    seconds = time.perf_counter() - started
    report = {"benchmark": "intelligibility", "data": args.data, "language": language,
              "asr_model": recognizer.model_name, "sentences": len(sentences),
              "source_wer": round(word_error_rate(references, heard), 4),
              "source_cer": round(character_error_rate(references, heard), 4),
              "asr_seconds_per_sentence": round(seconds / len(sentences), 2),
              "threads": args.threads}
    if args.run:
        from tacotron.inference import Synthesizer

        synthesizer = Synthesizer.from_checkpoint(args.run, vocoder=args.vocoder)
        evaluation = evaluate_sentences(synthesizer, recognizer, sentences)
        report["run"] = args.run
        report.update({key: value for key, value in evaluation.summary.items() if key != "sentences"})
    print(json.dumps(report))


if __name__ == "__main__":
    main()
