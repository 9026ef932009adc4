"""Russian stress marks from Silero Stress (PyPI `silero-stress`, MIT): "+" before the stressed vowel,
the convention the Russian front end reads, and ё restored where the model knows it.

Why Silero Stress: its wheel ships the weights (a TorchScript package, no download at run time), it
resolves homographs from context with a small BERT, and it writes "+" itself. ruaccent-predictor was
the other candidate; silero-stress was chosen because it handles homographs and restores ё in one pass.
"""

from __future__ import annotations

import contextlib
import re

from tacotron.errors import UserError
from tacotron.text.symbols import STRESS

INSTALL_HINT = "pip install 'tacotron[stress]'  (silero-stress, which ships its weights)"
_VOWELS = "аеёиоуыэюяАЕЁИОУЫЭЮЯ"
_WORD = re.compile(rf"[\w{STRESS}]+")
# Silero's n-gram model embeds every substring of each word it is given (its words are cut at spaces,
# punctuation and hyphens, as below): a word of n letters costs n**3 / 6 characters, so one 1,200-letter
# "word" took most of a minute and a longer one fills the memory. No Russian word is half this long
# (the longest have about 35 letters): a longer run is left unmarked and not given to the model.
LONGEST_WORD = 64
_LONG_WORD = re.compile(rf"[^\s.,!?;:<>=()/\\-]{{{LONGEST_WORD + 1},}}")


class Accentor:
    """Marks stress in Russian text: accentor("замок на двери") -> "зам+ок н+а двер+и"."""

    def __init__(self):
        with _torch_state_kept():
            try:
                from silero_stress import load_accentor
            except ImportError as error:
                raise UserError(f"--stress needs the silero-stress package ({error}): {INSTALL_HINT}") from None
            self._model = load_accentor("ru")

    def __call__(self, text: str) -> str:
        """Text with a "+" before each stressed vowel; text that already has marks is left as it is,
        and so are runs longer than LONGEST_WORD."""
        if STRESS in text:
            return text
        pieces, start = [], 0
        for long_word in _LONG_WORD.finditer(text):
            pieces += [self._mark(text[start:long_word.start()]), long_word.group()]
            start = long_word.end()
        return "".join([*pieces, self._mark(text[start:])])

    def _mark(self, text: str) -> str:
        if not text.strip():
            return text
        with _torch_state_kept():
            return self._model(text)


@contextlib.contextmanager
def _torch_state_kept():
    """silero_stress switches autograd off and torch to one thread, for the whole process, when it is
    imported, loaded and called; put both back, or a later training step in the process breaks."""
    import torch

    threads, grad = torch.get_num_threads(), torch.is_grad_enabled()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_grad_enabled(grad)


def stressed_vowel(word: str) -> int | None:
    """Index (among the word's vowels, from 0) of the vowel after the first "+", or None when unmarked."""
    vowel_index = 0
    marked = False
    for character in word:
        if character == STRESS:
            marked = True
        elif character in _VOWELS:
            if marked:
                return vowel_index
            vowel_index += 1
    return None


def marked_words(text: str) -> list[str]:
    """The words of `text`, stress marks kept."""
    return _WORD.findall(text)


def _stressed_vowel_or_yo(word: str) -> int | None:
    """stressed_vowel, or the index of ё in an unmarked word (ё is always stressed)."""
    marked = stressed_vowel(word)
    if marked is not None:
        return marked
    vowels = [character for character in word.lower() if character in _VOWELS]
    return vowels.index("ё") if "ё" in vowels else None


def stress_matches(reference: str, predicted: str) -> list[bool]:
    """For each word marked in `reference`: does the same word of `predicted` stress the same vowel?
    Agreement = the share of True (words are matched by position; both texts have the same words)."""
    predicted_words = marked_words(predicted)
    matches = []
    for index, word in enumerate(marked_words(reference)):
        if STRESS not in word:
            continue
        other = predicted_words[index] if index < len(predicted_words) else ""
        matches.append(_stressed_vowel_or_yo(other) == stressed_vowel(word))
    return matches


def read_stress_list(path) -> dict[str, list[str]]:
    """A hand-marked list: "## section" lines start a section, "#" lines are comments."""
    sections: dict[str, list[str]] = {}
    current = "words"
    for line in open(path, encoding="utf-8").read().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif line.strip() and not line.startswith("#"):
            sections.setdefault(current, []).append(line.strip())
    return sections
