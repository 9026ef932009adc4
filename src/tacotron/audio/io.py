"""Reading and writing audio files: mono float32 in, 16-bit PCM WAV out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from tacotron.errors import DataError
from tacotron.files import atomic_write

# A sample at or above this magnitude is counted as clipped (full scale after quantization).
CLIP_LEVEL = 0.999


class AudioLoadError(DataError):
    """An audio file that is missing or cannot be decoded."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class AudioFileInfo:
    """What the file held before it was downmixed and resampled."""

    sample_rate: int
    channels: int
    seconds: float
    clipped_fraction: float  # share of samples (all channels) with |x| >= CLIP_LEVEL


def load_audio(path: str | Path, target_sample_rate: int) -> tuple[np.ndarray, AudioFileInfo]:
    """Return the file as float32 mono at `target_sample_rate`, and what it was originally."""
    path = Path(path)
    if not path.is_file():
        raise AudioLoadError(path, "audio file not found")
    try:
        samples, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as error:  # soundfile.LibsndfileError is a RuntimeError
        raise AudioLoadError(path, f"unreadable audio: {error}") from None
    num_samples, channels = samples.shape
    clipped = np.count_nonzero(np.abs(samples) >= CLIP_LEVEL)
    info = AudioFileInfo(
        sample_rate=sample_rate,
        channels=channels,
        seconds=num_samples / sample_rate,
        clipped_fraction=clipped / samples.size if samples.size else 0.0,
    )
    waveform = samples.mean(axis=1, dtype=np.float32)
    if sample_rate != target_sample_rate and num_samples > 0:
        waveform = soxr.resample(waveform, sample_rate, target_sample_rate, quality="HQ")
    return np.ascontiguousarray(waveform, dtype=np.float32), info


def save_wav(path: str | Path, waveform: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM WAV atomically: a reader never sees a half-written file."""
    # Out-of-range floats would wrap around when converted to 16-bit integers; clip them instead.
    samples = np.clip(np.asarray(waveform, dtype=np.float32), -1.0, 1.0)
    atomic_write(path, lambda handle: soundfile.write(handle, samples, sample_rate,
                                                      subtype="PCM_16", format="WAV"))
