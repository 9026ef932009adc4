"""When each word is spoken, from the attention alignment, in seconds of the final audio.

Tacotron 2's attention says, for every decoder step (reduction_factor mel frames), which input
symbols it reads; the front end says which symbols speak which word (`Frontend.word_spans`). A word
starts where the attention's centre of mass reaches the symbol before its first one (the space or
mark before it) and ends where it reaches its last symbol: the centre trails the sound by about one
symbol (BOUNDARY_LEAD, `decoded_word_times`). Those times,
in seconds of the decoded mel, are then carried through every step that moves samples: the speed
change (a time scale), the trim of each segment, the joins with their pauses and the final trim
(`moved`), so they are seconds of the waveform the caller gets.

The words are those of the text as the user wrote it, not of its normalized form: "5" is one word
spoken as "five", "25" in Russian one word spoken as "двадцать пять". `text_word_groups` pairs the
two: words that normalization left alone are anchors, and what lies between two anchors is shared
out by normalizing each written word alone (or evenly where that does not add up).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tacotron.errors import UserError
from tacotron.text.phonemes import text_words


# The attention's centre of mass trails the sound by about one symbol. Read against Whisper's word
# timestamps on 16 sentences that are not the held-out ones (generate_sentences("en", 16, seed=7),
# base-en, HiFi-GAN universal, 76 paired words), median signed start / end differences were
# +43 / +31 ms with the boundary half a symbol before a word (the middle of the gap), +19 / +4 ms
# one symbol before it, +0 / -18 ms one and a half: one symbol it is.
BOUNDARY_LEAD = 1.0


@dataclass(frozen=True)
class WordTiming:
    """One word of the text and when it is spoken, in seconds from the start of its audio."""

    word: str  # as written in the text, with the punctuation that clings to it ("Hello,")
    start: float
    end: float

    def as_dict(self) -> dict:
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3)}


class NoWordTimingsError(UserError):
    """Word timings were asked of audio that has none (a voice or a path that gives no alignment)."""


def written_words(text: str) -> list[str]:
    """The words of raw text as written: its whitespace-separated tokens that hold a letter or a digit
    (a lone dash or an ellipsis is not a word), punctuation kept."""
    return [token for token in text.split() if any(character.isalnum() for character in token)]


def _key(word: str) -> str:
    """What a written and a normalized word are compared by: its letters and digits, casefolded."""
    return "".join(character for character in word.casefold() if character.isalnum())


def text_word_groups(text: str, normalized_words: list[str],
                     normalize: Callable[[str], str]) -> list[tuple[str, int, int]]:
    """Each written word of `text` (written_words) with the [first, end) normalized words that speak
    it. Equal words (by _key) anchor; between anchors, a single written word takes every normalized
    word there, several are shared out by normalizing each alone (`normalize`) when the counts add
    up, else evenly. Normalized words with no written word (normalization added them) go to the
    written word before them (after them at the start); a written word that normalization dropped
    gets an empty range."""
    written = written_words(text)
    groups: list[list] = []
    matcher = difflib.SequenceMatcher(None, [_key(w) for w in written], [_key(w) for w in normalized_words],
                                      autojunk=False)
    orphans_at_start = 0
    for tag, w1, w2, n1, n2 in matcher.get_opcodes():
        if tag == "equal":
            groups += [[written[w1 + k], n1 + k, n1 + k + 1] for k in range(w2 - w1)]
        elif tag == "insert":  # normalized words of no written word
            if groups:
                groups[-1][2] = n2
            else:
                orphans_at_start = n2
        elif tag == "delete":
            groups += [[word, n1, n1] for word in written[w1:w2]]
        else:
            groups += _share_out(written[w1:w2], n1, n2, normalize)
    if groups and orphans_at_start:
        groups[0][1] = 0
    return [(word, first, end) for word, first, end in groups]


def _share_out(written: list[str], first: int, end: int, normalize: Callable[[str], str]) -> list[list]:
    """The normalized words [first, end) shared among `written` words in order."""
    if len(written) == 1:
        return [[written[0], first, end]]
    counts = [len(text_words(normalize(word))) for word in written]
    if sum(counts) != end - first:  # context changed the reading: share evenly
        total, words = end - first, len(written)
        counts = [(index + 1) * total // words - index * total // words for index in range(words)]
    groups, position = [], first
    for word, count in zip(written, counts):
        groups.append([word, position, position + count])
        position += count
    return groups


def attended_position(alignment: np.ndarray) -> np.ndarray:
    """[steps] the symbol each decoder step reads: the attention weights' centre of mass
    sum_j j * a[s, j] / sum_j a[s, j], made non-decreasing (a running maximum), since speech never
    goes back to a word it has said."""
    weights = np.asarray(alignment, dtype=np.float64)
    mass = np.maximum(weights.sum(axis=1), 1e-12)
    centre = weights @ np.arange(weights.shape[1], dtype=np.float64) / mass
    return np.maximum.accumulate(centre)


def crossing_step(position: np.ndarray, boundary: float) -> float:
    """The (fractional) decoder step at which `position` first reaches `boundary`, linear between
    steps; 0 when it starts there, len(position) - 1 when it never does."""
    reached = np.flatnonzero(position >= boundary)
    if reached.size == 0:
        return float(len(position) - 1)
    step = int(reached[0])
    if step == 0:
        return 0.0
    before, after = position[step - 1], position[step]
    return step - 1 + (boundary - before) / (after - before)


def step_seconds(step: float, reduction_factor: int, hop_length: int, sample_rate: int) -> float:
    """Seconds at decoder step `step`: step s makes mel frames s*r .. s*r + r - 1, whose middle,
    frame s*r + (r - 1)/2, is centred on sample frame * hop_length (centred STFT frames), so
    t = (s * r + (r - 1) / 2) * hop_length / sample_rate, never below 0."""
    return max(0.0, float((step * reduction_factor + (reduction_factor - 1) / 2) * hop_length / sample_rate))


def decoded_word_times(alignment: np.ndarray, spans: list[tuple[str, int, int]],
                       reduction_factor: int, hop_length: int, sample_rate: int) -> list[tuple[float, float]]:
    """(start, end) seconds of each symbol span [a, b) in the decoded mel: the steps where
    attended_position reaches a - L and b - L, L = BOUNDARY_LEAD (step_seconds). A NoWordTimingsError when the
    alignment is missing, empty, not finite or narrower than the spans."""
    alignment = None if alignment is None else np.asarray(alignment)
    widest = max((end for _, _, end in spans), default=0)
    if (alignment is None or alignment.ndim != 2 or alignment.shape[0] == 0 or alignment.shape[1] < widest
            or not np.isfinite(alignment).all()):
        raise NoWordTimingsError("no word timings: this voice gave no usable attention alignment "
                                 f"(shape {None if alignment is None else alignment.shape})")
    position = attended_position(alignment)

    def seconds(boundary: float) -> float:
        return step_seconds(crossing_step(position, boundary), reduction_factor, hop_length, sample_rate)

    return [(seconds(start - BOUNDARY_LEAD), seconds(end - BOUNDARY_LEAD)) for _, start, end in spans]


def grouped(groups: list[tuple[str, int, int]], times: list[tuple[float, float]]) -> list[WordTiming]:
    """Written words timed by their normalized words: from the first one's start to the last one's end;
    a written word with none sits, zero long, where the previous word ended (0 at the start)."""
    words, last_end = [], 0.0
    for word, first, end in groups:
        if end > first:
            start, stop = times[first][0], times[end - 1][1]
        else:
            start = stop = last_end
        start = max(start, last_end)
        words.append(WordTiming(word, start, max(stop, start)))
        last_end = max(stop, start)
    return words


def moved(words: list[WordTiming], scale: float = 1.0, shift: float = 0.0,
          length: float = math.inf) -> list[WordTiming]:
    """Word times through a step that moves samples: t -> clip(t * scale + shift, 0, length).
    scale: a speed change (output seconds per input second); shift: seconds added (a join's offset)
    or cut (a trim, negative); length: the seconds of the audio they end up in."""
    def place(seconds: float) -> float:
        return float(min(max(seconds * scale + shift, 0.0), length))

    return [WordTiming(word.word, place(word.start), place(word.end)) for word in words]


def in_order(words: list[WordTiming]) -> list[WordTiming]:
    """Starts no earlier than the previous word's end (a zero-pause crossfade overlaps two
    segments by a few milliseconds), ends no earlier than their start."""
    ordered, last_end = [], 0.0
    for word in words:
        start = max(word.start, last_end)
        end = max(word.end, start)
        ordered.append(WordTiming(word.word, start, end))
        last_end = end
    return ordered
