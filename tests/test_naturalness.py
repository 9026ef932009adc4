"""Predicted MOS (evaluation/naturalness.py) with the real DistillMOS model: clean recordings of
Festival's SLT outrank the same recordings with white noise at 10 dB SNR and resynthesized by
Griffin-Lim from their own log-mels. Without distillmos or Festival the tests skip with the install
command."""

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tacotron.audio.source_voices import SOURCE_VOICES
from tacotron.errors import UserError
from tacotron.evaluation import naturalness
from tacotron.evaluation.naturalness import INSTALL, mean_predicted_mos, predicted_mos

# find_spec, not importorskip: importing distillmos is what naturalness.py guards (its torchaudio import).
needs_distillmos = pytest.mark.skipif(importlib.util.find_spec("distillmos") is None,
                                      reason=f"distillmos not installed: {INSTALL}")
needs_slt = pytest.mark.skipif(
    shutil.which("festival") is None
    or not any(Path("/usr/share/festival/voices").glob("*/cmu_us_slt_arctic_hts")),
    reason=f"voice slt not installed: {SOURCE_VOICES['slt'].install}")

SENTENCES = ["The quick brown fox jumps over the lazy dog.",
             "She sells sea shells by the sea shore every summer morning.",
             "Please call Stella and ask her to bring these things with her from the store."]


def with_white_noise(waveform: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """SNR = 10 log10(P_signal / P_noise), powers as mean squares over the whole recording."""
    noise_power = np.mean(waveform.astype(np.float64) ** 2) / 10 ** (snr_db / 10)
    noise = np.random.default_rng(seed).normal(0.0, np.sqrt(noise_power), waveform.shape)
    return (waveform + noise).astype(np.float32)


@needs_distillmos
@needs_slt
def test_clean_speech_outranks_noise_and_griffin_lim():
    from tacotron.audio.griffin_lim import griffin_lim
    from tacotron.audio.mel import MelSpectrogram
    from tacotron.audio.source_voices import open_source_voice
    from tacotron.config import AudioConfig

    audio = AudioConfig()
    torchaudio_before = sys.modules.get("torchaudio")
    recordings = open_source_voice("slt", "en", audio.sample_rate).synthesize_many(SENTENCES)
    mel = MelSpectrogram(audio)
    scores = []
    for index, clean in enumerate(recordings):
        noisy = with_white_noise(clean, 10.0, seed=index)
        resynthesized = griffin_lim(mel(torch.from_numpy(clean)), audio)
        scores.append([predicted_mos(x, audio.sample_rate) for x in (clean, noisy, resynthesized)])
    print("predicted MOS (clean, +noise 10 dB, Griffin-Lim):", np.round(scores, 3).tolist())
    for clean, noisy, resynthesized in scores:
        assert clean > noisy and clean > resynthesized
    assert all(1.0 <= score <= 5.0 for row in scores for score in row)
    # The mean over waveforms is the mean of the single scores (the model has no state between calls).
    assert mean_predicted_mos(recordings, audio.sample_rate) == pytest.approx(
        np.mean([row[0] for row in scores]), abs=1e-4)
    # The placeholder that stands in for torchaudio during distillmos's import does not stay behind.
    assert sys.modules.get("torchaudio") is torchaudio_before


def test_missing_distillmos_is_a_user_error_naming_the_extra(monkeypatch):
    naturalness._model.cache_clear()
    monkeypatch.setitem(sys.modules, "distillmos", None)  # None in sys.modules: the import fails
    monkeypatch.setitem(sys.modules, "distillmos.sqa", None)
    try:
        with pytest.raises(UserError, match=r"pip install 'tacotron\[naturalness\]'"):
            predicted_mos(np.zeros(16000, dtype=np.float32), 16000)
    finally:
        naturalness._model.cache_clear()  # the next test loads the real model again


@needs_distillmos
def test_a_texts_mos_is_its_segments_mos_weighted_by_their_seconds():
    from tacotron.evaluation.naturalness import text_naturalness

    rate = 16000
    time = np.arange(rate * 3) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * time)).astype(np.float32)
    noise = with_white_noise(tone[: rate], 0.0, seed=1)  # 1 s of it, and 3 s of the tone
    scored = text_naturalness([tone, noise], rate)
    single = [predicted_mos(tone, rate), predicted_mos(noise, rate)]
    assert scored.segment_mos == [round(score, 3) for score in single]
    assert scored.mos == pytest.approx((3 * single[0] + 1 * single[1]) / 4, abs=1e-3)


@needs_distillmos
def test_synth_report_carries_each_segments_predicted_mos(tmp_path):
    """The real model scores an untrained voice's babble (Griffin-Lim, 2 frames a symbol: short)."""
    import json

    from tacotron.cli import main
    from tacotron.config import load_config

    from support.voices import save_untrained_voice

    config = load_config("cpu-tiny", overrides=[
        "model.embedding_dim=16", "model.encoder_dim=16", "model.encoder_conv_layers=1",
        "model.attention_rnn_dim=24", "model.decoder_rnn_dim=24", "model.attention_dim=8",
        "model.location_filters=4", "model.prenet_dims=[16, 16]", "model.postnet_channels=8",
        "model.postnet_layers=2", "text.language=en", "text.input=characters"])
    save_untrained_voice(tmp_path / "voice", config)
    report = tmp_path / "report.json"
    code = main(["synth", "--checkpoint", str(tmp_path / "voice"), "--text", " ".join(SENTENCES[:2]),
                 "--out", str(tmp_path / "out.wav"), "--report", str(report), "--vocoder", "griffin-lim",
                 "inference.max_retries=0", "inference.max_frames_per_symbol=2"])
    assert code == 0
    written = json.loads(report.read_text())
    scores = [segment["mos"] for segment in written["segments"]]
    assert len(scores) == 2 and all(1.0 <= score <= 5.0 for score in scores)
    assert min(scores) <= written["mos"] <= max(scores)  # a weighted mean of them
