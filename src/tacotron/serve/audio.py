"""Audio formats the server answers in, all encoded by soundfile (libsndfile): WAV (16-bit PCM),
FLAC, OGG/Vorbis, Opus (in OGG, resampled to 48 kHz: Opus has no 22.05 kHz mode), MP3, and raw
PCM (16-bit little-endian mono, no header; the sample rate is in the X-Sample-Rate header).

Streaming sends one WAV whose header declares an unknown length (0xFFFFFFFF, as a live WAV
stream does), then each segment's 16-bit samples as soon as they exist; or, as `pcm`, the bare
samples."""

from __future__ import annotations

import io
import struct

import numpy as np
import soundfile
import soxr

MEDIA_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "opus": "audio/ogg",
               "mp3": "audio/mpeg", "pcm": "audio/L16"}
STREAM_FORMATS = ("wav", "pcm")
_SOUNDFILE = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"),
              "opus": ("OGG", "OPUS"), "mp3": ("MP3", "MPEG_LAYER_III")}
OPUS_SAMPLE_RATE = 48000
UNKNOWN_LENGTH = 0xFFFFFFFF


def pcm16(waveform: np.ndarray) -> bytes:
    """float32 in [-1, 1] -> 16-bit little-endian samples (clipped, not wrapped)."""
    samples = np.clip(np.asarray(waveform, dtype=np.float32), -1.0, 1.0)
    return (np.round(samples * 32767.0)).astype("<i2").tobytes()


def encode(waveform: np.ndarray, sample_rate: int, audio_format: str) -> bytes:
    if audio_format == "pcm":
        return pcm16(waveform)
    container, subtype = _SOUNDFILE[audio_format]
    samples = np.clip(np.asarray(waveform, dtype=np.float32), -1.0, 1.0)
    if audio_format == "opus":
        samples = soxr.resample(samples, sample_rate, OPUS_SAMPLE_RATE, quality="HQ")
        sample_rate = OPUS_SAMPLE_RATE
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format=container, subtype=subtype)
    return buffer.getvalue()


def streaming_wav_header(sample_rate: int) -> bytes:
    """A 44-byte RIFF/WAVE header of mono 16-bit PCM whose RIFF and data sizes are unknown."""
    block_align = 2
    return (b"RIFF" + struct.pack("<I", UNKNOWN_LENGTH) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * block_align,
                                    block_align, 16)
            + b"data" + struct.pack("<I", UNKNOWN_LENGTH))
