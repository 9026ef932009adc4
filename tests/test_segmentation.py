import re

import pytest

from tacotron.text.segmentation import (
    CLAUSE, NONE, PARAGRAPH, QUESTION, SENTENCE, STRONG_CLAUSE, Segment, split_clauses, split_sentences, split_text,
)


def texts(segments: list[Segment]) -> list[str]:
    return [segment.text for segment in segments]


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def assert_lossless(segments: list[Segment], text: str) -> None:
    assert collapse(" ".join(texts(segments))) == collapse(text)


@pytest.mark.parametrize("text, sentences", [
    ("Mr. Smith met Dr. Jones at 9:45 a.m. They paid $3.50 for tea.",
     ["Mr. Smith met Dr. Jones at 9:45 a.m.", "They paid $3.50 for tea."]),
    ("Bring fruit, e.g. apples. Pi is about 3.14 and i.e. not 3.",
     ["Bring fruit, e.g. apples.", "Pi is about 3.14 and i.e. not 3."]),
    ("J. K. Rowling and J.R.R. Tolkien wrote books. Prof. Higgins taught at St. Mary's.",
     ["J. K. Rowling and J.R.R. Tolkien wrote books.", "Prof. Higgins taught at St. Mary's."]),
    ("We bought bread, milk, etc. Then we left. Cats, dogs, etc. are pets.",
     ["We bought bread, milk, etc.", "Then we left.", "Cats, dogs, etc. are pets."]),
    ("See item No. 5 here. I said no. Then he left.",
     ["See item No. 5 here.", "I said no.", "Then he left."]),
    ("It was World War I. Then peace came.", ["It was World War I.", "Then peace came."]),
    ("Really?! Yes!!! Wait... what? Wait... What now?",
     ["Really?!", "Yes!!!", "Wait... what?", "Wait...", "What now?"]),
    ('He said "Stop." Then he left. "Where?" she asked. (It was late.) They slept.',
     ['He said "Stop."', "Then he left.", '"Where?" she asked.', "(It was late.)", "They slept."]),
    ("Version 2.0 shipped on 12.05.2020 at 9:45.", ["Version 2.0 shipped on 12.05.2020 at 9:45."]),
])
def test_english_sentences(text, sentences):
    assert texts(split_sentences(text, "en")) == sentences


@pytest.mark.parametrize("text, sentences", [
    ("Это, т.е. Москва, и т.д. Потом мы ушли.", ["Это, т.е. Москва, и т.д.", "Потом мы ушли."]),
    ("Это было в 1999 г. Он уехал.", ["Это было в 1999 г.", "Он уехал."]),
    ("Он жил в г. Москва на ул. Ленина, д. 5. Нам туда.", ["Он жил в г. Москва на ул. Ленина, д. 5.", "Нам туда."]),
    ("Хлеб стоит 3,5 руб. Молоко дороже.", ["Хлеб стоит 3,5 руб.", "Молоко дороже."]),
    ("Цена 2,5 тыс. руб. за штуку.", ["Цена 2,5 тыс. руб. за штуку."]),
    ("Договор от 12.05.2020 в 9:45 подписан. Всё.", ["Договор от 12.05.2020 в 9:45 подписан.", "Всё."]),
    ("Я думал… что это сон. Нет… Это правда.", ["Я думал… что это сон.", "Нет…", "Это правда."]),
    ("Почему?! Как так?", ["Почему?!", "Как так?"]),
    ("Он сказал: «Хватит.» Все замолчали.", ["Он сказал: «Хватит.»", "Все замолчали."]),
    ("А. С. Пушкин родился в 1799 г. в Москве.", ["А. С. Пушкин родился в 1799 г. в Москве."]),
    ("Он ушёл. — Куда? — спросила она.", ["Он ушёл.", "— Куда? — спросила она."]),
    ("Рим основан в 753 г. до н.э. Это легенда. Рост 180 см. Вес меньше.",
     ["Рим основан в 753 г. до н.э.", "Это легенда.", "Рост 180 см.", "Вес меньше."]),
    ("См. рис. 3 и табл. 2 на стр. 5, проф. Иванов.", ["См. рис. 3 и табл. 2 на стр. 5, проф. Иванов."]),
])
def test_russian_sentences(text, sentences):
    assert texts(split_sentences(text, "ru")) == sentences


def test_sentence_pauses_and_paragraphs():
    text = "First line\nstill the first sentence. Is it?\n\n  \nNew paragraph! Last words"
    assert split_sentences(text, "en") == [
        Segment("First line still the first sentence.", SENTENCE),
        Segment("Is it?", PARAGRAPH),
        Segment("New paragraph!", QUESTION),
        Segment("Last words", PARAGRAPH),
    ]


def test_short_sentence_is_kept_whole():
    assert split_clauses("Short, sweet, done.", 120) == [Segment("Short, sweet, done.", SENTENCE)]
    assert split_clauses("  Short  one.  ", 120, QUESTION) == [Segment("Short one.", QUESTION)]
    assert split_clauses("   ", 120) == []


def test_long_sentence_splits_into_balanced_clauses():
    sentence = (
        "When the old lighthouse keeper finally retired, the village gathered on the pier, and the children, "
        "who had never seen the lamp lit by hand, asked him to show them once more; he climbed the stairs slowly, "
        "lit the wick with a trembling match - and the whole bay glowed gold."
    )
    assert 40 <= len(sentence.split()) <= 60
    assert split_clauses(sentence, 100, QUESTION) == [
        Segment("When the old lighthouse keeper finally retired, the village gathered on the pier,", CLAUSE),
        Segment("and the children, who had never seen the lamp lit by hand, asked him to show them once more;",
                STRONG_CLAUSE),
        Segment("he climbed the stairs slowly, lit the wick with a trembling match - and the whole bay glowed gold.",
                QUESTION),
    ]
    pieces = split_clauses(sentence, 80)
    assert texts(pieces) == [
        "When the old lighthouse keeper finally retired,",
        "the village gathered on the pier, and the children,",
        "who had never seen the lamp lit by hand,",
        "asked him to show them once more; he climbed the stairs slowly,",
        "lit the wick with a trembling match - and the whole bay glowed gold.",
    ]
    lengths = [len(piece) for piece in texts(pieces)]
    assert max(lengths) <= 80 and min(lengths) >= 40
    assert_lossless(pieces, sentence)


def test_clause_split_keeps_numbers_and_hyphens_whole():
    sentence = ("Он пришёл — и все замолчали: никто не ждал его так рано, ведь поезд, как говорили на станции, "
                "опаздывал на 3,5 часа; в 9:45 он уже стоял у двери, как-то по-особенному улыбаясь.")
    assert split_clauses(sentence, 60) == [
        Segment("Он пришёл — и все замолчали: никто не ждал его так рано,", CLAUSE),
        Segment("ведь поезд, как говорили на станции, опаздывал на 3,5 часа;", STRONG_CLAUSE),
        Segment("в 9:45 он уже стоял у двери, как-то по-особенному улыбаясь.", SENTENCE),
    ]


def test_dialogue_dash_starts_its_clause():
    sentence = "— Куда? — спросила она, глядя в окно на дорогу, по которой уходили солдаты, и заплакала."
    assert texts(split_clauses(sentence, 40)) == [
        "— Куда? — спросила она,", "глядя в окно на дорогу,", "по которой уходили солдаты, и заплакала.",
    ]


def test_comma_less_sentence_is_cut_between_words():
    sentence = ("The committee reviewed the proposal during a long afternoon session and decided to postpone the "
                "final vote until the engineers could present a more detailed estimate of all the costs involved.")
    assert 190 <= len(sentence) <= 210  # "a 200-character sentence"
    assert split_clauses(sentence, 120) == [
        Segment("The committee reviewed the proposal during a long afternoon session and decided to postpone the",
                NONE),
        Segment("final vote until the engineers could present a more detailed estimate of all the costs involved.",
                SENTENCE),
    ]
    # Three pieces: cut at a third, then in the middle, before a conjunction where one is near.
    assert split_clauses(sentence, 80) == [
        Segment("The committee reviewed the proposal during a long afternoon session", NONE),
        Segment("and decided to postpone the final vote until the engineers could", NONE),
        Segment("present a more detailed estimate of all the costs involved.", SENTENCE),
    ]


def test_forced_cut_prefers_conjunctions_but_not_inside_compounds():
    sentence = ("Когда мы приехали на станцию поздно вечером и увидели что поезд уже ушёл мы решили "
                "переночевать в маленькой гостинице которая стояла прямо напротив вокзала потому что "
                "другого выхода не было")
    pieces = split_clauses(sentence, 60)
    assert texts(pieces) == [
        "Когда мы приехали на станцию поздно вечером",
        "и увидели что поезд уже ушёл мы решили переночевать",
        "в маленькой гостинице которая стояла прямо",
        "напротив вокзала потому что другого выхода не было",
    ]
    assert [piece.pause_after for piece in pieces] == [NONE, NONE, NONE, SENTENCE]


def test_a_word_longer_than_the_limit_stays_whole():
    word = "x" * 50
    assert texts(split_clauses(f"{word} and some more words here", 30)) == [word, "and some more words here"]


def test_split_text_ends_with_none_and_drops_empty_pieces():
    text = "\n\n  Hello there, my friend.  \n\n\n Dr. Who arrived at 9:45 p.m. Bye!  \n\n"
    assert split_text(text, "en") == [
        Segment("Hello there, my friend.", PARAGRAPH),
        Segment("Dr. Who arrived at 9:45 p.m.", SENTENCE),
        Segment("Bye!", NONE),
    ]
    assert split_text("  \n\n ", "en") == []


def test_split_text_rejects_unknown_language_and_bad_limit():
    with pytest.raises(ValueError, match="unsupported text language 'de'"):
        split_text("Hallo.", "de")
    with pytest.raises(ValueError, match="unsupported text language"):
        split_sentences("Hallo.", "")
    with pytest.raises(ValueError, match="max_chars"):
        split_text("Hello.", "en", max_chars=0)


PARAGRAPHS = [
    ("en", """Mr. and Mrs. Dursley, of number four, Privet Drive, were proud to say that they were perfectly normal,
thank you very much. They were the last people you'd expect to be involved in anything strange or mysterious,
because they just didn't hold with such nonsense; Mr. Dursley was the director of a firm called Grunnings, which
made drills.

He was a big, beefy man with hardly any neck - although he did have a very large mustache. At 8:30 a.m. he left
for work, paid $3.50 for coffee (e.g. a latte), and thought about J. K. Rowling... or did he? Nobody knows!"""),
    ("ru", """Все счастливые семьи похожи друг на друга, каждая несчастливая семья несчастлива по-своему. Всё
смешалось в доме Облонских: жена узнала, что муж был в связи с бывшею в их доме француженкою-гувернанткой, и
объявила мужу, что не может жить с ним в одном доме.

В 1873 г. роман начал выходить в журнале, т.е. по частям; цена номера — 3,5 руб. Читатели ждали… и ждали. Правда?!
«Это лучший роман», — говорили одни. Другие спорили, ссылаясь на проф. Иванова, ул. Ленина, д. 5, и т.д. Потом
все согласились."""),
]


@pytest.mark.parametrize("language, text", PARAGRAPHS)
@pytest.mark.parametrize("max_chars", [40, 80, 120, 1000])
def test_segments_lose_nothing(language, text, max_chars):
    segments = split_text(text, language, max_chars)
    assert_lossless(segments, text)
    assert all(segment.text and segment.text == collapse(segment.text) for segment in segments)
    assert all(len(segment.text) <= max_chars for segment in segments)
    assert segments[-1].pause_after == NONE
    assert [segment.pause_after for segment in segments[:-1]].count(PARAGRAPH) == 1


def test_long_russian_text_fits_and_loses_nothing():
    sentences = [
        "Утром 12.05.2020 в 9:45 мы вышли из дома на ул. Ленина, д. 5, и пошли к вокзалу.",
        "Билет стоил 3,5 тыс. руб., т.е. почти всё, что у нас было.",
        "Поезд опаздывал — никто не знал почему, и проводник только разводил руками.",
        "Мы ждали на перроне, пили чай из термоса, говорили о книгах, о дорогах, о людях, которых встретили за эти "
        "годы, и о том, что ещё предстоит увидеть, если хватит сил и терпения.",
        "Почему так долго?!",
        "Начальник станции сказал, что состав задержали под Тверью из-за ремонта путей и что ждать придётся ещё "
        "не меньше часа, а может быть и двух, потому что бригада работает медленно.",
        "Проф. Петров, который ехал с нами, рассказывал о Риме, основанном в 753 г. до н.э.",
        "Мы слушали.",
        "Я думал… что он шутит.",
        "Но он говорил серьёзно и долго без единой запятой и паузы так что мы устали слушать его рассказ о древних "
        "городах империях и войнах которые давно забыты всеми кроме историков.",
        "«Когда же поезд?» — спросила сестра.",
    ]
    text = ""
    while len(text) < 2000:
        text += " ".join(sentences) + "\n\n"
    assert len(text) >= 2000
    for max_chars in (60, 120):
        segments = split_text(text, "ru", max_chars)
        assert_lossless(segments, text)
        assert all(len(segment.text) <= max_chars for segment in segments)
        assert segments[-1].pause_after == NONE
        assert all(segment.pause_after in (PARAGRAPH, SENTENCE, QUESTION, CLAUSE, STRONG_CLAUSE, NONE)
                   for segment in segments)
    # The sentences are found as written (the 60-character limit only cuts the long ones further).
    assert texts(split_sentences(" ".join(sentences), "ru")) == sentences
