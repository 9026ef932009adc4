"""Russian stress when speaking: does the homograph of each hand-marked sentence reach the phonemes with
its stress on the right vowel, with eSpeak NG's own stress (text.stress=off) and with Silero Stress
before phonemization (text.stress=auto)?

    OMP_NUM_THREADS=1 python benchmarks/russian_stress.py

The sentences are tests/data/ru_homographs.tsv (sentence, the homograph as it is said there). Each is
made into phoneme-mode model input as synthesis makes it (normalize -> stressed -> to_input) and the
homograph's phonemes are found with Frontend.word_spans. Figures (one JSON line):

  accuracy_off, accuracy_auto  share of sentences whose homograph phonemes are stressed right
                               (speaks_as_marked); both over every sentence of the list
  marked_right_auto            share whose stressed text (Frontend.stressed) marks the homograph as the
                               hand did (written_as_marked): Silero's share, before phonemization
  vowel_table                  phonemes._RUSSIAN_VOWELS_BY_PLACE against eSpeak's own output: over the
                               --words most frequent Russian words (wordfreq) eSpeak reads with one
                               primary stress and one vowel per vowel letter, the share of vowels (and
                               of words, all vowels) the table writes as eSpeak did, given eSpeak's stress
  accentor_load_seconds, accentor_ms_per_sentence  what text.stress=auto costs
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from tacotron.text import get_frontend
from tacotron.text.phonemes import (_RUSSIAN_NUCLEUS, _RUSSIAN_VOWEL_LETTERS, Phonemizer, russian_stressed_vowel,
                                    russian_vowel, vowel_place)
from tacotron.text.stress import STRESS, shared_accentor, stressed_vowel

HOMOGRAPHS = Path(__file__).resolve().parents[1] / "tests" / "data" / "ru_homographs.tsv"


def read_homographs(path: Path = HOMOGRAPHS) -> list[tuple[str, str]]:
    """(sentence, the homograph as said there with "+" and ё) of each line that is not a "#" comment."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            sentence, marked = line.split("\t")
            rows.append((sentence, marked))
    return rows


def _folded(word: str) -> str:
    return word.replace(STRESS, "").replace("ё", "е").lower()


def speaks_as_marked(phonemes: str, marked: str) -> bool:
    """Whether a word's `phonemes` put their one primary stress on the vowel the hand marked in
    `marked` (index among the vowels), and, where that letter is е or ё, say it as that letter: ɵ (o
    after ж ш) for ё, not ɵ for е ("вс+е" fsʲˈe against "вс+ё" fsʲˈɵ)."""
    said = russian_stressed_vowel(phonemes)
    index = stressed_vowel(marked)
    if said is None or said[0] != index:
        return False
    letter = marked[marked.index(STRESS) + 1].lower()
    return {"ё": said[1] in ("ɵ", "o"), "е": said[1] != "ɵ"}.get(letter, True)


def written_as_marked(stressed_text: str, marked: str) -> bool:
    """Whether the word of `stressed_text` that is the homograph (by its letters, ё as е) is written as
    `marked`: its "+" on the same vowel, or no "+" and the marked vowel its ё or its only vowel; and ё
    where `marked` has it."""
    for word in re.findall(rf"[\w{re.escape(STRESS)}]+", stressed_text):
        if _folded(word) == _folded(marked):
            index = stressed_vowel(word)
            vowels = [c for c in word.lower() if c in _RUSSIAN_VOWEL_LETTERS]
            if index is None and "ё" in vowels:
                index = vowels.index("ё")
            elif index is None and len(vowels) == 1:
                index = 0
            same_yo = ("ё" in word.lower()) == ("ё" in marked.lower())
            return index == stressed_vowel(marked) and same_yo
    return False


def homograph_phonemes(frontend, sentence: str, marked: str) -> tuple[str, str]:
    """(the stressed text, the homograph's phonemes) of `sentence` as synthesis makes its model input."""
    stressed = frontend.stressed(frontend.normalize(sentence))
    phonemes = frontend.to_input(stressed)
    for word, start, end in frontend.word_spans(stressed, phonemes):
        if _folded(word) == _folded(marked):
            return stressed, phonemes[start:end]
    raise ValueError(f"{marked!r} is not a word of {sentence!r}")


def vowel_table_agreement(words: int) -> dict:
    """Vowels (and words) of eSpeak's phonemes of the `words` most frequent Russian words that
    phonemes.russian_vowel writes the same, given where eSpeak put the stress: equal / compared."""
    import wordfreq

    phonemizer = Phonemizer("ru")
    same_vowels = vowels = same_words = compared = 0
    for word in wordfreq.top_n_list("ru", words):
        if not re.fullmatch("[а-яё]+", word):
            continue
        phonemes = phonemizer.phonemize(word)
        nuclei = list(_RUSSIAN_NUCLEUS.finditer(phonemes))
        letters = [(position, letter) for position, letter in enumerate(word) if letter in _RUSSIAN_VOWEL_LETTERS]
        stressed = russian_stressed_vowel(phonemes)
        if " " in phonemes or len(nuclei) != len(letters) or stressed is None:
            continue
        written = [russian_vowel(letter, vowel_place(index, stressed[0], position == len(word) - 1),
                                 word[position - 1] if position else "")
                   for index, (position, letter) in enumerate(letters)]
        same = [vowel == nucleus.group() for vowel, nucleus in zip(written, nuclei)]
        same_vowels, vowels = same_vowels + sum(same), vowels + len(same)
        same_words, compared = same_words + all(same), compared + 1
    return {"words": compared, "vowels_same": round(same_vowels / vowels, 4),
            "words_same": round(same_words / compared, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=12000, help="frequent words for the vowel table figure")
    parser.add_argument("--show", action="store_true", help="print each sentence's phonemes first")
    args = parser.parse_args()
    rows = read_homographs()
    off, auto = get_frontend("ru", "phonemes", "off"), get_frontend("ru", "phonemes", "auto")
    started = time.perf_counter()
    shared_accentor(required=True)
    load_seconds = time.perf_counter() - started
    right_off = right_auto = marked_right = 0
    started = time.perf_counter()
    stressed_texts = [auto.stressed(auto.normalize(sentence)) for sentence, _ in rows]
    per_sentence_ms = (time.perf_counter() - started) / len(rows) * 1000
    for (sentence, marked), stressed_text in zip(rows, stressed_texts):
        _, said_off = homograph_phonemes(off, sentence, marked)
        _, said_auto = homograph_phonemes(auto, sentence, marked)
        right_off += speaks_as_marked(said_off, marked)
        right_auto += speaks_as_marked(said_auto, marked)
        marked_right += written_as_marked(stressed_text, marked)
        if args.show:
            print(f"{marked:10} off {said_off:14} auto {said_auto:14} {stressed_text}")
    print(json.dumps({
        "sentences": len(rows),
        "accuracy_off": round(right_off / len(rows), 4),
        "accuracy_auto": round(right_auto / len(rows), 4),
        "marked_right_auto": round(marked_right / len(rows), 4),
        "vowel_table": vowel_table_agreement(args.words),
        "accentor_load_seconds": round(load_seconds, 2),
        "accentor_ms_per_sentence": round(per_sentence_ms, 1),
    }))


if __name__ == "__main__":
    main()
