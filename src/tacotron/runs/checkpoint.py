"""Checkpoint files: atomic writes, keep-last-K, best-by-validation, newest-first discovery.

Layout of a run folder:
    runs/NAME/config.yaml                       the resolved config of the run
    runs/NAME/checkpoints/step_0000500.pt       model, optimizer, counters, RNG, config
    runs/NAME/checkpoints/step_0000500.yaml     the config saved beside each checkpoint
    runs/NAME/checkpoints/best.pt               copy of the best checkpoint by validation mel L1
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import torch

from tacotron.errors import UserError
from tacotron.files import atomic_write, atomic_write_text

STEP_PATTERN = re.compile(r"step_(\d+)\.pt$")


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def step_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every step checkpoint of a run, oldest first."""
    found = []
    for path in checkpoint_dir(run_dir).glob("step_*.pt"):
        match = STEP_PATTERN.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def save_checkpoint(run_dir: Path, state: dict[str, Any], config_yaml: str, keep_last: int) -> Path:
    step = state["step"]
    path = checkpoint_dir(run_dir) / f"step_{step:07d}.pt"
    atomic_write(path, lambda handle: torch.save(state, handle))
    atomic_write_text(path.with_suffix(".yaml"), config_yaml)
    for _, old in step_checkpoints(run_dir)[:-keep_last] if keep_last > 0 else []:
        old.unlink(missing_ok=True)
        old.with_suffix(".yaml").unlink(missing_ok=True)
    return path


def save_best(run_dir: Path, source: Path) -> Path:
    best = checkpoint_dir(run_dir) / "best.pt"
    atomic_write(best, lambda handle: handle.write(source.read_bytes()))
    shutil.copyfile(source.with_suffix(".yaml"), best.with_suffix(".yaml"))
    return best


def load_checkpoint(path: Path, map_location="cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # a truncated or foreign file is the user's to fix
        raise UserError(f"{path}: not a readable tacotron checkpoint ({error})") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise UserError(f"{path}: not a tacotron checkpoint (no model/config inside)")
    return state


def latest_loadable(run_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """Newest step checkpoint that loads; older ones are tried if the newest is damaged."""
    for _, path in reversed(step_checkpoints(run_dir)):
        try:
            return path, load_checkpoint(path)
        except UserError:
            continue
    return None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder (its best.pt, else its newest step checkpoint)."""
    path = Path(path)
    if path.is_dir():
        best = checkpoint_dir(path) / "best.pt"
        if best.is_file():
            return best
        found = step_checkpoints(path)
        if not found:
            raise UserError(f"no checkpoint in {path} (expected {checkpoint_dir(path)}/*.pt)")
        return found[-1][1]
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    return path
