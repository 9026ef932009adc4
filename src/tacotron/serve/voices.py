"""The voices a server speaks with. A client names a voice and a vocoder from these lists, never a
path: nothing a client sends reaches the file system.

A voice runs on PyTorch (a checkpoint, run folder or base voice) or on onnxruntime (a folder written
by `tacotron export --format onnx`); either is the one `Synthesizer`, so the server treats them alike
and reports which runtime each voice uses (/api/voices, /metrics)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

from tacotron.errors import UserError
from tacotron.inference import Synthesizer
from tacotron.inference.onnx_export import MANIFEST as ONNX_MANIFEST
from tacotron.inference.vocoder import GRIFFIN_LIM, GriffinLimVocoder, Vocoder

TORCH, ONNX = "torch", "onnx"
RUNTIMES = (TORCH, ONNX)
VOICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# The page's text box starts with this, in the voice's language.
SAMPLE_TEXT = {
    "en": "Hello! This voice was trained with tacotron. It speaks one sentence at a time, "
          "so a long text starts playing after the first one.",
    "ru": "Здравствуйте! Этот голос обучен с помощью tacotron. Он говорит по одному предложению, "
          "поэтому длинный текст начинает звучать после первого.",
}


@dataclass
class Voice:
    name: str
    synthesizer: Synthesizer  # speaks with the first of `vocoders`
    vocoders: dict[str, Vocoder]  # by name: the one loaded for the voice, then Griffin-Lim
    runtime: str = TORCH  # what runs its model: "torch" or "onnx" (an ONNX export)

    @property
    def language(self) -> str:
        return self.synthesizer.frontend.language

    def info(self) -> dict:
        return {"name": self.name, "language": self.language,
                "sample_rate": self.synthesizer.sample_rate,
                "checkpoint_step": self.synthesizer.checkpoint_step,
                "vocoder": self.synthesizer.vocoder.name, "vocoders": list(self.vocoders),
                "speakers": list(self.synthesizer.speakers),  # [] for a single-speaker voice
                "runtime": self.runtime,
                "sample_text": SAMPLE_TEXT.get(self.language, "")}

    def synthesizer_for(self, vocoder: str | None = None, seed: int | None = None,
                        speaker: str | None = None) -> Synthesizer:
        """The voice's synthesizer with another of its vocoders, another `inference.seed` or
        another default speaker: a shallow copy (the model is shared) with its own config, so a
        request changes nothing another request sees."""
        if vocoder is None and seed is None and speaker is None:
            return self.synthesizer
        synthesizer = copy.copy(self.synthesizer)
        if speaker is not None:
            synthesizer.speaker = speaker
        if vocoder is not None:
            synthesizer.vocoder = self.vocoders[vocoder]
        if seed is not None:
            synthesizer.config = copy.deepcopy(self.synthesizer.config)
            synthesizer.config.inference.seed = seed
        return synthesizer


def voice_from_synthesizer(name: str, synthesizer: Synthesizer, runtime: str = TORCH) -> Voice:
    vocoders = {synthesizer.vocoder.name: synthesizer.vocoder}
    vocoders.setdefault(GRIFFIN_LIM, GriffinLimVocoder(synthesizer.config.audio))
    return Voice(name, synthesizer, vocoders, runtime)


def is_onnx_export(path: Path) -> bool:
    """Whether `path` is a folder written by `tacotron export --format onnx` (or its manifest)."""
    return (path / ONNX_MANIFEST).is_file() if path.is_dir() else path.name == ONNX_MANIFEST


def parse_voice_spec(spec: str) -> tuple[str, Path]:
    """`NAME=PATH` or `PATH` (named after the run folder, or the checkpoint file)."""
    name, separator, path = spec.partition("=")
    if not separator or Path(spec).exists():
        path = Path(spec)
        if path.is_file():  # runs/NAME/checkpoints/best.pt -> NAME
            name = path.parent.parent.name if path.parent.name == "checkpoints" else path.stem
        else:
            name = path.resolve().name
        return name, path
    if not VOICE_NAME.match(name):
        raise UserError(f"--checkpoint {spec}: a voice name is letters, digits, '_', '.' or '-' "
                        "(at most 64)")
    return name, Path(path)


def load_voices(specs: list[str], vocoder: str | None = None, overrides: list[str] | None = None,
                device: str = "cpu", runtime: str | None = None) -> dict[str, Voice]:
    """Voices by name, in the order given (the first is the default). `overrides`: inference.* and
    postprocess.* settings for every voice. `vocoder` None: each runtime's default (PyTorch: the
    best available, `load_vocoder("default")`; ONNX: the export's own). `runtime` None: each path
    by what it is (an ONNX export folder runs on onnxruntime, anything else on PyTorch); "torch" or
    "onnx": every voice on that runtime."""
    if runtime is not None and runtime not in RUNTIMES:
        raise UserError(f"--runtime {runtime}: one of {', '.join(RUNTIMES)}")
    voices: dict[str, Voice] = {}
    for spec in specs:
        name, path = parse_voice_spec(spec)
        if not VOICE_NAME.match(name):
            raise UserError(f"--checkpoint {spec}: cannot name a voice {name!r}; "
                            "give it a name: --checkpoint NAME=PATH")
        if name in voices:
            raise UserError(f"two voices are named {name!r}: give one another name (NAME=PATH)")
        voice_runtime = runtime or (ONNX if is_onnx_export(path) else TORCH)
        if voice_runtime == ONNX:
            from tacotron.inference.onnx_runtime import onnx_synthesizer

            # onnxruntime's CPU provider, whatever --device says (the PyTorch voices use it).
            synthesizer = onnx_synthesizer(path, overrides, vocoder)
        else:
            synthesizer = Synthesizer.from_checkpoint(path, device=device, overrides=overrides,
                                                      vocoder=vocoder or "default")
        voices[name] = voice_from_synthesizer(name, synthesizer, voice_runtime)
    if not voices:
        raise UserError("no voice: pass --checkpoint runs/NAME (or NAME=runs/NAME, repeated)")
    return voices
