"""A synthetic "book" recording with known answers, for testing and measuring `tacotron dataset make`
(tests/test_dataset_make.py, benchmarks/dataset_make.py); a test fixture, so it lives with the tests.

Corpus sentences spoken by eSpeak NG are joined with random pauses, over a little white noise, with
one loud click in a pause and one stretch of music-like tones (chords of harmonic notes) between two
sentences. The true speech boundaries of every sentence are kept, so a cutter can be scored.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tacotron.audio.espeak import EspeakVoice, restart_synthesizer
from tacotron.audio.io import save_wav
from tacotron.audio.postprocess import trim_silence
from tacotron.data.corpus import generate_sentences
from tacotron.files import atomic_write_text
from tacotron.text import get_frontend

PAUSE_SECONDS = (0.2, 1.5)  # each pause between sentences is drawn uniformly from this range
EDGE_SILENCE_SECONDS = 0.5  # before the first and after the last sentence
NOISE_RMS = 0.002  # white noise, about -54 dBFS: "a little noise" under speech at about -20 dBFS
CLICK_AMPLITUDE = 0.98
CLICK_SECONDS = 0.003
TONES_SECONDS = 6.0
TONE_NOTE_SECONDS = 0.5
TONES_RMS = 0.1  # as loud as the speech
# The speech edges of each eSpeak sentence: where its 10 ms frames rise within 40 dB of its loudest.
TRUE_EDGE_DB = -40.0
FRAME_SECONDS = 0.01
# Runs of 10 ms frames inside a sentence quieter than the noise (NOISE_RMS), at least this long, are
# pauses a clip may be cut in; a cut anywhere else inside a sentence is a cut inside a word.
INNER_PAUSE_SECONDS = 0.03
# Half a 10 ms frame: a cut on the edge of a quiet run is in it.
EDGE_SLACK_SECONDS = 0.005
# A cut this close to a sentence's true edge counts as at the edge (the acceptance tolerance).
BOUNDARY_TOLERANCE_SECONDS = 0.1


@dataclass
class TrueUtterance:
    text: str  # as written, with case and punctuation
    start: float  # seconds of the first and last speech frame in the book
    end: float


@dataclass
class TestBook:
    language: str
    sample_rate: int
    utterances: list[TrueUtterance]
    tones: tuple[float, float]  # start, end in seconds
    click: float  # time of the click in seconds
    seconds: float
    inner_pauses: list[tuple[float, float]]  # quiet stretches inside sentences (commas, stops)

    def transcript(self) -> str:
        """The book's text: the sentences in order, a few to a paragraph."""
        texts = [utterance.text for utterance in self.utterances]
        return "\n\n".join(" ".join(texts[index:index + 4]) for index in range(0, len(texts), 4)) + "\n"


def _tones(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Chords of three notes with four harmonics each, a new chord every TONE_NOTE_SECONDS."""
    note_samples = int(TONE_NOTE_SECONDS * sample_rate)
    time = np.arange(note_samples) / sample_rate
    envelope = np.minimum(1.0, np.minimum(time, time[::-1]) / 0.02)  # 20 ms fades: no clicks
    chords = []
    for _ in range(int(TONES_SECONDS / TONE_NOTE_SECONDS)):
        root = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        chord = np.zeros(note_samples)
        for ratio in (1.0, 1.26, 1.5):  # a major triad
            for harmonic in range(1, 5):
                chord += np.sin(2 * np.pi * root * ratio * harmonic * time) / harmonic
        chords.append(chord * envelope)
    tones = np.concatenate(chords)
    return (tones * TONES_RMS / np.sqrt(np.mean(tones ** 2))).astype(np.float32)


def _inner_pauses(speech: np.ndarray, sample_rate: int, offset: float) -> list[tuple[float, float]]:
    frame = int(FRAME_SECONDS * sample_rate)
    count = speech.size // frame
    rms = np.sqrt(np.mean(speech[:count * frame].reshape(count, frame).astype(np.float64) ** 2, axis=1))
    quiet = rms < NOISE_RMS  # below the book's noise: inaudible in the recording
    pauses, start = [], None
    for index, flag in enumerate([*quiet, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            seconds = frame / sample_rate  # the exact frame length (not FRAME_SECONDS: no drift)
            if (index - start) * seconds >= INNER_PAUSE_SECONDS:
                pauses.append((offset + start * seconds, offset + index * seconds))
            start = None
    return pauses


def make_test_book(language: str, sentences: int, seed: int = 0) -> tuple[TestBook, np.ndarray]:
    """The book's waveform and its truth. The tones come after the first third of the sentences,
    the click in the middle of the longest pause of the second half."""
    # eSpeak NG carries state from one sentence to the next: from a fresh library, the book is the
    # same whatever the process (another test) said before it.
    restart_synthesizer()
    voice = EspeakVoice(language)
    frontend = get_frontend(language, "characters")
    sample_rate = voice.sample_rate
    rng = random.Random(f"test-book:{language}:{seed}")
    noise_rng = np.random.default_rng(seed)
    texts = generate_sentences(language, sentences, seed=seed + 1000)
    pieces: list[np.ndarray] = [np.zeros(int(EDGE_SILENCE_SECONDS * sample_rate), dtype=np.float32)]
    position = len(pieces[0])
    utterances: list[TrueUtterance] = []
    pauses: list[tuple[int, int]] = []  # (start sample, length) of each pause between sentences
    tones_at = (0.0, 0.0)
    inner_pauses: list[tuple[float, float]] = []
    for index, text in enumerate(texts):
        speech = trim_silence(voice.synthesize(frontend.normalize(text)), sample_rate, TRUE_EDGE_DB, 0.0)
        utterances.append(TrueUtterance(text, position / sample_rate, (position + len(speech)) / sample_rate))
        inner_pauses += _inner_pauses(speech, sample_rate, position / sample_rate)
        pieces.append(speech)
        position += len(speech)
        if index == len(texts) - 1:
            break
        pause = np.zeros(int(rng.uniform(*PAUSE_SECONDS) * sample_rate), dtype=np.float32)
        if index == len(texts) // 3:
            gap = np.zeros(int(0.6 * sample_rate), dtype=np.float32)
            tones = _tones(sample_rate, noise_rng)
            tones_at = ((position + len(gap)) / sample_rate, (position + len(gap) + len(tones)) / sample_rate)
            pause = np.concatenate([gap, tones, gap])
        else:
            pauses.append((position, len(pause)))
        pieces.append(pause)
        position += len(pause)
    pieces.append(np.zeros(int(EDGE_SILENCE_SECONDS * sample_rate), dtype=np.float32))
    waveform = np.concatenate(pieces)
    waveform += noise_rng.normal(0.0, NOISE_RMS, waveform.size).astype(np.float32)
    second_half = pauses[len(pauses) // 2:] or pauses
    click_start, click_length = max(second_half, key=lambda pause: pause[1])
    click_at = click_start + click_length // 2
    click_samples = max(1, int(CLICK_SECONDS * sample_rate))
    waveform[click_at:click_at + click_samples] = CLICK_AMPLITUDE * np.sign(np.arange(click_samples) % 2 - 0.5)
    book = TestBook(language, sample_rate, utterances, tones_at, click_at / sample_rate,
                    waveform.size / sample_rate, inner_pauses)
    return book, waveform


def write_test_book(language: str, sentences: int, out_dir: str | Path, seed: int = 0) -> TestBook:
    """book.wav, book.txt (the transcript) and truth.json in out_dir."""
    out_dir = Path(out_dir)
    book, waveform = make_test_book(language, sentences, seed)
    save_wav(out_dir / "book.wav", waveform, book.sample_rate)
    atomic_write_text(out_dir / "book.txt", book.transcript())
    atomic_write_text(out_dir / "truth.json", json.dumps(asdict(book), ensure_ascii=False, indent=1))
    return book


def write_exact_recognition(out: str | Path, state: dict, book: TestBook) -> None:
    """`dataset make`'s ASR records of one cut source (`state`, DatasetMaker.cut_source's) with the
    true words whose time falls in each clip, as a perfect recognizer would hear them: a run over
    OUT then needs no Whisper."""
    lines = []
    for clip in state["clips"]:
        words = []
        for utterance in book.utterances:
            spoken = utterance.text.split()
            step = (utterance.end - utterance.start) / len(spoken)
            words += [word for index, word in enumerate(spoken)
                      if clip["start"] <= utterance.start + (index + 0.5) * step < clip["end"]]
        lines.append(json.dumps({"id": clip["id"], "model": "default", "text": " ".join(words),
                                 "avg_logprob": -0.1, "no_speech_prob": 0.01}))
    atomic_write_text(Path(out) / ".work" / f"{state['slug']}.asr.jsonl", "\n".join(lines) + "\n")


def read_test_book(folder: str | Path) -> TestBook:
    data = json.loads((Path(folder) / "truth.json").read_text(encoding="utf-8"))
    data["utterances"] = [TrueUtterance(**utterance) for utterance in data["utterances"]]
    data["tones"] = tuple(data["tones"])
    data["inner_pauses"] = [tuple(pause) for pause in data["inner_pauses"]]
    return TestBook(**data)


def _overlap(start: float, end: float, utterance: TrueUtterance) -> float:
    return max(0.0, min(end, utterance.end) - max(start, utterance.start))


def score_against_truth(book: TestBook, report: dict, clips: list[dict], with_transcript: bool) -> dict:
    """How well `dataset make` recovered the book (report: its report.json; clips: every cut clip).

    boundary_accuracy: share of true sentence edges (start and end of each) with a clip speech edge
    within BOUNDARY_TOLERANCE_SECONDS; mid_word_cuts: clip edges inside a sentence that fall outside
    its quiet stretches; tones_rejected: a rejection covers the tone stretch; text_exact: share of
    kept clips whose text is exactly the one true sentence they hold (with a transcript); cer: the
    recognized text of all clips against the book's text (without one).
    """
    from tacotron.text.error_rate import character_error_rate

    starts = [clip["speech_start"] for clip in clips]
    ends = [clip["speech_end"] for clip in clips]
    hits = sum(any(abs(edge - utterance.start) <= BOUNDARY_TOLERANCE_SECONDS for edge in starts)
               + any(abs(edge - utterance.end) <= BOUNDARY_TOLERANCE_SECONDS for edge in ends)
               for utterance in book.utterances)
    mid_word = 0
    for clip in clips:
        for point in (clip["start"], clip["end"]):
            inside = any(utterance.start < point < utterance.end for utterance in book.utterances)
            if inside and not any(start - EDGE_SLACK_SECONDS <= point <= end + EDGE_SLACK_SECONDS
                                  for start, end in book.inner_pauses):
                mid_word += 1
    tone_start, tone_end = book.tones
    tones_rejected = any("not speech" in line and _covers(line, tone_start, tone_end) for line in report["problems"]) \
        or any(not item["kept"] and _overlap(item["start"], item["end"], TrueUtterance("", tone_start, tone_end)) > 1.0
               for item in report["rejected"])
    result = {"language": book.language, "book_seconds": round(book.seconds, 1), "sentences": len(book.utterances),
              "clips": len(clips), "kept": report["kept_count"], "rejected": report["rejected_count"],
              "boundary_accuracy": round(hits / (2 * len(book.utterances)), 4), "mid_word_cuts": mid_word,
              "tones_rejected": tones_rejected}
    if with_transcript:
        exact = 0
        for item in report["kept"]:
            holding = [u for u in book.utterances if _overlap(item["start"], item["end"], u) > 0.5 * (u.end - u.start)]
            exact += len(holding) == 1 and item["text"] == holding[0].text
        result["text_exact"] = round(exact / max(report["kept_count"], 1), 4)
        result["kept_sentences"] = report["kept_count"]
    else:
        recognized = " ".join(item["recognized"] for item in sorted(report["kept"] + report["rejected"],
                                                                  key=lambda item: item["start"]) if item["recognized"])
        truth = " ".join(utterance.text for utterance in book.utterances)
        result["cer"] = round(character_error_rate(truth, recognized, language=book.language), 4)
    return result


def _covers(line: str, start: float, end: float) -> bool:
    """Does a non-speech line "...: A-B s rejected: ..." overlap the stretch start..end?"""
    match = re.search(r"([\d.]+)-([\d.]+) s rejected", line)
    return bool(match) and float(match.group(1)) < end and float(match.group(2)) > start
