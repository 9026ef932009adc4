"""RUN/progress.json: the last training step's losses, speed and
ETA, rewritten atomically every log step so `tacotron status` can read it while training runs."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from tacotron.files import atomic_write_text
from tacotron.training.callbacks import Callback, RunView
from tacotron.training.eta import StepRate, eta_seconds

PROGRESS_FILE = "progress.json"
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

    def on_step_end(self, trainer: RunView, logs: dict[str, float]) -> None:
        self.rate.add(trainer.step, logs.get("seconds", 0.0))
        self.last_logs = logs
        if trainer.step % trainer.config.train.log_every_steps == 0:
            self.write(trainer, logs)

    def on_train_end(self, trainer: RunView, reason: str) -> None:
        self.write(trainer, {**self.last_logs, "seconds": trainer.train_seconds}, finished=reason)

    def write(self, trainer: RunView, logs: dict[str, float], finished: str = "") -> None:
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
