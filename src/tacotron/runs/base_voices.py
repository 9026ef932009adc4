"""Base voices shipped inside the package, and the compact voice file they are written as.

A base voice is a trained Tacotron 2 that speaks out of the box and is the usual start of a new voice
(`tacotron train --init-from base-en`). Each lives in `tacotron/base_voices/NAME/`:

    voice.pt       the checkpoint entries synthesis and warm start read (weights in float16, the frame
                   statistics in float32; no optimizer), loadable wherever a checkpoint is
    manifest.json  what it is: language, source voice and data, steps, the command that trained it,
                   its measured figures

Every command that takes a checkpoint resolves a base voice's name (`runs.checkpoint.resolve_checkpoint`):
`tacotron synth --checkpoint base-ru`, `Synthesizer.from_checkpoint("base-en")`, `--init-from base-en`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from tacotron.files import atomic_write, atomic_write_text

BASE_VOICE_DIR = Path(__file__).resolve().parent.parent / "base_voices"
VOICE_FILE = "voice.pt"
MANIFEST_FILE = "manifest.json"
# Checkpoint entries a voice keeps: what load_acoustic, the synthesizer and warm start read.
VOICE_ENTRIES = ("model", "config", "symbols", "speakers", "frames_per_symbol", "step", "val_metrics")
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


def compact_voice(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's contents as a voice: the entries synthesis reads, weights in float16."""
    model = {name: tensor if name in FLOAT32_TENSORS or not tensor.is_floating_point() else tensor.half()
             for name, tensor in state["model"].items()}
    return {**{key: state[key] for key in VOICE_ENTRIES if key in state}, "model": model}


def write_voice(state: dict[str, Any], out_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write `state` (a checkpoint's contents) as out_dir/voice.pt and `manifest` beside it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / VOICE_FILE
    atomic_write(path, lambda handle: torch.save(compact_voice(state), handle))
    atomic_write_text(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return path

