"""Naturalness of a voice as a predicted mean opinion score (MOS), offline and on the CPU.

    predicted_mos(waveform, sample_rate)               # one recording -> 1.0 .. 5.0
    mean_predicted_mos(["a.wav", "b.wav"])              # files or waveforms -> their arithmetic mean
    text_naturalness(synthesis.segment_audio, 22050)   # a synthesized text: each segment and the whole

The scorer is DistillMOS (the `distillmos` wheel, weights inside): a small convolution + transformer
network distilled from an XLS-R-based speech quality model (Stahl & Gamper, "Distillation and Pruning
for Scalable Self-Supervised Representation-Based Speech Quality Assessment", ICASSP 2025; teacher:
Tamm et al., "Analysis of XLS-R for Speech Quality Assessment", WASPAA 2023).
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr
import torch

from tacotron.audio.io import load_audio
from tacotron.errors import UserError

INSTALL = "pip install 'tacotron[naturalness]'"
# DistillMOS reads 16 kHz mono: its STFT is 320 samples (20 ms) with a hop of 160 (10 ms) at that
# rate (distillmos/sqa.py), so audio at any other rate would shift every frequency it has learned.
MODEL_SAMPLE_RATE = 16000


def naturalness_available() -> bool:
    """Whether DistillMOS is installed (the `naturalness` extra): reports add predicted MOS when it is."""
    import importlib.util

    return importlib.util.find_spec("distillmos") is not None


def predicted_mos(waveform: np.ndarray, sample_rate: int) -> float:
    """Predicted MOS of a mono waveform [T] at `sample_rate`: DistillMOS's estimate of the mean score
    listeners would give on the ACR scale, 1 (bad) .. 5 (excellent).

    The model reads 16 kHz (the waveform is resampled with soxr), pads a recording shorter than
    7.68 s with silence, averages a longer one over 7.68 s windows at most 1 s apart, and scales each
    window to its own peak, so the loudness of the input does not count. Cost on one CPU thread:
    about 0.25 s per window, so 0.25 s for any clip up to 7.68 s and about 0.25 s per second of
    audio beyond that (on cores that other processes keep busy, torch's default of one thread per
    core was 5-15 times slower than torch.set_num_threads(1)).

    What it is not: a listening test. It learned from English-centric ratings of mostly recorded
    speech with transmission and noise degradations, not of speech synthesis; its values for
    synthetic speech, and for Russian above all, are comparisons between voices scored the same way,
    not absolute naturalness. Measured here: Piper's joe 4.28-4.36, joe + white noise at 10 dB SNR
    2.35, joe through Griffin-Lim 3.46, eSpeak English 2.30; Festival's SLT (HTS) 3.44-3.69, with
    that noise 1.88-2.38, through Griffin-Lim 2.05-2.33 (tests/test_naturalness.py).
    """
    waveform = np.asarray(waveform, dtype=np.float32)
    if waveform.ndim != 1 or waveform.size == 0:
        raise ValueError(f"predicted_mos needs a non-empty mono waveform [T], got shape {waveform.shape}")
    if sample_rate != MODEL_SAMPLE_RATE:
        waveform = soxr.resample(waveform, sample_rate, MODEL_SAMPLE_RATE, quality="HQ")
    model = _model()
    with torch.inference_mode():
        score = model(torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))[None])
    return float(score.reshape(-1)[0])


def mean_predicted_mos(recordings: Iterable[str | Path | np.ndarray],
                       sample_rate: int | None = None) -> float:
    """Arithmetic mean of predicted_mos over audio files (read as mono at their own rate) or
    waveforms (all at `sample_rate`, which waveforms then need)."""
    scores = []
    for recording in recordings:
        if isinstance(recording, (str, Path)):
            waveform, _ = load_audio(recording, MODEL_SAMPLE_RATE)
            scores.append(predicted_mos(waveform, MODEL_SAMPLE_RATE))
        else:
            if sample_rate is None:
                raise ValueError("mean_predicted_mos needs sample_rate for waveforms")
            scores.append(predicted_mos(recording, sample_rate))
    if not scores:
        raise ValueError("mean_predicted_mos: no recordings")
    return float(np.mean(scores))


@dataclass
class TextNaturalness:
    """The predicted MOS of a synthesized text (text_naturalness)."""

    segment_mos: list[float]  # of each segment's audio alone, in order
    mos: float  # of the whole text: the segments' duration-weighted mean


def text_naturalness(segment_audio: Sequence[np.ndarray], sample_rate: int) -> TextNaturalness:
    """Predicted MOS of a text the synthesizer spoke in segments (sentences, clauses): mos_i =
    predicted_mos of segment i's audio alone (vocoded and trimmed, before joining and
    post-processing), and for the whole text

        mos = sum_i(t_i * mos_i) / sum_i(t_i),   t_i = seconds of segment i.

    The joined audio is not scored again: DistillMOS reads a recording longer than 7.68 s as
    windows at most 1 s apart, so a minute of joined speech would cost about 53 windows where its
    segments cost one each; the pauses between segments are not scored. Rounded to 3 decimals,
    as every reported MOS."""
    if not segment_audio:
        raise ValueError("text_naturalness: no segments")
    scores = [predicted_mos(audio, sample_rate) for audio in segment_audio]
    seconds = np.array([len(audio) / sample_rate for audio in segment_audio])
    return TextNaturalness([round(score, 3) for score in scores],
                           round(float(np.dot(seconds, scores) / seconds.sum()), 3))


@functools.cache
def _model() -> torch.nn.Module:
    """The DistillMOS network with its packaged weights, on the CPU, loaded once per process."""
    try:
        with _torchaudio_placeholder():
            from distillmos.sqa import ConvTransformerSQAModel
    except ImportError as error:
        raise UserError(f"the predicted MOS needs DistillMOS ({error}): {INSTALL}  "
                        "(or, without the unused torchaudio and transformers it declares: "
                        "pip install --no-deps distillmos xls-r-sqa)") from None
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the weights' path on every load
        model = ConvTransformerSQAModel(load_weights=True)
    return model.eval().cpu()


@contextlib.contextmanager
def _torchaudio_placeholder():
    """Let `distillmos.sqa` import without torchaudio. That module imports torchaudio at its top only
    for its command-line file reader, which is never called here; the network needs torch alone.
    torchaudio cannot be imported beside a CPU torch of another version (its compiled library fails
    to load with an OSError, not an ImportError), and the package has no torchaudio-free submodule
    that holds the network, so a placeholder stands in sys.modules for the length of that one import
    and is removed afterwards; a torchaudio that is already imported is left as it is."""
    if "torchaudio" in sys.modules:
        yield
        return
    placeholder = types.ModuleType("torchaudio")

    def unavailable(name: str):
        raise AttributeError(f"torchaudio.{name}: torchaudio is not loaded by tacotron's naturalness measure")

    placeholder.__getattr__ = unavailable
    sys.modules["torchaudio"] = placeholder
    try:
        yield
    finally:
        if sys.modules.get("torchaudio") is placeholder:
            del sys.modules["torchaudio"]
