"""Word and character error rates of a recognizer's transcript against the text that was meant.

Both sides are normalized the same way first (normalize_for_scoring), so that "17" and "seventeen",
"Hello," and "hello", "ёлка" and "елка" count as the same words. The alignment and the counts
are jiwer's (rapidfuzz's Levenshtein underneath); this module adds the normalization and the
skipped/repeated-word report a voice's errors are read by.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import jiwer

from tacotron.text import get_frontend

# A word is a run of letters and digits, with apostrophes inside it ("don't"); everything else separates.
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


@functools.cache
def _scoring_frontend(language: str):
    """One character frontend per language for scoring (a WER over many sentences reuses it)."""
    return get_frontend(language, "characters")


def normalize_for_scoring(text: str, language: str) -> str:
    """Text as space-separated lowercase words: numbers, signs and abbreviations written out as the
    language's frontend speaks them, punctuation and stress marks ("+") dropped, hyphens split words,
    ё read as е (Russian writing mostly omits its dots, and recognizers follow that)."""
    spoken = _scoring_frontend(language).normalize(text).replace("+", "").replace("ё", "е")
    return " ".join(_WORD.findall(spoken))


@dataclass
class WordAlignment:
    """The word-level Levenshtein alignment of a hypothesis to its reference (jiwer's).

    operations: ("equal" | "substitute" | "delete" | "insert", reference word or None, hypothesis word
    or None), in reading order. skipped: reference words the hypothesis lacks (deletions).
    repeated: the extra copies of words a looping voice says again ("i love you i love you"): a word
    the hypothesis says n times, k of them inserted, is repeated min(k, n - 1) times, reported at its
    later copies. Counting it so does not depend on which copy an equal-cost alignment matches.
    """

    operations: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def _count(self, kind: str) -> int:
        return sum(operation == kind for operation, _, _ in self.operations)

    @property
    def substitutions(self) -> int:
        return self._count("substitute")

    @property
    def deletions(self) -> int:
        return self._count("delete")

    @property
    def insertions(self) -> int:
        return self._count("insert")

    @property
    def reference_length(self) -> int:
        return sum(reference is not None for _, reference, _ in self.operations)

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def skipped(self) -> list[str]:
        return [reference for operation, reference, _ in self.operations if operation == "delete"]

    @property
    def repeated(self) -> list[str]:
        said = [hypothesis for _, _, hypothesis in self.operations if hypothesis is not None]
        inserted = Counter(hypothesis for operation, _, hypothesis in self.operations
                           if operation == "insert")
        repeats_left = {word: min(count, said.count(word) - 1) for word, count in inserted.items()}
        seen: set[str] = set()
        repeated = []
        for word in said:
            if word in seen and repeats_left.get(word, 0) > 0:
                repeated.append(word)
                repeats_left[word] -= 1
            seen.add(word)
        return repeated


def _words(text: str) -> str:
    """Words separated by single spaces: jiwer splits on " " only, so tabs and newlines become spaces."""
    return " ".join(text.split())


def align_words(reference: str, hypothesis: str) -> WordAlignment:
    """Word alignment of two normalized texts (normalize_for_scoring), minimum edits, in reading order."""
    reference, hypothesis = _words(reference), _words(hypothesis)
    result = jiwer.process_words(reference, hypothesis)
    reference_words, hypothesis_words = result.references[0], result.hypotheses[0]
    operations: list[tuple[str, str | None, str | None]] = []
    for chunk in result.alignments[0]:
        said = reference_words[chunk.ref_start_idx:chunk.ref_end_idx]
        heard = hypothesis_words[chunk.hyp_start_idx:chunk.hyp_end_idx]
        if chunk.type == "insert":
            operations += [("insert", None, word) for word in heard]
        elif chunk.type == "delete":
            operations += [("delete", word, None) for word in said]
        else:  # "equal" and "substitute" chunks pair their words one to one
            operations += [(chunk.type, meant, word) for meant, word in zip(said, heard)]
    return WordAlignment(operations)


def _as_list(texts: str | Sequence[str]) -> list[str]:
    return [texts] if isinstance(texts, str) else list(texts)


def _prepared(references, hypotheses, language: str | None) -> tuple[list[str], list[str]]:
    references, hypotheses = _as_list(references), _as_list(hypotheses)
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if language is not None:
        references = [normalize_for_scoring(reference, language) for reference in references]
        hypotheses = [normalize_for_scoring(hypothesis, language) for hypothesis in hypotheses]
    return [_words(reference) for reference in references], [_words(hypothesis) for hypothesis in hypotheses]


def _pooled_rate(result) -> float:
    """(S + D + I) / N over all utterances, with N at least 1: an empty reference scores the number of
    inserted words (jiwer would answer 1 for any insertion there)."""
    errors = result.substitutions + result.deletions + result.insertions
    reference_length = result.hits + result.substitutions + result.deletions
    return errors / max(reference_length, 1)


def word_error_rate(references: str | Sequence[str], hypotheses: str | Sequence[str],
                    language: str | None = None) -> float:
    """Word error rate of one sentence or, pooled, of a list of them (Morris et al. 2004):

        WER = sum_u (S_u + D_u + I_u) / sum_u N_u

    S, D, I: substitutions, deletions, insertions of the word-level Levenshtein alignment of
    utterance u; N_u: words of its reference. Can exceed 1 when the hypothesis inserts words.
    With `language`, both sides go through normalize_for_scoring first; without it, the texts are
    taken as already normalized and split on whitespace. An empty reference scores 0 if the
    hypothesis is empty too, else the number of inserted words.
    """
    references, hypotheses = _prepared(references, hypotheses, language)
    return _pooled_rate(jiwer.process_words(references, hypotheses))


def character_error_rate(references: str | Sequence[str], hypotheses: str | Sequence[str],
                         language: str | None = None) -> float:
    """Character error rate, pooled like word_error_rate:

        CER = sum_u (S_u + D_u + I_u) / sum_u N_u

    over the characters of the normalized texts, the single spaces between words included (so a
    split or merged word costs one edit); N_u: characters of reference u.
    """
    references, hypotheses = _prepared(references, hypotheses, language)
    return _pooled_rate(jiwer.process_characters(references, hypotheses))
