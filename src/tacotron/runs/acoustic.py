"""The one acoustic-checkpoint loader: a Tacotron 2 checkpoint (file or run folder) as its
model, config and text frontend, with the checks every user of one needs (not a vocoder
checkpoint; the symbol table the weights were trained with is this version's). Synthesis, ONNX
export, the vocoder's teacher-forced data and `tacotron diagnose` all load through here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tacotron.config import Config, config_from_dict
from tacotron.errors import UserError
from tacotron.model.tacotron2 import Tacotron2
from tacotron.runs import checkpoint as ckpt
from tacotron.text import Frontend, get_frontend


@dataclass
class AcousticCheckpoint:
    path: Path  # the checkpoint file
    state: dict[str, Any]  # everything saved in it (step, val_metrics, frames_per_symbol, ...)
    config: Config  # the run's config with the caller's overrides
    frontend: Frontend
    model: Tacotron2  # weights loaded, on the device, in eval mode
    speakers: list[str]  # the speaker table's names, a speaker's id is its index; [] for one speaker


def load_acoustic(checkpoint: str | Path, device: str | torch.device = "cpu",
                  overrides: list[str] | None = None,
                  if_vocoder: str = "pass a Tacotron 2 checkpoint", state: Any = None) -> AcousticCheckpoint:
    """Load a Tacotron 2 checkpoint file, or a run folder (its best, else newest, checkpoint).
    `overrides` (`section.key=value`) change settings that do not change the weights (inference,
    postprocess); `if_vocoder` ends the error when the file is a vocoder checkpoint; `state`: the
    file's contents when the caller has read them (`runs.checkpoint.read_torch_file`)."""
    path = ckpt.resolve_checkpoint(checkpoint)
    state = ckpt.load_checkpoint(path, map_location=device, state=state)
    if state.get("task") == ckpt.VOCODER_TASK:
        raise UserError(f"{path} is a vocoder checkpoint: {if_vocoder}")
    config = config_from_dict(state["config"], overrides)
    frontend = get_frontend(config.text.language, config.text.input)
    if list(frontend.symbols) != list(state.get("symbols", [])):
        raise UserError(f"{path}: the checkpoint's symbol table differs from this version's "
                        f"'{config.text.language}' frontend")
    # The speaker table's rows in order: synthesis maps a speaker's name to its row (model.speaker_dim > 0).
    speakers = list(state.get("speakers", []))
    model = Tacotron2(config.model, len(frontend.symbols), config.audio.n_mels, len(speakers))
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return AcousticCheckpoint(path, state, config, frontend, model, speakers)
