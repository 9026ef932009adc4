"""Reading and writing audio files: mono float32 in, 16-bit PCM WAV out."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from tacotron.errors import DataError
from tacotron.files import atomic_write

# A sample at or above this magnitude is counted as clipped (full scale after quantization).
CLIP_LEVEL = 0.999
# Sample rates a recording can have (telephone speech to the fastest studio converters): a header
# outside them is damaged, and resampling 1 s of audio "at 1 Hz" would make 6 hours of it.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 4000, 768000
# A WAV data size that states no length: a stream's header written before its length was known.
UNKNOWN_WAV_SIZES = (0, 0xFFFFFFFF)
# A header may miscount a few samples; more than this missing (missing_seconds) is a truncated file.
TRUNCATION_TOLERANCE_SECONDS = 0.01


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
    if path.stat().st_size == 0:
        raise AudioLoadError(path, "unreadable audio: empty file (0 bytes)")
    try:
        samples, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as error:  # soundfile.LibsndfileError is a RuntimeError
        # libsndfile reads no mp4/m4a (and no mp3 before 1.1); FFmpeg, through PyAV, reads them.
        samples, sample_rate = _decode_with_pyav(path, error)
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioLoadError(path, f"unreadable audio: its header says {sample_rate} Hz, outside the "
                                   f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz of any recording (a damaged header)")
    # A float file can hold NaN or infinity (a damaged file, a broken effect): as log-mels they
    # would turn every loss they reach into NaN.
    not_finite = samples.size - np.count_nonzero(np.isfinite(samples))
    if not_finite:
        raise AudioLoadError(path, f"unreadable audio: {not_finite} of its {samples.size} samples are NaN "
                                   "or infinite (a damaged float file)")
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
            if stream.codec_context is None:  # a WAV format tag or codec FFmpeg has no decoder for
                reason = str(soundfile_error).replace(f"Error opening {str(path)!r}: ", "")
                raise AudioLoadError(path, f"unreadable audio: no decoder for its audio (libsndfile: {reason})")
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
    # Encoded in memory first: libsndfile writes through callbacks that cannot raise, so a failed
    # write to the file (a full disk) would print tracebacks and lose its errno.
    encoded = io.BytesIO()
    soundfile.write(encoded, samples, sample_rate, subtype="PCM_16", format="WAV")
    atomic_write(path, lambda handle: handle.write(encoded.getbuffer()))


def missing_seconds(path: str | Path) -> float:
    """Seconds of audio a WAV file's header declares beyond the end of the file: > 0 for a truncated
    file (a copy or download that did not finish) or a header that lies about its length, which
    libsndfile reads without a word. 0 for a complete WAV, one whose header states no length
    (UNKNOWN_WAV_SIZES) and any other format.

        missing = (data size in the header - data bytes in the file) / block align / sample rate"""
    try:
        with open(path, "rb") as file:
            size = file.seek(0, 2)
            file.seek(0)
            if file.read(4) != b"RIFF" or file.read(8)[4:] != b"WAVE":
                return 0.0
            position, sample_rate, block_align = 12, 0, 0
            while position + 8 <= size:
                file.seek(position)
                chunk, chunk_size = struct.unpack("<4sI", file.read(8))
                if chunk == b"fmt ":
                    fields = file.read(16)
                    if len(fields) < 16:
                        return 0.0
                    _, _, sample_rate, _, block_align, _ = struct.unpack("<HHIIHH", fields)
                elif chunk == b"data":
                    if not sample_rate or not block_align or chunk_size in UNKNOWN_WAV_SIZES:
                        return 0.0
                    present = size - position - 8
                    return max(0, chunk_size - present) // block_align / sample_rate
                position += 8 + chunk_size + (chunk_size & 1)
    except OSError:
        return 0.0
    return 0.0
