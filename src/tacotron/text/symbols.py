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

# Phoneme mode (text.input=phonemes): every character eSpeak NG (espeakng-loader 0.2.4) writes in IPA
# for the language's voice over the 100,000 most frequent words of the wordfreq lists, sorted by code
# point. Each character is one symbol, combining marks included (U+0303 nasalized, U+0329 syllabic),
# and so are the ASCII remnants of eSpeak's Russian ('"' after a fronted u, '^' after a soft ɪ).
# The apostrophe is not here: it stays inside its word, which eSpeak reads.
PHONEME_PUNCTUATION = ("!", ",", "-", ".", ":", ";", "?")
ENGLISH_PHONEMES = tuple("abdefhijklmnoprstuvwxzæçðŋɐɑɔəɚɛɜɡɪɬɹɾʃʊʌʒʔʲˈˌː\u0303\u0329θᵻ")
RUSSIAN_PHONEMES = tuple('"^abdefijkmnoprstuvxyzŋɑɔɕəɛɡɪɭɵʃʌʑʒʲˈˌ')

ENGLISH_PHONEME_SYMBOLS = (PAD, EOS, SPACE, *PHONEME_PUNCTUATION, *ENGLISH_PHONEMES)
RUSSIAN_PHONEME_SYMBOLS = (PAD, EOS, SPACE, *PHONEME_PUNCTUATION, *RUSSIAN_PHONEMES)
