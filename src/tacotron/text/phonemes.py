"""Normalized text -> IPA phonemes with eSpeak NG's espeak_TextToPhonemes (ctypes), punctuation kept.

eSpeak drops punctuation and returns one clause per call, so the text is cut at its punctuation, each
piece between two marks is phonemized, and the marks are put back between the pieces: the model still
sees where the commas and periods (its pauses and intonation) are. Words stay apart by spaces, except
where eSpeak itself joins unstressed function words ("of the" -> "ʌvðə").

Russian stress written with "+" before the vowel ("з+амок") is honoured: eSpeak has no way to be told
the stress in plain text (it reads "+" as "плюс", ignores U+0301 and the apostrophe, and reads its
own [[phoneme]] notation only after an espeak_Synth call with espeakPHONEMES, without reducing the
vowels again), so the clause goes to eSpeak without its marks, which keeps its sentence reading (a
lone "в" is read "vˈɛ", the letter's name; in context it is "v"), and in each marked word whose
stress eSpeak put elsewhere the primary stress is moved to the marked vowel and the vowels whose place
relative to the stress changed are rewritten as eSpeak writes that letter in that place
(_RUSSIAN_VOWELS_BY_PLACE): "замок" zamˈok, "з+амок" zˈɑmʌk (eSpeak's own for "Амок": ˈɑmʌk). eSpeak's
reading is kept where it cannot be paired with the marks: a word it says without stress (a clitic such
as "на"), one whose vowel letters and eSpeak's vowels are not as many, a word with several marks, and
a clause whose words eSpeak joined ("что ли" -> one word).
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

# Russian: vowel letters; a vowel of eSpeak's Russian (with the '"' of its fronted u), not the
# nonsyllabic "ɪ^" it writes for a soft sign ("дверь" dvʲˈerɪ^).
_RUSSIAN_VOWEL_LETTERS = frozenset("аеёиоуыэюя")
_RUSSIAN_NUCLEUS = re.compile(r'[aeiouyɑɔəɛɪɵʌ]"?(?!\^)')
SECONDARY_STRESS = "ˌ"
# The vowel eSpeak NG writes for a Russian vowel letter by the letter's place relative to the stressed
# vowel of its word, as eSpeak itself does it: the most frequent vowel of each (letter, place) over
# its phonemes of the 12,000 most frequent Russian words (wordfreq; the 11,475 it reads with one
# primary stress and one vowel per vowel letter), then the places where the letter before changes it
# (_VOWEL_AFTER). Writing every vowel of those words from these tables gives back 99% of eSpeak's
# own vowels, all of them in 97% of the words (benchmarks/russian_stress.py); a moved stress rewrites
# only the vowels whose place changed. Places: stressed, first pretonic (right before the stressed
# one), other pretonic, posttonic, final (posttonic and the word's last letter: "мука", not "атлас").
_PLACES = ("stressed", "pretonic1", "pretonic", "posttonic", "final")
_RUSSIAN_VOWELS_BY_PLACE = {
    "а": ("ɑ", "a", "ʌ", "ʌ", "a"),
    "о": ("o", "ʌ", "ʌ", "ʌ", "ʌ"),
    "у": ("u", "u", "u", "u", "u"),
    "ы": ("y", "y", "y", "y", "y"),
    "э": ("ɛ", "ɛ", "ɛ", "ɛ", "ɛ"),
    "е": ("e", "i", "i", "i", "i"),
    "и": ("i", "i", "i", "i", "ɪ"),
    "ю": ('u"', 'u"', "u", "u", "u"),
    "я": ("ɑ", "a", "a", "ʌ", "a"),
    "ё": ("ɵ", "ʌ", "ʌ", "ʌ", "ʌ"),  # unstressed ё is eSpeak's "V" (ʌ): its phoneme reduces to it
}
# (letter, place, what precedes: "hard" ж ш ц, "soft" ч щ, "open" the word's start, a vowel, ь or ъ,
# "consonant" any other) -> vowel, where that differs from _RUSSIAN_VOWELS_BY_PLACE.
_VOWEL_AFTER = {
    ("а", "final", "soft"): "ʌ", ("а", "pretonic", "open"): "a",
    ("е", "stressed", "hard"): "ɛ", ("е", "pretonic1", "hard"): "y", ("е", "pretonic", "hard"): "y",
    ("е", "posttonic", "hard"): "y", ("е", "final", "hard"): "y",
    ("е", "pretonic1", "open"): "ɪ", ("е", "pretonic", "open"): "ɪ", ("е", "final", "open"): "ɪ",
    ("и", "stressed", "hard"): "y", ("и", "pretonic1", "hard"): "y", ("и", "pretonic", "hard"): "y",
    ("и", "posttonic", "hard"): "y", ("и", "final", "hard"): "y",
    ("и", "pretonic1", "open"): "ɪ", ("и", "pretonic", "open"): "ɪ",
    ("ю", "pretonic", "consonant"): 'u"', ("ю", "posttonic", "consonant"): 'u"',
    ("ю", "final", "consonant"): 'u"', ("ю", "pretonic1", "open"): "u",
    ("я", "pretonic", "consonant"): "ʌ", ("я", "final", "consonant"): "ʌ", ("я", "posttonic", "open"): "a",
    ("ё", "stressed", "hard"): "o",
}


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
        phonemes = self._espeak(text.replace(STRESS, ""))
        if self.language != "ru" or STRESS not in text:
            return phonemes
        words, spoken = text.split(), phonemes.split()
        if len(words) != len(spoken):  # eSpeak joined words: which of its words is whose is unknown
            return phonemes
        return " ".join(stressed_as_marked(word, said) for word, said in zip(words, spoken))

    def word_spans(self, normalized: str, phonemes: str) -> list[tuple[str, int, int]]:
        """Each word of `normalized` (text_words) with the [start, end) characters of `phonemes`, its
        phonemize(), that speak it. phonemize keeps the clause breaks in place, so both are cut at them
        and paired piece by piece; inside a piece eSpeak's words (between spaces) go one to one with
        the text's when they are as many. Where eSpeak joined unstressed words ("of the" -> "ʌvðə")
        or split one, they are paired by the lengths of each word's phonemes alone (_pair_tokens),
        and a joined eSpeak word is shared out by those lengths."""
        text_pieces, phoneme_pieces = _CLAUSE_BREAK.split(normalized), _CLAUSE_BREAK.split(phonemes)
        if len(text_pieces) != len(phoneme_pieces):  # not expected; then one piece, breaks as spaces
            def blank(string: str) -> str:
                return _CLAUSE_BREAK.sub(lambda match: " " * len(match.group()), string)
            text_pieces, phoneme_pieces = [blank(normalized)], [blank(phonemes)]
        spans: list[tuple[str, int, int]] = []
        offset = 0
        for index, (text, spoken) in enumerate(zip(text_pieces, phoneme_pieces)):
            if index % 2 == 0:
                words = [word for word, _, _ in text_words(text)]
                tokens = list(_TOKEN.finditer(spoken))
                lengths = None if len(tokens) == len(words) else [len(self._alone(w)) for w in words]
                spans += [(word, start, end) for word, (start, end)
                          in zip(words, _phonemes_of_words(words, tokens, lengths, offset))]
            offset += len(spoken)
        return spans

    def _alone(self, word: str) -> str:
        """phonemize(word), remembered (STANDALONE_CACHE words at most)."""
        cache = self.__dict__.setdefault("_standalone", {})
        if word not in cache:
            if len(cache) >= STANDALONE_CACHE:
                cache.clear()
            cache[word] = self.phonemize(word)
        return cache[word]

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


def stressed_as_marked(word: str, phonemes: str) -> str:
    """eSpeak's `phonemes` of a Russian `word` with the primary stress on the vowel after the word's
    "+" (see the module's docstring for when eSpeak's reading is kept): the stress mark moved and each
    vowel whose place relative to the stress changed written as eSpeak writes its letter there."""
    plain = word.replace(STRESS, "").lower()
    letters = [(index, letter) for index, letter in enumerate(plain) if letter in _RUSSIAN_VOWEL_LETTERS]
    marked = [index for index in range(len(letters)) if _vowel_after_mark(word, index)]
    nuclei = list(_RUSSIAN_NUCLEUS.finditer(phonemes))
    stressed = [index for index, nucleus in enumerate(nuclei)
                if phonemes[:nucleus.start()].endswith(PRIMARY_STRESS)]
    if len(marked) != 1 or len(nuclei) != len(letters) or len(stressed) != 1 or stressed == marked:
        return phonemes
    old, new = stressed[0], marked[0]
    pieces, end = [], 0
    for index, nucleus in enumerate(nuclei):
        before, vowel = phonemes[end:nucleus.start()], nucleus.group()
        if index == old:
            before = before.removesuffix(PRIMARY_STRESS)
        if index == new:
            before = before.removesuffix(SECONDARY_STRESS) + PRIMARY_STRESS
        position, letter = letters[index]
        final = position == len(plain) - 1
        place = vowel_place(index, new, final)
        if place != vowel_place(index, old, final):
            vowel = russian_vowel(letter, place, plain[position - 1] if position else "")
        pieces += [before, vowel]
        end = nucleus.end()
    return "".join(pieces) + phonemes[end:]


def _vowel_after_mark(word: str, vowel_index: int) -> bool:
    """Whether the `vowel_index`-th vowel letter of `word` (from 0) comes right after a "+"."""
    seen = -1
    for position, character in enumerate(word):
        if character.lower() in _RUSSIAN_VOWEL_LETTERS:
            seen += 1
            if seen == vowel_index:
                return position > 0 and word[position - 1] == STRESS
    return False


def vowel_place(index: int, stressed: int, final: bool) -> str:
    """The place (_PLACES) of a word's `index`-th vowel when its `stressed`-th is stressed; `final`:
    the vowel is the word's last letter."""
    if index == stressed:
        return "stressed"
    if index < stressed:
        return "pretonic1" if index == stressed - 1 else "pretonic"
    return "final" if final else "posttonic"


def russian_stressed_vowel(phonemes: str) -> tuple[int, str] | None:
    """(index among its vowels, the vowel) of the one primary-stressed vowel of eSpeak's Russian
    `phonemes` of a word; None when it has none or several."""
    stressed = [(index, nucleus.group()) for index, nucleus in enumerate(_RUSSIAN_NUCLEUS.finditer(phonemes))
                if phonemes[:nucleus.start()].endswith(PRIMARY_STRESS)]
    return stressed[0] if len(stressed) == 1 else None


def russian_vowel(letter: str, place: str, previous: str) -> str:
    """The vowel eSpeak writes for the Russian vowel `letter` in `place` (_PLACES) after the
    character `previous` ("" at the start of the word)."""
    if not previous or previous in _RUSSIAN_VOWEL_LETTERS or previous in "ьъ":
        after = "open"
    else:
        after = "hard" if previous in "жшц" else "soft" if previous in "чщ" else "consonant"
    return _VOWEL_AFTER.get((letter, place, after), _RUSSIAN_VOWELS_BY_PLACE[letter][_PLACES.index(place)])


# Word timings (inference/word_timings.py) need to know which symbols of the model input speak which word.
# A word is a run of non-space characters between two clause breaks that holds a letter or a digit.
_TOKEN = re.compile(r"\S+")
# Pairing eSpeak's words with the text's when they are not as many (Phonemizer.word_spans): each group
# beyond one to one, and each word or eSpeak word left unpaired, costs this many phoneme characters.
GROUP_COST = 1.0
UNPAIRED_COST = 2.0
MAX_GROUP = 4  # at most this many words in one eSpeak word ("of the" -> "ʌvðə"), or the reverse
STANDALONE_CACHE = 4096  # words whose phonemes alone are remembered per Phonemizer


def text_words(normalized: str) -> list[tuple[str, int, int]]:
    """The words of normalized text with their [start, end) characters: runs of non-space
    characters between clause breaks (_CLAUSE_BREAK) that hold a letter or a digit."""
    words, position = [], 0
    for index, piece in enumerate(_CLAUSE_BREAK.split(normalized)):
        if index % 2 == 0:
            words += [(match.group(), position + match.start(), position + match.end())
                      for match in _TOKEN.finditer(piece) if any(c.isalnum() for c in match.group())]
        position += len(piece)
    return words


def _pair_tokens(token_lengths: list[int], word_lengths: list[int]) -> list[tuple[str, int, int]]:
    """Monotone pairing of eSpeak's words (token_lengths, in characters) with the text's words
    (word_lengths: each word's phonemes alone) by least total length difference. Returns one
    (kind, first token, token count) per text word: kind "whole" (the word owns the tokens), "part"
    (it shares one token with its neighbours, in proportion to word_lengths) or "none"."""
    tokens, words = len(token_lengths), len(word_lengths)
    infinity = float("inf")
    cost = [[infinity] * (words + 1) for _ in range(tokens + 1)]
    step: list[list[tuple[int, int] | None]] = [[None] * (words + 1) for _ in range(tokens + 1)]
    cost[0][0] = 0.0
    for t in range(tokens + 1):
        for w in range(words + 1):
            here = cost[t][w]
            if here == infinity:
                continue
            moves = []
            if t < tokens:  # an eSpeak word of no text word
                moves.append(((1, 0), token_lengths[t] + UNPAIRED_COST))
            if w < words:  # a text word eSpeak said nothing for
                moves.append(((0, 1), word_lengths[w] + UNPAIRED_COST))
            for size in range(1, MAX_GROUP + 1):
                if t < tokens and w + size <= words:  # one eSpeak word speaks `size` text words
                    moves.append(((1, size), abs(token_lengths[t] - sum(word_lengths[w:w + size]))
                                  + GROUP_COST * (size - 1)))
                if size > 1 and t + size <= tokens and w < words:  # one text word, `size` eSpeak words
                    spoken = sum(token_lengths[t:t + size]) + size - 1
                    moves.append(((size, 1), abs(spoken - word_lengths[w]) + GROUP_COST * (size - 1)))
            for (used_tokens, used_words), move_cost in moves:
                target = (t + used_tokens, w + used_words)
                if here + move_cost < cost[target[0]][target[1]]:
                    cost[target[0]][target[1]] = here + move_cost
                    step[target[0]][target[1]] = (used_tokens, used_words)
    pairs: list[tuple[str, int, int]] = []
    t, w = tokens, words
    while t or w:
        used_tokens, used_words = step[t][w]
        t, w = t - used_tokens, w - used_words
        if used_words == 0:
            continue
        if used_tokens == 0:
            pairs.append(("none", t, 0))
        elif used_words == 1:
            pairs.append(("whole", t, used_tokens))
        else:
            pairs += [("part", t, 1)] * used_words
    return pairs[::-1]


def _phonemes_of_words(words: list[str], tokens: list[re.Match], lengths: list[int] | None,
                       offset: int) -> list[tuple[int, int]]:
    """[start, end) in the phoneme string (`offset` + a position in the piece) of each text word."""
    if lengths is None:  # as many eSpeak words as text words: one to one
        return [(offset + token.start(), offset + token.end()) for token in tokens]
    spans = []
    pairs = _pair_tokens([len(token.group()) for token in tokens], lengths)
    index = 0
    while index < len(pairs):
        kind, first, count = pairs[index]
        if kind == "none":  # eSpeak said nothing of its own for it: an empty span where it would be
            at = tokens[first].start() if first < len(tokens) else (tokens[-1].end() if tokens else 0)
            spans.append((offset + at, offset + at))
        elif kind == "whole":
            spans.append((offset + tokens[first].start(), offset + tokens[first + count - 1].end()))
        else:  # the words sharing this token, split by the lengths of their own phonemes
            sharing = index
            while sharing < len(pairs) and pairs[sharing] == pairs[index]:
                sharing += 1
            token, shares = tokens[first], lengths[index:sharing]
            total = sum(shares) or len(shares)
            bounds, running = [token.start()], 0
            for share in shares:
                running += share if sum(shares) else 1
                bounds.append(token.start() + round(len(token.group()) * running / total))
            spans += [(offset + a, offset + b) for a, b in zip(bounds, bounds[1:])]
            index = sharing
            continue
        index += 1
    return spans
