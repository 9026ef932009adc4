"""`tacotron export --format voice`: a trained checkpoint as one small PyTorch file and its manifest
(runs/base_voices.py: the format, and the base voices shipped in it)."""

from __future__ import annotations

import json
from pathlib import Path

from tacotron.errors import UserError
from tacotron.runs.acoustic import load_acoustic
from tacotron.runs.base_voices import write_voice


def export_voice(checkpoint: str | Path, out_dir: str | Path, extra_manifest: str | Path | None = None) -> Path:
    """`tacotron export --format voice`: the checkpoint (file, run folder or base voice) as out_dir/voice.pt
    and a manifest of what it is; `extra_manifest`, a JSON file, adds entries (data, command, figures)."""
    loaded = load_acoustic(checkpoint, if_vocoder="export a Tacotron 2 checkpoint as a voice")
    path, state, config = loaded.path, loaded.state, loaded.state["config"]
    manifest = {
        "language": config.get("text", {}).get("language"),
        "text_input": config.get("text", {}).get("input"),
        "sample_rate": config.get("audio", {}).get("sample_rate"),
        "speakers": list(state.get("speakers", [])),
        "step": state.get("step"),
        "parameters": sum(parameter.numel() for parameter in loaded.model.parameters()),
        "val_metrics": state.get("val_metrics"),
        # Relative to the folder it was exported from: a manifest shipped to others names no local path.
        "exported_from": str(path.resolve().relative_to(Path.cwd().resolve()))
        if path.resolve().is_relative_to(Path.cwd().resolve()) else path.name,
    }
    if extra_manifest:
        extra = Path(extra_manifest)
        try:
            manifest.update(json.loads(extra.read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            raise UserError(f"--manifest {extra}: not a readable JSON object ({error})") from None
    return write_voice(state, Path(out_dir), manifest)
