"""The one training loop. Read `Trainer.fit` top to bottom: resume, then per step forward,
loss, backward, clip, optimizer step; every N steps log, validate, checkpoint; stop on the step
or time budget, on Ctrl-C (which saves first) or when a callback asks. Features plug in as
`Callback`s; what happens is told as `Event`s (training/events.py).

What is trained is set up by a few methods (`build`, `train_step`, `validate`, `task_state`,
`load_task_state`); `Trainer` trains the Tacotron 2 acoustic model, and a subclass that overrides
only those trains another model (the vocoder) in the same loop.

CPU, one CUDA GPU (with bf16/fp16 AMP) and several GPUs under `torchrun` (DDP) run the same code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm import tqdm

from tacotron.config import Config, TrainConfig, config_from_dict
from tacotron.data.dataset import Batch, BucketBatchSampler, MelTextCollate, MelTextDataset
from tacotron.data.prepare import PreparedData
from tacotron.errors import UserError
from tacotron.files import atomic_write_text
from tacotron.model.alignment_metrics import mean_scores, score_batch
from tacotron.model.losses import (LossWeights, Tacotron2Loss, Targets, gate_scores,
                                   masked_mel_losses)
from tacotron.model.tacotron2 import Tacotron2, count_parameters, lengths_to_mask
from tacotron.text import get_frontend
from tacotron.training import checkpoint as ckpt
from tacotron.training.events import Event, append_event
from tacotron.training.schedules import (PHASES, Controls, StepSchedule, next_phase,
                                         step_schedule)


def learning_rate_at(step: int, config: TrainConfig) -> float:
    """Linear warmup, then exponential decay with a floor:
    lr(s) = max(lr_min, lr_0 * min(1, (s+1)/warmup) * 0.5 ** (max(0, s - warmup) / half_life))."""
    warmup = min(1.0, (step + 1) / max(config.warmup_steps, 1))
    decay = 0.5 ** (max(0, step - config.warmup_steps) / max(config.lr_half_life_steps, 1))
    return max(config.min_learning_rate, config.learning_rate * warmup * decay)


PHASE_INDEX = {name: index for index, name in enumerate(PHASES)}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"train.device={name} but CUDA is not available on this machine")
    return device


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """Mixed precision only on CUDA: bf16 where supported (no loss scaling needed), else fp16."""
    if device.type != "cuda" or amp == "off":
        return None
    if amp == "fp16" or (amp == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


@dataclass
class ValidationSample:
    """One validation sentence, teacher-forced and free-running, for pictures and audio."""

    text: str
    teacher_forced: np.ndarray  # [steps, N]
    free_running: np.ndarray  # [steps, N]
    mel: np.ndarray  # free-running postnet mel [n_mels, frames]


class Callback:
    """Hooks into the loop; every method is optional. Called on rank 0 only."""

    def on_train_start(self, trainer: "Trainer") -> None: ...

    def on_step_end(self, trainer: "Trainer", logs: dict[str, float]) -> None: ...

    def on_validation_end(self, trainer: "Trainer", metrics: dict[str, float],
                          sample: ValidationSample | None) -> None: ...

    def on_checkpoint(self, trainer: "Trainer", path: Path, is_best: bool) -> None: ...

    def on_train_end(self, trainer: "Trainer", reason: str) -> None: ...

    def on_event(self, trainer: "Trainer", event: Event) -> None: ...


class StopRequest:
    """SIGINT/SIGTERM set a flag so the loop saves a checkpoint and exits between steps;
    a second Ctrl-C interrupts at once."""

    def __init__(self):
        self.requested = False
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # signals: main only
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self.handle)
        return self

    def handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(f"\n{signal.Signals(signum).name}: saving a checkpoint and stopping "
              "(press Ctrl-C again to abort without saving)", file=sys.stderr)

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def distributed_context() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return int(os.environ.get("RANK", "0")), world_size, int(os.environ.get("LOCAL_RANK", "0"))


class Trainer:
    def __init__(self, config: Config, data: PreparedData, run_dir: str | Path,
                 callbacks: list[Callback] | None = None, progress: bool = True):
        if config.text.language == "auto":
            config.text.language = data.language
        elif config.text.language != data.language:
            raise UserError(f"text.language={config.text.language} but the data set was "
                            f"prepared as '{data.language}'; re-run prepare or drop the override")
        self.config = config
        self.data = data
        self.run_dir = Path(run_dir)
        self.callbacks = list(callbacks or [])
        # The auto-fix controller is a config switch, not a callback each caller must remember;
        # unlike callbacks it runs on every rank, so DDP processes change their knobs together.
        self.autofix = None
        if config.autofix.enabled:
            from tacotron.training.autofix import AutoFix

            self.autofix = AutoFix(config.autofix)
        self.progress = progress
        self.rank, self.world_size, local_rank = distributed_context()
        self.is_main = self.rank == 0
        train = config.train

        self.device = resolve_device(train.device)
        if self.device.type == "cuda" and self.world_size > 1:
            self.device = torch.device("cuda", local_rank)
            torch.cuda.set_device(self.device)
        if self.device.type == "cpu":
            torch.set_num_threads(train.num_threads or os.cpu_count() or 1)
        self.amp_dtype = autocast_dtype(train.amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

        random.seed(train.seed)
        np.random.seed(train.seed)
        torch.manual_seed(train.seed)
        self.build()

        # Counters saved in every checkpoint: together they let a resumed run continue exactly.
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.train_seconds = 0.0
        self.best_val_mel_l1 = float("inf")
        self.last_val_metrics: dict[str, float] = {}
        self.val_is_new_best = False
        self.resumed_from: Path | None = None
        self.finished_reason = ""
        self.requested_stop = ""  # set by request_stop(): a callback's reason to end the run
        self.controls = Controls.initial(config)  # phases and auto-fix knobs
        self.saved_step = -1

    # ------------------------------------------------------------------ what is trained
    def build(self) -> None:
        """Model, optimizer, loss and data loaders (`train_loader` over `sampler`, `val_loader`)."""
        config, data, train = self.config, self.data, self.config.train
        self.frontend = get_frontend(config.text.language, config.text.input)
        self.model = Tacotron2(config.model, len(self.frontend.symbols),
                               config.audio.n_mels).to(self.device)
        self.ddp_model = self.model
        if self.world_size > 1:
            self.ddp_model = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=train.learning_rate,
                                          betas=(0.9, 0.999), eps=1e-6,
                                          weight_decay=train.weight_decay)
        self.criterion = Tacotron2Loss(config.loss)

        pad_value = math.log(config.audio.log_floor)
        collate = MelTextCollate(config.model.reduction_factor, pad_value)
        train_set = MelTextDataset(data.train, self.frontend)
        if len(train_set) == 0:
            raise UserError("the training split is empty: nothing to train on")
        self.speaking_rate = train_set.speaking_rate()
        self.sampler = BucketBatchSampler(train_set.frames, train.batch_size, train.seed,
                                          rank=self.rank, world_size=self.world_size)
        # Each iter(loader) draws a seed from its generator; a private one keeps that draw out
        # of the global RNG stream, so a resumed run's dropout matches an uninterrupted one.
        self.train_loader = DataLoader(train_set, batch_sampler=self.sampler, collate_fn=collate,
                                       num_workers=train.num_workers,
                                       pin_memory=self.device.type == "cuda",
                                       persistent_workers=train.num_workers > 0,
                                       generator=torch.Generator().manual_seed(train.seed))
        val_set = MelTextDataset(data.val, self.frontend)
        self.val_loader = DataLoader(val_set, batch_size=train.batch_size, shuffle=False,
                                     collate_fn=collate, num_workers=0,
                                     generator=torch.Generator().manual_seed(train.seed))

    def task_state(self) -> dict[str, Any]:
        """The checkpoint entries of what is trained (weights, optimizer, what synthesis needs)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "symbols": list(self.frontend.symbols),
            "frames_per_symbol": self.speaking_rate,
        }

    def load_task_state(self, state: dict[str, Any], path: Path) -> None:
        saved = config_from_dict(state["config"])
        if saved.model != self.config.model or saved.audio != self.config.audio:
            raise UserError(
                f"{self.run_dir} holds a run with a different model or audio config "
                f"({path.name}); use another --out folder or the same settings")
        if state["symbols"] != list(self.frontend.symbols):
            raise UserError(
                f"{self.run_dir} holds a run that reads text.input={saved.text.input} ({path.name}); "
                f"use another --out folder or the same text.input")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])

    def has_validation(self) -> bool:
        return len(self.data.val) > 0

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": "tacotron-checkpoint-1",
            **self.task_state(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "train_seconds": self.train_seconds,
            "best_val_mel_l1": self.best_val_mel_l1,
            "val_metrics": self.last_val_metrics,
            "config": self.config.to_dict(),
            "controls": dataclasses.asdict(self.controls),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                    "python": random.getstate()},
        }

    def resume(self) -> None:
        """Continue from the newest loadable checkpoint of the run folder, if any."""
        found = ckpt.latest_loadable(self.run_dir)
        if found is None:
            return
        path, state = found
        self.load_task_state(state, path)
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch = state["step"], state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.train_seconds = state["train_seconds"]
        self.best_val_mel_l1 = state["best_val_mel_l1"]
        self.last_val_metrics = state.get("val_metrics", {})
        if "controls" in state:
            self.controls = Controls(**state["controls"])
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        self.resumed_from = path

    def save(self) -> Path | None:
        if not self.is_main:
            return None
        path = ckpt.save_checkpoint(self.run_dir, self.state_dict(), self.config.to_yaml(),
                                    self.config.train.keep_last_checkpoints)
        self.saved_step = self.step
        is_best = self.val_is_new_best
        if is_best:
            ckpt.save_best(self.run_dir, path)
            self.val_is_new_best = False  # a later save without a new validation is not "best"
        for callback in self.callbacks:
            callback.on_checkpoint(self, path, is_best)
        self.emit("checkpoint", path=str(path), is_best=is_best)
        return path

    def emit(self, kind: str, **fields: Any) -> Event:
        """Tell the run's watchers: append to events.jsonl and hand to every callback (rank 0)."""
        event = Event(kind, self.step, fields)
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            append_event(self.run_dir, event)
            for callback in self.callbacks:
                callback.on_event(self, event)
        return event

    def request_stop(self, reason: str) -> None:
        """End the run after this step (saving first); `reason` is one of STOP_REASONS."""
        if reason not in self.STOP_REASONS:
            raise ValueError(f"unknown stop reason {reason!r}")
        self.requested_stop = reason

    # ------------------------------------------------------------------ steps
    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def forward_losses(self, batch: Batch, schedule: StepSchedule, model=None):
        model = model or self.ddp_model
        with self.autocast():
            output = model(batch.text, batch.text_lengths, batch.mels, batch.mel_lengths,
                           teacher_forcing_ratio=schedule.teacher_forcing)
        targets = Targets(batch.mels, batch.mel_lengths, batch.text_lengths,
                          self.config.model.reduction_factor, batch.text)
        weights = LossWeights(schedule.guided_weight, schedule.guided_sigma,
                              schedule.gate_pos_weight)
        return output, targets, self.criterion(output, targets, weights)

    def train_step(self, micro_batches: list[Batch]) -> dict[str, float]:
        """One optimizer step over `grad_accumulation_steps` micro-batches, with this step's
        schedule (phase, auto-fix knobs, guided attention, teacher forcing)."""
        train = self.config.train
        schedule = step_schedule(self.step, self.controls, self.config)
        lr = learning_rate_at(self.step, train) * schedule.lr_scale
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        totals: dict[str, float] = {}
        for index, batch in enumerate(micro_batches):
            sync = index == len(micro_batches) - 1 or self.world_size == 1
            context = contextlib.nullcontext() if sync else self.ddp_model.no_sync()
            with context:
                _, _, losses = self.forward_losses(batch.to(self.device), schedule)
                self.scaler.scale(losses["total"] / len(micro_batches)).backward()
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + float(value.detach()) / len(micro_batches)
        self.scaler.unscale_(self.optimizer)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                                         train.grad_clip_norm))
        exploding = self.config.autofix.exploding_grad_norm
        if not (math.isfinite(totals["total"]) and math.isfinite(grad_norm)):
            totals["skipped_nonfinite"] = 1.0  # a NaN/Inf step must not poison the weights
        elif exploding > 0 and grad_norm > exploding:
            totals["skipped_exploding"] = 1.0  # clipping would still apply a garbage direction
        else:
            self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return {**totals, "lr": lr, "grad_norm": grad_norm, **dataclasses.asdict(schedule),
                "phase": float(PHASE_INDEX[self.controls.phase])}

    def restore_last_good(self) -> Path | None:
        """Load weights and optimizer from the newest checkpoint before this step whose saved
        validation metrics are finite (the counters go on: the data stream continues)."""
        for step, path in reversed(ckpt.step_checkpoints(self.run_dir)):
            if step >= self.step:
                continue
            try:
                state = ckpt.load_checkpoint(path)
            except UserError:
                continue
            values = [*state.get("val_metrics", {}).values()]
            if all(math.isfinite(v) for v in values if isinstance(v, float)):
                self.load_task_state(state, path)
                return path
        return None

    @torch.no_grad()
    def validate(self) -> tuple[dict[str, float], ValidationSample | None]:
        """Teacher-forced metrics over the whole validation split, plus one free-running sample."""
        self.model.eval()
        schedule = dataclasses.replace(step_schedule(self.step, self.controls, self.config),
                                       teacher_forcing=1.0)
        sums = {"loss": 0.0, "mel_l1": 0.0, "gate_accuracy": 0.0, "stop_error": 0.0,
                "gate_missed_rate": 0.0, "gate_early_rate": 0.0}
        frames = utterances = 0
        scores = []
        first = None
        for batch in self.val_loader:
            batch = batch.to(self.device)
            output, targets, losses = self.forward_losses(batch, schedule, model=self.model)
            frame_mask = lengths_to_mask(batch.mel_lengths, batch.mels.size(2))
            _, postnet_l1 = masked_mel_losses(output.mel_postnet.float(), batch.mels, frame_mask)
            batch_frames = int(batch.mel_lengths.sum())
            sums["loss"] += float(losses["total"]) * batch_frames
            sums["mel_l1"] += float(postnet_l1) * batch_frames
            frames += batch_frames
            scores += score_batch(output.alignments.float(), targets.step_lengths,
                                  batch.text_lengths)
            gate = gate_scores(output.gate_logits, targets.step_lengths,
                               self.config.inference.gate_threshold)
            sums["gate_accuracy"] += float(gate.accuracy.sum())
            sums["stop_error"] += float(gate.stop_error.sum())
            sums["gate_missed_rate"] += float(gate.missed.sum())
            sums["gate_early_rate"] += float(gate.early.sum())
            utterances += len(gate.accuracy)
            if first is None:
                first = (batch, output, targets)
        metrics = {key: sums[key] / max(frames, 1) for key in ("loss", "mel_l1")}
        metrics.update({key: sums[key] / max(utterances, 1) for key in sums
                        if key not in ("loss", "mel_l1")})
        metrics.update(mean_scores(scores))
        sample = self.free_running_sample(*first) if first and self.is_main else None
        self.model.train()
        return metrics, sample

    def free_running_sample(self, batch: Batch, output, targets) -> ValidationSample:
        steps = int(targets.step_lengths[0])
        n = int(batch.text_lengths[0])
        text = batch.text[:1, :n]
        inferred = self.model.infer(text, batch.text_lengths[:1],
                                    max_frames=torch.tensor([steps * 3 * self.model.reduction_factor],
                                                            device=self.device),
                                    gate_threshold=self.config.inference.gate_threshold)
        frames = int(inferred.mel_lengths[0])
        return ValidationSample(
            text=self.data.val[0].normalized if self.data.val else "",
            teacher_forced=output.alignments[0, :steps, :n].float().cpu().numpy(),
            free_running=inferred.alignments[0, :, :n].float().cpu().numpy(),
            mel=inferred.mel_postnet[0, :, :frames].float().cpu().numpy(),
        )

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict[str, float]:
        """Train until max_steps or the time budget; returns the last validation metrics.
        An exception is told as a `crash` event (with the end of its traceback), then raised."""
        try:
            return self.train_loop()
        except Exception as error:
            lines = traceback.format_exc().strip().splitlines()
            self.emit("crash", error=f"{type(error).__name__}: {error}",
                      traceback="\n".join(lines[-12:]))
            raise

    def train_loop(self) -> dict[str, float]:
        train = self.config.train
        self.resume()
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.run_dir / "config.yaml", self.config.to_yaml())
            for callback in self.callbacks:
                callback.on_train_start(self)
        self.emit("train_start", device=str(self.device), parameters=count_parameters(self.model),
                  resumed_from=str(self.resumed_from or ""), data=str(self.data.root),
                  train_utterances=len(self.data.train), batch_size=train.batch_size,
                  max_steps=train.max_steps, max_minutes=train.max_minutes)
        budget = train.max_minutes * 60.0
        bar = tqdm(total=train.max_steps, initial=self.step, disable=not (self.progress
                   and self.is_main), dynamic_ncols=True, unit="step")
        last_checkpoint_time = time.monotonic()
        model_params = count_parameters(self.model)
        if self.is_main and self.progress:
            where = f"resumed from {self.resumed_from.name}" if self.resumed_from else "new run"
            print(f"training {model_params / 1e6:.2f}M parameters on {self.device} "
                  f"({where}, step {self.step})", file=sys.stderr)

        self.model.train()
        tick = time.monotonic()
        session_start = (self.step, self.train_seconds)
        with StopRequest() as stop:
            reason = self.stop_reason(stop, budget)
            while not reason:
                self.sampler.epoch = self.epoch
                self.sampler.skip_batches = self.batch_in_epoch
                micro_batches: list[Batch] = []
                for batch in self.train_loader:
                    micro_batches.append(batch)
                    if len(micro_batches) < train.grad_accumulation_steps:
                        continue
                    logs = self.train_step(micro_batches)
                    self.batch_in_epoch += len(micro_batches)
                    micro_batches = []
                    if self.step % train.val_every_steps == 0 and self.has_validation():
                        self.log_validation(*self.validate())
                    now = time.monotonic()
                    self.train_seconds += now - tick  # data loading and validation included
                    tick = now
                    logs["seconds"] = self.train_seconds
                    if self.autofix is not None:
                        self.autofix.on_step_end(self, logs)
                    if self.is_main:
                        for callback in self.callbacks:
                            callback.on_step_end(self, logs)
                        bar.update(1)
                        if self.step % train.log_every_steps == 0:
                            bar.total = self.expected_total_steps(budget, session_start)
                            bar.set_postfix(self.progress_fields(logs, budget), refresh=False)

                    minutes_since_save = (time.monotonic() - last_checkpoint_time) / 60.0
                    if (self.step % train.checkpoint_every_steps == 0 or self.val_is_new_best
                            or minutes_since_save >= train.checkpoint_every_minutes):
                        self.save()
                        last_checkpoint_time = time.monotonic()
                    reason = self.stop_reason(stop, budget)
                    if reason:
                        break
                else:
                    self.epoch += 1
                    self.batch_in_epoch = 0
                    continue
                break
            bar.close()
            if self.has_validation() and (not self.last_val_metrics
                                           or self.step % train.val_every_steps != 0):
                self.log_validation(*self.validate())
            if self.saved_step != self.step or self.val_is_new_best:
                self.save()
        self.finished_reason = reason
        self.emit("train_end", reason=reason, best_val_mel_l1=self.best_val_mel_l1,
                  seconds=round(self.train_seconds, 1), **self.last_val_metrics)
        if self.is_main:
            for callback in self.callbacks:
                callback.on_train_end(self, reason)
        return self.last_val_metrics

    STOP_REASONS = ("", "interrupted", "time_budget", "max_steps", "early_stop", "pruned")

    def stop_reason(self, stop: StopRequest, budget_seconds: float) -> str:
        """Why the loop must stop now (one of STOP_REASONS), or ""."""
        reason = ""
        if stop.requested:
            reason = "interrupted"
        elif self.requested_stop:
            reason = self.requested_stop
        elif budget_seconds > 0 and self.train_seconds >= budget_seconds:
            reason = "time_budget"
        elif self.step >= self.config.train.max_steps:
            reason = "max_steps"
        if self.world_size > 1:
            # All ranks must leave at the same step, or DDP's gradient all-reduce would hang:
            # rank 0's clock and signals decide for everyone.
            code = torch.tensor([self.STOP_REASONS.index(reason)], device=self.device)
            dist.broadcast(code, src=0)
            reason = self.STOP_REASONS[int(code)]
        return reason

    def log_validation(self, metrics: dict[str, float], sample: ValidationSample | None) -> None:
        """Track the best mel L1, move between training phases, append to metrics.jsonl and
        notify callbacks (rank 0). Every rank runs this with the same metrics (validation sees
        the whole split on each rank), so phases stay in step under DDP."""
        self.last_val_metrics = metrics
        self.val_is_new_best = metrics["mel_l1"] < self.best_val_mel_l1
        self.best_val_mel_l1 = min(self.best_val_mel_l1, metrics["mel_l1"])
        controls = self.controls
        controls.mel_l1_history.append(metrics["mel_l1"])
        change = (next_phase(controls.phase, self.step, metrics, controls.mel_l1_history,
                             self.config.schedule) if self.config.schedule.phases else None)
        if change is not None:
            previous = controls.phase
            controls.phase, controls.phase_start = change.to, self.step
            self.emit("phase", **{"from": previous, "to": change.to, "reason": change.reason})
        if self.autofix is not None:
            self.autofix.on_validation_end(self, metrics, sample)
        metrics = {**metrics, "phase": float(PHASE_INDEX[controls.phase])}
        if not self.is_main:
            return
        record = {"step": self.step, "seconds": round(self.train_seconds, 2), **metrics}
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        for callback in self.callbacks:
            callback.on_validation_end(self, metrics, sample)
        self.emit("validation", **metrics)

    def expected_total_steps(self, budget_seconds: float, session_start: tuple[int, float]) -> int:
        """The step the run will end at: max_steps, or sooner when the time budget runs out
        first at this session's pace (steps done / seconds spent so far)."""
        max_steps = self.config.train.max_steps
        steps_done = self.step - session_start[0]
        seconds = self.train_seconds - session_start[1]
        if budget_seconds <= 0 or steps_done == 0 or seconds <= 0:
            return max_steps
        left = max(0.0, budget_seconds - self.train_seconds)
        return min(max_steps, self.step + int(left * steps_done / seconds))

    def progress_fields(self, logs: dict[str, float], budget: float) -> dict[str, str]:
        fields = {"loss": f"{logs['total']:.3f}"}
        if self.last_val_metrics:
            fields["diag"] = f"{self.last_val_metrics['diagonality']:.2f}"
        if budget > 0:
            fields["left"] = f"{max(0.0, budget - self.train_seconds) / 60:.1f}min"
        return fields
