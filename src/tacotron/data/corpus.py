"""A synthetic speech corpus: generated sentences spoken by eSpeak NG, written in the LJSpeech layout.

It is the project's default data and the data of the end-to-end tests. A hand-written grammar gives the
sentence shapes (statements, questions, exclamations, commas, numbers written as digits) and a few hundred
chosen words; its open slots (nouns, adjectives, adverbs, verbs) are filled from the several thousand most
frequent words of the language (tacotron.data.lexicon), inflected in agreement, so that a voice trained on
it meets most of the words of ordinary sentences. A reserved eighth of those words appears only in the
held-out sentences, which therefore always hold words the training part never has.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import random
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import soundfile
from tqdm import tqdm

from tacotron.audio.espeak import EspeakVoice
from tacotron.audio.source_voices import (SOURCE_VOICES, EspeakSourceVoice, SourceVoice, check_voice_language,
                                          open_source_voice)
from tacotron.audio.io import save_wav
from tacotron.audio.postprocess import trim_silence
from tacotron.data.lexicon import (EnglishWords, RussianAdjective, RussianNoun, RussianWords, english_words,
                                   forms_of, is_held_out_word, lemma_of, russian_words)
from tacotron.errors import DataError, UserError
from tacotron.files import atomic_write_text
from tacotron.text import get_frontend

LANGUAGES = ("en", "ru")
MIN_WORDS, MAX_WORDS = 3, 15
LONG_MIN_WORDS, LONG_MAX_WORDS = 20, 60
TEST_SHORT_COUNT, TEST_LONG_COUNT = 16, 8
# A short sentence whose CRC-32 falls in bucket 0 of 16 is reserved for the test list and never
# produced for training, so the two are disjoint by construction for every seed and count.
HELD_OUT_BUCKETS = 16
# Rejection sampling gives up after this many draws per requested sentence (the grammar is exhausted).
MAX_DRAWS_PER_SENTENCE = 50
# How often a noun or adjective slot takes a frequent word from the lexicon instead of a hand-picked one.
OPEN_WORD_SHARE = 0.6
DEFAULT_COUNT = 2000
# The corpus's audio rate: the project's (AudioConfig.sample_rate), eSpeak's and Piper's own.
CORPUS_SAMPLE_RATE = 22050
# Sentences handed to a voice at once (Festival speaks a batch in one process; see source_voices).
SYNTHESIS_BATCH = 32
# Bump when the sentences change for the same language, seed and count, so that an existing corpus is remade.
# 1: the hand-written grammar alone; 2: open word classes from wordfreq; 3: pronouns, auxiliaries, prepositions;
# 4: words reserved for the held-out list chosen against string literals only, not comments.
GENERATOR_VERSION = 4
# Silence trimming: 10 ms frames; a frame is speech when its RMS is within 40 dB of the loudest frame.
TRIM_THRESHOLD_DB = -40.0
TRIM_KEEP_MS = 50.0
# `--speakers N` takes the first N of these eSpeak NG voices: (voice variant, pitch 0-100), the
# speaker named "VARIANT-PITCH" (so that a changed voice is a new speaker, whose wavs are remade).
# Variants differ in timbre; the pitches spread the mean F0 of English speech (librosa.pyin) over
# about 100-250 Hz: m3-40 ~ 100 Hz, f4-50 ~ 178, m1-80 ~ 126, f2-75 ~ 248. Lower voices lose their
# pitch in a log-mel + Griffin-Lim round trip (m3 at pitch 25, ~83 Hz, often came back unvoiced).
SPEAKER_VOICES = [("m3", 40), ("f4", 50), ("m1", 80), ("f2", 75), ("m7", 55), ("f3", 35)]


def speaker_name(variant: str, pitch: int) -> str:
    return f"{variant}-{pitch}"


def _clock_time(rng: random.Random, first_hour: int, last_hour: int) -> str:
    return f"{rng.randint(first_hour, last_hour)}:{rng.choice(['00', '15', '30', '45'])}"


# ---------------------------------------------------------------- English vocabulary
# "word" has the regular plural; "word:plural" spells an irregular one.
EN_PEOPLE = """baker farmer teacher doctor sailor student painter driver nurse pilot writer fisherman:fishermen
child:children woman:women man:men neighbor musician soldier gardener librarian engineer tourist judge king queen
boy girl cook guard scientist shepherd merchant dancer postman:postmen captain hunter singer actor grandmother
grandfather uncle aunt professor waiter jeweler""".split()
EN_ANIMALS = """cat dog horse fox rabbit goose:geese mouse:mice wolf:wolves bear owl duck sheep:sheep goat parrot
squirrel frog lion monkey donkey pony:ponies tiger zebra puppy:puppies kitten hedgehog""".split()
EN_THINGS = """book letter key apple orange umbrella basket bottle candle chair table window box cup map ticket coin
ring shoe glove hat jacket lamp clock picture photograph newspaper pencil violin guitar bicycle boat kite blanket
pillow mirror bucket ladder hammer knife:knives spoon plate egg potato:potatoes tomato:tomatoes cake sandwich
envelope parcel stone shell feather flower leaf:leaves wallet suitcase notebook puzzle drum jar towel scarf:scarves
watch brush rope tent bell helmet carpet banana lemon peach cookie bowl kettle trumpet vase jug quilt
toothbrush sweater""".split()
EN_THING_ADJECTIVES = """new old small big red blue green yellow white black brown heavy broken empty strange
beautiful tiny huge wooden golden silver shiny dusty wet dry warm cold clean dirty expensive cheap round square
thin thick rusty precious lovely plain striped ancient soft bright dark purple fancy""".split()
EN_CREATURE_ADJECTIVES = """old young little tall quiet noisy clever lazy happy tired hungry brave kind friendly
famous curious gentle careful lucky funny sleepy proud polite patient grumpy cheerful nervous shy angry wise
jolly""".split()
EN_NAMES = """Anna Peter Maria John Lucy Thomas Emma David Sarah Oliver Grace Henry Alice George Clara Samuel Rose
Daniel Helen Victor Laura Martin Nora Oscar Julia Frank Ella Simon Irene Walter Zoe Jack""".split()
# base, third person singular, past
EN_THING_VERBS = [verb.split() for verb in """find finds found, carry carries carried, open opens opened,
paint paints painted, sell sells sold, buy buys bought, bring brings brought, take takes took, drop drops dropped,
hide hides hid, clean cleans cleaned, fix fixes fixed, wash washes washed, lose loses lost, borrow borrows borrowed,
keep keeps kept, hold holds held, break breaks broke, draw draws drew, throw throws threw, catch catches caught,
lift lifts lifted, push pushes pushed, check checks checked, wrap wraps wrapped, touch touches touched, see sees saw,
notice notices noticed, want wants wanted, show shows showed, steal steals stole, forget forgets forgot,
move moves moved, polish polishes polished, order orders ordered, choose chooses chose, return returns returned,
pack packs packed, measure measures measured, fetch fetches fetched, squeeze squeezes squeezed""".split(",")]
EN_CREATURE_VERBS = [verb.split() for verb in """see sees saw, meet meets met, help helps helped, call calls called,
follow follows followed, thank thanks thanked, visit visits visited, find finds found, feed feeds fed,
wake wakes woke, greet greets greeted, invite invites invited, chase chases chased, watch watches watched,
hear hears heard, photograph photographs photographed, miss misses missed, remember remembers remembered,
ignore ignores ignored, surprise surprises surprised""".split(",")]
# base, third person singular, past, present participle
EN_INTRANSITIVE_VERBS = [verb.split() for verb in """sleep sleeps slept sleeping, sing sings sang singing,
laugh laughs laughed laughing, wait waits waited waiting, run runs ran running, swim swims swam swimming,
dance dances danced dancing, smile smiles smiled smiling, cry cries cried crying, shout shouts shouted shouting,
walk walks walked walking, work works worked working, rest rests rested resting, jump jumps jumped jumping,
whisper whispers whispered whispering, listen listens listened listening, sit sits sat sitting,
stay stays stayed staying, hurry hurries hurried hurrying, travel travels traveled traveling,
play plays played playing, read reads read reading, cook cooks cooked cooking, climb climbs climbed climbing,
study studies studied studying, relax relaxes relaxed relaxing""".split(",")]
# noun:preposition that suits it; "near" suits all of them
EN_PLACES = [place.split(":") for place in """garden:in kitchen:in forest:in village:in station:at market:at
harbor:at library:in museum:in park:in church:behind castle:in valley:in field:in cellar:in attic:in office:in
bakery:at hospital:at school:at theater:at factory:behind farm:on square:in meadow:in tower:in cottage:in
stadium:at airport:at bridge:under river:by lake:by beach:on hill:on roof:on street:across playground:on
jungle:in zoo:at""".split()]
EN_PLACE_ADJECTIVES = "old small quiet busy empty dark sunny little crowded beautiful distant green famous".split()
EN_TIMES = """yesterday, this morning, last night, on Monday, on Friday evening, at noon, after lunch, before dinner,
in the spring, last winter, at dawn, early in the morning, late at night, in the evening, two days ago, last week,
on Sunday afternoon, on Tuesday, this summer, after school""".replace("\n", " ").split(", ")
EN_FREQUENCIES = """every morning, every day, on Sundays, twice a week, every evening, in winter, after breakfast,
once a month, on weekends, almost every night""".replace("\n", " ").split(", ")
EN_MANNERS = """quietly, slowly, loudly, happily, all day, for a while, again, alone, very quickly, for hours,
without a word, in silence""".replace("\n", " ").split(", ")
EN_MONTHS = "January February March April May June July August September October November December".split()
EN_POSSESSIVES = "my your his her our their".split()
EN_SENTENCE_OPENERS = ["When", "After", "Although", "Because", "While", "Before"]
# Verbs that take a gerund ("stopped reading"), so any verb of the lexicon fits after them.
EN_GERUND_TAKERS = "liked enjoyed started stopped avoided finished hated loved remembered kept began".split()
EN_TALKING = "talked wrote asked thought dreamed heard read spoke complained".split()
# The most frequent words of English are pronouns, auxiliaries, prepositions and particles; these
# patterns put them into sentences. Subject pronouns as (subject, object, "be" present, "be" past,
# third person singular).
EN_PRONOUNS = [("I", "me", "am", "was", False), ("you", "you", "are", "were", False),
               ("he", "him", "is", "was", True), ("she", "her", "is", "was", True),
               ("we", "us", "are", "were", False), ("they", "them", "are", "were", False)]
EN_MODALS = "will would can could should might must".split()
EN_BEFORE_VERB = "just also never always already still even often really".split()
EN_PREPOSITIONS = "with for from to about without behind under over into through".split()
EN_THAT_VERBS = ["think", "know", "said", "told me", "told them", "felt", "heard", "believe", "forgot"]
EN_MOTION = [("go", "went"), ("come", "came"), ("get", "got"), ("run", "ran"), ("walk", "walked")]
EN_TIME_WORDS = "today now then here there again tonight soon later".split()
EN_CONJUNCTIONS = ["and", "but", "so", "because", "while", "although", "until"]


def _en_noun_forms(entry: str) -> tuple[str, str]:
    if ":" in entry:
        singular, plural = entry.split(":")
        return singular, plural
    if entry.endswith(("s", "x", "ch", "sh")):
        return entry, entry + "es"
    return entry, entry + "s"


def _en_indefinite(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _en_ordinal(number: int) -> str:
    suffix = "th" if number % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


class SentenceGrammar:
    """What both languages' grammars share: the mix of sentence kinds and long sentences.
    Subclasses supply clause(), question(), exclamation(), compound() and the word lists."""

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


class EnglishSentences(SentenceGrammar):
    """Draws English sentences from a small grammar; every choice comes from `rng`."""

    openers = EN_SENTENCE_OPENERS
    conjunctions = EN_CONJUNCTIONS

    words: EnglishWords

    def _noun_phrase(self, nouns: list[str], adjectives: list[str], plural: bool) -> str:
        rng = self.rng
        singular, plural_form = _en_noun_forms(rng.choice(nouns))
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
            return rng.choice(EN_POSSESSIVES) + " " + noun
        if plural:
            return rng.choice(["some", "these", "those", "two"]) + " " + noun
        return _en_indefinite(noun) if roll < 0.9 else rng.choice(["this", "that"]) + " " + noun

    def thing(self, plural: bool = False) -> str:
        if not plural and self.rng.random() < OPEN_WORD_SHARE:
            return self.open_thing(["the", "the", "this", "that", *EN_POSSESSIVES])
        return self._noun_phrase(EN_THINGS, EN_THING_ADJECTIVES, plural)

    def open_thing(self, determiners: list[str]) -> str:
        """A lexicon noun in the singular, which suits count and mass nouns alike after these determiners."""
        noun = self.rng.choice(self.words.nouns)
        if self.rng.random() < 0.5:
            noun = f"{self.rng.choice(self.words.adjectives)} {noun}"
        return f"{self.rng.choice(determiners)} {noun}"

    def gerund(self) -> str:
        return self.rng.choice(self.words.verbs).gerund

    def creature(self, plural: bool = False) -> str:
        nouns = EN_PEOPLE if self.rng.random() < 0.7 else EN_ANIMALS
        return self._noun_phrase(nouns, EN_CREATURE_ADJECTIVES, plural)

    def subject(self) -> tuple[str, bool]:
        """A subject and whether it is plural."""
        roll = self.rng.random()
        if roll < 0.3:
            return self.rng.choice(EN_NAMES), False
        plural = roll > 0.8
        return self.creature(plural), plural

    def place(self) -> str:
        rng = self.rng
        if rng.random() < 0.35:
            return f"near {self.open_thing(['the'])}"
        noun, preposition = rng.choice(EN_PLACES)
        if rng.random() < 0.3:
            preposition = "near"
        if rng.random() < 0.35:
            noun = f"{rng.choice(EN_PLACE_ADJECTIVES)} {noun}"
        return f"{preposition} the {noun}"

    def optional(self, probability: float, make) -> str:
        return " " + make() if self.rng.random() < probability else ""

    def count(self) -> int:
        return self.rng.choice([self.rng.randint(2, 20), self.rng.randint(21, 99), self.rng.randint(100, 999)])

    def year(self) -> int:
        return self.rng.randint(1800, 2024)

    def participle(self) -> str:
        from lemminflect import getInflection

        return getInflection(self.rng.choice(EN_THING_VERBS)[0], "VBN")[0]

    def everyday(self) -> str:
        """A clause with a pronoun subject, auxiliaries, prepositions and particles."""
        rng = self.rng
        subject, object_, be_now, be_then, third = rng.choice(EN_PRONOUNS)
        other = rng.choice([pronoun[1] for pronoun in EN_PRONOUNS if pronoun[1] != object_])
        base = rng.choice(EN_THING_VERBS)[0]
        kind = rng.randrange(10)
        if kind == 0:
            return f"{subject} {'has' if third else 'have'} {rng.choice(EN_BEFORE_VERB)} {self.participle()} " \
                f"{self.thing()}" + self.optional(0.5, lambda: f"{rng.choice(EN_PREPOSITIONS)} {other}")
        if kind == 1:
            return f"{subject} {rng.choice(EN_MODALS)} {base} {self.thing()} {rng.choice(['for', 'with'])} {other}"
        if kind == 2:
            negation = rng.choice(["did not", "didn't", "does not" if third else "do not", "doesn't" if third else "don't"])
            return f"{subject} {negation} want to {base} {self.thing()}"
        if kind == 3:
            return f"{subject} {rng.choice(EN_THAT_VERBS)} that {self.clause()}"
        if kind == 4:
            where = rng.choice(["in", "on", "under", "behind", "near", "next to"])
            return f"there {rng.choice(['is', 'was'])} {self.thing()} {where} {self.open_thing(['the', 'my', 'your'])}"
        if kind == 5:
            now, then = rng.choice(EN_MOTION)
            return f"{subject} {rng.choice([then, 'will ' + now, 'did not ' + now])} to " \
                f"{self.open_thing(['the', 'his', 'her', 'our', 'their'])} with {other} {rng.choice(EN_TIME_WORDS)}"
        if kind == 6:
            verb = rng.choice(EN_THING_VERBS)[1] if third else base
            return f"if {subject} {verb} {self.thing()}, {rng.choice(EN_PRONOUNS)[0]} will {rng.choice(EN_THING_VERBS)[0]} it"
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
            return f"{subject} {rng.choice(EN_TALKING)} about {self.open_thing(['the', *EN_POSSESSIVES])}"
        if kind == 10:
            return f"{self.open_thing(['the'])} of {self.open_thing(['the'])} {rng.choice(['is', 'was'])} " + \
                rng.choice(["very ", "quite ", "not ", ""]) + self.rng.choice(self.words.adjectives)
        if kind == 11:
            return f"{subject} {rng.choice(EN_GERUND_TAKERS)} {self.gerund()}" + self.optional(0.4, self.place)
        if kind == 12:
            return f"{subject} said that {self.open_thing(['the', 'this', 'that'])} was " + \
                self.rng.choice(self.words.adjectives)
        if kind == 13:
            return f"{subject} {self.rng.choice(self.words.adverbs)} {rng.choice(EN_THING_VERBS)[2]} {self.thing()}"
        if kind == 0:
            verb = rng.choice(EN_THING_VERBS)[2]
            return f"{subject} {verb} {self.thing(rng.random() < 0.3)}" + self.optional(0.5, self.place) + \
                self.optional(0.4, lambda: rng.choice(EN_TIMES))
        if kind == 1:
            base, third, _ = rng.choice(EN_THING_VERBS)
            return f"{subject} {base if plural else third} {self.thing(rng.random() < 0.4)} " + \
                rng.choice(EN_FREQUENCIES)
        if kind == 2:
            verb = rng.choice(EN_CREATURE_VERBS)[2]
            return f"{subject} {verb} {self.creature(rng.random() < 0.3)}" + self.optional(0.6, self.place)
        if kind == 3:
            verb = rng.choice(EN_INTRANSITIVE_VERBS)[2]
            return f"{subject} {verb}" + self.optional(0.5, lambda: rng.choice(EN_MANNERS)) + \
                self.optional(0.6, self.place)
        if kind == 4:
            participle = rng.choice(EN_INTRANSITIVE_VERBS)[3]
            return f"{subject} {'are' if plural else 'is'} {participle} {self.place()}"
        if kind == 5:
            verb = rng.choice(EN_THING_VERBS)[2]
            things = _en_noun_forms(rng.choice(EN_THINGS))[1]
            if rng.random() < 0.4:
                things = f"{rng.choice(EN_THING_ADJECTIVES)} {things}"
            return f"{subject} {verb} {self.count()} {things}" + self.optional(0.4, self.place)
        if kind == 6:
            if rng.random() < 0.5:
                return f"{subject} {rng.choice(EN_INTRANSITIVE_VERBS)[2]} {self.place()} in {self.year()}"
            return f"{subject} {rng.choice(EN_CREATURE_VERBS)[2]} {self.creature()} in {self.year()}"
        if kind == 7:
            people = _en_noun_forms(rng.choice(EN_PEOPLE))[1]
            return rng.choice([
                f"about {rng.randint(2, 99)}% of the {people} {rng.choice(EN_INTRANSITIVE_VERBS)[2]} {self.place()}",
                f"the price of {_en_noun_forms(rng.choice(EN_THINGS))[1]} rose by {rng.randint(2, 60)}% "
                + rng.choice(EN_TIMES),
                f"only {rng.randint(2, 99)}% of the {_en_noun_forms(rng.choice(EN_THINGS))[1]} were "
                + rng.choice(EN_THING_ADJECTIVES),
            ])
        # kind == 8: ordinals, clock times and prices
        name = rng.choice(EN_NAMES)
        return rng.choice([
            f"{name} finished {_en_ordinal(rng.randint(1, 40))} in the race",
            f"{subject} {'live' if plural else 'lives'} on the {_en_ordinal(rng.randint(1, 30))} floor",
            f"the party is on the {_en_ordinal(rng.randint(1, 31))} of {rng.choice(EN_MONTHS)}",
            f"{subject} {rng.choice(EN_INTRANSITIVE_VERBS)[2]} until {_clock_time(rng, 1, 12)}",
            f"{name} paid ${rng.randint(2, 500)} for {self.thing()}",
            f"the train leaves at {rng.randint(5, 11)}:{rng.randint(10, 59)}",
        ])

    def question(self) -> str:
        rng = self.rng
        subject, plural = self.subject()
        base = rng.choice(EN_THING_VERBS)[0]
        kind = rng.randrange(14)
        if kind == 10:
            return f"Do you {rng.choice(['want to', 'need to', 'like to'])} {base} {self.thing()}?"
        if kind == 11:
            return f"Have you ever {self.participle()} {self.thing()}?"
        if kind == 12:
            return f"{rng.choice(['Can', 'Could', 'Should', 'Would'])} {rng.choice(['we', 'you', 'I', 'they'])} " \
                f"{base} it {rng.choice(EN_TIME_WORDS)}?"
        if kind == 13:
            return f"What {rng.choice(['did', 'do', 'will'])} {rng.choice(['you', 'they', 'we'])} {base} " \
                f"{rng.choice(EN_TIME_WORDS)}?"
        if kind == 8:
            return f"Why did {subject} stop {self.gerund()}?"
        if kind == 9:
            return f"Is {self.open_thing(['the', 'this', 'that'])} {self.rng.choice(self.words.adjectives)}?"
        if kind == 0:
            return f"Did {subject} {base} {self.thing(rng.random() < 0.3)}?"
        if kind == 1:
            return f"Where did {subject} {base} {self.thing()}?"
        if kind == 2:
            return f"Why {'are' if plural else 'is'} {subject} {rng.choice(EN_INTRANSITIVE_VERBS)[3]} {self.place()}?"
        if kind == 3:
            return f"How many {_en_noun_forms(rng.choice(EN_THINGS))[1]} did {rng.choice(EN_NAMES)} {base}?"
        if kind == 4:
            return f"Who {rng.choice(EN_CREATURE_VERBS)[2]} {self.creature(rng.random() < 0.3)} {self.place()}?"
        if kind == 5:
            thing, adjective = self.thing(), rng.choice(EN_THING_ADJECTIVES)
            return rng.choice([f"Is {thing} really {adjective}?", f"Can you {base} {thing}, please?"])
        if kind == 6:
            return f"Will {subject} {rng.choice(EN_INTRANSITIVE_VERBS)[0]} {self.place()} {rng.choice(EN_TIMES)}?"
        return f"{self.clause()}?"  # a statement asked with rising intonation

    def exclamation(self) -> str:
        rng = self.rng
        thing = _en_noun_forms(rng.choice(EN_THINGS))[0]
        kind = rng.randrange(7)
        if kind == 6:
            return f"{_capitalize(self.open_thing(['the', 'this', 'that']))} is so " + \
                f"{self.rng.choice(self.words.adjectives)}!"
        if kind == 0:
            return f"What {_en_indefinite(rng.choice(EN_THING_ADJECTIVES))} {thing}!"
        if kind == 1:
            return f"The {thing} is so {rng.choice(EN_THING_ADJECTIVES)}!"
        if kind == 2:
            animal = _en_noun_forms(rng.choice(EN_ANIMALS))[0]
            return f"Look at that {rng.choice(EN_CREATURE_ADJECTIVES)} {animal}!"
        if kind == 3:
            return f"{rng.choice(EN_NAMES)}, please {rng.choice(EN_THING_VERBS)[0]} {self.thing()}!"
        if kind == 4:
            return f"Oh no, {self.clause()}!"
        return f"{self.clause()}!"

    def compound(self) -> str:
        rng = self.rng
        if rng.random() < 0.15:
            return f"In {self.year()}, {self.clause()}."
        if rng.random() < 0.5:
            return f"{rng.choice(EN_SENTENCE_OPENERS)} {self.clause()}, {self.clause()}."
        return f"{self.clause()}, {rng.choice(EN_CONJUNCTIONS)} {self.clause()}."



# ---------------------------------------------------------------- Russian vocabulary
# Masculine living nouns as "nominative:accusative"; feminine ones are only nominative (the accusative is regular).
RU_MALE_CREATURES = """рыбак:рыбака учитель:учителя врач:врача пекарь:пекаря моряк:моряка студент:студента
художник:художника водитель:водителя лётчик:лётчика писатель:писателя сосед:соседа музыкант:музыканта
солдат:солдата садовник:садовника инженер:инженера турист:туриста король:короля повар:повара охранник:охранника
пастух:пастуха купец:купца мальчик:мальчика старик:старика дедушка:дедушку кот:кота пёс:пса конь:коня волк:волка
медведь:медведя заяц:зайца гусь:гуся ёж:ежа попугай:попугая воробей:воробья почтальон:почтальона
капитан:капитана охотник:охотника профессор:профессора продавец:продавца щенок:щенка""".split()
RU_FEMALE_CREATURES = """учительница медсестра студентка художница соседка певица королева девочка бабушка
старушка хозяйка кошка собака лошадь лиса утка сова белка корова коза мышь продавщица актриса журналистка
тётя""".split()
RU_PLURAL_CREATURES = """дети студенты рыбаки соседи туристы музыканты школьники девочки мальчики гости птицы
кошки собаки утки солдаты моряки""".split()
# Counted people in the genitive plural, for "70% студентов".
RU_PEOPLE_GENITIVE_PLURAL = "студентов учеников туристов жителей зрителей покупателей пассажиров гостей".split()
# Adjectives whose endings follow one pattern: hard stems in -ый/-ой and velar stems in -ий.
RU_CREATURE_ADJECTIVES = """старый молодой добрый умный весёлый смелый ленивый голодный усталый маленький тихий
хитрый вежливый гордый строгий честный серьёзный сонный счастливый сердитый знаменитый любопытный быстрый
высокий грустный скромный упрямый мудрый""".split()
RU_THING_ADJECTIVES = """новый старый красный белый чёрный зелёный жёлтый большой маленький тяжёлый лёгкий пустой
полный чистый грязный деревянный золотой серебряный стеклянный круглый длинный короткий тёплый холодный мокрый
сухой дорогой дешёвый красивый странный старинный яркий мягкий твёрдый кожаный бумажный тонкий толстый широкий
узкий крепкий""".split()
# Inanimate nouns as "nominative:genitive plural", by gender.
RU_THINGS = {
    "m": """стол:столов стул:стульев ключ:ключей нож:ножей зонт:зонтов мяч:мячей карандаш:карандашей
журнал:журналов билет:билетов фонарь:фонарей чемодан:чемоданов кошелёк:кошельков конверт:конвертов
подарок:подарков камень:камней торт:тортов пирог:пирогов апельсин:апельсинов огурец:огурцов помидор:помидоров
шарф:шарфов платок:платков ковёр:ковров гвоздь:гвоздей молоток:молотков рюкзак:рюкзаков телефон:телефонов
альбом:альбомов портфель:портфелей стакан:стаканов чайник:чайников ящик:ящиков мешок:мешков сундук:сундуков
банан:бананов""".split(),
    "f": """книга:книг лампа:ламп чашка:чашек тарелка:тарелок ложка:ложек вилка:вилок корзина:корзин
бутылка:бутылок свеча:свечей шляпа:шляп куртка:курток сумка:сумок карта:карт монета:монет газета:газет
игрушка:игрушек картина:картин подушка:подушек коробка:коробок тетрадь:тетрадей лодка:лодок груша:груш
конфета:конфет открытка:открыток ручка:ручек скрипка:скрипок гитара:гитар верёвка:верёвок палатка:палаток
рубашка:рубашек перчатка:перчаток фотография:фотографий ваза:ваз шкатулка:шкатулок щётка:щёток
юбка:юбок""".split(),
    "n": """окно:окон яблоко:яблок зеркало:зеркал кресло:кресел яйцо:яиц письмо:писем одеяло:одеял
ведро:вёдер полотенце:полотенец колесо:колёс перо:перьев блюдце:блюдец платье:платьев
объявление:объявлений""".split(),
}
# Past tense as masculine, or "masculine:feminine:plural" when irregular.
RU_THING_VERBS_PAST = """купил потерял взял починил вымыл покрасил продал спрятал уронил увидел заметил нарисовал
поднял подарил выбросил почистил сломал забыл искал нашёл:нашла:нашли принёс:принесла:принесли показал выбрал
заказал вернул держал упаковал украл""".split()
RU_CREATURE_VERBS_PAST = """увидел встретил позвал разбудил накормил обнял нарисовал искал ждал услышал
поблагодарил пригласил сфотографировал заметил догнал спас:спасла:спасли""".split()
RU_INTRANSITIVE_PAST = """спал пел смеялся ждал плавал танцевал улыбнулся плакал кричал гулял работал отдыхал
прыгал сидел стоял молчал уснул читал играл шёл:шла:шли""".split()
# Present tense as "third person singular:third person plural".
RU_THING_VERBS_PRESENT = """покупает:покупают ищет:ищут моет:моют красит:красят продаёт:продают прячет:прячут
рисует:рисуют чистит:чистят берёт:берут чинит:чинят держит:держат несёт:несут видит:видят любит:любят
выбирает:выбирают показывает:показывают собирает:собирают""".split()
RU_INTRANSITIVE_PRESENT = """спит:спят поёт:поют смеётся:смеются ждёт:ждут плавает:плавают танцует:танцуют
улыбается:улыбаются плачет:плачут кричит:кричат гуляет:гуляют работает:работают отдыхает:отдыхают сидит:сидят
стоит:стоят молчит:молчат читает:читают играет:играют рисует:рисуют готовит:готовят""".split()
RU_IMPERATIVES = "возьми открой спрячь покажи купи принеси найди почини вымой подними убери".split()
RU_INFINITIVES = """купить найти починить вымыть показать спрятать взять принести нарисовать поднять убрать
выбрать""".split()
# Places as "preposition:prepositional case:gender".
RU_PLACES = [place.split(":") for place in """в:парке:m на:площади:f в:библиотеке:f в:музее:m в:доме:m
на:вокзале:m в:деревне:f в:городе:m на:рынке:m в:поле:n на:озере:n в:магазине:m в:замке:m на:мосту:m в:саду:m
в:лесу:m на:берегу:m в:порту:m на:крыше:f на:кухне:f в:комнате:f в:школе:f в:больнице:f на:ферме:f
в:гостинице:f на:улице:f в:квартире:f в:театре:m на:стадионе:m в:подвале:m на:балконе:m в:офисе:m на:станции:f
в:церкви:f на:острове:m в:долине:f на:холме:m в:зале:m в:подъезде:m в:зоопарке:m""".split()]
RU_PLACE_ADJECTIVES = """старый новый большой маленький тихий светлый тёмный шумный пустой далёкий зелёный
высокий""".split()
RU_NAMES = {
    "m": "Иван Пётр Алексей Михаил Николай Сергей Андрей Дмитрий Борис Виктор Павел Олег Григорий Фёдор Степан".split(),
    "f": "Анна Мария Ольга Елена Наталья Татьяна Ирина Светлана Вера Нина Галина Дарья Катя Людмила Софья".split(),
}
RU_TIMES = """вчера, сегодня утром, вчера вечером, ночью, в понедельник, в пятницу вечером, в полдень, после обеда,
перед ужином, весной, прошлой зимой, на рассвете, рано утром, поздно вечером, два дня назад, на прошлой неделе,
в воскресенье, этим летом, после школы""".replace("\n", " ").split(", ")
RU_FREQUENCIES = """каждое утро, каждый день, по воскресеньям, дважды в неделю, каждый вечер, зимой, после завтрака,
раз в месяц, по выходным, почти каждую ночь""".replace("\n", " ").split(", ")
RU_MANNERS = "тихо, громко, долго, весело, спокойно, снова, весь день, до самого вечера, целый час, молча".split(", ")
RU_SCENE_ADVERBS = "тихо тепло красиво светло шумно холодно уютно темно спокойно".split()
RU_SENTENCE_OPENERS = ["Когда", "Пока", "Хотя", "Как только"]
# Prepositions that suit any noun, with the case they govern.
RU_NEAR = [("возле", "gent"), ("около", "gent"), ("недалеко от", "gent"), ("рядом с", "ablt")]
# Past tense verbs of speaking and thinking, followed by "о" + the prepositional case.
RU_ABOUT = "говорил думал мечтал спорил писал рассказывал вспоминал забыл".split()
# "оказался" + the instrumental: "цена дома оказалась высокой".
RU_TURNED_OUT = {"m": "оказался", "f": "оказалась", "n": "оказалось"}
RU_VOWELS = "аеёиоуыэюя"
# Pronouns, auxiliaries, prepositions and particles, the most frequent Russian words, for everyday().
# Subject pronouns as (pronoun, gender for the past tense, person for the present); "я"/"ты" take either gender.
RU_PRONOUNS = [("я", "mf", 0), ("ты", "mf", 1), ("он", "m", 2), ("она", "f", 2), ("мы", "pl", 3), ("вы", "pl", 4),
               ("они", "pl", 5)]
# Present tense by person (я, ты, он/она, мы, вы, они).
RU_WILL = "буду будешь будет будем будете будут".split()
RU_WANT = "хочу хочешь хочет хотим хотите хотят".split()
RU_CAN = "могу можешь может можем можете могут".split()
# Personal pronouns after a preposition, in the genitive and the dative.
RU_PRONOUNS_GENITIVE = "меня тебя него неё нас вас них".split()
RU_PRONOUNS_DATIVE = "мне тебе нему ней нам вам ним".split()
RU_BEFORE_VERB = ["не", "уже", "тоже", "ещё не", "никогда не", "даже", "просто", "сразу"]
RU_SAID = "сказал знал думал понял решил слышал".split()
RU_WENT = "пришёл:пришла:пришли пошёл:пошла:пошли подошёл:подошла:подошли вернулся".split()
# Prepositions with the case of the open noun phrase they take.
RU_PREPOSITIONS = [("из", "gent"), ("для", "gent"), ("без", "gent"), ("после", "gent"), ("у", "gent"),
                   ("под", "ablt"), ("над", "ablt"), ("между", "ablt"), ("через", "accs"), ("про", "accs"),
                   ("при", "loct")]
RU_CONJUNCTIONS = ["и", "но", "поэтому", "потому что", "пока", "хотя", "а потом"]
# Possessives and demonstratives: (nominative, accusative) by gender; "его"/"её" do not change.
RU_DETERMINERS = {
    "m": [("мой", "мой"), ("наш", "наш"), ("этот", "этот"), ("твой", "твой"), ("его", "его"), ("её", "её")],
    "f": [("моя", "мою"), ("наша", "нашу"), ("эта", "эту"), ("твоя", "твою"), ("его", "его"), ("её", "её")],
    "n": [("моё", "моё"), ("наше", "наше"), ("это", "это"), ("твоё", "твоё"), ("его", "его"), ("её", "её")],
}
VELAR_OR_SIBILANT = "гкхжшчщ"


def _ru_adjective(masculine: str, form: str) -> str:
    """One form of an adjective given its masculine nominative (-ый, -ой, or velar stem + -ий)."""
    stem = masculine[:-2]
    i_after_stem = stem[-1] in VELAR_OR_SIBILANT
    endings = {
        "m": masculine[-2:], "f": "ая", "n": "ое", "pl": "ие" if i_after_stem else "ые",
        "acc_m_animate": "ого", "acc_f": "ую", "prep_mn": "ом", "prep_f": "ой",
        "gen_pl": "их" if i_after_stem else "ых",
    }
    return stem + endings[form]


def _ru_feminine_accusative(noun: str) -> str:
    if noun.endswith("а"):
        return noun[:-1] + "у"
    if noun.endswith("я"):
        return noun[:-1] + "ю"
    return noun  # -ь: лошадь, тетрадь


def _ru_past(entry: str, gender: str) -> str:
    """Past tense agreeing with a subject of gender "m", "f" or "pl"."""
    if ":" in entry:
        masculine, feminine, plural = entry.split(":")
    elif entry.endswith("ся"):
        stem = entry[:-2]
        masculine, feminine, plural = entry, stem + "ась", stem + "ись"
    else:
        masculine, feminine, plural = entry, entry + "а", entry + "и"
    return {"m": masculine, "f": feminine, "pl": plural}[gender]


def _ru_present(entry: str, plural: bool) -> str:
    singular, plural_form = entry.split(":")
    return plural_form if plural else singular


def _ru_many(rng: random.Random) -> int:
    """A number read as a nominative cardinal that takes the genitive plural (5-20, 25, 37, 111, ...).

    The text front end spells plain numbers in the masculine nominative, so "1", "2"-"4" and their
    compounds would clash with a feminine noun ("два книги") or need other noun forms.
    """
    while True:
        number = rng.choice([rng.randint(5, 20), rng.randint(21, 99), rng.randint(100, 999)])
        if number % 10 in (0, 5, 6, 7, 8, 9) or number % 100 in (11, 12, 13, 14):
            return number


def _ru_with_o(preposition: str, phrase: str) -> str:
    """"о" -> "об" before a vowel ("об окне"), "с" -> "со" before "с", "з", "ш", "ж" + consonant ("со стола")."""
    last = preposition.split()[-1]
    if last == "о" and phrase[0] in "аоуэи":
        return preposition + "б"
    if last == "с" and phrase[0] in "сзшжщ" and len(phrase) > 1 and phrase[1] not in RU_VOWELS:
        return preposition + "о"
    if last == "к" and phrase[:2] in ("мн", "вс", "вт", "вз", "дв", "зв"):
        return preposition + "о"
    return preposition


class RussianSentences(SentenceGrammar):
    """Draws Russian sentences from a small grammar with case and gender agreement; choices come from `rng`."""

    openers = RU_SENTENCE_OPENERS
    conjunctions = RU_CONJUNCTIONS
    words: RussianWords

    def __init__(self, rng: random.Random, words: RussianWords):
        super().__init__(rng, words)
        self.objects = [noun for noun in words.nouns if not noun.animate]
        self.beings = [noun for noun in words.nouns if noun.animate and noun.gender in ("m", "f")]
        self.transitive = [verb for verb in words.verbs if verb.transitive]
        self.intransitive = [verb for verb in words.verbs if not verb.transitive]
        # Imperfective verbs, the ones with a present tense: (intransitive, transitive).
        self.present = ([verb for verb in self.intransitive if verb.present],
                        [verb for verb in self.transitive if verb.present])

    def open_phrase(self, nouns: list[RussianNoun]) -> tuple[RussianNoun, RussianAdjective | None]:
        """A lexicon noun, with a lexicon adjective half of the time; decline() puts it in a case."""
        noun = self.rng.choice(nouns)
        adjective = self.rng.choice(self.words.adjectives) if self.rng.random() < 0.5 else None
        return noun, adjective

    @staticmethod
    def decline(phrase: tuple[RussianNoun, RussianAdjective | None], case: str) -> str:
        noun, adjective = phrase
        if adjective is None:
            return noun.forms[case]
        return f"{adjective.form(case, noun.gender, noun.animate)} {noun.forms[case]}"

    def thing(self) -> tuple[str, str, str]:
        """A thing as (nominative phrase, accusative phrase, gender)."""
        rng = self.rng
        if rng.random() < OPEN_WORD_SHARE:
            phrase = self.open_phrase(self.objects)
            return self.decline(phrase, "nomn"), self.decline(phrase, "accs"), phrase[0].gender
        gender = rng.choice(["m", "m", "f", "f", "n"])
        noun = rng.choice(RU_THINGS[gender]).split(":")[0]
        nominative = noun
        accusative = _ru_feminine_accusative(noun) if gender == "f" else noun
        if rng.random() < 0.6:
            adjective = rng.choice(RU_THING_ADJECTIVES)
            nominative = f"{_ru_adjective(adjective, gender)} {nominative}"
            accusative_form = "acc_f" if gender == "f" else gender  # inanimate: accusative = nominative
            accusative = f"{_ru_adjective(adjective, accusative_form)} {accusative}"
        if rng.random() < 0.3:
            determiner_nominative, determiner_accusative = rng.choice(RU_DETERMINERS[gender])
            nominative = f"{determiner_nominative} {nominative}"
            accusative = f"{determiner_accusative} {accusative}"
        return nominative, accusative, gender

    def creature(self) -> tuple[str, str, str]:
        """A person or animal as (nominative phrase, accusative phrase, gender)."""
        rng = self.rng
        if rng.random() < OPEN_WORD_SHARE:
            phrase = self.open_phrase(self.beings)
            return self.decline(phrase, "nomn"), self.decline(phrase, "accs"), phrase[0].gender
        if rng.random() < 0.55:
            nominative, accusative = rng.choice(RU_MALE_CREATURES).split(":")
            gender, accusative_ending = "m", "acc_m_animate"
        else:
            nominative = rng.choice(RU_FEMALE_CREATURES)
            accusative = _ru_feminine_accusative(nominative)
            gender, accusative_ending = "f", "acc_f"
        if rng.random() < 0.55:
            adjective = rng.choice(RU_CREATURE_ADJECTIVES)
            nominative = f"{_ru_adjective(adjective, gender)} {nominative}"
            accusative = f"{_ru_adjective(adjective, accusative_ending)} {accusative}"
        elif rng.random() < 0.3:
            determiner_nominative, _ = rng.choice(RU_DETERMINERS[gender][:4])
            nominative = f"{determiner_nominative} {nominative}"
            # The inanimate accusatives above do not fit living beings; these do.
            determiner_accusative = {"мой": "моего", "наш": "нашего", "этот": "этого", "твой": "твоего",
                                     "моя": "мою", "наша": "нашу", "эта": "эту", "твоя": "твою"}[determiner_nominative]
            accusative = f"{determiner_accusative} {accusative}"
        return nominative, accusative, gender

    def subject(self) -> tuple[str, str]:
        """A subject as (phrase, gender "m", "f" or "pl")."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            gender = rng.choice(["m", "f"])
            return rng.choice(RU_NAMES[gender]), gender
        if roll < 0.45:
            noun = rng.choice(RU_PLURAL_CREATURES)
            if rng.random() < 0.5:
                noun = f"{_ru_adjective(rng.choice(RU_CREATURE_ADJECTIVES), 'pl')} {noun}"
            return noun, "pl"
        nominative, _, gender = self.creature()
        return nominative, gender

    def place(self) -> str:
        rng = self.rng
        if rng.random() < 0.35:
            preposition, case = rng.choice(RU_NEAR)
            phrase = self.decline(self.open_phrase(self.objects), case)
            return f"{_ru_with_o(preposition, phrase)} {phrase}"
        preposition, noun, gender = rng.choice(RU_PLACES)
        if rng.random() < 0.35:
            adjective = _ru_adjective(rng.choice(RU_PLACE_ADJECTIVES), "prep_f" if gender == "f" else "prep_mn")
            noun = f"{adjective} {noun}"
        return f"{preposition} {noun}"

    def optional(self, probability: float, make) -> str:
        return " " + make() if self.rng.random() < probability else ""

    def counted_things(self) -> str:
        """A number of things in the genitive plural: "25 красных яблок"."""
        rng = self.rng
        noun = rng.choice(RU_THINGS[rng.choice(["m", "f", "n"])]).split(":")[1]
        if rng.random() < 0.4:
            noun = f"{_ru_adjective(rng.choice(RU_THING_ADJECTIVES), 'gen_pl')} {noun}"
        return f"{_ru_many(rng)} {noun}"

    def everyday(self) -> str:
        """A clause with a pronoun subject, auxiliaries, prepositions and particles."""
        rng = self.rng
        subject, genders, person = rng.choice(RU_PRONOUNS)
        gender = rng.choice(["m", "f"]) if genders == "mf" else genders
        other = rng.randrange(7)  # another pronoun, by index into RU_PRONOUNS_GENITIVE / _DATIVE
        past = _ru_past(rng.choice(RU_THING_VERBS_PAST), gender)
        kind = rng.randrange(10)
        if kind == 0:
            return f"{subject} {rng.choice(RU_BEFORE_VERB)} {past} {self.thing()[1]}"
        if kind == 1:
            verb = rng.choice(self.present[1]).lemma  # an imperfective infinitive
            return f"{subject} {RU_WILL[person]} {verb} {self.thing()[1]}"
        if kind == 2:
            verb = rng.choice(self.transitive).lemma
            return f"{subject} {rng.choice([RU_WANT, RU_CAN])[person]} {verb} {self.thing()[1]} для " \
                + RU_PRONOUNS_GENITIVE[other]
        if kind == 3:
            return f"{subject} {_ru_past(rng.choice(RU_SAID), gender)}, что {self.clause()}"
        if kind == 4:
            nominative, _, thing_gender = self.thing()
            verb = rng.choice(["есть", {"m": "был", "f": "была", "n": "было"}[thing_gender]])
            return f"у {RU_PRONOUNS_GENITIVE[other]} {verb} {nominative}"
        if kind == 5:
            target = self.decline(self.open_phrase(self.objects), "datv")
            return f"{subject} {_ru_past(rng.choice(RU_WENT), gender)} {_ru_with_o('к', target)} {target}" + \
                self.optional(0.4, lambda: f"без {RU_PRONOUNS_GENITIVE[other]}")
        if kind == 6:
            second, _, second_person = rng.choice(RU_PRONOUNS)
            verb = rng.choice(self.present[1]).lemma
            return f"если {subject} {past} {self.thing()[1]}, {second} {RU_WILL[second_person]} {verb} это"
        if kind == 7:
            return f"это {rng.choice(['было', 'будет'])} {rng.choice(['очень', 'совсем', 'так', 'довольно'])} " + \
                rng.choice(self.words.adverbs)
        if kind == 8:
            preposition, case = rng.choice(RU_PREPOSITIONS)
            phrase = self.decline(self.open_phrase(self.objects), case)
            return f"{subject} {past} {self.thing()[1]} {preposition} {phrase}"
        if rng.random() < 0.5:
            return f"{subject} {rng.choice(['сейчас', 'теперь', 'тогда', 'там', 'здесь', 'тут'])} " \
                f"{_ru_past(rng.choice(RU_INTRANSITIVE_PAST), gender)}"
        friend = RU_PRONOUNS_DATIVE[other]
        return f"{subject} {_ru_past(rng.choice(RU_WENT), gender)} {_ru_with_o('к', friend)} {friend} " \
            + rng.choice(["вчера", "сегодня", "вечером", "утром", "снова", "тогда"])

    def clause(self) -> str:
        """A statement without its final punctuation, starting in lower case unless with a name."""
        rng = self.rng
        subject, gender = self.subject()
        plural = gender == "pl"
        kind = rng.randrange(20)
        if kind >= 14:
            return self.everyday()
        if kind == 9:
            verb = self.rng.choice(self.transitive).past[gender]
            return f"{subject} {verb} {self.thing()[1]}" + self.optional(0.3, self.place)
        if kind == 10:
            verb = self.rng.choice(self.intransitive).past[gender]
            return f"{subject}" + self.optional(0.4, lambda: self.rng.choice(self.words.adverbs)) + f" {verb}" + \
                self.optional(0.3, self.place)
        if kind == 11:
            head = self.open_phrase(self.objects)
            adjective = self.rng.choice(self.words.adjectives)
            return f"{self.decline(head, 'nomn')} {self.decline(self.open_phrase(self.objects), 'gent')} " + \
                f"{RU_TURNED_OUT[head[0].gender]} {adjective.form('ablt', head[0].gender)}"
        if kind == 12:
            topic = self.decline(self.open_phrase(self.objects), "loct")
            return f"{subject} {_ru_past(rng.choice(RU_ABOUT), gender)} {_ru_with_o('о', topic)} {topic}"
        if kind == 13:
            verb = self.rng.choice(self.present[rng.random() < 0.5])
            text = f"{subject} {rng.choice(['часто', 'всегда', 'обычно', 'редко', 'иногда'])} {verb.present[plural]}"
            return f"{text} {self.thing()[1]}" if verb.transitive else text
        if kind == 0:
            verb = _ru_past(rng.choice(RU_THING_VERBS_PAST), gender)
            text = f"{subject} {verb} {self.thing()[1]}" + self.optional(0.5, self.place)
            return f"{rng.choice(RU_TIMES)} {text}" if rng.random() < 0.3 else text
        if kind == 1:
            verb = _ru_present(rng.choice(RU_THING_VERBS_PRESENT), plural)
            return f"{subject} {verb} {self.thing()[1]} {rng.choice(RU_FREQUENCIES)}"
        if kind == 2:
            verb = _ru_past(rng.choice(RU_CREATURE_VERBS_PAST), gender)
            return f"{subject} {verb} {self.creature()[1]}" + self.optional(0.6, self.place)
        if kind == 3:
            verb = _ru_past(rng.choice(RU_INTRANSITIVE_PAST), gender)
            return f"{subject} {verb}" + self.optional(0.5, lambda: rng.choice(RU_MANNERS)) + \
                self.optional(0.6, self.place)
        if kind == 4:
            verb = _ru_present(rng.choice(RU_INTRANSITIVE_PRESENT), plural)
            return f"{self.place()} {verb} {subject}" if rng.random() < 0.4 else f"{subject} {verb} {self.place()}"
        if kind == 5:
            verb = _ru_past(rng.choice(RU_THING_VERBS_PAST), gender)
            return f"{subject} {verb} {self.counted_things()}" + self.optional(0.4, self.place)
        if kind == 6:
            return f"{self.place()} было {self.counted_things()}"
        if kind == 7:
            people = rng.choice(RU_PEOPLE_GENITIVE_PLURAL)
            return rng.choice([
                f"почти {rng.randint(2, 99)}% {people} {_ru_past(rng.choice(RU_INTRANSITIVE_PAST), 'pl')} "
                + self.place(),
                f"цены выросли на {rng.randint(2, 60)}% за {rng.choice(['год', 'месяц', 'неделю', 'зиму'])}",
                f"скидка на {self.thing()[1]} составила {rng.randint(2, 70)}%",
                f"влажность воздуха {rng.choice(['сегодня', 'вчера', 'утром'])} была {rng.randint(20, 99)}%",
            ])
        # kind == 8: clock times, prices and numbers used as labels
        name_gender = rng.choice(["m", "f"])
        name = rng.choice(RU_NAMES[name_gender])
        nominative, _, thing_gender = self.thing()
        cost = {"m": "стоил", "f": "стоила", "n": "стоило"}[thing_gender]
        return rng.choice([
            f"{name} {_ru_past('вернулся', name_gender)} домой в {_clock_time(rng, 5, 23)}",
            f"поезд отправляется в {rng.randint(5, 11)}:{rng.randint(10, 59)}",
            f"{nominative} {cost} {rng.randint(2, 999)} ₽",
            f"за {rng.randint(2, 999)} руб. можно купить {self.thing()[1]}",
            f"билет на концерт стоит ${rng.randint(2, 200)}",
            f"автобус номер {rng.randint(1, 99)} {rng.choice(['уже ушёл', 'опаздывает', 'стоит на остановке'])}",
            f"{subject} {'живут' if plural else 'живёт'} в доме номер {rng.randint(1, 150)}",
        ])

    def question(self) -> str:
        rng = self.rng
        subject, gender = self.subject()
        kind = rng.randrange(8)
        if kind == 0:
            return f"Где {subject} {_ru_past(rng.choice(RU_THING_VERBS_PAST), gender)} {self.thing()[1]}?"
        if kind == 1:
            return f"Почему {subject} {_ru_past(rng.choice(RU_INTRANSITIVE_PAST), gender)} {self.place()}?"
        if kind == 2:
            noun = rng.choice(RU_THINGS[rng.choice(["m", "f", "n"])]).split(":")[1]
            name_gender = rng.choice(["m", "f"])
            verb = _ru_past(rng.choice(RU_THING_VERBS_PAST), name_gender)
            return f"Сколько {noun} {verb} {rng.choice(RU_NAMES[name_gender])}?"
        if kind == 3:
            return f"Кто {_ru_past(rng.choice(RU_CREATURE_VERBS_PAST), 'm')} {self.creature()[1]} {self.place()}?"
        if kind == 4:
            return rng.choice([f"Ты можешь {rng.choice(RU_INFINITIVES)} {self.thing()[1]}?",
                               f"Вы видели {self.thing()[1]}?", f"Можно взять {self.thing()[1]}?"])
        if kind == 5:
            return f"Что {subject} {_ru_past(rng.choice(RU_THING_VERBS_PAST), gender)} {self.place()}?"
        if kind == 6:
            return f"Когда {subject} {_ru_past(rng.choice(['вернулся', 'пришёл:пришла:пришли', 'уснул']), gender)}?"
        return f"{self.clause()}?"  # a statement asked with rising intonation

    def exclamation(self) -> str:
        rng = self.rng
        kind = rng.randrange(6)
        if kind == 0:
            gender = rng.choice(["m", "f", "n"])
            noun = rng.choice(RU_THINGS[gender]).split(":")[0]
            what = {"m": "Какой", "f": "Какая", "n": "Какое"}[gender]
            return f"{what} {_ru_adjective(rng.choice(RU_THING_ADJECTIVES), gender)} {noun}!"
        if kind == 1:
            subject, gender = self.subject()
            return f"Смотри, {subject} {_ru_present(rng.choice(RU_INTRANSITIVE_PRESENT), gender == 'pl')}!"
        if kind == 2:
            return f"Как {rng.choice(['здесь', 'сегодня', 'было'])} {rng.choice(RU_SCENE_ADVERBS)}!"
        if kind == 3:
            name = rng.choice(RU_NAMES[rng.choice(["m", "f"])])
            return f"{name}, {rng.choice(RU_IMPERATIVES)} {self.thing()[1]}!"
        if kind == 4:
            return f"Ой, {self.clause()}!"
        return f"{self.clause()}!"

    def compound(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return f"{rng.choice(RU_SENTENCE_OPENERS)} {self.clause()}, {self.clause()}."
        return f"{self.clause()}, {rng.choice(RU_CONJUNCTIONS)} {self.clause()}."



_GRAMMARS = {"en": EnglishSentences, "ru": RussianSentences}
_LEXICONS = {"en": english_words, "ru": russian_words}


# ---------------------------------------------------------------- sentence lists
def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise UserError(f"no corpus generator for language {language!r}; choose one of: {', '.join(LANGUAGES)}")


def _capitalize(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]


def _word_count(sentence: str) -> int:
    return len(sentence.split())


def _is_held_out(sentence: str) -> bool:
    return zlib.crc32(sentence.encode("utf-8")) % HELD_OUT_BUCKETS == 0


def _hand_picked_words() -> set[str]:
    """Every word in a string literal of this module (its word lists and the fixed words of its sentence
    patterns, and a few other strings): such words may occur in training sentences, so they are never held
    out. Docstrings and comments do not count, so that editing them leaves the corpus as it is."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return {word.lower() for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            for word in re.findall(r"[^\W\d_]+", node.value)}


def _normalizer_words(language: str) -> set[str]:
    """Words the text front end writes out for the numbers, signs and times the grammar uses."""
    frontend = get_frontend(language, "characters")
    probes = [str(number) for number in (*range(1001), 1812, 1999, 2024)]
    probes += [_en_ordinal(number) for number in range(1, 41)] if language == "en" else []
    probes += ["5%", "$5", "5 ₽", "5 руб.", "12:15", "7:45", "in 1999", "в 1999"]
    return {word for probe in probes for word in spoken_words(frontend.normalize(probe))}


@functools.lru_cache(maxsize=None)
def _lexicon(language: str, held_out: bool):
    """(words, held-out forms): the open-class words of the training sentences (held_out False: the
    reserved ones left out) or of the held-out ones (all of them), and the written forms that only
    reserved words have, which therefore never occur in a training sentence."""
    words = _LEXICONS[language]()
    hand_picked = _hand_picked_words() | _normalizer_words(language)
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


def _draw(language: str, stream: str, count: int, accept, held_out: bool = False, long: bool = False) -> list[str]:
    """`count` distinct sentences from the grammar seeded by `stream`, each passing `accept`; the held-out
    stream may use the reserved words of the lexicon, the training stream never does."""
    words, _ = _lexicon(language, held_out)
    grammar = _GRAMMARS[language](random.Random(stream), words)
    sentences: list[str] = []
    seen: set[str] = set()
    # A held-out sentence must also fall in one CRC-32 bucket of HELD_OUT_BUCKETS: that many more draws.
    for _ in range(count * MAX_DRAWS_PER_SENTENCE * (HELD_OUT_BUCKETS if held_out else 1)):
        sentence = _capitalize(grammar.long_sentence() if long else grammar.sentence())
        if sentence not in seen and accept(sentence):
            seen.add(sentence)
            sentences.append(sentence)
            if len(sentences) == count:
                return sentences
    raise UserError(f"cannot generate {count} distinct {language!r} sentences; ask for fewer")


def generate_sentences(language: str, count: int, seed: int = 0) -> list[str]:
    """`count` distinct training sentences of 3-15 words; the list for a smaller count is a prefix of a larger one."""
    _check_language(language)
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
    _check_language(language)
    _, held_out_forms = _lexicon(language, held_out=True)

    def has_held_out_word(sentence: str) -> bool:
        return not held_out_forms.isdisjoint(word.lower() for word in re.findall(r"[^\W\d_]+", sentence))

    short = _draw(language, f"{language}:test:{seed}", TEST_SHORT_COUNT,
                  lambda s: MIN_WORDS <= _word_count(s) <= MAX_WORDS and _is_held_out(s) and has_held_out_word(s),
                  held_out=True)
    long = _draw(language, f"{language}:test-long:{seed}", TEST_LONG_COUNT,
                 lambda s: LONG_MIN_WORDS <= _word_count(s) <= LONG_MAX_WORDS and _is_held_out(s)
                 and has_held_out_word(s), held_out=True, long=True)
    return short + long


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


# ---------------------------------------------------------------- eSpeak input
def _speakable(normalized: str) -> str:
    # "+" marks stress in Russian transcripts; eSpeak would read it aloud as "plus".
    return normalized.replace("+", "")


# ---------------------------------------------------------------- corpus on disk
@dataclass
class HeldOutSentence:
    id: str
    text: str  # as written, with digits and punctuation
    normalized: str  # as spoken: what a listener (or a recognizer) should hear


def read_test_sentences(corpus_dir: str | Path) -> list[HeldOutSentence]:
    """The held-out list (test_sentences.csv, `id|text|normalized`), in file order."""
    path = Path(corpus_dir) / "test_sentences.csv"
    if not path.is_file():
        raise DataError(f"{path} not found: make the corpus with `tacotron corpus make`")
    return [HeldOutSentence(*line.split("|", 2))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _read_transcripts(path: Path) -> dict[str, str]:
    """id -> normalized text (and speaker, when there is one) of an existing metadata file, to tell
    which wavs still match."""
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    return {fields[0]: "|".join(fields[2:]) for fields in (line.split("|") for line in lines) if len(fields) >= 3}


def _metadata(utterances: list[tuple[str, str, str]], speakers: list[str] | None = None) -> str:
    """LJSpeech lines `id|text|normalized`, with a fourth column `speaker` when `speakers` is given."""
    suffixes = [f"|{speaker}" for speaker in speakers] if speakers else [""] * len(utterances)
    return "".join(f"{utterance_id}|{text}|{normalized}{suffix}\n"
                   for (utterance_id, text, normalized), suffix in zip(utterances, suffixes))


def speaker_voice(language: str, name: str) -> EspeakVoice:
    """The eSpeak NG voice of a `SPEAKER_VOICES` speaker of the multi-speaker corpus."""
    variants = {speaker_name(variant, pitch): (variant, pitch) for variant, pitch in SPEAKER_VOICES}
    if name not in variants:
        raise UserError(f"no corpus speaker named {name!r}; speakers: {', '.join(variants)}")
    variant, pitch = variants[name]
    return EspeakVoice(language, variant=variant, pitch=pitch)


def _remove_stale_wavs(folder: Path, id_pattern: re.Pattern, wanted: set[str]) -> None:
    # Clips of a former, larger corpus would otherwise sit next to the metadata that no longer lists them.
    for path in folder.glob("*.wav"):
        if id_pattern.fullmatch(path.stem) and path.stem not in wanted:
            path.unlink()


def _speakers(language: str, voices: list[str], speakers: int) -> dict[str, SourceVoice | None]:
    """Speaker name -> its voice, opened later (None until then); "" names the one speaker of a
    single-speaker corpus. Several voices speak as themselves ("slt", "joe"); `speakers` > 1 takes eSpeak's
    variants instead."""
    for name in voices:
        check_voice_language(name, language)
    if len(set(voices)) != len(voices):
        raise UserError(f"--voice names a voice twice: {', '.join(voices)}")
    if speakers > 1:
        if voices != ["espeak"]:
            raise UserError("--speakers N makes eSpeak speakers; for several other voices name them in --voice")
        return {speaker_name(variant, pitch): None for variant, pitch in SPEAKER_VOICES[:speakers]}
    return {name: None for name in voices} if len(voices) > 1 else {"": None}


def _open_speaker(language: str, voices: list[str], speaker: str, sample_rate: int) -> SourceVoice:
    if speaker == "":
        return open_source_voice(voices[0], language, sample_rate)
    if speaker in SOURCE_VOICES:
        return open_source_voice(speaker, language, sample_rate)
    return EspeakSourceVoice(sample_rate, speaker_voice(language, speaker), speaker)


def make_corpus(language: str, out_dir: str | Path, count: int = DEFAULT_COUNT, seed: int = 0,
                progress: bool = True, speakers: int = 1, voices: list[str] | None = None,
                sample_rate: int = CORPUS_SAMPLE_RATE) -> Path:
    """Write an LJSpeech-layout corpus of `count` utterances plus a held-out test list; returns out_dir.

    `voices` names the corpus voices that speak it (tacotron.audio.source_voices; default eSpeak). With
    several voices, or `speakers` > 1 eSpeak variants, utterance i is spoken by speaker i mod N (the
    held-out sentences likewise), metadata.csv gets the fourth column `speaker`, and corpus.json lists the
    speakers. Audio is converted to `sample_rate`. Resumable: a finished corpus with the same language,
    seed, count and voices is left as it is; otherwise wavs whose transcript and voice are unchanged are
    kept and only the missing ones are synthesized.
    """
    _check_language(language)
    voices = list(voices or ["espeak"])
    if count < 1:
        raise UserError(f"corpus size must be at least 1 utterance, got {count}")
    if not 1 <= speakers <= len(SPEAKER_VOICES):
        raise UserError(f"--speakers must be 1 to {len(SPEAKER_VOICES)} (the eSpeak voices of "
                        f"tacotron.data.corpus.SPEAKER_VOICES), got {speakers}")
    speaking = _speakers(language, voices, speakers)
    names = [name for name in speaking if name]
    out_dir = Path(out_dir)
    summary_path = out_dir / "corpus.json"
    identity = {"language": language, "seed": seed, "count": count, "generator": GENERATOR_VERSION,
                "voices": voices, "speakers": names, "sample_rate": sample_rate}
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        previous_identity = {"language": summary.get("language"), "seed": summary.get("seed"),
                             "count": summary.get("count"), "generator": summary.get("generator", 1),
                             # corpora made before corpus voices existed were eSpeak's, at its 22050 Hz
                             "voices": summary.get("voices", ["espeak"]),
                             "speakers": list(summary.get("speakers", {})),
                             "sample_rate": summary.get("sample_rate")}
        if previous_identity == identity and summary.get("complete", True):
            return out_dir
        if (previous_identity["voices"], previous_identity["sample_rate"]) != (voices, sample_rate):
            # Another voice spoke these wavs: none of them can be kept.
            for folder in ("wavs", "test_wavs"):
                for path in (out_dir / folder).glob("*.wav"):
                    path.unlink()
    # Until the end it says what is being made, so that an interrupted run can tell which wavs match it.
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(summary_path, json.dumps({**identity, "speakers": {name: {} for name in names},
                                                "complete": False}, indent=2) + "\n")

    frontend = get_frontend(language, "characters")  # only its normalization is used
    train = [(f"{language}_{index:05d}", text, frontend.normalize(text))
             for index, text in enumerate(generate_sentences(language, count, seed), start=1)]
    test = [(f"{language}_test_{index:03d}", text, frontend.normalize(text))
            for index, text in enumerate(generate_test_sentences(language, seed), start=1)]

    wav_dir, test_wav_dir = out_dir / "wavs", out_dir / "test_wavs"
    wav_dir.mkdir(parents=True, exist_ok=True)
    test_wav_dir.mkdir(parents=True, exist_ok=True)
    metadata_path, test_metadata_path = out_dir / "metadata.csv", out_dir / "test_sentences.csv"
    # Who speaks each held-out sentence of a multi-speaker corpus (`id|text|normalized|speaker`).
    test_speakers_path = out_dir / "test_speakers.csv"
    # Wavs are written atomically, so one that exists is complete; it is still valid if its transcript
    # (and speaker) is.
    previous = _read_transcripts(metadata_path) | _read_transcripts(
        test_speakers_path if test_speakers_path.is_file() else test_metadata_path)
    _remove_stale_wavs(wav_dir, re.compile(r"[a-z]+_\d{5}"), {utterance_id for utterance_id, _, _ in train})
    _remove_stale_wavs(test_wav_dir, re.compile(r"[a-z]+_test_\d{3}"), {utterance_id for utterance_id, _, _ in test})
    train_speakers = [names[index % len(names)] for index in range(len(train))] if names else None
    test_speakers = [names[index % len(names)] for index in range(len(test))] if names else None
    # The metadata goes first, so that an interrupted run can tell later which wavs match it.
    atomic_write_text(metadata_path, _metadata(train, train_speakers))
    # The held-out list keeps three columns (read_test_sentences); test_speakers.csv says who speaks each.
    atomic_write_text(test_metadata_path, _metadata(test))
    if names:
        atomic_write_text(test_speakers_path, _metadata(test, test_speakers))
    else:
        test_speakers_path.unlink(missing_ok=True)

    jobs = ([(wav_dir, item, speaker) for item, speaker in zip(train, train_speakers or [""] * len(train))]
            + [(test_wav_dir, item, speaker) for item, speaker in zip(test, test_speakers or [""] * len(test))])
    missing = [(folder, utterance_id, normalized, speaker) for folder, (utterance_id, _, normalized), speaker in jobs
               if not ((folder / f"{utterance_id}.wav").is_file()
                       and previous.get(utterance_id) == (f"{normalized}|{speaker}" if speaker else normalized))]
    label = "+".join(voices) if voices != ["espeak"] else "eSpeak"
    with tqdm(total=len(jobs), initial=len(jobs) - len(missing), desc=f"{label} {language} corpus", unit="utt",
              disable=not progress) as bar:
        # A batch per speaker at a time: Festival speaks a batch in one process.
        for speaker in speaking:
            mine = [job for job in missing if job[3] == speaker]
            for start in range(0, len(mine), SYNTHESIS_BATCH):
                batch = mine[start:start + SYNTHESIS_BATCH]
                if speaking[speaker] is None:
                    speaking[speaker] = _open_speaker(language, voices, speaker, sample_rate)
                waveforms = speaking[speaker].synthesize_many([_speakable(normalized) for _, _, normalized, _ in batch])
                for (folder, utterance_id, _, _), waveform in zip(batch, waveforms):
                    save_wav(folder / f"{utterance_id}.wav",
                             trim_silence(waveform, sample_rate, TRIM_THRESHOLD_DB, TRIM_KEEP_MS), sample_rate)
                bar.update(len(batch))
    seconds = {"train": 0.0, "test": 0.0}
    for folder, (utterance_id, _, _), _ in jobs:
        seconds["test" if folder == test_wav_dir else "train"] += soundfile.info(str(folder / f"{utterance_id}.wav")).duration

    share = held_out_word_share([normalized for _, _, normalized in train], [normalized for _, _, normalized in test])
    summary = {
        "language": language,
        "seed": seed,
        "count": count,
        "generator": GENERATOR_VERSION,
        "voices": voices,
        "sample_rate": sample_rate,
        # The rate each voice speaks at before conversion to sample_rate (a 16 kHz voice has nothing above 8 kHz).
        "voice_sample_rates": {name: SOURCE_VOICES[name].native_sample_rate for name in voices},
        "test_count": len(test),
        # Multi-speaker corpora only: name -> the voice speaking it (eSpeak: its variant and pitch, 0-100).
        **({"speakers": {name: _speaker_summary(name) for name in names}} if names else {}),
        "total_seconds": round(seconds["train"], 3),
        "test_total_seconds": round(seconds["test"], 3),
        "distinct_words": len({word for _, _, normalized in train for word in spoken_words(normalized)}),
        # Share of the held-out list's spoken words that no training transcript has (held_out_word_share).
        "held_out_unseen_tokens": round(share["tokens"], 4),
        "held_out_unseen_types": round(share["types"], 4),
        # Share of ordinary text (wordfreq frequencies) whose words the training part has (running_text_coverage).
        "running_text_coverage": round(running_text_coverage([normalized for _, _, normalized in train], language), 4),
        "complete": True,
    }
    atomic_write_text(summary_path, json.dumps(summary, indent=2) + "\n")
    return out_dir


def _speaker_summary(name: str) -> dict:
    if name in SOURCE_VOICES:
        return {"voice": name, "description": SOURCE_VOICES[name].description}
    variant, pitch = {speaker_name(v, p): (v, p) for v, p in SPEAKER_VOICES}[name]
    return {"voice": "espeak", "variant": variant, "pitch": pitch}
