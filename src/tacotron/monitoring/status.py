"""`tacotron status RUN_DIR`: where a run stands, from its files only (events.jsonl,
progress.json, metrics.jsonl, checkpoints/), so it works while the run trains, after it ended,
and on a copy of the folder."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tacotron.errors import UserError
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.events import EVENTS_FILE, Event, read_events
from tacotron.monitoring.progress import format_duration, read_progress

SHOWN_METRICS = ("mel_l1", "loss", "diagonality", "focus_rate", "monotonicity", "coverage",
                 "gate_accuracy", "stop_error")
# Intelligibility figures of the evaluation callback (eval.every_validations), on some validations only.
SHOWN_INTELLIGIBILITY = ("wer", "cer", "mcd_db", "duration_ratio")
# Its predicted MOS (1-5) of the voice and of the source recordings, when DistillMOS is installed.
SHOWN_NATURALNESS = ("mos", "source_mos")
SHOWN_LOSSES = ("total", "postnet_l1", "gate", "guided_attention", "lr", "grad_norm")


def read_status(run_dir: str | Path, last_events: int = 8) -> dict[str, Any]:
    """Everything `tacotron status` shows, as plain data."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder not found: {run_dir}")
    events = read_events(run_dir)
    progress = read_progress(run_dir)
    if not events and progress is None and not ckpt.step_checkpoints(run_dir):
        raise UserError(f"{run_dir} is not a training run (no {EVENTS_FILE}, progress.json or "
                        "checkpoints/)")
    val = last_validation(run_dir)
    phases = [e for e in events if e.kind == "phase"]
    end = next((e for e in reversed(events) if e.kind in ("train_end", "crash", "train_start")),
               None)
    if end is None:
        state = f"unknown (no {EVENTS_FILE})"
    elif end.kind == "train_start":
        state = "running"  # or killed without a word (kill -9): see the last activity
    elif end.kind == "crash":
        state = f"crashed: {end.fields.get('error', '?')}"
    else:
        state = f"finished: {end.fields.get('reason', '?')}"
    checkpoints = ckpt.step_checkpoints(run_dir)
    newest = checkpoints[-1][1] if checkpoints else None
    best = ckpt.checkpoint_dir(run_dir) / "best.pt"
    steps = [e.step for e in events] + [progress["step"] if progress else 0]
    if checkpoints:
        steps.append(checkpoints[-1][0])
    activity = [e.time for e in events] + [progress["time"] if progress else 0.0]
    activity += [path.stat().st_mtime for path in (run_dir / "metrics.jsonl", newest)
                 if path is not None and path.is_file()]
    return {
        "run_dir": str(run_dir),
        "state": state,
        "step": max(steps),
        "last_activity": max(activity) or None,
        "progress": progress,
        "phase": phases[-1].fields if phases else None,
        "phase_step": phases[-1].step if phases else None,
        "validation": val,
        "intelligibility": next((record for record in reversed(all_validations(run_dir))
                                 if "wer" in record), None),
        "best_val_mel_l1": min((r["mel_l1"] for r in all_validations(run_dir)
                                if "mel_l1" in r), default=None),
        "checkpoint": {"path": str(newest), "time": newest.stat().st_mtime} if newest else None,
        "best_checkpoint": {"path": str(best), "time": best.stat().st_mtime}
        if best.is_file() else None,
        "events": [e.to_dict() for e in events if e.kind != "validation"][-last_events:],
    }


def all_validations(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:  # the line being written right now
            continue
    return records


def last_validation(run_dir: Path) -> dict[str, Any] | None:
    records = all_validations(run_dir)
    return records[-1] if records else None


def _ago(timestamp: float | None, now: float) -> str:
    return "never" if not timestamp else f"{format_duration(now - timestamp)} ago"


def _numbers(values: dict[str, Any], keys: tuple[str, ...]) -> str:
    return "  ".join(f"{key} {values[key]:.4g}" for key in keys
                     if isinstance(values.get(key), (int, float)))


def format_status(status: dict[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    progress = status["progress"] or {}
    lines = [f"run:        {status['run_dir']}",
             f"state:      {status['state']} (last activity {_ago(status['last_activity'], now)})"]
    step = f"step:       {status['step']}"
    if progress.get("max_steps"):
        step += f" / {progress['max_steps']}"
    if progress.get("train_seconds") is not None:
        step += f"   trained {format_duration(progress['train_seconds'])}"
    if progress.get("steps_per_second"):
        step += f", {progress['steps_per_second']:.2f} steps/s"
    if progress.get("eta_seconds") is not None and status["state"] == "running":
        step += f", ETA {format_duration(progress['eta_seconds'])}"
        if progress.get("end_step"):
            step += f" (ends near step {progress['end_step']})"
    lines.append(step)
    if status["phase"]:
        phase = status["phase"]
        lines.append(f"phase:      {phase.get('to', '?')} (since step {status['phase_step']}"
                     + (f": {phase['reason']}" if phase.get("reason") else "") + ")")
    if progress.get("logs"):
        lines.append(f"train:      {_numbers(progress['logs'], SHOWN_LOSSES)} "
                     f"(step {progress['step']})")
    val = status["validation"]
    if val:
        lines.append(f"validation: {_numbers(val, SHOWN_METRICS)} (step {val['step']})")
    heard = status.get("intelligibility")
    if heard:
        lines.append(f"intelligibility: {_numbers(heard, SHOWN_INTELLIGIBILITY)} (step {heard['step']})")
        if any(key in heard for key in SHOWN_NATURALNESS):
            lines.append(f"naturalness: {_numbers(heard, SHOWN_NATURALNESS)} (predicted MOS 1-5, "
                         f"step {heard['step']})")
    if status["best_val_mel_l1"] is not None:
        lines.append(f"best:       val mel_l1 {status['best_val_mel_l1']:.4g}")
    checkpoint = status["checkpoint"]
    if checkpoint:
        lines.append(f"checkpoint: {Path(checkpoint['path']).name}, saved "
                     f"{_ago(checkpoint['time'], now)}"
                     + (f"; best.pt saved {_ago(status['best_checkpoint']['time'], now)}"
                        if status["best_checkpoint"] else ""))
    else:
        lines.append("checkpoint: none yet")
    if status["events"]:
        lines.append("events:")
        for data in status["events"]:
            event = Event.from_dict(data)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.time))
            lines.append(f"  {stamp}  {event.summary()}")
    return "\n".join(lines)
