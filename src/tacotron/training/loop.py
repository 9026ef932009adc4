"""The one run loop. Read `RunLoop.train_loop` top to bottom: resume, then per step the task's
optimizer step; every N steps log, validate, checkpoint; stop on the step or time budget, on
Ctrl-C (which saves first) or when a callback asks. What happens is told as `Event`s
(runs/events.py) and handed to `Callback`s (training/callbacks.py) with a read-only view of the
run, `RunLoopView` (the loop's implementation of the callbacks' `RunView`).

What is trained is a task (composition, not inheritance): an object with

    build(loop)                 model(s), optimizer(s), `model`, `sampler`, `train_loader`
    train_step(micro_batches)   one optimizer step; returns the step's logs ("total", "grad_norm")
    validate()                  (metrics with "mel_l1", sample for the callbacks or None)
    has_validation()
    state() / load_state(state, path)   its checkpoint entries (weights, optimizers, ...)
    after_step(logs)            what the task decides after a step (the Tacotron controller)
    after_validation(metrics)   ... after a validation; returns extra metrics to log
    progress_fields(logs)       the progress bar's few numbers

`TacotronTask` (training/trainer.py) and `HifiGanTask` (training/vocoder_training.py) are the two.
CPU, one CUDA GPU (with bf16/fp16 AMP) and several GPUs under `torchrun` (DDP) run the same code.

Under DDP each process trains on its own share of the batches (train.batch_size is per process)
and DDP averages the gradients, so the weights stay equal. Everything else that decides what
happens next is made on rank 0 and shared (`agreed`, `stop_reason`): the checkpoint to resume
from, the validation metrics (rank 0 validates), the task's controller decisions and when to
stop. Rank 0 alone writes checkpoints, metrics and events and calls the callbacks.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from tacotron.config import Config
from tacotron.data.prepare import PreparedData
from tacotron.errors import UserError
from tacotron.files import DiskFull, append_line, atomic_write_text
from tacotron.model.tacotron2 import count_parameters
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.events import Event, append_event
from tacotron.training.callbacks import Callback
from tacotron.training.checkpoint import save_checkpoint
from tacotron.training.eta import eta_seconds

METRICS_FILE = "metrics.jsonl"
STOP_REASONS = ("", "interrupted", "time_budget", "max_steps", "early_stop", "pruned")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"train.device={name} but CUDA is not available on this machine")
    return device


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """Mixed precision only on CUDA. amp=off: none; fp16: float16; bf16: bfloat16; auto: bf16
    where the GPU supports it (no loss scaling needed), else fp16 (with the gradient scaler)."""
    if device.type != "cuda" or amp == "off":
        return None
    if amp == "fp16" or (amp == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


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


class RunLoopView:
    """The `RunView` (training/callbacks.py) a `RunLoop` gives its callbacks: the loop's counters
    read live, values copied so a callback cannot change the run by changing them, and the three
    requests a callback may make. The config is copied once: it is fixed for the run."""

    def __init__(self, loop: "RunLoop"):
        self._loop = loop
        self._config = copy.deepcopy(loop.config)

    @property
    def config(self) -> Config:
        return self._config

    step = property(lambda self: self._loop.step)
    epoch = property(lambda self: self._loop.epoch)
    train_seconds = property(lambda self: self._loop.train_seconds)
    run_dir = property(lambda self: self._loop.run_dir)
    device = property(lambda self: self._loop.device)
    data = property(lambda self: self._loop.data)
    best_val_mel_l1 = property(lambda self: self._loop.best_val_mel_l1)
    finished_reason = property(lambda self: self._loop.finished_reason)
    resumed_from = property(lambda self: self._loop.resumed_from)
    model = property(lambda self: self._loop.task.model)

    @property
    def last_val_metrics(self) -> dict[str, float]:
        return dict(self._loop.last_val_metrics)

    @property
    def controls(self):
        return copy.deepcopy(getattr(self._loop.task, "controls", None))

    @property
    def speaking_rate(self) -> float | None:
        return getattr(self._loop.task, "speaking_rate", None)

    @property
    def speakers(self) -> list[str]:
        return list(getattr(self._loop.task, "speakers", []))

    def emit(self, kind: str, **fields: Any) -> Event:
        return self._loop.emit(kind, **fields)

    def request_stop(self, reason: str) -> None:
        self._loop.request_stop(reason)

    def request_checkpoint(self) -> None:
        self._loop.request_checkpoint()


def distributed_context() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return int(os.environ.get("RANK", "0")), world_size, int(os.environ.get("LOCAL_RANK", "0"))


class RunLoop:
    """Resume, steps, validation, checkpoints, time budget, stop and events around a task.
    The caller's config is copied, never changed."""

    STOP_REASONS = STOP_REASONS

    def __init__(self, config: Config, data: PreparedData, run_dir: str | Path, task,
                 callbacks: list[Callback] | None = None, progress: bool = True):
        config = copy.deepcopy(config)
        if config.text.language == "auto":
            config.text.language = data.language
        elif config.text.language != data.language:
            raise UserError(f"text.language={config.text.language} but the data set was "
                            f"prepared as '{data.language}'; re-run prepare or drop the override")
        # The data decides what `auto` stress was (prepare.data_stress), so that the checkpoint's voice
        # is spoken with the marks it learned from.
        config.text.stress = data.stress
        self.config = config
        self.data = data
        self.run_dir = Path(run_dir)
        self.callbacks = list(callbacks or [])
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
        self.checkpoint_requested = False  # set by request_checkpoint(): a callback wants a save now
        self.saved_step = -1
        self.task = task
        self.view = RunLoopView(self)  # what callbacks get (before build: a task may emit events)
        task.build(self)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": "tacotron-checkpoint-1",
            **self.task.state(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "train_seconds": self.train_seconds,
            "best_val_mel_l1": self.best_val_mel_l1,
            "val_metrics": self.last_val_metrics,
            "config": self.config.to_dict(),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                    "python": random.getstate()},
        }

    def agreed(self, value: Any) -> Any:
        """Rank 0's `value` on every rank (a broadcast under DDP; `value` itself otherwise)."""
        if self.world_size == 1:
            return value
        shared = [value]
        dist.broadcast_object_list(shared, src=0)
        return shared[0]

    def read_rank0_checkpoint(self, path: Path) -> dict[str, Any]:
        """Read a checkpoint rank 0 chose (every rank reads the same file)."""
        try:
            return ckpt.load_checkpoint(path)
        except UserError as error:
            raise UserError(f"rank {self.rank} cannot read the checkpoint rank 0 chose ({error}); "
                            "with several machines the run folder (--out) must be on storage "
                            "every machine sees") from None

    def resume(self) -> None:
        """Continue from the newest loadable checkpoint of the run folder, if any (rank 0 picks
        it, so that every rank resumes from the same one)."""
        found = ckpt.latest_loadable(self.run_dir) if self.is_main else None
        path = self.agreed(found[0] if found else None)
        if path is None:
            return
        state = found[1] if self.is_main else self.read_rank0_checkpoint(path)
        # A run whose texts change their stress marks halfway learns two readings of one word: a
        # checkpoint written before text.stress existed was trained on eSpeak's own stress (off).
        trained_stress = state.get("config", {}).get("text", {}).get("stress", "off")
        if trained_stress != self.config.text.stress:
            raise UserError(f"{path} was trained with text.stress={trained_stress}, but this run's data "
                            f"is marked with text.stress={self.config.text.stress}: resume it with "
                            f"text.stress={trained_stress}, or train into a new --out folder")
        self.task.load_state(state, path)
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch = state["step"], state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.train_seconds = state["train_seconds"]
        self.best_val_mel_l1 = state["best_val_mel_l1"]
        self.last_val_metrics = state.get("val_metrics", {})
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        self.resumed_from = path

    def save(self) -> Path | None:
        if not self.is_main:
            return None
        is_best = self.val_is_new_best
        try:
            path = save_checkpoint(self.run_dir, self.state_dict(), self.config.to_yaml(),
                                   self.config.train.keep_last_checkpoints, is_best)
        except DiskFull as error:
            # The run stops here rather than train on unsaved: nothing it did from now on could be
            # kept, and a full disk seldom empties itself. The save removed what it wrote.
            found = ckpt.step_checkpoints(self.run_dir)
            where = f"resumes from {found[-1][1].name}" if found else "starts again from step 0"
            raise DiskFull(f"{error} (the run stopped at step {self.step} and {where})",
                           error.path) from None
        self.saved_step = self.step
        self.checkpoint_requested = False
        if is_best:
            self.val_is_new_best = False  # a later save without a new validation is not "best"
        for callback in self.callbacks:
            callback.on_checkpoint(self.view, path, is_best)
        self.emit("checkpoint", path=str(path), is_best=is_best)
        return path

    def emit(self, kind: str, **fields: Any) -> Event:
        """Tell the run's watchers: append to events.jsonl and hand to every callback (rank 0)."""
        event = Event(kind, self.step, fields)
        if self.is_main:
            append_event(self.run_dir, event)
            for callback in self.callbacks:
                callback.on_event(self.view, event)
        return event

    def request_checkpoint(self) -> None:
        """Save a checkpoint after this step (rank 0 saves; callbacks get it in on_checkpoint)."""
        self.checkpoint_requested = True

    def request_stop(self, reason: str) -> None:
        """End the run after this step (saving first); `reason` is one of STOP_REASONS."""
        if reason not in STOP_REASONS:
            raise ValueError(f"unknown stop reason {reason!r}")
        self.requested_stop = reason

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict[str, float]:
        """Train until max_steps or the time budget; returns the last validation metrics.
        An exception is told as a `crash` event (with the end of its traceback), then raised."""
        try:
            return self.train_loop()
        except Exception as error:
            lines = traceback.format_exc().strip().splitlines()
            try:
                self.emit("crash", error=f"{type(error).__name__}: {error}",
                          traceback="\n".join(lines[-12:]))
            except DiskFull:  # no room for the event either: the error itself still reaches the user
                pass
            raise

    def train_loop(self) -> dict[str, float]:
        train = self.config.train
        self.resume()
        model_params = count_parameters(self.task.model)
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.run_dir / "config.yaml", self.config.to_yaml())
            for callback in self.callbacks:
                callback.on_train_start(self.view)
        self.emit("train_start", device=str(self.device), parameters=model_params,
                  resumed_from=str(self.resumed_from or ""), data=str(self.data.root),
                  train_utterances=len(self.data.train), batch_size=train.batch_size,
                  processes=self.world_size, global_batch_size=self.global_batch_size(),
                  max_steps=train.max_steps, max_minutes=train.max_minutes)
        budget = train.max_minutes * 60.0
        bar = tqdm(total=train.max_steps, initial=self.step, disable=not (self.progress
                   and self.is_main), dynamic_ncols=True, unit="step")
        last_checkpoint_time = time.monotonic()
        if self.is_main and self.progress:
            where = f"resumed from {self.resumed_from.name}" if self.resumed_from else "new run"
            print(f"training {model_params / 1e6:.2f}M parameters on {self.device} "
                  f"({where}, step {self.step})", file=sys.stderr)

        self.task.model.train()
        tick = time.monotonic()
        session_start = (self.step, self.train_seconds)
        task = self.task
        with StopRequest() as stop, bar:  # the bar ends its line on any way out, an error's too
            reason = self.stop_reason(stop, budget)
            while not reason:
                task.sampler.epoch = self.epoch
                task.sampler.skip_batches = self.batch_in_epoch
                micro_batches: list = []
                for batch in task.train_loader:
                    micro_batches.append(batch)
                    if len(micro_batches) < train.grad_accumulation_steps:
                        continue
                    logs = task.train_step(micro_batches)
                    self.step += 1
                    self.batch_in_epoch += len(micro_batches)
                    micro_batches = []
                    if self.step % train.val_every_steps == 0 and task.has_validation():
                        self.run_validation()
                    now = time.monotonic()
                    self.train_seconds += now - tick  # data loading and validation included
                    tick = now
                    logs["seconds"] = self.train_seconds
                    task.after_step(logs)
                    if self.is_main:
                        for callback in self.callbacks:
                            callback.on_step_end(self.view, logs)
                        bar.update(1)
                        if self.step % train.log_every_steps == 0:
                            bar.total = self.expected_total_steps(budget, session_start)
                            bar.set_postfix(self.progress_fields(logs, budget), refresh=False)

                    minutes_since_save = (time.monotonic() - last_checkpoint_time) / 60.0
                    if (self.step % train.checkpoint_every_steps == 0 or self.val_is_new_best
                            or minutes_since_save >= train.checkpoint_every_minutes
                            or self.checkpoint_requested):
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
            if task.has_validation() and (not self.last_val_metrics
                                          or self.step % train.val_every_steps != 0):
                self.run_validation()
            if self.saved_step != self.step or self.val_is_new_best:
                self.save()
        self.finished_reason = reason
        self.emit("train_end", reason=reason, best_val_mel_l1=self.best_val_mel_l1,
                  seconds=round(self.train_seconds, 1), **self.last_val_metrics)
        if self.is_main:
            for callback in self.callbacks:
                callback.on_train_end(self.view, reason)
        return self.last_val_metrics

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
            # rank 0's reason (its clock, its callbacks) holds for every rank, and a signal to
            # any rank stops them all. Summed: [rank 0's reason code, ranks signalled].
            votes = torch.tensor([STOP_REASONS.index(reason) if self.is_main else 0,
                                  int(stop.requested)], device=self.device)
            dist.all_reduce(votes)
            reason = STOP_REASONS[int(votes[0])] or ("interrupted" if int(votes[1]) else "")
        return reason

    def global_batch_size(self) -> int:
        """Utterances behind one optimizer step: batch_size x grad_accumulation_steps x processes
        (train.batch_size is per process; the LR is not scaled with the number of processes)."""
        train = self.config.train
        return train.batch_size * train.grad_accumulation_steps * self.world_size

    def run_validation(self) -> None:
        """Validate and log. Under DDP rank 0 validates and the other ranks take its metrics: the
        prenet's dropout stays on in validation (paper, section 2.3) and draws from each rank's
        own random stream, so each rank would measure (slightly) different figures, and
        decisions taken on them (phases, LR cuts, early stop) could differ between ranks."""
        metrics, sample = self.task.validate() if self.is_main else (None, None)
        self.log_validation(self.agreed(metrics), sample)

    def log_validation(self, metrics: dict[str, float], sample) -> None:
        """Track the best mel L1, let the task decide (phases, controller), append to
        metrics.jsonl and notify callbacks (rank 0). Every rank runs this with rank 0's metrics
        (`run_validation`)."""
        self.last_val_metrics = metrics
        self.val_is_new_best = metrics["mel_l1"] < self.best_val_mel_l1
        self.best_val_mel_l1 = min(self.best_val_mel_l1, metrics["mel_l1"])
        metrics = {**metrics, **self.task.after_validation(metrics)}
        if not self.is_main:
            return
        # Callbacks' figures (the intelligibility evaluation's) are all gathered before any callback
        # is told of the validation, so every callback, metrics.jsonl and the event see one complete
        # record, whatever the callbacks' order. Each gets a copy: none can change what others see.
        # A hook that returns nothing (None) adds nothing.
        figures: dict[str, float] = {}
        for callback in self.callbacks:
            figures.update(callback.validation_figures(self.view, dict(metrics), sample) or {})
        metrics = {**metrics, **figures}
        for callback in self.callbacks:
            callback.on_validation_end(self.view, dict(metrics), sample)
        record = {"step": self.step, "seconds": round(self.train_seconds, 2), **metrics}
        append_line(self.run_dir / METRICS_FILE, json.dumps(record))
        self.emit("validation", **metrics)

    def expected_total_steps(self, budget_seconds: float, session_start: tuple[int, float]) -> int:
        """The step the run will end at (`eta_seconds`) at this session's pace (steps done /
        seconds spent so far); max_steps until the pace is known."""
        max_steps = self.config.train.max_steps
        steps_done = self.step - session_start[0]
        seconds = self.train_seconds - session_start[1]
        rate = steps_done / seconds if steps_done > 0 and seconds > 0 else None
        _, end_step = eta_seconds(self.step, max_steps, self.train_seconds, budget_seconds, rate)
        return max_steps if end_step is None else end_step

    def progress_fields(self, logs: dict[str, float], budget: float) -> dict[str, str]:
        fields = self.task.progress_fields(logs, self.last_val_metrics)
        if budget > 0:
            fields["left"] = f"{max(0.0, budget - self.train_seconds) / 60:.1f}min"
        return fields
