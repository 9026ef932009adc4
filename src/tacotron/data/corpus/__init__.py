"""A synthetic speech corpus: generated sentences spoken by eSpeak NG, written in the LJSpeech layout.

It is the project's default data and the data of the end-to-end tests. A hand-written grammar gives the
sentence shapes (statements, questions, exclamations, commas, numbers written as digits) and a few hundred
chosen words; its open slots (nouns, adjectives, adverbs, verbs) are filled from the several thousand most
frequent words of the language (tacotron.data.lexicon), inflected in agreement, so that a voice trained on
it meets most of the words of ordinary sentences. A reserved eighth of those words appears only in the
held-out sentences, which therefore always hold words the training part never has.

Where each part lives:
- grammar.py, english.py, russian.py: the sentence grammars; words/*.toml: their word lists (word_lists.py);
- vocabulary.py: which lexicon words are reserved for the held-out sentences;
- sentences.py: the training and held-out sentence lists (generate_sentences, generate_test_sentences);
- making.py: making a corpus on disk (make_corpus); held_out.py: reading its held-out list;
- word_coverage.py: how the training words cover the held-out sentences and ordinary text.
"""

from tacotron.data.corpus.held_out import HeldOutSentence, read_test_sentences
from tacotron.data.corpus.making import (DEFAULT_COUNT, TRIM_KEEP_MS, TRIM_THRESHOLD_DB, make_corpus, speakable,
                                         speaker_voice)
from tacotron.data.corpus.russian import RussianSentences
from tacotron.data.corpus.sentences import GENERATOR_VERSION, generate_sentences, generate_test_sentences
from tacotron.data.corpus.word_coverage import held_out_word_share, running_text_coverage, spoken_words

__all__ = ["DEFAULT_COUNT", "GENERATOR_VERSION", "TRIM_KEEP_MS", "TRIM_THRESHOLD_DB", "HeldOutSentence",
           "RussianSentences", "generate_sentences", "generate_test_sentences", "held_out_word_share",
           "make_corpus", "read_test_sentences", "running_text_coverage", "speakable", "speaker_voice",
           "spoken_words"]
