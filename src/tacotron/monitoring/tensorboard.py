"""TensorBoard sink: losses, learning rate, gradient norm, validation metrics, alignment
pictures (teacher-forced and free-running), Griffin-Lim audio and the config as text; for a
vocoder run, the first validation utterance vocoded and recorded."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tacotron.monitoring.media import MediaCache
from tacotron.runs.events import Event
from tacotron.training.callbacks import Callback, RunView, ValidationSample, VocoderSample


class TensorBoardLogger(Callback):
    def __init__(self, log_dir: Path | None = None, media: MediaCache | None = None):
        self.log_dir = log_dir
        # Shared with the other sinks: Griffin-Lim and the picture run once per validation.
        self.media = media or MediaCache()
        self.writer = None
        self.recording_logged = False

    def on_train_start(self, trainer: RunView) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(self.log_dir or trainer.run_dir / "tensorboard"),
                                    purge_step=trainer.step or None)
        self.writer.add_text("config", "```\n" + trainer.config.to_yaml() + "\n```", trainer.step)

    # Schedule values are written every step (they are what a user checks when a run drifts);
    # losses every log_every_steps.
    EVERY_STEP = ("lr", "lr_scale", "guided_weight", "guided_sigma", "teacher_forcing",
                  "gate_pos_weight", "phase")

    def on_step_end(self, trainer: RunView, logs: dict[str, float]) -> None:
        every = trainer.step % trainer.config.train.log_every_steps == 0
        for key, value in logs.items():
            if every or key in self.EVERY_STEP:
                self.writer.add_scalar(f"train/{key}", value, trainer.step)

    def on_validation_end(self, trainer: RunView, metrics: dict[str, float],
                          sample: ValidationSample | VocoderSample | None) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(f"val/{key}", value, trainer.step)
        rate = trainer.config.audio.sample_rate
        if isinstance(sample, ValidationSample):
            media = self.media.get(trainer.step, sample, trainer.config.audio)
            self.writer.add_image("val/alignment", png_pixels(media.png), trainer.step,
                                  dataformats="HWC")
            self.writer.add_audio("val/free_running", media.waveform[None, :], trainer.step,
                                  sample_rate=rate)
        elif isinstance(sample, VocoderSample):
            self.writer.add_audio("val/vocoded", np.clip(sample.vocoded, -1, 1)[None, :],
                                  trainer.step, sample_rate=rate)
            if not self.recording_logged:
                self.writer.add_audio("val/recording", np.clip(sample.recording, -1, 1)[None, :],
                                      trainer.step, sample_rate=rate)
                self.recording_logged = True
        self.writer.flush()

    # Events a person must see in the timeline; validation and checkpoints are already scalars.
    TEXT_EVENTS = ("phase", "autofix", "alert", "crash")

    def on_event(self, trainer: RunView, event: Event) -> None:
        if self.writer is not None and event.kind in self.TEXT_EVENTS:
            self.writer.add_text(f"events/{event.kind}", event.summary(), event.step)
            self.writer.flush()

    def on_train_end(self, trainer: RunView, reason: str) -> None:
        if self.writer is not None:
            self.writer.add_text("finished", f"{reason} at step {trainer.step}", trainer.step)
            self.writer.close()


def png_pixels(png: bytes) -> np.ndarray:
    """[height, width, 3] uint8 pixels of a PNG (TensorBoard takes images as arrays)."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
