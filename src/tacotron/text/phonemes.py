"""Normalized text -> IPA phonemes with eSpeak NG's espeak_TextToPhonemes (ctypes), punctuation kept.

eSpeak drops punctuation and returns one clause per call, so the text is cut at its punctuation, each
piece between two marks is phonemized, and the marks are put back between the pieces: the model still
sees where the commas and periods (its pauses and intonation) are. Words stay apart by spaces, except
where eSpeak itself joins unstressed function words ("of the" -> "ʌvðə").

Russian stress written with "+" before the vowel ("з+амок") is honoured: eSpeak has no way to be told
the stress in plain text (it reads "+" as "плюс" and ignores U+0301), so such a word is phonemized on
its own and eSpeak's primary stress mark is moved to the marked vowel, whose quality is raised to its
full (stressed) value when eSpeak had reduced it. When the word's vowel letters and eSpeak's vowels do
not pair up one to one, eSpeak's own stress is kept.
"""

from __future__ import annotations

import ctypes
import re

from tacotron.text import espeak_library
from tacotron.text.espeak_library import LOCK
from tacotron.text.symbols import ENGLISH_LETTERS, RUSSIAN_LETTERS, STRESS

# The eSpeak voice of each frontend language, and the letters it reads as that language.
VOICES = {"en": "en-us", "ru": "ru"}
LETTERS = {"en": frozenset(ENGLISH_LETTERS), "ru": frozenset(RUSSIAN_LETTERS)}
ESPEAK_CHARS_UTF8 = 1  # textmode of espeak_TextToPhonemes
PHONEMES_IPA = 0x02  # phonememode bit 1: IPA as UTF-8 instead of eSpeak's ASCII phoneme names

PRIMARY_STRESS = "ˈ"
# A clause break: a run of the punctuation marks the symbol sets have, or a dash that is not a hyphen
# inside a word ("well-known" goes to eSpeak whole). The apostrophe stays inside its word.
_CLAUSE_BREAK = re.compile(r"([,.!?:;]+|(?<!\w)-|-(?!\w))")
# eSpeak marks a switch to another language's rules around the words it read that way: "(en)...(ru)".
LANGUAGE_SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9]+)?\)")

# Russian: vowel letters, eSpeak's vowel phonemes (with the marks that follow a vowel in its output),
# its reduced vowels, and the full vowel a stressed letter has.
_RUSSIAN_VOWEL_LETTERS = set("аеёиоуыэюя")
_RUSSIAN_NUCLEUS = re.compile(r"[aeiouyɑɔəɛɪɵʌʊɨæʉɐ][\"^ː]*")
_RUSSIAN_REDUCED = set("ʌəɪɐʊɨ")
_RUSSIAN_FULL_VOWEL = {"а": "ɑ", "я": "ɑ", "о": "o", "ё": "ɵ", "у": "u", "ю": "u", "ы": "y", "э": "ɛ",
                       "е": "e", "и": "i"}


class Phonemizer:
    """One language's eSpeak voice, turning normalized (lowercase, spelled-out) text into IPA."""

    def __init__(self, language: str):
        self.language = language
        self.voice = VOICES[language]
        with LOCK:  # fail now, not in the middle of a data set, if the voice is missing
            espeak_library.select_voice(espeak_library.load(), self.voice)

    def phonemize(self, normalized: str) -> str:
        """'hello, world.' -> 'həlˈoʊ, wˈɜːld.': IPA with stress marks, the punctuation in place."""
        return LANGUAGE_SWITCH.sub("", self.phonemize_marked(normalized))

    def reads_as_foreign(self, word: str) -> bool:
        """True when eSpeak reads `word` by another language's rules or names its letters one by one:
        it switched language, or the word has letters outside the language's alphabet ("привет" in
        English text, "hello" in Russian)."""
        foreign_letters = any(c.isalpha() and c not in LETTERS[self.language] for c in word)
        return foreign_letters or bool(LANGUAGE_SWITCH.search(self.phonemize_marked(word)))

    def phonemize_marked(self, normalized: str) -> str:
        """phonemize(), keeping eSpeak's language-switch marks ("(en)wˈɜːld(ru)") around foreign words."""
        pieces = _CLAUSE_BREAK.split(normalized)
        # Even pieces are the text between breaks, odd ones the breaks themselves.
        for index in range(0, len(pieces), 2):
            text = pieces[index]
            leading = text[: len(text) - len(text.lstrip())]
            trailing = text[len(text.rstrip()):]
            words = text.strip()
            pieces[index] = leading + self._words(words) + trailing if words else text
        return "".join(pieces)

    def _words(self, text: str) -> str:
        if self.language != "ru" or STRESS not in text:
            return self._espeak(text.replace(STRESS, ""))
        # A stress-marked word needs its own call so that its phonemes can be found; the unmarked
        # words between them go together, keeping eSpeak's sentence context (reductions, clitics).
        pieces, unmarked = [], []
        for word in text.split():
            if STRESS in word:
                pieces += [self._espeak(" ".join(unmarked))] if unmarked else []
                pieces.append(self._stressed_word(word))
                unmarked = []
            else:
                unmarked.append(word)
        pieces += [self._espeak(" ".join(unmarked))] if unmarked else []
        return " ".join(pieces)

    def _stressed_word(self, word: str) -> str:
        """eSpeak's phonemes of a Russian word with the primary stress on the vowel after "+"."""
        plain = word.replace(STRESS, "")
        phonemes = self._espeak(plain)
        stressed_at = word.find(STRESS)
        vowels_before = sum(letter in _RUSSIAN_VOWEL_LETTERS for letter in word[:stressed_at])
        letter = word[stressed_at + 1: stressed_at + 2]
        nuclei = list(_RUSSIAN_NUCLEUS.finditer(phonemes))
        vowel_letters = sum(character in _RUSSIAN_VOWEL_LETTERS for character in plain)
        if letter not in _RUSSIAN_VOWEL_LETTERS or len(nuclei) != vowel_letters:
            return phonemes
        nucleus = nuclei[vowels_before]
        vowel = nucleus.group()
        if vowel[0] in _RUSSIAN_REDUCED:
            vowel = _RUSSIAN_FULL_VOWEL[letter] + vowel[1:]
        moved = phonemes[: nucleus.start()] + "\0" + vowel + phonemes[nucleus.end():]
        return moved.replace(PRIMARY_STRESS, "").replace("\0", PRIMARY_STRESS)

    def _espeak(self, text: str) -> str:
        """espeak_TextToPhonemes over all clauses of `text` (no punctuation in it), joined by spaces."""
        # eSpeak reads a C string, which ends at the first NUL: the words after one were dropped unsaid.
        # As a space it parts words, as eSpeak's other control characters do.
        buffer = ctypes.create_string_buffer(text.replace("\0", " ").encode("utf-8"))
        pointer = ctypes.c_void_p(ctypes.addressof(buffer))
        clauses = []
        with LOCK:
            library = espeak_library.load()
            espeak_library.select_voice(library, self.voice)
            # eSpeak advances `pointer` past each clause it returns and sets it to NULL at the end.
            while pointer.value:
                phonemes = library.espeak_TextToPhonemes(ctypes.byref(pointer), ESPEAK_CHARS_UTF8,
                                                         PHONEMES_IPA)
                if phonemes:
                    clauses.append(phonemes.decode("utf-8").strip())
        return " ".join(clause for clause in clauses if clause)
