"""English expansion: numbers, currency, times, abbreviations and the signs & + % written out as words."""

import re
from decimal import Decimal

from num2words import num2words

from tacotron.text.punctuation import IDENTIFIER_DIGITS, sentence_period

# An optional minus (not a hyphen inside "5-10"), digits with optional "," thousands groups, an optional decimal part.
_NUMBER = r"(?:(?<!\w)-)?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"

_CURRENCIES = {  # sign: (unit, units, subunit, subunits)
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}
_CURRENCY = re.compile(rf"([$£€])\s?({_NUMBER})(?: (thousand|million|billion|trillion)\b)?", re.IGNORECASE)
_TIME = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)")
# A longer digit run is an identifier, which has no ordinal.
_ORDINAL = re.compile(rf"(?<!\w)(\d{{1,{IDENTIFIER_DIGITS}}})(?:st|nd|rd|th)\b", re.IGNORECASE)
_DECADE = re.compile(r"(?<!\w)(\d*0)'?s\b", re.IGNORECASE)  # "1980s", "80's"
_NUMBER_SIGN = re.compile(r"(?:\bno\.|#)\s?(?=\d)", re.IGNORECASE)  # "No. 5", "#1"
# Units after a number: (written form, singular, plural); "in" and "s" alone are too ambiguous to expand.
_UNITS = [
    (r"km/h|kmh|kph", "kilometer per hour", "kilometers per hour"),
    (r"mph", "mile per hour", "miles per hour"),
    (r"km", "kilometer", "kilometers"),
    (r"cm", "centimeter", "centimeters"),
    (r"mm", "millimeter", "millimeters"),
    (r"m", "meter", "meters"),
    (r"mi", "mile", "miles"),
    (r"ft", "foot", "feet"),
    (r"kg", "kilogram", "kilograms"),
    (r"mg", "milligram", "milligrams"),
    (r"g", "gram", "grams"),
    (r"lbs?", "pound", "pounds"),
    (r"oz", "ounce", "ounces"),
    (r"ml", "milliliter", "milliliters"),
    (r"l", "liter", "liters"),
    (r"ms", "millisecond", "milliseconds"),
    (r"sec", "second", "seconds"),
    (r"min", "minute", "minutes"),
    (r"hrs?|h", "hour", "hours"),
    (r"°\s?C", "degree Celsius", "degrees Celsius"),
    (r"°\s?F", "degree Fahrenheit", "degrees Fahrenheit"),
    (r"°", "degree", "degrees"),
]
_COUNTED = [(re.compile(rf"(?<![\w.])({_NUMBER})\s?(?:{unit})(?![\w°])", re.IGNORECASE), one, many)
            for unit, one, many in _UNITS]
_CLOCK = re.compile(r"(?<=\d)\s?([ap])\.?m\b\.?", re.IGNORECASE)  # "8 am", "3 p.m." -> "a m", "p m"
_FRACTION = re.compile(r"(?<![\w/])(\d)/(\d{1,2})(?![\w/])")  # "3/4"; a numerator below the denominator
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
    text = _CLOCK.sub(lambda match: f" {match.group(1).lower()} m", text)
    text = _FRACTION.sub(_fraction, text)
    for pattern, one, many in _COUNTED:
        text = pattern.sub(lambda match: f"{_amount(match[1])} {one if match[1] == '1' else many}", text)
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
        whole_words = _digits(whole) if len(whole) > IDENTIFIER_DIGITS else _cardinal(int(whole))
        return f"{sign}{whole_words} point {_digits(fraction)}"
    if len(whole) > IDENTIFIER_DIGITS or (len(whole) > 1 and whole.startswith("0")):  # "007": an identifier
        return sign + _digits(whole)
    if len(unsigned) == 4 and unsigned[0] in "12":  # read like a year, as people do: "nineteen eighty four"
        return sign + _words(num2words(int(whole), to="year"))
    return sign + _cardinal(int(whole))


def _amount(number: str) -> str:
    """A quantity: never read as a year ("1500 m" is "one thousand five hundred meters")."""
    if "." in number or len(number.lstrip("-").replace(",", "")) > IDENTIFIER_DIGITS:
        return _spell_number(number)
    sign = "minus " if number.startswith("-") else ""
    return sign + _cardinal(int(number.lstrip("-").replace(",", "")))


def _fraction(match: re.Match) -> str:
    """'1/2' -> 'one half', '3/4' -> 'three quarters', '2/3' -> 'two thirds'; others are left as written."""
    numerator, denominator = int(match.group(1)), int(match.group(2))
    if not 0 < numerator < denominator <= 10:
        return match.group()
    if denominator == 2:
        return "one half"
    name = "quarter" if denominator == 4 else _words(num2words(denominator, to="ordinal"))
    return f"{_cardinal(numerator)} {name}{'s' if numerator > 1 else ''}"


def _currency(match: re.Match) -> str:
    """'$5' -> 'five dollars', '$1.01' -> 'one dollar one cent', '$1.5 million' -> 'one point five million dollars'."""
    sign, amount, scale = match.groups()
    unit, units, subunit, subunits = _CURRENCIES[sign]
    if scale:
        return f"{_spell_number(amount)} {scale} {units}"
    whole, _, fraction = amount.partition(".")
    if len(fraction) not in (0, 2):  # not a price in cents ("$1.5"): read the amount as a decimal number
        return f"{_spell_number(amount)} {units}"
    # Decimal, not int: the whole part may be longer than the 4300 digits int() reads.
    main, cents = Decimal(whole.replace(",", "")), int(fraction or 0)
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
