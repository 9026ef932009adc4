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
import threading

import numpy as np
import soundfile

from tacotron.audio.griffin_lim import griffin_lim
from tacotron.config import AudioConfig
from tacotron.training.plots import alignment_png


class SampleMedia:
    def __init__(self, step: int, sample, audio_config: AudioConfig):
        self.step = step
        self.text = sample.text
        self.teacher_forced = sample.teacher_forced
        self.free_running = sample.free_running
        self.mel = sample.mel
        self.audio_config = audio_config
        self.lock = threading.Lock()
        self._png: bytes | None = None
        self._waveform: np.ndarray | None = None
        self._wav: bytes | None = None

    def png(self) -> bytes:
        """Teacher-forced and free-running alignment side by side, as PNG bytes."""
        with self.lock:
            if self._png is None:
                self._png = alignment_png([("teacher-forced", self.teacher_forced),
                                           ("free-running", self.free_running)],
                                          f"step {self.step}: {self.text[:90]}")
            return self._png

    def waveform(self) -> np.ndarray:
        """The free-running mel through Griffin-Lim, clipped to [-1, 1] (float32)."""
        with self.lock:
            if self._waveform is None:
                self._waveform = np.clip(griffin_lim(self.mel, self.audio_config), -1.0, 1.0)
            return self._waveform

    def wav(self) -> bytes:
        """waveform() as 16-bit PCM WAV bytes."""
        waveform = self.waveform()
        with self.lock:
            if self._wav is None:
                buffer = io.BytesIO()
                soundfile.write(buffer, waveform, self.audio_config.sample_rate,
                                subtype="PCM_16", format="WAV")
                self._wav = buffer.getvalue()
            return self._wav


class MediaCache:
    """One SampleMedia per validation step, shared by the sinks of a run."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latest: SampleMedia | None = None

    def get(self, step: int, sample, audio_config: AudioConfig) -> SampleMedia:
        """The media of this step's sample, rendered now if they are new (call it from the
        training thread)."""
        with self.lock:
            if self.latest is None or self.latest.step != step:
                self.latest = SampleMedia(step, sample, audio_config)
                self.latest.png()
                self.latest.wav()
            return self.latest
