"""Base voices (runs/base_voices.py): a checkpoint exported as a voice file (float16 weights and the voice
manifest, no optimizer or run config) loads by name wherever a checkpoint is accepted, and speaks as its
source."""

import json

import pytest
import torch

from tacotron.cli import main
from tacotron.config import load_config
from tacotron.errors import UserError
from tacotron.inference import Synthesizer
from tacotron.runs import base_voices
from tacotron.runs import checkpoint as ckpt
from tacotron.runs.acoustic import load_acoustic

from support.overrides import FAST_OVERRIDES
from support.voices import save_untrained_voice


@pytest.fixture()
def shipped(tmp_path, monkeypatch):
    """A run checkpoint with an optimizer's worth of extra state, exported as the base voice 'base-xx'
    into a stand-in for the package's base_voices folder."""
    monkeypatch.setattr(base_voices, "BASE_VOICE_DIR", tmp_path / "base_voices")
    config = load_config("cpu-tiny", overrides=[*FAST_OVERRIDES, "text.language=en", "text.input=characters",
                                                "inference.max_frames_per_symbol=2", "inference.max_retries=0"])
    path = save_untrained_voice(tmp_path / "run", config, step=1234)
    state = ckpt.load_checkpoint(path)
    state["optimizer"] = {"state": {i: torch.randn(1000) for i in range(20)}}  # what a voice leaves out
    torch.save(state, path)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"source_voice": "test", "command": "tacotron train ..."}))
    assert main(["export", "--format", "voice", "--checkpoint", str(tmp_path / "run"),
                 "--out", str(base_voices.BASE_VOICE_DIR / "base-xx"), "--manifest", str(extra)]) == 0
    return path


def test_exported_voice_is_small_and_loads_by_name_with_the_same_weights(shipped):
    voice = base_voices.BASE_VOICE_DIR / "base-xx" / "voice.pt"
    assert base_voices.base_voice_names() == ["base-xx"]
    assert ckpt.resolve_checkpoint("base-xx") == voice
    assert voice.stat().st_size < 0.55 * shipped.stat().st_size  # float16, no optimizer
    manifest = base_voices.base_voice_manifest("base-xx")
    assert manifest["provenance"]["step"] == 1234 and manifest["text"]["language"] == "en"
    assert manifest["source_voice"] == "test"
    assert set(torch.load(voice, weights_only=False)) == {"model", "voice"}  # no optimizer, no run config
    assert manifest["parameters"] == sum(p.numel() for p in load_acoustic(shipped).model.parameters())

    original, compact = load_acoustic(shipped).model.state_dict(), load_acoustic("base-xx").model.state_dict()
    assert compact["decoder.mel_std"].dtype == torch.float32
    for name, tensor in original.items():
        assert torch.allclose(tensor.float(), compact[name].float(), rtol=1e-3, atol=1e-4), name

    spoken = Synthesizer.from_checkpoint("base-xx", vocoder="griffin-lim").synthesize("Hello there.")
    reference = Synthesizer.from_checkpoint(shipped, vocoder="griffin-lim").synthesize("Hello there.")
    assert spoken.frames == reference.frames > 0


def test_an_unknown_name_lists_the_base_voices(shipped):
    with pytest.raises(UserError, match=r"checkpoint not found: base-zz \(base voices: base-xx\)"):
        ckpt.resolve_checkpoint("base-zz")


def test_serve_without_a_checkpoint_serves_the_base_voices(shipped):
    from tacotron.serve.voices import load_voices

    voices = load_voices(base_voices.base_voice_names(), vocoder="griffin-lim")
    assert list(voices) == ["base-xx"]
    assert voices["base-xx"].synthesizer.checkpoint_step == 1234


@pytest.mark.skipif(not {"base-en", "base-ru", "base-ru-espeak"} <= set(base_voices.base_voice_names()),
                    reason="the base voices are not shipped in this checkout")
@pytest.mark.parametrize(("name", "text"), [("base-en", "The weather is nice today."),
                                            ("base-ru", "Сегодня хорошая погода."),
                                            ("base-ru-espeak", "Сегодня хорошая погода.")])
def test_shipped_base_voices_speak_by_name_and_stop_by_their_gate(name, text, tmp_path):
    import soundfile

    voice = load_acoustic(name).voice  # its manifest, whether exported before the voice manifest or after
    assert voice.config.text.language == name.split("-")[1] and voice.step > 0
    out = tmp_path / "said.wav"
    assert main(["synth", "--checkpoint", name, "--text", text, "--out", str(out), "--vocoder", "griffin-lim"]) == 0
    audio, rate = soundfile.read(out)
    # four or five words: about 1-3 s of speech, not a gate that never fired (the frame cap)
    assert rate == 22050 and 0.8 < len(audio) / rate < 3.5
    result = Synthesizer.from_checkpoint(name, vocoder="griffin-lim").synthesize(text)
    assert result.stopped_by_gate
