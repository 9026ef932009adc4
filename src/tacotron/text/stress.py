"""Russian stress marks from Silero Stress (PyPI `silero-stress`, MIT): "+" before the stressed vowel,
the convention the Russian front end reads, and ё restored where the model knows it.

Why Silero Stress: its wheel ships the weights (a TorchScript package, no download at run time), it
resolves homographs from context with a small BERT, and it writes "+" itself. ruaccent-predictor was
the other candidate; silero-stress was chosen because it handles homographs and restores ё in one pass.

Two users: `dataset make --stress` marks transcripts, and the Russian front end marks what it speaks
before phonemization (text.stress, Frontend.stressed) through one Accentor per process
(shared_accentor): loading it costs seconds, marking a sentence about 10 ms.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings

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


class StressModelMissing(UserError):
    """silero-stress is not installed."""


class Accentor:
    """Marks stress in Russian text: accentor("замок на двери") -> "зам+ок на двер+и", ё restored.

    A word the caller marked ("+" before a vowel) keeps its marks; the model marks the others. Of
    the model's marks only those that say something are kept (speaking_mark): none on a word of one
    vowel ("на", "он": which vowel is stressed is plain, and whether it is stressed at all is the
    phonemizer's call) and none before ё (always stressed)."""

    def __init__(self):
        with _torch_state_kept():
            try:
                from silero_stress import load_accentor
            except ImportError as error:
                raise StressModelMissing(f"stress marks need the silero-stress package ({error}): "
                                         f"{INSTALL_HINT}") from None
            self._model = load_accentor("ru")
        self._lock = threading.Lock()  # one model, called from the server's threads too

    def __call__(self, text: str) -> str:
        """`text` with a "+" before the stressed vowel of each word of two or more vowels and ё
        restored; the words that already have a mark, and runs longer than LONGEST_WORD, as they are."""
        plain = text.replace(STRESS, "")
        pieces, start = [], 0
        for long_word in _LONG_WORD.finditer(plain):
            pieces += [self._mark(plain[start:long_word.start()]), long_word.group()]
            start = long_word.end()
        return _with_hand_marks(text, "".join([*pieces, self._mark(plain[start:])]))

    def _mark(self, text: str) -> str:
        if not text.strip():
            return text
        with self._lock, _torch_state_kept():
            return self._model(text)


_WORD_SPLIT = re.compile(rf"([\w{re.escape(STRESS)}]+)")


def _with_hand_marks(text: str, marked: str) -> str:
    """`marked` (the model's marks of `text` without its "+") word by word: a word of `text` that has
    a "+" as it is there, the others with speaking_mark(). Where the model changed more than marks
    and ё (not seen, but then which word is which is unknown), `text` as it is."""
    own, model = _WORD_SPLIT.split(text), _WORD_SPLIT.split(marked)
    if len(own) != len(model) or any(_letters(a) != _letters(b) for a, b in zip(own[1::2], model[1::2])):
        return text
    return "".join(word if index % 2 == 0 or STRESS in word else speaking_mark(model[index])
                   for index, word in enumerate(own))


def _letters(word: str) -> str:
    return word.replace(STRESS, "").replace("ё", "е").replace("Ё", "Е")


def speaking_mark(word: str) -> str:
    """The model's marked `word` with its marks only where they say something: none on a word of
    fewer than two vowels, none before ё."""
    if STRESS not in word:
        return word
    if sum(character in _VOWELS for character in word) < 2:
        return word.replace(STRESS, "")
    return re.sub(rf"{re.escape(STRESS)}(?=[ёЁ])", "", word)


_shared: Accentor | None = None
_missing: StressModelMissing | None = None  # why the Accentor could not be made (warned about once)
_shared_lock = threading.Lock()


def shared_accentor(required: bool) -> Accentor | None:
    """The process's one Accentor, loaded on first use (seconds). Without silero-stress: a
    StressModelMissing (a UserError) when `required` (text.stress=on), else None and one warning per
    process (text.stress=auto speaks with eSpeak NG's own stress)."""
    global _shared, _missing
    with _shared_lock:
        if _shared is None and _missing is None:
            try:
                _shared = Accentor()
            except StressModelMissing as error:
                _missing = error
                if not required:
                    warnings.warn(
                        f"text.stress=auto: {error}. Russian is spoken with eSpeak NG's own stress, "
                        "which misreads homographs (замок, мука, все/всё); set text.stress=off to say "
                        "so and silence this warning", RuntimeWarning, stacklevel=3)
        if _shared is None and required:
            raise StressModelMissing(f"text.stress=on: {_missing}")
        return _shared


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
