"""Word and character error rates of a recognizer's transcript against the text that was meant.

Both sides are normalized the same way first (normalize_for_scoring), so that "17" and "seventeen",
"Hello," and "hello", "ёлка" and "елка" count as the same words.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

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
    """The word-level Levenshtein alignment of a hypothesis to its reference.

    operations: ("equal" | "substitute" | "delete" | "insert", reference word or None, hypothesis word
    or None), in reading order. skipped: reference words the hypothesis lacks (deletions).
    repeated: inserted hypothesis words that the hypothesis already said earlier in the sentence
    (a looping voice, "i love you i love you"); ties in the alignment keep the earliest copy as the match.
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
        said: set[str] = set()
        repeated = []
        for operation, _, hypothesis in self.operations:
            if hypothesis is None:
                continue
            if operation == "insert" and hypothesis in said:
                repeated.append(hypothesis)
            said.add(hypothesis)
        return repeated


def _edit_table(reference: Sequence[str], hypothesis: Sequence[str]) -> list[list[int]]:
    """Levenshtein (1966) table: d[i][j] = min(d[i-1][j] + 1, d[i][j-1] + 1, d[i-1][j-1] + [r_i != h_j])."""
    table = [list(range(len(hypothesis) + 1))]
    for i, reference_item in enumerate(reference, start=1):
        row = [i]
        for j, hypothesis_item in enumerate(hypothesis, start=1):
            row.append(min(table[i - 1][j] + 1, row[j - 1] + 1,
                           table[i - 1][j - 1] + (reference_item != hypothesis_item)))
        table.append(row)
    return table


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Minimum number of substitutions + deletions + insertions turning reference into hypothesis."""
    return _edit_table(reference, hypothesis)[-1][-1]


def align_words(reference: str, hypothesis: str) -> WordAlignment:
    """Word alignment of two normalized texts (normalize_for_scoring), minimum edits, in reading order.

    The trace runs back from the end and prefers an insertion, then a deletion, over a match of equal
    cost, so the extra words of a repetition land after their first copy.
    """
    reference_words, hypothesis_words = reference.split(), hypothesis.split()
    table = _edit_table(reference_words, hypothesis_words)
    operations = []
    i, j = len(reference_words), len(hypothesis_words)
    while i or j:
        if j and table[i][j] == table[i][j - 1] + 1:
            operations.append(("insert", None, hypothesis_words[j - 1]))
            j -= 1
        elif i and table[i][j] == table[i - 1][j] + 1:
            operations.append(("delete", reference_words[i - 1], None))
            i -= 1
        else:
            same = reference_words[i - 1] == hypothesis_words[j - 1]
            operations.append(("equal" if same else "substitute", reference_words[i - 1], hypothesis_words[j - 1]))
            i, j = i - 1, j - 1
    return WordAlignment(operations[::-1])


def _as_list(texts: str | Sequence[str]) -> list[str]:
    return [texts] if isinstance(texts, str) else list(texts)


def _prepared(references, hypotheses, language: str | None) -> list[tuple[str, str]]:
    references, hypotheses = _as_list(references), _as_list(hypotheses)
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if language is None:
        return list(zip(references, hypotheses))
    return [(normalize_for_scoring(reference, language), normalize_for_scoring(hypothesis, language))
            for reference, hypothesis in zip(references, hypotheses)]


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
    pairs = [(reference.split(), hypothesis.split()) for reference, hypothesis in
             _prepared(references, hypotheses, language)]
    errors = sum(edit_distance(reference, hypothesis) for reference, hypothesis in pairs)
    return errors / max(sum(len(reference) for reference, _ in pairs), 1)


def character_error_rate(references: str | Sequence[str], hypotheses: str | Sequence[str],
                         language: str | None = None) -> float:
    """Character error rate, pooled like word_error_rate:

        CER = sum_u (S_u + D_u + I_u) / sum_u N_u

    over the characters of the normalized texts, the single spaces between words included (so a
    split or merged word costs one edit); N_u: characters of reference u.
    """
    pairs = [(" ".join(reference.split()), " ".join(hypothesis.split())) for reference, hypothesis in
             _prepared(references, hypotheses, language)]
    errors = sum(edit_distance(reference, hypothesis) for reference, hypothesis in pairs)
    return errors / max(sum(len(reference) for reference, _ in pairs), 1)
