"""Russian expansion: numbers as a Russian reader says them, in agreement with their preposition and noun.

Handled patterns (a preposition right before the number sets its case, see _PREPOSITION_CASE):
  * years and other ordinals before "год", "век", "число" (any form) or "г."/"гг.":
    "в 1812 году" -> "в тысяча восемьсот двенадцатом году", "с 1812 г." -> "с тысяча ... двенадцатого года",
    ranges "в 1941-1945 годах" -> "в тысяча девятьсот сорок первом - тысяча девятьсот сорок пятом годах";
  * dates "1 мая" -> "первого мая" (genitive; "к" dative, "на"/"по"/"за" accusative; "первое мая" when
    the date is named: "1 мая - праздник");
  * ordinals written with an ending: "1-й", "2-го", "5-м", "3-я", "1990-х", "1990-е годы"; "2-х" is "двух";
  * counted units and signs, the noun agreeing with the number and the case: кг, г, мг, км, м, см, мм, л, мл,
    ч, мин, сек, %, руб., коп., тыс., млн, млрд, °C, °, $, €, ₽; "№ 5" -> "номер пять";
  * decimals ("три целых пять десятых килограмма"), times ("10:30" -> "десять тридцать"), ranges of year-like
    numbers without a noun ("1941-1945": ordinals), "+5" -> "плюс пять", bare numbers after a preposition
    ("от 5 до 10" -> "от пяти до десяти").
A four-digit cardinal starting with one thousand is read "тысяча ...", not "одна тысяча ...".
Stress marks ("+" before a vowel) and ё are kept, and an acute accent (U+0301) after a vowel becomes such
a mark ("за\u0301мок" -> "з+амок"); the text keeps its case (the caller lowercases).
"""

import re
from decimal import Decimal

from num2words import num2words

from tacotron.text.punctuation import IDENTIFIER_DIGITS, LETTER, sentence_period

_SPACES = "[ \u00a0\u2009\u202f]"  # space, no-break, thin or narrow no-break space between thousands groups
# Never from inside a digit run: a rule that failed at its first digit would otherwise be tried again
# at each later one, and a long run of digits took minutes.
_UNSIGNED = rf"(?<!\d)(?:\d{{1,3}}(?:{_SPACES}\d{{3}})+(?!\d)|\d+)(?:[.,]\d+)?"
# An optional minus (not a hyphen inside "5-10"), digits with optional space-separated thousands groups,
# an optional decimal part after "," or ".".
_NUMBER = rf"(?:(?<!\w)-)?{_UNSIGNED}"
_NOT_AFTER_LETTER = rf"(?<!{LETTER})"
_NOT_BEFORE_LETTER = rf"(?!{LETTER})"

# The case a preposition gives the number after it (num2words' codes: n, g, d, a, i, p).
# Matched words are looked up in these tables casefold(), not lower(): re.IGNORECASE also matches the
# old letter forms U+1C80-U+1C88 ("ᲀ" for "в", "ᲂ" for "о"), which lower() leaves as they are.
_PREPOSITION_CASE = {
    "в": "p", "во": "p", "о": "p", "об": "p", "при": "p",
    "к": "d", "ко": "d",
    "на": "a", "за": "a", "через": "a", "про": "a", "по": "a",
    "с": "g", "со": "g", "от": "g", "до": "g", "из": "g", "после": "g", "около": "g", "для": "g", "без": "g",
    "у": "g", "более": "g", "менее": "g", "больше": "g", "меньше": "g", "свыше": "g", "порядка": "g",
    "кроме": "g", "среди": "g", "вокруг": "g", "против": "g",
    "над": "i", "под": "i", "перед": "i", "между": "i",
}
_INSTRUMENTAL_PREPOSITIONS = ("с", "со", "за", "над", "под", "перед", "между")
_PREPOSITIONS = "|".join(sorted(_PREPOSITION_CASE, key=len, reverse=True))
_PREPOSITION = rf"(?:(?<![\w+])(?P<prep>{_PREPOSITIONS})(?P<space>\s+))?"
_CASES = ("n", "g", "d", "a", "i", "p")


def _declension(*forms: str) -> dict[tuple[str, bool], str]:
    """{(case, plural): form} from the 12 forms in the order n g d a i p, singular then plural."""
    return {(case, plural): forms[index + 6 * plural]
            for plural in (False, True) for index, case in enumerate(_CASES)}


def _masculine(stem: str) -> dict[tuple[str, bool], str]:
    """An inanimate hard-stem masculine noun: километр, километра, ... километрах."""
    endings = ("", "а", "у", "", "ом", "е", "ы", "ов", "ам", "ы", "ами", "ах")
    return _declension(*(stem + ending for ending in endings))


def _feminine(stem: str) -> dict[tuple[str, bool], str]:
    """A hard-stem feminine noun in -а: минута, минуты, ... минутах."""
    endings = ("а", "ы", "е", "у", "ой", "е", "ы", "", "ам", "ы", "ами", "ах")
    return _declension(*(stem + ending for ending in endings))


_RUBLE = _declension("рубль", "рубля", "рублю", "рубль", "рублём", "рубле",
                     "рубли", "рублей", "рублям", "рубли", "рублями", "рублях")
_KOPECK = _declension("копейка", "копейки", "копейке", "копейку", "копейкой", "копейке",
                      "копейки", "копеек", "копейкам", "копейки", "копейками", "копейках")
_THOUSAND = _declension("тысяча", "тысячи", "тысяче", "тысячу", "тысячей", "тысяче",
                        "тысячи", "тысяч", "тысячам", "тысячи", "тысячами", "тысячах")
_HOUR = _declension("час", "часа", "часу", "час", "часом", "часе",
                    "часы", "часов", "часам", "часы", "часами", "часах")
_EURO = _declension(*["евро"] * 12)
_DEGREE = _masculine("градус")
_DOLLAR = _masculine("доллар")

# Words counted by a number: (written form, noun, the number's gender, words said after the noun).
_UNITS = [
    (r"%", _masculine("процент"), "m", ""),
    (rf"(?:руб{_NOT_BEFORE_LETTER}\.?|₽)", _RUBLE, "m", ""),
    (rf"коп{_NOT_BEFORE_LETTER}\.?", _KOPECK, "f", ""),
    (rf"тыс{_NOT_BEFORE_LETTER}\.?", _THOUSAND, "f", ""),
    (rf"млн{_NOT_BEFORE_LETTER}\.?", _masculine("миллион"), "m", ""),
    (rf"млрд{_NOT_BEFORE_LETTER}\.?", _masculine("миллиард"), "m", ""),
    (rf"кг{_NOT_BEFORE_LETTER}\.?", _masculine("килограмм"), "m", ""),
    (rf"мг{_NOT_BEFORE_LETTER}\.?", _masculine("миллиграмм"), "m", ""),
    # Years were taken before (see _YEAR_ABBREVIATION): a "г" left after a number is grams.
    (rf"гр?{_NOT_BEFORE_LETTER}\.?", _masculine("грамм"), "m", ""),
    (rf"км{_NOT_BEFORE_LETTER}\.?", _masculine("километр"), "m", ""),
    # After a number "см" is centimetres; only on its own is "см." the abbreviation "смотри".
    (rf"см{_NOT_BEFORE_LETTER}\.?", _masculine("сантиметр"), "m", ""),
    (rf"мм{_NOT_BEFORE_LETTER}\.?", _masculine("миллиметр"), "m", ""),
    (rf"м{_NOT_BEFORE_LETTER}\.?", _masculine("метр"), "m", ""),
    (rf"мл{_NOT_BEFORE_LETTER}\.?", _masculine("миллилитр"), "m", ""),
    (rf"л{_NOT_BEFORE_LETTER}\.?", _masculine("литр"), "m", ""),
    (rf"ч{_NOT_BEFORE_LETTER}\.?", _HOUR, "m", ""),
    (rf"мин{_NOT_BEFORE_LETTER}\.?", _feminine("минут"), "f", ""),
    (rf"сек{_NOT_BEFORE_LETTER}\.?", _feminine("секунд"), "f", ""),
    (r"°\s?[CС]|℃", _DEGREE, "m", " Цельсия"),
    (r"°", _DEGREE, "m", ""),
    (r"\$", _DOLLAR, "m", ""),
    (r"€", _EURO, "m", ""),
]
# "5-10 кг": both ends are read in the same case, the noun agrees with the last. The unit is a group of
# its own: its alternatives ("°C|℃") would otherwise split the whole pattern, "℃" matching without a number.
_COUNTED = [(re.compile(rf"{_PREPOSITION}(?P<number>{_NUMBER})(?:-(?P<to>{_UNSIGNED}))?\s?(?:{unit})",
                        re.IGNORECASE), noun, gender, after) for unit, noun, gender, after in _UNITS]
_CURRENCY_FIRST = re.compile(rf"{_PREPOSITION}(?P<sign>[$€₽])\s?(?P<number>{_NUMBER})")
_CURRENCY_NOUNS = {"$": _DOLLAR, "€": _EURO, "₽": _RUBLE}

# Nouns that make the number before them an ordinal: (form -> (case, plural)), gender.
_GOD = {"год": ("n", False), "года": ("g", False), "году": ("p", False), "годом": ("i", False),
        "годы": ("n", True), "годов": ("g", True), "годам": ("d", True), "годами": ("i", True),
        "годах": ("p", True)}
_VEK = {"век": ("n", False), "века": ("g", False), "веку": ("d", False), "веком": ("i", False),
        "веке": ("p", False), "веков": ("g", True), "векам": ("d", True), "веками": ("i", True),
        "веках": ("p", True)}
_CHISLO = {"число": ("n", False), "числа": ("g", False), "числу": ("d", False), "числом": ("i", False),
           "числе": ("p", False)}
_ORDINAL_NOUNS = {**{form: (*grammar, "m", "год") for form, grammar in _GOD.items()},
                  **{form: (*grammar, "m", "век") for form, grammar in _VEK.items()},
                  **{form: (*grammar, "n", "число") for form, grammar in _CHISLO.items()}}
_GOD_FORMS = {(case, plural): form for form, (case, plural) in _GOD.items()}
_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
           "ноября", "декабря")

# An ordinal's written ending ("1-й", "2-го") -> (case, gender, plural); "?" = decided by what follows.
_ORDINAL_ENDINGS = {
    **dict.fromkeys(("й", "ый", "ий", "ой"), ("n", "m", False)),
    **dict.fromkeys(("го", "ого", "его"), ("g", "m", False)),
    **dict.fromkeys(("му", "ому", "ему"), ("d", "m", False)),
    **dict.fromkeys(("м", "ом", "ем"), ("p", "m", False)),
    **dict.fromkeys(("ым", "им"), ("i", "m", False)),
    **dict.fromkeys(("я", "ая", "яя"), ("n", "f", False)),
    **dict.fromkeys(("ю", "ую", "юю"), ("a", "f", False)),
    **dict.fromkeys(("е", "ое", "ее"), ("n", "n", "?")),
    **dict.fromkeys(("х", "ых", "их"), ("p", "m", True)),
}
# A cardinal's written ending: "2-х" -> "двух", "5-ти" -> "пяти", "2-мя" -> "двумя".
_CARDINAL_ENDINGS = {**dict.fromkeys(("ти", "ми", "и", "ух", "ёх", "ех"), "g"), "мя": "i"}
_ENDING = "|".join(sorted({*_ORDINAL_ENDINGS, *_CARDINAL_ENDINGS}, key=len, reverse=True))

_WORD_AFTER = r"(?:\s+(?P<noun>[а-яё]+))?"
# A number that has an ordinal or an ending: a whole digit run, not an identifier (IDENTIFIER_DIGITS).
_COUNT = rf"(?<!\d)\d{{1,{IDENTIFIER_DIGITS}}}(?!\d)"
_NOUN_ORDINAL = re.compile(
    rf"{_PREPOSITION}(?P<number>{_COUNT})(?:-(?P<to>{_COUNT}))?(?:-(?P<ending>{_ENDING}))?\s+(?P<noun>"
    rf"{'|'.join(sorted(_ORDINAL_NOUNS, key=len, reverse=True))}){_NOT_BEFORE_LETTER}", re.IGNORECASE)
_YEAR_ABBREVIATION = re.compile(
    rf"{_PREPOSITION}(?P<number>\d{{3,4}})(?:-(?P<to>\d{{3,4}}))?\s?(?P<abbreviation>гг?)\.", re.IGNORECASE)
_DATE = re.compile(rf"{_PREPOSITION}(?<!\d)(?P<number>[0-3]?\d)(?:-(?P<ending>{_ENDING}))?"
                   rf"\s+(?P<month>{'|'.join(_MONTHS)}){_NOT_BEFORE_LETTER}", re.IGNORECASE)
_WITH_ENDING = re.compile(
    rf"{_PREPOSITION}(?P<number>{_COUNT})-(?P<ending>{_ENDING}){_NOT_BEFORE_LETTER}{_WORD_AFTER}",
    re.IGNORECASE)
_YEAR_RANGE = re.compile(r"(?<![\d-])(?P<number>1\d{3}|20\d{2})-(?P<to>1\d{3}|20\d{2})(?![\d-])")
_TIME = re.compile(rf"{_PREPOSITION}(?<!\d)(?P<hours>\d{{1,2}}):(?P<minutes>\d{{2}})(?!\d)")
_ROMAN_CENTURY = re.compile(r"(?<![\w+])(?P<roman>[IVXL]+)(?=\s+век)")  # "XX век" -> "20 век"
_NUMBER_SIGN = re.compile(r"№\s?(?=\d)")
_PLUS = re.compile(r"(?<![\w+])\+(?=\d)")
# A vowel with the combining acute accent, the stress mark of dictionaries and textbooks.
_ACCENTED_VOWEL = re.compile("([аеёиоуыэюяАЕЁИОУЫЭЮЯ])\u0301")
_PLAIN_NUMBER = re.compile(rf"{_PREPOSITION}(?P<number>{_NUMBER})(?=\s+(?P<next>[а-яё]+))?", re.IGNORECASE)
# "в", "к", "с" become "во", "ко", "со" before "вт": "во втором", "ко второму", "со второго".
_BEFORE_VT = re.compile(r"(?<![\w+])([вкс]) (?=вт)", re.IGNORECASE)
_CITY = re.compile(r"(?<![\w+])г\.\s?(?=[А-ЯЁ])")  # "г. Москва": "город" (a year was taken before)

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
    (r"гг\.", "годы"),
    (r"г\.", "год"),
    (rf"руб{_NOT_BEFORE_LETTER}\.?", "рублей"),
    (rf"коп{_NOT_BEFORE_LETTER}\.?", "копеек"),
    (rf"тыс{_NOT_BEFORE_LETTER}\.?", "тысяч"),
    (rf"млн{_NOT_BEFORE_LETTER}\.?", "миллионов"),
    (rf"млрд{_NOT_BEFORE_LETTER}\.?", "миллиардов"),
]]


def expand(text: str) -> str:
    """Spell out what Russian text writes with digits, signs and abbreviations; keeps the case and stress marks."""
    text = _ACCENTED_VOWEL.sub(r"+\1", text)
    text = _ROMAN_CENTURY.sub(lambda match: str(_roman_value(match["roman"])), text)
    text = _NUMBER_SIGN.sub("номер ", text)
    text = _PLUS.sub("плюс ", text)
    text = _TIME.sub(_time, text)
    text = _YEAR_ABBREVIATION.sub(_year_abbreviation, text)
    text = _NOUN_ORDINAL.sub(_noun_ordinal, text)
    text = _DATE.sub(_date, text)
    text = _WITH_ENDING.sub(_with_ending, text)
    text = _YEAR_RANGE.sub(
        lambda match: f"{_ordinal(match['number'], 'n', 'm')} - {_ordinal(match['to'], 'n', 'm')}", text)
    text = _CURRENCY_FIRST.sub(
        lambda match: _prep(match) + _counted(match["number"], None, _CURRENCY_NOUNS[match["sign"]], "m",
                                              _case(match)), text)
    for pattern, noun, gender, after in _COUNTED:
        text = pattern.sub(lambda match: _prep(match) + _counted(match["number"], match["to"], noun, gender,
                                                                 _case(match)) + after + sentence_period(match),
                           text)
    # Spaces around the words keep them apart from a unit written close up: "5кВт" -> "пять кВт".
    text = _PLAIN_NUMBER.sub(_plain_number, text)
    text = _CITY.sub("город ", text)
    text = _BEFORE_VT.sub(r"\1о ", text)
    for pattern, words in _PREFIX_ABBREVIATIONS:
        text = pattern.sub(words, text)
    for pattern, words in _ABBREVIATIONS:
        text = pattern.sub(lambda match: words + sentence_period(match), text)
    return text.replace("&", " и ").replace("%", " процентов")


def _roman_value(roman: str) -> int:
    """'XIX' -> 19: each numeral adds its value, or subtracts it when a larger one follows."""
    values = [{"I": 1, "V": 5, "X": 10, "L": 50}[numeral] for numeral in roman]
    return sum(-value if value < following else value for value, following in zip(values, values[1:] + [0]))


def _prep(match: re.Match) -> str:
    """The preposition the pattern matched before the number, with its space, as written."""
    return match["prep"] + match["space"] if match["prep"] else ""


def _case(match: re.Match, default: str = "n") -> str:
    """The case the matched preposition gives the number ("в 5 км" -> p), else `default`."""
    return _PREPOSITION_CASE[match["prep"].casefold()] if match["prep"] else default


def _bare_case(match: re.Match) -> str:
    """A number without a noun after a preposition: "от 5" -> g; after "в" it is a time or an amount
    ("в 5 утра", "в 1 минуту"): accusative."""
    case = _case(match)
    return "a" if match["prep"] and match["prep"].casefold() in ("в", "во") else case


def _plain_number(match: re.Match) -> str:
    spelled = _spell_number(match["number"], _bare_case(match), _counted_gender(match))
    return f"{_prep(match)} {spelled} "


def _counted_gender(match: re.Match) -> str:
    """The gender a bare number takes from the noun after it, guessed from the noun's ending where it
    shows: '1 книга'/'2 минуты' feminine (одна, две), '1 окно' neuter (одно); masculine otherwise."""
    number, noun = match["number"], (match["next"] or "").casefold()
    if not number.isdigit() or not noun:
        return "m"
    value = int(number[-2:])  # the last two digits decide; the run may be longer than int() reads
    if value % 10 == 1 and value % 100 != 11:
        # An accusative "-у"/"-ю" is feminine ("на 1 минуту") where the number is read as written.
        feminine_endings = "аяую" if _bare_case(match) in ("n", "a") else "ая"
        return "f" if noun[-1] in feminine_endings else "n" if noun[-1] in "оеё" else "m"
    if value % 10 == 2 and value % 100 != 12:
        return "f" if noun[-1] in "ыи" else "m"
    return "m"


def _cardinal(value: int, case: str = "n", gender: str = "m") -> str:
    """'тысяча восемьсот двенадцать', not num2words' 'одна тысяча ...'."""
    if case == "a":
        # Counting inanimate things the accusative is the nominative but for "одна" -> "одну"
        # (num2words gives "два" for a feminine accusative).
        words = re.sub(r"одна$", "одну", num2words(value, lang="ru", gender=gender))
    else:
        words = num2words(value, lang="ru", case=case, gender=gender, animate=False)
    return re.sub(r"^(?:одна|одну|одной) (тысяч)", r"\1", words)


def _ordinal(number: str, case: str, gender: str, plural: bool = False) -> str:
    return num2words(int(number), lang="ru", to="ordinal", case=case, gender=gender, plural=plural,
                     animate=False)


def _spell_number(number: str, case: str = "n", gender: str = "m") -> str:
    """'-1 234,5' -> 'минус тысяча двести тридцать четыре целых пять десятых'; decimals stay nominative.
    An identifier ("007", a part longer than IDENTIFIER_DIGITS) is read digit by digit, the point as
    "запятая"."""
    number = re.sub(r"\s", "", number).replace(",", ".")
    sign = "минус " if number.startswith("-") else ""
    number = number.lstrip("-")
    whole, point, fraction = number.partition(".")
    if (max(len(whole), len(fraction)) > IDENTIFIER_DIGITS
            or (not point and len(whole) > 1 and whole.startswith("0"))):
        return sign + " ".join("запятая" if digit == "." else num2words(int(digit), lang="ru")
                               for digit in number)
    if point:
        return sign + num2words(Decimal(number), lang="ru", gender=gender)
    return sign + _cardinal(int(number), case, gender)


def _counted(number: str, to: str | None, noun: dict, gender: str, case: str) -> str:
    """The number in words in `case` and the counted noun in the form it requires:
    1 рубль, 2 рубля, 5 рублей, 2,5 рубля; от 5 рублей, в 5 километрах, к 21 рублю."""
    spelled = _spell_number(number, case, gender)
    if to:
        spelled += " - " + _spell_number(to, case, gender)
    last = re.sub(r"\s", "", to or number)
    if any(separator in last for separator in ".,"):
        # A fraction takes the genitive singular: "пять десятых процента".
        return f"{spelled} {noun['g', False]}"
    value = int(last.lstrip("-")[-2:])  # the last two digits decide; the run may be longer than int() reads
    ends_in_one = value % 10 == 1 and value % 100 != 11
    if case in ("n", "a"):
        if ends_in_one:
            return f"{spelled} {noun[case, False]}"
        if value % 10 in (2, 3, 4) and value % 100 not in (12, 13, 14):
            return f"{spelled} {noun['g', False]}"
        return f"{spelled} {noun['g', True]}"
    return f"{spelled} {noun[case, not ends_in_one]}"


def _year_abbreviation(match: re.Match) -> str:
    """'в 1812 г.' -> 'в тысяча восемьсот двенадцатом году'; 'гг.' is plural; without a preposition the
    genitive of dates ('1 мая 1812 г.'); the period stays when it ends the sentence."""
    if len(match["number"]) == 3 and not (match["prep"] or match["to"]):
        return match.group()  # "200 г." without a preposition is grams
    plural = match["abbreviation"].casefold() == "гг" or bool(match["to"])
    case = _case(match, default="g")
    if case == "a":
        case = "n"
    words = _ordinal(match["number"], case, "m", plural and not match["to"])
    if match["to"]:
        words += " - " + _ordinal(match["to"], case, "m")
    return f"{_prep(match)}{words} {_GOD_FORMS[case, plural]}{sentence_period(match)}"


def _noun_ordinal(match: re.Match) -> str:
    """'в 1812 году' -> 'в тысяча восемьсот двенадцатом году', '5 числа' -> 'пятого числа'. Before a form of
    'год' only a number of 3+ digits, with an ending or before 'году' is a year: '3 года' counts years."""
    noun = match["noun"]
    case, plural, gender, lemma = _ORDINAL_NOUNS[noun.casefold()]
    number, to, ending = match["number"], match["to"], match["ending"]
    if lemma == "год" and not (len(number) >= 3 or ending or noun.casefold() == "году"):
        return match.group()  # a count: the plain-number rules read it
    if noun.casefold() in ("году", "веку") and match["prep"] and _case(match) == "d":
        case = "d"  # "к 1812 году": dative, which "году" also is
    if ending and ending in _CARDINAL_ENDINGS:
        return match.group()
    words = _ordinal(number, case, gender, plural and not to)
    if to:
        words += " - " + _ordinal(to, case, gender)
    return f"{_prep(match)}{words} {noun}"


def _date(match: re.Match) -> str:
    """'1 мая' -> 'первого мая'; 'к 1 мая' -> 'к первому мая'; 'на 1 мая' and at the start: 'первое мая'."""
    if not 1 <= int(match["number"]) <= 31:
        return match.group()
    # Nominative only when the date is named ("1 мая - праздник"), else the genitive of "when".
    named = not match.string[: match.start()].strip() and re.match(r"\s*(?:-|$)", match.string[match.end():])
    case = _case(match, default="n" if named else "g")
    return f"{_prep(match)}{_ordinal(match['number'], 'n' if case == 'a' else case, 'n')} {match['month']}"


def _with_ending(match: re.Match) -> str:
    """'1-й' -> 'первый', '2-го' -> 'второго', '1990-е годы' -> 'тысяча девятьсот девяностые годы',
    '2-х' -> 'двух', '5-ти' -> 'пяти'."""
    number, ending, noun = match["number"], match["ending"].casefold(), match["noun"] or ""
    after = match.group()[match.end("ending") - match.start():]
    if ending in _CARDINAL_ENDINGS or (ending in ("х", "ух", "ёх", "ех") and int(number) < 10):
        return f"{_prep(match)}{_cardinal(int(number), _CARDINAL_ENDINGS.get(ending, 'g'))}{after}"
    case, gender, plural = _ORDINAL_ENDINGS[ending]
    if plural == "?":  # "-е": a decade ("1990-е") or a plural noun makes it plural, else neuter ("5-е место")
        plural = noun.casefold() in ("годы",) or (len(number) == 4 and number.endswith("0"))
    if case == "p" and match["prep"] and match["prep"].casefold() in _INSTRUMENTAL_PREPOSITIONS:
        case = "i"  # "с 5-м" is instrumental, "в 5-м" prepositional
    return f"{_prep(match)}{_ordinal(number, case, gender, plural)}{after}"


def _time(match: re.Match) -> str:
    """'10:30' -> 'десять тридцать', '10:05' -> 'десять ноль пять', '10:00' -> 'десять ноль ноль';
    after a preposition in its case: 'с 10:30' -> 'с десяти тридцати'."""
    hours, minutes = int(match["hours"]), int(match["minutes"])
    if hours > 23 or minutes > 59:
        return match.group()
    case = _bare_case(match)
    minute_words = _cardinal(minutes, case) if minutes >= 10 else "ноль " + num2words(minutes, lang="ru")
    return f"{_prep(match)}{_cardinal(hours, case)} {minute_words}"
