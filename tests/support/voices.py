"""Voices made without training, for the tests and benchmarks that need one to load, serve or export."""

from __future__ import annotations

from pathlib import Path

import torch

from tacotron.model.tacotron2 import Tacotron2
from tacotron.runs.voice import VOICE_ENTRY, make_voice
from tacotron.text import get_frontend
from tacotron.training.checkpoint import save_checkpoint


def save_untrained_voice(run_dir: Path, config, step: int = 0, seed: int = 0) -> Path:
    """An untrained Tacotron 2 for `config` saved as `tacotron train` saves a run, its gate shut
    (bias -10: it never fires), so every segment it speaks is as long as
    inference.max_frames_per_symbol allows: a voice of known length and cost, without training,
    for the serving tests and benchmark. Returns the checkpoint's path."""
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
