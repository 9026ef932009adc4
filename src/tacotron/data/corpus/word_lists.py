"""The grammars' hand-picked words, read from the data files in words/.

words/english.toml and words/russian.toml hold the word lists of each grammar (people, things, verb
forms, places, ...); their comments say what each list's entries are. Order matters: the grammars pick
by index from a seeded random generator, so reordering, adding or removing an entry changes the corpus
(bump GENERATOR_VERSION in sentences.py).
"""

from __future__ import annotations

import functools
import re
import tomllib
from importlib import resources
from types import SimpleNamespace

WORDS = resources.files(__package__) / "words"
WORD_LIST_FILES = ("english.toml", "russian.toml")
# Words the grammars write outside the word lists (the fixed words of their sentence patterns).
PATTERN_WORDS_FILE = "pattern_words.txt"
# Words generator version 4 also counted as hand-picked, kept so that its corpus stays the same.
VERSION_4_WORDS_FILE = "version_4_words.txt"


def load_word_lists(file_name: str) -> SimpleNamespace:
    """A words/*.toml file as attributes: `load_word_lists("english.toml").people`."""
    return SimpleNamespace(**tomllib.loads((WORDS / file_name).read_text(encoding="utf-8")))


def _word_file(file_name: str) -> set[str]:
    """A words/*.txt file: one word a line; `#` starts a comment."""
    lines = (line.split("#", 1)[0].strip() for line in (WORDS / file_name).read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line}


def _strings(value) -> list[str]:
    """Every string in a loaded word list (of lists, or of tables of lists), keys aside."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [string for item in value for string in _strings(item)]
    return []  # numbers and booleans of the tables


@functools.lru_cache(maxsize=None)
def hand_picked_words() -> frozenset[str]:
    """Every word the grammars can write from their own lists and patterns, in lower case, in both
    languages: such words may occur in training sentences, so the lexicon never reserves them for the
    held-out list."""
    strings = [string for file_name in WORD_LIST_FILES
               for string in _strings(vars(load_word_lists(file_name)))]
    words = {word.lower() for string in strings for word in re.findall(r"[^\W\d_]+", string)}
    return frozenset(words | _word_file(PATTERN_WORDS_FILE) | _word_file(VERSION_4_WORDS_FILE))
