"""Text front end: raw transcript -> normalized, speakable text -> symbol ids, for English and Russian."""

import unicodedata
from collections.abc import Callable, Iterable

from tacotron.errors import UserError
from tacotron.text import english, punctuation, russian
from tacotron.text.symbols import ENGLISH_SYMBOLS, EOS, PAD, RUSSIAN_SYMBOLS

__all__ = ["Frontend", "UnknownSymbolsError", "detect_language", "get_frontend"]


class UnknownSymbolsError(UserError):
    """Normalized text still has characters that are not in the language's symbol set."""

    def __init__(self, characters: list[str], language: str):
        self.characters = characters
        # repr() so that a space, a control character or a look-alike letter is visible in the message.
        listed = ", ".join(repr(character) for character in characters)
        super().__init__(f"characters not in the {language!r} symbol set: {listed}")


class Frontend:
    """One language's normalization rules and symbol set."""

    pad_id = 0
    eos_id = 1

    def __init__(self, language: str, symbols: tuple[str, ...], expand: Callable[[str], str]):
        self.language = language
        self.symbols = symbols
        self._expand = expand
        # Padding and end-of-sentence have ids but are never spoken: "_" or "~" in text is an unknown character.
        self._text_ids = {symbol: index for index, symbol in enumerate(symbols) if symbol not in (PAD, EOS)}

    def __repr__(self) -> str:
        return f"Frontend({self.language!r})"

    def normalize(self, text: str) -> str:
        """Make text speakable: numbers, abbreviations and signs as words, punctuation unified, lowercase.

        Characters the language cannot speak are kept, so that unknown_characters() can report them.
        """
        text = unicodedata.normalize("NFC", text)
        text = punctuation.unify(text)
        # Expansion sees the original case: a capital after an abbreviation's period means the sentence ended.
        text = self._expand(text).lower()
        return punctuation.tidy(text)

    def unknown_characters(self, normalized: str) -> list[str]:
        return sorted(set(normalized) - self._text_ids.keys())

    def to_ids(self, normalized: str, add_eos: bool = True) -> list[int]:
        unknown = self.unknown_characters(normalized)
        if unknown:
            raise UnknownSymbolsError(unknown, self.language)
        ids = [self._text_ids[character] for character in normalized]
        return ids + [self.eos_id] if add_eos else ids

    def encode(self, text: str) -> list[int]:
        return self.to_ids(self.normalize(text))


_LANGUAGES = {
    "en": (ENGLISH_SYMBOLS, english.expand),
    "ru": (RUSSIAN_SYMBOLS, russian.expand),
}


def get_frontend(language: str) -> Frontend:
    if language not in _LANGUAGES:
        supported = ", ".join(repr(name) for name in _LANGUAGES)
        raise UserError(f"unsupported text language {language!r}; supported languages: {supported}")
    symbols, expand = _LANGUAGES[language]
    return Frontend(language, symbols, expand)


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
