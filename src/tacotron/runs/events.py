"""The run's event stream: everything a person watching the run would want to be told.

The run loop (training/loop.py) emits an `Event` for the start, every validation, every checkpoint, phase changes,
automatic fixes, alerts, the end and a crash. Each event is appended to `RUN/events.jsonl` (one
JSON object a line, so `tacotron status` can read it while training runs) and handed to every
callback's `on_event`, which is how TensorBoard, MLflow and Telegram sinks receive it.

Kinds and their fields:
    warm_start   source, layout, symbols_copied, symbols_total, counts by status, layers (the
                 table of training/warm_start.py: layer, status, shape, detail); a new run only
    train_start  device, parameters, resumed_from, data, train_utterances, batch_size (per
                 process), processes, global_batch_size, max_steps, max_minutes
    validation   the validation metrics of this step
    checkpoint   path, is_best
    phase        from, to, reason (every phase change, whoever causes it)
    autofix      rule, observed, action, before, after (an automatic correction)
    alert        rule, message (something is wrong and nothing was changed)
    pruned       objective, warmup_steps (the tuner stops this trial: worse than the others)
    train_end    reason, best_val_mel_l1, seconds, the last validation metrics
    crash        error, traceback (the last lines)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tacotron.files import append_line

EVENTS_FILE = "events.jsonl"

@dataclass
class Event:
    kind: str
    step: int
    fields: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)  # Unix seconds

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "step": self.step, "time": round(self.time, 3), **self.fields}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Event":
        data = dict(data)
        return cls(kind=data.pop("kind"), step=data.pop("step"), time=data.pop("time", 0.0),
                   fields=data)

    def summary(self) -> str:
        """One human line, e.g. 'step 1200 autofix: raise_guided_weight (30 -> 60)'."""
        details = ", ".join(f"{key}={_short(value)}" for key, value in self.fields.items()
                            if key != "traceback")
        return f"step {self.step} {self.kind}" + (f": {details}" if details else "")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def append_event(run_dir: Path, event: Event) -> None:
    """One line of events.jsonl (files.append_line: whole lines, not atomic)."""
    append_line(Path(run_dir) / EVENTS_FILE, json.dumps(event.to_dict(), default=str,
                                                        ensure_ascii=False))


def read_events(run_dir: Path) -> list[Event]:
    """Every complete event of a run (a half-written last line, while training runs, is skipped)."""
    path = Path(run_dir) / EVENTS_FILE
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(Event.from_dict(json.loads(line)))
        except (json.JSONDecodeError, KeyError):
            continue
    return events
