"""Captions (SRT or WebVTT) and a timings file from a synthesis's word timings (`tacotron synth
--captions out.srt|out.vtt --timings words.json`). The files are written by the `srt` and `webvtt-py`
libraries, so they read back with them and with any player."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tacotron.errors import UserError
from tacotron.inference.word_timings import WordTiming

CAPTION_FORMATS = (".srt", ".vtt")
# A cue holds at most this many characters, the usual one-line limit of subtitle guidelines, and ends
# after a word that ends a sentence; a word longer than that gets a cue of its own.
MAX_CUE_CHARS = 42
SENTENCE_END = (".", "!", "?", "…")
MIN_CUE_SECONDS = 0.001  # a cue of words that take no time still ends after it starts


def caption_format(path: str | Path) -> str:
    """".srt" or ".vtt" from the file name's suffix; a UserError for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in CAPTION_FORMATS:
        raise UserError(f"captions file {path}: the name must end in .srt or .vtt (it says the format), "
                        f"not {suffix or 'nothing'!r}")
    return suffix


def caption_cues(words: list[WordTiming]) -> list[tuple[float, float, str]]:
    """(start, end, text) cues: words in order, a new cue when the next word would take the text
    past MAX_CUE_CHARS or the last one ended a sentence; a cue spans its first word's start to its
    last word's end (at least MIN_CUE_SECONDS)."""
    cues, current = [], []
    for word in words:
        text = " ".join(w.word for w in current + [word])
        ends_sentence = bool(current) and current[-1].word.rstrip("\"'»”)").endswith(SENTENCE_END)
        if current and (len(text) > MAX_CUE_CHARS or ends_sentence):
            cues.append(current)
            current = []
        current.append(word)
    if current:
        cues.append(current)
    return [(cue[0].start, max(cue[-1].end, cue[0].start + MIN_CUE_SECONDS), " ".join(w.word for w in cue))
            for cue in cues]


def _vtt_time(seconds: float) -> str:
    milliseconds = round(seconds * 1000)
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def captions_text(words: list[WordTiming], suffix: str) -> str:
    """The words as SRT (suffix ".srt") or WebVTT (".vtt") text, cues from caption_cues."""
    cues = caption_cues(words)
    if suffix == ".srt":
        import srt

        return srt.compose([srt.Subtitle(index, timedelta(seconds=start), timedelta(seconds=end), text)
                            for index, (start, end, text) in enumerate(cues, 1)])
    import webvtt

    vtt = webvtt.WebVTT()
    for start, end, text in cues:
        vtt.captions.append(webvtt.Caption(_vtt_time(start), _vtt_time(end), text))
    return vtt.content


def write_captions(path: str | Path, words: list[WordTiming]) -> None:
    """SRT or WebVTT captions of `words` at `path` (the format from its suffix)."""
    from tacotron.files import atomic_write_text

    atomic_write_text(Path(path), captions_text(words, caption_format(path)))


def timings_document(text: str, words: list[WordTiming], audio_seconds: float) -> dict:
    """What --timings writes: the text, the audio's length and each word's start and end (seconds,
    rounded to the millisecond)."""
    return {"text": text, "audio_seconds": round(audio_seconds, 3),
            "words": [word.as_dict() for word in words]}


def write_timings(path: str | Path, text: str, words: list[WordTiming], audio_seconds: float) -> None:
    from tacotron.files import atomic_write_text

    atomic_write_text(Path(path), json.dumps(timings_document(text, words, audio_seconds), indent=2,
                                             ensure_ascii=False))
