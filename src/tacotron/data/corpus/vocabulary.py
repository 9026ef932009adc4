"""Which lexicon words the training sentences may use and which are reserved for the held-out list."""

from __future__ import annotations

import dataclasses
import functools

from tacotron.data.corpus.english import ordinal
from tacotron.data.corpus.word_coverage import spoken_words
from tacotron.data.corpus.word_lists import hand_picked_words
from tacotron.data.lexicon import english_words, forms_of, is_held_out_word, lemma_of, russian_words
from tacotron.text import get_frontend

LEXICONS = {"en": english_words, "ru": russian_words}


def _normalizer_words(language: str) -> set[str]:
    """Words the text front end writes out for the numbers, signs and times the grammar uses."""
    frontend = get_frontend(language, "characters")
    probes = [str(number) for number in (*range(1001), 1812, 1999, 2024)]
    probes += [ordinal(number) for number in range(1, 41)] if language == "en" else []
    probes += ["5%", "$5", "5 ₽", "5 руб.", "12:15", "7:45", "in 1999", "в 1999"]
    return {word for probe in probes for word in spoken_words(frontend.normalize(probe))}


@functools.lru_cache(maxsize=None)
def sentence_vocabulary(language: str, held_out: bool):
    """(words, held-out forms): the open-class words of the training sentences (held_out False: the
    reserved ones left out) or of the held-out ones (all of them), and the written forms that only
    reserved words have, which therefore never occur in a training sentence."""
    words = LEXICONS[language]()
    hand_picked = hand_picked_words() | _normalizer_words(language)
    entries = [entry for field in dataclasses.fields(words) for entry in getattr(words, field.name)]
    # A word the hand-written lists also have in some form ("встретил") is not reserved: the grammar
    # makes its other forms too ("встретила").
    reserved = {lemma_of(entry) for entry in entries if is_held_out_word(lemma_of(entry))
                and hand_picked.isdisjoint(forms_of(entry) | {lemma_of(entry)})}
    training_forms = hand_picked | {form for entry in entries if lemma_of(entry) not in reserved
                                    for form in forms_of(entry)}
    held_out_forms = frozenset({form for entry in entries if lemma_of(entry) in reserved
                                for form in forms_of(entry)} - training_forms)
    if not held_out:
        words = dataclasses.replace(words, **{
            field.name: tuple(entry for entry in getattr(words, field.name) if lemma_of(entry) not in reserved)
            for field in dataclasses.fields(words)})
    return words, held_out_forms
