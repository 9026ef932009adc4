"""English expansion: numbers, currency, times, abbreviations and the signs & + % written out as words."""

import re

from num2words import num2words

from tacotron.text.punctuation import sentence_period

# An optional minus (not a hyphen inside "5-10"), digits with optional "," thousands groups, an optional decimal part.
_NUMBER = r"(?:(?<!\w)-)?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"

_CURRENCIES = {  # sign: (unit, units, subunit, subunits)
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}
_CURRENCY = re.compile(rf"([$£€])\s?({_NUMBER})(?: (thousand|million|billion|trillion)\b)?", re.IGNORECASE)
_TIME = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)")
_ORDINAL = re.compile(r"(?<!\w)(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)
_DECADE = re.compile(r"(?<!\w)(\d*0)'?s\b", re.IGNORECASE)  # "1980s", "80's"
_NUMBER_SIGN = re.compile(r"\bno\.\s?(?=\d)", re.IGNORECASE)  # "No. 5"
_PLAIN_NUMBER = re.compile(_NUMBER)

# These stand before the word they qualify, so their period never ends a sentence.
_PREFIX_ABBREVIATIONS = [(re.compile(pattern, re.IGNORECASE), words) for pattern, words in [
    (r"\bmr\b\.?", "mister"),
    (r"\bmrs\b\.?", "missus"),
    (r"\bms\.", "miss"),  # the dot is required: bare "ms" is usually milliseconds
    (r"\bdr\b\.?", "doctor"),
    (r"\bst\b\.?", "saint"),
    (r"\bprof\b\.?", "professor"),
    (r"\bvs\b\.?", "versus"),
    (r"\be\.g\b\.?", "for example"),
    (r"\bi\.e\b\.?", "that is"),
]]
# These may end a sentence, and then their period stays (see sentence_period).
_ABBREVIATIONS = [(re.compile(pattern, re.IGNORECASE), words) for pattern, words in [
    (r"\bjr\b\.?", "junior"),
    (r"\bsr\b\.?", "senior"),
    (r"\betc\b\.?", "etcetera"),
    (r"\bco\.", "company"),  # the dot is required: bare "co" is a prefix ("co-op")
    (r"\bltd\b\.?", "limited"),
]]


def expand(text: str) -> str:
    """Spell out what English text writes with digits, signs and abbreviations; keeps the original case."""
    text = _CURRENCY.sub(_currency, text)
    text = _TIME.sub(_time, text)
    text = _ORDINAL.sub(lambda match: _words(num2words(int(match.group(1)), to="ordinal")), text)
    text = _DECADE.sub(_decade, text)
    text = _NUMBER_SIGN.sub("number ", text)
    # Spaces around the words keep them apart from a unit written close up: "5km" -> "five km".
    text = _PLAIN_NUMBER.sub(lambda match: f" {_spell_number(match.group())} ", text)
    for pattern, words in _PREFIX_ABBREVIATIONS:
        text = pattern.sub(words, text)
    for pattern, words in _ABBREVIATIONS:
        text = pattern.sub(lambda match: words + sentence_period(match), text)
    return text.replace("&", " and ").replace("+", " plus ").replace("%", " percent")


def _words(number_words: str) -> str:
    # num2words writes "one thousand, two hundred and twenty-two"; its commas and hyphens would be read as pauses.
    return number_words.replace(",", "").replace("-", " ")


def _cardinal(value: int) -> str:
    return _words(num2words(value))


def _digits(digits: str) -> str:
    return " ".join(_cardinal(int(digit)) for digit in digits)


def _spell_number(number: str) -> str:
    """'-1,234.05' -> 'minus one thousand two hundred and thirty four point zero five'."""
    sign = "minus " if number.startswith("-") else ""
    unsigned = number.lstrip("-")
    whole, _, fraction = unsigned.replace(",", "").partition(".")
    if fraction:
        return f"{sign}{_cardinal(int(whole))} point {_digits(fraction)}"
    if len(whole) > 15 or (len(whole) > 1 and whole.startswith("0")):  # an identifier ("007"), not a quantity
        return sign + _digits(whole)
    if len(unsigned) == 4 and unsigned[0] in "12":  # read like a year, as people do: "nineteen eighty four"
        return sign + _words(num2words(int(whole), to="year"))
    return sign + _cardinal(int(whole))


def _currency(match: re.Match) -> str:
    """'$5' -> 'five dollars', '$1.01' -> 'one dollar one cent', '$1.5 million' -> 'one point five million dollars'."""
    sign, amount, scale = match.groups()
    unit, units, subunit, subunits = _CURRENCIES[sign]
    if scale:
        return f"{_spell_number(amount)} {scale} {units}"
    whole, _, fraction = amount.partition(".")
    if len(fraction) not in (0, 2):  # not a price in cents ("$1.5"): read the amount as a decimal number
        return f"{_spell_number(amount)} {units}"
    main, cents = int(whole.replace(",", "")), int(fraction or 0)
    parts = []
    if main or not cents:
        parts.append(f"{_spell_number(whole)} {unit if main == 1 else units}")
    if cents:
        parts.append(f"{_cardinal(cents)} {subunit if cents == 1 else subunits}")
    return " ".join(parts)


def _decade(match: re.Match) -> str:
    """'1980s' -> 'nineteen eighties', '80s' -> 'eighties'."""
    words = _spell_number(match.group(1))
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _time(match: re.Match) -> str:
    """'10:30' -> 'ten thirty', '10:05' -> 'ten oh five', '10:00' -> "ten o'clock"."""
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        return match.group()
    if minutes == 0:
        return f"{_cardinal(hours)} o'clock"
    if minutes < 10:
        return f"{_cardinal(hours)} oh {_cardinal(minutes)}"
    return f"{_cardinal(hours)} {_cardinal(minutes)}"
