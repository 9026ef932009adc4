"""The one acoustic-checkpoint loader: a Tacotron 2 checkpoint (file, run folder or base voice) as
its voice (runs/voice.py), text frontend and model, with the checks every user of one needs (not a
vocoder checkpoint; the symbol table the weights were trained with is this version's). Synthesis,
serving, ONNX and voice export, evaluation, warm start, the vocoder's teacher-forced data and
`tacotron diagnose` all load through here, and read only the checkpoint's voice manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tacotron.config import Config
from tacotron.errors import UserError
from tacotron.model.tacotron2 import Tacotron2
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.voice import Voice, checkpoint_voice, read_voice
from tacotron.text import Frontend


@dataclass
class AcousticCheckpoint:
    path: Path  # the checkpoint file
    voice: Voice  # its manifest with the caller's overrides
    frontend: Frontend
    model: Tacotron2  # weights loaded, on the device, in eval mode

    @property
    def config(self) -> Config:
        return self.voice.config

    @property
    def speakers(self) -> list[str]:
        return self.voice.speakers


def read_acoustic(checkpoint: str | Path, map_location: str | torch.device = "cpu",
                  if_vocoder: str = "pass a Tacotron 2 checkpoint",
                  state: Any = None) -> tuple[Path, dict[str, Any]]:
    """The file of `checkpoint` (file, run folder or base voice name) and its contents, which must be
    a Tacotron 2's (`if_vocoder` ends the error when they are a vocoder's)."""
    path = ckpt.resolve_checkpoint(checkpoint)
    state = ckpt.load_checkpoint(path, map_location=map_location, state=state)
    if state.get("task") == ckpt.VOCODER_TASK:
        raise UserError(f"{path} is a vocoder checkpoint: {if_vocoder}")
    return path, state


def load_voice(checkpoint: str | Path, overrides: list[str] | None = None,
               if_vocoder: str = "pass a Tacotron 2 checkpoint", state: Any = None) -> Voice:
    """The voice manifest of a Tacotron 2 checkpoint, without building its model."""
    path, state = read_acoustic(checkpoint, if_vocoder=if_vocoder, state=state)
    return read_voice(checkpoint_voice(state), path, overrides)


def load_acoustic(checkpoint: str | Path, device: str | torch.device = "cpu",
                  overrides: list[str] | None = None,
                  if_vocoder: str = "pass a Tacotron 2 checkpoint", state: Any = None) -> AcousticCheckpoint:
    """Load a Tacotron 2 checkpoint file, or a run folder (its best, else newest, checkpoint), or a
    base voice by name. `overrides` (`section.key=value`) change settings that do not change the
    weights (inference, postprocess); `if_vocoder` ends the error when the file is a vocoder
    checkpoint; `state`: the file's contents when the caller has read them
    (`runs.checkpoint.read_torch_file`)."""
    path, state = read_acoustic(checkpoint, device, if_vocoder, state)
    voice = read_voice(checkpoint_voice(state), path, overrides)
    frontend = voice.frontend(path)
    config = voice.config
    model = Tacotron2(config.model, len(frontend.symbols), config.audio.n_mels, len(voice.speakers))
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return AcousticCheckpoint(path, voice, frontend, model)
