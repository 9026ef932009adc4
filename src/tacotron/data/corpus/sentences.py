"""The training and held-out sentence lists: drawn from the grammars, deterministic per language and seed."""

from __future__ import annotations

import random
import re
import zlib

from tacotron.data.corpus.english import EnglishSentences
from tacotron.data.corpus.grammar import capitalize
from tacotron.data.corpus.russian import RussianSentences
from tacotron.data.corpus.vocabulary import sentence_vocabulary
from tacotron.errors import UserError

LANGUAGES = ("en", "ru")
MIN_WORDS, MAX_WORDS = 3, 15
LONG_MIN_WORDS, LONG_MAX_WORDS = 20, 60
TEST_SHORT_COUNT, TEST_LONG_COUNT = 16, 8
# A short sentence whose CRC-32 falls in bucket 0 of 16 is reserved for the test list and never
# produced for training, so the two are disjoint by construction for every seed and count.
HELD_OUT_BUCKETS = 16
# Rejection sampling gives up after this many draws per requested sentence (the grammar is exhausted).
MAX_DRAWS_PER_SENTENCE = 50
# Bump when the sentences change for the same language, seed and count, so that an existing corpus is remade.
# 1: the hand-written grammar alone; 2: open word classes from wordfreq; 3: pronouns, auxiliaries, prepositions;
# 4: words reserved for the held-out list chosen against string literals only, not comments (the word
# lists have since moved to words/, which keeps the same hand-picked words: word_lists.py).
GENERATOR_VERSION = 4

GRAMMARS = {"en": EnglishSentences, "ru": RussianSentences}


def check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise UserError(f"no corpus generator for language {language!r}; choose one of: {', '.join(LANGUAGES)}")


def _word_count(sentence: str) -> int:
    return len(sentence.split())


def _is_held_out(sentence: str) -> bool:
    return zlib.crc32(sentence.encode("utf-8")) % HELD_OUT_BUCKETS == 0


def _draw(language: str, stream: str, count: int, accept, held_out: bool = False, long: bool = False) -> list[str]:
    """`count` distinct sentences from the grammar seeded by `stream`, each passing `accept`; the held-out
    stream may use the reserved words of the lexicon, the training stream never does."""
    words, _ = sentence_vocabulary(language, held_out)
    grammar = GRAMMARS[language](random.Random(stream), words)
    sentences: list[str] = []
    seen: set[str] = set()
    # A held-out sentence must also fall in one CRC-32 bucket of HELD_OUT_BUCKETS: that many more draws.
    for _ in range(count * MAX_DRAWS_PER_SENTENCE * (HELD_OUT_BUCKETS if held_out else 1)):
        sentence = capitalize(grammar.long_sentence() if long else grammar.sentence())
        if sentence not in seen and accept(sentence):
            seen.add(sentence)
            sentences.append(sentence)
            if len(sentences) == count:
                return sentences
    raise UserError(f"cannot generate {count} distinct {language!r} sentences; ask for fewer")


def generate_sentences(language: str, count: int, seed: int = 0) -> list[str]:
    """`count` distinct training sentences of 3-15 words; the list for a smaller count is a prefix of a larger one."""
    check_language(language)
    if count < 1:
        raise UserError(f"sentence count must be at least 1, got {count}")
    return _draw(language, f"{language}:train:{seed}", count,
                 lambda s: MIN_WORDS <= _word_count(s) <= MAX_WORDS and not _is_held_out(s))


def generate_test_sentences(language: str, seed: int = 0) -> list[str]:
    """The held-out list: 16 ordinary sentences and 8 long ones (20-60 words), never among the training ones.

    Disjoint by construction twice over: a held-out sentence falls in a CRC-32 bucket that training
    sentences never fall in, and it has a word form that only reserved lexicon words have, which the
    training sentences never use.
    """
    check_language(language)
    _, held_out_forms = sentence_vocabulary(language, held_out=True)

    def has_held_out_word(sentence: str) -> bool:
        return not held_out_forms.isdisjoint(word.lower() for word in re.findall(r"[^\W\d_]+", sentence))

    short = _draw(language, f"{language}:test:{seed}", TEST_SHORT_COUNT,
                  lambda s: MIN_WORDS <= _word_count(s) <= MAX_WORDS and _is_held_out(s) and has_held_out_word(s),
                  held_out=True)
    long = _draw(language, f"{language}:test-long:{seed}", TEST_LONG_COUNT,
                 lambda s: LONG_MIN_WORDS <= _word_count(s) <= LONG_MAX_WORDS and _is_held_out(s)
                 and has_held_out_word(s), held_out=True, long=True)
    return short + long

