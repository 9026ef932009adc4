"""The demo's contract on a short budget: corpus, training, report.json, sample.wav, alignment.png."""

import io
import json

import numpy as np
import pytest
import soundfile
from PIL import Image

from tacotron.cli import main

from support.overrides import FAST_OVERRIDES

pytestmark = pytest.mark.slow  # trains the demo for its time budget


def test_demo_writes_report_sample_and_alignment(corpus_en, tmp_path, capsys):
    out = tmp_path / "demo"
    metadata = (corpus_en / "metadata.csv").read_text()
    code = main(["demo", "--lang", "en", "--minutes", "0.15", "--out", str(out), "--from-scratch",
                 "--data", str(corpus_en), "--vocoder", "griffin-lim", *FAST_OVERRIDES,
                 "eval.demo_sentences=2"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "hearing the recordings beside training failed" not in err  # heard in the second process
    assert (corpus_en / "metadata.csv").read_text() == metadata  # a named corpus is never rewritten
    report = json.loads((out / "report.json").read_text())
    # The budget decides when training stops, not how fast this machine is: a run stopped by the
    # clock trained at least the budget (0.15 min), one stopped by max_steps took any time.
    assert report["steps"] > 0 and report["seconds"] > 0
    assert report["stop_reason"] in ("time_budget", "max_steps")
    if report["stop_reason"] == "time_budget":
        assert report["seconds"] >= 9
    assert set(report["val"]) == {"diagonality", "focus_rate", "monotonicity", "mel_l1"}
    assert all(0.0 <= report["val"][k] <= 1.0 for k in ("diagonality", "focus_rate", "monotonicity"))
    assert len(report["infer"]) >= 4
    for entry in report["infer"]:
        assert {"text", "frames", "stopped_by_gate", "diagonality", "focus_rate"} <= set(entry)
        assert entry["frames"] > 0 and isinstance(entry["stopped_by_gate"], bool)
    audio, rate = soundfile.read(out / "sample.wav")
    # Post-processing trims leading/trailing silence, so the sample is at most the decoded frames
    # (256 samples each) and how much is trimmed depends on how far the model got.
    assert rate == 22050 and 0 < len(audio) <= report["infer"][0]["frames"] * 256
    assert report["vocoder"] == "griffin-lim"
    heard = report["intelligibility"]
    # Seconds of training against the recordings it imitates: Whisper hears the voice worse than its
    # sources. A report that scored the sources as the voice (or either as the reference) would not
    # say so. How well Whisper hears eSpeak itself is benchmarks/whisper_on_espeak.py's to pin.
    assert heard["sentences"] == 2 and heard["mcd_db"] > 0
    assert heard["voice_wer"] > heard["source_wer"] and heard["voice_cer"] > heard["source_cer"]
    assert np.isfinite(audio).all()
    png = (out / "alignment.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # A real picture of both panels (was len(png) > 10_000, a size that held for the matplotlib
    # figure; the one renderer, monitoring/plots.py, draws compact cells that compress better).
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    assert picture.size[0] >= 200 and picture.size[1] >= 40
    assert len(set(picture.getdata())) > 20  # the viridis shades of an alignment, not a blank


def test_demo_fine_tunes_its_base_in_the_base_shape(corpus_en, tmp_path, capsys):
    """The default path: the demo starts from a trained voice (here a small run of another model size
    than cpu-tiny's) and keeps its shape; the report names the base, training starts from its weights."""
    base = tmp_path / "base"
    assert main(["train", "--data", str(corpus_en), "--out", str(base), "--preset", "cpu-tiny",
                 *FAST_OVERRIDES, "train.max_steps=4"]) == 0
    base_l1 = json.loads(capsys.readouterr().out)["val"]["mel_l1"]
    out = tmp_path / "demo"
    train_settings = [item for item in FAST_OVERRIDES if not item.startswith("model.")]
    code = main(["demo", "--lang", "en", "--minutes", "0.1", "--out", str(out), "--base", str(base),
                 "--data", str(corpus_en), "--vocoder", "griffin-lim", *train_settings,
                 "eval.demo_sentences=1", "train.max_steps=4", "train.learning_rate=1e-6"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["base"] == str(base) and report["steps"] == 4
    # the base's weights at a learning rate too small to move them: the base's validation loss
    assert abs(report["val"]["mel_l1"] - base_l1) < 0.02 * base_l1


def test_training_takes_every_core_once_the_recordings_are_heard():
    import os
    from concurrent.futures import Future

    import torch

    from tacotron.demo import AllThreadsWhenDone

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        heard = Future()
        callback = AllThreadsWhenDone(heard)
        callback.on_step_end(None, {})
        assert torch.get_num_threads() == 1  # still hearing: the other core is theirs
        heard.set_result({})
        callback.on_step_end(None, {})
        assert torch.get_num_threads() == (os.cpu_count() or 1)
    finally:
        torch.set_num_threads(before)
