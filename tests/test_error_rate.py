import pytest

from tacotron.text.error_rate import (align_words, character_error_rate, normalize_for_scoring,
                                      word_error_rate)


@pytest.mark.parametrize("text, language, expected", [
    ("Walter squeezed 17 tables?", "en", "walter squeezed seventeen tables"),
    ("Oh no, only 56% of the well-known photographs!", "en",
     "oh no only fifty six percent of the well known photographs"),
    ("It's (quietly) DONE... isn't it?", "en", "it's quietly done isn't it"),
    ("The 3rd of May, 1999.", "en", "the third of may nineteen ninety nine"),
    ("Ёлка в 1812 году — да!", "ru", "елка в одна тысяча восемьсот двенадцать году да"),
    ("Вс+ё хорошо, ещё 25 %", "ru", "все хорошо еще двадцать пять процентов"),
    ("  ", "en", ""),
])
def test_normalize_for_scoring(text, language, expected):
    assert normalize_for_scoring(text, language) == expected


def test_numbers_and_digits_score_as_the_same_words():
    assert word_error_rate("Walter squeezed 17 tables?", "walter squeezed seventeen tables", "en") == 0.0
    assert word_error_rate("В 1812 году.", "в одна тысяча восемьсот двенадцать году", "ru") == 0.0
    assert word_error_rate("Ещё ёжик", "еще ежик", "ru") == 0.0


def test_word_error_rate_counts_substitutions_deletions_insertions():
    # one substitution (squeezed -> squeeze) in 4 reference words
    assert word_error_rate("Walter squeezed 17 tables?", "Walter squeeze 17 tables.", "en") == 0.25
    # the cat sat on the mat -> the the cat on mat: 1 insertion + 2 deletions in 6 words
    assert word_error_rate("the cat sat on the mat", "the the cat on mat") == pytest.approx(3 / 6)
    # pooled over sentences: (1 + 3) / (4 + 2)
    assert word_error_rate(["a b c d", "e f"], ["a b c x", "g h i"]) == pytest.approx(4 / 6)
    # more inserted words than reference words: above 1
    assert word_error_rate("yes", "i love you i love you") == 6.0
    assert word_error_rate("", "") == 0.0


def test_character_error_rate_counts_spaces_between_words():
    # "squeezed" -> "squeeze": one deletion in the 32 characters of the normalized reference
    assert character_error_rate("Walter squeezed 17 tables?", "walter squeeze seventeen tables", "en") \
        == pytest.approx(1 / 32)
    assert character_error_rate("ab cd", "abcd") == pytest.approx(1 / 5)  # merged words: one edit
    assert character_error_rate(["ab", "cd"], ["ab", "ce"]) == pytest.approx(1 / 4)


def test_alignment_reports_skipped_and_repeated_words():
    alignment = align_words("the cat sat on the mat", "the the cat on mat")
    assert alignment.operations == [("equal", "the", "the"), ("insert", None, "the"), ("equal", "cat", "cat"),
                                    ("delete", "sat", None), ("equal", "on", "on"), ("delete", "the", None),
                                    ("equal", "mat", "mat")]
    assert alignment.skipped == ["sat", "the"]
    assert alignment.repeated == ["the"]
    assert (alignment.substitutions, alignment.deletions, alignment.insertions) == (0, 2, 1)
    assert alignment.reference_length == 6

    looping = align_words("i love you", "i love you i love you")
    assert looping.repeated == ["i", "love", "you"]
    assert looping.skipped == []

    unrelated = align_words("good morning", "hello there hello")
    assert unrelated.substitutions == 2 and unrelated.insertions == 1
    assert unrelated.repeated == ["hello"]


def test_mismatched_lists_are_an_error():
    with pytest.raises(ValueError):
        word_error_rate(["a", "b"], ["a"])
