"""The one synthesis path: text -> symbols -> Tacotron 2 (free-running) -> mel -> waveform.

    from tacotron.inference import Synthesizer
    waveform, sample_rate = Synthesizer.from_checkpoint("runs/demo").tts("Hello there.")
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tacotron.audio.griffin_lim import griffin_lim
from tacotron.config import Config, config_from_dict
from tacotron.errors import UserError
from tacotron.model.alignment_metrics import AlignmentScores, score_alignment
from tacotron.model.tacotron2 import Tacotron2
from tacotron.text import Frontend, get_frontend
from tacotron.training import checkpoint as ckpt


@dataclass
class Synthesis:
    text: str
    normalized: str
    waveform: np.ndarray  # float32 mono
    sample_rate: int
    mel: np.ndarray  # [n_mels, frames] postnet log-mel
    alignment: np.ndarray  # [steps, N] attention weights
    frames: int
    stopped_by_gate: bool  # False: the decoder hit its length cap (a failure)
    scores: AlignmentScores


def max_frames_for(n_symbols: int, max_frames_per_symbol: float) -> int:
    """Hard cap on the decoder's output: ceil(n_symbols * max_frames_per_symbol) frames."""
    return max(1, math.ceil(n_symbols * max_frames_per_symbol))


class Synthesizer:
    def __init__(self, model: Tacotron2, config: Config, frontend: Frontend,
                 device: str | torch.device = "cpu"):
        self.model = model.to(device).eval()
        self.config = config
        self.frontend = frontend
        self.device = torch.device(device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> "Synthesizer":
        """Load a checkpoint file, or a run folder (its best, else newest, checkpoint)."""
        state = ckpt.load_checkpoint(ckpt.resolve_checkpoint(path), map_location=device)
        config = config_from_dict(state["config"])
        frontend = get_frontend(config.text.language)
        if list(frontend.symbols) != list(state["symbols"]):
            raise UserError(f"{path}: the checkpoint's symbol table differs from this version's "
                            f"'{config.text.language}' frontend")
        model = Tacotron2(config.model, len(frontend.symbols), config.audio.n_mels)
        model.load_state_dict(state["model"])
        return cls(model, config, frontend, device)

    @property
    def sample_rate(self) -> int:
        return self.config.audio.sample_rate

    @torch.no_grad()
    def synthesize(self, text: str) -> Synthesis:
        normalized = self.frontend.normalize(text)
        if not normalized.strip():
            raise UserError(f"nothing to say in {text!r}")
        ids = self.frontend.to_ids(normalized)
        inference = self.config.inference
        text_ids = torch.tensor([ids], dtype=torch.long, device=self.device)
        lengths = torch.tensor([len(ids)], device=self.device)
        max_frames = torch.tensor([max_frames_for(len(ids), inference.max_frames_per_symbol)],
                                  device=self.device)
        # Prenet dropout stays on (paper); a fixed seed makes equal text give equal speech.
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(inference.seed)
            output = self.model.infer(text_ids, lengths, max_frames, inference.gate_threshold)
        frames = int(output.mel_lengths[0])
        mel = output.mel_postnet[0, :, :frames].float().cpu().numpy()
        alignment = output.alignments[0].float().cpu()
        return Synthesis(
            text=text,
            normalized=normalized,
            waveform=griffin_lim(mel, self.config.audio),
            sample_rate=self.sample_rate,
            mel=mel,
            alignment=alignment.numpy(),
            frames=frames,
            stopped_by_gate=bool(output.stopped_by_gate[0]),
            scores=score_alignment(alignment),
        )

    def tts(self, text: str) -> tuple[np.ndarray, int]:
        synthesis = self.synthesize(text)
        return synthesis.waveform, synthesis.sample_rate
