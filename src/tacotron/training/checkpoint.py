"""Writing checkpoints: atomic (files.atomic_write), keep-last-K, best-by-validation. Where they
live and how they are read: runs/checkpoint.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tacotron.files import atomic_write, atomic_write_text
from tacotron.runs.checkpoint import checkpoint_dir, step_checkpoint_path, step_checkpoints


def save_checkpoint(run_dir: Path, state: dict[str, Any], config_yaml: str, keep_last: int) -> Path:
    path = step_checkpoint_path(run_dir, state["step"])
    atomic_write(path, lambda handle: torch.save(state, handle))
    atomic_write_text(path.with_suffix(".yaml"), config_yaml)
    for _, old in step_checkpoints(run_dir)[:-keep_last] if keep_last > 0 else []:
        old.unlink(missing_ok=True)
        old.with_suffix(".yaml").unlink(missing_ok=True)
    return path


def save_best(run_dir: Path, source: Path) -> Path:
    best = checkpoint_dir(run_dir) / "best.pt"
    atomic_write(best, lambda handle: handle.write(source.read_bytes()))
    atomic_write_text(best.with_suffix(".yaml"), source.with_suffix(".yaml").read_text("utf-8"))
    return best
