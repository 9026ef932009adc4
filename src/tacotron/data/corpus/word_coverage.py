"""How a corpus's words cover the held-out sentences and ordinary text (written to corpus.json)."""

from __future__ import annotations

import re


def running_text_coverage(train_normalized: list[str], language: str) -> float:
    """Share of ordinary running text made of words the training transcripts have, with wordfreq's word
    frequencies f (the share of all word tokens of the language's text that are w):
    coverage = sum over w in V_train of f(w), V_train the distinct words of the training transcripts."""
    from wordfreq import word_frequency

    vocabulary = {word for text in train_normalized for word in spoken_words(text)}
    return sum(word_frequency(word, language) for word in vocabulary)


def spoken_words(normalized: str) -> list[str]:
    """The words of a normalized transcript, as the held-out word share counts them."""
    return re.findall(r"[^\W\d_]+", normalized.replace("+", ""))


def held_out_word_share(train_normalized: list[str], test_normalized: list[str]) -> dict[str, float]:
    """Share of held-out words the training transcripts never have (on normalized, spoken text).

    tokens = |{w in test tokens : w not in V_train}| / |test tokens|;
    types  = |V_test \\ V_train| / |V_test|, with V the sets of distinct words.
    """
    vocabulary = {word for text in train_normalized for word in spoken_words(text)}
    tokens = [word for text in test_normalized for word in spoken_words(text)]
    types = set(tokens)
    return {"tokens": sum(word not in vocabulary for word in tokens) / max(len(tokens), 1),
            "types": len(types - vocabulary) / max(len(types), 1)}
