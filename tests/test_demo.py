"""The demo's contract on a short budget: corpus, training, report.json, sample.wav, alignment.png."""

import json

import numpy as np
import soundfile

from tacotron.cli import main

from conftest import FAST_OVERRIDES


def test_demo_writes_report_sample_and_alignment(corpus_en, tmp_path, capsys):
    out = tmp_path / "demo"
    metadata = (corpus_en / "metadata.csv").read_text()
    code = main(["demo", "--lang", "en", "--minutes", "0.15", "--out", str(out),
                 "--data", str(corpus_en), "--vocoder", "griffin-lim", *FAST_OVERRIDES,
                 "eval.demo_sentences=2"])
    assert code == 0, capsys.readouterr().err
    assert (corpus_en / "metadata.csv").read_text() == metadata  # a named corpus is never rewritten
    report = json.loads((out / "report.json").read_text())
    assert report["steps"] > 0 and 9 <= report["seconds"] <= 60
    assert set(report["val"]) == {"diagonality", "focus_rate", "monotonicity", "mel_l1"}
    assert all(0.0 <= report["val"][k] <= 1.0 for k in ("diagonality", "focus_rate", "monotonicity"))
    assert len(report["infer"]) >= 4
    for entry in report["infer"]:
        assert {"text", "frames", "stopped_by_gate", "diagonality", "focus_rate"} <= set(entry)
        assert entry["frames"] > 0 and isinstance(entry["stopped_by_gate"], bool)
    audio, rate = soundfile.read(out / "sample.wav")
    assert rate == 22050 and len(audio) == report["infer"][0]["frames"] * 256
    assert report["vocoder"] == "griffin-lim"
    heard = report["intelligibility"]
    assert heard["sentences"] == 2 and heard["voice_wer"] >= 0 and heard["voice_cer"] >= 0
    assert heard["source_wer"] <= 0.5 and heard["mcd_db"] > 0  # Whisper on eSpeak: mostly right
    assert np.isfinite(audio).all()
    png = (out / "alignment.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
