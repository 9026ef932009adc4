"""Robust inference: stop rule, attention constraint, quality control with retries, long text."""

import json
import math

import numpy as np
import pytest
import soundfile
import torch

from tacotron.config import InferenceConfig, load_config
from tacotron.inference import Synthesizer
from tacotron.inference.quality import (attempt_rank, frames_per_symbol, quality_failures,
                                        speaking_rate_bounds)
from tacotron.model.alignment_metrics import AlignmentScores, coverage
from tacotron.model.tacotron2 import Tacotron2, stop_threshold
from tacotron.text import get_frontend, segmentation

TINY = ["model.embedding_dim=16", "model.encoder_dim=16", "model.encoder_conv_layers=1",
        "model.attention_rnn_dim=24", "model.decoder_rnn_dim=24", "model.attention_dim=8",
        "model.location_filters=4", "model.prenet_dims=[16, 16]", "model.postnet_channels=8",
        "model.postnet_layers=2", "model.reduction_factor=3"]


def tiny_synthesizer(*overrides: str, gate_probability: float | None = None,
                     language: str = "en") -> Synthesizer:
    """A random tiny model; `gate_probability` pins the gate's output (zero weights, fixed bias)."""
    config = load_config("cpu-tiny", overrides=[*TINY, f"text.language={language}", "text.input=characters",
                                                *overrides])
    frontend = get_frontend(language, "characters")
    torch.manual_seed(0)
    model = Tacotron2(config.model, len(frontend.symbols), config.audio.n_mels)
    if gate_probability is not None:
        with torch.no_grad():
            model.decoder.gate_projection.weight.zero_()
            model.decoder.gate_projection.bias.fill_(math.log(gate_probability / (1 - gate_probability)))
    return Synthesizer(model, config, frontend)


def test_stop_threshold_falls_from_start_to_plain_threshold_with_progress():
    progress = torch.tensor([0.0, 0.5, 1.0, 1.5])
    assert stop_threshold(progress, 0.5, 0.9).tolist() == pytest.approx([0.9, 0.7, 0.5, 0.5])
    assert stop_threshold(progress, 0.5, None).tolist() == [0.5] * 4


def test_adaptive_gate_waits_until_attention_has_read_a_third_of_the_text():
    synthesizer = tiny_synthesizer(gate_probability=0.8)
    model, frontend = synthesizer.model, synthesizer.frontend
    ids = torch.tensor([frontend.to_ids("a fairly long sentence for the gate to wait on.")])
    lengths = torch.tensor([ids.size(1)])
    cap = torch.tensor([3000])
    torch.manual_seed(0)
    fixed = model.infer(ids, lengths, cap, gate_threshold=0.5)
    assert fixed.mel_lengths.tolist() == [3] and bool(fixed.stopped_by_gate[0])
    torch.manual_seed(0)
    # The window makes attention start at symbol 0 and advance at most 3 symbols a step.
    adaptive = model.infer(ids, lengths, cap, gate_threshold=0.5, gate_threshold_start=0.95,
                           attention_window=(1, 3))
    # 0.95 + (0.5 - 0.95) * p < 0.8  <=>  p > 1/3: the first step whose peak is past a third.
    progress = adaptive.alignments[0].argmax(dim=1).float() / (ids.size(1) - 1)
    steps = int(adaptive.mel_lengths[0]) // 3
    expected = int(torch.nonzero(progress > 1 / 3)[0]) + 1
    assert steps == expected and steps > 1


def test_attention_window_keeps_each_step_near_the_previous_peak():
    synthesizer = tiny_synthesizer(gate_probability=0.01)
    model, frontend = synthesizer.model, synthesizer.frontend
    ids = torch.tensor([frontend.to_ids("the window keeps attention from jumping around.")])
    torch.manual_seed(0)
    output = model.infer(ids, torch.tensor([ids.size(1)]), torch.tensor([120]),
                         InferenceConfig.gate_threshold, attention_window=(1, 3))
    weights = output.alignments[0]
    assert weights.size(0) == 40  # the cap: 120 frames / r
    positions = torch.arange(ids.size(1))
    previous_peak = torch.cat([torch.zeros(1, dtype=torch.long), weights.argmax(dim=1)[:-1]])
    outside = (positions[None, :] < previous_peak[:, None] - 1) | (positions[None, :] > previous_peak[:, None] + 3)
    assert float(weights[outside].abs().max()) == 0.0
    torch.manual_seed(0)
    free = model.infer(ids, torch.tensor([ids.size(1)]), torch.tensor([120]),
                       InferenceConfig.gate_threshold).alignments[0]
    assert float(free[outside].abs().max()) > 0.0  # without the window the same model leaks


def test_coverage_counts_symbols_that_receive_half_a_step_of_attention():
    alignment = torch.zeros(4, 5)
    alignment[0, 0] = alignment[1, 1] = alignment[2, 1] = alignment[3, 4] = 1.0
    assert coverage(alignment) == pytest.approx(3 / 5)  # symbols 2 and 3 skipped


def test_quality_failures_name_each_failed_check():
    config = InferenceConfig()
    good = AlignmentScores(diagonality=1.0, focus_rate=0.6, monotonicity=1.0, coverage=1.0)
    bounds = speaking_rate_bounds({"p01": 3.0, "p50": 4.0, "p99": 5.0}, 1.5)
    assert bounds == pytest.approx((2.0, 7.5))
    assert quality_failures(good, True, 4.0, bounds, config) == []
    bad = AlignmentScores(diagonality=0.3, focus_rate=0.2, monotonicity=0.5, coverage=0.5)
    failures = quality_failures(bad, False, 9.0, bounds, config)
    assert len(failures) == 5
    assert any("gate never fired" in f for f in failures)
    assert any("coverage 0.50" in f for f in failures)
    assert any("9.0 frames per symbol" in f for f in failures)
    assert quality_failures(good, True, 9.0, None, config) == []  # no training figures: unchecked
    assert frames_per_symbol(90, 10) == 9.0
    assert attempt_rank([], bad) < attempt_rank(["x"], good)
    assert attempt_rank(["x"], good) < attempt_rank(["x"], bad)


def test_failed_segment_is_retried_then_reported_with_its_reasons():
    # The gate never fires: every attempt hits the cap, so all retries are spent and reported.
    synthesizer = tiny_synthesizer("inference.max_retries=2", gate_probability=0.001)
    result = synthesizer.synthesize("Hello there.")
    (segment,) = result.segments
    assert segment.attempts == 3 and segment.retried and segment.failed
    assert not segment.stopped_by_gate
    cap = math.ceil(len(synthesizer.frontend.to_ids(segment.normalized)) * 15)
    assert segment.frames == math.ceil(cap / 3) * 3  # whole decoder steps of r = 3 frames
    assert any("gate never fired" in failure for failure in segment.failures)


def test_passing_segment_is_decoded_once():
    synthesizer = tiny_synthesizer("inference.min_focus_rate=0", "inference.min_coverage=0",
                                   "inference.min_monotonicity=0", "inference.gate_threshold_start=null",
                                   gate_probability=0.99)
    result = synthesizer.synthesize("Hello there.")
    assert [segment.attempts for segment in result.segments] == [1]
    assert result.stopped_by_gate and not result.failed


def test_long_text_is_split_batched_and_joined_with_pauses_by_punctuation():
    synthesizer = tiny_synthesizer(
        "inference.min_focus_rate=0", "inference.min_coverage=0", "inference.min_monotonicity=0",
        "inference.gate_threshold_start=null", "inference.max_segment_chars=40",
        "inference.batch_size=3", "postprocess.noise_gate=false", "postprocess.trim=false",
        "postprocess.loudness_lufs=null", "postprocess.true_peak_dbtp=null",
        "postprocess.fades=false", gate_probability=0.99)
    text = ("The first sentence is short. Is the second one a question? "
            "The third sentence is long enough to be cut, at its commas, into clauses, "
            "so that the model never sees more than it learned.\n\nA new paragraph.")
    result = synthesizer.synthesize(text)
    kinds = [segment.pause_after for segment in result.segments]
    assert kinds[:2] == [segmentation.SENTENCE, segmentation.QUESTION]
    assert segmentation.CLAUSE in kinds and kinds[-2] == segmentation.PARAGRAPH
    assert kinds[-1] == segmentation.NONE
    assert all(len(segment.text) <= 40 for segment in result.segments)
    # Nothing lost, nothing reordered.
    assert " ".join(segment.text for segment in result.segments) == " ".join(text.split())
    pieces = sum(len(synthesizer.vocode(segment.mel)) for segment in result.segments)
    pauses = sum(round(synthesizer._pause_seconds(kind) * 22050) for kind in kinds[:-1])
    crossfades = 220 * sum(kind == segmentation.NONE for kind in kinds[:-1])  # 10 ms overlaps
    assert len(result.waveform) == pieces + pauses - crossfades


def test_deterministic_mode_repeats_and_stochastic_mode_varies():
    text = "Prosody can vary."
    quiet = ["inference.max_retries=0", "inference.gate_threshold_start=null"]
    fixed = tiny_synthesizer(*quiet, gate_probability=0.3)
    assert (fixed.synthesize(text).segments[0].mel == fixed.synthesize(text).segments[0].mel).all()
    varied = tiny_synthesizer(*quiet, "inference.prenet_dropout=stochastic", gate_probability=0.3)
    first, second = varied.synthesize(text).segments[0], varied.synthesize(text).segments[0]
    assert first.frames != second.frames or not np.allclose(first.mel, second.mel)


def test_unknown_inference_mode_is_a_config_error():
    from tacotron.config import ConfigError, validate

    with pytest.raises(ConfigError, match="inference.prenet_dropout"):
        validate(load_config(overrides=["inference.prenet_dropout=sometimes"]))


def test_synth_cli_speaks_a_long_russian_text_with_every_sentence_scored(tmp_path):
    from tacotron.cli import main
    from tacotron.training.checkpoint import save_checkpoint

    synthesizer = tiny_synthesizer("inference.max_retries=0", "inference.gate_threshold_start=null",
                                   gate_probability=0.99, language="ru")
    state = {"model": synthesizer.model.state_dict(), "config": synthesizer.config.to_dict(),
             "symbols": list(synthesizer.frontend.symbols), "step": 0}
    save_checkpoint(tmp_path / "run", state, synthesizer.config.to_yaml(), keep_last=1)
    sentences = [f"Предложение номер {n} рассказывает о погоде в городе, где живёт {n * 7} человек."
                 for n in range(1, 28)]
    text_file = tmp_path / "text.txt"
    text_file.write_text(" ".join(sentences), encoding="utf-8")
    assert len(text_file.read_text(encoding="utf-8")) >= 2000
    report = tmp_path / "report.json"
    code = main(["synth", "--checkpoint", str(tmp_path / "run"), "--text-file", str(text_file),
                 "--out", str(tmp_path / "long.wav"), "--report", str(report),
                 "inference.max_segment_chars=100"])
    assert code == 0
    segments = json.loads(report.read_text(encoding="utf-8"))["segments"]
    spoken = " ".join(segment["text"] for segment in segments)
    assert spoken == " ".join(sentences)  # every sentence present, in order
    assert all(segment["frames"] > 0 for segment in segments)
    audio, rate = soundfile.read(tmp_path / "long.wav")
    assert rate == 22050 and len(audio) > 26 * 0.4 * rate  # at least the sentence pauses


def test_clauses_are_spoken_as_sentences_so_the_gate_can_fire():
    from tacotron.inference.synthesizer import as_sentence

    assert as_sentence("in eighteen thirty,") == "in eighteen thirty."
    assert as_sentence("the judge said -") == "the judge said."
    assert as_sentence("is it you?") == "is it you?"
    assert as_sentence("no stop") == "no stop."


def test_stream_yields_segments_in_order_with_their_pauses_and_join_makes_one_waveform():
    synthesizer = tiny_synthesizer("inference.max_retries=0", "inference.max_frames_per_symbol=2",
                                   gate_probability=0.01)
    text = "The first one is here. Is this the second one? The third ends it."
    spoken = list(synthesizer.stream(text))
    assert [piece.segment.text for piece in spoken] == [
        "The first one is here.", "Is this the second one?", "The third ends it."]
    inference = synthesizer.config.inference
    assert [piece.pause_after for piece in spoken] == [inference.pause_sentence,
                                                       inference.pause_question, 0.0]
    # The gate never fires: each segment runs to its cap of 2 frames per symbol (whole steps of 3).
    for piece in spoken:
        cap = 2 * len(synthesizer.frontend.to_ids(piece.segment.normalized))
        assert cap <= piece.segment.frames < cap + 3
    result = synthesizer.join(text, [piece.segment for piece in spoken],
                              [piece.audio for piece in spoken], [piece.pause_after for piece in spoken[:-1]])
    assert result.segments == [piece.segment for piece in spoken] and result.sample_rate == 22050
    inner_pauses = (inference.pause_sentence + inference.pause_question) * 22050
    assert len(result.waveform) > inner_pauses and result.waveform.dtype == np.float32


def test_a_checkpoint_saved_before_text_input_existed_loads_as_the_character_model_it_is(tmp_path):
    from tacotron.runs.acoustic import load_acoustic
    from tacotron.training.checkpoint import save_checkpoint

    synthesizer = tiny_synthesizer()
    config = synthesizer.config.to_dict()
    del config["text"]["input"]  # the layout of configs saved before the setting (default now phonemes)
    state = {"model": synthesizer.model.state_dict(), "config": config,
             "symbols": list(synthesizer.frontend.symbols), "step": 0}
    path = save_checkpoint(tmp_path / "run", state, synthesizer.config.to_yaml(), keep_last=1)
    loaded = load_acoustic(path)
    assert loaded.config.text.input == "characters"
    assert list(loaded.frontend.symbols) == list(synthesizer.frontend.symbols)


def test_a_checkpoint_saved_before_mel_statistics_loads_with_identity_statistics(tmp_path):
    """Weights trained on raw log-mels (no decoder.mel_mean/mel_std in the file) speak as before."""
    from tacotron.runs.acoustic import load_acoustic
    from tacotron.training.checkpoint import save_checkpoint

    synthesizer = tiny_synthesizer()
    weights = {name: tensor for name, tensor in synthesizer.model.state_dict().items()
               if name not in ("decoder.mel_mean", "decoder.mel_std")}
    state = {"model": weights, "config": synthesizer.config.to_dict(),
             "symbols": list(synthesizer.frontend.symbols), "step": 0}
    path = save_checkpoint(tmp_path / "run", state, synthesizer.config.to_yaml(), keep_last=1)
    decoder = load_acoustic(path).model.decoder
    assert torch.equal(decoder.mel_mean, torch.zeros(80)) and torch.equal(decoder.mel_std, torch.ones(80))
    hidden = torch.randn(2, decoder.mel_projection.in_features)
    assert torch.allclose(decoder.frames(hidden).flatten(1), decoder.mel_projection(hidden))


def test_decoder_reads_and_writes_standardized_frames():
    """frames() = projection * std + mean, per bin; prenet_input standardizes its frames first."""
    torch.manual_seed(0)
    config = load_config("cpu-tiny", overrides=["model.reduction_factor=2"])
    model = Tacotron2(config.model, 10, 80)
    decoder = model.decoder
    mean, std = torch.linspace(-8, 0, 80), torch.linspace(1, 3, 80)
    decoder.set_mel_statistics(mean, std)
    with torch.no_grad():
        decoder.mel_projection.weight.zero_()
        decoder.mel_projection.bias.zero_()
    frames = decoder.frames(torch.randn(3, decoder.mel_projection.in_features))
    assert frames.shape == (3, 2, 80) and torch.allclose(frames, mean.expand(3, 2, 80))
    first, second = decoder.prenet.layers
    x = mean + 2 * std  # two standard deviations above the mean in every bin
    with torch.no_grad():
        first.weight.zero_()
        first.weight[0].fill_(1.0)  # unit 0 sums its 80 standardized inputs: 80 * 2
        second.weight.zero_()
        second.weight[0, 0] = 1.0  # and passes on
    decoder.prenet.dropout = 0.0
    assert decoder.prenet_input(x[None])[0, 0].item() == pytest.approx(160.0, rel=1e-5)
