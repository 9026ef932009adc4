"""Real-time factor of synthesis on the CPU, PyTorch against ONNX Runtime, on the held-out sentences.

    flock /tmp/cpu.lock python benchmarks/inference_speed.py --corpus data/espeak-en \
        --checkpoint runs/demo-en --threads 2

RTF = processing seconds / seconds of audio produced (below 1: faster than real time), for:
the acoustic model alone (text -> checked postnet mels: `Synthesizer` decoding with its quality
control), HiFi-GAN V1 (the pretrained universal generator) and V3 (random weights: its speed does
not depend on them) alone on those mels, and end to end (`Synthesizer.synthesize`: text ->
post-processed waveform) with each. Each figure is the total over the sentences after one warm-up
sentence, the fastest of 3 passes. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from tacotron.config import AudioConfig
from tacotron.data.corpus import read_test_sentences
from tacotron.inference import Synthesizer
from tacotron.inference.onnx_export import export_onnx
from tacotron.inference.onnx_runtime import onnx_synthesizer
from tacotron.inference.vocoder import load_vocoder
from tacotron.model.hifigan import Generator, generator_spec, save_official_generator


REPEATS = 3  # each figure is the fastest of this many passes: the least disturbed by other load


def fastest(measure, *args):
    """The smallest first element over REPEATS calls of measure(*args), with that call's rest."""
    runs = [measure(*args) for _ in range(REPEATS)]
    return min(runs, key=lambda run: run[0] if isinstance(run, tuple) else run)


def acoustic_seconds(synthesizer: Synthesizer, texts: list[str]) -> tuple[float, list[np.ndarray]]:
    """Seconds to decode every text to checked mels (no vocoder), and the mels."""
    mels = []
    started = time.perf_counter()
    for text in texts:
        jobs = synthesizer._jobs(text)
        mels += [segment.mel for segment in synthesizer._decode_checked(jobs, progress=False)]
    return time.perf_counter() - started, mels


def vocoder_seconds(vocoder, mels: list[np.ndarray]) -> float:
    started = time.perf_counter()
    for mel in mels:
        vocoder(mel)
    return time.perf_counter() - started


def end_to_end(synthesizer: Synthesizer, texts: list[str]) -> tuple[float, float]:
    """(processing seconds, audio seconds) of synthesize() over the texts."""
    audio = 0.0
    started = time.perf_counter()
    for text in texts:
        result = synthesizer.synthesize(text)
        audio += len(result.waveform) / result.sample_rate
    return time.perf_counter() - started, audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="data/espeak-en")
    parser.add_argument("--checkpoint", default="runs/demo-en")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=8, help="held-out sentences timed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    sentences = read_test_sentences(args.corpus)
    texts = [s.text for s in sentences[1:args.sentences + 1]]
    warmup = sentences[0].text

    work = Path(tempfile.mkdtemp(prefix="inference-speed-"))
    torch.manual_seed(0)
    save_official_generator(Generator(generator_spec("v3")), AudioConfig(), work / "v3")
    print("exporting ONNX graphs", file=sys.stderr)
    export_onnx(args.checkpoint, work / "onnx-v1", "universal")
    export_onnx(args.checkpoint, work / "onnx-v3", str(work / "v3"))

    runtimes = {
        "pytorch": {name: Synthesizer.from_checkpoint(args.checkpoint, vocoder=source)
                    for name, source in (("v1", "universal"), ("v3", str(work / "v3")))},
        "onnx": {name: onnx_synthesizer(work / f"onnx-{name}", threads=args.threads)
                 for name in ("v1", "v3")},
    }
    result: dict = {"threads": args.threads, "sentences": len(texts), "checkpoint": args.checkpoint}
    mels_by_runtime = {}
    for runtime, synthesizers in runtimes.items():
        print(f"timing {runtime}", file=sys.stderr)
        figures = {}
        for synthesizer in synthesizers.values():
            synthesizer.synthesize(warmup)  # first-call allocations and kernel selection
        seconds, mels = fastest(acoustic_seconds, synthesizers["v1"], texts)
        mels_by_runtime[runtime] = mels
        audio = synthesizers["v1"].config.audio
        audio_seconds = sum(mel.shape[1] for mel in mels) * audio.hop_length / audio.sample_rate
        figures["audio_seconds"] = round(audio_seconds, 2)
        figures["rtf_acoustic"] = round(seconds / audio_seconds, 4)
        for name, synthesizer in synthesizers.items():
            seconds = fastest(vocoder_seconds, synthesizer.vocoder, mels)
            figures[f"rtf_hifigan_{name}"] = round(seconds / audio_seconds, 4)
        for name, synthesizer in synthesizers.items():
            seconds, audio = fastest(end_to_end, synthesizer, texts)
            figures[f"rtf_end_to_end_{name}"] = round(seconds / audio, 4)
        result[runtime] = figures
    same_shapes = all(a.shape == b.shape for a, b in zip(*mels_by_runtime.values()))
    result["max_abs_mel_difference"] = (
        float(max(np.abs(a - b).max() for a, b in zip(*mels_by_runtime.values())))
        if same_shapes else None)
    result["onnx_speedup_end_to_end_v3"] = round(
        result["pytorch"]["rtf_end_to_end_v3"] / result["onnx"]["rtf_end_to_end_v3"], 3)
    # The GL figure gives scale: what the toolkit did before a neural vocoder.
    gl = load_vocoder("griffin-lim", AudioConfig())
    result["rtf_griffin_lim"] = round(fastest(vocoder_seconds, gl, mels_by_runtime["pytorch"])
                                      / result["pytorch"]["audio_seconds"], 4)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
