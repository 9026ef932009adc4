"""`tacotron export --format voice`: a trained checkpoint as one small PyTorch file, its weights and
voice manifest, and the manifest as JSON beside it (runs/base_voices.py: the format, and the base
voices shipped in it)."""

from __future__ import annotations

import json
from pathlib import Path

from tacotron.errors import UserError
from tacotron.runs.acoustic import load_acoustic
from tacotron.runs.base_voices import write_voice


def export_voice(checkpoint: str | Path, out_dir: str | Path,
                 extra_manifest: str | Path | None = None, overrides: list[str] | None = None) -> Path:
    """`tacotron export --format voice`: the checkpoint (file, run folder or base voice) as out_dir/voice.pt
    and manifest.json; `extra_manifest`, a JSON file, adds entries to the JSON (data, command, figures);
    `overrides` (`inference.*=...`, `postprocess.*=...`) change how the voice speaks by default."""
    loaded = load_acoustic(checkpoint, overrides=overrides, if_vocoder="export a Tacotron 2 checkpoint as a voice")
    path, voice = loaded.path, loaded.voice.manifest()
    source, cwd = path.resolve(), Path.cwd().resolve()
    about = {
        "parameters": sum(parameter.numel() for parameter in loaded.model.parameters()),
        # Relative to the folder it was exported from: a manifest shipped to others names no local path.
        "exported_from": str(source.relative_to(cwd)) if source.is_relative_to(cwd) else path.name,
    }
    if extra_manifest:
        extra_path = Path(extra_manifest)
        try:
            extra = json.loads(extra_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UserError(f"--manifest {extra_path}: not a readable JSON object ({error})") from None
        if not isinstance(extra, dict):
            raise UserError(f"--manifest {extra_path}: not a JSON object")
        taken = sorted(set(extra) & set(voice))
        if taken:
            raise UserError(f"--manifest {extra_path}: {', '.join(taken)} belong to the voice manifest; "
                            "name these entries otherwise")
        about.update(extra)
    return write_voice(loaded.model.state_dict(), voice, Path(out_dir), about)
