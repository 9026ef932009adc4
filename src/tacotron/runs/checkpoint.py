"""Checkpoint files of a run folder: where they are, newest-first discovery, reading (writing
them is the training loop's: training/checkpoint.py).

Layout of a run folder:
    runs/NAME/config.yaml                       the resolved config of the run
    runs/NAME/checkpoints/step_0000500.pt       model, optimizer, counters, RNG, config, voice
                                                (the voice manifest: runs/voice.py)
    runs/NAME/checkpoints/step_0000500.yaml     the config saved beside each checkpoint
    runs/NAME/checkpoints/best.pt               copy of the best checkpoint by validation mel L1
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from tacotron.errors import UserError
from tacotron.runs.base_voices import base_voice_file, base_voice_names
from tacotron.runs.voice import VOICE_ENTRY

STEP_PATTERN = re.compile(r"step_(\d+)\.pt$")
VOCODER_TASK = "hifigan"  # the "task" entry of a vocoder training checkpoint


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def step_checkpoint_path(run_dir: Path, step: int) -> Path:
    """Where a run's checkpoint of `step` is written (STEP_PATTERN reads the step back)."""
    return checkpoint_dir(run_dir) / f"step_{step:07d}.pt"


def step_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every step checkpoint of a run, oldest first."""
    found = []
    for path in checkpoint_dir(run_dir).glob("step_*.pt"):
        match = STEP_PATTERN.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def read_torch_file(path: Path, map_location="cpu") -> Any:
    """Whatever torch saved in `path` (this project's checkpoint or another's, e.g. NVIDIA's)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # a truncated or foreign file is the user's to fix
        raise UserError(f"{path}: not a readable tacotron checkpoint ({error})") from None


def load_checkpoint(path: Path, map_location="cpu", state: Any = None) -> dict[str, Any]:
    """This project's checkpoint at `path` (a run's, or a voice file's: weights and voice manifest);
    `state`: its contents when the caller has read them."""
    path = Path(path)
    if state is None:
        state = read_torch_file(path, map_location)
    if not isinstance(state, dict) or "model" not in state or not ("config" in state or VOICE_ENTRY in state):
        raise UserError(f"{path}: not a tacotron checkpoint (no model and voice manifest or config inside)")
    text = state.get("config", {}).get("text")
    if isinstance(text, dict) and "input" not in text:
        # Saved before text.input existed, when every model read characters; the setting's default
        # is now phonemes, which would give this model another symbol table.
        text["input"] = "characters"
    weights = state["model"]
    projection = weights.get("decoder.mel_projection.weight") if isinstance(weights, dict) else None
    if projection is not None and "decoder.mel_mean" not in weights:
        # Saved before the decoder standardized its frames: it read and wrote raw log-mels,
        # which the identity statistics reproduce.
        n_mels = (state.get(VOICE_ENTRY) or state["config"]).get("audio", {}).get("n_mels", 80)
        weights["decoder.mel_mean"] = projection.new_zeros(n_mels)
        weights["decoder.mel_std"] = projection.new_ones(n_mels)
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
    """A checkpoint file, a run folder (its best.pt, else its newest step checkpoint), or the name of
    a base voice shipped in the package (runs/base_voices.py) when no such file or folder exists."""
    path = Path(path)
    if not path.exists() and (shipped := base_voice_file(str(path))) is not None:
        return shipped
    if path.is_dir():
        best = checkpoint_dir(path) / "best.pt"
        if best.is_file():
            return best
        found = step_checkpoints(path)
        if not found:
            raise UserError(f"no checkpoint in {path} (expected {checkpoint_dir(path)}/*.pt)")
        return found[-1][1]
    if not path.is_file():
        names = base_voice_names()
        raise UserError(f"checkpoint not found: {path}"
                        + (f" (base voices: {', '.join(names)})" if names else ""))
    return path
