"""Text front end: raw transcript -> normalized, speakable text -> model input -> symbol ids, en and ru.

The model input is the normalized text itself (text.input=characters) or its IPA phonemes from eSpeak NG
(text.input=phonemes); each character of it is one symbol. Russian text can be stress-marked between
the two (text.stress, Frontend.stressed): normalize -> stressed -> to_input -> to_ids.
"""

import re
import unicodedata
from collections.abc import Callable, Iterable

from tacotron.errors import UserError
from tacotron.text import english, punctuation, russian, stress as russian_stress
from tacotron.text.phonemes import Phonemizer, text_words
from tacotron.text.symbols import (
    ENGLISH_PHONEME_SYMBOLS, ENGLISH_SYMBOLS, EOS, PAD, RUSSIAN_PHONEME_SYMBOLS, RUSSIAN_SYMBOLS,
)

__all__ = ["INPUTS", "STRESS_SETTINGS", "Frontend", "UnknownSymbolsError", "check_unicode", "detect_language",
           "get_frontend"]

INPUTS = ("characters", "phonemes")  # the values of text.input
STRESS_SETTINGS = ("auto", "on", "off")  # the values of text.stress (config.py TextConfig says what each does)
_WORD = re.compile(r"[^\s,.!?:;]+")  # a word of normalized text: what lies between spaces and punctuation
# A str can hold surrogate code points, which are not characters: no encoding (UTF-8 for eSpeak, for
# files) can write them. They reach here from JSON's "\ud800" escapes, surrogateescape decoding or
# UTF-16 cut in the middle of a pair.
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnknownSymbolsError(UserError):
    """The model input (normalized text or its phonemes) has characters not in the symbol set."""

    def __init__(self, characters: list[str], language: str, input: str = "characters"):
        self.characters = characters
        # repr() so that a space, a control character or a look-alike letter is visible in the message.
        listed = ", ".join(repr(character) for character in characters)
        where = f"phonemes not in the {language!r} phoneme set" if input == "phonemes" else \
            f"characters not in the {language!r} symbol set"
        super().__init__(f"{where}: {listed}")


class Frontend:
    """One language's normalization rules, model input (characters or phonemes) and symbol set."""

    pad_id = 0
    eos_id = 1

    def __init__(self, language: str, symbols: tuple[str, ...], expand: Callable[[str], str],
                 phonemizer: Phonemizer | None = None, stress: str = "off"):
        self.language = language
        self.stress = stress  # text.stress; only Russian has a stress step
        self.symbols = symbols
        self._expand = expand
        self._phonemizer = phonemizer
        self.input = "phonemes" if phonemizer else "characters"
        self._word_verdicts: dict[str, bool] = {}  # word -> eSpeak phonemizes it within the symbol set
        # Padding and end-of-sentence have ids but are never spoken: "_" or "~" in text is an unknown character.
        self._text_ids = {symbol: index for index, symbol in enumerate(symbols) if symbol not in (PAD, EOS)}

    def __repr__(self) -> str:
        return f"Frontend({self.language!r}, {self.input!r})"

    def normalize(self, text: str) -> str:
        """Make text speakable: numbers, abbreviations and signs as words, punctuation unified, lowercase.

        Characters the language cannot speak are kept, so that unknown_characters() can report them.
        Text that is not valid Unicode (a lone surrogate) is refused with a UserError: every caller
        (CLI, server, data preparation) comes through here before anything encodes the text.
        """
        check_unicode(text)
        text = unicodedata.normalize("NFC", text)
        text = punctuation.unify(text)
        # Expansion sees the original case: a capital after an abbreviation's period means the sentence ended.
        text = self._expand(text).lower()
        return punctuation.tidy(text)

    def stressed(self, normalized: str) -> str:
        """Russian with text.stress auto or on: `normalized` with "+" before the stressed vowel of each
        word of two or more vowels and ё restored (stress.Accentor; a word written with a "+" keeps
        it); else `normalized` itself. Without silero-stress, auto gives `normalized` (and one
        warning), on a UserError."""
        if self.language != "ru" or self.stress == "off":
            return normalized
        accentor = russian_stress.shared_accentor(required=self.stress == "on")
        return accentor(normalized) if accentor else normalized

    def to_input(self, normalized: str) -> str:
        """What the model reads: the normalized text itself, or its IPA phonemes in phoneme mode."""
        return self._phonemizer.phonemize(normalized) if self._phonemizer else normalized

    def word_spans(self, normalized: str, model_input: str) -> list[tuple[str, int, int]]:
        """Each word of `normalized` (phonemes.text_words) with the [start, end) symbols of
        `model_input`, its to_input(), that speak it: the word's own characters in character mode,
        its phonemes in phoneme mode (Phonemizer.word_spans). What word timings are read from."""
        if not self._phonemizer:
            return text_words(normalized)
        return self._phonemizer.word_spans(normalized, model_input)

    def unphonemizable_words(self, normalized: str) -> list[str]:
        """Words eSpeak reads as another language ("hello" in Russian text, see reads_as_foreign), or
        whose phonemes are empty or outside the symbol set; [] in character mode. Each word is
        phonemized on its own (once per frontend)."""
        if not self._phonemizer:
            return []
        words = sorted(set(_WORD.findall(normalized)))
        for word in words:
            if word not in self._word_verdicts:
                phonemes = self._phonemizer.phonemize(word)
                self._word_verdicts[word] = (bool(phonemes.strip()) and not self.unknown_characters(phonemes)
                                             and not self._phonemizer.reads_as_foreign(word))
        return [word for word in words if not self._word_verdicts[word]]

    def unknown_characters(self, model_input: str) -> list[str]:
        return sorted(set(model_input) - self._text_ids.keys())

    def to_ids(self, model_input: str, add_eos: bool = True) -> list[int]:
        """Symbol ids of a to_input() string (in character mode that is the normalized text)."""
        unknown = self.unknown_characters(model_input)
        if unknown:
            raise UnknownSymbolsError(unknown, self.language, self.input)
        ids = [self._text_ids[character] for character in model_input]
        return ids + [self.eos_id] if add_eos else ids

    def encode(self, text: str) -> list[int]:
        return self.to_ids(self.to_input(self.normalize(text)))


def check_unicode(text: str) -> None:
    """UserError naming the first lone surrogate in `text` and where it is; nothing for valid text."""
    surrogate = _SURROGATE.search(text)
    if surrogate:
        at = surrogate.start()
        # repr() writes the surrogate as "\ud800", so the message itself stays printable and encodable;
        # the excerpt finds the place where `at` counts from the start of a segment, not of a whole text.
        excerpt = text[max(0, at - 15): at + 15]
        raise UserError(f"a lone surrogate U+{ord(surrogate.group()):04X} at character {at} ({excerpt!r}) "
                        "is not valid Unicode text")


_LANGUAGES = {  # language: (character symbols, phoneme symbols, expansion rules)
    "en": (ENGLISH_SYMBOLS, ENGLISH_PHONEME_SYMBOLS, english.expand),
    "ru": (RUSSIAN_SYMBOLS, RUSSIAN_PHONEME_SYMBOLS, russian.expand),
}


def get_frontend(language: str, input: str, stress: str = "off") -> Frontend:
    """The frontend of `language` ("en", "ru") reading `input` ("characters" or "phonemes") with the
    stress step `stress` (auto, on, off; Frontend.stressed); callers pass the config's text section:
    get_frontend(config.text.language, config.text.input, config.text.stress)."""
    if language not in _LANGUAGES:
        supported = ", ".join(repr(name) for name in _LANGUAGES)
        raise UserError(f"unsupported text language {language!r}; supported languages: {supported}")
    if input not in INPUTS:
        raise UserError(f"unsupported text input {input!r}; supported: {', '.join(INPUTS)}")
    if stress not in STRESS_SETTINGS:
        raise UserError(f"unsupported text.stress {stress!r}; supported: {', '.join(STRESS_SETTINGS)}")
    if stress == "on" and language != "ru":
        raise UserError(f"text.stress=on marks Russian stress; '{language}' text has none to mark "
                        "(use auto or off)")
    characters, phonemes, expand = _LANGUAGES[language]
    if input == "phonemes":
        return Frontend(language, phonemes, expand, Phonemizer(language), stress)
    return Frontend(language, characters, expand, stress=stress)


def detect_language(texts: Iterable[str]) -> str:
    """'ru' when Cyrillic letters outnumber Latin letters across all texts, else 'en'."""
    cyrillic = latin = 0
    for text in texts:
        for character in text:
            if character.isalpha():
                script = unicodedata.name(character, "").split(" ")[0]
                cyrillic += script == "CYRILLIC"
                latin += script == "LATIN"
    return "ru" if cyrillic > latin else "en"
