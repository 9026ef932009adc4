"""How features plug into a run, interface only: a `Callback` gets the run's hooks with a `RunView`
of the run (never the loop itself), and through it may tell an event, ask for a checkpoint or ask
the run to stop. The run loop (training/loop.py) implements the view; this module knows no loop,
so a callback depends on what it sees, not on how the loop is built."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from tacotron.config import Config
from tacotron.data.prepare import PreparedData
from tacotron.runs.events import Event


@dataclass
class ValidationSample:
    """One Tacotron validation sentence, teacher-forced and free-running, for pictures and audio."""

    text: str
    teacher_forced: np.ndarray  # [steps, N]
    free_running: np.ndarray  # [steps, N]
    mel: np.ndarray  # free-running postnet mel [n_mels, frames]


@dataclass
class VocoderSample:
    """The first vocoder validation utterance: vocoded from its input mel, and the recording."""

    vocoded: np.ndarray
    recording: np.ndarray


class RunView(Protocol):
    """What a callback sees of a run: counters, config, metrics, the run folder, all read-only
    (values are copies), plus `emit` (tell an event), `request_stop` (end after this step) and
    `request_checkpoint` (save after this step; the path comes to on_checkpoint).

    `model` is the live model, there for evaluating it (under torch.no_grad, in eval mode, then
    back to train mode); changing its weights is changing the run."""

    @property
    def config(self) -> Config: ...

    @property
    def step(self) -> int: ...

    @property
    def epoch(self) -> int: ...

    @property
    def train_seconds(self) -> float: ...

    @property
    def run_dir(self) -> Path: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def data(self) -> PreparedData: ...

    @property
    def best_val_mel_l1(self) -> float: ...

    @property
    def last_val_metrics(self) -> dict[str, float]: ...

    @property
    def finished_reason(self) -> str: ...

    @property
    def resumed_from(self) -> Path | None: ...

    @property
    def model(self) -> torch.nn.Module: ...

    @property
    def controls(self) -> Any:
        """The Tacotron task's phase and auto-fix knobs (a copy), None for other tasks."""

    @property
    def speaking_rate(self) -> float | None:
        """The Tacotron task's training-data frames per symbol (what synthesis checks durations
        against), None for other tasks."""

    @property
    def speakers(self) -> list[str]:
        """The Tacotron task's speaker table names in order ([] for one speaker or other tasks)."""

    def emit(self, kind: str, **fields: Any) -> Event: ...

    def request_stop(self, reason: str) -> None: ...

    def request_checkpoint(self) -> None: ...


class Callback:
    """Hooks into the loop; every method is optional. Called on rank 0 only, with the run's
    `RunView` as `trainer`.

    A validation is handed over in two rounds: first every callback's `validation_figures` (the
    figures it adds, e.g. the intelligibility evaluation's WER), then, with all of them merged into
    the metrics, every callback's `on_validation_end`. So each callback sees the whole record,
    whatever its place in the list, and gets its own copy of it."""

    def on_train_start(self, trainer: RunView) -> None: ...

    def on_step_end(self, trainer: RunView, logs: dict[str, float]) -> None: ...

    def validation_figures(self, trainer: RunView, metrics: dict[str, float],
                           sample: ValidationSample | VocoderSample | None) -> dict[str, float]:
        """Figures this callback adds to the validation's metrics: they join the record every
        callback's on_validation_end gets, metrics.jsonl and the validation event."""
        return {}

    def on_validation_end(self, trainer: RunView, metrics: dict[str, float],
                          sample: ValidationSample | VocoderSample | None) -> None: ...

    def on_checkpoint(self, trainer: RunView, path: Path, is_best: bool) -> None: ...

    def on_train_end(self, trainer: RunView, reason: str) -> None: ...

    def on_event(self, trainer: RunView, event: Event) -> None: ...
