import json
import os

import numpy as np
import pytest
import soundfile

from tacotron.config import Config
from tacotron.data import prepare as prepare_module
from tacotron.data.prepare import _assign_split, load_prepared, prepare, prepared_dir
from tacotron.errors import DataError

SR = 22050
TEXTS = [
    "the cat sat here",
    "a dog ran far",
    "we sing a song",
    "look at the sky",
    "it is so cold",
    "bring me a cup",
    "the sun is up",
    "read this book",
    "open the door",
    "she walks home",
]


def tone(seconds=1.0, sample_rate=SR, channels=1, amplitude=0.3, seed=0):
    """A 220 Hz tone with a little noise, so that every file has different bytes."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(seed)
    mono = amplitude * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(len(t))
    return np.stack([mono] * channels, axis=1).astype(np.float32)


def write_wav(path, samples, sample_rate=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, sample_rate)


def make_corpus(root, count=10):
    """An LJSpeech-layout folder with `count` good utterances u0, u1, ... of 1 to 1.42 seconds."""
    lines = []
    for i in range(count):
        # Varied durations give the speaking rates a realistic spread (MAD) for the outlier check.
        write_wav(root / "wavs" / f"u{i}.wav", tone(seconds=1.0 + 0.07 * (i % 7), seed=i))
        lines.append(f"u{i}|{TEXTS[i % len(TEXTS)]}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def make_config(**data):
    config = Config()
    config.text.language = "en"
    config.text.input = "characters"  # these checks are of the text as written
    config.data.num_workers = 1
    for key, value in data.items():
        setattr(config.data, key, value)
    return config


def by_line(problems):
    return {p.line: (p.action, p.reason) for p in problems}


def test_reports_every_problem_with_file_and_line(tmp_path):
    lines = make_corpus(tmp_path)  # lines 1-10 are good
    wavs = tmp_path / "wavs"
    write_wav(wavs / "stereo.wav", tone(channels=2, seed=20))
    write_wav(wavs / "rate44k.wav", tone(sample_rate=44100, seed=21), sample_rate=44100)
    (wavs / "garbage.wav").write_bytes(b"not a wav file" * 100)
    write_wav(wavs / "empty.wav", tone(seed=22))
    write_wav(wavs / "unknown.wav", tone(seed=23))
    write_wav(wavs / "short.wav", tone(seconds=0.1, seed=24))
    write_wav(wavs / "long.wav", tone(seconds=4.0, seed=25))
    write_wav(wavs / "fast.wav", tone(seed=26))
    write_wav(wavs / "clipped.wav", np.clip(tone(amplitude=3.0, seed=27), -1, 1))
    lines += [
        "stereo|the cat sat here",  # 11
        "rate44k|a dog ran far",  # 12
        "missing|we sing a song",  # 13
        "garbage|look at the sky",  # 14
        "just one field",  # 15
        "empty|",  # 16
        "unknown|hello @ ж",  # 17
        "short|it is so cold",  # 18
        "long|bring me a cup",  # 19
        "fast|" + "this transcript is far too long for one second of audio " * 3,  # 20
        "clipped|the sun is up",  # 21
        "u0|a duplicate of the first line",  # 22
        "a|b|c|d|e",  # 23 (a fourth column names the speaker; five is too many)
    ]
    (tmp_path / "metadata.csv").write_text("\n".join(lines) + "\n\n", encoding="utf-8")

    data = prepare(tmp_path, make_config(max_seconds=3.0), progress=False)

    metadata = str(tmp_path / "metadata.csv")
    assert all(p.file == metadata for p in data.problems)
    problems = by_line(data.problems)
    expected = {
        11: ("fixed", "downmixed to mono"),
        12: ("fixed", "resampled to 22050 Hz"),
        13: ("skipped", "audio file not found"),
        14: ("skipped", "unreadable audio"),
        15: ("skipped", "wrong number of fields"),
        16: ("skipped", "empty text after normalization"),
        17: ("skipped", "unknown characters: '@', 'ж'"),
        18: ("skipped", "duration out of range"),
        19: ("skipped", "duration out of range"),
        20: ("skipped", "speaking rate outlier"),
        21: ("warning", "clipping"),
        22: ("skipped", "duplicate id: 'u0' is already on line 1"),
        23: ("skipped", "wrong number of fields"),
    }
    assert set(problems) == set(expected)
    for line, (action, reason) in expected.items():
        assert problems[line][0] == action, line
        assert problems[line][1].startswith(reason), (line, problems[line])
    assert str(tmp_path / "wavs" / "missing.wav") in problems[13][1]

    kept = {u.id for u in data.train + data.val}
    assert kept == {f"u{i}" for i in range(10)} | {"stereo", "rate44k", "clipped"}
    report = (data.root / "report.txt").read_text(encoding="utf-8").splitlines()
    assert report[0] == f"{metadata}:11: fixed: downmixed to mono: the file has 2 channels"
    assert len(report) == len(data.problems)
    summary = data.summary()
    assert "13 utterances (0.2 min)" in summary and "10 skipped, 2 fixed, 1 warning" in summary
    assert "duration out of range: 2" in summary


def test_fixed_audio_is_downmixed_and_resampled(tmp_path):
    make_corpus(tmp_path)
    write_wav(tmp_path / "wavs" / "u0.wav", tone(seconds=1.5, sample_rate=44100, channels=2), 44100)
    data = prepare(tmp_path, make_config(), progress=False)
    u0 = next(u for u in data.train + data.val if u.id == "u0")
    assert u0.seconds == pytest.approx(1.5)
    assert u0.frames == int(1.5 * SR) // 256  # frames at 22.05 kHz
    assert sorted(p.action for p in data.problems) == ["fixed", "fixed"]


def test_filelist_with_relative_and_absolute_paths(tmp_path):
    write_wav(tmp_path / "audio" / "one.wav", tone(seed=1))
    write_wav(tmp_path / "audio" / "two.wav", tone(seed=2))
    filelist = tmp_path / "lists" / "train.txt"
    filelist.parent.mkdir()
    filelist.write_text(
        f"../audio/one.wav|the cat sat here\n{tmp_path / 'audio' / 'two.wav'}|a dog ran far\n"
        "../audio/three.wav|we sing a song\nno separator here\n",
        encoding="utf-8",
    )
    data = prepare(filelist, make_config(), progress=False)
    assert data.root == tmp_path / "lists" / "train_prepared" == prepared_dir(filelist)
    assert sorted(u.id for u in data.train + data.val) == ["one", "two"]
    assert {(p.line, p.action) for p in data.problems} == {(3, "skipped"), (4, "skipped")}


def test_second_run_reuses_cache_and_notices_changes(tmp_path):
    make_corpus(tmp_path)
    config = make_config()
    first = prepare(tmp_path, config, progress=False)
    assert first.mels_computed == 10
    mtimes = {p.name: p.stat().st_mtime_ns for p in (first.root / "mels").iterdir()}

    again = prepare(tmp_path, config, progress=False)
    assert again.mels_computed == 0
    assert {p.name: p.stat().st_mtime_ns for p in (first.root / "mels").iterdir()} == mtimes

    # A new timestamp on the same bytes is recognised by the hash.
    os.utime(tmp_path / "wavs" / "u1.wav", ns=(1, 1))
    assert prepare(tmp_path, config, progress=False).mels_computed == 0

    # New content (same size: same length and format) is recomputed.
    old_mel = np.load(first.root / "mels" / "u2.npy")
    mtime_ns = (tmp_path / "wavs" / "u2.wav").stat().st_mtime_ns
    write_wav(tmp_path / "wavs" / "u2.wav", tone(seed=99))
    os.utime(tmp_path / "wavs" / "u2.wav", ns=(mtime_ns, mtime_ns + 10**9))  # even on coarse clocks
    changed = prepare(tmp_path, config, progress=False)
    assert changed.mels_computed == 1
    assert not np.array_equal(np.load(first.root / "mels" / "u2.npy"), old_mel)
    loaded = load_prepared(tmp_path)
    assert (loaded.train, loaded.val) == (changed.train, changed.val)

    # Different mel settings invalidate every cached mel.
    config.audio.log_floor = 1e-4
    assert prepare(tmp_path, config, progress=False).mels_computed == 10


def test_mel_files_match_frames_and_load_prepared(tmp_path):
    make_corpus(tmp_path)
    (tmp_path / "metadata.csv").write_text("u0|Dr. Smith paid $5.|ignored hint\nu1|a dog ran far\n")
    data = prepare(tmp_path, make_config(), progress=False)
    for utterance in data.train + data.val:
        mel = np.load(utterance.mel_path)
        assert mel.dtype == np.float32 and mel.shape == (80, utterance.frames)
    u0 = next(u for u in data.train + data.val if u.id == "u0")
    assert u0.text == "Dr. Smith paid $5." and u0.normalized != "ignored hint"
    loaded = load_prepared(tmp_path)
    assert (loaded.train, loaded.val, loaded.language) == (data.train, data.val, "en")
    row = json.loads((data.root / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert row["mel_path"].startswith("mels/")
    info = json.loads((data.root / "prepared.json").read_text(encoding="utf-8"))
    assert info["counts"]["train"] + info["counts"]["val"] == 2 and info["audio"]["n_mels"] == 80


def test_split_is_stable_and_new_ids_go_to_train(tmp_path):
    lines = make_corpus(tmp_path, count=25)
    config = make_config(val_size=32)
    first = prepare(tmp_path, config, progress=False)
    assert len(first.val) == 2  # 10% of 25
    val_ids = [u.id for u in first.val]
    assert [u.id for u in prepare(tmp_path, config, progress=False).val] == val_ids

    write_wav(tmp_path / "wavs" / "new.wav", tone(seed=50))
    (tmp_path / "metadata.csv").write_text("\n".join(lines + ["new|the cat sat here"]) + "\n")
    later = prepare(tmp_path, config, progress=False)
    assert [u.id for u in later.val] == val_ids
    assert "new" in {u.id for u in later.train}
    split = json.loads((later.root / "split.json").read_text())
    assert split["new"] == "train" and sum(v == "val" for v in split.values()) == 2


def test_val_size_rule():
    ids = [f"id{i}" for i in range(500)]
    assert list(_assign_split(ids, {}, 32).values()).count("val") == 32
    assert list(_assign_split(ids[:100], {}, 32).values()).count("val") == 10
    assert list(_assign_split(ids[:5], {}, 32).values()).count("val") == 1
    assert list(_assign_split(ids[:2], {}, 32).values()).count("val") == 1
    assert list(_assign_split(ids[:1], {}, 32).values()).count("val") == 0
    assert _assign_split(ids[:40], {}, 32) == _assign_split(list(reversed(ids[:40])), {}, 32)


def test_unknown_layout_is_a_data_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="metadata.csv.*filelist"):
        prepare(tmp_path / "empty", make_config(), progress=False)
    with pytest.raises(DataError, match="does not exist"):
        prepare(tmp_path / "nowhere", make_config(), progress=False)
    binary = tmp_path / "audio.wav"
    write_wav(binary, tone())
    with pytest.raises(DataError, match="UTF-8.*filelist"):
        prepare(binary, make_config(), progress=False)
    with pytest.raises(DataError, match="not prepared"):
        load_prepared(tmp_path / "empty")


def test_all_bad_data_is_a_data_error_naming_the_report(tmp_path):
    (tmp_path / "metadata.csv").write_text("a|hello there\nb|good morning\n", encoding="utf-8")
    with pytest.raises(DataError, match="report.txt"):
        prepare(tmp_path, make_config(), progress=False)
    report = (prepared_dir(tmp_path) / "report.txt").read_text(encoding="utf-8")
    assert "metadata.csv:1: skipped: audio file not found" in report
    assert "metadata.csv:2: skipped: audio file not found" in report


def test_worker_processes_give_the_same_mels(tmp_path, monkeypatch):
    make_corpus(tmp_path)
    serial = prepare(tmp_path, make_config(), progress=False)
    expected = {u.id: np.load(u.mel_path) for u in serial.train + serial.val}
    monkeypatch.setattr(prepare_module, "POOL_MIN_JOBS", 1)
    config = make_config(num_workers=2)
    config.audio.log_floor = 1e-4  # forces recomputation, in worker processes
    parallel = prepare(tmp_path, config, progress=False)
    assert parallel.mels_computed == 10
    for utterance in parallel.train + parallel.val:
        actual = np.load(utterance.mel_path)
        np.testing.assert_allclose(actual, np.maximum(expected[utterance.id], np.log(1e-4)), atol=1e-5)
