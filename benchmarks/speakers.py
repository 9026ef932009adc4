"""Does a multi-speaker model speak in the asked speaker's voice? Makes a 4-speaker eSpeak corpus
(`tacotron corpus make --speakers 4`: voices with mean F0 from ~85 to ~250 Hz), trains the cpu-tiny
Tacotron 2 with a speaker table (model.speaker_dim) for a step budget, then speaks each held-out
sentence as each speaker and prints one JSON line: per speaker the mean F0 (librosa.pyin,
tacotron.audio.pitch.mean_f0) of eSpeak's own rendering of those sentences by that voice (the
source), of the model's (--vocoder), and their relative error |synth - source| / source; the
same against the source's own mel spoken by that vocoder (source_vocoded: separates the acoustic
model from what the vocoder and pYIN do to a voice); and a
speaker swap: the same sentences by the lowest and the highest voice (F0 ratio per sentence).

    flock /tmp/cpu.lock python benchmarks/speakers.py --out /tmp/speakers --steps 1500 [--minutes 25]

The corpus and the run stay in --out: run again with a larger --steps to train on from there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from tacotron.audio.mel import MelSpectrogram
from tacotron.audio.pitch import mean_f0
from tacotron.config import load_config
from tacotron.data.corpus import make_corpus, read_test_sentences, speakable, speaker_voice
from tacotron.data.prepare import prepare
from tacotron.inference import Synthesizer
from tacotron.training.trainer import Trainer

SPEAKERS = 4
SPEAKER_DIM = 16  # Deep Voice 2's speaker embedding size for its small models
MAX_RELATIVE_ERROR = 0.10  # the acceptance bound of issue 17


def relative_error(synthesized: float, source: float) -> float:
    """|F0_synth - F0_source| / F0_source, both mean F0 over the same sentences."""
    return abs(synthesized - source) / source


def measure(run_dir: Path, corpus: Path, count: int, vocoder: str) -> tuple[dict, dict, int]:
    """Per-speaker source and synthesized mean F0 over the first `count` held-out sentences, and the
    swap of the lowest and the highest voice on the same sentences."""
    synthesizer = Synthesizer.from_checkpoint(run_dir, vocoder=vocoder)
    sentences = [s for s in read_test_sentences(corpus)][: count]
    source_f0: dict[str, list[float]] = {name: [] for name in synthesizer.speakers}
    vocoded_f0: dict[str, list[float]] = {name: [] for name in synthesizer.speakers}
    synth_f0: dict[str, list[float]] = {name: [] for name in synthesizer.speakers}
    mel_of = MelSpectrogram(synthesizer.config.audio)
    for name in synthesizer.speakers:
        voice = speaker_voice("en", name)
        for sentence in sentences:
            source = voice.synthesize(speakable(sentence.normalized))
            source_f0[name].append(mean_f0(source, voice.sample_rate))
            # The source's own mel through the same vocoder: what the vocoder and pYIN make of the
            # speaker's true pitch (a vocoder can lose a low voice, pYIN can jump an octave).
            vocoded = synthesizer.vocoder(mel_of(torch.from_numpy(source)).numpy())
            vocoded_f0[name].append(mean_f0(vocoded, synthesizer.sample_rate))
            waveform, sample_rate = synthesizer.tts(sentence.text, speaker=name)
            synth_f0[name].append(mean_f0(waveform, sample_rate))
    speakers = {}
    for name in synthesizer.speakers:
        source, synthesized = float(np.nanmean(source_f0[name])), float(np.nanmean(synth_f0[name]))
        vocoded = float(np.nanmean(vocoded_f0[name]))
        speakers[name] = {"source_f0_hz": round(source, 1), "synth_f0_hz": round(synthesized, 1),
                          "relative_error": round(relative_error(synthesized, source), 4),
                          "source_vocoded_f0_hz": round(vocoded, 1),
                          "relative_error_vocoded": round(relative_error(synthesized, vocoded), 4),
                          # sentences in which pYIN found no voiced frame (left out of the means)
                          "unvoiced_sentences": {"source": int(np.isnan(source_f0[name]).sum()),
                                                 "synth": int(np.isnan(synth_f0[name]).sum())}}
    low = min(speakers, key=lambda name: speakers[name]["source_f0_hz"])
    high = max(speakers, key=lambda name: speakers[name]["source_f0_hz"])
    # The same sentences by the lowest and the highest voice: F0 ratio high / low per sentence.
    ratios = [h / lo for lo, h in zip(synth_f0[low], synth_f0[high]) if np.isfinite(lo) and np.isfinite(h)]
    swap = {"speakers": [low, high], "synth_f0_hz": [speakers[low]["synth_f0_hz"], speakers[high]["synth_f0_hz"]],
            "ratio_per_sentence": [round(r, 3) for r in ratios],
            "min_ratio": round(min(ratios), 3) if ratios else None}
    return speakers, swap, len(sentences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/speakers-benchmark"))
    parser.add_argument("--count", type=int, default=1000, help="training utterances (all speakers)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="training time budget (train.max_minutes); 0: none, the step budget only")
    parser.add_argument("--sentences", type=int, default=8, help="held-out sentences per speaker")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--vocoder", default="default",
                        help="what speaks the model's mels (inference/vocoder.py names; default: the "
                             "universal HiFi-GAN when installed, else griffin-lim)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    corpus = make_corpus("en", args.out / "corpus", count=args.count, speakers=SPEAKERS, progress=False)
    config = load_config("cpu-tiny", overrides=[
        f"model.speaker_dim={SPEAKER_DIM}", f"train.max_steps={args.steps}", f"train.max_minutes={args.minutes}",
        "train.val_every_steps=250",
        "train.checkpoint_every_steps=250", f"train.num_threads={args.threads}"])
    prepared = prepare(corpus, config, progress=False)
    run_dir = args.out / "run"
    started = time.monotonic()
    trainer = Trainer(config, prepared, run_dir, progress=sys.stderr.isatty())
    metrics = trainer.fit()
    train_seconds = time.monotonic() - started

    speakers, swap, sentences = measure(run_dir, corpus, args.sentences, args.vocoder)
    print(json.dumps({
        "benchmark": "speakers", "corpus_utterances": args.count, "speaker_dim": SPEAKER_DIM,
        "steps": trainer.step, "vocoder": args.vocoder, "train_seconds": round(train_seconds, 1),
        "val_mel_l1": round(metrics.get("mel_l1", float("nan")), 4),
        "val_diagonality": round(metrics.get("diagonality", float("nan")), 4),
        "sentences_per_speaker": sentences, "speakers": speakers,
        "all_within_10_percent": all(s["relative_error"] <= MAX_RELATIVE_ERROR for s in speakers.values()),
        "swap": swap}))


if __name__ == "__main__":
    main()
