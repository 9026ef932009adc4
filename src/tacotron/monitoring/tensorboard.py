"""TensorBoard sink: losses, learning rate, gradient norm, validation metrics, alignment
pictures (teacher-forced and free-running), Griffin-Lim audio and the config as text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tacotron.audio.griffin_lim import griffin_lim
from tacotron.runs.events import Event
from tacotron.monitoring.media import MediaCache
from tacotron.monitoring.plots import alignment_figure
from tacotron.training.trainer import Callback, Trainer, ValidationSample


class TensorBoardLogger(Callback):
    def __init__(self, log_dir: Path | None = None, media: MediaCache | None = None):
        self.log_dir = log_dir
        self.media = media  # shared with the other sinks: Griffin-Lim runs once per validation
        self.writer = None

    def on_train_start(self, trainer: Trainer) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(self.log_dir or trainer.run_dir / "tensorboard"),
                                    purge_step=trainer.step or None)
        self.writer.add_text("config", "```\n" + trainer.config.to_yaml() + "\n```", trainer.step)

    # Schedule values are written every step (they are what a user checks when a run drifts);
    # losses every log_every_steps.
    EVERY_STEP = ("lr", "lr_scale", "guided_weight", "guided_sigma", "teacher_forcing",
                  "gate_pos_weight", "phase")

    def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        every = trainer.step % trainer.config.train.log_every_steps == 0
        for key, value in logs.items():
            if every or key in self.EVERY_STEP:
                self.writer.add_scalar(f"train/{key}", value, trainer.step)

    def on_validation_end(self, trainer: Trainer, metrics: dict[str, float],
                          sample: ValidationSample | None) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(f"val/{key}", value, trainer.step)
        if sample is None:
            return
        figure = alignment_figure([("teacher-forced", sample.teacher_forced),
                                   ("free-running", sample.free_running)], sample.text[:90])
        self.writer.add_figure("val/alignment", figure, trainer.step)
        if self.media is not None:
            audio = self.media.get(trainer.step, sample, trainer.config.audio).waveform
        else:
            audio = np.clip(griffin_lim(sample.mel, trainer.config.audio), -1, 1)
        self.writer.add_audio("val/free_running", audio[None, :], trainer.step,
                              sample_rate=trainer.config.audio.sample_rate)
        self.writer.flush()

    # Events a person must see in the timeline; validation and checkpoints are already scalars.
    TEXT_EVENTS = ("phase", "autofix", "alert", "crash")

    def on_event(self, trainer: Trainer, event: Event) -> None:
        if self.writer is not None and event.kind in self.TEXT_EVENTS:
            self.writer.add_text(f"events/{event.kind}", event.summary(), event.step)
            self.writer.flush()

    def on_train_end(self, trainer: Trainer, reason: str) -> None:
        if self.writer is not None:
            self.writer.add_text("finished", f"{reason} at step {trainer.step}", trainer.step)
            self.writer.close()
