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
        # libsndfile reads no mp4/m4a (and no mp3 before 1.1); FFmpeg, through PyAV, reads them.
        samples, sample_rate = _decode_with_pyav(path, error)
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


def _decode_with_pyav(path: Path, soundfile_error: Exception) -> tuple[np.ndarray, int]:
    """[samples, channels] float32 and the sample rate of the first audio stream, decoded by FFmpeg."""
    try:
        import av
    except ImportError:
        raise AudioLoadError(path, f"unreadable audio: {soundfile_error} (install PyAV to read more formats)") from None
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioLoadError(path, "unreadable audio: not an audio file (it has no audio stream)")
            stream = container.streams.audio[0]
            channels = stream.codec_context.channels or 1
            # Planar float output of every frame, one row per channel.
            resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=stream.rate)
            chunks = [array for frame in container.decode(stream)
                      for resampled in resampler.resample(frame) for array in [resampled.to_ndarray()]]
            sample_rate = stream.rate
    except AudioLoadError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as error:
        # One message for prepare and dataset make; FFmpeg's strerror, without the path said twice.
        reason = getattr(error, "strerror", None) or error
        raise AudioLoadError(path, f"unreadable audio: not an audio file (neither libsndfile nor FFmpeg "
                                   f"can decode it: {reason})") from None
    if not chunks:
        return np.zeros((0, channels), dtype=np.float32), sample_rate
    return np.ascontiguousarray(np.concatenate(chunks, axis=1).T, dtype=np.float32), sample_rate


def save_wav(path: str | Path, waveform: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM WAV atomically: a reader never sees a half-written file."""
    # Out-of-range floats would wrap around when converted to 16-bit integers; clip them instead.
    samples = np.clip(np.asarray(waveform, dtype=np.float32), -1.0, 1.0)
    atomic_write(path, lambda handle: soundfile.write(handle, samples, sample_rate,
                                                      subtype="PCM_16", format="WAV"))
