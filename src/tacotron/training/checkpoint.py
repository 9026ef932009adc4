"""Writing checkpoints: atomic (files.atomic_write), keep-last-K, best-by-validation. Where they
live and how they are read: runs/checkpoint.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tacotron.files import atomic_write, atomic_write_text
from tacotron.runs.checkpoint import checkpoint_dir, step_checkpoint_path, step_checkpoints
from tacotron.runs.voice import VOICE_ENTRY, make_voice


def save_checkpoint(run_dir: Path, state: dict[str, Any], config_yaml: str, keep_last: int) -> Path:
    path = step_checkpoint_path(run_dir, state["step"])
    atomic_write(path, lambda handle: torch.save(state, handle))
    atomic_write_text(path.with_suffix(".yaml"), config_yaml)
    for _, old in step_checkpoints(run_dir)[:-keep_last] if keep_last > 0 else []:
        old.unlink(missing_ok=True)
        old.with_suffix(".yaml").unlink(missing_ok=True)
    return path


def save_untrained_voice(run_dir: Path, config, step: int = 0, seed: int = 0) -> Path:
    """An untrained Tacotron 2 for `config` saved as `tacotron train` saves a run, its gate shut
    (bias -10: it never fires), so every segment it speaks is as long as
    inference.max_frames_per_symbol allows: a voice of known length and cost, without training,
    for the serving tests and benchmark. Returns the checkpoint's path."""
    from tacotron.model.tacotron2 import Tacotron2  # the model only here: writing checkpoints needs none
    from tacotron.text import get_frontend

    frontend = get_frontend(config.text.language, config.text.input)
    torch.manual_seed(seed)
    model = Tacotron2(config.model, len(frontend.symbols), config.audio.n_mels)
    with torch.no_grad():
        model.decoder.gate_projection.weight.zero_()
        model.decoder.gate_projection.bias.fill_(-10.0)
    state = {"model": model.state_dict(), "config": config.to_dict(),
             "symbols": list(frontend.symbols), "step": step}
    state[VOICE_ENTRY] = make_voice(state["config"], state)
    return save_checkpoint(run_dir, state, config.to_yaml(), keep_last=1)


def save_best(run_dir: Path, source: Path) -> Path:
    best = checkpoint_dir(run_dir) / "best.pt"
    atomic_write(best, lambda handle: handle.write(source.read_bytes()))
    atomic_write_text(best.with_suffix(".yaml"), source.with_suffix(".yaml").read_text("utf-8"))
    return best
