"""Open-class words for the corpus grammar: the most frequent words of a language (the `wordfreq` lists),
sorted into word classes with their inflected forms by a dictionary shipped inside its package (English:
`lemminflect`; Russian: `pymorphy3` with the OpenCorpora dictionary of `pymorphy3-dicts-ru`).

Left out: offensive words, names, places, abbreviations (eSpeak would spell them letter by letter) and the
function words that a dictionary also files under a noun or an adjective ("which", "own"). Everything is
read from installed packages, so the lists are the same on every run for the same package versions.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# How many of wordfreq's most frequent words of a language are sorted into word classes.
VOCABULARY_SIZE = 12000
# An open word whose CRC-32 falls in bucket 0 of 8 is used only in held-out sentences, so that the
# held-out list has words the training part never has (1/8 of the open vocabulary).
HELD_OUT_WORD_BUCKETS = 8
MIN_WORD_LETTERS = 3

# Words lemminflect also lists as nouns, adjectives or verbs that the grammar's slots cannot take: function
# words, pronouns, modals and number words ("the which", "the own book", "the his"), adjectives that only
# follow a verb ("the afraid cat") and short words eSpeak may read as abbreviations ("dos", "mil").
EN_FUNCTION_WORDS = set("""which what who whom whose other another many more most much few several own such same
each every all any none some both either neither less least enough little lot lots one two three four five six
seven eight nine ten eleven twelve twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million
billion zero first second third next last former latter said like unlike via per versus plus minus etc mrs
yes yeah okay hey please thanks thank well else whatever however therefore anyway out up down off over in on
inside outside above below near far upon into onto within without about around across along behind beyond
then now here there very too also just even still yet ago so only away ahead aboard apart aside abroad often
after under before since until while whether that this these those i you he she it we they me him her us them my
your his its our their mine yours hers ours theirs myself yourself himself herself itself ourselves themselves
something anything nothing everything someone anyone everyone somebody anybody nobody everybody can will must
would could should might may shall due worth likely unlikely alone sorry afraid aware asleep awake alive
various forward online whole mid multi dos dis mil ref rev rex con pro ken chi aye bum bra""".split())
# Adverbs that cannot stand before a verb ("he early found").
EN_BAD_ADVERBS = set("""early daily weekly monthly yearly hourly nightly only likely holy ugly lonely friendly silly
lovely deadly elderly costly jolly bully rally belly fly apply supply reply ally italy july""".split())
EN_ADJECTIVE_SUFFIXES = ("al", "ous", "ful", "ive", "ic", "able", "ible", "ant", "ent", "ary", "less", "ish")
# A word that is also a verb is taken for a noun only when its past tense is rarer than this share of the
# word itself (wordfreq frequencies): "book"/"booked" 0.03 is a noun, "think"/"thought" 0.5 is not.
EN_NOUN_MAX_PAST_RATIO = 0.15
# A word that is also a noun is taken for an adjective only when its form says adjective (a suffix, or
# a comparative in the dictionary) and its plural is rarer than this share of the word itself:
# "red"/"reds" is an adjective, "game"/"games" is not.
EN_ADJECTIVE_MAX_PLURAL_RATIO = 0.2
# Not vulgar, yet not for a demo voice.
EN_SENSITIVE = set("""rape raped rapist suicide nazi slave slavery genocide terrorist porn sex sexual sexually
racist racism fascist bloody""".split())

# OpenCorpora grammemes of words the corpus leaves out: names, surnames, patronymics, places,
# organisations, abbreviations, initials, slang, informal, archaic, misspelt and distorted words,
# indeclinable words, words of common gender, plural-only nouns, pronoun-like and ordinal adjectives.
RU_EXCLUDED_GRAMMEMES = frozenset("""Name Surn Patr Geox Orgn Trad Abbr Init Slng Infr Arch Erro Dist Fixd Ms-f GNdr
Pltm Apro Anum Subx Prnt Poss Litr Coun Supr Cmp2""".split())
# Obscene Russian stems; the dictionary tags most obscenities Slng/Infr, but not all of them.
RU_OBSCENE_STEMS = ("хуй", "хуе", "хуё", "пизд", "бляд", "блят", "ебан", "ебат", "ебал", "ебл", "заеб", "заёб",
                    "наеб", "выеб", "уеб", "долбоеб", "долбоёб", "мудак", "мудил", "гандон", "пидор", "пидар",
                    "педик", "залуп", "шлюх", "хрен", "сука", "суки", "сучк", "говн", "жоп", "дерьм", "дроч",
                    "манда", "трах", "срат", "сран")
# Verbs that need a complement the grammar does not give ("мочь", "являться"), adverbs of degree or
# quantity that cannot stand alone before a verb ("сколько"), and nouns that live in set phrases only.
RU_FUNCTION_WORDS = set("""быть есть мочь смочь хотеть захотеть являться стать становиться казаться показаться
следовать удаться удаваться прийтись приходиться надеяться нравиться понравиться иметь бывать наслать оказаться
оказываться ничего несколько сколько столько насколько настолько гораздо соответственно довольно достаточно
примерно много немного частность привет""".split())
RU_SENSITIVE = set("самоубийство нацист раб рабство изнасилование террорист порно".split())
_ENGLISH_WORD = re.compile(r"[a-z]+")
_RUSSIAN_WORD = re.compile(r"[а-яё]+")
RU_GENDERS = {"m": "masc", "f": "femn", "n": "neut", "pl": "plur"}


def is_held_out_word(lemma: str) -> bool:
    return zlib.crc32(lemma.encode("utf-8")) % HELD_OUT_WORD_BUCKETS == 0


def _frequent_words(language: str) -> list[str]:
    from wordfreq import top_n_list

    return top_n_list(language, VOCABULARY_SIZE)


# ---------------------------------------------------------------- English
@dataclass(frozen=True)
class EnglishVerb:
    base: str
    gerund: str


@dataclass(frozen=True)
class EnglishWords:
    nouns: tuple[str, ...]  # singular, used with "the" and possessives (mass and count nouns alike)
    adjectives: tuple[str, ...]
    adverbs: tuple[str, ...]  # -ly adverbs that can stand before a verb
    verbs: tuple[EnglishVerb, ...]  # used as gerunds only: valency does not matter there

    def lemmas(self) -> set[str]:
        return {*self.nouns, *self.adjectives, *self.adverbs, *(verb.base for verb in self.verbs)}


def lemma_of(entry) -> str:
    """The dictionary form of any lexicon entry (English nouns, adjectives and adverbs are plain strings)."""
    return entry if isinstance(entry, str) else getattr(entry, "lemma", None) or entry.base


def forms_of(entry) -> set[str]:
    """The written forms the corpus grammar can make of a lexicon entry."""
    if isinstance(entry, str):
        return {entry}
    if isinstance(entry, EnglishVerb):
        return {entry.gerund}
    if isinstance(entry, RussianVerb):
        return {*entry.past.values(), *(entry.present or ())}
    return set(entry.forms.values())


def _english_profanity() -> set[str]:
    import better_profanity

    path = Path(better_profanity.__file__).with_name("profanity_wordlist.txt")
    return {line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def _ratio(forms: tuple[str, ...] | None, word: str) -> float:
    """wordfreq frequency of an inflected form over that of the word; forms spelt like the word count as 0."""
    from wordfreq import word_frequency

    form = next((form for form in forms or () if form != word), None)
    return word_frequency(form, "en") / max(word_frequency(word, "en"), 1e-9) if form else 0.0


@lru_cache(maxsize=1)
def english_words() -> EnglishWords:
    from lemminflect import getAllInflections, getAllLemmas, getInflection

    banned = _english_profanity() | EN_SENSITIVE | EN_FUNCTION_WORDS
    nouns, adjectives, adverbs, verbs = [], [], [], []
    for word in _frequent_words("en"):
        if len(word) < MIN_WORD_LETTERS or not _ENGLISH_WORD.fullmatch(word) or word in banned:
            continue
        # Only words the dictionary knows, in their base form; names and abbreviations are not in it.
        lemmas = getAllLemmas(word)
        # A noun that is also an adjective or adverb ("the old", "the outdoors"), a form of another verb
        # ("the facing") or mostly a verb ("the think") reads as something else after "the".
        if (lemmas.get("NOUN") == (word,) and not {"ADJ", "ADV"} & lemmas.keys()
                and lemmas.get("VERB", (word,)) == (word,)
                and ("VERB" not in lemmas or _ratio(getInflection(word, "VBD"), word) < EN_NOUN_MAX_PAST_RATIO)):
            nouns.append(word)
        # Adjectives that are also a form of a verb ("used", "going") are left out; those that are also
        # nouns are kept where their form says adjective or their plural is rare ("majority" is left out).
        if (lemmas.get("ADJ") == (word,) and lemmas.get("VERB", (word,)) == (word,)
                and ("NOUN" not in lemmas or (
                    (word.endswith(EN_ADJECTIVE_SUFFIXES) or "JJR" in getAllInflections(word, "ADJ"))
                    and _ratio(getInflection(word, "NNS"), word) < EN_ADJECTIVE_MAX_PLURAL_RATIO))):
            adjectives.append(word)
        if lemmas.get("ADV") == (word,) and word.endswith("ly") and word not in EN_BAD_ADVERBS:
            adverbs.append(word)
        if lemmas.get("VERB") == (word,) and "AUX" not in lemmas:
            gerund = getInflection(word, "VBG")
            if gerund and _ENGLISH_WORD.fullmatch(gerund[0]) and gerund[0] not in banned:
                verbs.append(EnglishVerb(word, gerund[0]))
    return EnglishWords(tuple(nouns), tuple(adjectives), tuple(adverbs), tuple(verbs))


# ---------------------------------------------------------------- Russian
@dataclass(frozen=True)
class RussianNoun:
    lemma: str
    gender: str  # "m", "f" or "n"
    animate: bool
    forms: dict[str, str] = field(hash=False, compare=False)  # singular, by OpenCorpora case: nomn, gent, ...


@dataclass(frozen=True)
class RussianAdjective:
    lemma: str
    forms: dict[tuple[str, str], str] = field(hash=False, compare=False)  # (case, gender or "plur"+animacy) -> form

    def form(self, case: str, gender: str, animate: bool = False) -> str:
        """The form agreeing with a noun: accusative masculine and plural depend on animacy."""
        return self.forms[(case, _animacy_key(case, gender, animate))]


@dataclass(frozen=True)
class RussianVerb:
    lemma: str
    transitive: bool
    past: dict[str, str] = field(hash=False, compare=False)  # "m", "f", "n", "pl" -> past tense form
    present: tuple[str, str] | None = None  # 3rd person singular, plural (imperfective verbs only)


@dataclass(frozen=True)
class RussianWords:
    nouns: tuple[RussianNoun, ...]
    adjectives: tuple[RussianAdjective, ...]
    verbs: tuple[RussianVerb, ...]
    adverbs: tuple[str, ...]

    def lemmas(self) -> set[str]:
        return {*(w.lemma for w in self.nouns), *(w.lemma for w in self.adjectives),
                *(w.lemma for w in self.verbs), *self.adverbs}


_RU_CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")


def _animacy_key(case: str, gender: str, animate: bool) -> str:
    if case == "accs" and gender in ("m", "pl"):
        return f"{gender}-{'anim' if animate else 'inan'}"
    return gender


def _ru_is_clean(parse) -> bool:
    word = parse.normal_form
    return (not (parse.tag.grammemes & RU_EXCLUDED_GRAMMEMES) and len(word) >= MIN_WORD_LETTERS
            and _RUSSIAN_WORD.fullmatch(word) is not None and word not in RU_SENSITIVE | RU_FUNCTION_WORDS
            and not any(stem in word for stem in RU_OBSCENE_STEMS))


def _ru_lemma_parse(morph, lemma: str, pos: str):
    """The dictionary parse of `lemma` as its own dictionary form of part of speech `pos`, or None."""
    for parse in morph.parse(lemma):
        if parse.tag.POS == pos and parse.word == parse.normal_form == lemma and parse.is_known:
            return parse
    return None


def _ru_inflect(parse, grammemes: set[str]) -> str | None:
    form = parse.inflect(grammemes)
    return form.word if form is not None else None


def _ru_noun_entry(parse) -> RussianNoun | None:
    gender = {"masc": "m", "femn": "f", "neut": "n"}.get(parse.tag.gender)
    if gender is None or "sing" not in parse.tag.grammemes:
        return None
    forms = {case: _ru_inflect(parse, {case, "sing"}) for case in _RU_CASES}
    if None in forms.values():
        return None
    return RussianNoun(parse.word, gender, "anim" in parse.tag.grammemes, forms)


def _ru_adjective_entry(parse) -> RussianAdjective | None:
    forms = {}
    for case in _RU_CASES:
        for gender in ("m", "f", "n", "pl"):
            number = {"plur"} if gender == "pl" else {RU_GENDERS[gender], "sing"}
            animacies = (True, False) if case == "accs" and gender in ("m", "pl") else (False,)
            for animate in animacies:
                extra = {"anim" if animate else "inan"} if len(animacies) == 2 else set()
                form = _ru_inflect(parse, {case, *number, *extra})
                if form is None:
                    return None
                forms[(case, _animacy_key(case, gender, animate))] = form
    return RussianAdjective(parse.word, forms)


def _ru_verb_entry(parse) -> RussianVerb | None:
    past = {gender: _ru_inflect(parse, {"VERB", "past", "plur"} if gender == "pl"
                                else {"VERB", "past", "sing", RU_GENDERS[gender]}) for gender in RU_GENDERS}
    if None in past.values():
        return None
    present = None
    if "impf" in parse.tag.grammemes:
        singular = _ru_inflect(parse, {"VERB", "pres", "3per", "sing"})
        plural = _ru_inflect(parse, {"VERB", "pres", "3per", "plur"})
        present = (singular, plural) if singular and plural else None
    return RussianVerb(parse.word, "tran" in parse.tag.grammemes, past, present)


@lru_cache(maxsize=1)
def russian_words() -> RussianWords:
    import pymorphy3

    morph = pymorphy3.MorphAnalyzer()
    seen: set[str] = set()
    nouns, adjectives, verbs, adverbs = [], [], [], []
    for word in _frequent_words("ru"):
        if not _RUSSIAN_WORD.fullmatch(word):
            continue
        best = morph.parse(word)[0]
        pos = {"VERB": "INFN"}.get(best.tag.POS, best.tag.POS)  # a finite verb stands for its infinitive
        lemma = best.normal_form
        if lemma in seen or pos not in ("NOUN", "ADJF", "INFN", "ADVB") or not _ru_is_clean(best):
            continue
        seen.add(lemma)
        parse = _ru_lemma_parse(morph, lemma, pos)
        if parse is None or not _ru_is_clean(parse):
            continue
        if pos == "NOUN":
            entry = _ru_noun_entry(parse)
            target = nouns
        elif pos == "ADJF":
            entry = _ru_adjective_entry(parse)
            target = adjectives
        elif pos == "INFN":
            entry = _ru_verb_entry(parse)
            target = verbs
        else:
            entry = lemma if lemma.endswith("о") else None  # adverbs of manner: "быстро", "тихо"
            target = adverbs
        if entry is not None:
            target.append(entry)
    return RussianWords(tuple(nouns), tuple(adjectives), tuple(verbs), tuple(adverbs))
