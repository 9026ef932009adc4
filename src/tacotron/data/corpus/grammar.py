"""What the English and the Russian sentence grammars share: the mix of sentence kinds and long sentences."""

from __future__ import annotations

import random

# How often a noun or adjective slot takes a frequent word from the lexicon instead of a hand-picked one.
OPEN_WORD_SHARE = 0.6


class SentenceGrammar:
    """Subclasses supply clause(), question(), exclamation(), compound() and the openers and conjunctions
    of long sentences."""

    openers: list[str]
    conjunctions: list[str]

    def __init__(self, rng: random.Random, words):
        self.rng = rng
        self.words = words  # the lexicon's open-class words this grammar may use

    def sentence(self) -> str:
        roll = self.rng.random()
        if roll < 0.2:
            return self.question()
        if roll < 0.3:
            return self.exclamation()
        if roll < 0.5:
            return self.compound()
        return f"{self.clause()}."

    def long_sentence(self) -> str:
        rng = self.rng
        text = f"{rng.choice(self.openers)} {self.clause()}, {self.clause()}"
        for _ in range(rng.randint(2, 4)):
            text += f", {rng.choice(self.conjunctions)} {self.clause()}"
        return text + "."

    def optional(self, probability: float, make) -> str:
        return " " + make() if self.rng.random() < probability else ""


def clock_time(rng: random.Random, first_hour: int, last_hour: int) -> str:
    return f"{rng.randint(first_hour, last_hour)}:{rng.choice(['00', '15', '30', '45'])}"


def capitalize(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]
