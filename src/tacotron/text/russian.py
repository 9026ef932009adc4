"""Russian expansion: numbers with the counted word in agreement, times, abbreviations, the signs & %.

"г." always becomes "год" (not "году"/"года", and not "город"): choosing the case would need a parser.
"""

import re
from decimal import Decimal

from num2words import num2words

from tacotron.text.punctuation import LETTER, sentence_period

# An optional minus (not a hyphen inside "5-10"), digits with optional space-separated thousands groups
# (space, no-break, thin or narrow no-break space), an optional decimal part after "," or ".".
_NUMBER = r"(?:(?<!\w)-)?(?:\d{1,3}(?:[ \u00a0\u2009\u202f]\d{3})+(?!\d)|\d+)(?:[.,]\d+)?"
_NOT_AFTER_LETTER = rf"(?<!{LETTER})"
_NOT_BEFORE_LETTER = rf"(?!{LETTER})"

# Words counted by a number: (written form, (form for 1, for 2-4, for 5+), grammatical gender).
_UNITS = [
    (r"%", ("процент", "процента", "процентов"), "m"),
    (rf"(?:руб{_NOT_BEFORE_LETTER}\.?|₽)", ("рубль", "рубля", "рублей"), "m"),
    (rf"коп{_NOT_BEFORE_LETTER}\.?", ("копейка", "копейки", "копеек"), "f"),
    (rf"тыс{_NOT_BEFORE_LETTER}\.?", ("тысяча", "тысячи", "тысяч"), "f"),
    (rf"млн{_NOT_BEFORE_LETTER}\.?", ("миллион", "миллиона", "миллионов"), "m"),
    (rf"млрд{_NOT_BEFORE_LETTER}\.?", ("миллиард", "миллиарда", "миллиардов"), "m"),
    # After a number "см" is centimetres; only on its own is "см." the abbreviation "смотри".
    (rf"см{_NOT_BEFORE_LETTER}\.?", ("сантиметр", "сантиметра", "сантиметров"), "m"),
]
_COUNTED = [(re.compile(rf"({_NUMBER})\s?{unit}", re.IGNORECASE), forms, gender) for unit, forms, gender in _UNITS]
_CURRENCY = re.compile(rf"([$€])\s?({_NUMBER})")
_CURRENCY_FORMS = {"$": ("доллар", "доллара", "долларов"), "€": ("евро", "евро", "евро")}
_TIME = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)")
_PLAIN_NUMBER = re.compile(_NUMBER)

# These stand before the word they qualify, so their period never ends a sentence.
_PREFIX_ABBREVIATIONS = [(re.compile(_NOT_AFTER_LETTER + pattern, re.IGNORECASE), words) for pattern, words in [
    (r"ул\.", "улица"),
    (r"им\.", "имени"),
    (r"проф\.", "профессор"),
    (r"см\.", "смотри"),
]]
# These may end a sentence, and then their period stays (see sentence_period). Those left after a number
# were already expanded in agreement with it; on their own they follow "тысяч", "много" and the like.
_ABBREVIATIONS = [(re.compile(_NOT_AFTER_LETTER + pattern, re.IGNORECASE), words) for pattern, words in [
    (r"т\.\s?е\.", "то есть"),
    (r"т\.\s?к\.", "так как"),
    (r"т\.\s?д\.", "так далее"),
    (r"т\.\s?п\.", "тому подобное"),
    (r"др\.", "другие"),
    (r"г\.", "год"),
    (rf"руб{_NOT_BEFORE_LETTER}\.?", "рублей"),
    (rf"коп{_NOT_BEFORE_LETTER}\.?", "копеек"),
    (rf"тыс{_NOT_BEFORE_LETTER}\.?", "тысяч"),
    (rf"млн{_NOT_BEFORE_LETTER}\.?", "миллионов"),
    (rf"млрд{_NOT_BEFORE_LETTER}\.?", "миллиардов"),
]]


def expand(text: str) -> str:
    """Spell out what Russian text writes with digits, signs and abbreviations; keeps the case and stress marks."""
    text = _TIME.sub(_time, text)
    text = _CURRENCY.sub(lambda match: _counted(match.group(2), _CURRENCY_FORMS[match.group(1)], "m"), text)
    for pattern, forms, gender in _COUNTED:
        text = pattern.sub(lambda match: _counted(match.group(1), forms, gender) + sentence_period(match), text)
    # Spaces around the words keep them apart from a unit written close up: "5км" -> "пять км".
    text = _PLAIN_NUMBER.sub(lambda match: f" {_spell_number(match.group())} ", text)
    for pattern, words in _PREFIX_ABBREVIATIONS:
        text = pattern.sub(words, text)
    for pattern, words in _ABBREVIATIONS:
        text = pattern.sub(lambda match: words + sentence_period(match), text)
    return text.replace("&", " и ").replace("%", " процентов")


def _spell_number(number: str, gender: str = "m") -> str:
    """'-1 234,5' -> 'минус одна тысяча двести тридцать четыре целых пять десятых'."""
    number = re.sub(r"\s", "", number).replace(",", ".")
    if number.isdigit() and (len(number) > 15 or (len(number) > 1 and number.startswith("0"))):
        return " ".join(num2words(int(digit), lang="ru") for digit in number)  # an identifier ("007"), not a quantity
    value = Decimal(number) if "." in number else int(number)
    return num2words(value, lang="ru", gender=gender)


def _counted(number: str, forms: tuple[str, str, str], gender: str) -> str:
    """The number in words and the counted word in the form it requires: 1 рубль, 2 рубля, 5 рублей, 2,5 рубля."""
    one, few, many = forms
    spelled = _spell_number(number, gender)
    if any(separator in number for separator in ".,"):
        return f"{spelled} {few}"  # a fraction takes the genitive singular: "две целых пять десятых процента"
    value = abs(int(re.sub(r"\s", "", number)))
    if value % 10 == 1 and value % 100 != 11:
        return f"{spelled} {one}"
    if value % 10 in (2, 3, 4) and value % 100 not in (12, 13, 14):
        return f"{spelled} {few}"
    return f"{spelled} {many}"


def _time(match: re.Match) -> str:
    """'10:30' -> 'десять тридцать', '10:05' -> 'десять ноль пять', '10:00' -> 'десять ноль ноль'."""
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        return match.group()
    minute_words = num2words(minutes, lang="ru") if minutes >= 10 else "ноль " + num2words(minutes, lang="ru")
    return f"{num2words(hours, lang='ru')} {minute_words}"
