"""`prepare` and `dataset make` on corrupted inputs, every one generated here (no committed binaries):
truncated and zero-length WAVs, headers that lie about their length, rate, channels or format, samples
that are not numbers, listings in a Windows code page, UTF-16 or with a BOM, NUL bytes, line
separators inside a text, too many or too few fields, duplicate and impossible ids, a transcript in
another language.

Each case checks the documented behaviour (data/prepare.py, data/recordings/maker.py): the problem is
reported with its file (and line, for a listing) and a reason, a bad line or file is skipped (or
fixed: resampled, downmixed) and the rest is prepared, a listing that cannot be read stops the run
with a DataError; and no output is left that a later run would take as complete: after a failure no
prepared.json (prepare's completion marker, written last) stands for data that no longer reads, and
what was prepared loads back whole (load_prepared), every mel finite and as long as recorded.

A Hypothesis property reads arbitrary metadata lines: every line is accounted for once, at its own
line number, with its own id and text."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tacotron.data.prepare import _read_listing, load_prepared, prepare, prepared_dir
from tacotron.errors import DataError, UserError

from test_prepare import SR, make_config, make_corpus, tone, write_wav

BAD_LINE = 11  # make_corpus writes lines 1-10; the case's line comes after them
BAD_TEXT = "the cat sat here"


# ------------------------------------------------------------------ WAV bytes
def wav_bytes(seconds: float = 1.0, sample_rate: int = SR, channels: int = 1, subtype: str = "PCM_16",
              samples: np.ndarray | None = None) -> bytes:
    """A WAV file's bytes: a tone, or `samples` [T] (copied to every channel)."""
    mono = tone(seconds, sample_rate)[:, 0] if samples is None else samples
    buffer = io.BytesIO()
    soundfile.write(buffer, np.stack([mono] * channels, axis=1), sample_rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


# Offsets of the fields of the canonical 44-byte header (RIFF, fmt of 16 bytes, data) soundfile writes
# for 16-bit PCM.
HEADER_FIELDS = {"riff_size": (4, "<I"), "format": (20, "<H"), "channels": (22, "<H"),
                 "sample_rate": (24, "<I"), "byte_rate": (28, "<I"), "block_align": (32, "<H"),
                 "bits": (34, "<H"), "data_size": (40, "<I")}


def lying(**fields) -> bytes:
    """A 1 s 16-bit mono WAV whose header says otherwise in `fields` (HEADER_FIELDS)."""
    data = bytearray(wav_bytes())
    assert data[36:40] == b"data", "soundfile no longer writes the canonical header"
    for name, value in fields.items():
        offset, layout = HEADER_FIELDS[name]
        struct.pack_into(layout, data, offset, value)
    return bytes(data)


def with_samples(*values: float) -> bytes:
    """A 1 s float WAV with `values` written over its first samples (NaN, infinity)."""
    samples = tone(1.0)[:, 0].copy()
    samples[:len(values)] = values
    return wav_bytes(subtype="FLOAT", samples=samples)


WHOLE = wav_bytes()
# (case, the bytes of wavs/bad.wav, [(action, reason prefix)] reported on its line: [] when none)
AUDIO_CASES = [
    ("zero-length", b"", [("skipped", "unreadable audio: empty file (0 bytes)")]),
    ("header without samples", WHOLE[:44],
     [("skipped", "truncated audio: the WAV header declares 1.00 s, the file holds 0.00 s")]),
    ("cut inside the header", WHOLE[:20], [("skipped", "unreadable audio: not an audio file")]),
    ("truncated", WHOLE[:44 + SR],  # half of its 16-bit samples
     [("skipped", "truncated audio: the WAV header declares 1.00 s, the file holds 0.50 s")]),
    ("header declares more than the file", lying(data_size=10**8),
     [("skipped", "truncated audio: the WAV header declares 2267.57 s, the file holds 1.00 s")]),
    ("header declares less than the file", lying(data_size=100), [("skipped", "duration out of range")]),
    ("stream header of unknown length", lying(riff_size=0xFFFFFFFF, data_size=0xFFFFFFFF), []),
    ("RIFF size 0", lying(riff_size=0), []),
    ("8 kHz", wav_bytes(sample_rate=8000), [("fixed", "resampled to 22050 Hz: the file is 8000 Hz")]),
    ("48 kHz", wav_bytes(sample_rate=48000), [("fixed", "resampled to 22050 Hz: the file is 48000 Hz")]),
    ("header says 1 Hz", lying(sample_rate=1, byte_rate=2),
     [("skipped", "unreadable audio: its header says 1 Hz, outside the 4000-768000 Hz")]),
    ("header says 0 Hz", lying(sample_rate=0, byte_rate=0), [("skipped", "unreadable audio")]),
    ("six channels", wav_bytes(channels=6), [("fixed", "downmixed to mono: the file has 6 channels")]),
    ("stereo at 44.1 kHz", wav_bytes(sample_rate=44100, channels=2),
     [("fixed", "downmixed to mono: the file has 2 channels"), ("fixed", "resampled to 22050 Hz")]),
    ("zero channels", lying(channels=0), [("skipped", "unreadable audio")]),
    ("unknown format tag", lying(format=99), [("skipped", "unreadable audio: no decoder for its audio")]),
    ("0 bits per sample", lying(bits=0), [("skipped", "unreadable audio")]),
    ("NaN samples", with_samples(np.nan, np.nan), [("skipped", "unreadable audio: 2 of its 22050 samples "
                                                               "are NaN or infinite")]),
    ("an infinite sample", with_samples(np.inf), [("skipped", "unreadable audio: 1 of its")]),
    ("text named .wav", b"this is not audio at all\n" * 40, [("skipped", "unreadable audio: not an audio file")]),
]


def check_prepared_whole(data, source) -> None:
    """What prepare returned is what load_prepared reads back: the same ids in each split, every
    mel on disk finite and as long as its row says."""
    loaded = load_prepared(source)
    assert [u.id for u in loaded.train] == [u.id for u in data.train]
    assert [u.id for u in loaded.val] == [u.id for u in data.val]
    assert [(u.text, u.normalized) for u in loaded.train + loaded.val] == [
        (u.text, u.normalized) for u in data.train + data.val]
    for utterance in loaded.train + loaded.val:
        mel = np.load(utterance.mel_path)
        assert mel.shape[1] == utterance.frames > 0 and np.isfinite(mel).all(), utterance.id


def problems_on(data, line: int) -> list[tuple[str, str]]:
    return [(p.action, p.reason) for p in data.problems if p.line == line]


@pytest.mark.parametrize("case,content,expected", AUDIO_CASES, ids=[case[0] for case in AUDIO_CASES])
def test_a_corrupted_wav_is_reported_on_its_line_and_the_rest_is_prepared(tmp_path, case, content, expected):
    make_corpus(tmp_path)
    (tmp_path / "wavs" / "bad.wav").write_bytes(content)
    with open(tmp_path / "metadata.csv", "a", encoding="utf-8") as listing:
        listing.write(f"bad|{BAD_TEXT}\n")

    data = prepare(tmp_path, make_config(max_seconds=3.0), progress=False)

    metadata = str(tmp_path / "metadata.csv")
    found = problems_on(data, BAD_LINE)
    assert len(found) == len(expected), found
    for (action, reason), (wanted_action, wanted_reason) in zip(sorted(found), sorted(expected)):
        assert action == wanted_action and reason.startswith(wanted_reason), (found, expected)
    assert all(p.file == metadata and p.id == "bad" for p in data.problems), data.problems
    assert len(data.problems) == len(expected)  # the good lines have none
    kept = {u.id for u in data.train + data.val}
    skipped = any(action == "skipped" for action, _ in expected)
    assert kept == {f"u{i}" for i in range(10)} | (set() if skipped else {"bad"})
    report = (data.root / "report.txt").read_text(encoding="utf-8")
    assert all(f"{metadata}:{BAD_LINE}: {action}: {reason}" in report for action, reason in found)
    check_prepared_whole(data, tmp_path)


def test_a_wav_truncated_after_it_was_prepared_is_skipped_the_next_time(tmp_path):
    """Its cached mel (of the whole file) must not stand in for the file as it is now."""
    make_corpus(tmp_path)
    first = prepare(tmp_path, make_config(), progress=False)
    assert "u3" in {u.id for u in first.train + first.val}
    wav = tmp_path / "wavs" / "u3.wav"
    wav.write_bytes(wav.read_bytes()[:44 + 4000])
    again = prepare(tmp_path, make_config(), progress=False)
    assert problems_on(again, 4)[0][1].startswith("truncated audio: the WAV header declares 1.21 s")
    assert "u3" not in {u.id for u in again.train + again.val}
    check_prepared_whole(again, tmp_path)


# ------------------------------------------------------------------ listings
def corpus_lines(root) -> list[str]:
    make_corpus(root)
    return (root / "metadata.csv").read_text(encoding="utf-8").splitlines()


def write_listing(root, lines: list[str], encoding: str = "utf-8", newline: str = "\n", prefix: bytes = b""):
    (root / "metadata.csv").write_bytes(prefix + newline.join(lines).encode(encoding) + newline.encode())


# (case, how the listing is written from the 10 good lines, [(line, action, reason prefix)])
LISTING_CASES = [
    ("UTF-8 with a BOM", lambda root, lines: write_listing(root, lines, prefix=b"\xef\xbb\xbf"), []),
    ("CRLF line ends", lambda root, lines: write_listing(root, lines, newline="\r\n"), []),
    ("CR line ends", lambda root, lines: write_listing(root, lines, newline="\r"), []),
    ("a NUL in a text", lambda root, lines: write_listing(root, [*lines, "u0x|the cat\x00 sat"]),
     [(11, "skipped", "unknown characters: '\\x00'")]),
    ("a NUL in an id", lambda root, lines: write_listing(root, [*lines, "u\x001|the cat sat"]),
     [(11, "skipped", "invalid id")]),
    ("line separators inside texts", lambda root, lines: write_listing(root, [
        "u0|the cat\u2028sat here", "u1|a dog\x85ran far", *lines[2:4], "u4|it is\x1cso cold",
        "u5|bring me\x0ba cup", *lines[6:], "u0|a duplicate after them"]),
     [(11, "skipped", "duplicate id: 'u0' is already on line 1")]),
    ("too many fields", lambda root, lines: write_listing(root, [*lines, "u0x|a|b|c|d"]),
     [(11, "skipped", "wrong number of fields")]),
    ("too few fields", lambda root, lines: write_listing(root, [*lines, "u0x"]),
     [(11, "skipped", "wrong number of fields")]),
    ("an empty id", lambda root, lines: write_listing(root, [*lines, "|the cat sat"]), [(11, "skipped", "invalid id")]),
    ("a path as id", lambda root, lines: write_listing(root, [*lines, "../u1|the cat sat"]),
     [(11, "skipped", "invalid id")]),
    ("duplicate ids", lambda root, lines: write_listing(root, [*lines, lines[4].replace("u4|", "u4|not ")]),
     [(11, "skipped", "duplicate id: 'u4' is already on line 5")]),
    ("a transcript in another language", lambda root, lines: write_listing(root, [*lines[:9], "u9|привет мир"]),
     [(10, "skipped", "unknown characters: ")]),
    ("an id as long as a file name may be", lambda root, lines: (
        write_wav(root / "wavs" / f"{'x' * 240}.wav", tone(seed=40)),
        write_listing(root, [*lines, f"{'x' * 240}|{BAD_TEXT}"])), []),
]


@pytest.mark.parametrize("case,write,expected", LISTING_CASES, ids=[case[0] for case in LISTING_CASES])
def test_a_corrupted_listing_line_is_reported_on_its_line(tmp_path, case, write, expected):
    lines = corpus_lines(tmp_path)
    write(tmp_path, lines)
    data = prepare(tmp_path, make_config(), progress=False)
    metadata = str(tmp_path / "metadata.csv")
    found = sorted((p.line, p.action, p.reason) for p in data.problems)
    assert len(found) == len(expected), found
    for (line, action, reason), wanted in zip(found, sorted(expected)):
        assert (line, action) == wanted[:2] and reason.startswith(wanted[2]), (found, expected)
    assert all(p.file == metadata for p in data.problems)
    kept = {u.id: u for u in data.train + data.val}
    # A corpus line reported skipped (u{i} is on line i + 1) is not among the kept, and every other is.
    assert len(kept) == 10 - sum(line <= 10 for line, _, _ in found) + (case == "an id as long as a file name may be")
    assert {line for line, _, _ in found if line <= 10}.isdisjoint(
        {int(u.id[1:]) + 1 for u in kept.values() if u.id[1:].isdigit()})
    if case == "UTF-8 with a BOM":
        assert "u0" in kept  # the BOM is not part of the first id
    if case == "line separators inside texts":  # each text whole, on its own line, through load_prepared
        assert kept["u0"].text == "the cat\u2028sat here" and kept["u1"].text == "a dog\x85ran far"
        assert kept["u0"].normalized == "the cat sat here"
    check_prepared_whole(data, tmp_path)


# (case, the listing's bytes, what the DataError says)
UNREADABLE_LISTINGS = [
    ("cp1251", lambda lines: "\n".join([*lines[:2], "u2|привет мир", *lines[3:]]).encode("cp1251"),
     r"metadata.csv:3: not UTF-8 text: byte 0xef at column 4 \(a Windows code page"),
    ("cp1252 after a good UTF-8 line", lambda lines: "\n".join([lines[0], "u1|café au lait"]).encode("cp1252"),
     r"metadata.csv:2: not UTF-8 text: byte 0xe9 at column 7"),
    ("UTF-16", lambda lines: "\n".join(lines).encode("utf-16"), r"metadata.csv:1: not UTF-8 text: it is UTF-16"),
    ("empty", lambda lines: b"", r"no usable utterance"),
    ("blank lines only", lambda lines: b"\n \n\t\n\n", r"no usable utterance"),
    ("every line bad", lambda lines: "\n".join(f"{line}|x|y|z" for line in lines).encode(), r"no usable utterance"),
]


@pytest.mark.parametrize("case,content,message", UNREADABLE_LISTINGS, ids=[case[0] for case in UNREADABLE_LISTINGS])
def test_an_unreadable_listing_stops_prepare_and_leaves_no_prepared_data(tmp_path, case, content, message):
    """A listing prepare cannot use stops it with a DataError naming the file (and line), and the
    data set prepared from it before is no longer marked prepared: nothing would train on the old
    version of a listing that has changed."""
    lines = corpus_lines(tmp_path)
    prepare(tmp_path, make_config(), progress=False)
    assert (prepared_dir(tmp_path) / "prepared.json").is_file()
    (tmp_path / "metadata.csv").write_bytes(content(lines))
    with pytest.raises(DataError, match=message):
        prepare(tmp_path, make_config(), progress=False)
    assert not (prepared_dir(tmp_path) / "prepared.json").exists()
    with pytest.raises(DataError, match="not prepared"):
        load_prepared(tmp_path)


def test_speaker_folder_transcripts_in_another_encoding_or_with_a_bom(tmp_path):
    for speaker, utterance in (("anna", "1"), ("anna", "2"), ("boris", "1"), ("boris", "2")):
        write_wav(tmp_path / speaker / f"{utterance}.wav", tone(seconds=1.1, seed=hash(speaker) % 100 + int(utterance)))
    (tmp_path / "anna" / "1.txt").write_bytes("the cat sat here".encode("utf-8-sig"))
    (tmp_path / "anna" / "2.txt").write_bytes("a dog ran far".encode())
    (tmp_path / "boris" / "1.txt").write_bytes("we sing a song".encode())
    (tmp_path / "boris" / "2.txt").write_bytes("it is\nso cold\nпривет".encode("cp1251"))
    data = prepare(tmp_path, make_config(), progress=False)
    assert [(p.file, p.line, p.action) for p in data.problems] == [(str(tmp_path / "boris" / "2.txt"), 3, "skipped")]
    assert data.problems[0].reason.startswith("no transcript: not UTF-8 text: byte 0xef at column 1")
    kept = {u.id: u.text for u in data.train + data.val}
    assert kept == {"anna_1": "the cat sat here", "anna_2": "a dog ran far", "boris_1": "we sing a song"}
    check_prepared_whole(data, tmp_path)


def test_a_filelist_path_with_a_nul_is_an_invalid_id(tmp_path):
    for number in range(3):
        write_wav(tmp_path / "audio" / f"a{number}.wav", tone(seed=number))
    filelist = tmp_path / "list.txt"
    filelist.write_text("audio/a0.wav|the cat sat here\naudio/a\x001.wav|a dog ran far\naudio/a2.wav|we sing a song\n",
                        encoding="utf-8")
    data = prepare(filelist, make_config(), progress=False)
    assert [(p.line, p.reason.split(":")[0]) for p in data.problems] == [(2, "invalid id")]
    assert {u.id for u in data.train + data.val} == {"a0", "a2"}


# ------------------------------------------------------------------ a property of the listing reader
# Any text but the line ends ("\n", "\r") and what UTF-8 cannot hold (lone surrogates): every
# other separator str.splitlines knows (U+2028, U+0085, \v, \f, \x1c-\x1e) is drawn often, and
# "|" makes lines of any number of fields.
CHARACTER = st.characters(exclude_characters="\n\r", exclude_categories=["Cs"])
ID = st.one_of(st.sampled_from([f"u{i}" for i in range(5)]), st.text(CHARACTER, max_size=6))
FIELD = st.lists(st.one_of(CHARACTER,
                           st.sampled_from(["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e",
                                            "|", " ", "\x00", "\ufeff"])), max_size=12).map("".join)
LINE = st.one_of(st.tuples(ID, FIELD).map("|".join), st.tuples(ID, FIELD, FIELD, FIELD).map("|".join), FIELD)
_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
LISTING_FAST = settings(max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=_HEALTH)
LISTING_DEEP = settings(max_examples=1000, deadline=None, suppress_health_check=_HEALTH)


@pytest.fixture(scope="module")
def listing_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("listing")
    make_corpus(root, count=5)
    return root


@LISTING_FAST
@given(lines=st.lists(LINE, min_size=1, max_size=12))
@example(lines=["u0|the cat\u2028sat", "u1|a dog", "u0|again"])  # U+2028 split line 1 in two, before
@example(lines=["u0|a\x85b", "u1|c\x1cd|e|f"])
def test_every_listing_line_is_read_at_its_own_number_with_its_own_id_and_text(listing_corpus, lines):
    check_listing(listing_corpus, lines)


@pytest.mark.slow
@LISTING_DEEP
@given(lines=st.lists(LINE, min_size=1, max_size=30))
def test_every_listing_line_is_read_at_its_own_number_with_its_own_id_and_text_thorough(listing_corpus, lines):
    check_listing(listing_corpus, lines)


def check_listing(listing_corpus, lines: list[str]) -> None:
    content = "\n".join(lines) + "\n"
    (listing_corpus / "metadata.csv").write_text(content, encoding="utf-8", newline="")
    kept, problems = _read_listing(listing_corpus)
    physical = content.removeprefix("\ufeff").split("\n")  # a BOM at the start is the encoding's mark
    seen = {}
    for line_number, item_id, text in [(k.line, k.id, k.text) for k in kept] + [(p.line, p.id, None) for p in problems]:
        assert 1 <= line_number <= len(lines), (line_number, lines)
        assert line_number not in seen, f"line {line_number} read twice"
        fields = [field.strip() for field in physical[line_number - 1].split("|")]
        assert item_id == fields[0], (line_number, item_id, fields)
        if text is not None:
            assert text == fields[1]
        seen[line_number] = item_id
    assert all(p.file == str(listing_corpus / "metadata.csv") for p in problems)
    # Every line with anything on it is kept or reported; blank ones are passed over.
    assert set(seen) == {number for number, line in enumerate(physical[:-1], 1) if line.strip()}


# ------------------------------------------------------------------ dataset make
def test_dataset_make_names_each_corrupted_recording_and_its_reason(tmp_path):
    """Bad sources only (no Whisper runs): each gets its lines, the run finishes with an empty data set."""
    from tacotron.config import load_config
    from tacotron.data.recordings.maker import DatasetMaker

    source = tmp_path / "in"
    source.mkdir()
    three_seconds = wav_bytes(seconds=3.0)
    files = {"empty.wav": b"", "truncated.wav": three_seconds[:44 + 3 * SR],
             "long-header.wav": lying(data_size=10**8), "one-hertz.wav": lying(sample_rate=1, byte_rate=2),
             "nan.wav": with_samples(np.nan), "format-99.wav": lying(format=99),
             "stereo-8k.wav": wav_bytes(seconds=3.0, sample_rate=8000, channels=2)}
    for name, content in files.items():
        (source / name).write_bytes(content)
    result = DatasetMaker(tmp_path / "out", "en", load_config(), progress=False).make([source])
    said = {}
    for line in result.problems:
        name, _, reason = line.partition(": ")
        said.setdefault(name.rsplit("/", 1)[-1], []).append(reason)
    assert set(said) == set(files), said
    assert said["empty.wav"] == ["empty file (0 bytes)"]
    assert said["truncated.wav"][0].startswith("no speech found in 1.5 s")  # a tone: no speech at all
    assert said["truncated.wav"][1].startswith("truncated audio: the WAV header declares 3.0 s, the file holds 1.5 s")
    assert said["long-header.wav"][1].startswith("truncated audio: the WAV header declares 2267.6 s")
    assert said["one-hertz.wav"] == ["unreadable audio: its header says 1 Hz, outside the 4000-768000 Hz of any "
                                     "recording (a damaged header)"]
    assert said["nan.wav"][0].startswith("unreadable audio: 1 of its 22050 samples are NaN or infinite")
    assert said["format-99.wav"][0].startswith("unreadable audio: no decoder for its audio")
    assert said["stereo-8k.wav"] == ["no speech found in 3.0 s (silence or noise only)"]  # decoded, mixed, resampled
    assert (tmp_path / "out" / "metadata.csv").read_text() == "" and not result.kept


@pytest.mark.parametrize("encoding,message", [
    ("cp1251", r"transcript .*book.txt:2: not UTF-8 text: byte 0xef at column 1"),
    ("utf-16", r"transcript .*book.txt:1: not UTF-8 text: it is UTF-16")])
def test_dataset_make_stops_on_an_unreadable_transcript_before_any_work_and_keeps_the_last_output(
        tmp_path, encoding, message):
    """Before cutting or recognizing anything (an hour of Whisper, before the fix), and the data set
    of the last run stays as it was."""
    from tacotron.config import load_config
    from tacotron.data.recordings.maker import DatasetMaker

    silence = tmp_path / "silence.wav"
    soundfile.write(silence, np.zeros(SR * 2, dtype=np.float32), SR)
    out = tmp_path / "out"
    DatasetMaker(out, "en", load_config(), progress=False).make([silence])
    before = {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()}
    work_before = sorted(path.name for path in (out / ".work").iterdir())
    book = tmp_path / "book.txt"
    book.write_bytes("A first line.\nпривет мир.\n".encode(encoding))
    louder = tmp_path / "tone.wav"
    louder.write_bytes(wav_bytes(seconds=2.0))
    with pytest.raises(UserError, match=message):
        DatasetMaker(out, "en", load_config(), transcript=book, progress=False).make([silence, louder])
    assert sorted(path.name for path in (out / ".work").iterdir()) == work_before  # tone.wav was not cut
    assert {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()} == before


def test_dataset_make_reports_a_transcript_in_another_language_and_goes_on(tmp_path):
    from tacotron.config import load_config
    from tacotron.data.recordings.maker import DatasetMaker

    silence = tmp_path / "silence.wav"
    soundfile.write(silence, np.zeros(SR * 2, dtype=np.float32), SR)
    book = tmp_path / "book.txt"
    book.write_bytes("\ufeffПривет, мир. Как дела?\x00\n".encode())
    result = DatasetMaker(tmp_path / "out", "en", load_config(), transcript=book, progress=False).make([silence])
    assert f"{book}: the transcript is in the wrong language (its letters are 'ru', --lang is 'en'); " \
           "the recognizer's text is used instead" in result.problems
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["problems"] == result.problems
