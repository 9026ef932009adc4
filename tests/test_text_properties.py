"""Property tests of the text front end over arbitrary Unicode (Hypothesis).

Whatever text a user sends (a file, the CLI, the server), the front end either turns it into symbol ids
within the symbol set or refuses it with a UserError naming the problem: never another exception, which
the CLI would show as a traceback and the server as a 500. The strategies mix arbitrary code points
(lone surrogates, controls, combining marks, every script) with the tokens the expansion rules act on
(numbers, units, dates, abbreviations), in upper case and with look-alike letters that re.IGNORECASE
matches, so the rules' own code paths are reached, not only their misses.

The fast tier is derandomized (the same examples on every run, so CI is reproducible) and small, and
replays each input class a search once found (@example); the `slow` tier searches much further.
"""

import functools
import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tacotron.errors import UserError
from tacotron.text import INPUTS, get_frontend, russian, segmentation, stress

LANGUAGES = ("en", "ru")
COMBINATIONS = [(language, input) for language in LANGUAGES for input in INPUTS]

# Long runs of one token are meant (see TEXTS); eSpeak's time varies with the machine's load.
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=_HEALTH)
# Random, and its failures kept in .hypothesis/ (which ignores itself in git) to be tried first next time.
SLOW = settings(max_examples=1500, deadline=None, suppress_health_check=_HEALTH)

# Every code point: lone surrogates (Cs), controls, combining marks, private use, unassigned, all scripts.
ANY_CHARACTER = st.characters()
# Tokens the expansion rules, the segmenter and the phonemizer act on, in both languages.
TOKENS = [
    # numbers in every written shape, and digit runs longer than any number
    "0", "1", "7", "12", "21", "1812", "2020", "-5", "+5", "3.5", "3,5", "1,000", "1 000", "10:30", "23:59",
    "99:99", "007", "1/2", "3/4", "9/10", "12.05.2020", "1" * 16, "9" * 40, "1" * 5000 + ".5",
    "0." + "5" * 5000, "$5", "$1.01", "$1.5 million", "£3", "€2", "₽10", "5%", "#1", "No. 5", "№ 5", "1st",
    "22nd", "1980s", "80's", "5 km", "5km", "3 kg", "20°C", "-3 °", "8 am", "3 p.m.", "5 mph", "2 ms",
    # the signs the rules read, alone too
    "℃", "5℃", "°", "°C", "$", "£", "€", "₽", "%", "№", "#", "&", "/",
    # Russian numbers with their nouns, endings, prepositions
    "в 1812 году", "с 1941 г.", "1941-1945", "в 1941-1945 годах", "1 мая", "к 1 мая", "1-й", "2-го", "5-м",
    "3-я", "1990-х", "1990-е годы", "2-х", "5-ти", "2-мя", "XIX век", "XX века", "5 руб.", "3,5 руб.",
    "10 коп.", "5 тыс.", "2 млн", "3 млрд", "5 кг", "200 г.", "5 см", "1 ч", "10 мин", "5 сек", "5 °C",
    "от 5 до 10", "в 5 утра", "на 1 минуту", "1 книга", "2 минуты", "1 окно", "над 3", "между 2", "в", "с",
    "от", "до", "к", "году", "года", "век",
    # abbreviations and initials
    "Mr.", "Dr.", "e.g.", "i.e.", "etc.", "Co.", "St.", "J. K.", "I.", "т.е.", "т.д.", "и т.п.", "г. Москва",
    "ул.", "им.", "см.", "др.", "гг.", "А. С.",
    # words, stress marks, ё, apostrophes, hyphens
    "hello", "Hello", "world", "don't", "well-known", "привет", "Привет", "мир", "з+амок", "м+ама", "+", "++",
    "ёж", "Ёлка", "что-то", "кто-нибудь",
    # punctuation, quotes, dashes, brackets, ellipses, spaces of every kind
    ".", ",", "!", "?", "?!", "...", "…", ";", ":", "-", "--", "—", "–", "«", "»", "„", "“", "”", "'", "\"",
    "(", ")", "[", "]", "&", " ", "  ", "\t", "\n", "\n\n", "\u00a0", "\u2009", "\u202f", "\u3000",
    # characters that are not what they look like
    "\u0301", "\u0303", "e\u0301", "\u200b", "\ufeff", "\x00", "\x1f", "\x85", "\u2028", "\ud800", "\udfff",
    "\ud83d\ude00", "🙂", "你好", "ß", "İ", "ﬁ", "Ⅻ", "²", "½", "٣", "১২", "𝟙𝟚",
]
# Letters that re.IGNORECASE matches but lower() does not map onto the letter: the old Cyrillic forms
# (U+1C80-U+1C86), the long s, the Kelvin sign, the dotless i.
_TWINS = str.maketrans({"в": "ᲀ", "д": "ᲁ", "о": "ᲂ", "с": "ᲃ", "т": "ᲄ", "ъ": "ᲆ", "s": "ſ", "k": "K",
                        "i": "ı"})
_TOKEN = st.sampled_from(TOKENS).flatmap(
    lambda token: st.sampled_from([token, token.upper(), token.translate(_TWINS)]))
_PIECE = st.one_of(_TOKEN, st.text(ANY_CHARACTER, max_size=4))
TEXTS = st.one_of(
    st.text(ANY_CHARACTER, max_size=60),
    st.lists(_PIECE, max_size=25).map(" ".join),
    st.lists(_PIECE, max_size=25).map("".join),
    # Very long runs of one character or token: one word longer than any real word, a wall of digits or marks.
    st.builds(lambda piece, count: piece * count,
              st.one_of(ANY_CHARACTER, st.sampled_from([token for token in TOKENS if len(token) <= 12])),
              st.integers(50, 1500)),
)
# Each class of input a search once found failing (issue 26), and what it raised before the fix:
FOUND = [
    "bad \ud800 surrogate",  # a lone surrogate: UnicodeEncodeError in eSpeak's UTF-8
    "1" * 5000 + ".5",  # a decimal longer than int() reads: ValueError
    "0." + "5" * 5000,
    "$" + "1" * 5000,
    "1" * 40 + "th 1" + "1" * 40 + "-й в " + "1" * 40 + " году",  # no ordinal past 10**33: KeyError
    "p" + "1" * 10000 + ".5",  # each rule retried from every digit of a run: minutes
    "ᲀ 1812 гᲂду 1-ᲂго ᲂт 5 до 10",  # IGNORECASE look-alikes that lower() keeps: KeyError
    "℃",  # a unit's alternative split the whole pattern: a match without a number, TypeError
]


@functools.cache
def frontend(language: str, input: str):
    return get_frontend(language, input)


def check_encode(language: str, input: str, text: str) -> None:
    front = frontend(language, input)
    try:
        ids = front.encode(text)
    except UserError:
        return
    assert all(type(index) is int and 0 <= index < len(front.symbols) for index in ids), ids
    # Data preparation's path too: each word phonemized on its own to find those eSpeak cannot read.
    assert all(isinstance(word, str) for word in front.unphonemizable_words(front.normalize(text)))


def check_segmentation(text: str, language: str, max_chars: int) -> None:
    try:
        segments = segmentation.split_text(text, language, max_chars)
    except UserError:
        return
    pauses = {segmentation.PARAGRAPH, segmentation.SENTENCE, segmentation.QUESTION,
              segmentation.STRONG_CLAUSE, segmentation.CLAUSE, segmentation.NONE}
    assert all(segment.text and segment.pause_after in pauses for segment in segments)
    # The module's promise: nothing is lost or reordered, up to whitespace.
    assert " ".join(segment.text for segment in segments).split() == text.split()


def check_russian_expansion(text: str) -> None:
    try:
        expanded = russian.expand(text)
    except UserError:
        return
    assert isinstance(expanded, str)


def plain_letters(text: str) -> str:
    return text.replace(stress.STRESS, "").replace("ё", "е").replace("Ё", "Е")


def check_stress(accentor, text: str) -> None:
    try:
        marked = accentor(text)
    except UserError:
        return
    # Marking only adds "+" and turns е into ё: the words themselves are kept, and each word marked
    # by hand is kept as it is.
    assert plain_letters(marked) == plain_letters(text)
    by_hand = [word for word in stress.marked_words(text) if stress.STRESS in word]
    assert all(word in stress.marked_words(marked) for word in by_hand)
    assert all(isinstance(match, bool) for match in stress.stress_matches(marked, text))


def found(test):
    """`test` with each FOUND input as an explicit example (they run even where the search would not)."""
    for text in FOUND:
        test = example(text=text)(test)
    return test


@pytest.mark.parametrize("language,input", COMBINATIONS)
@FAST
@given(text=TEXTS)
@found
def test_encode_gives_ids_in_the_symbol_set_or_a_user_error(language, input, text):
    check_encode(language, input, text)


@pytest.mark.slow
@pytest.mark.parametrize("language,input", COMBINATIONS)
@SLOW
@given(text=TEXTS)
def test_encode_gives_ids_in_the_symbol_set_or_a_user_error_thorough(language, input, text):
    check_encode(language, input, text)


def check_every_character(language: str, characters: list[str]) -> None:
    """Each character alone, after a number and after a preposition and a number expands or gives a
    UserError: the signs the rules read ("℃") are met where a random search rarely draws them."""
    front = frontend(language, "characters")
    for start in range(0, len(characters), 2000):  # 2000 at a time: one call each, fast
        chunk = characters[start:start + 2000]
        try:
            front.normalize(" ".join(f"{character} 5{character} в 5 {character}." for character in chunk))
        except UserError:
            pass
        except Exception as error:  # name the character, not a chunk of 2000
            failing = next(c for c in chunk if _raises(front.normalize, f"{c} 5{c} в 5 {c}."))
            raise AssertionError(f"U+{ord(failing):04X} {failing!r}: {error!r}") from error


def _characters(categories: str) -> list[str]:
    """Every code point whose Unicode category starts with one of `categories`' letters or names."""
    return [chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF
            and unicodedata.category(chr(code)).startswith(tuple(categories.split()))]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_sign_mark_digit_and_space_expands(language):
    # Symbols, punctuation, numbers, marks, separators, controls and formats: 13,000 characters. The
    # rules name no letter beyond the look-alikes TEXTS draws; the thorough test takes the letters too.
    check_every_character(language, _characters("S P N M Z Cc Cf"))


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_assigned_character_expands(language):
    check_every_character(language, _characters("S P N M Z Cc Cf L"))  # all but unassigned, private use


def _raises(function, text: str) -> bool:
    try:
        function(text)
    except UserError:
        return False
    except Exception:
        return True
    return False


@pytest.mark.parametrize("language,words", [("en", ("hello", "big world")),
                                            ("ru", ("привет", "большой мир"))])
@FAST
@given(separator=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]))
@example(separator="\0")  # eSpeak reads a C string: the words after a NUL were dropped unsaid
def test_phonemes_keep_the_words_after_a_control_or_space_character(language, words, separator):
    front = frontend(language, "phonemes")
    last_word = front.to_input(words[1].split()[-1])
    try:
        phonemes = front.to_input(front.normalize(words[0] + separator + words[1]))
    except UserError:
        return
    assert phonemes.endswith(last_word), phonemes


@pytest.mark.parametrize("language", LANGUAGES)
@FAST
@given(text=TEXTS, max_chars=st.integers(1, 200))
def test_segmentation_keeps_the_text(language, text, max_chars):
    check_segmentation(text, language, max_chars)


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
@SLOW
@given(text=TEXTS, max_chars=st.integers(1, 200))
def test_segmentation_keeps_the_text_thorough(language, text, max_chars):
    check_segmentation(text, language, max_chars)


@FAST
@given(text=TEXTS)
@found
def test_russian_expansion_gives_text_or_a_user_error(text):
    check_russian_expansion(text)


@pytest.mark.slow
@SLOW
@given(text=TEXTS)
def test_russian_expansion_gives_text_or_a_user_error_thorough(text):
    check_russian_expansion(text)


@pytest.fixture(scope="module")
def accentor():
    pytest.importorskip("silero_stress",
                        reason="stress marks need silero-stress: pip install 'tacotron[stress]'")
    return stress.Accentor()


@FAST
@given(text=TEXTS)
@example(text="бла" * 400)  # one 1,200-letter word: Silero's n-grams took most of a minute
@found
def test_stress_marks_only_add_marks(accentor, text):
    check_stress(accentor, text)


@pytest.mark.slow
@SLOW
@given(text=TEXTS)
def test_stress_marks_only_add_marks_thorough(accentor, text):
    check_stress(accentor, text)
