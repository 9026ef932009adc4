"""Punctuation rules shared by both languages: typographic variants mapped onto the symbol set, spacing
tidied; and what both languages' expansions share (letters, identifiers, a sentence-ending period)."""

import re

LETTER = r"[^\W\d_]"  # a letter of any script: a word character that is neither a digit nor "_"
# A digit run longer than this is an identifier (a card or account number), read digit by digit in both
# languages: no one says quadrillions, num2words has no words past 10**33, int() reads at most 4300 digits.
IDENTIFIER_DIGITS = 15

# A single quote between two letters is an apostrophe ("don’t" -> "don't"); every other quote is dropped.
_QUOTE = re.compile(rf"(?P<apostrophe>(?<={LETTER})['‘’‛`´ʼ](?={LETTER}))|[\"'«»“”„‟‘’‚‛`´ʼ]")
_DASHES = re.compile(r"[‐‑‒–—―−-]+")  # hyphens, en and em dashes, the minus sign; a run such as "--" is one dash
_BRACKET = re.compile(r"[()\[\]{}]")
_WHITESPACE = re.compile(r"\s+")  # also no-break spaces, tabs and newlines
_SPACE_BEFORE_PUNCTUATION = re.compile(r" (?=[,.!?:;])")
# A comma next to other punctuation adds nothing: "(quietly)." -> ", quietly,." -> ", quietly."
_REDUNDANT_COMMA = re.compile(r",(?=[,.!?:;])|(?<=[.!?:;]),")


def unify(text: str) -> str:
    """Map typographic quotes, dashes, the ellipsis and brackets onto the symbols both languages have."""
    text = _QUOTE.sub(lambda match: "'" if match.group("apostrophe") else "", text)
    text = _DASHES.sub("-", text)
    text = text.replace("…", "...")
    return _BRACKET.sub(", ", text)


def tidy(text: str) -> str:
    """Collapse whitespace, drop spaces before punctuation and redundant commas, strip the ends."""
    text = _WHITESPACE.sub(" ", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub("", text)
    text = _REDUNDANT_COMMA.sub("", text)
    # Leading or trailing commas come from brackets, a leading dash from dialogue ("— Привет").
    return text.strip(" ,-")


def sentence_period(match: re.Match) -> str:
    """'.' when the abbreviation just matched ends in a period that also ends the sentence, else ''.

    The period ends the sentence when the text ends there or the next word is capitalized,
    so expansion is done before lowercasing.
    """
    following = match.string[match.end():].lstrip()
    ends_sentence = not following or following[0].isupper()
    return "." if match.group().endswith(".") and ends_sentence else ""
