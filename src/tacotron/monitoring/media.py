"""The picture and the sound of one validation sample, rendered once for every sink that wants
them (TensorBoard, MLflow, Telegram), in the training thread when the validation ends; the network
sinks' background threads only send the bytes.

Why not render on those threads: Griffin-Lim is torch code, and a second thread running torch ops
starts a second OpenMP team beside the training loop's. On 2 cores the two teams' spinning
threads starved each other: benchmarks/monitor_overhead.py measured Telegram (pictures and audio
rendered in the background) slowing training by 33%, and one Griffin-Lim taking 14 s instead of
a fraction of a second. Rendered here it costs its plain time once per validation."""

from __future__ import annotations

import io

import numpy as np
import soundfile

from tacotron.audio.griffin_lim import griffin_lim
from tacotron.config import AudioConfig
from tacotron.monitoring.plots import alignment_png


class SampleMedia:
    """One validation sample, rendered when made: `png` (teacher-forced and free-running
    alignment side by side), `waveform` (the free-running mel through Griffin-Lim, clipped to
    [-1, 1], float32) and `wav` (that waveform as 16-bit PCM WAV bytes)."""

    def __init__(self, step: int, sample, audio_config: AudioConfig):
        self.step = step
        self.text = sample.text
        self.png: bytes = alignment_png([("teacher-forced", sample.teacher_forced),
                                         ("free-running", sample.free_running)],
                                        f"step {step}: {sample.text[:90]}")
        self.waveform: np.ndarray = np.clip(griffin_lim(sample.mel, audio_config), -1.0, 1.0)
        buffer = io.BytesIO()
        soundfile.write(buffer, self.waveform, audio_config.sample_rate, subtype="PCM_16",
                        format="WAV")
        self.wav: bytes = buffer.getvalue()


class MediaCache:
    """One SampleMedia per validation step, shared by the sinks of a run. Only the training
    thread calls `get`; the sinks' threads read the finished bytes."""

    def __init__(self):
        self.latest: SampleMedia | None = None

    def get(self, step: int, sample, audio_config: AudioConfig) -> SampleMedia:
        """The media of this step's sample, rendered now if they are new."""
        if self.latest is None or self.latest.step != step:
            self.latest = SampleMedia(step, sample, audio_config)
        return self.latest
