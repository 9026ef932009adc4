"""Intelligibility evaluation: MCD-DTW, the held-out set, and `tacotron evaluate` / training-time
evaluation end to end on a tiny model trained here."""

import json

import numpy as np
import pytest

from tacotron.audio.cepstral_distance import mel_cepstral_distortion
from tacotron.audio.espeak import EspeakVoice
from tacotron.cli import main
from tacotron.evaluation.intelligibility import held_out_sentences
from tacotron.evaluation.naturalness import naturalness_available
from tacotron.errors import UserError
from tacotron.text.error_rate import character_error_rate, word_error_rate

from support.overrides import FAST_OVERRIDES


def test_mcd_is_zero_for_the_same_audio_small_for_the_same_words_large_for_others():
    voice, slow = EspeakVoice("en"), EspeakVoice("en", words_per_minute=120)
    rate = voice.sample_rate
    sentence = voice.synthesize("walter squeezed seventeen tables.")
    same = mel_cepstral_distortion(sentence, sentence, rate)
    assert same.mcd_db == 0.0 and same.duration_ratio == 1.0
    assert mel_cepstral_distortion(sentence, 0.5 * sentence, rate).mcd_db < 0.1  # c0 (level) left out
    slower = slow.synthesize("walter squeezed seventeen tables.")
    warped = mel_cepstral_distortion(sentence, slower, rate)
    assert warped.duration_ratio == pytest.approx(len(slower) / len(sentence))
    other = mel_cepstral_distortion(sentence, voice.synthesize("a quiet fox slept in the old barn."), rate)
    noise = mel_cepstral_distortion(sentence, np.random.default_rng(0).normal(0, 0.1, len(sentence)), rate)
    # Same words at another speed: DTW lines them up; other words and noise stay far apart.
    assert 0.5 < warped.mcd_db < 5.0 < other.mcd_db < noise.mcd_db


def test_held_out_sentences_come_from_the_corpus_or_a_file(corpus_en, tmp_path):
    sentences = held_out_sentences(corpus_en, limit=3)
    assert [s.id for s in sentences] == ["en_test_001", "en_test_002", "en_test_003"]
    assert all(s.source is not None and s.source.is_file() for s in sentences)
    assert len(held_out_sentences(corpus_en)) == 24
    listing = tmp_path / "sentences.txt"
    listing.write_text("First one.\n\n  Second one.  \n", encoding="utf-8")
    from_file = held_out_sentences(sentences_file=listing)
    assert [(s.text, s.source) for s in from_file] == [("First one.", None), ("Second one.", None)]
    with pytest.raises(UserError, match="not found"):
        held_out_sentences(sentences_file=tmp_path / "absent.txt")


def test_evaluate_needs_sentences(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "--data" in capsys.readouterr().err


@pytest.mark.slow
def test_training_time_and_command_line_evaluation_end_to_end(corpus_en, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--data", str(corpus_en), "--out", str(run), "--preset", "cpu-tiny",
                 *FAST_OVERRIDES, "train.max_steps=4", "eval.every_validations=1", "eval.sentences=2",
                 "eval.vocoder=griffin-lim", "inference.max_retries=0", "monitor.tensorboard=false",
                 "inference.max_frames_per_symbol=4"])  # untrained babble: keep it short
    assert code == 0, capsys.readouterr().err
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["step"] == 4 and record["wer"] >= 0.5  # 4 steps of training: not yet speech
    assert record["cer"] > 0 and record["mcd_db"] > 5.0 and record["duration_ratio"] > 0
    assert record["eval_seconds"] > 0
    if naturalness_available():  # the real DistillMOS scores the voice and, once, its recordings
        assert 1.0 <= record["mos"] <= 5.0 and 1.0 <= record["source_mos"] <= 5.0
        assert record["source_mos"] > record["mos"]  # eSpeak's recordings above 4 steps of training
    else:
        assert "mos" not in record and "source_mos" not in record
    capsys.readouterr()
    assert main(["status", str(run)]) == 0
    shown = capsys.readouterr().out
    assert f"intelligibility: wer {record['wer']:.4g}" in shown
    assert ("naturalness: mos" in shown) == naturalness_available()

    out = tmp_path / "evaluation"
    code = main(["evaluate", str(run), "--data", str(corpus_en), "--limit", "3", "--out", str(out),
                 "--vocoder", "griffin-lim", "inference.max_retries=0", "inference.max_frames_per_symbol=4"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "evaluation.json").read_text())
    summary = report["summary"]
    assert summary["sentences"] == summary["sourced_sentences"] == 3
    # What Whisper hears in eSpeak moves with both models (benchmarks/whisper_on_espeak.py pins it);
    # what tacotron guarantees is the scoring of whatever was heard: each figure is that of the
    # transcripts the report shows, pooled over the sentences (not a mean of the sentences' rates).
    sentences = report["sentences"]
    references = [sentence["reference"] for sentence in sentences]
    for side in ("source", "voice"):
        heard = [sentence[side]["normalized"] for sentence in sentences]
        assert summary[f"{side}_wer"] == round(word_error_rate(references, heard), 4), side
        assert summary[f"{side}_cer"] == round(character_error_rate(references, heard), 4), side
        for sentence in sentences:
            said, transcript = sentence["reference"].split(), sentence[side]["normalized"].split()
            assert sentence[side]["wer"] == round(word_error_rate(sentence["reference"],
                                                                  sentence[side]["normalized"]), 4)
            assert set(sentence[side]["skipped"]) <= set(said) and len(sentence[side]["skipped"]) <= len(said)
            assert set(sentence[side]["repeated"]) <= set(transcript)
    assert summary["voice_wer_sourced"] == summary["voice_wer"]  # every sentence has its recording
    # Four steps of training against the recordings it imitates: heard worse than they are.
    assert summary["voice_wer"] >= 0.5 and summary["voice_cer"] > summary["source_cer"]
    assert summary["mcd_db"] > 5.0 and summary["duration_ratio"] > 0 and summary["rtf"] > 0
    assert sentences[0]["reference"] == "is her mayor really ancient"
    page = (out / "evaluation.html").read_text()
    assert page.count("<audio") == 6 and "data:image/png;base64," in page
    assert (out / "voice" / "en_test_003.wav").is_file() and (out / "source" / "en_test_003.wav").is_file()


def test_without_a_held_out_list_validation_utterances_are_evaluated(tmp_path):
    from tacotron.evaluation.callback import evaluation_sentences

    (tmp_path / "wavs").mkdir()
    (tmp_path / "wavs" / "a.wav").write_bytes(b"")
    sentences = evaluation_sentences(tmp_path, ["a", "b", "c"], ["Text a.", "Text b.", "Text c."], 2)
    assert [(s.id, s.text, s.source) for s in sentences] == [("a", "Text a.", tmp_path / "wavs" / "a.wav"),
                                                             ("b", "Text b.", None)]
    with pytest.raises(UserError, match="--sentences"):
        held_out_sentences(tmp_path)


def test_status_shows_the_last_intelligibility_figures(tmp_path):
    from tacotron.runs.events import Event, append_event
    from tacotron.monitoring.status import format_status, read_status

    append_event(tmp_path, Event("train_start", 0, {}))
    (tmp_path / "metrics.jsonl").write_text(
        '{"step": 100, "mel_l1": 1.2, "wer": 0.75, "cer": 0.5, "mcd_db": 9.5, "mos": 2.03, '
        '"source_mos": 4.08}\n'
        '{"step": 200, "mel_l1": 1.1}\n')
    status = read_status(tmp_path)
    assert status["intelligibility"]["step"] == 100
    shown = format_status(status)
    assert "intelligibility: wer 0.75  cer 0.5  mcd_db 9.5 (step 100)" in shown
    assert "naturalness: mos 2.03  source_mos 4.08 (predicted MOS 1-5, step 100)" in shown


def test_an_evaluation_reuses_given_syntheses_and_recordings_heard_in_a_second_process(corpus_en):
    """What the demo does: the held-out recordings are heard in another process while it trains, and
    the sentences it already spoke are not spoken again."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tacotron.audio.io import load_audio
    from tacotron.audio.recognizer import Recognizer
    from tacotron.config import load_config
    from tacotron.evaluation.intelligibility import evaluate_sentences, hear_recordings
    from tacotron.inference import Synthesis, Synthesizer

    settings = load_config("cpu-tiny", overrides=["eval.demo_sentences=2"]).eval
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        heard = pool.submit(hear_recordings, corpus_en, settings, "en", 22050).result()
    sentences = held_out_sentences(corpus_en, limit=2)
    assert set(heard) == {sentence.id for sentence in sentences}
    first = sentences[0]
    recording, _ = load_audio(first.source, 22050)
    # The "voice" of the first sentence is its own recording, spoken before: heard as the recording
    # is, at distance 0 from it, with the seconds it was given.
    given = Synthesis(text=first.text, waveform=recording, sample_rate=22050, segments=[])
    synthesizer = Synthesizer.from_checkpoint("base-en", vocoder="griffin-lim")
    recognizer = Recognizer(language="en", threads=1)
    evaluation = evaluate_sentences(synthesizer, recognizer, sentences, progress=False,
                                    heard_sources=heard, synthesized={first.id: (given, 0.5)})
    reused, spoken = evaluation.sentences
    assert reused.synthesis_seconds == 0.5 and reused.mcd_db == pytest.approx(0.0, abs=1e-6)
    assert reused.voice.normalized == reused.source.normalized
    assert reused.source is heard[first.id] and spoken.source is heard[sentences[1].id]
    assert spoken.mcd_db > 1.0 and spoken.synthesis_seconds != 0.5  # spoken by base-en here
