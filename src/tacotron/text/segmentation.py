"""Cut long raw text into sentences, and long sentences into clauses, for synthesis one piece at a time.

Tacotron 2 trained on short sentences babbles on long inputs, so the synthesizer speaks each Segment on its
own and joins them with a pause chosen by `pause_after`. Segments hold RAW text: the synthesizer normalizes
each one itself, and all lengths here (`max_chars`) are measured on that raw text, with whitespace collapsed.

Nothing is lost or reordered: joining the segment texts with spaces gives back the input, up to whitespace.

Where a period ends a sentence (see `_is_sentence_end`):
- only punctuation followed by whitespace (or the end of the paragraph) can end a sentence, so "3.5",
  "3,5", "9:45", "12.05.2020" and "e.g." inside a word run never split;
- a lowercase word next means the sentence goes on: "Я думал… что", '"Where?" he asked', "etc. and";
- abbreviations that often end a sentence ("etc.", "и т.д.", "1999 г.", "3,5 руб.") end it only when a
  capital letter follows ("в 1999 г. Он" splits, "в 1999 г. 5 мая" does not);
- abbreviations that stand before a name or a number ("Mr.", "Dr.", "e.g.", "ул.", "им.", "д.", "г. Москва")
  and single capital initials ("J. K. Rowling", "А. С. Пушкин") never end a sentence;
- "No." splits like a sentence-ending abbreviation: never before a number ("No. 5"), but "I said no. Then"
  does; English "I." is a word, not an initial, so "World War I. Then" splits.
"""

import re
from dataclasses import dataclass, replace

__all__ = [
    "CLAUSE", "NONE", "PARAGRAPH", "QUESTION", "SENTENCE", "STRONG_CLAUSE",
    "Segment", "split_clauses", "split_sentences", "split_text",
]

# What follows a segment; the synthesizer maps these to pause durations.
PARAGRAPH = "paragraph"  # a blank line
SENTENCE = "sentence"  # . … ...
QUESTION = "question"  # ? ! and runs such as ?!
STRONG_CLAUSE = "strong_clause"  # ; : and a dash between spaces
CLAUSE = "clause"  # a comma, and ? ! … inside a sentence ("Where?" he asked)
NONE = "none"  # a forced cut between two words, and the very last segment

LANGUAGES = ("en", "ru")
MIN_PIECE_WORDS = 3  # a clause piece shorter than this sounds clipped; merged into a neighbour where possible

_WHITESPACE = re.compile(r"\s+")
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")  # a blank line, possibly holding spaces or tabs
_CLOSING_MARKS = "\"'»”“’)\\]}"  # “ closes Russian „inner quotes“
_OPENING_MARKS = "\"'«“„‘([{-‐‑–—―"  # also dashes: a Russian dialogue line starts with "— "
# A run of final punctuation with the quotes and brackets that close on it, then a space or the end.
_SENTENCE_END = re.compile(rf"(?P<run>[.!?…]+)[{_CLOSING_MARKS}]*(?=\s|\Z)")
# Inside a sentence: "," "?" "!" "…" "..." or ";" ":" and a dash with a space before it (not a hyphen in a word),
# then closing quotes; a space after it keeps "3,5", "1,000" and "9:45" whole.
_CLAUSE_BREAK = re.compile(
    rf"(?:(?P<weak>[,!?…]|\.\.\.)|(?P<strong>[;:]|\s[-‐‑–—―]+))[{_CLOSING_MARKS}]*(?=\s)"
)
_ALPHANUMERIC = re.compile(r"\w")

_LETTER = r"[^\W\d_]"
# The word before a sentence's period: a letter or period before it would make it part of a longer word.
_ABBREVIATION = r"(?<![^\W\d_.])(?:{})\Z"
# A digit, or a digit and a space, before a unit or "г." ("1999 г.", "180 см.").
_AFTER_NUMBER = r"(?:(?<=\d)|(?<=\d\s))"
_INITIAL = re.compile(rf"(?<!{_LETTER})({_LETTER})\Z")  # "J. K." and "J.K." alike


def _abbreviations(*patterns: str) -> re.Pattern:
    return re.compile(_ABBREVIATION.format("|".join(patterns)), re.IGNORECASE)


# Abbreviations that often end a sentence: their period ends it when a capital letter follows.
_ENDING_ABBREVIATIONS = {
    "en": _abbreviations(
        "etc", "jr", "sr", "co", "ltd", "inc", r"et\s+al", r"a\.\s?m", r"p\.\s?m",
        "no",  # "No. 5" is a number sign, but "I said no. Then" ends a sentence
    ),
    "ru": _abbreviations(
        r"т\.\s?д", r"т\.\s?п", "др", "пр", r"н\.\s?э", "гг", "руб", "коп", "тыс", "млн", "млрд",
        # After a number these are units that can end a sentence; on their own, "г." is "город", "см." "смотри".
        rf"{_AFTER_NUMBER}(?:г|см|мин|сек|ч)",
        r"(?:(?<=[\dIVXLC])|(?<=[\dIVXLC]\s))вв?",  # "XIX в." - a century
    ),
}
# Abbreviations that stand before a name or a number: their period never ends a sentence.
_PREFIX_ABBREVIATIONS = {
    "en": _abbreviations(
        "mr", "mrs", "ms", "dr", "prof", "st", "mt", "vs", r"e\.\s?g", r"i\.\s?e", "rev", "gen", "capt", "lt",
        "col", "sgt", "fig", "cf", "approx",
    ),
    "ru": _abbreviations(
        r"т\.\s?е", r"т\.\s?к", r"т\.\s?н", "ул", "им", "проф", "см", "д", "кв", "стр", "г", "гр", "пер",
        "просп", "пл", "ст", "акад", "доц", "рис", "табл", "гл", "обл", "р", "с", "тел", "напр", "ок",
    ),
}

# A forced cut inside a clause goes before one of these where it can: the intonation breaks there anyway.
_CONJUNCTIONS = frozenset({
    "and", "but", "or", "because", "while", "although", "so", "that", "which", "when",
    "и", "а", "но", "или", "потому", "что", "чтобы", "когда", "который", "которая", "которое", "которые",
    "если", "хотя",
})
# ...but not inside a compound conjunction: "потому | что", "так | как", "so | that" are one word for the ear.
_CONJUNCTION_HEADS = frozenset({"потому", "оттого", "так", "того", "то", "so", "such", "even"})
_WORD_EDGES = "\"'«»“”„‘’()[]{},.;:!?…-–—"


@dataclass(frozen=True)
class Segment:
    """A piece of raw text to synthesize on its own, and the pause that follows it (a module constant)."""

    text: str
    pause_after: str


def split_text(text: str, language: str, max_chars: int = 120) -> list[Segment]:
    """Split raw text into sentences, and sentences longer than `max_chars` characters into clauses.

    Character counts are of the raw text with whitespace collapsed, not of the normalized text, which is
    longer where numbers and abbreviations are spelled out. The last segment's pause is NONE.
    Raises ValueError for a language other than "en" or "ru", or a `max_chars` below 1.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    segments = []
    for sentence in split_sentences(text, language):
        segments.extend(split_clauses(sentence.text, max_chars, sentence.pause_after))
    if segments:
        segments[-1] = replace(segments[-1], pause_after=NONE)
    return segments


def split_sentences(text: str, language: str) -> list[Segment]:
    """Split raw text at sentence-final punctuation and at blank lines, keeping abbreviations and numbers whole.

    Returns sentences with whitespace collapsed (a newline inside a paragraph is a space), each followed by
    SENTENCE, QUESTION (after ? or !) or PARAGRAPH (the last one of a paragraph, the text's last one included).
    Quotes and brackets that close after the final punctuation stay with the sentence.
    Raises ValueError for a language other than "en" or "ru".
    """
    _check_language(language)
    segments = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        sentences = _paragraph_sentences(_collapse_whitespace(paragraph), language)
        if sentences:
            sentences[-1] = replace(sentences[-1], pause_after=PARAGRAPH)
        segments.extend(sentences)
    return segments


def split_clauses(sentence: str, max_chars: int, pause_after: str = SENTENCE) -> list[Segment]:
    """Split a sentence longer than `max_chars` characters into pieces that each fit, at clause punctuation.

    A sentence that fits is returned whole. Otherwise the clauses (ended by , ; : a spaced dash, or ? ! …
    inside the sentence) are grouped into as few pieces of at most `max_chars` as possible; among those
    groupings the one with fewest pieces under MIN_PIECE_WORDS words wins, then the most even one.
    A clause that alone is longer than `max_chars` is first cut between words near its middle (before a
    conjunction where one is near; see _balanced_cut), again and again until it fits; those cuts are
    followed by NONE.
    Punctuation stays at the end of the piece it ends; the last piece is followed by `pause_after`.
    """
    sentence = _collapse_whitespace(sentence)
    if not sentence:
        return []
    if len(sentence) <= max_chars:
        return [Segment(sentence, pause_after)]
    clauses = []
    for clause in _clauses(sentence, pause_after):
        clauses.extend(_cut_long_clause(clause, max_chars))
    return _pack_balanced(clauses, max_chars)


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        supported = ", ".join(repr(name) for name in LANGUAGES)
        raise ValueError(f"unsupported text language {language!r}; supported languages: {supported}")


def _collapse_whitespace(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _paragraph_sentences(paragraph: str, language: str) -> list[Segment]:
    sentences = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        if not _is_sentence_end(paragraph, match, language):
            continue
        run = match.group("run")
        pause = QUESTION if "?" in run or "!" in run else SENTENCE
        sentences.append(Segment(paragraph[start:match.end()].strip(), pause))
        start = match.end()
    rest = paragraph[start:].strip()
    if rest:  # the paragraph's last words, without final punctuation
        sentences.append(Segment(rest, SENTENCE))
    return [sentence for sentence in sentences if sentence.text]


def _is_sentence_end(paragraph: str, match: re.Match, language: str) -> bool:
    """Whether the final punctuation just matched ends a sentence; the rules are in the module docstring."""
    next_character = _next_significant_character(paragraph, match.end())
    if next_character is None:
        return True
    if next_character.islower():  # the sentence goes on: an ellipsis, '"Where?" he asked', an unknown abbreviation
        return False
    if match.group("run") != ".":
        return True
    word_end = match.start("run")
    window_start = max(0, word_end - 16)  # longer than any abbreviation; lookbehinds still see before it
    if _ENDING_ABBREVIATIONS[language].search(paragraph, window_start, word_end):
        return next_character.isupper()
    initial = _INITIAL.search(paragraph, window_start, word_end)
    if initial and initial.group(1).isupper() and not (language == "en" and initial.group(1) == "I"):
        return False
    return not _PREFIX_ABBREVIATIONS[language].search(paragraph, window_start, word_end)


def _next_significant_character(text: str, position: int) -> str | None:
    """The first character after `position` that is not a space, an opening quote or bracket, or a dash."""
    for character in text[position:]:
        if not character.isspace() and character not in _OPENING_MARKS:
            return character
    return None


def _clauses(sentence: str, pause_after: str) -> list[Segment]:
    """The sentence cut after each clause punctuation mark, each clause followed by that mark's pause."""
    clauses = []
    start = 0
    for match in _CLAUSE_BREAK.finditer(sentence):
        pause = STRONG_CLAUSE if match.group("strong") else CLAUSE
        clauses.append(Segment(sentence[start:match.end()].strip(), pause))
        start = match.end()
    clauses.append(Segment(sentence[start:].strip(), pause_after))
    return _glue_bare_punctuation(clauses)


def _glue_bare_punctuation(clauses: list[Segment]) -> list[Segment]:
    """Join a clause with no letter or digit (the dash in '— Куда? — спросила она.') to the clause after it."""
    glued = []
    pending = ""
    for clause in clauses:
        text = f"{pending} {clause.text}".strip()
        if _ALPHANUMERIC.search(clause.text) is None and clause is not clauses[-1]:
            pending = text
            continue
        glued.append(Segment(text, clause.pause_after))
        pending = ""
    return [clause for clause in glued if clause.text]


def _cut_long_clause(clause: Segment, max_chars: int) -> list[Segment]:
    """Cut a clause longer than `max_chars` in two between words, recursively; the cut gets a NONE pause."""
    words = clause.text.split(" ")
    if len(clause.text) <= max_chars or len(words) == 1:
        return [clause]
    cut = _balanced_cut(words, max_chars)
    first = Segment(" ".join(words[:cut]), NONE)
    second = Segment(" ".join(words[cut:]), clause.pause_after)
    return _cut_long_clause(first, max_chars) + _cut_long_clause(second, max_chars)


def _balanced_cut(words: list[str], max_chars: int) -> int:
    """The index of the word to cut before, so that the two sides split into equal pieces of at most `max_chars`.

    The text needs `pieces` = ceil(length / max_chars) pieces, so the cut aims at the end of piece pieces // 2:
    the middle for an even count, and a third for three pieces (a middle cut would then need four).
    A conjunction within a quarter piece of that target is preferred, the intonation breaks there anyway,
    unless cutting there would need more pieces in all; otherwise the word boundary nearest the target wins.
    """
    total = len(" ".join(words))
    pieces = -(-total // max_chars)
    target = total * (pieces // 2) / pieces
    offsets = {}  # cut -> characters before it, not counting the space at the cut
    length = -1
    for cut in range(1, len(words)):
        length += len(words[cut - 1]) + 1
        offsets[cut] = length

    def distance_from_target(cut: int) -> float:
        return abs(offsets[cut] - target)

    def keeps_piece_count(cut: int) -> bool:
        left, right = offsets[cut], total - offsets[cut] - 1
        return -(-left // max_chars) + -(-right // max_chars) <= pieces

    before_conjunction = [
        cut for cut in offsets
        if _bare_word(words[cut]) in _CONJUNCTIONS
        and _bare_word(words[cut - 1]) not in _CONJUNCTION_HEADS
        and distance_from_target(cut) <= total / pieces / 4
        and keeps_piece_count(cut)
    ]
    return min(before_conjunction or offsets, key=distance_from_target)


def _bare_word(word: str) -> str:
    return word.strip(_WORD_EDGES).lower()


def _pack_balanced(clauses: list[Segment], max_chars: int) -> list[Segment]:
    """Group consecutive clauses into pieces of at most `max_chars` characters (a clause alone may be longer).

    Minimizes, in this order: pieces under MIN_PIECE_WORDS words, number of pieces, sum of squared piece
    lengths (the most even split). These costs add up piece by piece, so dynamic programming over the end
    of the last piece finds the best grouping exactly.
    """
    count = len(clauses)
    # best[end] = (cost, start of the last piece) for the best grouping of clauses[:end]
    best: list[tuple[tuple[int, int, int], int] | None] = [None] * (count + 1)
    best[0] = ((0, 0, 0), 0)
    for end in range(1, count + 1):
        for start in range(end - 1, -1, -1):
            text = _join(clauses[start:end])
            if len(text) > max_chars and end - start > 1:
                break  # adding more clauses in front only makes it longer
            if best[start] is None:
                continue
            (short, pieces, squares), _ = best[start]
            is_short = len(text.split(" ")) < MIN_PIECE_WORDS
            cost = (short + is_short, pieces + 1, squares + len(text) ** 2)
            if best[end] is None or cost < best[end][0]:
                best[end] = (cost, start)
    bounds = []
    end = count
    while end > 0:
        start = best[end][1]
        bounds.append((start, end))
        end = start
    return [Segment(_join(clauses[start:end]), clauses[end - 1].pause_after) for start, end in reversed(bounds)]


def _join(clauses: list[Segment]) -> str:
    return " ".join(clause.text for clause in clauses)
