"""Put a known transcript on the clips: the text is the truth, the recognizer only says where it is.

The transcript is split into clauses (at , ; : and sentence ends) and matched to the clips in order
by dynamic programming, as Gale & Church (1993) align sentences of two texts: each step gives one
clip 0-8 consecutive clauses (0: the clip has no text, e.g. music), or joins 2-3 clips cut inside
one sentence to clauses of that sentence, or skips a clause that nobody read. The cost of a step is the character edit distance between the recognized
and the transcript text, plus how far the transcript's length is from what the clips' durations
predict at the speaker's rate, plus a penalty for a step that ends inside a sentence and a smaller one
for each clip joined to another, so that clips cut at a comma are joined back into whole sentences
while they fit `max_seconds`, and clips that hold whole sentences stay apart. A weak recognizer
(Whisper base reads eSpeak's Russian at CER 0.63) still leaves the durations and the order as cues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from tacotron.text.error_rate import normalize_for_scoring

MAX_CLIPS_PER_STEP = 3
MAX_CLAUSES_PER_STEP = 8
# Characters of edit distance that one clause-internal boundary costs: a little more than the
# distance a recognizer adds or drops at a clip edge, so that whole sentences win when they fit.
INSIDE_SENTENCE_PENALTY = 4.0
# Cost of each clip joined to another: below INSIDE_SENTENCE_PENALTY, so clips cut inside a sentence
# are joined, but above 0, so that clips that each hold whole sentences stay apart.
JOIN_PENALTY = 2.0
# Cost per character of difference between the transcript's length and the length the clips'
# speech seconds predict at the speaker's median rate.
DURATION_WEIGHT = 0.5
# Clauses searched on each side of the position the cumulative durations predict (the DP band).
BAND_CLAUSES = 150
_CLAUSE_END = re.compile(r"(?<=[,;:.!?…])\s+")
_SENTENCE_END = re.compile(r"[.!?…][\"'»”)]*$")


@dataclass
class Clause:
    text: str  # as written
    normalized: str  # as scored: normalize_for_scoring
    ends_sentence: bool


@dataclass
class ClipText:
    """What the alignment gives one clip. `group` numbers the runs of clips joined into one utterance."""

    text: str
    group: int
    clips: int  # how many clips the group joins


def split_clauses(transcript: str, language: str) -> list[Clause]:
    words = " ".join(transcript.split())
    pieces = [piece.strip() for piece in _CLAUSE_END.split(words) if piece.strip()]
    clauses = []
    for index, piece in enumerate(pieces):
        # "руб. можно", "Mr. Smith": a period before a lower-case word ends an abbreviation, not a sentence.
        following = pieces[index + 1] if index + 1 < len(pieces) else ""
        ends = bool(_SENTENCE_END.search(piece)) and not following[:1].islower()
        clauses.append(Clause(piece, normalize_for_scoring(piece, language), ends))
    return clauses


def align_transcript(clauses: list[Clause], recognized: list[str], seconds: list[float],
                     max_seconds: float, language: str) -> list[ClipText | None]:
    """One entry per clip: its text and group, or None for a clip the transcript does not cover."""
    hypotheses = [normalize_for_scoring(text, language) for text in recognized]
    clip_count, clause_count = len(hypotheses), len(clauses)
    if clip_count == 0:
        return []
    total_chars = sum(len(clause.normalized) for clause in clauses)
    total_seconds = sum(seconds) or 1.0
    rate = total_chars / total_seconds  # characters per second of speech, over the whole book
    # Expected clause position after each clip, from cumulative seconds (the band's centre).
    clause_at_char = []
    position = 0
    for clause in clauses:
        position += len(clause.normalized)
        clause_at_char.append(position)
    elapsed = 0.0
    centre = []
    for clip in range(clip_count + 1):
        target = elapsed * rate
        centre.append(sum(1 for end in clause_at_char if end <= target))
        if clip < clip_count:
            elapsed += seconds[clip]

    infinity = float("inf")
    cost = [dict() for _ in range(clip_count + 1)]  # cost[i][j]: i clips and j clauses used
    back: list[dict] = [dict() for _ in range(clip_count + 1)]
    cost[0][0] = 0.0
    for i in range(clip_count + 1):
        low, high = max(0, centre[i] - BAND_CLAUSES), min(clause_count, centre[i] + BAND_CLAUSES)
        for j in range(low, high + 1):  # in order: skipping a clause adds (i, j + 1) to this row
            here = cost[i].get(j, infinity)
            if here == infinity:
                continue
            if j < high:  # a clause no clip holds
                _relax(cost, back, i, j + 1, here + len(clauses[j].normalized) + INSIDE_SENTENCE_PENALTY, (0, 1))
            for clips in range(1, MAX_CLIPS_PER_STEP + 1):
                if i + clips > clip_count:
                    break
                span = sum(seconds[i:i + clips])
                if clips > 1 and span > max_seconds:
                    break
                hypothesis = " ".join(text for text in hypotheses[i:i + clips] if text)
                next_low = max(0, centre[i + clips] - BAND_CLAUSES)
                next_high = min(clause_count, centre[i + clips] + BAND_CLAUSES)
                # No text for this clip (music, a stray noise): its recognized characters are insertions.
                if clips == 1 and next_low <= j <= next_high:
                    _relax(cost, back, i + 1, j, here + len(hypothesis), (1, 0))
                reference = ""
                for count in range(1, MAX_CLAUSES_PER_STEP + 1):
                    if j + count > clause_count:
                        break
                    # Joined clips repair cuts inside one sentence; they never hold two sentences.
                    if clips > 1 and count > 1 and clauses[j + count - 2].ends_sentence:
                        break
                    reference = (reference + " " + clauses[j + count - 1].normalized).strip()
                    if not next_low <= j + count <= next_high:
                        continue
                    step = (Levenshtein.distance(hypothesis, reference)
                            + DURATION_WEIGHT * abs(len(reference) - span * rate)
                            + (0.0 if clauses[j + count - 1].ends_sentence else INSIDE_SENTENCE_PENALTY)
                            + JOIN_PENALTY * (clips - 1))
                    _relax(cost, back, i + clips, j + count, here + step, (clips, count))
    # The end: all clips used; clauses left over were not read (their deletion cost).
    best_j, best = None, infinity
    for j, value in cost[clip_count].items():
        rest = sum(len(clause.normalized) for clause in clauses[j:])
        if value + rest < best:
            best_j, best = j, value + rest
    result: list[ClipText | None] = [None] * clip_count
    if best_j is None:  # nothing reached the end inside the band
        return result
    i, j, group = clip_count, best_j, 0
    steps = []
    while i > 0 or j > 0:
        clips, count = back[i][j]
        steps.append((i - clips, clips, j - count, count))
        i, j = i - clips, j - count
    for first_clip, clips, first_clause, count in reversed(steps):
        if clips == 0 or count == 0:
            continue
        text = " ".join(clause.text for clause in clauses[first_clause:first_clause + count])
        for clip in range(first_clip, first_clip + clips):
            result[clip] = ClipText(text, group, clips)
        group += 1
    return result


def _relax(cost: list[dict], back: list[dict], i: int, j: int, value: float, step: tuple[int, int]) -> None:
    if value < cost[i].get(j, float("inf")):
        cost[i][j] = value
        back[i][j] = step
