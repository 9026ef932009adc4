"""The voice contract (runs/voice.py): a voice is its weights and a small versioned manifest, and every
later version loads and speaks it as the version that wrote it did. The fixture is a checkpoint that
`tacotron train` wrote on 2026-12-07, before the manifest existed (tests/fixtures/voice-2026-12-07)."""

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tacotron.config import ConfigError, config_from_dict, load_config
from tacotron.errors import UserError
from tacotron.inference import Synthesizer
from tacotron.inference.voice_export import export_voice
from tacotron.runs import base_voices
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.acoustic import load_acoustic, load_voice
from tacotron.runs.voice import FORMAT, checkpoint_voice, read_voice
from tacotron.training.warm_start import inherit_source_shape

from support.overrides import FAST_OVERRIDES
from support.voices import save_untrained_voice

FIXTURE = Path(__file__).parent / "fixtures" / "voice-2026-12-07"
CHECKPOINT = FIXTURE / "step_0000004.pt"
TEXT = "Hello there. How are you?"  # what the fixture's mel.npy and waveform.npy say


@pytest.fixture()
def one_thread():
    """The fixture's audio was made on one thread: more may sum in another order."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def speak(checkpoint) -> tuple[np.ndarray, np.ndarray]:
    """(mel, waveform) of TEXT, as the fixture's were made."""
    synthesis = Synthesizer.from_checkpoint(checkpoint, vocoder="griffin-lim").synthesize(TEXT)
    return np.concatenate([segment.mel for segment in synthesis.segments], axis=1), synthesis.waveform


def assert_speaks_as_on_2026_12_07(checkpoint) -> None:
    """The same mel to float32 rounding, and the same waveform to Griffin-Lim's amplification of it.
    Bit-identical holds only on the CPU that made the fixture: on another (an AMD EPYC, 2026-12-07)
    summation order moved the mel by 1.4e-6 at most, which Griffin-Lim's 48 phase iterations turned
    into a waveform 1.2% away (relative L2, correlation 0.99993). A changed model, text front end or
    decoder moves the mel by orders of magnitude more, or changes its length."""
    mel, waveform = speak(checkpoint)
    expected_mel, expected_waveform = np.load(FIXTURE / "mel.npy"), np.load(FIXTURE / "waveform.npy")
    assert mel.shape == expected_mel.shape and np.abs(mel - expected_mel).max() <= 1e-4
    assert waveform.shape == expected_waveform.shape
    assert np.linalg.norm(waveform - expected_waveform) <= 0.05 * np.linalg.norm(expected_waveform)


def saved(tmp_path: Path, state: dict, name: str = "voice.pt") -> Path:
    path = tmp_path / name
    torch.save(state, path)
    return path


def test_the_voice_of_2026_12_07_loads_and_speaks_as_it_did(one_thread):
    voice = load_voice(CHECKPOINT)
    assert voice.step == 4 and voice.speaking_rate and voice.provenance["val_metrics"]["mel_l1"] > 0
    assert voice.config.text.input == "characters" and voice.config.model.reduction_factor == 3
    assert_speaks_as_on_2026_12_07(CHECKPOINT)


def test_renamed_unknown_and_foreign_run_settings_do_not_touch_a_voice(tmp_path, one_thread):
    state = ckpt.read_torch_file(CHECKPOINT)
    config = state["config"]
    config["serve"]["port_number"] = config["serve"].pop("port")  # a later version renames a key
    config["dataset"]["noise_model"] = "rnnoise"  # and adds some
    config["dataset"]["denoise"] = True
    config["tune"] = "moved to its own file"  # a section that is no longer a mapping
    config["cloud"] = {"bucket": "s3://voices"}  # a section this version never had
    with pytest.raises(ConfigError):  # what loading a voice read before the manifest
        config_from_dict(copy.deepcopy(config))
    assert_speaks_as_on_2026_12_07(saved(tmp_path, state))


def test_a_voice_reads_its_manifest_never_the_run_config(tmp_path, one_thread):
    state = ckpt.read_torch_file(CHECKPOINT)
    state["voice"] = checkpoint_voice(state)
    state["config"] = {"model": {"layers_of_a_later_version": 9}, "serve": "anything"}
    assert_speaks_as_on_2026_12_07(saved(tmp_path, state))


@pytest.mark.parametrize("change", [
    lambda voice: voice["model"].update(flow_steps=4),
    lambda voice: voice["audio"].update(pitch_bins=256),
    lambda voice: voice["text"].update(tones=True),
    lambda voice: voice["model"].update(prenet_dims={"a": 1}),  # a type this version cannot read
    lambda voice: voice.update(format=FORMAT + 1),
])
def test_what_the_weights_depend_on_from_a_newer_version_says_upgrade(change, tmp_path):
    state = ckpt.read_torch_file(CHECKPOINT)
    state["voice"] = checkpoint_voice(state)
    change(state["voice"])
    with pytest.raises(UserError, match="written by a newer tacotron .*: upgrade tacotron"):
        load_acoustic(saved(tmp_path, state))


def test_how_it_speaks_is_read_leniently(tmp_path):
    voice = checkpoint_voice(ckpt.read_torch_file(CHECKPOINT))
    voice["inference"]["prosody_temperature"] = 0.3  # a later version's setting: ignored
    voice["postprocess"]["dereverb"] = True
    voice["inference"]["max_segment_chars"] = 5  # below this version's bound: its default instead
    voice["inference"]["max_retries"] = 2
    config = read_voice(voice, "test").config
    assert config.inference.max_segment_chars == 100 and config.inference.max_retries == 2
    assert read_voice(voice, "test", ["inference.max_retries=0"]).config.inference.max_retries == 0
    with pytest.raises(ConfigError, match="inference.max_retries must be >= 0"):
        read_voice(voice, "test", ["inference.max_retries=-1"])


def test_the_manifest_round_trips_through_json():
    voice = load_voice(CHECKPOINT)
    manifest = voice.manifest()
    assert json.loads(json.dumps(manifest)) == manifest
    assert set(manifest) == {"format", "audio", "text", "model", "speakers", "inference", "postprocess",
                             "speaking_rate", "provenance"}
    again = read_voice(json.loads(json.dumps(manifest)), "json")
    assert again.manifest() == manifest and again.config == voice.config


def test_new_checkpoints_carry_the_manifest(tmp_path):
    config = load_config("cpu-tiny", overrides=[*FAST_OVERRIDES, "text.language=en", "text.input=characters"])
    state = ckpt.load_checkpoint(save_untrained_voice(tmp_path / "run", config, step=7))
    voice = read_voice(state["voice"], "new")
    assert voice.step == 7 and voice.symbols == state["symbols"]
    assert voice.config.model == config.model and voice.config.audio == config.audio
    assert "serve" not in state["voice"] and "train" not in state["voice"]


def test_an_exported_voice_is_weights_and_manifest_and_warm_starts_from_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = export_voice(CHECKPOINT, tmp_path / "voice")
    state = ckpt.read_torch_file(path)
    assert set(state) == {"model", "voice"}
    card = json.loads((tmp_path / "voice" / base_voices.MANIFEST_FILE).read_text())
    assert {key: card[key] for key in state["voice"]} == state["voice"] == load_voice(CHECKPOINT).manifest()
    assert card["parameters"] == sum(p.numel() for p in load_acoustic(path).model.parameters())

    config = load_config("cpu-tiny", overrides=[f"train.init_from={path}", "text.language=en"])
    changed = inherit_source_shape(config, ["model.postnet_dropout=0.4"])
    assert "model.encoder_dim" in changed and "model.postnet_dropout" not in changed
    assert config.model.encoder_dim == 16 and config.model.postnet_dropout == 0.4


def test_an_exported_voice_speaks_with_the_settings_given_at_export(tmp_path):
    source = load_voice(CHECKPOINT).config.postprocess
    path = export_voice(CHECKPOINT, tmp_path / "voice",
                        overrides=[f"postprocess.noise_gate={str(not source.noise_gate).lower()}",
                                   "inference.seed=11"])
    card = json.loads((tmp_path / "voice" / base_voices.MANIFEST_FILE).read_text())
    assert card["postprocess"]["noise_gate"] is (not source.noise_gate) and card["inference"]["seed"] == 11
    exported = load_acoustic(path).voice.config
    assert exported.postprocess.noise_gate is (not source.noise_gate) and exported.inference.seed == 11
    with pytest.raises(UserError, match="model.encoder_dim"):
        export_voice(CHECKPOINT, tmp_path / "bad", overrides=["model.encoder_dim=32"])


def test_an_onnx_export_carries_the_manifest(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tacotron.inference.onnx_export import MANIFEST, export_onnx
    from tacotron.inference.onnx_runtime import onnx_synthesizer

    shutil.copyfile(CHECKPOINT, tmp_path / "voice.pt")
    export_onnx(tmp_path / "voice.pt", tmp_path / "onnx", vocoder="griffin-lim")
    manifest = json.loads((tmp_path / "onnx" / MANIFEST).read_text())
    assert manifest["voice"] == load_voice(CHECKPOINT).manifest() and "config" not in manifest
    synthesizer = onnx_synthesizer(tmp_path / "onnx")
    assert synthesizer.checkpoint_step == 4 and synthesizer.config.model.reduction_factor == 3
