import pytest

from tacotron.errors import UserError
from tacotron.text import Frontend, UnknownSymbolsError, detect_language, get_frontend

en = get_frontend("en", "characters")
ru = get_frontend("ru", "characters")


def test_symbol_sets():
    assert en.symbols == ("_", "~", " ", "!", "'", ",", "-", ".", ":", ";", "?", *"abcdefghijklmnopqrstuvwxyz")
    assert ru.symbols == ("_", "~", " ", "!", "'", ",", "-", ".", ":", ";", "?", "+",
                          *"абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
    for frontend, language in ((en, "en"), (ru, "ru")):
        assert isinstance(frontend, Frontend) and frontend.language == language
        assert frontend.pad_id == 0 and frontend.eos_id == 1
        assert frontend.symbols[0] == "_" and frontend.symbols[1] == "~"


def test_unknown_language_is_a_user_error():
    with pytest.raises(UserError, match="unsupported text language 'de'"):
        get_frontend("de", "characters")


@pytest.mark.parametrize("text, normalized", [
    ("42", "forty two"),
    ("-5 degrees", "minus five degrees"),
    ("3.5", "three point five"),
    ("3.05 and 3.0", "three point zero five and three point zero"),
    ("1,000 and 1,234,567", "one thousand and one million two hundred and thirty four thousand five hundred and sixty seven"),
    ("1st 2nd 3rd 4th 22nd 11th", "first second third fourth twenty second eleventh"),
    ("5%", "five percent"),
    ("$5", "five dollars"),
    ("$1 or $0.50 or $1.01", "one dollar or fifty cents or one dollar one cent"),
    ("$5.50", "five dollars fifty cents"),
    ("$1.5 million", "one point five million dollars"),
    ("£2 and €1", "two pounds and one euro"),
    ("10:30, 9:05, 10:00", "ten thirty, nine oh five, ten o'clock"),
    ("in 1984", "in nineteen eighty four"),
    ("the 1980s and '90s", "the nineteen eighties and nineties"),
    ("agent 007", "agent zero zero seven"),
    ("5km", "five kilometers"),
    ("1 km, 3.5 kg, 1500 m, 15 cm", "one kilometer, three point five kilograms, one thousand five hundred meters, "
                                    "fifteen centimeters"),
    ("2 lbs, 1 ft, 5 ft, 60 mph, 12 km/h", "two pounds, one foot, five feet, sixty miles per hour, "
                                          "twelve kilometers per hour"),
    ("5 °C, -3°F, 90°", "five degrees celsius, minus three degrees fahrenheit, ninety degrees"),
    ("in 5 min or 2 h or 100 ms", "in five minutes or two hours or one hundred milliseconds"),
    ("3/4, 1/2, 2/3", "three quarters, one half, two thirds"),
    ("8 am and 3 p.m. today", "eight a m and three p m today"),
    ("#1 and No. 2", "number one and number two"),
    ("I'm in 5 rooms", "i'm in five rooms"),
    ("rock & roll", "rock and roll"),
    ("2+2", "two plus two"),
])
def test_english_numbers_and_signs(text, normalized):
    assert en.normalize(text) == normalized


@pytest.mark.parametrize("text, normalized", [
    ("Mr. Smith", "mister smith"),
    ("Mrs Smith", "missus smith"),
    ("Ms. Smith", "miss smith"),
    ("Dr. Who", "doctor who"),
    ("St. Paul", "saint paul"),
    ("John Smith Jr. and John Smith Sr.", "john smith junior and john smith senior."),
    ("Ali vs. Frazier", "ali versus frazier"),
    ("apples, pears, etc.", "apples, pears, etcetera."),
    ("apples, etc. The end", "apples, etcetera. the end"),
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("one fruit, i.e. an apple", "one fruit, that is an apple"),
    ("No. 5", "number five"),
    ("no. I said no.", "no. i said no."),
    ("Smith & Co. and Acme Ltd. were there", "smith and company and acme limited were there"),
    ("Prof. Higgins", "professor higgins"),
])
def test_english_abbreviations(text, normalized):
    assert en.normalize(text) == normalized


@pytest.mark.parametrize("text, normalized", [
    ("42", "сорок два"),
    ("-5", "минус пять"),
    ("3,5 и 3.5", "три целых пять десятых и три целых пять десятых"),
    ("1 000 и 1\u00a0000 000", "тысяча и один миллион"),
    ("1% 2% 5% 11% 21% 3,5%", "один процент два процента пять процентов одиннадцать процентов "
                              "двадцать один процент три целых пять десятых процента"),
    ("1 руб. 2 руб. 5 руб. 12 руб. 22 руб", "один рубль два рубля пять рублей двенадцать рублей двадцать два рубля"),
    ("1 коп. 2 коп. 5 коп.", "одна копейка две копейки пять копеек."),
    ("5 руб. 50 коп.", "пять рублей пятьдесят копеек."),
    ("Стоит 5 руб. Дорого", "стоит пять рублей. дорого"),
    ("5 тыс. руб.", "пять тысяч рублей."),
    ("2 тыс. и 1 млн и 3 млрд", "две тысячи и один миллион и три миллиарда"),
    ("$5 и 5 ₽", "пять долларов и пять рублей"),
    ("10:30 и 10:05", "десять тридцать и десять ноль пять"),
    ("чай & кофе", "чай и кофе"),
    ("5км", "пять километров"),
])
def test_russian_numbers_and_agreement(text, normalized):
    assert ru.normalize(text) == normalized


@pytest.mark.parametrize("text, normalized", [
    ("т.е. так", "то есть так"),
    ("т. к. так", "так как так"),
    ("и т.д.", "и так далее."),
    ("и т.п. и т.д. Потом", "и тому подобное и так далее. потом"),
    ("и др.", "и другие."),
    ("в 2020 г. было", "в две тысячи двадцатом году было"),
    ("много руб. и коп.", "много рублей и копеек."),
    ("ул. Ленина", "улица ленина"),
    ("см. выше и 5 см.", "смотри выше и пять сантиметров."),
    ("им. Пушкина", "имени пушкина"),
    ("проф. Иванов", "профессор иванов"),
    ("сотни тыс. и млн и млрд", "сотни тысяч и миллионов и миллиардов"),
])
def test_russian_abbreviations(text, normalized):
    assert ru.normalize(text) == normalized


@pytest.mark.parametrize("frontend, text, normalized", [
    (en, "“Don’t,” he said.", "don't, he said."),
    (en, "'quoted' words", "quoted words"),
    (ru, "«Ёлка» „да“", "ёлка да"),
    (en, "wait — no – yes ‒ maybe--fine", "wait - no - yes - maybe-fine"),
    (en, "and so…", "and so..."),
    (en, "he said (quietly).", "he said, quietly."),
    (en, "a [b] {c}", "a, b, c"),
    (en, "  too   many \t spaces\n", "too many spaces"),
    (en, "no space , before . or ! or ? or : or ;", "no space, before. or! or? or: or;"),
    (ru, "— Привет, — сказал он.", "привет, - сказал он."),
    (en, "CAPITALS", "capitals"),
])
def test_punctuation_and_whitespace(frontend, text, normalized):
    assert frontend.normalize(text) == normalized


def test_nfc_and_yo_are_kept():
    assert ru.normalize("Е\u0308ж") == "ёж"  # decomposed Ё composes, then lowercases, and is not folded to е
    assert ru.normalize("ЁЛКА") == "ёлка"


def test_stress_mark_is_kept_and_is_its_own_symbol():
    assert ru.normalize("М+ама мыла р+аму.") == "м+ама мыла р+аму."
    ids = ru.encode("м+ама")
    assert ids == [ru.symbols.index(c) for c in "м+ама"] + [ru.eos_id]
    assert ids[1] == ru.symbols.index("+")


def test_unknown_characters_are_kept_and_reported():
    normalized = en.normalize("mail me @ home # 🙂")
    assert normalized == "mail me @ home # 🙂"
    assert en.unknown_characters(normalized) == ["#", "@", "🙂"]
    assert ru.unknown_characters(ru.normalize("Привет, world")) == ["d", "l", "o", "r", "w"]
    # Padding and end-of-sentence are symbols, but text may not produce them.
    assert en.unknown_characters("a_b~c") == ["_", "~"]


def test_to_ids_raises_naming_the_characters():
    with pytest.raises(UnknownSymbolsError) as error:
        ru.to_ids("привет\x07 hi")
    assert error.value.characters == ["\x07", "h", "i"]
    assert isinstance(error.value, UserError)
    assert "'\\x07', 'h', 'i'" in str(error.value)


def test_eos_is_appended_and_ids_map_back():
    for frontend, text in ((en, "Hello, Dr. Smith! It's 5 o'clock?"), (ru, "Привет, м+ир! Ёлка: 5 руб.")):
        normalized = frontend.normalize(text)
        ids = frontend.encode(text)
        assert ids[-1] == frontend.eos_id and frontend.pad_id not in ids
        assert "".join(frontend.symbols[i] for i in ids[:-1]) == normalized
        assert frontend.to_ids(normalized, add_eos=False) == ids[:-1]
    assert en.to_ids("") == [1]


def test_detect_language():
    assert detect_language(["Привет, мир", "ok"]) == "ru"
    assert detect_language(["Hello world", "да"]) == "en"
    assert detect_language(["123", "!"]) == "en"
    assert detect_language(iter(["Съешь же ещё этих мягких французских булок"])) == "ru"
