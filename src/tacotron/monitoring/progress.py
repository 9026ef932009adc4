"""Speed and time left of a run, and RUN/progress.json: the last training step's losses, speed and
ETA, rewritten atomically every log step so `tacotron status` can read it while training runs."""

from __future__ import annotations

import collections
import json
import math
import time
from pathlib import Path
from typing import Any

from tacotron.files import atomic_write_text
from tacotron.training.trainer import Callback, Trainer

PROGRESS_FILE = "progress.json"
RATE_WINDOW = 50  # points (one per step) the speed is measured over


class StepRate:
    """Training speed over the last RATE_WINDOW steps of this session."""

    def __init__(self, window: int = RATE_WINDOW):
        self.points: collections.deque[tuple[int, float]] = collections.deque(maxlen=window)

    def add(self, step: int, train_seconds: float) -> None:
        self.points.append((step, train_seconds))

    def steps_per_second(self) -> float | None:
        """(step_last - step_first) / (seconds_last - seconds_first) over the window, where seconds
        is the trainer's training clock (validation and data loading included); None if unknown."""
        if len(self.points) < 2:
            return None
        (step0, seconds0), (step1, seconds1) = self.points[0], self.points[-1]
        if seconds1 <= seconds0 or step1 <= step0:
            return None
        return (step1 - step0) / (seconds1 - seconds0)


def eta_seconds(step: int, max_steps: int, train_seconds: float, budget_seconds: float,
                steps_per_second: float | None) -> tuple[float | None, int | None]:
    """(seconds left, step the run ends at): eta = (max_steps - step) / rate, capped at
    budget - train_seconds when there is a time budget; end step = step + eta * rate.
    (None, None) while the rate is unknown."""
    if not steps_per_second or steps_per_second <= 0:
        return None, None
    eta = max(0, max_steps - step) / steps_per_second
    if budget_seconds > 0:
        eta = min(eta, max(0.0, budget_seconds - train_seconds))
    return eta, min(max_steps, step + int(eta * steps_per_second))


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    hours, minutes = divmod(int(seconds // 60), 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{seconds / 86400:.1f} days"


class ProgressFile(Callback):
    def __init__(self):
        self.rate = StepRate()
        self.last_logs: dict[str, float] = {}

    def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        self.rate.add(trainer.step, logs.get("seconds", 0.0))
        self.last_logs = logs
        if trainer.step % trainer.config.train.log_every_steps == 0:
            self.write(trainer, logs)

    def on_train_end(self, trainer: Trainer, reason: str) -> None:
        self.write(trainer, {**self.last_logs, "seconds": trainer.train_seconds}, finished=reason)

    def write(self, trainer: Trainer, logs: dict[str, float], finished: str = "") -> None:
        train = trainer.config.train
        rate = self.rate.steps_per_second()
        eta, end_step = eta_seconds(trainer.step, train.max_steps, logs.get("seconds", 0.0),
                                    train.max_minutes * 60.0, rate)
        record = {"step": trainer.step, "time": round(time.time(), 3),
                  "train_seconds": round(logs.get("seconds", trainer.train_seconds), 2),
                  "max_steps": train.max_steps, "steps_per_second": round(rate, 4) if rate else None,
                  "eta_seconds": None if finished else eta, "end_step": end_step,
                  "finished": finished, "logs": logs}
        atomic_write_text(trainer.run_dir / PROGRESS_FILE, json.dumps(record))


def read_progress(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / PROGRESS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
