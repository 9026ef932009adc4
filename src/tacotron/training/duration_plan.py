"""`tacotron plan DATA_DIR`: how long to train on this data set on this machine, and why.

The estimate reads the prepared data set (utterances, hours of audio) and measures the device
(seconds per training step at the planned batch size, with a few real steps). Rules:

- batch size: the config's on a CPU (throughput there grows about linearly with the batch, so a
  larger batch buys nothing); on CUDA the largest power of two up to 64 whose step on the longest
  utterances fits in memory.
- epochs: LJSpeech (24 h, 13,100 utterances) reaches good quality after ~100k steps at batch 64,
  ~500 epochs (Shen et al. 2018 trained longer; 100k is where NVIDIA's public model is usable).
  Smaller sets need more passes over the data: epochs(h) = 500 * sqrt(24 / h), at most 5000.
- steps = epochs * utterances / batch, at least 10x the alignment onset of the preset (measured
  on the eSpeak corpus: cpu-tiny aligns by ~250 steps) and at most 300k.
- validation every ~1/100 of the run (a multiple of 50), checkpoints at each validation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tacotron.config import Config
from tacotron.data.prepare import prepare

REFERENCE_HOURS = 24.0
REFERENCE_EPOCHS = 500.0
MAX_EPOCHS = 5000.0
MIN_STEPS = 2500  # 10x the measured alignment onset (~250 steps, cpu-tiny, eSpeak corpus)
MAX_STEPS = 300_000


@dataclass
class TrainingPlan:
    hours: float
    utterances: int
    device: str
    batch_size: int
    epochs: float
    max_steps: int
    val_every_steps: int
    seconds_per_step: float
    reasons: list[str] = field(default_factory=list)

    @property
    def hours_to_train(self) -> float:
        return self.max_steps * self.seconds_per_step / 3600.0

    def overrides(self) -> list[str]:
        return [f"train.batch_size={self.batch_size}", f"train.max_steps={self.max_steps}",
                f"train.val_every_steps={self.val_every_steps}",
                f"train.checkpoint_every_steps={self.val_every_steps}"]

    def explain(self) -> str:
        lines = [f"data: {self.utterances} training utterances, {self.hours:.2f} h of audio",
                 f"device: {self.device}, {self.seconds_per_step:.3f} s per step measured at "
                 f"batch {self.batch_size}", *[f"- {reason}" for reason in self.reasons],
                 f"estimated training time: {self.hours_to_train:.1f} h",
                 "train with: " + " ".join(self.overrides())]
        return "\n".join(lines)


def epochs_for(hours: float) -> float:
    """epochs(h) = min(5000, 500 * sqrt(24 / h)): 500 for LJSpeech-sized sets, more for less."""
    return min(MAX_EPOCHS, REFERENCE_EPOCHS * math.sqrt(REFERENCE_HOURS / max(hours, 1e-3)))


def plan_training(data_dir: str | Path, config: Config, probe_steps: int = 3,
                  progress: bool = True) -> TrainingPlan:
    from tacotron.training.loop import resolve_device

    prepared = prepare(data_dir, config, progress=progress)
    audio = config.audio
    frames = sum(u.frames for u in prepared.train)
    hours = frames * audio.hop_length / audio.sample_rate / 3600.0
    device = resolve_device(config.train.device)
    reasons = []
    batch_size = config.train.batch_size
    if device.type == "cuda":
        batch_size = largest_fitting_batch(config, prepared)
        reasons.append(f"batch {batch_size}: the largest power of two <= 64 whose step on the "
                       "longest utterances fits in GPU memory")
    else:
        reasons.append(f"batch {batch_size}: the config's (on a CPU a larger batch is not faster "
                       "per utterance)")
    batch_size = max(1, min(batch_size, len(prepared.train)))
    epochs = epochs_for(hours)
    steps = epochs * len(prepared.train) / batch_size
    reasons.append(f"{epochs:.0f} epochs = min({MAX_EPOCHS:.0f}, {REFERENCE_EPOCHS:.0f} * "
                   f"sqrt({REFERENCE_HOURS:.0f} h / {hours:.2f} h)) -> {steps:.0f} steps")
    max_steps = int(min(MAX_STEPS, max(MIN_STEPS, steps)))
    if max_steps != int(steps):
        reasons.append(f"clamped to [{MIN_STEPS}, {MAX_STEPS}] steps -> {max_steps}")
    val_every = max(50, int(round(max_steps / 100 / 50)) * 50)
    reasons.append(f"validation and checkpoint every {val_every} steps (~100 per run)")
    seconds = measure_step_seconds(config, prepared, batch_size, probe_steps)
    return TrainingPlan(hours, len(prepared.train), str(device), batch_size, epochs, max_steps,
                        val_every, seconds, reasons)


def measure_step_seconds(config: Config, prepared, batch_size: int, steps: int) -> float:
    """Seconds per optimizer step, timed over `steps` real steps after one warm-up step."""
    import copy
    import tempfile

    from tacotron.training.trainer import Trainer

    probe = copy.deepcopy(config)
    probe.train.batch_size = batch_size
    probe.train.max_steps = steps + 1
    probe.train.max_minutes = 0.0
    probe.autofix.enabled = False
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(probe, prepared, run_dir, progress=False)
        task = trainer.task
        batches = iter(task.train_loader)
        task.train_step([next(batches)])
        started = time.perf_counter()
        for _ in range(steps):
            try:
                batch = next(batches)
            except StopIteration:
                batches = iter(task.train_loader)
                batch = next(batches)
            task.train_step([batch])
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - started) / steps


def largest_fitting_batch(config: Config, prepared) -> int:
    """Try batches of the longest utterances, 64, 32, ... until one step fits in GPU memory."""
    import copy
    import tempfile

    from tacotron.data.dataset import Batch
    from tacotron.training.trainer import Trainer

    for batch_size in (64, 32, 16, 8, 4, 2, 1):
        probe = copy.deepcopy(config)
        probe.train.batch_size = batch_size
        probe.autofix.enabled = False
        try:
            with tempfile.TemporaryDirectory() as run_dir:
                task = Trainer(probe, prepared, run_dir, progress=False).task
                dataset = task.train_loader.dataset
                longest = sorted(range(len(dataset)), key=lambda i: -dataset.frames[i])
                items = [dataset[i] for i in longest[:batch_size]]
                batch: Batch = task.train_loader.collate_fn(items)
                task.train_step([batch])
            return batch_size
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
    return 1
