"""Symbol inventories, one per language; a symbol's position in its tuple is its id."""

PAD = "_"  # id 0: fills batches to a common length, never produced from text
EOS = "~"  # id 1: appended to every sentence so the decoder learns where to stop
SPACE = " "
PUNCTUATION = ("!", "'", ",", "-", ".", ":", ";", "?")
STRESS = "+"  # RUSLAN-style stress mark, written before the stressed vowel: "м+ама"

ENGLISH_LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")
RUSSIAN_LETTERS = tuple("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")

ENGLISH_SYMBOLS = (PAD, EOS, SPACE, *PUNCTUATION, *ENGLISH_LETTERS)
RUSSIAN_SYMBOLS = (PAD, EOS, SPACE, *PUNCTUATION, STRESS, *RUSSIAN_LETTERS)
