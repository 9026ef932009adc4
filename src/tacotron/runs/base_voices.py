"""Base voices shipped inside the package, and the voice file they are written as.

A base voice is a trained Tacotron 2 that speaks out of the box and is the usual start of a new voice
(`tacotron train --init-from base-en`). Each lives in `tacotron/base_voices/NAME/`:

    voice.pt       a voice file: the weights (in float16, the frame statistics in float32) and the
                   voice manifest (runs/voice.py), nothing else; loadable wherever a checkpoint is
    manifest.json  the same voice manifest, and what the export adds about the voice: its parameter
                   count, the checkpoint it came from, and the source voice, data, training command
                   and measured figures given to `tacotron export --manifest`

Every command that takes a checkpoint resolves a base voice's name (`runs.checkpoint.resolve_checkpoint`):
`tacotron synth --checkpoint base-ru`, `Synthesizer.from_checkpoint("base-en")`, `--init-from base-en`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from tacotron.files import atomic_write, atomic_write_text
from tacotron.runs.voice import VOICE_ENTRY

BASE_VOICE_DIR = Path(__file__).resolve().parent.parent / "base_voices"
VOICE_FILE = "voice.pt"
MANIFEST_FILE = "manifest.json"
# Kept in float32: the decoder's frame statistics (a float16 std loses the small bins' precision).
FLOAT32_TENSORS = ("decoder.mel_mean", "decoder.mel_std")


def base_voice_names() -> list[str]:
    """The base voices this installation ships, by name (folders holding a voice.pt)."""
    if not BASE_VOICE_DIR.is_dir():
        return []
    return sorted(folder.name for folder in BASE_VOICE_DIR.iterdir() if (folder / VOICE_FILE).is_file())


def base_voice_file(name: str) -> Path | None:
    """The voice.pt of the base voice `name`, or None when no shipped voice has that name."""
    path = BASE_VOICE_DIR / name / VOICE_FILE
    return path if "/" not in name and name in base_voice_names() else None


def base_voice_manifest(name: str) -> dict[str, Any]:
    return json.loads((BASE_VOICE_DIR / name / MANIFEST_FILE).read_text(encoding="utf-8"))


def compact_voice(weights: dict[str, torch.Tensor], voice: dict[str, Any]) -> dict[str, Any]:
    """A voice file's contents: `weights` in float16 and the voice manifest `voice`."""
    model = {name: tensor if name in FLOAT32_TENSORS or not tensor.is_floating_point() else tensor.half()
             for name, tensor in weights.items()}
    return {"model": model, VOICE_ENTRY: voice}


def write_voice(weights: dict[str, torch.Tensor], voice: dict[str, Any], out_dir: Path,
                about: dict[str, Any]) -> Path:
    """Write out_dir/voice.pt (`weights` and the manifest `voice`) and out_dir/manifest.json (the
    manifest and `about`, what the export says of the voice)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / VOICE_FILE
    atomic_write(path, lambda handle: torch.save(compact_voice(weights, voice), handle))
    atomic_write_text(out_dir / MANIFEST_FILE,
                      json.dumps({**voice, **about}, indent=2, ensure_ascii=False) + "\n")
    return path
