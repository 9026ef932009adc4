"""The English sentence grammar: statements, questions and exclamations over the word lists of
words/english.toml and the open-class words of the lexicon."""

from __future__ import annotations

from tacotron.data.corpus.grammar import OPEN_WORD_SHARE, SentenceGrammar, capitalize, clock_time
from tacotron.data.corpus.word_lists import load_word_lists
from tacotron.data.lexicon import EnglishWords

EN = load_word_lists("english.toml")


def _noun_forms(entry: str) -> tuple[str, str]:
    """(singular, plural) of a word-list noun, "word:plural" when the plural is irregular."""
    if ":" in entry:
        singular, plural = entry.split(":")
        return singular, plural
    if entry.endswith(("s", "x", "ch", "sh")):
        return entry, entry + "es"
    return entry, entry + "s"


def _indefinite(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def ordinal(number: int) -> str:
    suffix = "th" if number % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


class EnglishSentences(SentenceGrammar):
    """Draws English sentences from a small grammar; every choice comes from `rng`."""

    openers = EN.sentence_openers
    conjunctions = EN.conjunctions

    words: EnglishWords

    def _noun_phrase(self, nouns: list[str], adjectives: list[str], plural: bool) -> str:
        rng = self.rng
        singular, plural_form = _noun_forms(rng.choice(nouns))
        noun = plural_form if plural else singular
        roll = rng.random()
        if rng.random() < 0.55:
            # "a"/"an" depends on the sound, known for the hand-picked adjectives only.
            indefinite = not plural and 0.75 <= roll < 0.9
            open_adjective = not indefinite and rng.random() < OPEN_WORD_SHARE
            noun = f"{self.rng.choice(self.words.adjectives) if open_adjective else rng.choice(adjectives)} {noun}"
        if roll < 0.45:
            return f"the {noun}"
        if roll < 0.75:
            return rng.choice(EN.possessives) + " " + noun
        if plural:
            return rng.choice(["some", "these", "those", "two"]) + " " + noun
        return _indefinite(noun) if roll < 0.9 else rng.choice(["this", "that"]) + " " + noun

    def thing(self, plural: bool = False) -> str:
        if not plural and self.rng.random() < OPEN_WORD_SHARE:
            return self.open_thing(["the", "the", "this", "that", *EN.possessives])
        return self._noun_phrase(EN.things, EN.thing_adjectives, plural)

    def open_thing(self, determiners: list[str]) -> str:
        """A lexicon noun in the singular, which suits count and mass nouns alike after these determiners."""
        noun = self.rng.choice(self.words.nouns)
        if self.rng.random() < 0.5:
            noun = f"{self.rng.choice(self.words.adjectives)} {noun}"
        return f"{self.rng.choice(determiners)} {noun}"

    def gerund(self) -> str:
        return self.rng.choice(self.words.verbs).gerund

    def creature(self, plural: bool = False) -> str:
        nouns = EN.people if self.rng.random() < 0.7 else EN.animals
        return self._noun_phrase(nouns, EN.creature_adjectives, plural)

    def subject(self) -> tuple[str, bool]:
        """A subject and whether it is plural."""
        roll = self.rng.random()
        if roll < 0.3:
            return self.rng.choice(EN.names), False
        plural = roll > 0.8
        return self.creature(plural), plural

    def place(self) -> str:
        rng = self.rng
        if rng.random() < 0.35:
            return f"near {self.open_thing(['the'])}"
        noun, preposition = rng.choice(EN.places)
        if rng.random() < 0.3:
            preposition = "near"
        if rng.random() < 0.35:
            noun = f"{rng.choice(EN.place_adjectives)} {noun}"
        return f"{preposition} the {noun}"

    def count(self) -> int:
        return self.rng.choice([self.rng.randint(2, 20), self.rng.randint(21, 99), self.rng.randint(100, 999)])

    def year(self) -> int:
        return self.rng.randint(1800, 2024)

    def participle(self) -> str:
        from lemminflect import getInflection

        return getInflection(self.rng.choice(EN.thing_verbs)[0], "VBN")[0]

    def everyday(self) -> str:
        """A clause with a pronoun subject, auxiliaries, prepositions and particles."""
        rng = self.rng
        subject, object_, be_now, be_then, third = rng.choice(EN.pronouns)
        other = rng.choice([pronoun[1] for pronoun in EN.pronouns if pronoun[1] != object_])
        base = rng.choice(EN.thing_verbs)[0]
        kind = rng.randrange(10)
        if kind == 0:
            return f"{subject} {'has' if third else 'have'} {rng.choice(EN.before_verb)} {self.participle()} " \
                f"{self.thing()}" + self.optional(0.5, lambda: f"{rng.choice(EN.prepositions)} {other}")
        if kind == 1:
            return f"{subject} {rng.choice(EN.modals)} {base} {self.thing()} {rng.choice(['for', 'with'])} {other}"
        if kind == 2:
            negation = rng.choice(["did not", "didn't", "does not" if third else "do not", "doesn't" if third else "don't"])
            return f"{subject} {negation} want to {base} {self.thing()}"
        if kind == 3:
            return f"{subject} {rng.choice(EN.that_verbs)} that {self.clause()}"
        if kind == 4:
            where = rng.choice(["in", "on", "under", "behind", "near", "next to"])
            return f"there {rng.choice(['is', 'was'])} {self.thing()} {where} {self.open_thing(['the', 'my', 'your'])}"
        if kind == 5:
            now, then = rng.choice(EN.motion)
            return f"{subject} {rng.choice([then, 'will ' + now, 'did not ' + now])} to " \
                f"{self.open_thing(['the', 'his', 'her', 'our', 'their'])} with {other} {rng.choice(EN.time_words)}"
        if kind == 6:
            verb = rng.choice(EN.thing_verbs)[1] if third else base
            return f"if {subject} {verb} {self.thing()}, {rng.choice(EN.pronouns)[0]} will {rng.choice(EN.thing_verbs)[0]} it"
        if kind == 7:
            return f"{subject} {rng.choice([be_now, be_then])} {rng.choice(['not', 'still', 'never', 'so', 'too', 'very'])} " \
                + self.rng.choice(self.words.adjectives)
        if kind == 8:
            verb = rng.choice(["gave", "sent", "showed", "brought", "sold", "took"])
            return f"{subject} {verb} it to {other} {rng.choice(['yesterday', 'again', 'today', 'last week', 'at once'])}"
        what = self.open_thing(["the", "this", "that", "my", "your", "our"])
        return f"{subject} {rng.choice(['took', 'pulled', 'threw', 'got'])} {self.thing()} " \
            f"{rng.choice(['out of', 'into', 'off', 'from', 'over', 'through'])} {what}"

    def clause(self) -> str:
        """A statement without its final punctuation, starting in lower case unless with a name."""
        rng = self.rng
        subject, plural = self.subject()
        kind = rng.randrange(20)
        if kind >= 14:
            return self.everyday()
        if kind == 9:
            return f"{subject} {rng.choice(EN.talking)} about {self.open_thing(['the', *EN.possessives])}"
        if kind == 10:
            return f"{self.open_thing(['the'])} of {self.open_thing(['the'])} {rng.choice(['is', 'was'])} " + \
                rng.choice(["very ", "quite ", "not ", ""]) + self.rng.choice(self.words.adjectives)
        if kind == 11:
            return f"{subject} {rng.choice(EN.gerund_takers)} {self.gerund()}" + self.optional(0.4, self.place)
        if kind == 12:
            return f"{subject} said that {self.open_thing(['the', 'this', 'that'])} was " + \
                self.rng.choice(self.words.adjectives)
        if kind == 13:
            return f"{subject} {self.rng.choice(self.words.adverbs)} {rng.choice(EN.thing_verbs)[2]} {self.thing()}"
        if kind == 0:
            verb = rng.choice(EN.thing_verbs)[2]
            return f"{subject} {verb} {self.thing(rng.random() < 0.3)}" + self.optional(0.5, self.place) + \
                self.optional(0.4, lambda: rng.choice(EN.times))
        if kind == 1:
            base, third, _ = rng.choice(EN.thing_verbs)
            return f"{subject} {base if plural else third} {self.thing(rng.random() < 0.4)} " + \
                rng.choice(EN.frequencies)
        if kind == 2:
            verb = rng.choice(EN.creature_verbs)[2]
            return f"{subject} {verb} {self.creature(rng.random() < 0.3)}" + self.optional(0.6, self.place)
        if kind == 3:
            verb = rng.choice(EN.intransitive_verbs)[2]
            return f"{subject} {verb}" + self.optional(0.5, lambda: rng.choice(EN.manners)) + \
                self.optional(0.6, self.place)
        if kind == 4:
            participle = rng.choice(EN.intransitive_verbs)[3]
            return f"{subject} {'are' if plural else 'is'} {participle} {self.place()}"
        if kind == 5:
            verb = rng.choice(EN.thing_verbs)[2]
            things = _noun_forms(rng.choice(EN.things))[1]
            if rng.random() < 0.4:
                things = f"{rng.choice(EN.thing_adjectives)} {things}"
            return f"{subject} {verb} {self.count()} {things}" + self.optional(0.4, self.place)
        if kind == 6:
            if rng.random() < 0.5:
                return f"{subject} {rng.choice(EN.intransitive_verbs)[2]} {self.place()} in {self.year()}"
            return f"{subject} {rng.choice(EN.creature_verbs)[2]} {self.creature()} in {self.year()}"
        if kind == 7:
            people = _noun_forms(rng.choice(EN.people))[1]
            return rng.choice([
                f"about {rng.randint(2, 99)}% of the {people} {rng.choice(EN.intransitive_verbs)[2]} {self.place()}",
                f"the price of {_noun_forms(rng.choice(EN.things))[1]} rose by {rng.randint(2, 60)}% "
                + rng.choice(EN.times),
                f"only {rng.randint(2, 99)}% of the {_noun_forms(rng.choice(EN.things))[1]} were "
                + rng.choice(EN.thing_adjectives),
            ])
        # kind == 8: ordinals, clock times and prices
        name = rng.choice(EN.names)
        return rng.choice([
            f"{name} finished {ordinal(rng.randint(1, 40))} in the race",
            f"{subject} {'live' if plural else 'lives'} on the {ordinal(rng.randint(1, 30))} floor",
            f"the party is on the {ordinal(rng.randint(1, 31))} of {rng.choice(EN.months)}",
            f"{subject} {rng.choice(EN.intransitive_verbs)[2]} until {clock_time(rng, 1, 12)}",
            f"{name} paid ${rng.randint(2, 500)} for {self.thing()}",
            f"the train leaves at {rng.randint(5, 11)}:{rng.randint(10, 59)}",
        ])

    def question(self) -> str:
        rng = self.rng
        subject, plural = self.subject()
        base = rng.choice(EN.thing_verbs)[0]
        kind = rng.randrange(14)
        if kind == 10:
            return f"Do you {rng.choice(['want to', 'need to', 'like to'])} {base} {self.thing()}?"
        if kind == 11:
            return f"Have you ever {self.participle()} {self.thing()}?"
        if kind == 12:
            return f"{rng.choice(['Can', 'Could', 'Should', 'Would'])} {rng.choice(['we', 'you', 'I', 'they'])} " \
                f"{base} it {rng.choice(EN.time_words)}?"
        if kind == 13:
            return f"What {rng.choice(['did', 'do', 'will'])} {rng.choice(['you', 'they', 'we'])} {base} " \
                f"{rng.choice(EN.time_words)}?"
        if kind == 8:
            return f"Why did {subject} stop {self.gerund()}?"
        if kind == 9:
            return f"Is {self.open_thing(['the', 'this', 'that'])} {self.rng.choice(self.words.adjectives)}?"
        if kind == 0:
            return f"Did {subject} {base} {self.thing(rng.random() < 0.3)}?"
        if kind == 1:
            return f"Where did {subject} {base} {self.thing()}?"
        if kind == 2:
            return f"Why {'are' if plural else 'is'} {subject} {rng.choice(EN.intransitive_verbs)[3]} {self.place()}?"
        if kind == 3:
            return f"How many {_noun_forms(rng.choice(EN.things))[1]} did {rng.choice(EN.names)} {base}?"
        if kind == 4:
            return f"Who {rng.choice(EN.creature_verbs)[2]} {self.creature(rng.random() < 0.3)} {self.place()}?"
        if kind == 5:
            thing, adjective = self.thing(), rng.choice(EN.thing_adjectives)
            return rng.choice([f"Is {thing} really {adjective}?", f"Can you {base} {thing}, please?"])
        if kind == 6:
            return f"Will {subject} {rng.choice(EN.intransitive_verbs)[0]} {self.place()} {rng.choice(EN.times)}?"
        return f"{self.clause()}?"  # a statement asked with rising intonation

    def exclamation(self) -> str:
        rng = self.rng
        thing = _noun_forms(rng.choice(EN.things))[0]
        kind = rng.randrange(7)
        if kind == 6:
            return f"{capitalize(self.open_thing(['the', 'this', 'that']))} is so " + \
                f"{self.rng.choice(self.words.adjectives)}!"
        if kind == 0:
            return f"What {_indefinite(rng.choice(EN.thing_adjectives))} {thing}!"
        if kind == 1:
            return f"The {thing} is so {rng.choice(EN.thing_adjectives)}!"
        if kind == 2:
            animal = _noun_forms(rng.choice(EN.animals))[0]
            return f"Look at that {rng.choice(EN.creature_adjectives)} {animal}!"
        if kind == 3:
            return f"{rng.choice(EN.names)}, please {rng.choice(EN.thing_verbs)[0]} {self.thing()}!"
        if kind == 4:
            return f"Oh no, {self.clause()}!"
        return f"{self.clause()}!"

    def compound(self) -> str:
        rng = self.rng
        if rng.random() < 0.15:
            return f"In {self.year()}, {self.clause()}."
        if rng.random() < 0.5:
            return f"{rng.choice(EN.sentence_openers)} {self.clause()}, {self.clause()}."
        return f"{self.clause()}, {rng.choice(EN.conjunctions)} {self.clause()}."
