"""Speaking speed and word timings, measured on a trained voice (issue 25).

    python benchmarks/speech_controls.py [--checkpoint base-en] [--vocoder universal] [--limit N]
                                         [--methods mel,wsola] [--speeds 0.75,1.25,1.5]

For each held-out English sentence (the 24 that `tacotron evaluate` scores base-en on:
data.corpus.generate_test_sentences("en"), the list of test_sentences.csv) the text is decoded once
and spoken at speed 1.0 and at each speed by each method (inference.speed_method), through the
Synthesizer's own path (`_spoken` and `join_spoken`, what `synthesize(text, speed=...)` runs; checked
equal to it on the first sentence; the vocoder's output of a mel is computed once, so the waveform
methods reuse the speed-1.0 audio). Per method and speed:

- duration_ratio: total seconds at that speed / total seconds at 1.0; target 1/speed;
- wer: Whisper base's pooled WER over the sentences (normalize_for_scoring, as `evaluate`), and
  wer_increase = wer - wer at speed 1.0;
- f0_ratio: mean over sentences of mean F0 (audio/pitch.py, pYIN) at that speed / at 1.0.

Word timings at speed 1.0 (and at each speed with the default method): every word of ours that pairs
with a word Whisper heard (equal after normalize_for_scoring, in an equal run of difflib's pairing)
gives |our start - Whisper's start|; their median and 90th percentile in ms.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import time

import numpy as np
import torch

from tacotron.audio.pitch import mean_f0
from tacotron.audio.recognizer import Recognizer
from tacotron.config import InferenceConfig
from tacotron.data.corpus import generate_test_sentences
from tacotron.inference import Synthesizer
from tacotron.text.error_rate import normalize_for_scoring, word_error_rate


def start_differences(ours, heard, language: str) -> list[float]:
    """|start difference| (s) of each of our words paired with a word Whisper heard."""
    def key(word: str) -> str:
        return normalize_for_scoring(word, language)

    our_keys = [key(word.word) for word in ours]
    heard_keys = [key(word) for word, _, _, _ in heard]
    matcher = difflib.SequenceMatcher(None, our_keys, heard_keys, autojunk=False)
    differences = []
    for tag, a1, a2, b1, _ in matcher.get_opcodes():
        if tag == "equal":
            differences += [abs(ours[a1 + k].start - heard[b1 + k][1]) for k in range(a2 - a1)]
    return differences


def spoken_at(synthesizer: Synthesizer, text: str, segments, speed: float, method: str):
    synthesizer.config.inference.speed_method = method
    spoken = [synthesizer._spoken(segment, speed, last=index == len(segments) - 1)
              for index, segment in enumerate(segments)]
    return synthesizer.join_spoken(text, spoken)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="base-en")
    parser.add_argument("--vocoder", default="universal")
    parser.add_argument("--limit", type=int, help="only the first N held-out sentences")
    parser.add_argument("--methods", default="mel,wsola", help="of mel, wsola, phase-vocoder")
    parser.add_argument("--speeds", default="0.75,1.25,1.5")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    methods = args.methods.split(",")
    speeds = [float(speed) for speed in args.speeds.split(",")]
    default_method = InferenceConfig().speed_method
    language = "en"

    synthesizer = Synthesizer.from_checkpoint(args.checkpoint, vocoder=args.vocoder)
    vocoded = {}  # mel bytes -> waveform: each mel is vocoded once (the vocoder is deterministic)
    vocode = synthesizer.vocode

    def vocode_once(mel):
        key = (mel.shape, mel.tobytes())
        if key not in vocoded:
            vocoded[key] = vocode(mel)
        return vocoded[key]

    synthesizer.vocode = vocode_once
    recognizer = Recognizer(language=language, threads=args.threads)
    sentences = generate_test_sentences(language)[: args.limit]
    started = time.monotonic()
    keys = [(1.0, default_method)] + [(speed, method) for method in methods for speed in speeds]
    seconds = {key: 0.0 for key in keys}
    hypotheses = {key: [] for key in keys}
    f0_ratios = {key: [] for key in keys}
    differences = {key: [] for key in keys}
    references = []
    for number, text in enumerate(sentences):
        references.append(normalize_for_scoring(text, language))
        jobs = synthesizer._jobs(text)
        segments = synthesizer._decode_checked(jobs, progress=False)
        if number == 0:  # the benchmark's composition is what synthesize() does
            synthesizer.config.inference.speed_method = default_method
            assert np.array_equal(synthesizer.synthesize(text, speed=speeds[-1]).waveform,
                                  spoken_at(synthesizer, text, segments, speeds[-1], default_method).waveform)
        base_f0 = None
        for speed, method in keys:
            synthesis = spoken_at(synthesizer, text, segments, speed, method)
            seconds[speed, method] += len(synthesis.waveform) / synthesis.sample_rate
            heard = recognizer.transcribe(synthesis.waveform, synthesis.sample_rate)
            hypotheses[speed, method].append(normalize_for_scoring(heard.text, language))
            f0 = mean_f0(synthesis.waveform, synthesis.sample_rate)
            if speed == 1.0:
                base_f0 = f0
            f0_ratios[speed, method].append(f0 / base_f0)
            if method == default_method:
                differences[speed, method] += start_differences(synthesis.words, heard.words, language)
        vocoded.clear()
        print(f"{number + 1}/{len(sentences)} {time.monotonic() - started:.0f} s", flush=True,
              file=sys.stderr)

    base_seconds = seconds[1.0, default_method]
    base_wer = word_error_rate(references, hypotheses[1.0, default_method])
    speed_figures = {}
    for speed, method in keys:
        wer = word_error_rate(references, hypotheses[speed, method])
        figures = {"duration_ratio": round(seconds[speed, method] / base_seconds, 4),
                   "target": round(1 / speed, 4), "wer": round(wer, 4),
                   "wer_increase": round(wer - base_wer, 4),
                   "f0_ratio": round(float(np.nanmean(f0_ratios[speed, method])), 4)}
        if differences[speed, method]:
            ms = np.array(differences[speed, method]) * 1000
            figures.update(start_median_ms=round(float(np.median(ms)), 1),
                           start_p90_ms=round(float(np.percentile(ms, 90)), 1), words_paired=len(ms))
        speed_figures[f"{method}@{speed}"] = figures
    print(json.dumps({"benchmark": "speech_controls", "checkpoint": args.checkpoint, "vocoder": args.vocoder,
                      "sentences": len(sentences), "default_method": default_method,
                      "seconds_at_1": round(base_seconds, 2), "figures": speed_figures,
                      "wall_seconds": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    main()
