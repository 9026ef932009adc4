"""How features plug into a run: a `Callback` gets the run's hooks with a read-only `RunView` of
the run (never the loop itself), and through it may tell an event or ask the run to stop."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tacotron.runs.events import Event

if TYPE_CHECKING:  # typing only: the loop imports this module
    from tacotron.training.loop import RunLoop


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


class RunView:
    """What a callback sees of a run: counters, config, metrics, the run folder, all read-only
    (values are copies), plus `emit` (tell an event) and `request_stop` (end after this step).

    `model` is the live model, there for evaluating it (under torch.no_grad, in eval mode, then
    back to train mode); changing its weights is changing the run."""

    def __init__(self, loop: "RunLoop"):
        self._loop = loop
        self._config = copy.deepcopy(loop.config)  # fixed for the run: copied once

    @property
    def config(self):
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
        """The Tacotron task's phase and auto-fix knobs (a copy), None for other tasks."""
        controls = getattr(self._loop.task, "controls", None)
        return copy.deepcopy(controls)

    @property
    def speaking_rate(self):
        """The Tacotron task's training-data frames per symbol (what synthesis checks durations
        against), None for other tasks."""
        return getattr(self._loop.task, "speaking_rate", None)

    @property
    def speakers(self) -> list[str]:
        """The Tacotron task's speaker table names in order ([] for one speaker or other tasks)."""
        return list(getattr(self._loop.task, "speakers", []))

    def emit(self, kind: str, **fields: Any) -> Event:
        return self._loop.emit(kind, **fields)

    def request_stop(self, reason: str) -> None:
        self._loop.request_stop(reason)

    def request_checkpoint(self) -> None:
        """Save after this step; the path comes to on_checkpoint."""
        self._loop.request_checkpoint()


class Callback:
    """Hooks into the loop; every method is optional. Called on rank 0 only, with the run's
    `RunView` as `trainer`."""

    def on_train_start(self, trainer: RunView) -> None: ...

    def on_step_end(self, trainer: RunView, logs: dict[str, float]) -> None: ...

    def on_validation_end(self, trainer: RunView, metrics: dict[str, float],
                          sample: ValidationSample | VocoderSample | None) -> None: ...

    def on_checkpoint(self, trainer: RunView, path: Path, is_best: bool) -> None: ...

    def on_train_end(self, trainer: RunView, reason: str) -> None: ...

    def on_event(self, trainer: RunView, event: Event) -> None: ...
