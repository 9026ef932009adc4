"""The Russian sentence grammar, with case, gender and number agreement, over the word lists of
words/russian.toml and the open-class words of the lexicon."""

from __future__ import annotations

import random

from tacotron.data.corpus.grammar import OPEN_WORD_SHARE, SentenceGrammar, clock_time
from tacotron.data.corpus.word_lists import load_word_lists
from tacotron.data.lexicon import RussianAdjective, RussianNoun, RussianWords

RU = load_word_lists("russian.toml")
# Spelling: the vowels (_with_o: "с" becomes "со" before two consonants) and the letters after which
# an adjective ending writes "и" for "ы" (_adjective).
RU_VOWELS = "аеёиоуыэюя"
VELAR_OR_SIBILANT = "гкхжшчщ"


def _adjective(masculine: str, form: str) -> str:
    """One form of an adjective given its masculine nominative (-ый, -ой, or velar stem + -ий)."""
    stem = masculine[:-2]
    i_after_stem = stem[-1] in VELAR_OR_SIBILANT
    endings = {
        "m": masculine[-2:], "f": "ая", "n": "ое", "pl": "ие" if i_after_stem else "ые",
        "acc_m_animate": "ого", "acc_f": "ую", "prep_mn": "ом", "prep_f": "ой",
        "gen_pl": "их" if i_after_stem else "ых",
    }
    return stem + endings[form]


def _feminine_accusative(noun: str) -> str:
    if noun.endswith("а"):
        return noun[:-1] + "у"
    if noun.endswith("я"):
        return noun[:-1] + "ю"
    return noun  # -ь: лошадь, тетрадь


def _past(entry: str, gender: str) -> str:
    """Past tense agreeing with a subject of gender "m", "f" or "pl"."""
    if ":" in entry:
        masculine, feminine, plural = entry.split(":")
    elif entry.endswith("ся"):
        stem = entry[:-2]
        masculine, feminine, plural = entry, stem + "ась", stem + "ись"
    else:
        masculine, feminine, plural = entry, entry + "а", entry + "и"
    return {"m": masculine, "f": feminine, "pl": plural}[gender]


def _present(entry: str, plural: bool) -> str:
    singular, plural_form = entry.split(":")
    return plural_form if plural else singular


def _many(rng: random.Random) -> int:
    """A number read as a nominative cardinal that takes the genitive plural (5-20, 25, 37, 111, ...).

    The text front end spells plain numbers in the masculine nominative, so "1", "2"-"4" and their
    compounds would clash with a feminine noun ("два книги") or need other noun forms.
    """
    while True:
        number = rng.choice([rng.randint(5, 20), rng.randint(21, 99), rng.randint(100, 999)])
        if number % 10 in (0, 5, 6, 7, 8, 9) or number % 100 in (11, 12, 13, 14):
            return number


def _with_o(preposition: str, phrase: str) -> str:
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

    openers = RU.sentence_openers
    conjunctions = RU.conjunctions
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
        noun = rng.choice(RU.things[gender]).split(":")[0]
        nominative = noun
        accusative = _feminine_accusative(noun) if gender == "f" else noun
        if rng.random() < 0.6:
            adjective = rng.choice(RU.thing_adjectives)
            nominative = f"{_adjective(adjective, gender)} {nominative}"
            accusative_form = "acc_f" if gender == "f" else gender  # inanimate: accusative = nominative
            accusative = f"{_adjective(adjective, accusative_form)} {accusative}"
        if rng.random() < 0.3:
            determiner_nominative, determiner_accusative = rng.choice(RU.determiners[gender])
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
            nominative, accusative = rng.choice(RU.male_creatures).split(":")
            gender, accusative_ending = "m", "acc_m_animate"
        else:
            nominative = rng.choice(RU.female_creatures)
            accusative = _feminine_accusative(nominative)
            gender, accusative_ending = "f", "acc_f"
        if rng.random() < 0.55:
            adjective = rng.choice(RU.creature_adjectives)
            nominative = f"{_adjective(adjective, gender)} {nominative}"
            accusative = f"{_adjective(adjective, accusative_ending)} {accusative}"
        elif rng.random() < 0.3:
            determiner_nominative, _ = rng.choice(RU.determiners[gender][:4])
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
            return rng.choice(RU.names[gender]), gender
        if roll < 0.45:
            noun = rng.choice(RU.plural_creatures)
            if rng.random() < 0.5:
                noun = f"{_adjective(rng.choice(RU.creature_adjectives), 'pl')} {noun}"
            return noun, "pl"
        nominative, _, gender = self.creature()
        return nominative, gender

    def place(self) -> str:
        rng = self.rng
        if rng.random() < 0.35:
            preposition, case = rng.choice(RU.near)
            phrase = self.decline(self.open_phrase(self.objects), case)
            return f"{_with_o(preposition, phrase)} {phrase}"
        preposition, noun, gender = rng.choice(RU.places)
        if rng.random() < 0.35:
            adjective = _adjective(rng.choice(RU.place_adjectives), "prep_f" if gender == "f" else "prep_mn")
            noun = f"{adjective} {noun}"
        return f"{preposition} {noun}"

    def counted_things(self) -> str:
        """A number of things in the genitive plural: "25 красных яблок"."""
        rng = self.rng
        noun = rng.choice(RU.things[rng.choice(["m", "f", "n"])]).split(":")[1]
        if rng.random() < 0.4:
            noun = f"{_adjective(rng.choice(RU.thing_adjectives), 'gen_pl')} {noun}"
        return f"{_many(rng)} {noun}"

    def everyday(self) -> str:
        """A clause with a pronoun subject, auxiliaries, prepositions and particles."""
        rng = self.rng
        subject, genders, person = rng.choice(RU.pronouns)
        gender = rng.choice(["m", "f"]) if genders == "mf" else genders
        other = rng.randrange(7)  # another pronoun, by position in RU.pronouns_genitive and RU.pronouns_dative
        past = _past(rng.choice(RU.thing_verbs_past), gender)
        kind = rng.randrange(10)
        if kind == 0:
            return f"{subject} {rng.choice(RU.before_verb)} {past} {self.thing()[1]}"
        if kind == 1:
            verb = rng.choice(self.present[1]).lemma  # an imperfective infinitive
            return f"{subject} {RU.will[person]} {verb} {self.thing()[1]}"
        if kind == 2:
            verb = rng.choice(self.transitive).lemma
            return f"{subject} {rng.choice([RU.want, RU.can])[person]} {verb} {self.thing()[1]} для " \
                + RU.pronouns_genitive[other]
        if kind == 3:
            return f"{subject} {_past(rng.choice(RU.said), gender)}, что {self.clause()}"
        if kind == 4:
            nominative, _, thing_gender = self.thing()
            verb = rng.choice(["есть", {"m": "был", "f": "была", "n": "было"}[thing_gender]])
            return f"у {RU.pronouns_genitive[other]} {verb} {nominative}"
        if kind == 5:
            target = self.decline(self.open_phrase(self.objects), "datv")
            return f"{subject} {_past(rng.choice(RU.went), gender)} {_with_o('к', target)} {target}" + \
                self.optional(0.4, lambda: f"без {RU.pronouns_genitive[other]}")
        if kind == 6:
            second, _, second_person = rng.choice(RU.pronouns)
            verb = rng.choice(self.present[1]).lemma
            return f"если {subject} {past} {self.thing()[1]}, {second} {RU.will[second_person]} {verb} это"
        if kind == 7:
            return f"это {rng.choice(['было', 'будет'])} {rng.choice(['очень', 'совсем', 'так', 'довольно'])} " + \
                rng.choice(self.words.adverbs)
        if kind == 8:
            preposition, case = rng.choice(RU.prepositions)
            phrase = self.decline(self.open_phrase(self.objects), case)
            return f"{subject} {past} {self.thing()[1]} {preposition} {phrase}"
        if rng.random() < 0.5:
            return f"{subject} {rng.choice(['сейчас', 'теперь', 'тогда', 'там', 'здесь', 'тут'])} " \
                f"{_past(rng.choice(RU.intransitive_past), gender)}"
        friend = RU.pronouns_dative[other]
        return f"{subject} {_past(rng.choice(RU.went), gender)} {_with_o('к', friend)} {friend} " \
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
                f"{RU.turned_out[head[0].gender]} {adjective.form('ablt', head[0].gender)}"
        if kind == 12:
            topic = self.decline(self.open_phrase(self.objects), "loct")
            return f"{subject} {_past(rng.choice(RU.about), gender)} {_with_o('о', topic)} {topic}"
        if kind == 13:
            verb = self.rng.choice(self.present[rng.random() < 0.5])
            text = f"{subject} {rng.choice(['часто', 'всегда', 'обычно', 'редко', 'иногда'])} {verb.present[plural]}"
            return f"{text} {self.thing()[1]}" if verb.transitive else text
        if kind == 0:
            verb = _past(rng.choice(RU.thing_verbs_past), gender)
            text = f"{subject} {verb} {self.thing()[1]}" + self.optional(0.5, self.place)
            return f"{rng.choice(RU.times)} {text}" if rng.random() < 0.3 else text
        if kind == 1:
            verb = _present(rng.choice(RU.thing_verbs_present), plural)
            return f"{subject} {verb} {self.thing()[1]} {rng.choice(RU.frequencies)}"
        if kind == 2:
            verb = _past(rng.choice(RU.creature_verbs_past), gender)
            return f"{subject} {verb} {self.creature()[1]}" + self.optional(0.6, self.place)
        if kind == 3:
            verb = _past(rng.choice(RU.intransitive_past), gender)
            return f"{subject} {verb}" + self.optional(0.5, lambda: rng.choice(RU.manners)) + \
                self.optional(0.6, self.place)
        if kind == 4:
            verb = _present(rng.choice(RU.intransitive_present), plural)
            return f"{self.place()} {verb} {subject}" if rng.random() < 0.4 else f"{subject} {verb} {self.place()}"
        if kind == 5:
            verb = _past(rng.choice(RU.thing_verbs_past), gender)
            return f"{subject} {verb} {self.counted_things()}" + self.optional(0.4, self.place)
        if kind == 6:
            return f"{self.place()} было {self.counted_things()}"
        if kind == 7:
            people = rng.choice(RU.people_genitive_plural)
            return rng.choice([
                f"почти {rng.randint(2, 99)}% {people} {_past(rng.choice(RU.intransitive_past), 'pl')} "
                + self.place(),
                f"цены выросли на {rng.randint(2, 60)}% за {rng.choice(['год', 'месяц', 'неделю', 'зиму'])}",
                f"скидка на {self.thing()[1]} составила {rng.randint(2, 70)}%",
                f"влажность воздуха {rng.choice(['сегодня', 'вчера', 'утром'])} была {rng.randint(20, 99)}%",
            ])
        # kind == 8: clock times, prices and numbers used as labels
        name_gender = rng.choice(["m", "f"])
        name = rng.choice(RU.names[name_gender])
        nominative, _, thing_gender = self.thing()
        cost = {"m": "стоил", "f": "стоила", "n": "стоило"}[thing_gender]
        return rng.choice([
            f"{name} {_past('вернулся', name_gender)} домой в {clock_time(rng, 5, 23)}",
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
            return f"Где {subject} {_past(rng.choice(RU.thing_verbs_past), gender)} {self.thing()[1]}?"
        if kind == 1:
            return f"Почему {subject} {_past(rng.choice(RU.intransitive_past), gender)} {self.place()}?"
        if kind == 2:
            noun = rng.choice(RU.things[rng.choice(["m", "f", "n"])]).split(":")[1]
            name_gender = rng.choice(["m", "f"])
            verb = _past(rng.choice(RU.thing_verbs_past), name_gender)
            return f"Сколько {noun} {verb} {rng.choice(RU.names[name_gender])}?"
        if kind == 3:
            return f"Кто {_past(rng.choice(RU.creature_verbs_past), 'm')} {self.creature()[1]} {self.place()}?"
        if kind == 4:
            return rng.choice([f"Ты можешь {rng.choice(RU.infinitives)} {self.thing()[1]}?",
                               f"Вы видели {self.thing()[1]}?", f"Можно взять {self.thing()[1]}?"])
        if kind == 5:
            return f"Что {subject} {_past(rng.choice(RU.thing_verbs_past), gender)} {self.place()}?"
        if kind == 6:
            return f"Когда {subject} {_past(rng.choice(['вернулся', 'пришёл:пришла:пришли', 'уснул']), gender)}?"
        return f"{self.clause()}?"  # a statement asked with rising intonation

    def exclamation(self) -> str:
        rng = self.rng
        kind = rng.randrange(6)
        if kind == 0:
            gender = rng.choice(["m", "f", "n"])
            noun = rng.choice(RU.things[gender]).split(":")[0]
            what = {"m": "Какой", "f": "Какая", "n": "Какое"}[gender]
            return f"{what} {_adjective(rng.choice(RU.thing_adjectives), gender)} {noun}!"
        if kind == 1:
            subject, gender = self.subject()
            return f"Смотри, {subject} {_present(rng.choice(RU.intransitive_present), gender == 'pl')}!"
        if kind == 2:
            return f"Как {rng.choice(['здесь', 'сегодня', 'было'])} {rng.choice(RU.scene_adverbs)}!"
        if kind == 3:
            name = rng.choice(RU.names[rng.choice(["m", "f"])])
            return f"{name}, {rng.choice(RU.imperatives)} {self.thing()[1]}!"
        if kind == 4:
            return f"Ой, {self.clause()}!"
        return f"{self.clause()}!"

    def compound(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return f"{rng.choice(RU.sentence_openers)} {self.clause()}, {self.clause()}."
        return f"{self.clause()}, {rng.choice(RU.conjunctions)} {self.clause()}."
