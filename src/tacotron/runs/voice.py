"""The voice manifest: what a trained Tacotron 2 needs besides its weights to speak, small and
versioned, so that a voice written today loads in every later version.

A training checkpoint carries it as its `voice` entry, a voice file (`tacotron export --format
voice`, runs/base_voices.py) is its weights and this manifest only, and an ONNX export keeps it in
its JSON (inference/onnx_export.py). Format 1, a JSON-able dict:

    format         1; a change that the weights depend on makes the next number
    audio          sample rate and mel settings (AudioConfig); the frame statistics the decoder
                   standardizes with are buffers of the weights
    text           language, input (characters | phonemes), stress (auto | on | off: the Russian stress
                   step its training text had; absent in a voice written before the setting, which
                   reads as "off", the eSpeak stress it was trained on), symbols (the embedding's rows
                   in order)
    model          the model's shape (ModelConfig)
    speakers       the speaker table's names in row order ([]: one speaker)
    inference      how it speaks unless told otherwise (InferenceConfig); postprocess likewise
    speaking_rate  frames per symbol of its training data (p01, p50, p99); absent when unknown
    provenance     step, val_metrics

Reading is strict where the weights depend on it: a newer format number, or an audio, text or model
key this version does not know, means a newer tacotron wrote the voice. Everything else is lenient:
inference and postprocess keys this version lacks, or values it no longer accepts, give way to its
defaults. The run config (serve, dataset, tune, ... sections) stays with the run, for resuming; no
part of it is read to load a voice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tacotron.config import Config, ConfigError, check_sections, set_overrides, set_value
from tacotron.errors import UserError
from tacotron.text import Frontend, get_frontend

FORMAT = 1
VOICE_ENTRY = "voice"  # a checkpoint's entry holding the manifest
WEIGHT_SECTIONS = ("audio", "model")  # Config sections the weights depend on, key by key
DEFAULT_SECTIONS = ("inference", "postprocess")  # Config sections of how it speaks by default
TEXT_SETTINGS = ("language", "input", "stress")  # the manifest's text entries that are TextConfig settings
# text.stress of a manifest written before the setting (2026-12): its voice was trained on eSpeak's
# own stress, and a character voice never saw "+", so it is spoken as before.
STRESS_BEFORE_THE_SETTING = "off"
VOICE_SECTIONS = ("audio", "text", "model", *DEFAULT_SECTIONS)  # the Config sections a voice sets


def make_voice(config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a voice: `config`, its run's config as a dict (`Config.to_dict()`, or what a
    checkpoint saved before manifests holds, taken as it is), and `state`, its checkpoint entries
    (symbols, speakers, frames_per_symbol, step, val_metrics)."""
    text = config.get("text", {})
    voice = {
        "format": FORMAT,
        "audio": dict(config.get("audio", {})),
        "text": {**{key: text[key] for key in TEXT_SETTINGS if key in text},
                 "symbols": list(state.get("symbols", []))},
        "model": dict(config.get("model", {})),
        "speakers": list(state.get("speakers", [])),
        "inference": dict(config.get("inference", {})),
        "postprocess": dict(config.get("postprocess", {})),
        "provenance": {"step": state.get("step"), "val_metrics": dict(state.get("val_metrics") or {})},
    }
    if state.get("frames_per_symbol"):
        voice["speaking_rate"] = dict(state["frames_per_symbol"])
    return voice


def checkpoint_voice(state: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a checkpoint's contents; one saved before manifests (2026-12-07) gets one made
    of its saved run config, which is not checked against this version's rules."""
    return state[VOICE_ENTRY] if VOICE_ENTRY in state else make_voice(state["config"], state)


@dataclass
class Voice:
    """A voice manifest as this version reads it (`read_voice`)."""

    # The manifest's audio, text, model, inference and postprocess settings with the caller's
    # overrides; the other sections are this version's defaults: a voice does not carry them.
    config: Config
    symbols: list[str]
    speakers: list[str]  # the speaker table's names, a speaker's id is its index; [] for one speaker
    speaking_rate: dict[str, float] | None  # frames per symbol of the training data; None: unknown
    provenance: dict[str, Any]  # step, val_metrics

    @property
    def step(self) -> int | None:
        return self.provenance.get("step")

    def manifest(self) -> dict[str, Any]:
        """This voice's manifest as this version writes it (what exports carry)."""
        return make_voice(self.config.to_dict(), {"symbols": self.symbols, "speakers": self.speakers,
                                                  "frames_per_symbol": self.speaking_rate, **self.provenance})

    def frontend(self, source: str | Path) -> Frontend:
        """The text front end the weights were trained with: this version's for the voice's
        language and input, which must have the voice's symbol table."""
        text = self.config.text
        frontend = get_frontend(text.language, text.input, text.stress)
        if list(frontend.symbols) != self.symbols:
            raise UserError(f"{source}: the voice's symbol table differs from this version's "
                            f"'{text.language}' frontend")
        return frontend


def newer_voice(source: str | Path, detail: str) -> UserError:
    return UserError(f"{source} was written by a newer tacotron ({detail}): upgrade tacotron to load it")


def _entries(manifest: dict[str, Any], name: str, source: str | Path) -> dict[str, Any]:
    entries = manifest.get(name, {})
    if not isinstance(entries, dict):
        raise UserError(f"{source}: the voice manifest's {name} is not a mapping")
    return entries


def read_voice(manifest: Any, source: str | Path, overrides: list[str] | None = None) -> Voice:
    """Read a voice manifest (`source` names it in errors); `overrides` (`section.key=value`) change
    how it speaks (inference, postprocess). Only the sections a voice sets are checked."""
    if not isinstance(manifest, dict) or isinstance(manifest.get("format"), bool) \
            or not isinstance(manifest.get("format"), int) or manifest["format"] < 1:
        raise UserError(f"{source}: not a voice manifest")
    if manifest["format"] > FORMAT:
        raise newer_voice(source, f"voice format {manifest['format']}; this version reads format {FORMAT}")
    config = Config()
    text = _entries(manifest, "text", source)
    weights = {"text.stress": STRESS_BEFORE_THE_SETTING,
               **{f"text.{key}": text[key] for key in TEXT_SETTINGS if key in text}}
    unknown = [f"text.{key}" for key in text if key not in (*TEXT_SETTINGS, "symbols")]
    for name in WEIGHT_SECTIONS:
        known = {field.name for field in dataclasses.fields(getattr(config, name))}
        for key, value in _entries(manifest, name, source).items():
            if key in known:
                weights[f"{name}.{key}"] = value
            else:
                unknown.append(f"{name}.{key}")
    if unknown:
        raise newer_voice(source, f"{', '.join(unknown)}: unknown to this version")
    try:
        for key, value in weights.items():
            set_value(config, key, value)
    except ConfigError as error:
        raise newer_voice(source, str(error)) from None
    for name in DEFAULT_SECTIONS:
        section = getattr(config, name)
        known = {field.name for field in dataclasses.fields(section)}
        for key, value in _entries(manifest, name, source).items():
            if key not in known:
                continue  # a setting of a later version: this version does without it
            default = getattr(section, key)
            try:
                set_value(config, f"{name}.{key}", value)
                check_sections(config, [name])
            except ConfigError:  # a value this version no longer accepts: its default instead
                setattr(section, key, default)
    # The weights fix the audio, model and text symbols; a setting of theirs would only fail to load.
    fixed = [item for item, key in ((item, item.split("=", 1)[0].strip()) for item in overrides or [])
             if key.split(".", 1)[0] in WEIGHT_SECTIONS or key in ("text.language", "text.input")]
    if fixed:
        raise ConfigError(f"{source}: {', '.join(fixed)}: a trained voice's audio, model, text.language and "
                          f"text.input are fixed by its weights; inference.*, postprocess.* and text.stress "
                          f"change how it speaks")
    set_overrides(config, overrides or [])
    try:
        check_sections(config, VOICE_SECTIONS)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    speaking_rate = manifest.get("speaking_rate")
    return Voice(config, list(text.get("symbols", [])), list(manifest.get("speakers", [])),
                 dict(speaking_rate) if speaking_rate else None,
                 dict(_entries(manifest, "provenance", source)))
