"""Writing checkpoints: atomic (files.atomic_write), keep-last-K, best-by-validation. Where they
live and how they are read: runs/checkpoint.py.

A save is all or nothing: the step checkpoint, its .yaml and (when it is the best) best.pt are
written before any older checkpoint is deleted, and a save that fails part-way (a full disk:
files.DiskFull) removes what it wrote, so the newest checkpoint on disk is still the previous
one, whose counters (best validation included) agree with best.pt; the same command resumes from
it once there is space."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tacotron.files import atomic_copy, atomic_write, atomic_write_text, remove_stale_temp_files
from tacotron.runs.checkpoint import checkpoint_dir, step_checkpoint_path, step_checkpoints


def save_checkpoint(run_dir: Path, state: dict[str, Any], config_yaml: str, keep_last: int,
                    is_best: bool = False) -> Path:
    """Write the step checkpoint of `state` (and make it best.pt when `is_best`), then delete the
    step checkpoints beyond the newest `keep_last` (0 keeps all)."""
    path = step_checkpoint_path(run_dir, state["step"])
    # A write killed before (kill -9) left its temp file, as large as a checkpoint.
    remove_stale_temp_files(path.parent)
    existed = path.is_file()
    try:
        atomic_write_text(path.with_suffix(".yaml"), config_yaml)
        atomic_write(path, lambda handle: torch.save(state, handle))
        if is_best:
            save_best(run_dir, path)
    except BaseException:
        if not existed:  # never a checkpoint that was there before this save
            path.unlink(missing_ok=True)
            path.with_suffix(".yaml").unlink(missing_ok=True)
        raise
    for _, old in step_checkpoints(run_dir)[:-keep_last] if keep_last > 0 else []:
        old.unlink(missing_ok=True)
        old.with_suffix(".yaml").unlink(missing_ok=True)
    return path


def save_best(run_dir: Path, source: Path) -> Path:
    """best.pt (and best.yaml) become `source`'s: a hard link where the file system has them, so
    the best checkpoint takes no second copy's space while its step checkpoint is kept."""
    best = checkpoint_dir(run_dir) / "best.pt"
    atomic_copy(source.with_suffix(".yaml"), best.with_suffix(".yaml"))
    atomic_copy(source, best)
    return best
