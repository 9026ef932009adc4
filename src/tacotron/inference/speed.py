"""Speaking speed: the same words said faster or slower, at the same pitch.

`speed` is OpenAI's /v1/audio/speech parameter: 0.25 to 4.0, 1.0 as the voice speaks, 2.0 twice as
fast (half the duration). Tacotron 2 has no duration input to turn, so the speed is changed after
decoding, by one of `SPEED_METHODS` (`inference.speed_method`):

- "mel": the decoded log-mel is resampled along time (linear interpolation between neighbouring
  frames) before the vocoder, which then makes audio of the new length at the voice's own pitch
  (pitch lives in the harmonics within each frame, which stay as they were).
- "wsola": audiotsm's WSOLA on the vocoded waveform: overlapping windows, each placed where it
  best continues the previous one (waveform similarity), at the new spacing.
- "phase-vocoder": audiotsm's phase vocoder on the vocoded waveform (STFT frames at the new
  spacing, phases advanced to match).

Why "mel", measured (benchmarks/speech_controls.py: base-en, HiFi-GAN universal, the 24 held-out
sentences, Whisper base; docs/serving.md "Speed and word timings" has the table): at 0.75, 1.25
and 1.5 the mel method kept the duration within 0.3 % of 1/speed, Whisper's WER within 0.002,
0.010 and 0.031 of speed 1.0's (0.104) and the mean F0 within 0.4 %; WSOLA on the same audio,
with durations within 1.3 % and F0 within 0.9 %, raised the WER by 0.110, 0.073 and 0.110. The
mel change also costs nothing beyond vocoding fewer or more frames, and moves every time by
1/speed to the frame, so the word timings follow it exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from tacotron.errors import UserError

MIN_SPEED, MAX_SPEED = 0.25, 4.0  # OpenAI's range for /v1/audio/speech's speed
SPEED_METHODS = ("mel", "wsola", "phase-vocoder")
# audiotsm's frame length (samples): about 46 ms at 22.05 kHz, two periods of a 45 Hz voice.
WSOLA_FRAME_LENGTH = 1024
PHASE_VOCODER_FRAME_LENGTH = 2048


def check_speed(speed) -> float:
    """`speed` as a float, or a UserError naming `speed` when it is not a number in [0.25, 4.0]."""
    if isinstance(speed, bool) or not isinstance(speed, (int, float)):
        raise UserError(f"speed must be a number from {MIN_SPEED} to {MAX_SPEED}, got {speed!r}")
    if not (MIN_SPEED <= speed <= MAX_SPEED):  # NaN fails this too
        raise UserError(f"speed must be from {MIN_SPEED} to {MAX_SPEED} (1.0: the voice's own pace, "
                        f"2.0: twice as fast), got {speed}")
    return float(speed)


def stretch_mel(mel: np.ndarray, speed: float) -> np.ndarray:
    """[n_mels, frames] -> [n_mels, max(1, round(frames / speed))]: output frame k is the input read
    at frame k * speed (clipped to the last frame), linearly interpolated between its neighbours."""
    frames = mel.shape[1]
    count = max(1, round(frames / speed))
    at = np.minimum(np.arange(count, dtype=np.float64) * speed, frames - 1)
    before = np.floor(at).astype(int)
    after = np.minimum(before + 1, frames - 1)
    weight = (at - before)[None, :]
    stretched = mel[:, before] * (1.0 - weight) + mel[:, after] * weight
    return stretched.astype(mel.dtype)


def stretch_waveform(audio: np.ndarray, speed: float, method: str) -> np.ndarray:
    """audiotsm's WSOLA or phase vocoder: `audio` played `speed` times as fast, pitch kept, and
    round(len(audio) / speed) samples long. audiotsm leaves out the output of the input's last
    frames, so the input gets silence after it (two frames, times the speed above 1) and the output
    is cut to that length (and padded with silence should it still fall short)."""
    from audiotsm import phasevocoder, wsola
    from audiotsm.io.array import ArrayReader, ArrayWriter

    if method == "wsola":
        frame_length = WSOLA_FRAME_LENGTH
        tsm = wsola(channels=1, speed=speed, frame_length=frame_length)
    elif method == "phase-vocoder":
        frame_length = PHASE_VOCODER_FRAME_LENGTH
        tsm = phasevocoder(channels=1, speed=speed, frame_length=frame_length)
    else:
        raise ValueError(f"not a waveform speed method: {method!r}")
    samples = np.asarray(audio, dtype=np.float32)
    padded = np.concatenate([samples, np.zeros(math.ceil(2 * frame_length * max(1.0, speed)), np.float32)])
    reader = ArrayReader(padded[None, :])
    writer = ArrayWriter(channels=1)
    tsm.run(reader, writer)
    length = round(samples.size / speed)
    stretched = writer.data[0, :length].astype(np.float32)
    return np.pad(stretched, (0, length - stretched.size))


def speak_at_speed(mel: np.ndarray, vocode: Callable[[np.ndarray], np.ndarray], speed: float,
                   method: str) -> tuple[np.ndarray, float]:
    """The waveform of `mel` at `speed` by `method`, and the time scale it applied (output seconds per
    input second: 1/speed as nearly as whole frames or samples allow), for the word timings.
    Speed 1.0 is the vocoder's output untouched, whatever the method."""
    if speed == 1.0:
        return vocode(mel), 1.0
    if method == "mel":
        stretched = stretch_mel(mel, speed)
        return vocode(stretched), stretched.shape[1] / mel.shape[1]
    if method not in SPEED_METHODS:
        raise UserError(f"unknown speed method {method!r}; known: {', '.join(SPEED_METHODS)}")
    audio = vocode(mel)
    stretched = stretch_waveform(audio, speed, method)
    return stretched, (stretched.size / audio.size if audio.size else 1.0 / speed)


def scaled_pause(seconds: float, speed: float) -> float:
    """A pause between segments at `speed`: seconds / speed, so the whole text keeps its rhythm."""
    return seconds / speed if math.isfinite(seconds) else seconds
